// The group pass's use of fusion modules (group.cc module_sections), the heuristics and
// O1HD files (openrdu/compiler/heuristic.h): fused sections bit-exact against the CPU
// reference on the functional model, fewer sections than -O0, parameters applied, errors.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <fstream>
#include <random>

#include "model_run.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/heuristic.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {
namespace {

using ::testing::HasSubstr;

std::string example(const std::string& name) { return std::string(OPENRDU_EXAMPLES_DIR) + "/" + name + "/model.onnx"; }

// Uniform inputs in [-1, 1), seeded.
std::map<std::string, HostTensor> random_inputs(const Graph& g) {
  std::mt19937 rng(20);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::map<std::string, HostTensor> in;
  for (int i : g.inputs) {
    HostTensor t;
    t.shape = g.tensors[size_t(i)].shape;
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    for (int64_t k = 0; k < n; ++k) t.data.push_back(u(rng));
    in[g.tensors[size_t(i)].name] = std::move(t);
  }
  return in;
}

void expect_bits_equal(const std::map<std::string, HostTensor>& got, const std::map<std::string, HostTensor>& want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (const auto& [name, w] : want) {
    const auto& g = got.at(name).data;
    ASSERT_EQ(g.size(), w.data.size()) << what << " " << name;
    size_t diff = 0;
    for (size_t i = 0; i < g.size(); ++i) diff += std::bit_cast<uint32_t>(g[i]) != std::bit_cast<uint32_t>(w.data[i]);
    EXPECT_EQ(diff, 0u) << what << " " << name << ": elements differing from the reference";
  }
}

pef::Pef compile_at(const Graph& g, const arch::Config& cfg, int level, const std::string& hd = "",
                    const std::string& heuristic = "") {
  Options o;
  o.opt_level = level;
  o.hd_file = hd;
  o.heuristic = heuristic;
  return compile_graph(g, cfg, o);
}

bool has_section_with(const pef::Pef& p, const std::string& part) {
  for (const auto& s : p.sections)
    if (s.name.find(part) != std::string::npos) return true;
  return false;
}

uint64_t total_estimate(const pef::Pef& p) {
  uint64_t t = 0;
  for (const auto& s : p.sections) t += s.est_cycles;
  return t;
}

// The transformer encoder block: the GELU's and LayerNorms' sequences and the softmax's
// run as multi-PCU sections at -O1 and -O3, bit-exact with the reference on tiny and small.
TEST(FusedSections, TransformerBitExactAndFused) {
  const Graph g = import_onnx_file(example("transformer"));
  const auto in = random_inputs(g);
  const auto want = reference_run(g, in);
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    const pef::Pef o0 = compile_at(g, cfg, 0);
    for (int level : {1, 3}) {
      const pef::Pef p = compile_at(g, cfg, level);
      const std::string what = fmt::format("{} -O{}", cfgname, level);
      expect_bits_equal(test::run_on_model(cfg, p, in), want, what);
      // small's 8 PCUs hold long pipelines; tiny's few PCUs still save sections.
      EXPECT_LT(p.sections.size() * (cfg.num_pcu() >= 8 ? 2 : 1), o0.sections.size()) << what;
      EXPECT_LT(total_estimate(p), total_estimate(o0)) << what;
      EXPECT_TRUE(has_section_with(p, "/act/Erf.m7|/act/Erf.m8")) << what;  // the GELU's erf pipelined
    }
  }
}

// The transformer's products at -O1 on small (bit-exactness: the test above): q, k and v
// read one transposeA of their common input, the scores product reads q's heads as the
// head Transpose writes them (transposed again: no transposeA of its own), the context
// product reads its probabilities transposed through a PMU (one n-tile), the scores'
// scale by a constant runs after the batched scores product in its section, one PCU.
TEST(FusedSections, TransformerProductsShareAndFuse) {
  const Graph g = import_onnx_file(example("transformer"));
  const arch::Config cfg = arch::load_config("small");
  const pef::Pef o0 = compile_at(g, cfg, 0), o1 = compile_at(g, cfg, 1);
  EXPECT_TRUE(has_section_with(o0, "/k/MatMul.transposeA"));
  EXPECT_TRUE(has_section_with(o1, "/q/MatMul.transposeA"));
  EXPECT_FALSE(has_section_with(o1, "/k/MatMul.transposeA"));
  EXPECT_FALSE(has_section_with(o1, "/v/MatMul.transposeA"));
  EXPECT_FALSE(has_section_with(o0, "/MatMul_1.transposeA"));
  EXPECT_TRUE(has_section_with(o1, "/MatMul_1.transposeA"));
  auto named = [](const pef::Pef& p, const std::string& name) {
    return std::any_of(p.sections.begin(), p.sections.end(), [&](const auto& s) { return s.name == name; });
  };
  EXPECT_TRUE(named(o0, "/MatMul.transposeA"));
  EXPECT_FALSE(named(o1, "/MatMul.transposeA"));
  EXPECT_TRUE(named(o1, "/Transpose"));
  EXPECT_TRUE(has_section_with(o1, "/MatMul+/Div"));
  EXPECT_FALSE(has_section_with(o1, "/Div.m1"));  // -O0's Div: 11 segments
  EXPECT_TRUE(has_section_with(o0, "/Div.m10"));
}

