// Placement (PCU slots, AGCU streams) and routing of vector nets on the switch grid.
//
// The grid has (ROWS+1) x (COLS+1) switches. A net starts at a switch local input
// (AGCU load stream j: input 4+j of switch (ROWS,k); PCU result or PMU read data:
// input 4 of the unit's switch) and ends at switch local outputs (PCU vector input v:
// output 4+v; PMU write data: output 4; AGCU store data: output 4 of switch
// (ROWS,k)). A switch output port carries one net; hops between switches use the
// N/E/S/W ports; a net fans out from any switch it reaches (one output per branch).
//
// Placement is simulated annealing over the PCU slots, the PMU slots, the load
// streams' AGCUs and the store streams' AGCUs. Its cost is the estimated wire length (Manhattan distance
// from each net's source to each of its sinks) plus a penalty for unbalanced memory
// traffic: an AGCU issues one request per cycle shared by its streams and AGCU k
// goes through memory port k mod dram.channels, so the penalty counts the streams of
// the busiest AGCU or port (the estimate's bound, heavily weighted) and the sums of
// squares of the streams per AGCU and per port (an even spread among equal bounds),
// plus a cost per AGCU used (its configuration words: no AGCU is added for nothing).
// The random moves (move or swap one PCU, PMU, load or store) come from std::mt19937
// with a fixed seed, and the costs and the acceptance test are integers: the result is
// reproducible bit for bit. The result depends only on the section's structure, so it
// is memoised (per configuration grid, inputs, stores and PMU writers).
//
// Routing is negotiated congestion (PathFinder): every net is routed as a tree (a
// shortest path per sink, from any switch of the tree built so far) with the cost of
// an output port = (base + history) * (1 + present-factor * other nets using it);
// nets are ripped up and re-routed each iteration, the present factor grows and the
// history of overused ports accumulates, until no output port carries two nets. When
// the iterations run out, the next placement is annealed with another seed, the
// failed placements excluded; after kAttempts placements the section does not fit.
//
// Scalar nets (a PCU's scalar output to PCU scalar inputs) are placed like the vector
// nets (their wire length in the cost) and routed on the scalar network, which they
// have to themselves: per net a tree of shortest paths (breadth-first, from any switch
// the tree reaches) over the output ports no other scalar net uses. A placement whose
// scalar nets do not route counts as one that does not route.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

// ---------------------------------------------------------------- tuning
constexpr uint32_t kSeed = 0x0DE5EED;            // annealing seed of the first attempt
constexpr int kAttempts = 8;                     // placements tried before giving up
constexpr int kMovesPerItem = 100;               // annealing moves per placed item (PCU, load, store)
constexpr int kMaxMoves = 20000;                 // whatever the problem
constexpr int kTempSteps = 24;                   // temperature steps (geometric)
constexpr int64_t kWire = 3;                     // cost per unit of estimated wire length (one hop)
constexpr int64_t kBalanceMax = 24;              // per stream on the busiest AGCU or memory port (long streams)
constexpr int64_t kCyclesPerUnit = 5;            // cost units ~ cycles: kAgcuUsed ~ 40 configuration words
constexpr int64_t kBalanceSq = 1;                // per unit of the sums of squares of streams per AGCU / port
constexpr int64_t kAgcuUsed = 8;                 // per AGCU with a stream (its configuration words)
constexpr int64_t kTempStart = 6 * kWire * 256;  // initial temperature (six hops), 1/256 cost units
constexpr int64_t kTempRatio = 216;              // T *= 216/256 per step: T/60 after 24 steps
constexpr int64_t kTaboo = int64_t(1) << 30;     // a placement that failed to route
constexpr int kRouteIterations = 24;             // PathFinder iterations per placement
constexpr int64_t kBase = 64;                    // cost of a hop on a free output port
constexpr int64_t kHistory = 32;                 // history added per iteration per extra net on a port
constexpr size_t kMemoEntries = 4096;            // memoised problems (then forgotten at once)

uint32_t dist(uint32_t r0, uint32_t c0, uint32_t r1, uint32_t c1) {
  return (r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0);
}

// Items placed on distinct positions: pos[item], owner[position] (-1 free).
struct Assign {
  std::vector<int> pos, owner;
  Assign() = default;
  explicit Assign(int positions) : owner(size_t(positions), -1) {}
  void place(int item_pos) {  // the next item at a free position
    owner[size_t(item_pos)] = int(pos.size());
    pos.push_back(item_pos);
  }
  // Move `item` to `p`, swapping with the item there if any (its own inverse: move back
  // to the old position undoes it).
  void move(int item, int p) {
    const int old = pos[size_t(item)], q = owner[size_t(p)];
    pos[size_t(item)] = p;
    owner[size_t(p)] = item;
    owner[size_t(old)] = q;
    if (q >= 0) pos[size_t(q)] = old;
  }
};

