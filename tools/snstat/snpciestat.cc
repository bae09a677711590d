// snpciestat COUNTERS: DMA and link traffic since the device was opened (DMA_*, LINK_*
// registers of the platform's endpoint): transfers, bytes each way, busy time, achieved
// bandwidth against the link model's, BAR0 reads and writes.
#include <fmt/format.h>

#include "stat_main.h"

using namespace openrdu;

int main(int argc, char** argv) {
  return tools::stat_main(
      argc, argv, "snpciestat", "DMA and link traffic of a run",
      [](const driver::Counters& c, const tools::StatOptions& o) {
        const uint64_t bytes = c.dma_h2d_bytes + c.dma_d2h_bytes;
        const double gbs = c.dma_busy_ns ? static_cast<double>(bytes) / static_cast<double>(c.dma_busy_ns) : 0.0;
        const double link = c.link_mbps / 1e3;
        if (o.json) {
          fmt::print("{{\"dma_xfers\": {}, \"h2d_bytes\": {}, \"d2h_bytes\": {}, \"dma_busy_ns\": {}, "
                     "\"dma_gb_per_s\": {:.3f}, \"link_gb_per_s\": {:.3f}, \"link_latency_ns\": {}, "
                     "\"mmio_reads\": {}, \"mmio_writes\": {}}}\n",
                     c.dma_xfers, c.dma_h2d_bytes, c.dma_d2h_bytes, c.dma_busy_ns, gbs, link, c.link_latency_ns,
                     c.mmio_reads, c.mmio_writes);
          return;
        }
        fmt::print("PCIe-like link on {} ({}): {:.1f} GB/s, {} ns one way\n", c.config, c.backend, link,
                   c.link_latency_ns);
        fmt::print("DMA: {} transfers, host->device {} bytes, device->host {} bytes, busy {:.3f} us, "
                   "{:.2f} GB/s while busy ({} of the link)\n",
                   c.dma_xfers, c.dma_h2d_bytes, c.dma_d2h_bytes, c.dma_busy_ns / 1e3, gbs,
                   link > 0 ? fmt::format("{:.1f}%", 100.0 * gbs / link) : std::string("-"));
        fmt::print("BAR0: {} reads, {} writes ({:.3f} us of link latency)\n", c.mmio_reads, c.mmio_writes,
                   (2.0 * c.mmio_reads + c.mmio_writes) * c.link_latency_ns / 1e3);
      },
      tools::NodeView::Pcie);
}
