// Driver and platform tests, built once per backend (OPENRDU_TEST_BACKEND "func" or
// "verilator") on the tiny configuration. One device per process: the tests share it
// and start from reset(); under CTest every test case runs in its own process.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "openrdu/arch/bitstream.h"
#include "openrdu/driver/device.h"
#include "openrdu/gen/isa.h"
#include "openrdu/gen/regs.h"

#ifndef OPENRDU_TEST_BACKEND
#error "define OPENRDU_TEST_BACKEND"
#endif

namespace {

using namespace openrdu;
namespace reg = gen::reg;

const std::string kBackend = OPENRDU_TEST_BACKEND;

uint32_t seed() {
  static const uint32_t s = [] {
    const char* e = std::getenv("OPENRDU_SEED");
    uint32_t v = e ? static_cast<uint32_t>(std::strtoul(e, nullptr, 0)) : 12345u;
    std::printf("OPENRDU_SEED=%u\n", v);
    return v;
  }();
  return s;
}

const arch::Config& cfg() {
  static const arch::Config c = arch::load_config("tiny");
  return c;
}

driver::Device& dev() {
  static std::unique_ptr<driver::Device> d = [] {
    driver::DeviceOptions o;
    o.timeout_s = 30;
    return driver::open_device(kBackend, cfg(), o);
  }();
  return *d;
}

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dev().reset();
    dev().write32(reg::IRQ_STATUS, 0xFFFFFFFFu);
    dev().write32(reg::WATCHDOG, 0);  // SOFT_RESET keeps it: a test that sets it must not leak
    rng.seed(seed() ^ std::hash<std::string>{}(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }
  std::mt19937 rng;

  std::vector<uint8_t> random_bytes(size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  }
  std::vector<float> random_floats(size_t n) {
    std::uniform_real_distribution<float> d(-100.f, 100.f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
};

// ---------------------------------------------------------------------------- programs
using arch::kEast;
using arch::kLocal0;
using arch::kNorth;
using arch::kSouth;
using arch::kVectorNet;
using arch::kWest;

void route(arch::UnitWords& u, const arch::Config& c, uint32_t r, uint32_t col,
           std::initializer_list<std::pair<uint32_t, uint32_t>> out_from_in) {
  arch::SwitchConfig sw;
  auto it = u.find(c.switch_id(r, col));
  if (it != u.end()) sw = arch::SwitchConfig::decode(it->second);
  for (auto [out, in] : out_from_in) sw.sel[kVectorNet][out] = static_cast<uint8_t>(1 + in);
  u[c.switch_id(r, col)] = sw.encode();
}

// out[i] = a[i] + b[i], i < n: AGCU0 ld0, ld1 -> PCU slot (0,0) -> AGCU0 st0.
// ld0 goes north (2,0) -> (1,0) -> (0,0); ld1 east to (2,1), north to (0,1), west to
// (0,0); the result goes south (0,0) -> (1,0) -> (2,0) into the AGCU's store input.
std::vector<uint32_t> add_program(const arch::Config& c, uint32_t a, uint32_t b, uint32_t out, uint32_t n) {
  arch::UnitWords u;
  arch::PcuConfig pcu;
  pcu.enable = true;
  pcu.out_reg = 0;
  pcu.vin_mask = 0b011;
  pcu.count = (n + c.lanes - 1) / c.lanes;
  pcu.stages.resize(c.stages);
  pcu.stages[0].op = gen::Opcode::FADD;
  pcu.stages[0].src_a = 0;
  pcu.stages[0].src_b = 1;
  pcu.stages[0].dst = 0;
  u[c.slot_id(0, 0)] = pcu.encode(c);

  arch::AgcuConfig ag;
  auto stream = [&](arch::AgcuStream& s, uint32_t base) { s = arch::AgcuStream::linear(base, n, c.lanes); };
  stream(ag.ld[0], a);
  stream(ag.ld[1], b);
  stream(ag.st, out);
  u[c.agcu_id(0)] = ag.encode();

  const uint32_t R = c.rows;
  route(u, c, R, 0, {{kNorth, kLocal0}, {kEast, kLocal0 + 1}, {kLocal0, kNorth}});
  route(u, c, R - 1, 0, {{kNorth, kSouth}, {kSouth, kNorth}});
  route(u, c, 0, 0, {{kLocal0, kSouth}, {kLocal0 + 1, kEast}, {kSouth, kLocal0}});
  route(u, c, R, 1, {{kNorth, kWest}});
  route(u, c, R - 1, 1, {{kNorth, kSouth}});
  route(u, c, 0, 1, {{kWest, kSouth}});
  return arch::assemble_bitstream(c, u);
}

// A PCU that waits for an input vector no switch delivers: never done.
std::vector<uint32_t> starving_program(const arch::Config& c) {
  arch::UnitWords u;
  arch::PcuConfig pcu;
  pcu.enable = true;
  pcu.vin_mask = 0b001;
  pcu.count = 1;
  pcu.stages.resize(c.stages);
  u[c.slot_id(0, 0)] = pcu.encode(c);
  return arch::assemble_bitstream(c, u);
}

constexpr uint32_t kCfgAddr = 0x100000, kA = 0x10000, kB = 0x20000, kC = 0x30000;

void load_bitstream(const std::vector<uint32_t>& bs) {
  dev().copy_to_device(bs.data(), kCfgAddr, bs.size() * 4);
  dev().write32(reg::CFG_ADDR, kCfgAddr);
  dev().write32(reg::CFG_LEN, static_cast<uint32_t>(bs.size() * 4));
}

std::string irq_status_str(uint32_t v) {
  return "IRQ_STATUS=0x" + std::to_string(v) + " STATUS=" + std::to_string(dev().read32(reg::STATUS)) +
         " ERR_STATUS code " + gen::error_name(dev().read32(reg::ERR_STATUS) & 0xFF);
}

// Configure and wait for the core interrupt; returns IRQ_STATUS (cleared).
uint32_t configure(const std::vector<uint32_t>& bs) {
  load_bitstream(bs);
  dev().write32(reg::CTRL, reg::CTRL_CONFIGURE_MASK);
  EXPECT_TRUE(dev().wait_irq(driver::kIrqCore, 10)) << "no core interrupt after CTRL.CONFIGURE";
  uint32_t st = dev().read32(reg::IRQ_STATUS);
  dev().write32(reg::IRQ_STATUS, st);
  return st;
}

// ---------------------------------------------------------------------------- tests
TEST_F(DeviceTest, IdentityAndCapabilities) {
  const arch::Config& c = cfg();
  EXPECT_EQ(dev().read32(reg::ID), 0x52445530u);
  EXPECT_EQ(dev().read32(reg::VERSION), 0x00010000u);
  EXPECT_EQ(dev().read32(reg::FINGERPRINT), c.fingerprint());
  EXPECT_EQ(dev().read32(reg::CAP_GRID), c.rows | (c.cols << 8) | (c.agcu << 16));
  EXPECT_EQ(dev().read32(reg::CAP_PCU), c.lanes | (c.stages << 8) | (c.regs << 16) | (c.vin << 24));
  EXPECT_EQ(dev().read32(reg::CAP_PMU), c.pmu_bytes);
  EXPECT_EQ(dev().read32(reg::CAP_DRAM), static_cast<uint32_t>(c.dram_bytes >> 20));
  const auto& i = dev().info();
  EXPECT_EQ(i.backend, kBackend);
  EXPECT_EQ(i.config, "tiny");
  EXPECT_EQ(i.fingerprint, c.fingerprint());
  EXPECT_EQ(i.rows, c.rows);
  EXPECT_EQ(i.cols, c.cols);
  EXPECT_EQ(i.agcu, c.agcu);
  EXPECT_EQ(i.lanes, c.lanes);
  EXPECT_EQ(i.stages, c.stages);
  EXPECT_EQ(i.regs, c.regs);
  EXPECT_EQ(i.vin, c.vin);
  EXPECT_EQ(i.pmu_bytes, c.pmu_bytes);
  EXPECT_EQ(i.dram_bytes, c.dram_bytes);
  // The identity registers are read-only.
  dev().write32(reg::ID, 0);
  EXPECT_EQ(dev().read32(reg::ID), 0x52445530u);
}

TEST_F(DeviceTest, ScratchReadWrite) {
  for (int k = 0; k < 16; ++k) {
    uint32_t v = static_cast<uint32_t>(rng());
    dev().write32(reg::SCRATCH, v);
    ASSERT_EQ(dev().read32(reg::SCRATCH), v) << "write " << k;
  }
  dev().write32(reg::SCRATCH, 0xA5A5F00Du);
  dev().reset();  // SOFT_RESET keeps SCRATCH (`docs/hardware.md` ("Clock and reset"))
  EXPECT_EQ(dev().read32(reg::SCRATCH), 0xA5A5F00Du);
}

TEST_F(DeviceTest, IrqStatusWriteOneToClearAndIrqEnableKept) {
  EXPECT_EQ(dev().read32(reg::IRQ_ENABLE), 0x7u);  // set by open_device, kept by reset()
  EXPECT_EQ(dev().read32(reg::IRQ_STATUS), 0u);
  EXPECT_EQ(dev().read32(reg::STATUS), 0u);
}

TEST_F(DeviceTest, UnmappedBar0OffsetIsAnError) {
  try {
    dev().read32(0x2000);
    FAIL() << "no error for BAR0 0x2000";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("0x2000"), std::string::npos) << e.what();
  }
}

TEST_F(DeviceTest, DmaRoundTripRandomSizesAndAddresses) {
  const size_t sizes[] = {1, 3, 4, 5, 64, 1000, 4096 + 7, 65536 + 13};
  const uint64_t dram = cfg().dram_bytes;
  std::uniform_int_distribution<uint64_t> addr_d(64, dram - 70000 - 64);
  constexpr size_t kGuard = 16;
  for (size_t n : sizes) {
    for (uint64_t addr : {addr_d(rng) | 1, addr_d(rng) & ~uint64_t(3), dram - n - kGuard}) {
      // Guards around the region: they must survive.
      auto before = random_bytes(n + 2 * kGuard);
      dev().copy_to_device(before.data(), addr - kGuard, before.size());
      auto data = random_bytes(n);
      dev().copy_to_device(data.data(), addr, n);
      std::vector<uint8_t> back(n + 2 * kGuard, 0);
      dev().copy_from_device(back.data(), addr - kGuard, back.size());
      for (size_t i = 0; i < back.size(); ++i) {
        uint8_t want = (i < kGuard || i >= kGuard + n) ? before[i] : data[i - kGuard];
        ASSERT_EQ(back[i], want) << "size " << n << " addr 0x" << std::hex << addr << " byte " << std::dec
                                 << (int64_t(i) - int64_t(kGuard)) << " seed " << seed();
      }
    }
  }
}

TEST_F(DeviceTest, DmaOutsideDramFailsAndMovesNothing) {
  const uint64_t dram = cfg().dram_bytes;
  auto tail = random_bytes(64);
  dev().copy_to_device(tail.data(), dram - 64, 64);
  auto junk = random_bytes(128);
  try {
    dev().copy_to_device(junk.data(), dram - 64, 128);
    FAIL() << "DMA across the end of DRAM did not fail";
  } catch (const driver::TimeoutError& e) {
    FAIL() << "timeout instead of a DMA error: " << e.what();
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("DMA_RING_STATUS.ERROR"), std::string::npos) << m;
    EXPECT_NE(m.find("0x0fffffc0"), std::string::npos) << "message does not name the device address: " << m;
  }
  std::vector<uint8_t> back(64);
  dev().copy_from_device(back.data(), dram - 64, 64);
  EXPECT_EQ(back, tail) << "DRAM changed by a failed DMA";
  // Device to host outside DRAM: the host buffer stays as it was.
  std::vector<uint8_t> host(32, 0x5A);
  EXPECT_THROW(dev().copy_from_device(host.data(), dram, 32), std::runtime_error);
  EXPECT_EQ(host, std::vector<uint8_t>(32, 0x5A));
  EXPECT_THROW(dev().copy_from_device(host.data(), dram + 4096, 4), std::runtime_error);
}

TEST_F(DeviceTest, CorruptedBitstreamGivesBadCrc) {
  auto bs = add_program(cfg(), kA, kB, kC, 16);
  // Record 0 is the PCU at slot (0,0): flip a bit of its stage-0 immediate (word 3).
  ASSERT_EQ(bs[4] >> 16, cfg().slot_id(0, 0));
  bs[4 + 1 + 3] ^= 0x00010000u;
  uint32_t st = configure(bs);
  EXPECT_TRUE(st & reg::IRQ_STATUS_ERROR_MASK) << irq_status_str(st);
  EXPECT_FALSE(st & reg::IRQ_STATUS_CONFIG_DONE_MASK) << irq_status_str(st);
  const uint32_t err = dev().read32(reg::ERR_STATUS);
  EXPECT_EQ(err & reg::ERR_STATUS_CODE_MASK, static_cast<uint32_t>(gen::ErrorCode::BAD_CRC))
      << "ERR_STATUS code " << gen::error_name(err & 0xFF);
  EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_ERROR_MASK);
  EXPECT_FALSE(dev().read32(reg::STATUS) & reg::STATUS_CONFIGURED_MASK);
}

