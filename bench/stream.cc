// bench/stream: DRAM bandwidth of streaming kernels through the array (issue 4). For
// each kernel (copy: Identity, relu: Relu, add: Add of two inputs) over N fp32 elements
// a YAML graph is compiled with sncompile's library twice: uncut (--stream-parts 1: one
// PCU, its streams placed over the AGCUs) and as the compiler chooses (streaming sections
// cut into parts over AGCUs of every memory port when the estimate favours it,
// lower_split.cc). Each is run through runtime::Session on a backend
// and checked bit for bit against compiler::reference_run. Per run: kernel cycles,
// configuration cycles, the functional model's estimate, DRAM bytes from the hardware
// counters (MEM_RD_BYTES + MEM_WR_BYTES), bytes per cycle and their share of the DRAM
// model's peak (channels x bytes_per_cycle).
//
//   stream [--config small] [--backend verilator] [--elements 524288] [--kernels copy,relu,add]
//          [--md FILE] [--json FILE]
//
// Every run is a child process (a process holds one simulated device). Timing figures
// are reported, never judged: the exit status is 1 only on a wrong result or an error, or a
// figure beyond a floor given (--min-peak-share for the compiler's mappings,
// --max-estimate-error for every run: the tests guarding the README's figures).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "child.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/driver/device.h"
#include "openrdu/support/cli.h"
#include "openrdu/runtime/session.h"

