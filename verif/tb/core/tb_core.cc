// rdu_core (tiny) testbench: hand-routed programs (elementwise add, broadcast, a PMU
// path) checked against a CPU computation and model::Core on the same DRAM image;
// CSRs, interrupts, configuration errors, abort, memory errors; random programs
// (random op chains, shapes, PMU paths, DRAM timing) RTL against model::Core.
// Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

#include "core_harness.h"
#include "../common/coverage.h"
#include "openrdu/arch/crc32.h"
#include "openrdu/gen/regs.h"
#include "openrdu/model/core.h"

namespace reg = openrdu::gen::reg;
using namespace openrdu;
using arch::ErrorCode;
using arch::Opcode;
using tb::CoreTb;
using tb::DramTiming;
using tb::Program;
using tb::TestDram;

namespace {

constexpr uint32_t kCfgAddr = 0x00100000;
constexpr uint32_t kIrqCfg = reg::IRQ_STATUS_CONFIG_DONE_MASK, kIrqRun = reg::IRQ_STATUS_RUN_DONE_MASK,
                   kIrqErr = reg::IRQ_STATUS_ERROR_MASK;
constexpr uint32_t kMaxCycles = 200000;
constexpr uint32_t kDefaultLen = 0xFFFFFFFFu;  // CFG_LEN = the bitstream's size

// tiny: slots (0,0) pcu id0, (0,1) pmu id1, (1,0) pmu id2, (1,1) pcu id3; agcu0 id4 at
// switch (2,0), agcu1 id5 at switch (2,1).
constexpr uint32_t kPcu0 = 0, kPmu1 = 1, kPmu2 = 2, kPcu3 = 3, kAgcu0 = 4, kAgcu1 = 5;
enum { N = 0, E = 1, S = 2, W = 3, L0 = 4, L1 = 5, L2 = 6 };
constexpr uint32_t kLanes = 4;  // tiny

uint32_t f2u(float f) { return std::bit_cast<uint32_t>(f); }

arch::PcuStage stage(Opcode op, uint8_t a, uint8_t b, uint8_t dst, uint32_t imm = 0) {
  arch::PcuStage s;
  s.op = op;
  s.src_a = a;
  s.src_b = b;
  s.dst = dst;
  s.imm = imm;
  return s;
}

arch::PcuConfig pcu(const arch::Config& cfg, uint8_t vin_mask, uint32_t count, std::vector<arch::PcuStage> st,
                    uint8_t out_reg = 0) {
  arch::PcuConfig p;
  p.enable = true;
  p.vin_mask = vin_mask;
  p.count = count;
  p.out_reg = out_reg;
  st.resize(cfg.stages);
  p.stages = st;
  return p;
}

// A v1-shaped stream: c2 x c1 rows of `inner` elements (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)"), the
// v1 -> v2 mapping); bcast: every vector reads the row's first element.
arch::AgcuStream stream(uint32_t base, uint32_t inner, uint32_t c1 = 1, int32_t s1 = 0, uint32_t c2 = 1, int32_t s2 = 0,
                        bool bcast = false) {
  arch::AgcuStream s = arch::AgcuStream::linear(base, inner, kLanes);
  if (bcast) {
    s.lstride = 0;
    s.s[0] = 0;
  }
  s.c[1] = c1;
  s.s[1] = s1;
  s.c[2] = c2;
  s.s[2] = s2;
  return s;
}

struct Outcome {
  bool cfg_irq = false, run_irq = false;
  uint32_t cfg_irq_status = 0, run_irq_status = 0, status = 0, err = 0, crc = 0, cfg_cycles = 0;
  uint64_t cycles = 0;
};

// Configure (and, when the configuration succeeds and `run` is set, start) the program
// in `bs` on the RTL; the IRQ flow of a driver.
Outcome rtl_exec(CoreTb& tb, TestDram& mem, const std::vector<uint32_t>& bs, uint32_t cfg_addr = kCfgAddr,
                 uint32_t cfg_len = kDefaultLen, bool run = true) {
  Outcome o;
  // The driver's wait: the interrupt, IRQ_STATUS read and written back (cleared).
  auto wait_and_clear = [&](bool& irq, uint32_t& irq_status) {
    irq = tb.wait_irq(kMaxCycles);
    irq_status = tb.csr_read(reg::IRQ_STATUS);
    tb.csr_write(reg::IRQ_STATUS, irq_status);
  };
  if (mem.in_range(cfg_addr, uint32_t(bs.size()))) mem.load(cfg_addr, bs);
  tb.csr_write(reg::IRQ_ENABLE, 7);
  tb.csr_write(reg::CFG_ADDR, cfg_addr);
  tb.csr_write(reg::CFG_LEN, cfg_len != kDefaultLen ? cfg_len : uint32_t(4 * bs.size()));
  tb.csr_write(reg::CTRL, reg::CTRL_CONFIGURE_MASK);
  wait_and_clear(o.cfg_irq, o.cfg_irq_status);
  o.crc = tb.csr_read(reg::CFG_CRC);
  o.cfg_cycles = tb.csr_read(reg::CFG_CYCLES);
  o.status = tb.csr_read(reg::STATUS);
  o.err = tb.csr_read(reg::ERR_STATUS);
  if (!run || !(o.cfg_irq_status & kIrqCfg)) return o;
  tb.csr_write(reg::CTRL, reg::CTRL_START_MASK);
  wait_and_clear(o.run_irq, o.run_irq_status);
  o.status = tb.csr_read(reg::STATUS);
  o.err = tb.csr_read(reg::ERR_STATUS);
  o.cycles = tb.csr_read(reg::CYCLES_LO) | uint64_t(tb.csr_read(reg::CYCLES_HI)) << 32;
  return o;
}

struct ModelOutcome {
  model::CoreResult cfg, run;
};

ModelOutcome model_exec(const arch::Config& cfg, TestDram& mem, const std::vector<uint32_t>& bs,
                        uint32_t cfg_addr = kCfgAddr, uint32_t cfg_len = kDefaultLen) {
  ModelOutcome m;
  if (mem.in_range(cfg_addr, uint32_t(bs.size()))) mem.load(cfg_addr, bs);
  model::Core core(cfg);
  m.cfg = core.configure(mem, cfg_addr, cfg_len != kDefaultLen ? cfg_len : uint32_t(4 * bs.size()));
  if (m.cfg.ok) m.run = core.run(mem);
  return m;
}

uint32_t err_word(ErrorCode code, uint32_t unit) { return uint32_t(code) | unit << 8; }

class CoreTest : public ::testing::Test {
 protected:
  arch::Config cfg = arch::load_config("tiny");
  uint64_t seed = tb::seed_from_env();

