// Conv, the pools, ConvTranspose and LpPool over 1, 2 and 3 spatial axes (PyTorch layers
// and ONNX nodes of data/nd_window, gen_nd_window.py), Trilu, and the legacy attributes of
// opsets 1-6: the CPU reference against expected outputs computed outside the compiler
// (PyTorch, numpy, or written in the test), and the functional model (tiny -O0/-O3, small
// -O3) against the reference bit for bit.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "node_suite.h"

namespace openrdu::compiler {
namespace {

namespace fs = std::filesystem;
using test::ModelBuilder;
using test::set_int;
using test::set_ints;

// The reference within rtol/atol of `want` (outputs "y"), then the model bit for bit
// against the reference on tiny at -O0/-O3 and small at -O3.
void check_against(const Graph& g, const std::map<std::string, HostTensor>& in, const HostTensor& want,
                   const std::string& what, double rtol = test::kRtol) {
  const auto ref = reference_run(g, in);
  double wa = 0, wr = 0;
  EXPECT_EQ(test::compare_tolerant(ref, {"y"}, {want}, wa, wr, rtol), "") << what << ": reference";
  std::printf("%s: worst reference error %.3g (relative %.3g)\n", what.c_str(), wa, wr);
  for (const auto& [cfgname, level] : std::vector<std::pair<const char*, int>>{{"tiny", 0}, {"tiny", 3}, {"small", 3}}) {
    const arch::Config cfg = arch::load_config(cfgname);
    Options o;
    o.opt_level = level;
    const auto out = test::run_on_model(cfg, compile_graph(g, cfg, o), in);
    EXPECT_EQ(test::compare_outputs(out, {"y"}, {ref.at("y")}), "") << what << ": " << cfgname << " -O" << level;
  }
}

TEST(NdWindow, LayersMatchPyTorchAndNumpy) {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(fs::path(OPENRDU_TEST_DATA) / "nd_window")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  ASSERT_GE(dirs.size(), 14u);
  std::set<std::string> ranks_seen;
  for (const auto& d : dirs) {
    const std::string name = d.filename().string();
    SCOPED_TRACE(name);
    const Graph g = import_onnx_file((d / "model.onnx").string());
    const HostTensor x = load_tensor_pb((d / "x.pb").string()), y = load_tensor_pb((d / "y.pb").string());
    for (const Node& n : g.nodes) ranks_seen.insert(fmt::format("{}/{}", n.op, x.shape.size()));
    check_against(g, {{"x", x}}, y, name);
  }
  // Every operator at rank 3 (1-D) and rank 5 (3-D) at least once.
  for (const char* want : {"Conv/3", "Conv/5", "MaxPool/3", "MaxPool/5", "AveragePool/3", "AveragePool/5", "LpPool/3",
                           "LpPool/4", "LpPool/5", "ConvTranspose/3", "ConvTranspose/4"})
    EXPECT_TRUE(ranks_seen.count(want)) << "no case of " << want;
}

std::vector<float> ramp(int64_t count, float scale, float offset) {
  std::vector<float> v;
  for (int64_t i = 0; i < count; ++i) v.push_back(float(i) * scale + offset);
  return v;
}

// Opset 4: Add with broadcast 1 and axis 1 (B [3] along A's axis 1 of [2, 3, 4]), Relu
// and Add with consumed_inputs, Mul with broadcast 1 and no axis (B [4]: A's trailing
// dimension), Reshape with its shape as an attribute (until opset 4).
TEST(LegacyOpsets, BroadcastAxisConsumedInputsReshapeAttribute) {
  ModelBuilder b(4);
  b.input("a", {2, 3, 4});
  b.init("c", {3}, {1.0f, -2.0f, 0.5f});
  b.init("m", {4}, {2.0f, 0.5f, -1.0f, 4.0f});
  auto* add = b.node("Add", {"a", "c"}, {"s"}, "add");
  set_int(add, "broadcast", 1);
  set_int(add, "axis", 1);
  set_ints(add, "consumed_inputs", {0, 0});
  set_ints(b.node("Relu", {"s"}, {"r"}, "relu"), "consumed_inputs", {0});
  auto* mul = b.node("Mul", {"r", "m"}, {"p"}, "mul");
  set_int(mul, "broadcast", 1);
  set_ints(b.node("Reshape", {"p"}, {"y"}, "reshape"), "shape", {6, 4});
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "legacy4.onnx");
  const std::vector<float> a = ramp(24, 0.25f, -3.0f), c = {1.0f, -2.0f, 0.5f}, m = {2.0f, 0.5f, -1.0f, 4.0f};
  HostTensor want{{6, 4}, {}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) want.data.push_back(std::max(a[size_t(i * 12 + j * 4 + k)] + c[size_t(j)], 0.0f) * m[size_t(k)]);
  check_against(g, {{"a", HostTensor{{2, 3, 4}, a}}}, want, "opset 4 Add/Relu/Mul/Reshape", 0.0);
}

// Opset 1: Concat without an axis (1 until opset 4), BatchNormalization with is_test,
// spatial and consumed_inputs (inference: Y = scale * (x - mean) / sqrt(var + eps) + B),
// Cast with its type by name.
TEST(LegacyOpsets, Opset1ConcatBatchNormCast) {
  ModelBuilder b(1);
  b.input("x", {1, 2, 2});
  b.input("z", {1, 1, 2});
  for (const char* p : {"scale", "bias", "mean", "var"}) b.init(p, {3}, {0.5f, 2.0f, 1.5f});
  b.node("Concat", {"x", "z"}, {"cat"}, "concat");
  auto* bn = b.node("BatchNormalization", {"cat", "scale", "bias", "mean", "var"}, {"bn"}, "bn");
  set_int(bn, "is_test", 1);
  set_int(bn, "spatial", 1);
  set_ints(bn, "consumed_inputs", {0, 0, 0, 1, 1});
  auto* cast = b.node("Cast", {"bn"}, {"y"}, "cast");
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::STRING);
  to->set_s("FLOAT");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "legacy1.onnx");
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.25f}, z = {7.0f, -5.0f};
  const std::vector<float> cat = {1.0f, -2.0f, 3.0f, 0.25f, 7.0f, -5.0f};  // channels x0, x1, z
  const double p[3] = {0.5, 2.0, 1.5};  // scale = bias = mean = var of each channel
  HostTensor want{{1, 3, 2}, {}};
  for (size_t i = 0; i < cat.size(); ++i)
    want.data.push_back(float(p[i / 2] * (cat[i] - p[i / 2]) / std::sqrt(p[i / 2] + 1e-5) + p[i / 2]));
  check_against(g, {{"x", HostTensor{{1, 2, 2}, x}}, {"z", HostTensor{{1, 1, 2}, z}}}, want,
                "opset 1 Concat/BatchNormalization/Cast");
}

