// bench/conv: a 3x3 convolution layer of a small CNN on the array (issue 8). For each
// case Y = Conv(X [1,C,H,W], W [M,C,3,3], pads 1, stride 1) + B is built as a YAML graph
// (W and B constants), compiled with sncompile's library (im2col: one Slice section per
// tap, Concat, then the MatMul with B's tiles in PMUs, `docs/compiler.md`),
// run through runtime::Session on a backend and checked bit for bit against
// compiler::reference_run. Per case: kernel cycles (all sections), the MatMul section's
// cycles, MACs per cycle against the array's peak (PCUs x LANES x STAGES), DRAM bytes
// from the hardware counters, sections, and the functional model's estimate.
//
//   conv [--config small] [--backend verilator] [--cases 16x32x32x32] [--md FILE] [--json FILE]
//
// A case is CxHxWxM. Timing figures are reported, never judged: the exit status is 1
// only on a wrong result or an error, or a figure beyond a floor given (--min-peak-share,
// --max-estimate-error against the compiler's estimate: the tests guarding the README).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "child.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/driver/device.h"
#include "openrdu/support/cli.h"
#include "openrdu/runtime/session.h"

namespace {

using openrdu::arch::Config;

struct Case {
  int64_t c, h, w, m;
  uint64_t macs() const { return uint64_t(m * c * 9 * h * w); }
  std::string name() const { return fmt::format("{}x{}x{}x{}", c, h, w, m); }
};

std::vector<Case> parse_cases(const std::string& s) {
  std::vector<Case> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    Case c{};
    char x1 = 0, x2 = 0, x3 = 0;
    std::stringstream is(item);
    if (!(is >> c.c >> x1 >> c.h >> x2 >> c.w >> x3 >> c.m) || x1 != 'x' || x2 != 'x' || x3 != 'x' || !is.eof() ||
        c.c <= 0 || c.h <= 0 || c.w <= 0 || c.m <= 0)
      throw std::runtime_error(fmt::format("--cases: bad case '{}' (CxHxWxM)", item));
    out.push_back(c);
  }
  return out;
}

std::string values(const std::vector<float>& v) {
  std::string s;
  for (float x : v) s += fmt::format("{}{}", s.empty() ? "" : ", ", x);
  return s;
}

std::string graph_yaml(const Case& c, const std::vector<float>& w, const std::vector<float>& b) {
  return fmt::format(
      "opset: 13\ninputs:\n  - {{name: x, shape: [1, {}, {}, {}]}}\nconstants:\n"
      "  - {{name: w, shape: [{}, {}, 3, 3], values: [{}]}}\n  - {{name: b, shape: [{}], values: [{}]}}\n"
      "nodes:\n  - {{op: Conv, name: conv, inputs: [x, w, b], outputs: [y], attrs: {{pads: [1, 1, 1, 1]}}}}\n"
      "outputs:\n  - y\n",
      c.c, c.h, c.w, c.m, c.c, values(w), c.m, values(b));
}