// -O3's whole-schedule merges on small (bit-exactness: TransformerBitExactAndFused): a
// section whose next one reads its result in its store order runs with it, the result
// streamed PCU to PCU (the context product's transposed probabilities, a LayerNorm's row
// sum into its scale); independent sections move up to an earlier one and share it, PMUs
// included, across modules (q's head Transpose with the k product, the k and v head
// Transposes). -O1 keeps to one module's consecutive sections without PMUs.
TEST(FusedSections, O3PipesAndMergesAcrossTheSchedule) {
  const Graph g = import_onnx_file(example("transformer"));
  const arch::Config cfg = arch::load_config("small");
  const pef::Pef o1 = compile_at(g, cfg, 1), o3 = compile_at(g, cfg, 3);
  auto named = [](const pef::Pef& p, const std::string& name) {
    return std::any_of(p.sections.begin(), p.sections.end(), [&](const auto& s) { return s.name == name; });
  };
  EXPECT_TRUE(named(o3, "/MatMul_1.transposeA>/MatMul_1"));
  EXPECT_TRUE(named(o3, "/Softmax.sum.rowsT>/Softmax.sum.cols"));
  for (const char* ln : {"/norm1", "/norm2"})
    EXPECT_TRUE(named(o3, fmt::format("{0}/LayerNormalization.mean.rowsT>{0}/LayerNormalization.mean.cols>{0}/"
                                      "LayerNormalization.mean.scale",
                                      ln)));
  EXPECT_TRUE(named(o3, "/Transpose&/k/MatMul+/k/Add"));
  EXPECT_TRUE(named(o1, "/MatMul_1.transposeA"));
  EXPECT_TRUE(named(o1, "/Softmax.sum.rowsT"));
  for (const auto& s : o1.sections) EXPECT_EQ(s.name.find('>'), std::string::npos) << s.name;
  EXPECT_LE(o3.sections.size() + 10, o1.sections.size());
  EXPECT_LT(total_estimate(o3), total_estimate(o1));
}

// The MLP's input [4, 64] (2 n-tiles of fc1, on 2 of small's 4 AGCUs): gathered once by the
// product at -O1, not transposed by a section of its own first as at -O0.
TEST(FusedSections, MlpGathersItsInputInTheProduct) {
  const Graph g = import_onnx_file(example("mlp"));
  const arch::Config cfg = arch::load_config("small");
  EXPECT_TRUE(has_section_with(compile_at(g, cfg, 0), "/fc1/Gemm.transposeA"));
  const pef::Pef o1 = compile_at(g, cfg, 1);
  EXPECT_FALSE(has_section_with(o1, "/fc1/Gemm.transposeA"));
  EXPECT_EQ(o1.sections.size(), 2u);
}

// The attention (causal mask: Where) and the MLP and CNN examples stay bit-exact fused.
TEST(FusedSections, ExamplesBitExact) {
  const arch::Config cfg = arch::load_config("small");
  for (const char* ex : {"attention", "mlp", "cnn"}) {
    const Graph g = import_onnx_file(example(ex));
    const auto in = random_inputs(g);
    const auto want = reference_run(g, in);
    for (int level : {1, 3}) expect_bits_equal(test::run_on_model(cfg, compile_at(g, cfg, level), in), want,
                                                fmt::format("{} -O{}", ex, level));
  }
}

std::string write_hd(const std::string& text) {
  const std::string path = ::testing::TempDir() + "fusion_hd.yaml";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const Graph& g, int level, const std::string& hd_text, const std::string& heuristic = "") {
  try {
    compile_at(g, arch::load_config("small"), level, hd_text.empty() ? "" : write_hd(hd_text), heuristic);
  } catch (const CompileError& e) {
    return e.what();
  }
  return "";
}

