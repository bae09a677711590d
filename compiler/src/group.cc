// The group pass: which nodes share a section (docs/compiler.md, "The pass
// pipeline"). -O0: one operator per section; -O1: elementwise chains fused on one PCU;
// -O3: also consecutive chains pipelined on several PCUs of one section, and a row
// reduction sent to its chain over the scalar network.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>

#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

// Consumers of every tensor.
std::vector<std::vector<int>> consumers(const Graph& g) {
  std::vector<std::vector<int>> c(g.tensors.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    for (int t : g.nodes[ni].inputs)
      if (std::find(c[t].begin(), c[t].end(), int(ni)) == c[t].end()) c[t].push_back(int(ni));
  return c;
}

bool is_special(const std::string& op) {
  return op == "MatMul" || op == "Gemm" || op == "Transpose" || is_reduce_op(op) || is_movement_op(op);
}

// Is tensor t available before a section whose first node is `first` (Input,
// Constant, or computed by an earlier node)?
bool available_before(const Graph& g, int t, int first) {
  const int prod = g.tensors[t].producer;
  return prod < 0 || prod < first;
}

// O1/O3 chains on one PCU: greedy fusion of elementwise nodes whose intermediate values
// have one consumer, are not graph outputs and have the chain's output shape.
std::vector<std::vector<int>> chain_groups(const Graph& g, const arch::Config& cfg) {
  std::vector<std::vector<int>> groups;
  const auto cons = consumers(g);
  std::vector<bool> taken(g.nodes.size(), false);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (taken[ni] || !is_elementwise_op(g.nodes[ni].op)) continue;
    std::vector<int> grp = {int(ni)};
    taken[ni] = true;
    while (true) {
      const int t = g.nodes[grp.back()].outputs[0];
      if (must_store(g, t) || cons[t].size() != 1) break;
      const int m = cons[t][0];
      if (taken[m] || !is_elementwise_op(g.nodes[m].op) ||
          g.tensors[g.nodes[m].outputs[0]].shape != g.tensors[t].shape)
        break;
      // Every other input of m must exist before the group runs.
      bool ok = true;
      for (int in : g.nodes[m].inputs) {
        const int prod = g.tensors[in].producer;
        if (in != t && !available_before(g, in, int(ni)) && std::find(grp.begin(), grp.end(), prod) == grp.end())
          ok = false;
      }
      if (!ok) break;
      std::vector<int> cand = grp;
      cand.push_back(m);
      if (!fits(cfg, build_plan(g, cand))) break;
      grp = cand;
      taken[m] = true;
    }
    groups.push_back(grp);
  }
  return groups;
}

// The row reduction feeding chain `c`'s first node over the scalar network at O3: the
// node id of a ReduceMax/Min over the last axis (keepdims) whose output R is read only
// by that first node, Op(A, R) or Op(R, A) with Op one PCU stage reading R as its IMM
// (Add, Sub, Mul, Max, Min), A and the reduction's input of the node's output shape
// and R that shape with the last dimension 1 (> 1 in the output), and every other
// input of the chain available before the reduction. -1 when there is none.
int scalar_fusable_reduce(const Graph& g, const std::vector<int>& chain, const std::vector<std::vector<int>>& cons) {
  const Node& n = g.nodes[chain.front()];
  static const char* const kOps[] = {"Add", "Sub", "Mul", "Max", "Min"};
  if (std::find(std::begin(kOps), std::end(kOps), n.op) == std::end(kOps) || n.inputs.size() != 2 ||
      n.inputs[0] == n.inputs[1])
    return -1;
  const auto& out = g.tensors[n.outputs[0]].shape;
  if (out.empty() || out.back() < 2) return -1;
  std::vector<int64_t> row = out;
  row.back() = 1;
  for (int k = 0; k < 2; ++k) {
    const int r = n.inputs[size_t(k)], a = n.inputs[size_t(1 - k)];
    const int prod = g.tensors[r].producer;
    if (prod < 0 || (g.nodes[prod].op != "ReduceMax" && g.nodes[prod].op != "ReduceMin")) continue;
    if (cons[r].size() != 1 || g.tensors[r].shape != row || g.tensors[a].shape != out ||
        g.tensors[g.nodes[prod].inputs.at(0)].shape != out)
      continue;
    bool ok = true;
    for (int m : chain)
      for (int in : g.nodes[m].inputs) {
        const int p = g.tensors[in].producer;
        const bool inside = p >= 0 && std::find(chain.begin(), chain.end(), p) != chain.end();
        if (in != r && !inside && !available_before(g, in, prod)) ok = false;
      }
    if (ok) return prod;
  }
  return -1;
}

