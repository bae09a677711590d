// Tiles (`docs/hardware.md` ("Tiles")): exclusive partitions of one core, on the core and
// configuration named by OPENRDU_TILES_CORE and OPENRDU_TILES_CONFIG (built for the
// functional core on tiny, small and plasticine, label unit, and for the Verilated tiny
// core, label rtl). One program per tile, each in its own tile's column of switches:
// every output equals the host's arithmetic and the same program's output when it ran
// alone; a program storing outside its tile's DRAM window stops alone with MEM_ERROR
// naming its AGCU; a record for another tile's unit is BAD_UNIT; a switch link across a
// tile boundary carries data only while both tiles have one owner (TILE_OWNER).
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/gen/isa.h"
#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"
#include "platform_test_util.h"

namespace {

using namespace openrdu;
namespace reg = gen::reg;
using arch::kLocal0;
using arch::kNorth;
using arch::kSouth;
using arch::kEast;
using arch::kWest;

constexpr double kTo = 60;  // seconds, every wait

const arch::Config& cfg() {
  static arch::Config c = arch::load_config(OPENRDU_TILES_CONFIG);
  return c;
}

platform::Platform& plat() { return platform::test::platform_of(cfg(), OPENRDU_TILES_CORE); }

uint32_t rd(uint32_t off) { return plat().mmio_read(off, kTo); }
void wr(uint32_t off, uint32_t v) { plat().mmio_write(off, v, kTo); }
uint32_t tiles() { return cfg().num_tiles(); }
uint32_t err_code(uint32_t e) { return e & 0xFF; }
uint32_t err_unit(uint32_t e) { return e >> 8 & 0xFFFF; }

void dma(bool to_host, uint64_t bus, uint32_t dev, uint32_t len) {
  ASSERT_EQ(platform::test::dma(plat(), to_host, bus, dev, len, kTo), reg::DMA_STATUS_DONE_MASK);
}

void put_words(uint32_t dev, const std::vector<uint32_t>& w) {
  const uint64_t bus = plat().host_alloc(4 * w.size());
  std::memcpy(plat().host_ptr(bus, 4 * w.size()), w.data(), 4 * w.size());
  dma(false, bus, dev, static_cast<uint32_t>(4 * w.size()));
  plat().host_free(bus);
}

std::vector<uint32_t> get_words(uint32_t dev, size_t n) {
  const uint64_t bus = plat().host_alloc(4 * n);
  dma(true, bus, dev, static_cast<uint32_t>(4 * n));
  std::vector<uint32_t> v(n);
  std::memcpy(v.data(), plat().host_ptr(bus, 4 * n), 4 * n);
  plat().host_free(bus);
  return v;
}

// Each tile's DRAM window: 4 MiB from 0x1000000 * (t + 1): bitstream at +0, input at
// +1 MiB, output at +2 MiB.
constexpr uint32_t kWindow = 0x400000;
uint32_t base(uint32_t t) { return 0x1000000u * (t + 1); }
uint32_t in_addr(uint32_t t) { return base(t) + 0x100000; }
uint32_t out_addr(uint32_t t) { return base(t) + 0x200000; }
uint32_t elems(uint32_t t) { return 2048 * cfg().lanes + 13 * t + 5; }  // a ragged tail, different per tile
float scale(uint32_t t) { return 1.5f + float(t); }
float bias(uint32_t t) { return -0.25f * float(t + 1); }

void route(arch::UnitWords& u, uint32_t r, uint32_t c, std::initializer_list<std::pair<uint32_t, uint32_t>> out_in) {
  arch::SwitchConfig sw;
  if (auto it = u.find(cfg().switch_id(r, c)); it != u.end()) sw = arch::SwitchConfig::decode(it->second);
  for (auto [o, i] : out_in) sw.sel[arch::kVectorNet][o] = static_cast<uint8_t>(1 + i);
  u[cfg().switch_id(r, c)] = sw.encode();
}

// out[i] = in[i] * scale + bias (FMUL then FADD, each rounded), i < n: AGCU `k` loads,
// the lowest PCU of column `col` computes, AGCU `k` stores. The vectors go up column
// `col` from the AGCU row and come back down; when k != col they cross from column k
// along the AGCU row first (a route through the switches between).
arch::UnitWords scale_program(uint32_t k, uint32_t col, uint32_t src, uint32_t dst, uint32_t n, float m, float b) {
  const arch::Config& c = cfg();
  const uint32_t R = c.rows;
  const uint32_t pr = c.slot_is_pcu(R - 1, col) ? R - 1 : R - 2;
  arch::UnitWords u;
  arch::PcuConfig pcu;
  pcu.enable = true;
  pcu.vin_mask = 0b001;
  pcu.count = (n + c.lanes - 1) / c.lanes;
  pcu.stages.resize(c.stages);
  pcu.stages[0] = {gen::Opcode::FMUL, 0, uint8_t(gen::Src::IMM), 0, std::bit_cast<uint32_t>(m)};
  pcu.stages[1] = {gen::Opcode::FADD, 0, uint8_t(gen::Src::IMM), 0, std::bit_cast<uint32_t>(b)};
  u[c.slot_id(pr, col)] = pcu.encode(c);
  arch::AgcuConfig ag;
  ag.ld[0] = arch::AgcuStream::linear(src, n, c.lanes);
  ag.st = arch::AgcuStream::linear(dst, n, c.lanes);
  u[c.agcu_id(k)] = ag.encode();
  // Along the AGCU row from column k to col (out toward col, back toward k), then up.
  const uint32_t to = col > k ? kEast : kWest, back = col > k ? kWest : kEast;
  if (k == col) {
    route(u, R, k, {{kNorth, kLocal0}, {kLocal0, kNorth}});
  } else {
    route(u, R, k, {{to, kLocal0}, {kLocal0, to}});
    for (uint32_t x = std::min(k, col) + 1; x < std::max(k, col); ++x) route(u, R, x, {{to, back}, {back, to}});
    route(u, R, col, {{kNorth, back}, {back, kNorth}});
  }
  for (uint32_t r = pr + 1; r < R; ++r) route(u, r, col, {{kNorth, kSouth}, {kSouth, kNorth}});
  route(u, pr, col, {{kLocal0, kSouth}, {kSouth, kLocal0}});
  return u;
}

// Tile t's program, in the first column of its tile with its first AGCU.
arch::UnitWords tile_program(uint32_t t, uint32_t dst) {
  const uint32_t col = t % cfg().tiles_across() * cfg().tile_w();
  return scale_program(col, col, in_addr(t), dst, elems(t), scale(t), bias(t));
}

std::vector<uint32_t> input(uint32_t t) {
  std::vector<uint32_t> v(elems(t));
  for (uint32_t i = 0; i < v.size(); ++i) v[i] = std::bit_cast<uint32_t>(float(int(i * 7 + t * 31) % 97) * 0.125f - 3.0f);
  return v;
}

std::vector<uint32_t> expected(uint32_t t) {
  std::vector<uint32_t> v = input(t);
  for (auto& w : v) w = std::bit_cast<uint32_t>(std::bit_cast<float>(w) * scale(t) + bias(t));
  return v;
}

// Polls TILE_STATUS until none of `mask` runs or configures (a bounded number of reads).
void wait_idle(uint32_t mask) {
  for (int i = 0; i < 200000; ++i) {
    const uint32_t s = rd(reg::TILE_STATUS);
    if (((s >> 8) & mask) == 0 && (rd(reg::STATUS) & reg::STATUS_CONFIGURING_MASK) == 0) return;
  }
  FAIL() << "tiles 0x" << std::hex << mask << " still busy";
}

// TILE_CTRL.CONFIGURE of `mask` with the bitstream of `u` stored at `addr`; returns the
// lowest configured tile's TILE_ERR (code NONE, unit 0xFFFF on success).
uint32_t configure(uint32_t mask, const arch::UnitWords& u, uint32_t addr) {
  const auto bs = arch::assemble_bitstream(cfg(), u);
  put_words(addr, bs);
  wr(reg::CFG_ADDR, addr);
  wr(reg::CFG_LEN, static_cast<uint32_t>(4 * bs.size()));
  wr(reg::TILE_CTRL, mask << 16);  // TILE_CTRL.CONFIGURE
  wait_idle(0);
  return rd(reg::TILE_ERR0 + 4 * std::countr_zero(mask));
}

class TilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wr(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
    wr(reg::TILE_OWNER, 0);
    wr(reg::WATCHDOG, 0);
    wr(reg::PROT_CTRL, 0);
    for (uint32_t i = 0; i < 8; ++i) {
      wr(reg::PROT_INDEX, i);
      wr(reg::PROT_BASE, 0);
      wr(reg::PROT_LIMIT, 0);
      wr(reg::PROT_TILES, 0);
    }
    for (uint32_t t = 0; t < tiles(); ++t) {
      put_words(in_addr(t), input(t));
      put_words(out_addr(t), std::vector<uint32_t>(elems(t), 0xDEADBEEF));
    }
  }
  // Every tile its own owner (1 + t) and its own program, configured one after the other.
  void configure_all() {
    uint32_t owners = 0;
    for (uint32_t t = 0; t < tiles(); ++t) owners |= (1 + t) << (4 * t);
    wr(reg::TILE_OWNER, owners);
    for (uint32_t t = 0; t < tiles(); ++t)
      ASSERT_EQ(configure(1u << t, tile_program(t, out_addr(t)), base(t)), 0xFFFFu << 8) << "tile " << t;
  }
};

