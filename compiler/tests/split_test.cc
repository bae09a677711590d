// Streaming sections cut into parallel parts (lower_split.cc): read back from the
// bitstream, the parts' store streams write every output element exactly once, each
// from the same input element as the uncut section does, and the program gives the
// CPU reference's result bit for bit on the functional model.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "bitstream_walk.h"
#include "lower.h"
#include "model_run.h"
#include "openrdu/compiler/ir.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using test::run_on_model;
using test::stream_addresses;
using test::trace_back;

// Per enabled store stream of a section: (output address, address loaded by input `v`
// of the chain that produced it), following PCU-to-PCU links through input 0.
struct SectionWalk {
  std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (stored address, loaded address), all parts
  uint32_t pcus = 0;                                 // enabled PCUs
  uint32_t stores = 0;                               // enabled store streams
  uint32_t loads = 0;                                // enabled load streams
};

SectionWalk walk_section(const arch::Config& cfg, const pef::Section& sec) {
  const auto units = arch::parse_bitstream(cfg, sec.bitstream);
  SectionWalk w;
  for (uint32_t r = 0; r < cfg.rows; ++r)
    for (uint32_t c = 0; c < cfg.cols; ++c)
      if (cfg.slot_is_pcu(r, c) && arch::PcuConfig::decode(cfg, units[cfg.slot_id(r, c)]).enable) ++w.pcus;
  for (uint32_t k = 0; k < cfg.agcu; ++k) {
    const auto ag = arch::AgcuConfig::decode(units[cfg.agcu_id(k)]);
    w.loads += uint32_t(ag.ld[0].enable) + uint32_t(ag.ld[1].enable);
    if (!ag.st.enable) continue;
    ++w.stores;
    auto [unit, port] = trace_back(cfg, units, cfg.rows, k, arch::kLocal0);
    // Back through the PCUs (input 0) to the AGCU load stream.
    for (int guard = 0; cfg.unit_kind(unit) == arch::UnitKind::Pcu && guard < 64; ++guard) {
      const uint32_t r = unit / cfg.cols, c = unit % cfg.cols;
      std::tie(unit, port) = trace_back(cfg, units, r, c, arch::kLocal0);
    }
    EXPECT_EQ(cfg.unit_kind(unit), arch::UnitKind::Agcu) << sec.name;
    if (cfg.unit_kind(unit) != arch::UnitKind::Agcu) continue;
    const auto src = arch::AgcuConfig::decode(units[unit]);
    const auto st = stream_addresses(ag.st, cfg.lanes);
    const auto ld = stream_addresses(src.ld[port], cfg.lanes);
    EXPECT_EQ(st.size(), ld.size()) << sec.name << ": store on agcu" << k;
    for (size_t i = 0; i < std::min(st.size(), ld.size()); ++i) w.pairs.emplace_back(st[i], ld[i]);
  }
  return w;
}

struct Case {
  const char* what;
  const char* yaml;
  int opt_level = 0;
};

