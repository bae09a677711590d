// Consecutive sections that do not depend on each other merged into one (their PCUs and
// streams side by side): one configuration instead of several (docs/compiler.md,
// "Fusion heuristics"). Run by the split pass at -O1 and -O3 on the sections of one
// fusion module.
#include <fmt/format.h>

#include <set>

#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

// PCUs and streams only: no PMU, no scalar link, one store.
bool mergeable(const SectionBuild& b) {
  return !b.pcu_cfgs.empty() && b.pmu_cfgs.empty() && b.more_stores.empty() && b.placement.scalar_hops.empty();
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

// a (whose PCUs `stored` are stored besides its last) and b side by side, placed and
// routed (CompileError when they do not fit); `stored` gains a's last PCU.
SectionBuild merge_two(const arch::Config& cfg, const SectionBuild& a, const SectionBuild& b, std::vector<int>& stored) {
  SectionBuild m = a;
  const int np = int(a.pcu_cfgs.size()), nl = int(a.loads.size());
  for (auto ins : b.pcu_inputs) {
    for (auto& in : ins) in.index += in.from_pcu ? np : nl;
    m.pcu_inputs.push_back(std::move(ins));
  }
  append(m.pcu_cfgs, b.pcu_cfgs);
  append(m.loads, b.loads);
  append(m.plans, b.plans);
  append(m.node_ids, b.node_ids);
  stored.push_back(np - 1);
  m.more_stores.push_back(a.store);
  m.store = b.store;
  m.output = b.output;
  m.name = a.name + "&" + b.name;
  if (m.kind != b.kind) m.kind += "&" + b.kind;
  m.vectors = a.vectors + b.vectors;
  m.detail = a.detail + "; " + b.detail;
  m.placement = place_and_route(cfg, int(m.loads.size()), m.pcu_inputs, m.what, stored, {}, max_stream_requests(cfg, m));
  return m;
}

uint64_t cost(const arch::Config& cfg, const SectionBuild& b) { return estimate_cycles(cfg, b) + config_cycles(cfg, b); }

}  // namespace

std::vector<SectionBuild> merge_independent(const Lowered& lw, const arch::Config& cfg, std::vector<SectionBuild> builds) {
  std::vector<SectionBuild> out;
  std::vector<int> stored;  // of out.back() when it is a merge
  bool open = false;        // out.back() may take more
  for (auto& b : builds) {
    if (open && mergeable(b) && b.module >= 0 && b.module == out.back().module &&
        independent(lw, out.back(), b)) {
      std::vector<int> st = stored;
      try {
        SectionBuild m = merge_two(cfg, out.back(), b, st);
        if (cost(cfg, m) < cost(cfg, out.back()) + cost(cfg, b)) {
          out.back() = std::move(m);
          stored = std::move(st);
          continue;
        }
      } catch (const CompileError&) {
      }
    }
    open = mergeable(b);
    stored.clear();
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace openrdu::compiler::detail
