// The split MatMul mapping (several PCUs, overlapping m-parts, masked n-tiles, batches,
// transposed operands) compiled for tiny and run through runtime, driver and platform
// on the functional model and the RTL (Verilator): outputs equal to the CPU reference
// bit for bit, and the functional model's cycle estimate of each product section
// within 20% of the cycles the backend measured. Products with several m-tiles per
// PCU keep B tiles in PMUs (N-buffered, replayed for each m-tile).
#define ONNX_NODE_DATA ""  // test_util.h's node_dir() is not used here
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "openrdu/arch/bitstream.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/driver/device.h"
#include "openrdu/pef/pef.h"
#include "openrdu/runtime/session.h"
#include "test_util.h"

namespace openrdu {
namespace {

struct Case {
  std::vector<int64_t> a, b;
  bool ta, tb;
  int chain = 0;  // Options::matmul_chain
};

class MatMulSplitRtl : public ::testing::TestWithParam<std::string> {};

TEST_P(MatMulSplitRtl, MatchesReferenceAndEstimate) {
  const std::string backend = GetParam();
  const arch::Config cfg = arch::load_config("tiny");
  driver::DeviceOptions dopts;
  dopts.timeout_s = 120;
  auto dev = driver::open_device(backend, cfg, dopts);
  // tiny: 2 PCUs, 2 AGCUs, 4 lanes, 4 stages.
  const Case cases[] = {
      {{30, 7}, {7, 10}, false, false},     // M tail of 4-row tiles (overlapping m-parts), N tail
      {{13, 9}, {9, 37}, false, false},     // odd M, n-parts with a masked tile
      {{37, 1}, {1, 41}, false, false},     // K = 1
      {{3, 7, 5}, {5, 9}, false, false},    // batched A, shared B
      {{2, 11, 3}, {2, 3, 19}, false, false},  // batched both
      {{9, 23}, {29, 9}, true, true},       // Gemm transA, transB
      {{24, 16}, {16, 24}, false, false},   // even split, A transposed by its own section
      {{48, 20}, {20, 40}, false, false},   // B tiles in PMUs: 5 n-tiles per PMU, double-buffered
      {{3, 12, 6}, {3, 6, 10}, false, false},  // B tiles in PMUs across batches (a tile per batch and n-tile)
      // Drain chains forced (tiny's 4 lanes: 2 PCUs x 2 rows per tile, one store stream):
      {{24, 16}, {16, 24}, false, false, 2},   // B tiles in PMUs, A transposed first
      {{13, 9}, {9, 37}, false, false, 2},     // odd M (overlapping parts), masked n-tile, A gathered
      {{3, 12, 6}, {3, 6, 10}, false, false, 2},  // batches
      {{9, 23}, {29, 9}, true, true, 2},       // Gemm transA, transB
  };
  int splits = 0, pmus = 0, chained = 0;
  std::mt19937 rng(20261203u);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (const Case& c : cases) {
    const bool gemm = c.ta || c.tb;
    const std::string what = fmt::format("{} {} x {} on {}", gemm ? "Gemm" : "MatMul", compiler::shape_str(c.a),
                                         compiler::shape_str(c.b), backend);
    compiler::test::ModelBuilder mb;
    compiler::HostTensor A, B;
    A.shape = c.a;
    B.shape = c.b;
    for (int64_t i = 0, n = std::accumulate(c.a.begin(), c.a.end(), int64_t(1), std::multiplies<>()); i < n; ++i)
      A.data.push_back(i % 11 == 0 ? -0.0f : u(rng));
    for (int64_t i = 0, n = std::accumulate(c.b.begin(), c.b.end(), int64_t(1), std::multiplies<>()); i < n; ++i)
      B.data.push_back(u(rng));
    mb.input("a", c.a);
    mb.init("b", c.b, B.data);
    auto* n = mb.node(gemm ? "Gemm" : "MatMul", {"a", "b"}, {"y"}, "mm");
    for (auto [flag, name] : {std::pair{c.ta, "transA"}, {c.tb, "transB"}})
      if (flag) {
        auto* at = n->add_attribute();
        at->set_name(name);
        at->set_type(onnx::AttributeProto::INT);
        at->set_i(1);
      }
    mb.output("y");
    const compiler::Graph g = compiler::import_onnx_bytes(mb.bytes(), "mm.onnx");
    compiler::Options o;
    o.opt_level = 1;
    o.matmul_chain = c.chain;
    compiler::CompileStats st;
    const pef::Pef pef = compiler::compile_graph(g, cfg, o, &st);
    if (c.chain) {
      // The product's section: both PCUs, one forwarding the other's rows.
      bool found = false;
      for (const auto& sec : pef.sections) {
        const auto units = arch::parse_bitstream(cfg, sec.bitstream);
        int pcus = 0, forwarding = 0;
        for (uint32_t r = 0; r < cfg.rows; ++r)
          for (uint32_t col = 0; col < cfg.cols; ++col)
            if (cfg.slot_is_pcu(r, col)) {
              const auto pc = arch::PcuConfig::decode(cfg, units[cfg.slot_id(r, col)]);
              pcus += pc.enable;
              forwarding += pc.enable && pc.chained();
            }
        found = found || (pcus == 2 && forwarding == 1);
      }
      EXPECT_TRUE(found) << what << ": no section with a drain chain of 2 PCUs";
      chained += found;
    }
    runtime::Session session(*dev, cfg, runtime::SessionOptions{120});
    session.load(pef::parse(pef::serialize(pef), "mm"));
    const runtime::RunResult res = session.run({{"a", {A.shape, A.data}}});
    const auto ref = compiler::reference_run(g, {{"a", A}});
    const auto& y = res.outputs.at("y");
    const auto& want = ref.at("y");
    ASSERT_EQ(y.shape, want.shape) << what;
    for (size_t k = 0; k < want.data.size(); ++k)
      ASSERT_EQ(compiler::test::bits(y.data[k]), compiler::test::bits(want.data[k]))
          << what << ": element " << k << ": device " << y.data[k] << ", reference " << want.data[k];
    bool split = false;
    for (const auto& s : st.sections) split = split || s.units.find("st0 agcu") != std::string::npos;
    for (const auto& s : st.sections) pmus += s.units.find("pmu") != std::string::npos;
    for (const auto& s : res.sections) {
      const double est = double(pef.sections[s.index].est_cycles), got = double(s.cycles);
      std::printf("%s: section %zu (%s): %llu cycles, estimate %.0f\n", what.c_str(), s.index, s.name.c_str(),
                  (unsigned long long)s.cycles, est);
      EXPECT_LE(std::fabs(got - est), 0.2 * got) << what << ": section " << s.name;
    }
    splits += split;
  }
  EXPECT_GE(splits, 5) << "products split over both PCUs of tiny";
  EXPECT_GE(pmus, 3) << "products reading B tiles from PMUs";
  EXPECT_EQ(chained, 4) << "products on drain chains";
}

INSTANTIATE_TEST_SUITE_P(Backends, MatMulSplitRtl, ::testing::Values("func", "verilator"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace openrdu
