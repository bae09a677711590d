// Functional model of the PMU (`docs/bitstream.md` ("PMU configuration")): N-buffered tiles, 3-level
// affine write and read patterns, strided / duplicated / transposed (skewed) storage,
// read credits (tin) and a token per tile (tout) on the control network.
#include <fmt/format.h>

#include <algorithm>

#include "openrdu/model/units.h"

namespace openrdu::model {

namespace {
// Address of access j of one tile of a side, without the buffer offset:
// base + i0*s0 + i1*s1 + i2*s2 in 32-bit wrap-around arithmetic.
uint32_t side_addr(const arch::PmuSide& s, uint64_t j) {
  const uint32_t i0 = uint32_t(j % s.c0);
  const uint64_t q = j / s.c0;
  const uint32_t i1 = uint32_t(q % s.c1), i2 = uint32_t(q / s.c1);
  return s.base + i0 * uint32_t(s.s0) + i1 * uint32_t(s.s1) + i2 * uint32_t(s.s2);
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
  check_word_count("pmu", words.size(), arch::kPmuWords);
  c_ = arch::PmuConfig::decode(words);
  writes_ = reads_ = 0;
  wtile_ = rtile_ = 0;
  wacc_ = racc_ = 0;
  tok_in_ = tok_out_ = 0;
  sin_.clear();
  sout_.clear();
  resize_ports(1, 1);
  // The storage keeps its contents (an SRAM is not cleared by configuration).
}

void Pmu::write_access(const Vec& v) {
  const uint32_t lanes = cfg_.lanes, depth = cfg_.pmu_depth();
  if (v.size() != lanes)
    throw std::invalid_argument(fmt::format("pmu: input vector of {} words, expected {}", v.size(), lanes));
  const uint32_t off = (wtile_ % c_.buffers()) * c_.buf_rows;
  const uint32_t row = (side_addr(c_.wr, wacc_) + off) % depth;
  uint32_t* r = mem_.data() + size_t(row) * lanes;
  if (c_.mode == 2) {
    for (uint32_t l = 0; l < lanes; ++l) r[(l + row) % lanes] = v[l];  // skew: lane l in bank (l + row)
  } else {
    std::copy(v.begin(), v.end(), r);
  }
}

Vec Pmu::read_access() const {
  const uint32_t lanes = cfg_.lanes, depth = cfg_.pmu_depth();
  const uint32_t off = (rtile_ % c_.buffers()) * c_.buf_rows;
  const uint32_t a = side_addr(c_.rd, racc_);
  Vec v(lanes);
  if (c_.mode == 1 || c_.mode == 2) {
    // Word address: buffer offset in words.
    const uint32_t w = (a + off * lanes) % (depth * lanes);
    const uint32_t r0 = w / lanes, col = w % lanes;
    if (c_.mode == 1) {
      std::fill(v.begin(), v.end(), mem_[size_t(r0) * lanes + col]);
    } else {
      // Column col of rows r0 .. r0+lanes-1 (written skewed): lane j from bank (col + r0 + j).
      for (uint32_t j = 0; j < lanes; ++j)
        v[j] = mem_[size_t((r0 + j) % depth) * lanes + (col + r0 + j) % lanes];
    }
  } else {
    const uint32_t row = (a + off) % depth;
    std::copy_n(mem_.begin() + size_t(row) * lanes, lanes, v.begin());
  }
  return v;
}

bool Pmu::step(Memory*) {
  if (!c_.enable) return false;
  const uint32_t tiles = c_.num_tiles(), nbuf = c_.buffers();
  const uint64_t wn = c_.wr.accesses(), rn = c_.rd.accesses();
  bool moved = false;
  for (bool progress = true; progress;) {
    progress = false;
    // Write side: tile wtile_ may start once the reads of tile wtile_-nbuf are complete.
    while (wn != 0 && wtile_ < tiles && !in_[0].empty()) {
      const uint64_t rdone = rn == 0 ? tiles : rtile_;
      if (uint64_t(wtile_) >= rdone + nbuf) break;
      write_access(in_[0].front());
      in_[0].pop_front();
      ++writes_;
      if (++wacc_ == wn) {
        wacc_ = 0;
        ++wtile_;
        if (c_.tout && !c_.tsel) ++tok_out_;  // the tile's last write
      }
      progress = true;
    }
    // Read side: tile rtile_ after all writes of that tile.
    while (rn != 0 && rtile_ < tiles && out_[0].size() < step_limit_) {
      const uint64_t wdone = wn == 0 ? tiles : wtile_;
      if (wdone <= rtile_) break;
      // With tin, tile t's reads need credit t + 1: tok_init plus the tokens received.
      if (c_.tin && uint64_t(c_.tok_init) + tok_in_ <= rtile_) break;
      out_[0].push_back(read_access());
      ++reads_;
      if (++racc_ == rn) {
        racc_ = 0;
        ++rtile_;
        if (c_.tout && c_.tsel) ++tok_out_;  // the tile's last read
      }
      progress = true;
    }
    moved = moved || progress;
  }
  return moved;
}

bool Pmu::done() const {
  const uint32_t tiles = c_.num_tiles();
  return !c_.enable || ((c_.wr.accesses() == 0 || wtile_ == tiles) && (c_.rd.accesses() == 0 || rtile_ == tiles));
}

uint64_t Pmu::busy_cycles() const { return pmu_busy_cycles(c_, writes_, reads_); }

}  // namespace openrdu::model
