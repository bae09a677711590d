// Graph legalisation before grouping (lower.h, struct Lowered): Gemm split into its
// product and an elementwise epilogue, constant MatMul/Gemm operands stored for
// contiguous loads, view aliasing, copies for graph outputs that cannot alias.
//
// Alias rule: Reshape, Flatten, Squeeze and Unsqueeze do not move data (C order is
// unchanged), so their output uses the DRAM bytes of their input: no section, the
// same address. Following views back gives a tensor's root, the tensor that owns the
// buffer. A graph output must own its buffer under its own name (the PEF lists it with
// role Output and the runtime copies it back), so a graph output that is a view of
//  * a graph input or a constant, or
//  * a buffer that is itself a graph output or is already owned by an earlier output
// gets a copy: an Identity node (MOV through a PCU) from the view into its own buffer.
// Otherwise the output becomes the owner of its root's buffer: the PEF names the
// buffer after the output (the root's own name does not appear).
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <functional>
#include <set>

#include "decompose.h"
#include "lower.h"
#include "lower_math.h"

namespace openrdu::compiler::detail {

bool is_view_op(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze";
}

bool is_elementwise_op(const std::string& op) {
  static const char* const kOps[] = {"Add",  "Sub",  "Mul",  "Max",       "Min",   "Relu",        "Identity",
                                     "Abs",  "Neg",  "Sum",  "Clip",      "LeakyRelu", "PRelu", "HardSigmoid",
                                     "GemmEpilogue", "MathSeg", "MeanScale", "Equal", "Greater", "Less",
                                     "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor", "Where", "Cast"};
  return std::any_of(std::begin(kOps), std::end(kOps), [&](const char* o) { return op == o; });
}

bool must_store(const Graph& g, int t) {
  if (g.tensors.at(size_t(t)).is_output) return true;
  for (const auto& [state, value] : g.updates)
    if (value == t) return true;
  return false;
}

bool is_reduce_op(const std::string& op) {
  return op == "ReduceSum" || op == "ReduceMean" || op == "ReduceMax" || op == "ReduceMin" || op == "ReduceProd";
}

bool is_movement_op(const std::string& op) { return op == "Concat" || op == "Slice" || op == "Gather"; }

namespace {

std::string unique_name(const Graph& g, const std::string& base) {
  if (g.find(base) < 0) return base;
  for (int i = 1;; ++i) {
    const std::string n = fmt::format("{}.{}", base, i);
    if (g.find(n) < 0) return n;
  }
}

// An int64 constant (a graph output that folded, or an operand of a run-time node) as the
// device holds int64: int32 words (in Tensor::data, bit for bit), each value checked to fit.
void int32_words(const Graph& g, Tensor& t) {
  t.data.clear();
  for (int64_t v : t.idata) {
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
      throw CompileError(fmt::format("{}: int64 {} '{}' holds {}, beyond the device's int32 words", g.source,
                                     t.is_output ? "output" : "constant", t.name, v));
    t.data.push_back(std::bit_cast<float>(int32_t(v)));
  }
  t.idata.clear();
}

// A constant with its last two dims swapped (per batch): its name "<name>.T".
int transposed_constant(Graph& g, int t, std::map<int, int>& cache) {
  if (auto it = cache.find(t); it != cache.end()) return it->second;
  const Tensor& src = g.tensors[t];
  const size_t r = src.shape.size();
  Tensor nt;
  nt.name = unique_name(g, src.name + ".T");
  nt.kind = TensorKind::Constant;
  nt.shape = src.shape;
  nt.shape_known = true;
  std::swap(nt.shape[r - 1], nt.shape[r - 2]);
  const int64_t rows = src.shape[r - 2], cols = src.shape[r - 1], mat = rows * cols;
  const int64_t batches = mat ? src.elements() / mat : 0;
  nt.data.resize(src.data.size());
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) nt.data[b * mat + j * rows + i] = src.data[b * mat + i * cols + j];
  const int id = g.add_tensor(std::move(nt));
  cache[t] = id;
  return id;
}

}  // namespace

