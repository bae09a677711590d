// Functional model of the whole core (`docs/hardware.md`, `docs/bitstream.md` and `docs/platform.md`).
//
// configure(): reads CFG_LEN/4 words at CFG_ADDR and checks them with
// arch::parse_bitstream, the same checks in the same order as the RTL configuration
// controller, so a bad stream gives the same ERR_STATUS code and unit.
// run(): traces the vector, scalar and control routes through the switches, then moves
// vectors, scalars and tokens from unit outputs to the unit inputs they reach (a copy per
// destination on fan-out) and steps every unit until nothing moves. Since the units are deterministic dataflow (each
// consumes its inputs in order), the values stored to DRAM are those of the RTL.
//
// Decisions (documented in docs/hardware.md):
// * Deadlock (nothing moves, some unit not done) returns ok=false with code ABORTED
//   (what the RTL reports once the host gives up and aborts) and the id of the first
//   unit, in id order, that is not done; the message names it and what it waits for.
//   The platform's functional core (systemc/src/func_core.cc) turns this into error
//   WATCHDOG, after WATCHDOG cycles, when the WATCHDOG register is set, as the RTL does.
// * A MemoryError from a unit returns ok=false, code MEM_ERROR, unit = that unit's id;
//   a MemoryError while reading the bitstream: MEM_ERROR, unit 0xFFFF.
// * A broken route (a selected input at the grid edge, a local input the unit lacks,
//   a select value > 6, a routing loop) returns ok=false with code NONE and the
//   switch's unit id; the RTL would simply never deliver data there.
// * Estimated cycles = max over units of busy_cycles() and over the core's memory
//   ports of their AGCUs' requests, + DRAM latency
//   + 2 * (ROWS + COLS + 2) + STAGES: the busiest unit or port bounds the run, plus the fill
//   latency of one pipeline through memory, the longest switch path and a PCU.
#include <algorithm>
#include <fmt/format.h>

#include "openrdu/arch/crc32.h"
#include "openrdu/model/core.h"

namespace openrdu::model {

namespace {
constexpr uint32_t kNoUnit = 0xFFFF;
constexpr uint32_t kNoSource = 0xFFFFFFFFu;
const char* const kDirName[4] = {"N", "E", "S", "W"};

struct RouteError : std::runtime_error {
  RouteError(uint32_t unit, const std::string& msg) : std::runtime_error(msg), unit(unit) {}
  uint32_t unit;
};
}  // namespace

Core::Core(const arch::Config& cfg) : cfg_(cfg) {
  cfg_.validate();
  words_.resize(cfg_.num_units());
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) words_[id].assign(cfg_.config_words(cfg_.unit_kind(id)), 0);
  units_.resize(cfg_.num_units());
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) unit_tile_.push_back(uint8_t(cfg_.tile_of(id)));
}

Core::~Core() = default;

bool Core::configured(uint32_t tiles) const {
  const uint32_t m = tiles ? tiles & all_tiles() : all_tiles();
  return m != 0 && (configured_ & m) == m;
}