void run_add(DeviceTest& t, std::vector<float> a, std::vector<float> b, uint32_t n) {
  const uint32_t lanes = cfg().lanes;
  const uint32_t padded = (n + lanes - 1) / lanes * lanes;
  dev().copy_to_device(a.data(), kA, n * 4);
  dev().copy_to_device(b.data(), kB, n * 4);
  std::vector<uint32_t> sentinel(padded + 8, 0xDEADBEEFu);
  dev().copy_to_device(sentinel.data(), kC, sentinel.size() * 4);
  auto bs = add_program(cfg(), kA, kB, kC, n);

  uint32_t st = configure(bs);
  ASSERT_EQ(st & 0x7, reg::IRQ_STATUS_CONFIG_DONE_MASK) << irq_status_str(st);
  EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_CONFIGURED_MASK);
  EXPECT_EQ(dev().read32(reg::CFG_CRC), bs.back()) << "CFG_CRC differs from the bitstream's CRC word";

  dev().write32(reg::CTRL, reg::CTRL_START_MASK);
  ASSERT_TRUE(dev().wait_irq(driver::kIrqCore, 20)) << "no core interrupt after CTRL.START";
  st = dev().read32(reg::IRQ_STATUS);
  ASSERT_EQ(st & 0x7, reg::IRQ_STATUS_RUN_DONE_MASK) << irq_status_str(st);
  EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_DONE_MASK);
  const uint64_t cycles = dev().read32(reg::CYCLES_LO) | (uint64_t(dev().read32(reg::CYCLES_HI)) << 32);
  EXPECT_GE(cycles, n / lanes) << "CYCLES";
  std::printf("add n=%u: %llu cycles (CYCLES), device clock at %llu\n", n, (unsigned long long)cycles,
              (unsigned long long)dev().cycles());

  std::vector<uint32_t> out(sentinel.size());
  dev().copy_from_device(out.data(), kC, out.size() * 4);
  for (uint32_t i = 0; i < out.size(); ++i) {
    uint32_t want;
    if (i < n) {
      float s = a[i] + b[i];
      std::memcpy(&want, &s, 4);
    } else {
      want = 0xDEADBEEFu;  // masked lanes and beyond: untouched
    }
    ASSERT_EQ(out[i], want) << "element " << i << " (vector " << i / lanes << ", lane " << i % lanes
                            << "): a=" << (i < n ? a[i] : 0) << " b=" << (i < n ? b[i] : 0) << " seed " << seed();
  }
}

