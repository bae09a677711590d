// Tests of openrdu::arch: configurations, fingerprints, unit ids, bitstream format.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/gen/builtin_configs.h"

using namespace openrdu::arch;
using openrdu::gen::ErrorCode;

#ifndef OPENRDU_SOURCE_DIR
#error "OPENRDU_SOURCE_DIR must be defined"
#endif

TEST(Crc32, KnownVector) {
  // The standard check value of CRC-32/ISO-HDLC.
  const char* s = "123456789";
  EXPECT_EQ(crc32(s, 9), 0xCBF43926u);
  // Incremental equals one-shot.
  EXPECT_EQ(crc32(s + 4, 5, crc32(s, 4)), 0xCBF43926u);
}

TEST(Config, BuiltinFingerprintMatchesGenerator) {
  // The generator (Python, zlib) and the C++ loader must compute the same fingerprint.
  for (const auto& b : openrdu::gen::kBuiltinConfigs) {
    Config c = load_config(b.name);
    EXPECT_EQ(c.fingerprint(), b.fingerprint) << b.name << ": " << c.canonical();
  }
}

TEST(Config, YamlFileEqualsBuiltin) {
  for (const char* name : {"tiny", "small"}) {
    Config a = load_config(name);
    Config b = load_config(std::string(OPENRDU_SOURCE_DIR) + "/configs/" + name + ".yaml");
    EXPECT_EQ(a.canonical(), b.canonical());
    EXPECT_EQ(a.dram_bytes, b.dram_bytes);
    EXPECT_EQ(a.dram_latency_cycles, b.dram_latency_cycles);
  }
}

TEST(Config, TableOfArchitectureMd) {
  Config t = load_config("tiny");
  EXPECT_EQ(t.num_pcu(), 2u);
  EXPECT_EQ(t.num_pmu(), 2u);
  EXPECT_EQ(t.lanes, 4u);
  EXPECT_EQ(t.stages, 4u);
  EXPECT_EQ(t.pmu_bytes, 4096u);
  Config s = load_config("small");
  EXPECT_EQ(s.num_pcu(), 8u);
  EXPECT_EQ(s.num_pmu(), 8u);
  EXPECT_EQ(s.lanes, 16u);
  EXPECT_EQ(s.stages, 6u);
  EXPECT_EQ(s.pmu_bytes, 65536u);
  EXPECT_EQ(s.pmu_depth(), 1024u);
}

TEST(Config, UnitIds) {
  Config t = load_config("tiny");  // 2x2 slots, 2 AGCUs, 3x3 switches
  EXPECT_EQ(t.num_units(), 4u + 2u + 9u);
  EXPECT_EQ(t.unit_kind(0), UnitKind::Pcu);
  EXPECT_EQ(t.unit_kind(1), UnitKind::Pmu);
  EXPECT_EQ(t.unit_kind(2), UnitKind::Pmu);
  EXPECT_EQ(t.unit_kind(3), UnitKind::Pcu);
  EXPECT_EQ(t.unit_kind(t.agcu_id(1)), UnitKind::Agcu);
  EXPECT_EQ(t.switch_id(0, 0), 6u);
  EXPECT_EQ(t.switch_id(2, 2), 14u);
  EXPECT_EQ(t.unit_kind(14), UnitKind::Switch);
  EXPECT_THROW(t.unit_kind(15), std::out_of_range);
  EXPECT_EQ(t.pcu_index(3), 1u);
  EXPECT_EQ(t.unit_name(3), "pcu1 (slot 1,1; unit 3)");
}

