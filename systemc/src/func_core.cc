#include "openrdu/platform/func_core.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "openrdu/arch/bitstream.h"
#include "openrdu/gen/regs.h"
#include "openrdu/platform/dram.h"

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
    // A run's accesses are its AGCUs': the windows of its tiles (PROT_TILES).
    if (core_.counting_) gp.set_extension(new RequesterTiles(core_.run_tiles_));
    return core_.mem->transport_dbg(gp) == len;
  }
  FuncCore& core_;
};

FuncCore::FuncCore(sc_module_name name, const arch::Config& cfg)
    : CoreBase(name, cfg), ident_(cfg), model_(std::make_unique<model::Core>(cfg)),
      mem_adapter_(std::make_unique<DramAdapter>(*this)), all_tiles_((1u << cfg.num_tiles()) - 1) {
  SC_THREAD(ctrl_thread);
  reset_state(false);
}

FuncCore::~FuncCore() = default;

uint64_t FuncCore::cycles() const {
  return static_cast<uint64_t>(sc_core::sc_time_stamp() / period_);
}

void FuncCore::reset_state(bool soft) {
  irq_status_ = tile_irq_status_ = 0;
  cfg_addr_ = cfg_len_ = cfg_crc_ = cfg_cycles_ = 0;
  if (!soft) irq_enable_ = scratch_ = watchdog_ = fault_ = perf_unit_ = tile_owner_ = tile_irq_enable_ = 0;
  mem_counters_ = {};
  counting_ = false;
  unit_active_.assign(cfg_.num_slots() + cfg_.agcu, 0);
  unit_used_.assign(cfg_.num_slots() + cfg_.agcu, false);
  tiles_.assign(cfg_.num_tiles(), TileState{});
  last_run_tiles_ = 0;
  jobs_.clear();
  if (soft) cmd_ev_.notify(sc_core::SC_ZERO_TIME);  // wakes the control thread (not during elaboration)
  model_ = std::make_unique<model::Core>(cfg_);
}

void FuncCore::update_irq() {
  bool level = (irq_status_ & irq_enable_) != 0 || (tile_irq_status_ & tile_irq_enable_) != 0;
  if (irq_o.get_interface() != nullptr) irq_o.write(level);
}

bool FuncCore::any_tile(uint32_t tiles, bool TileState::*flag) const {
  for (uint32_t t = 0; t < tiles_.size(); ++t)
    if ((tiles >> t & 1) && tiles_[t].*flag) return true;
  return false;
}

// STATUS from the tiles': configured and done when every tile is, running and error
// when one is.
uint32_t FuncCore::status() const {
  bool all_cfg = true, all_done = true, configuring = false;
  for (const auto& t : tiles_) all_cfg &= t.configured, all_done &= t.done;
  for (const auto& j : jobs_) configuring |= j.cmd == Cmd::Configure;
  return (all_cfg ? reg::STATUS_CONFIGURED_MASK : 0) | (configuring ? reg::STATUS_CONFIGURING_MASK : 0) |
         (any_tile(all_tiles_, &TileState::running) ? reg::STATUS_RUNNING_MASK : 0) |
         (all_done ? reg::STATUS_DONE_MASK : 0) | (any_tile(all_tiles_, &TileState::error) ? reg::STATUS_ERROR_MASK : 0);
}

