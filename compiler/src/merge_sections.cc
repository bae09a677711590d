// Sections that do not depend on each other merged into one (their PCUs, PMUs and streams
// side by side): one configuration instead of several (docs/compiler.md, "Merged
// sections"). Run by the split pass: at -O1 consecutive sections of one fusion module; at
// -O3 over the whole schedule, a section moving up to an earlier one when nothing between
// them reads what it writes or writes what it reads, whatever their modules.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

// PCUs (and at -O3 PMUs written by its loads) and streams, no scalar link, one store.
bool mergeable(const SectionBuild& b, bool with_pmus) {
  return !b.pcu_cfgs.empty() && (with_pmus || b.pmu_cfgs.empty()) && b.more_stores.empty() &&
         b.placement.scalar_hops.empty();
}

std::set<int> roots(const Lowered& lw, const std::vector<StreamPlan>& v) {
  std::set<int> r;
  for (const auto& s : v) r.insert(lw.root[size_t(s.tensor)]);
  return r;
}

// b reads nothing a writes and writes nothing a reads (both may write parts of one buffer,
// as the copies into a Concat do).
bool independent(const Lowered& lw, const SectionBuild& a, const SectionBuild& b) {
  std::vector<StreamPlan> a_st = a.more_stores;
  a_st.push_back(a.store);
  const std::set<int> aw = roots(lw, a_st), ar = roots(lw, a.loads), br = roots(lw, b.loads);
  const int bw = lw.root[size_t(b.store.tensor)];
  for (int t : br)
    if (aw.count(t)) return false;
  return !ar.count(bw);
}

template <class T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

uint64_t cost(const arch::Config& cfg, const SectionBuild& b) { return estimate_cycles(cfg, b) + config_cycles(cfg, b); }

// The vectors a stream walks (its base aside), each as its first element, or -1 when not
// every lane is valid; empty when it walks more than kMaxWalk vectors or uses tokens.
constexpr uint64_t kMaxWalk = uint64_t(1) << 20;
std::vector<int64_t> full_walk(const arch::Config& cfg, const StreamPlan& p) {
  const arch::AgcuStream& a = p.s;
  if (a.vectors() > kMaxWalk || a.tin || a.tout) return {};
  std::vector<int64_t> v;
  v.reserve(a.vectors());
  uint32_t idx[4];
  for (idx[3] = 0; idx[3] < a.c[3]; ++idx[3])
    for (idx[2] = 0; idx[2] < a.c[2]; ++idx[2])
      for (idx[1] = 0; idx[1] < a.c[1]; ++idx[1])
        for (idx[0] = 0; idx[0] < a.c[0]; ++idx[0]) {
          int64_t e = p.offset;
          for (int d = 0; d < 4; ++d) e += int64_t(idx[d]) * a.s[d];
          v.push_back(a.valid_lanes(cfg.lanes, idx) == cfg.lanes ? e : -1);
        }
  return v;
}

// Does a load walk the elements a store wrote in the same vectors and order, every lane
// of every vector valid (so the store's PCU output can feed the load's readers)?
bool same_full_walk(const arch::Config& cfg, const StreamPlan& load, const StreamPlan& store) {
  if (load.s.lstride != store.s.lstride || load.s.vectors() != store.s.vectors()) return false;
  const auto l = full_walk(cfg, load), s = full_walk(cfg, store);
  return !l.empty() && l == s && std::find(l.begin(), l.end(), -1) == l.end();
}

// The loads of b that read a's stored result, each in a's store order (same_full_walk):
// per load of b whether it is one. Empty when b reads anything a writes otherwise.
std::vector<bool> piped_loads(const Lowered& lw, const arch::Config& cfg, const SectionBuild& a, const SectionBuild& b) {
  std::vector<StreamPlan> a_st = a.more_stores;
  const std::set<int> aw = roots(lw, a_st);
  const int r = lw.root[size_t(a.store.tensor)];
  std::vector<bool> piped(b.loads.size(), false);
  bool any = false;
  for (size_t l = 0; l < b.loads.size(); ++l) {
    const int lr = lw.root[size_t(b.loads[l].tensor)];
    if (aw.count(lr)) return {};
    if (lr != r) continue;
    if (!same_full_walk(cfg, b.loads[l], a.store)) return {};
    piped[l] = any = true;
  }
  for (int l : b.pmu_loads)
    if (piped[size_t(l)]) return {};
  return any ? piped : std::vector<bool>{};
}

