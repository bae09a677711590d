// Functional model of the whole core: configuration controller (parses and checks the
// bitstream from DRAM), units, the switch networks, and completion.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "openrdu/model/units.h"

namespace openrdu::model {

struct CoreResult {
  bool ok = true;
  arch::ErrorCode code = arch::ErrorCode::NONE;
  uint32_t unit = 0xFFFF;
  std::string message;
  uint64_t cycles = 0;  // estimated cycles
  uint32_t crc = 0;     // configuration only: CRC computed over the stream
  bool timed_out = false;  // run() stopped at RunLimits::deadline (the device did not finish)
};

// Bounds of one run() of the untimed model (a corrupted bitstream can make it loop or
// queue without end): checked every 16 sweeps over the units (a step produces at most kMaxStepVectors).
struct RunLimits {
  uint64_t max_cycles = 0;  // the WATCHDOG register: stop once the estimate passes it (0 = none)
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();  // wall clock
  uint64_t max_queued_bytes = uint64_t(1) << 30;  // vectors held in unit inputs and outputs
};

class Core {
 public:
  explicit Core(const arch::Config& cfg);
  ~Core();
  // Read cfg_len bytes at cfg_addr from mem and configure every unit, as CTRL.CONFIGURE;
  // with `tiles` (bit t = tile t, 0 = all), only the units of those tiles, as
  // TILE_CTRL.CONFIGURE (docs/hardware.md ("Tiles")).
  CoreResult configure(Memory& mem, uint32_t cfg_addr, uint32_t cfg_len, uint32_t tiles = 0);
  // Run the configured program to completion, as CTRL.START; with `tiles`, only the
  // units of those tiles (one run group, TILE_CTRL.START). Deadlock (no unit can move
  // and some unit is not done) is reported as an error naming a unit.
  CoreResult run(Memory& mem, uint32_t tiles = 0);
  bool configured(uint32_t tiles = 0) const;
  // TILE_OWNER: 4 bits per tile. A route over a switch link between tiles of different
  // owners is broken (the RTL's link is off: the data never arrives).
  void set_tile_owner(uint32_t reg) { tile_owner_ = reg; }
  // After run(): the unit's estimated busy cycles (Unit::busy_cycles(); 0 for switches
  // and absent units), and whether the last configuration wrote any non-zero word to it.
  uint64_t unit_busy_cycles(uint32_t id) const;
  bool unit_configured(uint32_t id) const;
  // Fault injection (FAULT kind 3): lane `lane` of every vector PCU `unit` outputs reads
  // 0 (unit 0xFFFF: no fault).
  void set_stuck_lane(uint32_t unit, uint32_t lane) { stuck_unit_ = unit, stuck_lane_ = lane; }
  // Limits of the next runs: past max_cycles a WATCHDOG error naming the busiest unit,
  // past the deadline or the queue bound an ABORTED error saying which.
  void set_limits(const RunLimits& l) { limits_ = l; }
  const arch::Config& config() const { return cfg_; }

  // Connections of a network after configuration: for unit `id` input `port`, the
  // (unit, output port) that feeds it, traced through the switches. The scalar and
  // control networks have one input and one output port per unit (the PCU's scalar and
  // control ports; the PMU's and AGCU's take and drop, never send).
  struct Source {
    uint32_t unit;
    int port;
  };
  // Throws std::runtime_error naming the switch and port when a route is broken.
  std::vector<std::vector<Source>> trace_routes(uint32_t net) const;
  std::vector<std::vector<Source>> trace_vector_routes() const { return trace_routes(arch::kVectorNet); }

 private:
  arch::Config cfg_;
  std::vector<std::vector<uint32_t>> words_;  // per unit id
  std::vector<std::unique_ptr<Unit>> units_;   // per unit id; null for switches
  uint32_t configured_ = 0;  // tiles configured (bit t)
  uint32_t tile_owner_ = 0;
  uint32_t run_tiles_ = ~0u;  // the tiles of the run in progress (trace_routes outside a run: all)
  std::vector<uint8_t> unit_tile_;  // cfg_.tile_of(id), per unit id
  uint32_t all_tiles() const { return (1u << cfg_.num_tiles()) - 1; }
  bool in_run(uint32_t id) const { return units_[id] && (run_tiles_ >> unit_tile_[id] & 1); }
  uint32_t owner(uint32_t r, uint32_t c) const { return tile_owner_ >> (4 * cfg_.tile_at(r, c)) & 0xF; }
  uint32_t stuck_unit_ = 0xFFFF, stuck_lane_ = 0;
  RunLimits limits_;
  bool over_limits(CoreResult& res) const;
  // The steps of run() (core.cc).
  struct Wiring;
  bool wire(Wiring& w, CoreResult& res);
  bool deliver(uint32_t id, Wiring& w);
  uint64_t estimated_cycles() const;
  bool find_deadlock(const Wiring& w, CoreResult& res) const;
};

}  // namespace openrdu::model
