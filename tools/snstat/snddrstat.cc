// snddrstat COUNTERS: DRAM traffic of a finished run (MEM_* counters): requests, bytes,
// achieved bandwidth against the DRAM model's peak (dram.bytes_per_cycle of the config).
// The DRAM model has one channel; the table has one row per channel.
#include <fmt/format.h>

#include "stat_main.h"

using namespace openrdu;

int main(int argc, char** argv) {
  return tools::stat_main(
      argc, argv, "snddrstat", "DRAM traffic and bandwidth of a run",
      [](const driver::Counters& c, const tools::StatOptions& o) {
        const uint64_t bytes = c.mem_rd_bytes + c.mem_wr_bytes;
        const double bpc = c.run_cycles ? static_cast<double>(bytes) / static_cast<double>(c.run_cycles) : 0.0;
        const double gbs = bpc * c.clock_mhz * 1e6 / 1e9;
        const double peak = static_cast<double>(c.dram_bytes_per_cycle) * c.clock_mhz * 1e6 / 1e9;
        if (o.json) {
          fmt::print("{{\"run_cycles\": {}, \"channels\": [{{\"channel\": 0, \"rd_reqs\": {}, \"wr_reqs\": {}, "
                     "\"rd_bytes\": {}, \"wr_bytes\": {}, \"bytes_per_cycle\": {:.3f}, \"gb_per_s\": {:.3f}, "
                     "\"peak_gb_per_s\": {:.3f}}}]}}\n",
                     c.run_cycles, c.mem_rd_reqs, c.mem_wr_reqs, c.mem_rd_bytes, c.mem_wr_bytes, bpc, gbs, peak);
          return;
        }
        fmt::print("DRAM traffic on {} ({}), {} run(s), {} cycles at {} MHz\n", c.config, c.backend, c.runs,
                   c.run_cycles, c.clock_mhz);
        fmt::print("{:<8} {:>10} {:>10} {:>14} {:>14} {:>10} {:>10} {:>8}\n", "channel", "rd reqs", "wr reqs",
                   "rd bytes", "wr bytes", "B/cycle", "GB/s", "of peak");
        fmt::print("{:<8} {:>10} {:>10} {:>14} {:>14} {:>10.2f} {:>10.2f} {:>8}\n", 0, c.mem_rd_reqs, c.mem_wr_reqs,
                   c.mem_rd_bytes, c.mem_wr_bytes, bpc, gbs,
                   peak > 0 ? fmt::format("{:.1f}%", 100.0 * gbs / peak) : std::string("-"));
        fmt::print("peak {} B/cycle = {:.1f} GB/s, latency {} cycles; a read request moves {} bytes\n",
                   c.dram_bytes_per_cycle, peak, c.dram_latency_cycles, 4 * c.lanes);
      });
}
