// What the endpoint and the DRAM see of a core: a CSR target socket (BAR0 0x000-0x0FF),
// a memory initiator socket to the DRAM and a level interrupt.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "openrdu/arch/config.h"
#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"
#include "openrdu/platform/sc.h"

namespace openrdu::platform {

inline constexpr uint32_t kCoreId = gen::reg::ID_VALUE;            // 'RDU0' (configs/regs.yaml)
inline constexpr uint32_t kCoreVersion = gen::reg::VERSION_VALUE;  // 1.0
inline constexpr uint32_t kCsrSpan = 0x100;

class CoreBase : public sc_module {
 public:
  tlm_utils::simple_target_socket<CoreBase> csr;
  tlm_utils::simple_initiator_socket<CoreBase> mem;
  sc_core::sc_out<bool> irq_o;

  CoreBase(sc_module_name name, const arch::Config& cfg);
  virtual uint64_t cycles() const = 0;  // simulated core cycles
  // Cycles the model actually evaluated (the RTL core skips idle cycles).
  virtual uint64_t evaluated_cycles() const { return cycles(); }
  virtual std::string core_kind() const = 0;  // "rtl", "func"
  // End of simulation: close the trace, print the statistics line (RTL).
  virtual void finish(SimStats&) {}
  // The wall-clock end of the host's current wait (--timeout): a core that can compute
  // for long inside one simulated step (the untimed functional model) stops there.
  virtual void set_wall_deadline(std::chrono::steady_clock::time_point) {}
  const arch::Config& config() const { return cfg_; }
  sc_time period() const { return period_; }

 protected:
  // One CSR access (offset < kCsrSpan, 4-aligned), called from a thread; may wait.
  virtual uint32_t csr_access(bool we, uint32_t offset, uint32_t wdata) = 0;

  arch::Config cfg_;
  sc_time period_;

 private:
  void csr_b_transport(tlm_generic_payload& gp, sc_time& delay);
};

// Values of the identity and capability registers for a configuration.
struct CoreIdentity {
  uint32_t fingerprint, cap_grid, cap_pcu, cap_pmu, cap_dram;
  explicit CoreIdentity(const arch::Config& cfg);
};

}  // namespace openrdu::platform

namespace openrdu::platform {
// The Verilated core of cfg.name ("tiny", "small", "plasticine"); defined only when the RTL is built
// (OPENRDU_HAVE_RTL_CORE). Throws naming the available cores.
CoreBase* make_rtl_core(const arch::Config& cfg, const PlatformOptions& opt);
}  // namespace openrdu::platform