// The placement problem of a section.
struct Problem {
  const arch::Config& cfg;
  int npcu = 0, npmu = 0, nloads = 0;
  std::vector<int> stored;                               // PCUs stored, in store order
  std::vector<std::pair<uint32_t, uint32_t>> slots;      // PCU slots (row, col)
  std::vector<std::pair<uint32_t, uint32_t>> pmu_slots;  // PMU slots (row, col)
  uint32_t ports = 1;                                    // memory ports
  int64_t balance = kBalanceMax;                         // weight of the busiest AGCU/port's streams
  int64_t squares = kBalanceSq;                          // weight of the sums of squares
  // Connections in report order (PMU inputs, PCU inputs in order, then the stores):
  // net and sink. Net l < nloads: load stream l; net nloads + p: the result of PCU p;
  // net nloads + npcu + m: the read data of PMU m.
  enum Sink : uint8_t { ToPcu, ToPmu, ToStore };
  struct Conn {
    int net = 0;
    Sink kind = ToPcu;
    int index = 0;      // the sink PCU or PMU, or the store's index into `stored`
    uint32_t port = 0;  // switch local output
  };
  std::vector<Conn> conns;
  std::vector<ScalarLink> scalar;  // scalar-network connections, PCU to PCU

  explicit Problem(const arch::Config& c) : cfg(c), ports(std::max<uint32_t>(1, c.dram_channels)) {}
  int nets() const { return nloads + npcu + npmu; }
};

// A placement: PCU -> slot index; PMU -> PMU slot index; load -> 2*agcu + stream;
// store -> agcu.
struct State {
  Assign pcu, pmu, ld, st;
};

// Switch (row, col) of a net's source and of a connection's sink.
std::pair<uint32_t, uint32_t> source_at(const Problem& pb, const State& s, int net) {
  if (net < pb.nloads) return {pb.cfg.rows, uint32_t(s.ld.pos[size_t(net)] / 2)};
  if (net < pb.nloads + pb.npcu) return pb.slots[size_t(s.pcu.pos[size_t(net - pb.nloads)])];
  return pb.pmu_slots[size_t(s.pmu.pos[size_t(net - pb.nloads - pb.npcu)])];
}
std::pair<uint32_t, uint32_t> sink_at(const Problem& pb, const State& s, const Problem::Conn& c) {
  switch (c.kind) {
    case Problem::ToPcu:
      return pb.slots[size_t(s.pcu.pos[size_t(c.index)])];
    case Problem::ToPmu:
      return pb.pmu_slots[size_t(s.pmu.pos[size_t(c.index)])];
    default:
      return {pb.cfg.rows, uint32_t(s.st.pos[size_t(c.index)])};
  }
}

// Load streams canonically: the loads on one AGCU take streams 0, 1 in load order (the
// stream index changes neither the cost nor the routing).
void canonical_streams(const Problem& pb, State& s) {
  std::vector<int> used(pb.cfg.agcu, 0);
  std::vector<int> want(size_t(pb.nloads));
  for (int l = 0; l < pb.nloads; ++l) {
    const int k = s.ld.pos[size_t(l)] / 2;
    want[size_t(l)] = 2 * k + used[size_t(k)]++;
  }
  s.ld = Assign(int(2 * pb.cfg.agcu));
  for (int w : want) s.ld.place(w);
}

bool same(const State& a, const State& b) {
  return a.pcu.pos == b.pcu.pos && a.pmu.pos == b.pmu.pos && a.ld.pos == b.ld.pos && a.st.pos == b.st.pos;
}

class Cost {
 public:
  // wire_only: the wire length alone (the retries' alternative objective).
  Cost(const Problem& pb, const std::vector<State>& taboo, bool wire_only)
      : pb_(pb), taboo_(taboo), wire_only_(wire_only), agcu_(pb.cfg.agcu, 0), port_(pb.ports, 0) {}

  int64_t operator()(const State& s) {
    int64_t wire = 0;
    for (const Problem::Conn& c : pb_.conns) {
      const auto [r0, c0] = source_at(pb_, s, c.net);
      const auto [r1, c1] = sink_at(pb_, s, c);
      wire += dist(r0, c0, r1, c1);
    }
    for (const ScalarLink& l : pb_.scalar) {
      const auto [r0, c0] = pb_.slots[size_t(s.pcu.pos[size_t(l.from)])];
      const auto [r1, c1] = pb_.slots[size_t(s.pcu.pos[size_t(l.to)])];
      wire += dist(r0, c0, r1, c1);
    }
    if (wire_only_) return kWire * wire + taboo(s);
    // Streams per AGCU and per port: the estimate's bound is the busiest of them (one
    // request per cycle each); the squares prefer the even spread among equal bounds.
    std::fill(agcu_.begin(), agcu_.end(), 0);
    std::fill(port_.begin(), port_.end(), 0);
    for (int p : s.ld.pos) ++agcu_[size_t(p / 2)];
    for (int k : s.st.pos) ++agcu_[size_t(k)];
    int64_t busiest = 0, squares = 0, used = 0;
    for (uint32_t k = 0; k < agcu_.size(); ++k) {
      port_[k % pb_.ports] += agcu_[k];
      busiest = std::max(busiest, agcu_[k]);
      squares += agcu_[k] * agcu_[k];
      used += agcu_[k] > 0;
    }
    for (int64_t m : port_) {
      busiest = std::max(busiest, m);
      squares += m * m;
    }
    return kWire * wire + pb_.balance * busiest + pb_.squares * squares + kAgcuUsed * used + taboo(s);
  }

