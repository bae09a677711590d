// Lowering of the data-movement operators Concat, Slice and Gather (constant
// parameters) as copy sections: an AGCU load walking the source, MOV on one PCU, an
// AGCU store walking the destination (`docs/compiler.md`).
//
// Every copy is a list of dimensions (outer to inner), each with a count, a source
// stride and a destination stride (elements), plus element offsets into the source and
// destination buffers. Dimensions of count 1 are dropped and adjacent dimensions
// merged where both strides chain; the innermost remaining dimension is split into
// vectors of LANES elements (lane stride = its source stride: 1 contiguous, 0
// broadcast, anything else a gather; the tail masked with vdim/vlen/vstep); the store
// is contiguous along it (destinations are always C-order output tensors).
//  * Slice: one section; element i of output dim d is input index starts[d] +
//    i*steps[d] (negative steps give negative strides: a gather with a negative lane
//    stride when the innermost dim is reversed).
//  * Concat: one section per input with elements, copying input k to the output at
//    offset (sum of the earlier inputs' axis sizes) * inner.
//  * Gather (constant indices, any axis): the flat index list is split into maximal
//    runs of an arithmetic progression (step any integer, 0 for a repeated index); one
//    section per run copies X[pre, idx[j0] + t*step, post] to Y[pre, j0 + t, post].
// More than 4 stream dimensions, or counts/strides beyond 32 bits, are errors naming
// the node.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

int64_t prod(const std::vector<int64_t>& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

std::vector<int64_t> cstrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

}  // namespace

std::vector<CopyDim> collapse_copy_dims(const std::vector<CopyDim>& dims) {
  std::vector<CopyDim> out;
  for (const CopyDim& d : dims) {
    if (d.count == 1) continue;
    if (!out.empty() && out.back().ld == d.ld * int64_t(d.count) && out.back().st == d.st * int64_t(d.count)) {
      out.back().count *= d.count;
      out.back().ld = d.ld;
      out.back().st = d.st;
      continue;
    }
    out.push_back(d);
  }
  if (out.empty()) out.push_back({1, 1, 1});
  return out;
}

SectionBuild mov_section(const arch::Config& cfg, int node, const std::string& name, int src, int64_t src_off,
                         int dst, int64_t dst_off, const arch::AgcuStream& ld, const arch::AgcuStream& st,
                         const std::string& kind, const std::string& what, bool through_pmu) {
  SectionBuild b;
  b.kind = kind;
  b.node_ids = {node};
  b.name = name;
  b.what = what;
  b.output = dst;
  StreamPlan l;
  l.tensor = src;
  l.offset = src_off;
  l.s = ld;
  b.loads = {l};
  b.store.tensor = dst;
  b.store.offset = dst_off;
  b.store.s = st;
  SectionPlan plan;
  plan.name = name;
  plan.node_ids = {node};
  plan.ext_inputs = {src};
  plan.output = dst;
  plan.ops.push_back({arch::Opcode::MOV, ValRef::val(0), ValRef::immediate(0)});
  b.plans = {plan};
  b.vectors = b.store.s.vectors();
  if (b.vectors != b.loads[0].s.vectors())
    throw CompileError(fmt::format("{}: load and store walks differ ({} and {} vectors)", what,
                                   b.loads[0].s.vectors(), b.vectors));
  b.pcu_cfgs = {pcu_program(cfg, plan, uint32_t(b.vectors), what)};
  b.pcu_inputs = {{{false, 0, through_pmu}}};
  return b;
}

SectionBuild copy_section(const arch::Config& cfg, int node, const std::string& name, int src, int64_t src_off,
                          int dst, int64_t dst_off, const std::vector<CopyDim>& dims0, const std::string& kind,
                          const std::string& what) {
  std::vector<CopyDim> dims = collapse_copy_dims(dims0);
  const CopyDim in = dims.back();
  dims.pop_back();
  const int64_t L = cfg.lanes;
  const uint64_t nv = (in.count + uint64_t(L) - 1) / uint64_t(L);
  std::vector<WalkDim> ld, st;
  for (const CopyDim& d : dims) {
    ld.push_back({d.count, d.ld});
    st.push_back({d.count, d.st});
  }
  ld.push_back({nv, L * in.ld});
  st.push_back({nv, L * in.st});
  SectionBuild b =
      mov_section(cfg, node, name, src, src_off, dst, dst_off,
                  make_stream(ld, in.count > 1 ? in.ld : 1, int(ld.size()) - 1, in.count, uint64_t(L), cfg.lanes,
                              what + " (load)"),
                  make_stream(st, in.count > 1 ? in.st : 1, int(st.size()) - 1, in.count, uint64_t(L), cfg.lanes,
                              what + " (store)"),
                  kind, what);
  b.placement = place_and_route(cfg, 1, b.pcu_inputs, what, {}, {}, max_stream_requests(cfg, b));
  std::string ds;
  for (const CopyDim& d : dims) ds += fmt::format("{}x(ld {}, st {}) ", d.count, d.ld, d.st);
  b.detail = fmt::format("copy {}{} elements (lane stride {}), offsets {} -> {}", ds, in.count, in.ld, src_off,
                         dst_off);
  return b;
}

