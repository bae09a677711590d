// rdu_pmu (tiny) testbench. Constrained-random: modes (strided, duplicated,
// transposed), nbuf 1..4, tiles 1..6, buf_rows, 3-level write/read patterns (negative
// strides, counts 0 and 1), random input gaps and output backpressure; the read stream
// must equal model::Pmu's bit for bit. Directed: double-buffering overlap (cycle bound
// from the spec), transposed tiles against a host transpose, v1 configurations against
// a host implementation of the v1 rules. Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "Vrdu_pmu_tiny.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/model/units.h"
#include "../common/unit_bus.h"
#include "../common/tb_util.h"
#include "../common/coverage.h"

namespace {

using openrdu::tb::hex;
using openrdu::tb::seed_from_env;

using openrdu::model::Vec;
namespace arch = openrdu::arch;

std::string side_str(const arch::PmuSide& s) {
  std::ostringstream o;
  o << "base " << s.base << " c0 " << s.c0 << " s0 " << s.s0 << " c1 " << s.c1 << " s1 " << s.s1 << " c2 " << s.c2
    << " s2 " << s.s2;
  return o.str();
}

std::string cfg_str(const arch::PmuConfig& c) {
  std::ostringstream o;
  o << "enable " << c.enable << " mode " << int(c.mode) << " nbuf " << int(c.nbuf) << " tiles " << c.tiles
    << " buf_rows " << c.buf_rows << " tin " << c.tin << " tout " << c.tout << " tsel " << c.tsel << " tok_init "
    << int(c.tok_init) << "; wr " << side_str(c.wr) << "; rd " << side_str(c.rd);
  return o.str();
}

// Addresses of one tile of a side (without buffer offset), in access order.
std::vector<uint32_t> tile_addrs(const arch::PmuSide& s) {
  std::vector<uint32_t> a;
  for (uint32_t i2 = 0; i2 < s.c2; ++i2)
    for (uint32_t i1 = 0; i1 < s.c1; ++i1)
      for (uint32_t i0 = 0; i0 < s.c0; ++i0)
        a.push_back(s.base + i0 * uint32_t(s.s0) + i1 * uint32_t(s.s1) + i2 * uint32_t(s.s2));
  return a;
}

class PmuTb {
 public:
  explicit PmuTb(const arch::Config& cfg) : cfg_(cfg), model_(cfg_) { bus_.reset(); }
  ~PmuTb() { openrdu::tb::coverage_collect(top_.contextp()); }
  void tick() { bus_.tick(); }
  void configure(const arch::PmuConfig& c, std::mt19937_64& rng) { configure(c.encode(), rng); }
  void configure(const std::vector<uint32_t>& words, std::mt19937_64& rng) {
    bus_.configure(0, words, rng);  // with writes to other units, which must be ignored
    model_.configure(words);
    pc_ = arch::PmuConfig::decode(words);
  }

