// sntilestat COUNTERS: per-unit busy, stalled and idle cycles of a finished run (summed
// over the sections of its schedule), from the PERF_* counters (`docs/platform.md` ("Counters, protection, fault injection, descriptor ring")).
#include <fmt/format.h>

#include "stat_main.h"

using namespace openrdu;

int main(int argc, char** argv) {
  return tools::stat_main(
      argc, argv, "sntilestat", "per-unit busy, stalled and idle table of a run",
      [](const driver::Counters& c, const tools::StatOptions& o) {
        if (o.json) {
          fmt::print("{{\"run_cycles\": {}, \"units\": [", c.run_cycles);
          for (size_t i = 0; i < c.units.size(); ++i) {
            const auto& u = c.units[i];
            const uint64_t idle = c.run_cycles - std::min(c.run_cycles, u.active + u.stall_in + u.stall_out);
            fmt::print("{}{{\"id\": {}, \"name\": \"{}\", \"kind\": \"{}\", \"active\": {}, \"stall_in\": {}, "
                       "\"stall_out\": {}, \"idle\": {}}}",
                       i ? ", " : "", u.id, u.name, u.kind, u.active, u.stall_in, u.stall_out, idle);
          }
          fmt::print("]}}\n");
          return;
        }
        fmt::print("{} on {} ({}), {} run(s), {} cycles{}\n", "tile activity", c.config, c.backend, c.runs,
                   c.run_cycles, c.estimated ? " (functional model: activity estimated, output stalls not modelled)" : "");
        fmt::print("{:<26} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7} {:>7}\n", "unit", "active", "", "stall_in", "",
                   "stall_out", "", "idle");
        uint64_t busy_pcu = 0, busy_pmu = 0;
        uint32_t n_pcu = 0, n_pmu = 0;
        for (const auto& u : c.units) {
          const uint64_t used = u.active + u.stall_in + u.stall_out;
          const uint64_t idle = c.run_cycles - std::min(c.run_cycles, used);
          fmt::print("{:<26} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7} {:>7}\n", u.name, u.active,
                     tools::percent(u.active, c.run_cycles), u.stall_in, tools::percent(u.stall_in, c.run_cycles),
                     u.stall_out, tools::percent(u.stall_out, c.run_cycles), tools::percent(idle, c.run_cycles));
          if (u.kind == "pcu") busy_pcu += u.active, ++n_pcu;
          if (u.kind == "pmu") busy_pmu += u.active, ++n_pmu;
        }
        fmt::print("PCU utilisation {} ({} PCUs), PMU utilisation {} ({} PMUs)\n",
                   tools::percent(busy_pcu, c.run_cycles * n_pcu), n_pcu, tools::percent(busy_pmu, c.run_cycles * n_pmu),
                   n_pmu);
      },
      tools::NodeView::Tiles);
}