 private:
  int64_t taboo(const State& s) const {
    if (taboo_.empty()) return 0;
    State canon = s;
    canonical_streams(pb_, canon);
    for (const State& t : taboo_)
      if (same(canon, t)) return kTaboo;
    return 0;
  }

  const Problem& pb_;
  const std::vector<State>& taboo_;
  bool wire_only_;
  std::vector<int64_t> agcu_, port_;
};

// Accept a worse move (delta > 0 cost units) at temperature T (1/256 units) with
// probability ~2^(-delta/T), in integers: 2^-(i+f) = 2^-i * (1 - f/2) for f in [0, 1).
bool accept(int64_t delta, int64_t T, uint32_t r) {
  if (delta <= 0) return true;
  const int64_t x = delta * 256 * 256 / std::max<int64_t>(T, 1);  // delta/T in 1/256
  const int64_t whole = x >> 8, frac = x & 255;
  if (whole >= 32) return false;
  const uint64_t base = uint64_t(0xFFFFFFFFu) >> whole;
  return r < ((base * uint64_t(512 - frac)) >> 9);
}

// Simulated annealing from `s`; returns the best placement seen (canonical streams).
State anneal(const Problem& pb, State s, uint32_t seed, const std::vector<State>& taboo, bool wire_only) {
  std::mt19937 rng(seed);
  Cost cost(pb, taboo, wire_only);
  const int nslots = int(pb.slots.size()), npmu_slots = int(pb.pmu_slots.size()), npairs = int(2 * pb.cfg.agcu),
            nagcu = int(pb.cfg.agcu);
  // Items that can move (when there is another position): PCUs, PMUs, loads, stores.
  const int n_pcu = nslots > 1 ? pb.npcu : 0, n_pmu = npmu_slots > 1 ? pb.npmu : 0, n_ld = npairs > 1 ? pb.nloads : 0,
            n_st = nagcu > 1 ? int(pb.stored.size()) : 0;
  const int items = n_pcu + n_pmu + n_ld + n_st;
  int64_t cur = cost(s);
  State best = s;
  int64_t best_cost = cur;
  if (items > 0) {
    const int moves = std::min(kMaxMoves, kMovesPerItem * items);
    const int per_step = std::max(1, moves / kTempSteps);
    int64_t T = kTempStart;
    for (int m = 0; m < moves; ++m) {
      if (m > 0 && m % per_step == 0) T = T * kTempRatio / 256;
      int pick = int(rng() % uint32_t(items));
      Assign* a;
      int positions;
      if (pick < n_pcu) {
        a = &s.pcu;
        positions = nslots;
      } else if ((pick -= n_pcu) < n_pmu) {
        a = &s.pmu;
        positions = npmu_slots;
      } else if ((pick -= n_pmu) < n_ld) {
        a = &s.ld;
        positions = npairs;
      } else {
        pick -= n_ld;
        a = &s.st;
        positions = nagcu;
      }
      const int old = a->pos[size_t(pick)];
      const int to = int(rng() % uint32_t(positions - 1));
      a->move(pick, to >= old ? to + 1 : to);  // any other position
      const int64_t c = cost(s);
      if (accept(c - cur, T, rng())) {
        cur = c;
        if (c < best_cost) {
          best_cost = c;
          best = s;
        }
      } else {
        a->move(pick, old);
      }
    }
  }
  canonical_streams(pb, best);
  return best;
}

// ---------------------------------------------------------------- PathFinder
struct Routed {
  std::vector<arch::SwitchConfig> sw;  // per switch
  std::vector<uint32_t> hops, path_hops;
  uint32_t wire = 0, iterations = 0;
  std::vector<uint32_t> scalar_hops;  // per scalar link: the links its path adds to its net's tree
};

