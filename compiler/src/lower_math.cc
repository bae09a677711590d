// Special functions as fixed sequences of PCU operations (see lower_math.h).
//
// Methods (constants are binary32 immediates, one per stage):
//  * exp(x): clamp x to [-104, 89]; n = round(x*log2e) by the 1.5*2^23 trick; r = x -
//    n*C1 - n*C2 (Cephes split of ln2, FMA); e^r by Cephes' degree-7 polynomial
//    (Horner, FMA); scale by 2^(n>>1) then 2^(n-(n>>1)) (two FMULs: subnormal results
//    rounded once, n = 128 reachable).
//  * log(x): subnormal x scaled by 2^23; x = m*2^e with m in [sqrt(1/2), sqrt(2)) by
//    integer ops on the bits; f = m-1; log1p(f) = f + f^2*(-1/2 + f*P(f)) (Cephes logf
//    P, degree 8); + e*C2 + e*C1.
//  * reciprocal(x): k*(1/(x*k)), k = 2^-4 for |x| >= 2^125, 2^24 below 2^-126, else 1;
//    1/x' from the seed 0x7EF311C3 - bits(x') and 4 Newton steps e = 1 - x'*y, y + y*e.
//  * rsqrt(x): subnormal x scaled by 2^24 (result by 2^12); seed 0x5F3759DF - bits(x)/2,
//    3 Newton steps y = y + y*(1/2 - x/2*y*y).
//  * sqrt(x): subnormal x scaled by 2^24 (result by 2^-12); s = x*rsqrt(x), one
//    correction s + (x - s*s)*(y/2).
//  * div(a, b): a, b scaled by 2^-4 / 2^24 when |b| >= 2^125 / < 2^-126; y = reciprocal(b), q = a*y, q + (a - b*q)*y (q when that is NaN or 0).
//  * sigmoid(x): e = exp(-|x|), 1/(1+e) for x >= 0, e/(1+e) for x < 0; tanh(|x|) = x + x^3*P(x^2) below 0.625 (Cephes),
//    else 1 - 2/(exp(2|x|) + 1) with |x| <= 10, sign restored; erf(|x|) = x*P(x^2)
//    below 0.927734375, else 1 - exp(-t + t*P(t)) (N. Juffa's fp32 erff coefficients).
// Special values are forced with FLT/FLE/FEQ + SEL at the end (see function_program).
#include "lower_math.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <bitset>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "openrdu/gen/isa.h"
#include "openrdu/model/unit.h"

