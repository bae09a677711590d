// Abs, Neg, Sum, Clip, LeakyRelu, PRelu, HardSigmoid: directed special values (NaN,
// ±0, ±inf) with expected outputs written by hand, broadcasting, every optimization
// level on tiny and small (functional model and CPU reference), random fused graphs
// (model against reference), and attribute errors.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <limits>
#include <random>

#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::bits;
using test::ModelBuilder;
using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::bit_cast<float>(0xFFC00001u);  // a negative NaN with a payload
const float kCanon = std::bit_cast<float>(0x7FC00000u);

// x: the special values, shape [2,4].
const std::vector<float> kX = {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -3.0f, 0.5f};

// a * b + c with the product rounded first (no contraction into a fused multiply-add).
float mul_then_add(float a, float b, float c) {
  const volatile float p = a * b;
  return p + c;
}

const auto error_of = test::compile_error_of;

void expect_data(const std::vector<float>& got, const std::vector<float>& want, bool exact_nan,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool ok = exact_nan ? bits(got[i]) == bits(want[i]) : test::same_f32(got[i], want[i]);
    EXPECT_TRUE(ok) << what << " element " << i << ": got 0x" << std::hex << bits(got[i]) << " (" << got[i]
                    << "), expected 0x" << bits(want[i]) << " (" << want[i] << ")";
  }
}

// The reference and the functional model (tiny and small, -O0/-O1/-O3) both give `want`
// for output "y". exact_nan: NaN results must be the canonical NaN bit for bit.
void check(const ModelBuilder& b, const std::map<std::string, HostTensor>& in, const std::vector<float>& want,
           const std::string& what, bool exact_nan = false) {
  const Graph g = import_onnx_bytes(b.bytes(), what + ".onnx");
  expect_data(reference_run(g, in).at("y").data, want, exact_nan, what + ": reference");
  test::for_each_target(g, in, [&](const std::map<std::string, HostTensor>& out, const std::string& where) {
    expect_data(out.at("y").data, want, exact_nan, what + ": " + where);
  });
}

ModelBuilder unary(const std::string& op, std::vector<std::pair<std::string, float>> attrs = {}) {
  ModelBuilder b;
  b.input("x", {2, 4});
  auto* n = b.node(op, {"x"}, {"y"}, "n");
  for (const auto& [k, v] : attrs) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  b.output("y");
  return b;
}

std::map<std::string, HostTensor> x_input() { return {{"x", HostTensor{{2, 4}, kX}}}; }

TEST(NewOps, AbsNegSpecialValues) {
  check(unary("Abs"), x_input(), {kCanon, 0.0f, 0.0f, kInf, kInf, 2.0f, 3.0f, 0.5f}, "abs", true);
  check(unary("Neg"), x_input(), {kCanon, 0.0f, -0.0f, -kInf, kInf, -2.0f, 3.0f, -0.5f}, "neg", true);
}

TEST(NewOps, LeakyReluSpecialValuesAndAlphas) {
  // x for x >= 0 (so -0 stays -0), alpha * x below.
  check(unary("LeakyRelu", {{"alpha", 0.25f}}), x_input(), {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -0.75f, 0.5f},
        "leakyrelu");
  // Default alpha 0.01: -3 * 0.01f rounded once.
  check(unary("LeakyRelu"), x_input(), {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -3.0f * 0.01f, 0.5f},
        "leakyrelu_default");
  // alpha > 1 and < 0, where max(x, alpha*x) would be wrong.
  check(unary("LeakyRelu", {{"alpha", 2.0f}}), x_input(), {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -6.0f, 0.5f},
        "leakyrelu_alpha2");
  check(unary("LeakyRelu", {{"alpha", -1.0f}}), x_input(), {kNaN, -0.0f, 0.0f, kInf, kInf, 2.0f, 3.0f, 0.5f},
        "leakyrelu_alpha_neg");
  // alpha 0: -inf * 0 is NaN.
  check(unary("LeakyRelu", {{"alpha", 0.0f}}), x_input(), {kNaN, -0.0f, 0.0f, kInf, kCanon, 2.0f, -0.0f, 0.5f},
        "leakyrelu_alpha0");
}

