// PCU functional model (`docs/bitstream.md` ("PCU configuration")): untimed, same semantics as
// rtl/units/rdu_pcu.sv. Decisions shared with the RTL for fields outside the ISA:
// an opcode other than MOV..ITOF is a NOP, a destination >= regs writes nothing, an
// operand source outside {0..regs-1, BREG0..BREG(regs-1), IMM, LANE, ZERO, ACC} reads
// 0, an out_reg >= regs outputs zeros. A stage's accumulator takes the stage's ALU
// result r = pcu_op(op, A, B, C) (for NOP and opcodes outside the ISA r = A), whatever
// its destination.
#include <fmt/format.h>

#include "openrdu/model/units.h"

namespace openrdu::model {

namespace {

// Every opcode of the ISA but NOP (values 1..ITOF) produces a result.
bool writes(arch::Opcode op) {
  return op != arch::Opcode::NOP && uint32_t(op) <= uint32_t(arch::Opcode::ITOF);
}

}  // namespace

Pcu::Pcu(const arch::Config& cfg) : Unit(cfg) { resize_ports(3, 1); }

void Pcu::configure(std::span<const uint32_t> words) {
  check_word_count("pcu", words.size(), cfg_.config_words(arch::UnitKind::Pcu));
  c_ = arch::PcuConfig::decode(cfg_, words);
  fired_ = 0;
  emitted_ = 0;
  fwd_left_ = 0;
  groups_started_ = 0;
  grp_scal_ = 0;
  sin_.clear();
  sout_.clear();
  tok_in_ = tok_out_ = 0;
  for (uint32_t k = 0; k < arch::kPcuCounters; ++k) ctr_[k] = uint32_t(c_.ctr[k].min);
  acc_.assign(cfg_.stages, Vec(cfg_.lanes, 0));
  resize_ports(3, 1);
}

// After a firing: counter 0 steps by stride0*LANES; a counter whose stepped value reaches
// its max (signed, 32-bit wrapping arithmetic) returns to its min and the next one steps.
void Pcu::step_counters() {
  for (uint32_t k = 0; k < arch::kPcuCounters; ++k) {
    const arch::PcuCounter& c = c_.ctr[k];
    const uint32_t v = ctr_[k] + uint32_t(c.stride) * (k == 0 ? cfg_.lanes : 1u);
    if (int32_t(v) < c.max) {
      ctr_[k] = v;
      return;
    }
    ctr_[k] = uint32_t(c.min);
  }
}

void Pcu::emit(Vec v) {
  if (c_.sout) sout_.push_back(v[0]);
  out_[0].push_back(std::move(v));
  ++emitted_;
}

// Fixed pairwise tree: level 1 combines lanes (0,1), (2,3), ...; each further level
// combines the previous level's results pairwise in order.
Vec Pcu::reduce(Vec v) const {
  if (c_.reduce == 0) return v;
  const arch::Opcode op = c_.reduce == 1 ? arch::Opcode::FADD : c_.reduce == 2 ? arch::Opcode::FMAX : arch::Opcode::FMIN;
  Vec t = v;
  while (t.size() > 1) {
    Vec n(t.size() / 2);
    for (size_t i = 0; i < n.size(); ++i) n[i] = pcu_op(op, t[2 * i], t[2 * i + 1], 0);
    t = std::move(n);
  }
  return Vec(v.size(), t[0]);
}

// Drain chain: forwards the last group's vectors of input 2, which come before the next
// group's outputs (the RTL keeps firing meanwhile; the order of the outputs is the same).
bool Pcu::forward_chain() {
  bool moved = false;
  for (; fwd_left_ && !in_[2].empty(); --fwd_left_) {
    Vec v = std::move(in_[2].front());
    in_[2].pop_front();
    if (v.size() != cfg_.lanes)
      throw std::invalid_argument(fmt::format("pcu: vector on input 2 has {} words, expected {} lanes", v.size(), cfg_.lanes));
    emit(std::move(v));
    if (fwd_left_ == 1 && c_.tout) ++tok_out_;  // the group's last output
    moved = true;
  }
  return moved;
}

// Whether the next firing (position pos in its group) can happen: its operands are there
// and, when a group starts, its scalar and its credit (then taken).
bool Pcu::ready_to_fire(uint8_t mask, uint32_t pos) {
  if (fwd_left_ || fired_ >= c_.count || out_[0].size() >= step_limit_) return false;
  for (int k = 0; k < 3; ++k)
    if ((mask >> k & 1) && in_[k].empty()) return false;
  if (pos != 0) return true;
  if (c_.sin && sin_.empty()) return false;
  if (c_.tin && uint64_t(c_.tok_init) + tok_in_ <= groups_started_) return false;
  if (c_.sin) {
    grp_scal_ = sin_.front();
    sin_.pop_front();
  }
  ++groups_started_;
  return true;
}

// Registers entering stage 0: reg[k] = vin[k] (0 when not in the mask), above 0.
std::vector<Vec> Pcu::take_inputs(uint8_t mask) {
  const uint32_t lanes = cfg_.lanes;
  std::vector<Vec> regs(cfg_.regs, Vec(lanes, 0));
  for (int k = 0; k < 3; ++k) {
    if (!(mask >> k & 1)) continue;
    Vec v = std::move(in_[k].front());
    in_[k].pop_front();
    if (v.size() != lanes)
      throw std::invalid_argument(
          fmt::format("pcu: vector on input {} has {} words, expected {} lanes", k, v.size(), lanes));
    if (uint32_t(k) < cfg_.regs) regs[k] = std::move(v);
  }
  return regs;
}

// The stages in order over regs, at position pos of the group (accumulators update).
void Pcu::run_stages(std::vector<Vec>& regs, uint32_t pos) {
  const uint32_t lanes = cfg_.lanes, nregs = cfg_.regs;
  const auto breg0 = uint8_t(arch::Src::BREG0), acc_src = uint8_t(arch::Src::ACC);
  for (size_t s = 0; s < c_.stages.size(); ++s) {
    const arch::PcuStage& st = c_.stages[s];
    const bool use_init = !st.acc || pos == 0;
    auto operand = [&](uint8_t src, uint32_t lane) -> uint32_t {
      if (src < nregs) return regs[src][lane];
      if (src >= breg0 && src < breg0 + 4) {
        const uint32_t k = src - breg0;
        return k < nregs ? regs[k][st.bl % lanes] : 0;
      }
      if (src == acc_src) return use_init ? c_.acc_init : acc_[s][lane];
      switch (static_cast<arch::Src>(src)) {
        case arch::Src::IMM: return st.simm ? (c_.sin ? grp_scal_ : 0u) : st.imm;
        case arch::Src::LANE: return fired_ * lanes + lane;
        case arch::Src::CTR0: return ctr_[0] + uint32_t(c_.ctr[0].stride) * lane;
        case arch::Src::CTR1: return ctr_[1];
        case arch::Src::CTR2: return ctr_[2];
        case arch::Src::TAIL:
          return int32_t(ctr_[0] + uint32_t(c_.ctr[0].stride) * lane) < c_.ctr[0].max ? 0x3F800000u : 0u;
        default: return 0;
      }
    };
    Vec r(lanes);
    for (uint32_t l = 0; l < lanes; ++l) r[l] = pcu_op(st.op, operand(st.src_a, l), operand(st.src_b, l), operand(st.src_c, l));
    if (st.acc) acc_[s] = r;
    if (writes(st.op) && st.dst < nregs) regs[st.dst] = std::move(r);
  }
}

// A firing's outputs: stream mode every firing, accumulator mode at the group's last.
void Pcu::emit_outputs(const std::vector<Vec>& regs, bool last) {
  if (c_.out_mode == 0) {
    emit(reduce(c_.out_reg < cfg_.regs ? regs[c_.out_reg] : Vec(cfg_.lanes, 0)));
    if (last && c_.tout) ++tok_out_;
  } else if (last) {
    bool any = false;
    for (size_t s = 0; s < c_.stages.size(); ++s)
      if (c_.stages[s].acc) {
        emit(reduce(acc_[s]));
        any = true;
      }
    if (any) fwd_left_ = c_.chained() ? c_.chain : 0;
    if (any && !c_.chained() && c_.tout) ++tok_out_;
  }
}

bool Pcu::step(Memory*) {
  if (!c_.sin) sin_.clear();  // scalars a PCU without sin receives are dropped, as in the RTL
  if (!c_.enable) return false;
  const uint32_t acc_len = c_.acc_len ? c_.acc_len : 1;
  bool moved = false;
  // Drain chain: input 2 is forwarded after each group's outputs, not a firing operand.
  const uint8_t mask = c_.chained() ? uint8_t(c_.vin_mask & 0b011) : c_.vin_mask;
  while (true) {
    if (forward_chain()) moved = true;
    const uint32_t pos = fired_ % acc_len;
    if (!ready_to_fire(mask, pos)) return moved;
    std::vector<Vec> regs = take_inputs(mask);
    const bool last = pos == acc_len - 1 || fired_ == c_.count - 1;
    run_stages(regs, pos);
    emit_outputs(regs, last);
    ++fired_;
    step_counters();
    moved = true;
  }
}

// As the RTL: every output emitted; accumulator mode without acc stages has none.
bool Pcu::done() const {
  if (!c_.enable) return true;
  if (fired_ >= c_.count) return fwd_left_ == 0;
  if (c_.out_mode == 0) return false;
  for (const arch::PcuStage& st : c_.stages)
    if (st.acc) return false;
  return true;
}

uint64_t Pcu::busy_cycles() const { return pcu_busy_cycles(cfg_, fired_, emitted_); }

}  // namespace openrdu::model