TEST_F(DeviceTest, ElementwiseAddFullVectors) {
  const uint32_t n = 64;
  run_add(*this, random_floats(n), random_floats(n), n);
}

TEST_F(DeviceTest, ElementwiseAddPartialLastVector) {
  const uint32_t n = 30;
  run_add(*this, random_floats(n), random_floats(n), n);
}

TEST_F(DeviceTest, StarvingProgramEndsInTimeoutOrError) {
  uint32_t st = configure(starving_program(cfg()));
  ASSERT_EQ(st & 0x7, reg::IRQ_STATUS_CONFIG_DONE_MASK) << irq_status_str(st);
  dev().write32(reg::CTRL, reg::CTRL_START_MASK);
  const auto t0 = std::chrono::steady_clock::now();
  const bool irq = dev().wait_irq(driver::kIrqCore, 1.0);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(wall, 10.0) << "wait_irq did not honour its timeout";
  if (kBackend == "verilator") {
    // The RTL waits for ever: the wait must time out, the run is still going.
    EXPECT_FALSE(irq) << irq_status_str(dev().read32(reg::IRQ_STATUS));
    EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_RUNNING_MASK);
    dev().write32(reg::CTRL, reg::CTRL_ABORT_MASK);
    ASSERT_TRUE(dev().wait_irq(driver::kIrqCore, 5)) << "no interrupt after CTRL.ABORT";
    EXPECT_EQ(dev().read32(reg::ERR_STATUS) & 0xFF, static_cast<uint32_t>(gen::ErrorCode::ABORTED));
  } else {
    // The functional model detects the deadlock and reports an error.
    ASSERT_TRUE(irq) << "func backend: no interrupt for a deadlocked program";
    st = dev().read32(reg::IRQ_STATUS);
    EXPECT_EQ(st & 0x7, reg::IRQ_STATUS_ERROR_MASK) << irq_status_str(st);
    EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_ERROR_MASK);
  }
  EXPECT_TRUE(dev().read32(reg::STATUS) & reg::STATUS_ERROR_MASK);
  EXPECT_FALSE(dev().read32(reg::STATUS) & reg::STATUS_RUNNING_MASK);
}