namespace {

// The nodes with every composite operator (decompose.h) replaced by its composition, in
// turn (a composition may hold composites itself: a loss's LogSoftmax), and every
// elementwise node wider than an AGCU stream split (split_wide_broadcast).
std::vector<Node> expand_composites(Graph& g) {
  std::vector<Node> src;
  std::function<void(const Node&)> expand = [&](const Node& n0) {
    if (const std::vector<Node> parts = split_wide_broadcast(g, n0); !parts.empty()) {
      for (const Node& k : parts) expand(k);
      return;
    }
    if (!is_decomposed_op(n0.op)) {
      src.push_back(n0);
      return;
    }
    for (const Node& k : decompose(g, n0)) expand(k);
  };
  const std::vector<Node> in_nodes = g.nodes;  // the nodes are small: the tensors are moved, not copied
  for (const Node& n0 : in_nodes) expand(n0);
  return src;
}

// A new internal value tensor "<name of y><suffix>" of y's shape.
int internal_value(Graph& g, int y, const std::string& suffix) {
  Tensor p;
  p.name = unique_name(g, g.tensors[y].name + suffix);
  p.kind = TensorKind::Value;
  p.shape = g.tensors[y].shape;
  p.shape_known = true;
  return g.add_tensor(std::move(p));
}

// ReduceMean: the sum (lowered as ReduceSum into "<Y>.sum"), then an elementwise
// "MeanScale" node: FMUL by the fp32 value of 1/count (the reference's
// canon(sum * (1.0f/count))).
void legalize_mean(Graph& g, Node n, std::vector<Node>& nodes) {
  const int y = n.outputs.at(0);
  const auto& xs = g.tensors[n.inputs.at(0)].shape;
  int64_t rcount = 1;
  for (int64_t a : n.ints("axes")) rcount *= xs.at(size_t(a));
  const int pt = internal_value(g, y, ".sum");
  Node e;
  e.name = n.name + ".scale";
  e.op = "MeanScale";
  e.inputs = {pt};
  e.outputs = {y};
  e.attrs["scale"] = 1.0f / float(rcount);
  n.outputs = {pt};
  nodes.push_back(n);
  nodes.push_back(e);
}

// What legalize_product keeps from one product to the next.
struct ProductState {
  std::map<int, int> tcache;     // constant -> its transpose
  bool optimize = false;         // -O1/-O3
  std::map<int, int> shared_at;  // -O1/-O3: run-time A -> its A^T
  std::vector<int> readers;      // per tensor: the nodes reading it
};

// -O1/-O3: an A made by a Transpose that nothing else reads (and not stored) is made
// transposed by it instead (its perm's last two entries swapped: the one copy writes A^T),
// so the product reads A^T without a transpose of its own (an attention's q heads).
bool compose_transpose_a(Graph& g, const ProductState& ps, const Node& n, std::vector<Node>& nodes) {
  const int a = n.inputs[0];
  auto& shape = g.tensors[size_t(a)].shape;
  const size_t r = shape.size();
  if (!ps.optimize || r < 2 || ps.readers.at(size_t(a)) != 1 || must_store(g, a)) return false;
  const auto t = std::find_if(nodes.rbegin(), nodes.rend(), [&](const Node& m) { return m.outputs.at(0) == a; });
  if (t == nodes.rend() || t->op != "Transpose") return false;
  std::vector<int64_t> perm;
  if (t->has_iattr("perm"))
    perm = t->ints("perm");
  else
    for (size_t d = 0; d < r; ++d) perm.push_back(int64_t(r - 1 - d));
  std::swap(perm[r - 1], perm[r - 2]);
  t->iattrs["perm"] = perm;
  std::swap(shape[r - 1], shape[r - 2]);
  return true;
}

// A run-time A is gathered (n_acc requests per firing) once per n-tile: when there are
// several n-tiles, it is transposed once into A^T (one gather pass) by a Transpose node
// appended to `nodes`, so the product's A loads are contiguous. Returns whether it was.
// At -O1/-O3 (ps.optimize) the products of one A read one A^T (q, k and v of
// an attention); a transpose through a PMU (M and K multiples of LANES: a request per
// vector each way) is taken for one n-tile too, instead of the product's gather request
// per element (attention's context product: 2,306 -> 386 + 340 cycles on small); a
// gathering transpose only when the n-tiles outnumber the AGCUs (up to that many n-parts
// take each gathered A vector from one stream, fanned out, so A is gathered once anyway).
bool transpose_runtime_a(Graph& g, const arch::Config& cfg, Node& n, bool tb, std::vector<Node>& nodes,
                         ProductState& ps) {
  const auto& sa = g.tensors[n.inputs[0]].shape;
  const auto& sb = g.tensors[n.inputs[1]].shape;
  const int64_t M = sa[sa.size() - 2];
  const int64_t N = sb.size() < 2 ? 1 : tb ? sb[sb.size() - 2] : sb[sb.size() - 1];
  int64_t n_acc = 1;
  for (int64_t d = std::min<int64_t>(cfg.stages, cfg.lanes); d >= 1; --d)
    if (M % d == 0) {
      n_acc = d;
      break;
    }
  const int64_t K = sa[sa.size() - 1], lanes = int64_t(cfg.lanes);
  const bool through_pmu = cfg.num_pmu() > 0 && M % lanes == 0 && K % lanes == 0;
  const bool pays = ps.optimize ? through_pmu || (N + lanes - 1) / lanes > int64_t(cfg.agcu) : N > lanes;
  if (n_acc <= 1 || !pays) return false;
  if (ps.optimize)
    if (const auto it = ps.shared_at.find(n.inputs[0]); it != ps.shared_at.end()) {
      n.inputs[0] = it->second;
      return true;
    }
  Tensor at;
  at.name = unique_name(g, g.tensors[n.inputs[0]].name + ".T");
  at.kind = TensorKind::Value;
  at.shape = sa;
  std::swap(at.shape[sa.size() - 1], at.shape[sa.size() - 2]);
  at.shape_known = true;
  Node tr;
  tr.name = n.name + ".transposeA";
  tr.op = "Transpose";
  for (size_t d = 0; d < at.shape.size(); ++d) tr.iattrs["perm"].push_back(int64_t(d));
  std::swap(tr.iattrs["perm"][sa.size() - 1], tr.iattrs["perm"][sa.size() - 2]);
  tr.inputs = {n.inputs[0]};
  tr.outputs = {g.add_tensor(std::move(at))};
  if (ps.optimize) ps.shared_at[n.inputs[0]] = tr.outputs[0];
  n.inputs[0] = tr.outputs[0];
  nodes.push_back(tr);
  return true;
}

// Gemm with alpha != 1 or a C: the product into an internal tensor, then a GemmEpilogue
// node Y = [alpha*] P [+ beta*C]. Returns false (n unchanged) when there is none.
bool gemm_epilogue(Graph& g, Node& n, Node& e) {
  const float alpha = n.has_attr("alpha") ? n.attr("alpha") : 1.0f;
  const float beta = n.has_attr("beta") ? n.attr("beta") : 1.0f;
  const bool has_c = n.inputs.size() > 2 && n.inputs[2] >= 0 && beta != 0.0f;
  if (alpha == 1.0f && !has_c) return false;
  const int y = n.outputs[0];
  const int pt = internal_value(g, y, ".matmul");
  e.name = n.name + ".epilogue";
  e.op = "GemmEpilogue";
  e.inputs = {pt};
  if (has_c) e.inputs.push_back(n.inputs[2]);
  e.outputs = {y};
  e.attrs["alpha"] = alpha;
  e.attrs["beta"] = beta;
  e.attrs["has_c"] = has_c ? 1.0f : 0.0f;
  n.outputs = {pt};
  return true;
}

// MatMul/Gemm: constants stored so that their loads are contiguous (A as A^T, B as
// [K, N]), a run-time A transposed when that pays, Gemm's epilogue split off; the
// product's (A transposed, B transposed) flags recorded under its new index.
void legalize_product(Graph& g, const arch::Config* cfg, Node n, ProductState& ps, std::vector<Node>& nodes,
                      std::map<size_t, std::pair<bool, bool>>& trans) {
  if (n.inputs.size() < 2) throw CompileError(fmt::format("{}: {}: needs two operands", g.source, g.describe(n)));
  bool ta = n.op == "Gemm" && n.has_iattr("transA") && n.iattr("transA") != 0;
  bool tb = n.op == "Gemm" && n.has_iattr("transB") && n.iattr("transB") != 0;
  // Both tests before either transposed_constant: it adds a tensor, which may move g.tensors.
  const auto constant_matrix = [&g](int t) {
    return g.tensors[t].kind == TensorKind::Constant && g.tensors[t].shape.size() >= 2;
  };
  const bool const_a = constant_matrix(n.inputs[0]), const_b = constant_matrix(n.inputs[1]);
  if (const_a && !ta) {
    n.inputs[0] = transposed_constant(g, n.inputs[0], ps.tcache);
    ta = true;
  }
  if (const_b && tb) {
    n.inputs[1] = transposed_constant(g, n.inputs[1], ps.tcache);
    tb = false;
  }
  if (cfg && !ta && g.tensors[n.inputs[0]].shape.size() >= 2 && g.tensors[n.inputs[0]].kind != TensorKind::Constant &&
      (compose_transpose_a(g, ps, n, nodes) || transpose_runtime_a(g, *cfg, n, tb, nodes, ps)))
    ta = true;
  Node e;
  const bool epilogue = n.op == "Gemm" && gemm_epilogue(g, n, e);
  if (n.op == "Gemm") n.inputs.resize(2);
  trans[nodes.size()] = {ta, tb};
  nodes.push_back(n);
  if (epilogue) nodes.push_back(e);
}

void set_producers(Graph& g) {
  for (auto& t : g.tensors)
    if (t.kind == TensorKind::Value) t.producer = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int o : g.nodes[i].outputs) g.tensors[o].producer = int(i);
}

