// Developer aids: textual IR and section plans (--print-after), Graphviz (--dump-dot)
// and the mapping report (--report) of sncompile.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

const char* kind_name(TensorKind k) {
  switch (k) {
    case TensorKind::Input:
      return "input";
    case TensorKind::Constant:
      return "const";
    default:
      return "value";
  }
}

std::string attrs_str(const Node& n) {
  std::vector<std::string> a;
  for (const auto& [k, v] : n.attrs) a.push_back(fmt::format("{}={}", k, v));
  for (const auto& [k, v] : n.iattrs) a.push_back(v.size() == 1 ? fmt::format("{}={}", k, v[0]) : fmt::format("{}={}", k, shape_str(v)));
  return a.empty() ? "" : " {" + fmt::format("{}", fmt::join(a, ", ")) + "}";
}

std::string stream_str(const arch::AgcuStream& s) {
  const char* mode = s.lstride == 1 ? "contiguous" : s.lstride == 0 ? "broadcast" : "gather/scatter";
  return fmt::format("c=[{},{},{},{}] s=[{},{},{},{}] lstride={} ({}) vdim={} vlen={} vstep={}: {} vectors", s.c[0],
                     s.c[1], s.c[2], s.c[3], s.s[0], s.s[1], s.s[2], s.s[3], s.lstride, mode, s.vdim, s.vlen, s.vstep,
                     s.vectors());
}

std::string dot_id(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

}  // namespace

std::string print_graph(const Graph& g) {
  std::string o = fmt::format("graph {}: {} tensors, {} nodes\n", g.source, g.tensors.size(), g.nodes.size());
  for (int t : g.inputs) o += fmt::format("  input  %{} {}\n", g.tensors[t].name, shape_str(g.tensors[t].shape));
  for (const Tensor& t : g.tensors)
    if (t.kind == TensorKind::Constant) o += fmt::format("  const  %{} {}\n", t.name, shape_str(t.shape));
  for (const Node& n : g.nodes) {
    std::vector<std::string> ins, outs;
    for (int t : n.inputs) ins.push_back(t >= 0 ? "%" + g.tensors[t].name : "-");
    for (int t : n.outputs)  // [?]: not inferred yet (after import)
      outs.push_back("%" + g.tensors[t].name + " " + (g.tensors[t].shape_known ? shape_str(g.tensors[t].shape) : "[?]"));
    o += fmt::format("  {} = {}({}){}  # {}\n", fmt::join(outs, ", "), n.op, fmt::join(ins, ", "), attrs_str(n), n.name);
  }
  for (int t : g.outputs) o += fmt::format("  output %{} ({})\n", g.tensors[t].name, kind_name(g.tensors[t].kind));
  return o;
}

std::string print_sections(const Lowered& lw, const std::vector<SectionBuild>& builds, const arch::Config& cfg) {
  const Graph& g = lw.g;
  std::string o;
  for (size_t i = 0; i < builds.size(); ++i) {
    const SectionBuild& b = builds[i];
    o += fmt::format("section {} '{}' ({}): {}\n", i, b.name, b.kind, b.detail);
    for (size_t l = 0; l < b.loads.size(); ++l) {
      const int t = b.loads[l].tensor;
      o += fmt::format("  load {} %{}{} {}: {}\n", l, g.tensors[t].name,
                       lw.root[t] != t ? " (view of %" + g.tensors[lw.root[t]].name + ")" : "",
                       shape_str(g.tensors[t].shape), stream_str(b.loads[l].s));
    }
    for (const auto& ms : b.more_stores)
      o += fmt::format("  store  %{} {} +{}: {}\n", g.tensors[ms.tensor].name, shape_str(g.tensors[ms.tensor].shape),
                       ms.offset, stream_str(ms.s));
    o += fmt::format("  store  %{} {}{}: {}\n", g.tensors[b.store.tensor].name, shape_str(g.tensors[b.store.tensor].shape),
                     b.store.offset ? fmt::format(" +{}", b.store.offset) : std::string(), stream_str(b.store.s));
    for (size_t p = 0; p < b.pcu_cfgs.size(); ++p) {
      const auto& pc = b.pcu_cfgs[p];
      std::vector<std::string> st;
      for (const auto& s : pc.stages)
        if (s.op != arch::Opcode::NOP)
          st.push_back(fmt::format("{}({},{},{}{}){}", gen::opcode_name(s.op), s.src_a, s.src_b, s.src_c,
                                   s.acc ? fmt::format(" bl={}", s.bl) : "", s.acc ? " acc" : ""));
      o += fmt::format("  pcu {} at ({},{}): count={} out_mode={} acc_len={} stages: {}\n", p,
                       b.placement.pcus[p].first, b.placement.pcus[p].second, pc.count, pc.out_mode, pc.acc_len,
                       fmt::join(st, "; "));
    }
    o += fmt::format("  estimated cycles {}\n", estimate_cycles(cfg, b));
  }
  return o;
}

