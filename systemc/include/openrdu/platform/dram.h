// Sparse device DRAM model: size, latency and bandwidth from arch::Config. Two TLM
// target ports (core memory port, DMA engine); accesses are functional at once and
// annotate their delay (loosely timed): start when the DRAM is free, latency, then
// ceil(bytes / bytes_per_cycle) cycles of transfer. Responses are in request order.
// An access outside DRAM gets TLM_ADDRESS_ERROR_RESPONSE and touches nothing.
#pragma once
#include <array>
#include <memory>
#include <unordered_map>

#include "openrdu/arch/config.h"
#include "openrdu/platform/sc.h"

namespace openrdu::platform {

class Dram : public sc_module {
 public:
  tlm_utils::simple_target_socket<Dram> core_port;
  tlm_utils::simple_target_socket<Dram> dma_port;

  Dram(sc_module_name name, const arch::Config& cfg, sc_time period);

  uint64_t size() const { return size_; }
  bool in_range(uint64_t addr, uint64_t len) const { return addr <= size_ && len <= size_ - addr; }
  // Functional accesses (no timing); false, and nothing done, when outside DRAM.
  bool read(uint64_t addr, uint8_t* dst, uint64_t len) const;
  bool write(uint64_t addr, const uint8_t* src, uint64_t len, const uint8_t* byte_enable = nullptr,
             uint32_t be_len = 0);
  uint64_t pages_allocated() const { return pages_.size(); }

 private:
  static constexpr uint64_t kPageBytes = 4096;
  using Page = std::array<uint8_t, kPageBytes>;
  void b_transport(tlm_generic_payload& gp, sc_time& delay);
  unsigned transport_dbg(tlm_generic_payload& gp);

  uint64_t size_;
  uint32_t latency_cycles_, bytes_per_cycle_;
  sc_time period_;
  sc_time busy_until_ = sc_core::SC_ZERO_TIME;
  std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;
};

}  // namespace openrdu::platform
