// RTL floating point (rtl/units/rdu_fp_*.sv through fp_tb_top) against model::fp and
// against the host's IEEE-754 arithmetic (SSE, round to nearest even, no FTZ/DAZ),
// over directed vectors and >= 1,000,000 random and edge-biased operand pairs; the lane
// ALU (rdu_pcu_alu, every opcode) against model::pcu_op and host references over
// >= 1,000,000 operand sets per opcode. Every evaluation also runs the same top built
// with OPENRDU_FP_IMPL=dpi's units (the model's operations through DPI-C) and requires
// its outputs to equal the synthesizable units' bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "Vfp_tb_top_tiny.h"
#include "Vfp_tb_top_tiny_dpi.h"
#include "openrdu/gen/isa.h"
#include "openrdu/model/unit.h"
#include "../common/tb_util.h"
#include "verilated.h"

namespace fp = openrdu::model::fp;
using openrdu::gen::Opcode;

namespace {

constexpr uint32_t kNan = 0x7FC00000u;

// OPENRDU_FP_SCALE multiplies the random sets of each check (default 1: 1 M per ALU
// opcode, 4 M operand pairs for add/sub/mul/min/max; ctest's tb_fp.ten_million_per_op,
// labelled slow, runs 10).
uint64_t fp_scale() {
  const char* s = std::getenv("OPENRDU_FP_SCALE");
  if (!s || !*s) return 1;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end || v < 1 || v > 1000) {
    std::fprintf(stderr, "OPENRDU_FP_SCALE='%s': expected an integer in 1..1000\n", s);
    std::exit(2);
  }
  return v;
}

using openrdu::tb::f32;
using openrdu::tb::u32;
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
  Vfp_tb_top_tiny top{&ctx};      // the synthesizable FP units
  Vfp_tb_top_tiny_dpi dpi{&ctx};  // OPENRDU_FP_IMPL=dpi's
  uint64_t dpi_mismatches = 0;
  struct R {
    uint32_t add, sub, mul, max, min;
  };
  template <class M>
  static void drive(M& m, uint32_t a, uint32_t b, uint8_t op, uint32_t c) {
    m.a_i = a;
    m.b_i = b;
    m.op_i = op;
    m.c_i = c;
    m.eval();
  }
  template <class M>
  static std::array<uint32_t, 6> outputs(const M& m) {
    return {m.add_o, m.sub_o, m.mul_o, m.max_o, m.min_o, m.alu_o};
  }
  // Both builds on one operand set; a DPI output unequal to the RTL's is a failure.
  void both(uint32_t a, uint32_t b, uint8_t op, uint32_t c) {
    drive(top, a, b, op, c);
    drive(dpi, a, b, op, c);
    const auto r = outputs(top), d = outputs(dpi);
    if (r == d) return;
    if (++dpi_mismatches <= 20)
      ADD_FAILURE() << std::hex << "dpi != rtl for a 0x" << a << " b 0x" << b << " c 0x" << c << " op " << int(op)
                    << ": add " << r[0] << "/" << d[0] << " sub " << r[1] << "/" << d[1] << " mul " << r[2] << "/"
                    << d[2] << " max " << r[3] << "/" << d[3] << " min " << r[4] << "/" << d[4] << " alu " << r[5]
                    << "/" << d[5];
  }
  R eval(uint32_t a, uint32_t b) {
    both(a, b, top.op_i, top.c_i);
    return {top.add_o, top.sub_o, top.mul_o, top.max_o, top.min_o};
  }
  uint32_t alu(Opcode op, uint32_t a, uint32_t b, uint32_t c) {
    both(a, b, uint8_t(op), c);
    return top.alu_o;
  }
  ~Harness() { EXPECT_EQ(dpi_mismatches, 0u) << "OPENRDU_FP_IMPL=dpi's units differ from the synthesizable ones"; }
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
  const uint64_t seed = openrdu::tb::seed_from_env(20240601);
  std::printf("OPENRDU_SEED=%llu\n", static_cast<unsigned long long>(seed));
  Harness h;
  Gen g(seed);
  Checker c{seed};
  const uint64_t kRandom = 1'000'000 * fp_scale(), kBiased = 3'000'000 * fp_scale();
  std::printf("%llu random and %llu biased pairs\n", (unsigned long long)kRandom, (unsigned long long)kBiased);
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

