#include "openrdu/platform/func_core.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/arch/bitstream.h"
#include "openrdu/gen/regs.h"

namespace openrdu::platform {

namespace reg = gen::reg;

// model::Memory over the platform's DRAM model (debug transport: untimed, the model
// estimates its own cycles).
class FuncCore::DramAdapter : public model::Memory {
 public:
  explicit DramAdapter(FuncCore& core) : core_(core) {}
  void read_words(uint32_t addr, uint32_t* words, uint32_t n) override {
    if (!access(tlm::TLM_READ_COMMAND, addr, reinterpret_cast<uint8_t*>(words), 4ull * n, nullptr))
      throw model::MemoryError(addr, fmt::format("device DRAM: read of {} words at 0x{:08x} refused: outside DRAM ({} bytes) "
                                                 "or outside the protection windows (PROT_*)",
                                                 n, addr, core_.cfg_.dram_bytes));
    if (core_.counting_) {
      ++core_.mem_counters_.rd_reqs;
      core_.mem_counters_.rd_bytes += 4 * core_.cfg_.lanes;  // a request reads LANES words
    } else if ((core_.fault_ >> 16 & 0xF) == 2) {
      // FAULT kind 2: bit 0 of bitstream word ARG flipped as it arrives from DRAM.
      const uint64_t target = uint64_t(core_.cfg_addr_) + 4ull * (core_.fault_ & 0xFFFF);
      if (target >= addr && target < uint64_t(addr) + 4ull * n) words[(target - addr) / 4] ^= 1u;
    }
  }
  void write_words(uint32_t addr, const uint32_t* words, uint32_t n, uint64_t mask) override {
    std::vector<uint8_t> be(4ull * n);
    for (uint32_t i = 0; i < n; ++i) std::memset(&be[4 * i], (mask >> i) & 1 ? 0xFF : 0, 4);
    if (!access(tlm::TLM_WRITE_COMMAND, addr, reinterpret_cast<uint8_t*>(const_cast<uint32_t*>(words)), 4ull * n,
                be.data()))
      throw model::MemoryError(addr, fmt::format("device DRAM: write of {} words at 0x{:08x} refused: outside DRAM ({} bytes) "
                                                 "or outside the protection windows (PROT_*)",
                                                 n, addr, core_.cfg_.dram_bytes));
    if (core_.counting_ && mask != 0) {
      ++core_.mem_counters_.wr_reqs;
      core_.mem_counters_.wr_bytes += 4 * static_cast<uint32_t>(__builtin_popcountll(mask));
    }
  }