// a (whose PCUs `stored` are stored besides its last) and b in one section, placed and
// routed (CompileError when they do not fit): side by side (`sep` "&", no load piped), or
// b's loads marked in `piped` (piped_loads) taken from a's last PCU over the network
// (">"). a's result stays stored when `keep` (`stored` gains a's last PCU).
SectionBuild join_two(const arch::Config& cfg, const SectionBuild& a, const SectionBuild& b,
                      const std::vector<bool>& piped, bool keep, const char* sep, std::vector<int>& stored) {
  SectionBuild m = a;
  const int np = int(a.pcu_cfgs.size()), nm = int(a.pmu_cfgs.size());
  std::vector<int> index(b.loads.size(), -1);
  for (size_t l = 0; l < b.loads.size(); ++l)
    if (!piped[l]) {
      index[l] = int(m.loads.size());
      m.loads.push_back(b.loads[l]);
    }
  for (auto ins : b.pcu_inputs) {
    for (auto& in : ins) {
      if (in.from_pcu || in.from_pmu)
        in.index += in.from_pcu ? np : nm;
      else if (piped[size_t(in.index)])
        in = {true, np - 1};
      else
        in.index = index[size_t(in.index)];
    }
    m.pcu_inputs.push_back(std::move(ins));
  }
  append(m.pcu_cfgs, b.pcu_cfgs);
  append(m.pmu_cfgs, b.pmu_cfgs);
  for (int l : b.pmu_loads) m.pmu_loads.push_back(index[size_t(l)]);
  m.plans.resize(size_t(np));  // per PCU (a product's or a transpose's PCUs have none)
  append(m.plans, b.plans);
  append(m.node_ids, b.node_ids);
  if (keep) {
    stored.push_back(np - 1);
    m.more_stores.push_back(a.store);
  }
  m.store = b.store;
  m.output = b.output;
  m.name = a.name + sep + b.name;
  if (m.kind != b.kind) m.kind += sep + b.kind;
  m.vectors = a.vectors + b.vectors;
  m.detail = a.detail + "; " + b.detail;
  m.placement =
      place_and_route(cfg, int(m.loads.size()), m.pcu_inputs, m.what, stored, m.pmu_loads, max_stream_requests(cfg, m));
  return m;
}

}  // namespace

std::vector<SectionBuild> merge_independent(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds,
                                            bool whole_graph) {
  std::vector<SectionBuild> out;
  std::vector<std::vector<int>> stored;  // per out entry that is a merge: its stored PCUs
  std::vector<bool> open;                // per out entry: may take more
  for (auto& b : builds) {
    bool merged = false;
    // Earlier entries b may join: the last one (-O1, same module), or at -O3 any reached
    // going back while b and every entry passed are independent.
    for (size_t k = out.size(); k-- > 0 && !merged && mergeable(b, whole_graph);) {
      if (!independent(lw, out[k], b)) break;
      if (open[k] && (whole_graph || (b.module >= 0 && b.module == out[k].module))) {
        std::vector<int> st = stored[k];
        try {
          SectionBuild m = join_two(cfg, out[k], b, std::vector<bool>(b.loads.size(), false), true, "&", st);
          if (cost(cfg, m) < cost(cfg, out[k]) + cost(cfg, b)) {
            out[k] = std::move(m);
            stored[k] = std::move(st);
            merged = true;
          }
        } catch (const CompileError&) {
        }
      }
      if (!whole_graph) break;
    }
    if (merged) continue;
    open.push_back(mergeable(b, whole_graph));
    stored.emplace_back();
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<SectionBuild> merge_piped(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds) {
  std::map<int, int> loads_of;  // root tensor -> load streams reading it, over all sections
  for (const auto& b : builds)
    for (const auto& l : b.loads) ++loads_of[lw.root[size_t(l.tensor)]];
  std::vector<SectionBuild> out;
  std::vector<std::vector<int>> stored;  // per out entry: the PCUs its more_stores store
  for (auto& b : builds) {
    const bool fresh_ok = b.more_stores.empty() && b.placement.scalar_hops.empty() && !b.pcu_cfgs.empty();
    if (!out.empty() && fresh_ok && out.back().placement.scalar_hops.empty() &&
        out.back().more_stores.size() == stored.back().size()) {
      const SectionBuild& a = out.back();
      const auto piped = piped_loads(lw, cfg, a, b);
      const int r = lw.root[size_t(a.store.tensor)];
      const int in_b = int(std::count(piped.begin(), piped.end(), true));
      const bool keep = must_store(lw.g, a.store.tensor) || loads_of[r] > in_b;
      if (!piped.empty()) {
        std::vector<int> st = stored.back();
        try {
          SectionBuild m = join_two(cfg, a, b, piped, keep, ">", st);
          if (cost(cfg, m) < cost(cfg, a) + cost(cfg, b)) {
            out.back() = std::move(m);
            stored.back() = std::move(st);
            continue;
          }
        } catch (const CompileError&) {
        }
      }
    }
    stored.emplace_back();
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace openrdu::compiler::detail
