// End to end on the functional model: compile, run every section on model::Core the
// way the runtime does (tensors and bitstream in DRAM, configure, run), and compare
// the outputs with the CPU reference bit for bit (any NaN equals any NaN).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <unordered_map>

#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/model/core.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::ModelBuilder;
using test::run_on_model;

void expect_same(const std::map<std::string, HostTensor>& got, const std::map<std::string, HostTensor>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": output " << name << " missing";
    const HostTensor& g = got.at(name);
    ASSERT_EQ(g.shape, w.shape) << what << ": " << name;
    ASSERT_EQ(g.data.size(), w.data.size());
    for (size_t i = 0; i < w.data.size(); ++i)
      ASSERT_TRUE(test::same_f32(g.data[i], w.data[i]))
          << what << ": output " << name << " element " << i << ": model 0x" << std::hex << test::bits(g.data[i])
          << " (" << g.data[i] << "), reference 0x" << test::bits(w.data[i]) << " (" << w.data[i] << ")";
  }
}

TEST(OnModel, ConformanceModels) {
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    for (const char* test : {"test_add", "test_add_bcast", "test_sub", "test_mul", "test_relu", "test_max_example"}) {
      const std::string dir = test::node_dir(test);
      const Graph g = import_onnx_file(dir + "/model.onnx");
      std::map<std::string, HostTensor> in;
      for (size_t i = 0; i < g.inputs.size(); ++i)
        in[g.tensors[g.inputs[i]].name] = load_tensor_pb(dir + "/test_data_set_0/input_" + std::to_string(i) + ".pb");
      const pef::Pef pef = compile_graph(g, cfg);
      expect_same(run_on_model(cfg, pef, in), reference_run(g, in), std::string(cfgname) + " " + test);
      // And the expected output of the conformance suite.
      const HostTensor want = load_tensor_pb(dir + "/test_data_set_0/output_0.pb");
      expect_same(run_on_model(cfg, pef, in), {{g.tensors[g.outputs[0]].name, want}},
                  std::string(cfgname) + " " + test + " vs output_0.pb");
    }
  }
}

// Random values including the special cases the PCU must get right.
float random_value(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 19);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  switch (kind(rng)) {
    case 0:
      return std::numeric_limits<float>::quiet_NaN();
    case 1:
      return -0.0f;
    case 2:
      return 0.0f;
    case 3:
      return std::bit_cast<float>(uint32_t(rng()) & 0x807FFFFFu);  // subnormal
    case 4:
      return std::numeric_limits<float>::infinity() * (rng() & 1 ? 1.0f : -1.0f);
    case 5:
      return std::bit_cast<float>(0x7F000000u | (uint32_t(rng()) & 0x80FFFFFFu));  // huge: overflow
    default:
      return u(rng);
  }
}

HostTensor random_tensor(std::mt19937& rng, const std::vector<int64_t>& shape) {
  HostTensor t;
  t.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.data.push_back(random_value(rng));
  return t;
}

TEST(OnModel, RandomElementwiseGraphs) {
  const uint32_t s = test::seed(12345u);
  std::mt19937 rng(s);
  const arch::Config tiny = arch::load_config("tiny");
  const arch::Config small = arch::load_config("small");
  const char* ops[] = {"Add", "Sub", "Mul", "Max", "Min", "Relu", "Identity"};
  int pipelined = 0;
  for (int iter = 0; iter < 60; ++iter) {
    // Output shape of rank 1-3; inputs broadcast to it (dims kept or set to 1, leading dims dropped).
    std::vector<int64_t> out;
    const int rank = 1 + int(rng() % 3);
    for (int d = 0; d < rank; ++d) out.push_back(1 + int64_t(rng() % 7));
    auto bshape = [&] {
      std::vector<int64_t> sh = out;
      for (auto& d : sh)
        if (rng() % 3 == 0) d = 1;
      const size_t drop = rng() % (sh.size() + 1);
      sh.erase(sh.begin(), sh.begin() + (rng() % 2 ? drop : 0));
      return sh;
    };
    ModelBuilder b;
    std::map<std::string, HostTensor> in;
    std::vector<std::string> avail;
    const int ninputs = 1 + int(rng() % 3);
    for (int i = 0; i < ninputs; ++i) {
      const std::string name = fmt::format("in{}", i);
      const auto sh = i == 0 ? out : bshape();
      b.input(name, sh);
      in[name] = random_tensor(rng, sh);
      avail.push_back(name);
    }
    if (rng() % 2) {
      const auto sh = bshape();
      const HostTensor c = random_tensor(rng, sh);
      b.init("const0", sh, c.data);
      avail.push_back("const0");
    }
    const int nnodes = 1 + int(rng() % 7);
    std::string last = avail[0];
    for (int n = 0; n < nnodes; ++n) {
      const std::string op = ops[rng() % 7];
      const std::string y = fmt::format("t{}", n);
      const std::string other = avail[rng() % avail.size()];
      if (op == "Relu" || op == "Identity")
        b.node(op, {last}, {y}, fmt::format("n{}", n));
      else if ((op == "Max" || op == "Min") && rng() % 2)
        b.node(op, {last, other, avail[rng() % avail.size()]}, {y}, fmt::format("n{}", n));
      else
        b.node(op, {rng() % 2 ? last : other, rng() % 2 ? other : last}, {y}, fmt::format("n{}", n));
      avail.push_back(y);
      last = y;
    }
    b.output(last);
    if (rng() % 3 == 0 && last != "t0" && nnodes > 1) b.output("t0");
    const Graph g = import_onnx_bytes(b.bytes(), fmt::format("random{}", iter) + ".onnx");
    const auto want = reference_run(g, in);
    for (const arch::Config* cfg : {&tiny, &small})
      for (int level : {0, 1, 3}) {
        Options o;
        o.opt_level = level;
        const std::string what =
            fmt::format("seed {} iteration {} {} -O{} shape {}", s, iter, cfg->name, level, shape_str(out));
        pef::Pef pef;
        try {
          pef = compile_graph(g, *cfg, o);
        } catch (const CompileError& e) {
          FAIL() << what << ": " << e.what();
        }
        for (const auto& sec : pef.sections) pipelined += sec.name.find('|') != std::string::npos;
        expect_same(run_on_model(*cfg, pef, in), want, what);
      }
  }
  std::printf("%d multi-PCU sections\n", pipelined);
  EXPECT_GT(pipelined, 0) << "the random graphs never exercised O3 pipelines";
}

TEST(OnModel, ElementwiseExample) {
  const std::string dir = std::string(OPENRDU_EXAMPLES_DIR) + "/elementwise";
  const Graph g = import_onnx_file(dir + "/model.onnx");
  std::map<std::string, HostTensor> in;
  for (int i : g.inputs) in[g.tensors[i].name] = test::load_npy(dir + "/inputs/" + g.tensors[i].name + ".npy");
  const auto want = reference_run(g, in);
  // The reference agrees with NumPy's output, computed when the example was generated.
  expect_same(want, {{"y", test::load_npy(dir + "/expected/y.npy")}}, "reference vs expected/y.npy");
  for (const char* cfgname : {"tiny", "small"})
    for (int level : {0, 1, 3}) {
      const arch::Config cfg = arch::load_config(cfgname);
      Options o;
      o.opt_level = level;
      const pef::Pef pef = compile_graph(g, cfg, o);
      expect_same(run_on_model(cfg, pef, in), want, fmt::format("{} -O{}", cfgname, level));
    }
}

}  // namespace
}  // namespace openrdu::compiler