// Route the scalar links on the scalar network into r.sw (sel[kScalarNet]): per source
// PCU one tree, each sink reached by a breadth-first search from the tree over the
// direction output ports no other scalar net holds; the sink's switch then selects the
// arriving input on local output 4 (the PCU's scalar input). False when a sink cannot
// be reached or two nets end at one PCU's scalar input.
bool route_scalars(const Problem& pb, const State& s, Routed& r) {
  constexpr uint32_t kIn = arch::kSwitchInputs;
  const uint32_t C = pb.cfg.cols + 1, nsw = (pb.cfg.rows + 1) * C;
  std::vector<int> owner(nsw * arch::kSwitchOutputs, -1);  // net holding each scalar output port
  r.scalar_hops.assign(pb.scalar.size(), 0);
  auto sw_of = [&](int pcu) {
    const auto [row, col] = pb.slots[size_t(s.pcu.pos[size_t(pcu)])];
    return row * C + col;
  };
  auto neighbour = [&](uint32_t sw, uint32_t o, uint32_t& t) {
    const uint32_t row = sw / C, col = sw % C;
    switch (o) {
      case arch::kNorth: return row > 0 ? (t = sw - C, true) : false;
      case arch::kEast: return col + 1 < C ? (t = sw + 1, true) : false;
      case arch::kSouth: return sw + C < nsw ? (t = sw + C, true) : false;
      case arch::kWest: return col > 0 ? (t = sw - 1, true) : false;
      default: return false;
    }
  };
  std::vector<int> sources;  // source PCU per net
  for (const ScalarLink& l : pb.scalar)
    if (std::find(sources.begin(), sources.end(), l.from) == sources.end()) sources.push_back(l.from);
  for (size_t net = 0; net < sources.size(); ++net) {
    // Tree states: (switch, input) reached by the net; parent state per state.
    std::map<uint32_t, int64_t> parent;
    const uint32_t src = sw_of(sources[net]) * kIn + arch::kLocal0;
    parent[src] = -1;
    for (size_t k = 0; k < pb.scalar.size(); ++k) {
      if (pb.scalar[k].from != sources[net]) continue;
      const uint32_t t = sw_of(pb.scalar[k].to);
      const size_t sink_port = size_t(t) * arch::kSwitchOutputs + arch::kLocal0;
      if (owner[sink_port] >= 0) return false;  // that scalar input is taken
      // Breadth-first from every tree state (in state order: deterministic).
      std::map<uint32_t, int64_t> prev;
      std::queue<uint32_t> q;
      for (const auto& [st, p] : parent) {
        prev[st] = -1;
        q.push(st);
      }
      int64_t reached = -1;
      while (!q.empty() && reached < 0) {
        const uint32_t st = q.front();
        q.pop();
        if (st / kIn == t) {
          reached = st;
          break;
        }
        for (uint32_t o = 0; o < 4; ++o) {
          uint32_t nb;
          if (!neighbour(st / kIn, o, nb)) continue;
          const int own = owner[size_t(st / kIn) * arch::kSwitchOutputs + o];
          if (own >= 0 && own != int(net)) continue;
          const uint32_t ns = nb * kIn + (o + 2) % 4;
          if (prev.count(ns)) continue;
          prev[ns] = st;
          q.push(ns);
        }
      }
      if (reached < 0) return false;
      for (int64_t st = reached; !parent.count(uint32_t(st)); st = prev.at(uint32_t(st))) {
        const uint32_t ps = uint32_t(prev.at(uint32_t(st)));
        parent[uint32_t(st)] = ps;
        const uint32_t o = (uint32_t(st) % kIn + 2) % 4;  // the parent's output port
        owner[size_t(ps / kIn) * arch::kSwitchOutputs + o] = int(net);
        r.sw[ps / kIn].sel[arch::kScalarNet][o] = uint8_t(1 + ps % kIn);
        ++r.scalar_hops[k];
      }
      owner[sink_port] = int(net);
      r.sw[t].sel[arch::kScalarNet][arch::kLocal0] = uint8_t(1 + uint32_t(reached) % kIn);
    }
  }
  return true;
}

class PathFinder {
 public:
  static constexpr uint32_t kIn = arch::kSwitchInputs;

  PathFinder(const Problem& pb, const State& s)
      : pb_(pb), C_(pb.cfg.cols + 1), nsw_((pb.cfg.rows + 1) * (pb.cfg.cols + 1)) {
    occ_.assign(nsw_ * 4, 0);
    hist_.assign(nsw_ * 4, 0);
    nets_.resize(size_t(pb.nets()));
    for (int n = 0; n < pb.nets(); ++n) {
      Net& net = nets_[size_t(n)];
      if (n < pb.nloads) {
        const int p = s.ld.pos[size_t(n)];
        net.src = idx(pb.cfg.rows, uint32_t(p / 2)) * kIn + arch::kLocal0 + uint32_t(p % 2);
      } else {  // PCU result, PMU read data: the unit's output 0
        const auto [r, c] = source_at(pb, s, n);
        net.src = idx(r, c) * kIn + arch::kLocal0;
      }
      net.parent.assign(nsw_ * kIn, kNone);
    }
    for (size_t k = 0; k < pb.conns.size(); ++k) {
      const Problem::Conn& c = pb.conns[k];
      const auto [r, col] = sink_at(pb, s, c);
      sink_sw_.push_back(idx(r, col));
      nets_[size_t(c.net)].conns.push_back(int(k));
    }
    // Sinks nearest to the source first (ties in connection order).
    for (Net& net : nets_)
      std::stable_sort(net.conns.begin(), net.conns.end(), [&](int a, int b) {
        return manhattan(net.src / kIn, sink_sw_[size_t(a)]) < manhattan(net.src / kIn, sink_sw_[size_t(b)]);
      });
    sink_state_.assign(pb.conns.size(), 0);
    dist_.assign(nsw_ * kIn, 0);
    prev_.assign(nsw_ * kIn, kNone);
  }