// Start the configured program with WATCHDOG = limit; expect the watchdog to stop it
// after exactly `limit` cycles naming `unit`.
void expect_watchdog(uint32_t limit, uint32_t unit) {
  dev().write32(reg::WATCHDOG, limit);
  EXPECT_EQ(dev().read32(reg::WATCHDOG), limit);
  dev().write32(reg::CTRL, reg::CTRL_START_MASK);
  ASSERT_TRUE(dev().wait_irq(driver::kIrqCore, 10)) << "no core interrupt: WATCHDOG " << limit << " did not fire";
  const uint32_t st = dev().read32(reg::IRQ_STATUS);
  dev().write32(reg::IRQ_STATUS, st);
  EXPECT_EQ(st & 0x7, reg::IRQ_STATUS_ERROR_MASK) << irq_status_str(st);
  const uint32_t err = dev().read32(reg::ERR_STATUS);
  EXPECT_EQ(err & reg::ERR_STATUS_CODE_MASK, static_cast<uint32_t>(gen::ErrorCode::WATCHDOG))
      << "ERR_STATUS code " << gen::error_name(err & 0xFF);
  EXPECT_EQ((err & reg::ERR_STATUS_UNIT_MASK) >> reg::ERR_STATUS_UNIT_SHIFT, unit)
      << "ERR_STATUS unit: want " << cfg().unit_name(unit);
  const uint32_t status = dev().read32(reg::STATUS);
  EXPECT_TRUE(status & reg::STATUS_ERROR_MASK) << "STATUS=0x" << std::hex << status;
  EXPECT_FALSE(status & (reg::STATUS_RUNNING_MASK | reg::STATUS_DONE_MASK)) << "STATUS=0x" << std::hex << status;
  const uint64_t cycles = dev().read32(reg::CYCLES_LO) | (uint64_t(dev().read32(reg::CYCLES_HI)) << 32);
  EXPECT_EQ(cycles, limit) << "CYCLES after the watchdog";
}

