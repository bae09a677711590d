// The lower pass: each section group becomes a SectionBuild (streams, PCU programs,
// placement and routing). Elementwise chains and pipelines are built here; products,
// reductions and copies by lower_matmul.cc, lower_reduce.cc and lower_movement.cc.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

// An elementwise AGCU stream over the access plan's walk (base filled in at layout).
StreamPlan elementwise_stream(const arch::Config& cfg, const AccessPlan& ap, const Access& a,
                                      int tensor) {
  StreamPlan sp;
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
  s.c[3] = uint32_t(ap.c3);
  s.s[3] = int32_t(a.s3);
  sp.s = s;
  return sp;
}

std::string ops_text(const SectionPlan& p) {
  std::string o;
  for (const auto& op : p.ops) o += (o.empty() ? "" : " ") + std::string(gen::opcode_name(op.op));
  return o;
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
std::vector<std::vector<PcuInput>> chain_inputs(const std::vector<SectionPlan>& plans, size_t first,
                                                        int load_base, std::vector<int>& loads) {
  std::vector<std::vector<PcuInput>> out;
  for (size_t p = first; p < plans.size(); ++p) {
    std::vector<PcuInput> ins;
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
  if (!lower_reduce_last_axis_rows(lw, cfg, rn, rwhat, red, row_vectors))
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
  const AccessPlan ap = plan_access(in_shapes, out_shape, b.what);
  const Access& ar = ap.in.back();
  const uint64_t rows = red.store.s.vectors();
  if (out_shape.empty() || ap.inner != uint64_t(out_shape.back()) || !ar.bcast || (ap.c1 > 1 && ar.s1 != 1) ||
      (ap.c2 > 1 && ar.s2 != int64_t(ap.c1)) || ap.c3 != 1 || ap.c1 * ap.c2 != rows ||
      ap.vectors(cfg.lanes) != rows * row_vectors || red.loads.at(0).s.vectors() != rows * row_vectors)
    throw CompileError(fmt::format("{}: the elementwise walk is not the reduction's rows", b.what));
  b.vectors = ap.vectors(cfg.lanes);
  arch::PcuConfig pm = red.pcu_cfgs.at(0);
  pm.sout = true;
  b.pcu_cfgs.push_back(pm);
  for (size_t p = 1; p < b.plans.size(); ++p) {
    arch::PcuConfig pc = pcu_program(cfg, b.plans[p], uint32_t(b.vectors), b.what);
    if (p == 1) {
      pc.sin = true;
      pc.acc_len = uint32_t(row_vectors);
    }
    b.pcu_cfgs.push_back(pc);
  }
  b.placement = place_and_route(cfg, int(1 + eloads.size()), b.pcu_inputs, b.what, {0}, {}, b.vectors,
                                        {{0, 1}});
  b.loads.push_back(red.loads.at(0));
  for (size_t l = 0; l < eloads.size(); ++l) b.loads.push_back(elementwise_stream(cfg, ap, ap.in[l], eloads[l]));
  b.store = elementwise_stream(cfg, ap, ap.out, b.output);
  b.more_stores = {red.store};
  std::vector<std::string> ops;
  for (size_t p = 1; p < b.plans.size(); ++p) ops.push_back(ops_text(b.plans[p]));
  b.detail = fmt::format("{}; {} per row over the scalar network to {} elements in {} vectors; ops {}", red.detail,
                         g.tensors[R].name, ap.elements(), b.vectors, fmt::join(ops, " | "));
  return b;
}

}  // namespace

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
    value_of[n.outputs[0]] = append_node_ops(g, n, operands, p);
    p.name += (p.name.empty() ? "" : "+") + n.name;
  }
  p.output = g.nodes[node_ids.back()].outputs[0];
  return p;
}

// Does the plan fit one PCU and the AGCU streams?
bool fits(const arch::Config& cfg, const SectionPlan& p) {
  if (p.ext_inputs.size() > cfg.vin || p.ext_inputs.size() > 2 * cfg.agcu) return false;
  try {
    pcu_program(cfg, p, 1, p.name);
  } catch (const CompileError&) {
    return false;
  }
  return true;
}

std::string describe_group(const Graph& g, const SectionGroup& grp, const std::string& name) {
  if (grp.special >= 0) return fmt::format("{}: {}", g.source, g.describe(g.nodes[grp.special]));
  if (grp.reduce < 0 && grp.pcus.size() == 1 && grp.pcus[0].size() == 1)
    return fmt::format("{}: {}", g.source, g.describe(g.nodes[grp.pcus[0][0]]));
  return fmt::format("{}: section '{}'", g.source, name);
}