  // Negotiate until no output port carries two nets; nullopt after kRouteIterations.
  std::optional<Routed> run() {
    int64_t pf = 8;  // present factor, 1/16
    for (int it = 1; it <= kRouteIterations; ++it) {
      for (size_t n = 0; n < nets_.size(); ++n) {
        rip_up(n);
        if (!route_net(n, pf)) return std::nullopt;
      }
      bool over = false;
      for (size_t r = 0; r < occ_.size(); ++r)
        if (occ_[r] > 1) {
          over = true;
          hist_[r] += kHistory * (occ_[r] - 1);
        }
      if (!over) return result(uint32_t(it));
      pf = std::min<int64_t>(pf * 2, int64_t(1) << 20);
    }
    return std::nullopt;
  }

 private:
  static constexpr int32_t kNone = -2, kRoot = -1;
  struct Net {
    uint32_t src = 0;             // source state (switch * kIn + local input)
    std::vector<int> conns;       // connections, in routing order
    std::vector<int32_t> parent;  // per state: kNone, kRoot or the parent state
    std::vector<uint32_t> tree;   // states of the tree
  };

  uint32_t idx(uint32_t r, uint32_t c) const { return r * C_ + c; }
  uint32_t manhattan(uint32_t a, uint32_t b) const { return dist(a / C_, a % C_, b / C_, b % C_); }
  // Neighbour switch through direction output `o` (0 N, 1 E, 2 S, 3 W); false at the edge.
  bool neighbour(uint32_t s, uint32_t o, uint32_t& t) const {
    const uint32_t r = s / C_, c = s % C_;
    switch (o) {
      case arch::kNorth:
        if (r == 0) return false;
        t = s - C_;
        return true;
      case arch::kEast:
        if (c + 1 >= C_) return false;
        t = s + 1;
        return true;
      case arch::kSouth:
        if (s + C_ >= nsw_) return false;
        t = s + C_;
        return true;
      case arch::kWest:
        if (c == 0) return false;
        t = s - 1;
        return true;
      default:
        return false;
    }
  }
  static uint32_t opposite(uint32_t o) { return (o + 2) % 4; }
  // The output port of the parent's switch that feeds state `st` (a direction input).
  static uint32_t feeding_port(uint32_t parent_sw, uint32_t st) { return parent_sw * 4 + opposite(st % kIn); }

  void rip_up(size_t n) {
    Net& net = nets_[n];
    for (uint32_t st : net.tree) {
      if (net.parent[st] >= 0) --occ_[feeding_port(uint32_t(net.parent[st]) / kIn, st)];
      net.parent[st] = kNone;
    }
    net.tree.clear();
  }

  // Route every sink of net n from its tree (A* over switch input states).
  bool route_net(size_t n, int64_t pf) {
    Net& net = nets_[n];
    net.parent[net.src] = kRoot;
    net.tree.push_back(net.src);
    using Item = std::pair<int64_t, uint32_t>;  // (estimate, state): ties by state, deterministic
    for (int k : net.conns) {
      const uint32_t t = sink_sw_[size_t(k)];
      std::priority_queue<Item, std::vector<Item>, std::greater<>> q;
      std::fill(dist_.begin(), dist_.end(), std::numeric_limits<int64_t>::max());
      for (uint32_t st : net.tree) {
        dist_[st] = 0;
        prev_[st] = kNone;
        q.emplace(kBase * manhattan(st / kIn, t), st);
      }
      uint32_t reached = ~0u;
      while (!q.empty()) {
        const auto [f, st] = q.top();
        q.pop();
        const uint32_t s = st / kIn;
        const int64_t g = dist_[st];
        if (f != g + kBase * manhattan(s, t)) continue;  // stale
        if (s == t) {
          reached = st;
          break;
        }
        for (uint32_t o = 0; o < 4; ++o) {
          uint32_t nb;
          if (!neighbour(s, o, nb)) continue;
          const uint32_t ns = nb * kIn + opposite(o);
          const size_t r = s * 4 + o;
          const int64_t ng = g + (kBase + hist_[r]) * (16 + pf * occ_[r]) / 16;
          if (ng < dist_[ns]) {
            dist_[ns] = ng;
            prev_[ns] = int32_t(st);
            q.emplace(ng + kBase * manhattan(nb, t), ns);
          }
        }
      }
      if (reached == ~0u) return false;  // not on a connected grid
      sink_state_[size_t(k)] = reached;
      for (uint32_t st = reached; net.parent[st] == kNone; st = uint32_t(prev_[st])) {
        net.parent[st] = prev_[st];
        net.tree.push_back(st);
        ++occ_[feeding_port(uint32_t(prev_[st]) / kIn, st)];
      }
    }
    return true;
  }