  // Runs the program on the RTL and on the model, each on its own copy of `init`, and
  // checks both complete and leave the same DRAM. Returns the RTL's image.
  TestDram run_both(const Program& p, const TestDram& init, DramTiming t = {}, const std::string& what = "",
                    uint64_t* cycles = nullptr) {
    const auto bs = p.bitstream();
    TestDram rtl_mem = init, model_mem = init;
    CoreTb tb(rtl_mem, t, seed);
    const Outcome o = rtl_exec(tb, rtl_mem, bs);
    const ModelOutcome m = model_exec(cfg, model_mem, bs);
    EXPECT_TRUE(m.cfg.ok) << what << m.cfg.message;
    EXPECT_TRUE(m.run.ok) << what << m.run.message;
    EXPECT_TRUE(o.cfg_irq) << what << "no configuration interrupt";
    EXPECT_EQ(o.cfg_irq_status, kIrqCfg) << what;
    EXPECT_EQ(o.crc, m.cfg.crc) << what << "CFG_CRC";
    EXPECT_EQ(o.crc, arch::crc32(bs.data(), (bs.size() - 1) * 4)) << what;
    EXPECT_GT(o.cfg_cycles, 0u) << what;
    EXPECT_TRUE(o.run_irq) << what << "no run interrupt after " << kMaxCycles << " cycles (seed " << seed << ")";
    EXPECT_EQ(o.run_irq_status, kIrqRun) << what << "ERR_STATUS 0x" << std::hex << o.err;
    EXPECT_EQ(o.status & (reg::STATUS_DONE_MASK | reg::STATUS_ERROR_MASK | reg::STATUS_RUNNING_MASK),
              reg::STATUS_DONE_MASK)
        << what;
    EXPECT_GT(o.cycles, 0u) << what;
    EXPECT_GT(tb.mem_writes(), 0u) << what << "no store reached DRAM";
    EXPECT_NE(rtl_mem.diff(init), "") << what << "DRAM unchanged by the run";
    if (cycles) *cycles = o.cycles;
    const std::string d = rtl_mem.diff(model_mem);
    EXPECT_EQ(d, "") << what << "RTL vs model DRAM (seed " << seed << ")";
    return rtl_mem;
  }
};

// ------------------------------------------------------------------------------------
TEST_F(CoreTest, CsrIdentityAndCapabilities) {
  TestDram mem(cfg.dram_bytes);
  CoreTb tb(mem, {}, seed);
  EXPECT_EQ(tb.csr_read(reg::ID), 0x52445530u);
  EXPECT_EQ(tb.csr_read(reg::VERSION), 0x00010000u);
  EXPECT_EQ(tb.csr_read(reg::FINGERPRINT), cfg.fingerprint());
  EXPECT_EQ(tb.csr_read(reg::CAP_GRID), cfg.rows | cfg.cols << 8 | cfg.agcu << 16);
  EXPECT_EQ(tb.csr_read(reg::CAP_PCU), cfg.lanes | cfg.stages << 8 | cfg.regs << 16 | cfg.vin << 24);
  EXPECT_EQ(tb.csr_read(reg::CAP_PMU), cfg.pmu_bytes);
  EXPECT_EQ(tb.csr_read(reg::CAP_DRAM), uint32_t(cfg.dram_bytes >> 20));
  EXPECT_EQ(tb.csr_read(reg::STATUS), 0u);
  EXPECT_EQ(tb.csr_read(reg::ERR_STATUS), 0xFFFF00u);
  tb.csr_write(reg::SCRATCH, 0xA5A5F00D);
  EXPECT_EQ(tb.csr_read(reg::SCRATCH), 0xA5A5F00Du);
  // START without a configuration is ignored.
  tb.csr_write(reg::IRQ_ENABLE, 7);
  tb.csr_write(reg::CTRL, reg::CTRL_START_MASK);
  EXPECT_FALSE(tb.wait_irq(200));
  EXPECT_EQ(tb.csr_read(reg::STATUS), 0u);
}

// (a) C = A + B, n not a multiple of LANES; hand-routed.
Program elementwise_add(const arch::Config& cfg, uint32_t n, uint32_t a, uint32_t b, uint32_t c) {
  Program p(cfg);
  const uint32_t nv = (n + cfg.lanes - 1) / cfg.lanes;
  arch::AgcuConfig ag;
  ag.ld[0] = stream(a, n);
  ag.ld[1] = stream(b, n);
  ag.st = stream(c, n);
  p.words[kAgcu0] = ag.encode();
  p.words[kPcu3] = pcu(cfg, 0b011, nv, {stage(Opcode::FADD, 0, 1, 0)}).encode(cfg);
  // ld0: (2,0) L0 -> E -> (2,1) -> N -> (1,1) -> PCU in 0
  p.sel(2, 0, E, L0);
  p.sel(2, 1, N, W);
  p.sel(1, 1, L0, S);
  // ld1: (2,0) L1 -> N -> (1,0) -> E -> (1,1) -> PCU in 1
  p.sel(2, 0, N, L1);
  p.sel(1, 0, E, S);
  p.sel(1, 1, L1, W);
  // result: (1,1) L0 -> S -> (2,1) -> W -> (2,0) -> AGCU0 store
  p.sel(1, 1, S, L0);
  p.sel(2, 1, W, N);
  p.sel(2, 0, L0, E);
  return p;
}

TEST_F(CoreTest, ElementwiseAdd) {
  const uint32_t n = 4 * 7 + 3, A = 0x1000, B = 0x2000, C = 0x3000;
  TestDram init(cfg.dram_bytes);
  std::mt19937 rng{uint32_t(seed)};
  std::uniform_real_distribution<float> dist(-100.f, 100.f);
  std::vector<float> a(n), b(n);
  for (uint32_t i = 0; i < n; ++i) {
    a[i] = dist(rng);
    b[i] = dist(rng);
    init.set(A + 4 * i, f2u(a[i]));
    init.set(B + 4 * i, f2u(b[i]));
  }
  init.set(C + 4 * n, 0xDEADBEEF);  // past the end: must survive the partial last vector
  for (DramTiming t : {DramTiming{20, 0, 0}, DramTiming{5, 30, 30}}) {
    const TestDram out = run_both(elementwise_add(cfg, n, A, B, C), init, t);
    for (uint32_t i = 0; i < n; ++i) {
      volatile float s = a[i] + b[i];
      ASSERT_EQ(out.at(C + 4 * i), f2u(s)) << "element " << i << ": " << a[i] << " + " << b[i];
    }
    EXPECT_EQ(out.at(C + 4 * n), 0xDEADBEEFu);
  }
}

// (b) Y[r][k] = X[r][k] * w[k] + s: w broadcast over rows (c1 with s1 = 0), s a scalar
// broadcast to every lane (bcast); three loads over two AGCUs.
TEST_F(CoreTest, BroadcastMulAdd) {
  const uint32_t K = 6, R = 5, X = 0x1000, Wt = 0x2000, Sc = 0x2800, Y = 0x3000;
  const uint32_t nv = R * ((K + 3) / 4);
  TestDram init(cfg.dram_bytes);
  std::mt19937 rng(uint32_t(seed) + 1);
  std::uniform_real_distribution<float> dist(-10.f, 10.f);
  std::vector<float> x(R * K), w(K);
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  const float s = dist(rng);
  for (uint32_t i = 0; i < R * K; ++i) init.set(X + 4 * i, f2u(x[i]));
  for (uint32_t k = 0; k < K; ++k) init.set(Wt + 4 * k, f2u(w[k]));
  init.set(Sc, f2u(s));

  Program p(cfg);
  arch::AgcuConfig a0, a1;
  a0.ld[0] = stream(X, K, R, K);
  a0.ld[1] = stream(Wt, K, R, 0);
  a0.st = stream(Y, K, R, K);
  a1.ld[0] = stream(Sc, K, R, 0, 1, 0, true);
  p.words[kAgcu0] = a0.encode();
  p.words[kAgcu1] = a1.encode();
  p.words[kPcu3] = pcu(cfg, 0b111, nv, {stage(Opcode::FMUL, 0, 1, 0), stage(Opcode::FADD, 0, 2, 3)}, 3).encode(cfg);
  p.sel(2, 0, E, L0);  // X: (2,0) -> (2,1) -> (1,1) in 0
  p.sel(2, 1, N, W);
  p.sel(1, 1, L0, S);
  p.sel(2, 0, N, L1);  // w: (2,0) -> (1,0) -> (1,1) in 1
  p.sel(1, 0, E, S);
  p.sel(1, 1, L1, W);
  p.sel(2, 1, E, L0);  // s: (2,1) -> (2,2) -> (1,2) -> (1,1) in 2
  p.sel(2, 2, N, W);
  p.sel(1, 2, W, S);
  p.sel(1, 1, L2, E);
  p.sel(1, 1, S, L0);  // Y: (1,1) -> (2,1) -> (2,0) store
  p.sel(2, 1, W, N);
  p.sel(2, 0, L0, E);
  const TestDram out = run_both(p, init, {12, 8, 20});
  for (uint32_t r = 0; r < R; ++r)
    for (uint32_t k = 0; k < K; ++k) {
      volatile float m = x[r * K + k] * w[k];
      volatile float y = m + s;
      ASSERT_EQ(out.at(Y + 4 * (r * K + k)), f2u(y)) << "row " << r << " col " << k;
    }
}

// n floats f(0..n-1) written at byte address X of d; returns them.
template <class F>
std::vector<float> put_floats(TestDram& d, uint32_t X, uint32_t n, F f) {
  std::vector<float> x(n);
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = f(i);
    d.set(X + 4 * i, f2u(x[i]));
  }
  return x;
}

