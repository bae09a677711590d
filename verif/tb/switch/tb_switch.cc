// rdu_switch (tiny) testbench: random selects (with fan-out) on all three networks,
// random traffic on every input, random backpressure on every output. Every output
// must deliver exactly the sequence of the input it selects, in order, once; an input
// that no output selects is never ready. Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <random>
#include <sstream>
#include <vector>

#include "Vrdu_switch_tiny.h"
#include "openrdu/arch/config.h"
#include "../common/unit_bus.h"
#include "../common/tb_util.h"
#include "../common/coverage.h"

namespace {

using openrdu::tb::seed_from_env;

constexpr int kIn = 6, kOut = 7, kNets = 3;
using Item = std::vector<uint32_t>;

class SwitchTb {
 public:
  explicit SwitchTb(uint32_t lanes) : lanes_(lanes) { bus_.reset(); }
  ~SwitchTb() { openrdu::tb::coverage_collect(top_.contextp()); }

  uint32_t words(int net) const { return net == 0 ? lanes_ : 1; }
  uint32_t mask(int net) const { return net == 2 ? 1u : 0xFFFFFFFFu; }

  void tick() { bus_.tick(); }
  void cfg_write(uint32_t unit, uint32_t word, uint32_t data) { bus_.cfg_write(unit, word, data); }
  void cfg_clear() { bus_.cfg_clear(); }

  void set_in(int net, int i, bool valid, const Item& d) {
    auto setbit = [&](auto& v) { v = valid ? (v | (1u << i)) : (v & ~(1u << i)); };
    switch (net) {
      case 0:
        setbit(top_.vin_valid_i);
        for (uint32_t w = 0; w < lanes_; ++w) top_.vin_data_i[i][w] = d.empty() ? 0 : d[w];
        break;
      case 1:
        setbit(top_.sin_valid_i);
        top_.sin_data_i[i] = d.empty() ? 0 : d[0];
        break;
      default:
        setbit(top_.cin_valid_i);
        top_.cin_data_i[i] = d.empty() ? 0 : d[0] & 1;
        break;
    }
  }
  bool in_ready(int net, int i) const {
    const uint32_t r = net == 0 ? top_.vin_ready_o : net == 1 ? top_.sin_ready_o : top_.cin_ready_o;
    return (r >> i) & 1;
  }
  void set_out_ready(int net, int o, bool r) {
    auto& v = net == 0 ? top_.vout_ready_i : net == 1 ? top_.sout_ready_i : top_.cout_ready_i;
    v = r ? (v | (1u << o)) : (v & ~(1u << o));
  }
  bool out_valid(int net, int o) const {
    const uint32_t v = net == 0 ? top_.vout_valid_o : net == 1 ? top_.sout_valid_o : top_.cout_valid_o;
    return (v >> o) & 1;
  }
  Item out_data(int net, int o) const {
    Item d(words(net));
    if (net == 0)
      for (uint32_t w = 0; w < lanes_; ++w) d[w] = top_.vout_data_o[o][w];
    else if (net == 1)
      d[0] = top_.sout_data_o[o];
    else
      d[0] = top_.cout_data_o[o];
    return d;
  }

  Vrdu_switch_tiny top_;
  uint32_t lanes_;
  uint64_t cycle_ = 0;
  openrdu::tb::UnitBus<Vrdu_switch_tiny> bus_{top_, cycle_};
};

std::string item_str(const Item& d) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < d.size(); ++i) s << (i ? " " : "") << d[i];
  s << "]";
  return s.str();
}

struct Case {
  uint8_t sel[kNets][kOut];
  std::vector<Item> items[kNets][kIn];
  double pvalid[kNets][kIn], pready[kNets][kOut];
};

