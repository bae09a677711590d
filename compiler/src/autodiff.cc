// Reverse-mode automatic differentiation (autodiff.h): one gradient rule per operator,
// each written with the operators the compiler lowers, in the order of operations of
// PyTorch's own backward formulas where that order changes the rounding
// (docs/training.md).
#include "autodiff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

namespace openrdu::compiler::detail {

namespace {

using Attrs = std::map<std::string, std::vector<int64_t>>;

int64_t count(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// One backward step: the gradient `dy` of node n's output and the builder; rules call
// give(k, g) for each input k that needs a gradient.
struct Rule {
  GraphBuilder& b;
  const Node& n;
  int dy;
  const std::vector<bool>& needs;
  std::map<int, std::vector<int>>& contrib;

  int x(size_t k) const { return n.inputs.at(k); }
  int y() const { return n.outputs.at(0); }
  bool need(size_t k) const { return k < n.inputs.size() && needs[size_t(x(k))]; }
  std::string base(size_t k) const { return b.t(x(k)).name + ".grad"; }
  int add(const std::string& op, std::vector<int> in, Attrs ia = {}, std::map<std::string, float> fa = {},
          DType dt = DType::F32) {
    return b.add(b.t(y()).name + ".bwd", op, std::move(in), std::move(ia), std::move(fa), dt);
  }
  int c(float v) { return b.scalar(b.t(y()).name + ".c", v); }
  int mask(const std::string& cmp, int a, int bb) {  // fp32 1/0 of a comparison
    return add("Cast", {add(cmp, {a, bb}, {}, {}, DType::BOOL)}, {{"to", {1}}});
  }
  int where(int cond_bool, int a, int bb) { return add("Where", {cond_bool, a, bb}); }
  // Sum a broadcast gradient back to the shape of input k.
  void give(size_t k, int g);
  // `g` broadcast to `shape` (g's shape is `shape` with some dimensions 1): times ones.
  int expand(int g, const std::vector<int64_t>& shape);
};

void Rule::give(size_t k, int g) {
  const auto want = b.shape(x(k));
  const auto gs = b.shape(g);
  if (gs != want) {
    std::vector<int64_t> axes;
    const size_t lead = gs.size() - want.size();
    for (size_t d = 0; d < gs.size(); ++d)
      if (gs[d] != 1 && (d < lead || want[d - lead] == 1)) axes.push_back(int64_t(d));
    if (!axes.empty()) g = add("ReduceSum", {g}, {{"axes", axes}, {"keepdims", {1}}});
    if (b.shape(g) != want) g = add("Reshape", {g}, {{"shape", want}, {"allowzero", {0}}});
  }
  contrib[x(k)].push_back(g);
}

int Rule::expand(int g, const std::vector<int64_t>& shape) {
  if (b.shape(g) == shape) return g;
  const auto gs = b.shape(g);
  std::vector<int64_t> os(shape.size(), 1);
  for (size_t d = 0; d < shape.size(); ++d)
    if (gs.at(d) == 1) os[d] = shape[d];
  return add("Mul", {g, b.constant(b.t(y()).name + ".ones", os, std::vector<float>(size_t(count(os)), 1.0f))});
}

// ---------------------------------------------------------------- elementwise rules

void grad_arith(Rule& r) {
  const std::string& op = r.n.op;
  const int dy = r.dy;
  if (op == "Add" || op == "Sum" || op == "Identity") {
    for (size_t k = 0; k < r.n.inputs.size(); ++k)
      if (r.need(k)) r.give(k, dy);
  } else if (op == "Mean") {
    const int s = r.add("Div", {dy, r.c(float(r.n.inputs.size()))});
    for (size_t k = 0; k < r.n.inputs.size(); ++k)
      if (r.need(k)) r.give(k, s);
  } else if (op == "Sub") {
    if (r.need(0)) r.give(0, dy);
    if (r.need(1)) r.give(1, r.add("Neg", {dy}));
  } else if (op == "Neg") {
    r.give(0, r.add("Neg", {dy}));
  } else if (op == "Mul") {
    if (r.need(0)) r.give(0, r.add("Mul", {dy, r.x(1)}));
    if (r.need(1)) r.give(1, r.add("Mul", {dy, r.x(0)}));
  } else if (op == "Div") {  // d/db (a/b) = -(a/b)/b
    if (r.need(0)) r.give(0, r.add("Div", {dy, r.x(1)}));
    if (r.need(1)) r.give(1, r.add("Neg", {r.add("Mul", {dy, r.add("Div", {r.y(), r.x(1)})})}));
  } else if (op == "Max" || op == "Min") {  // the first operand wins ties
    if (r.n.inputs.size() == 1) return r.give(0, dy);
    if (r.n.inputs.size() > 2)
      throw CompileError(fmt::format("{}: {}: no gradient rule for more than two operands", r.b.graph().source,
                                     r.b.graph().describe(r.n)));
    const int m = r.mask(op == "Max" ? "GreaterOrEqual" : "LessOrEqual", r.x(0), r.x(1));
    const int da = r.add("Mul", {dy, m});
    if (r.need(0)) r.give(0, da);
    if (r.need(1)) r.give(1, r.add("Sub", {dy, da}));
  } else if (op == "Abs") {
    const int s = r.add("Sub", {r.mask("Greater", r.x(0), r.c(0.0f)), r.mask("Less", r.x(0), r.c(0.0f))});
    r.give(0, r.add("Mul", {dy, s}));
  }
}

void grad_activation(Rule& r) {
  const std::string& op = r.n.op;
  const int dy = r.dy, x = r.x(0), y = r.y();
  const int pos = r.add("Greater", {x, r.c(0.0f)}, {}, {}, DType::BOOL);
  if (op == "Relu") {
    r.give(0, r.where(r.add("Greater", {y, r.c(0.0f)}, {}, {}, DType::BOOL), dy, r.c(0.0f)));
  } else if (op == "LeakyRelu") {
    r.give(0, r.where(pos, dy, r.add("Mul", {dy, r.c(r.n.attr("alpha"))})));
  } else if (op == "PRelu") {
    if (r.need(0)) r.give(0, r.where(pos, dy, r.add("Mul", {dy, r.x(1)})));
    if (r.need(1)) r.give(1, r.where(pos, r.c(0.0f), r.add("Mul", {dy, x})));
  } else if (op == "Elu" || op == "Selu") {
    const float alpha = r.n.attr("alpha"), gamma = op == "Selu" ? r.n.attr("gamma") : 1.0f;
    // x > 0: dy*gamma; else dy*(y + alpha*gamma) (y = gamma*alpha*(exp(x)-1)).
    const int neg = r.add("Mul", {dy, r.add("Add", {y, r.c(alpha * gamma)})});
    r.give(0, r.where(pos, gamma == 1.0f ? dy : r.add("Mul", {dy, r.c(gamma)}), neg));
  } else if (op == "Clip") {
    int m = r.c(1.0f);
    if (r.n.has_attr("min")) m = r.add("Mul", {m, r.mask("GreaterOrEqual", x, r.c(r.n.attr("min")))});
    if (r.n.has_attr("max")) m = r.add("Mul", {m, r.mask("LessOrEqual", x, r.c(r.n.attr("max")))});
    if (r.n.has_attr("min_input") || r.n.has_attr("max_input"))
      throw CompileError(fmt::format("{}: {}: no gradient rule for Clip with run-time bounds", r.b.graph().source,
                                     r.b.graph().describe(r.n)));
    r.give(0, r.add("Mul", {dy, m}));
  } else if (op == "HardSigmoid") {
    const int lin = r.mask("Less", r.c(0.0f), y);
    const int in = r.add("Mul", {lin, r.mask("Less", y, r.c(1.0f))});
    r.give(0, r.add("Mul", {r.add("Mul", {dy, in}), r.c(r.n.attr("alpha"))}));
  }
}

void grad_math(Rule& r) {
  const std::string& op = r.n.op;
  const int dy = r.dy, x = r.x(0), y = r.y();
  if (op == "Exp") {
    r.give(0, r.add("Mul", {dy, y}));
  } else if (op == "Log") {
    r.give(0, r.add("Div", {dy, x}));
  } else if (op == "Sqrt") {  // dy / (2 y)
    r.give(0, r.add("Div", {dy, r.add("Mul", {y, r.c(2.0f)})}));
  } else if (op == "Reciprocal") {  // -dy * y^2
    r.give(0, r.add("Mul", {r.add("Neg", {dy}), r.add("Mul", {y, y})}));
  } else if (op == "Sigmoid") {  // dy * (1 - y) * y
    r.give(0, r.add("Mul", {r.add("Mul", {dy, r.add("Sub", {r.c(1.0f), y})}), y}));
  } else if (op == "Tanh") {  // dy * (1 - y*y)
    r.give(0, r.add("Mul", {dy, r.add("Sub", {r.c(1.0f), r.add("Mul", {y, y})})}));
  } else if (op == "Erf") {  // dy * 2/sqrt(pi) * exp(-x^2)
    const int e = r.add("Exp", {r.add("Neg", {r.add("Mul", {x, x})})});
    r.give(0, r.add("Mul", {dy, r.add("Mul", {e, r.c(float(2.0 / std::sqrt(std::numbers::pi)))})}));
  } else if (op == "Softplus") {  // dy * sigmoid(x)
    r.give(0, r.add("Mul", {dy, r.add("Sigmoid", {x})}));
  } else if (op == "Softsign") {  // dy / (1 + |x|)^2
    const int d = r.add("Add", {r.add("Abs", {x}), r.c(1.0f)});
    r.give(0, r.add("Div", {dy, r.add("Mul", {d, d})}));
  } else if (op == "Pow") {
    const Tensor& e = r.b.t(r.x(1));
    const bool constant = e.kind == TensorKind::Constant && e.elements() == 1;
    const float c = constant ? e.data[0] : 0.0f;
    if (r.need(0)) {  // dy * (c * x^(c-1)); a run-time exponent: dy * b * x^b / x
      int d;
      if (constant)
        d = r.add("Mul", {r.c(c), r.add("Pow", {x, r.c(c - 1.0f)})});
      else
        d = r.add("Div", {r.add("Mul", {r.x(1), y}), x});
      r.give(0, r.add("Mul", {dy, d}));
    }
    if (r.need(1)) r.give(1, r.add("Mul", {dy, r.add("Mul", {y, r.add("Log", {x})})}));
  } else if (op == "Where") {
    if (r.need(1)) r.give(1, r.where(x, dy, r.c(0.0f)));
    if (r.need(2)) r.give(2, r.where(x, r.c(0.0f), dy));
  }
}

// ---------------------------------------------------------------- products

std::vector<int64_t> swap_last(std::vector<int64_t> perm_or_shape) {
  std::swap(perm_or_shape[perm_or_shape.size() - 1], perm_or_shape[perm_or_shape.size() - 2]);
  return perm_or_shape;
}

int transpose_last(Rule& r, int t) {
  std::vector<int64_t> perm(r.b.shape(t).size());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = int64_t(d);
  return r.add("Transpose", {t}, {{"perm", swap_last(perm)}});
}

// MatMul: dA = dY B^T, dB = A^T dY (1-D operands promoted to matrices by views, batch
// dimensions summed back by give()).
void grad_matmul(Rule& r) {
  auto promote = [&](int t, bool row) {
    auto s = r.b.shape(t);
    if (s.size() != 1) return t;
    s.insert(row ? s.begin() : s.end(), 1);
    return r.add("Reshape", {t}, {{"shape", s}, {"allowzero", {0}}});
  };
  const int a = promote(r.x(0), true), bm = promote(r.x(1), false);
  const auto ys = matmul_shape(r.b.shape(a), r.b.shape(bm), r.n.name);
  const int dy = r.b.shape(r.dy) != ys ? r.add("Reshape", {r.dy}, {{"shape", ys}, {"allowzero", {0}}}) : r.dy;
  if (r.need(0)) r.give(0, r.add("MatMul", {dy, transpose_last(r, bm)}));
  if (r.need(1)) r.give(1, r.add("MatMul", {transpose_last(r, a), dy}));
}

// Gemm: Y = alpha op(A) op(B) + beta C.
void grad_gemm(Rule& r) {
  const bool ta = r.n.iattr("transA") != 0, tb = r.n.iattr("transB") != 0;
  const float alpha = r.n.attr("alpha"), beta = r.n.attr("beta");
  auto gemm = [&](int p, int q, bool tp, bool tq) {
    return r.add("Gemm", {p, q}, {{"transA", {tp}}, {"transB", {tq}}}, {{"alpha", alpha}, {"beta", 1.0f}});
  };
  const int dy = r.dy;
  if (r.need(0)) r.give(0, ta ? gemm(r.x(1), dy, tb, true) : gemm(dy, r.x(1), false, !tb));
  if (r.need(1)) r.give(1, tb ? gemm(dy, r.x(0), true, ta) : gemm(r.x(0), dy, !ta, false));
  if (r.need(2)) r.give(2, beta == 1.0f ? dy : r.add("Mul", {dy, r.c(beta)}));
}

// ---------------------------------------------------------------- shapes and movement

// Scatter `g` (the selected elements along `axis`) into a tensor whose dimension `axis`
// has size `dim`: element i goes to index idx[i] (summed where indices repeat), by a
// product with a 0/1 selection matrix (exact: one term per output unless repeated).
int scatter_axis(Rule& r, int g, size_t axis, const std::vector<int64_t>& idx, int64_t dim) {
  const auto gs = r.b.shape(g);
  const size_t last = gs.size() - 1;
  std::vector<int64_t> perm(gs.size());
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = int64_t(d);
  std::swap(perm[axis], perm[last]);
  const int moved = axis == last ? g : r.add("Transpose", {g}, {{"perm", perm}});
  std::vector<float> sel(size_t(int64_t(idx.size()) * dim), 0.0f);
  for (size_t i = 0; i < idx.size(); ++i) sel[size_t(int64_t(i) * dim + idx[i])] = 1.0f;
  const int m = r.b.constant(r.b.t(r.y()).name + ".scatter", {int64_t(idx.size()), dim}, std::move(sel));
  const int p = r.add("MatMul", {moved, m});
  return axis == last ? p : r.add("Transpose", {p}, {{"perm", perm}});
}

void grad_movement(Rule& r) {
  const std::string& op = r.n.op;
  const auto xs = r.b.shape(r.x(0));
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
    r.give(0, r.add("Reshape", {r.dy}, {{"shape", xs}, {"allowzero", {0}}}));
  } else if (op == "Transpose") {
    const auto& p = r.n.ints("perm");
    std::vector<int64_t> inv(p.size());
    for (size_t d = 0; d < p.size(); ++d) inv[size_t(p[d])] = int64_t(d);
    r.give(0, r.add("Transpose", {r.dy}, {{"perm", inv}}));
  } else if (op == "Concat") {
    const int64_t axis = r.n.iattr("axis");
    int64_t off = 0;
    for (size_t k = 0; k < r.n.inputs.size(); ++k) {
      const auto s = r.b.shape(r.x(k));
      if (r.need(k)) {
        std::vector<int64_t> st(s.size(), 0), en(r.b.shape(r.dy)), sp(s.size(), 1);
        st[size_t(axis)] = off;
        en[size_t(axis)] = off + s[size_t(axis)];
        r.give(k, r.add("Slice", {r.dy}, {{"starts", st}, {"ends", en}, {"steps", sp}}));
      }
      off += s[size_t(axis)];
    }
  } else if (op == "Slice") {
    const auto &st = r.n.ints("starts"), &sp = r.n.ints("steps");
    int g = r.dy;
    for (size_t d = 0; d < xs.size(); ++d) {
      const int64_t n = r.b.shape(g)[d];
      if (n == xs[d] && st[d] == 0 && sp[d] == 1) continue;
      std::vector<int64_t> idx(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = st[d] + i * sp[d];
      g = scatter_axis(r, g, d, idx, xs[d]);
    }
    r.give(0, g);
  } else if (op == "Gather") {
    const size_t axis = size_t(r.n.iattr("axis"));
    const auto& idx = r.n.ints("indices");
    std::vector<int64_t> flat(xs.begin(), xs.begin() + axis);
    flat.push_back(int64_t(idx.size()));
    flat.insert(flat.end(), xs.begin() + axis + 1, xs.end());
    const int g = r.add("Reshape", {r.dy}, {{"shape", flat}, {"allowzero", {0}}});
    r.give(0, scatter_axis(r, g, axis, idx, xs[axis]));
  }
}

// ---------------------------------------------------------------- reductions, softmax

void grad_reduce(Rule& r) {
  const std::string& op = r.n.op;
  const auto xs = r.b.shape(r.x(0));
  const auto& axes = r.n.ints("axes");
  std::vector<int64_t> kept = xs;
  int64_t n = 1;
  for (int64_t a : axes) {
    kept[size_t(a)] = 1;
    n *= xs[size_t(a)];
  }
  auto keep = [&](int t) {
    return r.b.shape(t) == kept ? t : r.add("Reshape", {t}, {{"shape", kept}, {"allowzero", {0}}});
  };
  const int dy = keep(r.dy);
  if (op == "ReduceSum") {
    r.give(0, r.expand(dy, xs));
  } else if (op == "ReduceMean") {  // dy / count, as PyTorch's mean backward
    r.give(0, r.expand(r.add("Div", {dy, r.c(float(n))}), xs));
  } else {  // Max/Min: split equally among the elements equal to the result (amax)
    const int m = r.mask("Equal", r.x(0), r.expand(keep(r.y()), xs));
    const int cnt = r.add("ReduceSum", {m}, {{"axes", axes}, {"keepdims", {1}}});
    r.give(0, r.add("Mul", {r.expand(r.add("Div", {dy, cnt}), xs), m}));
  }
}

void grad_softmax(Rule& r) {
  const int64_t axis = r.n.iattr("axis");
  const Attrs red = {{"axes", {axis}}, {"keepdims", {1}}};
  if (r.n.op == "Softmax") {  // y * (dy - sum(dy * y))
    const int s = r.add("ReduceSum", {r.add("Mul", {r.dy, r.y()})}, red);
    r.give(0, r.add("Mul", {r.y(), r.add("Sub", {r.dy, s})}));
  } else {  // dy - exp(y) * sum(dy)
    const int s = r.add("ReduceSum", {r.dy}, red);
    r.give(0, r.add("Sub", {r.dy, r.add("Mul", {r.add("Exp", {r.y()}), s})}));
  }
}

// DropoutTrain: dx = dy * keep * scale, the same mask: DropoutTrain(dy, index, step).
void grad_dropout(Rule& r) {
  r.give(0, r.add("DropoutTrain", {r.dy, r.x(1), r.x(2)}, {{"seed", r.n.ints("seed")}}, r.n.attrs));
}

using RuleFn = void (*)(Rule&);
const std::map<std::string, RuleFn>& rules() {
  static const std::map<std::string, RuleFn> kRules = {
      {"Add", grad_arith},          {"Sub", grad_arith},           {"Mul", grad_arith},
      {"Div", grad_arith},          {"Neg", grad_arith},           {"Sum", grad_arith},
      {"Mean", grad_arith},         {"Identity", grad_arith},      {"Max", grad_arith},
      {"Min", grad_arith},          {"Abs", grad_arith},           {"Relu", grad_activation},
      {"LeakyRelu", grad_activation}, {"PRelu", grad_activation},  {"Elu", grad_activation},
      {"Selu", grad_activation},    {"Clip", grad_activation},     {"HardSigmoid", grad_activation},
      {"Exp", grad_math},           {"Log", grad_math},            {"Sqrt", grad_math},
      {"Reciprocal", grad_math},    {"Sigmoid", grad_math},        {"Tanh", grad_math},
      {"Erf", grad_math},           {"Softplus", grad_math},       {"Softsign", grad_math},
      {"Pow", grad_math},           {"Where", grad_math},          {"MatMul", grad_matmul},
      {"Gemm", grad_gemm},          {"Reshape", grad_movement},    {"Flatten", grad_movement},
      {"Squeeze", grad_movement},   {"Unsqueeze", grad_movement},  {"Transpose", grad_movement},
      {"Concat", grad_movement},    {"Slice", grad_movement},      {"Gather", grad_movement},
      {"ReduceSum", grad_reduce},   {"ReduceMean", grad_reduce},   {"ReduceMax", grad_reduce},
      {"ReduceMin", grad_reduce},   {"Softmax", grad_softmax},     {"LogSoftmax", grad_softmax},
      {"DropoutTrain", grad_dropout},
  };
  return kRules;
}

}  // namespace

bool has_gradient_rule(const std::string& op) { return rules().count(op) != 0; }

std::map<int, int> gradients(GraphBuilder& b, int loss, const std::vector<int>& wrt) {
  Graph& g = b.graph();
  const size_t nfwd = g.nodes.size();
  // Tensors on a path from wrt to the loss: forward from wrt, backward from the loss.
  std::vector<bool> from(g.tensors.size(), false), to(g.tensors.size(), false);
  for (int w : wrt) from[size_t(w)] = true;
  for (size_t i = 0; i < nfwd; ++i)
    for (int in : g.nodes[i].inputs)
      if (from[size_t(in)] && g.tensors[size_t(g.nodes[i].outputs[0])].dtype == DType::F32)
        from[size_t(g.nodes[i].outputs[0])] = true;
  to[size_t(loss)] = true;
  for (size_t i = nfwd; i-- > 0;)
    if (to[size_t(g.nodes[i].outputs[0])])
      for (int in : g.nodes[i].inputs) to[size_t(in)] = true;
  std::vector<bool> needs(g.tensors.size());
  for (size_t t = 0; t < needs.size(); ++t) needs[t] = from[t] && to[t];

  std::map<int, std::vector<int>> contrib;
  contrib[loss].push_back(b.constant(g.tensors[size_t(loss)].name + ".grad_seed", g.tensors[size_t(loss)].shape,
                                     std::vector<float>(size_t(g.tensors[size_t(loss)].elements()), 1.0f)));
  // The gradient of t: the sum of its contributions, in the order they were made.
  auto total = [&](int t) {
    auto& v = contrib[t];
    int s = v.at(0);
    for (size_t k = 1; k < v.size(); ++k) s = b.add(g.tensors[size_t(t)].name + ".gradsum", "Add", {s, v[k]});
    v = {s};
    return s;
  };
  for (size_t i = nfwd; i-- > 0;) {
    const Node n = g.nodes[i];  // a copy: rules append to g.nodes
    const int y = n.outputs[0];
    if (!needs[size_t(y)] || contrib.count(y) == 0) continue;
    auto it = rules().find(n.op);
    if (it == rules().end())
      throw CompileError(fmt::format("{}: {}: no gradient rule for operator {} (the loss depends on it through a "
                                     "trainable parameter)",
                                     g.source, g.describe(n), n.op));
    Rule r{b, n, total(y), needs, contrib};
    it->second(r);
  }
  std::map<int, int> out;
  for (int w : wrt)
    if (contrib.count(w)) out[w] = total(w);
  return out;
}

}  // namespace openrdu::compiler::detail