// An AGCU that loads n words at X on ld0 and stores n words at Y.
arch::AgcuConfig load_store(uint32_t X, uint32_t Y, uint32_t n) {
  arch::AgcuConfig ag;
  ag.ld[0] = stream(X, n);
  ag.st = stream(Y, n);
  return ag;
}

// (c) AGCU ld -> PMU (write rows 0..nv-1, read them back in reverse) -> PCU (+imm,
// and the lane index added through a second stage) -> AGCU st.
TEST_F(CoreTest, PmuReversePath) {
  const uint32_t n = 4 * 9, nv = 9, X = 0x1000, Y = 0x3000;
  const float bias = 0.5f;
  TestDram init(cfg.dram_bytes);
  const std::vector<float> x = put_floats(init, X, n, [](uint32_t i) { return float(i) * 1.25f - 7.f; });
  Program p(cfg);
  p.words[kAgcu0] = load_store(X, Y, n).encode();
  arch::PmuConfig pm;
  pm.enable = true;
  pm.mode = 0;
  pm.wr = {0, nv, 1, 1, 0};
  pm.rd = {nv - 1, nv, 1, -1, 0};
  p.words[kPmu2] = pm.encode();
  p.words[kPcu3] = pcu(cfg, 0b001, nv, {stage(Opcode::FADD, 0, uint8_t(arch::Src::IMM), 0, f2u(bias))}).encode(cfg);
  p.sel(2, 0, N, L0);  // ld0: (2,0) -> (1,0) PMU in
  p.sel(1, 0, L0, S);
  p.sel(1, 0, E, L0);  // PMU out: (1,0) -> (1,1) PCU in 0
  p.sel(1, 1, L0, W);
  p.sel(1, 1, S, L0);  // result: (1,1) -> (2,1) -> (2,0) store
  p.sel(2, 1, W, N);
  p.sel(2, 0, L0, E);
  const TestDram out = run_both(p, init);
  for (uint32_t v = 0; v < nv; ++v)
    for (uint32_t l = 0; l < 4; ++l) {
      volatile float y = x[(nv - 1 - v) * 4 + l] + bias;
      ASSERT_EQ(out.at(Y + 4 * (v * 4 + l)), f2u(y)) << "vector " << v << " lane " << l;
    }
}

// Fan-out: one load feeds both inputs of the PCU (y = x * x) and the PMU path.
TEST_F(CoreTest, FanOutSquare) {
  const uint32_t n = 13, X = 0x1000, Y = 0x3000;
  TestDram init(cfg.dram_bytes);
  const std::vector<float> x = put_floats(init, X, n, [](uint32_t i) { return 0.75f * float(i) - 3.f; });
  Program p(cfg);
  p.words[kAgcu0] = load_store(X, Y, n).encode();
  p.words[kPcu3] = pcu(cfg, 0b011, 4, {stage(Opcode::FMUL, 0, 1, 0)}).encode(cfg);
  p.sel(2, 0, E, L0);
  p.sel(2, 1, N, W);
  p.sel(1, 1, L0, S);
  p.sel(1, 1, L1, S);  // fan-out at switch (1,1): input S to outputs L0 and L1
  p.sel(1, 1, S, L0);
  p.sel(2, 1, W, N);
  p.sel(2, 0, L0, E);
  const TestDram out = run_both(p, init, {3, 10, 40});
  for (uint32_t i = 0; i < n; ++i) {
    volatile float y = x[i] * x[i];
    ASSERT_EQ(out.at(Y + 4 * i), f2u(y)) << "element " << i;
  }
}

// Drain chain at chip level: an outer product over two PCUs that share the A and B
// streams (fan-out). PCU0 (the tail) computes rows nh .. nh+nt-1 of each tile (lanes
// nh+s of the A vector) and sends them to input 2 of PCU3 (the head), which computes
// rows 0 .. nh-1 and forwards the tail's rows after its own: one store stream for
// both. Random tile sizes, K, groups and DRAM timing; RTL and model leave the same
// DRAM, equal to the host's fma chains.
TEST_F(CoreTest, DrainChainOuterProduct) {
  constexpr uint32_t XA = 0x1000, XB = 0x4000, Y = 0x8000;
  std::mt19937 rng(uint32_t(seed) + 5);
  std::uniform_real_distribution<float> dist(-4.f, 4.f);
  for (int prog = 0; prog < 30; ++prog) {
    const uint32_t nh = 1 + rng() % 3, nt = 1 + rng() % (kLanes - nh), K = 1 + rng() % 12, G = 1 + rng() % 5;
    const uint32_t nv = K * G;  // A and B vectors, one per firing
    TestDram init(cfg.dram_bytes);
    std::vector<float> a(4 * nv), b(4 * nv);
    for (uint32_t i = 0; i < 4 * nv; ++i) {
      a[i] = dist(rng), b[i] = dist(rng);
      init.set(XA + 4 * i, f2u(a[i]));
      init.set(XB + 4 * i, f2u(b[i]));
    }
    Program p(cfg);
    arch::AgcuConfig a0, a1;
    a0.ld[0] = stream(XA, 4 * nv);
    a1.ld[0] = stream(XB, 4 * nv);
    a1.st = stream(Y, 4 * G * (nh + nt));
    p.words[kAgcu0] = a0.encode();
    p.words[kAgcu1] = a1.encode();
    auto program = [&](uint32_t rows, uint32_t lane0, uint8_t chain) {
      std::vector<arch::PcuStage> st(rows);
      for (uint32_t s = 0; s < rows; ++s) {
        st[s] = stage(Opcode::FMA, uint8_t(arch::Src::BREG0), 1, 2);
        st[s].src_c = uint8_t(arch::Src::ACC);
        st[s].bl = uint8_t(lane0 + s);
        st[s].acc = true;
      }
      // The head's vin_mask sometimes names input 2: the chain drops it.
      arch::PcuConfig pc = pcu(cfg, chain && rng() % 2 ? 0b111 : 0b011, nv, st);
      pc.out_mode = 1;
      pc.acc_len = K;
      pc.acc_init = 0x80000000u;
      pc.chain = chain;
      return pc.encode(cfg);
    };
    p.words[kPcu0] = program(nt, nh, 0);
    p.words[kPcu3] = program(nh, 0, uint8_t(nt));
    // A: (2,0) -> (1,0), fanned out to (0,0) PCU0.in0 and (1,1) PCU3.in0.
    p.sel(2, 0, N, L0);
    p.sel(1, 0, N, S);
    p.sel(0, 0, L0, S);
    p.sel(1, 0, E, S);
    p.sel(1, 1, L0, W);
    // B: (2,1) -> (1,1) PCU3.in1, and on through (0,1) to (0,0) PCU0.in1.
    p.sel(2, 1, N, L0);
    p.sel(1, 1, L1, S);
    p.sel(1, 1, N, S);
    p.sel(0, 1, W, S);
    p.sel(0, 0, L1, E);
    // Chain: PCU0's result (0,0) -> (0,1) -> (1,1) PCU3.in2; PCU3's result -> AGCU1 st.
    p.sel(0, 0, E, L0);
    p.sel(0, 1, S, W);
    p.sel(1, 1, L2, N);
    p.sel(1, 1, S, L0);
    p.sel(2, 1, L0, N);
    const DramTiming t{1 + uint32_t(rng() % 30), uint32_t(rng() % 10), uint32_t(rng() % 40)};
    const std::string what = fmt::format("chain program {} (seed {}: nh {} nt {} K {} groups {}): ", prog, seed, nh, nt, K, G);
    const TestDram out = run_both(p, init, t, what);
    if (HasFailure()) break;
    for (uint32_t g = 0; g < G; ++g)
      for (uint32_t r = 0; r < nh + nt; ++r)
        for (uint32_t n = 0; n < kLanes; ++n) {
          float acc = -0.0f;
          for (uint32_t k = 0; k < K; ++k) {
            const uint32_t v = g * K + k;
            acc = std::fma(a[4 * v + r], b[4 * v + n], acc);
          }
          ASSERT_EQ(out.at(Y + 4 * (4 * (g * (nh + nt) + r) + n)), f2u(acc))
              << what << "group " << g << " row " << r << " col " << n;
        }
  }
}

