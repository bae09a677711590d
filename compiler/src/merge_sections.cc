// Sections merged into one: one configuration instead of several (docs/compiler.md,
// "Merged sections"). Run by the split pass. Independent sections side by side (their
// PCUs, PMUs and streams): at -O1 consecutive sections of one fusion module; at -O3 over
// the whole schedule, a section moving up to an earlier one when nothing between them
// reads what it writes or writes what it reads, whatever their modules. Piped (-O3): a
// section with the next one reading its result in its store order, over the network.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

// A section being merged: its build and, per store in more_stores, the PCU whose result
// it stores (`known` false when that is not known: such a section takes no other).
struct Entry {
  SectionBuild b;
  std::vector<int> stored;
  bool known = true;
  bool open = true;  // may take another section (-O1: not a lowered section with several stores)
};

// A lowered section as an Entry: an elementwise section's extra stores are its PCUs'
// results (plans[p].output), a product's are not known.
Entry entry_of(SectionBuild b) {
  Entry e;
  for (const auto& ms : b.more_stores) {
    int p = -1;
    for (size_t q = 0; q + 1 < b.plans.size() && b.plans.size() == b.pcu_cfgs.size(); ++q)
      if (b.plans[q].output == ms.tensor) p = int(q);
    e.known = e.known && p >= 0;
    e.stored.push_back(p);
  }
  e.b = std::move(b);
  return e;
}

// PCUs (and at -O3 PMUs written by its loads) and streams, no scalar link, its stores known.
bool mergeable(const Entry& e, bool with_pmus) {
  return !e.b.pcu_cfgs.empty() && (with_pmus || e.b.pmu_cfgs.empty()) && e.known && e.b.placement.scalar_hops.empty();
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
  std::vector<StreamPlan> b_st = b.more_stores;
  b_st.push_back(b.store);
  const std::set<int> aw = roots(lw, a_st), ar = roots(lw, a.loads), br = roots(lw, b.loads), bw = roots(lw, b_st);
  for (int t : br)
    if (aw.count(t)) return false;
  for (int t : bw)
    if (ar.count(t)) return false;
  return true;
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

// The loads of b that read a result a stores, each in that store's order
// (same_full_walk): per load of b the PCU of a whose result feeds it, -1 for a DRAM load.
// Empty when b reads anything a writes otherwise, or nothing a writes.
std::vector<int> piped_loads(const Lowered& lw, const arch::Config& cfg, const Entry& a, const SectionBuild& b) {
  std::vector<std::pair<const StreamPlan*, int>> stores = {{&a.b.store, int(a.b.pcu_cfgs.size()) - 1}};
  for (size_t k = 0; k < a.b.more_stores.size(); ++k) stores.push_back({&a.b.more_stores[k], a.stored[k]});
  std::vector<int> from(b.loads.size(), -1);
  bool any = false;
  for (size_t l = 0; l < b.loads.size(); ++l)
    for (const auto& [st, pcu] : stores) {
      if (lw.root[size_t(b.loads[l].tensor)] != lw.root[size_t(st->tensor)]) continue;
      if (!same_full_walk(cfg, b.loads[l], *st)) return {};
      from[l] = pcu;
      any = true;
    }
  for (int l : b.pmu_loads)
    if (from[size_t(l)] >= 0) return {};
  return any ? from : std::vector<int>{};
}

// a and b in one section, placed and routed (CompileError when they do not fit): side by
// side (`sep` "&", `from` all -1), or b's loads with `from` >= 0 (piped_loads) taken from
// that PCU of a over the network (">"). a's result stays stored when `keep`.
Entry join_two(const arch::Config& cfg, const Entry& a, const Entry& b, const std::vector<int>& from, bool keep,
               const char* sep) {
  Entry e = a;
  SectionBuild& m = e.b;
  const int np = int(a.b.pcu_cfgs.size()), nm = int(a.b.pmu_cfgs.size());
  std::vector<int> index(b.b.loads.size(), -1);
  for (size_t l = 0; l < b.b.loads.size(); ++l)
    if (from[l] < 0) {
      index[l] = int(m.loads.size());
      m.loads.push_back(b.b.loads[l]);
    }
  for (auto ins : b.b.pcu_inputs) {
    for (auto& in : ins) {
      if (in.from_pcu || in.from_pmu)
        in.index += in.from_pcu ? np : nm;
      else if (from[size_t(in.index)] >= 0)
        in = {true, from[size_t(in.index)]};
      else
        in.index = index[size_t(in.index)];
    }
    m.pcu_inputs.push_back(std::move(ins));
  }
  append(m.pcu_cfgs, b.b.pcu_cfgs);
  append(m.pmu_cfgs, b.b.pmu_cfgs);
  for (int l : b.b.pmu_loads) m.pmu_loads.push_back(index[size_t(l)]);
  m.plans.resize(size_t(np));  // per PCU (a product's or a transpose's PCUs have none)
  append(m.plans, b.b.plans);
  append(m.node_ids, b.b.node_ids);
  if (keep) {
    e.stored.push_back(np - 1);
    m.more_stores.push_back(a.b.store);
  }
  for (size_t k = 0; k < b.b.more_stores.size(); ++k) {
    e.stored.push_back(np + b.stored[k]);
    m.more_stores.push_back(b.b.more_stores[k]);
  }
  m.store = b.b.store;
  m.output = b.b.output;
  m.name = a.b.name + sep + b.b.name;
  if (m.kind != b.b.kind) m.kind += sep + b.b.kind;
  m.vectors = a.b.vectors + b.b.vectors;
  m.detail = a.b.detail + "; " + b.b.detail;
  m.placement = place_and_route(cfg, int(m.loads.size()), m.pcu_inputs, m.what, e.stored, m.pmu_loads,
                                max_stream_requests(cfg, m));
  return e;
}

std::vector<SectionBuild> builds_of(std::vector<Entry> v) {
  std::vector<SectionBuild> out;
  for (auto& e : v) out.push_back(std::move(e.b));
  return out;
}

}  // namespace

