// CPU reference: interpret the IR on the host with the device's fp32 semantics
// (binary32, round to nearest even, subnormals kept, every NaN result the canonical
// NaN 0x7FC00000, max/min propagate NaN, max(-0,+0) = +0, min(-0,+0) = -0).
// The same kernels evaluate nodes during constant folding (fold.cc), also on int64.
//
// Reference semantics (the lowering must match them bit for bit):
//  * MatMul: C[m][n] = FMA chain over k ascending from -0.0: acc = fma(A[m][k], B[k][n], acc)
//    (numpy broadcasting of batch dimensions, 1-D operands promoted).
//  * Gemm: p = that chain over op(A), op(B); p = alpha*p (rounded) when alpha != 1;
//    y = fma(beta, C[broadcast], p) when C is given and beta != 0, else y = p.
//  * ReduceSum: acc from -0.0, acc = acc + x over the reduced elements in C order (one
//    rounding each); ReduceMean: that sum times the fp32 value of 1/count (one rounding);
//    ReduceMax/ReduceMin: FMAX/FMIN chain from -inf/+inf in C order.
//  * Softmax/LogSoftmax along the axis: the composition the device runs (decompose.h):
//    m = ReduceMax, d = x - m, e = Exp(d) (the device sequence), s = ReduceSum(e) (C
//    order from -0.0), Softmax Div(e, s), LogSoftmax d - Log(s) (device sequences).
//  * Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization,
//    LayerNormalization: likewise the composition of decompose.h (im2col by Slice and
//    Concat, then MatMul / ReduceMax / ReduceSum and Mul; BatchNormalization folded to
//    Mul and Add when its parameters are constants), each node with its reference.
//  * Exp, Log, Sqrt, Reciprocal, Div, Sigmoid, Tanh, Erf, Pow, Elu, Selu, Softplus,
//    Softsign, Mean (fp32): the device's PCU operation sequence (lower_math.h), run op
//    by op with the device's rules; Div is a*(1/b) refined, not IEEE division (int64
//    Div, in shape arithmetic, stays exact). Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Concat,
//    Slice, Gather: exact data movement.
//  * ArgMax, ArgMin, TopK, Expand, Tile, Range, OneHot: exact selection and movement on
//    any element type (eval_selection; the device runs decompose_ops.cc's composition,
//    which the node suite and test_ops_ext compare bit for bit). ReduceProd: FMUL chain
//    from 1.0 in C order. ReduceL1/L2/SumSquare/LogSum/LogSumExp and LayerNormalization's
//    Mean/InvStdDev: their composition (decompose_ops.cc, decompose.cc). IsNaN, IsInf,
//    Sign, Floor, Ceil, Round, Mod (fp32): the device's sequences (lower_math.cc);
//    int64 Sign and Mod (fmod 0: the sign of the divisor, 1: of the dividend) exact, Mod
//    by zero 0. At run time (reference_run) int64 Add, Sub, Mul, Sum, Neg and Abs wrap
//    to int32 like the device's words (wraps_like_int32); folding keeps int64.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>

#include "decompose.h"
#include "fold.h"
#include "lower_math.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/gen/isa.h"

namespace openrdu::compiler {

namespace {

using detail::Value;

float canon(float x) { return std::isnan(x) ? std::bit_cast<float>(gen::kCanonicalNan) : x; }

float fmax_dev(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::bit_cast<float>(gen::kCanonicalNan);
  if (a == 0.0f && b == 0.0f) return std::signbit(a) ? b : a;  // +0 wins
  return a > b ? a : b;
}

float fmin_dev(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::bit_cast<float>(gen::kCanonicalNan);
  if (a == 0.0f && b == 0.0f) return std::signbit(a) ? a : b;  // -0 wins
  return a < b ? a : b;
}

// Element strides of `in` as seen from an index of `out` (0 for broadcast dims).
std::vector<int64_t> bcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t s = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t di = in.size() - 1 - k, d = out.size() - 1 - k;
    st[d] = in[di] == 1 ? 0 : s;
    s *= in[di];
  }
  return st;
}

