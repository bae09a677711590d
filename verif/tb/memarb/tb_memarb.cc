// rdu_mem_arb with 5 requesters (0 the configuration controller, 1 + k AGCU k) on 2
// memory ports, as in small's core (`docs/hardware.md` ("Memory ports")), against a
// reference of its rules, cycle by cycle, with random request traffic, random port
// back-pressure and random response latency:
//  * requester 0 and AGCU k use port (k mod 2); a port's request is the round-robin
//    choice among its valid requesters from the pointer after the last grant, with that
//    requester's fields unchanged, and only the granted requester sees ready;
//  * a response on port p reaches exactly the requester whose id range holds its id
//    (0; 1+3k .. 3+3k), with the port's data and error;
//  * no request is lost or duplicated, and each requester's responses come back in its
//    request order.
// Seed: OPENRDU_SEED (default 1).
#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <random>
#include <algorithm>
#include <cstdio>

#include "Vmem_arb_tb_top_tiny.h"
#include "../common/tb_util.h"
#include "../common/unit_bus.h"

namespace {

using openrdu::tb::seed_from_env;

constexpr int kN = 5, kP = 2;
constexpr uint32_t kLanes = 4;  // tiny

int port_of(int i) { return i == 0 ? 0 : (i - 1) % kP; }
bool owns(int i, uint32_t id) { return i == 0 ? id == 0 : id >= uint32_t(3 * i - 2) && id <= uint32_t(3 * i); }

struct Req {
  bool we = false;
  uint32_t addr = 0, id = 0, wmask = 0;
  uint32_t wdata[kLanes] = {};
  uint64_t seq = 0;  // per requester
};
struct Rsp {
  uint32_t id = 0, err = 0, data[kLanes] = {};
  uint64_t ready = 0;
};

// The arbiter and the reference of its rules under random traffic: requesters that keep a
// request pending until granted, ports with random ready, a DRAM per port answering in
// order after a random latency.
class ArbTb {
 public:
  ArbTb(uint64_t seed, double p_req, double p_ready, int max_lat)
      : rng_(seed), p_req_(p_req), p_ready_(p_ready), max_lat_(max_lat) {
    top_.req_valid_i = 0;
    top_.mem_rsp_valid_i = 0;
    top_.mem_req_ready_i = 0;
    openrdu::tb::hold_reset(top_);
  }
  ~ArbTb() { top_.final(); }

  // Cycle c: drive the inputs, check the grants and the responses, then the clock edge.
  void cycle(int c) {
    drive_requesters();
    drive_ports(c);
    top_.eval();
    check_grants(c);
    if (testing::Test::HasFatalFailure()) return;
    check_responses(c);
    if (testing::Test::HasFatalFailure()) return;
    tick();
  }

  // After `cycles` cycles: no requester starved, no response lost or doubled.
  void check_totals(uint64_t seed, int cycles) const {
    for (int i = 0; i < kN; ++i) {
      EXPECT_GT(accepted_[i], uint64_t(cycles) / 40) << "requester " << i << " starved";
      EXPECT_EQ(answered_[i] + order_[i].size(), accepted_[i]) << "requester " << i << ": a response lost or doubled";
      EXPECT_LE(sent_[i] - accepted_[i], 1u) << "requester " << i << ": at most its pending request not accepted";
    }
    std::printf("seed %llu: %llu grants, %llu responses in %d cycles (p_req %.2f, p_ready %.2f)\n",
                (unsigned long long)seed, (unsigned long long)grants_, (unsigned long long)responses_, cycles, p_req_,
                p_ready_);
  }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  void tick() { openrdu::tb::clock_edge(top_); }