void set_roots(Lowered& lw) {
  const Graph& g = lw.g;
  lw.root.resize(g.tensors.size());
  for (size_t t = 0; t < g.tensors.size(); ++t) lw.root[t] = int(t);
  for (const Node& n : g.nodes)
    if (is_view_op(n.op) && !n.inputs.empty()) lw.root[n.outputs[0]] = lw.root[n.inputs[0]];
}

// Output o cannot own its buffer (a constant, a view of another's, a second view of one
// root): the data moves to a new tensor and o becomes an Identity's output.
void copy_output(Lowered& lw, int o) {
  Graph& g = lw.g;
  const bool is_const = g.tensors[o].kind == TensorKind::Constant;
  Tensor src = g.tensors[o];
  if (is_const && src.dtype == DType::I64) int32_words(g, src);  // named as the output
  src.name = unique_name(g, g.tensors[o].name + (is_const ? ".const" : ".view"));
  src.is_output = false;
  const int s = g.add_tensor(std::move(src));
  for (Node& n : g.nodes)
    for (int& i : n.inputs)
      if (i == o) i = s;
  if (!is_const) g.nodes[g.tensors[o].producer].outputs[0] = s;
  Tensor& ot = g.tensors[o];
  ot.kind = TensorKind::Value;
  ot.data.clear();
  Node c;
  c.name = unique_name(g, ot.name + ".copy");
  c.op = "Identity";
  c.inputs = {s};
  c.outputs = {o};
  g.nodes.push_back(c);
  set_producers(g);
  set_roots(lw);
}