// Vector routes of two pipelines on tiny: AGCU0 ld0 -> PCU0 in0 -> AGCU0 st, and
// AGCU1 ld0 -> PCU3 in0 -> AGCU1 st.
void route_two_pipelines(Program& p) {
  p.sel(2, 0, N, L0);
  p.sel(1, 0, N, S);
  p.sel(0, 0, L0, S);
  p.sel(2, 1, N, L0);
  p.sel(1, 1, L0, S);
  p.sel(0, 0, S, L0);
  p.sel(1, 0, S, N);
  p.sel(2, 0, L0, N);
  p.sel(1, 1, S, L0);
  p.sel(2, 1, L0, N);
}

// Scalar and control networks: PCU0 takes each row's max (accumulator mode, reduce max)
// and sends it on its scalar output to PCU3, which subtracts it from the row (sin, simm:
// the shift of a softmax); PCU3 sends a token per finished row back to PCU0, whose rows
// need a credit each (tin, tok_init 2: PCU0 runs at most two rows ahead). Both loads read
// X; AGCU0 stores the row maxima, AGCU1 the shifted rows. RTL, model and host agree; a
// broken token route would stall PCU0 after two rows (no run interrupt, model deadlock).
TEST_F(CoreTest, ScalarAndControlRoutes) {
  constexpr uint32_t X = 0x1000, YM = 0x6000, Y = 0x8000;
  std::mt19937 rng(uint32_t(seed) + 7);
  std::uniform_real_distribution<float> dist(-50.f, 50.f);
  for (int prog = 0; prog < 12; ++prog) {
    const uint32_t R = 1 + rng() % 8, nv = 1 + rng() % 5;  // rows of nv vectors
    TestDram init(cfg.dram_bytes);
    std::vector<float> x(4 * R * nv);
    for (uint32_t i = 0; i < x.size(); ++i) init.set(X + 4 * i, f2u(x[i] = dist(rng)));
    Program p(cfg);
    arch::AgcuConfig a0, a1;
    a0.ld[0] = stream(X, 4 * R * nv);
    a0.st = stream(YM, 4 * R);
    a1.ld[0] = stream(X, 4 * R * nv);
    a1.st = stream(Y, 4 * R * nv);
    p.words[kAgcu0] = a0.encode();
    p.words[kAgcu1] = a1.encode();
    arch::PcuStage mx = stage(Opcode::FMAX, 0, uint8_t(arch::Src::ACC), 0);
    mx.acc = true;
    arch::PcuConfig pm = pcu(cfg, 0b001, R * nv, {mx});
    pm.out_mode = 1;
    pm.reduce = 2;
    pm.acc_len = nv;
    pm.acc_init = f2u(-INFINITY);
    pm.sout = true;
    pm.tin = true;
    pm.tok_init = 2;
    arch::PcuStage sub = stage(Opcode::FSUB, 0, uint8_t(arch::Src::IMM), 0);
    sub.simm = true;
    arch::PcuConfig ps = pcu(cfg, 0b001, R * nv, {sub});
    ps.acc_len = nv;
    ps.sin = true;
    ps.tout = true;
    p.words[kPcu0] = pm.encode(cfg);
    p.words[kPcu3] = ps.encode(cfg);
    route_two_pipelines(p);
    // Scalar: PCU0 (0,0) -> (0,1) -> PCU3 (1,1). Control: PCU3 (1,1) -> (0,1) -> PCU0 (0,0).
    p.sel_net(arch::kScalarNet, 0, 0, E, L0);
    p.sel_net(arch::kScalarNet, 0, 1, S, W);
    p.sel_net(arch::kScalarNet, 1, 1, L0, N);
    p.sel_net(arch::kControlNet, 1, 1, N, L0);
    p.sel_net(arch::kControlNet, 0, 1, W, S);
    p.sel_net(arch::kControlNet, 0, 0, L0, E);
    const DramTiming t{1 + uint32_t(rng() % 30), uint32_t(rng() % 10), uint32_t(rng() % 40)};
    const std::string what = fmt::format("scalar/control program {} (seed {}: {} rows of {} vectors): ", prog, seed, R, nv);
    const TestDram out = run_both(p, init, t, what);
    if (HasFailure()) break;
    for (uint32_t r = 0; r < R; ++r) {
      float m = -INFINITY;
      for (uint32_t i = 0; i < 4 * nv; ++i) m = std::max(m, x[4 * nv * r + i]);
      for (uint32_t l = 0; l < kLanes; ++l) ASSERT_EQ(out.at(YM + 4 * (4 * r + l)), f2u(m)) << what << "row max " << r;
      for (uint32_t i = 0; i < 4 * nv; ++i)
        ASSERT_EQ(out.at(Y + 4 * (4 * nv * r + i)), f2u(x[4 * nv * r + i] - m)) << what << "row " << r << " element " << i;
    }
  }
}

