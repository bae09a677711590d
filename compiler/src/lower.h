// Internal interfaces of the lowering passes (not installed).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler::detail {

// ---------------------------------------------------------------- section program
// A value inside a section: external input k (k < num_inputs), or the result of
// op j (num_inputs + j), or an immediate.
struct ValRef {
  enum Kind : uint8_t { Val, Imm, None } kind = Val;
  int id = 0;
  uint32_t imm = 0;
  static ValRef val(int i) { return {Val, i, 0}; }
  static ValRef immediate(uint32_t bits) { return {Imm, 0, bits}; }
  static ValRef none() { return {None, 0, 0}; }  // operand the opcode does not read
};
struct SectionOp {
  arch::Opcode op = arch::Opcode::NOP;
  ValRef a, b;                // b unused for MOV, FABS, FNEG
  ValRef c = ValRef::none();  // third operand: FMA and SEL only
};

// One section: a fused chain of elementwise operations on one PCU.
struct SectionPlan {
  std::string name;             // node name (or names joined by '+')
  std::vector<int> node_ids;    // nodes it runs
  std::vector<int> ext_inputs;  // tensors loaded from DRAM (unique), in vin order
  int output = -1;              // tensor stored to DRAM
  std::vector<SectionOp> ops;   // the result of the last op is the output
};

// Append the ops of node `n` whose operands are the given values; returns the value
// id of its result.
int append_node_ops(const Graph& g, const Node& n, const std::vector<ValRef>& operands, SectionPlan& plan);

// Register allocation and stage assignment: the PCU program for the plan.
arch::PcuConfig pcu_program(const arch::Config& cfg, const SectionPlan& plan, uint32_t count, const std::string& what);

// ---------------------------------------------------------------- affine access
struct Access {
  bool bcast = false;  // inner stride 0
  int64_t s1 = 0, s2 = 0;
};
struct AccessPlan {
  uint64_t inner = 1, c1 = 1, c2 = 1;
  std::vector<Access> in;  // per input shape
  Access out;
  uint64_t vectors(uint32_t lanes) const { return c1 * c2 * ((inner + lanes - 1) / lanes); }
};
// Collapse the output dims to at most 3 [c2, c1, inner] with per-input strides
// (0 for broadcast dims). Throws CompileError naming `what` when it cannot.
AccessPlan plan_access(const std::vector<std::vector<int64_t>>& in_shapes, const std::vector<int64_t>& out_shape,
                       const std::string& what);

// ---------------------------------------------------------------- place and route
struct StreamRef {
  uint32_t agcu = 0;
  uint32_t stream = 0;  // 0 ld0, 1 ld1, 2 st0
};
// Where a PCU vector input comes from: DRAM load stream `index` of the section, or
// the result of PCU `index` of the section (streamed over the network).
struct PcuInput {
  bool from_pcu = false;
  int index = 0;
};
struct Placement {
  std::vector<std::pair<uint32_t, uint32_t>> pcus;  // slot (row, col) per PCU
  std::vector<StreamRef> loads;                     // per load stream
  StreamRef store;                                  // stores the last PCU's result
  std::map<uint32_t, arch::SwitchConfig> switches;  // by unit id
};
// Choose PCU slots and AGCU streams for a section of PCUs (inputs per PCU; the last
// PCU's result is stored) with `n_loads` load streams, and route the vector nets on
// the switch grid. Throws CompileError naming `what`.
Placement place_and_route(const arch::Config& cfg, int n_loads, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                          const std::string& what);

}  // namespace openrdu::compiler::detail
