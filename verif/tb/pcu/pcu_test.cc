// rdu_pcu (Verilated, configuration tiny) against model::Pcu: configuration through the
// configuration bus, random operand programs, input gaps and output backpressure,
// run_i low between runs; directed relu / add / max-chain / throughput tests; v2:
// accumulators (stream and accumulator output modes), broadcast-lane sources, cross-lane
// reductions, outer-product GEMM and dot-product tiles against host computations.
#include <fmt/format.h>
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
#include "../common/tb_util.h"
#include "../common/coverage.h"

using openrdu::arch::Opcode;
using openrdu::arch::PcuConfig;
using openrdu::arch::PcuStage;
using openrdu::arch::Src;
using openrdu::model::Vec;

namespace {

constexpr uint32_t kUnitId = 0;  // rdu_pcu's default UNIT_ID
constexpr uint32_t kNan = 0x7FC00000u;
using openrdu::tb::f32;
using openrdu::tb::hex;
using openrdu::tb::u32;

const openrdu::arch::Config& tiny() {
  static const openrdu::arch::Config cfg = openrdu::arch::load_config("tiny");
  return cfg;
}

// Pin-level driver of one rdu_pcu.
class Dut {
 public:
  Dut() : lanes_(tiny().lanes) { bus_.reset(); }
  ~Dut() { openrdu::tb::coverage_collect(&ctx_); }


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

// Accumulation groups of a program: ceil(count/acc_len).
uint64_t groups(const PcuConfig& pc) {
  const uint64_t len = pc.acc_len ? pc.acc_len : 1;
  return (uint64_t(pc.count) + len - 1) / len;
}

// Outputs of a program that gets all its inputs: count (stream mode), or per group
// the acc stages and, with a drain chain, `chain` forwarded vectors (accumulator mode;
// none without an acc stage).
uint64_t expected_outputs(const PcuConfig& pc) {
  if (!pc.enable) return 0;
  if (pc.out_mode == 0) return pc.count;
  uint64_t n_acc = 0;
  for (const PcuStage& s : pc.stages) n_acc += s.acc;
  if (n_acc == 0) return 0;
  return groups(pc) * (n_acc + (pc.chained() ? pc.chain : 0));
}

// Tokens on the control output of a program that gets all its inputs: one per group
// with outputs (tout).
uint64_t expected_tokens(const PcuConfig& pc) {
  if (!pc.enable || !pc.tout || expected_outputs(pc) == 0) return 0;
  return groups(pc);
}

// Stimulus and checks of one run: the same input vectors to the RTL and the model.
struct RunSpec {
  std::vector<std::deque<Vec>> inputs{3};
  double valid_prob = 1.0;  // per input, per cycle while it has data
  double ready_prob = 1.0;  // output ready
  uint64_t abort_after = 0;  // 0: run to completion; else drop run_i after this many cycles
  std::deque<uint32_t> scalars;  // scalar input
  uint64_t tokens = 0;           // tokens offered on the control input
  double side_prob = 1.0;        // scalar/token valid and scalar/control output ready, per cycle
};

struct RunResult {
  std::vector<Vec> out;
  std::vector<uint64_t> out_cycle;  // cycles since run_i rose
  uint64_t done_cycle = 0;          // first cycle done_o was seen high during the run
  bool done = false;
  std::vector<uint32_t> sout;       // scalar output
  uint64_t tokens = 0;              // tokens taken from the control output
  uint64_t scalars_in = 0, tokens_in = 0;  // scalars and tokens accepted on the inputs
};

// Runs the DUT. Checks every cycle that done_o == (disabled || all outputs emitted).
RunResult run(Dut& dut, const PcuConfig& pc, RunSpec spec, std::mt19937_64& rng, const std::string& what) {
  std::uniform_real_distribution<double> u(0, 1);
  auto& top = dut.top();
  RunResult r;
  const uint64_t expected = expected_outputs(pc);
  const uint64_t want_sout = pc.sout ? expected : 0, want_tok = expected_tokens(pc);
  top.run_i = 1;
  top.vout_ready_i = 0;
  bool s_presenting = false, c_presenting = false;
  bool presenting[3] = {false, false, false};
  uint64_t idle = 0, t = 0;
  const uint64_t limit = 4000 + 10 * expected;  // long drain chains: up to 255 outputs more per group
  for (; t < limit; ++t) {
    if (spec.abort_after && t == spec.abort_after) break;
    for (int k = 0; k < 3; ++k) {
      // A presented vector stays until accepted (valid/ready protocol).
      if (!presenting[k]) presenting[k] = !spec.inputs[k].empty() && u(rng) < spec.valid_prob;
      dut.set_vin(k, presenting[k], presenting[k] ? spec.inputs[k].front() : Vec(tiny().lanes, 0));
    }
    top.vout_ready_i = u(rng) < spec.ready_prob;
    if (!s_presenting) s_presenting = !spec.scalars.empty() && u(rng) < spec.side_prob;
    top.sin_valid_i = s_presenting;
    top.sin_data_i = s_presenting ? spec.scalars.front() : 0xDEADBEEFu;
    if (!c_presenting) c_presenting = spec.tokens > 0 && u(rng) < spec.side_prob;
    top.cin_valid_i = c_presenting;
    top.cin_data_i = 1;
    top.sout_ready_i = u(rng) < spec.side_prob;
    top.cout_ready_i = u(rng) < spec.side_prob;
    top.clk_i = 0;
    top.eval();
    // done_o is exactly "disabled or every output emitted" (no early or late done):
    // vectors, scalars (sout) and tokens (tout).
    const bool want_done =
        !pc.enable || (r.out.size() == expected && r.sout.size() == want_sout && r.tokens == want_tok);
    if (bool(top.done_o) != want_done) {
      ADD_FAILURE() << what << ": cycle " << t << ": done_o " << int(top.done_o) << " after " << r.out.size()
                    << " of " << expected << " outputs, " << r.sout.size() << " of " << want_sout << " scalars, "
                    << r.tokens << " of " << want_tok << " tokens";
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
    if (s_presenting && top.sin_ready_o) {
      ++r.scalars_in;
      spec.scalars.pop_front();
      s_presenting = false;
      moved = true;
    }
    if (c_presenting && top.cin_ready_o) {
      ++r.tokens_in;
      --spec.tokens;
      c_presenting = false;
      moved = true;
    }
    if (top.sout_valid_o && top.sout_ready_i) {
      r.sout.push_back(top.sout_data_o);
      moved = true;
    }
    if (top.cout_valid_o && top.cout_ready_i) {
      ++r.tokens;
      moved = true;
    }
    dut.tick();
    idle = moved ? 0 : idle + 1;
    // Finished: the expected outputs came and nothing moved for a while (catches extras).
    if (r.out.size() >= expected && idle > 30) break;
    if (r.out.size() > expected + 1000) break;  // runaway
    if (idle > 200) break;  // stalled for good (e.g. an input short of data)
  }
  // run_i low: the next run starts from the reset state.
  top.run_i = 0;
  for (int k = 0; k < 3; ++k) dut.set_vin(k, false, {});
  top.vout_ready_i = 0;
  top.sin_valid_i = 0;
  top.cin_valid_i = 0;
  top.sout_ready_i = 0;
  top.cout_ready_i = 0;
  dut.tick();
  dut.tick();
  if (!spec.abort_after) {
    EXPECT_LT(t, limit) << what << ": no end in " << limit << " cycles";
  }
  return r;
}

// The model's output for the same inputs (all of them; the model consumes what it may).
// side: the model's scalar outputs and tokens, when wanted.
struct ModelSide {
  std::vector<uint32_t> sout;
  uint64_t tokens = 0;
};
// got equals want, vector for vector; a difference names `what` and the vector.
void expect_vectors(const std::vector<Vec>& got, const std::vector<Vec>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex(got[i]), hex(want[i])) << what << " vector " << i;
}

// n vectors of random floats in [lo, hi) on the three inputs, and the expected outputs:
// lane by lane f(x, y, z) (the bits of the result).
template <class F>
std::pair<RunSpec, std::vector<Vec>> three_input_case(std::mt19937_64& rng, int n, float lo, float hi, F f) {
  RunSpec s;
  std::vector<Vec> want;
  std::uniform_real_distribution<float> d(lo, hi);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) {
      Vec v(4);
      for (int l = 0; l < 4; ++l) v[l] = u32(d(rng));
      s.inputs[k].push_back(v);
    }
    Vec w(4);
    for (int l = 0; l < 4; ++l) w[l] = f(f32(s.inputs[0][i][l]), f32(s.inputs[1][i][l]), f32(s.inputs[2][i][l]));
    want.push_back(w);
  }
  return {s, want};
}