  // Requesters: keep a pending request, or make a new one.
  void drive_requesters() {
    valid_ = 0;
    uint32_t we = 0;
    for (int i = 0; i < kN; ++i) {
      if (!pending_[i] && chance(p_req_)) {
        Req r;
        r.we = chance(0.3);
        r.addr = uint32_t(rng_()) & ~3u;
        r.id = i == 0 ? 0 : uint32_t(3 * i - 2) + uint32_t(rng_() % 3);
        r.wmask = uint32_t(rng_()) & 0xF;
        for (auto& w : r.wdata) w = uint32_t(rng_());
        r.seq = sent_[i]++;
        cur_[i] = r;
        pending_[i] = true;
      }
      if (pending_[i]) valid_ |= 1u << i;
      if (pending_[i] && cur_[i].we) we |= 1u << i;
      top_.req_addr_i[i] = cur_[i].addr;
      top_.req_id_i[i] = cur_[i].id;
      top_.req_wmask_i[i] = cur_[i].wmask;
      for (uint32_t w = 0; w < kLanes; ++w) top_.req_wdata_i[i][w] = cur_[i].wdata[w];
    }
    top_.req_valid_i = valid_;
    top_.req_we_i = we;
  }

  // Ports: random ready; the head response once its latency has passed.
  void drive_ports(int c) {
    ready_ = rvalid_ = 0;
    uint32_t rerr = 0, rid = 0;
    for (int p = 0; p < kP; ++p) {
      if (chance(p_ready_)) ready_ |= 1u << p;
      if (!dram_[p].empty() && dram_[p].front().first.ready <= uint64_t(c)) {
        const Rsp& r = dram_[p].front().first;
        rvalid_ |= 1u << p;
        rerr |= r.err << p;
        rid |= r.id << (8 * p);
        for (uint32_t w = 0; w < kLanes; ++w) top_.mem_rsp_rdata_i[p * kLanes + w] = r.data[w];
      }
    }
    top_.mem_req_ready_i = ready_;
    top_.mem_rsp_valid_i = rvalid_;
    top_.mem_rsp_err_i = rerr;
    top_.mem_rsp_id_i = rid;
  }

  // Requests: the reference grant per port, its fields on the port, ready to it alone;
  // a granted request goes to the port's DRAM.
  void check_grants(int c) {
    uint32_t want_ready = 0;
    for (int p = 0; p < kP; ++p) {
      int g = -1;
      for (int j = 0; j < kN && g < 0; ++j) {
        const int i = (ptr_[p] + j) % kN;
        if (port_of(i) == p && (valid_ >> i & 1)) g = i;
      }
      ASSERT_EQ(top_.mem_req_valid_o >> p & 1, g >= 0 ? 1u : 0u) << "cycle " << c << " port " << p;
      ASSERT_EQ(top_.mem_rsp_ready_o >> p & 1, 1u) << "port " << p;
      if (g < 0) continue;
      const Req& r = cur_[g];
      ASSERT_EQ(uint32_t(top_.mem_req_addr_o >> (32 * p)), r.addr) << "cycle " << c << " port " << p << " requester " << g;
      ASSERT_EQ(uint32_t(top_.mem_req_id_o >> (8 * p)) & 0xFF, r.id) << "cycle " << c << " port " << p;
      ASSERT_EQ(top_.mem_req_we_o >> p & 1, r.we ? 1u : 0u) << "cycle " << c << " port " << p;
      ASSERT_EQ((top_.mem_req_wmask_o >> (kLanes * p)) & 0xF, r.wmask) << "cycle " << c << " port " << p;
      for (uint32_t w = 0; w < kLanes; ++w)
        ASSERT_EQ(top_.mem_req_wdata_o[p * kLanes + w], r.wdata[w]) << "cycle " << c << " port " << p << " word " << w;
      if (ready_ >> p & 1) {
        want_ready |= 1u << g;
        ptr_[p] = (g + 1) % kN;
        ++accepted_[g];
        ++grants_;
        order_[g].push_back(r.seq);
        Rsp rsp;
        rsp.id = r.id;
        rsp.err = chance(0.05) ? 1 : 0;
        rsp.ready = uint64_t(c) + 1 + rng_() % uint64_t(max_lat_);
        if (!dram_[p].empty()) rsp.ready = std::max(rsp.ready, dram_[p].back().first.ready);  // in order per port
        // The data names the requester and its sequence number (the order check).
        rsp.data[0] = uint32_t(g);
        rsp.data[1] = uint32_t(r.seq);
        rsp.data[2] = uint32_t(rng_());
        rsp.data[3] = uint32_t(rng_());
        dram_[p].push_back({rsp, r.seq});
        pending_[g] = false;
      }
    }
    ASSERT_EQ(uint32_t(top_.req_ready_o), want_ready) << "cycle " << c << ": ready of the granted requesters only";
  }

