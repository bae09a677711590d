// The compilation pipeline: sections (O0: one per node; O1/O3: fused elementwise
// chains), DRAM layout, per-section lowering, placement, routing, bitstreams, PEF.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "lower.h"

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

// The plan of a group of nodes (in topological order) computed on one PCU.
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

// A section: PCUs in a pipeline, each running a fused chain of nodes; PCU i+1 may
// take PCU i's result over the network; the last PCU's result goes to DRAM.
struct SectionGroup {
  std::vector<std::vector<int>> pcus;  // node ids per PCU
};

// Is tensor t available before a section whose first node is `first` and whose
// nodes are `inside` (Input, Constant, or computed by an earlier section)?
bool available_before(const Graph& g, int t, int first) {
  const int prod = g.tensors[t].producer;
  return prod < 0 || prod < first;
}

// O1/O3 chains on one PCU: greedy fusion of nodes whose intermediate values have one
// consumer, are not graph outputs and have the chain's output shape.
std::vector<std::vector<int>> chain_groups(const Graph& g, const arch::Config& cfg) {
  std::vector<std::vector<int>> groups;
  const auto cons = consumers(g);
  std::vector<bool> taken(g.nodes.size(), false);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    if (taken[ni]) continue;
    std::vector<int> grp = {int(ni)};
    taken[ni] = true;
    while (true) {
      const int t = g.nodes[grp.back()].outputs[0];
      if (g.tensors[t].is_output || cons[t].size() != 1) break;
      const int m = cons[t][0];
      if (taken[m] || g.tensors[g.nodes[m].outputs[0]].shape != g.tensors[t].shape) break;
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

struct SectionBuild {
  std::vector<SectionPlan> plans;  // per PCU
  std::vector<int> loads;          // DRAM tensors, per load stream
  int output = -1;
  std::string name;
  std::string what;  // for messages
  detail::AccessPlan access;
  std::vector<arch::PcuConfig> pcu_cfgs;
  detail::Placement placement;
};

// Lower a section: accesses, PCU programs, placement and routing. Throws CompileError.
SectionBuild lower_section(const Graph& g, const arch::Config& cfg, const SectionGroup& grp) {
  SectionBuild b;
  for (const auto& nodes : grp.pcus) b.plans.push_back(build_plan(g, nodes));
  b.output = b.plans.back().output;
  for (const auto& p : b.plans) b.name += (b.name.empty() ? "" : "|") + p.name;
  const Node& last = g.nodes[grp.pcus.back().back()];
  b.what = grp.pcus.size() == 1 && grp.pcus[0].size() == 1 ? fmt::format("{}: {}", g.source, g.describe(last))
                                                           : fmt::format("{}: section '{}'", g.source, b.name);
  // PCU inputs: a previous PCU's result, or a DRAM load (one stream per tensor, fanned out).
  std::vector<std::vector<detail::PcuInput>> pcu_inputs;
  for (size_t p = 0; p < b.plans.size(); ++p) {
    std::vector<detail::PcuInput> ins;
    for (int t : b.plans[p].ext_inputs) {
      int from = -1;
      for (size_t q = 0; q < p; ++q)
        if (b.plans[q].output == t) from = int(q);
      if (from >= 0) {
        ins.push_back({true, from});
        continue;
      }
      auto it = std::find(b.loads.begin(), b.loads.end(), t);
      if (it == b.loads.end()) {
        b.loads.push_back(t);
        it = b.loads.end() - 1;
      }
      ins.push_back({false, int(it - b.loads.begin())});
    }
    pcu_inputs.push_back(ins);
  }
  std::vector<std::vector<int64_t>> in_shapes;
  for (int t : b.loads) in_shapes.push_back(g.tensors[t].shape);
  b.access = detail::plan_access(in_shapes, g.tensors[b.output].shape, b.what);
  const uint64_t vectors = b.access.vectors(cfg.lanes);
  for (const auto& p : b.plans) b.pcu_cfgs.push_back(detail::pcu_program(cfg, p, uint32_t(vectors), b.what));
  b.placement = detail::place_and_route(cfg, int(b.loads.size()), pcu_inputs, b.what);
  return b;
}

// Section groups: O0 one node each; O1 fused chains, one PCU each; O3 also pipelines
// consecutive chains on several PCUs of one section when the intermediate has one
// consumer, is not a graph output, has the section's output shape, and the section
// places and routes.
std::vector<SectionGroup> group_nodes(const Graph& g, const arch::Config& cfg, int opt_level) {
  std::vector<SectionGroup> sections;
  if (opt_level == 0) {
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) sections.push_back({{{int(ni)}}});
    return sections;
  }
  const auto chains = chain_groups(g, cfg);
  if (opt_level == 1) {
    for (const auto& c : chains) sections.push_back({{c}});
    return sections;
  }
  const auto cons = consumers(g);
  std::vector<int> chain_of(g.nodes.size(), -1);
  for (size_t c = 0; c < chains.size(); ++c)
    for (int n : chains[c]) chain_of[n] = int(c);
  std::vector<bool> taken(chains.size(), false);
  for (size_t c = 0; c < chains.size(); ++c) {
    if (taken[c]) continue;
    taken[c] = true;
    SectionGroup sec{{chains[c]}};
    const int first = chains[c].front();
    while (true) {
      const int t = g.nodes[sec.pcus.back().back()].outputs[0];
      if (g.tensors[t].is_output || cons[t].size() != 1) break;
      const int nc = chain_of[cons[t][0]];
      if (taken[nc]) break;
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
        lower_section(g, cfg, cand);
      } catch (const CompileError&) {
        break;
      }
      sec = cand;
      taken[nc] = true;
    }
    sections.push_back(sec);
  }
  return sections;
}

