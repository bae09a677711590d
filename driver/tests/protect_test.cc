// The driver's window planning for DRAM protection (protection_windows) and the
// counters file format (to_json / counters_from_json).
#include <gtest/gtest.h>

#include "openrdu/driver/counters.h"
#include "openrdu/driver/protect.h"

namespace {

using namespace openrdu::driver;

TEST(ProtectionWindows, MergesOverlapsAndTouchingRangesAndAddsSlack) {
  const auto w = protection_windows({{0x3000, 0x100}, {0x1000, 0x100}, {0x1100, 0x80}, {0x1140, 0x10}, {0x9000, 0}},
                                    0x40);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].base, 0x1000u);
  EXPECT_EQ(w[0].bytes, 0x1C0u);  // 0x1000..0x1100+0x80+0x40 (0x1140 range inside)
  EXPECT_EQ(w[1].base, 0x3000u);
  EXPECT_EQ(w[1].bytes, 0x140u);
}

TEST(ProtectionWindows, BeyondSixtyFourMergesTheSmallestGaps) {
  std::vector<DramRange> r;
  for (uint64_t i = 0; i < 70; ++i) r.push_back({i * 0x1000 + (i == 10 ? 0x800 : 0), 0x100});
  // Gaps are 0xF00 except before range 10 (0x1700) and after it (0x700).
  const auto w = protection_windows(r, 0);
  ASSERT_EQ(w.size(), kProtWindows);
  // Every range is inside one window; range 10 shares a window with range 11 (the
  // smallest gap); the other merges (equal gaps) take the lowest addresses first.
  auto window_of = [&](uint64_t a) {
    for (size_t i = 0; i < w.size(); ++i)
      if (a >= w[i].base && a + 0x100 <= w[i].base + w[i].bytes) return static_cast<int>(i);
    return -1;
  };
  for (const auto& x : r) EXPECT_GE(window_of(x.base), 0) << std::hex << x.base;
  EXPECT_EQ(window_of(0xA800), window_of(0xB000));
  EXPECT_EQ(window_of(0x0), window_of(0x5000));
  EXPECT_NE(window_of(0x5000), window_of(0x6000));
  for (size_t i = 1; i < w.size(); ++i) EXPECT_GT(w[i].base, w[i - 1].base + w[i - 1].bytes);
}

TEST(CountersFile, RoundTripsAndNamesAMissingField) {
  Counters c;
  c.backend = "verilator";
  c.config = "tiny";
  c.clock_mhz = 1000;
  c.lanes = 4;
  c.runs = 2;
  c.run_cycles = 1234;
  c.units.push_back({0, "pcu0 (0,0)", "pcu", 100, 20, 3, 2});
  c.mem_rd_reqs = 7;
  c.dma_h2d_bytes = 4096;
  c.link_mbps = 32000;
  const Counters d = counters_from_json(to_json(c), "x.json");
  EXPECT_EQ(d.backend, "verilator");
  EXPECT_EQ(d.run_cycles, 1234u);
  ASSERT_EQ(d.units.size(), 1u);
  EXPECT_EQ(d.units[0].stall_out, 3u);
  EXPECT_EQ(d.mem_rd_reqs, 7u);
  EXPECT_EQ(d.dma_h2d_bytes, 4096u);
  std::string j = to_json(c);
  j.replace(j.find("\"stall_in\""), 10, "\"stall_xx\"");
  try {
    counters_from_json(j, "bad.json");
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: counters file: missing field 'units[0].stall_in'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(counters_from_json("{not json", "y.json"), std::runtime_error);
}

TEST(CountersFile, AccumulateAddsRunsAndKeepsDmaTotals) {
  Counters a, b;
  a.units = {{0, "pcu0", "pcu", 10, 1, 0, 1}};
  a.runs = 1;
  a.run_cycles = 50;
  a.dma_xfers = 3;
  b = a;
  b.dma_xfers = 5;
  Counters t;
  t.runs = 0;
  accumulate(t, a);
  accumulate(t, b);
  EXPECT_EQ(t.runs, 2u);
  EXPECT_EQ(t.run_cycles, 100u);
  EXPECT_EQ(t.units[0].active, 20u);
  EXPECT_EQ(t.units[0].runs, 2u);
  EXPECT_EQ(t.dma_xfers, 5u);
}

}  // namespace
