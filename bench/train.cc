// Training throughput (issue 18): the digits MLP and the small CNN of verif/train/traj,
// SGD (lr 0.1, momentum 0.9), batch 16, a few steps per configuration, backend and -O
// level. Per step: simulated cycles (run and configuration), samples per simulated
// second (at the configuration's clock) and per wall second, and the share of the run
// cycles in forward, backward and optimizer sections and in configuration. Every step's
// loss equals the CPU reference's (exit 1 otherwise); timing is printed, not judged.
// Cycle counts are deterministic: --max-cycles MODEL:CONFIG:LEVEL=N fails the run (exit 1)
// when that case's cycles per step (run plus configuration) exceed N (docs/testing.md).
//
//   build/bin/train --models mlp,cnn --configs tiny,small --backend func --opt-levels 0,3 \
//       [--steps 3] [--md FILE] [--json FILE] [--max-cycles mlp:tiny:0=50000 ...]
// Every measurement runs in a child process (a process holds one simulated device).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "child.h"
#include "openrdu/arch/config.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/session.h"
#include "openrdu/runtime/train.h"

namespace fs = std::filesystem;
using namespace openrdu;
using nlohmann::json;

namespace {

struct Case {
  std::string model, config, backend;
  int level = 0;
  int steps = 3;
};

// The section's part of a step, from the names the training graph gives its nodes
// (docs/training.md): optimizer "<tensor>.new/...", backward "<tensor>.bwd/...",
// "<tensor>.gradsum/..." and the loss seed.
const char* phase(const std::string& section) {
  if (section.find(".new/") != std::string::npos) return "optimizer";
  if (section.find(".bwd/") != std::string::npos || section.find(".gradsum/") != std::string::npos)
    return "backward";
  return "forward";
}

// One case, in this (child) process.
json measure(const Case& c, const fs::path& data_dir) {
  compiler::TrainOptions o;
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.momentum = 0.9;
  compiler::ImportOptions io;
  io.params_as_state = true;
  compiler::TrainInfo info;
  compiler::Graph g = compiler::build_training_graph(
      compiler::import_onnx_file((data_dir / (c.model + "_sgd") / "model.onnx").string(), io), o, &info);
  const arch::Config cfg = arch::load_config(c.config);
  compiler::Options co;
  co.opt_level = c.level;
  pef::Pef pef = compiler::compile_graph(g, cfg, co);
  compiler::add_train_meta(pef, info, o);
  const runtime::TrainSpec spec = runtime::train_spec(pef, c.model);
  auto session = runtime::Session::open(c.backend, cfg);
  session->load(pef);
  std::map<std::string, runtime::HostTensor> data;
  for (const char* n : {"x", "y"})
    data[n] = runtime::read_npy((data_dir / (c.model + "_data") / (std::string(n) + ".npy")).string());
  std::map<std::string, uint64_t> cycles;
  double wall = 0;
  const std::vector<size_t> order = runtime::epoch_order(size_t(data.at("x").shape[0]), false, 0, 1);
  for (int s = 0; s < c.steps; ++s) {
    const auto in = runtime::gather_batch(spec, data, order, size_t(s));
    std::map<std::string, compiler::HostTensor> cin;
    for (const auto& [n, t] : in) cin[n] = compiler::HostTensor{t.shape, t.data, t.idata};
    const float ref = compiler::reference_train_step(g, cin).at(info.loss).data.at(0);
    const auto t0 = std::chrono::steady_clock::now();
    const runtime::RunResult r = session->run(in);
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.outputs.at(info.loss).data.at(0) != ref)
      throw std::runtime_error(fmt::format("step {}: loss {} on the device, {} in the CPU reference", s,
                                           r.outputs.at(info.loss).data.at(0), ref));
    for (const auto& sec : r.sections) cycles[phase(sec.name)] += sec.cycles;
    cycles["configuration"] += r.total_config_cycles;
  }
  return {{"sections", pef.sections.size()}, {"batch", info.batch}, {"cycles", cycles}, {"wall_s", wall},
          {"clock_mhz", cfg.clock_mhz}};
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) v.push_back(x);
  return v;
}

uint64_t total_cycles(const json& j) {
  uint64_t total = 0;
  for (const auto& [k, v] : j.at("cycles").items()) total += v.get<uint64_t>();
  return total;
}