// ---------------------------------------------------------------- lane ALU, every opcode
// Host references, written independently of model::pcu_op.
uint32_t host_op(Opcode op, uint32_t a, uint32_t b, uint32_t c) {
  volatile float x = f32(a), y = f32(b), z = f32(c);
  const auto ia = static_cast<int32_t>(a), ib = static_cast<int32_t>(b);
  constexpr uint32_t kOne = 0x3F800000u;
  switch (op) {
    case Opcode::NOP:
    case Opcode::MOV: return a;
    case Opcode::FADD: return host_add(a, b);
    case Opcode::FSUB: return host_sub(a, b);
    case Opcode::FMUL: return host_mul(a, b);
    case Opcode::FMAX: return host_max(a, b);
    case Opcode::FMIN: return host_min(a, b);
    case Opcode::FMA: return canon(std::fma(float(x), float(y), float(z)));
    case Opcode::FABS: return canon(std::fabs(float(x)));
    case Opcode::FNEG: return canon(-x);
    case Opcode::FLT: return std::isless(float(x), float(y)) ? kOne : 0;
    case Opcode::FLE: return std::islessequal(float(x), float(y)) ? kOne : 0;
    case Opcode::FEQ: return (!std::isunordered(float(x), float(y)) && !std::islessgreater(float(x), float(y))) ? kOne : 0;
    case Opcode::SEL: return a ? b : c;
    case Opcode::IADD: return uint32_t(int64_t(ia) + ib);
    case Opcode::ISUB: return uint32_t(int64_t(ia) - ib);
    case Opcode::IMUL: return uint32_t(uint64_t(a) * b);
    case Opcode::SHL: return uint32_t(uint64_t(a) << (b % 32));
    case Opcode::SHRL: return uint32_t(uint64_t(a) >> (b % 32));
    case Opcode::SHRA: return uint32_t(int64_t(ia) / (int64_t(1) << (b % 32)) - ((ia < 0 && (ia % (int64_t(1) << (b % 32))) != 0) ? 1 : 0));
    case Opcode::AND: return a & b;
    case Opcode::OR: return a | b;
    case Opcode::XOR: return a ^ b;
    case Opcode::ILT: return ia < ib;
    case Opcode::FTOI: {
      const double d = double(f32(a));
      if (std::isnan(d)) return 0;
      const double t = std::trunc(d);
      if (t >= 2147483647.0) return 0x7FFFFFFFu;
      if (t <= -2147483648.0) return 0x80000000u;
      return uint32_t(int32_t(t));
    }
    case Opcode::ITOF: return u32(static_cast<float>(double(ia)));
  }
  return a;
}

// Third FMA operand, often close to -(a * b) (cancellation) or near its exponent.
uint32_t fma_addend(Gen& g, uint32_t a, uint32_t b) {
  const double p = double(f32(a)) * double(f32(b));
  const float pf = static_cast<float>(p);
  const int ep = std::isfinite(pf) && pf != 0 ? ((u32(pf) >> 23) & 0xFF) : 127;
  switch (g.below(10)) {
    case 0:
    case 1: return u32(-pf);                                                   // exact or near cancellation
    case 2: return u32(-pf) ^ (g.bits() & ((1u << g.below(8)) - 1));           // near cancellation
    case 3: return g.make(g.sign(), uint32_t(std::clamp(ep + int(g.below(61)) - 30, 0, 255)), g.frac());
    case 4: return g.make(g.sign(), uint32_t(std::clamp(ep + int(g.below(7)) - 3, 0, 255)), g.frac());
    case 5: return g.make(g.sign(), 0, g.frac());                             // subnormal
    case 6: return g.special();
    default: return g.one();
  }
}

struct OpGen {
  Gen g;
  uint32_t a = 0, b = 0, c = 0;
  void next(Opcode op, uint64_t i) {
    const bool integer = op >= Opcode::IADD && op <= Opcode::ILT;
    if (i % 4 == 0) {
      a = g.bits(), b = g.bits(), c = g.bits();
    } else if (integer || op == Opcode::SEL || op == Opcode::ITOF) {
      static const uint32_t k[] = {0, 1, 2, 31, 32, 33, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF,
                                   0x00FFFFFF, 0x01000000, 0x01000001, 0x01000003, 0xFFFFFFFE, 0x7FFFFF80};
      auto pick = [&]() -> uint32_t {
        switch (g.below(4)) {
          case 0: return k[g.below(sizeof k / sizeof k[0])];
          case 1: return g.below(64) - 32;
          case 2: return g.bits() >> g.below(32);                                  // any magnitude (ITOF rounding)
          default: return g.bits();
        }
      };
      a = pick(), b = pick(), c = pick();
      if (g.below(8) == 0) a = 0;  // SEL false
    } else if (op == Opcode::FTOI) {
      a = g.below(2) ? g.make(g.sign(), 120 + g.below(45), g.frac()) : g.one();  // around 1 .. 2^37
    } else {
      a = g.one(), b = g.other(a);
      if (g.below(2)) std::swap(a, b);
      if (g.below(16) == 0) b = a;  // equal operands (comparisons)
      c = op == Opcode::FMA ? fma_addend(g, a, b) : g.one();
    }
  }
};

