// The operators of issue 23 beyond their ONNX node tests (test_node_suite.cc): values
// written from their definitions (std::fmod, std::nearbyint/floor/ceil, log-sum-exp in
// double), special values, the functional model against the CPU reference bit for bit,
// axes given as an input, int64 and bool results at run time, and the one-line refusals.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
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
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Runs `g` on the CPU reference and on the functional model (test::for_each_target: tiny
// and small at -O0/-O1/-O3); the device's outputs must equal the reference's bit for bit.
// Returns the reference's.
std::map<std::string, HostTensor> run_both(const Graph& g, const std::map<std::string, HostTensor>& in) {
  const auto ref = reference_run(g, in);
  test::for_each_target(g, in, [&](const std::map<std::string, HostTensor>& dev, const std::string& where) {
    for (const auto& [name, want] : ref) {
      const HostTensor& got = dev.at(name);
      EXPECT_EQ(got.idata, want.idata) << name << " " << where;
      EXPECT_EQ(got.data.size(), want.data.size()) << name << " " << where;
      if (got.data.size() != want.data.size()) continue;
      for (size_t i = 0; i < want.data.size(); ++i)
        EXPECT_EQ(bits(got.data[i]), bits(want.data[i]))
            << name << " " << where << " element " << i << ": " << got.data[i] << " vs " << want.data[i];
    }
  });
  return ref;
}

Graph unary_graph(const std::string& op, size_t n, const std::vector<std::pair<std::string, int64_t>>& attrs = {}) {
  ModelBuilder b(13);
  b.input("x", {int64_t(n)});
  auto* node = b.node(op, {"x"}, {"y"}, "n");
  for (const auto& [k, v] : attrs) {
    auto* a = node->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  b.output("y");
  return import_onnx_bytes(b.bytes(), op + ".onnx");
}

TEST(OpsExt, RoundFloorCeilAgainstLibm) {
  std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.3f, -0.3f, -0.7f, 0.7f, -0.0f, 0.0f,
                          4194304.5f, -4194304.5f, 8388607.5f, 8388608.0f, -8388609.0f, 1e30f, -1e-40f, 1e-40f,
                          kInf, -kInf, kNaN, 2.4999998f, -3.5f, 123456.78f};
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> u(-1e4f, 1e4f);
  for (int i = 0; i < 200; ++i) x.push_back(u(rng));
  for (const char* op : {"Round", "Floor", "Ceil"}) {
    const auto got = run_both(unary_graph(op, x.size()), {{"x", HostTensor{{int64_t(x.size())}, x}}}).at("y").data;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = std::string(op) == "Round" ? std::nearbyint(x[i])
                         : std::string(op) == "Floor" ? std::floor(x[i])
                                                      : std::ceil(x[i]);
      EXPECT_TRUE(test::same_f32(got[i], want)) << op << "(" << x[i] << ") = " << got[i] << ", expected " << want;
    }
  }
}