// Section groups that need no fusion decision: one per MatMul, Gemm, Transpose,
// reduction and copy (a Slice copied straight into the Concat that reads it gets none);
// at -O0 one per other non-view node, above it one per node that is neither view nor
// elementwise (lowering reports those).
std::vector<SectionGroup> unfused_sections(const Lowered& lw, int opt_level) {
  const Graph& g = lw.g;
  std::vector<SectionGroup> sections;
  std::vector<bool> into_concat(g.nodes.size(), false);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (g.nodes[ni].op == "Concat")
      for (size_t k = 0; k < g.nodes[ni].inputs.size(); ++k) {
        int64_t off = 0;
        std::vector<CopyDim> dims;
        if (const int sl = slice_into_concat(lw, int(ni), k, off, dims); sl >= 0) into_concat[size_t(sl)] = true;
      }
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    const std::string& op = g.nodes[ni].op;
    if (is_special(op)) {
      if (!into_concat[ni]) sections.push_back({{}, int(ni)});
    } else if (!is_view_op(op) && (opt_level == 0 || !is_elementwise_op(op))) {
      sections.push_back({{{int(ni)}}});
    }
  }
  return sections;
}

// A row reduction fused into a section's first PCU is no longer a section of its own.
void drop_fused(std::vector<SectionGroup>& sections, const std::vector<bool>& fused) {
  std::erase_if(sections, [&](const SectionGroup& s) { return s.special >= 0 && fused[size_t(s.special)]; });
}

// The chains of -O3 and what joins them (group_pipelines).
struct ChainSet {
  std::vector<std::vector<int>> chains;
  std::vector<int> chain_of;  // node -> chain, -1 if none
  std::vector<bool> taken;    // chain already in a section
};

// Appends to `sec` the chain reading its last PCU's result while the intermediate has
// one consumer, is not stored, has the next chain's output shape, every other input of
// the next chain exists before the section's first node `first`, and the section still
// lowers, places and routes.
void extend_pipeline(const Lowered& lw, const arch::Config& cfg, const std::vector<std::vector<int>>& cons,
                     ChainSet& cs, int first, SectionGroup& sec) {
  const Graph& g = lw.g;
  while (true) {
    const int t = g.nodes[sec.pcus.back().back()].outputs[0];
    if (must_store(g, t) || cons[t].size() != 1) return;
    const int nc = cs.chain_of[cons[t][0]];
    if (nc < 0 || cs.taken[nc]) return;
    const auto& next = cs.chains[nc];
    if (g.tensors[g.nodes[next.back()].outputs[0]].shape != g.tensors[t].shape) return;
    for (int n : next)
      for (int in : g.nodes[n].inputs) {
        const int prod = g.tensors[in].producer;
        const bool inside = prod >= 0 && cs.chain_of[prod] == nc;
        if (in != t && !inside && !available_before(g, in, first)) return;
      }
    SectionGroup cand = sec;
    cand.pcus.push_back(next);
    try {
      lower_section(lw, cfg, cand);
    } catch (const CompileError&) {
      return;
    }
    sec = std::move(cand);
    cs.taken[nc] = true;
  }
}