CoreResult Core::configure(Memory& mem, uint32_t cfg_addr, uint32_t cfg_len, uint32_t tiles) {
  CoreResult res;
  const uint32_t mask = tiles ? tiles & all_tiles() : all_tiles();
  configured_ &= ~mask;
  // The configuration of every unit of the tiles is cleared first, as cfg_clear does.
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    if (!(mask >> cfg_.tile_of(id) & 1)) continue;
    std::fill(words_[id].begin(), words_[id].end(), 0u);
    units_[id].reset();
  }

  std::vector<uint32_t> stream(cfg_len / 4);
  try {
    if (!stream.empty()) mem.read_words(cfg_addr, stream.data(), uint32_t(stream.size()));
  } catch (const MemoryError& e) {
    res.ok = false;
    res.code = arch::ErrorCode::MEM_ERROR;
    res.unit = kNoUnit;
    res.message = fmt::format("configuration: reading the bitstream at 0x{:08X} ({} bytes): {}", cfg_addr, cfg_len,
                              e.what());
    return res;
  }
  if (stream.size() >= 2) res.crc = arch::crc32(stream.data(), (stream.size() - 1) * 4);
  try {
    auto words = arch::parse_bitstream(cfg_, stream, tiles ? mask : 0);
    for (uint32_t id = 0; id < cfg_.num_units(); ++id)
      if (mask >> cfg_.tile_of(id) & 1) words_[id] = std::move(words[id]);
  } catch (const arch::BitstreamError& e) {
    res.ok = false;
    res.code = e.code;
    res.unit = e.unit;
    res.message = e.what();
    return res;
  }
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    if (!(mask >> cfg_.tile_of(id) & 1)) continue;
    switch (cfg_.unit_kind(id)) {
      case arch::UnitKind::Pcu: units_[id] = std::make_unique<Pcu>(cfg_); break;
      case arch::UnitKind::Pmu: units_[id] = std::make_unique<Pmu>(cfg_); break;
      case arch::UnitKind::Agcu: units_[id] = std::make_unique<Agcu>(cfg_); break;
      case arch::UnitKind::Switch: break;
    }
    if (units_[id]) units_[id]->configure(words_[id]);
  }
  configured_ |= mask;
  return res;
}

std::vector<std::vector<Core::Source>> Core::trace_routes(uint32_t net) const {
  const uint32_t nsw = cfg_.num_switch();
  const char* const nname = net == arch::kVectorNet ? "vector" : net == arch::kScalarNet ? "scalar" : "control";
  // Unit attached to switch s, or kNoSource.
  auto attached = [&](uint32_t r, uint32_t c) -> uint32_t {
    if (r < cfg_.rows && c < cfg_.cols) return cfg_.slot_id(r, c);
    if (r == cfg_.rows && c < cfg_.agcu) return cfg_.agcu_id(c);
    return kNoSource;
  };
  auto num_vout = [&](uint32_t id) -> int {
    if (id == kNoSource) return 0;
    if (net != arch::kVectorNet) return 1;
    return cfg_.unit_kind(id) == arch::UnitKind::Agcu ? 2 : 1;
  };
  auto num_vin = [&](uint32_t id) -> int {
    if (id == kNoSource) return 0;
    if (net != arch::kVectorNet) return 1;
    return cfg_.unit_kind(id) == arch::UnitKind::Pcu ? 3 : 1;
  };
  auto sel = [&](uint32_t r, uint32_t c, uint32_t o) -> uint32_t {
    const uint32_t w = words_[cfg_.switch_id(r, c)][net];
    return (w >> (4 * o)) & 0xF;
  };

  std::vector<std::vector<Source>> routes(cfg_.num_units());
  for (uint32_t r = 0; r <= cfg_.rows; ++r) {
    for (uint32_t c = 0; c <= cfg_.cols; ++c) {
      const uint32_t unit = attached(r, c);
      if (unit == kNoSource || !(run_tiles_ >> cfg_.tile_of(unit) & 1)) continue;
      routes[unit].assign(num_vin(unit), Source{kNoSource, -1});
      for (int p = 0; p < num_vin(unit); ++p) {
        // Walk backwards from switch (r,c) output 4+p.
        uint32_t cr = r, cc = c, o = arch::kLocal0 + p;
        for (uint32_t hops = 0;; ++hops) {
          const uint32_t swid = cfg_.switch_id(cr, cc);
          if (hops > nsw)
            throw RouteError(swid, fmt::format("{} route to {} input {} loops through {}", nname, cfg_.unit_name(unit), p,
                                               cfg_.unit_name(swid)));
          const uint32_t s = sel(cr, cc, o);
          if (s == 0) {
            if (hops > 0)
              throw RouteError(swid, fmt::format("{} route to {} input {}: {} output {} is unused", nname, cfg_.unit_name(unit),
                                                 p, cfg_.unit_name(swid), o));
            break;  // input not connected
          }
          const uint32_t i = s - 1;
          if (i >= arch::kSwitchInputs)
            throw RouteError(swid, fmt::format("{} {} output {} has select {} (inputs are 0..5)", cfg_.unit_name(swid), nname,
                                               o, s));
          if (i >= arch::kLocal0) {
            const uint32_t src = attached(cr, cc);
            const int port = int(i - arch::kLocal0);
            if (port >= num_vout(src))
              throw RouteError(swid, fmt::format("{} {} output {} selects local input {}, which {}", cfg_.unit_name(swid), nname,
                                                 o, i,
                                                 src == kNoSource ? std::string("has no unit")
                                                                  : "is absent on " + cfg_.unit_name(src)));
            routes[unit][p] = Source{src, port};
            break;
          }
          // Neighbour in direction i, whose output facing us is (i + 2) % 4.
          const bool edge = (i == arch::kNorth && cr == 0) || (i == arch::kEast && cc == cfg_.cols) ||
                            (i == arch::kSouth && cr == cfg_.rows) || (i == arch::kWest && cc == 0);
          if (edge)
            throw RouteError(swid, fmt::format("{} {} output {} selects input {} ({}), at the grid edge",
                                               cfg_.unit_name(swid), nname, o, i, kDirName[i]));
          const uint32_t from = owner(cr, cc);
          if (i == arch::kNorth) --cr;
          else if (i == arch::kEast) ++cc;
          else if (i == arch::kSouth) ++cr;
          else --cc;
          if (owner(cr, cc) != from)
            throw RouteError(swid, fmt::format("{} {} output {} selects input {} ({}): the link from tile {} (owner {}) to "
                                               "tile {} (owner {}) is off (TILE_OWNER)",
                                               cfg_.unit_name(swid), nname, o, i, kDirName[i], cfg_.tile_at(cr, cc),
                                               owner(cr, cc), cfg_.tile_of(swid), from));
          o = (i + 2) % 4;
        }
      }
    }
  }
  return routes;
}

