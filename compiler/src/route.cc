// Placement (PCU slot, AGCU streams) and routing of vector nets on the switch grid.
//
// The grid has (ROWS+1) x (COLS+1) switches. A net starts at a switch local input
// (AGCU load stream j: input 4+j of switch (ROWS,k); PCU result: input 4 of the
// PCU's switch) and ends at a switch local output (PCU vector input v: output 4+v;
// AGCU store data: output 4 of switch (ROWS,k)). A switch output port carries one
// net; hops between switches use the N/E/S/W ports. Routes are shortest paths (BFS)
// over free output ports; a net may fan out from any switch it already reaches.
#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

struct Router {
  const arch::Config& cfg;
  uint32_t R, C;                      // switch grid: R x C
  std::vector<std::vector<int>> out;  // [switch][output] net id or -1
  std::vector<std::vector<int>> in;   // [switch][input] net carried, or -1
  std::vector<arch::SwitchConfig> sw;

  explicit Router(const arch::Config& c) : cfg(c), R(c.rows + 1), C(c.cols + 1) {
    out.assign(R * C, std::vector<int>(arch::kSwitchOutputs, -1));
    in.assign(R * C, std::vector<int>(arch::kSwitchInputs, -1));
    sw.assign(R * C, {});
  }
  uint32_t idx(uint32_t r, uint32_t c) const { return r * C + c; }

  // Neighbour switch through direction output `o` (0 N, 1 E, 2 S, 3 W); false at the edge.
  bool neighbour(uint32_t s, uint32_t o, uint32_t& t) const {
    const uint32_t r = s / C, c = s % C;
    switch (o) {
      case arch::kNorth:
        if (r == 0) return false;
        t = idx(r - 1, c);
        return true;
      case arch::kEast:
        if (c + 1 >= C) return false;
        t = idx(r, c + 1);
        return true;
      case arch::kSouth:
        if (r + 1 >= R) return false;
        t = idx(r + 1, c);
        return true;
      case arch::kWest:
        if (c == 0) return false;
        t = idx(r, c - 1);
        return true;
      default:
        return false;
    }
  }
  static uint32_t opposite(uint32_t o) { return (o + 2) % 4; }

  // Source: net `net` enters switch `s` at local input `port`.
  void add_source(int net, uint32_t s, uint32_t port) { in[s][port] = net; }

  // Route net to local output `port` of switch `t`. False when no free path exists.
  // hops: the switch-to-switch links the new path adds.
  bool route(int net, uint32_t t, uint32_t port, uint32_t* hops = nullptr) {
    if (out[t][port] >= 0) return false;
    struct Prev {
      int sw = -1;
      uint32_t in = 0, via = 0;  // predecessor state and the output taken there
      bool seen = false;
    };
    std::vector<std::vector<Prev>> prev(R * C, std::vector<Prev>(arch::kSwitchInputs));
    std::deque<std::pair<uint32_t, uint32_t>> q;
    for (uint32_t s = 0; s < R * C; ++s)
      for (uint32_t i = 0; i < arch::kSwitchInputs; ++i)
        if (in[s][i] == net) {
          prev[s][i].seen = true;
          q.emplace_back(s, i);
        }
    while (!q.empty()) {
      const auto [s, i] = q.front();
      q.pop_front();
      if (s == t) {
        // Reach: select input i on the local output, then walk back.
        out[t][port] = net;
        sw[t].sel[arch::kVectorNet][port] = uint8_t(1 + i);
        uint32_t cs = s, ci = i;
        if (hops) *hops = 0;
        while (prev[cs][ci].sw >= 0) {
          if (hops) ++*hops;
          const Prev p = prev[cs][ci];
          out[p.sw][p.via] = net;
          sw[p.sw].sel[arch::kVectorNet][p.via] = uint8_t(1 + p.in);
          in[cs][ci] = net;
          cs = uint32_t(p.sw);
          ci = p.in;
        }
        return true;
      }
      for (uint32_t o = 0; o < 4; ++o) {
        uint32_t n;
        if (out[s][o] >= 0 || !neighbour(s, o, n)) continue;
        const uint32_t ni = opposite(o);
        if (prev[n][ni].seen || in[n][ni] >= 0) continue;
        prev[n][ni] = {int(s), i, o, true};
        q.emplace_back(n, ni);
      }
    }
    return false;
  }
};

uint32_t dist(uint32_t r0, uint32_t c0, uint32_t r1, uint32_t c1) {
  return (r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0);
}

}  // namespace

