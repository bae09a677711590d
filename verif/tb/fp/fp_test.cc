// RTL floating point (rtl/units/rdu_fp_*.sv through fp_tb_top) against model::fp and
// against the host's IEEE-754 arithmetic (SSE, round to nearest even, no FTZ/DAZ),
// over directed vectors and >= 1,000,000 random and edge-biased operand pairs.
#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "Vfp_tb_top_tiny.h"
#include "openrdu/model/unit.h"
#include "verilated.h"

namespace fp = openrdu::model::fp;

namespace {

constexpr uint32_t kNan = 0x7FC00000u;

uint64_t seed_from_env() {
  const char* s = std::getenv("OPENRDU_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 20240601ull;
}

float f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t u32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
bool is_nan(uint32_t u) { return (u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFFu); }
uint32_t canon(float r) { return std::isnan(r) ? kNan : u32(r); }

// Host references, written independently of model::fp.
uint32_t host_add(uint32_t a, uint32_t b) {
  volatile float x = f32(a), y = f32(b);
  return canon(x + y);
}
uint32_t host_sub(uint32_t a, uint32_t b) {
  volatile float x = f32(a), y = f32(b);
  return canon(x - y);
}
uint32_t host_mul(uint32_t a, uint32_t b) {
  volatile float x = f32(a), y = f32(b);
  const uint32_t r = canon(x * y);
  // The product of two binary32 values is exact in binary64: one rounding to float.
  const double p = double(f32(a)) * double(f32(b));
  const uint32_t r2 = canon(static_cast<float>(p));
  EXPECT_EQ(r, r2) << "host float and double products disagree for " << std::hex << a << " * " << b;
  return r;
}
uint32_t host_max(uint32_t a, uint32_t b) {
  if (is_nan(a) || is_nan(b)) return kNan;
  float r = std::fmax(f32(a), f32(b));
  if (r == 0.0f) return (std::signbit(f32(a)) && std::signbit(f32(b))) ? 0x80000000u : 0u;
  return u32(r);
}
uint32_t host_min(uint32_t a, uint32_t b) {
  if (is_nan(a) || is_nan(b)) return kNan;
  float r = std::fmin(f32(a), f32(b));
  if (r == 0.0f) return (std::signbit(f32(a)) || std::signbit(f32(b))) ? 0x80000000u : 0u;
  return u32(r);
}

struct Harness {
  VerilatedContext ctx;
  Vfp_tb_top_tiny top{&ctx};
  struct R {
    uint32_t add, sub, mul, max, min;
  };
  R eval(uint32_t a, uint32_t b) {
    top.a_i = a;
    top.b_i = b;
    top.eval();
    return {top.add_o, top.sub_o, top.mul_o, top.max_o, top.min_o};
  }
};

// Counts and reports mismatches (the first few in full).
struct Checker {
  uint64_t seed;
  uint64_t errors = 0;
  // Result classes seen (all ops): the stimulus must reach them for the test to mean much.
  uint64_t nan = 0, inf = 0, zero = 0, sub = 0, exact_tie = 0;
  void check(const char* op, uint64_t i, uint32_t a, uint32_t b, uint32_t rtl, uint32_t model, uint32_t host) {
    const uint32_t mag = host & 0x7FFFFFFF;
    nan += host == kNan;
    inf += mag == 0x7F800000;
    zero += mag == 0;
    sub += mag != 0 && mag < 0x00800000;
    if (rtl == model && rtl == host) return;
    if (++errors <= 20)
      ADD_FAILURE() << "seed " << seed << " pair " << i << ": " << op << std::hex << "(0x" << a << ", 0x" << b
                    << "): rtl 0x" << rtl << " model 0x" << model << " host 0x" << host << std::dec;
  }
  void all(Harness& h, uint64_t i, uint32_t a, uint32_t b) {
    const Harness::R r = h.eval(a, b);
    check("add", i, a, b, r.add, fp::add(a, b), host_add(a, b));
    check("sub", i, a, b, r.sub, fp::sub(a, b), host_sub(a, b));
    check("mul", i, a, b, r.mul, fp::mul(a, b), host_mul(a, b));
    // Products exactly halfway between two floats (the double product is exact).
    const double p = double(f32(a)) * double(f32(b));
    const float rf = static_cast<float>(p);
    if (std::isfinite(p) && std::isfinite(rf) && p != double(rf)) {
      const float other = p > double(rf) ? std::nextafter(rf, INFINITY) : std::nextafter(rf, -INFINITY);
      exact_tie += (double(rf) + double(other)) / 2 == p;
    }
    check("max", i, a, b, r.max, fp::max(a, b), host_max(a, b));
    check("min", i, a, b, r.min, fp::min(a, b), host_min(a, b));
  }
};

// Operand generator biased towards the hard cases.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint32_t bits() { return uint32_t(rng_()); }
  uint32_t below(uint32_t n) { return uint32_t(rng_() % n); }
  uint32_t sign() { return below(2) << 31; }
  uint32_t make(uint32_t s, uint32_t e, uint32_t f) { return s | ((e & 0xFF) << 23) | (f & 0x7FFFFF); }

  uint32_t special() {
    static const uint32_t k[] = {0x00000000, 0x00000001, 0x00000002, 0x00000003, 0x007FFFFF, 0x007FFFFE,
                                 0x00400000, 0x00800000, 0x00800001, 0x00FFFFFF, 0x01000000, 0x3F800000,
                                 0x3F800001, 0x3F7FFFFF, 0x3F000000, 0x40000000, 0x33800000, 0x34000000,
                                 0x7F7FFFFF, 0x7F7FFFFE, 0x7F000000, 0x7F800000, 0x7FC00000, 0x7F800001,
                                 0x7FFFFFFF, 0x7FA00000, 0x4B000000, 0x4B800000, 0x5F800000, 0x1F800000};
    return sign() | k[below(sizeof k / sizeof k[0])];
  }
  // Mantissa with only its top few bits random: exact ties in products and sums.
  uint32_t sparse_frac() {
    const uint32_t keep = below(24);
    return keep == 0 ? 0 : (bits() & 0x7FFFFF) & ~((1u << (23 - std::min<uint32_t>(keep, 23))) - 1);
  }
  uint32_t frac() {
    switch (below(5)) {
      case 0: return sparse_frac();
      case 1: return 0x7FFFFF ^ sparse_frac();  // runs of ones: rounding carries
      case 2: {                                   // one to three bits anywhere: far sticky bits
        uint32_t f = 0;
        for (uint32_t n = 1 + below(3); n; --n) f |= 1u << below(23);
        return f;
      }
      default: return bits();
    }
  }
  uint32_t one() {
    switch (below(10)) {
      case 0:
      case 1:
      case 2: return bits();
      case 3: return special();
      case 4: return make(sign(), 0, frac());                   // subnormal (or zero)
      case 5: return make(sign(), 1 + below(3), frac());        // smallest normals
      case 6: return make(sign(), 251 + below(4), frac());      // largest finite
      case 7: return make(sign(), 100 + below(56), frac());     // around 1.0
      default: return make(sign(), below(256), frac());
    }
  }
  // Second operand, often related to the first.
  uint32_t other(uint32_t a) {
    const uint32_t ea = (a >> 23) & 0xFF;
    switch (below(12)) {
      case 0:
      case 1:
      case 2: return one();
      case 3: return a ^ 0x80000000u;                                             // x - x
      case 4: return (a ^ (below(2) << 31)) ^ (bits() & ((1u << below(24)) - 1));  // cancellation
      case 5: return make(sign(), ea + below(5) - 2, frac());                      // close exponents
      case 6: return make(sign(), ea - 22 - below(5), sparse_frac());              // rounding ties
      case 7: return make(sign(), ea - 24 - below(3), frac());                     // sticky boundary
      case 8: return make(sign(), 127 - ea + below(50) - 25, frac());              // product near 1
      case 9: return make(sign(), 97 - ea + below(34), frac());                     // product underflow edge
      case 10: return make(sign(), 381 - ea - below(4), frac());                    // product overflow edge
      default: return make(sign(), 0, frac());                                      // subnormal
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST(Fp, Directed) {
  Harness h;
  struct V {
    const char* op;
    uint32_t a, b, expect;
  };
  // Expected values from the IEEE-754 standard, computed by hand.
  const V v[] = {
      {"add", 0x3F800000, 0x3F800000, 0x40000000},  // 1 + 1 = 2
      {"add", 0x3F800000, 0xBF800000, 0x00000000},  // x + (-x) = +0
      {"add", 0x80000000, 0x80000000, 0x80000000},  // -0 + -0 = -0
      {"add", 0x80000000, 0x00000000, 0x00000000},  // -0 + +0 = +0
      {"add", 0x7F800000, 0xFF800000, kNan},        // inf - inf
      {"add", 0x7F800001, 0x3F800000, kNan},        // sNaN canonicalised
      {"add", 0x00000001, 0x00000001, 0x00000002},  // subnormal sum
      {"add", 0x007FFFFF, 0x00000001, 0x00800000},  // into the normals
      {"add", 0x7F7FFFFF, 0x73000000, 0x7F800000},  // max + half ulp: tie to even overflows
      {"add", 0x7F7FFFFF, 0x72FFFFFF, 0x7F7FFFFF},  // max + below half ulp
      {"add", 0x7F7FFFFF, 0xF3000000, 0x7F7FFFFE},  // max - half ulp: tie to even down
      {"add", 0x3F800000, 0x33800000, 0x3F800000},  // 1 + 2^-24: tie to even (down)
      {"add", 0x3F800001, 0x33800000, 0x3F800002},  // tie to even (up)
      {"sub", 0x3F800000, 0x3F800000, 0x00000000},  // 1 - 1 = +0
      {"sub", 0x00800000, 0x007FFFFF, 0x00000001},  // min normal - max subnormal
      {"mul", 0x00000001, 0x3F000000, 0x00000000},  // 2^-149 * 0.5: tie to even 0
      {"mul", 0x00000003, 0x3F000000, 0x00000002},  // 1.5 * 2^-149 rounds to 2
      {"mul", 0x80000001, 0x3F000000, 0x80000000},  // -0 result
      {"mul", 0x7F800000, 0x00000000, kNan},        // inf * 0
      {"mul", 0xFF800000, 0x3F800000, 0xFF800000},  // -inf * 1
      {"mul", 0x7F7FFFFF, 0x40000000, 0x7F800000},  // overflow
      {"mul", 0x00800000, 0x3F000000, 0x00400000},  // min normal / 2: exact subnormal
      {"mul", 0x3FC00000, 0x40000000, 0x40400000},  // 1.5 * 2 = 3
      {"max", 0x80000000, 0x00000000, 0x00000000},  // max(-0, +0) = +0
      {"max", 0x00000000, 0x80000000, 0x00000000},
      {"min", 0x80000000, 0x00000000, 0x80000000},  // min(-0, +0) = -0
      {"min", 0x00000000, 0x80000000, 0x80000000},
      {"max", 0x7FC00000, 0x3F800000, kNan},        // NaN if either is NaN
      {"min", 0x3F800000, 0xFFFFFFFF, kNan},
      {"max", 0xFF800000, 0xFF7FFFFF, 0xFF7FFFFF},
      {"min", 0x00000001, 0x80000001, 0x80000001},
  };
  for (const V& t : v) {
    const Harness::R r = h.eval(t.a, t.b);
    const std::string op = t.op;
    const uint32_t got = op == "add" ? r.add : op == "sub" ? r.sub : op == "mul" ? r.mul : op == "max" ? r.max : r.min;
    const uint32_t mod = op == "add"   ? fp::add(t.a, t.b)
                         : op == "sub" ? fp::sub(t.a, t.b)
                         : op == "mul" ? fp::mul(t.a, t.b)
                         : op == "max" ? fp::max(t.a, t.b)
                                       : fp::min(t.a, t.b);
    EXPECT_EQ(got, t.expect) << "rtl " << t.op << std::hex << "(0x" << t.a << ", 0x" << t.b << ")";
    EXPECT_EQ(mod, t.expect) << "model " << t.op << std::hex << "(0x" << t.a << ", 0x" << t.b << ")";
  }
}

TEST(Fp, RandomAndEdgePairs) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const uint64_t seed = seed_from_env();
  std::printf("OPENRDU_SEED=%llu\n", static_cast<unsigned long long>(seed));
  Harness h;
  Gen g(seed);
  Checker c{seed};
  constexpr uint64_t kRandom = 1'000'000, kBiased = 3'000'000;
  for (uint64_t i = 0; i < kRandom; ++i) c.all(h, i, g.bits(), g.bits());
  for (uint64_t i = 0; i < kBiased; ++i) {
    uint32_t a = g.one(), b = g.other(a);
    if (g.below(2)) std::swap(a, b);
    c.all(h, kRandom + i, a, b);
  }
  // Every special value against every other.
  Gen s(seed + 1);
  for (uint64_t i = 0; i < 60'000; ++i) c.all(h, kRandom + kBiased + i, s.special(), s.special());
  std::printf("results: %llu NaN, %llu inf, %llu zero, %llu subnormal; %llu product ties\n",
              (unsigned long long)c.nan, (unsigned long long)c.inf, (unsigned long long)c.zero,
              (unsigned long long)c.sub, (unsigned long long)c.exact_tie);
  EXPECT_GT(c.sub, 10'000u);
  EXPECT_GT(c.exact_tie, 1'000u);
  EXPECT_GT(c.zero, 10'000u);
  EXPECT_EQ(c.errors, 0u) << "mismatches (seed " << seed << ")";
}

}  // namespace