const Case kCases[] = {
    {"broadcast add, ragged rows",
     "opset: 13\ninputs:\n  - {name: a, shape: [37, 50]}\n  - {name: b, shape: [50]}\n"
     "nodes:\n  - {op: Add, name: add, inputs: [a, b], outputs: [y]}\noutputs:\n  - y\n"},
    {"relu, one flat dimension with a tail",
     "opset: 13\ninputs:\n  - {name: a, shape: [3, 5, 7, 9]}\n"
     "nodes:\n  - {op: Relu, name: relu, inputs: [a], outputs: [y]}\noutputs:\n  - y\n"},
    {"mul, both operands broadcast",
     "opset: 13\ninputs:\n  - {name: a, shape: [8, 1, 12]}\n  - {name: b, shape: [1, 5, 12]}\n"
     "nodes:\n  - {op: Mul, name: mul, inputs: [a, b], outputs: [y]}\noutputs:\n  - y\n"},
    {"slice with a negative step (gather load)",
     "opset: 13\ninputs:\n  - {name: a, shape: [9, 26]}\nconstants:\n"
     "  - {name: st, shape: [2], dtype: int64, values: [1, -1]}\n"
     "  - {name: en, shape: [2], dtype: int64, values: [9, -27]}\n"
     "  - {name: ax, shape: [2], dtype: int64, values: [0, 1]}\n"
     "  - {name: sp, shape: [2], dtype: int64, values: [1, -2]}\n"
     "nodes:\n  - {op: Slice, name: sl, inputs: [a, st, en, ax, sp], outputs: [y]}\noutputs:\n  - y\n"},
    {"transpose (gather load)",
     "opset: 13\ninputs:\n  - {name: a, shape: [6, 10, 3]}\n"
     "nodes:\n  - {op: Transpose, name: tr, inputs: [a], outputs: [y], attrs: {perm: [2, 0, 1]}}\noutputs:\n  - y\n"},
    {"bias over channels (the operand's walk differs from the store's: cut in vector order)",
     "opset: 13\ninputs:\n  - {name: a, shape: [2, 8, 6, 10]}\n  - {name: b, shape: [8, 1, 1]}\n"
     "nodes:\n  - {op: Add, name: add, inputs: [a, b], outputs: [y]}\noutputs:\n  - y\n"},
    {"identity copy",
     "opset: 13\ninputs:\n  - {name: a, shape: [40, 33]}\n"
     "nodes:\n  - {op: Identity, name: cp, inputs: [a], outputs: [y]}\noutputs:\n  - y\n"},
    {"pipelined chain at O3 (PCUs chained in each part)",
     "opset: 13\ninputs:\n  - {name: a, shape: [20, 30]}\n  - {name: b, shape: [20, 30]}\n"
     "nodes:\n  - {op: Add, name: n1, inputs: [a, b], outputs: [t1]}\n"
     "  - {op: Mul, name: n2, inputs: [t1, a], outputs: [t2]}\n"
     "  - {op: Sub, name: n3, inputs: [t2, b], outputs: [t3]}\n"
     "  - {op: Relu, name: n4, inputs: [t3], outputs: [t4]}\n"
     "  - {op: Add, name: n5, inputs: [t4, a], outputs: [t5]}\n"
     "  - {op: Mul, name: n6, inputs: [t5, b], outputs: [t6]}\n"
     "  - {op: Neg, name: n7, inputs: [t6], outputs: [t7]}\n"
     "  - {op: Abs, name: n8, inputs: [t7], outputs: [t8]}\n"
     "  - {op: Sub, name: n9, inputs: [t8, a], outputs: [y]}\noutputs:\n  - y\n",
     3},
};

std::map<std::string, HostTensor> inputs_of(const Graph& g) {
  std::map<std::string, HostTensor> in;
  int seed = 1;
  for (int t : g.inputs) {
    HostTensor h;
    h.shape = g.tensors[t].shape;
    h.data.resize(size_t(g.tensors[t].elements()));
    for (size_t i = 0; i < h.data.size(); ++i) h.data[i] = float(int((i * 37 + size_t(seed) * 11) % 23) - 11) * 0.375f;
    in[g.tensors[t].name] = std::move(h);
    ++seed;
  }
  return in;
}

void expect_bits(const HostTensor& got, const HostTensor& want, const std::string& what) {
  ASSERT_EQ(got.shape, want.shape) << what;
  for (size_t k = 0; k < want.data.size(); ++k)
    ASSERT_EQ(std::bit_cast<uint32_t>(got.data[k]), std::bit_cast<uint32_t>(want.data[k]))
        << what << " element " << k << ": " << got.data[k] << " vs reference " << want.data[k];
}

