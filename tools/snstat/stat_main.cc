#include "stat_main.h"

#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "openrdu/driver/wire.h"
#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"

namespace openrdu::tools {

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

namespace {

using nlohmann::json;

std::string app_label(const json& a) {
  return fmt::format("{} {} (pid {})", a["app"].get<uint64_t>(), a["name"].get<std::string>(), a["pid"].get<int>());
}

// The daemon's usage per application and per tile (`docs/daemon.md` ("status")).
void print_node(const json& st, NodeView view, const StatOptions& opt) {
  const json& n = st["node"];
  if (opt.json) {
    fmt::print("{}\n", json{{"node", n}, {"counts", st["counts"]}, {"apps", st["apps"]}, {"tiles", st["tiles"]}}.dump());
    return;
  }
  const json& c = st["counts"];
  fmt::print("node {}: {} RDU(s) of {} on {}, {} tile(s) per RDU; {} of {} applications running, {} waiting, {} "
             "served, {} refused, {} device errors\n",
             n["socket"].get<std::string>(), n["rdus"].get<int>(), n["config"].get<std::string>(),
             n["backend"].get<std::string>(), n["tiles_per_rdu"].get<int>(), c["active"].get<int>(),
             n["max_apps"].get<int>(), c["waiting"].get<int>(), c["served"].get<uint64_t>(),
             c["refused"].get<uint64_t>(), c["device_errors"].get<uint64_t>());
  if (view == NodeView::Tiles) {
    fmt::print("{:<4} {:<4} {:<32} {:>8} {:>14} {:>14}\n", "rdu", "tile", "application", "sessions", "busy cycles",
               "run cycles");
    std::map<uint64_t, std::string> names;
    for (const auto& a : st["apps"]) names[a["app"]] = app_label(a);
    for (const auto& t : st["tiles"])
      fmt::print("{:<4} {:<4} {:<32} {:>8} {:>14} {:>14}\n", t["rdu"].get<int>(), t["tile"].get<int>(),
                 t["app"] == 0 ? "-" : names[t["app"]], t["sessions"].get<uint64_t>(), t["busy_cycles"].get<uint64_t>(),
                 t.value("run_cycles", uint64_t{0}));
  }
  if (st["apps"].empty()) {
    fmt::print("no application running\n");
    return;
  }
  if (view == NodeView::Tiles) {
    fmt::print("{:<32} {:>4} {:>4} {:>6} {:>14} {:>14} {:>9} {:>8}\n", "application", "rdu", "tile", "starts",
               "sim cycles", "run cycles", "seconds", "errors");
    for (const auto& a : st["apps"])
      fmt::print("{:<32} {:>4} {:>4} {:>6} {:>14} {:>14} {:>9.2f} {:>8}\n", app_label(a), a["rdu"].get<int>(),
                 a["tile"].get<int>(), a["starts"].get<uint64_t>(), a["sim_cycles"].get<uint64_t>(),
                 a.value("run_cycles", uint64_t{0}), a["seconds"].get<double>(), a["errors"].get<uint64_t>());
  } else if (view == NodeView::Dram) {
    fmt::print("{:<32} {:>4} {:>4} {:>24} {:>14} {:>14}\n", "application", "rdu", "tile", "DRAM window", "DMA in B",
               "DMA out B");
    for (const auto& a : st["apps"]) {
      const uint64_t b = a["dram_base"], sz = a["dram_bytes"];
      fmt::print("{:<32} {:>4} {:>4} {:>24} {:>14} {:>14}\n", app_label(a), a["rdu"].get<int>(), a["tile"].get<int>(),
                 fmt::format("[0x{:x}, 0x{:x})", b, b + sz), a["dma_h2d_bytes"].get<uint64_t>(),
                 a["dma_d2h_bytes"].get<uint64_t>());
    }
  } else {
    fmt::print("{:<32} {:>9} {:>10} {:>11} {:>14} {:>14} {:>9}\n", "application", "requests", "BAR0 reads",
               "BAR0 writes", "DMA in B", "DMA out B", "irq waits");
    for (const auto& a : st["apps"])
      fmt::print("{:<32} {:>9} {:>10} {:>11} {:>14} {:>14} {:>9}\n", app_label(a), a["requests"].get<uint64_t>(),
                 a["mmio_reads"].get<uint64_t>(), a["mmio_writes"].get<uint64_t>(), a["dma_h2d_bytes"].get<uint64_t>(),
                 a["dma_d2h_bytes"].get<uint64_t>(), a["irq_waits"].get<uint64_t>());
  }
}

}  // namespace

int stat_main(int argc, char** argv, const std::string& tool, const std::string& about,
              const std::function<void(const driver::Counters&, const StatOptions&)>& print, NodeView view) {
  CLI::App app{tool + ": " + about};
  std::string path, device;
  StatOptions opt;
  auto* counters =
      app.add_option("COUNTERS", path, "counters.json written by snrun, or the snrun output directory holding it");
  auto* dev = app.add_option("--device", device,
                             "unix:PATH: a node daemon's usage per application and per tile instead of a run's counters");
  counters->excludes(dev);
  dev->excludes(counters);
  app.add_flag("--json", opt.json, "print the figures as JSON");
  support::ToolCli cli{tool};
  support::add_common_options(app, cli);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    support::init_logging(cli);
    if (!device.empty()) {
      if (!driver::is_node_device(device))
        throw std::invalid_argument(fmt::format("--device '{}': expected unix:PATH (a node daemon's socket)", device));
      print_node(driver::wire::node_request(device.substr(5), {{"op", "status"}}), view, opt);
    } else if (path.empty()) {
      throw std::invalid_argument("COUNTERS or --device unix:PATH is required (see --help)");
    } else {
      print(driver::load_counters(path), opt);
    }
  } catch (const std::exception& e) {
    support::log_error(tool, e.what());
    return 1;
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace openrdu::tools
