// rdu_pmu (tiny) testbench: random write/read patterns (counts, signed strides,
// bases, strided and duplicated modes), random input timing and output backpressure;
// the read stream must equal model::Pmu's bit for bit. Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <vector>

#include "Vrdu_pmu_tiny.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/model/units.h"
#include "../common/unit_bus.h"

namespace {

using openrdu::model::Vec;
namespace arch = openrdu::arch;

uint64_t seed_from_env() {
  const char* s = std::getenv("OPENRDU_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 1;
}

std::string vec_str(const Vec& v) {
  std::ostringstream s;
  s << std::hex << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? " " : "") << "0x" << v[i];
  s << "]";
  return s.str();
}

class PmuTb {
 public:
  explicit PmuTb(const arch::Config& cfg) : cfg_(cfg), model_(cfg_) { bus_.reset(); }
  void tick() { bus_.tick(); }
  void configure(const std::vector<uint32_t>& words, std::mt19937_64& rng) {
    bus_.configure(0, words, rng);  // with writes to other units, which must be ignored
    model_.configure(words);
  }

  // Runs the configured program: `in` is offered on vin with probability pv per cycle,
  // vout is ready with probability pr. Returns the cycles until done_o.
  uint64_t run(const std::vector<Vec>& in, double pv, double pr, std::mt19937_64& rng, const std::string& what) {
    const uint32_t lanes = cfg_.lanes;
    for (const Vec& v : in) model_.push(0, v);
    model_.step(nullptr);
    std::deque<Vec> expect = model_.output(0);
    model_.output(0).clear();
    const size_t nexp = expect.size();

    top_.run_i = 1;
    std::uniform_real_distribution<double> u(0, 1);
    size_t sent = 0, got = 0;
    uint64_t cycles = 0;
    for (;;) {
      const bool valid = sent < in.size() && u(rng) < pv;
      top_.vin_valid_i = valid;
      for (uint32_t l = 0; l < lanes; ++l) top_.vin_data_i[l] = valid ? in[sent][l] : 0;
      top_.vout_ready_i = u(rng) < pr;
      top_.sin_valid_i = rng() & 1;
      top_.cin_valid_i = rng() & 1;
      top_.sout_ready_i = 1;
      top_.cout_ready_i = 1;
      top_.eval();
      if (!top_.sin_ready_o || !top_.cin_ready_o || top_.sout_valid_o || top_.cout_valid_o) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": unused scalar/control ports misbehave";
        return cycles;
      }
      if (top_.done_o) {
        if (got != nexp) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o with " << got << " of " << nexp
                        << " vectors read";
          return cycles;
        }
        if (!model_.done()) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o but the model is not done (" << sent
                        << " vectors written)";
          return cycles;
        }
        break;
      }
      if (valid && top_.vin_ready_o) ++sent;
      if (top_.vout_valid_o && top_.vout_ready_i) {
        Vec v(lanes);
        for (uint32_t l = 0; l < lanes; ++l) v[l] = top_.vout_data_o[l];
        if (got >= nexp) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": extra vector " << vec_str(v) << " after " << nexp;
          return cycles;
        }
        for (uint32_t l = 0; l < lanes; ++l) {
          if (v[l] != expect[got][l]) {
            ADD_FAILURE() << what << " cycle " << cycle_ << ": read " << got << " lane " << l << ": rtl 0x"
                          << std::hex << v[l] << ", model 0x" << expect[got][l] << std::dec << " (rtl "
                          << vec_str(v) << ", model " << vec_str(expect[got]) << ")";
            return cycles;
          }
        }
        ++got;
        ++compared_;
      }
      tick();
      if (++cycles > 100000) {
        ADD_FAILURE() << what << ": not done after 100000 cycles (" << sent << "/" << in.size() << " written, "
                      << got << "/" << nexp << " read)";
        return cycles;
      }
    }
    top_.vin_valid_i = 0;
    return cycles;
  }

  arch::Config cfg_;
  openrdu::model::Pmu model_;
  Vrdu_pmu_tiny top_;
  uint64_t cycle_ = 0;
  openrdu::tb::UnitBus<Vrdu_pmu_tiny> bus_{top_, cycle_};
  uint64_t compared_ = 0;  // vectors compared with the model
};

arch::PmuSide random_side(std::mt19937_64& rng, uint32_t depth) {
  arch::PmuSide s;
  auto stride = [&]() -> int32_t {
    switch (rng() % 6) {
      case 0: return 0;
      case 1: return 1;
      case 2: return -int32_t(rng() % 8) - 1;
      case 3: return int32_t(rng() % 20);
      case 4: return int32_t(uint32_t(rng()));  // any 32-bit value: wraps
      default: return int32_t(rng() % (2 * depth)) - int32_t(depth);
    }
  };
  s.base = (rng() % 4 == 0) ? uint32_t(rng()) : uint32_t(rng() % depth);
  s.c0 = rng() % 10 == 0 ? 0 : 1 + rng() % 12;
  s.c1 = rng() % 10 == 0 ? 0 : 1 + rng() % 5;
  s.s0 = stride();
  s.s1 = stride();
  return s;
}

