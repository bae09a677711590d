// rdu_agcu (tiny) testbench. The harness is the memory: requests are accepted with
// random stalls and answered in order after a random latency. Random 4-D streams
// (counts incl. 0 and 1, negative strides, lane stride 0 / 1 / random incl. negative,
// random vdim/vlen/vstep incl. tails and vlen below one vector), random vout
// backpressure and vin gaps, random store data. Checks: load vectors equal
// model::Agcu's bit for bit; memory after the stores equals the model's; every
// stream's requests (addresses, order, count) are those the spec's walk gives;
// at most AGCU_INFLIGHT reads in flight per load stream; a stalled request is held.
// Directed: a 5x7 transpose (gather load, contiguous store) against host arithmetic,
// a scatter store, the request count of a gather stream, pipelining, throughput of a
// contiguous copy, an error response. Seed: OPENRDU_SEED (default 1).
#include <fmt/format.h>
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
#include "../common/tb_util.h"
#include "../common/coverage.h"

namespace {

using openrdu::tb::hex;
using openrdu::tb::seed_from_env;

using openrdu::model::Vec;
namespace arch = openrdu::arch;
namespace model = openrdu::model;

constexpr uint32_t kMemWords = 1u << 16;       // 256 KiB at byte address 0
constexpr uint32_t kStoreBase = kMemWords / 2;  // stores in the upper half, loads in the lower

std::string stream_str(const arch::AgcuStream& s) {
  std::ostringstream o;
  o << "{en " << s.enable << " base 0x" << std::hex << s.base << std::dec << " lstride " << s.lstride << " vdim "
    << int(s.vdim) << " vlen " << s.vlen << " vstep " << s.vstep << " c [" << s.c[0] << " " << s.c[1] << " " << s.c[2]
    << " " << s.c[3] << "] s [" << s.s[0] << " " << s.s[1] << " " << s.s[2] << " " << s.s[3] << "] tin " << s.tin
    << " tout " << s.tout << " tok_init " << int(s.tok_init) << "}";
  return o.str();
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

// One memory request of a stream as the spec's walk gives it (written here from
// `docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)"), independently of the model): vector index, lane (-1 for
// a contiguous or broadcast request), byte address.
struct Req {
  uint64_t vec;
  int lane;
  uint32_t addr;
};

std::vector<Req> spec_requests(const arch::AgcuStream& s, uint32_t lanes) {
  std::vector<Req> r;
  if (!s.enable) return r;
  const uint64_t vstep = s.vstep ? s.vstep : lanes;
  uint64_t j = 0;
  for (uint64_t i3 = 0; i3 < s.c[3]; ++i3)
    for (uint64_t i2 = 0; i2 < s.c[2]; ++i2)
      for (uint64_t i1 = 0; i1 < s.c[1]; ++i1)
        for (uint64_t i0 = 0; i0 < s.c[0]; ++i0, ++j) {
          const uint64_t i[4] = {i0, i1, i2, i3};
          const int64_t rem = int64_t(s.vlen) - int64_t(i[s.vdim] * vstep);
          const uint64_t n = std::min<uint64_t>({lanes, vstep, uint64_t(std::max<int64_t>(rem, 0))});
          const uint32_t a = uint32_t(s.base + 4 * (i0 * int64_t(s.s[0]) + i1 * int64_t(s.s[1]) +
                                                    i2 * int64_t(s.s[2]) + i3 * int64_t(s.s[3])));
          if (n == 0) continue;
          if (s.lstride == 0 || s.lstride == 1) {
            r.push_back({j, -1, a});
          } else {
            for (uint64_t l = 0; l < n; ++l) r.push_back({j, int(l), uint32_t(a + 4 * int64_t(l) * s.lstride)});
          }
        }
  return r;
}

struct Timing {
  uint32_t lat_min = 1, lat_max = 1;  // request accepted to response, cycles
  double p_req_ready = 1.0;
  double p_vin = 1.0;
  double p_vout[2] = {1.0, 1.0};
  double p_tok = 1.0;   // a token offered on cin (while some are left)
  double p_cout = 1.0;  // cout ready
};

struct Result {
  uint64_t cycles = 0;
  uint32_t max_inflight[2] = {0, 0};
  uint64_t requests[3] = {0, 0, 0};
  uint64_t tokens_out = 0;
  bool err = false;
};

// Requests of stream s before tile t (t = 0 .. c3; a tile is one iteration of dimension 3).
std::vector<uint64_t> requests_before_tile(const arch::AgcuStream& s, const std::vector<Req>& reqs) {
  const uint64_t per_tile = uint64_t(s.c[0]) * s.c[1] * s.c[2];
  const uint64_t tiles = per_tile ? s.c[3] : 0;
  std::vector<uint64_t> b(tiles + 1, 0);
  for (uint64_t t = 0; t <= tiles; ++t)
    b[t] = uint64_t(std::count_if(reqs.begin(), reqs.end(), [&](const Req& r) { return r.vec < t * per_tile; }));
  return b;
}

class AgcuTb {
 public:
  explicit AgcuTb(const arch::Config& cfg) : cfg_(cfg), mem_(kMemWords) { bus_.reset(); }
  ~AgcuTb() { openrdu::tb::coverage_collect(top_.contextp()); }
  void tick() { bus_.tick(); }
  void configure(const arch::AgcuConfig& c, std::mt19937_64& rng) {
    cfg_words_ = c;
    bus_.configure(0, c.encode(), rng);
  }

  struct Pending {
    uint64_t due;
    uint32_t sid;
    Vec data;
    bool err;
  };

  // Runs the configured program against the harness memory; expect[k] is load stream
  // k's expected output, store the store stream's input (loop: the store stream takes
  // ld0's output instead, a copy). Every request is checked against spec_requests.
  // Control: `tokens` tokens are offered on cin; with tok_loop every token from cout is
  // offered on cin too. Checked every cycle: no stream with tin requests beyond its
  // credits, no token on cout before its tile's writes are all acknowledged.
  Result run(const std::deque<Vec> expect[2], const std::vector<Vec>& store, const Timing& t, std::mt19937_64& rng,
             const std::string& what, bool loop = false, uint64_t tokens = 0, bool tok_loop = false,
             uint64_t model_tokens_out = 0) {
    Run r(*this, expect, store, t, rng, what, loop, tokens, tok_loop, model_tokens_out);
    top_.run_i = 1;
    for (;;) {
      r.drive();
      top_.eval();
      const Run::Done d = r.check_done();
      if (d == Run::Done::Failed) return r.res;
      if (d == Run::Done::Yes) break;
      if (!r.check_held_request()) return r.res;
      r.take_response();
      if (!r.take_request() || !r.check_control() || !r.take_outputs()) return r.res;
      tick();
      if (!r.within_cycle_limit()) return r.res;
    }
    r.res.err = r.res.err || top_.err_o;
    top_.vin_valid_i = 0;
    top_.mem_rsp_valid_i = 0;
    return r.res;
  }

  // One run() in progress: its stimulus, the harness's memory side and the checks of a
  // cycle (each false, after ADD_FAILURE, when the run must stop).
  struct Run {
    Run(AgcuTb& tb, const std::deque<Vec>* expect, const std::vector<Vec>& store, const Timing& t,
        std::mt19937_64& rng, const std::string& what, bool loop, uint64_t tokens, bool tok_loop,
        uint64_t model_tokens_out)
        : tb(tb), top(tb.top_), lanes(tb.cfg_.lanes), expect(expect), t(t), rng(rng), what(what), loop(loop),
          tokens(tokens), tok_loop(tok_loop), model_tokens_out(model_tokens_out), lat(t.lat_min, t.lat_max),
          st_in(loop ? looped : store), st_total(loop ? expect[0].size() : store.size()),
          reqs{spec_requests(tb.cfg_words_.ld[0], lanes), spec_requests(tb.cfg_words_.ld[1], lanes),
               spec_requests(tb.cfg_words_.st, lanes)},
          streams{&tb.cfg_words_.ld[0], &tb.cfg_words_.ld[1], &tb.cfg_words_.st} {
      for (int k = 0; k < 3; ++k) before[k] = requests_before_tile(*streams[k], reqs[k]);
    }

    // Drive the inputs: store vectors, output readies, memory responses due, tokens.
    void drive() {
      vin = sent < st_in.size() && u(rng) < t.p_vin;
      top.vin_valid_i = vin;
      for (uint32_t l = 0; l < lanes; ++l) top.vin_data_i[l] = vin ? st_in[sent][l] : 0;
      top.vout_ready_i = (u(rng) < t.p_vout[0] ? 1 : 0) | (u(rng) < t.p_vout[1] ? 2 : 0);
      top.mem_req_ready_i = u(rng) < t.p_req_ready;
      rsp = !q.empty() && q.front().due <= tb.cycle_;
      top.mem_rsp_valid_i = rsp;
      top.mem_rsp_sid_i = rsp ? q.front().sid : 0;
      top.mem_rsp_err_i = rsp && q.front().err;
      for (uint32_t l = 0; l < lanes; ++l) top.mem_rsp_rdata_i[l] = rsp ? q.front().data[l] : 0xDEADBEEF;
      tv = tok_sent < tokens + (tok_loop ? res.tokens_out : 0) && u(rng) < t.p_tok;
      top.cin_valid_i = tv;
      top.cout_ready_i = u(rng) < t.p_cout;
    }

    // On done_o: every vector, request and token there, nothing in flight.
    enum class Done { No, Yes, Failed };
    Done check_done() {
      if (!top.done_o) return Done::No;
      for (int k = 0; k < 2; ++k)
        if (got[k] != expect[k].size()) {
          ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": done_o with " << got[k] << " of " << expect[k].size()
                        << " vectors of ld" << k;
          return Done::Failed;
        }
      if (sent != st_total || inflight[2] != 0) {
        ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": done_o with " << sent << " of " << st_total
                      << " store vectors taken, " << inflight[2] << " writes unacknowledged";
        return Done::Failed;
      }
      if (inflight[0] || inflight[1]) {
        ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": done_o with reads in flight";
        return Done::Failed;
      }
      for (int k = 0; k < 3; ++k)
        if (res.requests[k] != reqs[k].size()) {
          ADD_FAILURE() << what << ": " << kNames[k] << " made " << res.requests[k] << " requests, the spec "
                        << reqs[k].size();
          return Done::Failed;
        }
      if (res.tokens_out != model_tokens_out) {
        ADD_FAILURE() << what << ": done_o after " << res.tokens_out << " tokens, the model sends "
                      << model_tokens_out;
        return Done::Failed;
      }
      return Done::Yes;
    }

    // A request not accepted must be held unchanged.
    bool check_held_request() {
      if (prev_stalled && (!top.mem_req_valid_o || top.mem_req_addr_o != prev_addr ||
                           top.mem_req_sid_o != prev_sid || top.mem_req_we_o != prev_we)) {
        ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": request changed while not accepted";
        return false;
      }
      prev_stalled = top.mem_req_valid_o && !top.mem_req_ready_i;
      prev_addr = top.mem_req_addr_o;
      prev_sid = top.mem_req_sid_o;
      prev_we = top.mem_req_we_o;
      return true;
    }

    // The response delivered this cycle.
    void take_response() {
      if (!rsp) return;
      if (q.front().sid == 2) ++acks;
      --inflight[q.front().sid];
      res.err |= q.front().err;
      q.pop_front();
    }

    // A request accepted this cycle: the spec's next of its stream, served from the
    // harness memory after a random latency, within the in-flight bound.
    bool take_request() {
      if (!top.mem_req_valid_o || !top.mem_req_ready_i) return true;
      const uint32_t sid = top.mem_req_sid_o, addr = top.mem_req_addr_o;
      const bool we = top.mem_req_we_o;
      if (sid > 2 || (sid == 2) != we) {
        ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": request sid " << sid << " we " << we;
        return false;
      }
      const uint64_t ri = res.requests[sid]++;
      if (ri >= reqs[sid].size() || reqs[sid][ri].addr != addr) {
        ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": " << kNames[sid] << " request " << ri << " at 0x"
                      << std::hex << addr << std::dec
                      << (ri < reqs[sid].size()
                              ? fmt_req(reqs[sid][ri])
                              : std::string(", the spec has only ") + std::to_string(reqs[sid].size()));
        return false;
      }
      Pending p{std::max<uint64_t>(tb.cycle_ + lat(rng), last_due + 1), sid, Vec(lanes, 0), false};
      last_due = p.due;
      if (addr % 4 || uint64_t(addr) / 4 + lanes > kMemWords) {
        p.err = true;
      } else if (we) {
        for (uint32_t l = 0; l < lanes; ++l)
          if ((top.mem_req_wmask_o >> l) & 1) tb.mem_[addr / 4 + l] = top.mem_req_wdata_o[l];
      } else {
        for (uint32_t l = 0; l < lanes; ++l) p.data[l] = tb.mem_[addr / 4 + l];
      }
      q.push_back(std::move(p));
      ++inflight[sid];
      for (int k = 0; k < 2; ++k) {
        res.max_inflight[k] = std::max(res.max_inflight[k], inflight[k]);
        if (inflight[k] > tb.cfg_.inflight) {
          ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": " << inflight[k] << " reads of ld" << k
                        << " in flight, more than " << tb.cfg_.inflight;
          return false;
        }
      }
      return true;
    }

    // Store vectors and tokens taken; no stream with tin beyond its credits, no token on
    // cout before its tile's writes are all acknowledged.
    bool check_control() {
      if (vin && top.vin_ready_o) ++sent;
      if (tv && top.cin_ready_o) ++tok_sent;
      for (int k = 0; k < 3; ++k) {
        const auto& s = *streams[k];
        if (!s.enable || !s.tin) continue;
        const uint64_t allowed = before[k][std::min<uint64_t>(s.tok_init + tok_sent, before[k].size() - 1)];
        if (res.requests[k] > allowed) {
          ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": " << kNames[k] << " made " << res.requests[k]
                        << " requests with " << int(s.tok_init) << " + " << tok_sent << " credits (" << allowed
                        << " allowed)";
          return false;
        }
      }
      if (top.cout_valid_o && top.cout_ready_i) {
        const auto& st = *streams[2];
        uint64_t complete = 0;  // tiles whose writes are all acknowledged
        for (uint64_t ti = 1; ti < before[2].size(); ++ti) complete += before[2][ti] <= acks;
        if (!st.enable || !st.tout || res.tokens_out >= complete) {
          ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": token " << res.tokens_out << " on cout with " << acks
                        << " writes acknowledged (" << complete << " tiles complete, tout " << st.tout << ")";
          return false;
        }
        ++res.tokens_out;
      }
      return true;
    }

    // The load streams' output vectors taken this cycle, against the model's.
    bool take_outputs() {
      for (int k = 0; k < 2; ++k) {
        if (!((top.vout_valid_o >> k) & 1) || !((top.vout_ready_i >> k) & 1)) continue;
        Vec v(lanes);
        for (uint32_t l = 0; l < lanes; ++l) v[l] = top.vout_data_o[k][l];
        if (got[k] >= expect[k].size()) {
          ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": ld" << k << " extra vector " << hex(v);
          return false;
        }
        const Vec& e = expect[k][got[k]];
        for (uint32_t l = 0; l < lanes; ++l)
          if (v[l] != e[l]) {
            ADD_FAILURE() << what << " cycle " << tb.cycle_ << ": ld" << k << " vector " << got[k] << " lane " << l
                          << ": rtl 0x" << std::hex << v[l] << ", model 0x" << e[l] << std::dec << " (rtl "
                          << hex(v) << ", model " << hex(e) << ")";
            return false;
          }
        if (loop && k == 0) looped.push_back(v);
        ++got[k];
        ++tb.compared_;
      }
      return true;
    }

    bool within_cycle_limit() {
      if (++res.cycles <= 400000) return true;
      ADD_FAILURE() << what << ": not done after 400000 cycles (ld0 " << got[0] << "/" << expect[0].size()
                    << ", ld1 " << got[1] << "/" << expect[1].size() << ", st " << sent << "/" << st_total
                    << ", tokens in " << tok_sent << ", out " << res.tokens_out << ")";
      return false;
    }

    static constexpr const char* kNames[3] = {"ld0", "ld1", "st0"};
    AgcuTb& tb;
    Vrdu_agcu_tiny& top;
    const uint32_t lanes;
    const std::deque<Vec>* expect;  // [2]
    const Timing& t;
    std::mt19937_64& rng;
    const std::string& what;
    const bool loop;
    const uint64_t tokens;
    const bool tok_loop;
    const uint64_t model_tokens_out;
    Result res;
    std::uniform_real_distribution<double> u{0, 1};
    std::uniform_int_distribution<uint32_t> lat;
    std::deque<Pending> q;
    uint64_t last_due = 0;
    uint32_t inflight[3] = {0, 0, 0};
    size_t got[2] = {0, 0}, sent = 0;
    std::vector<Vec> looped;  // ld0's vectors, the store input when loop
    const std::vector<Vec>& st_in;
    const size_t st_total;
    const std::vector<Req> reqs[3];
    const arch::AgcuStream* streams[3];
    std::vector<uint64_t> before[3];
    bool prev_stalled = false;
    uint32_t prev_addr = 0, prev_sid = 0, prev_we = 0;
    uint64_t tok_sent = 0, acks = 0;
    bool vin = false, rsp = false, tv = false;  // this cycle's offers: store vector, response, token
  };

  static std::string fmt_req(const Req& r) {
    std::ostringstream o;
    o << ", the spec: vector " << r.vec << " lane " << r.lane << " at 0x" << std::hex << r.addr;
    return o.str();
  }

  arch::Config cfg_;
  std::vector<uint32_t> mem_;
  Vrdu_agcu_tiny top_;
  uint64_t cycle_ = 0;
  openrdu::tb::UnitBus<Vrdu_agcu_tiny> bus_{top_, cycle_};
  uint64_t compared_ = 0;
  arch::AgcuConfig cfg_words_;
};

// The model's outputs for configuration c on a copy of mem with store input `store`.
struct ModelRun {
  std::deque<Vec> out[2];
  std::vector<uint32_t> mem;
  uint64_t busy = 0;
  uint64_t tokens_out = 0;
};
// tokens: tokens given on the control input; tok_loop: every token out comes back in.
ModelRun model_run(const arch::Config& cfg, const arch::AgcuConfig& c, const std::vector<uint32_t>& mem,
                   const std::vector<Vec>& store, uint64_t tokens = 0, bool tok_loop = false) {
  ArrayMemory ref(mem);
  model::Agcu m(cfg);
  m.configure(c.encode());
  for (const Vec& v : store) m.push(0, v);
  m.push_tokens(tokens);
  uint64_t looped = 0;
  for (bool more = true; more;) {
    m.step(&ref);
    more = tok_loop && m.tokens_out() > looped;
    if (more) {
      m.push_tokens(m.tokens_out() - looped);
      looped = m.tokens_out();
    }
  }
  EXPECT_TRUE(m.done());
  return {{m.output(0), m.output(1)}, std::move(ref.w_), m.busy_cycles(), m.tokens_out()};
}

// Compares the harness memory with the model's; on a difference names the store
// vector and lane that wrote the word last (from the spec's walk).
void compare_memory(const AgcuTb& tb, const std::vector<uint32_t>& ref, const arch::AgcuStream& st, uint32_t lanes,
                    const std::string& what) {
  for (uint32_t a = 0; a < kMemWords; ++a) {
    if (tb.mem_[a] == ref[a]) continue;
    std::string who = "no store lane";
    for (const Req& r : spec_requests(st, lanes)) {
      const uint32_t w0 = r.addr / 4;
      if (r.lane >= 0 && w0 == a) who = fmt::format("store vector {} lane {}", r.vec, r.lane);
      if (r.lane < 0 && a >= w0 && a < w0 + lanes) who = fmt::format("store vector {} lane {}", r.vec, a - w0);
    }
    ADD_FAILURE() << what << ": memory word 0x" << std::hex << 4 * a << std::dec << " (" << who
                  << ") after the stores: rtl 0x" << std::hex << tb.mem_[a] << ", model 0x" << ref[a];
    return;
  }
}

// A random 4-D stream whose every request (LANES words from each request address)
// lies in the word range [lo, hi).
arch::AgcuStream random_stream(std::mt19937_64& rng, uint32_t lanes, uint32_t lo, uint32_t hi) {
  arch::AgcuStream s;
  s.enable = rng() % 6 != 0;
  auto count = [&](uint32_t mx) -> uint32_t {
    const uint32_t r = uint32_t(rng() % 16);
    return r == 0 ? 0 : r < 5 ? 1 : 1 + uint32_t(rng() % mx);
  };
  s.c[0] = count(6);
  s.c[1] = count(4);
  s.c[2] = count(3);
  s.c[3] = count(2);
  auto stride = [&](int32_t range) -> int32_t {
    switch (rng() % 5) {
      case 0: return 0;
      case 1: return -int32_t(rng() % range);
      case 2: return int32_t(lanes);
      default: return int32_t(rng() % range);
    }
  };
  for (int d = 0; d < 4; ++d) s.s[d] = stride(d == 0 ? 24 : 30 << d);
  switch (rng() % 4) {
    case 0: s.lstride = 0; break;
    case 1: s.lstride = 1; break;
    default: s.lstride = int32_t(rng() % 41) - 20; break;  // incl. 0, 1 and negative
  }
  s.vdim = uint8_t(rng() % 4);
  // vstep: LANES (0 or explicit), small, or huge (i_vdim*vstep' beyond 32 bits).
  const uint32_t vs[] = {0, lanes, 1 + uint32_t(rng() % (2 * lanes)), uint32_t(rng() % 3),
                         0x7FFFFFFEu + uint32_t(rng() % 0x80000000u)};
  s.vstep = vs[rng() % 9 == 0 ? 4 : rng() % 4];
  const uint64_t step = s.vstep ? s.vstep : lanes;
  const uint64_t full = std::max<uint32_t>(s.c[s.vdim], 1) * step;
  uint64_t vlen = 0;
  switch (rng() % 4) {
    case 0: vlen = full; break;                                                 // exact
    case 1: vlen = rng() % (full + 1); break;                                   // tail / short
    case 2: vlen = rng() % lanes; break;                                        // below one vector
    default: vlen = rng() % 8 == 0 ? 0xFFFFFFFFu : full + rng() % 5; break;     // all valid
  }
  s.vlen = uint32_t(std::min<uint64_t>(vlen, 0xFFFFFFFFu));
  // Word offsets reached, relative to base: every request of every step, whatever n.
  int64_t mn = 0, mx = 0;
  for (int64_t i3 = 0; i3 < std::max<int64_t>(s.c[3], 1); ++i3)
    for (int64_t i2 = 0; i2 < std::max<int64_t>(s.c[2], 1); ++i2)
      for (int64_t i1 = 0; i1 < std::max<int64_t>(s.c[1], 1); ++i1)
        for (int64_t i0 = 0; i0 < std::max<int64_t>(s.c[0], 1); ++i0) {
          const int64_t off = i0 * s.s[0] + i1 * s.s[1] + i2 * s.s[2] + i3 * s.s[3];
          for (int64_t l = 0; l < int64_t(lanes); ++l) {
            const int64_t a = off + l * s.lstride;
            mn = std::min(mn, a);
            mx = std::max(mx, a + int64_t(lanes) - 1);
          }
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
  int high_latency_cases = 0, cases = 0, controlled = 0;
  uint64_t gather_reqs = 0, zero_vectors = 0, tokens_out = 0;
  for (int idx = 0; idx < 8000 && !testing::Test::HasFailure(); ++idx) {
    arch::AgcuConfig c;
    c.ld[0] = random_stream(rng, cfg.lanes, 0, kStoreBase);
    c.ld[1] = random_stream(rng, cfg.lanes, 0, kStoreBase);
    c.st = random_stream(rng, cfg.lanes, kStoreBase, kMemWords);
    const bool high = rng() % 4 == 0;
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

    // Control: credits per tile (enough for every tile), store-done tokens, sometimes
    // looped back to the control input.
    uint64_t tokens = 0;
    for (auto* s : {&c.ld[0], &c.ld[1], &c.st}) {
      if (rng() % 4 != 0) continue;
      s->tin = true;
      s->tok_init = uint8_t(rng() % 4 == 0 ? rng() % 16 : rng() % 2);
      const uint64_t tiles = s->vectors() ? s->c[3] : 0;
      tokens = std::max<uint64_t>(tokens, tiles > s->tok_init ? tiles - s->tok_init : 0);
    }
    if (tokens || rng() % 8 == 0) tokens += rng() % 3;
    c.st.tout = rng() % 3 == 0;
    const bool tok_loop = rng() % 2 == 0;
    t.p_tok = u(rng) < 0.3 ? 1.0 : 0.05 + 0.95 * u(rng);
    t.p_cout = u(rng) < 0.3 ? 1.0 : 0.1 + 0.9 * u(rng);
    if ((c.ld[0].enable && c.ld[0].tin) || (c.ld[1].enable && c.ld[1].tin) || (c.st.enable && (c.st.tin || c.st.tout)))
      ++controlled;

    std::vector<Vec> store;
    if (c.st.enable)
      for (uint64_t k = 0; k < c.st.vectors(); ++k) store.push_back(random_vec(rng, cfg.lanes));
    const ModelRun m = model_run(cfg, c, tb.mem_, store, tokens, tok_loop);
    for (const auto* s : {&c.ld[0], &c.ld[1], &c.st}) {
      if (!s->enable) continue;
      if (s->lstride != 0 && s->lstride != 1) gather_reqs += spec_requests(*s, cfg.lanes).size();
      uint64_t with_req = 0;
      for (const Req& r : spec_requests(*s, cfg.lanes)) with_req += r.lane <= 0;
      zero_vectors += s->vectors() - with_req;
    }

    const std::string what = fmt::format("seed {} case {} ld0{} ld1{} st0{}", seed, idx, stream_str(c.ld[0]),
                                         stream_str(c.ld[1]), stream_str(c.st));
    tb.configure(c, rng);
    const Result r = tb.run(m.out, store, t, rng, what, false, tokens, tok_loop, m.tokens_out);
    if (testing::Test::HasFailure()) break;
    tokens_out += r.tokens_out;
    EXPECT_FALSE(r.err) << what << ": err_o without an error response";
    compare_memory(tb, m.mem, c.st, cfg.lanes, what);
    if (high) max_inflight_high_latency = std::max({max_inflight_high_latency, r.max_inflight[0], r.max_inflight[1]});
    ++cases;
  }
  std::cout << cases << " cases, " << tb.compared_ << " load vectors compared in " << tb.cycle_ << " cycles; "
            << gather_reqs << " gather/scatter lane requests, " << zero_vectors << " vectors without a request; "
            << high_latency_cases << " high-latency cases, at most " << max_inflight_high_latency
            << " reads in flight; " << controlled << " cases with credits or tokens, " << tokens_out
            << " store-done tokens\n";
  EXPECT_GT(controlled, 2000);
  EXPECT_GT(tokens_out, 1000u);
  EXPECT_GE(cases, 8000);
  EXPECT_GT(tb.compared_, 40000u);
  EXPECT_GT(gather_reqs, 20000u);
  EXPECT_GT(zero_vectors, 2000u);
  EXPECT_GE(max_inflight_high_latency, 3u) << "reads are not pipelined under high latency";
}

// Transpose of a 5x7 matrix A (row-major): ld0 gathers column j of A (lstride 7) as
// two vectors (rows 0..3, row 4), the store writes them contiguously as row j of
// B = A^T (7x5). Checked against host arithmetic and the model.
TEST(Agcu, Transpose5x7) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t L = cfg.lanes;
  ASSERT_EQ(L, 4u);
  AgcuTb tb(cfg);
  std::mt19937_64 rng(21);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  const uint32_t A = 0x400, B = 4 * kStoreBase + 0x40, R = 5, C = 7;
  arch::AgcuConfig c;
  arch::AgcuStream& ld = c.ld[0];
  ld.enable = true;
  ld.base = A;
  ld.lstride = int32_t(C);
  ld.vdim = 0;
  ld.vlen = R;
  ld.vstep = L;
  ld.c[0] = (R + L - 1) / L;
  ld.s[0] = int32_t(L * C);  // next L rows
  ld.c[1] = C;
  ld.s[1] = 1;  // next column
  c.st = arch::AgcuStream::linear(B, R, L);
  c.st.c[1] = C;
  c.st.s[1] = int32_t(R);
  const std::vector<uint32_t> before = tb.mem_;
  const uint64_t nv = c.ld[0].vectors();
  ASSERT_EQ(nv, 14u);
  arch::AgcuConfig lo = c;  // the load alone, then the model of the copy the harness makes
  lo.st.enable = false;
  const ModelRun m = model_run(cfg, lo, tb.mem_, {});
  const ModelRun m2 = model_run(cfg, c, tb.mem_, std::vector<Vec>(m.out[0].begin(), m.out[0].end()));
  tb.configure(c, rng);
  Timing t;
  t.lat_min = 1;
  t.lat_max = 5;
  t.p_req_ready = 0.7;
  const std::deque<Vec> expect[2] = {m.out[0], {}};
  const Result r = tb.run(expect, {}, t, rng, "transpose", /*loop=*/true);
  ASSERT_FALSE(testing::Test::HasFailure());
  EXPECT_EQ(r.requests[0], uint64_t(R * C));     // one per element
  EXPECT_EQ(r.requests[2], uint64_t(C * 2));     // one per stored vector
  for (uint32_t j = 0; j < C; ++j)
    for (uint32_t i = 0; i < R; ++i)
      EXPECT_EQ(tb.mem_[B / 4 + j * R + i], before[A / 4 + i * C + j]) << "B[" << j << "][" << i << "]";
  EXPECT_EQ(tb.mem_[B / 4 + R * C], before[B / 4 + R * C]) << "word after B";
  EXPECT_EQ(tb.mem_[B / 4 - 1], before[B / 4 - 1]) << "word before B";
  compare_memory(tb, m2.mem, c.st, L, "transpose");
}

// A scatter store: vector v lane l (l < n) to word v*s0 + l*lstride; 3 vectors, vlen
// 10 (the last has 2 valid lanes), lstride 3, s0 1 (distinct words 0..11).
TEST(Agcu, ScatterStore) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t L = cfg.lanes;
  AgcuTb tb(cfg);
  std::mt19937_64 rng(22);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  const uint32_t base = 4 * kStoreBase + 0x100;
  arch::AgcuConfig c;
  c.st.enable = true;
  c.st.base = base;
  c.st.lstride = 3;
  c.st.vlen = 10;
  c.st.vstep = L;
  c.st.c[0] = 3;
  c.st.s[0] = 1;
  std::vector<Vec> data;
  for (int v = 0; v < 3; ++v) data.push_back(random_vec(rng, L));
  std::vector<uint32_t> want = tb.mem_;
  for (uint32_t v = 0; v < 3; ++v)
    for (uint32_t l = 0; l < std::min<uint32_t>(L, 10 - v * L); ++l) want[base / 4 + v + 3 * l] = data[v][l];
  const ModelRun m = model_run(cfg, c, tb.mem_, data);
  tb.configure(c, rng);
  Timing t;
  t.p_vin = 0.5;
  t.p_req_ready = 0.6;
  const std::deque<Vec> none[2];
  const Result r = tb.run(none, data, t, rng, "scatter");
  ASSERT_FALSE(testing::Test::HasFailure());
  EXPECT_EQ(r.requests[2], 10u);
  for (uint32_t a = 0; a < kMemWords; ++a) {
    ASSERT_EQ(tb.mem_[a], want[a]) << "word 0x" << std::hex << 4 * a;
    ASSERT_EQ(m.mem[a], want[a]) << "model, word 0x" << std::hex << 4 * a;
  }
}

// A gather load of 4 vectors with 4, 4, 2 and 0 valid lanes makes exactly 10
// requests (none for the empty vector, which arrives as zeros); the model's busy
// cycles count 4 + 4 + 2 + 1.
TEST(Agcu, GatherRequestCount) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t L = cfg.lanes;
  ASSERT_EQ(L, 4u);
  AgcuTb tb(cfg);
  std::mt19937_64 rng(23);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  arch::AgcuConfig c;
  c.ld[1].enable = true;
  c.ld[1].base = 0x2000;
  c.ld[1].lstride = -5;
  c.ld[1].vlen = 10;
  c.ld[1].c[0] = 4;
  c.ld[1].s[0] = 100;
  const ModelRun m = model_run(cfg, c, tb.mem_, {});
  ASSERT_EQ(m.out[1].size(), 4u);
  EXPECT_EQ(m.out[1][3], Vec(L, 0));
  for (uint32_t v = 0; v < 3; ++v)
    for (uint32_t l = 0; l < L; ++l) {
      const uint32_t want = l < std::min<uint32_t>(L, 10 - v * L) ? tb.mem_[0x2000 / 4 + 100 * v - 5 * l] : 0;
      EXPECT_EQ(m.out[1][v][l], want) << "vector " << v << " lane " << l;
    }
  // Model busy cycles (docs 4.5): max(requests = 4 + 4 + 2 + 1 (an empty vector counts
  // one), ceil(11 / AGCU_INFLIGHT) x (DRAM latency + 3)); tiny: 4 in flight, latency 20.
  ASSERT_EQ(cfg.inflight, 4u);
  ASSERT_EQ(cfg.dram_latency_cycles, 20u);
  EXPECT_EQ(m.busy, 3u * 23);
  tb.configure(c, rng);
  Timing t;
  t.lat_min = 3;
  t.lat_max = 9;
  const Result r = tb.run(m.out, {}, t, rng, "gather count");
  EXPECT_EQ(r.requests[1], 10u);
  EXPECT_EQ(r.requests[0] + r.requests[2], 0u);
}

