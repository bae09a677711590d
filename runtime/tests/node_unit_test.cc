// The node daemon's allocator and request checks (runtime/include/openrdu/runtime/node.h),
// without a daemon.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "openrdu/gen/regs.h"
#include "openrdu/runtime/node.h"

namespace openrdu::node {
namespace {

namespace reg = gen::reg;

TEST(TileAllocator, GrantsLowestFreeTileAndRefusesWhenFull) {
  TileAllocator a(2, 2, 8);
  const auto t1 = a.acquire(1, false, {}), t2 = a.acquire(2, false, {}), t3 = a.acquire(3, false, {});
  ASSERT_TRUE(t1 && t2 && t3);
  EXPECT_EQ(t1->rdu, 0u);
  EXPECT_EQ(t1->tile, 0u);
  EXPECT_EQ(t2->rdu, 0u);
  EXPECT_EQ(t2->tile, 1u);
  EXPECT_EQ(t3->rdu, 1u);
  EXPECT_EQ(t3->tile, 0u);
  ASSERT_TRUE(a.acquire(4, false, {}));
  EXPECT_FALSE(a.acquire(5, false, {}));
  EXPECT_EQ(a.busy_reason(), "4 of 8 applications running (--max-apps 8), 0 of 4 tiles free, 0 waiting");
  a.release(2);
  const auto t5 = a.acquire(5, false, {});
  ASSERT_TRUE(t5);
  EXPECT_EQ(t5->rdu, 0u);
  EXPECT_EQ(t5->tile, 1u);
  EXPECT_EQ(a.owners(), (std::vector<uint64_t>{1, 5, 3, 4}));
}

TEST(TileAllocator, MaxAppsLimitsBelowTheTiles) {
  TileAllocator a(4, 1, 2);
  ASSERT_TRUE(a.acquire(1, false, {}));
  ASSERT_TRUE(a.acquire(2, false, {}));
  EXPECT_FALSE(a.acquire(3, false, {}));
  EXPECT_EQ(a.busy_reason(), "2 of 2 applications running (--max-apps 2), 2 of 4 tiles free, 0 waiting");
}

TEST(TileAllocator, WaitersAreServedInOrderAndCancelLeavesTheLine) {
  TileAllocator a(1, 1, 8);
  ASSERT_TRUE(a.acquire(1, false, {}));
  std::atomic<int> granted{0};
  std::atomic<bool> cancel2{false};
  std::thread w2([&] {
    if (a.acquire(2, true, [&] { return cancel2.load(); })) granted = 2;
  });
  while (a.waiting() < 1) std::this_thread::yield();
  std::thread w3([&] {
    if (a.acquire(3, true, {})) granted = 3;
  });
  while (a.waiting() < 2) std::this_thread::yield();
  EXPECT_FALSE(a.acquire(4, false, {})) << "a request that does not wait may not jump the line";
  cancel2 = true;
  w2.join();
  EXPECT_EQ(a.waiting(), 1u);
  a.release(1);
  w3.join();
  EXPECT_EQ(granted, 3);
  EXPECT_EQ(a.owners(), (std::vector<uint64_t>{3}));
}

struct WithTiles {
  int tiles = 4;
};
struct WithoutTiles {};

TEST(NodeChecks, TilesPerRduFromTheConfigurationKeyElseOne) {
  EXPECT_EQ(tiles_per_rdu(WithTiles{}), 4u);
  EXPECT_EQ(tiles_per_rdu(WithTiles{0}), 1u);
  EXPECT_EQ(tiles_per_rdu(WithoutTiles{}), 1u);
  EXPECT_EQ(tile_dram_window(1 << 20, 4, 2).base, 512u << 10);
  EXPECT_EQ(tile_dram_window(1 << 20, 4, 2).bytes, 256u << 10);
}

TEST(NodeChecks, RegisterChecks) {
  EXPECT_EQ(check_register_access(reg::CTRL, true), "");
  EXPECT_EQ(check_register_access(reg::DMA_H2D_BYTES, false), "");
  EXPECT_EQ(check_register_access(reg::DRAM_CH_SEL, true), "");
  EXPECT_EQ(check_register_access(reg::PROT_LAST_ADDR, false), "");
  EXPECT_NE(check_register_access(reg::PROT_BASE, true).find("belong to the node daemon"), std::string::npos);
  EXPECT_NE(check_register_access(reg::DMA_RING_HEAD, true).find("DMA engine's registers"), std::string::npos);
  EXPECT_EQ(check_register_access(0x2000, false),
            "BAR0 offset 0x2000 is outside the core (0x000-0x0FF) and DMA (0x1000-0x10FF) blocks");
  EXPECT_EQ(check_register_access(0x3, false), "BAR0 offset 0x3 is not 32-bit aligned");
}

TEST(TileAllocator, ConsecutiveTilesOfOneRdu) {
  TileAllocator a(2, 4, 8);
  const auto t1 = a.acquire(1, false, {}, 1), t2 = a.acquire(2, false, {}, 2);
  ASSERT_TRUE(t1 && t2);
  EXPECT_EQ(t1->mask(), 0x1u);
  EXPECT_EQ(t2->mask(), 0x6u);
  const auto t3 = a.acquire(3, false, {}, 2);  // tile 3 of RDU 0 alone is too short
  ASSERT_TRUE(t3);
  EXPECT_EQ(t3->rdu, 1u);
  EXPECT_EQ(t3->tile, 0u);
  EXPECT_FALSE(a.acquire(4, false, {}, 0)) << "no whole RDU is free";
  const auto t5 = a.acquire(5, false, {}, 1);
  ASSERT_TRUE(t5);
  EXPECT_EQ(t5->rdu, 0u);
  EXPECT_EQ(t5->tile, 3u);
  a.release(2);
  EXPECT_EQ(a.owners(), (std::vector<uint64_t>{1, 0, 0, 5, 3, 3, 0, 0}));
  EXPECT_THROW(a.acquire(6, false, {}, 5), std::invalid_argument);
}

TEST(NodeChecks, SharedRduRegisterChecks) {
  // Tiles 1 and 2 of an RDU of 4 (mask 0x6).
  EXPECT_EQ(check_register_access(reg::TILE_CTRL, true, 0x6u << 16, 0x6, 0xF), "");
  EXPECT_NE(check_register_access(reg::TILE_CTRL, true, 0x1u << 8, 0x6, 0xF).find("not the application's"),
            std::string::npos);
  EXPECT_NE(check_register_access(reg::TILE_IRQ_STATUS, true, 0x8u, 0x6, 0xF), "");
  EXPECT_EQ(check_register_access(reg::TILE_IRQ_ENABLE, true, 0xFFFFFFu, 0x6, 0xF), "");  // merged by the worker
  for (uint32_t r : {reg::CTRL, reg::TILE_OWNER, reg::IRQ_ENABLE, reg::IRQ_STATUS})
    EXPECT_NE(check_register_access(r, true, 0, 0x6, 0xF).find("device-wide control"), std::string::npos) << r;
  EXPECT_EQ(check_register_access(reg::CTRL, true, 0, 0xF, 0xF), "") << "a whole RDU";
  EXPECT_EQ(check_register_access(reg::CFG_ADDR, true, 0, 0x6, 0xF), "");
}

TEST(NodeChecks, SharedRduDeviceWideWrites) {
  const arch::Config p = arch::load_config("plasticine");  // 4 tiles of 16x2 slots
  const uint32_t tile1_unit = 2, tile0_unit = 0;           // slots (0,2) and (0,0)
  ASSERT_EQ(p.tile_of(tile1_unit), 1u);
  ASSERT_EQ(p.tile_of(tile0_unit), 0u);
  EXPECT_EQ(check_shared_write(p, reg::WATCHDOG, 1000, 0x1, 1000), "") << "the value held";
  EXPECT_EQ(check_shared_write(p, reg::WATCHDOG, 999, 0x1, 1000),
            "BAR0 0x50 (WATCHDOG) value 999: the watchdog is device-wide; on a shared RDU the node daemon holds it at "
            "1000 cycles (snd --watchdog); open a whole RDU to set another");
  EXPECT_EQ(check_shared_write(p, reg::FAULT, 0, 0x1, 1000), "");
  EXPECT_NE(check_shared_write(p, reg::FAULT, 0x10005, 0x1, 1000).find("fault injection is device-wide"),
            std::string::npos);
  EXPECT_EQ(check_shared_write(p, reg::PERF_UNIT, tile0_unit, 0x1, 1000), "");
  EXPECT_NE(
      check_shared_write(p, reg::PERF_UNIT, tile1_unit, 0x1, 1000).find("is not a unit of the application's tiles"),
      std::string::npos);
  EXPECT_EQ(check_shared_write(p, reg::PERF_UNIT, tile1_unit, 0x6, 1000), "");
  EXPECT_NE(check_shared_write(p, reg::PERF_UNIT, p.num_slots() + p.agcu, 0xF, 1000).find("no unit"), std::string::npos)
      << "a switch has no counters";
  EXPECT_EQ(check_shared_write(p, reg::SCRATCH, 7, 0x1, 1000), "");
}

TEST(NodeChecks, DramChecks) {
  const driver::DramRange w{0x1000, 0x1000};
  EXPECT_EQ(check_dram_access(0x1000, 0x1000, w), "");
  EXPECT_EQ(check_dram_access(0x2000, 0, w), "");
  EXPECT_EQ(check_dram_access(0x1fff, 2, w),
            "DRAM [0x1fff, 0x2001) lies outside the application's window [0x1000, 0x2000)");
  EXPECT_NE(check_dram_access(0xfff, 1, w), "");
  EXPECT_NE(check_dram_access(UINT64_MAX, 2, w), "");
}

}  // namespace
}  // namespace openrdu::node
