// Tests of openrdu::arch: configurations, fingerprints, unit ids, bitstream format.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/arch/relocate.h"
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
  for (const char* name : {"tiny", "small", "plasticine"}) {
    Config a = load_config(name);
    Config b = load_config(std::string(OPENRDU_SOURCE_DIR) + "/configs/" + name + ".yaml");
    EXPECT_EQ(a.canonical(), b.canonical());
    EXPECT_EQ(a.dram_bytes, b.dram_bytes);
    EXPECT_EQ(a.dram_latency_cycles, b.dram_latency_cycles);
    EXPECT_EQ(a.dram_channels, b.dram_channels);
    EXPECT_EQ(a.dram_interleave_bytes, b.dram_interleave_bytes);
    EXPECT_EQ(a.dram_channel_hash, b.dram_channel_hash) << name;
    EXPECT_EQ(a.num_tiles(), b.num_tiles()) << name;
    EXPECT_EQ(a.tile_h(), b.tile_h()) << name;
    EXPECT_EQ(a.tile_w(), b.tile_w()) << name;
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
  Config p = load_config("plasticine");  // 16x8: 64 PCUs, 64 PMUs, 8 AGCUs, 17x9 switches
  EXPECT_EQ(p.num_pcu(), 64u);
  EXPECT_EQ(p.num_pmu(), 64u);
  EXPECT_EQ(p.lanes, 16u);
  EXPECT_EQ(p.stages, 6u);
  EXPECT_EQ(p.pmu_bytes, 262144u);
  EXPECT_EQ(p.pmu_depth(), 4096u);
  EXPECT_EQ(p.agcu, 8u);
  EXPECT_EQ(p.num_units(), 128u + 8u + 17u * 9u);
  EXPECT_EQ(p.dram_channels, 4u);
  EXPECT_EQ(p.dram_bytes, uint64_t{1} << 30);
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

TEST(Config, Tiles) {
  Config t = load_config("tiny");  // 2 tiles of 2x1: columns 0 and 1
  ASSERT_EQ(t.num_tiles(), 2u);
  EXPECT_EQ(t.tile_of(t.slot_id(1, 0)), 0u);
  EXPECT_EQ(t.tile_of(t.slot_id(0, 1)), 1u);
  EXPECT_EQ(t.tile_of(t.agcu_id(0)), 0u);
  EXPECT_EQ(t.tile_of(t.agcu_id(1)), 1u);
  EXPECT_EQ(t.tile_of(t.switch_id(2, 0)), 0u);
  EXPECT_EQ(t.tile_of(t.switch_id(0, 2)), 1u);  // the last switch column: the last tile
  // Tile 1 is tile 0 mirrored (PMU where tile 0 has a PCU): no relocation between them.
  EXPECT_THROW(t.relocate(t.slot_id(0, 0), 0, 1), std::out_of_range);
  EXPECT_EQ(t.relocate(t.agcu_id(0), 0, 1), t.agcu_id(1));
  Config s = load_config("small");  // 2 tiles of 4x2
  ASSERT_EQ(s.num_tiles(), 2u);
  EXPECT_EQ(s.relocate(s.slot_id(3, 1), 0, 1), s.slot_id(3, 3));
  EXPECT_EQ(s.relocate(s.agcu_id(1), 0, 1), s.agcu_id(3));
  EXPECT_EQ(s.relocate(s.switch_id(4, 1), 0, 1), s.switch_id(4, 3));
  EXPECT_EQ(s.relocate(s.slot_id(2, 3), 1, 0), s.slot_id(2, 1));
  Config p = load_config("plasticine");  // 4 tiles of 16x2, 2 AGCUs each
  EXPECT_EQ(p.num_tiles(), 4u);
  EXPECT_EQ(p.tile_of(p.agcu_id(7)), 3u);
  Config one = load_config("small");
  one.tile_rows = one.tile_cols = 0;  // no tiles key: one tile, the whole grid
  EXPECT_EQ(one.num_tiles(), 1u);
  EXPECT_EQ(one.tile_of(one.switch_id(4, 4)), 0u);
}

// relocate_bitstream's dram_offset: an enabled AGCU stream's base moves with the layout,
// a disabled stream's word stays; the unit moves to the target tile.
TEST(Config, RelocationMovesEnabledAgcuStreamBases) {
  const Config s = load_config("small");  // 2 tiles of 4x2, AGCUs 0-1 in tile 0, 2-3 in tile 1
  namespace bits = openrdu::gen::bits;
  std::vector<uint32_t> agcu(s.config_words(UnitKind::Agcu), 0);
  agcu[0] = 1, agcu[1] = 0x100;                                                        // ld0 enabled at 0x100
  agcu[bits::kAgcuStreamWords + 1] = 0x200;                                            // ld1 disabled
  agcu[2 * bits::kAgcuStreamWords] = 1, agcu[2 * bits::kAgcuStreamWords + 1] = 0x300;  // st0 enabled
  const std::vector<uint32_t> tiles = {1};
  const auto moved =
      parse_bitstream(s, relocate_bitstream(s, assemble_bitstream(s, {{s.agcu_id(0), agcu}}), tiles, 0x10000000u));
  const auto& w = moved[s.agcu_id(2)];
  EXPECT_EQ(w[1], 0x10000100u);
  EXPECT_EQ(w[bits::kAgcuStreamWords + 1], 0x200u);
  EXPECT_EQ(w[2 * bits::kAgcuStreamWords + 1], 0x10000300u);
  EXPECT_EQ(moved[s.agcu_id(0)], std::vector<uint32_t>(agcu.size(), 0u));
}

TEST(Config, TileErrorsNameTheProblem) {
  auto error_of = [](Config c) {
    try {
      c.validate();
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  Config p = load_config("plasticine");
  p.tile_rows = 8, p.tile_cols = 4;  // 2x2 tiles: the top two have no AGCU
  EXPECT_NE(error_of(p).find("tile 0 has no AGCU"), std::string::npos) << error_of(p);
  Config s = load_config("small");
  s.tile_cols = 3;
  EXPECT_NE(error_of(s).find("must divide grid.rows and grid.cols"), std::string::npos) << error_of(s);
  s.tile_cols = 0, s.tile_rows = 0;
  s.rows = s.cols = 16, s.agcu = 16, s.tile_rows = 16, s.tile_cols = 1;  // 16 tiles
  EXPECT_NE(error_of(s).find("at most 8"), std::string::npos) << error_of(s);
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
  p.out_mode = 1;
  p.reduce = 2;
  p.acc_len = 37;
  p.acc_init = 0x80000000u;
  p.stages[2].op = openrdu::gen::Opcode::FMA;
  p.stages[2].src_a = uint8_t(openrdu::gen::Src::BREG1);
  p.stages[2].src_c = uint8_t(openrdu::gen::Src::ACC);
  p.stages[2].bl = 13;
  p.stages[2].acc = true;
  AgcuConfig a;
  a.ld[0] = AgcuStream::linear(0x1000, 67, c.lanes);
  a.ld[1] = AgcuStream::linear(0x2000, 5, c.lanes);  // v1 broadcast: lstride 0, s0 0
  a.ld[1].lstride = 0;
  a.ld[1].s[0] = 0;
  a.ld[1].c[1] = 3;
  a.ld[1].s[1] = 5;
  a.ld[1].c[2] = 2;
  a.ld[1].s[2] = 15;
  a.st = AgcuStream::linear(0x3000, 67, c.lanes);
  a.st.vdim = 3;
  a.st.lstride = -7;
  a.st.vstep = 0;
  a.st.c[3] = 9;
  a.st.s[3] = -100000;
  SwitchConfig s;
  s.sel[kVectorNet][kNorth] = 1 + kLocal0;
  s.sel[kControlNet][6] = 3;
  PmuConfig m;
  m.enable = true;
  m.mode = 2;
  m.nbuf = 3;
  m.tiles = 6;
  m.buf_rows = 40;
  m.wr = {3, 4, 5, 1, -2, 6, -11};
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
  EXPECT_EQ(p.out_mode, 1);
  EXPECT_EQ(p.reduce, 2);
  EXPECT_EQ(p.acc_len, 37u);
  EXPECT_EQ(p.acc_init, 0x80000000u);
  EXPECT_EQ(p.stages[2].src_a, uint8_t(openrdu::gen::Src::BREG1));
  EXPECT_EQ(p.stages[2].src_c, uint8_t(openrdu::gen::Src::ACC));
  EXPECT_EQ(p.stages[2].bl, 13);
  EXPECT_TRUE(p.stages[2].acc);
  EXPECT_FALSE(p.stages[1].acc);
  AgcuConfig a = AgcuConfig::decode(units[c.agcu_id(0)]);
  EXPECT_EQ(a.ld[1].lstride, 0);
  EXPECT_EQ(a.ld[1].s[2], 15);
  EXPECT_EQ(a.ld[1].vectors(), 2u * 3u * 2u);
  EXPECT_EQ(a.st.base, 0x3000u);
  EXPECT_EQ(a.st.vdim, 3);
  EXPECT_EQ(a.st.lstride, -7);
  EXPECT_EQ(a.st.vlen, 67u);
  EXPECT_EQ(a.st.vstep, 0u);
  EXPECT_EQ(a.st.c[0], 17u);
  EXPECT_EQ(a.st.s[0], 4);
  EXPECT_EQ(a.st.c[3], 9u);
  EXPECT_EQ(a.st.s[3], -100000);
  EXPECT_EQ(a.st.vectors(), 17u * 9u);
  EXPECT_EQ(a.encode(), AgcuConfig::decode(a.encode()).encode());
  EXPECT_EQ(a.encode().size(), kAgcuWords);
  // The encoded words of one stream, in the order of `docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)").
  const auto w = a.encode();
  const uint32_t* st = w.data() + 2 * kAgcuStreamWords;
  EXPECT_EQ(st[0], 1u | (3u << 2));
  EXPECT_EQ(st[1], 0x3000u);
  EXPECT_EQ(st[2], uint32_t(-7));
  EXPECT_EQ(st[3], 67u);
  EXPECT_EQ(st[4], 0u);
  EXPECT_EQ(st[5], 17u);
  EXPECT_EQ(st[6], 4u);
  EXPECT_EQ(st[11], 9u);
  EXPECT_EQ(st[12], uint32_t(-100000));
  PmuConfig m = PmuConfig::decode(units[c.slot_id(0, 1)]);
  EXPECT_EQ(m.wr.s1, -2);
  EXPECT_EQ(m.rd.s0, -1);
  EXPECT_EQ(m.mode, 2);
  EXPECT_EQ(m.nbuf, 3);
  EXPECT_EQ(m.tiles, 6u);
  EXPECT_EQ(m.buf_rows, 40u);
  EXPECT_EQ(m.wr.c2, 6u);
  EXPECT_EQ(m.wr.s2, -11);
  EXPECT_EQ(m.wr.accesses(), 4u * 5u * 6u);
  EXPECT_EQ(m.rd.c2, 1u);  // v1-style aggregate: c2 defaults to 1
  EXPECT_EQ(m.rd.s2, 0);
  // Layout of the PMU words as in `docs/bitstream.md` ("PMU configuration").
  const auto& mw = units[c.slot_id(0, 1)];
  ASSERT_EQ(mw.size(), size_t(kPmuWords));
  ASSERT_EQ(kPmuWords, 17u);
  ASSERT_EQ(c.config_words(UnitKind::Pmu), kPmuWords);
  EXPECT_EQ(mw[0], 1u | (2u << 1) | (3u << 4));
  EXPECT_EQ(mw[1], 6u);
  EXPECT_EQ(mw[2], 40u);
  EXPECT_EQ(mw[3], 3u);   // wbase
  EXPECT_EQ(mw[4], 4u);   // wc0
  EXPECT_EQ(mw[5], 1u);   // ws0
  EXPECT_EQ(mw[6], 5u);   // wc1
  EXPECT_EQ(mw[7], uint32_t(-2));
  EXPECT_EQ(mw[8], 6u);   // wc2
  EXPECT_EQ(mw[9], uint32_t(-11));
  EXPECT_EQ(mw[10], 7u);  // rbase
  EXPECT_EQ(mw[11], 8u);
  EXPECT_EQ(mw[12], uint32_t(-1));
  EXPECT_EQ(mw[13], 9u);
  EXPECT_EQ(mw[14], 10u);
  EXPECT_EQ(mw[15], 1u);
  EXPECT_EQ(mw[16], 0u);
  // All-zero words decode to one buffer and one tile.
  const std::vector<uint32_t> zero(kPmuWords, 0);
  PmuConfig z = PmuConfig::decode(zero);
  EXPECT_EQ(z.buffers(), 1u);
  EXPECT_EQ(z.num_tiles(), 1u);
  EXPECT_EQ(z.wr.accesses(), 0u);
  SwitchConfig s = SwitchConfig::decode(units[c.switch_id(1, 0)]);
  EXPECT_EQ(s.sel[kVectorNet][kNorth], 1 + kLocal0);
  EXPECT_EQ(s.sel[kControlNet][6], 3);
  // Units absent from the stream are all zero (disabled).
  for (uint32_t w : units[c.slot_id(1, 1)]) EXPECT_EQ(w, 0u);
  // Layout of word 0 of the PCU as in `docs/bitstream.md` ("PCU configuration").
  EXPECT_EQ(units[0][0], 1u | (2u << 4) | (3u << 8) | (1u << 12) | (2u << 14));
  EXPECT_EQ(units[0][2], 37u);  // acc_len
  EXPECT_EQ(units[0][3], 0x80000000u);
  EXPECT_EQ(units[0][4 + 2 * 2], uint32_t(openrdu::gen::Opcode::FMA) | (5u << 8) | (11u << 20) | (13u << 24) | (1u << 28));
  EXPECT_EQ(units[0].size(), c.config_words(UnitKind::Pcu));
  EXPECT_EQ(c.config_words(UnitKind::Pcu), 13u + 2u * c.stages);
}

// The counter chain's words (4+2S+3k: min, max, stride) round-trip; all zero, encode()
// leaves them out (older bitstreams, and every program without counters, stay short).
// PMU and AGCU control fields (`docs/bitstream.md`): where the bits are,
// and that decode gives back what encode wrote.
TEST(Bitstream, PmuAgcuControlBits) {
  PmuConfig m;
  m.enable = true;
  m.nbuf = 2;
  m.tin = true;
  m.tsel = true;
  m.tok_init = 11;
  EXPECT_EQ(m.encode()[0], 1u | (2u << 4) | (1u << 8) | (1u << 10) | (11u << 12));
  m.tin = false;
  m.tout = true;
  m.tsel = false;
  EXPECT_EQ(m.encode()[0], 1u | (2u << 4) | (1u << 9) | (11u << 12));
  const PmuConfig md = PmuConfig::decode(m.encode());
  EXPECT_FALSE(md.tin);
  EXPECT_TRUE(md.tout);
  EXPECT_FALSE(md.tsel);
  EXPECT_EQ(md.tok_init, 11);
  EXPECT_EQ(PmuConfig::decode(std::vector<uint32_t>{0xF701u}).tok_init, 15);  // bits 15:12
  EXPECT_TRUE(PmuConfig::decode(std::vector<uint32_t>{0xF701u}).tin);
  EXPECT_TRUE(PmuConfig::decode(std::vector<uint32_t>{0xF701u}).tout);
  EXPECT_TRUE(PmuConfig::decode(std::vector<uint32_t>{0xF701u}).tsel);

  AgcuConfig a;
  a.ld[1] = AgcuStream::linear(0x100, 8, 4);
  a.ld[1].tin = true;
  a.ld[1].tok_init = 3;
  a.st = AgcuStream::linear(0x200, 8, 4);
  a.st.vdim = 2;
  a.st.tout = true;
  const auto w = a.encode();
  EXPECT_EQ(w[kAgcuStreamWords], 1u | (1u << 4) | (3u << 8));
  EXPECT_EQ(w[2 * kAgcuStreamWords], 1u | (2u << 2) | (1u << 5));
  const AgcuConfig ad = AgcuConfig::decode(w);
  EXPECT_TRUE(ad.ld[1].tin);
  EXPECT_FALSE(ad.ld[1].tout);
  EXPECT_EQ(ad.ld[1].tok_init, 3);
  EXPECT_FALSE(ad.st.tin);
  EXPECT_TRUE(ad.st.tout);
  EXPECT_EQ(ad.st.vdim, 2);
  EXPECT_EQ(ad.encode(), w);
}

TEST(Bitstream, PcuCounterChainWords) {
  const Config c = load_config("tiny");
  PcuConfig p;
  p.enable = true;
  p.stages.resize(c.stages);
  EXPECT_EQ(p.encode(c).size(), 4u + 2u * c.stages);
  p.ctr[0] = {-3, 100, 2};
  p.ctr[2] = {7, -1, int32_t(0x80000000u)};
  const std::vector<uint32_t> w = p.encode(c);
  ASSERT_EQ(w.size(), c.config_words(UnitKind::Pcu));
  const uint32_t cw = 4 + 2 * c.stages;
  EXPECT_EQ(w[cw + 0], uint32_t(-3));
  EXPECT_EQ(w[cw + 1], 100u);
  EXPECT_EQ(w[cw + 2], 2u);
  EXPECT_EQ(w[cw + 3], 0u);
  EXPECT_EQ(w[cw + 6], 7u);
  EXPECT_EQ(w[cw + 7], 0xFFFFFFFFu);
  EXPECT_EQ(w[cw + 8], 0x80000000u);
  const PcuConfig d = PcuConfig::decode(c, w);
  EXPECT_EQ(d.ctr, p.ctr);
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
  w[1] = 1;  // format version 1 (before the PCU v2 configuration) is refused
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_VERSION);
  w[1] = 3;
  EXPECT_EQ(parse_error(c, w), ErrorCode::BAD_VERSION);
  EXPECT_EQ(good[1], 2u);
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
