// The compilation pipeline: legalisation (lower_graph.cc), sections (views: none;
// MatMul/Gemm/Transpose: one each; elementwise O0: one per node, O1/O3: fused chains),
// DRAM layout (views alias their root's buffer), per-section lowering, placement,
// routing, bitstreams, PEF.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "lower.h"
#include "openrdu/arch/memory.h"
#include "openrdu/compiler/graph_section.h"

#ifndef OPENRDU_VERSION
#define OPENRDU_VERSION "0.0.0"
#endif

namespace openrdu::compiler {

const char* version() { return OPENRDU_VERSION; }

namespace {

using detail::SectionPlan;
using detail::ValRef;

constexpr uint64_t kDramBase = 0x00100000;
constexpr uint64_t kAlign = 256;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

using detail::Lowered;
using detail::SectionBuild;

// The plan of a group of elementwise nodes (in topological order) computed on one PCU.
SectionPlan build_plan(const Graph& g, const std::vector<int>& node_ids) {
  SectionPlan p;
  p.node_ids = node_ids;
  std::map<int, int> value_of;  // tensor -> value id (internal results only)
  // External inputs first (value ids 0..k-1), then ops.
  std::vector<bool> produced(g.tensors.size(), false);
  for (int ni : node_ids) {
    for (int t : g.nodes[ni].inputs)
      if (!produced[t] && std::find(p.ext_inputs.begin(), p.ext_inputs.end(), t) == p.ext_inputs.end())
        p.ext_inputs.push_back(t);
    produced[g.nodes[ni].outputs[0]] = true;
  }
  for (size_t k = 0; k < p.ext_inputs.size(); ++k) value_of[p.ext_inputs[k]] = int(k);
  for (int ni : node_ids) {
    const Node& n = g.nodes[ni];
    std::vector<ValRef> operands;
    for (int t : n.inputs) operands.push_back(ValRef::val(value_of.at(t)));
    value_of[n.outputs[0]] = detail::append_node_ops(g, n, operands, p);
    p.name += (p.name.empty() ? "" : "+") + n.name;
  }
  p.output = g.nodes[node_ids.back()].outputs[0];
  return p;
}

// Consumers of every tensor.
std::vector<std::vector<int>> consumers(const Graph& g) {
  std::vector<std::vector<int>> c(g.tensors.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    for (int t : g.nodes[ni].inputs)
      if (std::find(c[t].begin(), c[t].end(), int(ni)) == c[t].end()) c[t].push_back(int(ni));
  return c;
}

// Does the plan fit one PCU and the AGCU streams?
bool fits(const arch::Config& cfg, const SectionPlan& p) {
  if (p.ext_inputs.size() > cfg.vin || p.ext_inputs.size() > 2 * cfg.agcu) return false;
  try {
    detail::pcu_program(cfg, p, 1, p.name);
  } catch (const CompileError&) {
    return false;
  }
  return true;
}

// A section: elementwise PCUs in a pipeline, each running a fused chain of nodes (PCU
// i+1 may take PCU i's result over the network; the last PCU's result goes to DRAM),
// or one MatMul/Gemm/Transpose node (`special`). With `reduce` (O3), a row reduction
// runs on a PCU before them and sends each row's result to the first elementwise PCU
// over the scalar network (its result also stored, as its own section would).
struct SectionGroup {
  std::vector<std::vector<int>> pcus;  // node ids per PCU
  int special = -1;                    // node id of a MatMul, Gemm or Transpose section
  int reduce = -1;                     // node id of a ReduceMax/Min fused by the scalar network
  int first() const { return special >= 0 ? special : reduce >= 0 ? reduce : pcus.front().front(); }
};

bool is_special(const std::string& op) {
  return op == "MatMul" || op == "Gemm" || op == "Transpose" || detail::is_reduce_op(op) || detail::is_movement_op(op);
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
    if (taken[ni] || !detail::is_elementwise_op(g.nodes[ni].op)) continue;
    std::vector<int> grp = {int(ni)};
    taken[ni] = true;
    while (true) {
      const int t = g.nodes[grp.back()].outputs[0];
      if (detail::must_store(g, t) || cons[t].size() != 1) break;
      const int m = cons[t][0];
      if (taken[m] || !detail::is_elementwise_op(g.nodes[m].op) ||
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

std::string describe_group(const Graph& g, const SectionGroup& grp, const std::string& name) {
  if (grp.special >= 0) return fmt::format("{}: {}", g.source, g.describe(g.nodes[grp.special]));
  if (grp.reduce < 0 && grp.pcus.size() == 1 && grp.pcus[0].size() == 1)
    return fmt::format("{}: {}", g.source, g.describe(g.nodes[grp.pcus[0][0]]));
  return fmt::format("{}: section '{}'", g.source, name);
}

// An elementwise AGCU stream over the access plan's walk (base filled in at layout).
detail::StreamPlan elementwise_stream(const arch::Config& cfg, const detail::AccessPlan& ap, const detail::Access& a,
                                      int tensor) {
  detail::StreamPlan sp;
  sp.tensor = tensor;
  arch::AgcuStream s = arch::AgcuStream::linear(0, uint32_t(ap.inner), cfg.lanes);
  if (a.bcast) {  // inner stride 0: every vector reads the row's first element
    s.lstride = 0;
    s.s[0] = 0;
  }
  s.c[1] = uint32_t(ap.c1);
  s.s[1] = int32_t(a.s1);
  s.c[2] = uint32_t(ap.c2);
  s.s[2] = int32_t(a.s2);
  sp.s = s;
  return sp;
}

std::string ops_text(const SectionPlan& p) {
  std::string o;
  for (const auto& op : p.ops) o += (o.empty() ? "" : " ") + std::string(gen::opcode_name(op.op));
  return o;
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

// The plans of the group's elementwise PCUs appended to b (after any already there);
// b's output (the last PCU's), name ('|'-joined) and description.
void add_chain_plans(const Graph& g, const SectionGroup& grp, SectionBuild& b) {
  for (const auto& nodes : grp.pcus) {
    b.plans.push_back(build_plan(g, nodes));
    b.node_ids.insert(b.node_ids.end(), nodes.begin(), nodes.end());
  }
  b.output = b.plans.back().output;
  for (const auto& p : b.plans) b.name += (b.name.empty() ? "" : "|") + p.name;
  b.what = describe_group(g, grp, b.name);
}

// The vector inputs of PCUs plans[first..]: a previous PCU's result (of plans[first..p-1])
// or a DRAM load, one stream per tensor (fanned out), appended to `loads` and numbered
// from `load_base`.
std::vector<std::vector<detail::PcuInput>> chain_inputs(const std::vector<SectionPlan>& plans, size_t first,
                                                        int load_base, std::vector<int>& loads) {
  std::vector<std::vector<detail::PcuInput>> out;
  for (size_t p = first; p < plans.size(); ++p) {
    std::vector<detail::PcuInput> ins;
    for (int t : plans[p].ext_inputs) {
      int from = -1;
      for (size_t q = first; q < p; ++q)
        if (plans[q].output == t) from = int(q);
      if (from >= 0) {
        ins.push_back({true, from});
        continue;
      }
      auto it = std::find(loads.begin(), loads.end(), t);
      if (it == loads.end()) {
        loads.push_back(t);
        it = loads.end() - 1;
      }
      ins.push_back({false, load_base + int(it - loads.begin())});
    }
    out.push_back(ins);
  }
  return out;
}

// A row reduction and elementwise PCUs in one section (SectionGroup::reduce): PCU 0 runs
// the reduction's row program (lower_reduce_last_axis_rows) with sout, its vector result
// stored as its own section would (more_stores[0]) and lane 0 of each row's output sent
// on the scalar network to PCU 1, which takes one scalar per row (sin, acc_len = the
// row's vectors) and reads it as the IMM of the stage that used R (simm). Both PCUs load
// X by their own stream; the elementwise walk keeps R's broadcast in its access plan, so
// each row is whole vectors (ceil(n/LANES), the tail masked) in row order, as PCU 0 emits.
SectionBuild lower_reduce_fused(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp) {
  const Graph& g = lw.g;
  const int rn = grp.reduce, R = g.nodes[rn].outputs.at(0);
  SectionBuild red;
  uint64_t row_vectors = 0;
  const std::string rwhat = fmt::format("{}: {}", g.source, g.describe(g.nodes[rn]));
  if (!detail::lower_reduce_last_axis_rows(lw, cfg, rn, rwhat, red, row_vectors))
    throw CompileError(fmt::format("{}: not a row reduction over the last axis", rwhat));
  SectionBuild b;
  b.kind = "reduce+elementwise";
  SectionPlan rp;  // PCU 0: the reduction (no elementwise ops)
  rp.name = g.nodes[rn].name;
  rp.node_ids = {rn};
  rp.output = R;
  b.plans.push_back(rp);
  b.node_ids = {rn};
  add_chain_plans(g, grp, b);
  // PCU 1 reads R as the group's scalar instead of a vector input.
  SectionPlan& p1 = b.plans[1];
  const auto it = std::find(p1.ext_inputs.begin(), p1.ext_inputs.end(), R);
  if (it == p1.ext_inputs.end()) throw CompileError(fmt::format("{}: the first PCU does not read {}", b.what, g.tensors[R].name));
  const int k = int(it - p1.ext_inputs.begin());
  p1.ext_inputs.erase(it);
  auto fix = [&](ValRef& v) {
    if (v.kind != ValRef::Val) return;
    if (v.id == k)
      v = ValRef::scalar();
    else if (v.id > k)
      --v.id;
  };
  for (auto& op : p1.ops) {
    fix(op.a);
    fix(op.b);
    fix(op.c);
  }
  for (size_t p = 2; p < b.plans.size(); ++p)
    if (std::find(b.plans[p].ext_inputs.begin(), b.plans[p].ext_inputs.end(), R) != b.plans[p].ext_inputs.end())
      throw CompileError(fmt::format("{}: {} is read by a later PCU", b.what, g.tensors[R].name));
  // Inputs: load 0 is the reduction's X; the elementwise loads follow (one per tensor).
  std::vector<int> eloads;
  b.pcu_inputs.push_back({{false, 0}});
  for (auto& ins : chain_inputs(b.plans, 1, 1, eloads)) b.pcu_inputs.push_back(std::move(ins));
  // The walk of the elementwise PCUs: R's broadcast included, so rows stay whole.
  std::vector<std::vector<int64_t>> in_shapes;
  for (int t : eloads) in_shapes.push_back(g.tensors[t].shape);
  in_shapes.push_back(g.tensors[R].shape);
  const auto& out_shape = g.tensors[b.output].shape;
  const detail::AccessPlan ap = detail::plan_access(in_shapes, out_shape, b.what);
  const detail::Access& ar = ap.in.back();
  const uint64_t rows = red.store.s.vectors();
  if (out_shape.empty() || ap.inner != uint64_t(out_shape.back()) || !ar.bcast || (ap.c1 > 1 && ar.s1 != 1) ||
      (ap.c2 > 1 && ar.s2 != int64_t(ap.c1)) || ap.c1 * ap.c2 != rows ||
      ap.vectors(cfg.lanes) != rows * row_vectors || red.loads.at(0).s.vectors() != rows * row_vectors)
    throw CompileError(fmt::format("{}: the elementwise walk is not the reduction's rows", b.what));
  b.vectors = ap.vectors(cfg.lanes);
  arch::PcuConfig pm = red.pcu_cfgs.at(0);
  pm.sout = true;
  b.pcu_cfgs.push_back(pm);
  for (size_t p = 1; p < b.plans.size(); ++p) {
    arch::PcuConfig pc = detail::pcu_program(cfg, b.plans[p], uint32_t(b.vectors), b.what);
    if (p == 1) {
      pc.sin = true;
      pc.acc_len = uint32_t(row_vectors);
    }
    b.pcu_cfgs.push_back(pc);
  }
  b.placement = detail::place_and_route(cfg, int(1 + eloads.size()), b.pcu_inputs, b.what, {0}, {}, b.vectors,
                                        {{0, 1}});
  b.loads.push_back(red.loads.at(0));
  for (size_t l = 0; l < eloads.size(); ++l) b.loads.push_back(elementwise_stream(cfg, ap, ap.in[l], eloads[l]));
  b.store = elementwise_stream(cfg, ap, ap.out, b.output);
  b.more_stores = {red.store};
  std::vector<std::string> ops;
  for (size_t p = 1; p < b.plans.size(); ++p) ops.push_back(ops_text(b.plans[p]));
  b.detail = fmt::format("{}; {} per row over the scalar network to {} elements in {} vectors; ops {}", red.detail,
                         g.tensors[R].name, ap.inner * ap.c1 * ap.c2, b.vectors, fmt::join(ops, " | "));
  return b;
}

// Lower a section: streams, PCU programs, placement and routing. Throws CompileError.
SectionBuild lower_section(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp, int matmul_chain = 0) {
  const Graph& g = lw.g;
  if (grp.reduce >= 0) return lower_reduce_fused(lw, cfg, grp);
  if (grp.special >= 0) {
    const std::string what = describe_group(g, grp, "");
    const Node& n = g.nodes[grp.special];
    if (detail::is_reduce_op(n.op)) return detail::lower_reduce(lw, cfg, grp.special, what);
    if (detail::is_movement_op(n.op)) {  // one section when the copy needs one
      auto v = detail::lower_movement(lw, cfg, grp.special, what);
      if (v.size() != 1) throw CompileError(fmt::format("{}: needs {} sections", what, v.size()));
      return std::move(v.front());
    }
    return n.op == "Transpose" ? detail::lower_transpose(lw, cfg, grp.special, what)
                               : detail::lower_matmul(lw, cfg, grp.special, what, matmul_chain);
  }
  SectionBuild b;
  b.kind = "elementwise";
  add_chain_plans(g, grp, b);
  // PCU inputs: a previous PCU's result, or a DRAM load (one stream per tensor, fanned out).
  std::vector<int> loads;
  b.pcu_inputs = chain_inputs(b.plans, 0, 0, loads);
  std::vector<std::vector<int64_t>> in_shapes;
  for (int t : loads) in_shapes.push_back(g.tensors[t].shape);
  const detail::AccessPlan ap = detail::plan_access(in_shapes, g.tensors[b.output].shape, b.what);
  b.vectors = ap.vectors(cfg.lanes);
  for (const auto& p : b.plans) b.pcu_cfgs.push_back(detail::pcu_program(cfg, p, uint32_t(b.vectors), b.what));
  b.placement = detail::place_and_route(cfg, int(loads.size()), b.pcu_inputs, b.what, {}, {}, b.vectors);
  // AGCU streams (base filled in at layout).
  for (size_t l = 0; l < loads.size(); ++l) b.loads.push_back(elementwise_stream(cfg, ap, ap.in[l], loads[l]));
  b.store = elementwise_stream(cfg, ap, ap.out, b.output);
  std::vector<std::string> ops;
  for (const auto& p : b.plans) ops.push_back(ops_text(p));
  b.detail = fmt::format("{} elements in {} vectors; ops {}", ap.inner * ap.c1 * ap.c2, b.vectors, fmt::join(ops, " | "));
  return b;
}

// Section groups in schedule order. Views get none. MatMul, Gemm and Transpose get one
// section each. Elementwise nodes: O0 one per section; O1 fused chains, one PCU each;
// O3 also pipelines consecutive chains on several PCUs of one section when the
// intermediate has one consumer, is not a graph output, has the section's output shape,
// and the section places and routes. With scalar_fusion, O3 puts a row reduction into
// the section of the chain whose first node reads its result (scalar_fusable_reduce)
// when that section lowers, places and routes; otherwise it keeps its own section.
std::vector<SectionGroup> group_nodes(const Lowered& lw, const arch::Config& cfg, int opt_level,
                                      bool scalar_fusion) {
  const Graph& g = lw.g;
  std::vector<SectionGroup> sections;
  // Slices copied straight into the Concat that reads them get no section.
  std::vector<bool> into_concat(g.nodes.size(), false);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (g.nodes[ni].op == "Concat")
      for (size_t k = 0; k < g.nodes[ni].inputs.size(); ++k) {
        int64_t off = 0;
        std::vector<detail::CopyDim> dims;
        if (const int sl = detail::slice_into_concat(lw, int(ni), k, off, dims); sl >= 0) into_concat[size_t(sl)] = true;
      }
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (is_special(g.nodes[ni].op) && !into_concat[ni]) sections.push_back({{}, int(ni)});
  if (opt_level == 0) {
    for (size_t ni = 0; ni < g.nodes.size(); ++ni)
      if (!is_special(g.nodes[ni].op) && !detail::is_view_op(g.nodes[ni].op)) sections.push_back({{{int(ni)}}});
  } else {
    // Nodes neither special, view nor elementwise: one section each (lowering reports them).
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      const std::string& op = g.nodes[ni].op;
      if (!is_special(op) && !detail::is_view_op(op) && !detail::is_elementwise_op(op))
        sections.push_back({{{int(ni)}}});
    }
    const auto chains = chain_groups(g, cfg);
    if (opt_level == 1) {
      for (const auto& c : chains) sections.push_back({{c}});
    } else {
      const auto cons = consumers(g);
      std::vector<int> chain_of(g.nodes.size(), -1);
      for (size_t c = 0; c < chains.size(); ++c)
        for (int n : chains[c]) chain_of[n] = int(c);
      std::vector<bool> taken(chains.size(), false);
      std::vector<bool> fused(g.nodes.size(), false);  // reductions run in a chain's section
      for (size_t c = 0; c < chains.size(); ++c) {
        if (taken[c]) continue;
        taken[c] = true;
        SectionGroup sec{{chains[c]}};
        int first = chains[c].front();
        if (const int r = scalar_fusion ? scalar_fusable_reduce(g, chains[c], cons) : -1; r >= 0 && !fused[r]) {
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
        while (true) {
          const int t = g.nodes[sec.pcus.back().back()].outputs[0];
          if (detail::must_store(g, t) || cons[t].size() != 1) break;
          const int nc = chain_of[cons[t][0]];
          if (nc < 0 || taken[nc]) break;
          const auto& next = chains[nc];
          if (g.tensors[g.nodes[next.back()].outputs[0]].shape != g.tensors[t].shape) break;
          bool ok = true;
          for (int n : next)
            for (int in : g.nodes[n].inputs) {
              const int prod = g.tensors[in].producer;
              const bool inside = prod >= 0 && chain_of[prod] == nc;
              if (in != t && !inside && !available_before(g, in, first)) ok = false;
            }
          if (!ok) break;
          SectionGroup cand = sec;
          cand.pcus.push_back(next);
          try {
            lower_section(lw, cfg, cand);
          } catch (const CompileError&) {
            break;
          }
          sec = cand;
          taken[nc] = true;
        }
        sections.push_back(sec);
      }
      std::erase_if(sections, [&](const SectionGroup& s) { return s.special >= 0 && fused[s.special]; });
    }
  }
  // Schedule: by first node. A section reads only tensors produced before its first
  // node (fusion requires it), so this order is topological.
  std::stable_sort(sections.begin(), sections.end(),
                   [](const SectionGroup& a, const SectionGroup& b) { return a.first() < b.first(); });
  return sections;
}

pef::DType pef_dtype(DType t) {
  return t == DType::I64 ? pef::DType::I64 : t == DType::BOOL ? pef::DType::BOOL : pef::DType::F32;
}

// Training updates (Graph::updates): each value's buffer is its state's. Checks that the
// value owns its buffer and that no section after the value's reads the state (the
// state's old contents are gone then). Returns value root -> state.
std::map<int, int> update_buffers(const Lowered& lw, const std::vector<SectionBuild>& builds) {
  const Graph& g = lw.g;
  std::map<int, int> out;
  for (const auto& [state, value] : g.updates) {
    const std::string what = fmt::format("{}: the update of state '{}' by '{}'", g.source, g.tensors[state].name,
                                         g.tensors[value].name);
    if (lw.root[value] != value || g.tensors[value].is_output || g.tensors[value].kind != TensorKind::Value)
      throw CompileError(fmt::format("{}: the value must be computed into a buffer of its own", what));
    size_t writer = builds.size();  // the last section writing the value (streaming parts)
    for (size_t i = 0; i < builds.size(); ++i) {
      if (builds[i].output == value) writer = i;
      for (const auto& ms : builds[i].more_stores)
        if (ms.tensor == value) writer = i;
    }
    if (writer == builds.size()) throw CompileError(fmt::format("{}: no section computes the value", what));
    for (size_t i = writer + 1; i < builds.size(); ++i)
      for (const auto& l : builds[i].loads)
        if (lw.root[l.tensor] == state)
          throw CompileError(fmt::format("{}: section {} ({}) reads the state after section {} overwrote it", what,
                                         i, builds[i].name, writer));
    out[value] = state;
  }
  return out;
}

std::string stream_name(const detail::StreamRef& s) {
  static const char* names[] = {"ld0", "ld1", "st0"};
  return fmt::format("agcu{}.{}", s.agcu, names[s.stream]);
}

}  // namespace

namespace detail {

pef::Pef compile_traced(Graph g0, const arch::Config& cfg, const Options& opts, CompileStats* stats,
                        Trace* trace) {
  auto wants = [&](const char* pass) {
    return trace && std::find(trace->print_after.begin(), trace->print_after.end(), pass) != trace->print_after.end();
  };
  if (opts.opt_level != 0 && opts.opt_level != 1 && opts.opt_level != 3)
    throw CompileError(fmt::format("optimization level {} is not supported (0, 1, 3)", opts.opt_level));
  if (cfg.dram_bytes > (uint64_t(1) << 32))
    throw CompileError(
        fmt::format("configuration '{}': DRAM of {} bytes exceeds the 32-bit address space", cfg.name, cfg.dram_bytes));
  Lowered lw = legalize(std::move(g0), &cfg);  // not const: placement gives up the constants' data
  const Graph& g = lw.g;
  if (wants("legalize")) trace->out += "=== after legalize ===\n" + print_graph(g);
  if (g.nodes.empty()) throw CompileError(fmt::format("{}: the graph has no nodes", g.source));

  const auto groups = group_nodes(lw, cfg, opts.opt_level, opts.scalar_fusion);
  if (wants("group")) {
    trace->out += "=== after group ===\n";
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
      trace->out += fmt::format("section {}: {}\n", i, s);
    }
  }
  std::vector<SectionBuild> builds;
  for (const auto& grp : groups) {
    if (grp.special >= 0 && detail::is_movement_op(g.nodes[grp.special].op)) {
      // Concat, Slice, Gather: one or more copy sections.
      auto v = detail::lower_movement(lw, cfg, grp.special, describe_group(g, grp, ""));
      builds.insert(builds.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    } else {
      builds.push_back(lower_section(lw, cfg, grp, opts.matmul_chain));
    }
  }
  // Streaming sections over several AGCUs and memory ports when that is faster.
  if (opts.stream_parts < 0)
    throw CompileError(fmt::format("stream parts {} is not supported (0 automatic, 1 never, N >= 2)", opts.stream_parts));
  for (auto& b : builds) b = detail::split_streaming(cfg, std::move(b), opts.stream_parts);
  if (wants("lower")) trace->out += "=== after lower ===\n" + print_sections(lw, builds, cfg);
  if (trace) {
    trace->dot = graph_dot(lw, builds);
    trace->report = mapping_report(cfg, builds);
  }

  pef::Pef pef;
  pef.config_name = cfg.name;
  pef.fingerprint = cfg.fingerprint();

  // Buffers in DRAM (by root tensor): inputs, what sections load, section outputs.
  std::vector<bool> in_dram(g.tensors.size(), false);
  for (int i : g.inputs) in_dram[i] = true;
  for (const auto& b : builds) {
    for (const auto& l : b.loads) in_dram[lw.root[l.tensor]] = true;
    in_dram[lw.root[b.output]] = true;
    for (const auto& ms : b.more_stores) in_dram[lw.root[ms.tensor]] = true;
  }
  std::map<int, uint64_t> addr;  // root tensor -> device address
  uint64_t next = kDramBase;
  auto place = [&](int t, pef::Role role) {
    Tensor& data = lw.g.tensors[t];
    const Tensor& named = g.tensors[lw.owner[t]];  // the buffer's name: its owning output, if any
    pef::Tensor pt;
    pt.name = named.name;
    pt.role = named.is_output ? pef::Role::Output : role;
    pt.dtype = pef_dtype(data.dtype);
    pt.shape = named.shape;
    pt.bytes = 4 * uint64_t(data.elements());
    next = align_up(next, kAlign);
    pt.dev_addr = next;
    addr[t] = next;
    next += pt.bytes;
    if (role == pef::Role::Weight) {  // the graph's copy is given up as WEIGHTS takes it
      pt.weight_offset = pef.weights.size();
      const size_t off = pef.weights.size();
      if (4 * uint64_t(data.data.size()) < pt.bytes)
        throw CompileError(fmt::format("{}: constant '{}' holds {} values, its shape {}", g.source, data.name,
                                       data.data.size(), data.elements()));
      arch::consume_chunks(reinterpret_cast<uint8_t*>(data.data.data()), pt.bytes,
                           [&](const uint8_t* p, size_t o, size_t n) {
                             pef.weights.resize(off + o + n);  // touched chunk by chunk (reserved above)
                             std::memcpy(pef.weights.data() + off + o, p, n);
                           });
      std::vector<float>().swap(data.data);
    }
    pef.tensors.push_back(std::move(pt));
  };
  // State inputs (training) are weights: uploaded once, updated in place by their value.
  std::vector<std::pair<int, pef::Role>> first;
  for (int i : g.inputs) first.emplace_back(i, g.tensors[i].state ? pef::Role::Weight : pef::Role::Input);
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (in_dram[t] && g.tensors[t].kind == TensorKind::Constant) first.emplace_back(int(t), pef::Role::Weight);
  uint64_t weight_bytes = 0;  // WEIGHTS in one allocation
  for (const auto& [t, role] : first) weight_bytes += role == pef::Role::Weight ? 4 * uint64_t(g.tensors[t].elements()) : 0;
  pef.weights.reserve(weight_bytes);
  for (const auto& [t, role] : first) place(t, role);
  const auto updated = update_buffers(lw, builds);  // value root -> state
  for (const auto& [value, state] : updated) addr[value] = addr.at(state);
  for (const Node& n : g.nodes) {
    const int t = n.outputs[0];
    if (in_dram[t] && lw.root[t] == t && !updated.count(t)) place(t, pef::Role::Activation);
  }
  auto base_of = [&](const detail::StreamPlan& sp) {
    return uint32_t(addr.at(lw.root[sp.tensor]) + 4 * uint64_t(sp.offset));
  };

  // Sections.
  CompileStats st;
  for (const SectionBuild& b : builds) {
    const detail::Placement& pl = b.placement;
    std::map<uint32_t, arch::AgcuConfig> agcus;
    for (size_t l = 0; l < b.loads.size(); ++l) {
      arch::AgcuStream s = b.loads[l].s;
      s.base = base_of(b.loads[l]);
      agcus[pl.loads[l].agcu].ld[pl.loads[l].stream] = s;
    }
    arch::AgcuStream sst = b.store.s;
    sst.base = base_of(b.store);
    agcus[pl.store.agcu].st = sst;
    for (size_t k = 0; k < b.more_stores.size() && k < pl.more_stores.size(); ++k) {
      arch::AgcuStream ms = b.more_stores[k].s;
      ms.base = base_of(b.more_stores[k]);
      agcus[pl.more_stores[k].agcu].st = ms;
    }

    arch::UnitWords units;
    std::string pcus;
    for (size_t p = 0; p < pl.pcus.size(); ++p) {
      const uint32_t id = cfg.slot_id(pl.pcus[p].first, pl.pcus[p].second);
      units[id] = b.pcu_cfgs[p].encode(cfg);
      pcus += (pcus.empty() ? "" : ", ") + cfg.unit_name(id);
    }
    for (size_t m = 0; m < pl.pmus.size() && m < b.pmu_cfgs.size(); ++m) {
      const uint32_t id = cfg.slot_id(pl.pmus[m].first, pl.pmus[m].second);
      units[id] = b.pmu_cfgs[m].encode();
      pcus += (pcus.empty() ? "" : ", ") + cfg.unit_name(id);
    }
    for (const auto& [k, a] : agcus) units[cfg.agcu_id(k)] = a.encode();
    for (const auto& [id, s] : pl.switches) units[id] = s.encode();

    pef::Section sec;
    sec.name = b.name;
    sec.bitstream = arch::assemble_bitstream(cfg, units);
    // PEF SCHEDULE/DEBUG: the functional model's estimate; unit -> the nodes it serves.
    sec.est_cycles = estimate_cycles(cfg, b);
    std::vector<std::string> all_nodes;
    for (int nid : b.node_ids) all_nodes.push_back(g.nodes[nid].name);
    for (const auto& [id, w] : units) sec.debug[id] = all_nodes;
    for (size_t p = 0; p < pl.pcus.size() && p < b.plans.size(); ++p) {
      auto& names = sec.debug[cfg.slot_id(pl.pcus[p].first, pl.pcus[p].second)];
      names.clear();
      for (int nid : b.plans[p].node_ids) names.push_back(g.nodes[nid].name);
    }

    std::string streams;
    for (const auto& s : pl.loads) streams += stream_name(s) + " ";
    streams += stream_name(pl.store);
    for (const auto& s : pl.more_stores) streams += " " + stream_name(s);
    SectionStats ss;
    ss.name = b.name;
    ss.units = fmt::format("{}; {}; {} switches", pcus, streams, pl.switches.size());
    ss.vectors = b.vectors;
    ss.bitstream_words = uint32_t(sec.bitstream.size());
    spdlog::debug("section {} '{}' ({}): {}; {} vectors", pef.sections.size(), b.name, b.kind, ss.units, b.vectors);
    st.sections.push_back(ss);
    st.pcus += uint32_t(pl.pcus.size());
    st.agcu_streams += uint32_t(pl.loads.size() + 1 + pl.more_stores.size());
    st.switches += uint32_t(pl.switches.size());
    pef.sections.push_back(std::move(sec));
  }

  // Bitstreams after the tensors.
  for (auto& sec : pef.sections) {
    next = align_up(next, kAlign);
    sec.dev_addr = next;
    next += 4 * uint64_t(sec.bitstream.size());
  }
  // Loads read LANES words from lane 0's address: keep that slack inside DRAM.
  const uint64_t end = next + 4 * uint64_t(cfg.lanes);
  if (end > cfg.dram_bytes)
    throw CompileError(
        fmt::format("{}: the program needs {} bytes of device DRAM (tensors and bitstreams from 0x{:08X}), "
                    "configuration '{}' has {}",
                    g.source, end, kDramBase, cfg.name, cfg.dram_bytes));
  st.dram_bytes = next;

  pef.meta["source"] = g.source;
  pef.meta["opt_level"] = std::to_string(opts.opt_level);
  pef.meta["compiler_version"] = version();
  pef.meta["config"] = cfg.name;
  pef.meta["fusion"] = opts.opt_level == 0 ? "none" : opts.opt_level == 1 ? "chain" : "chain+pipeline";
  for (size_t i = 0; i < pef.sections.size(); ++i)
    pef.meta[fmt::format("placement.{}", i)] = fmt::format("{} [{}]", st.sections[i].name, st.sections[i].units);
  if (stats) *stats = std::move(st);
  return pef;
}

}  // namespace detail

pef::Pef compile_graph(Graph g, const arch::Config& cfg, const Options& opts, CompileStats* stats) {
  return detail::compile_traced(std::move(g), cfg, opts, stats, nullptr);
}

pef::Pef compile_onnx_file(const std::string& onnx_path, const arch::Config& cfg, const Options& opts,
                           CompileStats* stats) {
  OnnxSource src;
  ImportOptions io;
  io.source = &src;
  pef::Pef pef = compile_graph(import_onnx_file(onnx_path, io), cfg, opts, stats);
  pef.graph = graph_section_of_file(src, onnx_path, pef);  // PEF GRAPH: the model, for snrun --test
  return pef;
}

}  // namespace openrdu::compiler
