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
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
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
  if (op == "Neg") return -a[0];
  if (op == "Abs") return a[0] < 0 ? -a[0] : a[0];
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
    const double y = typed_element(n, a.data());
    if (out_dtype == DType::I64)
      out.i[e] = int64_t(y);
    else
      out.f[e] = canon(float(y));
  });
  return out;
}

// MatMul/Gemm inner product: the device's FMA chain over k ascending from -0.0.
float dot_chain(const float* a, int64_t sa, const float* b, int64_t sb, int64_t k) {
  float acc = -0.0f;
  for (int64_t i = 0; i < k; ++i) acc = std::fma(a[i * sa], b[i * sb], acc);
  return canon(acc);
}

}  // namespace

namespace detail {

Value eval_node(const Graph& g, const Node& n, const std::vector<const Value*>& in,
                const std::vector<int64_t>& out_shape, DType out_dtype) {
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  const std::string& op = n.op;
  Value out;
  out.dtype = out_dtype;
  out.shape = out_shape;
  const int64_t count = count_of(out_shape);
  auto x = [&](size_t k) -> const Value& { return *in.at(k); };
  // Data movement for either element type.
  auto move = [&](const Value& src, auto&& index) {
    if (src.dtype != DType::I64)
      out.f = gather_elems(src.f, out_shape, index);
    else
      out.i = gather_elems(src.i, out_shape, index);
  };

  if (is_typed_op(op)) return eval_typed(n, in, out_shape, out_dtype);
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      (op == "Identity" && x(0).dtype == DType::I64)) {
    out.f = x(0).f;
    out.i = x(0).i;
  } else if (op == "Cast") {
    const Value& a = x(0);
    if (out_dtype == a.dtype || (out_dtype == DType::F32 && a.dtype == DType::BOOL)) {
      out.f = a.f;  // bool to fp32: the 1.0f/0 words as they are
      out.i = a.i;
    } else if (out_dtype == DType::BOOL) {
      for (float v : a.f) out.f.push_back(v != 0.0f || std::isnan(v) ? 1.0f : 0.0f);
      for (int64_t v : a.i) out.f.push_back(v != 0 ? 1.0f : 0.0f);
    } else if (out_dtype == DType::F32) {
      for (int64_t v : a.i) out.f.push_back(float(v));
    } else if (a.dtype == DType::BOOL) {
      for (float v : a.f) out.i.push_back(v != 0.0f ? 1 : 0);
    } else {
      for (float v : a.f) {
        if (!std::isfinite(v) || std::fabs(v) >= 9.2e18f)
          throw CompileError(fmt::format("{}: cannot cast {} to an integer", what, v));
        out.i.push_back(int64_t(v));  // truncation toward zero
      }
    }
    if (n.iattr("to") == 6)  // INT32: wrap
      for (int64_t& v : out.i) v = int64_t(int32_t(uint32_t(uint64_t(v))));
  } else if (op == "Transpose") {
    const auto st = strides_of(x(0).shape);
    const auto& perm = n.ints("perm");
    move(x(0), [&](const std::vector<int64_t>& idx) {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * st[perm[d]];
      return off;
    });
  } else if (op == "Slice") {
    const auto st = strides_of(x(0).shape);
    const auto &S = n.ints("starts"), &P = n.ints("steps");
    move(x(0), [&](const std::vector<int64_t>& idx) {
      int64_t off = 0;
      for (size_t d = 0; d < idx.size(); ++d) off += (S[d] + idx[d] * P[d]) * st[d];
      return off;
    });
  } else if (op == "Gather") {
    const auto& xs = x(0).shape;
    const auto st = strides_of(xs);
    const int64_t axis = n.iattr("axis");
    const auto& ind = n.ints("indices");
    const auto ist = strides_of(n.ints("indices_shape"));
    const size_t ir = ist.size();
    move(x(0), [&](const std::vector<int64_t>& idx) {
      int64_t off = 0, flat = 0;
      for (size_t d = 0; d < size_t(axis); ++d) off += idx[d] * st[d];
      for (size_t d = 0; d < ir; ++d) flat += idx[axis + d] * ist[d];
      off += ind[flat] * st[axis];
      for (size_t d = axis + 1; d < xs.size(); ++d) off += idx[d + ir - 1] * st[d];
      return off;
    });
  } else if (op == "Concat") {
    const int64_t axis = n.iattr("axis");
    // Outer blocks in order; each input contributes its slab along the axis.
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out_shape[d];
    for (int64_t o = 0; o < outer; ++o)
      for (const Value* v : in) {
        int64_t slab = 1;
        for (size_t d = axis; d < v->shape.size(); ++d) slab *= v->shape[d];
        if (v->dtype == DType::F32)
          out.f.insert(out.f.end(), v->f.begin() + o * slab, v->f.begin() + (o + 1) * slab);
        else
          out.i.insert(out.i.end(), v->i.begin() + o * slab, v->i.begin() + (o + 1) * slab);
      }
  } else if (op == "MatMul") {
    // Batched: A [..., M, K] x B [..., K, N], 1-D operands promoted.
    std::vector<int64_t> as = x(0).shape, bs = x(1).shape;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    std::vector<int64_t> batch(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    batch = broadcast_shapes(batch, bb, what);
    const auto sa = bcast_strides(std::vector<int64_t>(as.begin(), as.end() - 2), batch);
    const auto sb = bcast_strides(bb, batch);
    out.f.resize(count);
    int64_t e = 0;
    for_each_index(batch, [&](int64_t, const std::vector<int64_t>& idx) {
      int64_t oa = 0, ob = 0;
      for (size_t d = 0; d < idx.size(); ++d) {
        oa += idx[d] * sa[d];
        ob += idx[d] * sb[d];
      }
      const float* A = x(0).f.data() + oa * M * K;
      const float* B = x(1).f.data() + ob * K * N;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < N; ++j) out.f[e++] = dot_chain(A + m * K, 1, B + j, N, K);
    });
  } else if (op == "Gemm") {
    const bool ta = n.iattr("transA") != 0, tb = n.iattr("transB") != 0;
    const float alpha = n.attr("alpha"), beta = n.attr("beta");
    const auto &as = x(0).shape, &bs = x(1).shape;
    const int64_t M = out_shape[0], N = out_shape[1], K = ta ? as[0] : as[1];
    // op(A)[m][k] = A[m][k] or A[k][m]; op(B)[k][n] = B[k][n] or B[n][k].
    const int64_t a_m = ta ? 1 : K, a_k = ta ? M : 1, b_k = tb ? 1 : N, b_n = tb ? K : 1;
    (void)bs;
    std::vector<int64_t> cst;
    if (in.size() > 2) cst = bcast_strides(x(2).shape, out_shape);
    out.f.resize(count);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        float p = dot_chain(x(0).f.data() + m * a_m, a_k, x(1).f.data() + j * b_n, b_k, K);
        if (alpha != 1.0f) p = canon(alpha * p);
        float y = p;
        if (in.size() > 2 && beta != 0.0f) y = canon(std::fma(beta, x(2).f[m * cst[0] + j * cst[1]], p));
        out.f[m * N + j] = y;
      }
  } else if (detail::is_decomposed_op(op)) {
    // The composition the device runs (decompose.h), each node with its own reference,
    // on a sub-graph whose inputs that are constants in g stay constants.
    Graph sub;
    sub.source = g.source;
    std::vector<int> ins;
    std::map<std::string, HostTensor> feed;
    for (size_t k = 0; k < in.size(); ++k) {
      Tensor t;
      t.name = fmt::format("in{}", k);
      t.shape = x(k).shape;
      t.dtype = x(k).dtype;
      t.shape_known = true;
      const bool is_const = g.tensors.at(n.inputs.at(k)).kind == TensorKind::Constant;
      t.kind = is_const ? TensorKind::Constant : TensorKind::Input;
      if (is_const)
        t.data = x(k).f;
      else
        feed[t.name] = HostTensor{x(k).shape, x(k).f, x(k).i};
      ins.push_back(sub.add_tensor(std::move(t)));
      if (!is_const) sub.inputs.push_back(ins.back());
    }
    Tensor ty;
    ty.name = "y";
    ty.kind = TensorKind::Value;
    ty.shape = out_shape;
    ty.shape_known = true;
    ty.is_output = true;
    const int yi = sub.add_tensor(std::move(ty));
    Node k = n;
    k.inputs = ins;
    k.outputs = {yi};
    sub.nodes = decompose(sub, k);
    for (size_t q = 0; q < sub.nodes.size(); ++q) sub.tensors[sub.nodes[q].outputs[0]].producer = int(q);
    sub.outputs = {yi};
    out.f = reference_run(sub, feed).at("y").data;
  } else if (op.rfind("Reduce", 0) == 0) {
    // Over the reduced elements in C order: sum from -0 (ReduceMean: then times the
    // fp32 value of 1/count), max from -inf, min from +inf.
    const auto& xs = x(0).shape;
    const auto& axes = n.ints("axes");
    std::vector<int64_t> kept(xs), red;  // kept: reduced dims set to 1
    for (int64_t a : axes) {
      red.push_back(xs[a]);
      kept[a] = 1;
    }
    const auto st = strides_of(xs);
    const int64_t rcount = count_of(red);
    const float init = op == "ReduceMax" ? -INFINITY : op == "ReduceMin" ? INFINITY : -0.0f;
    out.f.assign(count, init);
    for_each_index(kept, [&](int64_t e, const std::vector<int64_t>& idx) {
      int64_t base = 0;
      for (size_t d = 0; d < idx.size(); ++d) base += idx[d] * st[d];
      float acc = init;
      for_each_index(red, [&](int64_t, const std::vector<int64_t>& ridx) {
        int64_t off = base;
        for (size_t k = 0; k < axes.size(); ++k) off += ridx[k] * st[axes[k]];
        const float v = x(0).f[off];
        acc = op == "ReduceMax" ? fmax_dev(acc, v) : op == "ReduceMin" ? fmin_dev(acc, v) : canon(acc + v);
      });
      if (op == "ReduceMean") acc = canon(acc * (1.0f / float(rcount)));
      out.f[e] = acc;
    });
  } else {
    // Elementwise with broadcasting.
    const bool i64 = out_dtype == DType::I64;
    // Math operators (lower_math.h): the device's operation sequence, op by op.
    std::optional<detail::MathProgram> prog;
    if (!i64 && detail::is_math_op(op)) prog = detail::math_program(g, n);
    std::vector<uint32_t> bits(in.size());
    std::vector<float> args(in.size());
    std::vector<int64_t> iargs(in.size());
    if (i64)
      out.i.resize(count);
    else
      out.f.resize(count);
    for_each_broadcast(in, out_shape, [&](int64_t e, const std::vector<int64_t>& off) {
      for (size_t k = 0; k < in.size(); ++k) {
        if (i64)
          iargs[k] = in[k]->i[off[k]];
        else
          args[k] = in[k]->f[off[k]];
      }
      if (i64)
        out.i[e] = elementwise_i64(n, iargs, what);
      else if (prog) {
        for (size_t k = 0; k < in.size(); ++k) bits[k] = std::bit_cast<uint32_t>(args[k]);
        out.f[e] = std::bit_cast<float>(detail::run_program(*prog, bits.data()));
      } else
        out.f[e] = elementwise_f32(n, args);
    });
  }
  if ((out_dtype == DType::F32 && int64_t(out.f.size()) != count) ||
      (out_dtype == DType::I64 && int64_t(out.i.size()) != count))
    throw CompileError(fmt::format("{}: evaluation produced the wrong number of values", what));
  return out;
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