TEST(Config, ErrorsNameTheProblem) {
  EXPECT_THROW(
      {
        try {
          load_config("huge");
        } catch (const ConfigError& e) {
          EXPECT_NE(std::string(e.what()).find("unknown configuration 'huge'"), std::string::npos);
          throw;
        }
      },
      ConfigError);
  const std::string path = ::testing::TempDir() + "/bad_cfg.yaml";
  {
    std::ofstream f(path);
    f << "name: bad\ngrid: {rows: 2, cols: 2}\npcu: {lanes: 3, stages: 4, regs: 4, vin: 3}\n";
  }
  try {
    load_config(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fifo_depth"), std::string::npos) << e.what();
  }
}

namespace {
UnitWords sample_program(const Config& c) {
  PcuConfig p;
  p.enable = true;
  p.out_reg = 2;
  p.vin_mask = 3;
  p.count = 17;
  p.stages.resize(c.stages);
  p.stages[0] = {openrdu::gen::Opcode::FADD, 0, 1, 2, 0};
  p.stages[1] = {openrdu::gen::Opcode::FMAX, 2, uint8_t(openrdu::gen::Src::IMM), 2, 0};
  AgcuConfig a;
  a.ld[0] = {true, false, 0x1000, 67, 1, 1, 0, 0};
  a.ld[1] = {true, true, 0x2000, 5, 3, 2, 5, 15};
  a.st = {true, false, 0x3000, 67, 1, 1, 0, 0};
  SwitchConfig s;
  s.sel[kVectorNet][kNorth] = 1 + kLocal0;
  s.sel[kControlNet][6] = 3;
  PmuConfig m;
  m.enable = true;
  m.mode = 1;
  m.wr = {3, 4, 5, 1, -2};
  m.rd = {7, 8, 9, -1, 10};
  return {{c.slot_id(0, 0), p.encode(c)},
          {c.slot_id(0, 1), m.encode()},
          {c.agcu_id(0), a.encode()},
          {c.switch_id(1, 0), s.encode()}};
}
}  // namespace

TEST(Bitstream, EncodeDecodeRoundTrip) {
  Config c = load_config("tiny");
  UnitWords prog = sample_program(c);
  auto words = assemble_bitstream(c, prog);
  auto units = parse_bitstream(c, words);
  ASSERT_EQ(units.size(), c.num_units());
  PcuConfig p = PcuConfig::decode(c, units[c.slot_id(0, 0)]);
  EXPECT_TRUE(p.enable);
  EXPECT_EQ(p.out_reg, 2);
  EXPECT_EQ(p.vin_mask, 3);
  EXPECT_EQ(p.count, 17u);
  EXPECT_EQ(p.stages[1].op, openrdu::gen::Opcode::FMAX);
  EXPECT_EQ(p.stages[1].src_b, uint8_t(openrdu::gen::Src::IMM));
  AgcuConfig a = AgcuConfig::decode(units[c.agcu_id(0)]);
  EXPECT_TRUE(a.ld[1].bcast);
  EXPECT_EQ(a.ld[1].s2, 15);
  EXPECT_EQ(a.ld[1].vectors(c.lanes), 3u * 2u * 2u);
  EXPECT_EQ(a.st.base, 0x3000u);
  PmuConfig m = PmuConfig::decode(units[c.slot_id(0, 1)]);
  EXPECT_EQ(m.wr.s1, -2);
  EXPECT_EQ(m.rd.s0, -1);
  EXPECT_EQ(m.mode, 1);
  SwitchConfig s = SwitchConfig::decode(units[c.switch_id(1, 0)]);
  EXPECT_EQ(s.sel[kVectorNet][kNorth], 1 + kLocal0);
  EXPECT_EQ(s.sel[kControlNet][6], 3);
  // Units absent from the stream are all zero (disabled).
  for (uint32_t w : units[c.slot_id(1, 1)]) EXPECT_EQ(w, 0u);
  // Layout of word 0 of the PCU as in docs/architecture.md 4.1.
  EXPECT_EQ(units[0][0], 1u | (2u << 4) | (3u << 8));
}

namespace {
ErrorCode parse_error(const Config& c, const std::vector<uint32_t>& w, uint32_t* unit = nullptr) {
  try {
    parse_bitstream(c, w);
  } catch (const BitstreamError& e) {
    if (unit) *unit = e.unit;
    return e.code;
  }
  return ErrorCode::NONE;
}
void fix_crc(std::vector<uint32_t>& w) { w.back() = crc32(w.data(), (w.size() - 1) * 4); }
}  // namespace

TEST(Bitstream, EveryErrorCode) {
  Config c = load_config("tiny");
  const auto good = assemble_bitstream(c, sample_program(c));
  EXPECT_EQ(parse_error(c, good), ErrorCode::NONE);

  auto w = good;
  w[0] ^= 1;
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_MAGIC);
  w = good;
  w[1] = 2;
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_VERSION);
  EXPECT_EQ(parse_error(load_config("small"), good), ErrorCode::BAD_FINGERPRINT);
  w = good;
  w.push_back(0);
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_LENGTH);
  w = good;
  w[4] = (c.num_units() << 16) | 1;
  uint32_t unit = 0;
  EXPECT_EQ(parse_error(c, w, &unit), ErrorCode::BAD_UNIT);
  EXPECT_EQ(unit, c.num_units());
  w = good;
  w[4] = (w[4] & 0xFFFF0000u) | 0xFFFFu;
  EXPECT_EQ(parse_error(c, w, &unit), ErrorCode::BAD_WORDS);
  EXPECT_EQ(unit, 0u);
  w = good;
  w.back() ^= 0x80000000u;
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_CRC);
  // A stream cut short: the length word disagrees with what was read.
  w = std::vector<uint32_t>(good.begin(), good.begin() + 10);
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_LENGTH);
  // Terminator missing: the last record runs into the CRC word.
  w = good;
  w.erase(w.end() - 2);
  w[3] = uint32_t(w.size());
  fix_crc(w);
  EXPECT_EQ(parse_error(c, w), ErrorCode::TRUNCATED);
  EXPECT_EQ(parse_error(c, {}), ErrorCode::TRUNCATED);
}

TEST(Bitstream, RandomCorruptionNeverCrashesAndIsDetected) {
  Config c = load_config("tiny");
  const auto good = assemble_bitstream(c, sample_program(c));
  std::mt19937 rng(1234);
  for (int t = 0; t < 2000; ++t) {
    auto w = good;
    const size_t i = rng() % w.size();
    w[i] ^= 1u << (rng() % 32);
    EXPECT_NE(parse_error(c, w), ErrorCode::NONE) << "flip in word " << i << " undetected";
  }
}
