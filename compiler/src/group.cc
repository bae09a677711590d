// The group pass: which nodes share a section (docs/compiler.md, "The pass
// pipeline"). -O0: one operator per section; -O1: elementwise chains fused on one PCU;
// -O3: also consecutive chains pipelined on several PCUs of one section, and a row
// reduction sent to its chain over the scalar network.
#include <fmt/format.h>

#include <algorithm>

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
  std::erase_if(sections, [&](const SectionGroup& s) { return s.special >= 0 && fused[s.special]; });
}

}  // namespace

// Section groups in schedule order (the -O levels in the header comment).
std::vector<SectionGroup> group_nodes(const Lowered& lw, const arch::Config& cfg, int opt_level,
                                      bool scalar_fusion) {
  std::vector<SectionGroup> sections = unfused_sections(lw, opt_level);
  if (opt_level == 1) {
    for (auto& c : chain_groups(lw.g, cfg)) sections.push_back({{std::move(c)}});
  } else if (opt_level == 3) {
    group_pipelines(lw, cfg, chain_groups(lw.g, cfg), scalar_fusion, sections);
  }
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
    if (groups[i].special >= 0)
      s = g.nodes[groups[i].special].name + " (" + g.nodes[groups[i].special].op + ")";
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