// Strides of a C-order shape.
std::vector<int64_t> strides_of(const std::vector<int64_t>& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

int64_t count_of(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Calls f(out_flat_index, multi_index) for every element of `shape` in C order.
template <class F>
void for_each_index(const std::vector<int64_t>& shape, F&& f) {
  const int64_t count = count_of(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t e = 0; e < count; ++e) {
    f(e, idx);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

// Data movement: out[e] = in[src(e)], for either element type.
template <class T, class Src>
std::vector<T> gather_elems(const std::vector<T>& in, const std::vector<int64_t>& out_shape, Src&& src) {
  std::vector<T> out(count_of(out_shape));
  for_each_index(out_shape, [&](int64_t e, const std::vector<int64_t>& idx) { out[e] = in[src(idx)]; });
  return out;
}

float elementwise_f32(const Node& n, const std::vector<float>& args) {
  const std::string& op = n.op;
  if (op == "Add") return canon(args[0] + args[1]);
  if (op == "Sub") return canon(args[0] - args[1]);
  if (op == "Mul") return canon(args[0] * args[1]);
  if (op == "Div") return canon(args[0] / args[1]);
  if (op == "Max" || op == "Min") {
    float y = args[0];
    for (size_t k = 1; k < args.size(); ++k) y = op == "Max" ? fmax_dev(y, args[k]) : fmin_dev(y, args[k]);
    return y;
  }
  if (op == "Relu") return fmax_dev(args[0], 0.0f);
  if (op == "Identity") return args[0];
  if (op == "Abs") return canon(std::fabs(args[0]));
  if (op == "Neg") return canon(-args[0]);
  if (op == "Sum") {
    float y = args[0];
    for (size_t k = 1; k < args.size(); ++k) y = canon(y + args[k]);
    return y;
  }
  if (op == "Clip") {
    float y = args[0];
    size_t next = 1;
    for (const char* key : {"min", "max"}) {
      float bound;
      if (n.has_attr(std::string(key) + "_input"))
        bound = args.at(next++);
      else if (n.has_attr(key))
        bound = n.attr(key);
      else
        continue;
      y = key[1] == 'i' ? fmax_dev(y, bound) : fmin_dev(y, bound);
    }
    return y;
  }
  if (op == "LeakyRelu" || op == "PRelu") {
    // x < 0 ? x * slope : x, the operand itself (bits unchanged) otherwise.
    const float slope = op == "PRelu" ? args[1] : n.attr("alpha");
    return args[0] < 0.0f ? canon(args[0] * slope) : args[0];
  }
  if (op == "HardSigmoid") {
    // Two roundings: the product is rounded to binary32 before the sum.
    const volatile float prod = canon(args[0] * n.attr("alpha"));
    return fmin_dev(fmax_dev(canon(prod + n.attr("beta")), 0.0f), 1.0f);
  }
  throw CompileError(fmt::format("node '{}' ({}): unsupported operator", n.name, n.op));
}

// Integer Mod: fmod = 1 as C (the sign of a), fmod = 0 as Python (the sign of b); a zero
// divisor gives 0 (ONNX leaves it undefined; the device's program gives 0 too).
int64_t mod_i64(int64_t a, int64_t b, bool fmod) {
  if (b == 0) return 0;
  if (b == -1) return 0;
  const int64_t r = a % b;
  return !fmod && r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

int64_t elementwise_i64(const Node& n, const std::vector<int64_t>& a, const std::string& what) {
  const std::string& op = n.op;
  if (op == "Add") return int64_t(uint64_t(a[0]) + uint64_t(a[1]));
  if (op == "Sub") return int64_t(uint64_t(a[0]) - uint64_t(a[1]));
  if (op == "Mul") return int64_t(uint64_t(a[0]) * uint64_t(a[1]));
  if (op == "Div") {
    if (a[1] == 0) throw CompileError(fmt::format("{}: int64 division by zero", what));
    return a[0] / a[1];  // truncation, as numpy's divide followed by the cast ONNX specifies
  }
  if (op == "Max") return *std::max_element(a.begin(), a.end());
  if (op == "Min") return *std::min_element(a.begin(), a.end());
  if (op == "Identity") return a[0];
  if (op == "Sum") return std::accumulate(a.begin(), a.end(), int64_t(0), [](int64_t x, int64_t y) {
    return int64_t(uint64_t(x) + uint64_t(y));
  });
  if (op == "Neg") return int64_t(0 - uint64_t(a[0]));
  if (op == "Abs") return a[0] < 0 ? int64_t(0 - uint64_t(a[0])) : a[0];
  if (op == "Sign") return a[0] > 0 ? 1 : a[0] < 0 ? -1 : 0;
  if (op == "Mod") return mod_i64(a[0], a[1], n.iattr("fmod") != 0);
  throw CompileError(fmt::format("{}: not evaluated on int64 data", what));
}

// f(e, off) for every element e of out_shape, off[k] the element of input k that
// broadcasts to it.
template <class F>
void for_each_broadcast(const std::vector<const Value*>& in, const std::vector<int64_t>& out_shape, F&& f) {
  std::vector<std::vector<int64_t>> st;
  for (const Value* v : in) st.push_back(bcast_strides(v->shape, out_shape));
  std::vector<int64_t> off(in.size());
  for_each_index(out_shape, [&](int64_t e, const std::vector<int64_t>& idx) {
    for (size_t k = 0; k < in.size(); ++k) {
      off[k] = 0;
      for (size_t d = 0; d < idx.size(); ++d) off[k] += idx[d] * st[k][d];
    }
    f(e, off);
  });
}

bool is_typed_op(const std::string& op) {
  static const std::set<std::string> kOps = {"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not",
                                             "And",   "Or",      "Xor",  "Where"};
  return kOps.count(op) != 0;
}

// One element of a comparison, logic or Where node, operands as double (fp32, bool 0/1
// and int64 values below 2^53 exactly): the device's FEQ/FLT/FLE (false with a NaN,
// -0 == +0), AND/OR/XOR of 1.0f/0 words, SEL.
double typed_element(const Node& n, const double* a) {
  const std::string& op = n.op;
  if (op == "Equal") return a[0] == a[1];
  if (op == "Greater") return a[0] > a[1];
  if (op == "Less") return a[0] < a[1];
  if (op == "GreaterOrEqual") return a[0] >= a[1];
  if (op == "LessOrEqual") return a[0] <= a[1];
  if (op == "Not") return a[0] == 0;
  if (op == "And") return a[0] != 0 && a[1] != 0;
  if (op == "Or") return a[0] != 0 || a[1] != 0;
  if (op == "Xor") return (a[0] != 0) != (a[1] != 0);
  return a[0] != 0 ? a[1] : a[2];  // Where
}

Value eval_typed(const Node& n, const std::vector<const Value*>& in, const std::vector<int64_t>& out_shape,
                 DType out_dtype) {
  Value out;
  out.dtype = out_dtype;
  out.shape = out_shape;
  std::vector<double> a(in.size());
  const int64_t count = count_of(out_shape);
  if (out_dtype == DType::I64)
    out.i.resize(count);
  else
    out.f.resize(count);
  for_each_broadcast(in, out_shape, [&](int64_t e, const std::vector<int64_t>& off) {
    for (size_t k = 0; k < in.size(); ++k)
      a[k] = in[k]->dtype == DType::I64 ? double(in[k]->i[off[k]]) : double(in[k]->f[off[k]]);
    if (out_dtype == DType::I64 && n.op == "Where")  // the chosen value itself (beyond 2^53 too)
      out.i[e] = a[0] != 0 ? in[1]->i[off[1]] : in[2]->i[off[2]];
    else if (out_dtype == DType::I64)
      out.i[e] = int64_t(typed_element(n, a.data()));
    else
      out.f[e] = canon(float(typed_element(n, a.data())));
  });
  return out;
}

// Operators of issue 23 evaluated as selections and data movement (exact, any element
// type): ArgMax, ArgMin, TopK, Expand, Tile, Range, OneHot (ops_ext.h).
bool is_selection_op(const std::string& op) {
  return op == "ArgMax" || op == "ArgMin" || op == "TopK" || op == "Expand" || op == "Tile" || op == "Range" ||
         op == "OneHot";
}

double elem_of(const Value& v, int64_t i) { return v.dtype == DType::I64 ? double(v.i[i]) : double(v.f[i]); }

// Sizes before, along and after `axis`.
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
  AxisSplit(const std::vector<int64_t>& s, int64_t axis) {
    for (size_t d = 0; d < s.size(); ++d) (int64_t(d) < axis ? outer : int64_t(d) == axis ? dim : inner) *= s[d];
  }
};

// ArgMax/ArgMin: numpy's rule (the first NaN wins; the last one with select_last_index);
// ties give the first index, or the last with select_last_index (-0 == +0).
void eval_arg(const Node& n, const Value& x, Value& out) {
  const AxisSplit a(x.shape, n.iattr("axis"));
  const bool is_max = n.op == "ArgMax", last = n.iattr("select_last_index") != 0;
  out.i.assign(size_t(a.outer * a.inner), 0);
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      int64_t best = -1;
      bool nan = false;
      double bv = 0;
      for (int64_t c = 0; c < a.dim; ++c) {
        const double v = elem_of(x, (o * a.dim + c) * a.inner + j);
        if (std::isnan(v)) {
          if (!nan || last) best = c;
          nan = true;
        } else if (!nan && (best < 0 || (is_max ? v > bv : v < bv) || (last && v == bv))) {
          best = c;
          bv = v;
        }
      }
      out.i[size_t(o * a.inner + j)] = best;
    }
}

// TopK: per slice the k largest (smallest) values, ties in index order (a stable sort;
// NaN ordered after every number, as numpy), values (output 0; a NaN canonical) or their
// indices (output 1).
void eval_topk(const Node& n, const Value& x, const std::vector<int64_t>& out_shape, Value& out) {
  const AxisSplit a(x.shape, n.iattr("axis"));
  const int64_t k = n.iattr("k");
  const bool largest = n.iattr("largest") != 0, want_idx = n.iattr("output") == 1;
  const int64_t count = count_of(out_shape);
  if (want_idx || x.dtype == DType::I64)
    out.i.assign(size_t(count), 0);
  else
    out.f.assign(size_t(count), 0.0f);
  std::vector<int64_t> order(size_t(a.dim));
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t j = 0; j < a.inner; ++j) {
      auto v = [&](int64_t c) { return elem_of(x, (o * a.dim + c) * a.inner + j); };
      std::iota(order.begin(), order.end(), int64_t(0));
      std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
        const double vp = v(p), vq = v(q);
        if (std::isnan(vp) || std::isnan(vq)) return !std::isnan(vp) && std::isnan(vq);
        return largest ? vp > vq : vp < vq;
      });
      for (int64_t t = 0; t < k; ++t) {
        const size_t dst = size_t((o * k + t) * a.inner + j), src = size_t((o * a.dim + order[size_t(t)]) * a.inner + j);
        if (want_idx)
          out.i[dst] = order[size_t(t)];
        else if (x.dtype == DType::I64)
          out.i[dst] = x.i[src];
        else
          out.f[dst] = canon(x.f[src]);  // the device's ReduceMax gives the canonical NaN
      }
    }
}

