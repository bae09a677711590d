// The operators of issue 23 beyond their ONNX node tests (test_node_suite.cc): values
// written from their definitions (std::fmod, std::nearbyint/floor/ceil, log-sum-exp in
// double), special values, the functional model against the CPU reference bit for bit,
// axes given as an input, int64 and bool results at run time, and the one-line refusals.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "lower_math.h"
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

// Integer Mod, a and b int64 graph inputs: the model with the two operands at run time.
Graph int_mod_graph(int64_t n, int64_t fmod) {
  ModelBuilder b(13);
  b.input("x", {n}, onnx::TensorProto::INT64);
  b.input("d", {n}, onnx::TensorProto::INT64);
  auto* a = b.node("Mod", {"x", "d"}, {"y"}, "mod")->add_attribute();
  a->set_name("fmod");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(fmod);
  b.output("y");
  return import_onnx_bytes(b.bytes(), "imod.onnx");
}

// C's % (fmod = 1) and Python's % (fmod = 0), in int64; by zero 0 (docs/compiler.md: ONNX
// leaves it undefined, the reference and the device give 0).
int64_t int_mod(int64_t x, int64_t y, bool c_style) {
  if (y == 0) return 0;
  const int64_t r = x % y;
  return !c_style && r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
}

// The device's integer Mod program on int32 words, against int64 arithmetic: edge pairs
// (+-2^31, +-1, near multiples, |y| near 2^31) and 2,000,000 random pairs of random
// magnitudes, both fmod values.
TEST(OpsExt, IntModProgramExactForInt32) {
  std::vector<int64_t> edge = {0, 1, -1, 2, -2, 3, 7, -7, 1000, 65535, 16777215, 16777217, -16777217,
                               (int64_t(1) << 30) + 1, INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1};
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t x : edge)
    for (int64_t y : edge)
      if (y != 0) pairs.emplace_back(x, y);
  std::mt19937_64 rng(23);
  auto draw = [&] {
    const int bits = int(rng() % 32);
    const int64_t v = int64_t(rng() & ((uint64_t(1) << bits) | ((uint64_t(1) << bits) - 1)));
    return std::clamp<int64_t>(rng() % 2 ? -v : v, INT32_MIN, INT32_MAX);
  };
  while (pairs.size() < 2000000) {
    const int64_t y = draw(), q = draw() % 4096;
    if (y == 0) continue;
    const int64_t x = rng() % 3 ? draw() : std::clamp<int64_t>(q * y + int64_t(rng() % 3) - 1, INT32_MIN, INT32_MAX);
    pairs.emplace_back(x, y);
  }
  for (int64_t fmod : {0, 1}) {
    const Graph g = int_mod_graph(1, fmod);
    const detail::MathProgram p = detail::math_program(g, g.nodes.at(0));
    std::printf("integer Mod, fmod %lld: %zu PCU operations\n", (long long)fmod, p.ops.size());
    int bad = 0;
    for (const auto& [x, y] : pairs) {
      const uint32_t in[2] = {uint32_t(int32_t(x)), uint32_t(int32_t(y))};
      const int64_t got = int32_t(detail::run_program(p, in)), want = int_mod(x, y, fmod != 0);
      if (got != want && ++bad <= 10)
        ADD_FAILURE() << "fmod " << fmod << ": " << x << " mod " << y << " = " << got << ", expected " << want;
    }
    EXPECT_EQ(bad, 0) << "fmod " << fmod;
    const uint32_t by_zero[2] = {7u, 0u};
    EXPECT_EQ(detail::run_program(p, by_zero), 0u) << "y = 0 gives 0 on the device";
  }
}

