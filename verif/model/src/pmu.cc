// Functional model of the PMU (docs/architecture.md 4.2).
#include <fmt/format.h>

#include <algorithm>

#include "openrdu/model/units.h"

namespace openrdu::model {

namespace {
// Address of access j of a side: base + i0*s0 + i1*s1 in 32-bit wrap-around arithmetic.
uint32_t side_addr(const arch::PmuSide& s, uint64_t j) {
  const uint32_t i0 = uint32_t(j % s.c0), i1 = uint32_t(j / s.c0);
  return s.base + i0 * uint32_t(s.s0) + i1 * uint32_t(s.s1);
}
}  // namespace

Pmu::Pmu(const arch::Config& cfg) : Unit(cfg) {
  const uint32_t depth = cfg.pmu_depth();
  if (depth == 0 || (depth & (depth - 1)) != 0 || cfg.lanes == 0 || (cfg.lanes & (cfg.lanes - 1)) != 0)
    throw std::invalid_argument(
        fmt::format("pmu: configuration '{}': PMU depth {} and lanes {} must be powers of two", cfg.name, depth,
                    cfg.lanes));
  mem_.assign(size_t(depth) * cfg.lanes, 0);
  resize_ports(1, 1);
}

void Pmu::configure(std::span<const uint32_t> words) {
  if (words.size() > arch::kPmuWords)
    throw std::invalid_argument(fmt::format("pmu: {} configuration words, the unit has {}", words.size(),
                                            arch::kPmuWords));
  c_ = arch::PmuConfig::decode(words);
  writes_ = reads_ = 0;
  resize_ports(1, 1);
  // The storage keeps its contents (an SRAM is not cleared by configuration).
}

bool Pmu::step(Memory*) {
  if (!c_.enable) return false;
  const uint32_t lanes = cfg_.lanes, depth = cfg_.pmu_depth();
  bool moved = false;
  // Write side: one vector per access from input 0.
  while (writes_ < c_.wr.accesses() && !in_[0].empty()) {
    const Vec& v = in_[0].front();
    if (v.size() != lanes)
      throw std::invalid_argument(fmt::format("pmu: input vector of {} words, expected {}", v.size(), lanes));
    const uint32_t row = side_addr(c_.wr, writes_) % depth;
    std::copy(v.begin(), v.end(), mem_.begin() + size_t(row) * lanes);
    in_[0].pop_front();
    ++writes_;
    moved = true;
  }
  if (writes_ < c_.wr.accesses()) return moved;
  // Read side, after the last write.
  while (reads_ < c_.rd.accesses()) {
    const uint32_t a = side_addr(c_.rd, reads_);
    Vec v(lanes);
    if (c_.mode == 1) {
      const uint32_t w = a % (depth * lanes);
      const uint32_t word = mem_[size_t(w / lanes) * lanes + (w % lanes)];
      std::fill(v.begin(), v.end(), word);
    } else {
      const uint32_t row = a % depth;
      std::copy_n(mem_.begin() + size_t(row) * lanes, lanes, v.begin());
    }
    out_[0].push_back(std::move(v));
    ++reads_;
    moved = true;
  }
  return moved;
}

bool Pmu::done() const {
  return !c_.enable || (writes_ == c_.wr.accesses() && reads_ == c_.rd.accesses());
}

uint64_t Pmu::busy_cycles() const { return writes_ + reads_ + (reads_ ? 2 : 0); }

}  // namespace openrdu::model
