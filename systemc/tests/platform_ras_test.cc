// Reliability, protection and counters of the platform (`docs/platform.md` ("Counters, protection, fault injection, descriptor ring")),
// on the core named by OPENRDU_RAS_CORE (built twice: the functional core, label unit,
// and the Verilated tiny core, label rtl): DRAM protection windows for DMA and core
// accesses, fault injection (corrupted bitstream word, a unit that never finishes), the
// DMA/link counters and the DMA time against the link and DRAM parameters (within 5%).
#include <gtest/gtest.h>

#include <cmath>
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

constexpr double kTo = 20;  // seconds, every wait

const arch::Config& cfg() {
  static arch::Config c = arch::load_config("tiny");
  return c;
}

platform::Platform& plat() {
  platform::Platform& p = platform::test::platform_of(cfg(), OPENRDU_RAS_CORE);
  static const bool init = [&p] {
    p.mmio_write(reg::IRQ_ENABLE, reg::IRQ_STATUS_CONFIG_DONE_MASK | reg::IRQ_STATUS_RUN_DONE_MASK |
                                      reg::IRQ_STATUS_ERROR_MASK, kTo);
    return true;
  }();
  (void)init;
  return p;
}

uint32_t rd(uint32_t off) { return plat().mmio_read(off, kTo); }
void wr(uint32_t off, uint32_t v) { plat().mmio_write(off, v, kTo); }

uint64_t now_ps() { return plat().stats().sim_time_ps; }

// One DMA; returns DMA_STATUS.
uint32_t dma(bool to_host, uint64_t bus, uint32_t dev, uint32_t len) {
  return platform::test::dma(plat(), to_host, bus, dev, len, kTo);
}

void set_window(uint32_t i, uint32_t base, uint32_t limit) {
  wr(reg::PROT_INDEX, i);
  wr(reg::PROT_BASE, base);
  wr(reg::PROT_LIMIT, limit);
}

void clear_protection() {
  wr(reg::PROT_CTRL, 0);
  for (uint32_t i = 0; i < 4; ++i) set_window(i, 0, 0);
}

// Copy `bytes` to device address `dev` through the DMA engine (must succeed).
void put(uint32_t dev, const std::vector<uint8_t>& bytes) {
  const uint64_t bus = plat().host_alloc(bytes.size());
  std::memcpy(plat().host_ptr(bus, bytes.size()), bytes.data(), bytes.size());
  ASSERT_EQ(dma(false, bus, dev, static_cast<uint32_t>(bytes.size())), reg::DMA_STATUS_DONE_MASK);
  plat().host_free(bus);
}

std::vector<uint8_t> get(uint32_t dev, size_t n) {
  const uint64_t bus = plat().host_alloc(n);
  EXPECT_EQ(dma(true, bus, dev, static_cast<uint32_t>(n)), reg::DMA_STATUS_DONE_MASK);
  std::vector<uint8_t> v(plat().host_ptr(bus, n), plat().host_ptr(bus, n) + n);
  plat().host_free(bus);
  return v;
}

// CONFIGURE with the bitstream at `addr`; returns ERR_STATUS (0 on success).
uint32_t configure(uint32_t addr, uint32_t len) {
  wr(reg::IRQ_STATUS, 0xFFFFFFFF);
  plat().clear_msi(0);
  wr(reg::CFG_ADDR, addr);
  wr(reg::CFG_LEN, len);
  wr(reg::CTRL, reg::CTRL_CONFIGURE_MASK);
  EXPECT_TRUE(plat().wait_msi(0, kTo));
  const uint32_t irq = rd(reg::IRQ_STATUS);
  wr(reg::IRQ_STATUS, 0xFFFFFFFF);
  if (irq & reg::IRQ_STATUS_CONFIG_DONE_MASK) return 0;
  return rd(reg::ERR_STATUS);
}

std::vector<uint8_t> bytes_of(const std::vector<uint32_t>& w) {
  std::vector<uint8_t> b(4 * w.size());
  std::memcpy(b.data(), w.data(), b.size());
  return b;
}

// A valid bitstream that configures nothing (every unit disabled, done at once).
std::vector<uint32_t> empty_stream() { return arch::assemble_bitstream(cfg(), {}); }

uint32_t code_of(uint32_t err) { return err & 0xFF; }
uint32_t unit_of(uint32_t err) { return err >> 8 & 0xFFFF; }

