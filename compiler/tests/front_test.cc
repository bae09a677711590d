// The front end: integer attributes, constant folding of torch-style shape subgraphs,
// the CPU reference's MatMul/Gemm (against an independent naive computation) and data
// movement operators (against hand-computed values), and the YAML graph loader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::init_i64;
using test::ModelBuilder;
using test::same_f32;
using test::seed;
using ::testing::HasSubstr;

const auto error_of = test::compile_error_of;

onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  return a;
}
void attr_i(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = attr(n, name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = attr(n, name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = attr(n, name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

std::vector<float> random_values(std::mt19937& rng, int64_t n) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// ---------------------------------------------------------------- attributes

TEST(FrontAttributes, DefaultsAndValues) {
  ModelBuilder b(13);
  b.input("a", {3, 4});
  b.input("bm", {5, 4});
  auto* g = b.node("Gemm", {"a", "bm"}, {"y"}, "gemm");
  attr_i(g, "transB", 1);
  attr_f(g, "alpha", 0.5f);
  b.node("Transpose", {"y"}, {"t"}, "tr");
  b.node("Softmax", {"t"}, {"s"}, "sm");
  b.output("s");
  const Graph gr = import_onnx_bytes(b.bytes(), "m.onnx");
  ASSERT_EQ(gr.nodes.size(), 3u);
  const Node& gemm = gr.nodes[0];
  EXPECT_EQ(gemm.iattr("transA"), 0);
  EXPECT_EQ(gemm.iattr("transB"), 1);
  EXPECT_EQ(gemm.attr("alpha"), 0.5f);
  EXPECT_EQ(gemm.attr("beta"), 1.0f);
  EXPECT_EQ(gr.nodes[1].ints("perm"), (std::vector<int64_t>{1, 0}));  // default: reversed
  EXPECT_EQ(gr.tensors[gr.find("t")].shape, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(gr.nodes[2].iattr("axis"), 1);  // opset 13 default -1, normalized
  EXPECT_THAT(error_of([&] { gemm.iattr("nope"); }), HasSubstr("node 'gemm' (Gemm): attribute 'nope' is not set"));
  EXPECT_TRUE(gemm.has_iattr("transB"));
  EXPECT_FALSE(gemm.has_iattr("perm"));
}

TEST(FrontAttributes, Errors) {
  {
    ModelBuilder b;
    b.input("x", {2, 3});
    attr_i(b.node("Transpose", {"x"}, {"y"}, "tr"), "foo", 1);
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'tr' (Transpose): unsupported attribute 'foo'"));
  }
  {
    ModelBuilder b;
    b.input("x", {2, 3});
    attr_f(b.node("Transpose", {"x"}, {"y"}, "tr"), "perm", 1.0f);
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'tr' (Transpose): attribute 'perm' must be a list of integers (INTS)"));
  }
  {
    ModelBuilder b;
    b.input("a", {2, 3});
    b.input("c", {3, 2});
    attr_f(b.node("Gemm", {"a", "c"}, {"y"}, "g"), "transA", 1.0f);
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'g' (Gemm): attribute 'transA' must be an integer (INT)"));
  }
  {
    // Squeeze-13 takes axes as an input: the attribute is unknown there.
    ModelBuilder b(13);
    b.input("x", {1, 3});
    attr_ints(b.node("Squeeze", {"x"}, {"y"}, "sq"), "axes", {0});
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'sq' (Squeeze): unsupported attribute 'axes'"));
  }
  {
    // ... and opset 11 reads it.
    ModelBuilder b(11);
    b.input("x", {1, 3, 1});
    attr_ints(b.node("Squeeze", {"x"}, {"y"}, "sq"), "axes", {-1});
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
    EXPECT_EQ(g.tensors[g.find("y")].shape, (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(g.nodes[0].ints("axes"), (std::vector<int64_t>{2}));
  }
  {
    ModelBuilder b;
    b.input("x", {2, 3});
    attr_ints(b.node("Transpose", {"x"}, {"y"}, "tr"), "perm", {0, 0});
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'tr' (Transpose): perm [0,0] is not a permutation"));
  }
  {
    ModelBuilder b;
    b.input("a", {2, 3});
    b.input("c", {4, 2});
    b.node("MatMul", {"a", "c"}, {"y"}, "mm");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'mm' (MatMul): MatMul of [2,3] and [4,2]: inner dimensions 3 and 4 differ"));
  }
}

TEST(FrontShapes, MatMulBroadcastAndPromotion) {
  EXPECT_EQ(matmul_shape({2, 1, 3, 4}, {5, 4, 6}, "t"), (std::vector<int64_t>{2, 5, 3, 6}));
  EXPECT_EQ(matmul_shape({4}, {4, 6}, "t"), (std::vector<int64_t>{6}));
  EXPECT_EQ(matmul_shape({3, 4}, {4}, "t"), (std::vector<int64_t>{3}));
  EXPECT_EQ(matmul_shape({4}, {4}, "t"), (std::vector<int64_t>{}));
  EXPECT_EQ(matmul_shape({7, 3, 4}, {4}, "t"), (std::vector<int64_t>{7, 3}));
  EXPECT_THAT(error_of([] { matmul_shape({2, 3, 4}, {5, 4, 6}, "n"); }), HasSubstr("do not broadcast"));
}

// ---------------------------------------------------------------- folding

// x [2,3,4] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) -> [2,12] -> MatMul W.
// This is the subgraph torch.onnx.export emits for x.view(x.size(0), -1).
TEST(Fold, TorchFlattenSubgraph) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  std::vector<float> w(12 * 5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i % 7) - 3.0f;
  b.init("W", {12, 5}, w);
  init_i64(b, "zero", {}, {0});
  init_i64(b, "ax0", {1}, {0});
  init_i64(b, "minus1", {1}, {-1});
  b.node("Shape", {"x"}, {"s"}, "shape");
  attr_i(b.node("Gather", {"s", "zero"}, {"n"}, "gather"), "axis", 0);
  b.node("Unsqueeze", {"n", "ax0"}, {"n1"}, "unsq");
  attr_i(b.node("Concat", {"n1", "minus1"}, {"shp"}, "cat"), "axis", 0);
  b.node("Reshape", {"x", "shp"}, {"flat"}, "reshape");
  b.node("MatMul", {"flat", "W"}, {"y"}, "mm");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "torch.onnx");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "Reshape");
  EXPECT_EQ(g.nodes[0].ints("shape"), (std::vector<int64_t>{2, 12}));
  ASSERT_EQ(g.nodes[0].inputs.size(), 1u);  // the shape is a parameter, not an input
  EXPECT_EQ(g.tensors[g.nodes[0].inputs[0]].name, "x");
  EXPECT_EQ(g.tensors[g.find("flat")].shape, (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(g.nodes[1].op, "MatMul");
  EXPECT_EQ(g.tensors[g.find("y")].shape, (std::vector<int64_t>{2, 5}));
  // Shape tensors and the folded nodes are gone; every tensor is fp32.
  for (const char* gone : {"s", "n", "n1", "shp", "zero", "ax0", "minus1"}) EXPECT_EQ(g.find(gone), -1) << gone;
  for (const Tensor& t : g.tensors) EXPECT_EQ(t.dtype, DType::F32) << t.name;
  EXPECT_EQ(g.tensors.size(), 4u);  // x, W, flat, y
  // The folded graph computes x.view(2, -1) @ W.
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * float(i) - 2.0f;
  const auto out = reference_run(g, {{"x", HostTensor{{2, 3, 4}, x}}});
  const HostTensor& y = out.at("y");
  for (int m = 0; m < 2; ++m)
    for (int n = 0; n < 5; ++n) {
      float acc = -0.0f;
      for (int k = 0; k < 12; ++k) acc = std::fma(x[m * 12 + k], w[k * 5 + n], acc);
      EXPECT_TRUE(same_f32(y.data[m * 5 + n], acc)) << m << "," << n;
    }
}

// Constant, ConstantOfShape, Slice (INT64_MAX end), Div and Cast on shape values; the
// fp32 ConstantOfShape result stays as a constant input of the remaining Add.
TEST(Fold, ShapeArithmeticAndConstants) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 4});
  init_i64(b, "st", {1}, {1});
  init_i64(b, "en", {1}, {std::numeric_limits<int64_t>::max()});
  b.node("Shape", {"x"}, {"s"}, "shape");
  b.node("Slice", {"s", "st", "en"}, {"tail"}, "slice");  // [3,4]
  attr_ints(b.node("Constant", {}, {"div"}, "kdiv"), "value_ints", {1, 2});
  b.node("Div", {"tail", "div"}, {"half"}, "div");  // [3,2]
  attr_ints(b.node("Constant", {}, {"m1"}, "km1"), "value_ints", {-1});
  attr_i(b.node("Concat", {"m1", "half"}, {"shp"}, "cat"), "axis", 0);  // [-1,3,2]
  b.node("Reshape", {"x", "shp"}, {"r"}, "reshape");                    // [4,3,2]
  attr_ints(b.node("Constant", {}, {"two"}, "k2"), "value_ints", {2});
  auto* cos = b.node("ConstantOfShape", {"two"}, {"ones"}, "cos");  // [1.5,1.5]
  {
    auto* a = attr(cos, "value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_dims(1);
    a->mutable_t()->add_float_data(1.5f);
  }
  b.node("Cast", {"half"}, {"halff"}, "cast");  // fp32 [3,2] (unused by the output: dead)
  attr_i(b.proto().mutable_graph()->mutable_node(b.proto().graph().node_size() - 1), "to", 1);
  b.node("Add", {"r", "ones"}, {"y"}, "add");
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "arith.onnx");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "Reshape");
  EXPECT_EQ(g.nodes[0].ints("shape"), (std::vector<int64_t>{4, 3, 2}));
  EXPECT_EQ(g.nodes[1].op, "Add");
  const Tensor& ones = g.tensors[g.find("ones")];
  EXPECT_EQ(ones.kind, TensorKind::Constant);
  EXPECT_EQ(ones.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(ones.data, (std::vector<float>{1.5f, 1.5f}));
  EXPECT_EQ(g.find("halff"), -1);
  EXPECT_EQ(g.tensors[g.find("y")].shape, (std::vector<int64_t>{4, 3, 2}));
}

TEST(Fold, FoldsFp32ConstantsAndCastToIdentity) {
  ModelBuilder b;
  b.input("x", {2});
  b.init("a", {2}, {1.0f, 2.0f});
  b.init("c", {2}, {0.5f, -4.0f});
  b.node("Mul", {"a", "c"}, {"ac"}, "mul");  // constant: folded
  b.node("Add", {"x", "ac"}, {"t"}, "add");
  attr_i(b.node("Cast", {"t"}, {"y"}, "cast"), "to", 1);
  b.output("y");
  const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op, "Add");
  EXPECT_EQ(g.tensors[g.find("ac")].data, (std::vector<float>{0.5f, -8.0f}));
  EXPECT_EQ(g.nodes[1].op, "Identity");
}

TEST(Fold, Errors) {
  {
    // A shape computed from run-time data cannot be a parameter (the Cast to int64 itself
    // runs on the device: int32 words).
    ModelBuilder b;
    b.input("x", {4});
    b.input("s", {1});
    attr_i(b.node("Cast", {"s"}, {"si"}, "cast"), "to", 7);
    b.node("Reshape", {"x", "si"}, {"y"}, "reshape");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'reshape' (Reshape): input 'si' (shape) must be a compile-time constant, but it "
                          "depends on run-time data"));
  }
  {
    ModelBuilder b;
    b.input("x", {4});
    b.input("s", {1});
    b.node("Reshape", {"x", "s"}, {"y"}, "reshape");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'reshape' (Reshape): input 's' (shape) must be a compile-time constant, but it "
                          "depends on a graph input"));
  }
  {
    // An int64 constant used as run-time data.
    ModelBuilder b;
    b.input("x", {2});
    init_i64(b, "k", {2}, {1, 2});
    b.node("Add", {"x", "k"}, {"y"}, "add");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'add' (Add): input 'k' is int64, expected fp32"));
  }
  {
    // An int64 graph output that folds is a constant output (int32 words on the device);
    // one beyond int32 is refused by the compiler, naming it.
    ModelBuilder b;
    b.input("x", {2, 3});
    b.node("Shape", {"x"}, {"y"}, "shape");
    init_i64(b, "big", {1}, {int64_t(1) << 40});
    b.node("Identity", {"big"}, {"z"}, "id");
    b.output("y");
    b.output("z");
    const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
    EXPECT_EQ(g.tensors[g.find("y")].idata, (std::vector<int64_t>{2, 3}));
    EXPECT_THAT(error_of([&] { compile_graph(g, arch::load_config("tiny")); }),
                HasSubstr("int64 output 'z' holds 1099511627776, beyond the device's int32 words"));
  }
  {
    ModelBuilder b;
    b.input("x", {2, 3});
    init_i64(b, "s", {2}, {-1, -1});
    b.node("Reshape", {"x", "s"}, {"y"}, "reshape");
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'reshape' (Reshape): shape [-1,-1] has two -1"));
  }
}