  // Runs the configured program: `in` is offered on vin with probability pv per cycle,
  // vout is ready with probability pr. Returns the cycles until done_o. The RTL's
  // outputs are left in out_, the cycles of the first accepted input and of the last
  // output in first_in_, last_out_ (relative to the start).
  // Control: `tokens` tokens are offered on cin (probability pt per cycle), cout is
  // ready with probability pc; the tokens sent are left in tokens_out_. Checked every
  // cycle: reads never run ahead of their credits (tin), tokens never ahead of the
  // tiles whose writes (tsel 0) or reads (tsel 1) are complete.
  uint64_t run(const std::vector<Vec>& in, double pv, double pr, std::mt19937_64& rng, const std::string& what,
               uint64_t tokens = 0, double pt = 0.5, double pc = 1.0) {
    const uint32_t lanes = cfg_.lanes;
    for (const Vec& v : in) model_.push(0, v);
    model_.push_tokens(tokens);
    model_.step(nullptr);
    std::deque<Vec> expect = model_.output(0);
    model_.output(0).clear();
    const size_t nexp = expect.size();
    const uint64_t per_tile = pc_.rd.accesses();
    const uint64_t wper_tile = pc_.wr.accesses();
    out_.clear();
    first_in_ = last_out_ = 0;
    tokens_out_ = 0;
    uint64_t tok_sent = 0;

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
      const bool tv = tok_sent < tokens && u(rng) < pt;
      top_.cin_valid_i = tv;
      top_.sout_ready_i = 1;
      top_.cout_ready_i = u(rng) < pc;
      top_.eval();
      if (!top_.sin_ready_o || top_.sout_valid_o) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": the unused scalar ports misbehave";
        return cycles;
      }
      if (!pc_.tin && !top_.cin_ready_o) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": control input not ready without tin";
        return cycles;
      }
      if (pc_.tin && per_tile != 0 && got > (pc_.tok_init + tok_sent) * per_tile) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": " << got << " reads with " << int(pc_.tok_init)
                      << " + " << tok_sent << " credits of " << per_tile << " reads";
        return cycles;
      }
      if (pc_.tout) {
        // Tiles complete: writes accepted / per tile (an entry may wait in the input
        // FIFO: a bound), reads issued <= reads out + 3 (pipeline and output FIFO).
        const uint64_t bound = pc_.tsel ? (per_tile ? (got + 3) / per_tile : 0) : (wper_tile ? sent / wper_tile : 0);
        if (tokens_out_ > bound) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": " << tokens_out_ << " tokens sent, only " << bound
                        << " tiles can be complete";
          return cycles;
        }
      } else if (top_.cout_valid_o) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": a token without tout";
        return cycles;
      }
      if (top_.done_o) {
        if (got != nexp) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o with " << got << " of " << nexp
                        << " vectors read";
          return cycles;
        }
        if (tokens_out_ != model_.tokens_out()) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o after " << tokens_out_
                        << " tokens, the model sends " << model_.tokens_out();
          return cycles;
        }
        if (!model_.done()) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o but the model is not done (" << sent
                        << " vectors written)";
          return cycles;
        }
        break;
      }
      if (valid && top_.vin_ready_o) {
        if (sent == 0) first_in_ = cycles;
        ++sent;
      }
      if (tv && top_.cin_ready_o) ++tok_sent;
      if (top_.cout_valid_o && top_.cout_ready_i) ++tokens_out_;
      if (top_.vout_valid_o && top_.vout_ready_i) {
        Vec v(lanes);
        for (uint32_t l = 0; l < lanes; ++l) v[l] = top_.vout_data_o[l];
        if (got >= nexp) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": extra vector " << hex(v) << " after " << nexp;
          return cycles;
        }
        for (uint32_t l = 0; l < lanes; ++l) {
          if (v[l] != expect[got][l]) {
            ADD_FAILURE() << what << " cycle " << cycle_ << ": read " << got << " (tile " << got / per_tile
                          << " access " << got % per_tile << ") lane " << l << ": rtl 0x" << std::hex << v[l]
                          << ", model 0x" << expect[got][l] << std::dec << " (rtl " << hex(v) << ", model "
                          << hex(expect[got]) << ")";
            return cycles;
          }
        }
        out_.push_back(v);
        last_out_ = cycles;
        ++got;
        ++compared_;
      }
      tick();
      if (++cycles > 200000) {
        ADD_FAILURE() << what << ": not done after 200000 cycles (" << sent << "/" << in.size() << " written, "
                      << got << "/" << nexp << " read, " << tok_sent << "/" << tokens << " tokens in, "
                      << tokens_out_ << " out)";
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
  arch::PmuConfig pc_;
  std::vector<Vec> out_;
  uint64_t first_in_ = 0, last_out_ = 0;
  uint64_t compared_ = 0;  // vectors compared with the model
  uint64_t tokens_out_ = 0;
};

Vec random_vec(std::mt19937_64& rng, uint32_t lanes) {
  Vec v(lanes);
  for (auto& w : v) w = uint32_t(rng());
  return v;
}