TEST(NewOps, PReluBroadcastSlope) {
  ModelBuilder b;
  b.input("x", {2, 4});
  b.input("slope", {4});
  b.node("PRelu", {"x", "slope"}, {"y"}, "p");
  b.output("y");
  std::map<std::string, HostTensor> in = x_input();
  in["slope"] = HostTensor{{4}, {0.5f, -1.0f, 2.0f, 0.0f}};
  check(b, in, {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -6.0f, 0.5f}, "prelu");
  // Slope as a constant [2,1] (broadcast along the inner dimension).
  ModelBuilder c;
  c.input("x", {2, 4});
  c.init("slope", {2, 1}, {-2.0f, 0.25f});
  c.node("PRelu", {"x", "slope"}, {"y"}, "p");
  c.output("y");
  check(c, x_input(), {kNaN, -0.0f, 0.0f, kInf, -kInf, 2.0f, -0.75f, 0.5f}, "prelu_const");
}

TEST(NewOps, HardSigmoidTwoRoundings) {
  check(unary("HardSigmoid", {{"alpha", 0.5f}, {"beta", 0.25f}}), x_input(),
        {kCanon, 0.25f, 0.25f, 1.0f, 0.0f, 1.0f, 0.0f, 0.5f}, "hardsigmoid", true);
  // Defaults alpha 0.2, beta 0.5.
  check(unary("HardSigmoid"), x_input(),
        {kCanon, 0.5f, 0.5f, 1.0f, 0.0f, mul_then_add(0.2f, 2.0f, 0.5f), 0.0f, mul_then_add(0.2f, 0.5f, 0.5f)},
        "hardsigmoid_default", true);
  // alpha = x = 1 + 2^-12: the product 1 + 2^-11 + 2^-24 rounds (tie to even) to
  // 1 + 2^-11; with beta -1 two roundings give 2^-11, a fused multiply-add 2^-11 + 2^-24.
  const float a = std::bit_cast<float>(0x3F800800u);
  ModelBuilder b = unary("HardSigmoid", {{"alpha", a}, {"beta", -1.0f}});
  check(b, {{"x", HostTensor{{2, 4}, {a, a, a, a, a, a, a, a}}}}, std::vector<float>(8, 0x1p-11f),
        "hardsigmoid_rounding");
}

TEST(NewOps, ClipBounds) {
  auto clip = [](std::initializer_list<std::string> ins, bool const_bounds, float lo, float hi) {
    ModelBuilder b;
    b.input("x", {2, 4});
    if (const_bounds) {
      b.init("lo", {}, {lo});
      b.init("hi", {}, {hi});
    } else {
      b.input("lo", {});
      b.input("hi", {});
    }
    b.node("Clip", ins, {"y"}, "c");
    b.output("y");
    return b;
  };
  for (bool c : {true, false}) {
    auto in = x_input();
    auto with = [&](float lo, float hi) {
      if (!c) {
        in["lo"] = HostTensor{{}, {lo}};
        in["hi"] = HostTensor{{}, {hi}};
      }
      return in;
    };
    const std::string k = c ? "const" : "input";
    check(clip({"x", "lo", "hi"}, c, -1.0f, 2.0f), with(-1.0f, 2.0f),
          {kNaN, -0.0f, 0.0f, 2.0f, -1.0f, 2.0f, -1.0f, 0.5f}, "clip_" + k);
    // Only a minimum (max omitted): max(-0, +0) is +0.
    check(clip({"x", "lo"}, c, 0.0f, 0.0f), with(0.0f, 0.0f), {kNaN, 0.0f, 0.0f, kInf, 0.0f, 2.0f, 0.0f, 0.5f},
          "clip_min_" + k);
    // Only a maximum.
    check(clip({"x", "", "hi"}, c, 0.0f, 0.0f), with(0.0f, 0.0f), {kNaN, -0.0f, 0.0f, 0.0f, -kInf, 0.0f, -3.0f, 0.0f},
          "clip_max_" + k);
    // min > max gives max (numpy.clip).
    check(clip({"x", "lo", "hi"}, c, 2.0f, 1.0f), with(2.0f, 1.0f), {kNaN, 1, 1, 1, 1, 1, 1, 1}, "clip_inverted_" + k);
  }
  // No bound: the input unchanged.
  ModelBuilder b;
  b.input("x", {2, 4});
  b.node("Clip", {"x"}, {"y"}, "c");
  b.output("y");
  check(b, x_input(), kX, "clip_none");
}

