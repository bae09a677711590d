// snddrstat COUNTERS: DRAM traffic of a finished run: per channel (DRAM_CH_* of the
// platform's DRAM model, measured around each run: requests, bytes, busy cycles and
// bandwidth against the channel's peak dram.bytes_per_cycle), and the AGCUs' requests
// and bytes (MEM_* of the core).
#include <fmt/format.h>

#include "stat_main.h"

using namespace openrdu;

int main(int argc, char** argv) {
  return tools::stat_main(
      argc, argv, "snddrstat", "DRAM traffic and bandwidth of a run, per channel",
      [](const driver::Counters& c, const tools::StatOptions& o) {
        const double cyc = static_cast<double>(c.run_cycles);
        const double ghz = c.clock_mhz / 1e3;
        auto bpc = [&](uint64_t bytes) { return c.run_cycles ? static_cast<double>(bytes) / cyc : 0.0; };
        const uint64_t agcu_bytes = c.mem_rd_bytes + c.mem_wr_bytes;
        const double peak_bpc = static_cast<double>(c.dram_bytes_per_cycle) * std::max<size_t>(1, c.dram_channels.size());
        if (o.json) {
          std::string ch;
          for (const auto& x : c.dram_channels)
            ch += fmt::format("{}{{\"channel\": {}, \"reqs\": {}, \"rd_bytes\": {}, \"wr_bytes\": {}, \"busy_cycles\": {}, "
                              "\"bytes_per_cycle\": {:.3f}, \"gb_per_s\": {:.3f}}}",
                              ch.empty() ? "" : ", ", x.channel, x.reqs, x.rd_bytes, x.wr_bytes, x.busy_cycles,
                              bpc(x.rd_bytes + x.wr_bytes), bpc(x.rd_bytes + x.wr_bytes) * ghz);
          fmt::print("{{\"run_cycles\": {}, \"agcu\": {{\"rd_reqs\": {}, \"wr_reqs\": {}, \"rd_bytes\": {}, "
                     "\"wr_bytes\": {}, \"bytes_per_cycle\": {:.3f}}}, \"peak_bytes_per_cycle\": {:.1f}, "
                     "\"channels\": [{}]}}\n",
                     c.run_cycles, c.mem_rd_reqs, c.mem_wr_reqs, c.mem_rd_bytes, c.mem_wr_bytes, bpc(agcu_bytes),
                     peak_bpc, ch);
          return;
        }
        fmt::print("DRAM traffic on {} ({}), {} run(s), {} cycles at {} MHz\n", c.config, c.backend, c.runs,
                   c.run_cycles, c.clock_mhz);
        fmt::print("{:<8} {:>10} {:>14} {:>14} {:>12} {:>9} {:>9} {:>8}\n", "channel", "requests", "rd bytes",
                   "wr bytes", "busy cycles", "busy", "B/cycle", "of peak");
        for (const auto& x : c.dram_channels)
          fmt::print("{:<8} {:>10} {:>14} {:>14} {:>12} {:>9} {:>9.2f} {:>8}\n", x.channel, x.reqs, x.rd_bytes,
                     x.wr_bytes, x.busy_cycles, tools::percent(x.busy_cycles, c.run_cycles),
                     bpc(x.rd_bytes + x.wr_bytes),
                     c.dram_bytes_per_cycle
                         ? fmt::format("{:.1f}%", 100.0 * bpc(x.rd_bytes + x.wr_bytes) / c.dram_bytes_per_cycle)
                         : std::string("-"));
        if (c.dram_channels.empty()) fmt::print("(no per-channel figures in this counters file)\n");
        fmt::print("AGCUs: {} read requests ({} bytes, {} per request), {} write requests ({} bytes): {:.2f} B/cycle, "
                   "{:.1f}% of the {:.0f} B/cycle of all channels\n",
                   c.mem_rd_reqs, c.mem_rd_bytes, 4 * c.lanes, c.mem_wr_reqs, c.mem_wr_bytes, bpc(agcu_bytes),
                   peak_bpc > 0 ? 100.0 * bpc(agcu_bytes) / peak_bpc : 0.0, peak_bpc);
        fmt::print("channel peak {} B/cycle = {:.1f} GB/s, latency {} cycles\n", c.dram_bytes_per_cycle,
                   c.dram_bytes_per_cycle * ghz, c.dram_latency_cycles);
      },
      tools::NodeView::Dram);
}