// Integer Mod on the device with run-time int64 operands, both fmod values, a zero divisor
// giving 0 on the reference and the device alike; values beyond int32 are refused by the
// runtime's narrowing, naming the tensor.
TEST(OpsExt, IntModAtRunTimeOnDevice) {
  const std::vector<int64_t> x = {7, -7, 7, -7, 0, INT32_MIN, INT32_MAX, 123456789, -5, 5, 1, -2147483647, 9, -9};
  const std::vector<int64_t> y = {3, 3, -3, -3, 5, -1, 2, -1000, 7, -7, INT32_MIN, INT32_MAX, 0, 0};
  const int64_t n = int64_t(x.size());
  for (int64_t fmod : {0, 1}) {
    const Graph g = int_mod_graph(n, fmod);
    const auto got = run_both(g, {{"x", HostTensor{{n}, {}, x}}, {"d", HostTensor{{n}, {}, y}}}).at("y").idata;
    ASSERT_EQ(got.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(got[i], int_mod(x[i], y[i], fmod != 0)) << x[i] << " mod " << y[i];
  }
}

// Expand, Tile (two repeated axes: nested Concats), Where and Trilu of run-time int64
// values on the device (copies and SEL of int32 words), values up to the int32 limits.
TEST(OpsExt, IntExpandTileWhereTriluAtRunTime) {
  ModelBuilder b(14);
  b.input("x", {2, 3}, onnx::TensorProto::INT64);
  b.input("c", {2, 3}, onnx::TensorProto::BOOL);
  test::init_i64(b, "shape", {2, 2, 3});
  test::init_i64(b, "rep", {2, 3});
  b.node("Expand", {"x", "shape"}, {"e"}, "expand");
  b.node("Tile", {"x", "rep"}, {"t"}, "tile");
  b.node("Where", {"c", "x", "t_part"}, {"w"}, "where");
  b.node("Slice", {"t", "s0", "s1"}, {"t_part"}, "slice");
  test::init_i64(b, "s0", {0, 3});
  test::init_i64(b, "s1", {2, 6});
  b.node("Trilu", {"x"}, {"u"}, "triu");
  for (const char* o : {"e", "t", "w", "u"}) b.output(o);
  const Graph g = import_onnx_bytes(b.bytes(), "ints.onnx");
  const std::vector<int64_t> x = {INT32_MIN, -1, 7, INT32_MAX, 0, 123456789};
  const auto r = run_both(g, {{"x", HostTensor{{2, 3}, {}, x}}, {"c", HostTensor{{2, 3}, {1, 0, 1, 0, 0, 1}}}});
  std::vector<int64_t> e = x, t;
  e.insert(e.end(), x.begin(), x.end());
  for (int rr = 0; rr < 4; ++rr)
    for (int cc = 0; cc < 9; ++cc) t.push_back(x[size_t((rr % 2) * 3 + cc % 3)]);
  EXPECT_EQ(r.at("e").idata, e);
  EXPECT_EQ(r.at("t").idata, t);
  EXPECT_EQ(r.at("w").idata, (std::vector<int64_t>{INT32_MIN, -1, 7, INT32_MAX, 0, 123456789}));
  EXPECT_EQ(r.at("u").idata, (std::vector<int64_t>{INT32_MIN, -1, 7, 0, 0, 123456789}));
}

// Broadcasts whose operands need 4 address dimensions (the AGCU stream's four counts):
// Add and Where of [2,1,3,1] against [1,4,1,5] (and a [4,1,1] condition) on the device,
// against the values written from the definition.
TEST(OpsExt, FourDimensionalBroadcasts) {
  ModelBuilder b(13);
  b.input("a", {2, 1, 3, 1});
  b.input("b", {1, 4, 1, 5});
  b.input("c", {4, 1, 1}, onnx::TensorProto::BOOL);
  b.node("Add", {"a", "b"}, {"s"}, "add");
  b.node("Where", {"c", "a", "b"}, {"w"}, "where");
  b.output("s");
  b.output("w");
  std::vector<float> a(6), bv(20);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i) * 100.0f;
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = float(i) + 0.5f;
  const std::vector<float> c = {1, 0, 0, 1};
  const auto r = run_both(
      import_onnx_bytes(b.bytes(), "b4.onnx"),
      {{"a", HostTensor{{2, 1, 3, 1}, a}}, {"b", HostTensor{{1, 4, 1, 5}, bv}}, {"c", HostTensor{{4, 1, 1}, c}}});
  for (size_t n = 0; n < 2; ++n)
    for (size_t i = 0; i < 4; ++i)
      for (size_t j = 0; j < 3; ++j)
        for (size_t k = 0; k < 5; ++k) {
          const size_t e = ((n * 4 + i) * 3 + j) * 5 + k;
          EXPECT_EQ(r.at("s").data[e], a[n * 3 + j] + bv[i * 5 + k]) << e;
          EXPECT_EQ(r.at("w").data[e], c[i] != 0 ? a[n * 3 + j] : bv[i * 5 + k]) << e;
        }
}