TEST(OpsExt, SignIsNanIsInf) {
  const std::vector<float> x = {-2.0f, -0.0f, 0.0f, 3.0f, kInf, -kInf, kNaN, 1e-40f};
  const HostTensor in{{8}, x};
  const auto sign = run_both(unary_graph("Sign", 8), {{"x", in}}).at("y").data;
  const std::vector<float> want_sign = {-1, 0, 0, 1, 1, -1, kNaN, 1};
  for (size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(test::same_f32(sign[i], want_sign[i])) << "Sign " << x[i];
  EXPECT_EQ(run_both(unary_graph("IsNaN", 8), {{"x", in}}).at("y").data, (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(run_both(unary_graph("IsInf", 8), {{"x", in}}).at("y").data, (std::vector<float>{0, 0, 0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(run_both(unary_graph("IsInf", 8, {{"detect_negative", 0}}), {{"x", in}}).at("y").data,
            (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(run_both(unary_graph("IsInf", 8, {{"detect_positive", 0}}), {{"x", in}}).at("y").data,
            (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(OpsExt, FmodExactAgainstLibm) {
  std::vector<float> x = {5.5f, -5.5f, 1e30f, -1e30f, 7.0f, 0.0f, -0.0f, 3e-39f, 1e20f, kInf, 4.0f, -4.0f};
  std::vector<float> y = {2.0f, 2.0f, 3.0f, 7e-10f, 7.0f, 5.0f, 5.0f, 1e-45f, kInf, 2.0f, 0.0f, 2.0f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> e(-30.0f, 30.0f), s(-1.0f, 1.0f);
  for (int i = 0; i < 300; ++i) {
    x.push_back(s(rng) * std::exp2(e(rng)));
    y.push_back(s(rng) * std::exp2(e(rng)));
  }
  ModelBuilder b(13);
  b.input("x", {int64_t(x.size())});
  b.input("d", {int64_t(x.size())});
  auto* a = b.node("Mod", {"x", "d"}, {"y"}, "mod")->add_attribute();
  a->set_name("fmod");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(1);
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "mod.onnx");
  const int64_t n = int64_t(x.size());
  const auto got = run_both(g, {{"x", HostTensor{{n}, x}}, {"d", HostTensor{{n}, y}}}).at("y").data;
  for (size_t i = 0; i < x.size(); ++i) {
    // Exact for |x/y| < 2^69 (lower_math.cc); NaN beyond and where fmod is NaN.
    const bool in_range = std::fabs(double(x[i]) / double(y[i])) < std::exp2(69.0) || std::isinf(y[i]);
    const float want = in_range ? std::fmod(x[i], y[i]) : kNaN;
    EXPECT_TRUE(test::same_f32(got[i], want)) << "fmod(" << x[i] << ", " << y[i] << ") = " << got[i] << ", expected "
                                              << want;
  }
}

TEST(OpsExt, ReduceLogSumExpAgainstItsDefinition) {
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 100.0f, 200.0f, 300.0f, -kInf, -kInf, -kInf, kInf, 0.0f, -1.0f};
  ModelBuilder b(13);
  b.input("x", {4, 3});
  auto* n = b.node("ReduceLogSumExp", {"x"}, {"y"}, "lse");
  auto* a = n->add_attribute();
  a->set_name("axes");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(1);
  auto* k = n->add_attribute();
  k->set_name("keepdims");
  k->set_type(onnx::AttributeProto::INT);
  k->set_i(0);
  b.output("y");
  const auto got = run_both(import_onnx_bytes(b.bytes(), "lse.onnx"), {{"x", HostTensor{{4, 3}, x}}}).at("y");
  ASSERT_EQ(got.shape, (std::vector<int64_t>{4}));
  for (size_t r = 0; r < 4; ++r) {
    double m = -INFINITY, s = 0;
    for (size_t c = 0; c < 3; ++c) m = std::max(m, double(x[r * 3 + c]));
    for (size_t c = 0; c < 3; ++c) s += std::exp(double(x[r * 3 + c]) - (std::isinf(m) ? 0.0 : m));
    const double want = std::log(s) + (std::isinf(m) ? 0.0 : m);
    if (std::isinf(want))
      EXPECT_EQ(got.data[r], float(want)) << "row " << r;
    else
      EXPECT_NEAR(got.data[r], want, 1e-6 * std::fabs(want) + 1e-6) << "row " << r;
  }
}

TEST(OpsExt, AxesAsInputAndArgMaxNaNOnDevice) {
  ModelBuilder b(13);
  b.input("x", {2, 4});
  test::init_i64(b, "axes", {-1});
  b.node("ReduceSumSquare", {"x", "axes"}, {"s"}, "ss");
  auto* am = b.node("ArgMax", {"x"}, {"i"}, "am");
  auto* a = am->add_attribute();
  a->set_name("axis");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(1);
  b.output("s");
  b.output("i");
  const Graph g = import_onnx_bytes(b.bytes(), "axes.onnx");
  const auto r = run_both(g, {{"x", HostTensor{{2, 4}, {1, kNaN, 3, kNaN, -1, -0.0f, 0.0f, -2}}}});
  EXPECT_TRUE(std::isnan(r.at("s").data[0]));
  EXPECT_EQ(r.at("s").data[1], 5.0f);
  EXPECT_EQ(r.at("i").idata, (std::vector<int64_t>{1, 1}));  // the first NaN; -0 == +0: the first
}

// Opset 18: every reduction takes axes as an input and noop_with_empty_axes; the axes
// attribute is gone.
TEST(OpsExt, Opset18ReductionAxesInput) {
  ModelBuilder b(18);
  b.input("x", {2, 3});
  test::init_i64(b, "axes", {0});
  b.node("ReduceMean", {"x", "axes"}, {"m"}, "mean");
  b.node("ReduceL2", {"x", "axes"}, {"l2"}, "l2");
  auto* noop = b.node("ReduceMax", {"x"}, {"same"}, "noop")->add_attribute();
  noop->set_name("noop_with_empty_axes");
  noop->set_type(onnx::AttributeProto::INT);
  noop->set_i(1);
  for (const char* o : {"m", "l2", "same"}) b.output(o);
  const Graph g = import_onnx_bytes(b.bytes(), "r18.onnx");
  const auto r = run_both(g, {{"x", HostTensor{{2, 3}, {3, 1, -2, 4, 1, 2}}}});
  EXPECT_EQ(r.at("m").shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(r.at("m").data, (std::vector<float>{3.5f, 1, 0}));
  EXPECT_EQ(r.at("l2").data, (std::vector<float>{5, std::sqrt(2.0f), std::sqrt(8.0f)}));
  EXPECT_EQ(r.at("same").data, (std::vector<float>{3, 1, -2, 4, 1, 2}));

  ModelBuilder old(18);
  old.input("x", {2, 3});
  auto* a = old.node("ReduceMean", {"x"}, {"y"}, "mean")->add_attribute();
  a->set_name("axes");
  a->set_type(onnx::AttributeProto::INTS);
  a->add_ints(0);
  old.output("y");
  EXPECT_THAT(test::compile_error_of([&] { import_onnx_bytes(old.bytes(), "a18.onnx"); }),
              HasSubstr("node 'mean' (ReduceMean): unsupported attribute 'axes'"));
}

TEST(OpsExt, TopKTiesInfinitiesNaNAndExpandOfBool) {
  ModelBuilder b(13);
  b.input("x", {2, 5});
  test::init_i64(b, "k", {3});
  test::init_i64(b, "shape", {3, 2, 5});
  b.node("TopK", {"x", "k"}, {"v", "i"}, "topk");
  b.node("IsInf", {"x"}, {"inf"}, "isinf");
  b.node("Expand", {"inf", "shape"}, {"e"}, "expand");
  for (const char* o : {"v", "i", "e"}) b.output(o);
  const Graph g = import_onnx_bytes(b.bytes(), "topk.onnx");
  const auto r = run_both(g, {{"x", HostTensor{{2, 5}, {2, -kInf, 2, -kInf, 1, -kInf, kNaN, -kInf, 0, -kInf}}}});
  // Ties in index order, NaN after every number (as numpy's argsort).
  const std::vector<float> v = r.at("v").data;
  EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 4), (std::vector<float>{2, 2, 1, 0}));
  EXPECT_EQ(v[4], -kInf);
  EXPECT_EQ(v[5], -kInf);
  EXPECT_EQ(r.at("i").idata, (std::vector<int64_t>{0, 2, 4, 3, 0, 2}));
  EXPECT_EQ(r.at("e").shape, (std::vector<int64_t>{3, 2, 5}));
  for (size_t i = 0; i < 30; ++i)
    EXPECT_EQ(r.at("e").data[i], (i % 10 == 1 || i % 10 == 3 || i % 10 == 5 || i % 10 == 7 || i % 10 == 9) ? 1.0f : 0.0f)
        << i;
}

TEST(OpsExt, RunTimeParametersAndLimitsAreOneLineErrors) {
  auto err = [](ModelBuilder& b) {
    return test::compile_error_of([&] { import_onnx_bytes(b.bytes(), "bad.onnx"); });
  };
  {
    ModelBuilder b(13);
    b.input("s", {}, onnx::TensorProto::INT64);
    test::init_i64(b, "l", {5});
    test::init_i64(b, "d", {1});
    b.node("Range", {"s", "l", "d"}, {"y"}, "range");
    b.output("y");
    EXPECT_THAT(err(b), HasSubstr("node 'range' (Range): input 's' (start) must be a compile-time constant"));
  }
  {
    ModelBuilder b(13);
    b.input("x", {3});
    b.input("shape", {2}, onnx::TensorProto::INT64);
    b.node("Expand", {"x", "shape"}, {"y"}, "ex");
    b.output("y");
    EXPECT_THAT(err(b), HasSubstr("node 'ex' (Expand): input 'shape' (shape) must be a compile-time constant"));
  }
  {
    ModelBuilder b(13);
    b.input("x", {40});
    test::init_i64(b, "k", {17});
    b.node("TopK", {"x", "k"}, {"v", "i"}, "tk");
    b.output("v");
    EXPECT_THAT(err(b), HasSubstr("node 'tk' (TopK): K = 17; TopK supports K <= 16"));
  }
  {
    ModelBuilder b(13);
    b.input("x", {4});
    b.input("y", {4});
    b.node("Mod", {"x", "y"}, {"z"}, "m");
    b.output("z");
    EXPECT_THAT(err(b), HasSubstr("node 'm' (Mod): fmod = 0 on fp32 operands"));
  }
}

}  // namespace
}  // namespace openrdu::compiler
