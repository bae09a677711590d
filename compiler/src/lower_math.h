// Special functions and elementwise math operators as fixed sequences of PCU
// operations (issue 3): exp, log, reciprocal, sqrt, rsqrt, tanh, sigmoid, erf, and the
// ONNX operators built on them (Exp, Log, Sqrt, Reciprocal, Div, Sigmoid, Tanh, Erf,
// Pow, Elu, Selu, Softplus, Softsign, Mean), and IsNaN, IsInf, Sign, Round, Floor, Ceil,
// Mod (fp32 fmod, lower_math.cc).
//
// One definition serves the device and the CPU reference: `math_program` builds the
// sequence (SectionOp list over the node's inputs); the lowering emits it onto PCU
// stages (split into several PCUs / sections when it is longer than a PCU, its ops
// possibly reordered to need fewer, see `schedule_program`), and the reference
// interprets the same list with the functional model's `model::pcu_op`, the device's
// fp32/int32 rules (`docs/hardware.md` ("PCU operations")), so the device equals the reference
// bit for bit by construction (the ops are pure: any order of them that respects their
// operands gives the same bits).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lower.h"

namespace openrdu::compiler::detail {

// A straight-line program: values 0..ninputs-1 are the inputs, value ninputs+j the
// result of ops[j]; the result of the last op is the program's result.
struct MathProgram {
  int ninputs = 1;
  std::vector<SectionOp> ops;
};

// Operators lowered as math programs (elementwise, fp32).
bool is_math_op(const std::string& op);

// The program of node `n` (ninputs = its input count). Throws CompileError naming the
// node for an unsupported attribute or exponent.
MathProgram math_program(const Graph& g, const Node& n);

// Programs of the special functions by name ("exp", "log", "reciprocal", "sqrt", "rsqrt",
// "tanh", "sigmoid", "erf", "div"): used by the reference, the tests and bench/ulp.
MathProgram function_program(const std::string& name);

// Run a program on one element (inputs as bit patterns).
uint32_t run_program(const MathProgram& p, const uint32_t* in);
float run_program_f(const MathProgram& p, const std::vector<float>& in);

// Segments of a program, each fitting one PCU of `cfg` (stages, registers, vector
// inputs). Segment k's inputs are program inputs or earlier segments' results (a
// segment's result is its last op); a value used after its segment is always that
// segment's result.
struct MathSegment {
  std::vector<int> inputs;  // program value ids (program inputs or earlier segments' last ops)
  int first = 0, last = 0;  // op range [first, last]
};
// The fewest segments for p's op order (exact). Throws CompileError naming `what` when
// some op range fits no PCU.
std::vector<MathSegment> split_program(const arch::Config& cfg, const MathProgram& p, const std::string& what);

// The fewest segments over the orders of p's ops (any topological order computes the
// same bits): `program` is p with its ops reordered (operands renumbered) when that
// saves segments, else p; `segs` index its ops.
struct MathSplit {
  MathProgram program;
  std::vector<MathSegment> segs;
};
MathSplit schedule_program(const arch::Config& cfg, const MathProgram& p, const std::string& what);

// Value ids read by op `o`, in operand order (repeats included).
template <class F>
void for_reads(const SectionOp& o, F f) {
  for (const ValRef* v : {&o.a, &o.b, &o.c})
    if (v->kind == ValRef::Val) f(v->id);
}

// -O1/-O3 (math_shape.cc): node n's program computing the same bits with fewer ops on
// the output's elements: constant scalar operands folded in as immediates, FMUL by 1.0f
// dropped where NaN-canonicalising ops read it, and the ops that read only operands
// smaller than the output (one shape) moved to `parts`, each computed over `part_shape`
// (but those of at most `recompute_ops` ops, computed per element: see math_shape.cc).
// A new value tensor named `base` (or "<base>.<i>" when taken) of `shape`.
int new_value(Graph& g, const std::string& base, const std::vector<int64_t>& shape);

struct MathByShape {
  MathProgram program;             // over n's inputs, then the parts' results
  std::vector<MathProgram> parts;  // part t: over n's inputs, then parts 0..t-1's results
  std::vector<int64_t> part_shape;
  bool changed = false;  // differs from math_program(g, n)
};
MathByShape math_by_shape(const Graph& g, const Node& n, int recompute_ops);

// Legalisation: node `n` (a math op) becomes one node per segment, op "MathSeg",
// iattrs["ops"] holding the segment's ops (see lower_math.cc), intermediate tensors
// "<Y>.m<k>"; the last segment writes the node's output. With `by_shape` (-O1/-O3) the
// program of math_by_shape: part t's segments named "<node>.b<t>[.m<k>]", writing
// "<Y>.b<t>" of the part shape.
std::vector<Node> expand_math_node(Graph& g, const Node& n, const arch::Config* cfg, bool by_shape = false);

// append_node_ops for "MathSeg".
ValRef append_math_segment(const Node& n, const std::vector<ValRef>& in, SectionPlan& plan);

}  // namespace openrdu::compiler::detail