namespace openrdu::compiler::detail {

using arch::Opcode;

namespace {

uint32_t fb(float f) { return std::bit_cast<uint32_t>(f); }
float bf(uint32_t u) { return std::bit_cast<float>(u); }

constexpr uint32_t kMinNormal = 0x00800000u;  // 2^-126
constexpr uint32_t kInf = 0x7F800000u;
constexpr uint32_t kNegInf = 0xFF800000u;
constexpr uint32_t kSign = 0x80000000u;
constexpr uint32_t kOne = 0x3F800000u;

struct Builder {
  MathProgram p;
  explicit Builder(int n) { p.ninputs = n; }
  ValRef in(int k) const { return ValRef::val(k); }
  static ValRef f(float v) { return ValRef::immediate(fb(v)); }
  static ValRef u(uint32_t v) { return ValRef::immediate(v); }
  ValRef op(Opcode o, ValRef a, ValRef b = ValRef::none(), ValRef c = ValRef::none()) {
    uint32_t imm = 0;
    bool have = false;
    for (const ValRef* v : {&a, &b, &c})
      if (v->kind == ValRef::Imm) {
        if (have && imm != v->imm) throw std::logic_error("math program: two immediates in one stage");
        have = true;
        imm = v->imm;
      }
    p.ops.push_back({o, a, b, c});
    return ValRef::val(p.ninputs + int(p.ops.size()) - 1);
  }
  // Polynomial c[0]*t^n + ... + c[n] (Horner; the first step is FMUL + FADD).
  ValRef horner(ValRef t, std::initializer_list<float> c) {
    auto it = c.begin();
    ValRef q = op(Opcode::FMUL, t, f(*it++));
    q = op(Opcode::FADD, q, f(*it++));
    for (; it != c.end(); ++it) q = op(Opcode::FMA, q, t, f(*it));
    return q;
  }
  // ------------------------------------------------------------ building blocks
  // e^x for any x (NaN -> NaN, -inf -> +0, +inf -> +inf).
  ValRef exp(ValRef x, bool clamp_high = true) {
    ValRef xc = op(Opcode::FMAX, x, f(-104.0f));
    if (clamp_high) xc = op(Opcode::FMIN, xc, f(89.0f));
    const ValRef a = op(Opcode::FMUL, xc, f(1.44269504088896341f));
    const ValRef t = op(Opcode::FADD, a, f(12582912.0f));  // bits(t) = 0x4B400000 + n
    const ValRef nf = op(Opcode::FSUB, t, f(12582912.0f));
    ValRef r = op(Opcode::FMA, nf, f(-0.693359375f), xc);
    r = op(Opcode::FMA, nf, f(2.12194440e-4f), r);
    ValRef q = horner(r, {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f, 4.1665795894E-2f,
                          1.6666665459E-1f, 5.0000001201E-1f});
    q = op(Opcode::FMA, q, r, f(1.0f));
    q = op(Opcode::FMA, q, r, f(1.0f));
    const ValRef ni = op(Opcode::ISUB, t, u(0x4B400000u));
    const ValRef n1 = op(Opcode::SHRA, ni, u(1));
    ValRef s1 = op(Opcode::SHL, n1, u(23));
    s1 = op(Opcode::IADD, s1, u(kOne));
    q = op(Opcode::FMUL, q, s1);
    const ValRef n2 = op(Opcode::ISUB, ni, n1);
    ValRef s2 = op(Opcode::SHL, n2, u(23));
    s2 = op(Opcode::IADD, s2, u(kOne));
    return op(Opcode::FMUL, q, s2);
  }
  // log(x) for positive finite x (subnormals included); specials by log_fix.
  ValRef log_core(ValRef x) {
    const ValRef c = op(Opcode::FLT, x, u(kMinNormal));
    const ValRef xs = op(Opcode::FMUL, x, f(8388608.0f));
    const ValRef xn = op(Opcode::SEL, c, xs, x);
    const ValRef uu = op(Opcode::ISUB, xn, u(0x3F3504F3u));
    const ValRef e = op(Opcode::SHRA, uu, u(23));
    ValRef ef = op(Opcode::ITOF, e);
    ef = op(Opcode::FMA, c, f(-23.0f), ef);
    const ValRef h = op(Opcode::AND, uu, u(0xFF800000u));
    const ValRef mb = op(Opcode::ISUB, xn, h);
    const ValRef fm = op(Opcode::FSUB, mb, f(1.0f));
    ValRef q = horner(fm, {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f,
                           1.4249322787E-1f, -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f,
                           3.3333331174E-1f, -0.5f});
    const ValRef f2 = op(Opcode::FMUL, fm, fm);
    ValRef y = op(Opcode::FMA, f2, q, fm);
    y = op(Opcode::FMA, ef, f(-2.12194440e-4f), y);
    return op(Opcode::FMA, ef, f(0.693359375f), y);
  }
  // log with specials: NaN and +inf pass x, +-0 -> -inf, x < 0 (and -inf) -> NaN.
  ValRef log(ValRef x) {
    ValRef r = log_core(x);
    const ValRef fin = op(Opcode::FLT, x, u(kInf));
    r = op(Opcode::SEL, fin, r, x);
    const ValRef z = op(Opcode::FEQ, x, u(0));
    r = op(Opcode::SEL, z, u(kNegInf), r);
    const ValRef ng = op(Opcode::FLT, x, u(0));
    return op(Opcode::SEL, ng, u(gen::kCanonicalNan), r);
  }
  // 1/x by Newton from the magic seed: valid for 2^-126 <= |x| < 2^126.
  ValRef recip_core(ValRef x) {
    const ValRef nx = op(Opcode::FNEG, x);
    ValRef y = op(Opcode::ISUB, u(0x7EF311C3u), x);
    for (int i = 0; i < 4; ++i) {
      const ValRef e = op(Opcode::FMA, nx, y, f(1.0f));
      y = op(Opcode::FMA, y, e, y);
    }
    return y;
  }
  // 1/x: |x| >= 2^126 -> +-0, |x| < 2^-126 (subnormal, zero) -> +-inf, NaN -> NaN.
  ValRef recip(ValRef x) {
    ValRef y = recip_core(x);
    const ValRef ax = op(Opcode::FABS, x);
    const ValRef big = op(Opcode::FLE, u(0x7E800000u), ax);
    const ValRef sgn = op(Opcode::AND, x, u(kSign));
    y = op(Opcode::SEL, big, sgn, y);
    const ValRef small = op(Opcode::FLT, ax, u(kMinNormal));
    const ValRef sinf = op(Opcode::OR, sgn, u(kInf));
    return op(Opcode::SEL, small, sinf, y);
  }
  // k = 2^-4 when |b| >= 2^125, 2^24 when |b| < 2^-126 (subnormal or zero), else 1.
  ValRef range_scale(ValRef b) {
    const ValRef ab = op(Opcode::FABS, b);
    const ValRef cb = op(Opcode::FLE, u(0x7E000000u), ab);
    const ValRef tb = op(Opcode::AND, cb, u(0x02000000u));
    const ValRef cs = op(Opcode::FLT, ab, u(kMinNormal));
    const ValRef ts = op(Opcode::AND, cs, u(0x0C000000u));
    const ValRef dk = op(Opcode::ISUB, ts, tb);
    return op(Opcode::IADD, dk, u(kOne));
  }
  // 1/x = k * (1/(x*k)): subnormal results and inputs handled (one extra rounding when
  // the result is subnormal); +-0 -> +-inf, +-inf -> +-0.
  ValRef recip_scaled(ValRef x) {
    const ValRef k = range_scale(x);
    const ValRef xs = op(Opcode::FMUL, x, k);
    const ValRef y = recip(xs);
    return op(Opcode::FMUL, y, k);
  }
  // a/b = a*(1/b) with one correction step (IEEE-like specials through the product).
  ValRef div(ValRef a0, ValRef b0) {
    // Both operands times k = 2^-4 when |b| >= 2^125, 2^24 when |b| < 2^-126, else 1, so
    // 1/b stays normal (exact scaling except where a/b underflows or overflows anyway).
    const ValRef k = range_scale(b0);
    const ValRef a = op(Opcode::FMUL, a0, k);
    const ValRef b = op(Opcode::FMUL, b0, k);
    const ValRef y = recip(b);
    const ValRef q = op(Opcode::FMUL, a, y);
    const ValRef nb = op(Opcode::FNEG, b);
    const ValRef r = op(Opcode::FMA, nb, q, a);
    const ValRef q2 = op(Opcode::FMA, r, y, q);
    // q when the correction is NaN (b = 0 or inf, a inf) or zero (keeps -0).
    const ValRef a2 = op(Opcode::FABS, q2);
    const ValRef ok = op(Opcode::FLT, u(0), a2);
    return op(Opcode::SEL, ok, q2, q);
  }
  // 1/sqrt(x) for normal positive x.
  ValRef rsqrt_core(ValRef x) {
    const ValRef nh = op(Opcode::FMUL, x, f(-0.5f));
    ValRef y = op(Opcode::SHRL, x, u(1));
    y = op(Opcode::ISUB, u(0x5F3759DFu), y);
    for (int i = 0; i < 3; ++i) {
      const ValRef t = op(Opcode::FMUL, y, y);
      const ValRef e = op(Opcode::FMA, nh, t, f(0.5f));
      y = op(Opcode::FMA, y, e, y);
    }
    return y;
  }
  // Positive subnormals scaled by 2^24 (c: x < 2^-126, 1.0f or 0).
  ValRef sub_scale(ValRef x, ValRef c) {
    const ValRef t = op(Opcode::AND, c, u(0x0C000000u));
    const ValRef k = op(Opcode::IADD, t, u(kOne));
    return op(Opcode::FMUL, x, k);
  }
  // Result scale 2^-12 (sqrt) or 2^12 (rsqrt) where x was scaled.
  ValRef half_unscale(ValRef r, ValRef c, bool up) {
    const ValRef t = op(Opcode::AND, c, u(0x06000000u));
    const ValRef k = up ? op(Opcode::IADD, t, u(kOne)) : op(Opcode::ISUB, u(kOne), t);
    return op(Opcode::FMUL, r, k);
  }
  // rsqrt: +-0 -> +-inf, x < 0 -> NaN, +inf -> +0, subnormals scaled.
  ValRef rsqrt(ValRef x0) {
    const ValRef c = op(Opcode::FLT, x0, u(kMinNormal));
    const ValRef x = sub_scale(x0, c);
    ValRef y = rsqrt_core(x);
    y = half_unscale(y, c, true);
    const ValRef sgn = op(Opcode::AND, x, u(kSign));
    const ValRef sinf = op(Opcode::OR, sgn, u(kInf));
    const ValRef ng = op(Opcode::FLT, x, u(0));
    const ValRef sp = op(Opcode::SEL, ng, u(gen::kCanonicalNan), sinf);
    const ValRef small = op(Opcode::FLT, x, u(kMinNormal));
    y = op(Opcode::SEL, small, sp, y);
    const ValRef inf = op(Opcode::FEQ, x, u(kInf));
    return op(Opcode::SEL, inf, u(0), y);
  }
  // sqrt: +-0 -> +-0, x < 0 -> NaN, +inf -> +inf, subnormals scaled.
  ValRef sqrt(ValRef x0) {
    const ValRef c0 = op(Opcode::FLT, x0, u(kMinNormal));
    const ValRef x = sub_scale(x0, c0);
    const ValRef y = rsqrt_core(x);
    const ValRef s = op(Opcode::FMUL, x, y);
    const ValRef ns = op(Opcode::FNEG, s);
    const ValRef d = op(Opcode::FMA, ns, s, x);
    const ValRef hy = op(Opcode::FMUL, y, f(0.5f));
    ValRef r = op(Opcode::FMA, d, hy, s);
    const ValRef c = op(Opcode::FLT, x0, u(kMinNormal));
    r = half_unscale(r, c, false);
    const ValRef ng = op(Opcode::FLT, x, u(0));
    const ValRef sgn = op(Opcode::AND, x, u(kSign));
    const ValRef sp = op(Opcode::SEL, ng, u(gen::kCanonicalNan), sgn);
    const ValRef small = op(Opcode::FLT, x, u(kMinNormal));
    r = op(Opcode::SEL, small, sp, r);
    const ValRef inf = op(Opcode::FEQ, x, u(kInf));
    return op(Opcode::SEL, inf, u(kInf), r);
  }
  // e = exp(-|x|) in (0, 1], y = 1/(1+e) (d in [1, 2]: no special cases); x >= 0: y,
  // x < 0: e*y (subnormal results included, no overflow).
  ValRef sigmoid(ValRef x) {
    const ValRef ax = op(Opcode::FABS, x);
    const ValRef na = op(Opcode::FNEG, ax);
    const ValRef e = exp(na, false);
    const ValRef d = op(Opcode::FADD, e, f(1.0f));
    const ValRef y = recip_core(d);
    const ValRef ey = op(Opcode::FMUL, e, y);
    const ValRef ng = op(Opcode::FLT, x, u(0));
    return op(Opcode::SEL, ng, ey, y);
  }
  // Copy the sign of x onto a non-negative r, NaN canonical.
  ValRef with_sign(ValRef r, ValRef x) {
    const ValRef sgn = op(Opcode::AND, x, u(kSign));
    const ValRef s = op(Opcode::OR, r, sgn);
    return op(Opcode::FMUL, s, f(1.0f));
  }
  ValRef tanh(ValRef x) {
    const ValRef ax = op(Opcode::FABS, x);
    // Small: |x| + |x|^3 * P(x^2).
    const ValRef z = op(Opcode::FMUL, ax, ax);
    ValRef p = horner(z, {-5.70498872745E-3f, 2.06390887954E-2f, -5.37397155531E-2f, 1.33314422036E-1f,
                          -3.33332819422E-1f});
    p = op(Opcode::FMUL, p, z);
    const ValRef small = op(Opcode::FMA, p, ax, ax);
    // Large: 1 - 2/(exp(2|x|) + 1), |x| clamped to 10 (tanh(10) rounds to 1).
    const ValRef ac = op(Opcode::FMIN, ax, f(10.0f));
    const ValRef a2 = op(Opcode::FADD, ac, ac);
    const ValRef e = exp(a2, false);
    const ValRef d = op(Opcode::FADD, e, f(1.0f));
    const ValRef y = recip_core(d);
    const ValRef y2 = op(Opcode::FADD, y, y);
    const ValRef large = op(Opcode::FSUB, f(1.0f), y2);
    const ValRef c = op(Opcode::FLT, ax, f(0.625f));
    const ValRef r = op(Opcode::SEL, c, small, large);
    return with_sign(r, x);
  }
  ValRef erf(ValRef x) {
    const ValRef t = op(Opcode::FABS, x);
    const ValRef tc = op(Opcode::FMIN, t, f(4.0f));
    const ValRef s = op(Opcode::FMUL, tc, tc);
    // Small: x + x*P(x^2).
    ValRef p = horner(s, {-5.96761703e-4f, 4.99119423e-3f, -2.67681349e-2f, 1.12819925e-1f, -3.76125336e-1f,
                          1.28379166e-1f});
    const ValRef small = op(Opcode::FMA, p, tc, tc);
    // Large: 1 - exp(r), r = t*Q(t) - t.
    ValRef r = op(Opcode::FMUL, tc, f(-1.72853470e-5f));
    r = op(Opcode::FADD, r, f(3.83197126e-4f));
    ValRef uu = op(Opcode::FMUL, tc, f(-3.88396438e-3f));
    uu = op(Opcode::FADD, uu, f(2.42546219e-2f));
    r = op(Opcode::FMA, r, s, uu);
    r = op(Opcode::FMA, r, tc, f(-1.06777877e-1f));
    r = op(Opcode::FMA, r, tc, f(-6.34846687e-1f));
    r = op(Opcode::FMA, r, tc, f(-1.28717512e-1f));
    const ValRef nt = op(Opcode::FNEG, tc);
    r = op(Opcode::FMA, r, tc, nt);
    const ValRef e = exp(r, false);
    const ValRef large = op(Opcode::FSUB, f(1.0f), e);
    const ValRef c = op(Opcode::FLT, t, f(0.927734375f));
    const ValRef y = op(Opcode::SEL, c, small, large);
    return with_sign(y, x);
  }
};

const Tensor* const_scalar(const Graph& g, int t) {
  const Tensor& x = g.tensors.at(t);
  if (x.kind != TensorKind::Constant || x.data.size() != 1) return nullptr;
  return &x;
}

// The builder's named functions (function_program's names), of input 0 (div: 0 by 1);
// false when `name` is none of them.
bool build_function(Builder& b, const std::string& name) {
  const ValRef x = b.in(0);
  if (name == "exp")
    b.exp(x);
  else if (name == "log")
    b.log(x);
  else if (name == "reciprocal")
    b.recip_scaled(x);
  else if (name == "sqrt")
    b.sqrt(x);
  else if (name == "rsqrt")
    b.rsqrt(x);
  else if (name == "sigmoid")
    b.sigmoid(x);
  else if (name == "tanh")
    b.tanh(x);
  else if (name == "erf")
    b.erf(x);
  else if (name == "div")
    b.div(x, b.in(1));
  else
    return false;
  return true;
}

}  // namespace

bool is_math_op(const std::string& op) {
  static const char* const kOps[] = {"Exp", "Log",  "Sqrt",     "Reciprocal", "Div",  "Sigmoid", "Tanh", "Erf",
                                     "Pow", "Elu",  "Selu",     "Softplus",   "Softsign", "Mean",  "DropoutTrain",
                                     "IsNaN", "IsInf", "Sign", "Round", "Floor", "Ceil", "Mod"};
  for (const char* o : kOps)
    if (op == o) return true;
  return false;
}

MathProgram function_program(const std::string& name) {
  Builder b(name == "div" ? 2 : 1);
  if (!build_function(b, name)) throw std::invalid_argument("function_program: unknown function '" + name + "'");
  return b.p;
}

// DropoutTrain(x, index, step), Dropout in training mode: keep element `index` (its flat index, fp32) of step `step` when
// u = fmix32(index ^ step * 0x85EBCA6B ^ seed * 0x9E3779B9) >> 8 (24 bits) >= ratio * 2^24;
// kept elements are scaled by fp32(1 / (1 - ratio)), the others 0 (docs/training.md).
void dropout_program(Builder& b, const Node& n) {
  const double ratio = n.attr("ratio");
  const uint32_t seed = uint32_t(uint64_t(n.iattr("seed")) * 0x9E3779B9u);
  const ValRef idx = b.op(Opcode::FTOI, b.in(1));
  const ValRef step = b.op(Opcode::IMUL, b.op(Opcode::FTOI, b.in(2)), Builder::u(0x85EBCA6Bu));
  ValRef k = b.op(Opcode::XOR, b.op(Opcode::XOR, idx, step), Builder::u(seed));
  k = b.op(Opcode::XOR, k, b.op(Opcode::SHRL, k, Builder::u(16)));
  k = b.op(Opcode::IMUL, k, Builder::u(0x85EBCA6Bu));
  k = b.op(Opcode::XOR, k, b.op(Opcode::SHRL, k, Builder::u(13)));
  k = b.op(Opcode::IMUL, k, Builder::u(0xC2B2AE35u));
  k = b.op(Opcode::XOR, k, b.op(Opcode::SHRL, k, Builder::u(16)));
  const ValRef u = b.op(Opcode::ITOF, b.op(Opcode::SHRL, k, Builder::u(8)));
  const ValRef keep = b.op(Opcode::FLE, Builder::f(float(ratio * 16777216.0)), u);
  const ValRef scaled = b.op(Opcode::FMUL, b.in(0), Builder::f(float(1.0 / (1.0 - ratio))));
  b.op(Opcode::SEL, keep, scaled, Builder::u(0));
}

// IsNaN, IsInf, Sign (issue 23): comparisons giving the bool words 1.0f/0, Sign as
// (0 < x) - (x < 0) with NaN passed through.
void classify_program(Builder& b, const Node& n) {
  const ValRef x = b.in(0);
  if (n.op == "IsNaN") {
    b.op(Opcode::XOR, b.op(Opcode::FEQ, x, x), Builder::u(kOne));
  } else if (n.op == "IsInf") {
    const bool pos = n.iattr("detect_positive") != 0, neg = n.iattr("detect_negative") != 0;
    if (pos && neg)
      b.op(Opcode::FEQ, b.op(Opcode::FABS, x), Builder::u(kInf));
    else if (pos || neg)
      b.op(Opcode::FEQ, x, Builder::u(pos ? kInf : kNegInf));
    else
      b.op(Opcode::AND, x, Builder::u(0));
  } else {  // Sign
    const ValRef d = b.op(Opcode::FSUB, b.op(Opcode::FLT, Builder::u(0), x), b.op(Opcode::FLT, x, Builder::u(0)));
    b.op(Opcode::SEL, b.op(Opcode::FEQ, x, x), d, x);
  }
}

// Round (half to even), Floor, Ceil: r = (|x| + 2^23) - 2^23 rounds |x| < 2^23 to an
// integer (ties to even), the sign of x restored; Floor subtracts 1 where r > x, Ceil
// adds 1 where r < x, the sign of x ORed in again (-0 stays -0: ceil(-0.5) = -0);
// |x| >= 2^23, infinities and NaN are returned as they are.
void rounding_program(Builder& b, const Node& n) {
  const ValRef x = b.in(0);
  const ValRef ax = b.op(Opcode::FABS, x);
  const ValRef t = b.op(Opcode::FSUB, b.op(Opcode::FADD, ax, Builder::f(8388608.0f)), Builder::f(8388608.0f));
  const ValRef sg = b.op(Opcode::AND, x, Builder::u(kSign));
  ValRef r = b.op(Opcode::OR, t, sg);
  if (n.op != "Round") {
    const bool fl = n.op == "Floor";
    const ValRef c = fl ? b.op(Opcode::FLT, x, r) : b.op(Opcode::FLT, r, x);
    const ValRef adj = b.op(Opcode::FADD, r, Builder::f(fl ? -1.0f : 1.0f));
    r = b.op(Opcode::OR, b.op(Opcode::SEL, c, adj, r), sg);
  }
  b.op(Opcode::SEL, b.op(Opcode::FLT, ax, Builder::f(8388608.0f)), r, x);
}

// Mod with fmod = 1 (C fmod: the sign of x), a = |x| reduced by B = |y|*2^46, |y|*2^23,
// |y| in turn: where a >= B, a - trunc(a/B)*B by one FMA (exact: the quotient is below
// 2^23 and the faithful division's trunc is q or q + 1, corrected once either way).
// Exact for |x/y| < 2^69; beyond, and for y = 0, x infinite or NaN operands: NaN.
void mod_program(Builder& b, const Node& n) {
  (void)n;
  const ValRef x = b.in(0);
  ValRef a = b.op(Opcode::FABS, x);
  const ValRef y = b.op(Opcode::FABS, b.in(1));
  const ValRef y23 = b.op(Opcode::FMUL, y, Builder::f(8388608.0f));
  const ValRef y46 = b.op(Opcode::FMUL, y23, Builder::f(8388608.0f));
  const ValRef in_range = b.op(Opcode::FLT, a, b.op(Opcode::FMUL, y46, Builder::f(8388608.0f)));
  for (const ValRef B : {y46, y23, y}) {
    const ValRef q = b.op(Opcode::ITOF, b.op(Opcode::FTOI, b.div(a, B)));
    ValRef r = b.op(Opcode::FMA, b.op(Opcode::FNEG, q), B, a);
    r = b.op(Opcode::SEL, b.op(Opcode::FLT, r, Builder::u(0)), b.op(Opcode::FADD, r, B), r);
    r = b.op(Opcode::SEL, b.op(Opcode::FLE, B, r), b.op(Opcode::FSUB, r, B), r);
    a = b.op(Opcode::SEL, b.op(Opcode::FLT, a, B), a, r);
  }
  const ValRef res = b.op(Opcode::OR, a, b.op(Opcode::AND, x, Builder::u(kSign)));
  const ValRef finite = b.op(Opcode::FLT, b.op(Opcode::FABS, x), Builder::u(kInf));
  const ValRef ok = b.op(Opcode::AND, b.op(Opcode::AND, finite, b.op(Opcode::FLT, Builder::u(0), y)), in_range);
  b.op(Opcode::SEL, ok, res, Builder::u(gen::kCanonicalNan));
}

// Mod of int32 words (int64 tensors at run time, narrowed by the runtime), exact for every
// int32 pair with y != 0 (y = 0 gives 0). In negative magnitudes, which hold |-2^31|:
// na = -|x|, nb = -|y|; twice r -= FTOI(div(ITOF(r), ITOF(nb)))*nb (the first quotient
// within 2^-21 relatively: r stays in [-2^31, 2^10]; the second off by at most one:
// |r| <= |y|), then one step up where r > 0 and one down where r <= nb gives r in (nb, 0]
// = -(|x| mod |y|); the sign of x (fmod = 1), then the sign of y (fmod = 0: + y where the
// remainder is non-zero and its sign differs from y's).
void int_mod_program(Builder& b, const Node& n) {
  const ValRef x = b.in(0), y = b.in(1), zero = Builder::u(0);
  const ValRef x_neg = b.op(Opcode::ILT, x, zero);
  const ValRef na = b.op(Opcode::SEL, x_neg, x, b.op(Opcode::ISUB, zero, x));
  const ValRef nb = b.op(Opcode::SEL, b.op(Opcode::ILT, y, zero), y, b.op(Opcode::ISUB, zero, y));
  const ValRef fnb = b.op(Opcode::ITOF, nb);
  ValRef r = na;
  for (int step = 0; step < 2; ++step) {
    const ValRef q = b.op(Opcode::FTOI, b.div(b.op(Opcode::ITOF, r), fnb));
    r = b.op(Opcode::ISUB, r, b.op(Opcode::IMUL, q, nb));
  }
  r = b.op(Opcode::SEL, b.op(Opcode::ILT, zero, r), b.op(Opcode::IADD, r, nb), r);
  r = b.op(Opcode::SEL, b.op(Opcode::ILT, nb, r), r, b.op(Opcode::ISUB, r, nb));
  ValRef m = b.op(Opcode::SEL, x_neg, r, b.op(Opcode::ISUB, zero, r));
  if (n.iattr("fmod") == 0) {
    const ValRef differ = b.op(Opcode::XOR, b.op(Opcode::ILT, m, zero), b.op(Opcode::ILT, y, zero));
    m = b.op(Opcode::SEL, b.op(Opcode::SEL, m, differ, zero), b.op(Opcode::IADD, m, y), m);
  }
  b.op(Opcode::SEL, y, m, zero);
}

// Pow: constant scalar exponents 1, 2, 3, 0.5, -1, -0.5 exactly; otherwise exp(y*log(x))
// (x < 0 gives NaN, pow(0, 0) gives NaN).
void pow_program(Builder& b, const Graph& g, const Node& n) {
  const ValRef x = b.in(0);
  const Tensor* c = n.inputs.size() > 1 ? const_scalar(g, n.inputs[1]) : nullptr;
  const float y = c ? c->data[0] : 0.0f;
  if (c && y == 1.0f)
    b.op(Opcode::MOV, x, Builder::u(0));
  else if (c && y == 2.0f)
    b.op(Opcode::FMUL, x, x);
  else if (c && y == 3.0f)
    b.op(Opcode::FMUL, b.op(Opcode::FMUL, x, x), x);
  else if (c && y == 0.5f)
    b.sqrt(x);
  else if (c && y == -1.0f)
    b.recip_scaled(x);
  else if (c && y == -0.5f)
    b.rsqrt(x);
  else {
    const ValRef l = b.log(x);
    const ValRef t = c ? b.op(Opcode::FMUL, l, Builder::f(y)) : b.op(Opcode::FMUL, l, b.in(1));
    b.exp(t);
  }
}

// Elu, Selu: x < 0 (Selu: x <= 0) ? alpha*(exp(x) - 1) [*gamma] : x [*gamma]; NaN passes x.
void elu_program(Builder& b, const Node& n) {
  const ValRef x = b.in(0);
  const ValRef e = b.exp(x);
  const ValRef m = b.op(Opcode::FSUB, e, Builder::f(1.0f));
  ValRef y = b.op(Opcode::FMUL, m, Builder::f(n.attr("alpha")));
  ValRef pos = x;
  if (n.op == "Selu") {
    y = b.op(Opcode::FMUL, y, Builder::f(n.attr("gamma")));
    pos = b.op(Opcode::FMUL, x, Builder::f(n.attr("gamma")));
  }
  const ValRef c = b.op(n.op == "Elu" ? Opcode::FLT : Opcode::FLE, x, Builder::u(0));
  b.op(Opcode::SEL, c, y, pos);
}

// Softplus: max(x, 0) + log(1 + exp(-|x|)); exp(x) below x = -16.
void softplus_program(Builder& b) {
  const ValRef x = b.in(0);
  const ValRef ax = b.op(Opcode::FABS, x);
  const ValRef na = b.op(Opcode::FNEG, ax);
  const ValRef e = b.exp(na);
  const ValRef d = b.op(Opcode::FADD, e, Builder::f(1.0f));
  const ValRef l = b.log_core(d);
  const ValRef mx = b.op(Opcode::FMAX, x, Builder::u(0));
  const ValRef y = b.op(Opcode::FADD, mx, l);
  const ValRef c = b.op(Opcode::FLT, x, Builder::f(-16.0f));
  b.op(Opcode::SEL, c, e, y);
}

// Softsign: x/(1+|x|); |x| >= 2^24 gives +-1.
void softsign_program(Builder& b) {
  const ValRef x = b.in(0);
  const ValRef ax = b.op(Opcode::FABS, x);
  const ValRef d = b.op(Opcode::FADD, ax, Builder::f(1.0f));
  const ValRef q = b.div(x, d);
  const ValRef sgn = b.op(Opcode::AND, x, Builder::u(kSign));
  const ValRef one = b.op(Opcode::OR, sgn, Builder::u(kOne));
  const ValRef big = b.op(Opcode::FLE, Builder::f(16777216.0f), ax);
  b.op(Opcode::SEL, big, one, q);
}

// Mean: the sum left to right, times fl(1/n).
void mean_program(Builder& b, const Node& n) {
  const ValRef x = b.in(0);
  ValRef s = x;
  for (size_t k = 1; k < n.inputs.size(); ++k) s = b.op(Opcode::FADD, s, b.in(int(k)));
  if (n.inputs.size() == 1)
    b.op(Opcode::MOV, x, Builder::u(0));
  else
    b.op(Opcode::FMUL, s, Builder::f(1.0f / float(n.inputs.size())));
}

MathProgram math_program(const Graph& g, const Node& n) {
  // The operators that are one of the builder's functions (build_function).
  static const std::map<std::string, std::string> kFunctions = {
      {"Exp", "exp"}, {"Log", "log"},         {"Sqrt", "sqrt"}, {"Reciprocal", "reciprocal"},
      {"Div", "div"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Erf", "erf"}};
  Builder b(int(n.inputs.size()));
  const std::string& op = n.op;
  if (const auto f = kFunctions.find(op); f != kFunctions.end())
    build_function(b, f->second);
  else if (op == "DropoutTrain")
    dropout_program(b, n);
  else if (op == "IsNaN" || op == "IsInf" || op == "Sign")
    classify_program(b, n);
  else if (op == "Round" || op == "Floor" || op == "Ceil")
    rounding_program(b, n);
  else if (op == "Mod" && g.tensors.at(size_t(n.inputs.at(0))).dtype == DType::I64)
    int_mod_program(b, n);
  else if (op == "Mod")
    mod_program(b, n);
  else if (op == "Pow")
    pow_program(b, g, n);
  else if (op == "Elu" || op == "Selu")
    elu_program(b, n);
  else if (op == "Softplus")
    softplus_program(b);
  else if (op == "Softsign")
    softsign_program(b);
  else if (op == "Mean")
    mean_program(b, n);
  else
    throw CompileError(fmt::format("{}: {}: not a math operator", g.source, g.describe(n)));
  return b.p;
}

uint32_t run_program(const MathProgram& p, const uint32_t* in) {
  uint32_t vals[256];
  if (p.ninputs + p.ops.size() > 256) throw std::logic_error("math program too long");
  for (int k = 0; k < p.ninputs; ++k) vals[k] = in[k];
  auto get = [&](const ValRef& v) -> uint32_t {
    return v.kind == ValRef::Val ? vals[v.id] : v.kind == ValRef::Imm ? v.imm : 0u;
  };
  for (size_t j = 0; j < p.ops.size(); ++j) {
    const SectionOp& o = p.ops[j];
    // MOV's B immediate is not read (ZERO on the device).
    vals[p.ninputs + j] = model::pcu_op(o.op, get(o.a), get(o.b), get(o.c));  // the device's rules
  }
  return vals[p.ninputs + p.ops.size() - 1];
}

float run_program_f(const MathProgram& p, const std::vector<float>& in) {
  uint32_t u[16];
  for (size_t k = 0; k < in.size() && k < 16; ++k) u[k] = fb(in[k]);
  return bf(run_program(p, u));
}

// ---------------------------------------------------------------- segmentation
// A segment is one PCU: at most `stages` ops, 1..vin distinct input values, and pipeline
// registers for every value live at each op (pcu_program's allocation: the inputs sit in
// registers 0..k-1 from the start, a register frees after the last read of its value,
// so an op fits when fewer than `regs` earlier values are still read after it). A PCU has
// one output, so a value made in a segment and read after it must be its last op.
namespace {

// External inputs (program values read by ops `run` of p and not made by them, in the
// order of first read) and whether `run`, in this order, fits the registers. `run` is
// topologically ordered; the value of its last op is the output (live to the end).
bool run_fits(const arch::Config& cfg, const MathProgram& p, const std::vector<int>& run, std::vector<int>& inputs) {
  const int k = p.ninputs, m = int(run.size());
  inputs.clear();
  auto local = [&](int v) {  // position in the run of the op making value v, -1 outside
    for (int q = 0; q < m; ++q)
      if (k + run[q] == v) return q;
    return -1;
  };
  // Segment values: inputs first, then the ops; last_use by run position.
  std::vector<int> last_use;
  std::vector<int> id(m);
  for (int q = 0; q < m; ++q) {
    std::vector<int> reads;
    for_reads(p.ops[run[q]], [&](int v) { reads.push_back(v); });
    for (int v : reads)
      if (local(v) < 0 && std::find(inputs.begin(), inputs.end(), v) == inputs.end()) inputs.push_back(v);
  }
  const int ni = int(inputs.size());
  if (ni < 1 || ni > int(cfg.vin) || m > int(cfg.stages)) return false;
  last_use.assign(ni + m, -1);
  for (int q = 0; q < m; ++q)
    for_reads(p.ops[run[q]], [&](int v) {
      const int l = local(v);
      last_use[l >= 0 ? ni + l : int(std::find(inputs.begin(), inputs.end(), v) - inputs.begin())] = q;
    });
  last_use[ni + m - 1] = std::numeric_limits<int>::max();
  for (int q = 0; q < m; ++q) {
    int busy = 0;
    for (int v = 0; v < ni + q; ++v) busy += last_use[v] > q;
    if (busy >= int(cfg.regs)) return false;
  }
  return true;
}

// The SectionPlan of a run (for pcu_program): operands renumbered to the segment.
SectionPlan run_plan(const MathProgram& p, const std::vector<int>& run, const std::vector<int>& inputs) {
  SectionPlan plan;
  plan.ext_inputs.assign(inputs.size(), 0);
  for (int j : run) {
    SectionOp o = p.ops[j];
    for (ValRef* v : {&o.a, &o.b, &o.c})
      if (v->kind == ValRef::Val) {
        const auto in = std::find(inputs.begin(), inputs.end(), v->id);
        if (in != inputs.end())
          v->id = int(in - inputs.begin());
        else
          v->id = int(inputs.size()) + int(std::find(run.begin(), run.end(), v->id - p.ninputs) - run.begin());
      }
    plan.ops.push_back(o);
  }
  return plan;
}

// p with its ops in `order` (a topological order ending with p's last op), operands
// renumbered: the same values, so run_program gives the same bits.
MathProgram permute_program(const MathProgram& p, const std::vector<int>& order) {
  const int k = p.ninputs;
  std::vector<int> pos(p.ops.size());
  for (size_t q = 0; q < order.size(); ++q) pos[size_t(order[q])] = int(q);
  MathProgram r;
  r.ninputs = k;
  for (int j : order) {
    SectionOp o = p.ops[size_t(j)];
    for (ValRef* v : {&o.a, &o.b, &o.c})
      if (v->kind == ValRef::Val && v->id >= k) v->id = k + pos[size_t(v->id - k)];
    r.ops.push_back(o);
  }
  return r;
}

// Fewest segments over the topological orders of p: breadth-first search over the sets
// of ops done (each set a downset of the program; its ops read later are segment
// outputs), one segment per step. A step's segment is a set S of pending ops whose ops
// other than its sink t have all their readers in S (so only t is read after it), whose
// operands are done or in S, and which fits a PCU in some order. Returns the op order
// (segments concatenated) or nothing when the search exceeds `max_states`.
constexpr int kMaxSearchOps = 256;
using OpSet = std::bitset<kMaxSearchOps>;

// The search of search_order over one program.
class OrderSearch {
 public:
  OrderSearch(const arch::Config& cfg, const MathProgram& p)
      : cfg_(cfg), p_(p), n_(int(p.ops.size())), preds_(size_t(n_)), readers_(size_t(n_)) {
    const int k = p.ninputs;
    for (int j = 0; j < n_; ++j)
      for_reads(p.ops[j], [&](int v) {
        if (v < k) return;
        const int i = v - k;
        if (std::find(preds_[j].begin(), preds_[j].end(), i) == preds_[j].end()) {
          preds_[j].push_back(i);
          readers_[i].push_back(j);
        }
      });
  }

  std::optional<std::vector<int>> run(size_t max_states) {
    OpSet all;
    for (int j = 0; j < n_; ++j) all[j] = true;
    std::vector<OpSet> state{OpSet()}, seg{OpSet()};
    std::vector<int> parent{-1}, sink{-1};
    std::unordered_map<OpSet, int> index{{OpSet(), 0}};
    std::vector<int> layer{0};
    int goal = n_ == 0 ? 0 : -1;
    while (goal < 0 && !layer.empty()) {
      std::vector<int> next;
      for (size_t li = 0; li < layer.size() && goal < 0; ++li) {
        const OpSet done = state[size_t(layer[li])];
        for (int t = 0; t < n_ && goal < 0; ++t) {
          if (done[t]) continue;
          for (const OpSet& s : segments(done, t)) {
            const OpSet to = done | s;
            if (s[n_ - 1] && to != all) continue;  // the program's result is computed last
            if (!operands_done(s, to) || index.count(to) || fit(s, t).empty()) continue;
            index.emplace(to, int(state.size()));
            state.push_back(to);
            seg.push_back(s);
            parent.push_back(layer[li]);
            sink.push_back(t);
            if (to == all) goal = int(state.size()) - 1;
            next.push_back(int(state.size()) - 1);
          }
        }
        if (state.size() > max_states) return std::nullopt;
      }
      layer = std::move(next);
    }
    if (goal < 0) return std::nullopt;
    std::vector<int> chain;
    for (int s = goal; s > 0; s = parent[size_t(s)]) chain.push_back(s);
    std::vector<int> order;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const std::vector<int>& run = fit(seg[size_t(*it)], sink[size_t(*it)]);
      order.insert(order.end(), run.begin(), run.end());
    }
    return order;
  }

 private:
  // The sets S of pending ops with sink t: grown from {t} by pending producers whose
  // readers are all in S, up to a PCU's stages.
  std::vector<OpSet> segments(const OpSet& done, int t) const {
    std::vector<OpSet> sets{OpSet().set(size_t(t))};
    std::unordered_set<OpSet> seen{sets[0]};
    for (size_t si = 0; si < sets.size(); ++si) {
      const OpSet s = sets[si];
      if (s.count() >= cfg_.stages) continue;
      for (int j = 0; j < n_; ++j) {
        if (!s[j]) continue;
        for (int i : preds_[j]) {
          if (done[i] || s[i] || i == n_ - 1) continue;
          bool inside = true;
          for (int r : readers_[i]) inside = inside && s[r];
          if (!inside) continue;
          OpSet g = s;
          g[i] = true;
          if (seen.insert(g).second) sets.push_back(g);
        }
      }
    }
    return sets;
  }

  // Whether every operand of the ops of s is in `to` (done before, or in s).
  bool operands_done(const OpSet& s, const OpSet& to) const {
    bool ready = true;
    for (int j = 0; j < n_ && ready; ++j)
      if (s[j])
        for (int i : preds_[j]) ready = ready && to[i];
    return ready;
  }

  // An order of the ops of s ending with t that fits a PCU (empty: none), topological
  // orders in increasing op index first (the program's order when it fits). Depends on
  // the set only: cached.
  const std::vector<int>& fit(const OpSet& s, int t) {
    auto it = fit_cache_.find(s);
    if (it != fit_cache_.end()) return it->second;
    std::vector<int> ops;
    for (int j = 0; j < n_; ++j)
      if (s[j]) ops.push_back(j);
    std::vector<int> run, inputs, found;
    OpSet placed;
    std::function<bool()> dfs = [&]() -> bool {
      if (run.size() == ops.size()) {
        if (!run_fits(cfg_, p_, run, inputs)) return false;
        found = run;
        return true;
      }
      for (int j : ops) {
        if (placed[j] || (j == t && run.size() + 1 < ops.size())) continue;
        bool ready = true;
        for (int i : preds_[j]) ready = ready && (!s[i] || placed[i]);
        if (!ready) continue;
        placed[j] = true;
        run.push_back(j);
        if (dfs()) return true;
        run.pop_back();
        placed[j] = false;
      }
      return false;
    };
    dfs();
    return fit_cache_.emplace(s, std::move(found)).first->second;
  }

  const arch::Config& cfg_;
  const MathProgram& p_;
  const int n_;
  std::vector<std::vector<int>> preds_, readers_;  // distinct producing ops / reading ops
  std::unordered_map<OpSet, std::vector<int>> fit_cache_;
};

std::optional<std::vector<int>> search_order(const arch::Config& cfg, const MathProgram& p, size_t max_states) {
  if (int(p.ops.size()) > kMaxSearchOps) return std::nullopt;
  return OrderSearch(cfg, p).run(max_states);
}

}  // namespace

std::vector<MathSegment> split_program(const arch::Config& cfg, const MathProgram& p, const std::string& what) {
  const int n = int(p.ops.size()), k = p.ninputs;
  std::vector<int> last_use(k + n, -1);
  for (int j = 0; j < n; ++j) for_reads(p.ops[j], [&](int v) { last_use[v] = j; });
  // Fewest segments for this order: best[s] segments for ops s..n-1. A segment's validity
  // does not depend on the earlier ones: a value it reads from before s is read after
  // its own segment, so it is a program input or that segment's last op.
  constexpr int kNone = std::numeric_limits<int>::max();
  std::vector<int> best(n + 1, kNone), end(n, -1);
  std::vector<MathSegment> seg_at(n);
  best[n] = 0;
  std::vector<int> run, inputs;
  for (int s = n - 1; s >= 0; --s)
    for (int e = s; e < n && e - s < int(cfg.stages); ++e) {
      if (best[e + 1] == kNone || best[e + 1] + 1 > best[s]) continue;
      // Values made inside [s, e) must not be read after e.
      bool ok = true;
      for (int j = s; j < e && ok; ++j)
        if (last_use[k + j] > e) ok = false;
      run.assign(1, s);
      for (int j = s + 1; j <= e; ++j) run.push_back(j);
      if (!ok || !run_fits(cfg, p, run, inputs)) continue;
      best[s] = best[e + 1] + 1;  // ties: the longer segment (as the greedy split)
      end[s] = e;
      seg_at[s].first = s;
      seg_at[s].last = e;
      seg_at[s].inputs = inputs;
    }
  if (best[0] == kNone) {
    int s = n - 1;
    while (best[s] != kNone) --s;
    throw CompileError(fmt::format("{}: cannot split the operation sequence at op {}", what, s));
  }
  std::vector<MathSegment> segs;
  for (int s = 0; s < n; s = end[s] + 1) {
    // pcu_program is the authority on what fits; run_fits mirrors its allocation.
    run.clear();
    for (int j = s; j <= end[s]; ++j) run.push_back(j);
    pcu_program(cfg, run_plan(p, run, seg_at[s].inputs), 1, what);
    segs.push_back(seg_at[s]);
  }
  return segs;
}

MathSplit schedule_program(const arch::Config& cfg, const MathProgram& p, const std::string& what) {
  MathSplit r;
  r.program = p;
  r.segs = split_program(cfg, p, what);
  // Bounded (about a second) so no program compiles slowly: the special functions and
  // math operators need at most about 7,000 states (tanh on small, 0.2 s), and past the
  // bound the program's order stays.
  // The order found depends only on the program and the PCU's shape: remembered, so a
  // model with many equal math nodes (a GELU per layer) searches once per program.
  std::string key = fmt::format("{}/{}/{}/{}:", cfg.stages, cfg.regs, cfg.vin, p.ninputs);
  for (const SectionOp& o : p.ops) {
    key += fmt::format("{},", int(o.op));
    for (const ValRef* v : {&o.a, &o.b, &o.c}) key += fmt::format("{}.{}.{},", int(v->kind), v->id, v->imm);
  }
  static std::mutex mu;
  static std::map<std::string, std::optional<std::vector<int>>> memo;
  std::optional<std::vector<int>> order;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = memo.find(key);
    if (it != memo.end()) {
      order = it->second;
      cached = true;
    }
  }
  if (!cached) {
    // Past 80 ops (Mod's three reduction steps) a state costs so much that the bound is
    // about 10 s: such programs keep their order.
    if (p.ops.size() <= 80) order = search_order(cfg, p, 50000);
    std::lock_guard<std::mutex> lock(mu);
    memo.emplace(key, order);
  }
  if (!order) return r;
  MathProgram q = permute_program(p, *order);
  auto segs = split_program(cfg, q, what);
  if (segs.size() < r.segs.size()) {
    r.program = std::move(q);
    r.segs = std::move(segs);
  }
  return r;
}

namespace {

// Program p (inputs: the tensors `ins`) as one "MathSeg" node per segment (named `name`,
// or "<name>.m<k>"), the last writing tensor y, the others "<Y>.m<k>" of y's shape.
std::vector<Node> emit_segments(Graph& g, const arch::Config& c, const MathProgram& p0, const std::vector<int>& ins,
                                int y, const std::string& name, const std::string& what) {
  // The ops in the order of the fewest segments (the same values: the reference runs
  // math_program's order).
  const MathSplit split = schedule_program(c, p0, what);
  const MathProgram& p = split.program;
  const auto& segs = split.segs;
  const int k = p.ninputs;
  std::vector<Node> out;
  std::map<int, int> tensor_of;  // program value -> tensor
  for (int i = 0; i < k; ++i) tensor_of[i] = ins.at(size_t(i));
  for (size_t si = 0; si < segs.size(); ++si) {
    const MathSegment& sg = segs[si];
    Node s;
    s.name = segs.size() == 1 ? name : fmt::format("{}.m{}", name, si);
    s.op = "MathSeg";
    for (int v : sg.inputs) s.inputs.push_back(tensor_of.at(v));
    std::vector<int64_t>& enc = s.iattrs["ops"];
    for (int j = sg.first; j <= sg.last; ++j) {
      const SectionOp& o = p.ops[j];
      enc.push_back(int64_t(o.op));
      for (const ValRef* v : {&o.a, &o.b, &o.c}) {
        enc.push_back(int64_t(v->kind));
        int64_t val = 0;
        if (v->kind == ValRef::Imm)
          val = int64_t(v->imm);
        else if (v->kind == ValRef::Val)
          val = v->id < k + sg.first ? int64_t(std::find(sg.inputs.begin(), sg.inputs.end(), v->id) - sg.inputs.begin())
                                     : int64_t(sg.inputs.size()) + (v->id - k - sg.first);
        enc.push_back(val);
      }
    }
    if (si + 1 == segs.size())
      s.outputs = {y};
    else
      s.outputs = {new_value(g, fmt::format("{}.m{}", g.tensors[y].name, si), g.tensors[y].shape)};
    tensor_of[k + sg.last] = s.outputs[0];
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

int new_value(Graph& g, const std::string& base, const std::vector<int64_t>& shape) {
  Tensor t;
  std::string name = base;
  for (int i = 1; g.find(name) >= 0; ++i) name = fmt::format("{}.{}", base, i);
  t.name = name;
  t.kind = TensorKind::Value;
  t.shape = shape;
  t.shape_known = true;
  return g.add_tensor(std::move(t));
}

std::vector<Node> expand_math_node(Graph& g, const Node& n, const arch::Config* cfg, bool by_shape) {
  arch::Config c;
  if (cfg)
    c = *cfg;
  else {
    c.stages = 4;
    c.regs = 4;
    c.vin = 3;
    c.name = "default";
  }
  const std::string what = fmt::format("{}: {}", g.source, g.describe(n));
  const MathByShape bs = by_shape ? math_by_shape(g, n, 2 * int(c.stages)) : MathByShape{};
  if (!bs.changed) return emit_segments(g, c, math_program(g, n), n.inputs, n.outputs.at(0), n.name, what);
  std::vector<int> ins = n.inputs;
  std::vector<Node> out;
  for (size_t t = 0; t < bs.parts.size(); ++t) {
    const int yt = new_value(g, fmt::format("{}.b{}", g.tensors[size_t(n.outputs[0])].name, t), bs.part_shape);
    for (Node& s : emit_segments(g, c, bs.parts[t], ins, yt, fmt::format("{}.b{}", n.name, t), what))
      out.push_back(std::move(s));
    ins.push_back(yt);
  }
  for (Node& s : emit_segments(g, c, bs.program, ins, n.outputs[0], n.name, what)) out.push_back(std::move(s));
  return out;
}

ValRef append_math_segment(const Node& n, const std::vector<ValRef>& in, SectionPlan& plan) {
  const std::vector<int64_t>& enc = n.ints("ops");
  const int base = int(plan.ext_inputs.size());
  const int ni = int(n.inputs.size());
  std::vector<ValRef> local(in.begin(), in.end());
  ValRef r = ValRef::none();
  for (size_t i = 0; i + 7 <= enc.size(); i += 7) {
    SectionOp o;
    o.op = Opcode(enc[i]);
    ValRef* dst[3] = {&o.a, &o.b, &o.c};
    for (int q = 0; q < 3; ++q) {
      const auto kind = ValRef::Kind(enc[i + 1 + 2 * q]);
      const int64_t v = enc[i + 2 + 2 * q];
      if (kind == ValRef::Imm)
        *dst[q] = ValRef::immediate(uint32_t(v));
      else if (kind == ValRef::Val)
        *dst[q] = local.at(size_t(v));
      else
        *dst[q] = ValRef::none();
    }
    plan.ops.push_back(o);
    r = ValRef::val(base + int(plan.ops.size()) - 1);
    local.push_back(r);
  }
  (void)ni;
  return r;
}

}  // namespace openrdu::compiler::detail
