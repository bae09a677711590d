#include "openrdu/platform/endpoint.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "openrdu/gen/regs.h"

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
    default: return 0;
  }
}

void Endpoint::dma_reg_write(uint32_t off, uint32_t v) {
  switch (off) {
    case reg::DMA_HOST_ADDR_LO: host_lo_ = v; break;
    case reg::DMA_HOST_ADDR_HI: host_hi_ = v; break;
    case reg::DMA_DEV_ADDR: dev_addr_ = v; break;
    case reg::DMA_LEN: len_ = v; break;
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

bool Endpoint::dma_transfer() {
  const uint64_t host = (uint64_t(host_hi_) << 32) | host_lo_;
  const uint64_t dev = dev_addr_, len = len_;
  if (dev > dram_bytes_ || len > dram_bytes_ - dev) {
    wait(latency_);
    return false;
  }
  std::vector<uint8_t> buf(len);
  tlm_generic_payload gp;
  auto host_access = [&](tlm::tlm_command cmd) {
    gp.set_command(cmd);
    gp.set_address(host);
    gp.set_data_ptr(buf.data());
    gp.set_data_length(static_cast<unsigned>(len));
    gp.set_streaming_width(static_cast<unsigned>(len));
    gp.set_byte_enable_ptr(nullptr);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_time z = sc_core::SC_ZERO_TIME;
    dma_host->b_transport(gp, z);
    wait(link_time(len));
    return gp.is_response_ok();
  };
  auto dev_access = [&](tlm::tlm_command cmd) {
    sc_time last = sc_core::SC_ZERO_TIME;
    for (uint64_t off = 0; off < len; off += kDmaChunk) {
      uint64_t n = std::min(kDmaChunk, len - off);
      gp.set_command(cmd);
      gp.set_address(dev + off);
      gp.set_data_ptr(buf.data() + off);
      gp.set_data_length(static_cast<unsigned>(n));
      gp.set_streaming_width(static_cast<unsigned>(n));
      gp.set_byte_enable_ptr(nullptr);
      gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      // Chunks are issued back to back (pipelined); the DRAM serialises them by its
      // bandwidth, and the transfer ends with the last response.
      sc_time dd = sc_core::SC_ZERO_TIME;
      dma_dev->b_transport(gp, dd);
      last = std::max(last, dd);
      if (!gp.is_response_ok()) return false;  // cannot happen: range checked above
    }
    wait(last);
    return true;
  };
  if (len == 0) {
    wait(latency_);
    return true;
  }
  if (!to_host_) {
    // Host to device: read the host buffer (all or nothing), then write DRAM.
    if (!host_access(tlm::TLM_READ_COMMAND)) return false;
    if (!dev_access(tlm::TLM_WRITE_COMMAND)) return false;
  } else {
    // Device to host: read DRAM, then write the host buffer (all or nothing).
    if (!dev_access(tlm::TLM_READ_COMMAND)) return false;
    if (!host_access(tlm::TLM_WRITE_COMMAND)) return false;
  }
  bytes_moved_ += static_cast<uint32_t>(len);
  return true;
}

void Endpoint::dma_thread() {
  for (;;) {
    wait(dma_start_ev_);
    bool ok = dma_transfer();
    busy_ = false;
    done_ = true;
    error_ = !ok;
    // MSI 1 travels to the host over the link.
    wait(latency_);
    if (on_msi) on_msi(1);
  }
}

void Endpoint::irq_method() { msi0_q_.notify(latency_); }

void Endpoint::msi0_method() {
  if (on_msi) on_msi(0);
}

}  // namespace openrdu::platform