// Fills every row (so that no read sees uninitialised storage), reads nothing. Returns
// the host image of the storage: img[row][bank].
std::vector<Vec> fill_all(PmuTb& tb, std::mt19937_64& rng) {
  const uint32_t depth = tb.cfg_.pmu_depth();
  arch::PmuConfig c;
  c.enable = true;
  c.wr = {0, depth, 1, 1, 0};
  tb.configure(c, rng);
  std::vector<Vec> in;
  for (uint32_t r = 0; r < depth; ++r) in.push_back(random_vec(rng, tb.cfg_.lanes));
  tb.run(in, 1.0, 1.0, rng, "fill");
  return in;
}

int32_t random_stride(std::mt19937_64& rng, uint32_t depth) {
  switch (rng() % 6) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -int32_t(rng() % 8) - 1;
    case 3: return int32_t(rng() % 20);
    case 4: return int32_t(uint32_t(rng()));  // any 32-bit value: wraps
    default: return int32_t(rng() % (2 * depth)) - int32_t(depth);
  }
}

uint32_t random_count(std::mt19937_64& rng, uint32_t max) {
  const uint32_t k = rng() % 12;
  return k == 0 ? 0 : k <= 3 ? 1 : 1 + uint32_t(rng() % max);
}

// A side whose addresses (of one tile) all lie in [0, limit) when possible: small
// strides of both signs, the base chosen so that the lowest address is >= 0.
arch::PmuSide confined_side(std::mt19937_64& rng, uint64_t limit) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    arch::PmuSide s;
    s.c0 = 1 + rng() % 6;
    s.c1 = 1 + rng() % 4;
    s.c2 = 1 + rng() % 3;
    auto st = [&] { return int32_t(rng() % 13) - 6; };
    s.s0 = st();
    s.s1 = st();
    s.s2 = st();
    int64_t lo = 0, hi = 0;
    for (auto [c, sd] : {std::pair{s.c0, s.s0}, {s.c1, s.s1}, {s.c2, s.s2}}) {
      const int64_t span = int64_t(c - 1) * sd;
      (span < 0 ? lo : hi) += span;
    }
    if (hi - lo >= int64_t(limit)) continue;
    s.base = uint32_t(-lo + int64_t(rng() % uint64_t(int64_t(limit) - (hi - lo))));
    return s;
  }
  return arch::PmuSide{0, 1, 1, 0, 0};
}

arch::PmuSide wild_side(std::mt19937_64& rng, uint32_t depth) {
  arch::PmuSide s;
  s.base = (rng() % 4 == 0) ? uint32_t(rng()) : uint32_t(rng() % (depth * 4));
  s.c0 = random_count(rng, 8);
  s.c1 = random_count(rng, 4);
  s.c2 = random_count(rng, 3);
  s.s0 = random_stride(rng, depth);
  s.s1 = random_stride(rng, depth);
  s.s2 = random_stride(rng, depth);
  return s;
}

// Physical rows read by one read access at address a (with the buffer offset).
void read_rows(const arch::PmuConfig& c, uint32_t lanes, uint32_t depth, uint32_t a, std::set<uint32_t>& rows) {
  if (c.mode == 1 || c.mode == 2) {
    const uint32_t r0 = (a % (depth * lanes)) / lanes;
    for (uint32_t j = 0; j < (c.mode == 2 ? lanes : 1u); ++j) rows.insert((r0 + j) % depth);
  } else {
    rows.insert(a % depth);
  }
}

// True when the result does not depend on timing (docs 4.2): no write of tiles
// t+1 .. t+nbuf-1 touches a row read by tile t.
bool race_free(const arch::PmuConfig& c, uint32_t lanes, uint32_t depth) {
  const uint32_t nbuf = c.buffers(), tiles = c.num_tiles();
  if (nbuf == 1 || c.wr.accesses() == 0 || c.rd.accesses() == 0) return true;
  const auto wa = tile_addrs(c.wr), ra = tile_addrs(c.rd);
  const bool words = c.mode == 1 || c.mode == 2;
  for (uint32_t t = 0; t < tiles; ++t) {
    std::set<uint32_t> rows;
    const uint32_t off = (t % nbuf) * c.buf_rows;
    for (uint32_t a : ra) read_rows(c, lanes, depth, a + (words ? off * lanes : off), rows);
    for (uint32_t u = t + 1; u < std::min(tiles, t + nbuf); ++u) {
      const uint32_t uoff = (u % nbuf) * c.buf_rows;
      for (uint32_t a : wa)
        if (rows.count((a + uoff) % depth)) return false;
    }
  }
  return true;
}