// tests/data/torch_mlp.onnx (gen_torch_style.py): the exporter's shape subgraphs fold
// away, leaving the compute nodes with static shapes; the reference matches numpy's
// float64 result within rtol 1e-5 / atol 1e-6.
TEST(Fold, TorchStyleModelFile) {
  const std::string dir = std::string(OPENRDU_SOURCE_DIR) + "/compiler/tests/data";
  const Graph g = import_onnx_file(dir + "/torch_mlp.onnx");
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"Reshape", "Gemm", "Relu", "Gemm", "Reshape", "Transpose", "LogSoftmax"}));
  EXPECT_EQ(g.nodes[0].ints("shape"), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(g.nodes[4].ints("shape"), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(g.nodes[5].ints("perm"), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(g.nodes[6].iattr("axis"), 2);
  for (const Tensor& t : g.tensors) EXPECT_EQ(t.dtype, DType::F32) << t.name;
  EXPECT_EQ(g.tensors.size(), 12u);  // x, 4 weights, 7 node outputs
  const HostTensor x = load_tensor_pb(dir + "/torch_mlp/input_0.pb");
  const HostTensor want = load_tensor_pb(dir + "/torch_mlp/output_0.pb");
  const HostTensor y = reference_run(g, {{"x", x}}).at("y");
  ASSERT_EQ(y.shape, want.shape);
  for (size_t i = 0; i < y.data.size(); ++i)
    EXPECT_LE(std::fabs(y.data[i] - want.data[i]), 1e-6 + 1e-5 * std::fabs(want.data[i]))
        << "element " << i << ": reference " << y.data[i] << ", numpy " << want.data[i];
}

TEST(Fold, LegacySoftmaxAxis) {
  {
    ModelBuilder b(11);
    b.input("x", {2, 3, 1});
    attr_i(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 1);  // flattens [3,1]: one axis
    b.output("y");
    const Graph g = import_onnx_bytes(b.bytes(), "m.onnx");
    EXPECT_EQ(g.nodes[0].iattr("axis"), 1);
    EXPECT_FALSE(g.nodes[0].has_iattr("legacy2d"));
  }
  {
    ModelBuilder b(11);
    b.input("x", {2, 3, 4});
    b.node("Softmax", {"x"}, {"y"}, "sm");  // default axis 1: over 3*4 elements
    b.output("y");
    EXPECT_THAT(error_of([&] { import_onnx_bytes(b.bytes(), "m.onnx"); }),
                HasSubstr("node 'sm' (Softmax): opset < 13 softmax over dimensions 1..2 of [2,3,4]"));
  }
}

// ---------------------------------------------------------------- reference numerics

// The naive MatMul the reference must equal bit for bit: per output, an FMA chain over k
// ascending starting from -0.0 (the device's accumulator order), computed here from the
// flat index arithmetic of the broadcast batch independently of the reference's code.
TEST(ReferenceNumerics, MatMulIsTheFmaChain) {
  std::mt19937 rng(seed());
  struct Case {
    std::vector<int64_t> a, b;
  };
  const Case cases[] = {{{3, 4}, {4, 5}}, {{2, 1, 3, 7}, {4, 7, 2}}, {{4}, {4, 3}}, {{3, 4}, {4}}, {{6}, {6}},
                        {{1, 17}, {17, 1}}};
  for (const Case& c : cases) {
    ModelBuilder b;
    b.input("A", c.a);
    b.input("B", c.b);
    b.node("MatMul", {"A", "B"}, {"Y"}, "mm");
    b.output("Y");
    const Graph g = import_onnx_bytes(b.bytes(), "mm.onnx");
    int64_t na = 1, nb = 1;
    for (int64_t d : c.a) na *= d;
    for (int64_t d : c.b) nb *= d;
    const auto A = random_values(rng, na), B = random_values(rng, nb);
    const HostTensor Y = reference_run(g, {{"A", {c.a, A}}, {"B", {c.b, B}}}).at("Y");
    // Independent computation: promote, broadcast the batch by hand.
    std::vector<int64_t> as = c.a, bs = c.b;
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    while (as.size() < bs.size()) as.insert(as.begin(), 1);
    while (bs.size() < as.size()) bs.insert(bs.begin(), 1);
    const size_t r = as.size();
    const int64_t M = as[r - 2], K = as[r - 1], N = bs[r - 1];
    std::vector<int64_t> batch(r - 2);
    int64_t nbatch = 1;
    for (size_t d = 0; d + 2 < r; ++d) nbatch *= batch[d] = std::max(as[d], bs[d]);
    std::vector<float> want;
    for (int64_t bi = 0; bi < nbatch; ++bi) {
      int64_t rem = bi, offa = 0, offb = 0, sa = M * K, sb = K * N;
      for (size_t d = r - 2; d-- > 0;) {
        const int64_t i = rem % batch[d];
        rem /= batch[d];
        offa += (as[d] == 1 ? 0 : i) * sa;
        offb += (bs[d] == 1 ? 0 : i) * sb;
        sa *= as[d];
        sb *= bs[d];
      }
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          float acc = -0.0f;
          for (int64_t k = 0; k < K; ++k) acc = std::fma(A[offa + m * K + k], B[offb + k * N + n], acc);
          want.push_back(acc);
        }
    }
    EXPECT_EQ(Y.shape, matmul_shape(c.a, c.b, "t"));
    ASSERT_EQ(Y.data.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_TRUE(same_f32(Y.data[i], want[i])) << shape_str(c.a) << "x" << shape_str(c.b) << " element " << i
                                                << ": reference " << Y.data[i] << ", naive " << want[i];
  }
  // -0.0 start: products that are all -0 give -0 (a +0 start would give +0).
  ModelBuilder b;
  b.input("A", {1, 2});
  b.input("B", {2, 1});
  b.node("MatMul", {"A", "B"}, {"Y"}, "mm");
  b.output("Y");
  const Graph g = import_onnx_bytes(b.bytes(), "mm.onnx");
  const float y = reference_run(g, {{"A", {{1, 2}, {-1.0f, 0.0f}}}, {"B", {{2, 1}, {0.0f, -3.0f}}}}).at("Y").data[0];
  EXPECT_TRUE(std::signbit(y) && y == 0.0f);
}

TEST(ReferenceNumerics, GemmIsChainScaleFma) {
  std::mt19937 rng(seed() + 1);
  struct Case {
    bool ta, tb;
    float alpha, beta;
    std::vector<int64_t> c;  // empty: no C
  };
  const Case cases[] = {{false, false, 1.0f, 1.0f, {3, 5}}, {true, false, 0.5f, 1.0f, {5}},
                        {false, true, 1.0f, 2.5f, {3, 1}},  {true, true, -1.25f, 0.75f, {1}},
                        {false, false, 2.0f, 0.0f, {3, 5}}, {false, true, 1.0f, 1.0f, {}}};
  const int64_t M = 3, K = 6, N = 5;
  for (const Case& c : cases) {
    ModelBuilder b;
    const std::vector<int64_t> ash = c.ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K};
    const std::vector<int64_t> bsh = c.tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
    b.input("A", ash);
    b.input("B", bsh);
    if (!c.c.empty()) b.input("C", c.c);
    auto* n = c.c.empty() ? b.node("Gemm", {"A", "B"}, {"Y"}, "g") : b.node("Gemm", {"A", "B", "C"}, {"Y"}, "g");
    attr_i(n, "transA", c.ta);
    attr_i(n, "transB", c.tb);
    attr_f(n, "alpha", c.alpha);
    attr_f(n, "beta", c.beta);
    b.output("Y");
    const Graph g = import_onnx_bytes(b.bytes(), "gemm.onnx");
    const auto A = random_values(rng, M * K), B = random_values(rng, K * N);
    int64_t nc = 1;
    for (int64_t d : c.c) nc *= d;
    const auto C = random_values(rng, nc);
    std::map<std::string, HostTensor> in = {{"A", {ash, A}}, {"B", {bsh, B}}};
    if (!c.c.empty()) in["C"] = {c.c, C};
    const HostTensor Y = reference_run(g, in).at("Y");
    ASSERT_EQ(Y.shape, (std::vector<int64_t>{M, N}));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        float p = -0.0f;
        for (int64_t k = 0; k < K; ++k) {
          const float a = c.ta ? A[k * M + m] : A[m * K + k];
          const float bb = c.tb ? B[j * K + k] : B[k * N + j];
          p = std::fma(a, bb, p);
        }
        if (c.alpha != 1.0f) p = c.alpha * p;
        float want = p;
        if (!c.c.empty() && c.beta != 0.0f) {
          // Unidirectional broadcast of C to [M, N].
          float cv;
          if (c.c.size() == 2)
            cv = C[(c.c[0] == 1 ? 0 : m) * c.c[1] + (c.c[1] == 1 ? 0 : j)];
          else
            cv = C[c.c[0] == 1 ? 0 : j];
          want = std::fma(c.beta, cv, p);
        }
        ASSERT_TRUE(same_f32(Y.data[m * N + j], want))
            << "transA " << c.ta << " transB " << c.tb << " alpha " << c.alpha << " beta " << c.beta << " C "
            << shape_str(c.c) << " at " << m << "," << j << ": reference " << Y.data[m * N + j] << ", naive " << want;
      }
  }
}