TEST_F(TilesTest, EachTileAloneThenAllAtOnceAreBitExact) {
  ASSERT_GE(tiles(), 2u) << cfg().name << " has one tile";
  std::vector<std::vector<uint32_t>> alone(tiles());
  for (uint32_t t = 0; t < tiles(); ++t) {
    ASSERT_EQ(configure(1u << t, tile_program(t, out_addr(t)), base(t)), 0xFFFFu << 8) << "tile " << t;
    wr(reg::TILE_CTRL, 1u << t);
    wait_idle(1u << t);
    EXPECT_EQ(rd(reg::TILE_STATUS) >> 16 & 0xFF, (2u << t) - 1) << "DONE of tile " << t << " and those before";
    alone[t] = get_words(out_addr(t), elems(t));
    EXPECT_EQ(alone[t], expected(t)) << "tile " << t << " alone";
    put_words(out_addr(t), std::vector<uint32_t>(elems(t), 0xDEADBEEF));
  }
  configure_all();
  wr(reg::TILE_IRQ_STATUS, 0xFFFFFF);
  for (uint32_t t = 0; t < tiles(); ++t) wr(reg::TILE_CTRL, 1u << t);  // each its own run group
  const uint32_t all = (1u << tiles()) - 1;
  EXPECT_EQ(rd(reg::TILE_STATUS) >> 8 & all, all) << "every tile running at once";
  wait_idle(all);
  const uint32_t st = rd(reg::TILE_STATUS);
  EXPECT_EQ(st >> 16 & 0xFF, all) << std::hex << st;
  EXPECT_EQ(st >> 24 & 0xFF, 0u) << std::hex << st;
  EXPECT_EQ(rd(reg::TILE_IRQ_STATUS) & 0xFFFF, all) << "RUN_DONE of every tile, no ERROR";
  for (uint32_t t = 0; t < tiles(); ++t) {
    EXPECT_EQ(get_words(out_addr(t), elems(t)), alone[t]) << "tile " << t << " at once";
    EXPECT_GT(rd(reg::TILE_CYCLES0 + 4 * t), 0u);
  }
}