 private:
  bool access(tlm::tlm_command cmd, uint64_t addr, uint8_t* p, uint64_t len, uint8_t* be) {
    tlm_generic_payload gp;
    set_payload(gp, cmd, addr, p, len, be);
    return core_.mem->transport_dbg(gp) == len;
  }
  FuncCore& core_;
};

FuncCore::FuncCore(sc_module_name name, const arch::Config& cfg)
    : CoreBase(name, cfg), ident_(cfg), model_(std::make_unique<model::Core>(cfg)),
      mem_adapter_(std::make_unique<DramAdapter>(*this)) {
  SC_THREAD(ctrl_thread);
  reset_state(false);
}

FuncCore::~FuncCore() = default;

uint64_t FuncCore::cycles() const {
  return static_cast<uint64_t>(sc_core::sc_time_stamp() / period_);
}

void FuncCore::reset_state(bool soft) {
  status_ = irq_status_ = err_status_ = 0;
  cfg_addr_ = cfg_len_ = cfg_crc_ = cfg_cycles_ = 0;
  run_cycles_ = 0;
  if (!soft) irq_enable_ = scratch_ = watchdog_ = fault_ = perf_unit_ = 0;
  mem_counters_ = {};
  counting_ = false;
  unit_active_.assign(cfg_.num_slots() + cfg_.agcu, 0);
  unit_used_.assign(cfg_.num_slots() + cfg_.agcu, false);
  first_used_unit_ = 0xFFFF;
  pending_ = Cmd::None;
  ++epoch_;
  if (soft) cancel_ev_.notify();  // wakes the control thread (not during elaboration)
  model_ = std::make_unique<model::Core>(cfg_);
}

void FuncCore::update_irq() {
  bool level = (irq_status_ & irq_enable_) != 0;
  if (irq_o.get_interface() != nullptr) irq_o.write(level);
}

void FuncCore::set_error(uint32_t code, uint32_t unit, const std::string& msg) {
  status_ &= ~(reg::STATUS_RUNNING_MASK | reg::STATUS_CONFIGURING_MASK);
  status_ |= reg::STATUS_ERROR_MASK;
  err_status_ = (code & 0xFF) | ((unit & 0xFFFF) << 8);
  irq_status_ |= reg::IRQ_STATUS_ERROR_MASK;
  if (!msg.empty()) spdlog::info("func core: {}: {}", gen::error_name(code), msg);
  update_irq();
}

uint32_t FuncCore::read_reg(uint32_t off) const {
  switch (off) {
    case reg::ID: return kCoreId;
    case reg::VERSION: return kCoreVersion;
    case reg::FINGERPRINT: return ident_.fingerprint;
    case reg::CAP_GRID: return ident_.cap_grid;
    case reg::CAP_PCU: return ident_.cap_pcu;
    case reg::CAP_PMU: return ident_.cap_pmu;
    case reg::CAP_DRAM: return ident_.cap_dram;
    case reg::STATUS: return status_;
    case reg::IRQ_STATUS: return irq_status_;
    case reg::IRQ_ENABLE: return irq_enable_;
    case reg::ERR_STATUS: return err_status_;
    case reg::CFG_ADDR: return cfg_addr_;
    case reg::CFG_LEN: return cfg_len_;
    case reg::CFG_CRC: return cfg_crc_;
    case reg::SCRATCH: return scratch_;
    case reg::CFG_CYCLES: return cfg_cycles_;
    case reg::WATCHDOG: return watchdog_;
    case reg::FAULT: return fault_;
    case reg::PERF_UNIT: return perf_unit_;
    case reg::PERF_ACTIVE: return perf_unit_ < unit_active_.size() ? static_cast<uint32_t>(unit_active_[perf_unit_]) : 0;
    case reg::PERF_STALL_IN: {
      // Estimate: a configured unit is starved for the rest of the run.
      if (perf_unit_ >= unit_active_.size() || !unit_used_[perf_unit_]) return 0;
      const uint64_t c = std::min<uint64_t>(run_cycles_, 0xFFFFFFFFu);
      return static_cast<uint32_t>(c > unit_active_[perf_unit_] ? c - unit_active_[perf_unit_] : 0);
    }
    case reg::PERF_STALL_OUT: return 0;  // back-pressure is not modelled
    case reg::MEM_RD_REQS: return mem_counters_.rd_reqs;
    case reg::MEM_WR_REQS: return mem_counters_.wr_reqs;
    case reg::MEM_RD_BYTES: return mem_counters_.rd_bytes;
    case reg::MEM_WR_BYTES: return mem_counters_.wr_bytes;
    case reg::CYCLES_LO:
    case reg::CYCLES_HI: {
      uint64_t c = run_cycles_;
      if (status_ & reg::STATUS_RUNNING_MASK)
        c = static_cast<uint64_t>((sc_core::sc_time_stamp() - run_start_) / period_);
      return off == reg::CYCLES_LO ? static_cast<uint32_t>(c) : static_cast<uint32_t>(c >> 32);
    }
    default: return 0;
  }
}

uint32_t FuncCore::csr_access(bool we, uint32_t off, uint32_t v) {
  wait(period_);  // one cycle on the CSR bus
  if (!we) return read_reg(off);
  switch (off) {
    case reg::IRQ_STATUS: irq_status_ &= ~v; break;
    case reg::IRQ_ENABLE: irq_enable_ = v; break;
    case reg::CFG_ADDR: cfg_addr_ = v; break;
    case reg::CFG_LEN: cfg_len_ = v; break;
    case reg::SCRATCH: scratch_ = v; break;
    case reg::WATCHDOG: watchdog_ = v; break;
    case reg::FAULT: fault_ = v & 0xFFFFFF; break;
    case reg::PERF_UNIT: perf_unit_ = v; break;
    case reg::CTRL: {
      const bool busy = status_ & (reg::STATUS_RUNNING_MASK | reg::STATUS_CONFIGURING_MASK);
      if (v & reg::CTRL_SOFT_RESET_MASK) {
        reset_state(true);
        break;
      }
      if ((v & reg::CTRL_ABORT_MASK) && (status_ & reg::STATUS_RUNNING_MASK)) {
        ++epoch_;
        cancel_ev_.notify();
        pending_ = Cmd::None;
        run_cycles_ = static_cast<uint64_t>((sc_core::sc_time_stamp() - run_start_) / period_);
        set_error(static_cast<uint32_t>(gen::ErrorCode::ABORTED), 0xFFFF, "run aborted");
        break;
      }
      if ((v & reg::CTRL_CONFIGURE_MASK) && !busy) {
        status_ = reg::STATUS_CONFIGURING_MASK;
        err_status_ = 0;
        pending_ = Cmd::Configure;
        cmd_ev_.notify(sc_core::SC_ZERO_TIME);
      } else if ((v & reg::CTRL_START_MASK) && !busy && (status_ & reg::STATUS_CONFIGURED_MASK)) {
        status_ = (status_ & reg::STATUS_CONFIGURED_MASK) | reg::STATUS_RUNNING_MASK;
        run_start_ = sc_core::sc_time_stamp();
        run_cycles_ = 0;
        mem_counters_ = {};
        std::fill(unit_active_.begin(), unit_active_.end(), 0);
        pending_ = Cmd::Start;
        cmd_ev_.notify(sc_core::SC_ZERO_TIME);
      }
      break;
    }
    default: break;  // read-only registers ignore writes
  }
  update_irq();
  return 0;
}

uint32_t FuncCore::first_used_unit() {
  // Re-read the (already checked) bitstream: the lowest PCU/PMU/AGCU id it configures.
  try {
    std::vector<uint32_t> stream(cfg_len_ / 4);
    if (!stream.empty()) mem_adapter_->read_words(cfg_addr_, stream.data(), static_cast<uint32_t>(stream.size()));
    const auto words = arch::parse_bitstream(cfg_, stream);
    for (uint32_t id = 0; id < words.size(); ++id) {
      if (cfg_.unit_kind(id) == arch::UnitKind::Switch) continue;
      for (uint32_t w : words[id])
        if (w != 0) return id;
    }
  } catch (const std::exception&) {
  }
  return 0xFFFF;
}

// Runs the model for cmd; its failures (exceptions too) come back in the result.
model::CoreResult FuncCore::execute(Cmd cmd) {
  model::CoreResult res;
  try {
    if (cmd == Cmd::Configure) {
      res = model_->configure(*mem_adapter_, cfg_addr_, cfg_len_);
    } else {
      counting_ = true;
      const bool stuck = (fault_ >> 16 & 0xF) == 3;
      model_->set_stuck_lane(stuck ? (fault_ & 0xFFFF) : 0xFFFF, fault_ >> 20 & 0xF);
      model::RunLimits limits;
      limits.max_cycles = watchdog_;
      limits.deadline = deadline_;
      model_->set_limits(limits);
      res = model_->run(*mem_adapter_);
      counting_ = false;
    }
  } catch (const model::MemoryError& e) {
    counting_ = false;
    res.ok = false;
    res.code = gen::ErrorCode::MEM_ERROR;
    res.unit = 0xFFFF;
    res.message = e.what();
  } catch (const arch::BitstreamError& e) {
    counting_ = false;
    res.ok = false;
    res.code = e.code;
    res.unit = e.unit;
    res.message = e.what();
  } catch (const std::exception& e) {
    counting_ = false;
    // A model failure that has no error code: report it and flag the run as failed.
    spdlog::error("func core: model error: {}", e.what());
    res.ok = false;
    res.code = static_cast<gen::ErrorCode>(0xFF);
    res.unit = 0xFFFF;
    res.message = e.what();
  }
  return res;
}

// FAULT kind 1 on a run that succeeded: the unit never reports done (the watchdog, if
// set, stops the run). True when it applies.
bool FuncCore::inject_never_done(model::CoreResult& res) const {
  const uint32_t fault_kind = fault_ >> 16 & 0xF, fault_arg = fault_ & 0xFFFF;
  if (!res.ok || fault_kind != 1 || fault_arg >= unit_active_.size()) return false;
  res.ok = false;
  res.code = gen::ErrorCode::ABORTED;  // a deadlock on that unit, as seen by apply_watchdog
  res.unit = fault_arg;
  res.message = fmt::format("fault injection: {} never reports done", cfg_.unit_name(fault_arg));
  return true;
}

// Watchdog (runs only): a deadlock (the model's ABORTED naming a unit) or an estimate
// beyond WATCHDOG stops the run after WATCHDOG cycles, as the RTL does.
void FuncCore::apply_watchdog(model::CoreResult& res) const {
  const uint32_t wd = watchdog_;
  if (wd == 0) return;
  const bool deadlock = !res.ok && res.code == gen::ErrorCode::ABORTED && res.unit != 0xFFFF;
  if (deadlock || (res.ok && res.cycles > wd)) {
    res.message = fmt::format("watchdog: run stopped after {} cycles ({})", wd,
                              deadlock ? res.message : fmt::format("estimated {} cycles", res.cycles));
    res.ok = false;
    res.code = gen::ErrorCode::WATCHDOG;
    if (!deadlock) res.unit = first_used_unit_;
    res.cycles = wd;
  }
}

// The command's end in the CSRs: status, CFG_CRC/CFG_CYCLES or the run's cycles, the
// interrupt or the error.
void FuncCore::complete(Cmd cmd, const model::CoreResult& res) {
  if (cmd == Cmd::Configure) {
    cfg_crc_ = res.crc;
    cfg_cycles_ = static_cast<uint32_t>(res.cycles);
    if (res.ok) {
      first_used_unit_ = first_used_unit();
      status_ = reg::STATUS_CONFIGURED_MASK;
      irq_status_ |= reg::IRQ_STATUS_CONFIG_DONE_MASK;
      update_irq();
    } else {
      status_ = 0;
      set_error(static_cast<uint32_t>(res.code), res.unit, res.message);
    }
  } else {
    run_cycles_ = res.cycles;
    if (res.ok) {
      status_ = (status_ & reg::STATUS_CONFIGURED_MASK) | reg::STATUS_DONE_MASK;
      irq_status_ |= reg::IRQ_STATUS_RUN_DONE_MASK;
      update_irq();
    } else {
      set_error(static_cast<uint32_t>(res.code), res.unit, res.message);
    }
  }
}

void FuncCore::ctrl_thread() {
  for (;;) {
    wait(cmd_ev_);
    Cmd cmd = pending_;
    pending_ = Cmd::None;
    if (cmd == Cmd::None) continue;
    const uint64_t epoch = epoch_;
    model::CoreResult res = execute(cmd);
    if (res.timed_out) {  // the host's wait has ended: the run does not finish, as on the RTL
      wait(cancel_ev_);    // until ABORT or SOFT_RESET
      continue;
    }
    // A failure without a code (a broken route): never "error NONE"; the RTL would hang
    // there, so it is a deadlock of the unit named (the watchdog reports it when set).
    if (!res.ok && res.code == gen::ErrorCode::NONE) res.code = gen::ErrorCode::ABORTED;
    if (cmd == Cmd::Start) {
      for (uint32_t id = 0; id < unit_active_.size(); ++id) {
        unit_active_[id] = model_->unit_busy_cycles(id);
        unit_used_[id] = model_->unit_configured(id);
      }
      if (inject_never_done(res) && watchdog_ == 0) {
        wait(cancel_ev_);  // hangs until ABORT or SOFT_RESET, like the RTL
        continue;
      }
      apply_watchdog(res);
    }
    // The model is untimed: complete after its estimated cycles (at least one).
    wait(period_ * static_cast<double>(std::max<uint64_t>(res.cycles, 1)), cancel_ev_);
    if (epoch != epoch_) continue;  // aborted or reset meanwhile
    complete(cmd, res);
  }
}

}  // namespace openrdu::platform