  Routed result(uint32_t iterations) const {
    Routed out;
    out.iterations = iterations;
    out.sw.assign(nsw_, {});
    for (const Net& net : nets_)
      for (uint32_t st : net.tree)
        if (net.parent[st] >= 0) {
          const uint32_t ps = uint32_t(net.parent[st]);
          out.sw[ps / kIn].sel[arch::kVectorNet][opposite(st % kIn)] = uint8_t(1 + ps % kIn);
          ++out.wire;
        }
    // Per connection in report order: the links its path adds to those of the earlier
    // connections of its net, and its whole length.
    std::vector<std::vector<bool>> counted(nets_.size(), std::vector<bool>(nsw_ * kIn, false));
    for (size_t k = 0; k < pb_.conns.size(); ++k) {
      const Problem::Conn& c = pb_.conns[k];
      const Net& net = nets_[size_t(c.net)];
      const uint32_t ss = sink_state_[k];
      out.sw[ss / kIn].sel[arch::kVectorNet][c.port] = uint8_t(1 + ss % kIn);
      uint32_t fresh = 0, len = 0;
      bool old = false;
      for (uint32_t st = ss; net.parent[st] >= 0; st = uint32_t(net.parent[st])) {
        ++len;
        old = old || counted[size_t(c.net)][st];
        if (!old) {
          counted[size_t(c.net)][st] = true;
          ++fresh;
        }
      }
      out.hops.push_back(fresh);
      out.path_hops.push_back(len);
    }
    return out;
  }

  const Problem& pb_;
  uint32_t C_, nsw_;
  std::vector<int64_t> occ_, hist_;  // per direction output port (switch * 4 + o)
  std::vector<Net> nets_;
  std::vector<uint32_t> sink_sw_, sink_state_;  // per connection
  std::vector<int64_t> dist_;
  std::vector<int32_t> prev_;
};

// The first placement: PCUs on the slots nearest the AGCU row, loads spread over the
// AGCUs (stream 0 of each, then stream 1), stores on distinct AGCUs from the last.
State initial_state(const Problem& pb) {
  State s;
  s.pcu = Assign(int(pb.slots.size()));
  for (int p = 0; p < pb.npcu; ++p) s.pcu.place(p);
  s.pmu = Assign(int(pb.pmu_slots.size()));
  for (int m = 0; m < pb.npmu; ++m) s.pmu.place(m);
  const int A = int(pb.cfg.agcu);
  s.ld = Assign(2 * A);
  for (int l = 0; l < pb.nloads; ++l) s.ld.place(2 * (l % A) + l / A);
  s.st = Assign(A);
  for (size_t k = 0; k < pb.stored.size(); ++k) s.st.place(A - 1 - int(k));
  return s;
}

Placement to_placement(const Problem& pb, const State& s, const Routed& r, int attempt) {
  Placement pl;
  for (int p : s.pcu.pos) pl.pcus.push_back(pb.slots[size_t(p)]);
  for (int m : s.pmu.pos) pl.pmus.push_back(pb.pmu_slots[size_t(m)]);
  for (int p : s.ld.pos) pl.loads.push_back({uint32_t(p / 2), uint32_t(p % 2)});
  for (size_t k = 0; k < pb.stored.size(); ++k) {
    const StreamRef st{uint32_t(s.st.pos[k]), 2};
    if (k == 0)
      pl.store = st;
    else
      pl.more_stores.push_back(st);
  }
  const uint32_t C = pb.cfg.cols + 1;
  for (uint32_t sw = 0; sw < r.sw.size(); ++sw) {
    bool used = false;
    for (uint32_t o = 0; o < arch::kSwitchOutputs; ++o)
      used = used || r.sw[sw].sel[arch::kVectorNet][o] != 0 || r.sw[sw].sel[arch::kScalarNet][o] != 0;
    if (used) pl.switches[pb.cfg.switch_id(sw / C, sw % C)] = r.sw[sw];
  }
  pl.hops = r.hops;
  pl.path_hops = r.path_hops;
  pl.wire_length = r.wire;
  pl.max_hops = r.path_hops.empty() ? 0 : *std::max_element(r.path_hops.begin(), r.path_hops.end());
  pl.route_iterations = r.iterations;
  pl.attempts = uint32_t(attempt);
  pl.scalar_hops = r.scalar_hops;
  return pl;
}

