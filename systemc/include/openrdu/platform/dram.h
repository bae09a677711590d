// Sparse device DRAM model: size, latency, channels and bandwidth from arch::Config.
// Two TLM target ports (core memory port, DMA engine); accesses are functional at once
// and annotate their delay (loosely timed). Addresses interleave over the channels in
// dram.interleave_bytes pieces (channel: arch::Config::dram_channel, optionally hashed);
// each channel an access touches transfers its bytes in
// ceil(bytes / bytes_per_cycle) cycles, starting when that channel is free; the access
// completes when its last channel has, plus the latency. Responses are in request order.
// An access outside DRAM gets TLM_ADDRESS_ERROR_RESPONSE and touches nothing.
#pragma once
#include <array>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/platform/sc.h"

namespace openrdu::platform {

// The tiles whose AGCUs make a core access (bit t = tile t; docs/hardware.md ("Tiles")):
// the protection admits it only through windows of those tiles (PROT_TILES) or of none.
// An access without it (DMA, configuration reads) may use every window.
struct RequesterTiles : tlm::tlm_extension<RequesterTiles> {
  explicit RequesterTiles(uint32_t t = 0) : tiles(t) {}
  uint32_t tiles;
  tlm_extension_base* clone() const override { return new RequesterTiles(tiles); }
  void copy_from(const tlm_extension_base& e) override { tiles = static_cast<const RequesterTiles&>(e).tiles; }
};

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
  // Zeroes [addr, addr+len) at once (no timing, no protection check: the privileged
  // software's scrub of a freed DRAM window): whole pages are released, partial ones
  // cleared. False, and nothing done, when outside DRAM.
  bool zero(uint64_t addr, uint64_t len);

  // Protection windows (PROT_* registers of the endpoint): when enabled, b_transport
  // and transport_dbg refuse (TLM_ADDRESS_ERROR_RESPONSE, nothing touched) an access
  // not inside the union of the enabled windows [base, limit) it may use: a window with
  // tiles (PROT_TILES) serves only the AGCUs of those tiles (RequesterTiles).
  static constexpr uint32_t kWindows = 64;
  void set_protect(bool on) { protect_ = on; }
  bool protect() const { return protect_; }
  void set_window(uint32_t i, uint64_t base, uint64_t limit);
  std::pair<uint64_t, uint64_t> window(uint32_t i) const { return i < kWindows ? windows_[i] : std::pair<uint64_t, uint64_t>{}; }
  void set_window_tiles(uint32_t i, uint32_t tiles) {
    if (i < kWindows) window_tiles_[i] = tiles;
  }
  uint32_t window_tiles(uint32_t i) const { return i < kWindows ? window_tiles_[i] : 0; }
  // In DRAM and (when enabled) inside the windows that `tiles` may use (0: every window).
  bool allowed(uint64_t addr, uint64_t len, uint32_t tiles = 0) const;
  uint64_t refused() const { return refused_; }
  uint64_t last_refused_addr() const { return last_refused_; }
  void note_refused(uint64_t addr) { ++refused_, last_refused_ = addr; }

  // Traffic per channel since construction (DRAM_CH_* registers; busy cycles only for
  // timed accesses: the functional core's debug accesses move data in zero time).
  struct ChannelStats {
    uint64_t rd_bytes = 0, wr_bytes = 0, reqs = 0, busy_cycles = 0;
  };
  const std::vector<ChannelStats>& channel_stats() const { return stats_; }
  uint32_t channels() const { return channels_; }

 private:
  static constexpr uint64_t kPageBytes = 4096;
  using Page = std::array<uint8_t, kPageBytes>;
  void b_transport(tlm_generic_payload& gp, sc_time& delay);
  unsigned transport_dbg(tlm_generic_payload& gp);

  uint64_t size_;
  // Bytes of [addr, addr+len) on each channel.
  std::vector<uint64_t> split(uint64_t addr, uint64_t len) const;
  void count(bool read, const std::vector<uint64_t>& per_channel);

  uint32_t latency_cycles_, bytes_per_cycle_, channels_, interleave_;
  arch::Config map_;  // the channel of an address: map_.dram_channel()
  sc_time period_;
  std::vector<sc_time> busy_until_;  // per channel
  std::vector<ChannelStats> stats_;
  std::unordered_map<uint64_t, std::unique_ptr<Page>> pages_;
  bool protect_ = false;
  std::array<std::pair<uint64_t, uint64_t>, kWindows> windows_{};
  std::array<uint32_t, kWindows> window_tiles_{};
  uint64_t refused_ = 0, last_refused_ = 0;
};

}  // namespace openrdu::platform