Placement place_and_route(const arch::Config& cfg, int n_loads, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                          const std::string& what, const std::vector<int>& more_stored,
                          const std::vector<int>& pmu_loads) {
  const int npmu = int(pmu_loads.size());
  if (npmu > int(cfg.num_slots() - cfg.num_pcu()))
    throw CompileError(fmt::format("{}: {} PMUs, configuration '{}' has {}", what, npmu, cfg.name,
                                   cfg.num_slots() - cfg.num_pcu()));
  for (int l : pmu_loads)
    if (l < 0 || l >= n_loads) throw CompileError(fmt::format("{}: a PMU is written by load {} of {}", what, l, n_loads));
  const int npcu = int(pcu_inputs.size());
  if (npcu < 1) throw CompileError(fmt::format("{}: a section needs a PCU", what));
  if (npcu > int(cfg.num_pcu()))
    throw CompileError(fmt::format("{}: {} PCUs, configuration '{}' has {}", what, npcu, cfg.name, cfg.num_pcu()));
  if (n_loads > int(2 * cfg.agcu))
    throw CompileError(fmt::format("{}: {} load streams, configuration '{}' has {} ({} AGCUs x 2)", what, n_loads,
                                   cfg.name, 2 * cfg.agcu, cfg.agcu));
  // Stored PCUs: the last, then `more_stored`; one store stream (AGCU) each.
  std::vector<int> stored = {npcu - 1};
  for (int p : more_stored) {
    if (p < 0 || p >= npcu || std::find(stored.begin(), stored.end(), p) != stored.end())
      throw CompileError(fmt::format("{}: PCU {} cannot be stored (section of {} PCUs)", what, p, npcu));
    stored.push_back(p);
  }
  if (stored.size() > cfg.agcu)
    throw CompileError(fmt::format("{}: {} store streams, configuration '{}' has {} (one per AGCU)", what,
                                   stored.size(), cfg.name, cfg.agcu));
  for (const auto& ins : pcu_inputs)
    if (ins.size() > cfg.vin) throw CompileError(fmt::format("{}: a PCU has {} vector inputs", what, cfg.vin));

  // PCU slots, nearest to the AGCU row first.
  std::vector<std::pair<uint32_t, uint32_t>> slots;
  for (uint32_t r = 0; r < cfg.rows; ++r)
    for (uint32_t c = 0; c < cfg.cols; ++c)
      if (cfg.slot_is_pcu(r, c)) slots.emplace_back(r, c);
  auto agcu_cost = [&](std::pair<uint32_t, uint32_t> s) {
    uint32_t best = ~0u;
    for (uint32_t k = 0; k < cfg.agcu; ++k) best = std::min(best, dist(s.first, s.second, cfg.rows, k));
    return best;
  };
  std::stable_sort(slots.begin(), slots.end(), [&](auto a, auto b) { return agcu_cost(a) < agcu_cost(b); });

  // Candidate slot chains: start at each slot, then the nearest free slot to the previous PCU.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> chains;
  for (const auto& start : slots) {
    std::vector<std::pair<uint32_t, uint32_t>> chain = {start};
    while (int(chain.size()) < npcu) {
      const auto prev = chain.back();
      std::pair<uint32_t, uint32_t> best{};
      uint32_t best_d = ~0u;
      for (const auto& s : slots) {
        if (std::find(chain.begin(), chain.end(), s) != chain.end()) continue;
        const uint32_t d = dist(prev.first, prev.second, s.first, s.second);
        if (d < best_d) {
          best_d = d;
          best = s;
        }
      }
      chain.push_back(best);
    }
    chains.push_back(chain);
  }

  for (const auto& chain : chains) {
    const auto [pr, pc] = chain.front();
    // PMU slots: each the free PMU slot nearest to the PCUs that read it.
    std::vector<std::pair<uint32_t, uint32_t>> pmus;
    for (int m = 0; m < npmu; ++m) {
      std::pair<uint32_t, uint32_t> best{};
      uint32_t best_d = ~0u;
      for (uint32_t r = 0; r < cfg.rows; ++r)
        for (uint32_t c = 0; c < cfg.cols; ++c) {
          if (cfg.slot_is_pcu(r, c) || std::find(pmus.begin(), pmus.end(), std::pair{r, c}) != pmus.end()) continue;
          uint32_t d = 0;
          for (int p = 0; p < npcu; ++p)
            for (const PcuInput& in : pcu_inputs[size_t(p)])
              if (in.from_pmu && in.index == m) d += dist(r, c, chain[size_t(p)].first, chain[size_t(p)].second);
          if (d < best_d) {
            best_d = d;
            best = {r, c};
          }
        }
      pmus.push_back(best);
    }
    // AGCUs nearest to the first PCU first.
    std::vector<uint32_t> agcus(cfg.agcu);
    for (uint32_t k = 0; k < cfg.agcu; ++k) agcus[k] = k;
    std::stable_sort(agcus.begin(), agcus.end(),
                     [&](uint32_t a, uint32_t b) { return dist(pr, pc, cfg.rows, a) < dist(pr, pc, cfg.rows, b); });
    // Load assignments: spread over AGCUs, or packed two per AGCU.
    std::vector<std::vector<StreamRef>> load_options(2);
    for (uint32_t j = 0; j < 2; ++j)
      for (uint32_t k : agcus) load_options[0].push_back({k, j});
    for (uint32_t k : agcus)
      for (uint32_t j = 0; j < 2; ++j) load_options[1].push_back({k, j});
    // Store assignments: distinct AGCUs for the stored PCUs, every ordered choice (the
    // single store of a chained section: each AGCU, nearest to the first PCU first).
    std::vector<std::vector<uint32_t>> store_options;
    {
      std::vector<uint32_t> cur;
      std::vector<bool> used(cfg.agcu, false);
      auto rec = [&](auto&& self) -> void {
        if (cur.size() == stored.size()) {
          store_options.push_back(cur);
          return;
        }
        for (uint32_t k : agcus)
          if (!used[k]) {
            used[k] = true;
            cur.push_back(k);
            self(self);
            cur.pop_back();
            used[k] = false;
          }
      };
      rec(rec);
    }
    for (const auto& loads : load_options) {
      for (const auto& sks : store_options) {
        Router rt(cfg);
        Placement pl;
        pl.pcus = chain;
        pl.pmus = pmus;
        pl.loads.assign(loads.begin(), loads.begin() + n_loads);
        // Nets: load l is net l, the result of PCU p is net n_loads + p.
        for (int l = 0; l < n_loads; ++l)
          rt.add_source(l, rt.idx(cfg.rows, loads[l].agcu), arch::kLocal0 + loads[l].stream);
        for (int p = 0; p < npcu; ++p)
          rt.add_source(n_loads + p, rt.idx(chain[p].first, chain[p].second), arch::kLocal0);
        // PMU m's read data is net n_loads + npcu + m; its write data the load net.
        for (int m = 0; m < npmu; ++m) rt.add_source(n_loads + npcu + m, rt.idx(pmus[m].first, pmus[m].second), arch::kLocal0);
        bool ok = true;
        for (int m = 0; m < npmu && ok; ++m) {
          uint32_t h = 0;
          ok = rt.route(pmu_loads[size_t(m)], rt.idx(pmus[m].first, pmus[m].second), arch::kLocal0, &h);
          pl.hops.push_back(h);
        }
        for (int p = 0; p < npcu && ok; ++p)
          for (size_t v = 0; v < pcu_inputs[p].size() && ok; ++v) {
            const PcuInput& in = pcu_inputs[p][v];
            const int net = in.from_pmu ? n_loads + npcu + in.index : in.from_pcu ? n_loads + in.index : in.index;
            uint32_t h = 0;
            ok = rt.route(net, rt.idx(chain[p].first, chain[p].second), arch::kLocal0 + uint32_t(v), &h);
            pl.hops.push_back(h);
          }
        for (size_t k = 0; k < stored.size() && ok; ++k) {
          uint32_t h = 0;
          ok = rt.route(n_loads + stored[k], rt.idx(cfg.rows, sks[k]), arch::kLocal0, &h);
          pl.hops.push_back(h);
          if (k == 0)
            pl.store = {sks[k], 2};
          else
            pl.more_stores.push_back({sks[k], 2});
        }
        if (!ok) continue;
        for (uint32_t s = 0; s < rt.R * rt.C; ++s) {
          bool used = false;
          for (uint32_t o = 0; o < arch::kSwitchOutputs; ++o) used = used || rt.sw[s].sel[arch::kVectorNet][o] != 0;
          if (used) pl.switches[cfg.switch_id(s / rt.C, s % rt.C)] = rt.sw[s];
        }
        return pl;
      }
    }
  }
  throw CompileError(fmt::format("{}: cannot place and route {} PCUs, {} loads and {} on configuration '{}'", what,
                                 npcu, n_loads, stored.size() == 1 ? std::string("a store") :
                                 fmt::format("{} stores", stored.size()), cfg.name));
}

}  // namespace openrdu::compiler::detail
