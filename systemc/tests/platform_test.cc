// Platform tests on the functional core: link latency and bandwidth, DMA engine errors,
// one Platform per process. The tests share one Platform (the kernel elaborates once).
#include <gtest/gtest.h>

#include <cstring>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"

namespace {

using namespace openrdu;
namespace reg = gen::reg;

platform::Platform& plat() {
  static platform::Platform p(arch::load_config("tiny"), platform::PlatformOptions{});
  return p;
}

uint64_t now_ps() { return plat().stats().sim_time_ps; }

TEST(Platform, MmioReadCrossesTheLinkTwice) {
  plat().mmio_read(reg::ID, 10);  // settle
  const uint64_t t0 = now_ps();
  EXPECT_EQ(plat().mmio_read(reg::ID, 10), 0x52445530u);
  const uint64_t dt = now_ps() - t0;
  EXPECT_GE(dt, 1'000'000u) << "2 x 500 ns link latency";
  EXPECT_LT(dt, 1'010'000u);
}

TEST(Platform, DmaTakesLatencyPlusBytesOverBandwidth) {
  const size_t n = 1 << 20;
  const uint64_t bus = plat().host_alloc(n);
  std::memset(plat().host_ptr(bus, n), 0x3C, n);
  plat().clear_msi(1);
  plat().mmio_write(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus), 10);
  plat().mmio_write(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus >> 32), 10);
  plat().mmio_write(reg::DMA_DEV_ADDR, 0x1000, 10);
  plat().mmio_write(reg::DMA_LEN, n, 10);
  plat().mmio_write(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK, 10);
  const uint64_t t0 = now_ps();  // the START write has landed
  ASSERT_TRUE(plat().wait_msi(1, 10));
  const double dt_us = (now_ps() - t0) / 1e6;
  const double transfer_us = n / 32e9 * 1e6;  // 32.8 us at 32 GB/s
  EXPECT_GE(dt_us, transfer_us + 1.0) << "bytes/bandwidth plus latency to the host and back as MSI";
  EXPECT_LT(dt_us, transfer_us + 1.0 + 20.0);  // plus DRAM time (64 B/cycle at 1 GHz: 16 us)
  EXPECT_EQ(plat().mmio_read(reg::DMA_STATUS, 10), reg::DMA_STATUS_DONE_MASK);
  // Back to a second host buffer.
  const uint64_t bus2 = plat().host_alloc(n);
  plat().mmio_write(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus2), 10);
  plat().mmio_write(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus2 >> 32), 10);
  plat().mmio_write(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK | reg::DMA_CTRL_TO_HOST_MASK, 10);
  ASSERT_TRUE(plat().wait_msi(1, 10));
  EXPECT_EQ(plat().mmio_read(reg::DMA_STATUS, 10), reg::DMA_STATUS_DONE_MASK);
  EXPECT_EQ(std::memcmp(plat().host_ptr(bus, n), plat().host_ptr(bus2, n), n), 0);
  plat().host_free(bus);
  plat().host_free(bus2);
}

TEST(Platform, DmaOutsideAHostBufferIsAnError) {
  const uint64_t bus = plat().host_alloc(64);
  plat().clear_msi(1);
  plat().mmio_write(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus + 32), 10);
  plat().mmio_write(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus >> 32), 10);
  plat().mmio_write(reg::DMA_DEV_ADDR, 0, 10);
  plat().mmio_write(reg::DMA_LEN, 64, 10);  // 32 bytes past the buffer
  plat().mmio_write(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK, 10);
  ASSERT_TRUE(plat().wait_msi(1, 10));
  EXPECT_EQ(plat().mmio_read(reg::DMA_STATUS, 10), reg::DMA_STATUS_DONE_MASK | reg::DMA_STATUS_ERROR_MASK);
  EXPECT_THROW(plat().host_ptr(bus + 32, 64), std::out_of_range);
  plat().host_free(bus);
}

TEST(Platform, NoMsiMeansFalseNotAHang) {
  plat().clear_msi(0);
  EXPECT_FALSE(plat().wait_msi(0, 0.5));  // nothing pending: the func core is idle
  EXPECT_THROW(plat().wait_msi(3, 0.1), std::out_of_range);  // vectors 0, 1, 2
}

TEST(Platform, SecondPlatformInOneProcessIsAClearError) {
  (void)plat();
  try {
    platform::Platform second(arch::load_config("tiny"), platform::PlatformOptions{});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("once per process"), std::string::npos) << e.what();
  }
}

}  // namespace