// OneHot: `on` where the (truncated, negative + depth) index equals the position along
// the axis, `off` elsewhere (an index outside [-depth, depth) gives a row of `off`).
void eval_onehot(const Node& n, const Value& ind, const std::vector<int64_t>& out_shape, Value& out) {
  const int64_t axis = n.iattr("axis"), depth = n.iattr("depth");
  const bool ints = n.has_iattr("values");
  const int64_t count = count_of(out_shape);
  std::vector<int64_t> ist = strides_of(ind.shape);
  if (ints)
    out.i.assign(size_t(count), 0);
  else
    out.f.assign(size_t(count), 0.0f);
  for_each_index(out_shape, [&](int64_t e, const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0, k = 0; d < idx.size(); ++d)
      if (int64_t(d) != axis) off += idx[d] * ist[k++];
    const double raw = std::trunc(elem_of(ind, off));
    const double w = raw < 0 ? raw + double(depth) : raw;
    const bool hit = w == double(idx[size_t(axis)]);
    if (ints)
      out.i[size_t(e)] = n.ints("values")[hit ? 1 : 0];
    else
      out.f[size_t(e)] = n.attr(hit ? "on" : "off");
  });
}

Value eval_selection(const Node& n, const std::vector<const Value*>& in, const std::vector<int64_t>& out_shape,
                     DType out_dtype) {
  Value out;
  out.dtype = out_dtype;
  out.shape = out_shape;
  const std::string& op = n.op;
  auto copy = [&](auto&& src_index) {
    const Value& x = *in.at(0);
    if (x.dtype == DType::I64)
      out.i = gather_elems(x.i, out_shape, src_index);
    else
      out.f = gather_elems(x.f, out_shape, src_index);
  };
  if (op == "ArgMax" || op == "ArgMin") {
    eval_arg(n, *in.at(0), out);
  } else if (op == "TopK") {
    eval_topk(n, *in.at(0), out_shape, out);
  } else if (op == "OneHot") {
    eval_onehot(n, *in.at(0), out_shape, out);
  } else if (op == "Expand" || op == "Tile") {
    const std::vector<int64_t>& xs = in.at(0)->shape;
    const std::vector<int64_t> st = op == "Expand" ? bcast_strides(xs, out_shape) : strides_of(xs);
    copy([&](const std::vector<int64_t>& idx) {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d) off += (op == "Tile" ? idx[d] % xs[d] : idx[d]) * st[d];
      return off;
    });
  } else {  // Range: start + i * delta (fp32: the product rounded, then the sum)
    for (int64_t i = 0; i < out_shape.at(0); ++i) {
      if (out_dtype == DType::I64)
        out.i.push_back(n.iattr("start") + i * n.iattr("delta"));
      else
        out.f.push_back(canon(n.attr("start") + canon(float(i) * n.attr("delta"))));
    }
  }
  return out;
}

