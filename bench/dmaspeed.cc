// bench/dmaspeed: DMA throughput of the platform model against its link parameters.
// Copies N bytes host->device and back through the driver (descriptor ring, 1 MiB
// pieces) for several sizes, measures the simulated time of each copy, and prints the
// achieved GB/s beside the link's bandwidth and the time the model's parameters imply:
// per 1 MiB piece, descriptor fetch (2 x latency + 32 B / bandwidth), the transfer
// (latency + bytes / bandwidth, with the DRAM pipelined behind the link in 4 KiB so
// only the last 4 KiB's DRAM time adds), the status write-back (latency + 4 B /
// bandwidth); per batch of 63 pieces, the driver's RESET and HEAD writes, the MSI and
// the TAIL read.
//
//   dmaspeed [--config tiny] [--backend func] [--max-mib 64] [--min-link-share S --from-mib M]
// Simulated time is deterministic: with --min-link-share, every copy of at least M MiB
// (default 16) that reaches less than S of the link fails the run (exit 1; the README's
// "93.6-93.8% of the link from 16 MiB up", test bench.dmaspeed_figures_func).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/driver/device.h"

int main(int argc, char** argv) {
  CLI::App app{"DMA throughput of the platform model against its link parameters"};
  std::string config = "tiny", backend = "func";
  uint32_t max_mib = 64;
  app.add_option("--config", config, "configuration");
  app.add_option("--backend", backend, "func or verilator (the DMA path is the same platform model)");
  app.add_option("--max-mib", max_mib, "largest copy in MiB");
  double min_share = 0;
  uint32_t from_mib = 16;
  app.add_option("--min-link-share", min_share, "fail a copy of at least --from-mib MiB below this share of the link");
  app.add_option("--from-mib", from_mib, "smallest copy --min-link-share applies to (MiB)");
  int below = 0;
  CLI11_PARSE(app, argc, argv);
  try {
    const auto cfg = openrdu::arch::load_config(config);
    auto dev = openrdu::driver::open_device(backend, cfg);
    const double link_gbs = 32.0, lat_ns = 500.0;
    const double period_ns = 1e3 / cfg.clock_mhz;
    fmt::print("dmaspeed: config={} backend={} link {} GB/s, {} ns each way; DRAM {} B/cycle, {} cycles latency\n",
               config, backend, link_gbs, lat_ns, cfg.dram_bytes_per_cycle, cfg.dram_latency_cycles);
    fmt::print("{:>10} {:>10} {:>12} {:>12} {:>10} {:>10} {:>9}\n", "bytes", "direction", "sim us", "model us",
               "GB/s", "of link", "sim/model");
    for (uint64_t n = 4096; n <= uint64_t(max_mib) << 20; n *= 4) {
      std::vector<uint8_t> host(n), back(n);
      for (size_t i = 0; i < n; ++i) host[i] = static_cast<uint8_t>(i * 7);
      for (int dir = 0; dir < 2; ++dir) {
        const uint64_t c0 = dev->cycles();
        if (dir == 0) dev->copy_to_device(host.data(), 0x100000, n);
        else dev->copy_from_device(back.data(), 0x100000, n);
        const double us = (dev->cycles() - c0) * period_ns / 1e3;
        // The model's time: pieces of 1 MiB, batches of 64 pieces.
        const uint64_t piece = 1 << 20;
        const uint64_t pieces = (n + piece - 1) / piece, batches = (pieces + 63) / 64;
        double model_ns = 0;
        for (uint64_t p = 0; p < pieces; ++p) {
          const double b = static_cast<double>(std::min(piece, n - p * piece));
          model_ns += 2 * lat_ns + 32 / link_gbs;                                       // descriptor fetch
          model_ns += lat_ns + b / link_gbs;  // the piece over the link, pipelined with the DRAM in 4 KiB
          model_ns += (std::ceil(std::min(b, 4096.0) / cfg.dram_bytes_per_cycle) + cfg.dram_latency_cycles) *
                      period_ns;              // DRAM time of the last 4 KiB
          model_ns += lat_ns + 4 / link_gbs;                                            // status write-back
        }
        // Per batch: RESET and HEAD writes (one crossing each), the MSI, TAIL read (two).
        model_ns += batches * (2 * lat_ns + lat_ns + 2 * lat_ns);
        const double gbs = n / (us * 1e3);
        fmt::print("{:>10} {:>10} {:>12.3f} {:>12.3f} {:>10.2f} {:>9.1f}% {:>9.3f}\n", n,
                   dir == 0 ? "h2d" : "d2h", us, model_ns / 1e3, gbs, 100 * gbs / link_gbs, us * 1e3 / model_ns);
        if (min_share > 0 && n >= (uint64_t(from_mib) << 20) && gbs / link_gbs < min_share) {
          fmt::print(stderr, "dmaspeed: {} bytes {} at {:.1f}% of the link, below the floor {:.1f}%\n", n,
                     dir == 0 ? "h2d" : "d2h", 100 * gbs / link_gbs, 100 * min_share);
          ++below;
        }
      }
      if (back != host) {
        fmt::print(stderr, "dmaspeed: error: data read back differs ({} bytes)\n", n);
        return 1;
      }
    }
    return below ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "dmaspeed: error: {}\n", e.what());
    return 1;
  }
}