// -O3: each chain not yet taken starts a section; with scalar_fusion the row reduction
// feeding it (scalar_fusable_reduce) joins when the section still lowers, and its own
// section in `sections` goes; then the following chains are pipelined (extend_pipeline).
void group_pipelines(const Lowered& lw, const arch::Config& cfg, std::vector<std::vector<int>> chains,
                     bool scalar_fusion, std::vector<SectionGroup>& sections) {
  const Graph& g = lw.g;
  const auto cons = consumers(g);
  ChainSet cs{std::move(chains), std::vector<int>(g.nodes.size(), -1), {}};
  cs.taken.assign(cs.chains.size(), false);
  for (size_t c = 0; c < cs.chains.size(); ++c)
    for (int n : cs.chains[c]) cs.chain_of[n] = int(c);
  std::vector<bool> fused(g.nodes.size(), false);  // reductions run in a chain's section
  for (size_t c = 0; c < cs.chains.size(); ++c) {
    if (cs.taken[c]) continue;
    cs.taken[c] = true;
    SectionGroup sec{{cs.chains[c]}};
    int first = cs.chains[c].front();
    if (const int r = scalar_fusion ? scalar_fusable_reduce(g, cs.chains[c], cons) : -1; r >= 0 && !fused[r]) {
      SectionGroup cand = sec;
      cand.reduce = r;
      try {
        lower_section(lw, cfg, cand);
        sec = cand;
        first = r;
        fused[r] = true;
      } catch (const CompileError&) {
      }
    }
    extend_pipeline(lw, cfg, cons, cs, first, sec);
    sections.push_back(sec);
  }
  drop_fused(sections, fused);
}


// The results of `nodes` that a node outside them reads or that must be stored.
std::vector<int> escaping(const Graph& g, const std::vector<std::vector<int>>& cons, const std::vector<int>& nodes) {
  const std::set<int> in(nodes.begin(), nodes.end());
  std::vector<int> out;
  for (int n : nodes) {
    const int t = g.nodes[size_t(n)].outputs[0];
    bool esc = must_store(g, t);
    for (int c : cons[size_t(t)]) esc = esc || !in.count(c);
    if (esc) out.push_back(t);
  }
  return out;
}

// The PCUs of `sec` (not the last) whose results leave it (escaping) into sec.stored;
// false when a result leaving it is not a PCU's, or a fused reduction's section would
// need another store.
bool stored_results(const Graph& g, const std::vector<std::vector<int>>& cons, const std::vector<int>& nodes,
                    SectionGroup& sec) {
  sec.stored.clear();
  for (int t : escaping(g, cons, nodes)) {
    size_t p = 0;
    while (p < sec.pcus.size() && g.nodes[size_t(sec.pcus[p].back())].outputs[0] != t) ++p;
    if (p == sec.pcus.size()) return false;
    if (p + 1 < sec.pcus.size()) sec.stored.push_back(int(p));
  }
  return sec.reduce < 0 || sec.stored.empty();
}

// Can `chain` join a section of `nodes` that starts at node `first`: every input of the
// chain exists before `first` or is made by the section or the chain.
bool joinable(const Graph& g, const std::vector<int>& nodes, const std::vector<int>& chain, int first) {
  for (int n : chain)
    for (int in : g.nodes[size_t(n)].inputs) {
      const int p = g.tensors[size_t(in)].producer;
      if (p >= 0 && p >= first && std::find(nodes.begin(), nodes.end(), p) == nodes.end() &&
          std::find(chain.begin(), chain.end(), p) == chain.end())
        return false;
    }
  return true;
}

// Does a fused section end after chain `a` (the next chain of the module being `b`):
// `a` runs the last part of a node named in the module's cuts.
bool cut_between(const ModuleGroups& mg, const HeuristicParams& hp, const std::vector<int>& a, const std::vector<int>& b) {
  for (int n : a) {
    const std::string& o = mg.origin[size_t(n)];
    if (std::find(hp.cuts.begin(), hp.cuts.end(), o) != hp.cuts.end() &&
        std::none_of(b.begin(), b.end(), [&](int k) { return mg.origin[size_t(k)] == o; }))
      return true;
  }
  return false;
}

bool lowers(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp) {
  try {
    lower_section(lw, cfg, grp);
  } catch (const CompileError&) {
    return false;
  }
  return true;
}

