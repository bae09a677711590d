// A scripted driver::Device for the runtime's unit tests (session_test, session_dtype_test).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/driver/device.h"
#include "openrdu/gen/regs.h"

namespace openrdu::runtime::fake {

namespace reg = gen::reg;

// A device whose core answers CONFIGURE and START as scripted; DRAM is a byte map.
class FakeDevice : public driver::Device {
 public:
  explicit FakeDevice(const arch::Config& cfg) {
    info_.backend = "fake";
    info_.config = cfg.name;
    info_.fingerprint = cfg.fingerprint();
    info_.dram_bytes = cfg.dram_bytes;
  }
  const driver::DeviceInfo& info() const override { return info_; }
  uint32_t read32(uint32_t off) override {
    reads.push_back(off);
    return regs[off];
  }
  void write32(uint32_t off, uint32_t v) override {
    writes.push_back({off, v});
    if (off == reg::IRQ_STATUS) {
      regs[off] &= ~v;
      return;
    }
    if (off == reg::CTRL) {
      if (v & reg::CTRL_CONFIGURE_MASK) fire(config_irq, config_err);
      if (v & reg::CTRL_START_MASK) {
        fire(run_irq, run_err);
        regs[reg::CYCLES_LO] = 0x10;
        regs[reg::CYCLES_HI] = 0x1;
      }
      return;
    }
    regs[off] = v;
  }
  void copy_to_device(const void* src, uint64_t addr, size_t n) override {
    to_device.push_back({addr, n});
    std::memcpy(&mem[addr], src, n);
  }
  void copy_from_device(void* dst, uint64_t addr, size_t n) override { std::memcpy(dst, &mem[addr], n); }
  bool wait_irq(unsigned vector, double) override {
    EXPECT_EQ(vector, driver::kIrqCore);
    bool p = pending;
    pending = false;
    return p;
  }
  void reset() override { ++resets; }
  uint64_t cycles() override { return 0; }
  driver::SimStats sim_stats() override { return {}; }

  void fire(uint32_t irq, uint32_t err) {
    if (irq == 0) return;  // never answers: timeout
    regs[reg::IRQ_STATUS] |= irq;
    regs[reg::ERR_STATUS] = err;
    pending = true;
  }

  driver::DeviceInfo info_;
  std::map<uint32_t, uint32_t> regs;
  std::vector<uint8_t> mem = std::vector<uint8_t>(1 << 20);
  std::vector<std::pair<uint32_t, uint32_t>> writes;
  std::vector<uint32_t> reads;
  std::vector<std::pair<uint64_t, size_t>> to_device;
  bool pending = false;
  int resets = 0;
  uint32_t config_irq = reg::IRQ_STATUS_CONFIG_DONE_MASK, config_err = 0;
  uint32_t run_irq = reg::IRQ_STATUS_RUN_DONE_MASK, run_err = 0;
};

}  // namespace openrdu::runtime::fake
