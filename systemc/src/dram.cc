#include "openrdu/platform/dram.h"

#include <algorithm>
#include <cstring>

namespace openrdu::platform {

Dram::Dram(sc_module_name name, const arch::Config& cfg, sc_time period)
    : sc_module(name),
      core_port("core_port"),
      dma_port("dma_port"),
      size_(cfg.dram_bytes),
      latency_cycles_(cfg.dram_latency_cycles),
      bytes_per_cycle_(std::max<uint32_t>(1, cfg.dram_bytes_per_cycle)),
      channels_(std::max<uint32_t>(1, cfg.dram_channels)),
      interleave_(std::max<uint32_t>(1, cfg.dram_interleave_bytes)),
      map_(cfg),
      period_(period),
      busy_until_(channels_, sc_core::SC_ZERO_TIME),
      stats_(channels_) {
  for (auto* s : {&core_port, &dma_port}) {
    s->register_b_transport(this, &Dram::b_transport);
    s->register_transport_dbg(this, &Dram::transport_dbg);
  }
}

void Dram::set_window(uint32_t i, uint64_t base, uint64_t limit) {
  if (i < kWindows) windows_[i] = {base, limit};
}

namespace {
uint32_t requester_tiles(tlm_generic_payload& gp) {
  const auto* e = gp.get_extension<RequesterTiles>();
  return e ? e->tiles : 0;
}
}  // namespace

bool Dram::allowed(uint64_t addr, uint64_t len, uint32_t tiles) const {
  if (!in_range(addr, len)) return false;
  if (!protect_ || len == 0) return true;
  // Walk the union of the windows from addr: extend the covered end while some window
  // holds it.
  uint64_t covered = addr;
  const uint64_t end = addr + len;
  for (bool grew = true; grew && covered < end;) {
    grew = false;
    for (uint32_t i = 0; i < kWindows; ++i) {
      const auto [b, l] = windows_[i];
      if (tiles != 0 && window_tiles_[i] != 0 && !(window_tiles_[i] & tiles)) continue;
      if (l > b && b <= covered && l > covered) {
        covered = l;
        grew = true;
      }
    }
  }
  return covered >= end;
}

bool Dram::read(uint64_t addr, uint8_t* dst, uint64_t len) const {
  if (!in_range(addr, len)) return false;
  while (len > 0) {
    uint64_t page = addr / kPageBytes, off = addr % kPageBytes;
    uint64_t n = std::min(len, kPageBytes - off);
    auto it = pages_.find(page);
    if (it == pages_.end())
      std::memset(dst, 0, n);
    else
      std::memcpy(dst, it->second->data() + off, n);
    addr += n, dst += n, len -= n;
  }
  return true;
}

bool Dram::write(uint64_t addr, const uint8_t* src, uint64_t len, const uint8_t* be, uint32_t be_len) {
  if (!in_range(addr, len)) return false;
  uint64_t i = 0;
  while (i < len) {
    uint64_t a = addr + i;
    uint64_t page = a / kPageBytes, off = a % kPageBytes;
    uint64_t n = std::min(len - i, kPageBytes - off);
    auto& p = pages_[page];
    if (!p) p = std::make_unique<Page>(Page{});
    if (!be) {
      std::memcpy(p->data() + off, src + i, n);
    } else {
      for (uint64_t k = 0; k < n; ++k)
        if (be[(i + k) % be_len] != 0) (*p)[off + k] = src[i + k];
    }
    i += n;
  }
  return true;
}

bool Dram::zero(uint64_t addr, uint64_t len) {
  if (!in_range(addr, len)) return false;
  for (uint64_t a = addr, end = addr + len; a < end;) {
    const uint64_t page = a / kPageBytes, off = a % kPageBytes, n = std::min(end - a, kPageBytes - off);
    const auto it = pages_.find(page);
    if (it != pages_.end()) {
      if (n == kPageBytes)
        pages_.erase(it);
      else
        std::memset(it->second->data() + off, 0, n);
    }
    a += n;
  }
  return true;
}

std::vector<uint64_t> Dram::split(uint64_t addr, uint64_t len) const {
  std::vector<uint64_t> b(channels_, 0);
  for (uint64_t a = addr, end = addr + len; a < end;) {
    const uint64_t next = std::min(end, (a / interleave_ + 1) * interleave_);
    b[map_.dram_channel(a)] += next - a;
    a = next;
  }
  return b;
}

void Dram::count(bool read, const std::vector<uint64_t>& per_channel) {
  for (uint32_t c = 0; c < channels_; ++c) {
    if (per_channel[c] == 0) continue;
    (read ? stats_[c].rd_bytes : stats_[c].wr_bytes) += per_channel[c];
    ++stats_[c].reqs;
  }
}

void Dram::b_transport(tlm_generic_payload& gp, sc_time& delay) {
  const uint64_t len = gp.get_data_length();
  // Each channel the access touches transfers its share once it is free; the access
  // completes with the last channel, plus the latency.
  const sc_time issue = sc_core::sc_time_stamp() + delay;
  const auto per_channel = split(gp.get_address(), len);
  sc_time done = issue;
  for (uint32_t c = 0; c < channels_; ++c) {
    if (per_channel[c] == 0) continue;
    const uint64_t cycles = (per_channel[c] + bytes_per_cycle_ - 1) / bytes_per_cycle_;
    const sc_time start = std::max(issue, busy_until_[c]);
    busy_until_[c] = start + period_ * static_cast<double>(cycles);
    done = std::max(done, busy_until_[c]);
    stats_[c].busy_cycles += cycles;
  }
  const sc_time finish = done + period_ * static_cast<double>(latency_cycles_);
  delay = finish - sc_core::sc_time_stamp();

  bool ok = false;
  if (!allowed(gp.get_address(), len, requester_tiles(gp))) {
    note_refused(gp.get_address());
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (gp.get_command() == tlm::TLM_READ_COMMAND)
    ok = read(gp.get_address(), gp.get_data_ptr(), len);
  else if (gp.get_command() == tlm::TLM_WRITE_COMMAND)
    ok = write(gp.get_address(), gp.get_data_ptr(), len, gp.get_byte_enable_ptr(), gp.get_byte_enable_length());
  else
    ok = true;
  if (ok && gp.get_command() != tlm::TLM_IGNORE_COMMAND) count(gp.get_command() == tlm::TLM_READ_COMMAND, per_channel);
  gp.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

unsigned Dram::transport_dbg(tlm_generic_payload& gp) {
  const uint64_t len = gp.get_data_length();
  if (!allowed(gp.get_address(), len, requester_tiles(gp))) {
    note_refused(gp.get_address());
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return 0;
  }
  bool ok = gp.get_command() == tlm::TLM_READ_COMMAND
                ? read(gp.get_address(), gp.get_data_ptr(), len)
                : write(gp.get_address(), gp.get_data_ptr(), len, gp.get_byte_enable_ptr(),
                        gp.get_byte_enable_length());
  if (ok) count(gp.get_command() == tlm::TLM_READ_COMMAND, split(gp.get_address(), len));
  gp.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
  return ok ? static_cast<unsigned>(len) : 0;
}

}  // namespace openrdu::platform
