// Decompositions of the operators of issue 23 into operators the device runs (ops_ext.h,
// decompose.h):
//  * ArgMax/ArgMin: m = ReduceMax/Min over the axis (keepdims); hit = Equal(X, m) or
//    IsNaN(X) (ReduceMax gives NaN when one is there: numpy's first NaN wins); the
//    position ReduceMin(Where(hit, iota, dim)) (select_last_index: ReduceMax(Where(hit,
//    iota, -1))), keepdims as asked, Cast to int64 (FTOI: device int32 words).
//  * TopK (K <= kTopKMax): K rounds of m = ReduceMax/Min over the untaken numbers (taken
//    positions and NaN replaced by -inf/+inf), the first untaken non-NaN position where X
//    equals m (else the first untaken NaN: numpy orders NaN last), its value ReduceMax(
//    Where(picked, X, -inf)) (X's bits, -0 kept; NaN canonical), the position marked
//    taken; the rounds' values or positions concatenated along the axis (positions cast to
//    int64).
//  * Expand: Where(true, X, X) with the constant `true` of the output shape reduced to 1
//    where X already has the size (SEL copies X's bits).
//  * Tile: per repeated axis, a Concat of the copies (at most 64 inputs per Concat).
//  * OneHot: the indices as fp32 (int64: ITOF; fp32: truncated by a round trip through
//    int), + depth where negative, unsqueezed at the axis, Equal to iota along the axis,
//    Where(hit, on, off) (int values: computed in fp32, then Cast to int64).
//  * ReduceL1 = ReduceSum(Abs), ReduceSumSquare = ReduceSum(Mul(X, X)), ReduceL2 =
//    Sqrt(ReduceSumSquare), ReduceLogSum = Log(ReduceSum), ReduceLogSumExp = Log(ReduceSum(
//    Exp(X - m))) + m with m = ReduceMax, an infinite m replaced by 0 (so all -inf gives
//    -inf and a +inf gives +inf), reshaped when keepdims = 0.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "decompose.h"
#include "decompose_builder.h"
#include "lower.h"
#include "ops_ext.h"

