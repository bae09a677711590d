// rdu_agcu (tiny) testbench. The harness is the memory: requests are accepted with
// random stalls and answered in order after a random latency. Random stream
// configurations (inner not a multiple of LANES, broadcast, c1/c2 with strides incl. 0
// and negative), random vout backpressure, random store data. Load streams must equal
// model::Agcu's (reading the same memory) bit for bit, and the memory after the stores
// must equal the model's. Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <random>
#include <sstream>
#include <vector>

#include "Vrdu_agcu_tiny.h"
#include "openrdu/arch/bitstream.h"
#include "openrdu/model/units.h"
#include "../common/unit_bus.h"

namespace {

using openrdu::model::Vec;
namespace arch = openrdu::arch;
namespace model = openrdu::model;

constexpr uint32_t kMemWords = 1u << 16;       // 256 KiB at byte address 0
constexpr uint32_t kStoreBase = kMemWords / 2;  // stores in the upper half, loads in the lower

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

// Word-array memory for the functional model.
class ArrayMemory : public model::Memory {
 public:
  explicit ArrayMemory(std::vector<uint32_t> w) : w_(std::move(w)) {}
  void read_words(uint32_t a, uint32_t* words, uint32_t n) override {
    check(a, n);
    std::copy_n(w_.begin() + a / 4, n, words);
  }
  void write_words(uint32_t a, const uint32_t* words, uint32_t n, uint64_t mask) override {
    check(a, n);
    for (uint32_t i = 0; i < n; ++i)
      if ((mask >> i) & 1) w_[a / 4 + i] = words[i];
  }
  std::vector<uint32_t> w_;

 private:
  void check(uint32_t a, uint32_t n) const {
    if (a % 4 || uint64_t(a) / 4 + n > w_.size()) throw model::MemoryError(a, "test memory: access out of range");
  }
};

struct Timing {
  uint32_t lat_min = 1, lat_max = 1;  // request accepted to response, cycles
  double p_req_ready = 1.0;
  double p_vin = 1.0;
  double p_vout[2] = {1.0, 1.0};
};

struct Result {
  uint64_t cycles = 0;
  uint32_t max_inflight[2] = {0, 0};
  bool err = false;
};

class AgcuTb {
 public:
  explicit AgcuTb(const arch::Config& cfg) : cfg_(cfg), mem_(kMemWords) { bus_.reset(); }
  void tick() { bus_.tick(); }
  void configure(const std::vector<uint32_t>& words, std::mt19937_64& rng) { bus_.configure(0, words, rng); }

  struct Pending {
    uint64_t due;
    uint32_t sid;
    Vec data;
    bool err;
  };