// Broadcasts needing 5 and 6 address dimensions (more than an AGCU stream's four): split
// along the outermost dimension into parts (split_wide_broadcast) and concatenated, on
// every target equal to the reference bit for bit and to the sums written from the
// definition (Add of fp32, Equal of int64, Where); beyond 64 parts the broadcast is refused
// by name.
TEST(OpsExt, BroadcastsOverFiveAndSixDimensions) {
  ModelBuilder b(13);
  b.input("a", {2, 1, 3, 1, 2});
  b.input("b", {1, 4, 1, 5, 1});
  b.input("i", {2, 1, 2, 1, 2, 3}, onnx::TensorProto::INT64);
  b.input("j", {1, 2, 1, 2, 1, 3}, onnx::TensorProto::INT64);
  b.input("c", {4, 1, 1, 1}, onnx::TensorProto::BOOL);
  b.node("Add", {"a", "b"}, {"s"}, "add5");
  b.node("Where", {"c", "a", "b"}, {"w"}, "where5");
  b.node("Equal", {"i", "j"}, {"e"}, "eq6");
  for (const char* o : {"s", "w", "e"}) b.output(o);
  std::vector<float> a(12), bv(20);
  for (size_t k = 0; k < a.size(); ++k) a[k] = float(k) * 100.0f;
  for (size_t k = 0; k < bv.size(); ++k) bv[k] = float(k) + 0.5f;
  std::vector<int64_t> iv(24), jv(12);
  for (size_t k = 0; k < iv.size(); ++k) iv[k] = int64_t(k % 5);
  for (size_t k = 0; k < jv.size(); ++k) jv[k] = int64_t(k % 3);
  const std::vector<float> c = {1, 0, 0, 1};
  const auto r = run_both(import_onnx_bytes(b.bytes(), "b5.onnx"),
                          {{"a", HostTensor{{2, 1, 3, 1, 2}, a}},
                           {"b", HostTensor{{1, 4, 1, 5, 1}, bv}},
                           {"i", HostTensor{{2, 1, 2, 1, 2, 3}, {}, iv}},
                           {"j", HostTensor{{1, 2, 1, 2, 1, 3}, {}, jv}},
                           {"c", HostTensor{{4, 1, 1, 1}, c}}});
  size_t e = 0;
  for (size_t n = 0; n < 2; ++n)
    for (size_t p = 0; p < 4; ++p)
      for (size_t q = 0; q < 3; ++q)
        for (size_t t = 0; t < 5; ++t)
          for (size_t u = 0; u < 2; ++u, ++e) {
            const float x = a[(n * 3 + q) * 2 + u], y = bv[p * 5 + t];
            EXPECT_EQ(r.at("s").data.at(e), x + y) << e;
            EXPECT_EQ(r.at("w").data.at(e), c[p] != 0 ? x : y) << e;
          }
  e = 0;
  for (size_t d0 = 0; d0 < 2; ++d0)
    for (size_t d1 = 0; d1 < 2; ++d1)
      for (size_t d2 = 0; d2 < 2; ++d2)
        for (size_t d3 = 0; d3 < 2; ++d3)
          for (size_t d4 = 0; d4 < 2; ++d4)
            for (size_t d5 = 0; d5 < 3; ++d5, ++e) {
              const bool same = iv[((d0 * 2 + d2) * 2 + d4) * 3 + d5] == jv[(d1 * 2 + d3) * 3 + d5];
              EXPECT_EQ(r.at("e").data.at(e), same ? 1.0f : 0.0f) << e;
            }
  ModelBuilder wide(13);
  wide.input("a", {65, 1, 3, 1, 2});
  wide.input("b", {1, 4, 1, 5, 1});
  wide.node("Add", {"a", "b"}, {"s"}, "add65");
  wide.output("s");
  const Graph g = import_onnx_bytes(wide.bytes(), "b65.onnx");
  EXPECT_THAT(test::compile_error_of([&] { compile_graph(g, arch::load_config("tiny"), Options{}); }),
              HasSubstr("node 'add65' (Add): the broadcast of [65,1,3,1,2] and [1,4,1,5,1] to [65,4,3,5,2] needs 5 "
                        "address dimensions, an AGCU stream has 4"));
}