// Integer arithmetic that leaves int32 from int32 operands: at run time (reference_run) its
// int64 results wrap to int32 like the device's IADD/ISUB/IMUL words (docs/compiler.md);
// folding keeps int64 (shape arithmetic).
bool wraps_like_int32(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Neg" || op == "Abs" || op == "Sum";
}

// MatMul/Gemm inner product: the device's FMA chain over k ascending from -0.0.
float dot_chain(const float* a, int64_t sa, const float* b, int64_t sb, int64_t k) {
  float acc = -0.0f;
  for (int64_t i = 0; i < k; ++i) acc = std::fma(a[i * sa], b[i * sb], acc);
  return canon(acc);
}

}  // namespace

namespace detail {

namespace {

// A node being evaluated: its inputs, the output being filled, the message prefix.
struct Eval {
  const Graph& g;
  const Node& n;
  const std::vector<const Value*>& in;
  std::string what;
  Value out;
  int64_t count;
  const Value& x(size_t k) const { return *in.at(k); }
  // Data movement for either element type: out[e] = src[index(e's index)].
  template <class Index>
  void move(const Value& src, Index&& index) {
    if (src.dtype != DType::I64)
      out.f = gather_elems(src.f, out.shape, index);
    else
      out.i = gather_elems(src.i, out.shape, index);
  }
};

void eval_view(Eval& ev) {
  ev.out.f = ev.x(0).f;
  ev.out.i = ev.x(0).i;
}

void eval_cast(Eval& ev) {
  const Value& a = ev.x(0);
  if (ev.out.dtype == a.dtype || (ev.out.dtype == DType::F32 && a.dtype == DType::BOOL)) {
    ev.out.f = a.f;  // bool to fp32: the 1.0f/0 words as they are
    ev.out.i = a.i;
  } else if (ev.out.dtype == DType::BOOL) {
    for (float v : a.f) ev.out.f.push_back(v != 0.0f || std::isnan(v) ? 1.0f : 0.0f);
    for (int64_t v : a.i) ev.out.f.push_back(v != 0 ? 1.0f : 0.0f);
  } else if (ev.out.dtype == DType::F32) {
    for (int64_t v : a.i) ev.out.f.push_back(float(v));
  } else if (a.dtype == DType::BOOL) {
    for (float v : a.f) ev.out.i.push_back(v != 0.0f ? 1 : 0);
  } else {
    for (float v : a.f) {
      if (!std::isfinite(v) || std::fabs(v) >= 9.2e18f)
        throw CompileError(fmt::format("{}: cannot cast {} to an integer", ev.what, v));
      ev.out.i.push_back(int64_t(v));  // truncation toward zero
    }
  }
  if (ev.n.iattr("to") == 6)  // INT32: wrap
    for (int64_t& v : ev.out.i) v = int64_t(int32_t(uint32_t(uint64_t(v))));
}

void eval_transpose(Eval& ev) {
  const auto st = strides_of(ev.x(0).shape);
  const auto& perm = ev.n.ints("perm");
  ev.move(ev.x(0), [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * st[perm[d]];
    return off;
  });
}

void eval_slice(Eval& ev) {
  const auto st = strides_of(ev.x(0).shape);
  const auto &S = ev.n.ints("starts"), &P = ev.n.ints("steps");
  ev.move(ev.x(0), [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t d = 0; d < idx.size(); ++d) off += (S[d] + idx[d] * P[d]) * st[d];
    return off;
  });
}

void eval_gather(Eval& ev) {
  const auto& xs = ev.x(0).shape;
  const auto st = strides_of(xs);
  const int64_t axis = ev.n.iattr("axis");
  const auto& ind = ev.n.ints("indices");
  const auto ist = strides_of(ev.n.ints("indices_shape"));
  const size_t ir = ist.size();
  ev.move(ev.x(0), [&](const std::vector<int64_t>& idx) {
    int64_t off = 0, flat = 0;
    for (size_t d = 0; d < size_t(axis); ++d) off += idx[d] * st[d];
    for (size_t d = 0; d < ir; ++d) flat += idx[axis + d] * ist[d];
    off += ind[flat] * st[axis];
    for (size_t d = axis + 1; d < xs.size(); ++d) off += idx[d + ir - 1] * st[d];
    return off;
  });
}

void eval_concat(Eval& ev) {
  const int64_t axis = ev.n.iattr("axis");
  // Outer blocks in order; each input contributes its slab along the axis.
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= ev.out.shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (const Value* v : ev.in) {
      int64_t slab = 1;
      for (size_t d = axis; d < v->shape.size(); ++d) slab *= v->shape[d];
      if (v->dtype == DType::F32)
        ev.out.f.insert(ev.out.f.end(), v->f.begin() + o * slab, v->f.begin() + (o + 1) * slab);
      else
        ev.out.i.insert(ev.out.i.end(), v->i.begin() + o * slab, v->i.begin() + (o + 1) * slab);
    }
}

void eval_matmul(Eval& ev) {
  // Batched: A [..., M, K] x B [..., K, N], 1-D operands promoted.
  std::vector<int64_t> as = ev.x(0).shape, bs = ev.x(1).shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  std::vector<int64_t> batch(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  batch = broadcast_shapes(batch, bb, ev.what);
  const auto sa = bcast_strides(std::vector<int64_t>(as.begin(), as.end() - 2), batch);
  const auto sb = bcast_strides(bb, batch);
  ev.out.f.resize(ev.count);
  int64_t pos = 0;
  for_each_index(batch, [&](int64_t, const std::vector<int64_t>& idx) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < idx.size(); ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    const float* A = ev.x(0).f.data() + oa * M * K;
    const float* B = ev.x(1).f.data() + ob * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) ev.out.f[pos++] = dot_chain(A + m * K, 1, B + j, N, K);
  });
}