TEST(Fp, AluDirected) {
  Harness h;
  struct V {
    Opcode op;
    uint32_t a, b, c, expect;
  };
  // Expected values computed by hand from IEEE-754 and docs/isa.md.
  const V v[] = {
      {Opcode::FMA, 0x3F800000, 0x3F800000, 0x3F800000, 0x40000000},  // 1 * 1 + 1 = 2
      {Opcode::FMA, 0x3F800001, 0x3F800001, 0xBF800002, 0x28800000},  // (1+u)^2 - (1+2u) = u^2 = 2^-46
      {Opcode::FMA, 0x7F7FFFFF, 0x40000000, 0xFF7FFFFF, 0x7F7FFFFF},  // 2 max - max: no overflow inside
      {Opcode::FMA, 0x00000001, 0x3F000000, 0x00000000, 0x00000000},  // 2^-150 + 0: tie to even 0
      {Opcode::FMA, 0x00000001, 0x3F000000, 0x00000001, 0x00000002},  // 2^-149 + 2^-150: tie to even 2
      {Opcode::FMA, 0x00000000, 0x40A00000, 0x80000000, 0x00000000},  // +0 * 5 + -0 = +0
      {Opcode::FMA, 0x80000000, 0x40A00000, 0x80000000, 0x80000000},  // -0 * 5 + -0 = -0
      {Opcode::FMA, 0x3F800000, 0xBF800000, 0x3F800000, 0x00000000},  // 1 * -1 + 1 = +0
      {Opcode::FMA, 0x7F800000, 0x00000000, 0x3F800000, kNan},        // inf * 0
      {Opcode::FMA, 0x7F800000, 0x3F800000, 0xFF800000, kNan},        // inf - inf
      {Opcode::FMA, 0x3F800000, 0x3F800000, 0x7F800001, kNan},        // NaN addend canonicalised
      {Opcode::FMA, 0x3F800000, 0x3F800000, 0xFF800000, 0xFF800000},  // finite + -inf
      {Opcode::FMA, 0x3F800000, 0x33800000, 0x3F800000, 0x3F800000},  // 1 + 2^-24: tie to even down
      {Opcode::FMA, 0x3F800001, 0x33800000, 0x3F800000, 0x3F800001},  // 1 + 2^-24 + 2^-47: up (one rounding)
      {Opcode::FMUL, 0x00000003, 0x3F000000, 0, 0x00000002},          // 1.5 * 2^-149 rounds to 2
      {Opcode::FMUL, 0x80000001, 0x3F000000, 0, 0x80000000},          // -0 result
      {Opcode::FMUL, 0x7F7FFFFF, 0x40000000, 0, 0x7F800000},          // overflow
      {Opcode::FABS, 0x80000000, 0, 0, 0x00000000},
      {Opcode::FABS, 0xFFC00001, 0, 0, kNan},
      {Opcode::FNEG, 0x3F800000, 0, 0, 0xBF800000},
      {Opcode::FNEG, 0x00000000, 0, 0, 0x80000000},
      {Opcode::FNEG, 0x7F800001, 0, 0, kNan},
      {Opcode::FLT, 0x80000000, 0x00000000, 0, 0},           // -0 < +0 is false
      {Opcode::FLE, 0x80000000, 0x00000000, 0, 0x3F800000},  // -0 <= +0
      {Opcode::FEQ, 0x80000000, 0x00000000, 0, 0x3F800000},  // -0 == +0
      {Opcode::FEQ, 0x7FC00000, 0x7FC00000, 0, 0},           // NaN != NaN
      {Opcode::FLT, 0xBF800000, 0x3F800000, 0, 0x3F800000},  // -1 < 1
      {Opcode::FLT, 0x00000001, 0x80000001, 0, 0},
      {Opcode::FLE, 0x7F800000, 0x7FC00000, 0, 0},
      {Opcode::SEL, 0x80000000, 5, 7, 5},  // -0 as bits is not 0
      {Opcode::SEL, 0, 5, 7, 7},
      {Opcode::IADD, 0x7FFFFFFF, 1, 0, 0x80000000},
      {Opcode::ISUB, 0, 1, 0, 0xFFFFFFFF},
      {Opcode::IMUL, 0x10000, 0x10001, 0, 0x10000},
      {Opcode::IMUL, 0xFFFFFFFF, 0xFFFFFFFF, 0, 1},
      {Opcode::SHL, 1, 33, 0, 2},
      {Opcode::SHRL, 0x80000000, 31, 0, 1},
      {Opcode::SHRA, 0x80000000, 31, 0, 0xFFFFFFFF},
      {Opcode::SHRA, 0xFFFFFFF0, 2, 0, 0xFFFFFFFC},
      {Opcode::AND, 0xF0F0, 0xFF00, 0, 0xF000},
      {Opcode::OR, 0xF0F0, 0xFF00, 0, 0xFFF0},
      {Opcode::XOR, 0xF0F0, 0xFF00, 0, 0x0FF0},
      {Opcode::ILT, 0xFFFFFFFF, 0, 0, 1},  // -1 < 0 signed
      {Opcode::ILT, 0, 0xFFFFFFFF, 0, 0},
      {Opcode::FTOI, 0x40200000, 0, 0, 2},           // 2.5
      {Opcode::FTOI, 0xC0200000, 0, 0, 0xFFFFFFFE},  // -2.5
      {Opcode::FTOI, 0x3F7D70A4, 0, 0, 0},           // 0.99
      {Opcode::FTOI, 0x4F000000, 0, 0, 0x7FFFFFFF},  // 2^31 saturates
      {Opcode::FTOI, 0xCF000000, 0, 0, 0x80000000},  // -2^31 exact
      {Opcode::FTOI, 0x4EFFFFFF, 0, 0, 0x7FFFFF80},  // largest float below 2^31
      {Opcode::FTOI, 0xFF800000, 0, 0, 0x80000000},  // -inf
      {Opcode::FTOI, 0x7FC00000, 0, 0, 0},           // NaN
      {Opcode::ITOF, 0x01000001, 0, 0, 0x4B800000},  // 2^24 + 1: tie to even down
      {Opcode::ITOF, 0x01000003, 0, 0, 0x4B800002},  // 2^24 + 3: tie to even up
      {Opcode::ITOF, 0x80000000, 0, 0, 0xCF000000},  // INT32_MIN
      {Opcode::ITOF, 0xFFFFFFFF, 0, 0, 0xBF800000},  // -1
      {Opcode::ITOF, 0, 0, 0, 0},
      {Opcode::MOV, 0x12345678, 0, 0, 0x12345678},
  };
  for (const V& t : v) {
    const char* name = openrdu::gen::opcode_name(t.op);
    EXPECT_EQ(h.alu(t.op, t.a, t.b, t.c), t.expect)
        << "rtl " << name << std::hex << "(0x" << t.a << ", 0x" << t.b << ", 0x" << t.c << ")";
    EXPECT_EQ(openrdu::model::pcu_op(t.op, t.a, t.b, t.c), t.expect)
        << "model " << name << std::hex << "(0x" << t.a << ", 0x" << t.b << ", 0x" << t.c << ")";
  }
}