// A dependency through DRAM inside one program (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)"), control):
// AGCU0 loads X in R tiles of nv vectors, PCU0 doubles it, AGCU0 stores Y tile by tile
// with tout; its store-done tokens travel on the control network (switch (2,0) east to
// (2,1)) to AGCU1, whose load of Y needs a credit per tile (tin, tok_init 0); PCU3
// squares Y into Z. Z = (2x)^2 from the host proves every load of Y came after its
// tile's stores had been acknowledged; RTL and model leave the same DRAM.
TEST_F(CoreTest, StoreDoneTokensChainTwoStagesThroughDram) {
  constexpr uint32_t X = 0x1000, Y = 0x6000, Z = 0x9000;
  std::mt19937 rng(uint32_t(seed) + 9);
  std::uniform_real_distribution<float> dist(-1e3f, 1e3f);
  for (int prog = 0; prog < 10; ++prog) {
    const uint32_t R = 1 + rng() % 6, nv = 1 + rng() % 4, n = 4 * nv;  // R tiles of nv vectors
    TestDram init(cfg.dram_bytes);
    std::vector<float> x(R * n);
    for (uint32_t i = 0; i < x.size(); ++i) init.set(X + 4 * i, f2u(x[i] = dist(rng)));
    auto tiled = [&](uint32_t base) {
      arch::AgcuStream s = stream(base, n);
      s.c[3] = R;
      s.s[3] = int32_t(n);
      return s;
    };
    Program p(cfg);
    arch::AgcuConfig a0, a1;
    a0.ld[0] = tiled(X);
    a0.st = tiled(Y);
    a0.st.tout = true;
    a1.ld[0] = tiled(Y);
    a1.ld[0].tin = true;
    a1.st = tiled(Z);
    p.words[kAgcu0] = a0.encode();
    p.words[kAgcu1] = a1.encode();
    p.words[kPcu0] = pcu(cfg, 0b001, R * nv, {stage(Opcode::FADD, 0, 0, 0)}).encode(cfg);
    p.words[kPcu3] = pcu(cfg, 0b001, R * nv, {stage(Opcode::FMUL, 0, 0, 0)}).encode(cfg);
    route_two_pipelines(p);
    // Control: AGCU0 (switch (2,0)) -> east -> AGCU1 (switch (2,1)).
    p.sel_net(arch::kControlNet, 2, 0, E, L0);
    p.sel_net(arch::kControlNet, 2, 1, L0, W);
    const DramTiming t{1 + uint32_t(rng() % 40), uint32_t(rng() % 10), uint32_t(rng() % 40)};
    const std::string what =
        fmt::format("store-done program {} (seed {}: {} tiles of {} vectors, latency {}): ", prog, seed, R, nv, t.latency);
    const TestDram out = run_both(p, init, t, what);
    if (HasFailure()) break;
    for (uint32_t i = 0; i < R * n; ++i) {
      const float y = x[i] + x[i];
      ASSERT_EQ(out.at(Y + 4 * i), f2u(y)) << what << "Y[" << i << "]";
      ASSERT_EQ(out.at(Z + 4 * i), f2u(y * y)) << what << "Z[" << i << "] (tile " << i / n << ")";
    }
  }
}

// Credits between units for an N-buffer (ARCHITECTURE.md, control: pipelined, N
// credits): PCU3 adds 1 to X and writes tiles of V vectors into PMU2 (2 buffers), one
// group per tile, each needing a credit (tin, tok_init 2 = the buffers); PMU2 reads each
// tile back reversed and returns a token when a tile's reads are issued (tout, tsel 1:
// the buffer is free), on the control network from switch (1,0) east to PCU3's (1,1).
// AGCU1 stores the tiles. RTL, model and host agree over random shapes and timings.
TEST_F(CoreTest, PmuBufferCreditsToProducerPcu) {
  constexpr uint32_t X = 0x1000, Y = 0x8000;
  std::mt19937 rng(uint32_t(seed) + 11);
  std::uniform_real_distribution<float> dist(-100.f, 100.f);
  for (int prog = 0; prog < 8; ++prog) {
    const uint32_t T = 2 + rng() % 5, V = 1 + rng() % 6;  // T tiles of V vectors
    TestDram init(cfg.dram_bytes);
    std::vector<float> x(4 * T * V);
    for (uint32_t i = 0; i < x.size(); ++i) init.set(X + 4 * i, f2u(x[i] = dist(rng)));
    Program p(cfg);
    arch::AgcuConfig a0, a1;
    a0.ld[0] = stream(X, 4 * T * V);
    a1.st = stream(Y, 4 * T * V);
    p.words[kAgcu0] = a0.encode();
    p.words[kAgcu1] = a1.encode();
    arch::PcuConfig pc = pcu(cfg, 0b001, T * V, {stage(Opcode::FADD, 0, uint8_t(arch::Src::IMM), 0, f2u(1.0f))});
    pc.acc_len = V;  // a group is a tile
    pc.tin = true;
    pc.tok_init = 2;
    p.words[kPcu3] = pc.encode(cfg);
    arch::PmuConfig pm;
    pm.enable = true;
    pm.nbuf = 2;
    pm.tiles = T;
    pm.buf_rows = V;
    pm.wr = {0, V, 1, 1, 0};
    pm.rd = {V - 1, V, 1, -1, 0};
    pm.tout = true;
    pm.tsel = true;
    p.words[kPmu2] = pm.encode();
    ASSERT_TRUE(p.route(kAgcu0, 0, kPcu3, 0) && p.route(kPcu3, 0, kPmu2, 0) && p.route(kPmu2, 0, kAgcu1, 0));
    p.sel_net(arch::kControlNet, 1, 0, E, L0);
    p.sel_net(arch::kControlNet, 1, 1, L0, W);
    const DramTiming t{1 + uint32_t(rng() % 30), uint32_t(rng() % 10), uint32_t(rng() % 40)};
    const std::string what = fmt::format("buffer credits program {} (seed {}: {} tiles of {} vectors): ", prog, seed, T, V);
    const TestDram out = run_both(p, init, t, what);
    if (HasFailure()) break;
    for (uint32_t tile = 0; tile < T; ++tile)
      for (uint32_t k = 0; k < V; ++k)
        for (uint32_t l = 0; l < 4; ++l) {
          const uint32_t src = 4 * (tile * V + (V - 1 - k)) + l, dst = 4 * (tile * V + k) + l;
          ASSERT_EQ(out.at(Y + 4 * dst), f2u(x[src] + 1.0f)) << what << "tile " << tile << " vector " << k;
        }
  }
}