TEST(StreamSplit, PartsWriteEachOutputOnceFromTheSameInputs) {
  for (const char* cfg_name : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfg_name);
    for (const Case& c : kCases) {
      const Graph g = load_yaml_string(c.yaml, "split.yaml");
      const auto in = inputs_of(g);
      const auto want = reference_run(g, in);
      Options one;  // the uncut sections
      one.opt_level = c.opt_level;
      one.stream_parts = 1;
      const pef::Pef base = compile_graph(g, cfg, one);
      std::vector<SectionWalk> w1;
      for (const auto& sec : base.sections) {
        w1.push_back(walk_section(cfg, sec));
        ASSERT_EQ(w1.back().stores, 1u) << c.what;
        std::sort(w1.back().pairs.begin(), w1.back().pairs.end());
      }
      if (c.opt_level == 3 && cfg.name == "small") EXPECT_GE(w1[0].pcus, 2u) << c.what << ": no pipeline";
      for (int parts : {0, 2, 3, 4}) {
        SCOPED_TRACE(fmt::format("{} on {}, stream_parts {}", c.what, cfg_name, parts));
        Options o = one;
        o.stream_parts = parts;
        const pef::Pef pef = compile_graph(g, cfg, o);
        ASSERT_EQ(pef.sections.size(), base.sections.size());
        for (size_t i = 0; i < pef.sections.size(); ++i) {
          SectionWalk w = walk_section(cfg, pef.sections[i]);
          const uint32_t per_part = w1[i].pcus;
          // small has the AGCUs, PCUs and switches for these; 3-4 parts of a two-input
          // section would need 6-8 load nets out of the AGCU row, which has 5 links up:
          // those stay uncut (checked below).
          if (parts >= 2 && cfg.name == "small" && (parts == 2 || w1[i].loads == 1)) {
            EXPECT_EQ(w.stores, uint32_t(parts));
          }
          EXPECT_EQ(w.pcus, w.stores * per_part);
          // Every output address once, each from the input address the uncut section reads.
          std::sort(w.pairs.begin(), w.pairs.end());
          EXPECT_EQ(w.pairs, w1[i].pairs);
          // Never slower by the estimate than the uncut section when chosen automatically.
          if (parts == 0) EXPECT_LE(pef.sections[i].est_cycles, base.sections[i].est_cycles);
        }
        const auto got = run_on_model(cfg, pef, in);
        for (const auto& [name, t] : want) expect_bits(got.at(name), t, name);
      }
    }
  }
}