// A long load at latency 30 with a ready consumer keeps AGCU_INFLIGHT reads in
// flight, contiguous or gathered.
TEST(Agcu, PipelinedReads) {
  const arch::Config cfg = arch::load_config("tiny");
  for (int32_t lstride : {1, 3}) {
    AgcuTb tb(cfg);
    std::mt19937_64 rng(11);
    for (auto& w : tb.mem_) w = uint32_t(rng());
    arch::AgcuConfig c;
    c.ld[0] = arch::AgcuStream::linear(0x100, 64 * cfg.lanes, cfg.lanes);
    c.ld[0].lstride = lstride;
    const ModelRun m = model_run(cfg, c, tb.mem_, {});
    const std::deque<Vec> expect[2] = {m.out[0], {}};
    tb.configure(c, rng);
    Timing t;
    t.lat_min = t.lat_max = 30;
    const Result r = tb.run(expect, {}, t, rng, fmt::format("pipelined lstride {}", lstride));
    EXPECT_EQ(r.max_inflight[0], cfg.inflight) << "lstride " << lstride;
    const uint64_t reqs = lstride == 1 ? 64 : 64 * cfg.lanes;
    EXPECT_EQ(r.requests[0], reqs);
    // AGCU_INFLIGHT requests per 32-cycle round trip.
    EXPECT_LE(r.cycles, reqs * 32 / cfg.inflight + 40) << "lstride " << lstride;
  }
}

