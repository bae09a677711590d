// End to end: ONNX node tests from the ONNX conformance suite, compiled for `tiny`,
// run on the functional model and on the Verilated RTL through the platform, driver
// and runtime, compared with the suite's expected outputs (test_data_set_0).
//
// Tolerance: rtol 0, atol 0. Every operator here (Add, Sub, Mul, Relu, Max) is a single
// correctly rounded IEEE-754 binary32 operation per element, as in NumPy's float32
// reference, so the results must be equal (-0 and +0 count as equal; NaN must match NaN).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/session.h"

namespace openrdu {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string model;
  std::string backend;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " on " << c.backend; }

class E2E : public ::testing::TestWithParam<Case> {};

TEST_P(E2E, MatchesOnnxExpected) {
  const auto& [model, backend] = GetParam();
  const fs::path dir = fs::path(OPENRDU_ONNX_TESTDATA) / model;
  ASSERT_TRUE(fs::exists(dir / "model.onnx")) << dir;
  const arch::Config cfg = arch::load_config("tiny");
  const pef::Pef pef = compiler::compile_onnx_file((dir / "model.onnx").string(), cfg);
  // Through the container too: the runtime runs what a file would hold.
  const pef::Pef loaded = pef::parse(pef::serialize(pef), model);

  std::map<std::string, runtime::HostTensor> inputs;
  for (int i = 0; fs::exists(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto t = compiler::load_tensor_pb((dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")).string(), &name);
    inputs[name] = {t.shape, t.data};
  }
  ASSERT_FALSE(inputs.empty());

  driver::DeviceOptions opts;
  opts.timeout_s = 60;
  auto dev = driver::open_device(backend, cfg, opts);
  runtime::Session session(*dev, cfg, runtime::SessionOptions{60});
  session.load(loaded);
  const runtime::RunResult res = session.run(inputs);
  ASSERT_EQ(res.sections.size(), loaded.sections.size());
  for (const auto& s : res.sections) {
    std::printf("  section %zu (%s): %llu cycles, configuration %llu cycles\n", s.index, s.name.c_str(),
                (unsigned long long)s.cycles, (unsigned long long)s.config_cycles);
    EXPECT_GT(s.cycles, 0u) << "section " << s.index;
  }

  int checked = 0;
  for (int i = 0; fs::exists(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto want = compiler::load_tensor_pb((dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")).string(), &name);
    auto it = res.outputs.find(name);
    ASSERT_NE(it, res.outputs.end()) << "no output named '" << name << "'";
    const auto& got = it->second;
    ASSERT_EQ(got.shape, want.shape) << name;
    ASSERT_EQ(got.data.size(), want.data.size()) << name;
    double max_abs = 0;
    size_t worst = 0;
    for (size_t k = 0; k < want.data.size(); ++k) {
      const float a = got.data[k], b = want.data[k];
      if (std::isnan(a) && std::isnan(b)) continue;
      const double err = std::isnan(a) || std::isnan(b) ? INFINITY : std::fabs(double(a) - double(b));
      if (err > max_abs) max_abs = err, worst = k;
    }
    EXPECT_LE(max_abs, 0.0) << model << " on " << backend << ": output '" << name << "' element " << worst
                            << ": device " << got.data[worst] << ", expected " << want.data[worst];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// A bitstream damaged after compilation (the PEF's own CRCs recomputed, so only the
// device can notice): the configuration controller must reject it and the runtime must
// report the error code by name, on both backends.
class E2EErrors : public ::testing::TestWithParam<std::string> {};

TEST_P(E2EErrors, BadBitstreamCrcReported) {
  const std::string backend = GetParam();
  const fs::path dir = fs::path(OPENRDU_ONNX_TESTDATA) / "test_add";
  const arch::Config cfg = arch::load_config("tiny");
  pef::Pef pef = compiler::compile_onnx_file((dir / "model.onnx").string(), cfg);
  ASSERT_FALSE(pef.sections.empty());
  pef.sections[0].bitstream.back() ^= 1u;  // the bitstream's CRC word
  pef = pef::parse(pef::serialize(pef), "damaged");
  std::map<std::string, runtime::HostTensor> inputs;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Input) inputs[t.name] = {t.shape, std::vector<float>(t.elements(), 1.0f)};
  auto dev = driver::open_device(backend, cfg, {});
  runtime::Session session(*dev, cfg, runtime::SessionOptions{60});
  session.load(pef);
  try {
    session.run(inputs);
    ADD_FAILURE() << "a bitstream with a bad CRC was accepted on " << backend;
  } catch (const runtime::RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("section 0 (" + pef.sections[0].name + ")"), std::string::npos) << m;
    EXPECT_NE(m.find("BAD_CRC"), std::string::npos) << m;
    std::printf("  reported: %s\n", m.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, E2EErrors, ::testing::Values("func", "verilator"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The example MLP (examples/mlp: Flatten -> Gemm -> Relu -> Gemm, exported from
// PyTorch): compiled for tiny at -O1, run through runtime, driver and platform on each
// backend; equal to the compiler's CPU reference bit for bit and to PyTorch's output
// within rtol 1e-4, atol 1e-5 (PyTorch sums in another order). Also a MatMul with
// batch broadcasting and a Transpose (gather loads) against the CPU reference.
class E2EMatMul : public ::testing::TestWithParam<std::string> {};

void expect_bits(const runtime::HostTensor& got, const compiler::HostTensor& want, const std::string& what) {
  ASSERT_EQ(got.shape, want.shape) << what;
  ASSERT_EQ(got.data.size(), want.data.size()) << what;
  for (size_t k = 0; k < want.data.size(); ++k) {
    const float a = got.data[k], b = want.data[k];
    if (std::isnan(a) && std::isnan(b)) continue;
    uint32_t ua, ub;
    std::memcpy(&ua, &a, 4);
    std::memcpy(&ub, &b, 4);
    ASSERT_EQ(ua, ub) << what << " element " << k << ": device " << a << ", reference " << b;
  }
}

// One device per process (one SystemC platform): open it once per test.
std::unique_ptr<driver::Device> open_tiny(const std::string& backend, const arch::Config& cfg) {
  driver::DeviceOptions opts;
  opts.timeout_s = 120;
  return driver::open_device(backend, cfg, opts);
}

runtime::RunResult run_pef(driver::Device& dev, const std::string& backend, const arch::Config& cfg,
                           const pef::Pef& pef, const std::map<std::string, runtime::HostTensor>& inputs) {
  runtime::Session session(dev, cfg, runtime::SessionOptions{120});
  session.load(pef::parse(pef::serialize(pef), "e2e"));
  runtime::RunResult res = session.run(inputs);
  uint64_t total = 0;
  for (const auto& s : res.sections) {
    std::printf("  section %zu (%s): %llu cycles (estimate %llu)\n", s.index, s.name.c_str(),
                (unsigned long long)s.cycles, (unsigned long long)pef.sections[s.index].est_cycles);
    total += s.cycles;
  }
  std::printf("  total %llu cycles on %s\n", (unsigned long long)total, backend.c_str());
  return res;
}

// An example of examples/ (model.onnx, inputs/x.npy, expected/y.npy from PyTorch)
// compiled for tiny at -O1 and run on `backend`: equal to the CPU reference bit for bit
// and to PyTorch within rtol 1e-4, atol 1e-5 (PyTorch sums in another order). `ops`: node
// types the model must hold (so the example tests what it is meant to).
void check_example(const std::string& example, const std::string& backend, std::initializer_list<const char*> ops) {
  const fs::path dir = fs::path(OPENRDU_EXAMPLES_DIR) / example;
  const arch::Config cfg = arch::load_config("tiny");
  const compiler::Graph g = compiler::import_onnx_file((dir / "model.onnx").string());
  std::set<std::string> have;
  for (const auto& n : g.nodes) have.insert(n.op);
  for (const char* op : ops) EXPECT_TRUE(have.count(op)) << "examples/" << example << "/model.onnx has no " << op;
  compiler::Options o;
  o.opt_level = 1;
  const pef::Pef pef = compiler::compile_graph(g, cfg, o);
  const runtime::HostTensor x = runtime::read_npy((dir / "inputs" / "x.npy").string());
  const runtime::HostTensor want = runtime::read_npy((dir / "expected" / "y.npy").string());
  auto dev = open_tiny(backend, cfg);
  const auto res = run_pef(*dev, backend, cfg, pef, {{"x", x}});
  const auto ref = compiler::reference_run(g, {{"x", {x.shape, x.data}}});
  const auto& y = res.outputs.at("y");
  expect_bits(y, ref.at("y"), example + " on " + backend + " vs CPU reference");
  ASSERT_EQ(y.shape, want.shape);
  for (size_t k = 0; k < want.data.size(); ++k)
    EXPECT_LE(std::fabs(y.data[k] - want.data[k]), 1e-5 + 1e-4 * std::fabs(want.data[k]))
        << example << " element " << k << ": device " << y.data[k] << ", PyTorch " << want.data[k];
}

// The inputs of an ONNX node test's first data set, by name.
std::map<std::string, compiler::HostTensor> node_test_inputs(const fs::path& d) {
  std::map<std::string, compiler::HostTensor> cin;
  for (int i = 0; fs::exists(d / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto t = compiler::load_tensor_pb((d / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")).string(), &name);
    cin[name] = t;
  }
  return cin;
}

// Compile g for tiny with `o`, run it on dev, expect every output equal to the CPU
// reference bit for bit (int64 outputs value for value). Graph inputs of int64 and bool
// type go to the runtime as such (int64 narrowed to the device's int32 words).
void check_graph(driver::Device& dev, const std::string& backend, const compiler::Graph& g,
                 const std::map<std::string, compiler::HostTensor>& cin, const std::string& what,
                 const compiler::Options& o = {}) {
  const arch::Config cfg = arch::load_config("tiny");
  std::map<std::string, runtime::HostTensor> inputs;
  for (const auto& [name, t] : cin) {
    const int ti = g.find(name);
    const compiler::DType dt = ti >= 0 ? g.tensors[size_t(ti)].dtype : compiler::DType::F32;
    inputs[name] = dt == compiler::DType::I64    ? runtime::HostTensor{t.shape, {}, pef::DType::I64, t.idata}
                   : dt == compiler::DType::BOOL ? runtime::HostTensor{t.shape, t.data, pef::DType::BOOL, {}}
                                                 : runtime::HostTensor{t.shape, t.data};
  }
  const auto res = run_pef(dev, backend, cfg, compiler::compile_graph(g, cfg, o), inputs);
  const auto ref = compiler::reference_run(g, cin);
  for (const auto& [name, want] : ref) {
    EXPECT_EQ(res.outputs.at(name).idata, want.idata) << what << " " << name;
    expect_bits(res.outputs.at(name), want, what + " " + name);
  }
}

// An ONNX node test's model with its graph inputs at parameter positions (TopK's K,
// Expand's shape, Tile's repeats, Trilu's k, Split's sizes: OpInfo::param_from) bound to
// the first data set's values as initializers; `inputs` gets that set's other inputs.
compiler::Graph bound_node_test(const fs::path& d, std::map<std::string, compiler::HostTensor>& inputs) {
  onnx::ModelProto m;
  std::ifstream f(d / "model.onnx", std::ios::binary);
  if (!m.ParseFromIstream(&f)) throw std::runtime_error(d.string() + ": model.onnx unreadable");
  std::set<std::string> params;
  for (const auto& n : m.graph().node())
    if (const compiler::OpInfo* info = compiler::find_op(n.op_type()))
      for (int k = info->param_from; k < n.input_size(); ++k) params.insert(n.input(k));
  inputs.clear();
  for (int i = 0; fs::exists(d / "test_data_set_0" / fmt::format("input_{}.pb", i)); ++i) {
    const fs::path pb = d / "test_data_set_0" / fmt::format("input_{}.pb", i);
    std::string name;
    compiler::HostTensor t = compiler::load_tensor_pb(pb.string(), &name);
    if (!params.count(name)) {
      inputs[name] = std::move(t);
      continue;
    }
    onnx::TensorProto tp;
    std::ifstream tf(pb, std::ios::binary);
    if (!tp.ParseFromIstream(&tf)) throw std::runtime_error(pb.string() + " unreadable");
    *m.mutable_graph()->add_initializer() = tp;
    auto* gin = m.mutable_graph()->mutable_input();
    for (int k = 0; k < gin->size(); ++k)
      if (gin->Get(k).name() == name) gin->DeleteSubrange(k--, 1);
  }
  return compiler::import_onnx_bytes(m.SerializeAsString(), (d / "model.onnx").string());
}

// An ONNX node test of libonnx-testdata (its first data set) through check_graph.
void check_node_test(driver::Device& dev, const std::string& backend, const std::string& model,
                     const compiler::Options& o = {}) {
  const fs::path d = fs::path(OPENRDU_ONNX_TESTDATA) / model;
  ASSERT_TRUE(fs::exists(d / "model.onnx")) << d;
  check_graph(dev, backend, compiler::import_onnx_file((d / "model.onnx").string()), node_test_inputs(d), model, o);
}

// The example MLP (examples/mlp: Flatten -> Gemm -> Relu -> Gemm, exported from PyTorch).
TEST_P(E2EMatMul, MlpMatchesPyTorchAndReference) { check_example("mlp", GetParam(), {"Gemm", "Relu"}); }

// The example CNN (examples/cnn: Conv 3x3 pad 1 -> BatchNormalization -> Relu ->
// MaxPool 2 -> Conv 3x3 -> Relu -> GlobalAveragePool -> Flatten -> Gemm, exported from
// PyTorch): the CNN operators lowered as their compositions (decompose.h).
TEST_P(E2EMatMul, CnnMatchesPyTorchAndReference) {
  check_example("cnn", GetParam(), {"Conv", "BatchNormalization", "MaxPool", "GlobalAveragePool"});
}

// The example causal self-attention block (examples/attention: q, k, v projections, two
// heads, scores masked by torch.triu + masked_fill(-inf) -> Trilu (folded to a constant),
// Cast, Where; Softmax, output projection; exported from PyTorch).
TEST_P(E2EMatMul, CausalAttentionMatchesPyTorchAndReference) {
  check_example("attention", GetParam(), {"Where", "Softmax", "MatMul", "Transpose"});
}

TEST_P(E2EMatMul, BatchedMatMulAndTransposeMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  for (const char* model : {"test_matmul_3d", "test_transpose_all_permutations_3"}) {
    check_node_test(*dev, backend, model);
  }
}

// Reductions and data movement (ONNX node tests of ReduceMean, ReduceMax, ReduceMin and
// Concat; YAML graphs with constant parameters for ReduceSum, Slice and Gather), compiled
// for tiny at -O1, equal to the CPU reference bit for bit.
TEST_P(E2EMatMul, ReductionsAndMovementMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  compiler::Options o;
  o.opt_level = 1;
  for (const char* model : {"test_reduce_mean_do_not_keepdims_random", "test_reduce_max_negative_axes_keepdims_random",
                            "test_reduce_min_default_axes_keepdims_random", "test_concat_3d_axis_1",
                            "test_softmax_axis_1", "test_logsoftmax_axis_1"}) {
    check_node_test(*dev, backend, model, o);
  }
  // The node tests of ReduceSum, Slice and Gather take their parameters as int64 graph
  // inputs: YAML graphs with constant parameters instead (x: [5, 6]).
  compiler::HostTensor x{{5, 6}, {}};
  for (int k = 0; k < 30; ++k) x.data.push_back(float(k) * 0.75f - 7.0f + (k % 3 ? 0.0f : 1e-3f));
  const char* yamls[] = {
      // ReduceSum over the inner axis (one lane per row; 6 elements, LANES 4: a tail).
      "opset: 13\ninputs:\n  - {name: x, shape: [5, 6]}\nconstants:\n"
      "  - {name: a, shape: [1], dtype: int64, values: [-1]}\n"
      "nodes:\n  - {op: ReduceSum, name: rsum, inputs: [x, a], outputs: [y], attrs: {keepdims: 1}}\noutputs:\n  - y\n",
      // ReduceMax over rows of 6 (contiguous loads, lane mask for the tail, reduce tree).
      "opset: 13\ninputs:\n  - {name: x, shape: [5, 6]}\n"
      "nodes:\n  - {op: ReduceMax, name: rmax, inputs: [x], outputs: [y], attrs: {axes: [1], keepdims: 0}}\n"
      "outputs:\n  - y\n",
      // Slice with a negative step on the inner axis (gather with lane stride -2).
      "opset: 13\ninputs:\n  - {name: x, shape: [5, 6]}\nconstants:\n"
      "  - {name: st, shape: [2], dtype: int64, values: [1, -1]}\n"
      "  - {name: en, shape: [2], dtype: int64, values: [5, -7]}\n"
      "  - {name: ax, shape: [2], dtype: int64, values: [0, 1]}\n"
      "  - {name: sp, shape: [2], dtype: int64, values: [2, -2]}\n"
      "nodes:\n  - {op: Slice, name: sl, inputs: [x, st, en, ax, sp], outputs: [y]}\noutputs:\n  - y\n",
      // Gather rows with constant indices (three runs: 4,2,0 / 1,4 / 3).
      "opset: 13\ninputs:\n  - {name: x, shape: [5, 6]}\nconstants:\n"
      "  - {name: i, shape: [2, 3], dtype: int64, values: [4, 2, 0, 1, -1, 3]}\n"
      "nodes:\n  - {op: Gather, name: emb, inputs: [x, i], outputs: [y], attrs: {axis: 0}}\noutputs:\n  - y\n"};
  for (const char* y : yamls) check_graph(*dev, backend, compiler::load_yaml_string(y, "e2e.yaml"), {{"x", x}}, y, o);
}

// Softmax and LogSoftmax over the last axis at -O3 (ONNX node tests): the row max runs
// in the shift's section and reaches it over the scalar network (sout -> sin, simm; no
// more sections than without the scalar fusion, one fewer on the ragged cases below);
// equal to the CPU reference bit for bit
// (the node suite checks the reference against ONNX's outputs, rtol 1e-5).
TEST_P(E2EMatMul, SoftmaxScalarFusionMatchesReference) {
  const std::string backend = GetParam();
  const arch::Config cfg = arch::load_config("tiny");
  auto dev = open_tiny(backend, cfg);
  compiler::Options o, plain;
  o.opt_level = plain.opt_level = 3;
  plain.scalar_fusion = false;
  for (const char* model : {"test_softmax_axis_2", "test_logsoftmax_axis_2", "test_softmax_example",
                            "test_logsoftmax_example_1", "test_softmax_large_number", "test_logsoftmax_large_number",
                            "test_softmax_negative_axis", "test_softmax_default_axis"}) {
    SCOPED_TRACE(model);
    const fs::path d = fs::path(OPENRDU_ONNX_TESTDATA) / model;
    ASSERT_TRUE(fs::exists(d / "model.onnx")) << d;
    const compiler::Graph g = compiler::import_onnx_file((d / "model.onnx").string());
    const pef::Pef fused = compiler::compile_graph(g, cfg, o);
    // Never more sections; -O3's piped merges (docs/compiler.md, "Merged sections") may
    // join the unfused row max's neighbours as well, so not always one fewer.
    EXPECT_LE(fused.sections.size(), compiler::compile_graph(g, cfg, plain).sections.size());
    bool has_fused = false;
    for (const auto& sec : fused.sections) has_fused = has_fused || sec.name.find(".max|") != std::string::npos;
    EXPECT_TRUE(has_fused);
    check_graph(*dev, backend, g, node_test_inputs(d), model, o);
  }
  // Ragged rows (37 elements on 4 lanes), size-1 dimensions, a ReduceMin read by a Mul
  // as its first operand and also a graph output.
  const char* yamls[] = {
      "opset: 13\ninputs:\n  - {name: x, shape: [2, 3, 37]}\n"
      "nodes:\n  - {op: Softmax, name: sm, inputs: [x], outputs: [y], attrs: {axis: -1}}\noutputs:\n  - y\n",
      "opset: 13\ninputs:\n  - {name: x, shape: [1, 5, 1, 6]}\n"
      "nodes:\n  - {op: LogSoftmax, name: lsm, inputs: [x], outputs: [y], attrs: {axis: 3}}\noutputs:\n  - y\n",
      "opset: 13\ninputs:\n  - {name: x, shape: [4, 9]}\n"
      "nodes:\n  - {op: ReduceMin, name: rmin, inputs: [x], outputs: [m], attrs: {axes: [1], keepdims: 1}}\n"
      "  - {op: Mul, name: scale, inputs: [m, x], outputs: [y]}\noutputs:\n  - y\n  - m\n"};
  for (const char* y : yamls) {
    SCOPED_TRACE(y);
    const compiler::Graph g = compiler::load_yaml_string(y, "e2e.yaml");
    EXPECT_EQ(compiler::compile_graph(g, cfg, o).sections.size() + 1, compiler::compile_graph(g, cfg, plain).sections.size());
    const auto& shape = g.tensors[size_t(g.inputs.at(0))].shape;
    compiler::HostTensor x{shape, {}};
    int64_t n = 1;
    for (int64_t v : shape) n *= v;
    for (int64_t k = 0; k < n; ++k) x.data.push_back(float((k * 37) % 23) * 0.625f - 6.0f + (k % 5 ? 0.0f : 1e-3f));
    check_graph(*dev, backend, g, {{"x", x}}, y, o);
  }
}

// The CNN operators (decompose.h) through runtime, driver and platform: one ONNX node
// test per operator (Conv with strides and padding, MaxPool, AveragePool, inference
// BatchNormalization; 1-D MaxPool, 1-D ConvTranspose) and a
// LayerNormalization graph (its node tests add the optional
// Mean/InvStdDev outputs, which are not supported), equal to the CPU reference bit for
// bit (the node suite checks the reference against ONNX's outputs).
TEST_P(E2EMatMul, CnnOperatorsMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  compiler::Options o;
  o.opt_level = 1;
  for (const char* model : {"test_conv_with_strides_padding", "test_maxpool_2d_pads", "test_averagepool_2d_pads",
                            "test_batchnorm_example"}) {
    check_node_test(*dev, backend, model, o);
  }
  // 1-D windows and ConvTranspose (the 3-D node tests' 32^3 inputs are too slow for RTL).
  for (const char* model : {"test_maxpool_1d_default", "test_convtranspose_1d"}) {
    check_node_test(*dev, backend, model, o);
  }
  compiler::HostTensor x{{3, 8}, {}};
  for (int k = 0; k < 24; ++k) x.data.push_back(float((k * 7) % 11) * 0.37f - 1.5f);
  check_graph(*dev, backend, compiler::load_yaml_string(
                "opset: 17\ninputs:\n  - {name: x, shape: [3, 8]}\nconstants:\n"
                "  - {name: g, shape: [8], values: [1, 0.5, 2, -1, 1.5, 0.25, 1, 3]}\n"
                "  - {name: b, shape: [8], values: [0, 0.1, -0.2, 0.3, 0, 1, -1, 0.5]}\n"
                "nodes:\n  - {op: LayerNormalization, name: ln, inputs: [x, g, b], outputs: [y], "
                "attrs: {axis: -1, epsilon: 0.00001}}\noutputs:\n  - y\n",
                "ln.yaml"),
            {{"x", x}}, "LayerNormalization", o);
}

// The elementwise and reduction operators of issue 23 with fp32 or bool results (their
// node tests' first data set), and LayerNormalization's Mean and InvStdDev outputs, on
// tiny at -O1: equal to the CPU reference bit for bit (every output compared, none empty).
TEST_P(E2EMatMul, RoundingTestsAndReductionsMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  compiler::Options o;
  o.opt_level = 1;
  for (const char* model : {"test_round", "test_floor", "test_ceil", "test_sign", "test_isnan", "test_isinf",
                            "test_mod_mixed_sign_float32", "test_reduce_prod_default_axes_keepdims_random",
                            "test_reduce_l2_keep_dims_random", "test_reduce_log_sum_asc_axes",
                            "test_reduce_sum_square_default_axes_keepdims_random",
                            "test_layer_normalization_2d_axis0"}) {
    const fs::path d = fs::path(OPENRDU_ONNX_TESTDATA) / model;
    const auto ref = compiler::reference_run(compiler::import_onnx_file((d / "model.onnx").string()),
                                             node_test_inputs(d));
    for (const auto& [name, t] : ref) ASSERT_FALSE(t.data.empty()) << model << " " << name << " is not fp32 or bool";
    check_node_test(*dev, backend, model, o);
  }
}

// Operators with int64 outputs (ArgMax, ArgMin, TopK's indices: FTOI of positions),
// constant-shape inputs (Expand's shape, Tile's repeats), int64 values at run time (Mod
// by the PCU's integer operations, Where, Trilu), a 4-d broadcast (And, 4 address
// dimensions) and Split, on tiny at -O1: every output equal to the CPU reference (int64
// value for value, fp32 and bool bit for bit), and the reference's int64 outputs made;
// an int64 input beyond int32 is refused by the runtime's narrowing, naming the tensor.
TEST_P(E2EMatMul, IntOutputsShapeInputsAndSplitMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  compiler::Options o;
  o.opt_level = 1;
  int int_outputs = 0;
  for (const char* model :
       {"test_argmax_keepdims_random", "test_argmin_default_axis_example", "test_top_k", "test_expand_dim_changed",
        "test_tile_precomputed", "test_mod_mixed_sign_int64", "test_where_long_example", "test_triu_neg",
        "test_and_bcast4v4d", "test_split_variable_parts_2d"}) {
    std::map<std::string, compiler::HostTensor> inputs;
    const compiler::Graph g = bound_node_test(fs::path(OPENRDU_ONNX_TESTDATA) / model, inputs);
    for (const auto& [name, t] : compiler::reference_run(g, inputs)) int_outputs += !t.idata.empty();
    check_graph(*dev, backend, g, inputs, model, o);
  }
  EXPECT_EQ(int_outputs, 6) << "ArgMax, ArgMin, TopK's indices, Mod, Where and Trilu give int64 outputs";
  // An int64 operand beyond int32 is refused at run time, naming the tensor and element.
  std::map<std::string, compiler::HostTensor> inputs;
  const compiler::Graph g = bound_node_test(fs::path(OPENRDU_ONNX_TESTDATA) / "test_mod_mixed_sign_int64", inputs);
  const arch::Config cfg = arch::load_config("tiny");
  std::map<std::string, runtime::HostTensor> in;
  for (auto& [name, t] : inputs) in[name] = {t.shape, {}, pef::DType::I64, t.idata};
  in.at("x").idata.at(1) = int64_t(1) << 31;
  try {
    run_pef(*dev, backend, cfg, compiler::compile_graph(g, cfg, o), in);
    ADD_FAILURE() << "an int64 input of 2^31 was accepted";
  } catch (const runtime::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'x': element 1 is 2147483648, outside int32"), std::string::npos)
        << e.what();
  }
}

// Integer arithmetic and comparisons of run-time int64/int32 tensors and the argmax accuracy
// with run-time int64 labels (compiler/tests/data/int_ops, gen_int_ops.py: onnx.helper and
// a PyTorch export) and broadcasts over 5 and 6 dimensions (split into parts), on tiny at
// -O1: every output equal to the CPU reference (int64 value for value, fp32 and bool bit for
// bit); IntOps.* checks the reference against numpy/PyTorch.
TEST_P(E2EMatMul, IntArithmeticAndAccuracyMatchReference) {
  const std::string backend = GetParam();
  auto dev = open_tiny(backend, arch::load_config("tiny"));
  compiler::Options o;
  o.opt_level = 1;
  for (const char* model : {"accuracy_helper", "accuracy_torch", "int64_arith", "int32_compare", "broadcast5"}) {
    const fs::path d = fs::path(OPENRDU_INT_OPS_DATA) / model;
    std::map<std::string, compiler::HostTensor> inputs;
    for (int k = 0; fs::exists(d / fmt::format("in_{}.pb", k)); ++k) {
      std::string name;
      compiler::HostTensor t = compiler::load_tensor_pb((d / fmt::format("in_{}.pb", k)).string(), &name);
      inputs[name] = std::move(t);
    }
    ASSERT_FALSE(inputs.empty()) << d;
    check_graph(*dev, backend, compiler::import_onnx_file((d / "model.onnx").string()), inputs, model, o);
  }
}

// PCU special functions (compiler/src/lower_math.h): one graph with every function class
// (exp, log, reciprocal/div, sqrt, tanh, sigmoid, erf, Pow via exp(y*log x)) on special
// values (NaN, +-0, +-inf, subnormals) and ordinary ones, compiled for tiny at -O0 and
// -O3 (sequences split over several PCUs and sections), equal to the CPU reference (the
// same operation sequence) bit for bit.
TEST_P(E2EMatMul, MathFunctionsMatchReference) {
  const std::string backend = GetParam();
  const arch::Config cfg = arch::load_config("tiny");
  auto dev = open_tiny(backend, cfg);
  const compiler::Graph g = compiler::load_yaml_string(
      "opset: 13\ninputs:\n  - {name: x, shape: [16]}\n  - {name: b, shape: [16]}\n"
      "nodes:\n  - {op: Exp, name: e, inputs: [x], outputs: [y_exp]}\n"
      "  - {op: Log, name: l, inputs: [x], outputs: [y_log]}\n"
      "  - {op: Div, name: d, inputs: [x, b], outputs: [y_div]}\n"
      "  - {op: Sqrt, name: s, inputs: [x], outputs: [y_sqrt]}\n"
      "  - {op: Tanh, name: t, inputs: [x], outputs: [y_tanh]}\n"
      "  - {op: Sigmoid, name: g, inputs: [x], outputs: [y_sig]}\n"
      "  - {op: Erf, name: f, inputs: [x], outputs: [y_erf]}\n"
      "  - {op: Pow, name: p, inputs: [b, x], outputs: [y_pow]}\n"
      "outputs:\n  - y_exp\n  - y_log\n  - y_div\n  - y_sqrt\n  - y_tanh\n  - y_sig\n  - y_erf\n  - y_pow\n",
      "math.yaml");
  const float inf = std::numeric_limits<float>::infinity();
  compiler::HostTensor x{{16}, {std::numeric_limits<float>::quiet_NaN(), -0.0f, 0.0f, inf, -inf, 1e-40f, -1e-40f, 1.0f,
                                -2.0f, 0.5f, 3.7f, -7.1f, 88.5f, -100.0f, 1e30f, -0.3f}};
  compiler::HostTensor b{{16}, {2.0f, 3.0f, 0.0f, -0.0f, 1.5f, 7.0f, 0.25f, 3.0f, 1e-3f, 2.5f, 0.1f, 6.0f, 1.1f, 5.0f,
                                1e20f, 0.75f}};
  for (int level : {0, 3}) {
    compiler::Options o;
    o.opt_level = level;
    const pef::Pef pef = compiler::compile_graph(g, cfg, o);
    std::printf("  -O%d: %zu sections\n", level, pef.sections.size());
    const auto res = run_pef(*dev, backend, cfg, pef, {{"x", {x.shape, x.data}}, {"b", {b.shape, b.data}}});
    const auto ref = compiler::reference_run(g, {{"x", x}, {"b", b}});
    for (const auto& [name, want] : ref)
      expect_bits(res.outputs.at(name), want, fmt::format("{} -O{} on {}", name, level, backend));
  }
}

// Streaming sections cut in two parts (compiler/src/lower_split.cc; forced here, since
// on tiny's single memory port the estimate cuts only long latency-bound streams): each
// part its own PCU, load and store streams on the other AGCU; a ragged tail along the cut
// dimension, a gather copy, a transpose and a chain of several stages, equal to the CPU
// reference bit for bit.
TEST_P(E2EMatMul, SplitStreamingSectionsMatchReference) {
  const std::string backend = GetParam();
  const arch::Config cfg = arch::load_config("tiny");
  auto dev = open_tiny(backend, cfg);
  compiler::Options o;
  o.opt_level = 1;
  o.stream_parts = 2;
  compiler::HostTensor x{{9, 26}, {}};
  for (int k = 0; k < 9 * 26; ++k) x.data.push_back(float((k * 13) % 29) * 0.25f - 3.5f);
  const char* yamls[] = {
      "opset: 13\ninputs:\n  - {name: x, shape: [9, 26]}\n"
      "nodes:\n  - {op: Relu, name: relu, inputs: [x], outputs: [y]}\noutputs:\n  - y\n",
      "opset: 13\ninputs:\n  - {name: x, shape: [9, 26]}\nconstants:\n"
      "  - {name: st, shape: [2], dtype: int64, values: [1, -1]}\n"
      "  - {name: en, shape: [2], dtype: int64, values: [9, -27]}\n"
      "  - {name: ax, shape: [2], dtype: int64, values: [0, 1]}\n"
      "  - {name: sp, shape: [2], dtype: int64, values: [1, -2]}\n"
      "nodes:\n  - {op: Slice, name: sl, inputs: [x, st, en, ax, sp], outputs: [y]}\noutputs:\n  - y\n",
      "opset: 13\ninputs:\n  - {name: x, shape: [9, 26]}\n"
      "nodes:\n  - {op: Transpose, name: tr, inputs: [x], outputs: [y], attrs: {perm: [1, 0]}}\noutputs:\n  - y\n",
      "opset: 13\ninputs:\n  - {name: x, shape: [9, 26]}\n"
      "nodes:\n  - {op: Neg, name: n, inputs: [x], outputs: [t]}\n"
      "  - {op: Abs, name: a, inputs: [t], outputs: [u]}\n"
      "  - {op: Relu, name: r, inputs: [u], outputs: [y]}\noutputs:\n  - y\n"};
  for (const char* y : yamls) {
    const compiler::Graph g = compiler::load_yaml_string(y, "split.yaml");
    compiler::CompileStats st;
    compiler::compile_graph(g, cfg, o, &st);
    EXPECT_EQ(st.pcus, 2u * st.sections.size()) << y;
    check_graph(*dev, backend, g, {{"x", x}}, y, o);
  }
  // A transpose through a PMU (12 x 20, multiples of LANES): cut at tile boundaries,
  // each part its own PMU with its share of the 15 tiles.
  compiler::HostTensor x2{{12, 20}, {}};
  for (int k = 0; k < 12 * 20; ++k) x2.data.push_back(float((k * 7) % 31) * 0.5f - 6.0f);
  const char* tr =
      "opset: 13\ninputs:\n  - {name: x, shape: [12, 20]}\n"
      "nodes:\n  - {op: Transpose, name: tr, inputs: [x], outputs: [y], attrs: {perm: [1, 0]}}\noutputs:\n  - y\n";
  const compiler::Graph g2 = compiler::load_yaml_string(tr, "split_pmu.yaml");
  compiler::CompileStats st2;
  compiler::compile_graph(g2, cfg, o, &st2);
  EXPECT_EQ(st2.pcus, 2u) << "transpose through PMUs in 2 parts";
  check_graph(*dev, backend, g2, {{"x", x2}}, tr, o);
}

// Transposes whose two innermost output dimensions are multiples of LANES go through a
// PMU in transposed mode (one L x L block per tile, double-buffered): contiguous loads
// and stores instead of gathers; a ragged one keeps the gather. Equal to the CPU
// reference bit for bit.
TEST_P(E2EMatMul, TransposeThroughPmuMatchesReference) {
  const std::string backend = GetParam();
  const arch::Config cfg = arch::load_config("tiny");
  auto dev = open_tiny(backend, cfg);
  struct T {
    std::vector<int64_t> shape;
    const char* perm;
    bool pmu;
  };
  const T cases[] = {{{8, 12}, "[1, 0]", true}, {{3, 8, 4}, "[0, 2, 1]", true}, {{6, 10}, "[1, 0]", false}};
  for (const T& t : cases) {
    const std::string sh = fmt::format("[{}]", fmt::join(t.shape, ", "));
    const std::string y = "opset: 13\ninputs:\n  - {name: x, shape: " + sh +
                          "}\nnodes:\n  - {op: Transpose, name: tr, inputs: [x], outputs: [y], attrs: {perm: " + t.perm +
                          "}}\noutputs:\n  - y\n";
    const compiler::Graph g = compiler::load_yaml_string(y, "transpose.yaml");
    compiler::HostTensor x{t.shape, {}};
    for (int64_t k = 0, n = g.tensors[g.inputs[0]].elements(); k < n; ++k) x.data.push_back(float(k) * 0.5f - 3.0f);
    compiler::CompileStats st;
    compiler::compile_graph(g, cfg, {}, &st);
    ASSERT_EQ(st.sections.size(), 1u) << y;
    EXPECT_EQ(st.sections[0].units.find("pmu") != std::string::npos, t.pmu) << y << st.sections[0].units;
    check_graph(*dev, backend, g, {{"x", x}}, y);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, E2EMatMul, ::testing::Values("func", "verilator"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const char* backend : {"func", "verilator"})
    for (const char* m : {"test_add", "test_add_bcast", "test_sub", "test_mul", "test_relu", "test_max_example"})
      v.push_back({m, backend});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Onnx, E2E, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.model + "_" + info.param.backend;
                         });

}  // namespace
}  // namespace openrdu