// Runs one case; returns the number of cycles taken. Fails the test on a mismatch.
uint64_t run_case(SwitchTb& tb, const Case& c, std::mt19937_64& rng, uint64_t seed, int idx) {
  // Configure: clear, then the three words; writes to other unit ids are ignored.
  tb.cfg_clear();
  for (int n = 0; n < kNets; ++n) {
    uint32_t w = 0;
    for (int o = 0; o < kOut; ++o) w |= uint32_t(c.sel[n][o]) << (4 * o);
    tb.cfg_write(1 + rng() % 100, n, uint32_t(rng()));
    tb.cfg_write(0, n, w);
  }
  tb.top_.run_i = 1;

  std::array<std::array<size_t, kIn>, kNets> sent{};
  std::array<std::array<std::vector<Item>, kOut>, kNets> got{};
  std::uniform_real_distribution<double> u(0, 1);
  uint64_t cycles = 0;
  auto finished = [&] {
    for (int n = 0; n < kNets; ++n) {
      for (int i = 0; i < kIn; ++i) {
        bool selected = false;
        for (int o = 0; o < kOut; ++o) selected |= c.sel[n][o] == i + 1;
        if (selected && sent[n][i] < c.items[n][i].size()) return false;
      }
      for (int o = 0; o < kOut; ++o)
        if (c.sel[n][o] && got[n][o].size() < c.items[n][c.sel[n][o] - 1].size()) return false;
    }
    return true;
  };
  while (!finished()) {
    if (++cycles > 20000) {
      ADD_FAILURE() << "seed " << seed << " case " << idx << ": no progress after 20000 cycles";
      return cycles;
    }
    bool valid[kNets][kIn];
    for (int n = 0; n < kNets; ++n) {
      for (int i = 0; i < kIn; ++i) {
        valid[n][i] = sent[n][i] < c.items[n][i].size() && u(rng) < c.pvalid[n][i];
        tb.set_in(n, i, valid[n][i], valid[n][i] ? c.items[n][i][sent[n][i]] : Item{});
      }
      for (int o = 0; o < kOut; ++o) tb.set_out_ready(n, o, u(rng) < c.pready[n][o]);
    }
    tb.top_.eval();
    for (int n = 0; n < kNets; ++n) {
      for (int i = 0; i < kIn; ++i) {
        bool selected = false;
        for (int o = 0; o < kOut; ++o) selected |= c.sel[n][o] == i + 1;
        if (!selected && tb.in_ready(n, i)) {
          ADD_FAILURE() << "seed " << seed << " case " << idx << " cycle " << tb.cycle_ << ": net " << n
                        << " input " << i << " is ready but no output selects it";
          return cycles;
        }
        if (valid[n][i] && tb.in_ready(n, i)) ++sent[n][i];
      }
      for (int o = 0; o < kOut; ++o) {
        const bool ready = (n == 0   ? tb.top_.vout_ready_i
                            : n == 1 ? tb.top_.sout_ready_i
                                     : tb.top_.cout_ready_i) >> o & 1;
        if (!tb.out_valid(n, o)) continue;
        if (c.sel[n][o] == 0) {
          ADD_FAILURE() << "seed " << seed << " case " << idx << " cycle " << tb.cycle_ << ": net " << n
                        << " unused output " << o << " is valid";
          return cycles;
        }
        if (!ready) continue;
        const auto& src = c.items[n][c.sel[n][o] - 1];
        const size_t k = got[n][o].size();
        const Item d = tb.out_data(n, o);
        if (k >= src.size() || d != src[k]) {
          ADD_FAILURE() << "seed " << seed << " case " << idx << " cycle " << tb.cycle_ << ": net " << n
                        << " output " << o << " (input " << int(c.sel[n][o]) - 1 << ") item " << k << ": got "
                        << item_str(d) << ", expected "
                        << (k < src.size() ? item_str(src[k]) : std::string("nothing (extra item)"));
          return cycles;
        }
        got[n][o].push_back(d);
      }
    }
    tb.tick();
  }
  // A few idle cycles with every output ready: nothing more may come out.
  for (int n = 0; n < kNets; ++n) {
    for (int i = 0; i < kIn; ++i) tb.set_in(n, i, false, {});
    for (int o = 0; o < kOut; ++o) tb.set_out_ready(n, o, true);
  }
  for (int t = 0; t < 4; ++t) {
    tb.top_.eval();
    for (int n = 0; n < kNets; ++n)
      for (int o = 0; o < kOut; ++o)
        if (tb.out_valid(n, o))
          ADD_FAILURE() << "seed " << seed << " case " << idx << ": net " << n << " output " << o
                        << " delivers an extra item " << item_str(tb.out_data(n, o));
    tb.tick();
  }
  // run_i low: FIFOs clear, nothing ready or valid.
  tb.top_.run_i = 0;
  tb.top_.eval();
  EXPECT_EQ(tb.top_.vin_ready_o | tb.top_.sin_ready_o | tb.top_.cin_ready_o, 0u) << "ready while run_i is low";
  tb.tick();
  return cycles;
}