// Throughput of long contiguous streams, no stalls: a copy (ld0 -> st0 through the
// harness), and independent load + store, and a load alone, at latency 1 and 20.
// Vectors per cycle are printed; the port moves one request per cycle.
TEST(Agcu, Throughput) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t N = 1024;
  for (uint32_t lat : {1u, 20u}) {
    for (int kind = 0; kind < 3; ++kind) {  // 0 copy, 1 load + store, 2 load
      AgcuTb tb(cfg);
      std::mt19937_64 rng(5);
      for (auto& w : tb.mem_) w = uint32_t(rng());
      arch::AgcuConfig c;
      c.ld[0] = arch::AgcuStream::linear(0x100, N * cfg.lanes, cfg.lanes);
      if (kind < 2) c.st = arch::AgcuStream::linear(4 * kStoreBase, N * cfg.lanes, cfg.lanes);
      std::vector<Vec> store;
      if (kind == 1)
        for (uint32_t k = 0; k < N; ++k) store.push_back(random_vec(rng, cfg.lanes));
      if (kind == 0) {  // the copy: the store input is what ld0 loads
        arch::AgcuConfig lo = c;
        lo.st.enable = false;
        const ModelRun ml = model_run(cfg, lo, tb.mem_, {});
        store.assign(ml.out[0].begin(), ml.out[0].end());
      }
      const ModelRun m = model_run(cfg, c, tb.mem_, store);
      const std::deque<Vec> expect[2] = {m.out[0], {}};
      tb.configure(c, rng);
      Timing t;
      t.lat_min = t.lat_max = lat;
      const Result r = tb.run(expect, kind == 0 ? std::vector<Vec>() : store, t, rng, "throughput", kind == 0);
      ASSERT_FALSE(testing::Test::HasFailure());
      compare_memory(tb, m.mem, c.st, cfg.lanes, "throughput");
      const uint32_t moved = kind == 2 ? N : 2 * N;
      std::printf("throughput latency %2u %-12s: %u vectors in %llu cycles = %.3f vectors/cycle\n", lat,
                  kind == 0 ? "copy" : kind == 1 ? "load+store" : "load", moved, (unsigned long long)r.cycles,
                  double(moved) / double(r.cycles));
      if (lat == 1) {
        EXPECT_GE(double(moved) / double(r.cycles), 0.97);  // the port moves one request per cycle
      }
    }
  }
}

