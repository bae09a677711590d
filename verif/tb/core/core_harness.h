// Harness of the core testbench: a sparse DRAM (shared by the RTL's memory port and
// model::Core), the Verilated rdu_core (tiny) with CSR helpers, and a program builder
// (unit configurations, switch selects, a router for random programs).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/arch/config.h"
#include "openrdu/model/unit.h"
#include "../common/tb_util.h"

class Vrdu_core_tiny;

namespace openrdu::tb {

// Sparse word-addressed DRAM of `bytes` bytes; accesses outside throw MemoryError.
class TestDram : public model::Memory {
 public:
  explicit TestDram(uint64_t bytes) : bytes_(bytes) {}
  void read_words(uint32_t byte_addr, uint32_t* words, uint32_t n) override;
  void write_words(uint32_t byte_addr, const uint32_t* words, uint32_t n, uint64_t mask) override;
  bool in_range(uint32_t byte_addr, uint32_t n) const { return uint64_t(byte_addr) + 4ull * n <= bytes_; }
  uint32_t at(uint32_t byte_addr) const;
  void set(uint32_t byte_addr, uint32_t v) { w_[byte_addr / 4] = v; }
  void load(uint32_t byte_addr, const std::vector<uint32_t>& v);
  // First difference against another image ("" when equal; absent words read 0).
  std::string diff(const TestDram& o) const;

 private:
  uint64_t bytes_;
  std::unordered_map<uint32_t, uint32_t> w_;
};

struct DramTiming {
  uint32_t latency = 20;     // request to response, cycles
  uint32_t jitter = 0;       // extra random latency 0..jitter (responses stay in order)
  uint32_t stall_pct = 0;    // percentage of cycles with mem_req_ready low
};

// The Verilated core, its DRAM port and CSR access.
class CoreTb {
 public:
  CoreTb(TestDram& dram, DramTiming t, uint64_t seed);
  ~CoreTb();
  void tick();
  void reset();
  void csr_write(uint32_t addr, uint32_t data);
  uint32_t csr_read(uint32_t addr);
  bool irq() const;
  // Runs until irq_o (IRQ_ENABLE must be set) or max_cycles; true when irq came.
  bool wait_irq(uint64_t max_cycles);
  uint64_t cycle() const { return cycle_; }
  uint64_t mem_reads() const { return reads_; }
  uint64_t mem_writes() const { return writes_; }

 private:
  struct Rsp {
    uint64_t when;
    uint8_t id;
    bool err;
    std::vector<uint32_t> data;
  };
  void drive_mem();
  void sample_mem();
  std::unique_ptr<Vrdu_core_tiny> top_;
  TestDram& dram_;
  DramTiming t_;
  std::mt19937_64 rng_;
  std::deque<Rsp> rsp_;
  uint64_t cycle_ = 0, last_rsp_ = 0, reads_ = 0, writes_ = 0;
};

// Program under construction: unit configuration words plus switch selects.
class Program {
 public:
  explicit Program(const arch::Config& cfg) : cfg_(cfg) {}
  arch::UnitWords words;  // PCU/PMU/AGCU words by id (switches added by bitstream())
  // Select of switch (r,c) vector output o = input i.
  void sel(uint32_t r, uint32_t c, uint32_t o, uint32_t i);
  // The same on the scalar or control network (arch::kScalarNet, kControlNet).
  void sel_net(uint32_t net, uint32_t r, uint32_t c, uint32_t o, uint32_t i);
  // Route (unit src output sp) -> (unit dst input dp) over free vector links (BFS,
  // shortest); false when no free path exists.
  bool route(uint32_t src, int sp, uint32_t dst, int dp);
  std::vector<uint32_t> bitstream() const;

 private:
  void attach(uint32_t unit, uint32_t& r, uint32_t& c) const;
  const arch::Config& cfg_;
  std::map<uint32_t, arch::SwitchConfig> sw_;  // by (r * (cols+1) + c)
};

}  // namespace openrdu::tb
