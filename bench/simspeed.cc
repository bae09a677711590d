// bench/simspeed: simulated cycles per second of a streaming kernel (y = relu(a + b)
// over N elements) on a backend, through the whole stack: an ONNX model built here,
// sncompile's library, the runtime, the driver and the platform. Prints the figures
// and checks the result against the CPU.
//
//   simspeed [--config small] [--backend verilator] [--elements N] [--trace FILE.fst]
// With --trace the whole run is traced (FST): compare with a run without to see the
// cost of tracing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "onnx_model.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/session.h"

namespace {

std::string write_model(int64_t n) {
  using openrdu::bench::value_info;
  onnx::ModelProto m;
  auto* g = openrdu::bench::start_model(m, "openrdu-bench", "stream");
  openrdu::bench::add_node(g, "Add", "add", {"a", "b"}, {"s"});
  openrdu::bench::add_node(g, "Relu", "relu", {"s"}, {"y"});
  value_info(g->add_input(), "a", {n});
  value_info(g->add_input(), "b", {n});
  value_info(g->add_output(), "y", {n});
  const auto path = std::filesystem::temp_directory_path() / fmt::format("openrdu_simspeed_{}.onnx", n);
  std::ofstream f(path, std::ios::binary);
  m.SerializeToOstream(&f);
  return path.string();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Simulated cycles per second of a streaming kernel through the whole stack"};
  std::string config = "small", backend = "verilator";
  int64_t n = 1 << 18;
  int opt = 1;
  app.add_option("--config", config, "configuration");
  app.add_option("--backend", backend, "verilator or func");
  app.add_option("--elements", n, "elements per input");
  app.add_option("-O", opt, "compiler mode (1 fuses add and relu into one section)");
  std::string trace;
  app.add_option("--trace", trace, "FST waveform of the whole run (verilator backend): the cost of tracing");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto cfg = openrdu::arch::load_config(config);
    const std::string model = write_model(n);
    openrdu::compiler::Options copts;
    copts.opt_level = opt;
    const auto t0 = std::chrono::steady_clock::now();
    const auto pef = openrdu::compiler::compile_onnx_file(model, cfg, copts);
    const auto t1 = std::chrono::steady_clock::now();
    openrdu::driver::DeviceOptions dopt;
    dopt.trace_file = trace;
    auto dev = openrdu::driver::open_device(backend, cfg, dopt);
    openrdu::runtime::Session session(*dev, cfg, {600});
    session.load(pef);
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    std::map<std::string, openrdu::runtime::HostTensor> in;
    for (const char* name : {"a", "b"}) {
      auto& t = in[name];
      t.shape = {n};
      t.data.resize(n);
      for (auto& x : t.data) x = dist(rng);
    }
    const auto s0 = dev->sim_stats();
    const auto t2 = std::chrono::steady_clock::now();
    const auto res = session.run(in);
    const auto t3 = std::chrono::steady_clock::now();
    const auto s1 = dev->sim_stats();
    const auto& y = res.outputs.at("y").data;
    size_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float ref = std::max(in["a"].data[i] + in["b"].data[i], 0.0f);
      if (y[i] != ref) ++bad;
    }
    const double run_s = std::chrono::duration<double>(t3 - t2).count();
    const double sim_s = s1.wall_seconds - s0.wall_seconds;
    const uint64_t sim_cycles = s1.cycles - s0.cycles;
    const uint64_t eval_cycles = s1.evaluated_cycles - s0.evaluated_cycles;
    fmt::print("simspeed: config={} backend={} elements={} sections={}\n", config, backend, n, pef.sections.size());
    fmt::print("  compile time             {:.3f} s\n", std::chrono::duration<double>(t1 - t0).count());
    fmt::print("  kernel cycles (CYCLES)   {}\n", res.total_cycles);
    fmt::print("  configuration cycles     {}\n", res.total_config_cycles);
    fmt::print("  elements per kernel cycle {:.2f} (lanes {})\n", double(n) / double(res.total_cycles), cfg.lanes);
    fmt::print("  simulated core cycles    {} (incl. DMA and configuration; {} evaluated, the rest idle)\n",
               sim_cycles, eval_cycles);
    fmt::print("  wall time of the run     {:.3f} s (simulating {:.3f} s)\n", run_s, sim_s);
    if (sim_s > 0) {
      fmt::print("  evaluated cycles / s     {:.0f}\n", double(eval_cycles) / sim_s);
      fmt::print("  kernel cycles / s        {:.0f} (CYCLES over the wall time of the whole run)\n",
                 double(res.total_cycles) / run_s);
    }
    fmt::print("  trace                    {}\n", trace.empty() ? std::string("off") : trace);
    fmt::print("  result vs CPU            {}\n", bad == 0 ? "bit-exact" : fmt::format("{} mismatches", bad));
    std::filesystem::remove(model);
    return bad == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "simspeed: error: {}\n", e.what());
    return 1;
  }
}