namespace {

namespace fs = std::filesystem;
using openrdu::arch::Config;

struct Run {
  std::string kernel;
  int parts_option = 0;  // compiler stream_parts
  std::string status = "ERROR", note;
  uint64_t pcus = 0, agcu_streams = 0;
  uint64_t cycles = 0, config_cycles = 0, est_cycles = 0;
  uint64_t rd_bytes = 0, wr_bytes = 0;
  double wall_s = 0;
};

nlohmann::json to_json(const Run& r) {
  return {{"kernel", r.kernel},   {"stream_parts", r.parts_option}, {"status", r.status},
          {"note", r.note},       {"pcus", r.pcus},                 {"agcu_streams", r.agcu_streams},
          {"cycles", r.cycles},   {"config_cycles", r.config_cycles}, {"est_cycles", r.est_cycles},
          {"rd_bytes", r.rd_bytes}, {"wr_bytes", r.wr_bytes},       {"wall_s", r.wall_s}};
}

Run from_json(const nlohmann::json& j) {
  Run r;
  r.kernel = j.at("kernel");
  r.parts_option = j.at("stream_parts");
  r.status = j.at("status");
  r.note = j.at("note");
  r.pcus = j.at("pcus");
  r.agcu_streams = j.at("agcu_streams");
  r.cycles = j.at("cycles");
  r.config_cycles = j.at("config_cycles");
  r.est_cycles = j.at("est_cycles");
  r.rd_bytes = j.at("rd_bytes");
  r.wr_bytes = j.at("wr_bytes");
  r.wall_s = j.at("wall_s");
  return r;
}

std::string graph_yaml(const std::string& kernel, const std::vector<int64_t>& shape) {
  const std::string sh = shape.size() == 1 ? fmt::format("[{}]", shape[0]) : fmt::format("[{}, {}]", shape[0], shape[1]);
  std::string y = "opset: 13\ninputs:\n  - {name: a, shape: " + sh + "}\n";
  if (kernel == "add") y += "  - {name: b, shape: " + sh + "}\n";
  y += "nodes:\n";
  if (kernel == "copy") y += "  - {op: Identity, name: copy, inputs: [a], outputs: [y]}\n";
  if (kernel == "relu") y += "  - {op: Relu, name: relu, inputs: [a], outputs: [y]}\n";
  if (kernel == "add") y += "  - {op: Add, name: add, inputs: [a, b], outputs: [y]}\n";
  return y + "outputs:\n  - y\n";
}

// One run, in this (child) process.
Run measure(const Config& cfg, const std::string& backend, const std::string& kernel, int parts,
            const std::vector<int64_t>& shape) {
  Run r;
  r.kernel = kernel;
  r.parts_option = parts;
  const auto g = openrdu::compiler::load_yaml_string(graph_yaml(kernel, shape), kernel + ".yaml");
  openrdu::compiler::Options o;
  o.stream_parts = parts;
  openrdu::compiler::CompileStats st;
  const auto pef = openrdu::compiler::compile_graph(g, cfg, o, &st);
  r.pcus = st.pcus;
  r.agcu_streams = st.agcu_streams;
  for (const auto& s : pef.sections) r.est_cycles += s.est_cycles;

  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::map<std::string, openrdu::runtime::HostTensor> in;
  std::map<std::string, openrdu::compiler::HostTensor> ref_in;
  for (const char* name : {"a", "b"}) {
    if (std::string(name) == "b" && kernel != "add") continue;
    openrdu::runtime::HostTensor t;
    t.shape = shape;
    t.data.resize(size_t(shape.size() == 1 ? shape[0] : shape[0] * shape[1]));
    for (auto& x : t.data) x = dist(rng);
    ref_in[name] = {t.shape, t.data};
    in[name] = std::move(t);
  }
  auto dev = openrdu::driver::open_device(backend, cfg);
  openrdu::runtime::Session session(*dev, cfg, {3600});
  session.load(pef);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = session.run(in);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cycles = res.total_cycles;
  r.config_cycles = res.total_config_cycles;
  r.rd_bytes = res.counters.mem_rd_bytes;
  r.wr_bytes = res.counters.mem_wr_bytes;
  const auto ref = openrdu::compiler::reference_run(g, ref_in);
  const auto& y = res.outputs.at("y").data;
  const auto& yr = ref.at("y").data;
  uint64_t bad = y.size() == yr.size() ? 0 : 1;
  for (size_t i = 0; i < y.size() && i < yr.size(); ++i)
    if (std::memcmp(&y[i], &yr[i], 4) != 0) {
      if (bad == 0) r.note = fmt::format("first mismatch y[{}]: device {} reference {}", i, y[i], yr[i]);
      ++bad;
    }
  r.status = bad ? "FAIL" : "PASS";
  return r;
}

// measure() in a child process.
Run spawn(const Config& cfg, const std::string& backend, const std::string& kernel, int parts,
          const std::vector<int64_t>& shape) {
  return from_json(openrdu::bench::run_in_child(fmt::format("{} (stream parts {})", kernel, parts), [&] {
    return to_json(measure(cfg, backend, kernel, parts, shape));
  }));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stream: DRAM bandwidth of streaming kernels (copy, relu, add) through the array"};
  std::string config = "small", backend = "verilator", md, json_path, kernels_s = "copy,relu,add";
  int64_t elements = 512 * 1024;
  app.add_option("--config", config, "device configuration: tiny, small or a FILE.yaml")->capture_default_str();
  app.add_option("--backend", backend, "verilator or func")
      ->check(CLI::IsMember({"verilator", "func"}))
      ->capture_default_str();
  app.add_option("--elements", elements, "fp32 elements per tensor ([N/1024, 1024] when 1024 divides N)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 26))
      ->capture_default_str();
  app.add_option("--kernels", kernels_s, "comma-separated: copy, relu, add")->capture_default_str();
  app.add_option("--md", md, "also write the table as Markdown to FILE");
  app.add_option("--json", json_path, "also write the runs as JSON to FILE");
  openrdu::bench::Floors floors;  // the share: the compiler's mapping only; the estimate: every run
  openrdu::bench::add_floor_options(app, floors);
  openrdu::support::ToolCli cli{"stream"};
  openrdu::support::add_common_options(app, cli);
  if (const int rc = openrdu::support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;

  try {
    openrdu::support::init_logging(cli);
    const Config cfg = openrdu::arch::load_config(config);
    std::vector<std::string> kernels;
    for (size_t p = 0; p <= kernels_s.size();) {
      const size_t q = std::min(kernels_s.find(',', p), kernels_s.size());
      const std::string k = kernels_s.substr(p, q - p);
      if (k != "copy" && k != "relu" && k != "add")
        throw std::runtime_error(fmt::format("--kernels: unknown kernel '{}' (copy, relu, add)", k));
      kernels.push_back(k);
      p = q + 1;
    }
    const std::vector<int64_t> shape =
        elements % 1024 == 0 && elements > 1024 ? std::vector<int64_t>{elements / 1024, 1024} : std::vector<int64_t>{elements};
    const double peak = double(cfg.dram_bytes_per_cycle) * std::max<uint32_t>(1, cfg.dram_channels);
    std::vector<Run> runs;
    for (const auto& k : kernels)
      for (int parts : {1, 0}) {
        fmt::print(stderr, "stream: {} over {} elements on {} ({}), {}...\n", k, elements, backend, cfg.name,
                   parts == 1 ? "uncut (--stream-parts 1)" : "compiler's choice");
        runs.push_back(spawn(cfg, backend, k, parts, shape));
      }

    std::string table = fmt::format(
        "stream on {} ({}; DRAM peak {:.0f} B/cycle = {} channels x {} B/cycle), {} fp32 elements\n\n"
        "| kernel | mapping | PCUs | AGCU streams | cycles | estimate | config cycles | DRAM bytes | B/cycle | of peak | "
        "result |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        cfg.name, backend, peak, cfg.dram_channels, cfg.dram_bytes_per_cycle, elements);
    nlohmann::json js = nlohmann::json::array();
    int bad = 0;
    for (const auto& r : runs) {
      const double bpc = r.cycles ? double(r.rd_bytes + r.wr_bytes) / double(r.cycles) : 0;
      table += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f}% | {}{} |\n", r.kernel,
                           r.parts_option == 1 ? "uncut" : "compiler (auto)", r.pcus, r.agcu_streams, r.cycles,
                           r.est_cycles, r.config_cycles, r.rd_bytes + r.wr_bytes, bpc, 100.0 * bpc / peak, r.status,
                           r.note.empty() ? "" : " (" + r.note + ")");
      auto j = to_json(r);
      j["bytes_per_cycle"] = bpc;
      j["peak_share"] = bpc / peak;
      js.push_back(j);
      bad += r.status != "PASS";
      if (r.status == "PASS")
        bad += openrdu::bench::check_floors(floors, "stream",
                                            fmt::format("{} ({})", r.kernel, r.parts_option == 1 ? "uncut" : "auto"),
                                            r.parts_option == 1 ? -1.0 : bpc / peak, double(r.cycles),
                                            double(r.est_cycles));
    }
    fmt::print("{}", table);
    if (!md.empty()) std::ofstream(md) << table;
    if (!json_path.empty())
      std::ofstream(json_path) << nlohmann::json{{"config", cfg.name}, {"backend", backend}, {"elements", elements},
                                                 {"peak_bytes_per_cycle", peak}, {"runs", js}}.dump(2)
                               << "\n";
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "stream: error: {}\n", e.what());
    return 1;
  }
}