  // Runs the configured program against the harness memory; expect[k] is load stream
  // k's expected output, store the store stream's input.
  Result run(const std::deque<Vec> expect[2], const std::vector<Vec>& store, const Timing& t, std::mt19937_64& rng,
             const std::string& what) {
    const uint32_t lanes = cfg_.lanes;
    Result res;
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<uint32_t> lat(t.lat_min, t.lat_max);
    std::deque<Pending> q;
    uint64_t last_due = 0;
    uint32_t inflight[3] = {0, 0, 0};
    size_t got[2] = {0, 0}, sent = 0;
    bool prev_stalled = false;
    uint32_t prev_addr = 0, prev_sid = 0, prev_we = 0;
    top_.run_i = 1;
    for (;;) {
      // Drive inputs.
      const bool vin = sent < store.size() && u(rng) < t.p_vin;
      top_.vin_valid_i = vin;
      for (uint32_t l = 0; l < lanes; ++l) top_.vin_data_i[l] = vin ? store[sent][l] : 0;
      top_.vout_ready_i = (u(rng) < t.p_vout[0] ? 1 : 0) | (u(rng) < t.p_vout[1] ? 2 : 0);
      top_.mem_req_ready_i = u(rng) < t.p_req_ready;
      const bool rsp = !q.empty() && q.front().due <= cycle_;
      top_.mem_rsp_valid_i = rsp;
      top_.mem_rsp_sid_i = rsp ? q.front().sid : 0;
      top_.mem_rsp_err_i = rsp && q.front().err;
      for (uint32_t l = 0; l < lanes; ++l) top_.mem_rsp_rdata_i[l] = rsp ? q.front().data[l] : 0xDEADBEEF;
      top_.eval();

      if (top_.done_o) {
        for (int k = 0; k < 2; ++k)
          if (got[k] != expect[k].size()) {
            ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o with " << got[k] << " of "
                          << expect[k].size() << " vectors of ld" << k;
            return res;
          }
        if (sent != store.size() || inflight[2] != 0) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o with " << sent << " of " << store.size()
                        << " store vectors taken, " << inflight[2] << " writes unacknowledged";
          return res;
        }
        if (inflight[0] || inflight[1]) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": done_o with reads in flight";
          return res;
        }
        break;
      }
      // A request not accepted must be held unchanged.
      if (prev_stalled && (!top_.mem_req_valid_o || top_.mem_req_addr_o != prev_addr ||
                           top_.mem_req_sid_o != prev_sid || top_.mem_req_we_o != prev_we)) {
        ADD_FAILURE() << what << " cycle " << cycle_ << ": request changed while not accepted";
        return res;
      }
      prev_stalled = top_.mem_req_valid_o && !top_.mem_req_ready_i;
      prev_addr = top_.mem_req_addr_o;
      prev_sid = top_.mem_req_sid_o;
      prev_we = top_.mem_req_we_o;

      // Response delivered this cycle.
      if (rsp) {
        --inflight[q.front().sid];
        res.err |= q.front().err;
        q.pop_front();
      }
      // Request.
      if (top_.mem_req_valid_o && top_.mem_req_ready_i) {
        const uint32_t sid = top_.mem_req_sid_o, addr = top_.mem_req_addr_o;
        const bool we = top_.mem_req_we_o;
        if (sid > 2 || (sid == 2) != we) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": request sid " << sid << " we " << we;
          return res;
        }
        Pending p{std::max<uint64_t>(cycle_ + lat(rng), last_due + 1), sid, Vec(lanes, 0), false};
        last_due = p.due;
        if (addr % 4 || uint64_t(addr) / 4 + lanes > kMemWords) {
          p.err = true;
        } else if (we) {
          for (uint32_t l = 0; l < lanes; ++l)
            if ((top_.mem_req_wmask_o >> l) & 1) mem_[addr / 4 + l] = top_.mem_req_wdata_o[l];
        } else {
          for (uint32_t l = 0; l < lanes; ++l) p.data[l] = mem_[addr / 4 + l];
        }
        q.push_back(std::move(p));
        ++inflight[sid];
        for (int k = 0; k < 2; ++k) {
          res.max_inflight[k] = std::max(res.max_inflight[k], inflight[k]);
          if (inflight[k] > cfg_.inflight) {
            ADD_FAILURE() << what << " cycle " << cycle_ << ": " << inflight[k] << " reads of ld" << k
                          << " in flight, more than " << cfg_.inflight;
            return res;
          }
        }
      }
      if (vin && top_.vin_ready_o) ++sent;
      for (int k = 0; k < 2; ++k) {
        if (!((top_.vout_valid_o >> k) & 1) || !((top_.vout_ready_i >> k) & 1)) continue;
        Vec v(lanes);
        for (uint32_t l = 0; l < lanes; ++l) v[l] = top_.vout_data_o[k][l];
        if (got[k] >= expect[k].size()) {
          ADD_FAILURE() << what << " cycle " << cycle_ << ": ld" << k << " extra vector " << vec_str(v);
          return res;
        }
        const Vec& e = expect[k][got[k]];
        for (uint32_t l = 0; l < lanes; ++l)
          if (v[l] != e[l]) {
            ADD_FAILURE() << what << " cycle " << cycle_ << ": ld" << k << " vector " << got[k] << " lane " << l
                          << ": rtl 0x" << std::hex << v[l] << ", model 0x" << e[l] << std::dec << " (rtl "
                          << vec_str(v) << ", model " << vec_str(e) << ")";
            return res;
          }
        ++got[k];
        ++compared_;
      }
      tick();
      if (++res.cycles > 200000) {
        ADD_FAILURE() << what << ": not done after 200000 cycles (ld0 " << got[0] << "/" << expect[0].size()
                      << ", ld1 " << got[1] << "/" << expect[1].size() << ", st " << sent << "/" << store.size()
                      << ")";
        return res;
      }
    }
    res.err = res.err || top_.err_o;
    top_.vin_valid_i = 0;
    top_.mem_rsp_valid_i = 0;
    return res;
  }

  arch::Config cfg_;
  std::vector<uint32_t> mem_;
  Vrdu_agcu_tiny top_;
  uint64_t cycle_ = 0;
  openrdu::tb::UnitBus<Vrdu_agcu_tiny> bus_{top_, cycle_};
  uint64_t compared_ = 0;
};