nlohmann::json measure(const Config& cfg, const std::string& backend, const Case& c) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  std::vector<float> w(size_t(c.m * c.c * 9)), b(size_t(c.m));
  for (auto& v : w) v = dist(rng) * 0.25f;
  for (auto& v : b) v = dist(rng);
  const auto g = openrdu::compiler::load_yaml_string(graph_yaml(c, w, b), "conv.yaml");
  openrdu::compiler::Options o;
  o.opt_level = 1;
  const auto pef = openrdu::compiler::compile_graph(g, cfg, o);
  uint64_t est = 0;
  for (const auto& s : pef.sections) est += s.est_cycles;
  openrdu::runtime::HostTensor x;
  x.shape = {1, c.c, c.h, c.w};
  x.data.resize(size_t(c.c * c.h * c.w));
  for (auto& v : x.data) v = dist(rng);
  auto dev = openrdu::driver::open_device(backend, cfg);
  openrdu::runtime::Session session(*dev, cfg, {3600});
  session.load(pef);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = session.run({{"x", x}});
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t mm_cycles = 0;
  for (const auto& s : res.sections)
    if (s.name.find("MatMul") != std::string::npos || s.name.find("matmul") != std::string::npos ||
        s.name.find(".mm") != std::string::npos)
      mm_cycles += s.cycles;
  const auto ref = openrdu::compiler::reference_run(g, {{"x", {x.shape, x.data}}});
  const auto& y = res.outputs.at("y").data;
  const auto& yr = ref.at("y").data;
  uint64_t bad = y.size() == yr.size() ? 0 : 1;
  std::string note;
  for (size_t i = 0; i < y.size() && i < yr.size(); ++i)
    if (std::memcmp(&y[i], &yr[i], 4) != 0) {
      if (bad == 0) note = fmt::format("first mismatch y[{}]: device {} reference {}", i, y[i], yr[i]);
      ++bad;
    }
  return {{"case", c.name()},
          {"status", bad ? "FAIL" : "PASS"},
          {"note", note},
          {"sections", pef.sections.size()},
          {"cycles", res.total_cycles},
          {"config_cycles", res.total_config_cycles},
          {"matmul_cycles", mm_cycles},
          {"est_cycles", est},
          {"macs", c.macs()},
          {"dram_bytes", res.counters.mem_rd_bytes + res.counters.mem_wr_bytes},
          {"wall_s", wall}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conv: a 3x3 convolution layer (im2col + MatMul) on the array"};
  std::string config = "small", backend = "verilator", cases_s = "16x32x32x32", md, json_path;
  app.add_option("--config", config, "device configuration: tiny, small or a FILE.yaml")->capture_default_str();
  app.add_option("--backend", backend, "verilator or func")
      ->check(CLI::IsMember({"verilator", "func"}))
      ->capture_default_str();
  app.add_option("--cases", cases_s, "comma-separated CxHxWxM (input channels, height, width, output channels)")
      ->capture_default_str();
  app.add_option("--md", md, "also write the table as Markdown to FILE");
  app.add_option("--json", json_path, "also write the runs as JSON to FILE");
  openrdu::bench::Floors floors;
  openrdu::bench::add_floor_options(app, floors);
  openrdu::support::ToolCli cli{"conv"};
  openrdu::support::add_common_options(app, cli);
  if (const int rc = openrdu::support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    openrdu::support::init_logging(cli);
    const Config cfg = openrdu::arch::load_config(config);
    const double peak = double(cfg.num_pcu()) * cfg.lanes * cfg.stages;
    std::string table = fmt::format(
        "conv 3x3 pad 1 on {} ({}; array peak {:.0f} MACs/cycle)\n\n"
        "| C x H x W -> M | sections | cycles | MatMul cycles | estimate | MACs | MAC/cycle | % peak | MatMul "
        "MAC/cycle | DRAM bytes | result |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        cfg.name, backend, peak);
    nlohmann::json runs = nlohmann::json::array();
    int bad = 0;
    for (const Case& c : parse_cases(cases_s)) {
      fmt::print(stderr, "conv: {} on {} ({})...\n", c.name(), backend, cfg.name);
      auto j = openrdu::bench::run_in_child(c.name(), [&] { return measure(cfg, backend, c); });
      const double cyc = j.at("cycles").get<double>(), mm = j.at("matmul_cycles").get<double>();
      const double mpc = cyc > 0 ? double(c.macs()) / cyc : 0, mm_mpc = mm > 0 ? double(c.macs()) / mm : 0;
      j["macs_per_cycle"] = mpc;
      j["peak_share"] = mpc / peak;
      table += fmt::format("| {} x {} x {} -> {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f}% | {:.1f} | {} | {}{} |\n",
                           c.c, c.h, c.w, c.m, j.at("sections").get<uint64_t>(), j.at("cycles").get<uint64_t>(),
                           j.at("matmul_cycles").get<uint64_t>(), j.at("est_cycles").get<uint64_t>(), c.macs(), mpc,
                           100.0 * mpc / peak, mm_mpc, j.at("dram_bytes").get<uint64_t>(),
                           j.at("status").get<std::string>(),
                           j.at("note").get<std::string>().empty() ? "" : " (" + j.at("note").get<std::string>() + ")");
      bad += j.at("status") != "PASS";
      if (j.at("status") == "PASS")
        bad += openrdu::bench::check_floors(floors, "conv", c.name(), mpc / peak, cyc, j.at("est_cycles").get<double>());
      runs.push_back(j);
    }
    fmt::print("{}", table);
    if (!md.empty()) std::ofstream(md) << table;
    if (!json_path.empty())
      std::ofstream(json_path) << nlohmann::json{{"config", cfg.name}, {"backend", backend}, {"peak_macs_per_cycle", peak},
                                                 {"runs", runs}}.dump(2)
                               << "\n";
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "conv: error: {}\n", e.what());
    return 1;
  }
}