std::vector<Vec> model_run(const PcuConfig& pc, const RunSpec& spec, ModelSide* side = nullptr) {
  openrdu::model::Pcu m(tiny());
  m.configure(pc.encode(tiny()));
  for (int k = 0; k < 3; ++k)
    for (const Vec& v : spec.inputs[k]) m.push(k, v);
  for (uint32_t v : spec.scalars) m.push_scalar(v);
  m.push_tokens(spec.tokens);
  m.step(nullptr);
  if (side) {
    side->sout.assign(m.scalar_output().begin(), m.scalar_output().end());
    side->tokens = m.tokens_out();
  }
  return {m.output(0).begin(), m.output(0).end()};
}

void compare(const std::vector<Vec>& rtl, const std::vector<Vec>& model, const RunResult& r, const std::string& what) {
  EXPECT_EQ(rtl.size(), model.size()) << what << ": number of output vectors";
  for (size_t i = 0; i < std::min(rtl.size(), model.size()); ++i) {
    if (rtl[i] == model[i]) continue;
    for (size_t l = 0; l < rtl[i].size(); ++l)
      if (rtl[i][l] != model[i][l])
        ADD_FAILURE() << what << ": output " << i << " (cycle " << r.out_cycle[i] << ") lane " << l << ": rtl 0x"
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
      default: return u32(float(std::uniform_real_distribution<double>(-8, 8)(rng)));
    }
  }
  uint8_t src() {
    static const uint8_t s[] = {0, 1, 2, 3, uint8_t(Src::IMM), uint8_t(Src::LANE), uint8_t(Src::ZERO),
                                uint8_t(Src::BREG0), uint8_t(Src::BREG1), uint8_t(Src::BREG2), uint8_t(Src::BREG3),
                                uint8_t(Src::ACC), uint8_t(Src::ACC), uint8_t(Src::CTR0), uint8_t(Src::CTR1),
                                uint8_t(Src::CTR2), uint8_t(Src::TAIL)};
    return s[below(sizeof s)];
  }
  uint32_t acc_init() {
    static const uint32_t k[] = {0x80000000u, 0x00000000u, 0xFF800000u, 0x7F800000u, 0x7FC00000u, 0x7F800001u,
                                 0xFFC00001u, 0x3F800000u};
    return below(3) == 0 ? value() : k[below(sizeof k / sizeof k[0])];
  }
  PcuConfig config() {
    PcuConfig c;
    c.enable = below(20) != 0;
    c.out_reg = below(tiny().regs);
    c.vin_mask = below(8);
    c.count = below(41);
    c.out_mode = below(2);
    c.reduce = below(2) ? 0 : below(4);
    c.acc_len = below(10) == 0 ? 0 : 1 + below(9);  // 1..9, sometimes 0 (acts as 1)
    c.acc_init = acc_init();
    c.chain = below(4) == 0 ? uint8_t(1 + below(below(8) == 0 ? 255 : 9)) : 0;  // drain chain, sometimes long
    if (below(2)) {
      // Counter chain: usually small loops that wrap within the run (counter 0 steps by
      // stride*LANES), sometimes any 32-bit values (wrapping arithmetic, signed compares).
      for (uint32_t k = 0; k < openrdu::arch::kPcuCounters; ++k) {
        openrdu::arch::PcuCounter& ct = c.ctr[k];
        if (below(8) == 0) {
          ct = {int32_t(rng()), int32_t(rng()), int32_t(rng())};
          continue;
        }
        ct.min = int32_t(below(41)) - 20;
        ct.stride = below(10) == 0 ? -int32_t(below(3)) : int32_t(1 + below(4));
        const uint32_t step = uint32_t(std::abs(ct.stride)) * (k == 0 ? tiny().lanes : 1);
        ct.max = ct.min + int32_t(below(5 * std::max(step, 1u) + 1)) - 2;
      }
    }
    // Scalar and control ports.
    c.sin = below(4) == 0;
    c.sout = below(4) == 0;
    c.tin = below(4) == 0;
    c.tout = below(4) == 0;
    c.tok_init = below(3) == 0 ? uint8_t(below(16)) : 0;
    c.stages.resize(tiny().stages);
    for (PcuStage& s : c.stages) {
      s.simm = below(4) == 0;
      s.acc = below(2);
      s.bl = below(16);
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
      if (k == 2 && c.chained()) {
        // Drain chain input: chain vectors per group; sometimes extra or short.
        const uint32_t want = uint32_t(groups(c)) * c.chain, r = below(10);
        n = r == 0 ? want + below(6) : r == 1 ? below(want + 1) : want;
      } else if (c.vin_mask >> k & 1) {
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
    // Scalars: one per group, sometimes short (stall) or extra (left over); tokens: the
    // groups beyond the initial credits, sometimes short or extra.
    const uint64_t g = groups(c);
    if (c.sin || below(8) == 0) {
      const uint32_t r = below(10);
      const uint64_t n = r == 0 ? g + below(4) : r == 1 ? below(uint32_t(g) + 1) : g;
      for (uint64_t i = 0; i < n; ++i) s.scalars.push_back(value());
    }
    const uint64_t need = g > c.tok_init ? g - c.tok_init : 0;
    if (c.tin || below(8) == 0) {
      const uint32_t r = below(10);
      s.tokens = r == 0 ? need + below(4) : r == 1 ? below(uint32_t(need) + 1) : need;
    }
    s.side_prob = below(3) == 0 ? 1.0 : 0.3 + 0.7 * unit();
    return s;
  }
};

TEST(Pcu, RandomVsModel) {
  const uint64_t seed = openrdu::tb::seed_from_env(12345);
  std::printf("OPENRDU_SEED=%llu\n", static_cast<unsigned long long>(seed));
  Stim st(seed);
  Dut dut;
  uint64_t vectors = 0, acc_mode_cases = 0, acc_mode_outputs = 0, reduce_cases = 0, breg_acc_cases = 0,
           chain_cases = 0, counter_cases = 0, side_cases = 0;
  constexpr int kCases = 5000;  // two runs each: 10,000 random runs
  for (int n = 0; n < kCases; ++n) {
    // Sometimes only a prefix of the words is written: cfg_clear must have zeroed the rest.
    std::vector<uint32_t> words = st.config().encode(tiny());
    if (st.below(4) == 0) words.resize(st.below(uint32_t(words.size()) + 1));
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
    ModelSide side1, side2;
    const std::vector<Vec> want1 = model_run(pc, first, &side1);
    RunResult r1 = run(dut, pc, first, st.rng, what + " run 1");
    if (abort) {
      // A prefix of the model's outputs.
      ASSERT_LE(r1.out.size(), want1.size()) << what;
      compare(r1.out, std::vector<Vec>(want1.begin(), want1.begin() + r1.out.size()), r1, what + " run 1");
      ASSERT_LE(r1.sout.size(), side1.sout.size()) << what;
      EXPECT_TRUE(std::equal(r1.sout.begin(), r1.sout.end(), side1.sout.begin())) << what << " run 1: scalar outputs";
      EXPECT_LE(r1.tokens, side1.tokens) << what << " run 1: tokens";
    } else {
      compare(r1.out, want1, r1, what + " run 1");
      EXPECT_EQ(r1.sout, side1.sout) << what << " run 1: scalar outputs";
      EXPECT_EQ(r1.tokens, side1.tokens) << what << " run 1: tokens";
    }
    // Second run with the same configuration: starts clean (index, FIFOs, pipeline).
    RunSpec second = st.spec(pc);
    const std::vector<Vec> want2 = model_run(pc, second, &side2);
    RunResult r2 = run(dut, pc, second, st.rng, what + " run 2");
    compare(r2.out, want2, r2, what + " run 2");
    EXPECT_EQ(r2.sout, side2.sout) << what << " run 2: scalar outputs";
    EXPECT_EQ(r2.tokens, side2.tokens) << what << " run 2: tokens";
    side_cases += pc.enable && (pc.sin || pc.tin || pc.sout || pc.tout) && expected_outputs(pc) > 0 &&
                  !r2.out.empty();
    vectors += r1.out.size() + r2.out.size();
    acc_mode_cases += pc.enable && pc.out_mode;
    if (pc.enable && pc.out_mode) acc_mode_outputs += r1.out.size() + r2.out.size();
    reduce_cases += pc.enable && pc.reduce;
    chain_cases += pc.enable && pc.chained() && expected_outputs(pc) > 0;
    bool uses = false;
    for (const PcuStage& ps : pc.stages)
      for (uint8_t src : {ps.src_a, ps.src_b, ps.src_c}) uses |= (src >= uint8_t(Src::BREG0) && src <= uint8_t(Src::BREG3)) || src == uint8_t(Src::ACC);
    breg_acc_cases += pc.enable && uses;
    bool ctr = false;
    for (const PcuStage& ps : pc.stages)
      for (uint8_t src : {ps.src_a, ps.src_b, ps.src_c}) ctr |= src >= uint8_t(Src::CTR0) && src <= uint8_t(Src::TAIL);
    counter_cases += pc.enable && ctr && pc.ctr[0] != openrdu::arch::PcuCounter{} && pc.count > 4;
    if (HasFailure()) {
      std::string ws;
      for (uint32_t w : words) ws += fmt::format(" {:08x}", w);
      std::printf("failing case %d: configuration words%s\n", n, ws.c_str());
      break;
    }
  }
  std::printf("%d cases (%d runs), %llu output vectors compared, %llu cycles\n", kCases, 2 * kCases,
              (unsigned long long)vectors, (unsigned long long)dut.cycle());
  std::printf(
      "enabled cases: %llu accumulator mode (%llu outputs), %llu with a reduction, %llu reading BREG/ACC, "
      "%llu forwarding a drain chain, %llu reading counters of a counter chain, %llu using scalar/control ports\n",
      (unsigned long long)acc_mode_cases, (unsigned long long)acc_mode_outputs, (unsigned long long)reduce_cases,
      (unsigned long long)breg_acc_cases, (unsigned long long)chain_cases, (unsigned long long)counter_cases,
      (unsigned long long)side_cases);
  EXPECT_GT(side_cases, uint64_t(kCases / 10)) << "too few scalar/control cases exercised";
  EXPECT_GT(chain_cases, uint64_t(kCases / 20)) << "too few drain-chain cases exercised";
  EXPECT_GT(counter_cases, uint64_t(kCases / 10)) << "too few counter-chain cases exercised";
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
  for (float x : f) v.push_back(u32(x));
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
      a[l] = u32(x), b[l] = u32(y), c[l] = u32(x + y);
    }
    s.inputs[0].push_back(a), s.inputs[1].push_back(b), want.push_back(c);
  }
  s.valid_prob = 0.5, s.ready_prob = 0.5;
  const RunResult r = run(dut, pc, s, rng, "add");
  expect_vectors(r.out, want, "add");
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
  auto [s, want] = three_input_case(rng, 24, -1000, 1000, [](float x, float y, float z) {
    const float f = std::fma(x, y, z);
    return uint32_t(int32_t(f < 0 ? 0.0f : f));
  });
  s.valid_prob = 0.7, s.ready_prob = 0.6;
  const RunResult r = run(dut, pc, s, rng, "fma-relu-ftoi");
  expect_vectors(r.out, want, "fma-relu-ftoi");
  expect_vectors(model_run(pc, s), want, "model");
}