std::string graph_dot(const Lowered& lw, const std::vector<SectionBuild>& builds) {
  const Graph& g = lw.g;
  std::string o = "digraph openrdu {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n";
  auto tname = [&](int t) { return dot_id("t:" + g.tensors[t].name); };
  auto nname = [&](size_t n) { return dot_id("n:" + g.nodes[n].name); };
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const Tensor& ten = g.tensors[t];
    bool used = ten.is_output || ten.producer >= 0;
    for (const Node& n : g.nodes) used = used || std::count(n.inputs.begin(), n.inputs.end(), int(t));
    if (!used) continue;
    std::string label = ten.name + "\\n" + shape_str(ten.shape);
    if (lw.root[t] != int(t)) label += "\\n(alias of " + g.tensors[lw.root[t]].name + ")";
    const char* style = ten.kind == TensorKind::Input      ? "shape=ellipse, style=filled, fillcolor=lightblue"
                        : ten.kind == TensorKind::Constant ? "shape=ellipse, style=filled, fillcolor=lightgrey"
                        : ten.is_output                    ? "shape=ellipse, style=filled, fillcolor=palegreen"
                                                           : "shape=ellipse";
    o += fmt::format("  {} [label={}, {}];\n", tname(int(t)), dot_id(label), style);
  }
  std::vector<int> sec_of(g.nodes.size(), -1);
  for (size_t i = 0; i < builds.size(); ++i)
    for (int n : builds[i].node_ids) sec_of[size_t(n)] = int(i);
  for (size_t i = 0; i < builds.size(); ++i) {
    o += fmt::format("  subgraph cluster_{} {{\n    label={};\n    style=rounded; color=blue;\n", i,
                     dot_id(fmt::format("section {} ({})", i, builds[i].kind)));
    for (int n : builds[i].node_ids)
      o += fmt::format("    {} [label={}, shape=box];\n", nname(size_t(n)),
                       dot_id(g.nodes[size_t(n)].op + "\\n" + g.nodes[size_t(n)].name));
    o += "  }\n";
  }
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (sec_of[n] < 0)
      o += fmt::format("  {} [label={}, shape=box, style=dashed];\n", nname(n),
                       dot_id(g.nodes[n].op + "\\n" + g.nodes[n].name + (is_view_op(g.nodes[n].op) ? "\\n(view)" : "")));
    for (int t : g.nodes[n].inputs)
      if (t >= 0) o += fmt::format("  {} -> {};\n", tname(t), nname(n));
    for (int t : g.nodes[n].outputs) o += fmt::format("  {} -> {};\n", nname(n), tname(t));
  }
  return o + "}\n";
}

std::string mapping_report(const arch::Config& cfg, const std::vector<SectionBuild>& builds,
                           const std::vector<std::string>& notes) {
  std::string o = fmt::format("mapping report (configuration '{}', {} PCUs, {} PMUs, {} AGCUs, {}x{} switches)\n",
                              cfg.name, cfg.num_pcu(), cfg.num_pmu(), cfg.agcu, cfg.rows + 1, cfg.cols + 1);
  uint64_t total = 0, config = 0;
  uint32_t wire = 0, longest = 0;
  static const char* kStream[] = {"ld0", "ld1", "st0"};
  for (size_t i = 0; i < builds.size(); ++i) {
    const SectionBuild& b = builds[i];
    const Placement& pl = b.placement;
    std::vector<std::string> pcus, streams;
    for (const auto& [r, c] : pl.pcus) pcus.push_back(cfg.unit_name(cfg.slot_id(r, c)));
    for (size_t l = 0; l < pl.loads.size(); ++l)
      streams.push_back(fmt::format("agcu{}.{}{}", pl.loads[l].agcu, kStream[pl.loads[l].stream],
                                    l < b.loads.size() && b.loads[l].s.lstride != 1 && b.loads[l].s.lstride != 0
                                        ? "(gather)"
                                        : ""));
    for (const auto& ms : pl.more_stores) streams.push_back(fmt::format("agcu{}.st0", ms.agcu));
    streams.push_back(fmt::format("agcu{}.st0", pl.store.agcu));
    std::vector<std::string> pmus;
    for (const auto& [r, c] : pl.pmus) pmus.push_back(cfg.unit_name(cfg.slot_id(r, c)));
    const uint64_t est = estimate_cycles(cfg, b);
    total += est;
    config += config_cycles(cfg, b);
    const uint32_t hops = std::accumulate(pl.hops.begin(), pl.hops.end(), 0u);
    wire += hops;
    longest = std::max(longest, pl.max_hops);
    // Route hops: per connection (PMU writes, PCU inputs, stores) the links its path
    // adds to its net's tree; total: the section's wire length; longest: the most
    // pipeline registers between a source and a sink.
    o += fmt::format(
        "section {} '{}' ({}): PCUs {} [{}]; PMUs {}{}; AGCU streams {} [{}]; switches {}; longest route {} hops; "
        "route hops [{}] (total {}){}; estimated cycles {}\n    {}\n",
        i, b.name, b.kind, pl.pcus.size(), fmt::join(pcus, ", "), pmus.size(),
        pmus.empty() ? std::string() : fmt::format(" [{}]", fmt::join(pmus, ", ")), streams.size(), fmt::join(streams, ", "),
        pl.switches.size(), pl.max_hops, fmt::join(pl.hops, ", "), hops,
        pl.scalar_hops.empty() ? std::string() : fmt::format("; scalar route hops [{}]", fmt::join(pl.scalar_hops, ", ")),
        est, b.detail);
    if (i < notes.size() && !notes[i].empty()) o += "    " + notes[i] + "\n";
  }
  o += fmt::format(
      "total: {} sections, estimated cycles {} (sum of the sections' functional-model estimates), wire length {} hops, "
      "longest route {} hops\n",
      builds.size(), total, wire, longest);
  o += fmt::format("total with configuration: estimated cycles {} ({} to configure the sections)\n", total + config,
                   config);
  return o;
}

}  // namespace openrdu::compiler::detail