// O1HD: parameters that do not fit, unknown modules, fields and cuts are errors naming
// the file, line, module and field; so is an unknown --heuristic.
TEST(FusionHd, ErrorsNameFileModuleAndField) {
  const Graph g = import_onnx_file(example("transformer"));
  const std::string f = ::testing::TempDir() + "fusion_hd.yaml";
  EXPECT_EQ(error_of(g, 1, "mlp_block:\n  pcus: 99\n"),
            f + ":2: module 'mlp_block': field 'pcus': 99 does not fit: configuration 'small' has 8 PCUs (allowed 1..8)");
  EXPECT_EQ(error_of(g, 1, "module 3:\n  stream_parts: 9\n"),
            f + ":2: module 'module 3': field 'stream_parts': 9 does not fit: parts of a streaming section, one AGCU "
                "each; configuration 'small' has 4 (allowed 0..4)");
  EXPECT_THAT(error_of(g, 1, "mlp_blok:\n  pcus: 2\n"), HasSubstr(f + ":1: module 'mlp_blok': names no matched module"));
  EXPECT_THAT(error_of(g, 1, "mlp_block:\n  pcu: 2\n"), HasSubstr(f + ":2: module 'mlp_block': unknown field 'pcu'"));
  EXPECT_EQ(error_of(g, 1, "mlp_block:\n  pcus: two\n"), f + ":2: module 'mlp_block': field 'pcus': 'two' is not an integer");
  EXPECT_EQ(error_of(g, 1, "mlp_block:\n  cuts: [/act/Erff]\n"),
            f + ":2: module 'mlp_block': field 'cuts': '/act/Erff' is not a node of the module");
  EXPECT_EQ(error_of(g, 1, "mlp_block:\n  heuristic: FAST\n"),
            f + ":2: module 'mlp_block': field 'heuristic': heuristic 'FAST' is not one of default, GEMM, MHA");
  EXPECT_EQ(error_of(g, 3, "", "FAST"), "--heuristic: heuristic 'FAST' is not one of default, GEMM, MHA");
  EXPECT_THAT(error_of(g, 0, "", "MHA"), HasSubstr("need -O1 or -O3"));
}

// The parameters reach the sections: pcus 1 leaves the GELU unpipelined, a cut ends a
// section at the erf, and the result stays bit-exact.
TEST(FusionHd, ParametersAreApplied) {
  const Graph g = import_onnx_file(example("transformer"));
  const arch::Config cfg = arch::load_config("small");
  const auto in = random_inputs(g);
  const auto want = reference_run(g, in);
  const pef::Pef base = compile_at(g, cfg, 1);
  const pef::Pef one = compile_at(g, cfg, 1, write_hd("mlp_block:\n  pcus: 1\n"));
  EXPECT_GT(one.sections.size(), base.sections.size());
  EXPECT_FALSE(has_section_with(one, "/act/Erf.m7|"));
  expect_bits_equal(test::run_on_model(cfg, one, in), want, "pcus 1");
  EXPECT_TRUE(has_section_with(base, "/act/Erf.m15+/act/Add|"));  // the erf's end and the GELU's Add, Muls
  const pef::Pef cut = compile_at(g, cfg, 1, write_hd("module 6:\n  cuts: [/act/Erf]\n"));
  EXPECT_FALSE(has_section_with(cut, "/act/Erf.m15+/act/Add|"));
  expect_bits_equal(test::run_on_model(cfg, cut, in), want, "cut");
}

// --heuristic default at -O1 keeps the softmax's row max in its own section; MHA (the
// attention rule's) sends it over the scalar network.
TEST(FusionHeuristic, MhaFusesTheRowMaxAtO1) {
  const Graph g = import_onnx_file(example("transformer"));
  const arch::Config cfg = arch::load_config("small");
  EXPECT_TRUE(has_section_with(compile_at(g, cfg, 1), "/Softmax.max|/Softmax.shift"));
  EXPECT_FALSE(has_section_with(compile_at(g, cfg, 1, "", "default"), "/Softmax.max|"));
  ASSERT_NE(find_heuristic("GEMM"), nullptr);
  EXPECT_EQ(find_heuristic("gemm"), nullptr);
}

// GEMM (the linear and MLP rules' heuristic) maps each product for the least estimate plus
// configuration among its first 8 mappings; --heuristic default takes the estimate's first.
// On the MLP (2 products) and the transformer GEMM's sum of estimates and bitstream words
// (the configuration's size) is lower, and the result stays bit-exact.
TEST(FusionHeuristic, GemmMapsProductsWithTheirConfiguration) {
  const arch::Config cfg = arch::load_config("small");
  auto cost = [](const pef::Pef& p) {
    uint64_t c = 0;
    for (const auto& s : p.sections) c += s.est_cycles + s.bitstream.size();
    return c;
  };
  for (const char* ex : {"mlp", "transformer"}) {
    const Graph g = import_onnx_file(example(ex));
    const pef::Pef gemm = compile_at(g, cfg, 1, "", "GEMM"), def = compile_at(g, cfg, 1, "", "default");
    EXPECT_LT(cost(gemm), cost(def)) << ex;
    const auto in = random_inputs(g);
    expect_bits_equal(test::run_on_model(cfg, gemm, in), reference_run(g, in), ex);
  }
  EXPECT_EQ(error_of(import_onnx_file(example("mlp")), 1, "module 0:\n  matmul_candidates: 0\n"),
            ::testing::TempDir() + "fusion_hd.yaml:2: module 'module 0': field 'matmul_candidates': 0 does not fit: "
                                   "product mappings compared (allowed 1..64)");
}

}  // namespace
}  // namespace openrdu::compiler
