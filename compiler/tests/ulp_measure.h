// ULP error of the math programs (lower_math.h) against a correctly rounded reference:
// double-precision libm (exp, log, sqrt, tanh, erf; 1/x, 1/sqrt(x), 1/(1+exp(-x)), a/b
// in double), whose result rounded to binary32 is the correctly rounded result except in
// rare double-rounding cases (|error| of libm's double < 2^-52 relative). The error of a
// device result `got` is |got - exact| / ulp(exact), ulp being the binary32 spacing at
// |exact| (2^-149 below 2^-126). Shared by bench/ulp.cc and compiler/tests/math_test.cc.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lower_math.h"

namespace openrdu::compiler::ulp {

inline double exact(const std::string& fn, double x, double y) {
  if (fn == "exp") return std::exp(x);
  if (fn == "log") return std::log(x);
  if (fn == "reciprocal") return 1.0 / x;
  if (fn == "sqrt") return std::sqrt(x);
  if (fn == "rsqrt") return 1.0 / std::sqrt(x);
  if (fn == "tanh") return std::tanh(x);
  if (fn == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (fn == "erf") return std::erf(x);
  if (fn == "div") return x / y;
  return NAN;
}

inline double ulp_at(double e) {
  const double a = std::fabs(e);
  if (a < 0x1p-126) return 0x1p-149;
  int ex = 0;
  std::frexp(a, &ex);  // a = m * 2^ex, m in [0.5, 1)
  return std::ldexp(1.0, ex - 24);
}

struct Stats {
  double max_ulp = 0;
  float worst_x = 0, worst_y = 0;
  uint64_t n = 0;            // inputs measured
  uint64_t flushed = 0;      // documented flushes (exact result or input beyond 2^+-126)
  uint64_t special_bad = 0;  // NaN/inf/zero results that differ from the documented ones
};

inline bool is_flush_case(const std::string& fn, float, float, double ex) {
  // No function flushes: every input is measured (subnormal inputs and results included).
  (void)fn;
  (void)ex;
  return false;
}

// Measure one input (pair).
inline void measure(const std::string& fn, const detail::MathProgram& p, float x, float y, Stats& st) {
  const uint32_t in[2] = {std::bit_cast<uint32_t>(x), std::bit_cast<uint32_t>(y)};
  const float got = std::bit_cast<float>(detail::run_program(p, in));
  const double ex = exact(fn, x, y);
  ++st.n;
  if (std::isnan(ex)) {
    if (!std::isnan(got)) ++st.special_bad;
    return;
  }
  const double exr = double(float(ex));  // correctly rounded (inf when it overflows)
  if (is_flush_case(fn, x, y, ex)) {
    ++st.flushed;
    return;
  }
  if (std::isinf(exr) || std::isinf(got) || std::isnan(got)) {
    if (!(std::isinf(exr) && got == float(exr))) {
      // Near FLT_MAX, exact may round to inf while got is FLT_MAX (or back): 1 ULP.
      if (!(std::isinf(exr) && std::fabs(got) == 3.4028234663852886e38f) &&
          !(std::isinf(got) && std::fabs(exr) == 3.4028234663852886e38)) {
        ++st.special_bad;
        if (st.special_bad < 4) st.worst_x = x, st.worst_y = y;
      }
    }
    return;
  }
  if (ex == 0 && got == 0) return;
  const double err = std::fabs(double(got) - ex) / ulp_at(ex);
  if (err > st.max_ulp) {
    st.max_ulp = err;
    st.worst_x = x;
    st.worst_y = y;
  }
}

// Random inputs: half random bit patterns over the whole float range (NaN, inf,
// subnormals included), half uniform in the function's interesting range; plus edge
// cases first.
inline Stats run(const std::string& fn, uint64_t n, uint64_t seed) {
  const detail::MathProgram p = detail::function_program(fn);
  Stats st;
  std::mt19937_64 rng(seed);
  const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, 0x1p-149f, -0x1p-149f, 0x1p-126f,
                         0x1.fffffep-127f, 0x1.fffffep127f, -0x1.fffffep127f, 0.5f, 2.0f, 88.7f, 88.72283f, -87.3f,
                         -103.9f, -104.5f, 89.0f, 0.625f, 0.927734375f, 9.0f, 1e-30f, 0x1p126f, 0x1p-125f};
  for (float a : edges)
    for (float b : edges) measure(fn, p, a, fn == "div" ? b : 1.0f, st);
  float lo = -10, hi = 10;
  if (fn == "exp") lo = -104, hi = 89;
  if (fn == "log" || fn == "sqrt" || fn == "rsqrt") lo = 0, hi = 4;
  if (fn == "sigmoid") lo = -90, hi = 20;
  if (fn == "erf" || fn == "tanh") lo = -5, hi = 5;
  std::uniform_real_distribution<float> uni(lo, hi);
  for (uint64_t i = 0; i < n; ++i) {
    float x, y;
    if (i & 1) {
      x = uni(rng);
      y = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
    } else {
      x = std::bit_cast<float>(uint32_t(rng()));
      y = std::bit_cast<float>(uint32_t(rng()));
    }
    measure(fn, p, x, y, st);
  }
  return st;
}

inline const std::vector<std::string>& functions() {
  static const std::vector<std::string> f = {"exp", "log", "reciprocal", "sqrt", "rsqrt",
                                             "tanh", "sigmoid", "erf", "div"};
  return f;
}

}  // namespace openrdu::compiler::ulp