TEST_F(TilesTest, StoreOutsideItsWindowFaultsAloneAndTheOthersFinish) {
  ASSERT_GE(tiles(), 2u);
  // Each tile's window, for its AGCUs only.
  for (uint32_t t = 0; t < tiles(); ++t) {
    wr(reg::PROT_INDEX, t);
    wr(reg::PROT_BASE, base(t));
    wr(reg::PROT_LIMIT, base(t) + kWindow);
    wr(reg::PROT_TILES, 1u << t);
  }
  wr(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
  configure_all();
  // Tile 0's program, crafted to store over tile 1's input.
  ASSERT_EQ(configure(1, tile_program(0, in_addr(1)), base(0)), 0xFFFFu << 8);
  const uint32_t refused = rd(reg::PROT_REFUSED);
  for (uint32_t t = 0; t < tiles(); ++t) wr(reg::TILE_CTRL, 1u << t);
  const uint32_t all = (1u << tiles()) - 1;
  wait_idle(all);
  const uint32_t st = rd(reg::TILE_STATUS);
  EXPECT_EQ(st >> 24 & 0xFF, 1u) << "ERROR of tile 0 only: " << std::hex << st;
  EXPECT_EQ(st >> 16 & 0xFF, all & ~1u) << "DONE of the others: " << std::hex << st;
  const uint32_t e = rd(reg::TILE_ERR0);
  EXPECT_EQ(err_code(e), static_cast<uint32_t>(gen::ErrorCode::MEM_ERROR)) << std::hex << e;
  EXPECT_EQ(err_unit(e), cfg().agcu_id(0)) << cfg().unit_name(err_unit(e));
  EXPECT_GT(rd(reg::PROT_REFUSED), refused);
  EXPECT_EQ(get_words(in_addr(1), elems(1)), input(1)) << "tile 1's input untouched";
  for (uint32_t t = 1; t < tiles(); ++t) {
    EXPECT_EQ(rd(reg::TILE_ERR0 + 4 * t), 0xFFFFu << 8);
    EXPECT_EQ(get_words(out_addr(t), elems(t)), expected(t)) << "tile " << t;
  }
}

TEST_F(TilesTest, RecordForAnotherTilesUnitIsBadUnit) {
  ASSERT_GE(tiles(), 2u);
  configure_all();
  // Tile 1's program configured onto tile 0: its first record names a unit of tile 1.
  const arch::UnitWords u = tile_program(1, out_addr(1));
  const uint32_t e = configure(1, u, base(0));
  EXPECT_EQ(err_code(e), static_cast<uint32_t>(gen::ErrorCode::BAD_UNIT)) << std::hex << e;
  EXPECT_EQ(cfg().tile_of(err_unit(e)), 1u) << cfg().unit_name(err_unit(e));
  EXPECT_EQ(rd(reg::TILE_STATUS) & 0xFF, ((1u << tiles()) - 1) & ~1u) << "tile 0 unconfigured, the others kept";
  // Tile 1 still holds its own program and runs it.
  wr(reg::TILE_CTRL, 2);
  wait_idle(2);
  EXPECT_EQ(get_words(out_addr(1), elems(1)), expected(1));
}

TEST_F(TilesTest, LinkAcrossATileBoundaryIsOffBetweenOwners) {
  ASSERT_GE(tiles(), 2u);
  // AGCU 0 (tile 0) feeds the PCU of tile 1's first column: the route crosses the
  // boundary along the AGCU row. Tiles 0 and 1 configured and started together.
  const uint32_t col = cfg().tile_w();
  const arch::UnitWords u = scale_program(0, col, in_addr(0), out_addr(0), elems(0), scale(0), bias(0));
  ASSERT_EQ(configure(3, u, base(0)), 0xFFFFu << 8);
  wr(reg::TILE_CTRL, 3);
  wait_idle(3);
  EXPECT_EQ(get_words(out_addr(0), elems(0)), expected(0)) << "one owner: the link is on";
  put_words(out_addr(0), std::vector<uint32_t>(elems(0), 0xDEADBEEF));
  wr(reg::TILE_OWNER, 0x21);  // tile 0 owner 1, tile 1 owner 2
  wr(reg::WATCHDOG, 20000);
  wr(reg::TILE_CTRL, 3);
  wait_idle(3);
  const uint32_t e = rd(reg::TILE_ERR0);
  EXPECT_EQ(err_code(e), static_cast<uint32_t>(gen::ErrorCode::WATCHDOG)) << std::hex << e;
  EXPECT_EQ(rd(reg::TILE_ERR1), e) << "one run group, one error";
  EXPECT_EQ(get_words(out_addr(0), elems(0)), std::vector<uint32_t>(elems(0), 0xDEADBEEF)) << "nothing crossed";
}

}  // namespace
