// PCU special functions (compiler/src/lower_math.h):
//  * the documented max ULP bounds over 1M inputs per function (half random bit patterns
//    over the whole float range, half uniform in the function's range; seed OPENRDU_SEED)
//    against double libm rounded to binary32, through the reference (which is the device
//    sequence);
//  * the host evaluator pcu_eval equals model::pcu_op on every opcode (edge operands);
//  * documented special results (NaN, +-inf, +-0, subnormals), written by hand, on the
//    reference and on the functional model (tiny and small, -O0/-O1/-O3);
//  * every math operator on random data: model == reference bit for bit, long sequences
//    split over several PCUs / sections at every level.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <random>

#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/model/unit.h"
#include "test_util.h"
#include "ulp_measure.h"

namespace openrdu::compiler {
namespace {

using test::bits;
using test::ModelBuilder;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::bit_cast<float>(0x7FC00000u);

uint64_t seed() {
  const char* s = std::getenv("OPENRDU_SEED");
  const uint64_t v = s ? std::strtoull(s, nullptr, 0) : 20261122u;
  std::printf("OPENRDU_SEED=%llu\n", (unsigned long long)v);
  return v;
}

// Documented max ULP per function (bench/ulp measures them over 10M inputs).
double documented_bound(const std::string& fn) {
  if (fn == "exp" || fn == "log" || fn == "sqrt" || fn == "reciprocal") return 1.0;
  if (fn == "rsqrt" || fn == "tanh" || fn == "div" || fn == "erf") return 2.0;
  if (fn == "sigmoid") return 3.0;
  return 0;
}

TEST(MathUlp, DocumentedBoundsOnOneMillionInputs) {
  const uint64_t s = seed();
  for (const std::string& fn : ulp::functions()) {
    const ulp::Stats st = ulp::run(fn, 1'000'000, s);
    EXPECT_LE(st.max_ulp, documented_bound(fn)) << fn << ": worst input " << st.worst_x << ", " << st.worst_y;
    EXPECT_EQ(st.special_bad, 0u) << fn << ": wrong special result, e.g. input " << st.worst_x << ", "
                                  << st.worst_y;
    EXPECT_GE(st.n, 1'000'000u);
  }
}

TEST(MathEval, EqualsModelPcuOp) {
  std::mt19937_64 rng(seed());
  const uint32_t edges[] = {0, 0x80000000u, 0x3F800000u, 0xBF800000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                            0xFFC00001u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu, 0x4B400000u, 31, 32};
  for (uint32_t op = 0; op <= uint32_t(arch::Opcode::ITOF); ++op) {
    const auto o = arch::Opcode(op);
    for (int i = 0; i < 20000; ++i) {
      uint32_t v[3];
      for (uint32_t& x : v) x = (rng() & 3) == 0 ? edges[rng() % std::size(edges)] : uint32_t(rng());
      const uint32_t want = model::pcu_op(o, v[0], v[1], v[2]);
      const uint32_t got = detail::pcu_eval(o, v[0], v[1], v[2]);
      ASSERT_EQ(got, want) << "opcode " << op << " operands 0x" << std::hex << v[0] << " 0x" << v[1] << " 0x"
                           << v[2];
    }
  }
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& x,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(bits(got[i]) == bits(want[i]) || (std::isnan(got[i]) && std::isnan(want[i]) &&
                                                   bits(got[i]) == 0x7FC00000u))
        << what << " element " << i << " x = " << x[i] << ": got 0x" << std::hex << bits(got[i]) << " (" << got[i]
        << "), expected 0x" << bits(want[i]) << " (" << want[i] << ")";
}

ModelBuilder unary(const std::string& op, int64_t n) {
  ModelBuilder b;
  b.input("x", {n});
  b.node(op, {"x"}, {"y"}, "n");
  b.output("y");
  return b;
}

// Reference and model (tiny and small, -O0/-O1/-O3) both give `want`; NaN results
// must be the canonical NaN.
void check_unary(const std::string& op, const std::vector<float>& x, const std::vector<float>& want) {
  const ModelBuilder b = unary(op, int64_t(x.size()));
  const Graph g = import_onnx_bytes(b.bytes(), op + ".onnx");
  const std::map<std::string, HostTensor> in = {{"x", HostTensor{{int64_t(x.size())}, x}}};
  expect_same(reference_run(g, in).at("y").data, want, x, op + ": reference");
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (int level : {0, 1, 3}) {
      Options o;
      o.opt_level = level;
      const auto out = test::run_on_model(cfg, compile_graph(g, cfg, o), in);
      expect_same(out.at("y").data, want, x, fmt::format("{}: {} -O{}", op, cfgname, level));
    }
  }
}

TEST(MathSpecial, DocumentedResultsOnModelAndReference) {
  const float sub = 0x1p-140f, nan = kNaN;
  const std::vector<float> x = {nan, -0.0f, 0.0f, kInf, -kInf, sub, -sub};
  const float erf_sub = std::bit_cast<float>(0x00000242u);  // 2^-140 * 1.128379166, on the subnormal grid
  check_unary("Exp", x, {nan, 1, 1, kInf, 0, 1, 1});
  check_unary("Log", x, {nan, -kInf, -kInf, kInf, nan, -97.04060f, nan});
  check_unary("Sqrt", x, {nan, -0.0f, 0, kInf, nan, 0x1p-70f, nan});
  check_unary("Reciprocal", x, {nan, -kInf, kInf, 0, -0.0f, kInf, -kInf});
  check_unary("Sigmoid", x, {nan, 0.5f, 0.5f, 1, 0, 0.5f, 0.5f});
  check_unary("Tanh", x, {nan, -0.0f, 0, 1, -1, sub, -sub});
  check_unary("Erf", x, {nan, -0.0f, 0, 1, -1, erf_sub, -erf_sub});
  check_unary("Softsign", x, {nan, -0.0f, 0, 1, -1, sub, -sub});
  // Subnormal inputs and results: exact where the result is representable.
  check_unary("Reciprocal", {0x1p-127f, -0x1p127f, 0x1p-129f, 4.0f}, {0x1p127f, -0x1p-127f, kInf, 0.25f});
}

// Every math operator on random data, model == reference bit for bit; Div and Pow with
// a broadcast second operand, Pow also with constant exponents.
TEST(MathOps, RandomDataModelEqualsReference) {
  std::mt19937_64 rng(seed());
  std::uniform_real_distribution<float> d(-6.0f, 6.0f);
  const int64_t n = 37;
  auto rnd = [&](int64_t k, bool positive) {
    std::vector<float> v(k);
    for (float& f : v) f = positive ? std::fabs(d(rng)) + 0.01f : d(rng);
    return v;
  };
  struct Case {
    std::string op;
    int inputs;
    float pow_const;  // Pow: constant exponent (NaN: run-time exponent)
  };
  const std::vector<Case> cases = {{"Exp", 1, 0},      {"Log", 1, 0},      {"Sqrt", 1, 0},     {"Reciprocal", 1, 0},
                                   {"Div", 2, 0},      {"Sigmoid", 1, 0},  {"Tanh", 1, 0},     {"Erf", 1, 0},
                                   {"Elu", 1, 0},      {"Selu", 1, 0},     {"Softplus", 1, 0}, {"Softsign", 1, 0},
                                   {"Mean", 3, 0},     {"Pow", 2, kNaN},   {"Pow", 2, 2.0f},   {"Pow", 2, 0.5f},
                                   {"Pow", 2, 3.0f},   {"Pow", 2, -1.0f},  {"Pow", 2, 1.7f}};
  for (const Case& c : cases) {
    ModelBuilder b;
    b.input("x", {n});
    std::map<std::string, HostTensor> in = {{"x", HostTensor{{n}, rnd(n, c.op == "Log" || c.op == "Pow")}}};
    std::string name = c.op;
    if (c.op == "Pow" && !std::isnan(c.pow_const)) {
      b.init("y0", {}, {c.pow_const});
      b.node("Pow", {"x", "y0"}, {"y"}, "n");
      name += fmt::format("^{}", c.pow_const);
    } else if (c.inputs == 2) {
      b.input("b", {1});
      in["b"] = HostTensor{{1}, {c.op == "Div" ? -2.75f : 1.3f}};
      b.node(c.op, {"x", "b"}, {"y"}, "n");
    } else if (c.inputs == 3) {
      b.input("b", {n});
      b.input("c", {n});
      in["b"] = HostTensor{{n}, rnd(n, false)};
      in["c"] = HostTensor{{n}, rnd(n, false)};
      b.node(c.op, {"x", "b", "c"}, {"y"}, "n");
    } else
      b.node(c.op, {"x"}, {"y"}, "n");
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), name + ".onnx");
    const auto want = reference_run(g, in).at("y").data;
    // The reference is within a few ULP of the true function (spot check: Exp).
    if (c.op == "Exp") {
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_NEAR(want[i], std::exp(double(in["x"].data[i])), 3e-7 * std::exp(double(in["x"].data[i])));
      }
    }
    for (const char* cfgname : {"tiny", "small"}) {
      const arch::Config cfg = arch::load_config(cfgname);
      for (int level : {0, 1, 3}) {
        Options o;
        o.opt_level = level;
        CompileStats stats;
        const auto out = test::run_on_model(cfg, compile_graph(g, cfg, o, &stats), in);
        expect_same(out.at("y").data, want, in["x"].data, fmt::format("{}: {} -O{}", name, cfgname, level));
      }
    }
  }
}

// Long sequences: segments fit the PCU; -O3 chains several PCUs of a section on small.
TEST(MathSplit, SegmentsFitAndO3Pipelines) {
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (const std::string& fn : ulp::functions()) {
      const detail::MathProgram p = detail::function_program(fn);
      const auto segs = detail::split_program(cfg, p, fn);
      size_t ops = 0;
      for (const auto& s : segs) {
        EXPECT_LE(size_t(s.last - s.first + 1), cfg.stages) << fn;
        EXPECT_LE(s.inputs.size(), cfg.vin) << fn;
        ops += size_t(s.last - s.first + 1);
      }
      EXPECT_EQ(ops, p.ops.size()) << fn;
    }
  }
  const Graph g = import_onnx_bytes(unary("Exp", 64).bytes(), "exp.onnx");
  const arch::Config small = arch::load_config("small");
  CompileStats s0, s3;
  Options o0, o3;
  o0.opt_level = 0;
  o3.opt_level = 3;
  compile_graph(g, small, o0, &s0);
  compile_graph(g, small, o3, &s3);
  EXPECT_GT(s0.sections.size(), 1u);
  EXPECT_LT(s3.sections.size(), s0.sections.size());
}

}  // namespace
}  // namespace openrdu::compiler