// The section checked against the configuration's units and streams; returns the stored
// PCUs: the last, then `more_stored` (one store stream, an AGCU, each).
std::vector<int> check_section(const arch::Config& cfg, int n_loads, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                               const std::string& what, const std::vector<int>& more_stored,
                               const std::vector<int>& pmu_loads, const std::vector<ScalarLink>& scalar_links) {
  const int npmu = int(pmu_loads.size());
  if (npmu > int(cfg.num_slots() - cfg.num_pcu()))
    throw CompileError(
        fmt::format("{}: {} PMUs, configuration '{}' has {}", what, npmu, cfg.name, cfg.num_slots() - cfg.num_pcu()));
  for (int l : pmu_loads)
    if (l < 0 || l >= n_loads)
      throw CompileError(fmt::format("{}: a PMU is written by load {} of {}", what, l, n_loads));
  const int npcu = int(pcu_inputs.size());
  if (npcu < 1) throw CompileError(fmt::format("{}: a section needs a PCU", what));
  if (npcu > int(cfg.num_pcu()))
    throw CompileError(fmt::format("{}: {} PCUs, configuration '{}' has {}", what, npcu, cfg.name, cfg.num_pcu()));
  if (n_loads > int(2 * cfg.agcu))
    throw CompileError(fmt::format("{}: {} load streams, configuration '{}' has {} ({} AGCUs x 2)", what, n_loads,
                                   cfg.name, 2 * cfg.agcu, cfg.agcu));
  std::vector<int> stored = {npcu - 1};
  for (int p : more_stored) {
    if (p < 0 || p >= npcu || std::find(stored.begin(), stored.end(), p) != stored.end())
      throw CompileError(fmt::format("{}: PCU {} cannot be stored (section of {} PCUs)", what, p, npcu));
    stored.push_back(p);
  }
  if (stored.size() > cfg.agcu)
    throw CompileError(fmt::format("{}: {} store streams, configuration '{}' has {} (one per AGCU)", what,
                                   stored.size(), cfg.name, cfg.agcu));
  for (const auto& ins : pcu_inputs) {
    if (ins.size() > cfg.vin) throw CompileError(fmt::format("{}: a PCU has {} vector inputs", what, cfg.vin));
    for (const PcuInput& in : ins)
      if (in.index < 0 || in.index >= (in.from_pmu ? npmu : in.from_pcu ? npcu : n_loads))
        throw CompileError(fmt::format("{}: a PCU input refers to {} {} (section of {} PCUs, {} PMUs, {} loads)", what,
                                       in.from_pmu   ? "PMU"
                                       : in.from_pcu ? "PCU"
                                                     : "load",
                                       in.index, npcu, npmu, n_loads));
  }
  for (const ScalarLink& l : scalar_links)
    if (l.from < 0 || l.from >= npcu || l.to < 0 || l.to >= npcu || l.from == l.to)
      throw CompileError(fmt::format("{}: a scalar link from PCU {} to PCU {} (section of {} PCUs)", what, l.from,
                                     l.to, npcu));
  return stored;
}

// The PCU and PMU slots of the grid, each list nearest to an AGCU first (the order of the
// first placement).
void sort_slots(Problem& pb) {
  const arch::Config& cfg = pb.cfg;
  for (uint32_t r = 0; r < cfg.rows; ++r)
    for (uint32_t c = 0; c < cfg.cols; ++c)
      if (cfg.slot_is_pcu(r, c)) pb.slots.emplace_back(r, c);
  auto agcu_cost = [&](std::pair<uint32_t, uint32_t> s) {
    uint32_t best = ~0u;
    for (uint32_t k = 0; k < cfg.agcu; ++k) best = std::min(best, dist(s.first, s.second, cfg.rows, k));
    return best;
  };
  std::stable_sort(pb.slots.begin(), pb.slots.end(), [&](auto a, auto b) { return agcu_cost(a) < agcu_cost(b); });
  for (uint32_t r = 0; r < cfg.rows; ++r)
    for (uint32_t c = 0; c < cfg.cols; ++c)
      if (!cfg.slot_is_pcu(r, c)) pb.pmu_slots.emplace_back(r, c);
  std::stable_sort(pb.pmu_slots.begin(), pb.pmu_slots.end(),
                   [&](auto a, auto b) { return agcu_cost(a) < agcu_cost(b); });
}

// The connections to route (PMU inputs, PCU inputs in order, the stores); returns how
// many load streams feed a unit.
int add_connections(Problem& pb, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                    const std::vector<int>& pmu_loads) {
  const int n_loads = pb.nloads, npcu = pb.npcu;
  std::vector<bool> load_used(size_t(n_loads), false);
  for (int m = 0; m < pb.npmu; ++m) {
    pb.conns.push_back({pmu_loads[size_t(m)], Problem::ToPmu, m, arch::kLocal0});
    load_used[size_t(pmu_loads[size_t(m)])] = true;
  }
  for (int p = 0; p < npcu; ++p)
    for (size_t v = 0; v < pcu_inputs[size_t(p)].size(); ++v) {
      const PcuInput& in = pcu_inputs[size_t(p)][v];
      const int net = in.from_pmu ? n_loads + npcu + in.index : in.from_pcu ? n_loads + in.index : in.index;
      pb.conns.push_back({net, Problem::ToPcu, p, arch::kLocal0 + uint32_t(v)});
      if (!in.from_pmu && !in.from_pcu) load_used[size_t(in.index)] = true;
    }
  for (size_t k = 0; k < pb.stored.size(); ++k)
    pb.conns.push_back({n_loads + pb.stored[k], Problem::ToStore, int(k), arch::kLocal0});
  return int(std::count(load_used.begin(), load_used.end(), true));
}

