#include "openrdu/model/cost.h"

#include <algorithm>
#include <vector>

namespace openrdu::model {

uint64_t pcu_busy_cycles(const arch::Config& cfg, uint64_t firings, uint64_t outputs) {
  return firings ? std::max(firings, outputs) + cfg.stages + 1 : 0;
}

uint64_t pcu_outputs(const arch::PcuConfig& c) {
  if (c.out_mode != 1) return c.count;
  uint64_t nacc = 0;
  for (const auto& st : c.stages) nacc += st.acc;
  const uint64_t len = c.acc_len ? c.acc_len : 1;
  return nacc ? (uint64_t(c.count) + len - 1) / len * (nacc + (c.chained() ? c.chain : 0)) : 0;
}

uint64_t pmu_busy_cycles(const arch::PmuConfig& c, uint64_t writes, uint64_t reads) {
  const uint64_t lat = reads ? 2 : 0;
  if (c.buffers() == 1 || c.num_tiles() == 1) return writes + reads + lat;
  return std::max(writes, reads) + std::min(c.wr.accesses(), c.rd.accesses()) + lat;
}

uint64_t agcu_busy_cycles(const arch::Config& cfg, const AgcuWork& w) {
  constexpr uint64_t kRoundTrip = 3;  // measured on the RTL: tiny and small stream one
                                      // vector per (latency + 3) / inflight cycles per load stream
  const uint64_t inflight = std::max<uint32_t>(1, cfg.inflight);
  uint64_t busy = w.requests;
  for (uint64_t r : w.ld_requests)
    busy = std::max(busy, (r + inflight - 1) / inflight * (cfg.dram_latency_cycles + kRoundTrip));
  // tb_agcu Agcu.StoreDoneTokenCost: 19.8 cycles per tile at latency 20.
  return busy + w.store_tiles_waited * cfg.dram_latency_cycles;
}

uint64_t port_busy_cycles(const arch::Config& cfg, std::span<const uint64_t> agcu_requests) {
  const uint32_t ports = std::max<uint32_t>(1, cfg.dram_channels);
  std::vector<uint64_t> port_requests(ports, 0);
  for (size_t k = 0; k < agcu_requests.size(); ++k) port_requests[k % ports] += agcu_requests[k];
  return *std::max_element(port_requests.begin(), port_requests.end());
}

uint64_t run_cycles(const arch::Config& cfg, uint64_t busy) {
  return busy + cfg.dram_latency_cycles + 2 * (cfg.rows + cfg.cols + 2) + cfg.stages;
}

}  // namespace openrdu::model
