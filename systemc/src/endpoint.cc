#include "openrdu/platform/endpoint.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/dram.h"

namespace openrdu::platform {

namespace reg = gen::reg;
namespace {
constexpr uint32_t kDmaBase = 0x1000, kDmaSpan = 0x100;
constexpr uint64_t kDmaChunk = 4096;  // bytes per DRAM transaction
}  // namespace

Endpoint::Endpoint(sc_module_name name, uint64_t dram_bytes, sc_time link_latency, double bytes_per_second)
    : sc_module(name),
      bar0("bar0"),
      core_csr("core_csr"),
      dma_host("dma_host"),
      dma_dev("dma_dev"),
      core_irq("core_irq"),
      dram_bytes_(dram_bytes),
      latency_(link_latency),
      bytes_per_second_(bytes_per_second) {
  bar0.register_b_transport(this, &Endpoint::bar0_b_transport);
  SC_THREAD(dma_thread);
  SC_METHOD(irq_method);
  sensitive << core_irq.pos();
  dont_initialize();
  SC_METHOD(msi0_method);
  sensitive << msi0_q_;
  dont_initialize();
}

sc_time Endpoint::link_time(uint64_t bytes) const {
  return latency_ + sc_time(static_cast<double>(bytes) / bytes_per_second_, sc_core::SC_SEC);
}

void Endpoint::bar0_b_transport(tlm_generic_payload& gp, sc_time& delay) {
  // Request across the link.
  wait(delay + latency_);
  delay = sc_core::SC_ZERO_TIME;
  uint64_t a = gp.get_address();
  bool read = gp.get_command() == tlm::TLM_READ_COMMAND;
  ++(read ? mmio_reads_ : mmio_writes_);
  if (a < 0x100) {
    core_csr->b_transport(gp, delay);
    wait(delay);
    delay = sc_core::SC_ZERO_TIME;
  } else if (a >= kDmaBase && a < kDmaBase + kDmaSpan && gp.get_data_length() == 4 && a % 4 == 0) {
    uint32_t v = 0;
    if (read) {
      v = dma_reg_read(static_cast<uint32_t>(a));
      std::memcpy(gp.get_data_ptr(), &v, 4);
    } else {
      std::memcpy(&v, gp.get_data_ptr(), 4);
      dma_reg_write(static_cast<uint32_t>(a), v);
    }
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  } else {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
  }
  // Completion back across the link (reads only: writes are acknowledged on arrival).
  if (read) wait(latency_);
}

uint32_t Endpoint::dma_reg_read(uint32_t off) const {
  switch (off) {
    case reg::DMA_HOST_ADDR_LO: return host_lo_;
    case reg::DMA_HOST_ADDR_HI: return host_hi_;
    case reg::DMA_DEV_ADDR: return dev_addr_;
    case reg::DMA_LEN: return len_;
    case reg::DMA_STATUS:
      return (busy_ ? reg::DMA_STATUS_BUSY_MASK : 0) | (done_ ? reg::DMA_STATUS_DONE_MASK : 0) |
             (error_ ? reg::DMA_STATUS_ERROR_MASK : 0);
    case reg::DMA_BYTES: return bytes_moved_;
    case reg::DMA_XFERS: return xfers_;
    case reg::DMA_H2D_BYTES: return h2d_bytes_;
    case reg::DMA_D2H_BYTES: return d2h_bytes_;
    case reg::DMA_BUSY_NS: return busy_ns_;
    case reg::LINK_MMIO_READS: return mmio_reads_;
    case reg::LINK_MMIO_WRITES: return mmio_writes_;
    case reg::LINK_LATENCY_NS: return static_cast<uint32_t>(latency_.to_seconds() * 1e9 + 0.5);
    case reg::LINK_MBPS: return static_cast<uint32_t>(bytes_per_second_ / 1e6 + 0.5);
    case reg::PROT_CTRL: return dram && dram->protect() ? reg::PROT_CTRL_ENABLE_MASK : 0;
    case reg::PROT_INDEX: return prot_index_;
    case reg::PROT_BASE: return dram ? static_cast<uint32_t>(dram->window(prot_index_).first) : 0;
    case reg::PROT_LIMIT: return dram ? static_cast<uint32_t>(dram->window(prot_index_).second) : 0;
    case reg::PROT_TILES: return dram ? dram->window_tiles(prot_index_) : 0;
    case reg::PROT_REFUSED: return dram ? static_cast<uint32_t>(dram->refused()) : 0;
    case reg::PROT_LAST_ADDR: return dram ? static_cast<uint32_t>(dram->last_refused_addr()) : 0;
    case reg::DRAM_CHANNELS: return dram ? dram->channels() : 0;
    case reg::DRAM_CH_SEL: return dram_ch_sel_;
    case reg::DRAM_CH_RD_BYTES:
    case reg::DRAM_CH_WR_BYTES:
    case reg::DRAM_CH_REQS:
    case reg::DRAM_CH_BUSY_CYCLES: {
      if (!dram || dram_ch_sel_ >= dram->channels()) return 0;
      const auto& st = dram->channel_stats()[dram_ch_sel_];
      const uint64_t v = off == reg::DRAM_CH_RD_BYTES ? st.rd_bytes
                         : off == reg::DRAM_CH_WR_BYTES ? st.wr_bytes
                         : off == reg::DRAM_CH_REQS     ? st.reqs
                                                        : st.busy_cycles;
      return static_cast<uint32_t>(v);
    }
    case reg::DMA_RING_LO: return ring_lo_;
    case reg::DMA_RING_HI: return ring_hi_;
    case reg::DMA_RING_SIZE: return ring_size_;
    case reg::DMA_RING_HEAD: return ring_head_;
    case reg::DMA_RING_TAIL: return ring_tail_;
    case reg::DMA_RING_STATUS:
      return (ring_active_ || (ring_size_ && !ring_error_ && ring_tail_ != ring_head_) ? reg::DMA_RING_STATUS_BUSY_MASK
                                                                                        : 0) |
             (ring_error_ ? reg::DMA_RING_STATUS_ERROR_MASK : 0);
    default: return 0;
  }
}

void Endpoint::dma_reg_write(uint32_t off, uint32_t v) {
  switch (off) {
    case reg::DMA_HOST_ADDR_LO: host_lo_ = v; break;
    case reg::DMA_HOST_ADDR_HI: host_hi_ = v; break;
    case reg::DMA_DEV_ADDR: dev_addr_ = v; break;
    case reg::DMA_LEN: len_ = v; break;
    case reg::PROT_CTRL:
      if (dram) dram->set_protect((v & reg::PROT_CTRL_ENABLE_MASK) != 0);
      break;
    case reg::PROT_INDEX: prot_index_ = v % Dram::kWindows; break;
    case reg::PROT_TILES:
      if (dram) dram->set_window_tiles(prot_index_, v);
      break;
    case reg::PROT_BASE:
      if (dram) dram->set_window(prot_index_, v, dram->window(prot_index_).second);
      break;
    case reg::PROT_LIMIT:
      if (dram) dram->set_window(prot_index_, dram->window(prot_index_).first, v);
      break;
    case reg::DRAM_CH_SEL: dram_ch_sel_ = v; break;
    case reg::DMA_RING_LO: ring_lo_ = v & ~31u; break;
    case reg::DMA_RING_HI: ring_hi_ = v; break;
    case reg::DMA_RING_SIZE:
      // A power of two up to 4096, else off; resizing restarts the ring at 0.
      ring_size_ = (v != 0 && v <= 4096 && (v & (v - 1)) == 0) ? v : 0;
      ring_head_ = ring_tail_ = 0;
      break;
    case reg::DMA_RING_HEAD:
      if (ring_size_) {
        ring_head_ = v % ring_size_;
        ring_ev_.notify(sc_core::SC_ZERO_TIME);
      }
      break;
    case reg::DMA_RING_CTRL:
      if (v & reg::DMA_RING_CTRL_RESET_MASK) {
        if (ring_active_) {
          ring_reset_ = true;  // applied when the descriptor in progress retires
        } else {
          ring_head_ = ring_tail_ = 0;
          ring_error_ = false;
        }
      }
      break;
    case reg::DMA_CTRL:
      if ((v & reg::DMA_CTRL_START_MASK) && !busy_) {
        to_host_ = (v & reg::DMA_CTRL_TO_HOST_MASK) != 0;
        busy_ = true;
        done_ = error_ = false;
        dma_start_ev_.notify(sc_core::SC_ZERO_TIME);
      }
      break;
    default: break;
  }
}

bool Endpoint::dma_transfer(uint64_t host, uint64_t dev, uint64_t len, bool to_host) {
  if (dev > dram_bytes_ || len > dram_bytes_ - dev || (dram && !dram->allowed(dev, len))) {
    if (dram && len > 0) dram->note_refused(dev);
    wait(latency_);
    return false;
  }
  std::vector<uint8_t> buf(len);
  tlm_generic_payload gp;
  auto setup = [&](tlm::tlm_command cmd, uint64_t addr, uint8_t* p, uint64_t n) { set_payload(gp, cmd, addr, p, n); };
  auto host_access = [&](tlm::tlm_command cmd) {  // functional, all or nothing
    setup(cmd, host, buf.data(), len);
    sc_time z = sc_core::SC_ZERO_TIME;
    dma_host->b_transport(gp, z);
    return gp.is_response_ok();
  };
  auto on_link = [&](uint64_t bytes) { return sc_time(static_cast<double>(bytes) / bytes_per_second_, sc_core::SC_SEC); };
  if (len == 0) {
    wait(latency_);
    return true;
  }
  // The link and the DRAM work in a pipeline of kDmaChunk pieces: the transfer takes
  // about latency + bytes / link bandwidth, plus the DRAM time of one piece.
  if (!to_host) {
    // Host to device: the read request crosses the link, the data streams back at the
    // link's bandwidth; each piece is written to DRAM when it has arrived (the DRAM
    // model serialises the writes by its own bandwidth). Ends with the last write.
    if (!host_access(tlm::TLM_READ_COMMAND)) {
      wait(link_time(len));
      return false;
    }
    sc_time last = sc_core::SC_ZERO_TIME;
    for (uint64_t off = 0; off < len; off += kDmaChunk) {
      const uint64_t n = std::min(kDmaChunk, len - off);
      setup(tlm::TLM_WRITE_COMMAND, dev + off, buf.data() + off, n);
      sc_time dd = latency_ + on_link(off + n);  // arrival of the piece
      dma_dev->b_transport(gp, dd);
      if (!gp.is_response_ok()) return false;  // cannot happen: range checked above
      last = std::max(last, dd);
    }
    wait(last);
  } else {
    // Device to host: pieces are read from DRAM back to back; each crosses the link once
    // it is read and the link is free; ends when the last byte has crossed.
    sc_time link_free = sc_core::SC_ZERO_TIME;
    for (uint64_t off = 0; off < len; off += kDmaChunk) {
      const uint64_t n = std::min(kDmaChunk, len - off);
      setup(tlm::TLM_READ_COMMAND, dev + off, buf.data() + off, n);
      sc_time dd = sc_core::SC_ZERO_TIME;
      dma_dev->b_transport(gp, dd);
      if (!gp.is_response_ok()) return false;  // cannot happen: range checked above
      link_free = std::max(link_free, dd) + on_link(n);
    }
    const bool ok = host_access(tlm::TLM_WRITE_COMMAND);
    wait(link_free + latency_);
    if (!ok) return false;
  }
  bytes_moved_ += static_cast<uint32_t>(len);
  ++xfers_;
  (to_host ? d2h_bytes_ : h2d_bytes_) += static_cast<uint32_t>(len);
  return true;
}

void Endpoint::dma_thread() {
  // One engine serves the register interface (DMA_CTRL.START) and the descriptor ring,
  // one transfer at a time: a START waiting is taken before the next descriptor.
  for (;;) {
    if (busy_ && !done_) {
      const sc_time t0 = sc_core::sc_time_stamp();
      bool ok = dma_transfer((uint64_t(host_hi_) << 32) | host_lo_, dev_addr_, len_, to_host_);
      busy_ns_ += static_cast<uint32_t>((sc_core::sc_time_stamp() - t0).to_seconds() * 1e9 + 0.5);
      busy_ = false;
      done_ = true;
      error_ = !ok;
      // MSI 1 travels to the host over the link.
      wait(latency_);
      if (on_msi) on_msi(1);
      continue;
    }
    if (ring_size_ && !ring_error_ && ring_tail_ != ring_head_) {
      ring_step();
      continue;
    }
    wait(dma_start_ev_ | ring_ev_);
  }
}

void Endpoint::ring_step() {
  ring_active_ = true;
  const uint64_t ring = (uint64_t(ring_hi_) << 32) | ring_lo_;
  const uint64_t daddr = ring + 32ull * ring_tail_;
  uint8_t d[32] = {};
  tlm_generic_payload gp;
  auto host_rw = [&](tlm::tlm_command cmd, uint64_t addr, uint8_t* p, unsigned n) {
    set_payload(gp, cmd, addr, p, n);
    sc_time z = sc_core::SC_ZERO_TIME;
    dma_host->b_transport(gp, z);
    return gp.is_response_ok();
  };
  // Fetch: a read request crosses the link, the completion brings 32 bytes back.
  wait(latency_);
  bool ok = host_rw(tlm::TLM_READ_COMMAND, daddr, d, 32);
  wait(link_time(32));
  uint32_t status = 0;
  bool irq = false;
  if (ok) {
    uint64_t host = 0;
    uint32_t dev = 0, len = 0, flags = 0;
    std::memcpy(&host, d, 8);
    std::memcpy(&dev, d + 8, 4);
    std::memcpy(&len, d + 12, 4);
    std::memcpy(&flags, d + 16, 4);
    irq = (flags & 2u) != 0;
    const sc_time t0 = sc_core::sc_time_stamp();
    ok = dma_transfer(host, dev, len, (flags & 1u) != 0);
    busy_ns_ += static_cast<uint32_t>((sc_core::sc_time_stamp() - t0).to_seconds() * 1e9 + 0.5);
    status = ok ? 1u : 3u;  // DONE, or DONE | ERROR
    // Status write-back (posted: one crossing).
    host_rw(tlm::TLM_WRITE_COMMAND, daddr + 20, reinterpret_cast<uint8_t*>(&status), 4);
    wait(link_time(4));
  }
  ring_active_ = false;
  if (ok) {
    ring_tail_ = (ring_tail_ + 1) % ring_size_;
    if (irq) {
      wait(latency_);
      if (on_msi) on_msi(1);
    }
  } else {
    ring_error_ = true;  // stopped at this descriptor
    wait(latency_);
    if (on_msi) on_msi(2);
  }
  if (ring_reset_) {
    ring_reset_ = false;
    ring_head_ = ring_tail_ = 0;
    ring_error_ = false;
  }
}

void Endpoint::irq_method() { msi0_q_.notify(latency_); }

void Endpoint::msi0_method() {
  if (on_msi) on_msi(0);
}

}  // namespace openrdu::platform
