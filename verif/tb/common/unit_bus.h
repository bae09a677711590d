// Clock, reset and configuration-bus driving shared by the unit testbenches (PCU, PMU,
// AGCU, switch): every unit has clk_i, rst_ni, run_i, cfg_clear_i and the config bus
// (`docs/hardware.md` ("RTL module interfaces")).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace openrdu::tb {

// One rising edge of clk_i of any Verilated top. The inputs set since the last edge are
// first evaluated with the clock low, as in hardware (and under SystemC): the clock-gate
// latches (rtl/prim/rdu_icg.sv) take their enables in the low phase, so an input that
// changed in the same evaluation as the rising edge would come a cycle late.
template <class V>
void clock_edge(V& top) {
  top.clk_i = 0;
  top.eval();
  top.clk_i = 1;
  top.eval();
  top.clk_i = 0;
  top.eval();
}

// Two cycles with rst_ni low, then rst_ni high (before the next edge).
template <class V>
void hold_reset(V& top) {
  top.clk_i = 0;
  top.rst_ni = 0;
  clock_edge(top);
  clock_edge(top);
  top.rst_ni = 1;
}

template <class V>
class UnitBus {
 public:
  UnitBus(V& top, uint64_t& cycle) : top_(top), cycle_(cycle) {}

  // One clock cycle (clock_edge).
  void tick() {
    clock_edge(top_);
    ++cycle_;
  }
  // Two cycles in reset, one out; not running, no configuration write or clear.
  void reset() {
    top_.run_i = 0;
    top_.cfg_we_i = 0;
    top_.cfg_clear_i = 0;
    hold_reset(top_);
    cycle_ += 2;
    tick();
  }
  void cfg_write(uint32_t unit, uint32_t word, uint32_t data) {
    top_.cfg_we_i = 1;
    top_.cfg_unit_i = unit;
    top_.cfg_word_i = word;
    top_.cfg_data_i = data;
    tick();
    top_.cfg_we_i = 0;
  }
  void cfg_clear() {
    top_.cfg_clear_i = 1;
    tick();
    top_.cfg_clear_i = 0;
  }
  // Stop the run, clear the configuration and write `words` to unit `unit`; before
  // each word a random write to another unit id (1..50 away), which must be ignored.
  void configure(uint32_t unit, const std::vector<uint32_t>& words, std::mt19937_64& rng) {
    top_.run_i = 0;
    tick();
    cfg_clear();
    for (size_t w = 0; w < words.size(); ++w) {
      cfg_write(unit + 1 + uint32_t(rng() % 50), uint32_t(w), uint32_t(rng()));
      cfg_write(unit, uint32_t(w), words[w]);
    }
  }

 private:
  V& top_;
  uint64_t& cycle_;
};

}  // namespace openrdu::tb
