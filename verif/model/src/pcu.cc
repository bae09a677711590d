// PCU functional model (docs/architecture.md 4.1): untimed, same semantics as
// rtl/units/rdu_pcu.sv. Decisions shared with the RTL for fields outside the ISA:
// an opcode other than MOV..ITOF is a NOP, a destination >= regs writes nothing, an
// operand source outside {0..regs-1, IMM, LANE, ZERO} reads 0, an out_reg >= regs
// outputs zeros.
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
  if (words.size() > cfg_.config_words(arch::UnitKind::Pcu))
    throw std::invalid_argument(fmt::format("pcu: {} configuration words, the unit has {}", words.size(),
                                            cfg_.config_words(arch::UnitKind::Pcu)));
  c_ = arch::PcuConfig::decode(cfg_, words);
  fired_ = 0;
  resize_ports(3, 1);
}

bool Pcu::step(Memory*) {
  if (!c_.enable) return false;
  const uint32_t lanes = cfg_.lanes, nregs = cfg_.regs;
  bool moved = false;
  while (fired_ < c_.count) {
    for (int k = 0; k < 3; ++k)
      if ((c_.vin_mask >> k & 1) && in_[k].empty()) return moved;
    // Registers entering stage 0: reg[k] = vin[k] (0 when not in the mask), above 0.
    std::vector<Vec> regs(nregs, Vec(lanes, 0));
    for (int k = 0; k < 3; ++k) {
      if (!(c_.vin_mask >> k & 1)) continue;
      Vec v = std::move(in_[k].front());
      in_[k].pop_front();
      if (v.size() != lanes)
        throw std::invalid_argument(
            fmt::format("pcu: vector on input {} has {} words, expected {} lanes", k, v.size(), lanes));
      if (uint32_t(k) < nregs) regs[k] = std::move(v);
    }
    for (const arch::PcuStage& st : c_.stages) {
      if (!writes(st.op) || st.dst >= nregs) continue;
      auto operand = [&](uint8_t src, uint32_t lane) -> uint32_t {
        if (src < nregs) return regs[src][lane];
        switch (static_cast<arch::Src>(src)) {
          case arch::Src::IMM: return st.imm;
          case arch::Src::LANE: return fired_ * lanes + lane;
          default: return 0;
        }
      };
      Vec r(lanes);
      for (uint32_t l = 0; l < lanes; ++l) r[l] = pcu_op(st.op, operand(st.src_a, l), operand(st.src_b, l), operand(st.src_c, l));
      regs[st.dst] = std::move(r);
    }
    out_[0].push_back(c_.out_reg < nregs ? regs[c_.out_reg] : Vec(lanes, 0));
    ++fired_;
    moved = true;
  }
  return moved;
}

bool Pcu::done() const { return !c_.enable || fired_ >= c_.count; }

uint64_t Pcu::busy_cycles() const { return fired_ ? uint64_t(fired_) + cfg_.stages : 0; }

}  // namespace openrdu::model