TEST(Protection, DmaOutsideTheWindowsIsRefusedAndTouchesNothing) {
  clear_protection();
  const std::vector<uint8_t> before(0x1000, 0x11);
  put(0x1F000, before);
  put(0x20000, before);
  const uint32_t refused0 = rd(reg::PROT_REFUSED);
  set_window(0, 0x10000, 0x18000);
  set_window(1, 0x18000, 0x20000);  // adjacent: the union is [0x10000, 0x20000)
  wr(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
  EXPECT_EQ(rd(reg::PROT_CTRL), reg::PROT_CTRL_ENABLE_MASK);

  // Inside, across the two adjacent windows: allowed.
  put(0x17800, std::vector<uint8_t>(0x1000, 0x22));
  // Crossing the end of the union: refused whole.
  const uint64_t bus = plat().host_alloc(0x1000);
  std::memset(plat().host_ptr(bus, 0x1000), 0x33, 0x1000);
  EXPECT_EQ(dma(false, bus, 0x1F800, 0x1000), reg::DMA_STATUS_DONE_MASK | reg::DMA_STATUS_ERROR_MASK);
  EXPECT_EQ(rd(reg::PROT_REFUSED), refused0 + 1);
  EXPECT_EQ(rd(reg::PROT_LAST_ADDR), 0x1F800u);
  // A read outside is refused too, and the host buffer keeps its bytes.
  EXPECT_EQ(dma(true, bus, 0x30000, 0x100), reg::DMA_STATUS_DONE_MASK | reg::DMA_STATUS_ERROR_MASK);
  EXPECT_EQ(plat().host_ptr(bus, 1)[0], 0x33);
  plat().host_free(bus);

  clear_protection();
  EXPECT_EQ(get(0x1F000, 0x1000), before) << "the refused DMA wrote nothing";
  EXPECT_EQ(get(0x20000, 0x1000), before);
  EXPECT_EQ(get(0x17800, 0x1000), std::vector<uint8_t>(0x1000, 0x22));
}

TEST(Protection, ConfigurationReadOutsideTheWindowsIsAMemoryError) {
  clear_protection();
  const auto s = empty_stream();
  put(0x40000, bytes_of(s));
  ASSERT_EQ(configure(0x40000, static_cast<uint32_t>(4 * s.size())), 0u);
  set_window(0, 0x10000, 0x20000);
  wr(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
  const uint32_t err = configure(0x40000, static_cast<uint32_t>(4 * s.size()));
  EXPECT_EQ(code_of(err), static_cast<uint32_t>(gen::ErrorCode::MEM_ERROR)) << std::hex << err;
  EXPECT_EQ(rd(reg::STATUS) & reg::STATUS_CONFIGURED_MASK, 0u);
  // A window over the stream (and the controller's read-ahead of LANES words) allows it.
  set_window(1, 0x40000, 0x40000 + 4 * s.size() + 4 * 4 * cfg().lanes);
  EXPECT_EQ(configure(0x40000, static_cast<uint32_t>(4 * s.size())), 0u);
  clear_protection();
}

TEST(Protection, AgcuLoadOutsideTheWindowsStopsTheRunWithMemError) {
  clear_protection();
  // agcu1's ld0 reads 16 words at 0x90000; nothing consumes them (the first request is
  // what matters).
  arch::AgcuConfig ag;
  ag.ld[0] = arch::AgcuStream::linear(0x90000, 16, cfg().lanes);
  arch::UnitWords units;
  const uint32_t agcu = cfg().agcu_id(1);
  units[agcu] = ag.encode();
  const auto s = arch::assemble_bitstream(cfg(), units);
  put(0x48000, bytes_of(s));
  // Allowed: the stream reads inside its window: no memory error; nothing consumes the
  // vectors, so the AGCU never finishes and the watchdog stops the run, naming it.
  set_window(0, 0x48000, 0x48000 + 4 * s.size() + 4 * 4 * cfg().lanes);
  set_window(1, 0x90000, 0x90000 + 4 * 16 + 4 * cfg().lanes);
  wr(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
  ASSERT_EQ(configure(0x48000, static_cast<uint32_t>(4 * s.size())), 0u);
  auto run = [&] {
    wr(reg::IRQ_STATUS, 0xFFFFFFFF);
    plat().clear_msi(0);
    wr(reg::CTRL, reg::CTRL_START_MASK);
    EXPECT_TRUE(plat().wait_msi(0, kTo));
    const uint32_t err = rd(reg::ERR_STATUS);
    wr(reg::IRQ_STATUS, 0xFFFFFFFF);
    return err;
  };
  wr(reg::WATCHDOG, 20000);
  const uint32_t werr = run();
  EXPECT_EQ(code_of(werr), static_cast<uint32_t>(gen::ErrorCode::WATCHDOG)) << std::hex << werr;
  EXPECT_EQ(unit_of(werr), agcu);
  // The data window removed: the first read is refused, the run stops with MEM_ERROR
  // naming agcu1, and memory is untouched.
  const uint32_t refused0 = rd(reg::PROT_REFUSED);
  set_window(1, 0, 0);
  const uint32_t err = run();
  EXPECT_EQ(code_of(err), static_cast<uint32_t>(gen::ErrorCode::MEM_ERROR)) << std::hex << err;
  EXPECT_EQ(unit_of(err), agcu);
  EXPECT_GT(rd(reg::PROT_REFUSED), refused0);
  const uint32_t last = rd(reg::PROT_LAST_ADDR);  // the RTL has several reads in flight
  EXPECT_GE(last, 0x90000u);
  EXPECT_LT(last, 0x90000u + 4 * 16);
  wr(reg::WATCHDOG, 0);
  wr(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
  clear_protection();
}

TEST(Fault, CorruptedBitstreamWordIsDetected) {
  clear_protection();
  const auto s = empty_stream();
  put(0x50000, bytes_of(s));
  const uint32_t len = static_cast<uint32_t>(4 * s.size());
  struct Case {
    uint32_t word;
    gen::ErrorCode code;
  };
  // Word 2 is the fingerprint, word n-1 the CRC; any other flipped bit fails the CRC.
  const Case cases[] = {{0, gen::ErrorCode::BAD_MAGIC},
                        {2, gen::ErrorCode::BAD_FINGERPRINT},
                        {static_cast<uint32_t>(s.size() - 2), gen::ErrorCode::BAD_UNIT},  // terminator -> header of unit 0xFFFF
                        {static_cast<uint32_t>(s.size() - 1), gen::ErrorCode::BAD_CRC}};
  for (const Case& c : cases) {
    wr(reg::FAULT, 2u << 16 | c.word);
    EXPECT_EQ(rd(reg::FAULT), 2u << 16 | c.word);
    EXPECT_EQ(code_of(configure(0x50000, len)), static_cast<uint32_t>(c.code)) << "word " << c.word;
  }
  wr(reg::FAULT, 0);
  EXPECT_EQ(configure(0x50000, len), 0u) << "the device works again once the fault is removed";
}

TEST(Fault, UnitThatNeverFinishesEndsInTheWatchdogAndTheDeviceRecovers) {
  clear_protection();
  const auto s = empty_stream();
  put(0x60000, bytes_of(s));
  ASSERT_EQ(configure(0x60000, static_cast<uint32_t>(4 * s.size())), 0u);
  const uint32_t unit = cfg().num_slots();  // agcu0
  wr(reg::FAULT, 1u << 16 | unit);
  wr(reg::WATCHDOG, 5000);
  plat().clear_msi(0);
  wr(reg::CTRL, reg::CTRL_START_MASK);
  ASSERT_TRUE(plat().wait_msi(0, kTo));
  EXPECT_NE(rd(reg::IRQ_STATUS) & reg::IRQ_STATUS_ERROR_MASK, 0u);
  const uint32_t err = rd(reg::ERR_STATUS);
  EXPECT_EQ(code_of(err), static_cast<uint32_t>(gen::ErrorCode::WATCHDOG));
  EXPECT_EQ(unit_of(err), unit);
  wr(reg::IRQ_STATUS, 0xFFFFFFFF);
  // Fault removed, soft reset: the same program runs to completion.
  wr(reg::FAULT, 0);
  wr(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
  ASSERT_EQ(configure(0x60000, static_cast<uint32_t>(4 * s.size())), 0u);
  plat().clear_msi(0);
  wr(reg::CTRL, reg::CTRL_START_MASK);
  ASSERT_TRUE(plat().wait_msi(0, kTo));
  EXPECT_NE(rd(reg::IRQ_STATUS) & reg::IRQ_STATUS_RUN_DONE_MASK, 0u);
  wr(reg::IRQ_STATUS, 0xFFFFFFFF);
  wr(reg::WATCHDOG, 0);
  // An empty program moves nothing: every counter reads 0.
  EXPECT_EQ(rd(reg::MEM_RD_REQS), 0u);
  EXPECT_EQ(rd(reg::MEM_WR_BYTES), 0u);
  for (uint32_t u = 0; u < cfg().num_slots() + cfg().agcu; ++u) {
    wr(reg::PERF_UNIT, u);
    EXPECT_EQ(rd(reg::PERF_ACTIVE), 0u) << "unit " << u;
    EXPECT_EQ(rd(reg::PERF_STALL_IN), 0u) << "unit " << u;
    EXPECT_EQ(rd(reg::PERF_STALL_OUT), 0u) << "unit " << u;
  }
}

TEST(Counters, DmaAndLinkCountersCountWhatMoved) {
  clear_protection();
  const uint32_t x0 = rd(reg::DMA_XFERS), h0 = rd(reg::DMA_H2D_BYTES), d0 = rd(reg::DMA_D2H_BYTES);
  const uint32_t w0 = rd(reg::LINK_MMIO_WRITES);
  put(0x70000, std::vector<uint8_t>(3000, 1));
  (void)get(0x70000, 1000);
  EXPECT_EQ(rd(reg::DMA_XFERS), x0 + 2);
  EXPECT_EQ(rd(reg::DMA_H2D_BYTES), h0 + 3000);
  EXPECT_EQ(rd(reg::DMA_D2H_BYTES), d0 + 1000);
  EXPECT_EQ(rd(reg::LINK_MMIO_WRITES), w0 + 10) << "5 register writes per DMA";
  EXPECT_EQ(rd(reg::LINK_LATENCY_NS), 500u);
  EXPECT_EQ(rd(reg::LINK_MBPS), 32000u);
}

// Descriptor ring: a scatter-gather list of three host buffers into one device range,
// one interrupt on the last descriptor; then a failing descriptor stops the ring (MSI 2).
struct Desc {
  uint64_t host;
  uint32_t dev, len, flags, status;
  uint64_t reserved;
};
static_assert(sizeof(Desc) == 32);

TEST(Ring, ScatterGatherWithOneCompletionInterruptThenAnError) {
  clear_protection();
  const uint32_t entries = 8;
  const uint64_t ring = plat().host_alloc(32 * entries);
  auto* d = reinterpret_cast<Desc*>(plat().host_ptr(ring, 32 * entries));
  std::memset(d, 0, 32 * entries);
  wr(reg::DMA_RING_LO, static_cast<uint32_t>(ring));
  wr(reg::DMA_RING_HI, static_cast<uint32_t>(ring >> 32));
  wr(reg::DMA_RING_SIZE, entries);
  EXPECT_EQ(rd(reg::DMA_RING_TAIL), 0u);
  const uint32_t sizes[3] = {1000, 4096, 24};
  uint64_t bufs[3];
  uint32_t dev = 0x80000;
  std::vector<uint8_t> expect;
  for (int i = 0; i < 3; ++i) {
    bufs[i] = plat().host_alloc(sizes[i]);
    for (uint32_t k = 0; k < sizes[i]; ++k) plat().host_ptr(bufs[i], sizes[i])[k] = static_cast<uint8_t>(i * 50 + k);
    expect.insert(expect.end(), plat().host_ptr(bufs[i], sizes[i]), plat().host_ptr(bufs[i], sizes[i]) + sizes[i]);
    d[i] = Desc{bufs[i], dev, sizes[i], i == 2 ? 2u : 0u, 0, 0};  // host to device; IRQ on the last
    dev += sizes[i];
  }
  plat().clear_msi(1);
  plat().clear_msi(2);
  const uint64_t msi1 = plat().msi_count(1);
  wr(reg::DMA_RING_HEAD, 3);  // doorbell
  EXPECT_EQ(plat().wait_msi_any(0x6, kTo), 1);
  EXPECT_EQ(plat().msi_count(1), msi1 + 1) << "one interrupt for the whole list";
  EXPECT_EQ(rd(reg::DMA_RING_TAIL), 3u);
  EXPECT_EQ(rd(reg::DMA_RING_STATUS), 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(d[i].status, 1u) << "descriptor " << i << " DONE";
  EXPECT_EQ(get(0x80000, expect.size()), expect);

  // A descriptor outside device DRAM: the ring stops at it with MSI 2.
  d[3] = Desc{bufs[0], static_cast<uint32_t>(cfg().dram_bytes - 16), 1000, 2u, 0, 0};
  d[4] = Desc{bufs[1], 0x90000, 16, 2u, 0, 0};
  wr(reg::DMA_RING_HEAD, 5);
  EXPECT_EQ(plat().wait_msi_any(0x6, kTo), 2);
  EXPECT_EQ(rd(reg::DMA_RING_STATUS), reg::DMA_RING_STATUS_ERROR_MASK);
  EXPECT_EQ(rd(reg::DMA_RING_TAIL), 3u);
  EXPECT_EQ(d[3].status, 3u) << "DONE | ERROR written back";
  EXPECT_EQ(d[4].status, 0u) << "not taken";
  wr(reg::DMA_RING_CTRL, reg::DMA_RING_CTRL_RESET_MASK);
  EXPECT_EQ(rd(reg::DMA_RING_STATUS), 0u);
  EXPECT_EQ(rd(reg::DMA_RING_TAIL), 0u);
  // Usable again: one descriptor at index 0.
  d[0] = Desc{bufs[2], 0x90000, 24, 2u, 0, 0};
  wr(reg::DMA_RING_HEAD, 1);
  EXPECT_EQ(plat().wait_msi_any(0x6, kTo), 1);
  EXPECT_EQ(d[0].status, 1u);
  wr(reg::DMA_RING_SIZE, 0);
  for (uint64_t b : bufs) plat().host_free(b);
  plat().host_free(ring);
}

// The time of a DMA from START to its MSI is what the parameters imply: the link moves
// the bytes (latency + bytes / bandwidth), the DRAM model moves them at bytes_per_cycle
// after its latency, and the MSI crosses the link once more.
TEST(Timing, DmaTimeMatchesTheLinkAndDramParametersWithin5Percent) {
  clear_protection();
  for (uint32_t n : {64u * 1024, 1u << 20, 8u << 20}) {
    const uint64_t bus = plat().host_alloc(n);
    std::memset(plat().host_ptr(bus, n), 7, n);
    plat().clear_msi(1);
    wr(reg::DMA_HOST_ADDR_LO, static_cast<uint32_t>(bus));
    wr(reg::DMA_HOST_ADDR_HI, static_cast<uint32_t>(bus >> 32));
    wr(reg::DMA_DEV_ADDR, 0x100000);
    wr(reg::DMA_LEN, n);
    const uint32_t busy0 = rd(reg::DMA_BUSY_NS);
    wr(reg::DMA_CTRL, reg::DMA_CTRL_START_MASK);
    const uint64_t t0 = now_ps();
    ASSERT_TRUE(plat().wait_msi(1, kTo));
    const double measured_ns = (now_ps() - t0) / 1e3;
    const double period_ns = 1e3 / cfg().clock_mhz;
    // Pipelined in 4 KiB pieces: the link's latency and bytes / bandwidth (32 GB/s = 32
    // bytes per ns), then the DRAM time of the last piece (the DRAM is faster than the
    // link, so it never backs up).
    const double link_ns = 500 + n / 32.0;
    const double dram_ns = (std::ceil(4096.0 / cfg().dram_bytes_per_cycle) + cfg().dram_latency_cycles) * period_ns;
    const double expected_ns = link_ns + dram_ns + 500;  // + the MSI back over the link
    EXPECT_NEAR(measured_ns, expected_ns, 0.05 * expected_ns) << n << " bytes";
    const double busy_ns = rd(reg::DMA_BUSY_NS) - busy0;
    EXPECT_NEAR(busy_ns, link_ns + dram_ns, 0.05 * (link_ns + dram_ns)) << n << " bytes: DMA_BUSY_NS";
    // Device to host: DRAM read of the first piece, then the link.
    const uint64_t bus2 = plat().host_alloc(n);
    const uint64_t t1 = now_ps();
    ASSERT_EQ(dma(true, bus2, 0x100000, n), reg::DMA_STATUS_DONE_MASK);
    const double d2h_ns = (now_ps() - t1) / 1e3;
    // dma() adds five register writes after t1 (one crossing each), the MSI, and the
    // DMA_STATUS read (two crossings).
    const double d2h_expect = 5 * 500 + dram_ns + n / 32.0 + 500 + 500 + 2 * 500;
    EXPECT_NEAR(d2h_ns, d2h_expect, 0.05 * d2h_expect) << n << " bytes device to host";
    EXPECT_EQ(std::memcmp(plat().host_ptr(bus, n), plat().host_ptr(bus2, n), n), 0);
    plat().host_free(bus2);
    plat().host_free(bus);
  }
}

}  // namespace