TEST(Pcu, MaxOfThreeInputs) {
  std::mt19937_64 rng(3);
  Dut dut;
  PcuConfig pc = one_stage(Opcode::FMAX, 0, 1, 3, 0, 0b111, 16);
  pc.stages[1] = {Opcode::FMAX, 3, 2, 0, 0};
  pc.out_reg = 0;
  dut.configure(pc.encode(tiny()));
  auto [s, want] = three_input_case(rng, 16, -10, 10, [](float x, float y, float z) { return u32(std::max({x, y, z})); });
  s.valid_prob = 0.7, s.ready_prob = 0.6;
  const RunResult r = run(dut, pc, s, rng, "max3");
  expect_vectors(r.out, want, "max3");
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

// Counter chain: three nested counters read as operands (MOV CTRk), against host loops.
// tiny: 4 lanes. ctr0 0..9 step 1 (3 vectors, the last ragged), ctr1 5..10 step 3
// (5, 8), ctr2 -2..-1 step 1 (-2, -1): 3*2*2 = 12 firings, then the chain repeats.
TEST(Pcu, CounterChainNestedValues) {
  std::mt19937_64 rng(5);
  Dut dut;
  const openrdu::arch::PcuCounter c0{0, 10, 1}, c1{5, 11, 3}, c2{-2, 0, 1};
  const uint32_t n = 12 + 5;  // a full chain and 5 firings of the next
  for (uint8_t src : {uint8_t(Src::CTR0), uint8_t(Src::CTR1), uint8_t(Src::CTR2), uint8_t(Src::TAIL)}) {
    PcuConfig pc = one_stage(Opcode::MOV, src, 0, 0, 0, 0, n);
    pc.ctr = {c0, c1, c2};
    dut.configure(pc.encode(tiny()));
    RunSpec sp;
    sp.ready_prob = 0.5;
    const RunResult r = run(dut, pc, sp, rng, "counters");
    ASSERT_EQ(r.out.size(), n);
    std::vector<Vec> want;
    while (want.size() < n)
      for (int32_t k2 = -2; k2 < 0; ++k2)
        for (int32_t k1 = 5; k1 < 11; k1 += 3)
          for (int32_t v = 0; v < 10; v += 4) {
            Vec w(4);
            for (int32_t l = 0; l < 4; ++l) {
              const int32_t x = v + l;
              w[l] = src == uint8_t(Src::CTR0) ? uint32_t(x)
                     : src == uint8_t(Src::CTR1) ? uint32_t(k1)
                     : src == uint8_t(Src::CTR2) ? uint32_t(k2)
                                                 : (x < 10 ? 0x3F800000u : 0u);
            }
            want.push_back(w);
          }
    want.resize(n);
    for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(hex(r.out[i]), hex(want[i])) << "source " << int(src) << " firing " << i;
    EXPECT_EQ(model_run(pc, sp), want) << "model, source " << int(src);
  }
}

// A ragged reduction: the max of 10 values on 4 lanes (3 vectors, 2 lanes of padding that
// hold +inf). Stage 0 replaces padding with -inf (SEL on TAIL), stage 1 folds the vectors
// (FMAX into ACC, acc_len 3), reduce=max across lanes: the host's max of the 10 values.
TEST(Pcu, CounterTailMasksRaggedReduction) {
  std::mt19937_64 rng(6);
  Dut dut;
  PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b001;
  pc.count = 6;  // two rows of 10 values
  pc.out_mode = 1;
  pc.reduce = 2;
  pc.acc_len = 3;
  pc.acc_init = u32(-INFINITY);
  pc.ctr[0] = {0, 10, 1};
  pc.stages.resize(tiny().stages);
  pc.stages[0] = {Opcode::SEL, uint8_t(Src::TAIL), 0, 0, u32(-INFINITY), uint8_t(Src::IMM)};
  pc.stages[1] = {Opcode::FMAX, 0, uint8_t(Src::ACC), 0, 0};
  pc.stages[1].acc = true;
  dut.configure(pc.encode(tiny()));
  RunSpec sp;
  std::uniform_real_distribution<float> d(-100, 100);
  float want[2] = {-INFINITY, -INFINITY};
  for (int row = 0; row < 2; ++row)
    for (int i = 0; i < 3; ++i) {
      Vec v(4);
      for (int l = 0; l < 4; ++l) {
        const float x = i * 4 + l < 10 ? d(rng) : INFINITY;  // padding: must not win
        v[l] = u32(x);
        if (i * 4 + l < 10) want[row] = std::max(want[row], x);
      }
      sp.inputs[0].push_back(v);
    }
  sp.valid_prob = 0.6, sp.ready_prob = 0.7;
  const RunResult r = run(dut, pc, sp, rng, "ragged max");
  ASSERT_EQ(r.out.size(), 2u);
  for (int row = 0; row < 2; ++row) EXPECT_EQ(hex(r.out[row]), hex(Vec(4, u32(want[row])))) << "row " << row;
  EXPECT_EQ(model_run(pc, sp), r.out);
}

TEST(Pcu, ThroughputOneVectorPerCycle) {
  std::mt19937_64 rng(5);
  Dut dut;
  constexpr uint32_t kN = 200;
  PcuConfig pc = one_stage(Opcode::FMUL, 0, 1, 0, 0, 0b011, kN);
  pc.stages[1] = {Opcode::FADD, 0, uint8_t(Src::IMM), 0, u32(1.0f)};
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
  // One FIFO cycle, STAGES pipeline cycles and the output register, then one vector per cycle.
  EXPECT_LE(r.out_cycle.front(), stages + 3);
  EXPECT_EQ(r.out_cycle.back() - r.out_cycle.front(), kN - 1) << "not one vector per cycle";
  EXPECT_LE(r.done_cycle, kN + stages + 4);
}

// ---------------------------------------------------------------- v2 directed
float host_max(float a, float b) {  // FMAX rules: NaN -> canonical NaN, max(-0, +0) = +0
  if (std::isnan(a) || std::isnan(b)) return f32(kNan);
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
float host_min(float a, float b) {  // FMIN: NaN -> canonical NaN, min(-0, +0) = -0
  if (std::isnan(a) || std::isnan(b)) return f32(kNan);
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

void expect_same(const std::vector<Vec>& got, const std::vector<Vec>& want, const RunResult* r, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what << ": number of outputs";
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t l = 0; l < want[i].size(); ++l)
      if (got[i][l] != want[i][l]) {
        ADD_FAILURE() << what << ": output " << i << " (cycle " << (r ? int64_t(r->out_cycle[i]) : -1) << ") lane " << l
                      << ": got 0x" << std::hex << got[i][l] << " want 0x" << want[i][l] << std::dec << "\n  got  "
                      << hex(got[i]) << "\n  want " << hex(want[i]);
        return;
      }
}

// The outer-product program: stage s r2 = FMA(BREG0 bl=s, REG1, ACC), acc; acc_len = K
// firings per tile, accumulator mode from -0.0.
PcuConfig outer_product(uint32_t K, uint32_t tiles) {
  const uint32_t S = tiny().stages;
  PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b011;
  pc.count = K * tiles;
  pc.out_mode = 1;
  pc.acc_len = K;
  pc.acc_init = 0x80000000u;
  pc.stages.resize(S);
  for (uint32_t st = 0; st < S; ++st) {
    pc.stages[st] = {Opcode::FMA, uint8_t(Src::BREG0), 1, 2, 0, uint8_t(Src::ACC)};
    pc.stages[st].bl = uint8_t(st);
    pc.stages[st].acc = true;
  }
  return pc;
}

// Outer-product GEMM (the compiler's peak mapping): vin0 = column k of an A tile (lane
// s = A[s][k]), vin1 = row k of a B tile; stage s: r2 = FMA(BREG0 bl=s, REG1, ACC),
// acc; acc_len = K; out_mode 1: per tile, output s = row s of C. Several tiles back to
// back; C[m][n] = fma chain over k from -0.0, computed on the host. Without
// backpressure the PCU fires once per cycle across tile boundaries.
TEST(Pcu, OuterProductGemmTiles) {
  const uint32_t L = tiny().lanes, S = tiny().stages;
  constexpr uint32_t kK = 37, kTiles = 5;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> d(-4, 4);
  const PcuConfig pc = outer_product(kK, kTiles);
  RunSpec spec;
  std::vector<Vec> want;
  for (uint32_t t = 0; t < kTiles; ++t) {
    std::vector<std::vector<float>> A(S, std::vector<float>(kK)), B(kK, std::vector<float>(L));
    for (auto& row : A)
      for (float& x : row) x = d(rng);
    for (auto& row : B)
      for (float& x : row) x = d(rng);
    if (t == 1) A[0][3] = NAN, B[5][1] = INFINITY;  // NaN and inf through the accumulation
    for (uint32_t k = 0; k < kK; ++k) {
      Vec a(L), b(L);
      for (uint32_t l = 0; l < L; ++l) a[l] = u32(A[l % S][k]), b[l] = u32(B[k][l]);
      spec.inputs[0].push_back(a), spec.inputs[1].push_back(b);
    }
    for (uint32_t m = 0; m < S; ++m) {
      Vec c(L);
      for (uint32_t n = 0; n < L; ++n) {
        float acc = -0.0f;
        for (uint32_t k = 0; k < kK; ++k) acc = std::fma(A[m][k], B[k][n], acc);
        c[n] = std::isnan(acc) ? kNan : u32(acc);
      }
      want.push_back(c);
    }
  }
  ASSERT_EQ(expected_outputs(pc), want.size());
  Dut dut;
  dut.configure(pc.encode(tiny()));
  const RunResult r = run(dut, pc, spec, rng, "gemm");
  expect_same(r.out, want, &r, "gemm rtl");
  expect_same(model_run(pc, spec), want, nullptr, "gemm model");
  ASSERT_EQ(r.out.size(), want.size());
  // Each tile's S outputs on consecutive cycles, tiles exactly K cycles apart: the last
  // firing of tile t is K cycles after that of tile t-1 and the S drains overlap the
  // next tile. So the firings span (last output - first output) - (S-1) + K cycles.
  for (uint32_t i = 1; i < r.out.size(); ++i) {
    const uint64_t gap = r.out_cycle[i] - r.out_cycle[i - 1];
    EXPECT_EQ(gap, i % S ? 1u : kK - (S - 1)) << "output " << i;
  }
  const uint64_t fire_span = r.out_cycle.back() - r.out_cycle.front() - (S - 1) + kK;
  EXPECT_EQ(fire_span, uint64_t(pc.count)) << "firings did not sustain one per cycle";
  std::printf("gemm: %u tiles of K=%u: %u firings in %llu cycles, first output at cycle %llu\n", kTiles, kK,
              pc.count, (unsigned long long)fire_span, (unsigned long long)r.out_cycle.front());
}

// Drain chain (the compiler's GEMM over a chain of PCUs): accumulator mode with
// chain = S forwards S vectors of input 2 after each group's S rows, unchanged (a
// reduction applies to the PCU's own rows only), before the next group's rows. Input 2
// is not a firing operand even when vin_mask names it. The forwarded vectors follow the
// group's rows on consecutive cycles and the firings keep one per cycle.
TEST(Pcu, DrainChainForwardsAfterEachGroup) {
  const uint32_t L = tiny().lanes, S = tiny().stages;
  constexpr uint32_t kK = 23, kTiles = 4;
  for (uint8_t reduce : {uint8_t(0), uint8_t(1)}) {
    PcuConfig pc = outer_product(kK, kTiles);
    pc.vin_mask = 0b111;  // bit 2 is dropped: input 2 is the chain
    pc.reduce = reduce;
    pc.chain = uint8_t(S);
    RunSpec spec;
    std::vector<Vec> want;
    for (uint32_t t = 0; t < kTiles; ++t) {
      // A[s][k] = s + 1, B[k][n] = k - n: C[s][n] = (s + 1) * sum_k (k - n), exact in fp32.
      for (uint32_t k = 0; k < kK; ++k) {
        Vec a(L), b(L);
        for (uint32_t l = 0; l < L; ++l) a[l] = u32(float(l % S + 1)), b[l] = u32(float(int(k) - int(l)));
        spec.inputs[0].push_back(a), spec.inputs[1].push_back(b);
      }
      for (uint32_t m = 0; m < S; ++m) {
        Vec c(L);
        float sum = 0;
        for (uint32_t n = 0; n < L; ++n) {
          const float row = float(m + 1) * float(int(kK * (kK - 1) / 2) - int(kK * n));
          c[n] = u32(row);
          sum += row;
        }
        want.push_back(reduce ? Vec(L, u32(sum)) : c);
      }
      for (uint32_t j = 0; j < S; ++j) {  // the chain's vectors: distinct words, NaN payloads kept
        Vec v(L);
        for (uint32_t l = 0; l < L; ++l) v[l] = 0x7F800001u + ((t * S + j) << 8) + l;
        spec.inputs[2].push_back(v);
        want.push_back(v);
      }
    }
    ASSERT_EQ(expected_outputs(pc), want.size());
    std::mt19937_64 rng(11);
    Dut dut;
    dut.configure(pc.encode(tiny()));
    const std::string what = reduce ? "chain+reduce" : "chain";
    const RunResult r = run(dut, pc, spec, rng, what);
    expect_same(r.out, want, &r, what + " rtl");
    expect_same(model_run(pc, spec), want, nullptr, what + " model");
    ASSERT_EQ(r.out.size(), want.size());
    // Per group 2S outputs on consecutive cycles, groups K cycles apart.
    for (uint32_t i = 1; i < r.out.size(); ++i)
      EXPECT_EQ(r.out_cycle[i] - r.out_cycle[i - 1], i % (2 * S) ? 1u : kK - (2 * S - 1)) << what << " output " << i;
    const uint64_t fire_span = r.out_cycle.back() - r.out_cycle.front() - (2 * S - 1) + kK;
    EXPECT_EQ(fire_span, uint64_t(pc.count)) << what << ": firings did not sustain one per cycle";
  }
}

// Dot products: stage 0 r3 = FMA(REG0, REG1, ACC), acc; acc_len = n/L; reduce = sum:
// one vector per dot product, every lane = ((a0 + a1) + (a2 + a3)) of the lane sums.
TEST(Pcu, DotProductReduceSum) {
  const uint32_t L = tiny().lanes;
  constexpr uint32_t kKv = 13, kDots = 6;
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<float> d(-3, 3);
  PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b011;
  pc.count = kKv * kDots;
  pc.out_mode = 1;
  pc.reduce = 1;
  pc.acc_len = kKv;
  pc.acc_init = 0x80000000u;
  pc.stages.resize(tiny().stages);
  pc.stages[0] = {Opcode::FMA, 0, 1, 3, 0, uint8_t(Src::ACC)};
  pc.stages[0].acc = true;
  RunSpec spec;
  std::vector<Vec> want;
  for (uint32_t t = 0; t < kDots; ++t) {
    std::vector<float> lane(L, -0.0f);
    for (uint32_t j = 0; j < kKv; ++j) {
      Vec a(L), b(L);
      for (uint32_t l = 0; l < L; ++l) {
        float x = d(rng), y = d(rng);
        if (t == 2 && j == 0) x = 1e30f, y = 1e8f;  // overflow to inf in one lane
        a[l] = u32(x), b[l] = u32(y);
        lane[l] = std::fma(x, y, lane[l]);
      }
      spec.inputs[0].push_back(a), spec.inputs[1].push_back(b);
    }
    std::vector<float> level = lane;  // pairwise tree: (0,1), (2,3), ... then pairwise again
    while (level.size() > 1) {
      std::vector<float> n;
      for (size_t i = 0; i < level.size(); i += 2) n.push_back(level[i] + level[i + 1]);
      level = n;
    }
    want.push_back(Vec(L, std::isnan(level[0]) ? kNan : u32(level[0])));
  }
  spec.valid_prob = 0.8, spec.ready_prob = 0.5;
  Dut dut;
  dut.configure(pc.encode(tiny()));
  const RunResult r = run(dut, pc, spec, rng, "dot");
  expect_same(r.out, want, &r, "dot rtl");
  expect_same(model_run(pc, spec), want, nullptr, "dot model");
}

// Cross-lane max / min with NaN lanes and signed zeros (stream mode, MOV through).
TEST(Pcu, ReduceMaxMinNanSignedZero) {
  const uint32_t L = tiny().lanes;
  const std::vector<Vec> in = {
      Vec{0x80000000u, 0x00000000u, 0x80000000u, 0x80000000u},  // -0 +0 -0 -0
      Vec{0x00000000u, 0x80000000u, 0x00000000u, 0x00000000u},  // +0 -0 +0 +0
      Vec{0x80000000u, 0x80000000u, 0x80000000u, 0x80000000u},  // all -0
      Vec{u32(1.0f), 0x7F800001u, u32(-2.0f), u32(3.0f)},    // signalling NaN lane
      Vec{u32(-1.0f), u32(-5.0f), u32(-0.5f), 0xFFC00000u},   // negative quiet NaN last
      Vec{0xFF800000u, u32(-1e30f), 0x7F800000u, u32(7.0f)},   // -inf, inf
      Vec{0x00000001u, 0x80000001u, 0x80000000u, 0x00000000u},  // subnormals
  };
  for (uint8_t red : {uint8_t(2), uint8_t(3)}) {
    PcuConfig pc = one_stage(Opcode::MOV, 0, 0, 0, 0, 0b001, uint32_t(in.size()));
    pc.reduce = red;
    RunSpec spec;
    std::vector<Vec> want;
    for (const Vec& v : in) {
      spec.inputs[0].push_back(v);
      auto f = red == 2 ? host_max : host_min;
      const float x = f(f(f32(v[0]), f32(v[1])), f(f32(v[2]), f32(v[3])));
      want.push_back(Vec(L, std::isnan(x) ? kNan : u32(x)));
    }
    std::mt19937_64 rng(9 + red);
    spec.ready_prob = 0.6;
    Dut dut;
    dut.configure(pc.encode(tiny()));
    const RunResult r = run(dut, pc, spec, rng, red == 2 ? "reduce max" : "reduce min");
    expect_same(r.out, want, &r, red == 2 ? "reduce max rtl" : "reduce min rtl");
    expect_same(model_run(pc, spec), want, nullptr, red == 2 ? "reduce max model" : "reduce min model");
    ASSERT_EQ(r.out.size(), in.size());
    if (red == 2) {
      EXPECT_EQ(r.out[0][0], 0u) << "max(-0, +0) = +0";
    } else {
      EXPECT_EQ(r.out[1][0], 0x80000000u) << "min(+0, -0) = -0";
    }
  }
}

// Accumulation with acc_len = 1 (ACC reads acc_init every firing) and groups shorter
// than the number of acc stages, back to back: one firing per cycle in stream mode, and
// in accumulator mode every output in order under heavy backpressure.
TEST(Pcu, AccLenOneAndShortGroups) {
  const uint32_t S = tiny().stages;
  constexpr uint32_t kN = 60;
  for (uint32_t mode = 0; mode < 2; ++mode) {
    PcuConfig pc;
    pc.enable = true;
    pc.vin_mask = 0b001;
    pc.count = kN;
    pc.out_mode = uint8_t(mode);
    pc.acc_len = mode ? 2 : 1;  // accumulator mode: 2 firings per group, 4 acc stages
    pc.acc_init = u32(0.5f);
    pc.out_reg = 1;
    pc.stages.resize(S);
    for (uint32_t st = 0; st < S; ++st) {
      pc.stages[st] = {Opcode::FADD, 0, uint8_t(Src::ACC), 1, 0};
      pc.stages[st].acc = true;
    }
    RunSpec spec;
    std::vector<Vec> want;
    for (uint32_t i = 0; i < kN; ++i) {
      spec.inputs[0].push_back(fvec({float(i), float(2 * i), -float(i), 0.25f}));
      if (mode == 0) want.push_back(fvec({float(i) + 0.5f, float(2 * i) + 0.5f, -float(i) + 0.5f, 0.75f}));
      if (mode == 1 && i % 2 == 1)
        for (uint32_t st = 0; st < S; ++st)
          want.push_back(fvec({float(i - 1) + float(i) + 0.5f, float(2 * (i - 1)) + float(2 * i) + 0.5f,
                               -float(i - 1) - float(i) + 0.5f, 1.0f}));
    }
    if (mode == 1) spec.ready_prob = 0.3, spec.valid_prob = 0.7;
    std::mt19937_64 rng(11 + mode);
    Dut dut;
    dut.configure(pc.encode(tiny()));
    const RunResult r = run(dut, pc, spec, rng, mode ? "acc groups" : "acc_len 1");
    expect_same(r.out, want, &r, mode ? "acc groups rtl" : "acc_len 1 rtl");
    expect_same(model_run(pc, spec), want, nullptr, mode ? "acc groups model" : "acc_len 1 model");
    if (mode == 0) {
      ASSERT_EQ(r.out.size(), kN);
      EXPECT_EQ(r.out_cycle.back() - r.out_cycle.front(), kN - 1) << "acc_len 1: not one firing per cycle";
    }
  }
}

// Accumulator mode with one acc stage and acc_len = 1: one output per firing, one per cycle.
TEST(Pcu, AccModeOnePerCycle) {
  constexpr uint32_t kN = 100;
  PcuConfig pc = one_stage(Opcode::FMA, 0, 0, 2, 0, 0b001, kN);
  pc.stages[0].src_c = uint8_t(Src::ACC);
  pc.stages[2] = {Opcode::FMUL, 2, uint8_t(Src::IMM), 2, u32(2.0f)};
  pc.stages[2].acc = true;
  pc.out_mode = 1;
  pc.acc_len = 1;
  pc.acc_init = u32(1.0f);
  RunSpec spec;
  std::vector<Vec> want;
  for (uint32_t i = 0; i < kN; ++i) {
    spec.inputs[0].push_back(fvec({float(i), 1.f, -2.f, 0.f}));
    want.push_back(fvec({2 * (float(i) * float(i) + 1), 4.f, 10.f, 2.f}));
  }
  std::mt19937_64 rng(13);
  Dut dut;
  dut.configure(pc.encode(tiny()));
  const RunResult r = run(dut, pc, spec, rng, "acc one per cycle");
  expect_same(r.out, want, &r, "acc one per cycle");
  ASSERT_EQ(r.out.size(), kN);
  EXPECT_EQ(r.out_cycle.back() - r.out_cycle.front(), kN - 1) << "not one output per cycle";
}

}  // namespace

OPENRDU_TB_COVERAGE("tb_pcu");
// Configuration words written in the cycle before run_i rises take effect: the first
// drain register (from the stages' acc bits) and the counters' start values (the mins)
// are read from the configuration at the start of the run, not registered while it may
// still change. Found by the random test (a 5-word prefix ending with stage 0's word).
TEST(Pcu, ConfigWrittenJustBeforeRun) {
  std::mt19937_64 rng(9);
  Dut dut;
  PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b001;
  pc.count = 8;
  pc.out_mode = 1;
  pc.acc_len = 4;
  pc.ctr[0] = {100, 1000, 1};
  pc.stages.resize(tiny().stages);
  pc.stages[2] = {Opcode::IADD, uint8_t(Src::CTR0), uint8_t(Src::ACC), 0, 0};
  pc.stages[2].acc = true;
  const std::vector<uint32_t> words = pc.encode(tiny());
  const uint32_t cw = 4 + 2 * tiny().stages;
  ASSERT_EQ(words.size(), cw + 9);
  dut.cfg_clear();
  for (uint32_t i = 0; i < words.size(); ++i) dut.cfg_write(kUnitId, i, i == 8 || i == cw ? 0u : words[i]);
  dut.cfg_write(kUnitId, 8, words[8]);    // stage 2's word (its acc bit) ...
  dut.cfg_write(kUnitId, cw, words[cw]);  // ... and counter 0's min, the last writes
  RunSpec sp;
  for (int i = 0; i < 8; ++i) sp.inputs[0].push_back(Vec(4, 0));
  const RunResult r = run(dut, pc, sp, rng, "late configuration");
  // Group g sums CTR0 over its 4 firings: lane l of firing f holds 100 + 4f + l.
  std::vector<Vec> want;
  for (uint32_t g = 0; g < 2; ++g) {
    Vec w(4, 0);
    for (uint32_t f = 4 * g; f < 4 * g + 4; ++f)
      for (uint32_t l = 0; l < 4; ++l) w[l] += 100 + 4 * f + l;
    want.push_back(w);
  }
  EXPECT_EQ(r.out, want);
  EXPECT_EQ(model_run(pc, sp), want);
}

// Scalar input and output: each group of 3 firings takes one scalar (sin), which stage 0
// reads as its immediate (simm) to scale the group's vectors; sout gives lane 0 of every
// output. Against host arithmetic, with gaps on every port.
TEST(Pcu, ScalarInputScalesEachGroup) {
  std::mt19937_64 rng(10);
  Dut dut;
  PcuConfig pc = one_stage(Opcode::FMUL, 0, uint8_t(Src::IMM), 1, u32(99.0f), 0b001, 12);
  pc.acc_len = 3;
  pc.sin = pc.sout = true;
  pc.stages[0].simm = true;
  dut.configure(pc.encode(tiny()));
  RunSpec sp;
  std::vector<Vec> want;
  std::vector<uint32_t> want_s;
  std::uniform_real_distribution<float> d(-10, 10);
  for (int g = 0; g < 4; ++g) {
    const float k = d(rng);
    sp.scalars.push_back(u32(k));
    for (int i = 0; i < 3; ++i) {
      Vec v(4), w(4);
      for (int l = 0; l < 4; ++l) {
        const float x = d(rng);
        v[l] = u32(x);
        w[l] = u32(x * k);
      }
      sp.inputs[0].push_back(v);
      want.push_back(w);
      want_s.push_back(w[0]);
    }
  }
  sp.valid_prob = 0.7, sp.ready_prob = 0.6, sp.side_prob = 0.5;
  const RunResult r = run(dut, pc, sp, rng, "scalar scale");
  EXPECT_EQ(r.out, want);
  EXPECT_EQ(r.sout, want_s);
  ModelSide side;
  EXPECT_EQ(model_run(pc, sp, &side), want);
  EXPECT_EQ(side.sout, want_s);
}

// Inputs a program does not use accept and drop (as in the PMU and AGCU): a PCU without
// sin and tin takes 40 scalars (more than its FIFO_DEPTH) and 300 tokens (more than
// its 255 credits) while it streams, and its results are unchanged.
TEST(Pcu, UnusedScalarAndControlInputsDrop) {
  std::mt19937_64 rng(12);
  Dut dut;
  PcuConfig pc = one_stage(Opcode::FADD, 0, uint8_t(Src::IMM), 1, u32(1.5f), 0b001, 6);
  dut.configure(pc.encode(tiny()));
  RunSpec sp;
  std::vector<Vec> want;
  for (uint32_t i = 0; i < 6; ++i) {
    sp.inputs[0].push_back(Vec(4, u32(float(i))));
    want.push_back(Vec(4, u32(float(i) + 1.5f)));
  }
  for (uint32_t i = 0; i < 40; ++i) sp.scalars.push_back(i);
  sp.tokens = 300;
  sp.side_prob = 0.9;
  const RunResult r = run(dut, pc, sp, rng, "unused inputs");
  EXPECT_EQ(r.out, want);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.scalars_in, 40u) << "scalars without sin are accepted";
  EXPECT_EQ(r.tokens_in, 300u) << "tokens without tin are accepted";
  EXPECT_EQ(model_run(pc, sp), want);
}

