// The functional model (openrdu::model::Core) behind a C++ model of the CSR block
// (configs/regs.yaml). CONFIGURE and START run the model at once, reading and writing
// device DRAM through the DRAM model, and complete after the model's estimated cycles.
// WATCHDOG (non-zero): a run whose estimate exceeds it, or that deadlocks, stops after
// WATCHDOG cycles with error WATCHDOG naming the first unit not done (deadlock: the
// model's first unit not done; estimate exceeded: the lowest configured unit id).
// Tiles (docs/hardware.md ("Tiles")): every command acts on a set of tiles (CTRL: all of
// them; TILE_CTRL: those given); run groups on disjoint tiles are in progress at once,
// each completing after its own estimate.
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
  // A command in progress: a configuration, or the run of one group of tiles.
  struct Job {
    Cmd cmd = Cmd::None;
    uint32_t tiles = 0;  // bit t = tile t
    model::CoreResult res;
    sc_time due;         // completion time
    bool hangs = false;  // never completes (until ABORT or SOFT_RESET), like the RTL
  };
  struct TileState {
    bool configured = false, running = false, done = false, error = false;
    uint32_t err = kNoError;  // TILE_ERRt
    uint64_t cycles = 0;      // of its last run
    sc_time start;
  };
  static constexpr uint32_t kNoError = 0xFFFFu << 8;  // code NONE, unit 0xFFFF
  void ctrl_thread();
  // The steps of a command (func_core.cc).
  void configure(uint32_t tiles);
  void start(uint32_t tiles);
  void abort(uint32_t tiles);
  void tile_ctrl(uint32_t v);
  model::CoreResult execute(Cmd cmd, uint32_t tiles);
  bool inject_never_done(model::CoreResult& res) const;
  void apply_watchdog(model::CoreResult& res, uint32_t tiles) const;
  void complete(const Job& job);
  void end_tiles(uint32_t tiles, const model::CoreResult& res, uint64_t cycles);
  void reset_state(bool soft);
  void update_irq();
  uint32_t read_reg(uint32_t offset) const;
  uint32_t status() const;
  uint32_t first_used_unit(uint32_t tiles) const;
  bool any_tile(uint32_t tiles, bool TileState::*flag) const;

  CoreIdentity ident_;
  std::unique_ptr<model::Core> model_;
  std::unique_ptr<DramAdapter> mem_adapter_;
  uint32_t all_tiles_;
  // CSR state
  uint32_t irq_status_ = 0, irq_enable_ = 0;
  uint32_t tile_owner_ = 0, tile_irq_status_ = 0, tile_irq_enable_ = 0;
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
  uint32_t run_tiles_ = 0;             // the tiles of that run (their protection windows)
  std::vector<uint64_t> unit_active_;  // per unit id (slots, AGCUs) of the last run
  std::vector<bool> unit_used_;
  std::vector<TileState> tiles_;
  uint32_t last_run_tiles_ = 0;        // the group started last: CYCLES_LO/HI
  std::vector<Job> jobs_;              // in progress: at most one Configure, Starts on disjoint tiles
  sc_core::sc_event cmd_ev_;           // jobs_ changed
};

}  // namespace openrdu::platform