TEST(Fp, AluEveryOpcodeRandom) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const uint64_t seed = openrdu::tb::seed_from_env(20240601);
  std::printf("OPENRDU_SEED=%llu\n", static_cast<unsigned long long>(seed));
  Harness h;
  const uint64_t kPerOp = 1'000'000 * fp_scale();
  uint64_t errors = 0;
  for (uint32_t o = 1; o < openrdu::gen::kNumOpcodes; ++o) {
    const auto op = static_cast<Opcode>(o);
    const char* name = openrdu::gen::opcode_name(op);
    OpGen og{Gen(seed * 131 + o)};
    uint64_t nan = 0, sub = 0, ones = 0;
    for (uint64_t i = 0; i < kPerOp; ++i) {
      og.next(op, i);
      const uint32_t a = og.a, b = og.b, c = og.c;
      const uint32_t rtl = h.alu(op, a, b, c);
      const uint32_t model = openrdu::model::pcu_op(op, a, b, c);
      const uint32_t host = host_op(op, a, b, c);
      nan += host == kNan;
      sub += (host & 0x7FFFFFFF) != 0 && (host & 0x7FFFFFFF) < 0x00800000;
      ones += host == 0x3F800000 || host == 1;
      if (rtl == model && rtl == host) continue;
      if (++errors <= 20)
        ADD_FAILURE() << "seed " << seed << " " << name << " set " << i << std::hex << " (0x" << a << ", 0x" << b
                      << ", 0x" << c << "): rtl 0x" << rtl << " model 0x" << model << " host 0x" << host << std::dec;
    }
    std::printf("%-5s %llu sets: %llu NaN, %llu subnormal, %llu true\n", name, (unsigned long long)kPerOp,
                (unsigned long long)nan, (unsigned long long)sub, (unsigned long long)ones);
    if (op == Opcode::FMA) {
      EXPECT_GT(sub, 10'000u) << "FMA stimulus reaches too few subnormal results";
    }
    if (op == Opcode::FLT || op == Opcode::FEQ || op == Opcode::ILT) {
      EXPECT_GT(ones, 10'000u) << name << " stimulus rarely true";
    }
  }
  EXPECT_EQ(errors, 0u) << "mismatches (seed " << seed << ")";
}

}  // namespace