// The memo key of a section: the configuration's grid and the section's structure (not
// tensor shapes), on which alone the placement depends.
std::string memo_key(const Problem& pb, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                     const std::vector<int>& more_stored, const std::vector<int>& pmu_loads,
                     const std::vector<ScalarLink>& scalar_links) {
  const arch::Config& cfg = pb.cfg;
  std::string key =
      fmt::format("{} {}x{} {} {} | {} |", cfg.name, cfg.rows, cfg.cols, cfg.agcu, cfg.dram_channels, pb.nloads);
  key += fmt::format(" b{}/{}", pb.balance, pb.squares);
  for (const auto& ins : pcu_inputs) {
    for (const PcuInput& in : ins) key += fmt::format(" {}{}", in.from_pmu ? 'm' : in.from_pcu ? 'p' : 'l', in.index);
    key += ';';
  }
  for (int p : more_stored) key += fmt::format(" s{}", p);
  for (int l : pmu_loads) key += fmt::format(" w{}", l);
  for (const ScalarLink& l : scalar_links) key += fmt::format(" c{}>{}", l.from, l.to);
  return key;
}

// Anneals and routes up to kAttempts placements (retries alternate with the wire length
// alone as the objective: compact placements route where balanced ones do not); nothing
// when none routes or annealing finds a placement that failed before.
std::optional<Placement> search_placement(const Problem& pb) {
  std::optional<Placement> result;
  std::vector<State> failed;
  for (int attempt = 1; attempt <= kAttempts && !result; ++attempt) {
    const State s = anneal(pb, initial_state(pb), kSeed + uint32_t(attempt - 1), failed, attempt % 2 == 0);
    if (std::any_of(failed.begin(), failed.end(), [&](const State& f) { return same(f, s); })) break;  // no other
    auto routed = PathFinder(pb, s).run();
    if (routed && route_scalars(pb, s, *routed))
      result = to_placement(pb, s, *routed, attempt);
    else
      failed.push_back(s);
  }
  return result;
}

}  // namespace

Placement place_and_route(const arch::Config& cfg, int n_loads, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                          const std::string& what, const std::vector<int>& more_stored,
                          const std::vector<int>& pmu_loads, uint64_t stream_requests,
                          const std::vector<ScalarLink>& scalar_links) {
  const std::vector<int> stored =
      check_section(cfg, n_loads, pcu_inputs, what, more_stored, pmu_loads, scalar_links);
  const int npcu = int(pcu_inputs.size());
  const auto fail = [&] {
    return CompileError(
        fmt::format("{}: cannot place and route {} PCUs, {} loads and {} on configuration '{}'", what, npcu, n_loads,
                    stored.size() == 1 ? std::string("a store") : fmt::format("{} stores", stored.size()), cfg.name));
  };
  Problem pb(cfg);
  // A stream moved off the busiest AGCU or port saves about its requests in cycles; an
  // AGCU more costs its configuration words: short streams pack onto fewer AGCUs.
  if (stream_requests > 0 && stream_requests < uint64_t(kBalanceMax * kCyclesPerUnit)) {
    pb.balance = int64_t(stream_requests) / kCyclesPerUnit;
    pb.squares = 0;
  }
  pb.npcu = npcu;
  pb.npmu = int(pmu_loads.size());
  pb.nloads = n_loads;
  pb.stored = stored;
  pb.scalar = scalar_links;
  sort_slots(pb);
  // Every load that feeds a unit leaves the AGCU row by one of its COLS+1 north ports.
  if (add_connections(pb, pcu_inputs, pmu_loads) > int(cfg.cols + 1)) throw fail();

  // Most sections of a model share a structure: memoised.
  const std::string key = memo_key(pb, pcu_inputs, more_stored, pmu_loads, scalar_links);
  static std::mutex mu;
  static std::map<std::string, std::optional<Placement>> memo;
  {
    const std::lock_guard<std::mutex> lock(mu);
    if (const auto it = memo.find(key); it != memo.end()) {
      if (!it->second) throw fail();
      return *it->second;
    }
  }
  const std::optional<Placement> result = search_placement(pb);
  {
    const std::lock_guard<std::mutex> lock(mu);
    if (memo.size() >= kMemoEntries) memo.clear();
    memo.emplace(key, result);
  }
  if (!result) throw fail();
  return *result;
}

}  // namespace openrdu::compiler::detail
