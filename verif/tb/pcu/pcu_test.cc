// rdu_pcu (Verilated, configuration tiny) against model::Pcu: configuration through the
// configuration bus, random operand programs, input gaps and output backpressure,
// run_i low between runs; directed relu / add / max-chain / throughput tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "Vrdu_pcu_tiny.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/model/units.h"
#include "verilated.h"
#include "../common/unit_bus.h"

using openrdu::arch::Opcode;
using openrdu::arch::PcuConfig;
using openrdu::arch::PcuStage;
using openrdu::arch::Src;
using openrdu::model::Vec;

namespace {

constexpr uint32_t kUnitId = 0;  // rdu_pcu's default UNIT_ID
constexpr uint32_t kNan = 0x7FC00000u;

uint64_t seed_from_env() {
  const char* s = std::getenv("OPENRDU_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 12345ull;
}

const openrdu::arch::Config& tiny() {
  static const openrdu::arch::Config cfg = openrdu::arch::load_config("tiny");
  return cfg;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float flt(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::string hex(const Vec& v) {
  std::ostringstream o;
  o << std::hex << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? " " : "") << "0x" << v[i];
  o << "]";
  return o.str();
}

// Pin-level driver of one rdu_pcu.
class Dut {
 public:
  Dut() : lanes_(tiny().lanes) {
    top_.rst_ni = 0;
    top_.run_i = 0;
    tick();
    tick();
    top_.rst_ni = 1;
    tick();
  }

  uint64_t cycle() const { return cycle_; }
  Vrdu_pcu_tiny& top() { return top_; }

  void tick() { bus_.tick(); }
  void cfg_write(uint32_t unit, uint32_t word, uint32_t data) { bus_.cfg_write(unit, word, data); }
  void cfg_clear() { bus_.cfg_clear(); }
  void configure(const std::vector<uint32_t>& words) {
    cfg_clear();
    for (uint32_t i = 0; i < words.size(); ++i) cfg_write(kUnitId, i, words[i]);
  }

  void set_vin(int k, bool valid, const Vec& v) {
    if (valid) {
      top_.vin_valid_i |= 1u << k;
    } else {
      top_.vin_valid_i &= ~(1u << k);
    }
    for (uint32_t l = 0; l < lanes_; ++l) top_.vin_data_i[k][l] = valid ? v[l] : 0xDEADBEEFu;
  }
  Vec vout() const {
    Vec v(lanes_);
    for (uint32_t l = 0; l < lanes_; ++l) v[l] = top_.vout_data_o[l];
    return v;
  }

 private:
  VerilatedContext ctx_;
  Vrdu_pcu_tiny top_{&ctx_};
  uint32_t lanes_;
  uint64_t cycle_ = 0;
  openrdu::tb::UnitBus<Vrdu_pcu_tiny> bus_{top_, cycle_};
};

// Stimulus and checks of one run: the same input vectors to the RTL and the model.
struct RunSpec {
  std::vector<std::deque<Vec>> inputs{3};
  double valid_prob = 1.0;  // per input, per cycle while it has data
  double ready_prob = 1.0;  // output ready
  uint64_t abort_after = 0;  // 0: run to completion; else drop run_i after this many cycles
};

struct RunResult {
  std::vector<Vec> out;
  std::vector<uint64_t> out_cycle;  // cycles since run_i rose
  uint64_t done_cycle = 0;          // first cycle done_o was seen high during the run
  bool done = false;
};

// Runs the DUT. Checks every cycle that done_o == (disabled || outputs == count).
RunResult run(Dut& dut, const PcuConfig& pc, RunSpec spec, std::mt19937_64& rng, const std::string& what) {
  std::uniform_real_distribution<double> u(0, 1);
  auto& top = dut.top();
  RunResult r;
  const uint64_t expected = pc.enable ? pc.count : 0;
  top.run_i = 1;
  top.vout_ready_i = 0;
  bool presenting[3] = {false, false, false};
  uint64_t idle = 0, t = 0;
  const uint64_t limit = 4000;
  for (; t < limit; ++t) {
    if (spec.abort_after && t == spec.abort_after) break;
    for (int k = 0; k < 3; ++k) {
      // A presented vector stays until accepted (valid/ready protocol).
      if (!presenting[k]) presenting[k] = !spec.inputs[k].empty() && u(rng) < spec.valid_prob;
      dut.set_vin(k, presenting[k], presenting[k] ? spec.inputs[k].front() : Vec(tiny().lanes, 0));
    }
    top.vout_ready_i = u(rng) < spec.ready_prob;
    top.clk_i = 0;
    top.eval();
    // done_o is exactly "disabled or count vectors emitted" (no early or late done).
    const bool want_done = !pc.enable || r.out.size() == expected;
    if (bool(top.done_o) != want_done) {
      ADD_FAILURE() << what << ": cycle " << t << ": done_o " << int(top.done_o) << " after " << r.out.size()
                    << " of " << expected << " outputs";
      break;
    }
    if (top.done_o && !r.done) {
      r.done = true;
      r.done_cycle = t;
    }
    bool moved = false;
    for (int k = 0; k < 3; ++k) {
      if (presenting[k] && (top.vin_ready_o >> k & 1)) {
        spec.inputs[k].pop_front();
        presenting[k] = false;
        moved = true;
      }
    }
    if (top.vout_valid_o && top.vout_ready_i) {
      r.out.push_back(dut.vout());
      r.out_cycle.push_back(t);
      moved = true;
    }
    dut.tick();
    idle = moved ? 0 : idle + 1;
    // Finished: the expected outputs came and nothing moved for a while (catches extras).
    if (r.out.size() >= expected && idle > 30) break;
    if (idle > 200) break;  // stalled for good (e.g. an input short of data)
  }
  // run_i low: the next run starts from the reset state.
  top.run_i = 0;
  for (int k = 0; k < 3; ++k) dut.set_vin(k, false, {});
  top.vout_ready_i = 0;
  dut.tick();
  dut.tick();
  if (!spec.abort_after) {
    EXPECT_LT(t, limit) << what << ": no end in " << limit << " cycles";
  }
  return r;
}

// The model's output for the same inputs (all of them; the model consumes what it may).
std::vector<Vec> model_run(const PcuConfig& pc, const RunSpec& spec) {
  openrdu::model::Pcu m(tiny());
  m.configure(pc.encode(tiny()));
  for (int k = 0; k < 3; ++k)
    for (const Vec& v : spec.inputs[k]) m.push(k, v);
  m.step(nullptr);
  return {m.output(0).begin(), m.output(0).end()};
}

void compare(const std::vector<Vec>& rtl, const std::vector<Vec>& model, const RunResult& r, const std::string& what) {
  EXPECT_EQ(rtl.size(), model.size()) << what << ": number of output vectors";
  for (size_t i = 0; i < std::min(rtl.size(), model.size()); ++i) {
    if (rtl[i] == model[i]) continue;
    for (size_t l = 0; l < rtl[i].size(); ++l)
      if (rtl[i][l] != model[i][l])
        ADD_FAILURE() << what << ": vector " << i << " (cycle " << r.out_cycle[i] << ") lane " << l << ": rtl 0x"
                      << std::hex << rtl[i][l] << " model 0x" << model[i][l] << std::dec << "\n  rtl   "
                      << hex(rtl[i]) << "\n  model " << hex(model[i]);
    return;
  }
}

// ---------------------------------------------------------------- random stimulus
class Stim {
 public:
  explicit Stim(uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  uint32_t below(uint32_t n) { return uint32_t(rng() % n); }
  double unit() { return std::uniform_real_distribution<double>(0, 1)(rng); }

  uint32_t special() {
    static const uint32_t k[] = {0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0x7F7FFFFF,
                                 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF,
                                 0x3F800000, 0xBF800000, 0x3F000000, 0x33800000};
    return k[below(sizeof k / sizeof k[0])];
  }
  uint32_t value() {
    switch (below(8)) {
      case 0: return uint32_t(rng());
      case 1: return special();
      case 6: return below(40);                    // shift counts, small ints, SEL conditions
      case 7: return uint32_t(-int32_t(below(40)));  // small negative ints
      default: return bits(float(std::uniform_real_distribution<double>(-8, 8)(rng)));
    }
  }
  uint8_t src() {
    static const uint8_t s[] = {0, 1, 2, 3, uint8_t(Src::IMM), uint8_t(Src::LANE), uint8_t(Src::ZERO)};
    return s[below(sizeof s)];
  }
  PcuConfig config() {
    PcuConfig c;
    c.enable = below(20) != 0;
    c.out_reg = below(tiny().regs);
    c.vin_mask = below(8);
    c.count = below(41);
    c.stages.resize(tiny().stages);
    for (PcuStage& s : c.stages) {
      // Sometimes an opcode outside the ISA (a NOP for RTL and model).
      s.op = static_cast<Opcode>(below(16) == 0 ? below(32) : below(openrdu::gen::kNumOpcodes));
      s.src_a = src();
      s.src_b = src();
      s.src_c = below(8) == 0 ? uint8_t(below(16)) : src();
      s.dst = below(tiny().regs);
      s.imm = value();
    }
    return c;
  }
  RunSpec spec(const PcuConfig& c) {
    RunSpec s;
    for (int k = 0; k < 3; ++k) {
      uint32_t n = 0;
      if (c.vin_mask >> k & 1) {
        // Usually exactly count vectors; sometimes extra (left over) or short (stall).
        const uint32_t r = below(10);
        n = r == 0 ? c.count + below(6) : r == 1 ? below(c.count + 1) : c.count;
      } else if (below(4) == 0) {
        n = below(6);  // data on an input the program does not use: never consumed
      }
      for (uint32_t i = 0; i < n; ++i) {
        Vec v(tiny().lanes);
        for (uint32_t& w : v) w = value();
        s.inputs[k].push_back(v);
      }
    }
    s.valid_prob = below(3) == 0 ? 1.0 : 0.3 + 0.7 * unit();
    s.ready_prob = below(3) == 0 ? 1.0 : 0.2 + 0.8 * unit();
    return s;
  }
};

TEST(Pcu, RandomVsModel) {
  const uint64_t seed = seed_from_env();
  std::printf("OPENRDU_SEED=%llu\n", static_cast<unsigned long long>(seed));
  Stim st(seed);
  Dut dut;
  uint64_t vectors = 0;
  constexpr int kCases = 2000;
  for (int n = 0; n < kCases; ++n) {
    // Sometimes only a prefix of the words is written: cfg_clear must have zeroed the rest.
    std::vector<uint32_t> words = st.config().encode(tiny());
    if (st.below(4) == 0) words.resize(2 + 2 * st.below(tiny().stages + 1));
    const PcuConfig pc = PcuConfig::decode(tiny(), words);
    // Noise for other units on the configuration bus: must be ignored.
    dut.cfg_clear();
    for (uint32_t i = 0; i < words.size(); ++i) dut.cfg_write(kUnitId + 1 + st.below(14), i, uint32_t(st.rng()));
    for (uint32_t i = 0; i < words.size(); ++i) dut.cfg_write(kUnitId, i, words[i]);
    const std::string what = "seed " + std::to_string(seed) + " case " + std::to_string(n);

    // First run, sometimes cut short by run_i low with work in flight.
    RunSpec first = st.spec(pc);
    const bool abort = st.below(4) == 0;
    if (abort) first.abort_after = 1 + st.below(25);
    const std::vector<Vec> want1 = model_run(pc, first);
    RunResult r1 = run(dut, pc, first, st.rng, what + " run 1");
    if (abort) {
      // A prefix of the model's outputs.
      ASSERT_LE(r1.out.size(), want1.size()) << what;
      compare(r1.out, std::vector<Vec>(want1.begin(), want1.begin() + r1.out.size()), r1, what + " run 1");
    } else {
      compare(r1.out, want1, r1, what + " run 1");
    }
    // Second run with the same configuration: starts clean (index, FIFOs, pipeline).
    RunSpec second = st.spec(pc);
    const std::vector<Vec> want2 = model_run(pc, second);
    RunResult r2 = run(dut, pc, second, st.rng, what + " run 2");
    compare(r2.out, want2, r2, what + " run 2");
    vectors += r1.out.size() + r2.out.size();
    if (HasFailure()) break;
  }
  std::printf("%d cases, %llu output vectors compared, %llu cycles\n", kCases, (unsigned long long)vectors,
              (unsigned long long)dut.cycle());
}

// ---------------------------------------------------------------- directed
PcuConfig one_stage(Opcode op, uint8_t a, uint8_t b, uint8_t dst, uint32_t imm, uint8_t mask, uint32_t count) {
  PcuConfig c;
  c.enable = true;
  c.out_reg = dst;
  c.vin_mask = mask;
  c.count = count;
  c.stages.resize(tiny().stages);
  c.stages[0] = {op, a, b, dst, imm};
  return c;
}

Vec fvec(std::initializer_list<float> f) {
  Vec v;
  for (float x : f) v.push_back(bits(x));
  return v;
}

TEST(Pcu, Relu) {
  std::mt19937_64 rng(1);
  Dut dut;
  const PcuConfig pc = one_stage(Opcode::FMAX, 0, uint8_t(Src::IMM), 0, 0, 0b001, 3);
  dut.configure(pc.encode(tiny()));
  RunSpec s;
  s.inputs[0] = {fvec({-1.5f, 2.0f, -0.0f, 0.0f}), fvec({1e-40f, -1e-40f, -INFINITY, INFINITY}),
                 Vec{0x7F800001u, 0xC0490FDBu, 0x3F800000u, 0xFFC00000u}};
  const Vec want[] = {fvec({0.0f, 2.0f, 0.0f, 0.0f}), fvec({1e-40f, 0.0f, 0.0f, INFINITY}),
                      Vec{kNan, 0u, 0x3F800000u, kNan}};
  const RunResult r = run(dut, pc, s, rng, "relu");
  ASSERT_EQ(r.out.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(hex(r.out[i]), hex(want[i])) << "relu vector " << i;
  EXPECT_EQ(hex(model_run(pc, s)[2]), hex(want[2]));
}

TEST(Pcu, AddTwoInputs) {
  std::mt19937_64 rng(2);
  Dut dut;
  const PcuConfig pc = one_stage(Opcode::FADD, 0, 1, 2, 0, 0b011, 20);
  dut.configure(pc.encode(tiny()));
  RunSpec s;
  std::vector<Vec> want;
  std::uniform_real_distribution<float> d(-100, 100);
  for (int i = 0; i < 20; ++i) {
    Vec a(4), b(4), c(4);
    for (int l = 0; l < 4; ++l) {
      const float x = d(rng), y = d(rng);
      a[l] = bits(x), b[l] = bits(y), c[l] = bits(x + y);
    }
    s.inputs[0].push_back(a), s.inputs[1].push_back(b), want.push_back(c);
  }
  s.valid_prob = 0.5, s.ready_prob = 0.5;
  const RunResult r = run(dut, pc, s, rng, "add");
  ASSERT_EQ(r.out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex(r.out[i]), hex(want[i])) << "add vector " << i;
}

// Third operand through the pipeline: r0 = relu(x * y + z) with a fused multiply-add,
// a comparison and a select, then FTOI / ITOF: round(relu(...)) toward zero as a float.
TEST(Pcu, FmaCompareSelectConvert) {
  std::mt19937_64 rng(4);
  Dut dut;
  PcuConfig pc = one_stage(Opcode::FMA, 0, 1, 3, 0, 0b111, 24);
  pc.stages[0].src_c = 2;
  pc.stages[1] = {Opcode::FLT, 3, uint8_t(Src::ZERO), 2, 0};  // r2 = r3 < 0 ? 1.0 : 0
  pc.stages[2] = {Opcode::SEL, 2, uint8_t(Src::ZERO), 0, 0};  // r0 = r2 ? 0 : r3
  pc.stages[2].src_c = 3;
  pc.stages[3] = {Opcode::FTOI, 0, 0, 1, 0};                  // r1 = int(r0)
  pc.out_reg = 1;
  dut.configure(pc.encode(tiny()));
  RunSpec s;
  std::vector<Vec> want;
  std::uniform_real_distribution<float> d(-1000, 1000);
  for (int i = 0; i < 24; ++i) {
    Vec w(4);
    for (int k = 0; k < 3; ++k) {
      Vec v(4);
      for (int l = 0; l < 4; ++l) v[l] = bits(d(rng));
      s.inputs[k].push_back(v);
    }
    for (int l = 0; l < 4; ++l) {
      const float f = std::fma(flt(s.inputs[0][i][l]), flt(s.inputs[1][i][l]), flt(s.inputs[2][i][l]));
      w[l] = uint32_t(int32_t(f < 0 ? 0.0f : f));
    }
    want.push_back(w);
  }
  s.valid_prob = 0.7, s.ready_prob = 0.6;
  const RunResult r = run(dut, pc, s, rng, "fma-relu-ftoi");
  ASSERT_EQ(r.out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex(r.out[i]), hex(want[i])) << "fma-relu-ftoi vector " << i;
  const std::vector<Vec> m = model_run(pc, s);
  ASSERT_EQ(m.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex(m[i]), hex(want[i])) << "model vector " << i;
}

TEST(Pcu, MaxOfThreeInputs) {
  std::mt19937_64 rng(3);
  Dut dut;
  PcuConfig pc = one_stage(Opcode::FMAX, 0, 1, 3, 0, 0b111, 16);
  pc.stages[1] = {Opcode::FMAX, 3, 2, 0, 0};
  pc.out_reg = 0;
  dut.configure(pc.encode(tiny()));
  RunSpec s;
  std::vector<Vec> want;
  std::uniform_real_distribution<float> d(-10, 10);
  for (int i = 0; i < 16; ++i) {
    Vec w(4);
    for (int k = 0; k < 3; ++k) {
      Vec v(4);
      for (int l = 0; l < 4; ++l) v[l] = bits(d(rng));
      s.inputs[k].push_back(v);
    }
    for (int l = 0; l < 4; ++l)
      w[l] = bits(std::max({flt(s.inputs[0][i][l]), flt(s.inputs[1][i][l]), flt(s.inputs[2][i][l])}));
    want.push_back(w);
  }
  s.valid_prob = 0.7, s.ready_prob = 0.6;
  const RunResult r = run(dut, pc, s, rng, "max3");
  ASSERT_EQ(r.out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex(r.out[i]), hex(want[i])) << "max3 vector " << i;
}

TEST(Pcu, LaneIndexAndDisabled) {
  std::mt19937_64 rng(4);
  Dut dut;
  // No inputs: MOV LANE, 5 vectors: lane l of vector i is i*LANES + l (int32 bits).
  const PcuConfig pc = one_stage(Opcode::MOV, uint8_t(Src::LANE), 0, 1, 0, 0, 5);
  dut.configure(pc.encode(tiny()));
  const RunResult r = run(dut, pc, RunSpec{}, rng, "lane");
  ASSERT_EQ(r.out.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i)
    for (uint32_t l = 0; l < 4; ++l) EXPECT_EQ(r.out[i][l], i * 4 + l) << "vector " << i << " lane " << l;
  // After cfg_clear the unit is disabled: done at once, nothing emitted.
  dut.cfg_clear();
  PcuConfig off;
  off.stages.resize(tiny().stages);
  const RunResult r2 = run(dut, off, RunSpec{}, rng, "disabled");
  EXPECT_TRUE(r2.done);
  EXPECT_EQ(r2.done_cycle, 0u);
  EXPECT_TRUE(r2.out.empty());
}

TEST(Pcu, ThroughputOneVectorPerCycle) {
  std::mt19937_64 rng(5);
  Dut dut;
  constexpr uint32_t kN = 200;
  PcuConfig pc = one_stage(Opcode::FMUL, 0, 1, 0, 0, 0b011, kN);
  pc.stages[1] = {Opcode::FADD, 0, uint8_t(Src::IMM), 0, bits(1.0f)};
  dut.configure(pc.encode(tiny()));
  RunSpec s;
  for (uint32_t i = 0; i < kN; ++i) {
    s.inputs[0].push_back(fvec({float(i), 1.f, 2.f, 3.f}));
    s.inputs[1].push_back(fvec({0.5f, float(i), -1.f, 1e-39f}));
  }
  const RunResult r = run(dut, pc, s, rng, "throughput");
  compare(r.out, model_run(pc, s), r, "throughput");
  ASSERT_EQ(r.out.size(), kN);
  ASSERT_TRUE(r.done);
  const uint64_t stages = tiny().stages;
  std::printf("%u vectors: first output at cycle %llu, done at cycle %llu (STAGES %llu)\n", kN,
              (unsigned long long)r.out_cycle.front(), (unsigned long long)r.done_cycle,
              (unsigned long long)stages);
  // One FIFO cycle plus STAGES pipeline cycles of latency, then one vector per cycle.
  EXPECT_LE(r.out_cycle.front(), stages + 2);
  EXPECT_EQ(r.out_cycle.back() - r.out_cycle.front(), kN - 1) << "not one vector per cycle";
  EXPECT_LE(r.done_cycle, kN + stages + 3);
}

}  // namespace