// BatchNormalization-9 in training mode with its five outputs as graph values: Y from the
// batch's statistics, the running mean and variance ONNX's momentum mix (biased batch
// variance), the saved mean and variance the batch's; against double-precision values
// written from the definition, and on the device bit for bit against the reference.
TEST(OpsExt, BatchNormTrainingOutputs) {
  ModelBuilder b(9);
  b.input("x", {2, 3, 2});
  b.init("s", {3}, {1.0f, 2.0f, 0.5f});
  b.init("bias", {3}, {0.0f, 1.0f, -1.0f});
  b.init("mean", {3}, {0.5f, -0.5f, 2.0f});
  b.init("var", {3}, {1.0f, 2.0f, 4.0f});
  auto* n = b.node("BatchNormalization", {"x", "s", "bias", "mean", "var"}, {"y", "rm", "rv", "sm", "sv"}, "bn");
  auto* mo = n->add_attribute();
  mo->set_name("momentum");
  mo->set_type(onnx::AttributeProto::FLOAT);
  mo->set_f(0.75f);
  for (const char* o : {"y", "rm", "rv", "sm", "sv"}) b.output(o);
  std::vector<float> x(12);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7 % 12) - 5) * 0.25f;
  const auto r = run_both(import_onnx_bytes(b.bytes(), "bn9.onnx"), {{"x", HostTensor{{2, 3, 2}, x}}});
  const double rmean[3] = {0.5, -0.5, 2.0}, rvar[3] = {1.0, 2.0, 4.0}, s[3] = {1, 2, 0.5}, bias[3] = {0, 1, -1};
  for (size_t c = 0; c < 3; ++c) {
    double m = 0, v = 0;
    for (size_t i : {0u, 1u, 6u, 7u}) m += x[c * 2 + i] / 4.0;
    for (size_t i : {0u, 1u, 6u, 7u}) v += (x[c * 2 + i] - m) * (x[c * 2 + i] - m) / 4.0;
    EXPECT_NEAR(r.at("sm").data[c], m, 1e-6) << c;
    EXPECT_NEAR(r.at("sv").data[c], v, 1e-6) << c;
    EXPECT_NEAR(r.at("rm").data[c], rmean[c] * 0.75 + m * 0.25, 1e-6) << c;
    EXPECT_NEAR(r.at("rv").data[c], rvar[c] * 0.75 + v * 0.25, 1e-6) << c;
    for (size_t i : {0u, 1u, 6u, 7u})
      EXPECT_NEAR(r.at("y").data[c * 2 + i], (x[c * 2 + i] - m) / std::sqrt(v + 1e-5) * s[c] + bias[c], 1e-5) << c;
  }
}