TEST(NewOps, SumVariadicBroadcast) {
  ModelBuilder b;
  b.input("x", {2, 4});
  b.input("b", {4});
  b.init("c", {1}, {-0.0f});
  b.node("Sum", {"x", "b", "c"}, {"y"}, "s");
  b.output("y");
  auto in = x_input();
  in["b"] = HostTensor{{4}, {kInf, 1.0f, -kInf, 0.0f}};
  check(b, in, {kNaN, 1.0f, -kInf, kInf, kNaN, 3.0f, -kInf, 0.5f}, "sum3");
  ModelBuilder one;
  one.input("x", {2, 4});
  one.node("Sum", {"x"}, {"y"}, "s");
  one.output("y");
  check(one, x_input(), kX, "sum1");
}

// Random chains of the new operators (and the old ones) with broadcast operands and
// special values: the functional model against the CPU reference at every level.
TEST(NewOps, RandomFusedGraphs) {
  const uint32_t seed = test::seed(777u);
  std::mt19937 rng(seed);
  auto value = [&] {
    switch (rng() % 12) {
      case 0:
        return kNaN;
      case 1:
        return -0.0f;
      case 2:
        return 0.0f;
      case 3:
        return rng() % 2 ? kInf : -kInf;
      case 4:
        return std::bit_cast<float>(uint32_t(rng()) & 0x807FFFFFu);
      default:
        return std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
    }
  };
  const char* ops[] = {"Abs", "Neg", "Sum", "Clip", "LeakyRelu", "PRelu", "HardSigmoid", "Add", "Relu"};
  const arch::Config tiny = arch::load_config("tiny"), small = arch::load_config("small");
  for (int iter = 0; iter < 40; ++iter) {
    const std::vector<int64_t> shape = {1 + int64_t(rng() % 5), 1 + int64_t(rng() % 9)};
    ModelBuilder b;
    std::map<std::string, HostTensor> in;
    auto add_input = [&](const std::string& name, std::vector<int64_t> sh) {
      b.input(name, sh);
      HostTensor t{sh, {}};
      int64_t n = 1;
      for (int64_t d : sh) n *= d;
      for (int64_t i = 0; i < n; ++i) t.data.push_back(value());
      in[name] = t;
    };
    add_input("x", shape);
    add_input("row", {shape[1]});     // broadcast along dim 0
    add_input("col", {shape[0], 1});  // broadcast along dim 1
    std::string last = "x";
    const int nnodes = 1 + int(rng() % 4);
    for (int k = 0; k < nnodes; ++k) {
      const std::string op = ops[rng() % 9], y = fmt::format("t{}", k), nm = fmt::format("n{}", k);
      const std::string other = rng() % 2 ? "row" : "col";
      onnx::NodeProto* n;
      if (op == "Sum")
        n = b.node(op, {last, other, "x"}, {y}, nm);
      else if (op == "Add")
        n = b.node(op, {last, other}, {y}, nm);
      else if (op == "PRelu")
        n = b.node(op, {last, other}, {y}, nm);
      else if (op == "Clip") {
        const std::string lo = fmt::format("lo{}", k), hi = fmt::format("hi{}", k);
        b.init(lo, {}, {std::uniform_real_distribution<float>(-3.0f, 0.0f)(rng)});
        if (rng() % 2)
          b.init(hi, {}, {std::uniform_real_distribution<float>(0.0f, 3.0f)(rng)});
        else
          add_input(hi, {});
        n = b.node(op, {last, rng() % 3 ? lo : "", hi}, {y}, nm);
      } else
        n = b.node(op, {last}, {y}, nm);
      if (op == "LeakyRelu" || op == "HardSigmoid") {
        auto* a = n->add_attribute();
        a->set_name("alpha");
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng));
      }
      last = y;
    }
    b.output(last);
    const Graph g = import_onnx_bytes(b.bytes(), fmt::format("newops{}.onnx", iter));
    const auto want = reference_run(g, in);
    for (const arch::Config* cfg : {&tiny, &small})
      for (int level : {0, 1, 3}) {
        Options o;
        o.opt_level = level;
        const std::string what = fmt::format("seed {} iteration {} {} -O{}", seed, iter, cfg->name, level);
        pef::Pef pef;
        try {
          pef = compile_graph(g, *cfg, o);
        } catch (const CompileError& e) {
          FAIL() << what << ": " << e.what();
        }
        const auto got = test::run_on_model(*cfg, pef, in);
        ASSERT_EQ(got.count(last), 1u) << what;
        for (size_t i = 0; i < want.at(last).data.size(); ++i)
          ASSERT_EQ(bits(got.at(last).data[i]), bits(want.at(last).data[i])) << what << " element " << i;
      }
  }
}