// --max-cycles MODEL:CONFIG:LEVEL=N, by "MODEL:CONFIG:LEVEL".
std::map<std::string, uint64_t> parse_ceilings(const std::vector<std::string>& specs) {
  std::map<std::string, uint64_t> m;
  for (const auto& s : specs) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || std::count(s.begin(), s.begin() + long(eq), ':') != 2)
      throw CLI::ValidationError("--max-cycles", "'" + s + "' is not MODEL:CONFIG:LEVEL=N");
    m[s.substr(0, eq)] = std::stoull(s.substr(eq + 1));
  }
  return m;
}

std::string row(const Case& c, const json& j) {
  const auto& cy = j.at("cycles");
  const uint64_t total = total_cycles(j);
  const double samples = double(j.at("batch").get<int64_t>()) * c.steps;
  const double sim_s = double(total) / (j.at("clock_mhz").get<double>() * 1e6);
  auto share = [&](const char* k) { return cy.contains(k) ? 100.0 * cy.at(k).get<double>() / double(total) : 0.0; };
  return fmt::format("| {} | {} | {} | -O{} | {} | {} | {:.0f} | {:.1f} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% |", c.model,
                     c.config, c.backend, c.level, j.at("sections").get<size_t>(), total / uint64_t(c.steps),
                     samples / sim_s, samples / j.at("wall_s").get<double>(), share("forward"), share("backward"),
                     share("optimizer"), share("configuration"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"train: training throughput of the digits MLP and a small CNN (SGD, batch 16)"};
  std::string models = "mlp,cnn", configs = "tiny,small", backend = "func", levels = "0,3", md, js;
  std::string data = OPENRDU_TRAIN_DATA;
  Case base;
  app.add_option("--models", models, "mlp and/or cnn")->capture_default_str();
  app.add_option("--configs", configs, "device configurations")->capture_default_str();
  app.add_option("--backend", backend, "func or verilator")->capture_default_str();
  app.add_option("--opt-levels", levels, "compiler -O levels")->capture_default_str();
  app.add_option("--steps", base.steps, "training steps per case")->capture_default_str();
  app.add_option("--data", data, "verif/train/traj (models and data sets)")->capture_default_str();
  app.add_option("--md", md, "write the table as Markdown to FILE");
  app.add_option("--json", js, "write the figures as JSON to FILE");
  std::vector<std::string> ceiling_specs;
  app.add_option("--max-cycles", ceiling_specs, "MODEL:CONFIG:LEVEL=N: fail when that case's cycles per step exceed N");
  CLI11_PARSE(app, argc, argv);
  std::map<std::string, uint64_t> ceilings;
  try {
    ceilings = parse_ceilings(ceiling_specs);
  } catch (const std::exception& e) {
    fmt::print(stderr, "train: error: {}\n", e.what());
    return 2;
  }
  const std::string head =
      "| model | config | backend | level | sections | cycles/step | samples/s (simulated) | samples/s (wall) | "
      "forward | backward | optimizer | configuration |\n|---|---|---|---|---|---|---|---|---|---|---|---|";
  std::string table = head + "\n";
  json all = json::array();
  int failed = 0;
  fmt::print("{}\n", head);
  for (const auto& m : split(models))
    for (const auto& cf : split(configs))
      for (const auto& l : split(levels)) {
        Case c = base;
        c.model = m, c.config = cf, c.backend = backend, c.level = std::stoi(l);
        try {
          const json j = bench::run_in_child(fmt::format("{} {} -O{}", m, cf, l), [&] { return measure(c, data); });
          const std::string r = row(c, j);
          fmt::print("{}\n", r);
          table += r + "\n";
          all.push_back({{"model", m}, {"config", cf}, {"backend", backend}, {"level", c.level}, {"steps", c.steps},
                         {"figures", j}});
          const std::string key = fmt::format("{}:{}:{}", m, cf, l);
          const uint64_t per_step = total_cycles(j) / uint64_t(c.steps);
          if (ceilings.count(key) && per_step > ceilings.at(key)) {
            fmt::print("FAIL {}: {} cycles per step, above the ceiling {}\n", key, per_step, ceilings.at(key));
            ++failed;
          }
          ceilings.erase(key);
        } catch (const std::exception& e) {
          fmt::print("FAIL {}\n", e.what());
          ++failed;
        }
      }
  for (const auto& [key, n] : ceilings) {
    fmt::print("FAIL {}: --max-cycles names a case that did not run\n", key);
    ++failed;
  }
  if (!md.empty()) std::ofstream(md) << table;
  if (!js.empty()) std::ofstream(js) << all.dump(1) << "\n";
  return failed ? 1 : 0;
}