// torch.split and torch.chunk exported by PyTorch (data/split, gen_split.py; split as an
// attribute at opset 11, an input at 13; chunk exports Slices of Shape arithmetic): the
// reference equals PyTorch's outputs exactly (each part times 2 plus 1), the model the
// reference bit for bit.
TEST(SplitOp, TorchSplitAndChunk) {
  namespace fs = std::filesystem;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(fs::path(OPENRDU_TEST_DATA) / "split")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  ASSERT_EQ(dirs.size(), 5u);
  int splits = 0;
  for (const auto& d : dirs) {
    SCOPED_TRACE(d.filename().string());
    const Graph g = import_onnx_file((d / "model.onnx").string());
    onnx::ModelProto m;
    std::ifstream f(d / "model.onnx", std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&f));
    for (const auto& n : m.graph().node()) splits += n.op_type() == "Split";
    const auto ref = run_both(g, {{"x", load_tensor_pb((d / "x.pb").string())}});
    ASSERT_GE(g.outputs.size(), 2u);
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      const HostTensor want = load_tensor_pb((d / fmt::format("y{}.pb", k)).string());
      const HostTensor& got = ref.at(fmt::format("y{}", k));
      EXPECT_EQ(got.shape, want.shape) << "y" << k;
      EXPECT_EQ(got.data, want.data) << "y" << k;
    }
  }
  EXPECT_EQ(splits, 3) << "torch.split exports a Split node in three of the models";
}