int slice_into_concat(const Lowered& lw, int concat, size_t k, int64_t& off, std::vector<CopyDim>& dims) {
  const Graph& g = lw.g;
  const Node& cn = g.nodes.at(size_t(concat));
  if (cn.op != "Concat" || k >= cn.inputs.size()) return -1;
  const int r = lw.root.at(size_t(cn.inputs[k]));
  const int p = g.tensors[size_t(r)].producer;
  if (p < 0 || g.nodes[size_t(p)].op != "Slice") return -1;
  // Every tensor on r's buffer: no graph output; read only by views of it or by this
  // Concat, once.
  int reads = 0;
  for (size_t u = 0; u < g.tensors.size(); ++u) {
    if (lw.root[u] != r) continue;
    if (must_store(g, int(u))) return -1;
    for (size_t ni = 0; ni < g.nodes.size(); ++ni)
      for (int in : g.nodes[ni].inputs)
        if (in == int(u) && !(is_view_op(g.nodes[ni].op) && lw.root[size_t(g.nodes[ni].outputs[0])] == r)) {
          if (int(ni) != concat) return -1;
          ++reads;
        }
  }
  if (reads != 1) return -1;
  // The Slice's output element i (C order) lands at (i / inner)*total*post + i % inner
  // of the Concat's part (inner = a*post): each dim must lie within a row of `inner`
  // elements or span whole rows.
  const auto& sy = g.tensors[size_t(cn.outputs.at(0))].shape;
  const size_t axis = size_t(cn.iattr("axis"));
  if (axis >= sy.size()) return -1;
  const int64_t post = prod(sy, axis + 1, sy.size()), total = sy[axis];
  const int64_t inner = g.tensors[size_t(cn.inputs[k])].shape.at(axis) * post;
  const Node& sn = g.nodes[size_t(p)];
  const auto& sx = g.tensors[size_t(sn.inputs.at(0))].shape;
  const auto& so = g.tensors[size_t(r)].shape;
  const auto& starts = sn.ints("starts");
  const auto& steps = sn.ints("steps");
  if (inner <= 0 || starts.size() != sx.size() || steps.size() != sx.size() || so.size() != sx.size()) return -1;
  const auto xs = cstrides(sx), os = cstrides(so);
  off = 0;
  dims.clear();
  for (size_t d = 0; d < sx.size(); ++d) {
    off += starts[d] * xs[d];
    const bool rows = os[d] % inner == 0;
    const bool in_row = inner % (os[d] * so[d]) == 0;
    if (!rows && !in_row && so[d] != 1) return -1;
    dims.push_back({uint64_t(so[d]), steps[d] * xs[d], rows ? os[d] / inner * total * post : os[d]});
  }
  return p;
}