// A dependency through DRAM inside one program: the store stream writes 3 tiles of 2
// vectors, ld0 reads the same words back with tin, its credits being the store-done
// tokens (cout looped to cin). Each load tile must see its tile's new data although the
// store input trickles in and the memory answers late; ld1, without tin, reads the
// old contents of a word range the store does not touch. Host arithmetic and model agree.
TEST(Agcu, StoreDoneTokensOrderLoadsAfterStores) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t L = cfg.lanes;
  AgcuTb tb(cfg);
  std::mt19937_64 rng(31);
  for (auto& w : tb.mem_) w = uint32_t(rng());
  const uint32_t X = 4 * kStoreBase + 0x80;
  auto tiled = [&](uint32_t base) {
    arch::AgcuStream s = arch::AgcuStream::linear(base, 2 * L, L);  // 2 vectors per tile
    s.vdim = 0;
    s.c[3] = 3;
    s.s[3] = int32_t(2 * L);
    return s;
  };
  arch::AgcuConfig c;
  c.st = tiled(X);
  c.st.tout = true;
  c.ld[0] = tiled(X);
  c.ld[0].tin = true;
  c.ld[1] = tiled(0x200);
  std::vector<Vec> data;
  for (int k = 0; k < 6; ++k) data.push_back(random_vec(rng, L));
  const ModelRun m = model_run(cfg, c, tb.mem_, data, 0, /*tok_loop=*/true);
  ASSERT_EQ(m.out[0].size(), 6u);
  ASSERT_EQ(m.tokens_out, 3u);
  for (size_t k = 0; k < 6; ++k) {
    EXPECT_EQ(m.out[0][k], data[k]) << "model: load vector " << k << " reads the stored vector";
    EXPECT_EQ(m.out[1][k], Vec(tb.mem_.begin() + 0x200 / 4 + k * L, tb.mem_.begin() + 0x200 / 4 + (k + 1) * L));
  }
  tb.configure(c, rng);
  Timing t;
  t.lat_min = 15;
  t.lat_max = 30;
  t.p_vin = 0.1;
  t.p_tok = 0.5;
  t.p_cout = 0.5;
  const Result r = tb.run(m.out, data, t, rng, "store-done tokens", false, 0, /*tok_loop=*/true, m.tokens_out);
  ASSERT_FALSE(testing::Test::HasFailure());
  EXPECT_EQ(r.tokens_out, 3u);
  compare_memory(tb, m.mem, c.st, L, "store-done tokens");
}

