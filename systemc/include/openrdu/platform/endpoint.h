// PCIe-like endpoint: BAR0 target (core CSRs at 0x000-0x0FF, DMA engine at
// 0x1000-0x10FF), the DMA engine (initiators to host memory and device DRAM), MSI
// vectors (0 core irq rising edge, 1 DMA completion) and the link model (latency each
// way, bandwidth).
#pragma once
#include <functional>

#include "openrdu/platform/sc.h"

namespace openrdu::platform {

class Dram;

class Endpoint : public sc_module {
 public:
  tlm_utils::simple_target_socket<Endpoint> bar0;
  tlm_utils::simple_initiator_socket<Endpoint> core_csr;
  tlm_utils::simple_initiator_socket<Endpoint> dma_host;
  tlm_utils::simple_initiator_socket<Endpoint> dma_dev;
  sc_core::sc_in<bool> core_irq;

  SC_HAS_PROCESS(Endpoint);
  Endpoint(sc_module_name name, uint64_t dram_bytes, sc_time link_latency, double bytes_per_second);

  std::function<void(unsigned)> on_msi;  // called in the kernel when an MSI arrives at the host
  // The DRAM model whose protection windows the PROT_* registers program and the DMA
  // engine checks before moving anything (set by the platform before simulation).
  Dram* dram = nullptr;

 private:
  void bar0_b_transport(tlm_generic_payload& gp, sc_time& delay);
  uint32_t dma_reg_read(uint32_t off) const;
  void dma_reg_write(uint32_t off, uint32_t v);
  void dma_thread();
  // One transfer between host bus address `host` and device address `dev`; false (and
  // nothing moved) on an error: outside DRAM, refused by the protection, outside host memory.
  bool dma_transfer(uint64_t host, uint64_t dev, uint64_t len, bool to_host);
  void ring_step();  // fetch, run and retire the descriptor at TAIL
  void irq_method();
  void msi0_method();
  sc_time link_time(uint64_t bytes) const;

  uint64_t dram_bytes_;
  sc_time latency_;
  double bytes_per_second_;

  uint32_t host_lo_ = 0, host_hi_ = 0, dev_addr_ = 0, len_ = 0;
  bool to_host_ = false, busy_ = false, done_ = false, error_ = false;
  uint32_t bytes_moved_ = 0;
  uint32_t prot_index_ = 0;
  uint32_t dram_ch_sel_ = 0;
  // Descriptor ring (DMA_RING_*).
  uint32_t ring_lo_ = 0, ring_hi_ = 0, ring_size_ = 0, ring_head_ = 0, ring_tail_ = 0;
  bool ring_error_ = false, ring_active_ = false, ring_reset_ = false;
  sc_core::sc_event ring_ev_;
  uint32_t xfers_ = 0, h2d_bytes_ = 0, d2h_bytes_ = 0, busy_ns_ = 0, mmio_reads_ = 0, mmio_writes_ = 0;
  sc_core::sc_event dma_start_ev_;
  sc_core::sc_event_queue msi0_q_;
};

}  // namespace openrdu::platform