// The chains of one module, ascending (`run`), and what decides their sections.
struct ModuleRun {
  const Lowered& lw;
  const arch::Config& cfg;
  const ModuleGroups& mg;
  const std::vector<std::vector<int>>& cons;
  const std::vector<std::vector<int>>& chains;
  int module;
  bool scalar_fusion;
};

// Estimated cycles of a group with its configuration; max when it does not lower.
uint64_t group_cost(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp) {
  try {
    const SectionBuild b = lower_section(lw, cfg, grp);
    return estimate_cycles(cfg, b) + config_cycles(cfg, b);
  } catch (const CompileError&) {
    return std::numeric_limits<uint64_t>::max();
  }
}

// A candidate section of a module: chains run[i..j] and its cost (max: not possible).
struct RunCand {
  SectionGroup grp;
  uint64_t cost = std::numeric_limits<uint64_t>::max();
};

// The sections starting at chain run[i], one per end j = i, i+1, ...: with the row
// reduction feeding chain i over the scalar network when allowed and it lowers, the next
// chains while they join it (joinable, the first chain's output shape), take at most
// `pcus` PCUs and pass no cut; possible when only PCU results leave it (stored_results)
// and it lowers.
std::vector<RunCand> runs_from(const ModuleRun& mr, const std::vector<int>& run, size_t i) {
  const Graph& g = mr.lw.g;
  const HeuristicParams& hp = mr.mg.params[size_t(mr.module)];
  const auto& c0 = mr.chains[size_t(run[i])];
  SectionGroup cand{{c0}};
  cand.module = mr.module;
  if (const int r = mr.scalar_fusion ? scalar_fusable_reduce(g, c0, mr.cons) : -1; r >= 0) {
    SectionGroup red = cand;
    red.reduce = r;
    if (lowers(mr.lw, mr.cfg, red)) cand = red;
  }
  std::vector<RunCand> out = {{cand, group_cost(mr.lw, mr.cfg, cand)}};
  const auto& shape = g.tensors[size_t(g.nodes[size_t(c0.back())].outputs[0])].shape;
  std::vector<int> nodes = c0;
  for (size_t j = i + 1; j < run.size() && int(cand.pcus.size() + (cand.reduce >= 0)) < hp.pcus; ++j) {
    const auto& c = mr.chains[size_t(run[j])];
    if (cut_between(mr.mg, hp, mr.chains[size_t(run[j - 1])], c) ||
        g.tensors[size_t(g.nodes[size_t(c.back())].outputs[0])].shape != shape || !joinable(g, nodes, c, cand.first()))
      break;
    cand.pcus.push_back(c);
    nodes.insert(nodes.end(), c.begin(), c.end());
    out.push_back({cand, std::numeric_limits<uint64_t>::max()});
    if (stored_results(g, mr.cons, nodes, out.back().grp)) out.back().cost = group_cost(mr.lw, mr.cfg, out.back().grp);
  }
  return out;
}

// A module's chains cut into runs (runs_from) of the least total cost: estimate and
// configuration, plus the section of a row reduction a run leaves unfused.
std::vector<SectionGroup> best_runs(const ModuleRun& mr, const std::vector<int>& run) {
  const size_t n = run.size();
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::vector<std::vector<RunCand>> from(n);
  std::vector<uint64_t> alone(n, 0);  // chain k's reduction in its own section
  for (size_t i = 0; i < n; ++i) {
    from[i] = runs_from(mr, run, i);
    if (from[i][0].grp.reduce >= 0) alone[i] = group_cost(mr.lw, mr.cfg, SectionGroup{{}, from[i][0].grp.reduce});
  }
  std::vector<uint64_t> best(n + 1, kMax);
  std::vector<size_t> start(n + 1, 0);
  best[0] = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < from[i].size() && best[i] != kMax; ++k) {
      if (from[i][k].cost == kMax) continue;
      uint64_t c = best[i] + from[i][k].cost;
      for (size_t x = i + 1; x <= i + k; ++x) c += alone[x];
      if (c < best[i + k + 1]) best[i + k + 1] = c, start[i + k + 1] = i;
    }
  std::vector<SectionGroup> out;
  for (size_t e = n; e > 0; e = start[e]) out.push_back(from[start[e]][e - 1 - start[e]].grp);
  std::reverse(out.begin(), out.end());
  return out;
}

