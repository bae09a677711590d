// The functional model (openrdu::model::Core) behind a C++ model of the CSR block
// (configs/regs.yaml). CONFIGURE and START run the model at once, reading and writing
// device DRAM through the DRAM model, and complete after the model's estimated cycles.
// WATCHDOG (non-zero): a run whose estimate exceeds it, or that deadlocks, stops after
// WATCHDOG cycles with error WATCHDOG naming the first unit not done (deadlock: the
// model's first unit not done; estimate exceeded: the lowest configured unit id).
#pragma once
#include <memory>
#include <vector>

#include "openrdu/model/core.h"
#include "openrdu/platform/core_base.h"

namespace openrdu::platform {

class FuncCore : public CoreBase {
 public:
  SC_HAS_PROCESS(FuncCore);
  FuncCore(sc_module_name name, const arch::Config& cfg);
  ~FuncCore() override;
  uint64_t cycles() const override;
  std::string core_kind() const override { return "func"; }
  void set_wall_deadline(std::chrono::steady_clock::time_point t) override { deadline_ = t; }

 protected:
  uint32_t csr_access(bool we, uint32_t offset, uint32_t wdata) override;

 private:
  class DramAdapter;
  enum class Cmd { None, Configure, Start };
  void ctrl_thread();
  // The steps of ctrl_thread (func_core.cc).
  model::CoreResult execute(Cmd cmd);
  bool inject_never_done(model::CoreResult& res) const;
  void apply_watchdog(model::CoreResult& res) const;
  void complete(Cmd cmd, const model::CoreResult& res);
  void reset_state(bool soft);
  void update_irq();
  void set_error(uint32_t code, uint32_t unit, const std::string& msg);
  uint32_t read_reg(uint32_t offset) const;
  uint32_t first_used_unit();

  CoreIdentity ident_;
  std::unique_ptr<model::Core> model_;
  std::unique_ptr<DramAdapter> mem_adapter_;
  // CSR state
  uint32_t status_ = 0, irq_status_ = 0, irq_enable_ = 0, err_status_ = 0;
  uint32_t cfg_addr_ = 0, cfg_len_ = 0, cfg_crc_ = 0, cfg_cycles_ = 0, scratch_ = 0;
  uint32_t watchdog_ = 0;             // WATCHDOG (kept by SOFT_RESET, like the RTL CSR block)
  uint32_t fault_ = 0;                // FAULT (kept by SOFT_RESET)
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  uint32_t perf_unit_ = 0;            // PERF_UNIT
  // Counters of the last run (docs/compiler.md: the functional model's estimates).
  struct RunCounters {
    uint32_t rd_reqs = 0, wr_reqs = 0, rd_bytes = 0, wr_bytes = 0;
  } mem_counters_;
  bool counting_ = false;              // a run is reading/writing DRAM through the adapter
  std::vector<uint64_t> unit_active_;  // per unit id (slots, AGCUs) of the last run
  std::vector<bool> unit_used_;
  uint32_t first_used_unit_ = 0xFFFF;  // lowest configured PCU/PMU/AGCU id (watchdog report)
  uint64_t run_cycles_ = 0;
  sc_time run_start_;
  Cmd pending_ = Cmd::None;
  uint64_t epoch_ = 0;  // bumped by ABORT and SOFT_RESET: cancels the running command
  sc_core::sc_event cmd_ev_, cancel_ev_;
};

}  // namespace openrdu::platform