// Configuration errors: the same ERR_STATUS code and unit in RTL and model, then a
// good configuration on the same core still works.
TEST_F(CoreTest, ConfigErrors) {
  const uint32_t n = 10;
  const Program good = elementwise_add(cfg, n, 0x1000, 0x2000, 0x3000);
  const std::vector<uint32_t> bs = good.bitstream();
  const uint32_t first_unit = bs[4] >> 16;
  struct Case {
    std::string name;
    std::vector<uint32_t> bs;
    uint32_t addr, len;
    ErrorCode code;
    uint32_t unit;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, auto mutate, ErrorCode code, uint32_t unit, uint32_t addr = kCfgAddr,
                 int len_delta = 0) {
    auto b = bs;
    mutate(b);
    cases.push_back({name, b, addr, uint32_t(int(4 * b.size()) + len_delta), code, unit});
  };
  add("crc", [](auto& b) { b.back() ^= 0x10; }, ErrorCode::BAD_CRC, 0xFFFF);
  add("payload bit (crc)", [](auto& b) { b[6] ^= 0x100; }, ErrorCode::BAD_CRC, 0xFFFF);
  add("magic", [](auto& b) { b[0] = 0x12345678; }, ErrorCode::BAD_MAGIC, 0xFFFF);
  add("version", [](auto& b) { b[1] = arch::kBitstreamVersion + 1; }, ErrorCode::BAD_VERSION, 0xFFFF);
  add("fingerprint", [](auto& b) { b[2] ^= 1; }, ErrorCode::BAD_FINGERPRINT, 0xFFFF);
  add("unit id", [](auto& b) { b[4] = (200u << 16) | (b[4] & 0xFFFF); }, ErrorCode::BAD_UNIT, 200);
  add("unit id = num_units", [&](auto& b) { b[4] = (cfg.num_units() << 16) | 1; }, ErrorCode::BAD_UNIT,
      cfg.num_units());
  add("words", [](auto& b) { b[4] = (b[4] & 0xFFFF0000u) | 40; }, ErrorCode::BAD_WORDS, first_unit);
  add("length word", [](auto& b) { b[3] += 1; }, ErrorCode::BAD_LENGTH, 0xFFFF);
  add("CFG_LEN", [](auto&) {}, ErrorCode::BAD_LENGTH, 0xFFFF, kCfgAddr, -4);
  add("terminator early", [](auto& b) { b.insert(b.end() - 1, 0u); b[3] = uint32_t(b.size()); },
      ErrorCode::BAD_LENGTH, 0xFFFF);
  add("no terminator", [](auto& b) { b.erase(b.end() - 2); b[3] = uint32_t(b.size()); }, ErrorCode::TRUNCATED,
      0xFFFF);
  add("record into crc", [](auto& b) { b.erase(b.end() - 2); b.back() = (10u << 16) | 3; b.push_back(0); b[3] = uint32_t(b.size()); },
      ErrorCode::TRUNCATED, 10);
  add("short header", [](auto&) {}, ErrorCode::TRUNCATED, 0xFFFF, kCfgAddr, -int(4 * bs.size()) + 8);
  add("empty", [](auto&) {}, ErrorCode::TRUNCATED, 0xFFFF, kCfgAddr, -int(4 * bs.size()));
  add("outside DRAM", [](auto&) {}, ErrorCode::MEM_ERROR, 0xFFFF, uint32_t(cfg.dram_bytes));

  TestDram mem(cfg.dram_bytes);
  CoreTb tb(mem, {7, 5, 10}, seed);
  for (const Case& c : cases) {
    TestDram mm(cfg.dram_bytes);
    const ModelOutcome m = model_exec(cfg, mm, c.bs, c.addr, c.len);
    const Outcome o = rtl_exec(tb, mem, c.bs, c.addr, c.len);
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(m.cfg.ok);
    EXPECT_EQ(uint32_t(m.cfg.code), uint32_t(c.code)) << m.cfg.message;
    EXPECT_EQ(m.cfg.unit, c.unit) << m.cfg.message;
    EXPECT_TRUE(o.cfg_irq);
    EXPECT_EQ(o.cfg_irq_status, kIrqErr);
    EXPECT_EQ(o.err, err_word(m.cfg.code, m.cfg.unit)) << "RTL ERR_STATUS vs model: " << m.cfg.message;
    EXPECT_EQ(o.status, reg::STATUS_ERROR_MASK);
  }
  // A good configuration afterwards.
  for (uint32_t i = 0; i < n; ++i) {
    mem.set(0x1000 + 4 * i, f2u(float(i)));
    mem.set(0x2000 + 4 * i, f2u(2.f));
  }
  const Outcome o = rtl_exec(tb, mem, bs);
  EXPECT_EQ(o.cfg_irq_status, kIrqCfg);
  EXPECT_EQ(o.run_irq_status, kIrqRun);
  EXPECT_EQ(o.err, 0xFFFF00u);
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(mem.at(0x3000 + 4 * i), f2u(float(i) + 2.f)) << i;
}

// A program that never finishes (the PCU waits for an input that never comes while
// the AGCU has loads in flight) is aborted; the core then runs a good program.
TEST_F(CoreTest, AbortStuckProgram) {
  Program p(cfg);
  arch::AgcuConfig ag;
  ag.ld[0] = stream(0x1000, 400);
  p.words[kAgcu0] = ag.encode();
  p.words[kPcu3] = pcu(cfg, 0b011, 100, {stage(Opcode::FADD, 0, 1, 0)}).encode(cfg);
  p.sel(2, 0, E, L0);
  p.sel(2, 1, N, W);
  p.sel(1, 1, L0, S);
  const auto bs = p.bitstream();

  TestDram mm(cfg.dram_bytes);
  const ModelOutcome m = model_exec(cfg, mm, bs);
  EXPECT_TRUE(m.cfg.ok) << m.cfg.message;
  EXPECT_FALSE(m.run.ok);
  EXPECT_EQ(m.run.code, ErrorCode::ABORTED);
  EXPECT_TRUE(m.run.unit == kPcu3 || m.run.unit == kAgcu0) << m.run.message;

  TestDram mem(cfg.dram_bytes);
  CoreTb tb(mem, {30, 0, 0}, seed);
  const Outcome o = rtl_exec(tb, mem, bs, kCfgAddr, kDefaultLen, false);
  ASSERT_EQ(o.cfg_irq_status, kIrqCfg);
  tb.csr_write(reg::CTRL, reg::CTRL_START_MASK);
  EXPECT_FALSE(tb.wait_irq(2000));
  EXPECT_EQ(tb.csr_read(reg::STATUS), reg::STATUS_CONFIGURED_MASK | reg::STATUS_RUNNING_MASK);
  const uint64_t c1 = tb.csr_read(reg::CYCLES_LO);
  EXPECT_GT(c1, 1000u);
  tb.csr_write(reg::CTRL, reg::CTRL_ABORT_MASK);
  ASSERT_TRUE(tb.wait_irq(1000));
  EXPECT_EQ(tb.csr_read(reg::IRQ_STATUS), kIrqErr);
  tb.csr_write(reg::IRQ_STATUS, 7);
  EXPECT_FALSE(tb.irq());
  EXPECT_EQ(tb.csr_read(reg::ERR_STATUS), err_word(ErrorCode::ABORTED, 0xFFFF));
  EXPECT_EQ(tb.csr_read(reg::STATUS), reg::STATUS_CONFIGURED_MASK | reg::STATUS_ERROR_MASK);

  // Same core, a good program: no stale response may leak into it.
  const uint32_t n = 21;
  for (uint32_t i = 0; i < n; ++i) {
    mem.set(0x4000 + 4 * i, f2u(float(i) - 5.f));
    mem.set(0x5000 + 4 * i, f2u(0.25f));
  }
  const Outcome o2 = rtl_exec(tb, mem, elementwise_add(cfg, n, 0x4000, 0x5000, 0x6000).bitstream());
  EXPECT_EQ(o2.run_irq_status, kIrqRun);
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(mem.at(0x6000 + 4 * i), f2u(float(i) - 5.f + 0.25f)) << i;

  // Soft reset: back to the reset state, IRQ_ENABLE and SCRATCH kept.
  tb.csr_write(reg::SCRATCH, 77);
  tb.csr_write(reg::CTRL, reg::CTRL_SOFT_RESET_MASK);
  tb.tick();
  EXPECT_EQ(tb.csr_read(reg::STATUS), 0u);
  EXPECT_EQ(tb.csr_read(reg::IRQ_ENABLE), 7u);
  EXPECT_EQ(tb.csr_read(reg::SCRATCH), 77u);
  EXPECT_EQ(tb.csr_read(reg::CYCLES_LO), 0u);
}