// Data movement and reductions against hand-computed values.
TEST(ReferenceNumerics, DataMovementAndReductions) {
  const std::string yaml = R"(
inputs:
  - {name: x, shape: [2, 3]}
constants:
  - {name: sl_st, shape: [2], dtype: int64, values: [1, 2]}
  - {name: sl_en, shape: [2], dtype: int64, values: [-4, -4]}
  - {name: sl_ax, shape: [2], dtype: int64, values: [1, 0]}
  - {name: sl_sp, shape: [2], dtype: int64, values: [-1, -1]}
  - {name: idx, shape: [2, 2], dtype: int64, values: [2, -3, 0, 1]}
nodes:
  - {op: Transpose, inputs: [x], outputs: [t]}
  - {op: Slice, inputs: [x, sl_st, sl_en, sl_ax, sl_sp], outputs: [s]}
  - {op: Gather, inputs: [x, idx], outputs: [gth], attrs: {axis: 1}}
  - {op: Concat, inputs: [x, x], outputs: [cat], attrs: {axis: -2}}
  - {op: ReduceSum, inputs: [x], outputs: [rs], attrs: {keepdims: 0}}
  - {op: ReduceMax, inputs: [x], outputs: [rmax], attrs: {axes: [1]}}
  - {op: ReduceMean, inputs: [x], outputs: [rmean], attrs: {axes: [0], keepdims: 0}}
  - {op: Flatten, inputs: [x], outputs: [fl], attrs: {axis: 0}}
  - {op: Softmax, inputs: [x], outputs: [sm], attrs: {axis: 0}}
outputs: [t, s, gth, cat, rs, rmax, rmean, fl, sm]
)";
  const Graph g = load_yaml_string(yaml, "dm.yaml");
  // Finalizing again changes nothing (canonical nodes are not normalized twice).
  Graph g2 = g;
  finalize(g2);
  ASSERT_EQ(g2.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) EXPECT_EQ(g2.nodes[i].iattrs, g.nodes[i].iattrs) << g.nodes[i].name;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const auto out = reference_run(g, {{"x", HostTensor{{2, 3}, x}}});
  auto expect = [&](const char* name, std::vector<int64_t> shape, std::vector<float> data) {
    SCOPED_TRACE(name);
    EXPECT_EQ(out.at(name).shape, shape);
    EXPECT_EQ(out.at(name).data, data);
  };
  expect("t", {3, 2}, {1, 4, 2, 5, 3, 6});
  // cols (axis 1): start 1, end -4+3 = -1 (before the first), step -1: cols 1, 0;
  // rows (axis 0): start 2 clamped to 1, end -4+2 = -2 clamped to -1: rows 1, 0.
  expect("s", {2, 2}, {5, 4, 2, 1});
  expect("gth", {2, 2, 2}, {3, 1, 1, 2, 6, 4, 4, 5});
  expect("cat", {4, 3}, {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6});
  expect("rs", {}, {21});
  expect("rmax", {2, 1}, {3, 6});
  expect("rmean", {3}, {2.5f, 3.5f, 4.5f});
  expect("fl", {1, 6}, {1, 2, 3, 4, 5, 6});
  const auto& sm = out.at("sm");
  EXPECT_EQ(sm.shape, (std::vector<int64_t>{2, 3}));
  for (int j = 0; j < 3; ++j) {
    const float e0 = std::exp(x[j] - x[3 + j]), e1 = std::exp(0.0f);
    EXPECT_EQ(sm.data[j], e0 / (e0 + e1));
    EXPECT_EQ(sm.data[3 + j], e1 / (e0 + e1));
  }
}