// The chain that could run after product section `sec` in its section: the one holding
// every reader of the product's result (not stored), its other inputs made before the
// product, in the product's module at -O1 (any at -O3). -1 when none.
int epilogue_chain(const Graph& g, const std::vector<std::vector<int>>& cons, const std::vector<int>& chain_of,
                   const std::vector<std::vector<int>>& chains, const ModuleGroups& mg, bool any_module,
                   const SectionGroup& sec) {
  const Node& n = g.nodes[size_t(sec.special)];
  if (n.op != "MatMul" && n.op != "Gemm") return -1;
  const int t = n.outputs[0];
  if (must_store(g, t) || cons[size_t(t)].empty()) return -1;
  const int c = chain_of[size_t(cons[size_t(t)][0])];
  if (c < 0 || (!any_module && (mg.module_of[size_t(sec.special)] < 0 ||
                                mg.module_of[size_t(sec.special)] != mg.module_of[size_t(chains[size_t(c)].front())])))
    return -1;
  for (int r : cons[size_t(t)])
    if (chain_of[size_t(r)] != c) return -1;
  if (!joinable(g, {sec.special}, chains[size_t(c)], sec.special)) return -1;
  return c;
}

// -O1/-O3: a product's epilogue chain (epilogue_chain) runs in the product's section when
// that lowers and its estimate beats the two sections apart. Returns the other chains.
std::vector<std::vector<int>> product_epilogues(const Lowered& lw, const arch::Config& cfg, const ModuleGroups& mg,
                                                bool any_module, const std::vector<std::vector<int>>& chains,
                                                std::vector<SectionGroup>& sections) {
  const Graph& g = lw.g;
  const auto cons = consumers(g);
  std::vector<int> chain_of(g.nodes.size(), -1);
  for (size_t c = 0; c < chains.size(); ++c)
    for (int n : chains[c]) chain_of[size_t(n)] = int(c);
  std::vector<bool> used(chains.size(), false);
  for (auto& sec : sections) {
    if (sec.special < 0) continue;
    const int c = epilogue_chain(g, cons, chain_of, chains, mg, any_module, sec);
    if (c < 0 || used[size_t(c)]) continue;
    SectionGroup cand = sec;
    cand.epilogue = chains[size_t(c)];
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    const uint64_t fused = group_cost(lw, cfg, cand), product = group_cost(lw, cfg, sec),
                   chain = group_cost(lw, cfg, SectionGroup{{chains[size_t(c)]}});
    if (fused == kMax || (product != kMax && chain != kMax && fused >= product + chain)) continue;
    sec = std::move(cand);
    used[size_t(c)] = true;
  }
  std::vector<std::vector<int>> rest;
  for (size_t c = 0; c < chains.size(); ++c)
    if (!used[c]) rest.push_back(chains[c]);
  return rest;
}

// -O1/-O3: the elementwise chains of each module grouped into sections (best_runs);
// the sections of more than one PCU (or with a fused reduction) are appended to
// `sections`, the chains they do not take are returned.
std::vector<std::vector<int>> module_sections(const Lowered& lw, const arch::Config& cfg, const ModuleGroups& mg,
                                              bool scalar_fusion, const std::vector<std::vector<int>>& chains,
                                              std::vector<SectionGroup>& sections) {
  const auto cons = consumers(lw.g);
  std::map<int, std::vector<int>> runs;  // module -> its chains, ascending
  for (size_t c = 0; c < chains.size(); ++c)
    if (const int m = mg.module_of[size_t(chains[c].front())]; m >= 0) runs[m].push_back(int(c));
  std::vector<bool> used(chains.size(), false), fused(lw.g.nodes.size(), false);
  for (const auto& [m, run] : runs) {
    const ModuleRun mr{lw, cfg, mg, cons, chains, m, scalar_fusion || mg.params[size_t(m)].scalar_fusion};
    size_t i = 0;
    for (auto& sec : best_runs(mr, run)) {
      const size_t next = i + sec.pcus.size();
      if (sec.pcus.size() > 1 || sec.reduce >= 0) {
        for (size_t k = i; k < next; ++k) used[size_t(run[k])] = true;
        if (sec.reduce >= 0) fused[size_t(sec.reduce)] = true;
        sections.push_back(std::move(sec));
      }
      i = next;
    }
  }
  drop_fused(sections, fused);
  std::vector<std::vector<int>> rest;
  for (size_t c = 0; c < chains.size(); ++c)
    if (!used[c]) rest.push_back(chains[c]);
  return rest;
}

}  // namespace