// With tin and tok_init 2 and no token, a load stream makes the requests of its first
// two tiles only and stays not done; each token then releases one more tile.
TEST(Agcu, CreditsReleaseTiles) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t L = cfg.lanes;
  AgcuTb tb(cfg);
  std::mt19937_64 rng(32);
  arch::AgcuConfig c;
  c.ld[1] = arch::AgcuStream::linear(0x400, 3 * L, L);  // 3 vectors per tile, 4 tiles
  c.ld[1].c[3] = 4;
  c.ld[1].s[3] = int32_t(3 * L);
  c.ld[1].tin = true;
  c.ld[1].tok_init = 2;
  tb.configure(c, rng);
  tb.top_.run_i = 1;
  tb.top_.vout_ready_i = 3;
  tb.top_.cout_ready_i = 1;
  uint64_t reqs = 0;
  std::deque<uint64_t> due;
  auto cycles = [&](int n, bool token) {
    for (int i = 0; i < n; ++i) {
      tb.top_.mem_req_ready_i = 1;
      tb.top_.mem_rsp_valid_i = !due.empty() && due.front() <= tb.cycle_;
      tb.top_.mem_rsp_sid_i = 1;
      tb.top_.mem_rsp_err_i = 0;
      tb.top_.cin_valid_i = token;
      tb.top_.eval();
      if (tb.top_.mem_rsp_valid_i) due.pop_front();
      if (tb.top_.mem_req_valid_o) {
        ++reqs;
        due.push_back(tb.cycle_ + 3);
      }
      if (token && tb.top_.cin_ready_o) token = false;
      EXPECT_FALSE(tb.top_.cout_valid_o) << "no tout, no token";
      tb.tick();
    }
    tb.top_.cin_valid_i = 0;
  };
  cycles(100, false);
  EXPECT_EQ(reqs, 6u) << "tok_init 2: two tiles of 3";
  tb.top_.eval();
  EXPECT_FALSE(tb.top_.done_o);
  cycles(50, true);
  EXPECT_EQ(reqs, 9u);
  EXPECT_FALSE(tb.top_.done_o);
  cycles(50, true);
  EXPECT_EQ(reqs, 12u);
  tb.top_.eval();
  EXPECT_TRUE(tb.top_.done_o);
  // Finished: surplus tokens (beyond 255 credits) are accepted and dropped.
  for (int k = 0; k < 300; ++k) {
    tb.top_.cin_valid_i = 1;
    tb.top_.eval();
    ASSERT_TRUE(tb.top_.cin_ready_o) << "surplus token " << k;
    tb.tick();
  }
  tb.top_.cin_valid_i = 0;
}

