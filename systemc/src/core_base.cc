#include "openrdu/platform/core_base.h"

#include <cstring>

namespace openrdu::platform {

CoreIdentity::CoreIdentity(const arch::Config& cfg)
    : fingerprint(cfg.fingerprint()),
      cap_grid((cfg.rows & 0xFF) | ((cfg.cols & 0xFF) << 8) | ((cfg.agcu & 0xFF) << 16)),
      cap_pcu((cfg.lanes & 0xFF) | ((cfg.stages & 0xFF) << 8) | ((cfg.regs & 0xFF) << 16) | ((cfg.vin & 0xFF) << 24)),
      cap_pmu(cfg.pmu_bytes),
      cap_dram(static_cast<uint32_t>(cfg.dram_bytes >> 20)) {}

CoreBase::CoreBase(sc_module_name name, const arch::Config& cfg)
    : sc_module(name), csr("csr"), mem("mem"), irq_o("irq_o"), cfg_(cfg),
      period_(1e6 / cfg.clock_mhz, sc_core::SC_PS) {
  csr.register_b_transport(this, &CoreBase::csr_b_transport);
}

void CoreBase::csr_b_transport(tlm_generic_payload& gp, sc_time& delay) {
  wait(delay);
  delay = sc_core::SC_ZERO_TIME;
  uint64_t a = gp.get_address();
  if (gp.get_data_length() != 4 || a % 4 != 0 || a >= kCsrSpan) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  uint32_t v = 0;
  bool we = gp.get_command() == tlm::TLM_WRITE_COMMAND;
  if (we) std::memcpy(&v, gp.get_data_ptr(), 4);
  uint32_t r = csr_access(we, static_cast<uint32_t>(a), v);
  if (!we) std::memcpy(gp.get_data_ptr(), &r, 4);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace openrdu::platform