// Split's forms at every opset: sizes as an attribute (opset 11) or an input (13), equal
// parts by the outputs (13) or num_outputs with a smaller last part (18); bad sizes are
// one-line errors naming the node.
TEST(SplitOp, FormsAndErrors) {
  auto split_graph = [](int opset, int parts, const std::vector<int64_t>& sizes, bool as_input, int64_t num) {
    ModelBuilder b(opset);
    b.input("x", {2, 7});
    if (as_input) test::init_i64(b, "s", sizes);
    auto* n = b.node("Split", {"x"}, {}, "split");
    if (as_input) n->add_input("s");
    std::vector<std::string> outs;
    for (int k = 0; k < parts; ++k) n->add_output(outs.emplace_back(fmt::format("y{}", k)));
    test::set_int(n, "axis", -1);
    if (!as_input && !sizes.empty()) test::set_ints(n, "split", sizes);
    if (num > 0) test::set_int(n, "num_outputs", num);
    for (const auto& o : outs) b.output(o);
    return b;
  };
  std::vector<float> x(14);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  auto check = [&](ModelBuilder b, const std::vector<std::vector<float>>& want) {
    const auto r = run_both(import_onnx_bytes(b.bytes(), "split.onnx"), {{"x", HostTensor{{2, 7}, x}}});
    for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(r.at(fmt::format("y{}", k)).data, want[k]) << "y" << k;
  };
  check(split_graph(11, 2, {3, 4}, false, 0), {{0, 1, 2, 7, 8, 9}, {3, 4, 5, 6, 10, 11, 12, 13}});
  check(split_graph(13, 3, {1, 5, 1}, true, 0), {{0, 7}, {1, 2, 3, 4, 5, 8, 9, 10, 11, 12}, {6, 13}});
  check(split_graph(18, 3, {}, false, 3), {{0, 1, 2, 7, 8, 9}, {3, 4, 5, 10, 11, 12}, {6, 13}});
  auto err = [](ModelBuilder b) { return test::compile_error_of([&] { import_onnx_bytes(b.bytes(), "bad.onnx"); }); };
  EXPECT_THAT(err(split_graph(13, 2, {3, 3}, true, 0)),
              HasSubstr("node 'split' (Split): split [3,3] must give 2 parts summing to dimension 1 (7)"));
  EXPECT_THAT(err(split_graph(18, 2, {}, false, 3)),
              HasSubstr("node 'split' (Split): num_outputs = 3 but the node has 2 outputs"));
  EXPECT_THAT(err(split_graph(13, 2, {7, 0}, true, 0)), HasSubstr("a part of size 0 (sizes >= 1 only)"));
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

// An int_ops/<name> model (gen_int_ops.py): its graph, its inputs and expected outputs by name.
struct IntOpsCase {
  Graph g;
  std::map<std::string, HostTensor> in, want;
};
IntOpsCase int_ops_case(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path d = fs::path(OPENRDU_TEST_DATA) / "int_ops" / name;
  IntOpsCase c{import_onnx_file((d / "model.onnx").string()), {}, {}};
  for (const auto& [prefix, into] : {std::pair{"in", &c.in}, std::pair{"out", &c.want}})
    for (int k = 0; fs::exists(d / fmt::format("{}_{}.pb", prefix, k)); ++k) {
      std::string nm;
      HostTensor t = load_tensor_pb((d / fmt::format("{}_{}.pb", prefix, k)).string(), &nm);
      (*into)[nm] = std::move(t);
    }
  return c;
}

// Integer arithmetic, comparisons, Cast to bool, Where and Mod by zero on run-time int64
// and int32 inputs (the PCU's IADD/ISUB/IMUL/ILT/XOR/SEL/ITOF on int32 words): the
// reference equals numpy's values written by gen_int_ops.py (Add, Sub, Mul, Neg, Abs, Sum
// wrapping like int32, as documented; Mod by zero 0), and every target equals the reference
// bit for bit (run_both). An int64 constant operand beyond int32 is refused, naming it.
TEST(IntOps, ArithmeticAndComparisonsOfRunTimeIntegers) {
  for (const char* name : {"int64_arith", "int32_compare"}) {
    SCOPED_TRACE(name);
    const IntOpsCase c = int_ops_case(name);
    const auto got = run_both(c.g, c.in);
    ASSERT_EQ(got.size(), c.want.size());
    for (const auto& [nm, w] : c.want) {
      EXPECT_EQ(got.at(nm).idata, w.idata) << nm;
      EXPECT_EQ(got.at(nm).data, w.data) << nm;
      EXPECT_EQ(got.at(nm).shape, w.shape) << nm;
    }
  }
  ModelBuilder b(13);
  b.input("x", {2}, onnx::TensorProto::INT64);
  test::init_i64(b, "big", {2}, {1, int64_t(1) << 33});
  b.node("Add", {"x", "big"}, {"y"}, "add");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "big.onnx");
  EXPECT_THAT(test::compile_error_of([&] { compile_graph(g, arch::load_config("tiny"), Options{}); }),
              HasSubstr("int64 constant 'big' holds 8589934592, beyond the device's int32 words"));
}

// The training/eval accuracy ReduceSum(Cast(Equal(ArgMax(logits, axis=1), labels))) with
// int64 labels as a run-time input, built with onnx.helper and exported from PyTorch (sum
// and mean): the reference equals numpy's / PyTorch's count, every target the reference.
TEST(IntOps, ArgMaxAccuracyWithRunTimeLabels) {
  for (const char* name : {"accuracy_helper", "accuracy_torch"}) {
    SCOPED_TRACE(name);
    const IntOpsCase c = int_ops_case(name);
    const auto got = run_both(c.g, c.in);
    for (const auto& [nm, w] : c.want) EXPECT_EQ(got.at(nm).data, w.data) << nm;
    EXPECT_GT(c.want.at("correct").data.at(0), 0.0f);
  }
}

// The 5- and 6-dimension broadcasts of gen_int_ops.py (fp32 Add, int64 Equal): numpy's values
// on the reference, every target equal to the reference (split_wide_broadcast's parts).
TEST(IntOps, WideBroadcastsMatchNumpy) {
  const IntOpsCase c = int_ops_case("broadcast5");
  const auto got = run_both(c.g, c.in);
  for (const auto& [nm, w] : c.want) EXPECT_EQ(got.at(nm).data, w.data) << nm;
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