Vec random_vec(std::mt19937_64& rng, uint32_t lanes) {
  Vec v(lanes);
  for (auto& w : v) w = uint32_t(rng());
  return v;
}

// Fills every row (so that no read sees uninitialised storage), reads nothing.
void fill_all(PmuTb& tb, std::mt19937_64& rng) {
  const uint32_t depth = tb.cfg_.pmu_depth();
  arch::PmuConfig c;
  c.enable = true;
  c.wr = {0, depth, 1, 1, 0};
  tb.configure(c.encode(), rng);
  std::vector<Vec> in;
  for (uint32_t r = 0; r < depth; ++r) in.push_back(random_vec(rng, tb.cfg_.lanes));
  tb.run(in, 1.0, 1.0, rng, "fill");
}

TEST(Pmu, RandomPatternsAgainstModel) {
  const uint64_t seed = seed_from_env();
  std::cout << "OPENRDU_SEED=" << seed << "\n";
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(seed);
  fill_all(tb, rng);
  const uint32_t depth = tb.cfg_.pmu_depth();
  std::uniform_real_distribution<double> u(0, 1);
  for (int idx = 0; idx < 600 && !testing::Test::HasFailure(); ++idx) {
    arch::PmuConfig c;
    c.enable = rng() % 16 != 0;
    c.mode = rng() % 2;
    c.wr = random_side(rng, depth);
    c.rd = random_side(rng, depth);
    tb.configure(c.encode(), rng);
    std::vector<Vec> in;
    for (uint64_t k = 0; k < c.wr.accesses(); ++k) in.push_back(random_vec(rng, tb.cfg_.lanes));
    const double pv = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    const double pr = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    std::ostringstream what;
    what << "seed " << seed << " case " << idx << " (enable " << c.enable << " mode " << int(c.mode) << " wr base "
         << c.wr.base << " c0 " << c.wr.c0 << " s0 " << c.wr.s0 << " c1 " << c.wr.c1 << " s1 " << c.wr.s1
         << "; rd base " << c.rd.base << " c0 " << c.rd.c0 << " s0 " << c.rd.s0 << " c1 " << c.rd.c1 << " s1 "
         << c.rd.s1 << ")";
    if (!c.enable) in.clear();
    tb.run(in, pv, pr, rng, what.str());
  }
  std::cout << tb.compared_ << " vectors compared in " << tb.cycle_ << " cycles\n";
  EXPECT_GT(tb.compared_, 5000u);
}

// Full throughput: 64 writes then 64 reads, input always valid, output always ready.
TEST(Pmu, Throughput) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(3);
  for (uint8_t mode : {0, 1}) {
    arch::PmuConfig c;
    c.enable = true;
    c.mode = mode;
    c.wr = {10, 8, 8, 1, 8};
    c.rd = {10, 64, 1, 1, 0};
    tb.configure(c.encode(), rng);
    std::vector<Vec> in;
    for (int k = 0; k < 64; ++k) in.push_back(random_vec(rng, tb.cfg_.lanes));
    const uint64_t cycles = tb.run(in, 1.0, 1.0, rng, "throughput mode " + std::to_string(mode));
    EXPECT_LE(cycles, 64u + 64u + 6u) << "mode " << int(mode);
  }
}

// A disabled PMU is done at once; done_o stays low until every read has left.
TEST(Pmu, DoneSemantics) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(5);
  tb.configure({}, rng);
  tb.top_.run_i = 1;
  tb.top_.eval();
  EXPECT_TRUE(tb.top_.done_o) << "a disabled PMU is done";
  arch::PmuConfig c;
  c.enable = true;
  c.wr = {0, 1, 1, 0, 0};
  c.rd = {0, 3, 1, 0, 0};
  tb.configure(c.encode(), rng);
  tb.top_.run_i = 1;
  tb.top_.vout_ready_i = 0;
  tb.top_.vin_valid_i = 1;
  for (int t = 0; t < 20; ++t) {
    tb.top_.eval();
    EXPECT_FALSE(tb.top_.done_o) << "cycle " << t << ": done before the reads left";
    tb.tick();
  }
  tb.top_.vin_valid_i = 0;
  tb.top_.vout_ready_i = 1;
  int outs = 0;
  for (int t = 0; t < 10 && !tb.top_.done_o; ++t) {
    tb.top_.eval();
    if (tb.top_.vout_valid_o) ++outs;
    tb.tick();
  }
  tb.top_.eval();
  EXPECT_TRUE(tb.top_.done_o);
  EXPECT_EQ(outs, 3);
}

}  // namespace