  // Responses: to the owner of the id, with the port's data, in the owner's request order.
  void check_responses(int c) {
    uint32_t want_rsp = 0;
    for (int p = 0; p < kP; ++p) {
      if (!(rvalid_ >> p & 1)) continue;
      const Rsp& r = dram_[p].front().first;
      for (int i = 0; i < kN; ++i) {
        if (port_of(i) != p || !owns(i, r.id)) continue;
        want_rsp |= 1u << i;
        ASSERT_EQ(top_.rsp_id_o[i], r.id) << "cycle " << c << " requester " << i;
        ASSERT_EQ(top_.rsp_err_o >> i & 1, r.err) << "cycle " << c << " requester " << i;
        for (uint32_t w = 0; w < kLanes; ++w)
          ASSERT_EQ(top_.rsp_rdata_o[i][w], r.data[w]) << "cycle " << c << " requester " << i << " word " << w;
        ASSERT_EQ(r.data[0], uint32_t(i)) << "a response of requester " << r.data[0] << " reached " << i;
        ASSERT_FALSE(order_[i].empty()) << "cycle " << c << ": requester " << i << " got a response it did not ask for";
        ASSERT_EQ(uint64_t(r.data[1]), order_[i].front()) << "requester " << i << ": responses out of request order";
        order_[i].pop_front();
        ++answered_[i];
      }
      dram_[p].pop_front();
      ++responses_;
    }
    ASSERT_EQ(uint32_t(top_.rsp_valid_o), want_rsp) << "cycle " << c;
  }

  Vmem_arb_tb_top_tiny top_;
  std::mt19937_64 rng_;
  const double p_req_, p_ready_;
  const int max_lat_;
  bool pending_[kN] = {};
  Req cur_[kN];
  uint64_t sent_[kN] = {}, accepted_[kN] = {}, answered_[kN] = {};
  std::deque<uint64_t> order_[kN];                 // seq of accepted requests awaiting a response
  std::deque<std::pair<Rsp, uint64_t>> dram_[kP];  // response, seq (for the check)
  int ptr_[kP] = {0, 0};
  uint64_t grants_ = 0, responses_ = 0;
  uint32_t valid_ = 0, ready_ = 0, rvalid_ = 0;  // this cycle's request valids, port readies, responses
};

void run(uint64_t seed, int cycles, double p_req, double p_ready, int max_lat) {
  ArbTb tb(seed, p_req, p_ready, max_lat);
  for (int c = 0; c < cycles; ++c) {
    tb.cycle(c);
    if (testing::Test::HasFatalFailure()) return;
  }
  tb.check_totals(seed, cycles);
}

TEST(MemArb, TwoPortsRandomTraffic) {
  const uint64_t seed = seed_from_env();
  run(seed, 200'000, 0.5, 0.7, 30);
}

TEST(MemArb, TwoPortsSaturated) {
  // Every requester always requesting, ports always ready: each port grants one request
  // per cycle, round-robin (port 0: requesters 0, 1, 3; port 1: 2, 4).
  const uint64_t seed = seed_from_env() + 100;
  run(seed, 50'000, 1.0, 1.0, 8);
}

}  // namespace