TEST(Pmu, RandomPatternsAgainstModel) {
  const uint64_t seed = seed_from_env();
  std::cout << "OPENRDU_SEED=" << seed << "\n";
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(seed);
  fill_all(tb, rng);
  const uint32_t depth = tb.cfg_.pmu_depth(), lanes = tb.cfg_.lanes;
  std::uniform_real_distribution<double> u(0, 1);
  int cases = 0, buffered = 0, demoted = 0, controlled = 0;
  uint64_t tokens_out = 0;
  int per_mode[4] = {};
  for (int idx = 0; idx < 4000 && !testing::Test::HasFailure(); ++idx) {
    arch::PmuConfig c;
    c.enable = rng() % 20 != 0;
    const uint32_t m = rng() % 16;
    c.mode = m < 5 ? 0 : m < 10 ? 1 : m < 15 ? 2 : 3;
    c.nbuf = rng() % 12 == 0 ? 0 : uint8_t(1 + rng() % 4);
    c.tiles = rng() % 12 == 0 ? 0 : uint32_t(1 + rng() % 6);
    const uint32_t nb = c.buffers();
    c.buf_rows = rng() % 8 == 0 ? uint32_t(rng() % depth) : uint32_t(lanes + rng() % (depth / nb - lanes + 1));
    if (rng() % 4 == 0) {
      c.wr = wild_side(rng, depth);
      c.rd = wild_side(rng, depth);
    } else {
      const uint32_t br = std::max(c.buf_rows, 1u);
      c.wr = confined_side(rng, br);
      const uint64_t rlimit = c.mode == 1 ? uint64_t(br) * lanes
                              : c.mode == 2 ? (br >= lanes ? uint64_t(br - lanes + 1) * lanes : 1)
                                            : br;
      c.rd = confined_side(rng, rlimit);
      if (rng() % 10 == 0) c.wr.c0 = 0;
      if (rng() % 10 == 0) c.rd.c2 = 0;
    }
    if (!race_free(c, lanes, depth)) {
      c.nbuf = 1;  // a race makes the result timing dependent (unspecified): one buffer instead
      ++demoted;
    }
    if (c.buffers() > 1 && c.num_tiles() > 1) ++buffered;
    ++per_mode[c.mode];
    // Control: read credits (enough for every tile, sometimes from tok_init alone) and
    // tokens out per tile.
    uint64_t tokens = 0;
    if (rng() % 3 == 0) {
      c.tin = true;
      c.tok_init = uint8_t(rng() % 4 == 0 ? rng() % 16 : rng() % 3);
      tokens = (c.num_tiles() > c.tok_init ? c.num_tiles() - c.tok_init : 0) + rng() % 3;
    }
    if (rng() % 3 == 0) {
      c.tout = true;
      c.tsel = rng() & 1;
    }
    if (c.enable && (c.tin || c.tout)) ++controlled;
    tb.configure(c, rng);
    std::vector<Vec> in;
    if (c.enable)
      for (uint64_t k = 0; k < c.wr.accesses() * c.num_tiles(); ++k) in.push_back(random_vec(rng, lanes));
    const double pv = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    const double pr = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    const double pt = u(rng) < 0.3 ? 1.0 : 0.02 + 0.98 * u(rng);
    const double pc = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    std::ostringstream what;
    what << "seed " << seed << " case " << idx << " (" << cfg_str(c) << ")";
    tb.run(in, pv, pr, rng, what.str(), tokens, pt, pc);
    tokens_out += tb.tokens_out_;
    ++cases;
  }
  std::cout << cases << " cases (" << buffered << " N-buffered with several tiles, " << demoted
            << " demoted to one buffer; " << controlled << " with tokens, " << tokens_out << " tokens out; modes "
            << per_mode[0] << "/" << per_mode[1] << "/" << per_mode[2] << "/" << per_mode[3] << "), "
            << tb.compared_ << " vectors compared in " << tb.cycle_ << " cycles\n";
  EXPECT_GE(cases, 4000);
  EXPECT_GT(buffered, 1000);
  EXPECT_GT(controlled, 1000);
  EXPECT_GT(tb.compared_, 80000u);
}

