// Shared by the platform tests: one Platform per test process, on the core and
// configuration a test names, and a register-driven DMA transfer.
#pragma once
#include <gtest/gtest.h>

#include "openrdu/gen/regs.h"
#include "openrdu/platform/platform.h"

namespace openrdu::platform::test {

// The process's platform (built at the first call, on `cfg` and `core`).
inline Platform& platform_of(const arch::Config& cfg, CoreKind core) {
  static Platform p = [&] {
    PlatformOptions o;
    o.core = core;
    return Platform(cfg, o);
  }();
  return p;
}

// One DMA through the DMA_* registers; returns DMA_STATUS.
inline uint32_t dma(Platform& p, bool to_host, uint64_t bus, uint32_t dev, uint32_t len, double timeout_s) {
  namespace reg = gen::reg;
  p.clear_msi(1);
  p.mmio_write(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus), timeout_s);
  p.mmio_write(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus >> 32), timeout_s);
  p.mmio_write(reg::DMA_DEV_ADDR, dev, timeout_s);
  p.mmio_write(reg::DMA_LEN, len, timeout_s);
  p.mmio_write(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK | (to_host ? reg::DMA_CTRL_TO_HOST_MASK : 0), timeout_s);
  EXPECT_TRUE(p.wait_msi(1, timeout_s));
  return p.mmio_read(reg::DMA_STATUS, timeout_s);
}

}  // namespace openrdu::platform::test