TEST(NewOps, AttributeErrors) {
  auto attr_model = [](const std::string& op, const std::string& name, bool as_int) {
    ModelBuilder b;
    b.input("x", {4});
    auto* a = b.node(op, {"x"}, {"y"}, "bad")->add_attribute();
    a->set_name(name);
    if (as_int) {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(1);
    } else {
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(1.0f);
    }
    b.output("y");
    return b.bytes();
  };
  auto err = [&](const std::string& op, const std::string& name, bool as_int) {
    return error_of([&] { import_onnx_bytes(attr_model(op, name, as_int), "m.onnx"); });
  };
  EXPECT_THAT(err("LeakyRelu", "beta", false), HasSubstr("node 'bad' (LeakyRelu): unsupported attribute 'beta'"));
  EXPECT_THAT(err("Abs", "alpha", false), HasSubstr("node 'bad' (Abs): unsupported attribute 'alpha'"));
  EXPECT_THAT(err("HardSigmoid", "gamma", false), HasSubstr("node 'bad' (HardSigmoid): unsupported attribute 'gamma'"));
  EXPECT_THAT(err("LeakyRelu", "alpha", true), HasSubstr("node 'bad' (LeakyRelu): attribute 'alpha' must be a float"));
  // Clip: a bound that is not a scalar, and a bound given twice.
  ModelBuilder c;
  c.input("x", {4});
  c.init("lo", {2}, {0.0f, 1.0f});
  c.node("Clip", {"x", "lo"}, {"y"}, "clip");
  c.output("y");
  EXPECT_THAT(error_of([&] { import_onnx_bytes(c.bytes(), "m.onnx"); }),
              HasSubstr("node 'clip' (Clip): bound 'lo' (min) has shape [2], a scalar is required"));
  ModelBuilder d;
  d.input("x", {4});
  d.init("lo", {}, {0.0f});
  auto* a = d.node("Clip", {"x", "lo"}, {"y"}, "clip")->add_attribute();
  a->set_name("min");
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(0.0f);
  d.output("y");
  EXPECT_THAT(error_of([&] { import_onnx_bytes(d.bytes(), "m.onnx"); }),
              HasSubstr("min is given both as an attribute and as input 'lo'"));
  // PRelu with a slope that does not broadcast.
  ModelBuilder p;
  p.input("x", {2, 4});
  p.input("s", {3});
  p.node("PRelu", {"x", "s"}, {"y"}, "pr");
  p.output("y");
  EXPECT_THAT(error_of([&] { import_onnx_bytes(p.bytes(), "m.onnx"); }), HasSubstr("node 'pr' (PRelu)"));
}

}  // namespace
}  // namespace openrdu::compiler