// A load outside DRAM stops the run with MEM_ERROR naming the AGCU, in RTL and model.
TEST_F(CoreTest, MemoryErrorInRun) {
  const uint32_t n = 8;
  Program p = elementwise_add(cfg, n, 0x1000, uint32_t(cfg.dram_bytes - 16), 0x3000);
  const auto bs = p.bitstream();
  TestDram mm(cfg.dram_bytes);
  const ModelOutcome m = model_exec(cfg, mm, bs);
  EXPECT_FALSE(m.run.ok);
  EXPECT_EQ(m.run.code, ErrorCode::MEM_ERROR) << m.run.message;
  EXPECT_EQ(m.run.unit, kAgcu0) << m.run.message;

  TestDram mem(cfg.dram_bytes);
  CoreTb tb(mem, {}, seed);
  const Outcome o = rtl_exec(tb, mem, bs);
  EXPECT_TRUE(o.run_irq);
  EXPECT_EQ(o.run_irq_status, kIrqErr);
  EXPECT_EQ(o.err, err_word(m.run.code, m.run.unit));
  EXPECT_EQ(o.status, reg::STATUS_CONFIGURED_MASK | reg::STATUS_ERROR_MASK);
}

TEST_F(CoreTest, ModelRouteErrors) {
  // Switch (2,0) output E selects input S: the bottom edge.
  Program p(cfg);
  arch::AgcuConfig ag;
  ag.st = stream(0x3000, 4);
  p.words[kAgcu0] = ag.encode();
  p.sel(2, 0, L0, S);
  TestDram mm(cfg.dram_bytes);
  const ModelOutcome m = model_exec(cfg, mm, p.bitstream());
  ASSERT_TRUE(m.cfg.ok);
  EXPECT_FALSE(m.run.ok);
  EXPECT_EQ(m.run.unit, cfg.switch_id(2, 0));
  EXPECT_NE(m.run.message.find("switch(2,0)"), std::string::npos) << m.run.message;
  EXPECT_NE(m.run.message.find("edge"), std::string::npos) << m.run.message;
  // A local input the unit lacks: PCU output 1.
  Program q(cfg);
  q.words[kAgcu0] = ag.encode();
  q.sel(2, 0, L0, E);
  q.sel(2, 1, W, N);
  q.sel(1, 1, S, L1);
  const ModelOutcome m2 = model_exec(cfg, mm, q.bitstream());
  EXPECT_FALSE(m2.run.ok);
  EXPECT_EQ(m2.run.unit, cfg.switch_id(1, 1)) << m2.run.message;
}

// ------------------------------------------------------------------------------------
// Random programs: loads (1-3 streams over both AGCUs, random shapes, strides,
// broadcast), optionally through a PMU, one or two PCUs with random stage programs,
// one store; random DRAM timing. RTL against model, bit for bit.
uint32_t random_word(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0: {
      const uint32_t sp[] = {0, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x00000001u, 0x807FFFFFu,
                             0x7F7FFFFFu, 0x3F800000u};
      return sp[rng() % 9];
    }
    case 1: return uint32_t(rng());
    default: {
      std::uniform_real_distribution<float> d(-50.f, 50.f);
      return f2u(d(rng));
    }
  }
}

std::string stream_str(const char* name, const arch::AgcuStream& s) {
  if (!s.enable) return "";
  return fmt::format("{}{{base 0x{:x} lstride {} vdim {} vlen {} vstep {} c [{} {} {} {}] s [{} {} {} {}]}} ", name,
                     s.base, s.lstride, s.vdim, s.vlen, s.vstep, s.c[0], s.c[1], s.c[2], s.c[3], s.s[0], s.s[1],
                     s.s[2], s.s[3]);
}

// A random v2 stream of exactly nv vectors (counts: a random factorisation of nv over
// c0..c3), random strides (incl. negative), lane stride 0 / 1 / random (gather or
// scatter, incl. negative), random vdim / vlen / vstep; every request (kLanes words
// from each request address) lies in the words [lo, hi) of DRAM. With need_valid,
// some vector has a valid lane (so a store writes something).
arch::AgcuStream random_v2_stream(std::mt19937_64& rng, uint32_t nv, uint32_t lo, uint32_t hi, bool need_valid) {
  for (;;) {
    arch::AgcuStream s;
    s.enable = true;
    uint32_t rem = nv;
    for (uint32_t f = 2; f <= rem;) {
      if (rem % f) {
        ++f;
        continue;
      }
      s.c[rng() % 4] *= f;
      rem /= f;
    }
    for (int d = 0; d < 4; ++d) s.s[d] = int32_t(rng() % 41) - 20;
    const int ls = int(rng() % 4);
    s.lstride = ls == 0 ? 0 : ls == 1 ? 1 : int32_t(rng() % 19) - 9;
    s.vdim = uint8_t(rng() % 4);
    const uint32_t vs[] = {0, kLanes, 1 + uint32_t(rng() % 6)};
    s.vstep = vs[rng() % 3];
    const uint32_t step = s.vstep ? s.vstep : kLanes;
    s.vlen = uint32_t(rng() % (s.c[s.vdim] * step + 3));
    int64_t mn = 0, mx = 0;
    bool any = false;
    for (uint32_t j = 0; j < nv; ++j) {
      uint32_t idx[4], q = j;
      int64_t off = 0;
      for (int d = 0; d < 4; ++d) {
        idx[d] = q % s.c[d];
        q /= s.c[d];
        off += int64_t(idx[d]) * s.s[d];
      }
      any = any || s.valid_lanes(kLanes, idx) > 0;
      for (int64_t l = 0; l < kLanes; ++l) {
        mn = std::min(mn, off + l * s.lstride);
        mx = std::max(mx, off + l * s.lstride + kLanes - 1);
      }
    }
    if (need_valid && !any) continue;
    const int64_t first = int64_t(lo) - mn, last = int64_t(hi) - 1 - mx;
    s.base = uint32_t(4 * (first + int64_t(rng() % uint64_t(last - first + 1))));
    return s;
  }
}

// PMU2 of a random program, between the first load and PCU3, for nv vectors: mode,
// N-buffered tiles, reads gated by its own tokens (looped back through its switch in p),
// read pattern.
arch::PmuConfig random_pmu(std::mt19937_64& rng, uint32_t nv, Program& p) {
  arch::PmuConfig pm;
  pm.enable = true;
  pm.mode = uint8_t(rng() % 2);
  // Half the time N-buffered: the nv vectors in T tiles of W, each tile written into
  // buffer t mod nbuf (W rows each) and read back in the pattern, overlapping the next
  // tile's writes.
  uint32_t T = 1;
  if (rng() % 2)
    for (uint32_t cand : {4u, 3u, 2u})
      if (nv % cand == 0) {
        T = cand;
        break;
      }
  const uint32_t W = nv / T;
  pm.tiles = T;
  pm.nbuf = uint8_t(T > 1 ? 2 + rng() % 2 : 1);
  pm.buf_rows = W;
  pm.wr = {0, W, 1, 1, 0};
  // Half the N-buffered PMUs gate their reads on their own tokens, looped back on the
  // control network through their switch: a token per tile written (tsel 0, tok_init
  // 0: tile t's reads wait for the writes of tiles 0..t) or per tile read (tsel 1,
  // tok_init 1: tile t's reads wait for tile t-1's).
  if (T > 1 && rng() % 2) {
    pm.tin = pm.tout = true;
    pm.tsel = rng() % 2;
    pm.tok_init = pm.tsel ? 1 : 0;
    p.sel_net(arch::kControlNet, 1, 0, L0, L0);
  }
  if (pm.mode == 0) {
    const int kind = int(rng() % 3);
    pm.rd = kind == 0 ? arch::PmuSide{0, W, 1, 1, 0}
            : kind == 1 ? arch::PmuSide{W - 1, W, 1, -1, 0}
                        : arch::PmuSide{uint32_t(rng() % W), W, 1, 0, 0};
  } else {
    const uint32_t words = W * 4;
    int32_t rs = int32_t(rng() % 4);
    if (uint32_t(rs) * (W - 1) >= words) rs = 1;
    const uint32_t span = uint32_t(rs) * (W - 1);
    pm.rd = {uint32_t(rng() % (words - span)), W, 1, rs, 0};
  }
  return pm;
}

