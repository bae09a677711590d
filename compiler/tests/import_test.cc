// ONNX importer, shape inference and the verifier.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::ModelBuilder;
using ::testing::HasSubstr;

const auto error_of = test::compile_error_of;

struct Conformance {
  const char* test;
  const char* op;
  std::vector<std::vector<int64_t>> in_shapes;
  std::vector<int64_t> out_shape;
};

const Conformance kConformance[] = {
    {"test_add", "Add", {{3, 4, 5}, {3, 4, 5}}, {3, 4, 5}}, {"test_add_bcast", "Add", {{3, 4, 5}, {5}}, {3, 4, 5}},
    {"test_sub", "Sub", {{3, 4, 5}, {3, 4, 5}}, {3, 4, 5}}, {"test_mul", "Mul", {{3, 4, 5}, {3, 4, 5}}, {3, 4, 5}},
    {"test_relu", "Relu", {{3, 4, 5}}, {3, 4, 5}},          {"test_max_example", "Max", {{3}, {3}, {3}}, {3}},
};

TEST(Import, ConformanceModels) {
  for (const auto& c : kConformance) {
    SCOPED_TRACE(c.test);
    const Graph g = import_onnx_file(test::node_dir(c.test) + "/model.onnx");
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].op, c.op);
    ASSERT_EQ(g.inputs.size(), c.in_shapes.size());
    for (size_t i = 0; i < c.in_shapes.size(); ++i) {
      EXPECT_EQ(g.tensors[g.inputs[i]].shape, c.in_shapes[i]);
      EXPECT_EQ(g.tensors[g.inputs[i]].kind, TensorKind::Input);
      EXPECT_EQ(g.tensors[g.nodes[0].inputs[i]].name, g.tensors[g.inputs[i]].name);
    }
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.tensors[g.outputs[0]].shape, c.out_shape);
    EXPECT_TRUE(g.tensors[g.outputs[0]].is_output);
    EXPECT_EQ(g.tensors[g.outputs[0]].producer, 0);
  }
}

TEST(ShapeInference, Broadcast) {
  EXPECT_EQ(broadcast_shapes({3, 4, 5}, {5}, "t"), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}, "t"), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {3}, "t"), (std::vector<int64_t>{3}));
  EXPECT_EQ(broadcast_shapes({1}, {}, "t"), (std::vector<int64_t>{1}));
  EXPECT_EQ(broadcast_shapes({1, 7}, {6, 1}, "t"), (std::vector<int64_t>{6, 7}));
  EXPECT_THAT(error_of([] { broadcast_shapes({3}, {4}, "node 'x' (Add)"); }),
              HasSubstr("node 'x' (Add): shapes [3] and [4] do not broadcast"));
}

TEST(ShapeInference, ChainWithInitializer) {
  ModelBuilder b;
  b.input("a", {2, 1, 4});
  b.input("b", {3, 1});
  b.init("c", {4}, {1, 2, 3, 4});
  b.node("Mul", {"a", "b"}, {"t0"}, "mul");
  b.node("Add", {"t0", "c"}, {"t1"}, "add");
  b.node("Relu", {"t1"}, {"y"}, "relu");
  b.node("Max", {"y", "a", "c"}, {"z"}, "max3");
  b.output("z");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "chain.onnx");
  EXPECT_EQ(g.tensors[g.find("t0")].shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(g.tensors[g.find("y")].shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(g.tensors[g.find("z")].shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(g.tensors[g.find("c")].kind, TensorKind::Constant);
  EXPECT_EQ(g.tensors[g.find("c")].data, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(g.inputs.size(), 2u);
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "z");
}

TEST(Import, SortsNodesTopologically) {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Relu", {"t"}, {"y"}, "second");
  b.node("Identity", {"x"}, {"t"}, "first");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
}

TEST(Import, UnnamedNodesGetNames) {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
  EXPECT_EQ(g.nodes[0].name, "Relu_0");
}

TEST(ImportErrors, UnsupportedOperatorNamesNodeAndFile) {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"t"}, "r");
  b.node("Cos", {"t"}, {"y"}, "e1");
  b.output("y");
  const std::string path = b.save("unsupported.onnx");
  EXPECT_THAT(error_of([&] { import_onnx_file(path); }),
              HasSubstr(path + ": node 'e1' (Cos): unsupported operator"));
  EXPECT_THAT(error_of([&] { compile_onnx_file(path, arch::load_config("tiny")); }),
              HasSubstr("node 'e1' (Cos): unsupported operator"));
}

TEST(ImportErrors, MalformedAndMissingFile) {
  const auto dir = test::scratch_dir();
  std::filesystem::create_directories(dir);
  const std::string bad = (dir / "garbage.onnx").string();
  {
    std::ofstream f(bad, std::ios::binary);
    f << "this is not a protobuf \xff\xff\xff\xff\x01";
  }
  EXPECT_THAT(error_of([&] { import_onnx_file(bad); }), HasSubstr(bad + ": not a valid ONNX model"));
  const std::string missing = (dir / "does_not_exist.onnx").string();
  EXPECT_THAT(error_of([&] { import_onnx_file(missing); }), HasSubstr(missing + ": cannot open"));
  EXPECT_THAT(error_of([&] { load_tensor_pb(missing); }), HasSubstr(missing + ": cannot open"));
}