// (1) Double buffering: nbuf = 2, 8 tiles of W writes and R reads. The writes of tile
// t+1 overlap the reads of tile t, so first write to last read takes about
// tiles*max(W,R) + min(W,R) cycles, well below the sequential tiles*(W+R); with one
// buffer it takes at least the sequential sum.
TEST(Pmu, DoubleBufferingOverlaps) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(11);
  const uint32_t W = 16, R = 16, tiles = 8;
  for (uint8_t mode : {0, 1, 2}) {
    uint64_t span[5] = {};
    for (uint8_t nbuf : {1, 2, 3, 4}) {
      arch::PmuConfig c;
      c.enable = true;
      c.mode = mode;
      c.nbuf = nbuf;
      c.tiles = tiles;
      c.buf_rows = 32;
      c.wr = {3, 4, 4, 1, 4};  // rows 3..18 of the buffer
      c.rd = mode == 0 ? arch::PmuSide{18, R, 1, -1, 0}              // rows reversed
                       : arch::PmuSide{3 * 4, 4, 4, 1, 4 * 4};       // columns of 4x4 blocks / words
      tb.configure(c, rng);
      std::vector<Vec> in;
      for (uint32_t k = 0; k < W * tiles; ++k) in.push_back(random_vec(rng, tb.cfg_.lanes));
      tb.run(in, 1.0, 1.0, rng, "overlap mode " + std::to_string(mode) + " nbuf " + std::to_string(nbuf));
      ASSERT_EQ(tb.out_.size(), size_t(R * tiles));
      span[nbuf] = tb.last_out_ - tb.first_in_ + 1;
    }
    std::cout << "mode " << int(mode) << ": first write to last read, " << tiles << " tiles of " << W << " writes + "
              << R << " reads: nbuf 1: " << span[1] << " cycles, nbuf 2: " << span[2] << ", nbuf 3: " << span[3]
              << ", nbuf 4: " << span[4] << " (sequential sum " << tiles * (W + R) << ")\n";
    EXPECT_GE(span[1], uint64_t(tiles * (W + R))) << "one buffer is sequential";
    EXPECT_LT(double(span[2]), 0.7 * tiles * (W + R)) << "mode " << int(mode);
    EXPECT_LE(span[2], uint64_t(tiles * std::max(W, R) + std::min(W, R) + 8)) << "mode " << int(mode);
  }
}

// (2) Transposed mode: a 2L x L block written by rows (at a base row that is not a
// multiple of L, in N buffers), read by columns, equals the host transpose.
TEST(Pmu, TransposedColumnsMatchHostTranspose) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(seed_from_env() + 7);
  const uint32_t L = tb.cfg_.lanes;
  for (uint32_t base : {0u, 1u, 5u, 250u}) {  // 250: rows wrap around PMU_DEPTH (256)
    arch::PmuConfig c;
    c.enable = true;
    c.mode = 2;
    c.nbuf = 2;
    c.tiles = 3;
    c.buf_rows = 3 * L;
    c.wr = {base, 2 * L, 1, 1, 0};
    // for c < L: for k < 2: word address (base + k*L)*L + c  ->  rows kL..kL+L-1 of column c
    c.rd = {base * L, 2, L, int32_t(L * L), 1};
    tb.configure(c, rng);
    std::vector<Vec> in;
    for (uint32_t k = 0; k < 2 * L * c.tiles; ++k) in.push_back(random_vec(rng, L));
    tb.run(in, 0.7, 0.7, rng, "transposed base " + std::to_string(base));
    ASSERT_EQ(tb.out_.size(), size_t(2 * L * c.tiles));
    for (uint32_t t = 0; t < c.tiles; ++t)
      for (uint32_t col = 0; col < L; ++col)
        for (uint32_t k = 0; k < 2; ++k)
          for (uint32_t j = 0; j < L; ++j) {
            const uint32_t expect = in[t * 2 * L + k * L + j][col];  // M_t[kL+j][col]
            const uint32_t got = tb.out_[t * 2 * L + col * 2 + k][j];
            ASSERT_EQ(got, expect) << "base " << base << " tile " << t << " column " << col << " block " << k
                                   << " lane " << j;
          }
  }
}