TEST_F(CoreTest, RandomPrograms) {
  // OPENRDU_TB_PROGRAMS overrides the count (make coverage runs fewer: instrumented
  // models are several times slower); the regression runs 1,000.
  const char* np = std::getenv("OPENRDU_TB_PROGRAMS");
  const int kPrograms = np && *np ? std::max(20, std::atoi(np)) : 1000;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 7);
  int done = 0, tries = 0, v2_streams = 0, nbuf_pmus = 0, token_pmus = 0;
  uint64_t total_cycles = 0;
  // Every opcode of the ISA (docs/isa.md) and a few undefined ones (NOPs).
  std::vector<Opcode> ops;
  for (int op = 0; op < openrdu::gen::kNumOpcodes + 2; ++op) ops.push_back(Opcode(op));
  const uint8_t srcs[] = {0, 1, 2, 3, 8, 9, 10};
  while (done < kPrograms && tries < 10 * kPrograms) {
    ++tries;
    Program p(cfg);
    const uint32_t inner = 1 + uint32_t(rng() % 24), c1 = 1 + uint32_t(rng() % 3), c2 = 1 + uint32_t(rng() % 2);
    const uint32_t nv = c1 * c2 * ((inner + 3) / 4);
    const int nin = 1 + int(rng() % 3);
    const bool use_pmu = rng() % 3 == 0;
    const bool two_pcu = rng() % 2 == 0;
    bool pmu_tokens = false;
    TestDram init(cfg.dram_bytes);
    for (uint32_t i = 0; i < 1024; ++i) init.set(0x10000 + 4 * i, random_word(rng));
    // Loads: AGCU0 ld0, AGCU0 ld1, AGCU1 ld0 (in that order) feed PCU3 inputs 0..nin-1.
    arch::AgcuConfig ag[2];
    const std::pair<uint32_t, int> lds[3] = {{kAgcu0, 0}, {kAgcu0, 1}, {kAgcu1, 0}};
    // v1-shaped streams, or (v2) random 4-D streams with lane strides and masks.
    int v2 = 0;
    for (int k = 0; k < nin; ++k) {
      const bool bc = rng() % 5 == 0;
      const int32_t s1 = int32_t(rng() % 30), s2 = int32_t(rng() % 80);
      ag[lds[k].first - kAgcu0].ld[lds[k].second] =
          rng() % 2 ? (++v2, random_v2_stream(rng, nv, 0x10000 / 4, 0x10000 / 4 + 1024, false))
                    : stream(0x10000 + 4 * uint32_t(rng() % 256), inner, c1, s1, c2, s2, bc);
    }
    const uint32_t st_agcu = rng() % 2 ? kAgcu0 : kAgcu1;
    const int32_t ss1 = int32_t(inner + rng() % 3), ss2 = int32_t(c1 * ss1 + rng() % 5);
    ag[st_agcu - kAgcu0].st = rng() % 2 ? (++v2, random_v2_stream(rng, nv, 0x20000 / 4, 0x20000 / 4 + 1024, true))
                                        : stream(0x20000, inner, c1, ss1, c2, ss2);
    p.words[kAgcu0] = ag[0].encode();
    p.words[kAgcu1] = ag[1].encode();

    auto rand_pcu = [&](uint8_t mask) {
      std::vector<arch::PcuStage> st(cfg.stages);
      for (auto& s : st) {
        s = stage(ops[rng() % ops.size()], srcs[rng() % 7], srcs[rng() % 7], uint8_t(rng() % 4), random_word(rng));
        s.src_c = srcs[rng() % 7];
      }
      return pcu(cfg, mask, nv, st, uint8_t(rng() % 4)).encode(cfg);
    };
    p.words[kPcu3] = rand_pcu(uint8_t((1u << nin) - 1));
    bool ok = true;
    // Input 0 of PCU3 comes from the first load, through PMU2 when use_pmu.
    if (use_pmu) {
      const arch::PmuConfig pm = random_pmu(rng, nv, p);
      nbuf_pmus += pm.tiles > 1;
      pmu_tokens = pm.tin;
      p.words[kPmu2] = pm.encode();
      ok = ok && p.route(kAgcu0, 0, kPmu2, 0) && p.route(kPmu2, 0, kPcu3, 0);
    } else {
      ok = ok && p.route(kAgcu0, 0, kPcu3, 0);
    }
    for (int k = 1; k < nin; ++k) ok = ok && p.route(lds[k].first, lds[k].second, kPcu3, k);
    if (two_pcu) {
      p.words[kPcu0] = rand_pcu(0b001);
      ok = ok && p.route(kPcu3, 0, kPcu0, 0) && p.route(kPcu0, 0, st_agcu, 0);
    } else {
      ok = ok && p.route(kPcu3, 0, st_agcu, 0);
    }
    if (!ok) continue;
    const DramTiming t{1 + uint32_t(rng() % 30), uint32_t(rng() % 10), uint32_t(rng() % 50)};
    const std::string what =
        fmt::format("program {} (seed {}: inner {} c1 {} c2 {} inputs {} pmu {} (tiles {}, nbuf {}, tokens {}) "
                    "two_pcu {} latency {}+{} stall {}%): ",
                    done, seed, inner, c1, c2, nin, use_pmu, use_pmu ? arch::PmuConfig::decode(p.words[kPmu2]).tiles : 0,
                    use_pmu ? arch::PmuConfig::decode(p.words[kPmu2]).nbuf : 0,
                    use_pmu && arch::PmuConfig::decode(p.words[kPmu2]).tin, two_pcu, t.latency, t.jitter,
                    t.stall_pct) +
        stream_str("agcu0.ld0", ag[0].ld[0]) + stream_str("agcu0.ld1", ag[0].ld[1]) +
        stream_str("agcu1.ld0", ag[1].ld[0]) + stream_str("agcu0.st", ag[0].st) + stream_str("agcu1.st", ag[1].st);
    uint64_t cyc = 0;
    run_both(p, init, t, what, &cyc);
    if (HasFailure()) break;
    total_cycles += cyc;
    v2_streams += v2;
    token_pmus += pmu_tokens;
    ++done;
  }
  EXPECT_GE(done, kPrograms);
  EXPECT_GE(v2_streams, kPrograms / 2);
  EXPECT_GE(nbuf_pmus, kPrograms / 20) << "too few N-buffered PMUs drawn";
  EXPECT_GE(token_pmus, kPrograms / 50) << "too few PMUs gated by tokens drawn";
  std::printf("random programs: %d in %d tries (%d v2 streams, %d N-buffered PMUs, %d of them gated by their tokens), "
              "%llu run cycles (seed %llu)\n",
              done, tries, v2_streams, nbuf_pmus, token_pmus, (unsigned long long)total_cycles,
              (unsigned long long)seed);
}

}  // namespace

OPENRDU_TB_COVERAGE("tb_core");