void eval_gemm(Eval& ev) {
  const bool ta = ev.n.iattr("transA") != 0, tb = ev.n.iattr("transB") != 0;
  const float alpha = ev.n.attr("alpha"), beta = ev.n.attr("beta");
  const auto &as = ev.x(0).shape, &bs = ev.x(1).shape;
  const int64_t M = ev.out.shape[0], N = ev.out.shape[1], K = ta ? as[0] : as[1];
  // ev.n.op(A)[m][k] = A[m][k] or A[k][m]; ev.n.op(B)[k][n] = B[k][n] or B[n][k].
  const int64_t a_m = ta ? 1 : K, a_k = ta ? M : 1, b_k = tb ? 1 : N, b_n = tb ? K : 1;
  (void)bs;
  std::vector<int64_t> cst;
  if (ev.in.size() > 2) cst = bcast_strides(ev.x(2).shape, ev.out.shape);
  ev.out.f.resize(ev.count);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      float p = dot_chain(ev.x(0).f.data() + m * a_m, a_k, ev.x(1).f.data() + j * b_n, b_k, K);
      if (alpha != 1.0f) p = canon(alpha * p);
      float y = p;
      if (ev.in.size() > 2 && beta != 0.0f) y = canon(std::fma(beta, ev.x(2).f[m * cst[0] + j * cst[1]], p));
      ev.out.f[m * N + j] = y;
    }
}