// (3) A v1 configuration (nbuf 1, one tile, c2 = 1) against a host implementation of
// the v1 rules (`docs/bitstream.md` ("PMU configuration") of format 1).
TEST(Pmu, V1ConfigurationsGiveV1Results) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(seed_from_env() + 13);
  std::vector<Vec> img = fill_all(tb, rng);
  const uint32_t depth = tb.cfg_.pmu_depth(), L = tb.cfg_.lanes;
  for (int idx = 0; idx < 60 && !testing::Test::HasFailure(); ++idx) {
    arch::PmuConfig c;
    c.enable = true;
    c.mode = uint8_t(rng() % 2);
    auto side = [&] {
      return arch::PmuSide{uint32_t(rng()), uint32_t(rng() % 9), uint32_t(rng() % 4),
                           random_stride(rng, depth), random_stride(rng, depth)};
    };
    c.wr = side();
    c.rd = side();
    tb.configure(c, rng);
    std::vector<Vec> in;
    for (uint64_t k = 0; k < uint64_t(c.wr.c0) * c.wr.c1; ++k) in.push_back(random_vec(rng, L));
    tb.run(in, 0.8, 0.8, rng, "v1 case " + std::to_string(idx));
    // Host v1: writes, then reads.
    size_t k = 0;
    for (uint32_t i1 = 0; i1 < c.wr.c1; ++i1)
      for (uint32_t i0 = 0; i0 < c.wr.c0; ++i0)
        img[(c.wr.base + i0 * uint32_t(c.wr.s0) + i1 * uint32_t(c.wr.s1)) % depth] = in[k++];
    std::vector<Vec> expect;
    for (uint32_t i1 = 0; i1 < c.rd.c1; ++i1)
      for (uint32_t i0 = 0; i0 < c.rd.c0; ++i0) {
        const uint32_t a = c.rd.base + i0 * uint32_t(c.rd.s0) + i1 * uint32_t(c.rd.s1);
        if (c.mode == 0) {
          expect.push_back(img[a % depth]);
        } else {
          const uint32_t w = a % (depth * L);
          expect.push_back(Vec(L, img[w / L][w % L]));
        }
      }
    ASSERT_EQ(tb.out_.size(), expect.size()) << "v1 case " << idx;
    for (size_t r = 0; r < expect.size(); ++r)
      for (uint32_t l = 0; l < L; ++l)
        ASSERT_EQ(tb.out_[r][l], expect[r][l]) << "v1 case " << idx << " (" << cfg_str(c) << ") read " << r
                                               << " lane " << l;
  }
}

// Full throughput: 64 writes then 64 reads, input always valid, output always ready.
TEST(Pmu, Throughput) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(3);
  for (uint8_t mode : {0, 1, 2}) {
    arch::PmuConfig c;
    c.enable = true;
    c.mode = mode;
    c.wr = {10, 8, 8, 1, 8};
    c.rd = {10, 64, 1, 1, 0};
    tb.configure(c, rng);
    std::vector<Vec> in;
    for (int k = 0; k < 64; ++k) in.push_back(random_vec(rng, tb.cfg_.lanes));
    const uint64_t cycles = tb.run(in, 1.0, 1.0, rng, "throughput mode " + std::to_string(mode));
    EXPECT_LE(cycles, 64u + 64u + 6u) << "mode " << int(mode);
  }
}

