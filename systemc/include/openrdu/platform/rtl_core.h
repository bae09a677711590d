// The Verilated rdu_core driven pin by pin from a clocked SC_THREAD (docs/hardware.md and
// docs/platform.md): the TLM-to-pin bridges of the CSR bus and of the memory port.
// V is the Verilated class (Vrdu_core_tiny, _small, _plasticine); ports over 64 bits are VlWide.
//
// Timing: the thread runs the model in quanta of up to kQuantum cycles and then waits
// for that much simulated time (temporal decoupling); a quantum ends early when a CSR
// access completes or irq changes, so those are seen at their exact cycle. Memory
// requests go to the DRAM as TLM transactions annotated with the request's time; the
// response is presented to the core from the cycle the DRAM's delay ends, in order per
// memory port (the core has one port per DRAM channel, cfg.dram_channels; port p is
// slice p of the packed port pins).
#pragma once
#include <verilated.h>
#include <verilated_fst_c.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <vector>

#include "openrdu/platform/core_base.h"

namespace openrdu::platform {

template <class V>
class RtlCore : public CoreBase {
 public:
  SC_HAS_PROCESS(RtlCore);
  RtlCore(sc_module_name name, const arch::Config& cfg, const PlatformOptions& opt);
  ~RtlCore() override;
  // While the clock is idle (skipping), the cycle count follows simulated time.
  uint64_t cycles() const override {
    return idle_ ? std::max(cycle_, to_ps(sc_core::sc_time_stamp()) / period_ps_) : cycle_;
  }
  uint64_t evaluated_cycles() const override { return cycle_ - idle_cycles_; }
  std::string core_kind() const override { return "rtl"; }
  void finish(SimStats& st) override;

 protected:
  uint32_t csr_access(bool we, uint32_t offset, uint32_t wdata) override;

 private:
  static constexpr uint64_t kQuantum = 256;
  static constexpr size_t kMaxOutstanding = 128;  // memory requests in the bridge, per port
  static constexpr uint64_t kResetCycles = 4;

  struct CsrReq {
    bool we;
    uint32_t addr, wdata, rdata = 0;
    bool issued = false, done = false;
  };
  struct MemRsp {
    uint64_t ready_cycle;
    std::vector<uint32_t> rdata;
    uint8_t id;
    bool err;
  };

  void clock_thread();
  void tick(uint64_t quantum_start);
  void mem_request(uint32_t port, uint64_t quantum_start);
  void dump(uint64_t t);

  std::unique_ptr<VerilatedContext> ctx_;
  std::unique_ptr<V> top_;
  std::unique_ptr<VerilatedFstC> fst_;
  std::string trace_file_;
  uint64_t trace_start_, trace_stop_;
  bool finished_ = false;

  uint64_t cycle_ = 0;
  uint64_t idle_cycles_ = 0;  // cycles skipped while the core was idle
  bool idle_ = false;         // the clock thread is waiting for a CSR request
  uint64_t period_ps_;
  uint32_t lanes_;
  std::deque<CsrReq*> csr_q_;
  CsrReq* csr_cur_ = nullptr;
  bool csr_completed_ = false;
  sc_core::sc_event csr_done_ev_;
  sc_core::sc_event csr_req_ev_;  // a CSR request was posted (wakes an idle clock)
  uint32_t ports_;                       // memory ports (MEM_PORTS of the RTL)
  std::vector<std::deque<MemRsp>> rsp_q_;  // per port, in request order
  std::vector<uint64_t> last_ready_;      // per port
  bool irq_ = false;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace openrdu::platform