std::string stream_name(const detail::StreamRef& s) {
  static const char* names[] = {"ld0", "ld1", "st0"};
  return fmt::format("agcu{}.{}", s.agcu, names[s.stream]);
}

}  // namespace

pef::Pef compile_graph(const Graph& g, const arch::Config& cfg, const Options& opts, CompileStats* stats) {
  if (opts.opt_level != 0 && opts.opt_level != 1 && opts.opt_level != 3)
    throw CompileError(fmt::format("optimization level {} is not supported (0, 1, 3)", opts.opt_level));
  if (cfg.dram_bytes > (uint64_t(1) << 32))
    throw CompileError(
        fmt::format("configuration '{}': DRAM of {} bytes exceeds the 32-bit address space", cfg.name, cfg.dram_bytes));
  for (int o : g.outputs)
    if (g.tensors[o].kind != TensorKind::Value)
      throw CompileError(fmt::format("{}: output '{}' is a graph {}; no operator computes it (not supported)", g.source,
                                     g.tensors[o].name, g.tensors[o].kind == TensorKind::Input ? "input" : "constant"));
  if (g.nodes.empty()) throw CompileError(fmt::format("{}: the graph has no nodes", g.source));

  const auto groups = group_nodes(g, cfg, opts.opt_level);
  std::vector<SectionBuild> builds;
  for (const auto& grp : groups) builds.push_back(lower_section(g, cfg, grp));

  pef::Pef pef;
  pef.config_name = cfg.name;
  pef.fingerprint = cfg.fingerprint();

  // Tensors in DRAM: inputs, constants that sections load, section outputs.
  std::vector<bool> in_dram(g.tensors.size(), false);
  for (int i : g.inputs) in_dram[i] = true;
  for (const auto& b : builds) {
    for (int t : b.loads) in_dram[t] = true;
    in_dram[b.output] = true;
  }
  std::map<int, uint64_t> addr;  // tensor -> device address
  uint64_t next = kDramBase;
  auto place = [&](int t, pef::Role role) {
    const Tensor& ten = g.tensors[t];
    pef::Tensor pt;
    pt.name = ten.name;
    pt.role = role;
    pt.shape = ten.shape;
    pt.bytes = 4 * uint64_t(ten.elements());
    next = align_up(next, kAlign);
    pt.dev_addr = next;
    addr[t] = next;
    next += pt.bytes;
    if (role == pef::Role::Constant) {
      pt.const_offset = pef.consts.size();
      const size_t off = pef.consts.size();
      pef.consts.resize(off + pt.bytes);
      std::memcpy(pef.consts.data() + off, ten.data.data(), pt.bytes);
    }
    pef.tensors.push_back(std::move(pt));
  };
  for (int i : g.inputs) place(i, pef::Role::Input);
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (in_dram[t] && g.tensors[t].kind == TensorKind::Constant) place(int(t), pef::Role::Constant);
  for (const Node& n : g.nodes) {
    const int t = n.outputs[0];
    if (in_dram[t]) place(t, g.tensors[t].is_output ? pef::Role::Output : pef::Role::Intermediate);
  }

  // Sections.
  CompileStats st;
  for (const SectionBuild& b : builds) {
    const detail::AccessPlan& ap = b.access;
    const detail::Placement& pl = b.placement;
    const uint64_t vectors = ap.vectors(cfg.lanes);
    std::map<uint32_t, arch::AgcuConfig> agcus;
    auto stream = [&](const detail::Access& a, int tensor) {
      arch::AgcuStream s;
      s.enable = true;
      s.bcast = a.bcast;
      s.base = uint32_t(addr.at(tensor));
      s.inner = uint32_t(ap.inner);
      s.c1 = uint32_t(ap.c1);
      s.s1 = int32_t(a.s1);
      s.c2 = uint32_t(ap.c2);
      s.s2 = int32_t(a.s2);
      return s;
    };
    for (size_t l = 0; l < b.loads.size(); ++l)
      agcus[pl.loads[l].agcu].ld[pl.loads[l].stream] = stream(ap.in[l], b.loads[l]);
    agcus[pl.store.agcu].st = stream(ap.out, b.output);

    arch::UnitWords units;
    std::string pcus;
    for (size_t p = 0; p < pl.pcus.size(); ++p) {
      const uint32_t id = cfg.slot_id(pl.pcus[p].first, pl.pcus[p].second);
      units[id] = b.pcu_cfgs[p].encode(cfg);
      pcus += (pcus.empty() ? "" : ", ") + cfg.unit_name(id);
    }
    for (const auto& [k, a] : agcus) units[cfg.agcu_id(k)] = a.encode();
    for (const auto& [id, s] : pl.switches) units[id] = s.encode();

    pef::Section sec;
    sec.name = b.name;
    sec.bitstream = arch::assemble_bitstream(cfg, units);

    std::string streams;
    for (const auto& s : pl.loads) streams += stream_name(s) + " ";
    streams += stream_name(pl.store);
    SectionStats ss;
    ss.name = b.name;
    ss.units = fmt::format("{}; {}; {} switches", pcus, streams, pl.switches.size());
    ss.vectors = vectors;
    ss.bitstream_words = uint32_t(sec.bitstream.size());
    spdlog::debug("section {} '{}': {}; {} vectors", pef.sections.size(), b.name, ss.units, vectors);
    st.sections.push_back(ss);
    st.pcus += uint32_t(pl.pcus.size());
    st.agcu_streams += uint32_t(pl.loads.size() + 1);
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

pef::Pef compile_onnx_file(const std::string& onnx_path, const arch::Config& cfg, const Options& opts,
                           CompileStats* stats) {
  return compile_graph(import_onnx_file(onnx_path), cfg, opts, stats);
}

}  // namespace openrdu::compiler