// A stream whose every access (LANES words from each lane-0 address) lies in the
// word range [lo, hi).
arch::AgcuStream random_stream(std::mt19937_64& rng, uint32_t lanes, uint32_t lo, uint32_t hi) {
  arch::AgcuStream s;
  s.enable = rng() % 5 != 0;
  s.bcast = rng() % 5 == 0;
  s.inner = 1 + rng() % 14;
  s.c1 = rng() % 12 == 0 ? 0 : 1 + rng() % 4;
  s.c2 = rng() % 12 == 0 ? 0 : 1 + rng() % 3;
  auto stride = [&](int32_t range) -> int32_t {
    switch (rng() % 4) {
      case 0: return 0;
      case 1: return -int32_t(rng() % range);
      default: return int32_t(rng() % range);
    }
  };
  s.s1 = stride(40);
  s.s2 = stride(200);
  // Element offsets reached, relative to base.
  int64_t mn = 0, mx = 0;
  const int64_t nv = (s.inner + lanes - 1) / lanes;
  for (int64_t i2 = 0; i2 < std::max<int64_t>(s.c2, 1); ++i2)
    for (int64_t i1 = 0; i1 < std::max<int64_t>(s.c1, 1); ++i1) {
      const int64_t off = i1 * s.s1 + i2 * s.s2;
      mn = std::min(mn, off);
      mx = std::max(mx, off + (s.bcast ? 0 : (nv - 1) * lanes) + lanes - 1);
    }
  const int64_t first = int64_t(lo) - mn, last = int64_t(hi) - 1 - mx;  // base range (words)
  const int64_t base = first + int64_t(rng() % uint64_t(last - first + 1));
  s.base = uint32_t(base * 4);
  return s;
}

Vec random_vec(std::mt19937_64& rng, uint32_t lanes) {
  Vec v(lanes);
  for (auto& w : v) w = uint32_t(rng());
  return v;
}