namespace openrdu::compiler::detail {

namespace {

using Attrs = std::map<std::string, std::vector<int64_t>>;
constexpr int64_t kMaxConcatInputs = 64;

// fp32 positions 0..dim-1 along `axis` of a rank-`rank` tensor (size 1 elsewhere).
int iota(Builder& b, size_t rank, int64_t axis, int64_t dim) {
  std::vector<int64_t> s(rank, 1);
  s[size_t(axis)] = dim;
  std::vector<float> v(static_cast<size_t>(dim));
  for (int64_t i = 0; i < dim; ++i) v[size_t(i)] = float(i);
  return b.constant(".iota", s, std::move(v));
}

int bool_constant(Builder& b, const std::string& sfx, const std::vector<int64_t>& shape, bool v) {
  const int c = b.fill(sfx, shape, v ? 1.0f : 0.0f);
  b.g.tensors[size_t(c)].dtype = DType::BOOL;
  return c;
}

// Cast of x to dt (a new value, or `out`).
int cast(Builder& b, const std::string& sfx, int x, DType dt, int out = -1) {
  const Attrs to = {{"to", {dt == DType::F32 ? 1 : dt == DType::I64 ? 7 : 9}}};
  if (out >= 0) return b.add(sfx, "Cast", {x}, out, to);
  return b.add_typed(sfx, "Cast", {x}, dt, to);
}

// The first (last) position along `axis` where `hit` holds, as fp32.
int hit_position(Builder& b, int hit, int io, int64_t axis, int64_t dim, bool last, int64_t keepdims) {
  const int none = b.fill(last ? ".none_last" : ".none", {}, last ? -1.0f : float(dim));
  const int cand = b.add(".candidates", "Where", {hit, io, none}, -1);
  return b.add(".position", last ? "ReduceMax" : "ReduceMin", {cand}, -1, {{"axes", {axis}}, {"keepdims", {keepdims}}});
}

void decompose_arg(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  const int64_t axis = n.iattr("axis");
  const int m = b.add(".extreme", n.op == "ArgMax" ? "ReduceMax" : "ReduceMin", {x}, -1,
                      {{"axes", {axis}}, {"keepdims", {1}}});
  const int eq = b.add_typed(".eq", "Equal", {x, m}, DType::BOOL);
  const int hit = b.add_typed(".hit", "Or", {eq, b.add_typed(".nan", "IsNaN", {x}, DType::BOOL)}, DType::BOOL);
  const int pos = hit_position(b, hit, iota(b, xs.size(), axis, xs[size_t(axis)]), axis, xs[size_t(axis)],
                               n.iattr("select_last_index") != 0, n.iattr("keepdims"));
  cast(b, ".index", pos, DType::I64, y);
}

// TopK's state across rounds: the positions taken so far (-1 before the first round).
struct TopKRounds {
  int x, io, none, masked, nan, real, taken = -1;
  Attrs red;
  bool largest;
};

// One round: the first untaken non-NaN position holding the extreme of the rest, else the
// first untaken NaN (numpy orders NaN after every number); its value (x's own bits but a
// canonical NaN) and position (fp32) appended to vals / idxs, the position marked taken.
void topk_round(Builder& b, TopKRounds& s, int64_t j, std::vector<int>& vals, std::vector<int>& idxs) {
  const std::string r = fmt::format(".r{}", j);
  const int cur = s.taken < 0 ? s.real : b.add(r + ".rest", "Where", {s.taken, s.masked, s.real}, -1);
  const int m = b.add(r + ".extreme", s.largest ? "ReduceMax" : "ReduceMin", {cur}, -1, s.red);
  int hit = b.add_typed(r + ".eq", "Equal", {cur, m}, DType::BOOL);
  hit = b.add_typed(r + ".number", "And", {hit, b.add_typed(r + ".not_nan", "Not", {s.nan}, DType::BOOL)},
                    DType::BOOL);
  int nan_left = s.nan;
  if (s.taken >= 0) {
    const int free = b.add_typed(r + ".free", "Not", {s.taken}, DType::BOOL);
    hit = b.add_typed(r + ".hit", "And", {hit, free}, DType::BOOL);
    nan_left = b.add_typed(r + ".nan_left", "And", {s.nan, free}, DType::BOOL);
  }
  const int i1 = b.add(r + ".first", "ReduceMin", {b.add(r + ".cand", "Where", {hit, s.io, s.none}, -1)}, -1, s.red);
  const int i2 = b.add(r + ".first_nan", "ReduceMin", {b.add(r + ".cand_nan", "Where", {nan_left, s.io, s.none}, -1)},
                       -1, s.red);
  const int found = b.add_typed(r + ".found", "Less", {i1, s.none}, DType::BOOL);
  const int i = b.add(r + ".index", "Where", {found, i1, i2}, -1);
  const int picked = b.add_typed(r + ".picked", "Equal", {s.io, i}, DType::BOOL);
  const int only = b.add(r + ".only", "Where", {picked, s.x, b.fill(r + ".ninf", {}, -INFINITY)}, -1);
  vals.push_back(b.add(r + ".value", "ReduceMax", {only}, -1, s.red));
  idxs.push_back(i);
  s.taken = s.taken < 0 ? picked : b.add_typed(r + ".taken", "Or", {s.taken, picked}, DType::BOOL);
}

void decompose_topk(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  const int64_t axis = n.iattr("axis"), dim = xs[size_t(axis)], k = n.iattr("k");
  const bool largest = n.iattr("largest") != 0, want_idx = n.iattr("output") == 1;
  TopKRounds s;
  s.x = x;
  s.io = iota(b, xs.size(), axis, dim);
  s.none = b.fill(".none", {}, float(dim));
  s.masked = b.fill(".masked", {}, largest ? -INFINITY : INFINITY);
  s.nan = b.add_typed(".nan", "IsNaN", {x}, DType::BOOL);
  s.real = b.add(".numbers", "Where", {s.nan, s.masked, x}, -1);
  s.red = {{"axes", {axis}}, {"keepdims", {1}}};
  s.largest = largest;
  std::vector<int> vals, idxs;
  for (int64_t j = 0; j < k; ++j) topk_round(b, s, j, vals, idxs);
  const std::vector<int>& parts = want_idx ? idxs : vals;
  const int out = want_idx ? -1 : y;
  const int res = k == 1 ? b.add(".result", "Identity", {parts[0]}, out)
                         : b.add(".result", "Concat", parts, out, {{"axis", {axis}}});
  if (want_idx) cast(b, ".indices", res, DType::I64, y);
}

void decompose_expand(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const std::vector<int64_t> xs = b.t(x).shape;
  std::vector<int64_t> s = b.t(y).shape;
  if (xs == s) {
    b.add(".copy", "Identity", {x}, y);
    return;
  }
  const size_t off = s.size() - xs.size();
  for (size_t d = 0; d < xs.size(); ++d)
    if (xs[d] == s[off + d]) s[off + d] = 1;
  const int all = bool_constant(b, ".all", s, true);
  b.add(".expand", "Where", {all, x, x}, y);
}

// Concat of `parts` along `axis` into `out` (-1: a new value), nested so that no Concat
// has more than kMaxConcatInputs inputs.
int concat_many(Builder& b, const std::string& sfx, std::vector<int> parts, int64_t axis, int out) {
  while (int64_t(parts.size()) > kMaxConcatInputs) {
    std::vector<int> next;
    for (size_t i = 0; i < parts.size(); i += size_t(kMaxConcatInputs)) {
      const size_t e = std::min(parts.size(), i + size_t(kMaxConcatInputs));
      const std::vector<int> group(parts.begin() + int64_t(i), parts.begin() + int64_t(e));
      next.push_back(group.size() == 1 ? group[0] : b.add(sfx + ".part", "Concat", group, -1, {{"axis", {axis}}}));
      b.g.tensors.at(size_t(next.back())).dtype = b.t(group[0]).dtype;
    }
    parts = std::move(next);
  }
  return b.add(sfx, "Concat", parts, out, {{"axis", {axis}}});
}

void decompose_tile(Builder& b) {
  const Node& n = b.n;
  const int y = n.outputs.at(0);
  const auto& rep = n.ints("repeats");
  std::vector<size_t> axes;
  for (size_t d = 0; d < rep.size(); ++d)
    if (rep[d] > 1) axes.push_back(d);
  int cur = n.inputs.at(0);
  if (axes.empty()) b.add(".copy", "Identity", {cur}, y);
  for (size_t k = 0; k < axes.size(); ++k) {
    const std::vector<int> copies(size_t(rep[axes[k]]), cur);
    cur = concat_many(b, fmt::format(".tile{}", axes[k]), copies, int64_t(axes[k]), k + 1 == axes.size() ? y : -1);
    b.g.tensors.at(size_t(cur)).dtype = b.t(y).dtype;  // bool or int64 copies keep their type
  }
}

void decompose_onehot(Builder& b) {
  const Node& n = b.n;
  const int ind = n.inputs.at(0), y = n.outputs.at(0);
  const int64_t axis = n.iattr("axis"), depth = n.iattr("depth");
  int f = ind;
  if (b.t(ind).dtype == DType::F32) f = cast(b, ".trunc_int", f, DType::I64);
  f = cast(b, ".indices_f", f, DType::F32);
  const int neg = b.add_typed(".negative", "Less", {f, b.fill(".zero", {}, 0.0f)}, DType::BOOL);
  const int wrapped = b.add(".wrapped", "Add", {f, b.fill(".depth", {}, float(depth))}, -1);
  const int w = b.add(".index", "Where", {neg, wrapped, f}, -1);
  const int u = b.add(".index_u", "Unsqueeze", {w}, -1, {{"axes", {axis}}});
  const int hit = b.add_typed(".hit", "Equal", {u, iota(b, b.t(y).shape.size(), axis, depth)}, DType::BOOL);
  const bool ints = n.has_iattr("values");
  const float off = ints ? float(n.ints("values")[0]) : n.attr("off");
  const float on = ints ? float(n.ints("values")[1]) : n.attr("on");
  const int v = b.add(".select", "Where", {hit, b.fill(".on", {}, on), b.fill(".off", {}, off)}, ints ? -1 : y);
  if (ints) cast(b, ".values", v, DType::I64, y);
}

// ReduceLogSumExp: Log(ReduceSum(Exp(X - m))) + m, m the maximum (0 where infinite).
void decompose_logsumexp(Builder& b, const Attrs& keep1) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const int m = b.add(".max", "ReduceMax", {x}, -1, keep1);
  const int inf = b.add_typed(".max_inf", "IsInf", {m}, DType::BOOL, {{"detect_positive", {1}}, {"detect_negative", {1}}});
  const int m0 = b.add(".shift", "Where", {inf, b.fill(".zero", {}, 0.0f), m}, -1);
  const int e = b.add(".exp", "Exp", {b.add(".centered", "Sub", {x, m0}, -1)}, -1);
  const int s = b.add(".sum", "ReduceSum", {e}, -1, keep1);
  const bool keep = n.iattr("keepdims") != 0;
  const int r = b.add(".add", "Add", {b.add(".log", "Log", {s}, -1), m0}, keep ? y : -1);
  if (!keep) b.add(".out", "Reshape", {r}, y, {{"shape", b.t(y).shape}, {"allowzero", {0}}});
}

void decompose_reduce(Builder& b) {
  const Node& n = b.n;
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const Attrs red = {{"axes", n.ints("axes")}, {"keepdims", {n.iattr("keepdims")}}};
  const std::string& op = n.op;
  if (op == "ReduceLogSumExp") return decompose_logsumexp(b, {{"axes", n.ints("axes")}, {"keepdims", {1}}});
  if (op == "ReduceL1") {
    b.add(".sum", "ReduceSum", {b.add(".abs", "Abs", {x}, -1)}, y, red);
  } else if (op == "ReduceSumSquare" || op == "ReduceL2") {
    const int sq = b.add(".sq", "Mul", {x, x}, -1);
    const int s = b.add(".sum", "ReduceSum", {sq}, op == "ReduceL2" ? -1 : y, red);
    if (op == "ReduceL2") b.add(".sqrt", "Sqrt", {s}, y);
  } else {  // ReduceLogSum
    b.add(".log", "Log", {b.add(".sum", "ReduceSum", {x}, -1, red)}, y);
  }
}

}  // namespace