// Control input and output: a group needs a credit (tok_init 1, then one per token in);
// with one token for four groups the PCU runs two groups and waits, done_o low, having
// sent a token per finished group (tout). Accumulator mode: a sum per group.
TEST(Pcu, TokensGateGroups) {
  std::mt19937_64 rng(11);
  Dut dut;
  PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b001;
  pc.count = 8;
  pc.acc_len = 2;
  pc.out_mode = 1;
  pc.tin = pc.tout = true;
  pc.tok_init = 1;
  pc.stages.resize(tiny().stages);
  pc.stages[0] = {Opcode::IADD, 0, uint8_t(Src::ACC), 0, 0};
  pc.stages[0].acc = true;
  dut.configure(pc.encode(tiny()));
  RunSpec sp;
  for (uint32_t i = 0; i < 8; ++i) sp.inputs[0].push_back(Vec(4, i + 1));
  sp.tokens = 1;
  sp.side_prob = 0.5;
  const RunResult r = run(dut, pc, sp, rng, "tokens");
  // Two groups: 1+2 and 3+4 in every lane; the other two wait for credits.
  EXPECT_EQ(r.out, (std::vector<Vec>{Vec(4, 3), Vec(4, 7)}));
  EXPECT_EQ(r.tokens, 2u);
  EXPECT_FALSE(r.done);
  ModelSide side;
  EXPECT_EQ(model_run(pc, sp, &side), r.out);
  EXPECT_EQ(side.tokens, 2u);
  // Enough tokens: all four groups, four tokens out, done; 300 more tokens than needed
  // (beyond the 255 credits) are accepted once the last group has fired.
  sp.tokens = 3 + 300;
  const RunResult r2 = run(dut, pc, sp, rng, "tokens 2");
  EXPECT_EQ(r2.out, (std::vector<Vec>{Vec(4, 3), Vec(4, 7), Vec(4, 11), Vec(4, 15)}));
  EXPECT_EQ(r2.tokens, 4u);
  EXPECT_TRUE(r2.done);
  EXPECT_EQ(r2.tokens_in, 303u) << "surplus tokens after the last firing are accepted";
}