Case random_case(std::mt19937_64& rng, const SwitchTb& tb) {
  Case c{};
  std::uniform_real_distribution<double> u(0, 1);
  const int fanout_bias = rng() % 3;  // 0: uniform, 1: few inputs (much fan-out), 2: one input
  const int one = rng() % kIn;
  for (int n = 0; n < kNets; ++n) {
    for (int o = 0; o < kOut; ++o) {
      if (u(rng) < 0.2) continue;  // unused
      int i = rng() % kIn;
      if (fanout_bias == 1) i = rng() % 2;
      if (fanout_bias == 2) i = one;
      c.sel[n][o] = uint8_t(1 + i);
    }
    for (int i = 0; i < kIn; ++i) {
      const size_t len = rng() % 40;
      for (size_t k = 0; k < len; ++k) {
        Item d(tb.words(n));
        for (auto& w : d) w = uint32_t(rng()) & tb.mask(n);
        c.items[n][i].push_back(d);
      }
      c.pvalid[n][i] = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    }
    for (int o = 0; o < kOut; ++o) c.pready[n][o] = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
  }
  return c;
}

TEST(Switch, RandomRoutesTrafficBackpressure) {
  const uint64_t seed = seed_from_env();
  std::cout << "OPENRDU_SEED=" << seed << "\n";
  const auto cfg = openrdu::arch::load_config("tiny");
  SwitchTb tb(cfg.lanes);
  std::mt19937_64 rng(seed);
  for (int idx = 0; idx < 600 && !HasFailure(); ++idx) run_case(tb, random_case(rng, tb), rng, seed, idx);
}

// Full throughput and one cycle per hop: input 4 fans out to every output, all
// ready, a new item every cycle.
TEST(Switch, FanOutFullThroughput) {
  const auto cfg = openrdu::arch::load_config("tiny");
  SwitchTb tb(cfg.lanes);
  std::mt19937_64 rng(7);
  Case c{};
  for (int n = 0; n < kNets; ++n) {
    for (int o = 0; o < kOut; ++o) c.sel[n][o] = 5;
    for (int i = 0; i < kIn; ++i) c.pvalid[n][i] = 1.0;
    for (int o = 0; o < kOut; ++o) c.pready[n][o] = 1.0;
    for (uint32_t k = 0; k < 100; ++k) c.items[n][4].push_back(Item(tb.words(n), k & tb.mask(n)));
  }
  const uint64_t cycles = run_case(tb, c, rng, 7, 0);
  EXPECT_LE(cycles, 102u) << "100 items through one hop should take 101 cycles";
  EXPECT_GE(cycles, 101u) << "an item cannot cross the switch in the cycle it enters";
}

// While run_i is low the switch accepts nothing and presents nothing.
TEST(Switch, HeldWhileNotRunning) {
  const auto cfg = openrdu::arch::load_config("tiny");
  SwitchTb tb(cfg.lanes);
  tb.cfg_write(0, 0, 0x5555555);
  tb.top_.run_i = 0;
  tb.top_.vin_valid_i = 0x3F;
  tb.top_.vout_ready_i = 0x7F;
  for (int t = 0; t < 5; ++t) {
    tb.top_.eval();
    EXPECT_EQ(tb.top_.vin_ready_o, 0u);
    EXPECT_EQ(tb.top_.vout_valid_o, 0u);
    tb.tick();
  }
}

}  // namespace

OPENRDU_TB_COVERAGE("tb_switch");