bool Core::over_limits(CoreResult& res) const {
  uint64_t busy = 0, queued = 0, most = 0;
  uint32_t busiest = 0xFFFF, fullest = 0xFFFF;
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    if (!in_run(id)) continue;
    const Unit& u = *units_[id];
    if (u.busy_cycles() > busy) busy = u.busy_cycles(), busiest = id;
    uint64_t q = 0;
    for (int p = 0; p < u.num_vin(); ++p) q += u.input(p).size();
    for (int p = 0; p < u.num_vout(); ++p) q += const_cast<Unit&>(u).output(p).size();
    queued += q;
    if (q > most) most = q, fullest = id;
  }
  const uint64_t vec_bytes = 40 + 4ull * cfg_.lanes;  // a deque slot, the heap block's header and its words
  res.ok = false;
  if (limits_.max_cycles != 0 && busy > limits_.max_cycles) {
    res.code = arch::ErrorCode::WATCHDOG;
    res.unit = busiest;
    res.cycles = limits_.max_cycles;
    res.message = fmt::format("watchdog: run stopped after {} cycles ({} has passed them)", limits_.max_cycles,
                              cfg_.unit_name(busiest));
  } else if (queued * vec_bytes > limits_.max_queued_bytes) {
    res.code = arch::ErrorCode::ABORTED;
    res.unit = fullest;
    res.message = fmt::format("functional model: {} vectors ({} bytes) queued between units, over its bound of {} "
                              "bytes ({} holds {}): a corrupted stream length?",
                              queued, queued * vec_bytes, limits_.max_queued_bytes, cfg_.unit_name(fullest), most);
  } else if (std::chrono::steady_clock::now() > limits_.deadline) {
    res.code = arch::ErrorCode::ABORTED;
    res.unit = 0xFFFF;
    res.timed_out = true;
    res.message = "functional model: still running at the wall-clock timeout (--timeout)";
  } else {
    res.ok = true;
    return false;
  }
  return true;
}