void decompose_ext(Builder& b) {
  const std::string& op = b.n.op;
  if (op == "ArgMax" || op == "ArgMin")
    decompose_arg(b);
  else if (op == "TopK")
    decompose_topk(b);
  else if (op == "Expand")
    decompose_expand(b);
  else if (op == "Tile")
    decompose_tile(b);
  else if (op == "OneHot")
    decompose_onehot(b);
  else
    decompose_reduce(b);
}

std::vector<Node> split_wide_broadcast(Graph& g, const Node& n) {
  if (!is_elementwise(n.op) || n.outputs.size() != 1) return {};
  std::vector<std::vector<int64_t>> shapes;
  for (int i : n.inputs) shapes.push_back(g.tensors.at(size_t(i)).shape);
  const std::vector<int64_t> out = g.tensors.at(size_t(n.outputs[0])).shape;
  const DType dt = g.tensors[size_t(n.outputs[0])].dtype;
  if (broadcast_address_dims(shapes, out, fmt::format("{}: {}", g.source, g.describe(n))) <= 4) return {};
  size_t axis = 0;
  while (axis < out.size() && out[axis] == 1) ++axis;
  if (axis == out.size() || out[axis] > kBroadcastSplitMax) return {};
  Builder b(g, n);
  std::vector<int64_t> part_shape = out;
  part_shape[axis] = 1;
  std::vector<int> parts;
  for (int64_t p = 0; p < out[axis]; ++p) {
    Node k = n;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const std::vector<int64_t>& s = shapes[i];
      const size_t lead = out.size() - s.size();
      if (axis < lead || s[axis - lead] == 1) continue;  // broadcast along the axis: read whole
      std::vector<int64_t> st(s.size(), 0), en = s, sp(s.size(), 1);
      st[axis - lead] = p;
      en[axis - lead] = p + 1;
      const DType in_dt = b.t(n.inputs[i]).dtype;
      k.inputs[i] = b.add(fmt::format(".part{}.in{}", p, i), "Slice", {n.inputs[i]}, -1,
                          {{"starts", st}, {"ends", en}, {"steps", sp}});
      b.g.tensors[size_t(k.inputs[i])].dtype = in_dt;
    }
    k.name = fmt::format("{}.part{}", n.name, p);
    k.outputs = {b.value(fmt::format(".part{}", p), part_shape)};
    b.g.tensors[size_t(k.outputs[0])].dtype = dt;
    parts.push_back(k.outputs[0]);
    b.nodes.push_back(std::move(k));
  }
  b.add(".parts", "Concat", parts, n.outputs[0], {{"axis", {int64_t(axis)}}});
  return b.nodes;
}

}  // namespace openrdu::compiler::detail