void eval_decomposed(Eval& ev) {
  // The composition the device runs (decompose.h), each node with its own reference,
  // on a sub-graph whose inputs that are constants in g stay constants.
  Graph sub;
  sub.source = ev.g.source;
  std::vector<int> ins;
  std::map<std::string, HostTensor> feed;
  for (size_t k = 0; k < ev.in.size(); ++k) {
    Tensor t;
    t.name = fmt::format("in{}", k);
    t.shape = ev.x(k).shape;
    t.dtype = ev.x(k).dtype;
    t.shape_known = true;
    const bool is_const = ev.g.tensors.at(ev.n.inputs.at(k)).kind == TensorKind::Constant;
    t.kind = is_const ? TensorKind::Constant : TensorKind::Input;
    if (is_const) {
      t.data = ev.x(k).f;
      t.idata = ev.x(k).i;
    } else
      feed[t.name] = HostTensor{ev.x(k).shape, ev.x(k).f, ev.x(k).i};
    ins.push_back(sub.add_tensor(std::move(t)));
    if (!is_const) sub.inputs.push_back(ins.back());
  }
  Tensor ty;
  ty.name = "y";
  ty.dtype = ev.out.dtype;
  ty.kind = TensorKind::Value;
  ty.shape = ev.out.shape;
  ty.shape_known = true;
  ty.is_output = true;
  const int yi = sub.add_tensor(std::move(ty));
  Node k = ev.n;
  k.inputs = ins;
  k.outputs = {yi};
  sub.nodes = decompose(sub, k);
  for (size_t q = 0; q < sub.nodes.size(); ++q) sub.tensors[sub.nodes[q].outputs[0]].producer = int(q);
  sub.outputs = {yi};
  HostTensor r = reference_run(sub, feed).at("y");
  ev.out.f = std::move(r.data);
  ev.out.i = std::move(r.idata);
}