// A transpose through a PMU (transposed mode, one LANES x LANES tile each) cut into
// parts at tile boundaries: each part its own PMU with its share of the tiles, its own
// PCU, load and store; bit-exact on the model. On small a transpose already moves a
// load and a store request per cycle over its two memory ports, so the estimate keeps
// it whole; plasticine's four ports make the cut pay. A batched transpose, whose load
// and store walks merge different dimensions, is cut in the vector order.
TEST(StreamSplit, TransposeThroughPmuCutAtTiles) {
  struct TCase {
    const char* cfg;
    std::vector<int64_t> shape, perm;
    bool cuttable;
    uint32_t most_parts = 4;
  };
  // [3, 32, 48]: the load walks (6 x 3 x 16 vectors), the store (3 x 2 x 48): groups of
  // lcm(48, 96) = 96 of the 288 vectors, so at most 3 parts.
  const TCase cases[] = {{"small", {64, 96}, {1, 0}, true},
                         {"small", {3, 32, 48}, {0, 2, 1}, true, 3},
                         {"tiny", {12, 20}, {1, 0}, true},
                         {"small", {512, 512}, {1, 0}, true},
                         {"plasticine", {512, 512}, {1, 0}, true}};
  for (const TCase& tc : cases) {
    const arch::Config cfg = arch::load_config(tc.cfg);
    const std::string yaml = fmt::format(
        "opset: 13\ninputs:\n  - {{name: a, shape: [{}]}}\nnodes:\n  - {{op: Transpose, name: tr, inputs: [a], "
        "outputs: [y], attrs: {{perm: [{}]}}}}\noutputs:\n  - y\n",
        fmt::join(tc.shape, ", "), fmt::join(tc.perm, ", "));
    const Graph g = load_yaml_string(yaml, "tr.yaml");
    const auto in = inputs_of(g);
    const auto want = reference_run(g, in);
    int64_t elements = 1;
    for (int64_t d : tc.shape) elements *= d;
    const uint64_t tiles = uint64_t(elements) / (cfg.lanes * cfg.lanes);
    Options one;
    one.stream_parts = 1;
    const pef::Pef base = compile_graph(g, cfg, one);
    ASSERT_EQ(base.sections.size(), 1u);
    for (int parts : {0, 1, 2, 3, 4}) {
      SCOPED_TRACE(fmt::format("transpose {} on {}, stream_parts {}", yaml, tc.cfg, parts));
      Options o;
      o.stream_parts = parts;
      const pef::Pef pef = compile_graph(g, cfg, o);
      ASSERT_EQ(pef.sections.size(), 1u);
      const auto units = arch::parse_bitstream(cfg, pef.sections[0].bitstream);
      uint32_t pmus = 0, pcus = 0, stores = 0;
      uint64_t pmu_tiles = 0;
      for (uint32_t r = 0; r < cfg.rows; ++r)
        for (uint32_t c = 0; c < cfg.cols; ++c) {
          const uint32_t id = cfg.slot_id(r, c);
          if (cfg.slot_is_pcu(r, c)) {
            pcus += arch::PcuConfig::decode(cfg, units[id]).enable;
          } else {
            const auto pm = arch::PmuConfig::decode(units[id]);
            if (!pm.enable) continue;
            ++pmus;
            EXPECT_EQ(pm.mode, 2) << "transposed mode";
            pmu_tiles += pm.num_tiles();
          }
        }
      for (uint32_t k = 0; k < cfg.agcu; ++k) stores += arch::AgcuConfig::decode(units[cfg.agcu_id(k)]).st.enable;
      EXPECT_EQ(pmus, stores) << "one PMU per part";
      EXPECT_EQ(pcus, stores) << "one PCU per part";
      EXPECT_EQ(pmu_tiles, tiles) << "the parts' tiles add up";
      if (parts >= 2 && cfg.name != "tiny")
        EXPECT_EQ(stores, !tc.cuttable ? 1u : uint32_t(parts) <= tc.most_parts ? uint32_t(parts) : 1u);
      if (parts >= 2 && cfg.name == "tiny") EXPECT_EQ(stores, parts == 2 ? 2u : 1u);  // 2 AGCUs, 2 PMUs: at most 2
      if (parts == 1) EXPECT_EQ(stores, 1u);
      if (parts == 0) EXPECT_LE(pef.sections[0].est_cycles, base.sections[0].est_cycles);
      if (parts == 0 && tc.shape[0] == 512) {
        if (cfg.name == "plasticine")
          EXPECT_GE(stores, 2u) << "estimate " << pef.sections[0].est_cycles << " vs " << base.sections[0].est_cycles;
        else
          EXPECT_EQ(stores, 1u) << "small's two ports already carry a request each per cycle";
      }
      const auto got = run_on_model(cfg, pef, in);
      for (const auto& [name, t] : want) expect_bits(got.at(name), t, name);
    }
  }
}