// Copies for outputs that cannot own their buffer, then the owner of every buffer.
void own_outputs(Lowered& lw) {
  Graph& g = lw.g;
  std::vector<int> owner(g.tensors.size(), -1);
  for (int o : g.outputs)
    if (lw.root[o] == o && g.tensors[o].kind == TensorKind::Value) owner[o] = o;
  for (int o : g.outputs) {
    const int r = lw.root[o];
    if (g.tensors[o].kind == TensorKind::Input)
      throw CompileError(fmt::format("{}: output '{}' is a graph input; no operator computes it (not supported)",
                                     g.source, g.tensors[o].name));
    const bool is_const = g.tensors[o].kind == TensorKind::Constant;
    if (!is_const && owner[r] == o) continue;
    if (!is_const && g.tensors[r].kind == TensorKind::Value && owner[r] < 0) {
      owner[r] = o;
      continue;
    }
    copy_output(lw, o);
    owner.resize(g.tensors.size(), -1);
    owner[o] = o;
  }
  lw.owner.assign(g.tensors.size(), -1);
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (lw.root[t] == int(t)) lw.owner[t] = owner[t] >= 0 ? owner[t] : int(t);
}

}  // namespace

// A ReduceSum (or legalized ReduceMean) over the last axis alone of X [..., R, C] (C > 1, R and C multiples of
// LANES, a grid with PMUs) as ReduceSum over axis -2 of X transposed through a PMU
// ([..., C, R]: contiguous loads, one lane per row, instead of a gather per vector), its
// result [..., 1, R] viewed as the original output. Each output is the same sequential
// sum over C ascending, so the result is bit-identical. False when `n` is not such a sum.
bool row_sum_by_transpose(Graph& g, const arch::Config& cfg, const Node& n, std::vector<Node>& nodes) {
  // After legalize_mean a ReduceMean is its sum (the MeanScale node follows).
  if ((n.op != "ReduceSum" && n.op != "ReduceMean") || n.inputs.size() != 1 || cfg.num_pmu() == 0) return false;
  const auto& xs = g.tensors[size_t(n.inputs[0])].shape;
  const int64_t r = int64_t(xs.size()), L = cfg.lanes;
  if (r < 2 || n.ints("axes") != std::vector<int64_t>{r - 1} || xs[size_t(r - 1)] < 2 ||
      xs[size_t(r - 1)] % L != 0 || xs[size_t(r - 2)] % L != 0)
    return false;
  Tensor xt;
  xt.name = unique_name(g, g.tensors[size_t(n.inputs[0])].name + ".rowsT");
  xt.kind = TensorKind::Value;
  xt.shape = xs;
  std::swap(xt.shape[size_t(r - 1)], xt.shape[size_t(r - 2)]);
  xt.shape_known = true;
  Tensor sum = xt;
  sum.name = unique_name(g, g.tensors[size_t(n.outputs[0])].name + ".cols");
  sum.shape[size_t(r - 2)] = 1;
  auto node = [](std::string name, std::string op, int in, std::vector<int> out) {
    Node k;
    k.name = std::move(name);
    k.op = std::move(op);
    k.inputs = {in};
    k.outputs = std::move(out);
    return k;
  };
  Node tr = node(n.name + ".rowsT", "Transpose", n.inputs[0], {g.add_tensor(std::move(xt))});
  for (int64_t d = 0; d < r; ++d) tr.iattrs["perm"].push_back(d);
  std::swap(tr.iattrs["perm"][size_t(r - 1)], tr.iattrs["perm"][size_t(r - 2)]);
  Node cs = node(n.name + ".cols", n.op, tr.outputs[0], {g.add_tensor(std::move(sum))});
  cs.iattrs["axes"] = {r - 2};
  cs.iattrs["keepdims"] = {1};
  Node view = node(n.name, "Reshape", cs.outputs[0], n.outputs);
  view.iattrs["shape"] = g.tensors[size_t(n.outputs[0])].shape;
  view.iattrs["allowzero"] = {0};
  nodes.push_back(std::move(tr));
  nodes.push_back(std::move(cs));
  nodes.push_back(std::move(view));
  return true;
}