TEST(ImportErrors, NonFp32AndDynamicShapes) {
  {
    ModelBuilder b;
    b.input("ids", {4}, onnx::TensorProto::INT64);
    b.node("Relu", {"ids"}, {"y"}, "r");
    b.output("y");
    // int64 graph inputs are read (class labels), but only Cast, the losses and views take them.
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'r' (Relu): input 'ids' is int64, expected fp32"));
  }
  {
    ModelBuilder b;
    auto* vi = b.input("x", {});
    auto* d = vi->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();
    d->set_dim_param("batch");
    b.node("Relu", {"x"}, {"y"}, "r");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("input 'x': dimension 0 is not static ('batch')"));
  }
  {
    ModelBuilder b;
    b.input("x", {4});
    auto* t = b.proto().mutable_graph()->add_initializer();
    t->set_name("w");
    t->set_data_type(onnx::TensorProto::DOUBLE);
    t->add_dims(4);
    b.node("Add", {"x", "w"}, {"y"}, "a");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("initializer 'w': data type DOUBLE is not fp32"));
  }
}

TEST(ImportErrors, OpsetArityShapes) {
  {
    ModelBuilder b(19);
    b.input("x", {4});
    b.node("Relu", {"x"}, {"y"}, "r");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("opset 19 is not supported (opsets 1 to 18)"));
  }
  {
    ModelBuilder b;
    for (const char* n : {"a", "b", "c", "d"}) b.input(n, {4});
    b.node("Max", {"a", "b", "c", "d"}, {"y"}, "max4");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'max4' (Max): 4 inputs, the compiler supports 1 to 3"));
  }
  {
    ModelBuilder b;
    b.input("a", {3});
    b.input("b", {4});
    b.node("Add", {"a", "b"}, {"y"}, "add");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'add' (Add): shapes [3] and [4] do not broadcast"));
  }
  {
    ModelBuilder b;
    b.input("a", {3});
    b.node("Relu", {"a"}, {"y"}, "r");
    b.output("y", {4}, true);
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("output 'y' is declared [4] but the operator gives [3]"));
  }
  {
    ModelBuilder b;
    b.input("a", {3});
    b.node("Relu", {"nope"}, {"y"}, "r");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'r' (Relu): input 'nope' is not defined"));
  }
}

TEST(Verifier, CatchesBrokenGraphs) {
  ModelBuilder b;
  b.input("x", {4});
  b.node("Relu", {"x"}, {"y"}, "r");
  b.output("y");
  Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
  EXPECT_NO_THROW(verify(g));
  Graph g2 = g;
  g2.tensors[g2.find("y")].shape = {5};
  EXPECT_THAT(error_of([&] { verify(g2); }), HasSubstr("output 'y' has shape [5], the inputs broadcast to [4]"));
  Graph g3 = g;
  g3.nodes[0].op = "LSTM";
  EXPECT_THAT(error_of([&] { verify(g3); }), HasSubstr("node 'r' (LSTM): unsupported operator"));
}

}  // namespace
}  // namespace openrdu::compiler

namespace openrdu::compiler {
namespace {

// CNN operators: what is out of scope is an error naming the file, the node and the
// reason (1-D to 3-D, one output, known auto_pad values).
TEST(CnnImport, OutOfScopeIsAnErrorNamingTheNode) {
  auto attr_s = [](onnx::NodeProto* n, const char* name, const char* v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  };
  {  // 4-D Conv (rank-6 input)
    ModelBuilder b;
    b.input("x", {1, 2, 3, 3, 3, 3});
    b.init("w", {1, 2, 2, 2, 2, 2}, std::vector<float>(32, 0.5f));
    b.node("Conv", {"x", "w"}, {"y"}, "c1");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "cnn.onnx"); }),
                HasSubstr("node 'c1' (Conv): input 'x' [1,2,3,3,3,3] has rank 6; Conv takes 1-, 2- or 3-D inputs"));
  }
  {  // MaxPool's Indices output
    ModelBuilder b;
    b.input("x", {1, 1, 4, 4});
    auto* n = b.node("MaxPool", {"x"}, {"y", "idx"}, "mp");
    auto* k = n->add_attribute();
    k->set_name("kernel_shape");
    k->set_type(onnx::AttributeProto::INTS);
    k->add_ints(2);
    k->add_ints(2);
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "cnn.onnx"); }),
                HasSubstr("node 'mp' (MaxPool): 2 outputs; the Indices output ('idx') is not supported"));
  }
  {  // unknown auto_pad
    ModelBuilder b;
    b.input("x", {1, 1, 4, 4});
    b.init("w", {1, 1, 3, 3}, std::vector<float>(9, 1.0f));
    auto* n = b.node("Conv", {"x", "w"}, {"y"}, "c2");
    attr_s(n, "auto_pad", "SAME");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "cnn.onnx"); }),
                HasSubstr("node 'c2' (Conv): auto_pad 'SAME' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER"));
  }
}

}  // namespace
}  // namespace openrdu::compiler