// Long streams on small (two memory ports, one request per cycle each). A Relu uncut:
// the placer puts its load and store on AGCUs of different ports, so it already runs
// at one vector per cycle and stays uncut. An Add uncut has three streams over two
// ports (one port carries two); cut in two parts, the six streams spread over four
// AGCUs, 1.5 requests per vector per port.
TEST(StreamSplit, LongStreamUsesBothMemoryPortsOnSmall) {
  const arch::Config cfg = arch::load_config("small");
  const uint64_t vectors = 256 * 512 / cfg.lanes;
  Options one;
  one.stream_parts = 1;
  {
    const Graph g = load_yaml_string(
        "opset: 13\ninputs:\n  - {name: a, shape: [256, 512]}\n"
        "nodes:\n  - {op: Relu, name: relu, inputs: [a], outputs: [y]}\noutputs:\n  - y\n",
        "relu.yaml");
    const pef::Pef p1 = compile_graph(g, cfg, one);
    const auto units = arch::parse_bitstream(cfg, p1.sections[0].bitstream);
    int ld = -1, st = -1;
    for (uint32_t k = 0; k < cfg.agcu; ++k) {
      const auto ag = arch::AgcuConfig::decode(units[cfg.agcu_id(k)]);
      if (ag.ld[0].enable || ag.ld[1].enable) ld = int(k);
      if (ag.st.enable) st = int(k);
    }
    ASSERT_GE(ld, 0);
    ASSERT_GE(st, 0);
    EXPECT_NE(ld % int(cfg.dram_channels), st % int(cfg.dram_channels));
    EXPECT_LT(p1.sections[0].est_cycles, vectors + vectors / 16);
    // Automatic: no part count beats it, so the section stays as it is.
    EXPECT_EQ(compile_graph(g, cfg, {}).sections[0].bitstream, p1.sections[0].bitstream);
  }
  const Graph g = load_yaml_string(
      "opset: 13\ninputs:\n  - {name: a, shape: [256, 512]}\n  - {name: b, shape: [256, 512]}\n"
      "nodes:\n  - {op: Add, name: add, inputs: [a, b], outputs: [y]}\noutputs:\n  - y\n",
      "add.yaml");
  const pef::Pef p1 = compile_graph(g, cfg, one);
  const pef::Pef pa = compile_graph(g, cfg, {});
  EXPECT_GE(p1.sections[0].est_cycles, 2 * vectors);
  EXPECT_LT(pa.sections[0].est_cycles, 3 * vectors / 2 + vectors / 16);
  EXPECT_GE(walk_section(cfg, pa.sections[0]).stores, 2u);
  // Ports: the store streams sit on AGCUs of both ports (k mod 2).
  const auto units = arch::parse_bitstream(cfg, pa.sections[0].bitstream);
  std::set<uint32_t> ports;
  for (uint32_t k = 0; k < cfg.agcu; ++k)
    if (arch::AgcuConfig::decode(units[cfg.agcu_id(k)]).st.enable) ports.insert(k % cfg.dram_channels);
  EXPECT_EQ(ports.size(), 2u);
}

// A short stream (8 vectors) shares one AGCU for its load and store: another AGCU's
// configuration words would cost more than the requests it takes off the port.
TEST(StreamSplit, ShortStreamSharesAnAgcu) {
  const arch::Config cfg = arch::load_config("small");
  const Graph g = load_yaml_string(
      "opset: 13\ninputs:\n  - {name: a, shape: [8, 16]}\n"
      "nodes:\n  - {op: Relu, name: relu, inputs: [a], outputs: [y]}\noutputs:\n  - y\n",
      "short.yaml");
  const pef::Pef p = compile_graph(g, cfg, {});
  const auto units = arch::parse_bitstream(cfg, p.sections[0].bitstream);
  int agcus = 0;
  for (uint32_t k = 0; k < cfg.agcu; ++k) {
    const auto ag = arch::AgcuConfig::decode(units[cfg.agcu_id(k)]);
    agcus += ag.ld[0].enable || ag.ld[1].enable || ag.st.enable;
  }
  EXPECT_EQ(agcus, 1);
  EXPECT_EQ(walk_section(cfg, p.sections[0]).stores, 1u);
}

TEST(StreamSplit, RejectsNegativeParts) {
  const Graph g = load_yaml_string(kCases[0].yaml, "split.yaml");
  Options o;
  o.stream_parts = -1;
  try {
    compile_graph(g, arch::load_config("tiny"), o);
    FAIL() << "no error";
  } catch (const CompileError& e) {
    EXPECT_NE(std::string(e.what()).find("stream parts -1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace openrdu::compiler