// Lower a section: streams, PCU programs, placement and routing. Throws CompileError.
SectionBuild lower_section(const Lowered& lw, const arch::Config& cfg, const SectionGroup& grp, int matmul_chain,
                           int matmul_candidates) {
  const Graph& g = lw.g;
  if (grp.reduce >= 0) return lower_reduce_fused(lw, cfg, grp);
  if (grp.special >= 0) {
    const std::string what = describe_group(g, grp, "");
    const Node& n = g.nodes[grp.special];
    if (is_reduce_op(n.op)) return lower_reduce(lw, cfg, grp.special, what);
    if (is_movement_op(n.op)) {  // one section when the copy needs one
      auto v = lower_movement(lw, cfg, grp.special, what);
      if (v.size() != 1) throw CompileError(fmt::format("{}: needs {} sections", what, v.size()));
      return std::move(v.front());
    }
    return n.op == "Transpose" ? lower_transpose(lw, cfg, grp.special, what)
                               : lower_matmul(lw, cfg, grp.special, what, matmul_chain, grp.epilogue, matmul_candidates);
  }
  SectionBuild b;
  b.kind = "elementwise";
  add_chain_plans(g, grp, b);
  // PCU inputs: a previous PCU's result, or a DRAM load (one stream per tensor, fanned out).
  std::vector<int> loads;
  b.pcu_inputs = chain_inputs(b.plans, 0, 0, loads);
  std::vector<std::vector<int64_t>> in_shapes;
  for (int t : loads) in_shapes.push_back(g.tensors[t].shape);
  const AccessPlan ap = plan_access(in_shapes, g.tensors[b.output].shape, b.what);
  b.vectors = ap.vectors(cfg.lanes);
  for (const auto& p : b.plans) b.pcu_cfgs.push_back(pcu_program(cfg, p, uint32_t(b.vectors), b.what));
  b.placement = place_and_route(cfg, int(loads.size()), b.pcu_inputs, b.what, grp.stored, {}, b.vectors);
  // AGCU streams (base filled in at layout); a stored PCU's result has the output's shape.
  for (size_t l = 0; l < loads.size(); ++l) b.loads.push_back(elementwise_stream(cfg, ap, ap.in[l], loads[l]));
  b.store = elementwise_stream(cfg, ap, ap.out, b.output);
  for (int p : grp.stored) {
    const int t = b.plans.at(size_t(p)).output;
    if (g.tensors[size_t(t)].shape != g.tensors[size_t(b.output)].shape)
      throw CompileError(fmt::format("{}: stored result {} is not of the output's shape", b.what, g.tensors[size_t(t)].name));
    b.more_stores.push_back(elementwise_stream(cfg, ap, ap.out, t));
  }
  std::vector<std::string> ops;
  for (const auto& p : b.plans) ops.push_back(ops_text(p));
  b.detail = fmt::format("{} elements in {} vectors; ops {}", ap.elements(), b.vectors, fmt::join(ops, " | "));
  return b;
}

std::vector<SectionBuild> lower_groups(const Lowered& lw, const arch::Config& cfg,
                                       const std::vector<SectionGroup>& groups, int matmul_chain,
                                       const ModuleGroups* mods) {
  std::vector<SectionBuild> builds;
  for (const auto& grp : groups) {
    const size_t from = builds.size();
    if (grp.special >= 0 && is_movement_op(lw.g.nodes[grp.special].op)) {
      // Concat, Slice, Gather: one or more copy sections.
      auto v = lower_movement(lw, cfg, grp.special, describe_group(lw.g, grp, ""));
      builds.insert(builds.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    } else {
      // A module's drain chains (its heuristic or --hd) unless --matmul-chain fixes them.
      const HeuristicParams* hp = mods && grp.module >= 0 ? &mods->params[size_t(grp.module)] : nullptr;
      const int chain = matmul_chain == 0 && hp ? hp->matmul_chain : matmul_chain;
      builds.push_back(lower_section(lw, cfg, grp, chain, hp ? hp->matmul_candidates : 1));
    }
    for (size_t k = from; k < builds.size(); ++k) builds[k].module = grp.module;
  }
  return builds;
}

}  // namespace openrdu::compiler::detail