// Opset 1: Pad with `paddings` (renamed pads in opset 2) and LpPool with a float p (an
// integer from opset 2): x [1, 1, 3] padded with 0.5 on both ends of the last axis, then
// the L2 norm of each window of 2.
TEST(LegacyOpsets, Opset1PaddingsAndFloatP) {
  ModelBuilder b(1);
  b.input("x", {1, 1, 3});
  auto* pad = b.node("Pad", {"x"}, {"xp"}, "pad");
  set_ints(pad, "paddings", {0, 0, 1, 0, 0, 1});
  auto* value = pad->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::FLOAT);
  value->set_f(0.5f);
  auto* lp = b.node("LpPool", {"xp"}, {"y"}, "lp");
  set_ints(lp, "kernel_shape", {2});
  auto* p = lp->add_attribute();
  p->set_name("p");
  p->set_type(onnx::AttributeProto::FLOAT);
  p->set_f(2.0f);
  b.output("y");
  const HostTensor want{{1, 1, 4},
                        {float(std::sqrt(1.25)), float(std::sqrt(5.0)), float(std::sqrt(13.0)), float(std::sqrt(9.25))}};
  check_against(import_onnx_bytes(b.bytes(), "legacy1_pad.onnx"), {{"x", HostTensor{{1, 1, 3}, {1.0f, -2.0f, 3.0f}}}},
                want, "opset 1 Pad/LpPool");
}

TEST(LegacyOpsets, RunTimeBroadcastAtAnAxisIsRefused) {
  ModelBuilder b(6);
  b.input("a", {2, 3});
  b.input("c", {2});
  auto* add = b.node("Add", {"a", "c"}, {"y"}, "add");
  set_int(add, "broadcast", 1);
  set_int(add, "axis", 0);
  b.output("y");
  const std::string e = test::compile_error_of([&] { import_onnx_bytes(b.bytes(), "legacy6.onnx"); });
  EXPECT_NE(e.find("legacy6.onnx"), std::string::npos) << e;
  EXPECT_NE(e.find("run-time B 'c' [2] at axis 0"), std::string::npos) << e;
}

// Trilu of a run-time input: lower (upper 0) with k -1 from a constant input, and upper
// with the default k 0; x [2, 3, 4] with x[b, i, j] = 1 + b*12 + i*4 + j.
TEST(Trilu, LowerAndUpperOfRunTimeInput) {
  for (int upper : {0, 1}) {
    ModelBuilder b(14);
    b.input("x", {2, 3, 4});
    auto* n = upper ? b.node("Trilu", {"x"}, {"y"}, "trilu") : b.node("Trilu", {"x", "k"}, {"y"}, "trilu");
    set_int(n, "upper", upper);
    if (!upper) {
      auto* k = b.proto().mutable_graph()->add_initializer();
      k->set_name("k");
      k->set_data_type(onnx::TensorProto::INT64);
      k->add_int64_data(-1);
    }
    b.output("y");
    const std::vector<float> x = ramp(24, 1.0f, 1.0f);
    HostTensor want{{2, 3, 4}, {}};
    for (int bi = 0; bi < 2; ++bi)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
          const bool keep = upper ? j - i >= 0 : j - i <= -1;
          want.data.push_back(keep ? x[size_t(bi * 12 + i * 4 + j)] : 0.0f);
        }
    check_against(import_onnx_bytes(b.bytes(), "trilu.onnx"), {{"x", HostTensor{{2, 3, 4}, x}}}, want,
                  fmt::format("Trilu upper {}", upper), 0.0);
  }
}

}  // namespace
}  // namespace openrdu::compiler