uint32_t FuncCore::read_reg(uint32_t off) const {
  if (off >= reg::TILE_ERR0 && off <= reg::TILE_ERR7) {
    const uint32_t t = (off - reg::TILE_ERR0) / 4;
    return t < tiles_.size() ? tiles_[t].err : 0;
  }
  if (off >= reg::TILE_CYCLES0 && off <= reg::TILE_CYCLES7) {
    const uint32_t t = (off - reg::TILE_CYCLES0) / 4;
    if (t >= tiles_.size()) return 0;
    const uint64_t c = tiles_[t].running ? static_cast<uint64_t>((sc_core::sc_time_stamp() - tiles_[t].start) / period_)
                                         : tiles_[t].cycles;
    return static_cast<uint32_t>(c);
  }
  switch (off) {
    case reg::ID: return kCoreId;
    case reg::VERSION: return kCoreVersion;
    case reg::FINGERPRINT: return ident_.fingerprint;
    case reg::CAP_GRID: return ident_.cap_grid;
    case reg::CAP_PCU: return ident_.cap_pcu;
    case reg::CAP_PMU: return ident_.cap_pmu;
    case reg::CAP_DRAM: return ident_.cap_dram;
    case reg::STATUS: return status();
    case reg::IRQ_STATUS: return irq_status_;
    case reg::IRQ_ENABLE: return irq_enable_;
    case reg::ERR_STATUS:  // the lowest tile's error (0 without one)
      for (const auto& t : tiles_)
        if (t.error) return t.err;
      return 0;
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
      // Estimate: a configured unit is starved for the rest of its tile's run.
      if (perf_unit_ >= unit_active_.size() || !unit_used_[perf_unit_]) return 0;
      const uint64_t c = std::min<uint64_t>(tiles_[cfg_.tile_of(perf_unit_)].cycles, 0xFFFFFFFFu);
      return static_cast<uint32_t>(c > unit_active_[perf_unit_] ? c - unit_active_[perf_unit_] : 0);
    }
    case reg::PERF_STALL_OUT: return 0;  // back-pressure is not modelled
    case reg::MEM_RD_REQS: return mem_counters_.rd_reqs;
    case reg::MEM_WR_REQS: return mem_counters_.wr_reqs;
    case reg::MEM_RD_BYTES: return mem_counters_.rd_bytes;
    case reg::MEM_WR_BYTES: return mem_counters_.wr_bytes;
    case reg::TILE_OWNER: return tile_owner_;
    case reg::TILE_STATUS: {
      uint32_t v = 0;
      for (uint32_t t = 0; t < tiles_.size(); ++t)
        v |= uint32_t(tiles_[t].configured) << t | uint32_t(tiles_[t].running) << (8 + t) |
             uint32_t(tiles_[t].done) << (16 + t) | uint32_t(tiles_[t].error) << (24 + t);
      return v;
    }
    case reg::TILE_IRQ_STATUS: return tile_irq_status_;
    case reg::TILE_IRQ_ENABLE: return tile_irq_enable_;
    case reg::CYCLES_LO:
    case reg::CYCLES_HI: {  // the group started last
      uint64_t c = 0;
      for (uint32_t t = 0; t < tiles_.size(); ++t)
        if (last_run_tiles_ >> t & 1) {
          c = tiles_[t].running ? static_cast<uint64_t>((sc_core::sc_time_stamp() - tiles_[t].start) / period_)
                                : tiles_[t].cycles;
          break;
        }
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
    case reg::TILE_OWNER: tile_owner_ = v; break;
    case reg::TILE_IRQ_STATUS: tile_irq_status_ &= ~v; break;
    case reg::TILE_IRQ_ENABLE: tile_irq_enable_ = v; break;
    case reg::TILE_CTRL: tile_ctrl(v); break;
    case reg::CTRL:
      if (v & reg::CTRL_SOFT_RESET_MASK) {
        reset_state(true);
        break;
      }
      if (v & reg::CTRL_ABORT_MASK) {
        abort(all_tiles_);
        break;
      }
      if (v & reg::CTRL_CONFIGURE_MASK) configure(all_tiles_);
      else if (v & reg::CTRL_START_MASK) start(all_tiles_);
      break;
    default: break;  // read-only registers ignore writes
  }
  update_irq();
  return 0;
}

// TILE_CTRL: one command per write (ABORT, else CONFIGURE, else START).
void FuncCore::tile_ctrl(uint32_t v) {
  const uint32_t start_tiles = v & all_tiles_, abort_tiles = v >> 8 & all_tiles_, cfg_tiles = v >> 16 & all_tiles_;
  if (abort_tiles) abort(abort_tiles);
  else if (cfg_tiles) configure(cfg_tiles);
  else if (start_tiles) start(start_tiles);
}