// Control network: with tin, tile t's reads wait for credit t + 1 (tok_init, then one per
// token); with tout a token follows each tile's last write (tsel 0) or last read (tsel
// 1). Driven step by step: 3 tiles of 4 writes and 4 reads, tok_init 1.
TEST(Pmu, TokensGateReadsAndMarkTiles) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(17);
  const uint32_t L = tb.cfg_.lanes;
  for (bool tsel : {false, true}) {
    arch::PmuConfig c;
    c.enable = true;
    c.nbuf = 2;
    c.tiles = 3;
    c.buf_rows = 8;
    c.wr = {0, 4, 1, 1, 0};
    c.rd = {3, 4, 1, -1, 0};
    c.tin = true;
    c.tok_init = 1;
    c.tout = true;
    c.tsel = tsel;
    tb.configure(c, rng);
    std::vector<Vec> in;
    for (int k = 0; k < 12; ++k) in.push_back(random_vec(rng, L));
    size_t sent = 0, got = 0, toks = 0;
    auto cycles = [&](int n, bool token) {
      for (int t = 0; t < n; ++t) {
        tb.top_.run_i = 1;
        tb.top_.vin_valid_i = sent < in.size();
        for (uint32_t l = 0; l < L; ++l) tb.top_.vin_data_i[l] = sent < in.size() ? in[sent][l] : 0;
        tb.top_.vout_ready_i = 1;
        tb.top_.cout_ready_i = 1;
        tb.top_.sin_valid_i = 0;
        tb.top_.cin_valid_i = token;
        tb.top_.eval();
        if (tb.top_.vin_valid_i && tb.top_.vin_ready_o) ++sent;
        if (tb.top_.vout_valid_o) {
          // Tile t's reads: rows 3, 2, 1, 0 of buffer t mod 2 = inputs 4t+3 .. 4t.
          const size_t t = got / 4, k = got % 4;
          for (uint32_t l = 0; l < L; ++l) ASSERT_EQ(tb.top_.vout_data_o[l], in[4 * t + 3 - k][l]) << got;
          ++got;
        }
        if (tb.top_.cout_valid_o) ++toks;
        if (token && tb.top_.cin_ready_o) token = false;
        tb.tick();
      }
      tb.top_.cin_valid_i = 0;
    };
    const std::string what = tsel ? "tsel 1" : "tsel 0";
    cycles(60, false);  // no token: tile 0 only (tok_init 1); tile 1's writes overlap it
    EXPECT_EQ(got, 4u) << what;
    EXPECT_EQ(sent, 12u) << what << ": two buffers: tile 2 waits for tile 0's reads only";
    EXPECT_EQ(toks, tsel ? 1u : 3u) << what << ": tokens after the reads of tile 0 / the writes of 3 tiles";
    EXPECT_FALSE(tb.top_.done_o);
    cycles(30, true);
    EXPECT_EQ(got, 8u) << what << ": one token, one more tile";
    EXPECT_EQ(toks, tsel ? 2u : 3u) << what;
    EXPECT_FALSE(tb.top_.done_o);
    cycles(30, true);
    EXPECT_EQ(got, 12u) << what;
    EXPECT_EQ(toks, 3u) << what;
    tb.top_.eval();
    EXPECT_TRUE(tb.top_.done_o) << what;
    // Every tile read: surplus tokens (beyond 255 credits) are accepted and dropped.
    for (int k = 0; k < 300; ++k) {
      tb.top_.cin_valid_i = 1;
      tb.top_.eval();
      ASSERT_TRUE(tb.top_.cin_ready_o) << what << ": surplus token " << k;
      tb.tick();
    }
    tb.top_.cin_valid_i = 0;
    tb.top_.eval();
    EXPECT_TRUE(tb.top_.done_o) << what;
  }
}

// A disabled PMU is done at once; done_o stays low until every read has left.
TEST(Pmu, DoneSemantics) {
  PmuTb tb(arch::load_config("tiny"));
  std::mt19937_64 rng(5);
  tb.configure(std::vector<uint32_t>{}, rng);
  tb.top_.run_i = 1;
  tb.top_.eval();
  EXPECT_TRUE(tb.top_.done_o) << "a disabled PMU is done";
  arch::PmuConfig c;
  c.enable = true;
  c.wr = {0, 1, 1, 0, 0};
  c.rd = {0, 3, 1, 0, 0};
  tb.configure(c, rng);
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

OPENRDU_TB_COVERAGE("tb_pmu");