std::vector<SectionBuild> merge_independent(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds,
                                            bool whole_graph) {
  std::vector<Entry> out;
  for (auto& sb : builds) {
    Entry b = entry_of(std::move(sb));
    bool merged = false;
    // Earlier entries b may join: the last one (-O1, same module), or at -O3 any reached
    // going back while b and every entry passed are independent.
    const bool joins = mergeable(b, whole_graph) && (whole_graph || b.b.more_stores.empty());  // -O1: one store
    for (size_t k = out.size(); k-- > 0 && !merged && joins;) {
      if (!independent(lw, out[k].b, b.b)) break;
      if (out[k].open && mergeable(out[k], whole_graph) &&
          (whole_graph || (b.b.module >= 0 && b.b.module == out[k].b.module))) {
        try {
          Entry m = join_two(cfg, out[k], b, std::vector<int>(b.b.loads.size(), -1), true, "&");
          if (cost(cfg, m.b) < cost(cfg, out[k].b) + cost(cfg, b.b)) {
            out[k] = std::move(m);
            merged = true;
          }
        } catch (const CompileError&) {
        }
      }
      if (!whole_graph) break;
    }
    if (merged) continue;
    b.open = whole_graph || b.b.more_stores.empty();
    out.push_back(std::move(b));
  }
  return builds_of(std::move(out));
}

std::vector<SectionBuild> merge_piped(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds) {
  std::map<int, int> loads_of;  // root tensor -> load streams reading it, over all sections
  for (const auto& b : builds)
    for (const auto& l : b.loads) ++loads_of[lw.root[size_t(l.tensor)]];
  std::vector<Entry> out;
  for (auto& sb : builds) {
    Entry b = entry_of(std::move(sb));
    if (!out.empty() && mergeable(out.back(), true) && mergeable(b, true)) {
      Entry& a = out.back();
      const auto from = piped_loads(lw, cfg, a, b.b);
      const int r = lw.root[size_t(a.b.store.tensor)];
      int in_b = 0;
      for (size_t l = 0; l < from.size(); ++l) in_b += from[l] >= 0 && lw.root[size_t(b.b.loads[l].tensor)] == r;
      const bool keep = must_store(lw.g, a.b.store.tensor) || loads_of[r] > in_b;
      if (!from.empty()) {
        try {
          Entry m = join_two(cfg, a, b, from, keep, ">");
          if (cost(cfg, m.b) < cost(cfg, a.b) + cost(cfg, b.b)) {
            a = std::move(m);
            continue;
          }
        } catch (const CompileError&) {
        }
      }
    }
    out.push_back(std::move(b));
  }
  return builds_of(std::move(out));
}

}  // namespace openrdu::compiler::detail