// Who consumes what, from the routes of the three networks.
struct Core::Wiring {
  std::vector<std::vector<std::vector<std::pair<uint32_t, int>>>> vector;  // (unit, output port) -> (unit, input port)s
  std::vector<std::vector<uint32_t>> scalar, control;  // unit -> the units fed by its single output
  std::vector<uint64_t> tok_sent;  // tokens of each unit delivered
};

// Traces the routes, resets every unit to its configuration and fills w; false (and res
// names the broken route) when a route is broken.
bool Core::wire(Wiring& w, CoreResult& res) {
  std::vector<std::vector<Source>> routes, sroutes, croutes;
  try {
    routes = trace_routes(arch::kVectorNet);
    sroutes = trace_routes(arch::kScalarNet);
    croutes = trace_routes(arch::kControlNet);
  } catch (const RouteError& e) {
    res.ok = false;
    res.unit = e.unit;
    res.message = e.what();
    return false;
  }
  w.vector.assign(cfg_.num_units(), {});
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    if (!in_run(id)) continue;
    units_[id]->configure(words_[id]);  // a run starts from reset state
    units_[id]->set_step_limit(kMaxStepVectors);
    w.vector[id].resize(units_[id]->num_vout());
  }
  for (uint32_t id = 0; id < cfg_.num_units(); ++id)
    for (size_t p = 0; p < routes[id].size(); ++p)
      if (routes[id][p].unit != kNoSource) w.vector[routes[id][p].unit][routes[id][p].port].push_back({id, int(p)});
  w.scalar.assign(cfg_.num_units(), {});
  w.control.assign(cfg_.num_units(), {});
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    if (!sroutes[id].empty() && sroutes[id][0].unit != kNoSource) w.scalar[sroutes[id][0].unit].push_back(id);
    if (!croutes[id].empty() && croutes[id][0].unit != kNoSource) w.control[croutes[id][0].unit].push_back(id);
  }
  w.tok_sent.assign(cfg_.num_units(), 0);
  return true;
}

// Moves what unit id produced to its consumers; true when anything moved.
bool Core::deliver(uint32_t id, Wiring& w) {
  bool progress = false;
  for (int q = 0; q < units_[id]->num_vout(); ++q) {
    auto& out = units_[id]->output(q);
    const auto& dst = w.vector[id][q];
    if (dst.empty() || out.empty()) continue;  // unrouted outputs hold their data
    if (id == stuck_unit_ && cfg_.unit_kind(id) == arch::UnitKind::Pcu && stuck_lane_ < cfg_.lanes)
      for (auto& v : out) v[stuck_lane_] = 0;
    while (!out.empty()) {
      for (size_t k = 0; k < dst.size(); ++k) {
        if (k + 1 == dst.size()) units_[dst[k].first]->push(dst[k].second, std::move(out.front()));
        else units_[dst[k].first]->push(dst[k].second, out.front());
      }
      out.pop_front();
    }
    progress = true;
  }
  // Scalars and tokens (a copy to every consumer; unrouted ones stay, as in the RTL
  // where the output waits for the network).
  auto& sout = units_[id]->scalar_output();
  if (!sout.empty() && !w.scalar[id].empty()) {
    for (uint32_t d : w.scalar[id])
      for (uint32_t v : sout) units_[d]->push_scalar(v);
    sout.clear();
    progress = true;
  }
  const uint64_t tok = units_[id]->tokens_out();
  if (tok > w.tok_sent[id] && !w.control[id].empty()) {
    for (uint32_t d : w.control[id]) units_[d]->push_tokens(tok - w.tok_sent[id]);
    w.tok_sent[id] = tok;
    progress = true;
  }
  return progress;
}