// ---------------------------------------------------------------- YAML

TEST(YamlGraph, LoadsAndRuns) {
  const std::string yaml = R"(# an MLP layer
name: mlp
inputs:
  - {name: x, shape: [2, 4]}
constants:
  - {name: w, shape: [4, 3], fill: 0.5}
  - {name: b, shape: [3], values: [1, -2, 3]}
nodes:
  - {op: Gemm, name: fc, inputs: [x, w, b], outputs: [h], attrs: {alpha: 2.0}}
  - {op: Relu, inputs: [h], outputs: [y]}
outputs:
  - {name: y, shape: [2, 3]}
)";
  const std::string path = (test::scratch_dir() / "mlp.yaml").string();
  std::ofstream(path) << yaml;
  const Graph g = load_yaml_graph(path);
  EXPECT_EQ(g.source, path);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "fc");
  EXPECT_EQ(g.nodes[1].name, "Relu_1");
  EXPECT_EQ(g.nodes[0].attr("alpha"), 2.0f);
  EXPECT_EQ(g.nodes[0].iattr("transB"), 0);
  const auto out = reference_run(path, {{"x", HostTensor{{2, 4}, {1, 1, 1, 1, -1, -1, -1, -1}}}});
  // Row 0: 2*(4*0.5) + b = 4 + b; row 1: -4 + b, then Relu.
  EXPECT_EQ(out.at("y").data, (std::vector<float>{5, 2, 7, 0, 0, 0}));
  EXPECT_EQ(load_graph_file(path).nodes.size(), 2u);
}