Lowered legalize(Graph in, const arch::Config* cfg, bool optimize) {
  Lowered lw;
  lw.g = std::move(in);
  Graph& g = lw.g;
  ProductState ps;
  ps.optimize = optimize;
  std::vector<Node> nodes;
  std::map<size_t, std::pair<bool, bool>> trans, trans_moved;  // new node index -> flags
  // Composites first (decompose.h), so each part goes through the rules below (the
  // reductions, the math sequences).
  const std::vector<Node> src = expand_composites(g);
  ps.readers.assign(g.tensors.size(), 0);
  for (const Node& n : src)
    for (int t : std::set<int>(n.inputs.begin(), n.inputs.end()))
      if (t >= 0) ++ps.readers[size_t(t)];
  for (const Node& n : src) {
    if (is_math_op(n.op)) {  // one "MathSeg" node per PCU-sized segment (lower_math.h)
      for (Node& s : expand_math_node(g, n, cfg, optimize)) nodes.push_back(std::move(s));
    } else if (n.op == "ReduceMean") {
      legalize_mean(g, n, nodes);
    } else if (n.op == "MatMul" || n.op == "Gemm") {
      legalize_product(g, cfg, n, ps, nodes, trans);
    } else {
      nodes.push_back(n);
    }
  }
  if (optimize && cfg) {  // -O1/-O3 (the ReduceMean sums of legalize_mean too)
    std::vector<Node> out;
    for (Node& n : nodes) {
      const size_t at = out.size();
      if (!row_sum_by_transpose(g, *cfg, n, out)) out.push_back(std::move(n));
      if (const auto it = trans.find(&n - nodes.data()); it != trans.end()) trans_moved[at] = it->second;
    }
    nodes = std::move(out);
    trans = std::move(trans_moved);
  }
  g.nodes = std::move(nodes);
  for (const auto& [k, v] : trans) lw.trans[int(k)] = v;
  set_producers(g);
  set_roots(lw);
  own_outputs(lw);
  for (Tensor& t : g.tensors)  // int64 constants read at run time (outputs: own_outputs)
    if (t.kind == TensorKind::Constant && t.dtype == DType::I64 && t.data.empty()) int32_words(g, t);
  return lw;
}

}  // namespace openrdu::compiler::detail
