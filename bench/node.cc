// The node daemon (docs/daemon.md): setup and teardown latency per application, and the
// throughput of N concurrent inference applications against one alone, in simulated and
// wall time. Starts its own snd (--snd, default next to this binary); the model is the
// digits MLP (examples/digits/model.onnx) compiled for --config.
//   build/bin/node --config tiny --backend func --apps 8 --runs 100 --sessions 100
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <barrier>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "../verif/e2e/snd_process.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/runtime/session.h"

using namespace openrdu;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Opts {
  std::string config = "tiny", backend = "func", snd, model = OPENRDU_EXAMPLES_DIR "/digits/model.onnx", dir;
  int apps = 8, runs = 100, sessions = 100;
};

std::map<std::string, runtime::HostTensor> inputs(const pef::Pef& p, int app) {
  std::map<std::string, runtime::HostTensor> in;
  for (const auto& t : p.tensors)
    if (t.role == pef::Role::Input) {
      std::vector<float> v(t.elements());
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7 + app * 13) % 17) / 8.0f - 1.0f;
      in[t.name] = {t.shape, v};
    }
  return in;
}

// Setup (connect, allocate, program the window) and teardown (close: scrub, window zeroed)
// as the client sees them, of applications on a whole RDU (`tiles` 0) or on `tiles` tiles.
void latency(const Opts& o, const arch::Config& cfg, const std::string& device, uint32_t tiles) {
  std::vector<double> open, close;
  driver::DeviceOptions d;
  d.tiles = tiles;
  for (int i = 0; i < o.sessions; ++i) {
    auto t = Clock::now();
    auto dev = driver::open_device(device, cfg, d);
    open.push_back(since(t) * 1e3);
    t = Clock::now();
    dev.reset();
    close.push_back(since(t) * 1e3);
  }
  auto stats = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return fmt::format("median {:.3f} ms, p90 {:.3f} ms, max {:.3f} ms", v[v.size() / 2], v[v.size() * 9 / 10],
                       v.back());
  };
  const std::string what = tiles ? fmt::format("{} tile(s) of {}", tiles, cfg.num_tiles()) : "whole RDU";
  fmt::print("setup    ({} applications, {}): {}\n", o.sessions, what, stats(open));
  fmt::print("teardown ({} applications, {}): {}\n", o.sessions, what, stats(close));
}

struct Throughput {
  double wall_s = 0;
  uint64_t cycles = 0;  // run + configuration cycles of one application's runs
};

// `n` applications at once, each loading the model and running it o.runs times.
Throughput concurrent(const Opts& o, const arch::Config& cfg, const pef::Pef& p, const std::string& device, int n) {
  std::barrier loaded(n + 1);
  std::vector<uint64_t> cycles(n);
  std::vector<std::thread> ts;
  for (int a = 0; a < n; ++a)
    ts.emplace_back([&, a] {
      auto dev = driver::open_device(device, cfg);
      runtime::Session s(*dev, cfg);
      s.load(p);
      const auto in = inputs(p, a);
      loaded.arrive_and_wait();
      loaded.arrive_and_wait();
      for (int r = 0; r < o.runs; ++r) {
        const auto res = s.run(in);
        cycles[a] += res.total_cycles + res.total_config_cycles;
      }
    });
  loaded.arrive_and_wait();
  const auto t = Clock::now();
  loaded.arrive_and_wait();
  for (auto& x : ts) x.join();
  return {since(t), cycles[0]};
}

// The same runs through an in-process Session (no daemon): the daemon's overhead.
Throughput in_process(const Opts& o, const arch::Config& cfg, const pef::Pef& p) {
  auto s = runtime::Session::open(o.backend, cfg);
  s->load(p);
  const auto in = inputs(p, 0);
  Throughput t;
  const auto t0 = Clock::now();
  for (int r = 0; r < o.runs; ++r) {
    const auto res = s->run(in);
    t.cycles += res.total_cycles + res.total_config_cycles;
  }
  t.wall_s = since(t0);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"node: the node daemon's setup/teardown latency and concurrent inference throughput"};
  Opts o;
  o.snd = (fs::path(argv[0]).parent_path() / "snd").string();
  app.add_option("--config", o.config);
  app.add_option("--backend", o.backend);
  app.add_option("--snd", o.snd, "the daemon binary");
  app.add_option("--model", o.model, "ONNX model");
  app.add_option("--apps", o.apps, "concurrent applications (default 8)");
  app.add_option("--runs", o.runs, "inference runs per application (default 100)");
  app.add_option("--sessions", o.sessions, "applications opened and closed for the latency (default 100)");
  app.add_option("--dir", o.dir, "working directory (socket, snd.log); default a temporary one");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    const arch::Config cfg = arch::load_config(o.config);
    const pef::Pef p = compiler::compile_onnx_file(o.model, cfg);
    if (o.dir.empty()) o.dir = (fs::temp_directory_path() / fmt::format("openrdu-node-bench-{}", ::getpid())).string();
    test::SndProcess snd(o.snd, o.dir,
                         {"--rdus", std::to_string(o.apps), "--config", o.config, "--backend", o.backend});
    fmt::print("node bench: {} RDU(s) of {} on {}, {} ({} runs per application)\n", o.apps, o.config, o.backend,
               fs::path(o.model).filename().string(), o.runs);
    latency(o, cfg, snd.device(), 0);
    if (cfg.num_tiles() > 1) latency(o, cfg, snd.device(), 1);
    const Throughput one = concurrent(o, cfg, p, snd.device(), 1);
    const Throughput all = concurrent(o, cfg, p, snd.device(), o.apps);
    const Throughput local = in_process(o, cfg, p);
    fmt::print("in-process:   {} runs in {:.3f} s wall ({:.1f} runs/s; no daemon); {} cycles\n", o.runs, local.wall_s,
               o.runs / local.wall_s, local.cycles);
    const double us = static_cast<double>(one.cycles) / cfg.clock_mhz;  // simulated us of one app's runs
    fmt::print(
        "alone:        {} runs in {:.3f} s wall ({:.1f} runs/s); {} cycles = {:.1f} us simulated "
        "({:.0f} runs/simulated s)\n",
        o.runs, one.wall_s, o.runs / one.wall_s, one.cycles, us, o.runs / us * 1e6);
    fmt::print(
        "{} at once:    {} runs in {:.3f} s wall ({:.1f} runs/s, {:.2f}x alone); each {} cycles "
        "(alone: {}); {:.0f} runs/simulated s in all ({:.2f}x alone: RDUs run in parallel)\n",
        o.apps, o.apps * o.runs, all.wall_s, o.apps * o.runs / all.wall_s,
        (o.apps * o.runs / all.wall_s) / (o.runs / one.wall_s), all.cycles, one.cycles,
        o.apps * o.runs / (static_cast<double>(all.cycles) / cfg.clock_mhz) * 1e6,
        static_cast<double>(o.apps) * one.cycles / all.cycles);
    if (all.cycles != one.cycles || local.cycles != one.cycles) {
      fmt::print(stderr, "node: an application's simulated cycles differ when {} run at once\n", o.apps);
      return 1;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "node: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
