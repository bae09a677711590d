// CPU reference interpreter against the ONNX conformance outputs and hand-computed values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::ModelBuilder;
using test::same_f32;

// Inputs of a conformance test, keyed by the model's input names.
std::map<std::string, HostTensor> load_inputs(const std::string& dir, const Graph& g) {
  std::map<std::string, HostTensor> in;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    std::string name;
    HostTensor t = load_tensor_pb(dir + "/test_data_set_0/input_" + std::to_string(i) + ".pb", &name);
    in[g.tensors[g.inputs[i]].name] = std::move(t);
  }
  return in;
}

TEST(Reference, ConformanceOutputs) {
  for (const char* test : {"test_add", "test_add_bcast", "test_sub", "test_mul", "test_relu", "test_max_example"}) {
    SCOPED_TRACE(test);
    const std::string dir = test::node_dir(test);
    const Graph g = import_onnx_file(dir + "/model.onnx");
    const auto out = reference_run(g, load_inputs(dir, g));
    std::string name;
    const HostTensor expect = load_tensor_pb(dir + "/test_data_set_0/output_0.pb", &name);
    ASSERT_EQ(out.size(), 1u);
    const HostTensor& got = out.begin()->second;
    EXPECT_EQ(out.begin()->first, g.tensors[g.outputs[0]].name);
    EXPECT_EQ(got.shape, expect.shape);
    ASSERT_EQ(got.data.size(), expect.data.size());
    for (size_t i = 0; i < got.data.size(); ++i)
      ASSERT_TRUE(same_f32(got.data[i], expect.data[i]))
          << "element " << i << ": got " << got.data[i] << ", expected " << expect.data[i];
  }
}

TEST(Reference, LoadTensorPbFloatData) {
  // float_data encoding (the conformance files use raw_data).
  onnx::TensorProto t;
  t.set_name("v");
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(2);
  t.add_float_data(1.5f);
  t.add_float_data(-2.0f);
  const auto path = test::scratch_dir();
  std::filesystem::create_directories(path);
  const std::string file = (path / "t.pb").string();
  {
    std::ofstream f(file, std::ios::binary);
    f << t.SerializeAsString();
  }
  std::string name;
  const HostTensor h = load_tensor_pb(file, &name);
  EXPECT_EQ(name, "v");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(h.data, (std::vector<float>{1.5f, -2.0f}));
}

TEST(Reference, BroadcastSemanticsByHand) {
  // y = relu(a * b + c), a [2,1,3], b [2,1], c [3] (initializer)
  ModelBuilder m;
  m.input("a", {2, 1, 3});
  m.input("b", {2, 1});
  m.init("c", {3}, {0.5f, -1.0f, 2.0f}, false);
  m.node("Mul", {"a", "b"}, {"t"}, "mul");
  m.node("Add", {"t", "c"}, {"u"}, "add");
  m.node("Relu", {"u"}, {"y"}, "relu");
  m.output("y");
  const Graph g = import_onnx_bytes(m.bytes(), "bcast.onnx");
  const auto out = reference_run(g, {{"a", {{2, 1, 3}, {1, 2, 3, 4, 5, 6}}}, {"b", {{2, 1}, {10, -1}}}});
  const HostTensor& y = out.at("y");
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 2, 3}));
  // a[i,0,k] * b[j,0] + c[k]
  const std::vector<float> expect = {10.5f, 19.0f, 32.0f, 0.0f, 0.0f, 0.0f,  //
                                     40.5f, 49.0f, 62.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(y.data, expect);
}

TEST(Reference, MaxMinNanAndSignedZero) {
  ModelBuilder m;
  m.input("a", {4});
  m.input("b", {4});
  m.node("Max", {"a", "b"}, {"mx"}, "max");
  m.node("Min", {"a", "b"}, {"mn"}, "min");
  m.node("Relu", {"a"}, {"r"}, "relu");
  m.output("mx");
  m.output("mn");
  m.output("r");
  const Graph g = import_onnx_bytes(m.bytes(), "nan.onnx");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float snan_payload = std::bit_cast<float>(0x7FA00001u);
  const auto out =
      reference_run(g, {{"a", {{4}, {nan, -0.0f, 1.0f, -3.0f}}}, {"b", {{4}, {1.0f, 0.0f, snan_payload, -2.0f}}}});
  const auto& mx = out.at("mx").data;
  const auto& mn = out.at("mn").data;
  const auto& r = out.at("r").data;
  EXPECT_EQ(test::bits(mx[0]), 0x7FC00000u);  // canonical NaN
  EXPECT_EQ(test::bits(mx[1]), 0x00000000u);  // max(-0, +0) = +0
  EXPECT_EQ(test::bits(mx[2]), 0x7FC00000u);
  EXPECT_EQ(mx[3], -2.0f);
  EXPECT_EQ(test::bits(mn[0]), 0x7FC00000u);
  EXPECT_EQ(test::bits(mn[1]), 0x80000000u);  // min(-0, +0) = -0
  EXPECT_EQ(test::bits(mn[2]), 0x7FC00000u);
  EXPECT_EQ(mn[3], -3.0f);
  EXPECT_EQ(test::bits(r[0]), 0x7FC00000u);
  EXPECT_EQ(test::bits(r[1]), 0x00000000u);  // relu(-0) = max(-0, +0) = +0
  EXPECT_EQ(r[2], 1.0f);
  EXPECT_EQ(test::bits(r[3]), 0x00000000u);
}

TEST(Reference, InputErrorsNameTheTensor) {
  const Graph g = import_onnx_file(test::node_dir("test_add") + "/model.onnx");
  try {
    reference_run(g, {{"x", {{3, 4, 5}, std::vector<float>(60)}}});
    FAIL() << "no error";
  } catch (const CompileError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("no value given for input 'y'"));
  }
  try {
    reference_run(g, {{"x", {{3, 4}, std::vector<float>(12)}}, {"y", {{3, 4, 5}, std::vector<float>(60)}}});
    FAIL() << "no error";
  } catch (const CompileError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("input 'x' has shape [3,4], the model expects [3,4,5]"));
  }
}

}  // namespace
}  // namespace openrdu::compiler
