// Lowering: affine accesses, PCU programs, placement and routing, bitstreams, DRAM layout.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "lower.h"
#include "openrdu/compiler/ir.h"
#include "bitstream_walk.h"
#include "test_util.h"

namespace openrdu::compiler {
namespace {

using arch::Opcode;
using test::ModelBuilder;
using test::trace_back;
using ::testing::HasSubstr;

const auto error_of = test::compile_error_of;
using test::small;
using test::tiny;

TEST(Access, SameShapeCollapsesToOneDim) {
  const auto p = detail::plan_access({{3, 4, 5}, {3, 4, 5}}, {3, 4, 5}, "n");
  EXPECT_EQ(p.inner, 60u);
  EXPECT_EQ(p.c1, 1u);
  EXPECT_EQ(p.c2, 1u);
  for (const auto& a : {p.in[0], p.in[1], p.out}) EXPECT_FALSE(a.bcast);
  EXPECT_EQ(p.vectors(4), 15u);
  EXPECT_EQ(p.vectors(16), 4u);
}

TEST(Access, TrailingBroadcast) {
  // [3,4,5] + [5]: outer 12 rows of 5; y re-reads its 5 elements each row.
  const auto p = detail::plan_access({{3, 4, 5}, {5}}, {3, 4, 5}, "n");
  EXPECT_EQ(p.inner, 5u);
  EXPECT_EQ(p.c1, 12u);
  EXPECT_EQ(p.c2, 1u);
  EXPECT_FALSE(p.in[0].bcast);
  EXPECT_EQ(p.in[0].s1, 5);
  EXPECT_FALSE(p.in[1].bcast);
  EXPECT_EQ(p.in[1].s1, 0);
  EXPECT_EQ(p.out.s1, 5);
  EXPECT_EQ(p.vectors(4), 24u);
}

TEST(Access, InnerBroadcastAndThreeDims) {
  // [3,1] -> [2,3,4]: inner broadcast (stride 0), dim1 stride 1, dim2 stride 0.
  const auto p = detail::plan_access({{3, 1}, {2, 3, 4}}, {2, 3, 4}, "n");
  EXPECT_EQ(p.inner, 4u);
  EXPECT_EQ(p.c1, 3u);
  EXPECT_EQ(p.c2, 2u);
  EXPECT_TRUE(p.in[0].bcast);
  EXPECT_EQ(p.in[0].s1, 1);
  EXPECT_EQ(p.in[0].s2, 0);
  EXPECT_FALSE(p.in[1].bcast);
  EXPECT_EQ(p.in[1].s1, 4);
  EXPECT_EQ(p.in[1].s2, 12);
  EXPECT_EQ(p.out.s1, 4);
  EXPECT_EQ(p.out.s2, 12);
}

TEST(Access, ScalarAndSizeOneDims) {
  const auto p = detail::plan_access({{}, {1, 7, 1}}, {1, 7, 1}, "n");
  EXPECT_EQ(p.inner, 7u);
  EXPECT_EQ(p.c1 * p.c2, 1u);
  EXPECT_TRUE(p.in[0].bcast);
  EXPECT_FALSE(p.in[1].bcast);
  const auto s = detail::plan_access({{}}, {}, "n");
  EXPECT_EQ(s.inner, 1u);
  EXPECT_EQ(s.vectors(4), 1u);
}

// Four address dimensions use the stream's fourth count (c3, s3); five are an error.
TEST(Access, FourDimensionsFitFiveAreAnError) {
  const auto p = detail::plan_access({{2, 1, 2, 1}, {1, 2, 1, 2}}, {2, 2, 2, 2}, "node 'q' (Add)");
  EXPECT_EQ(p.c3, 2u);
  EXPECT_EQ(p.c2 * p.c1 * p.inner, 8u);
  EXPECT_EQ(p.in[0].s3, 2);
  EXPECT_EQ(p.in[1].s3, 0);
  EXPECT_EQ(p.out.s3, 8);
  EXPECT_EQ(p.elements(), 16u);
  EXPECT_THAT(error_of([] {
                detail::plan_access({{2, 1, 2, 1, 2}, {1, 2, 1, 2, 1}}, {2, 2, 2, 2, 2}, "node 'q' (Add)");
              }),
              HasSubstr("node 'q' (Add): the broadcast of [2,1,2,1,2] and [1,2,1,2,1] to [2,2,2,2,2] needs 5 "
                        "address dimensions, an AGCU stream has 4"));
  // A model's 5-d broadcast is split into parts (split_wide_broadcast) and compiles; one of
  // more than 64 parts stays the error naming the file and node.
  ModelBuilder b;
  b.input("a", {2, 1, 2, 1, 2});
  b.input("b", {1, 2, 1, 2, 1});
  b.node("Add", {"a", "b"}, {"y"}, "add5d");
  b.output("y");
  EXPECT_NO_THROW(compile_onnx_file(b.save("add5d.onnx"), tiny()));
  ModelBuilder w;
  w.input("a", {65, 1, 2, 1, 2});
  w.input("b", {1, 2, 1, 2, 1});
  w.node("Add", {"a", "b"}, {"y"}, "add65");
  w.output("y");
  const std::string path = w.save("add65.onnx");
  EXPECT_THAT(error_of([&] { compile_onnx_file(path, tiny()); }),
              HasSubstr(path + ": node 'add65' (Add): the broadcast"));
}

struct Found {
  uint32_t pcu_slot = ~0u;
  arch::PcuConfig pcu;
};

Found find_pcu(const arch::Config& cfg, const std::vector<std::vector<uint32_t>>& units) {
  Found f;
  for (uint32_t r = 0; r < cfg.rows; ++r)
    for (uint32_t c = 0; c < cfg.cols; ++c) {
      const uint32_t id = cfg.slot_id(r, c);
      if (!cfg.slot_is_pcu(r, c)) {
        EXPECT_EQ(units[id][0] & 1, 0u) << "PMU enabled";
        continue;
      }
      const auto pc = arch::PcuConfig::decode(cfg, units[id]);
      if (!pc.enable) continue;
      EXPECT_EQ(f.pcu_slot, ~0u) << "more than one PCU enabled";
      f.pcu_slot = id;
      f.pcu = pc;
    }
  return f;
}

// Check one compiled single-node section: opcodes, streams, routes.
void check_section(const arch::Config& cfg, const pef::Pef& pef, size_t sec, const std::vector<Opcode>& ops,
                   const std::vector<std::string>& inputs, const std::string& output, uint64_t vectors) {
  const auto units = arch::parse_bitstream(cfg, pef.sections.at(sec).bitstream);
  const Found f = find_pcu(cfg, units);
  ASSERT_NE(f.pcu_slot, ~0u);
  EXPECT_EQ(f.pcu.count, vectors);
  EXPECT_EQ(f.pcu.vin_mask, (1u << inputs.size()) - 1);
  for (size_t s = 0; s < cfg.stages; ++s)
    EXPECT_EQ(f.pcu.stages[s].op, s < ops.size() ? ops[s] : Opcode::NOP) << "stage " << s;
  auto tensor = [&](const std::string& n) {
    for (const auto& t : pef.tensors)
      if (t.name == n) return t;
    ADD_FAILURE() << "tensor " << n << " not in the PEF";
    return pef::Tensor{};
  };
  const uint32_t pr = f.pcu_slot / cfg.cols, pc = f.pcu_slot % cfg.cols;
  // Each PCU input traces back to an enabled AGCU load stream on its tensor.
  for (size_t v = 0; v < inputs.size(); ++v) {
    const auto [unit, port] = trace_back(cfg, units, pr, pc, arch::kLocal0 + uint32_t(v));
    ASSERT_EQ(cfg.unit_kind(unit), arch::UnitKind::Agcu) << "input " << v;
    const auto ag = arch::AgcuConfig::decode(units[unit]);
    const auto& ld = ag.ld[port];
    EXPECT_TRUE(ld.enable);
    EXPECT_EQ(ld.base, tensor(inputs[v]).dev_addr) << "input " << v;
    EXPECT_EQ(ld.vectors(), vectors);
  }
  // The store stream of some AGCU traces back to the PCU output.
  int stores = 0;
  for (uint32_t k = 0; k < cfg.agcu; ++k) {
    const auto ag = arch::AgcuConfig::decode(units[cfg.agcu_id(k)]);
    if (!ag.st.enable) continue;
    ++stores;
    EXPECT_EQ(ag.st.base, tensor(output).dev_addr);
    EXPECT_EQ(ag.st.lstride, 1);
    EXPECT_EQ(ag.st.vectors(), vectors);
    const auto [unit, port] = trace_back(cfg, units, cfg.rows, k, arch::kLocal0);
    EXPECT_EQ(unit, f.pcu_slot);
    EXPECT_EQ(port, 0);
  }
  EXPECT_EQ(stores, 1);
}

TEST(Lowering, ConformanceModelsOnTiny) {
  struct Case {
    const char* test;
    std::vector<Opcode> ops;
    std::vector<std::string> in;
    std::string out;
    uint64_t vectors;
  };
  const Case cases[] = {
      {"test_add", {Opcode::FADD}, {"x", "y"}, "sum", 15},
      {"test_add_bcast", {Opcode::FADD}, {"x", "y"}, "sum", 24},
      {"test_sub", {Opcode::FSUB}, {"x", "y"}, "z", 15},
      {"test_mul", {Opcode::FMUL}, {"x", "y"}, "z", 15},
      {"test_relu", {Opcode::FMAX}, {"x"}, "y", 15},
      {"test_max_example", {Opcode::FMAX, Opcode::FMAX}, {"data_0", "data_1", "data_2"}, "result", 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.test);
    Options one_part;  // the structure of one PCU per section (split_streaming has its own tests)
    one_part.stream_parts = 1;
    const pef::Pef pef = compile_onnx_file(test::node_dir(c.test) + "/model.onnx", tiny(), one_part);
    EXPECT_EQ(pef.config_name, "tiny");
    EXPECT_EQ(pef.fingerprint, tiny().fingerprint());
    ASSERT_EQ(pef.sections.size(), 1u);
    check_section(tiny(), pef, 0, c.ops, c.in, c.out, c.vectors);
  }
}

TEST(Lowering, StageProgramsAndImmediates) {
  Options one_part;
  one_part.stream_parts = 1;
  const pef::Pef relu = compile_onnx_file(test::node_dir("test_relu") + "/model.onnx", tiny(), one_part);
  auto units = arch::parse_bitstream(tiny(), relu.sections[0].bitstream);
  Found f = find_pcu(tiny(), units);
  EXPECT_EQ(f.pcu.stages[0].src_a, 0);
  EXPECT_EQ(f.pcu.stages[0].src_b, uint8_t(arch::Src::IMM));
  EXPECT_EQ(f.pcu.stages[0].imm, 0u);  // +0.0f
  EXPECT_EQ(f.pcu.out_reg, f.pcu.stages[0].dst);

  const pef::Pef mx = compile_onnx_file(test::node_dir("test_max_example") + "/model.onnx", tiny());
  units = arch::parse_bitstream(tiny(), mx.sections[0].bitstream);
  f = find_pcu(tiny(), units);
  // max(max(r0, r1), r2): stage 1 reads stage 0's result and register 2.
  EXPECT_EQ(f.pcu.stages[0].src_a, 0);
  EXPECT_EQ(f.pcu.stages[0].src_b, 1);
  EXPECT_EQ(f.pcu.stages[1].src_a, f.pcu.stages[0].dst);
  EXPECT_EQ(f.pcu.stages[1].src_b, 2);
  EXPECT_NE(f.pcu.stages[0].dst, 2);
  EXPECT_EQ(f.pcu.out_reg, f.pcu.stages[1].dst);
}

TEST(Lowering, BroadcastStreams) {
  // test_add_bcast: y [5] is re-read for each of the 12 rows (s1 = 0, not bcast).
  const pef::Pef pef = compile_onnx_file(test::node_dir("test_add_bcast") + "/model.onnx", tiny());
  const auto units = arch::parse_bitstream(tiny(), pef.sections[0].bitstream);
  int seen = 0;
  for (uint32_t k = 0; k < tiny().agcu; ++k) {
    const auto ag = arch::AgcuConfig::decode(units[tiny().agcu_id(k)]);
    for (const auto& ld : ag.ld) {
      if (!ld.enable) continue;
      ++seen;
      EXPECT_EQ(ld.vlen, 5u);
      EXPECT_EQ(ld.c[1], 12u);
      EXPECT_EQ(ld.c[2], 1u);
      EXPECT_EQ(ld.lstride, 1);
      EXPECT_TRUE(ld.s[1] == 0 || ld.s[1] == 5);
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST(Lowering, DramLayoutAndMeta) {
  ModelBuilder b;
  b.input("a", {3, 5});
  b.input("b", {5});
  b.init("c", {3, 1}, {1, 2, 3});
  b.node("Mul", {"a", "b"}, {"t"}, "mul");
  b.node("Add", {"t", "c"}, {"u"}, "add");
  b.node("Relu", {"u"}, {"y"}, "relu");
  b.output("y");
  const std::string path = b.save("layout.onnx");
  const pef::Pef pef = compile_onnx_file(path, small());
  ASSERT_EQ(pef.sections.size(), 3u);
  EXPECT_EQ(pef.sections[0].name, "mul");
  EXPECT_EQ(pef.sections[2].name, "relu");
  std::map<std::string, pef::Tensor> t;
  for (const auto& x : pef.tensors) t[x.name] = x;
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t["a"].role, pef::Role::Input);
  EXPECT_EQ(t["c"].role, pef::Role::Weight);
  EXPECT_EQ(t["t"].role, pef::Role::Activation);
  EXPECT_EQ(t["u"].role, pef::Role::Activation);
  EXPECT_EQ(t["y"].role, pef::Role::Output);
  EXPECT_EQ(t["y"].shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(t["y"].bytes, 60u);
  // Constants: data in weights at weight_offset.
  ASSERT_GE(pef.weights.size(), t["c"].weight_offset + 12);
  float c1;
  std::memcpy(&c1, pef.weights.data() + t["c"].weight_offset + 4, 4);
  EXPECT_EQ(c1, 2.0f);
  // 256-aligned, from 0x100000, no overlaps, bitstreams after the tensors.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& x : pef.tensors) ranges.emplace_back(x.dev_addr, x.dev_addr + x.bytes);
  uint64_t tensors_end = 0;
  for (const auto& r : ranges) tensors_end = std::max(tensors_end, r.second);
  for (const auto& s : pef.sections) {
    EXPECT_GE(s.dev_addr, tensors_end);
    ranges.emplace_back(s.dev_addr, s.dev_addr + 4 * s.bitstream.size());
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i].first % 256, 0u);
    EXPECT_GE(ranges[i].first, 0x100000u);
    if (i > 0) {
      EXPECT_LE(ranges[i - 1].second, ranges[i].first);
    }
  }
  EXPECT_EQ(pef.meta.at("source"), path);
  EXPECT_EQ(pef.meta.at("opt_level"), "0");
  EXPECT_EQ(pef.meta.at("compiler_version"), std::string(version()));
  // Each section's bitstream is accepted by the configuration controller's parser.
  for (const auto& s : pef.sections) EXPECT_NO_THROW(arch::parse_bitstream(small(), s.bitstream));
  // The c broadcast ([3,1] -> [3,5]) is an inner-broadcast stream.
  const auto units = arch::parse_bitstream(small(), pef.sections[1].bitstream);
  bool found = false;
  for (uint32_t k = 0; k < small().agcu; ++k)
    for (const auto& ld : arch::AgcuConfig::decode(units[small().agcu_id(k)]).ld)
      if (ld.enable && ld.base == t["c"].dev_addr) {
        found = true;
        EXPECT_EQ(ld.lstride, 0);
        EXPECT_EQ(ld.s[0], 0);
        EXPECT_EQ(ld.vlen, 5u);
        EXPECT_EQ(ld.c[1], 3u);
        EXPECT_EQ(ld.s[1], 1);
      }
  EXPECT_TRUE(found);
}

TEST(Lowering, DramTooSmall) {
  arch::Config cfg = tiny();
  cfg.dram_bytes = 0x100000 + 512;  // not part of the fingerprint
  EXPECT_THAT(error_of([&] { compile_onnx_file(test::node_dir("test_add") + "/model.onnx", cfg); }),
              HasSubstr("bytes of device DRAM"));
}

TEST(Lowering, FusionAtO1) {
  ModelBuilder b;
  b.input("a", {6});
  b.input("b", {6});
  b.input("c", {6});
  b.node("Mul", {"a", "b"}, {"t"}, "mul");
  b.node("Add", {"t", "c"}, {"u"}, "add");
  b.node("Relu", {"u"}, {"y"}, "relu");
  b.output("y");
  const std::string path = b.save("fuse.onnx");
  Options o1;
  o1.opt_level = 1;
  const pef::Pef pef = compile_onnx_file(path, tiny(), o1);
  ASSERT_EQ(pef.sections.size(), 1u);
  EXPECT_EQ(pef.sections[0].name, "mul+add+relu");
  for (const auto& t : pef.tensors) EXPECT_NE(t.name, "t") << "fused intermediate stored";
  check_section(tiny(), pef, 0, {Opcode::FMUL, Opcode::FADD, Opcode::FMAX}, {"a", "b", "c"}, "y", 2);
}

TEST(Lowering, PlacesPipelines) {
  // Every PCU of the configuration in one pipeline; the first AGCU-count PCUs take a
  // load each (more loads than the vertical links out of the AGCU row cannot route).
  for (const auto* cfg : {&small(), &tiny()}) {
    const int npcu = int(cfg->num_pcu());
    const int loads = int(cfg->agcu);
    std::vector<std::vector<detail::PcuInput>> ins;
    for (int p = 0; p < npcu; ++p) {
      std::vector<detail::PcuInput> v;
      if (p < loads) v.push_back({false, p});
      if (p > 0) v.push_back({true, p - 1});
      ins.push_back(v);
    }
    const auto pl = detail::place_and_route(*cfg, loads, ins, "t");
    ASSERT_EQ(int(pl.pcus.size()), npcu);
    std::set<std::pair<uint32_t, uint32_t>> distinct(pl.pcus.begin(), pl.pcus.end());
    EXPECT_EQ(int(distinct.size()), npcu);
    for (const auto& [r, c] : pl.pcus) EXPECT_TRUE(cfg->slot_is_pcu(r, c));
    EXPECT_EQ(int(pl.loads.size()), loads);
  }
  EXPECT_THAT(error_of([] {
                std::vector<std::vector<detail::PcuInput>> ins(3, {{false, 0}});
                detail::place_and_route(tiny(), 1, ins, "node 'z' (Add)");
              }),
              HasSubstr("node 'z' (Add): 3 PCUs, configuration 'tiny' has 2"));
}

// A placement problem: PCU inputs, load count, stored PCUs, PMU writers.
struct PrProblem {
  int loads = 0;
  std::vector<std::vector<detail::PcuInput>> ins;
  std::vector<int> more_stored;
  std::vector<int> pmu_loads;
};

// Check a placement against its problem from the switch selects alone (independently
// of the router): every sink walks back hop by hop to its net's source; every
// configured output port lies on the walk of exactly one net; the hop counts match.
// Returns the number of distinct output ports used (the wire length).
uint32_t verify_routes(const arch::Config& cfg, const PrProblem& pr, const detail::Placement& pl) {
  const int npcu = int(pr.ins.size()), npmu = int(pr.pmu_loads.size());
  EXPECT_EQ(int(pl.pcus.size()), npcu);
  EXPECT_EQ(int(pl.pmus.size()), npmu);
  EXPECT_EQ(int(pl.loads.size()), pr.loads);
  EXPECT_EQ(pl.more_stores.size(), pr.more_stored.size());
  std::set<std::pair<uint32_t, uint32_t>> slots;
  for (const auto& [r, c] : pl.pcus) {
    EXPECT_TRUE(cfg.slot_is_pcu(r, c));
    slots.insert({r, c});
  }
  for (const auto& [r, c] : pl.pmus) {
    EXPECT_FALSE(cfg.slot_is_pcu(r, c));
    slots.insert({r, c});
  }
  EXPECT_EQ(int(slots.size()), npcu + npmu) << "two units on one slot";
  std::set<std::pair<uint32_t, uint32_t>> streams;
  for (const auto& l : pl.loads) {
    EXPECT_LT(l.agcu, cfg.agcu);
    EXPECT_LT(l.stream, 2u);
    streams.insert({l.agcu, l.stream});
  }
  EXPECT_EQ(int(streams.size()), pr.loads) << "two loads on one stream";
  std::set<uint32_t> store_agcus = {pl.store.agcu};
  for (const auto& m : pl.more_stores) store_agcus.insert(m.agcu);
  EXPECT_EQ(store_agcus.size(), 1 + pr.more_stored.size()) << "two stores on one AGCU";

  auto sel = [&](uint32_t r, uint32_t c, uint32_t o) -> uint32_t {
    const auto it = pl.switches.find(cfg.switch_id(r, c));
    return it == pl.switches.end() ? 0 : it->second.sel[arch::kVectorNet][o];
  };
  // Sources: (switch row, col, local input) per net: loads, PCU results, PMU read data.
  std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> src;
  for (const auto& l : pl.loads) src.emplace_back(cfg.rows, l.agcu, arch::kLocal0 + l.stream);
  for (const auto& [r, c] : pl.pcus) src.emplace_back(r, c, arch::kLocal0);
  for (const auto& [r, c] : pl.pmus) src.emplace_back(r, c, arch::kLocal0);
  // Sinks in the Placement's connection order: PMU writes, PCU inputs, then the stores.
  struct Sink {
    int net;
    uint32_t r, c, port;
  };
  std::vector<Sink> sinks;
  for (int m = 0; m < npmu; ++m) sinks.push_back({pr.pmu_loads[m], pl.pmus[m].first, pl.pmus[m].second, arch::kLocal0});
  for (int p = 0; p < npcu; ++p)
    for (size_t v = 0; v < pr.ins[p].size(); ++v) {
      const auto& in = pr.ins[p][v];
      const int net = in.from_pmu ? pr.loads + npcu + in.index : in.from_pcu ? pr.loads + in.index : in.index;
      sinks.push_back({net, pl.pcus[p].first, pl.pcus[p].second, arch::kLocal0 + uint32_t(v)});
    }
  std::vector<int> stored = {npcu - 1};
  stored.insert(stored.end(), pr.more_stored.begin(), pr.more_stored.end());
  std::vector<uint32_t> store_agcu = {pl.store.agcu};
  for (const auto& m : pl.more_stores) store_agcu.push_back(m.agcu);
  for (size_t k = 0; k < stored.size(); ++k)
    sinks.push_back({pr.loads + stored[k], cfg.rows, store_agcu[k], arch::kLocal0});
  EXPECT_EQ(pl.hops.size(), sinks.size());
  EXPECT_EQ(pl.path_hops.size(), sinks.size());

  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::set<int>> users;  // output port -> nets through it
  uint32_t longest = 0;
  for (size_t k = 0; k < sinks.size(); ++k) {
    const Sink& sk = sinks[k];
    uint32_t r = sk.r, c = sk.c, o = sk.port, hops = 0;
    for (;;) {
      users[{r, c, o}].insert(sk.net);
      const uint32_t s = sel(r, c, o);
      if (s == 0) {
        ADD_FAILURE() << fmt::format("sink {}: switch ({},{}) output {} unselected", k, r, c, o);
        return 0;
      }
      const uint32_t i = s - 1;
      if (i >= arch::kLocal0) {
        EXPECT_EQ(std::make_tuple(r, c, i), src[size_t(sk.net)]) << "sink " << k << " reaches another source";
        break;
      }
      // Input i comes from the neighbour in direction i, through its opposite output.
      if (i == arch::kNorth) {
        if (r == 0) break;
        --r;
      } else if (i == arch::kEast) {
        ++c;
      } else if (i == arch::kSouth) {
        ++r;
      } else {
        if (c == 0) break;
        --c;
      }
      EXPECT_LE(r, cfg.rows);
      EXPECT_LE(c, cfg.cols);
      o = (i + 2) % 4;
      if (++hops > 64) {
        ADD_FAILURE() << "route loops";
        return 0;
      }
    }
    if (k < pl.path_hops.size()) {
      EXPECT_EQ(pl.path_hops[k], hops) << "sink " << k;
    }
    longest = std::max(longest, hops);
  }
  uint32_t wire = 0;
  for (const auto& [port, nets] : users) {
    EXPECT_EQ(nets.size(), 1u) << fmt::format("switch ({},{}) output {} carries {} nets", std::get<0>(port),
                                              std::get<1>(port), std::get<2>(port), nets.size());
    wire += std::get<2>(port) < arch::kLocal0;
  }
  // Every configured output port is on some sink's walk (nothing dangles).
  size_t configured = 0;
  for (const auto& [id, sw] : pl.switches)
    for (uint32_t o = 0; o < arch::kSwitchOutputs; ++o) configured += sw.sel[arch::kVectorNet][o] != 0;
  EXPECT_EQ(configured, users.size());
  EXPECT_EQ(pl.wire_length, wire);
  EXPECT_EQ(std::accumulate(pl.hops.begin(), pl.hops.end(), 0u), wire);
  EXPECT_EQ(pl.max_hops, longest);
  return wire;
}

detail::Placement place(const arch::Config& cfg, const PrProblem& pr, const std::string& what = "t") {
  return detail::place_and_route(cfg, pr.loads, pr.ins, what, pr.more_stored, pr.pmu_loads);
}

// Pipelines, fan-outs, split MatMuls (with and without PMUs) on both configurations.
std::vector<std::pair<const arch::Config*, PrProblem>> routing_cases() {
  std::vector<std::pair<const arch::Config*, PrProblem>> v;
  v.push_back({&tiny(), {2, {{{false, 0}, {false, 1}}}, {}, {}}});
  v.push_back({&small(), {3, {{{false, 0}, {false, 1}, {false, 2}}}, {}, {}}});
  v.push_back({&tiny(), {3, {{{false, 0}, {false, 1}}, {{false, 0}, {false, 2}}}, {0}, {}}});  // MatMul 1x2
  PrProblem mm{4, {}, {0, 1, 2}, {}};  // MatMul 2x2 on small: A_i, B_j fanned out
  for (int p = 0; p < 4; ++p) mm.ins.push_back({{false, p / 2}, {false, 2 + p % 2}});
  v.push_back({&small(), mm});
  PrProblem pmu{4, {}, {0, 1, 2}, {2, 3}};  // the same with B through two PMUs
  for (int p = 0; p < 4; ++p) pmu.ins.push_back({{false, p / 2}, {false, p % 2, true}});
  v.push_back({&small(), pmu});
  PrProblem pipe{4, {}, {}, {}};  // every PCU of small in one pipeline, 4 loads
  for (int p = 0; p < 8; ++p) {
    pipe.ins.push_back({});
    if (p < 4) pipe.ins.back().push_back({false, p});
    if (p > 0) pipe.ins.back().push_back({true, p - 1});
  }
  v.push_back({&small(), pipe});
  return v;
}

TEST(PlaceRoute, EveryNetConnectsSourceToSinks) {
  for (const auto& [cfg, pr] : routing_cases()) {
    SCOPED_TRACE(fmt::format("{}: {} PCUs, {} loads, {} PMUs", cfg->name, pr.ins.size(), pr.loads, pr.pmu_loads.size()));
    const auto pl = place(*cfg, pr);
    EXPECT_GT(verify_routes(*cfg, pr, pl), 0u);
    EXPECT_GE(pl.attempts, 1u);
    EXPECT_GE(pl.route_iterations, 1u);
  }
}

TEST(PlaceRoute, Deterministic) {
  // The placer memoises per configuration and section structure; a copy of the
  // configuration under another name computes the placement afresh, which must be the
  // same bit for bit (switch selects included).
  for (const auto& [cfg, pr] : routing_cases()) {
    SCOPED_TRACE(fmt::format("{}: {} PCUs", cfg->name, pr.ins.size()));
    arch::Config copy = *cfg;
    copy.name += "-copy";
    const auto a = place(*cfg, pr), b = place(copy, pr);
    EXPECT_EQ(a.pcus, b.pcus);
    EXPECT_EQ(a.pmus, b.pmus);
    ASSERT_EQ(a.loads.size(), b.loads.size());
    for (size_t l = 0; l < a.loads.size(); ++l) {
      EXPECT_EQ(a.loads[l].agcu, b.loads[l].agcu);
      EXPECT_EQ(a.loads[l].stream, b.loads[l].stream);
    }
    EXPECT_EQ(a.store.agcu, b.store.agcu);
    EXPECT_EQ(a.hops, b.hops);
    EXPECT_EQ(a.path_hops, b.path_hops);
    ASSERT_EQ(a.switches.size(), b.switches.size());
    for (const auto& [id, sw] : a.switches) {
      ASSERT_TRUE(b.switches.count(id));
      EXPECT_EQ(sw.encode(), b.switches.at(id).encode());
    }
  }
  // And a whole compile: the same bitstreams and metadata twice.
  Options o3;
  o3.opt_level = 3;
  const std::string model = std::string(OPENRDU_EXAMPLES_DIR) + "/cnn/model.onnx";
  const pef::Pef p1 = compile_onnx_file(model, small(), o3), p2 = compile_onnx_file(model, small(), o3);
  ASSERT_EQ(p1.sections.size(), p2.sections.size());
  for (size_t i = 0; i < p1.sections.size(); ++i) {
    EXPECT_EQ(p1.sections[i].bitstream, p2.sections[i].bitstream) << p1.sections[i].name;
    EXPECT_EQ(p1.sections[i].est_cycles, p2.sections[i].est_cycles) << p1.sections[i].name;
  }
  EXPECT_EQ(p1.meta, p2.meta);
}

// Scalar nets on the scalar network, beside a pipeline's vector nets: every sink PCU's
// scalar input (switch local output 4) traced back over the scalar selects reaches its
// source PCU's scalar output (local input 4), a net fanning out to two sinks; PCUs
// without a link get no scalar input.
TEST(PlaceRoute, RoutesScalarNets) {
  for (const auto* cfg : {&small(), &tiny()}) {
    SCOPED_TRACE(cfg->name);
    const int npcu = int(cfg->num_pcu());
    std::vector<std::vector<detail::PcuInput>> ins(static_cast<size_t>(npcu));
    ins[0] = {{false, 0}};
    for (int p = 1; p < npcu; ++p) ins[size_t(p)] = {{true, p - 1}, {false, 0}};
    std::vector<detail::ScalarLink> links = {{0, npcu - 1}};
    if (npcu >= 4) links.push_back({0, 2});
    if (npcu >= 6) links.push_back({3, 5});
    const auto pl = detail::place_and_route(*cfg, 1, ins, "scalar test", {}, {}, 0, links);
    ASSERT_EQ(pl.scalar_hops.size(), links.size());
    std::vector<std::vector<uint32_t>> units(cfg->num_units());
    for (const auto& [id, sw] : pl.switches) units[id] = sw.encode();
    for (uint32_t r = 0; r <= cfg->rows; ++r)
      for (uint32_t c = 0; c <= cfg->cols; ++c)
        if (units[cfg->switch_id(r, c)].empty()) units[cfg->switch_id(r, c)] = arch::SwitchConfig{}.encode();
    for (size_t k = 0; k < links.size(); ++k) {
      const auto [r, c] = pl.pcus[size_t(links[k].to)];
      const auto [fr, fc] = pl.pcus[size_t(links[k].from)];
      const auto [src, port] = test::trace_back(*cfg, units, r, c, arch::kLocal0, arch::kScalarNet);
      EXPECT_EQ(src, cfg->slot_id(fr, fc)) << "link " << k;
      EXPECT_EQ(port, 0) << "link " << k;
      if (k != 1) {  // (link 1, net 0's second sink, may reuse link 0's path)
        EXPECT_GE(pl.scalar_hops[k], 1u);
      }
    }
    // PCUs without a scalar link get nothing on their scalar input.
    for (int p = 0; p < npcu; ++p) {
      bool sink = false;
      for (const auto& l : links) sink = sink || l.to == p;
      if (sink) continue;
      const auto [r, c] = pl.pcus[size_t(p)];
      EXPECT_EQ(arch::SwitchConfig::decode(units[cfg->switch_id(r, c)]).sel[arch::kScalarNet][arch::kLocal0], 0);
    }
    // Invalid links are errors naming the section.
    EXPECT_THAT(error_of([&] { detail::place_and_route(*cfg, 1, ins, "bad scalar", {}, {}, 0, {{0, 0}}); }),
                HasSubstr("bad scalar"));
  }
}

TEST(PlaceRoute, SpreadsStreamsOverAgcusAndPorts) {
  // Four PCUs, each with a load and a store: every AGCU gets one load and one store,
  // each memory port (AGCU k on port k mod 2) four streams.
  PrProblem pr{4, {{{false, 0}}, {{false, 1}}, {{false, 2}}, {{false, 3}}}, {0, 1, 2}, {}};
  const auto pl = place(small(), pr);
  verify_routes(small(), pr, pl);
  std::vector<int> loads(small().agcu, 0), stores(small().agcu, 0);
  for (const auto& l : pl.loads) ++loads[l.agcu];
  ++stores[pl.store.agcu];
  for (const auto& m : pl.more_stores) ++stores[m.agcu];
  EXPECT_EQ(loads, std::vector<int>(4, 1));
  EXPECT_EQ(stores, std::vector<int>(4, 1));
  // One load and one store: on AGCUs of different ports (small has 2), so that each
  // port carries one request per vector rather than one port two.
  const auto one = place(small(), {1, {{{false, 0}}}, {}, {}});
  EXPECT_NE(one.loads[0].agcu % small().dram_channels, one.store.agcu % small().dram_channels);
  // Tiny has one port: nothing to gain from a second AGCU, the short route wins.
  const auto t = place(tiny(), {1, {{{false, 0}}}, {}, {}});
  EXPECT_EQ(t.loads[0].agcu, t.store.agcu);
  EXPECT_EQ(t.wire_length, 2u);
}

TEST(PlaceRoute, NegotiatesCongestionTheGreedyRouterCouldNot) {
  // Every PCU of small in a chain, each also reading both loads: 2 nets fanned out to
  // 8 PCUs plus 7 PCU-to-PCU links. The previous placer (slot chains nearest-first,
  // each net routed in turn by BFS on free ports, no rip-up) failed on it.
  PrProblem pr{2, {}, {}, {}};
  for (int p = 0; p < 8; ++p) {
    pr.ins.push_back({{false, 0}, {false, 1}});
    if (p > 0) pr.ins.back().push_back({true, p - 1});
  }
  const auto pl = place(small(), pr);
  verify_routes(small(), pr, pl);
  EXPECT_GT(pl.route_iterations, 1u) << "no congestion to negotiate";
}

TEST(PlaceRoute, ErrorsNameTheSection) {
  // Two PCUs on tiny each need three distinct nets; one of them sits at slot (0,0),
  // whose switch has only two links (E, S): no placement routes.
  PrProblem pr{3, {{{false, 0}, {false, 1}, {false, 2}}, {{false, 0}, {false, 1}, {false, 2}}}, {}, {}};
  EXPECT_THAT(error_of([&] { place(tiny(), pr, "node 'z' (Add)"); }),
              HasSubstr("node 'z' (Add): cannot place and route 2 PCUs, 3 loads and a store on configuration 'tiny'"));
  // Memoised: the same failure again, naming the new section.
  EXPECT_THAT(error_of([&] { place(tiny(), pr, "node 'w' (Sub)"); }),
              HasSubstr("node 'w' (Sub): cannot place and route 2 PCUs, 3 loads and a store"));
  // Four loads on tiny: more than the three north links out of the AGCU row.
  PrProblem four{4, {{{false, 0}, {false, 1}}, {{false, 2}, {false, 3}}}, {}, {}};
  EXPECT_THAT(error_of([&] { place(tiny(), four, "section 'x'"); }),
              HasSubstr("section 'x': cannot place and route 2 PCUs, 4 loads and a store on configuration 'tiny'"));
}

TEST(Lowering, PipelineAtO3) {
  // mul+add+relu needs 3 inputs; max needs d: O1 gives 2 sections, O3 one section
  // with two PCUs, relu's result streamed to the max PCU over the network. (On tiny
  // the 4 loads cannot route: 3 vertical links leave the AGCU row.)
  ModelBuilder b;
  for (const char* n : {"a", "b", "c", "d"}) b.input(n, {4, 4});
  b.node("Mul", {"a", "b"}, {"t"}, "mul");
  b.node("Add", {"t", "c"}, {"u"}, "add");
  b.node("Relu", {"u"}, {"r"}, "relu");
  b.node("Max", {"r", "d"}, {"y"}, "max");
  b.output("y");
  const std::string path = b.save("pipe.onnx");
  Options o;
  o.opt_level = 1;
  EXPECT_EQ(compile_onnx_file(path, small(), o).sections.size(), 2u);
  o.opt_level = 3;
  EXPECT_EQ(compile_onnx_file(path, tiny(), o).sections.size(), 2u);
  const pef::Pef pef = compile_onnx_file(path, small(), o);
  ASSERT_EQ(pef.sections.size(), 1u);
  EXPECT_EQ(pef.sections[0].name, "mul+add+relu|max");
  EXPECT_EQ(pef.tensors.size(), 5u);  // a b c d y: r stays on chip
  const auto units = arch::parse_bitstream(small(), pef.sections[0].bitstream);
  std::vector<uint32_t> pcus;
  for (uint32_t r = 0; r < small().rows; ++r)
    for (uint32_t c = 0; c < small().cols; ++c)
      if (small().slot_is_pcu(r, c) && arch::PcuConfig::decode(small(), units[small().slot_id(r, c)]).enable)
        pcus.push_back(small().slot_id(r, c));
  ASSERT_EQ(pcus.size(), 2u);
  // One of the PCUs is fed by the other's output.
  int chained = 0;
  for (uint32_t id : pcus) {
    const auto pc = arch::PcuConfig::decode(small(), units[id]);
    EXPECT_EQ(pc.count, (16 + small().lanes - 1) / small().lanes);
    for (uint32_t v = 0; v < 3; ++v) {
      if (!(pc.vin_mask >> v & 1)) continue;
      const auto [src, port] = trace_back(small(), units, id / small().cols, id % small().cols, arch::kLocal0 + v);
      if (src != id && std::find(pcus.begin(), pcus.end(), src) != pcus.end()) {
        ++chained;
        EXPECT_EQ(port, 0);
        EXPECT_EQ(arch::PcuConfig::decode(small(), units[id]).stages[0].op, Opcode::FMAX);
      } else {
        EXPECT_EQ(small().unit_kind(src), arch::UnitKind::Agcu);
      }
    }
  }
  EXPECT_EQ(chained, 1);
}

// -O3 softmax over the last axis: the ReduceMax runs in the section of the shift (Sub)
// that reads it, each row's max sent over the scalar network: no more sections than
// without the scalar fusion; the fused section has a max PCU with sout (rows reduced by
// the tree, acc_len = vectors per row) whose scalar output the switches route to the
// PCU with sin running FSUB(x, IMM) with simm, one scalar per row (acc_len).
// Not fused: a softmax over another axis, a Div by the reduction (not one stage), a
// reduction read twice.
TEST(Lowering, SoftmaxShiftOverTheScalarNetwork) {
  auto softmax = [](int64_t axis, const std::string& file) {
    ModelBuilder b(13);
    b.input("x", {3, 4, 10});
    auto* n = b.node("Softmax", {"x"}, {"y"}, "sm");
    auto* a = n->add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
    b.output("y");
    return b.save(file);
  };
  const std::string last = softmax(-1, "softmax_last.onnx"), first = softmax(0, "softmax_first.onnx");
  for (const auto* cfg : {&tiny(), &small()}) {
    SCOPED_TRACE(cfg->name);
    Options on, off;
    on.opt_level = off.opt_level = 3;
    off.scalar_fusion = false;
    const pef::Pef fused = compile_onnx_file(last, *cfg, on), plain = compile_onnx_file(last, *cfg, off);
    // No more sections (the max's own section goes; without it the softmax's module may
    // pack its PCUs into as few sections: group.cc best_runs).
    EXPECT_LE(fused.sections.size(), plain.sections.size());
    EXPECT_EQ(plain.sections.at(0).name, "sm.max");
    EXPECT_EQ(compile_onnx_file(first, *cfg, on).sections.size(), compile_onnx_file(first, *cfg, off).sections.size());
    size_t sec = fused.sections.size();
    for (size_t i = 0; i < fused.sections.size(); ++i)
      if (fused.sections[i].name.rfind("sm.max|sm.shift", 0) == 0) sec = i;
    ASSERT_LT(sec, fused.sections.size()) << "no section runs sm.max and sm.shift";
    const auto units = arch::parse_bitstream(*cfg, fused.sections[sec].bitstream);
    const uint32_t rows = 12, nv = (10 + cfg->lanes - 1) / cfg->lanes;
    int senders = 0, receivers = 0;
    uint32_t sender = 0;
    std::vector<uint32_t> receiver_ids;
    for (uint32_t r = 0; r < cfg->rows; ++r)
      for (uint32_t c = 0; c < cfg->cols; ++c) {
        if (!cfg->slot_is_pcu(r, c)) continue;
        const uint32_t id = cfg->slot_id(r, c);
        const auto pc = arch::PcuConfig::decode(*cfg, units[id]);
        if (!pc.enable) continue;
        if (pc.sout) {
          ++senders;
          sender = id;
          EXPECT_EQ(pc.out_mode, 1);
          EXPECT_EQ(pc.reduce, 2);  // max
          EXPECT_EQ(pc.acc_len, nv);
          EXPECT_EQ(pc.count, rows * nv);
        }
        if (pc.sin) {
          ++receivers;
          receiver_ids.push_back(id);
          EXPECT_EQ(pc.acc_len, nv);  // a group is a row: one scalar per row
          EXPECT_EQ(pc.count, rows * nv);
          int simm = 0;
          for (const auto& st : pc.stages)
            if (st.simm) {
              ++simm;
              EXPECT_EQ(st.op, Opcode::FSUB);
              EXPECT_EQ(st.src_b, uint8_t(arch::Src::IMM));
            }
          EXPECT_EQ(simm, 1);
        }
        if (!pc.sin) {
          for (const auto& st : pc.stages) EXPECT_FALSE(st.simm);
        }
      }
    ASSERT_EQ(senders, 1);
    ASSERT_EQ(receivers, 1);
    // The scalar network carries the sender's output to the receiver's scalar input.
    const uint32_t rid = receiver_ids[0];
    const auto [src, port] = trace_back(*cfg, units, rid / cfg->cols, rid % cfg->cols, arch::kLocal0, arch::kScalarNet);
    EXPECT_EQ(src, sender);
    EXPECT_EQ(port, 0);
    // The max still goes to its DRAM buffer (its PCU's vector output must be taken).
    bool stored = false;
    for (const auto& t : fused.tensors) stored = stored || t.name == "y.max";
    EXPECT_TRUE(stored);
    // No scalar selects in the sections that do not use the scalar network.
    for (size_t i = 0; i < fused.sections.size(); ++i) {
      if (i == sec) continue;
      const auto u = arch::parse_bitstream(*cfg, fused.sections[i].bitstream);
      for (uint32_t r = 0; r <= cfg->rows; ++r)
        for (uint32_t c = 0; c <= cfg->cols; ++c)
          for (uint32_t o = 0; o < arch::kSwitchOutputs; ++o)
            EXPECT_EQ(arch::SwitchConfig::decode(u[cfg->switch_id(r, c)]).sel[arch::kScalarNet][o], 0)
                << "section " << i;
    }
  }
  // x [3, 10] and m = reduce(x) over axis 1 (keepdims by default).
  auto row_reduce = [](ModelBuilder& b, const char* reduce, const char* name) {
    b.input("x", {3, 10});
    auto* a = b.node(reduce, {"x"}, {"m"}, name)->add_attribute();
    a->set_name("axes");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(1);
  };
  // Div by the row max (a multi-PCU program) and a max read twice stay unfused.
  for (const char* op : {"Div", "Sub2"}) {
    ModelBuilder b(13);
    row_reduce(b, "ReduceMax", "rmax");
    if (std::string(op) == "Div") {
      b.node("Div", {"x", "m"}, {"y"}, "op");
    } else {
      b.node("Sub", {"x", "m"}, {"y"}, "op");
      b.node("Add", {"x", "m"}, {"z"}, "op2");
      b.output("z");
    }
    b.output("y");
    const std::string path = b.save(fmt::format("rowmax_{}.onnx", op));
    Options on, off;
    on.opt_level = off.opt_level = 3;
    off.scalar_fusion = false;
    EXPECT_EQ(compile_onnx_file(path, small(), on).sections.size(), compile_onnx_file(path, small(), off).sections.size())
        << op;
  }
  // Sub(x, m) alone is fused (the generalisation beyond softmax).
  {
    ModelBuilder b(13);
    row_reduce(b, "ReduceMin", "rmin");
    b.node("Mul", {"m", "x"}, {"y"}, "op");
    b.output("y");
    const std::string path = b.save("rowmin_mul.onnx");
    Options on;
    on.opt_level = 3;
    const pef::Pef pef = compile_onnx_file(path, small(), on);
    ASSERT_EQ(pef.sections.size(), 1u);
    EXPECT_EQ(pef.sections[0].name, "rmin|op");
  }
}

}  // namespace
}  // namespace openrdu::compiler