// Section groups in schedule order (the -O levels in the header comment).
std::vector<SectionGroup> group_nodes(const Lowered& lw, const arch::Config& cfg, int opt_level,
                                      bool scalar_fusion, const ModuleGroups* mods) {
  std::vector<SectionGroup> sections = unfused_sections(lw, opt_level);
  if (opt_level == 1 || opt_level == 3) {
    auto chains = chain_groups(lw.g, cfg);
    if (mods) {
      chains = product_epilogues(lw, cfg, *mods, opt_level == 3, chains, sections);
      chains = module_sections(lw, cfg, *mods, opt_level == 3 && scalar_fusion, chains, sections);
    }
    if (opt_level == 1)
      for (auto& c : chains) sections.push_back({{std::move(c)}});
    else
      group_pipelines(lw, cfg, std::move(chains), scalar_fusion, sections);
  }
  if (mods)
    for (auto& s : sections)
      if (s.module < 0) s.module = mods->module_of[size_t(s.first())];
  // Schedule: by first node. A section reads only tensors produced before its first
  // node (fusion requires it), so this order is topological.
  std::stable_sort(sections.begin(), sections.end(),
                   [](const SectionGroup& a, const SectionGroup& b) { return a.first() < b.first(); });
  return sections;
}

std::string print_groups(const Graph& g, const std::vector<SectionGroup>& groups) {
  std::string out;
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string s;
    if (groups[i].special >= 0) {
      s = g.nodes[groups[i].special].name + " (" + g.nodes[groups[i].special].op + ")";
      std::string e;
      for (int n : groups[i].epilogue) e += (e.empty() ? "" : "+") + g.nodes[n].name;
      if (!e.empty()) s += " -> pcu[" + e + "]";
    }
    else {
      for (const auto& p : groups[i].pcus) {
        std::string c;
        for (int n : p) c += (c.empty() ? "" : "+") + g.nodes[n].name;
        s += (s.empty() ? "pcu[" : " | pcu[") + c + "]";
      }
      if (groups[i].reduce >= 0)  // the reduction's PCU, its results over the scalar network
        s = fmt::format("pcu[{} ({})] -scalar-> {}", g.nodes[groups[i].reduce].name, g.nodes[groups[i].reduce].op, s);
    }
    out += fmt::format("section {}: {}\n", i, s);
  }
  return out;
}

}  // namespace openrdu::compiler::detail

namespace openrdu::compiler::detail {

ModuleGroups map_modules(const Graph& legalized, const std::map<std::string, int>& module_by_name,
                         std::vector<HeuristicParams> params) {
  ModuleGroups mg;
  mg.params = std::move(params);
  for (const Node& n : legalized.nodes) {
    std::string name = n.name;
    auto it = module_by_name.find(name);
    while (it == module_by_name.end()) {  // strip ".<suffix>" parts until a node of the fuse pass
      const size_t dot = name.rfind('.');
      if (dot == std::string::npos || dot == 0) break;
      name.resize(dot);
      it = module_by_name.find(name);
    }
    const bool found = it != module_by_name.end();
    mg.module_of.push_back(found ? it->second : -1);
    mg.origin.push_back(found ? name : n.name);
  }
  return mg;
}

}  // namespace openrdu::compiler::detail