// Taken when no configuration is in progress and none of the tiles runs.
void FuncCore::configure(uint32_t tiles) {
  for (const auto& j : jobs_)
    if (j.cmd == Cmd::Configure) return;
  if (any_tile(tiles, &TileState::running)) return;
  for (uint32_t t = 0; t < tiles_.size(); ++t)
    if (tiles >> t & 1) tiles_[t] = TileState{};
  Job job{Cmd::Configure, tiles, execute(Cmd::Configure, tiles), {}, false};
  job.due = sc_core::sc_time_stamp() + period_ * static_cast<double>(std::max<uint64_t>(job.res.cycles, 1));
  jobs_.push_back(std::move(job));
  cmd_ev_.notify(sc_core::SC_ZERO_TIME);
}

// Taken when every tile is configured and idle; the tiles run as one group.
void FuncCore::start(uint32_t tiles) {
  for (uint32_t t = 0; t < tiles_.size(); ++t)
    if ((tiles >> t & 1) && (!tiles_[t].configured || tiles_[t].running)) return;
  if (tiles == 0) return;
  for (uint32_t t = 0; t < tiles_.size(); ++t)
    if (tiles >> t & 1) {
      tiles_[t].running = true, tiles_[t].done = tiles_[t].error = false;
      tiles_[t].err = kNoError, tiles_[t].cycles = 0, tiles_[t].start = sc_core::sc_time_stamp();
    }
  last_run_tiles_ = tiles;
  mem_counters_ = {};
  Job job{Cmd::Start, tiles, execute(Cmd::Start, tiles), {}, false};
  model::CoreResult& res = job.res;
  // A failure without a code (a broken route): never "error NONE"; the RTL would hang
  // there, so it is a deadlock of the unit named (the watchdog reports it when set).
  if (!res.ok && res.code == gen::ErrorCode::NONE) res.code = gen::ErrorCode::ABORTED;
  for (uint32_t id = 0; id < unit_active_.size(); ++id) {
    if (!(tiles >> cfg_.tile_of(id) & 1)) continue;
    unit_active_[id] = model_->unit_busy_cycles(id);
    unit_used_[id] = model_->unit_configured(id);
  }
  // The host's wait has ended (timed out), or FAULT kind 1 without a watchdog: the run
  // does not finish, as on the RTL, until ABORT or SOFT_RESET.
  job.hangs = res.timed_out || (inject_never_done(res) && watchdog_ == 0);
  apply_watchdog(res, tiles);
  // The model is untimed: complete after its estimated cycles (at least one).
  job.due = sc_core::sc_time_stamp() + period_ * static_cast<double>(std::max<uint64_t>(res.cycles, 1));
  jobs_.push_back(std::move(job));
  cmd_ev_.notify(sc_core::SC_ZERO_TIME);
}

// Stops the run groups holding any of the tiles (error ABORTED).
void FuncCore::abort(uint32_t tiles) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->cmd != Cmd::Start || !(it->tiles & tiles)) {
      ++it;
      continue;
    }
    model::CoreResult res;
    res.ok = false;
    res.code = gen::ErrorCode::ABORTED;
    res.message = "run aborted";
    const sc_time start = tiles_[std::countr_zero(it->tiles)].start;
    end_tiles(it->tiles, res, static_cast<uint64_t>((sc_core::sc_time_stamp() - start) / period_));
    it = jobs_.erase(it);
  }
  cmd_ev_.notify(sc_core::SC_ZERO_TIME);
}