namespace {

// Slice: one copy; element i of output dim d is input index starts[d] + i*steps[d].
SectionBuild lower_slice(const Graph& g, const arch::Config& cfg, int node, const std::string& what) {
  const Node& n = g.nodes.at(size_t(node));
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const auto &sx = g.tensors[x].shape, &sy = g.tensors[y].shape;
  const auto& starts = n.ints("starts");
  const auto& steps = n.ints("steps");
  if (starts.size() != sx.size() || steps.size() != sx.size() || sy.size() != sx.size())
    throw CompileError(fmt::format("{}: starts/steps must have one value per dimension of {}", what, shape_str(sx)));
  const auto xs = cstrides(sx), ys = cstrides(sy);
  int64_t off = 0;
  std::vector<CopyDim> dims;
  for (size_t d = 0; d < sx.size(); ++d) {
    off += starts[d] * xs[d];
    dims.push_back({uint64_t(sy[d]), steps[d] * xs[d], ys[d]});
  }
  return copy_section(cfg, node, n.name, x, off, y, 0, dims, "slice", what);
}

// Concat: one copy per input with elements, to the output at offset (the earlier inputs'
// axis sizes) * post; an input computed by a Slice that only this Concat reads is copied
// from the Slice's source straight into place (the Slice gets no section).
void lower_concat(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what,
                  std::vector<SectionBuild>& out) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const int y = n.outputs.at(0);
  const auto& sy = g.tensors[y].shape;
  const size_t axis = size_t(n.iattr("axis"));
  if (axis >= sy.size()) throw CompileError(fmt::format("{}: axis {} out of range for {}", what, axis, shape_str(sy)));
  const int64_t pre = prod(sy, 0, axis), post = prod(sy, axis + 1, sy.size()), total = sy[axis];
  int64_t at = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int x = n.inputs[k];
    const auto& sx = g.tensors[x].shape;
    if (sx.size() != sy.size())
      throw CompileError(fmt::format("{}: input {} '{}' {} has another rank than the output {}", what, k,
                                     g.tensors[x].name, shape_str(sx), shape_str(sy)));
    const int64_t a = sx[axis];
    if (a > 0 && pre > 0 && post > 0) {
      const std::string nm = n.inputs.size() > 1 ? fmt::format("{}[{}]", n.name, k) : n.name;
      const std::string wk = what + fmt::format(" (input {} '{}')", k, g.tensors[x].name);
      int64_t off = 0;
      std::vector<CopyDim> dims;
      if (const int sl = slice_into_concat(lw, node, k, off, dims); sl >= 0) {
        out.push_back(copy_section(cfg, node, nm, g.nodes[size_t(sl)].inputs.at(0), off, y, at * post, dims, "concat",
                                   wk + fmt::format(" from Slice '{}'", g.nodes[size_t(sl)].name)));
        out.back().node_ids = {sl, node};
      } else {
        out.push_back(copy_section(cfg, node, nm, x, 0, y, at * post,
                                   {{uint64_t(pre), a * post, total * post}, {uint64_t(a * post), 1, 1}}, "concat", wk));
      }
    }
    at += a;
  }
}

// Gather (constant indices): one copy per maximal run of an arithmetic progression of
// the indices.
void lower_gather(const Graph& g, const arch::Config& cfg, int node, const std::string& what,
                  std::vector<SectionBuild>& out) {
  const Node& n = g.nodes.at(size_t(node));
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const auto& sx = g.tensors[x].shape;
  const size_t axis = size_t(n.iattr("axis"));
  if (axis >= sx.size()) throw CompileError(fmt::format("{}: axis {} out of range for {}", what, axis, shape_str(sx)));
  const auto& idx = n.ints("indices");
  const int64_t pre = prod(sx, 0, axis), post = prod(sx, axis + 1, sx.size()), dim = sx[axis];
  const int64_t m = int64_t(idx.size());
  for (int64_t i : idx)
    if (i < 0 || i >= dim) throw CompileError(fmt::format("{}: index {} outside [0, {})", what, i, dim));
  for (int64_t j0 = 0; j0 < m;) {
    int64_t j1 = j0 + 1;
    const int64_t step = j1 < m ? idx[size_t(j1)] - idx[size_t(j0)] : 1;
    while (j1 < m && idx[size_t(j1)] - idx[size_t(j1 - 1)] == step) ++j1;
    const int64_t len = j1 - j0;
    const std::string nm = j0 == 0 && j1 == m ? n.name : fmt::format("{}[{}:{}]", n.name, j0, j1);
    out.push_back(copy_section(cfg, node, nm, x, idx[size_t(j0)] * post, y, j0 * post,
                               {{uint64_t(pre), dim * post, m * post},
                                {uint64_t(len), step * post, post},
                                {uint64_t(post), 1, 1}},
                               "gather", what + fmt::format(" (indices {}..{})", j0, j1 - 1)));
    j0 = j1;
  }
}

}  // namespace

std::vector<SectionBuild> lower_movement(const Lowered& lw, const arch::Config& cfg, int node,
                                         const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const int y = n.outputs.at(0);
  if (g.tensors[y].elements() == 0)
    throw CompileError(fmt::format("{}: output '{}' {} has no elements (not supported)", what, g.tensors[y].name,
                                   shape_str(g.tensors[y].shape)));
  std::vector<SectionBuild> out;
  if (n.op == "Slice")
    out.push_back(lower_slice(g, cfg, node, what));
  else if (n.op == "Concat")
    lower_concat(lw, cfg, node, what, out);
  else if (n.op == "Gather")
    lower_gather(g, cfg, node, what, out);
  else
    throw CompileError(fmt::format("{}: not a data-movement operator", what));
  if (out.empty()) throw CompileError(fmt::format("{}: nothing to copy", what));
  return out;
}

}  // namespace openrdu::compiler::detail