// The cost of store-done tokens: a store of 1,024 vectors in 16 tiles at memory latency
// 20, without tout and with it (each tile waits for its acknowledgements: about one
// round trip per tile). Printed; bounded by one latency plus a few cycles per tile.
TEST(Agcu, StoreDoneTokenCost) {
  const arch::Config cfg = arch::load_config("tiny");
  const uint32_t N = 1024, tiles = 16, lat = 20;
  uint64_t cycles[2] = {}, estimate[2] = {};
  for (int tout = 0; tout < 2; ++tout) {
    AgcuTb tb(cfg);
    std::mt19937_64 rng(41);
    arch::AgcuConfig c;
    c.st = arch::AgcuStream::linear(4 * kStoreBase, N / tiles * cfg.lanes, cfg.lanes);
    c.st.c[3] = tiles;
    c.st.s[3] = int32_t(N / tiles * cfg.lanes);
    c.st.tout = tout;
    std::vector<Vec> store;
    for (uint32_t k = 0; k < N; ++k) store.push_back(random_vec(rng, cfg.lanes));
    const ModelRun m = model_run(cfg, c, tb.mem_, store);
    tb.configure(c, rng);
    Timing t;
    t.lat_min = t.lat_max = lat;
    const std::deque<Vec> none[2];
    const Result r = tb.run(none, store, t, rng, "store-done cost", false, 0, false, m.tokens_out);
    ASSERT_FALSE(testing::Test::HasFailure());
    compare_memory(tb, m.mem, c.st, cfg.lanes, "store-done cost");
    EXPECT_EQ(r.tokens_out, tout ? tiles : 0u);
    cycles[tout] = r.cycles;
    estimate[tout] = m.busy;
  }
  std::printf("model estimate: %llu without tout, %llu with\n", (unsigned long long)estimate[0],
              (unsigned long long)estimate[1]);
  EXPECT_NEAR(double(estimate[1]) / double(cycles[1]), 1.0, 0.05) << "the model's estimate with tout";
  std::printf("store of %u vectors in %u tiles, latency %u: %llu cycles without tout, %llu with (%.1f per tile)\n", N,
              tiles, lat, (unsigned long long)cycles[0], (unsigned long long)cycles[1],
              double(cycles[1] - cycles[0]) / tiles);
  EXPECT_GT(cycles[1], cycles[0] + tiles * (lat - 1)) << "each tile waits for its acknowledgements";
  EXPECT_LE(cycles[1], cycles[0] + tiles * (lat + 4));
}

// An error response raises err_o.
TEST(Agcu, ErrorResponse) {
  const arch::Config cfg = arch::load_config("tiny");
  AgcuTb tb(cfg);
  std::mt19937_64 rng(13);
  arch::AgcuConfig c;
  c.ld[1] = arch::AgcuStream::linear(4 * kMemWords - 4, 1, cfg.lanes);  // runs past the end of memory
  tb.configure(c, rng);
  std::deque<Vec> expect[2] = {{}, {Vec(cfg.lanes, 0)}};
  const Result r = tb.run(expect, {}, Timing{}, rng, "error");
  EXPECT_TRUE(r.err);
  EXPECT_TRUE(tb.top_.err_o);
}

}  // namespace

OPENRDU_TB_COVERAGE("tb_agcu");