TEST_F(DeviceTest, WatchdogStopsStarvingProgramThenDeviceRunsAgain) {
  uint32_t st = configure(starving_program(cfg()));
  ASSERT_EQ(st & 0x7, reg::IRQ_STATUS_CONFIG_DONE_MASK) << irq_status_str(st);
  expect_watchdog(5000, cfg().slot_id(0, 0));  // the starving PCU
  // Soft reset keeps WATCHDOG (CSR block); a good program then runs to completion.
  dev().reset();
  EXPECT_EQ(dev().read32(reg::WATCHDOG), 5000u);
  EXPECT_EQ(dev().read32(reg::STATUS), 0u);
  run_add(*this, random_floats(64), random_floats(64), 64);
  dev().write32(reg::WATCHDOG, 0);
}

TEST_F(DeviceTest, WatchdogStopsALongProgramNamingItsPcu) {
  uint32_t st = configure(add_program(cfg(), kA, kB, kC, 4096));
  ASSERT_EQ(st & 0x7, reg::IRQ_STATUS_CONFIG_DONE_MASK) << irq_status_str(st);
  expect_watchdog(20, cfg().slot_id(0, 0));  // PCU (0,0), the lowest unit id not done
  // The same configuration runs to completion with the watchdog off.
  dev().write32(reg::WATCHDOG, 0);
  dev().write32(reg::CTRL, reg::CTRL_START_MASK);
  ASSERT_TRUE(dev().wait_irq(driver::kIrqCore, 20));
  st = dev().read32(reg::IRQ_STATUS);
  EXPECT_EQ(st & 0x7, reg::IRQ_STATUS_RUN_DONE_MASK) << irq_status_str(st);
}

TEST_F(DeviceTest, SecondDeviceInProcessIsAClearError) {
  (void)dev();
  try {
    driver::open_device(kBackend, cfg());
    FAIL() << "a second device in one process did not fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("once per process"), std::string::npos) << e.what();
  }
}

TEST(OpenDevice, UnknownBackendNamesTheAvailableOnes) {
  try {
    driver::open_device("qemu", cfg());
    FAIL();
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("qemu"), std::string::npos) << m;
    EXPECT_NE(m.find("func"), std::string::npos) << m;
  }
}

TEST(OpenDevice, VerilatorRejectsConfigurationsWithoutACore) {
  arch::Config c = cfg();
  c.name = "medium";
  try {
    driver::open_device("verilator", c);
    FAIL();
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("medium"), std::string::npos) << m;
    for (const auto& built : driver::verilator_configs())  // the built cores are listed
      EXPECT_NE(m.find(built), std::string::npos) << m;
  }
  c = cfg();
  c.lanes = 8;  // "tiny" by name, not by parameters
  EXPECT_THROW(driver::open_device("verilator", c), std::invalid_argument);
}

}  // namespace
