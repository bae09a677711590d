// The unit models: PCU, PMU, AGCU, and the switch routing.
#pragma once
#include "openrdu/model/cost.h"
#include "openrdu/model/unit.h"

namespace openrdu::model {

class Pcu : public Unit {
 public:
  explicit Pcu(const arch::Config& cfg);
  void configure(std::span<const uint32_t> words) override;
  int num_vin() const override { return 3; }
  int num_vout() const override { return 1; }
  bool step(Memory* mem) override;
  bool done() const override;
  uint64_t busy_cycles() const override;
  const arch::PcuConfig& config() const { return c_; }

 private:
  Vec reduce(Vec v) const;  // cross-lane reduction (c_.reduce), every lane = the result
  arch::PcuConfig c_;
  uint32_t fired_ = 0;
  uint64_t emitted_ = 0;
  uint32_t fwd_left_ = 0;  // drain chain: vectors of input 2 still to forward after the last group
  std::vector<Vec> acc_;  // per stage: the stage's accumulator (result of the previous firing)
  // Counter chain: the values of the next firing (counter 0: lane 0's value).
  std::array<uint32_t, arch::kPcuCounters> ctr_{};
  void step_counters();
  uint64_t groups_started_ = 0;  // groups whose first firing happened (tin: credits used)
  uint32_t grp_scal_ = 0;        // the current group's scalar input (sin)
  void emit(Vec v);              // an output vector (and with sout its lane 0)
  // The steps of step() (pcu.cc).
  bool forward_chain();
  bool ready_to_fire(uint8_t mask, uint32_t pos);
  std::vector<Vec> take_inputs(uint8_t mask);
  void run_stages(std::vector<Vec>& regs, uint32_t pos);
  void emit_outputs(const std::vector<Vec>& regs, bool last);
};

class Pmu : public Unit {
 public:
  explicit Pmu(const arch::Config& cfg);
  void configure(std::span<const uint32_t> words) override;
  int num_vin() const override { return 1; }
  int num_vout() const override { return 1; }
  bool step(Memory* mem) override;
  bool done() const override;
  uint64_t busy_cycles() const override;
  // Bank b, row a (physical storage, for tests).
  uint32_t word(uint32_t bank, uint32_t row) const { return mem_[uint64_t(row) * cfg_.lanes + bank]; }
  const arch::PmuConfig& config() const { return c_; }

 private:
  void write_access(const Vec& v);  // write wacc_ of tile wtile_
  Vec read_access() const;          // read racc_ of tile rtile_
  arch::PmuConfig c_;
  std::vector<uint32_t> mem_;  // row-major: row * lanes + bank (physical)
  uint64_t writes_ = 0, reads_ = 0;  // accesses made, all tiles
  uint32_t wtile_ = 0, rtile_ = 0;   // tiles whose writes / reads are complete
  uint64_t wacc_ = 0, racc_ = 0;     // accesses made in the current tile
};

class Agcu : public Unit {
 public:
  explicit Agcu(const arch::Config& cfg);
  void configure(std::span<const uint32_t> words) override;
  int num_vin() const override { return 1; }
  int num_vout() const override { return 2; }
  bool step(Memory* mem) override;  // throws MemoryError
  bool done() const override;
  uint64_t busy_cycles() const override;
  // Memory requests made (a gather/scatter vector counting its valid lanes, >= 1): the
  // core's memory port p takes one request per cycle from all the AGCUs k with k mod
  // MEM_PORTS = p (Core adds that bound).
  uint64_t requests() const { return requests_; }
  const arch::AgcuConfig& config() const { return c_; }

 private:
  bool credit(const arch::AgcuStream& s, uint64_t j) const;  // may vector j of s move (tin)
  arch::AgcuConfig c_;
  uint64_t loaded_[2] = {0, 0};
  uint64_t stored_ = 0;
  uint64_t requests_ = 0;  // busy cycles: vectors, a gather vector counting its valid lanes (>= 1)
  uint64_t ld_requests_[2] = {0, 0};  // the same count per load stream (the in-flight bound)
};

}  // namespace openrdu::model