// The run's estimated cycles: the busiest unit or memory port (one per DRAM channel,
// rdu_mem_arb), plus the fill latency.
uint64_t Core::estimated_cycles() const {
  uint64_t busy = 0;
  for (uint32_t id = 0; id < cfg_.num_units(); ++id)
    if (in_run(id)) busy = std::max(busy, units_[id]->busy_cycles());
  std::vector<uint64_t> agcu_requests(cfg_.agcu, 0);
  for (uint32_t k = 0; k < cfg_.agcu; ++k)
    if (!in_run(cfg_.agcu_id(k))) continue;
    else if (const auto* a = dynamic_cast<const Agcu*>(units_[cfg_.agcu_id(k)].get())) agcu_requests[k] = a->requests();
  busy = std::max(busy, port_busy_cycles(cfg_, agcu_requests));
  return run_cycles(cfg_, busy);
}

// After the run: the first unit not finished, as a deadlock error in res naming what it
// waits on; false when every unit finished.
bool Core::find_deadlock(const Wiring& w, CoreResult& res) const {
  for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
    // A unit is finished when it is done and every vector it produced has left it (as in
    // the RTL, where an output waits for the network): an unrouted output that holds data
    // keeps its unit from finishing.
    bool drained = true;
    if (units_[id] && !in_run(id)) continue;
    if (units_[id]) {
      for (int q = 0; q < units_[id]->num_vout(); ++q) drained &= units_[id]->output(q).empty();
      drained &= units_[id]->scalar_output().empty() && units_[id]->tokens_out() == w.tok_sent[id];
    }
    if (!units_[id] || (units_[id]->done() && drained)) continue;
    std::string waits;
    for (int p = 0; p < units_[id]->num_vin(); ++p)
      waits += fmt::format("{}input {} holds {}", p ? ", " : "", p, units_[id]->input(p).size());
    for (int q = 0; q < units_[id]->num_vout(); ++q)
      waits += fmt::format(", output {} holds {}{}", q, units_[id]->output(q).size(),
                           w.vector[id][q].empty() ? " (not routed)" : "");
    if (!units_[id]->scalar_output().empty())
      waits += fmt::format(", scalar output holds {}{}", units_[id]->scalar_output().size(),
                           w.scalar[id].empty() ? " (not routed)" : "");
    if (units_[id]->tokens_out() != w.tok_sent[id])
      waits += fmt::format(", {} tokens not sent (control output not routed)", units_[id]->tokens_out() - w.tok_sent[id]);
    res.ok = false;
    res.code = arch::ErrorCode::ABORTED;
    res.unit = id;
    res.message = fmt::format("deadlock: {} is not done and nothing can move ({})", cfg_.unit_name(id), waits);
    return true;
  }
  return false;
}

CoreResult Core::run(Memory& mem, uint32_t tiles) {
  CoreResult res;
  if (!configured(tiles)) {
    res.ok = false;
    res.message = "run: the core is not configured";
    return res;
  }
  run_tiles_ = tiles ? tiles & all_tiles() : all_tiles();
  Wiring w;
  if (!wire(w, res)) return res;
  uint32_t cur = kNoUnit;
  try {
    // Sweeps over the units until nothing moves.
    for (uint64_t sweep = 0, progress = true; progress; ++sweep) {
      progress = false;
      if (sweep % 16 == 15 && over_limits(res)) return res;
      for (uint32_t id = 0; id < cfg_.num_units(); ++id) {
        if (!in_run(id)) continue;
        cur = id;
        if (units_[id]->step(&mem)) progress = true;
        if (deliver(id, w)) progress = true;
      }
    }
  } catch (const MemoryError& e) {
    res.ok = false;
    res.code = arch::ErrorCode::MEM_ERROR;
    res.unit = cur;
    res.message = fmt::format("{}: memory error at 0x{:08X}: {}", cfg_.unit_name(cur), e.addr, e.what());
    return res;
  }
  res.cycles = estimated_cycles();
  find_deadlock(w, res);
  return res;
}

uint64_t Core::unit_busy_cycles(uint32_t id) const {
  return id < units_.size() && units_[id] ? units_[id]->busy_cycles() : 0;
}

bool Core::unit_configured(uint32_t id) const {
  if (id >= words_.size()) return false;
  for (uint32_t w : words_[id])
    if (w != 0) return true;
  return false;
}

}  // namespace openrdu::model
