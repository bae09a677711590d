// snref MODEL --input NAME=FILE.npy ... --outputs DIR [--rtol R] [--atol A] [--print]
// MODEL is an ONNX file or a YAML test graph (.yaml/.yml, compiler/README.md).
// Runs the compiler's CPU reference interpreter on the inputs and compares every
// output with DIR/<name>.npy (as written by snrun). An element passes when
// |device - reference| <= atol + rtol * |reference| (NumPy's allclose), or when both
// are NaN. Exit 0 when every output passes, 1 otherwise or on any error.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/compiler/compiler.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"
#include "openrdu/runtime/npy.h"

using namespace openrdu;

namespace {

[[noreturn]] void die(const std::string& msg) {
  support::log_error("snref", msg);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"snref: compare a device run's outputs with the CPU reference interpreter"};
  std::string model, outdir;
  std::vector<std::string> input_specs;
  double rtol = 1e-5, atol = 1e-6;
  app.add_option("MODEL", model, "ONNX model, or a YAML test graph (.yaml/.yml)")->required();
  app.add_option("--input", input_specs, "input tensor NAME=FILE.npy (repeat for each input)")
      ->allow_extra_args(false);
  app.add_option("--outputs", outdir, "directory holding <output name>.npy from snrun")->required();
  app.add_option("--rtol", rtol, "relative tolerance (default 1e-5)");
  app.add_option("--atol", atol, "absolute tolerance (default 1e-6)");
  bool print_values = false;
  app.add_flag("--print", print_values, "print each device output (up to 4 rows of 8 values) before its check");
  support::ToolCli cli{"snref"};
  support::add_common_options(app, cli);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    support::init_logging(cli);
  } catch (const std::exception& e) {
    die(e.what());
  }
  if (!(rtol >= 0) || !(atol >= 0)) die("--rtol and --atol must be non-negative");

  try {
    if (!std::filesystem::is_regular_file(model)) die(fmt::format("{}: no such model file", model));
    std::map<std::string, compiler::HostTensor> inputs;
    std::map<std::string, std::string> files;
    for (auto& [name, t] : runtime::read_named_npy(input_specs, "--input", &files)) {
      // fp32 and bool values in data (bool as 1.0f/0), int32/int64 in idata
      inputs[name] = compiler::HostTensor{t.shape, std::move(t.data), std::move(t.idata)};
    }
    auto ref = compiler::reference_run(model, inputs);
    bool all_pass = true;
    for (const auto& [name, r] : ref) {
      const std::string path = (std::filesystem::path(outdir) / runtime::npy_file_name(name)).string();
      runtime::HostTensor d = runtime::read_npy(path);
      if (d.shape != r.shape) {
        fmt::print("{}: FAIL  shape {} in {}, reference {}\n", name, runtime::shape_str(d.shape), path,
                   runtime::shape_str(r.shape));
        all_pass = false;
        continue;
      }
      if (print_values) {
        fmt::print("{} {} (device):\n", name, runtime::shape_str(d.shape));
        const size_t row = d.shape.empty() ? 1 : size_t(std::max<int64_t>(1, d.shape.back()));
        for (size_t i = 0; i < d.data.size() && i < 4 * row; i += row) {
          std::string line = "  ";
          for (size_t j = i; j < i + row && j < i + 8 && j < d.data.size(); ++j) line += fmt::format("{:10.4f} ", d.data[j]);
          if (row > 8) line += "...";
          fmt::print("{}\n", line);
        }
        if (d.data.size() > 4 * row) fmt::print("  ... ({} elements)\n", d.data.size());
      }
      const runtime::HostTensor rt{r.shape, r.data, r.idata.empty() ? pef::DType::F32 : pef::DType::I64, r.idata};
      const runtime::Comparison c = runtime::compare_values(d, rt, rtol, atol);
      all_pass &= c.pass();
      fmt::print("{}: {}  shape {}  max abs error {:.3g}  max rel error {:.3g}  (rtol {} atol {})\n", name,
                 c.pass() ? "PASS" : "FAIL", runtime::shape_str(r.shape), c.max_abs, c.max_rel, rtol, atol);
      if (!c.pass()) fmt::print("  {} elements{}\n", rt.values(), c.failure(d, rt));
    }
    fmt::print("{}\n", all_pass ? "PASS" : "FAIL");
    return all_pass ? 0 : 1;
  } catch (const std::bad_alloc&) {
    die(support::out_of_memory_message(model));
  } catch (const std::exception& e) {
    die(e.what());
  }
}