// Runs the model for cmd on the tiles; its failures (exceptions too) come back in the result.
model::CoreResult FuncCore::execute(Cmd cmd, uint32_t tiles) {
  model::CoreResult res;
  try {
    if (cmd == Cmd::Configure) {
      res = model_->configure(*mem_adapter_, cfg_addr_, cfg_len_, tiles);
    } else {
      counting_ = true;
      run_tiles_ = tiles;
      const bool stuck = (fault_ >> 16 & 0xF) == 3;
      model_->set_stuck_lane(stuck ? (fault_ & 0xFFFF) : 0xFFFF, fault_ >> 20 & 0xF);
      model_->set_tile_owner(tile_owner_);
      model::RunLimits limits;
      limits.max_cycles = watchdog_;
      limits.deadline = deadline_;
      model_->set_limits(limits);
      res = model_->run(*mem_adapter_, tiles);
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

// The lowest PCU/PMU/AGCU id of the tiles that the configuration wrote (the watchdog's
// unit when the estimate passes it).
uint32_t FuncCore::first_used_unit(uint32_t tiles) const {
  for (uint32_t id = 0; id < unit_used_.size(); ++id)
    if ((tiles >> cfg_.tile_of(id) & 1) && model_->unit_configured(id)) return id;
  return 0xFFFF;
}

// Watchdog (runs only): a deadlock (the model's ABORTED naming a unit) or an estimate
// beyond WATCHDOG stops the run after WATCHDOG cycles, as the RTL does.
void FuncCore::apply_watchdog(model::CoreResult& res, uint32_t tiles) const {
  const uint32_t wd = watchdog_;
  if (wd == 0) return;
  const bool deadlock = !res.ok && res.code == gen::ErrorCode::ABORTED && res.unit != 0xFFFF;
  if (deadlock || (res.ok && res.cycles > wd)) {
    res.message = fmt::format("watchdog: run stopped after {} cycles ({})", wd,
                              deadlock ? res.message : fmt::format("estimated {} cycles", res.cycles));
    res.ok = false;
    res.code = gen::ErrorCode::WATCHDOG;
    if (!deadlock) res.unit = first_used_unit(tiles);
    res.cycles = wd;
  }
}

// The end of a command on its tiles: their state, TILE_ERRt, the interrupts (the tiles'
// and the global ones).
void FuncCore::end_tiles(uint32_t tiles, const model::CoreResult& res, uint64_t cycles) {
  for (uint32_t t = 0; t < tiles_.size(); ++t) {
    if (!(tiles >> t & 1)) continue;
    tiles_[t].running = false;
    tiles_[t].cycles = cycles;
    tiles_[t].done = res.ok;
    tiles_[t].error = !res.ok;
    tiles_[t].err = res.ok ? kNoError : (static_cast<uint32_t>(res.code) & 0xFF) | ((res.unit & 0xFFFF) << 8);
  }
  const uint32_t cause = res.ok ? reg::IRQ_STATUS_RUN_DONE_MASK : reg::IRQ_STATUS_ERROR_MASK;
  irq_status_ |= cause;
  tile_irq_status_ |= res.ok ? tiles : tiles << 8;
  if (!res.ok && !res.message.empty())
    spdlog::info("func core: tiles 0x{:02X}: {}: {}", tiles, gen::error_name(static_cast<uint32_t>(res.code)), res.message);
  update_irq();
}

// The command's end in the CSRs.
void FuncCore::complete(const Job& job) {
  const model::CoreResult& res = job.res;
  if (job.cmd == Cmd::Start) {
    end_tiles(job.tiles, res, res.cycles);
    return;
  }
  cfg_crc_ = res.crc;
  cfg_cycles_ = static_cast<uint32_t>(res.cycles);
  if (!res.ok) {
    end_tiles(job.tiles, res, 0);
    return;
  }
  for (uint32_t t = 0; t < tiles_.size(); ++t)
    if (job.tiles >> t & 1) tiles_[t].configured = true;
  irq_status_ |= reg::IRQ_STATUS_CONFIG_DONE_MASK;
  tile_irq_status_ |= job.tiles << 16;
  update_irq();
}

void FuncCore::ctrl_thread() {
  for (;;) {
    const Job* next = nullptr;
    for (const auto& j : jobs_)
      if (!j.hangs && (!next || j.due < next->due)) next = &j;
    if (!next) {
      wait(cmd_ev_);
      continue;
    }
    wait(next->due - sc_core::sc_time_stamp(), cmd_ev_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->hangs || it->due > sc_core::sc_time_stamp()) {
        ++it;
        continue;
      }
      const Job job = std::move(*it);
      it = jobs_.erase(it);
      complete(job);
    }
  }
}

}  // namespace openrdu::platform