TEST(Agcu, RandomStreamsAgainstModel) {
  const uint64_t seed = seed_from_env();
  std::cout << "OPENRDU_SEED=" << seed << "\n";
  const arch::Config cfg = arch::load_config("tiny");
  AgcuTb tb(cfg);
  std::mt19937_64 rng(seed);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  std::uniform_real_distribution<double> u(0, 1);
  uint32_t max_inflight_high_latency = 0;
  int high_latency_cases = 0;
  for (int idx = 0; idx < 600 && !testing::Test::HasFailure(); ++idx) {
    arch::AgcuConfig c;
    c.ld[0] = random_stream(rng, cfg.lanes, 0, kStoreBase);
    c.ld[1] = random_stream(rng, cfg.lanes, 0, kStoreBase);
    c.st = random_stream(rng, cfg.lanes, kStoreBase, kMemWords);
    const bool high = rng() % 3 == 0;
    Timing t;
    if (high) {
      t.lat_min = 20;
      t.lat_max = 40;
      ++high_latency_cases;
    } else {
      t.lat_min = 1;
      t.lat_max = 1 + rng() % 6;
      t.p_req_ready = u(rng) < 0.3 ? 1.0 : 0.2 + 0.8 * u(rng);
      t.p_vout[0] = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
      t.p_vout[1] = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    }
    t.p_vin = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);

    // Reference: the model on a copy of the memory.
    ArrayMemory ref(tb.mem_);
    model::Agcu m(cfg);
    const auto words = c.encode();
    m.configure(words);
    std::vector<Vec> store;
    if (c.st.enable)
      for (uint64_t k = 0; k < c.st.vectors(cfg.lanes); ++k) store.push_back(random_vec(rng, cfg.lanes));
    for (const Vec& v : store) m.push(0, v);
    m.step(&ref);
    ASSERT_TRUE(m.done());
    std::deque<Vec> expect[2] = {m.output(0), m.output(1)};

    std::ostringstream what;
    what << "seed " << seed << " case " << idx;
    for (int k = 0; k < 3; ++k) {
      const arch::AgcuStream& s = k < 2 ? c.ld[k] : c.st;
      what << (k < 2 ? " ld" : " st") << (k % 2) << "{en " << s.enable << " bcast " << s.bcast << " base 0x"
           << std::hex << s.base << std::dec << " inner " << s.inner << " c1 " << s.c1 << " s1 " << s.s1
           << " c2 " << s.c2 << " s2 " << s.s2 << "}";
    }
    tb.configure(words, rng);
    const Result r = tb.run(expect, store, t, rng, what.str());
    if (testing::Test::HasFailure()) break;
    EXPECT_FALSE(r.err) << what.str() << ": err_o without an error response";
    for (uint32_t a = 0; a < kMemWords; ++a)
      if (tb.mem_[a] != ref.w_[a]) {
        ADD_FAILURE() << what.str() << ": memory word 0x" << std::hex << 4 * a << " after the stores: rtl 0x"
                      << tb.mem_[a] << ", model 0x" << ref.w_[a];
        break;
      }
    if (high) max_inflight_high_latency = std::max({max_inflight_high_latency, r.max_inflight[0], r.max_inflight[1]});
  }
  std::cout << tb.compared_ << " load vectors compared in " << tb.cycle_ << " cycles; " << high_latency_cases
            << " high-latency cases, at most " << max_inflight_high_latency << " reads in flight\n";
  EXPECT_GT(tb.compared_, 3000u);
  EXPECT_GE(max_inflight_high_latency, 3u) << "reads are not pipelined under high latency";
}

// A long load at latency 30 with a ready consumer keeps AGCU_INFLIGHT reads in flight.
TEST(Agcu, PipelinedReads) {
  const arch::Config cfg = arch::load_config("tiny");
  AgcuTb tb(cfg);
  std::mt19937_64 rng(11);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  arch::AgcuConfig c;
  c.ld[0] = {true, false, 0x100, 64 * cfg.lanes, 1, 1, 0, 0};
  ArrayMemory ref(tb.mem_);
  model::Agcu m(cfg);
  m.configure(c.encode());
  m.step(&ref);
  std::deque<Vec> expect[2] = {m.output(0), {}};
  tb.configure(c.encode(), rng);
  Timing t;
  t.lat_min = t.lat_max = 30;
  const Result r = tb.run(expect, {}, t, rng, "pipelined");
  EXPECT_EQ(r.max_inflight[0], cfg.inflight);
  // 64 reads, AGCU_INFLIGHT per 30-cycle round trip.
  EXPECT_LE(r.cycles, 64u * 31u / cfg.inflight + 40u);
}

// An error response raises err_o.
TEST(Agcu, ErrorResponse) {
  const arch::Config cfg = arch::load_config("tiny");
  AgcuTb tb(cfg);
  std::mt19937_64 rng(13);
  arch::AgcuConfig c;
  c.ld[1] = {true, false, 4 * kMemWords - 4, 1, 1, 1, 0, 0};  // runs past the end of memory
  tb.configure(c.encode(), rng);
  std::deque<Vec> expect[2] = {{}, {Vec(cfg.lanes, 0)}};
  const Result r = tb.run(expect, {}, Timing{}, rng, "error");
  EXPECT_TRUE(r.err);
  EXPECT_TRUE(tb.top_.err_o);
}

}  // namespace