void eval_reduce(Eval& ev) {
  // Over the reduced elements in C order: sum from -0 (ReduceMean: then times the
  // fp32 value of 1/ev.count), max from -inf, min from +inf.
  const auto& xs = ev.x(0).shape;
  const auto& axes = ev.n.ints("axes");
  std::vector<int64_t> kept(xs), red;  // kept: reduced dims set to 1
  for (int64_t a : axes) {
    red.push_back(xs[a]);
    kept[a] = 1;
  }
  const auto st = strides_of(xs);
  const int64_t rcount = count_of(red);
  const float init = ev.n.op == "ReduceMax"    ? -INFINITY
                     : ev.n.op == "ReduceMin"  ? INFINITY
                     : ev.n.op == "ReduceProd" ? 1.0f
                                          : -0.0f;
  const bool ints = ev.out.dtype == DType::I64;
  if (ints)
    ev.out.i.assign(ev.count, 1);
  else
    ev.out.f.assign(ev.count, init);
  for_each_index(kept, [&](int64_t e, const std::vector<int64_t>& idx) {
    int64_t base = 0;
    for (size_t d = 0; d < idx.size(); ++d) base += idx[d] * st[d];
    float acc = init;
    int64_t iacc = 1;
    for_each_index(red, [&](int64_t, const std::vector<int64_t>& ridx) {
      int64_t off = base;
      for (size_t k = 0; k < axes.size(); ++k) off += ridx[k] * st[axes[k]];
      if (ints) {  // ReduceProd of int64 shape values (folding only)
        iacc *= ev.x(0).i[off];
        return;
      }
      const float v = ev.x(0).f[off];
      acc = ev.n.op == "ReduceMax"    ? fmax_dev(acc, v)
            : ev.n.op == "ReduceMin"  ? fmin_dev(acc, v)
            : ev.n.op == "ReduceProd" ? canon(acc * v)
                                 : canon(acc + v);
    });
    if (ev.n.op == "ReduceMean") acc = canon(acc * (1.0f / float(rcount)));
    if (ints)
      ev.out.i[size_t(e)] = iacc;
    else
      ev.out.f[e] = acc;
  });
}

void eval_elementwise(Eval& ev) {
  // Elementwise with broadcasting.
  const bool i64 = ev.out.dtype == DType::I64;
  // Math operators (lower_math.h): the device's operation sequence, ev.n.op by ev.n.op.
  std::optional<detail::MathProgram> prog;
  if (!i64 && detail::is_math_op(ev.n.op)) prog = detail::math_program(ev.g, ev.n);
  std::vector<uint32_t> bits(ev.in.size());
  std::vector<float> args(ev.in.size());
  std::vector<int64_t> iargs(ev.in.size());
  if (i64)
    ev.out.i.resize(ev.count);
  else
    ev.out.f.resize(ev.count);
  for_each_broadcast(ev.in, ev.out.shape, [&](int64_t e, const std::vector<int64_t>& off) {
    for (size_t k = 0; k < ev.in.size(); ++k) {
      if (i64)
        iargs[k] = ev.in[k]->i[off[k]];
      else
        args[k] = ev.in[k]->f[off[k]];
    }
    if (i64)
      ev.out.i[e] = elementwise_i64(ev.n, iargs, ev.what);
    else if (prog) {
      for (size_t k = 0; k < ev.in.size(); ++k) bits[k] = std::bit_cast<uint32_t>(args[k]);
      ev.out.f[e] = std::bit_cast<float>(detail::run_program(*prog, bits.data()));
    } else
      ev.out.f[e] = elementwise_f32(ev.n, args);
  });
}

}  // namespace