TEST(YamlGraph, ErrorsNameTheLine) {
  struct Bad {
    const char* text;
    const char* msg;
  };
  const Bad bad[] = {
      {"inputs:\n  - {name: x, shape: [2]}\nnodes:\n  - {op: Relu, inputs: [nope], outputs: [y]}\noutputs: [y]\n",
       "bad.yaml:4: node 'Relu_0' (Relu): input 'nope' is not defined"},
      {"inputs:\n  - {name: x, shape: [2]}\nnodes:\n  - {op: Relu, inputs: [x], outputs: [y],\n     attrs: {alpha: 1}}\n"
       "outputs: [y]\n",
       "bad.yaml:5: node 'Relu_0' (Relu): unsupported attribute 'alpha'"},
      {"inputs:\n  - {name: x, shape: [2, 2]}\nnodes:\n  - {op: Transpose, inputs: [x], outputs: [y],\n"
       "     attrs: {perm: 1.5}}\noutputs: [y]\n",
       "bad.yaml:5: node 'Transpose_0' (Transpose): attribute 'perm' must be a list of integers"},
      {"inputs:\n  - {name: x, shape: [2], colour: red}\noutputs: [x]\n", "bad.yaml:2: input: unknown key 'colour'"},
      {"inputs:\n  - {name: x, shape: [2]}\nconstants:\n  - {name: c, shape: [3], values: [1, 2]}\noutputs: [x]\n",
       "bad.yaml:4: constant 'c': 2 values, shape [3] needs 3"},
      {"inputs:\n  - {name: x, shape: [2]}\nnodes:\n  - {op: LSTM, inputs: [x], outputs: [y]}\n",
       "bad.yaml:4: node 'LSTM_0' (LSTM): unsupported operator"},
      {"inputs: [\n", "bad.yaml:2: YAML syntax error"},
      {"inputs:\n  - {name: x, shape: [0]}\noutputs: [x]\n", "bad.yaml:2: input 'x' shape [0] has a dimension of size 0"},
  };
  for (const Bad& b : bad) EXPECT_THAT(error_of([&] { load_yaml_string(b.text, "bad.yaml"); }), HasSubstr(b.msg));
}