Value eval_node(const Graph& g, const Node& n, const std::vector<const Value*>& in,
                const std::vector<int64_t>& out_shape, DType out_dtype) {
  const std::string& op = n.op;
  if (is_typed_op(op)) return eval_typed(n, in, out_shape, out_dtype);
  if (is_selection_op(op)) return eval_selection(n, in, out_shape, out_dtype);
  Eval e{g, n, in, fmt::format("{}: {}", g.source, g.describe(n)), {}, count_of(out_shape)};
  e.out.dtype = out_dtype;
  e.out.shape = out_shape;
  auto x = [&](size_t k) -> const Value& { return *in.at(k); };
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      (op == "Identity" && x(0).dtype == DType::I64)) {
    eval_view(e);
  } else if (op == "Cast") {
    eval_cast(e);
  } else if (op == "Transpose") {
    eval_transpose(e);
  } else if (op == "Slice") {
    eval_slice(e);
  } else if (op == "Gather") {
    eval_gather(e);
  } else if (op == "Concat") {
    eval_concat(e);
  } else if (op == "MatMul") {
    eval_matmul(e);
  } else if (op == "Gemm") {
    eval_gemm(e);
  } else if (detail::is_decomposed_op(op)) {
    eval_decomposed(e);
  } else if (op.rfind("Reduce", 0) == 0) {
    eval_reduce(e);
  } else {
    eval_elementwise(e);
  }
  const Value& out = e.out;
  if ((out_dtype == DType::F32 && int64_t(out.f.size()) != e.count) ||
      (out_dtype == DType::I64 && int64_t(out.i.size()) != e.count))
    throw CompileError(fmt::format("{}: evaluation produced the wrong number of values", e.what));
  return e.out;
}

}  // namespace detail

std::map<std::string, HostTensor> reference_run(const Graph& g, const std::map<std::string, HostTensor>& inputs) {
  std::vector<detail::Value> val(g.tensors.size());
  std::vector<bool> have(g.tensors.size(), false);
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].kind == TensorKind::Constant) {
      const Tensor& t = g.tensors[i];
      val[i] = detail::Value{t.dtype, t.shape, t.data, t.idata};
      have[i] = true;
    }
  for (int i : g.inputs) {
    const Tensor& t = g.tensors[i];
    auto it = inputs.find(t.name);
    if (it == inputs.end() && t.state) {  // device-resident state: its initial value
      val[i] = detail::Value{t.dtype, t.shape, t.data, {}};
      have[i] = true;
      continue;
    }
    if (it == inputs.end()) throw CompileError(fmt::format("{}: no value given for input '{}'", g.source, t.name));
    if (it->second.shape != t.shape)
      throw CompileError(fmt::format("{}: input '{}' has shape {}, the model expects {}", g.source, t.name,
                                     shape_str(it->second.shape), shape_str(t.shape)));
    const bool ints = t.dtype == DType::I64;
    const size_t got = ints ? it->second.idata.size() : it->second.data.size();
    if (int64_t(got) != t.elements())
      throw CompileError(fmt::format("{}: input '{}' ({}) holds {} values, its shape needs {}", g.source, t.name,
                                     dtype_name(t.dtype), got, t.elements()));
    val[i] = ints ? detail::Value{t.dtype, t.shape, {}, it->second.idata}
                  : detail::Value{t.dtype, t.shape, it->second.data, {}};
    have[i] = true;
  }
  for (const auto& [name, _] : inputs) {
    const int i = g.find(name);
    if (i < 0 || g.tensors[i].kind != TensorKind::Input)
      throw CompileError(fmt::format("{}: '{}' is not an input of the model", g.source, name));
  }

  for (const Node& n : g.nodes) {
    std::vector<const detail::Value*> ins;
    for (int i : n.inputs) {
      if (!have[i])
        throw CompileError(fmt::format("{}: {}: input '{}' has no value", g.source, g.describe(n), g.tensors[i].name));
      ins.push_back(&val[i]);
    }
    const Tensor& out = g.tensors[n.outputs[0]];
    val[n.outputs[0]] = detail::eval_node(g, n, ins, out.shape, out.dtype);
    if (wraps_like_int32(n.op))  // at run time integers are the device's int32 words
      for (int64_t& v : val[n.outputs[0]].i) v = int64_t(int32_t(uint32_t(uint64_t(v))));
    have[n.outputs[0]] = true;
  }

  std::map<std::string, HostTensor> result;
  for (int o : g.outputs) {
    if (!have[o]) throw CompileError(fmt::format("{}: output '{}' has no value", g.source, g.tensors[o].name));
    result[g.tensors[o].name] = HostTensor{g.tensors[o].shape, val[o].f, val[o].i};
  }
  return result;
}

std::map<std::string, HostTensor> reference_run(const std::string& onnx_path,
                                                const std::map<std::string, HostTensor>& inputs) {
  return reference_run(load_graph_file(onnx_path), inputs);
}

}  // namespace openrdu::compiler