// The examples and README snippet stay loadable.
// compiler/README.md's example graph: its nodes, input and output as written, and its
// result on the CPU reference against values computed by hand from the YAML's constants.
TEST(YamlGraph, ReadmeExample) {
  const std::string path = std::string(OPENRDU_SOURCE_DIR) + "/compiler/tests/data/mlp.yaml";
  const Graph g = load_yaml_graph(path);
  std::vector<std::string> ops;
  for (const Node& n : g.nodes) ops.push_back(n.op);
  EXPECT_THAT(ops, ::testing::ElementsAre("MatMul", "Add", "Relu", "Gemm", "Reshape", "Softmax"));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.inputs[0]].name, "x");
  EXPECT_EQ(g.tensors[g.inputs[0]].shape, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensors[g.outputs[0]].name, "y");
  EXPECT_EQ(g.tensors[g.outputs[0]].shape, (std::vector<int64_t>{2, 2}));
  // x = rows e0 and e1 pick w1's rows: relu(w1[0] + 0.125) = [0.625, 0, 2.125] gives
  // z = [1.6875, 1.96875]; relu(w1[1] + 0.125) = [1.125, 0.375, 0] gives z = [0.75, 0.46875];
  // each row's softmax is then 1 / (1 + exp(-+0.28125)).
  const HostTensor x{{2, 4}, {1, 0, 0, 0, 0, 1, 0, 0}};
  const auto out = reference_run(g, {{"x", x}});
  ASSERT_TRUE(out.count("y"));
  const double lo = 1 / (1 + std::exp(0.28125)), hi = 1 / (1 + std::exp(-0.28125));
  const std::vector<double> want = {lo, hi, hi, lo};
  ASSERT_EQ(out.at("y").data.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out.at("y").data[i], want[i], 1e-6) << "element " << i;
}

}  // namespace
}  // namespace openrdu::compiler
