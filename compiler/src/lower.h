// Internal interfaces of the lowering passes (not installed).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "openrdu/arch/bitstream.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/pef/pef.h"

namespace openrdu::compiler::detail {

// ---------------------------------------------------------------- section program
// A value inside a section: external input k (k < num_inputs), or the result of
// op j (num_inputs + j), or an immediate, or the PCU group's scalar (the scalar input
// with `sin`, read as the stage's IMM with `simm`).
struct ValRef {
  enum Kind : uint8_t { Val, Imm, None, Scalar } kind = Val;
  int id = 0;
  uint32_t imm = 0;
  static ValRef val(int i) { return {Val, i, 0}; }
  static ValRef immediate(uint32_t bits) { return {Imm, 0, bits}; }
  static ValRef none() { return {None, 0, 0}; }  // operand the opcode does not read
  static ValRef scalar() { return {Scalar, 0, 0}; }
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
  int64_t s1 = 0, s2 = 0, s3 = 0;
};
struct AccessPlan {
  uint64_t inner = 1, c1 = 1, c2 = 1, c3 = 1;
  std::vector<Access> in;  // per input shape
  Access out;
  uint64_t elements() const { return inner * c1 * c2 * c3; }
  uint64_t vectors(uint32_t lanes) const { return c1 * c2 * c3 * ((inner + lanes - 1) / lanes); }
};
// Collapse the output dims to at most 4 [c3, c2, c1, inner] (an AGCU stream's four
// dimensions) with per-input strides (0 for broadcast dims). Throws CompileError naming
// `what` when it cannot.
AccessPlan plan_access(const std::vector<std::vector<int64_t>>& in_shapes, const std::vector<int64_t>& out_shape,
                       const std::string& what);
// How many address dimensions that broadcast needs (plan_access refuses more than 4).
size_t broadcast_address_dims(const std::vector<std::vector<int64_t>>& in_shapes,
                              const std::vector<int64_t>& out_shape, const std::string& what);

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
  bool from_pmu = false;  // the read data of PMU `index` of the section
};
struct Placement {
  std::vector<std::pair<uint32_t, uint32_t>> pcus;  // slot (row, col) per PCU
  std::vector<std::pair<uint32_t, uint32_t>> pmus;  // slot (row, col) per PMU
  std::vector<StreamRef> loads;                     // per load stream
  StreamRef store;                                  // stores the last PCU's result
  std::vector<StreamRef> more_stores;               // per entry of `more_stored`: its store stream
  std::map<uint32_t, arch::SwitchConfig> switches;  // by unit id
  std::vector<uint32_t> hops;  // per routed connection (PMU inputs, PCU inputs in order, then the stores): new switch hops
  std::vector<uint32_t> path_hops;  // per routed connection: switch hops from the net's source to this sink
  uint32_t wire_length = 0;         // switch-to-switch links of all nets (the sum of `hops`)
  uint32_t max_hops = 0;            // the longest source-to-sink path (each hop a pipeline register)
  uint32_t route_iterations = 0;    // negotiated-congestion iterations of the routed placement
  uint32_t attempts = 0;            // placements annealed until one routed (1: the first)
  std::vector<uint32_t> scalar_hops;  // per scalar link (place_and_route's scalar_links): its switch hops
};
// A scalar-network connection of a section: PCU `from`'s scalar output (sout) to PCU
// `to`'s scalar input (sin).
struct ScalarLink {
  int from = 0, to = 0;
};
// Choose PCU slots and AGCU streams for a section of PCUs (inputs per PCU; the last
// PCU's result is stored, and the result of each PCU in `more_stored` by a store
// stream of its own, on distinct AGCUs) with `n_loads` load streams, and route the
// vector nets on the switch grid. Throws CompileError naming `what`.
// `pmu_loads`: per PMU of the section, the load stream that writes it (its read data
// goes to the PCU inputs that name it with from_pmu).
// `stream_requests`: about the memory requests of each stream (0: unknown, long):
// below ~120 the placer weighs the AGCU/port balance by them against the configuration
// words of another AGCU, so short streams share AGCUs.
// `scalar_links`: scalar nets, routed on the scalar network (placed by their wire
// length like the vector nets; a source with several links fans out).
Placement place_and_route(const arch::Config& cfg, int n_loads, const std::vector<std::vector<PcuInput>>& pcu_inputs,
                          const std::string& what, const std::vector<int>& more_stored = {},
                          const std::vector<int>& pmu_loads = {}, uint64_t stream_requests = 0,
                          const std::vector<ScalarLink>& scalar_links = {});

// ---------------------------------------------------------------- graph legalisation
// The graph the sections are built from: a copy of the imported graph with
//  * Gemm split into its product (the node keeps op "Gemm", output an internal tensor
//    "<Y>.matmul") and an elementwise node "GemmEpilogue" (P [, C]) -> Y with attrs
//    alpha, beta, has_c, when alpha != 1 or (C given and beta != 0);
//  * constant MatMul/Gemm operands stored so that their loads are contiguous (A as
//    A^T, B as B, per batch), as new constants "<name>.T";
//  * with cfg: a run-time A (not transposed) of a product with n_acc > 1 and more
//    than one n-tile (N > LANES) transposed first by a Transpose node
//    "<node>.transposeA" into "<A>.T" (one gather pass instead of one per n-tile);
//  * every graph output that is a view (Reshape, Flatten, Squeeze, Unsqueeze) of a
//    graph input, a constant, or of a buffer another output owns, copied by an
//    "Identity" node into its own buffer (the view then writes "<Y>.view").
// View nodes get no section: their output aliases the input's DRAM bytes.
struct Lowered {
  Graph g;
  std::vector<int> root;                    // per tensor: the tensor whose DRAM buffer it uses
  std::vector<int> owner;                   // per root tensor: the tensor named in the PEF (output if any)
  std::map<int, std::pair<bool, bool>> trans;  // MatMul/Gemm node -> (A stored transposed, B stored transposed)
};
bool is_view_op(const std::string& op);
bool is_elementwise_op(const std::string& op);  // lowered by append_node_ops
// A tensor that must reach DRAM under its own buffer: a graph output or the new value of
// a training state (Graph::updates); fusion never keeps it on chip.
bool must_store(const Graph& g, int t);
// g is moved into Lowered::g. optimize (-O1/-O3), each bit-identical: a ReduceSum over the
// last axis whose rows and columns are multiples of LANES reads X transposed through a
// PMU (lower_graph.cc row_sum_by_transpose); math programs by operand shape
// (expand_math_node's by_shape, math_shape.cc).
Lowered legalize(Graph g, const arch::Config* cfg = nullptr, bool optimize = false);

// ---------------------------------------------------------------- section builds
// A stream before the DRAM layout: the tensor whose buffer it walks and the walk;
// base = address of root(tensor) + 4*offset is filled in at layout.
struct StreamPlan {
  int tensor = -1;
  int64_t offset = 0;  // elements
  arch::AgcuStream s;
};

// One section: PCUs (pipelined over the network), load streams, a store stream.
struct SectionBuild {
  std::string kind;  // elementwise, matmul, transpose
  std::vector<int> node_ids;
  int module = -1;  // the fusion module of its group (passes.h ModuleGroups), -1 none
  std::vector<SectionPlan> plans;  // elementwise: per PCU
  std::vector<StreamPlan> loads;   // per load stream
  StreamPlan store;
  std::vector<StreamPlan> more_stores;  // matmul over several PCUs: per placement.more_stores
  int output = -1;
  std::string name;
  std::string what;  // for messages
  std::vector<arch::PcuConfig> pcu_cfgs;
  std::vector<std::vector<PcuInput>> pcu_inputs;
  std::vector<arch::PmuConfig> pmu_cfgs;  // per PMU (placement.pmus)
  std::vector<int> pmu_loads;             // per PMU: the load stream that writes it
  Placement placement;
  uint64_t vectors = 0;  // vectors stored
  std::string detail;    // e.g. "M=1 K=64 N=32 n_acc=1 groups=8"
};

// One dimension of a stream walk.
struct WalkDim {
  uint64_t count = 1;
  int64_t stride = 0;  // elements
};
// An AGCU stream from dims (outer to inner): count-1 dims dropped, mergeable dims
// merged, padded to 4. mask_dim (index into dims, or -1): the dim whose index gives
// the lane mask with vlen/vstep; -1: every vector has `vstep` valid lanes. Throws
// CompileError naming `what` when more than 4 dims remain or a value does not fit.
arch::AgcuStream make_stream(std::vector<WalkDim> dims, int64_t lstride, int mask_dim, uint64_t vlen, uint64_t vstep,
                             uint32_t lanes, const std::string& what);

// MatMul / Gemm product (outer product with accumulators, on one PCU or split over
// several PCUs: m-parts x n-parts, the A and B streams fanned out).
// chain: PCUs per drain chain, 0 chosen by the estimate.
// `epilogue`: elementwise nodes (one PCU's chain, reading the product's result and
// operands of shape [N] or [M, N]) run after each drain chain's head in the same section,
// their result stored instead of the product's (CompileError when they cannot).
// `candidates`: of the first that many mappings that build (in the estimate's ranking),
// the one of least estimate plus configuration cycles (1: the first; HeuristicParams).
SectionBuild lower_matmul(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what,
                          int chain = 0, const std::vector<int>& epilogue = {}, int candidates = 1);
// Transpose: gather load, MOV, contiguous store.
SectionBuild lower_transpose(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what);

// Reductions (lower_reduce.cc): ReduceSum/Mean/Max/Min, one lane per output element
// accumulating its reduced elements in C order (ReduceMean: the sum; legalize() adds
// the FMUL by fp32(1/count) as an elementwise "MeanScale" node).
SectionBuild lower_reduce(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what);
// ReduceMax/Min over the last axis alone with keepdims (X's last dimension > 1), lowered
// by rows (one PCU, one output vector per row, its lanes all holding the row's result,
// the store writing lane 0): that section and the firings per row (ceil(n/LANES));
// false when the node is not such a reduction or its row mapping does not fit.
bool lower_reduce_last_axis_rows(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what,
                                 SectionBuild& out, uint64_t& row_vectors);

// Copies (lower_movement.cc). One dimension of a copy: count, source and destination
// strides (elements).
struct CopyDim {
  uint64_t count = 1;
  int64_t ld = 0, st = 0;
};
// Drop count-1 dims, merge adjacent dims whose strides both chain ({1,1,1} if none).
std::vector<CopyDim> collapse_copy_dims(const std::vector<CopyDim>& dims);
// A MOV section copying `src` (from element offset src_off) to `dst` (from dst_off)
// over dims (outer to inner); the innermost dim is vectorised.
SectionBuild copy_section(const arch::Config& cfg, int node, const std::string& name, int src, int64_t src_off,
                          int dst, int64_t dst_off, const std::vector<CopyDim>& dims, const std::string& kind,
                          const std::string& what);
// A section copying `src` (from src_off) to `dst` (from dst_off) by a MOV PCU over the
// given load and store walks (equal vector counts, else CompileError), its input from
// the load stream or, with through_pmu, from the section's PMU 0; not placed.
SectionBuild mov_section(const arch::Config& cfg, int node, const std::string& name, int src, int64_t src_off,
                         int dst, int64_t dst_off, const arch::AgcuStream& ld, const arch::AgcuStream& st,
                         const std::string& kind, const std::string& what, bool through_pmu = false);
// Memory requests of a stream as the functional model counts them: one per contiguous
// or broadcast vector, the valid lanes (at least 1) per gather/scatter vector.
uint64_t stream_requests(const arch::AgcuStream& s, uint32_t lanes);
// The most requests of any of the section's streams (place_and_route's stream_requests).
uint64_t max_stream_requests(const arch::Config& cfg, const SectionBuild& b);
// Concat (one section per non-empty input), Slice (one section), Gather with constant
// indices (one section per run of an arithmetic progression of indices).
std::vector<SectionBuild> lower_movement(const Lowered& lw, const arch::Config& cfg, int node,
                                         const std::string& what);
bool is_reduce_op(const std::string& op);
bool is_movement_op(const std::string& op);
// When input k of Concat `concat` is the output of a Slice (through views) that nothing
// else reads, the Slice node and the copy from its source straight into the Concat's
// output (source offset and dims); -1 otherwise. The Slice then gets no section.
int slice_into_concat(const Lowered& lw, int concat, size_t k, int64_t& off, std::vector<CopyDim>& dims);

// Estimated cycles of a section with the functional model's formula: the busiest
// unit (PCU: max(firings, outputs) + STAGES + 1; AGCU: memory requests over its
// streams, a gather/scatter vector counting its valid lanes) + DRAM latency +
// 2*(ROWS+COLS+2) + STAGES.
uint64_t estimate_cycles(const arch::Config& cfg, const SectionBuild& b);
// Estimated cycles to configure a section (its bitstream words as the configuration
// controller reads them; lower_split.cc).
uint64_t config_cycles(const arch::Config& cfg, const SectionBuild& b);

// A streaming section (elementwise or copy: every PCU one output per firing, every
// stream the store's iteration space) cut along one dimension into parts, each with its
// own PCUs, load streams and store stream on other AGCUs (lower_split.cc), when the
// estimate says it is faster; otherwise the section unchanged.
// `parts`: 0 chosen by the estimate, 1 never, N exactly N parts when possible.
SectionBuild split_streaming(const arch::Config& cfg, SectionBuild b, int parts = 0);

// ---------------------------------------------------------------- developer aids
std::string print_graph(const Graph& g);  // one line per tensor and node
std::string print_sections(const Lowered& lw, const std::vector<SectionBuild>& builds, const arch::Config& cfg);
std::string graph_dot(const Lowered& lw, const std::vector<SectionBuild>& builds);
// `notes`: per build, a line printed under it when not empty (the fusion module).
std::string mapping_report(const arch::Config& cfg, const std::vector<SectionBuild>& builds,
                           const std::vector<std::string>& notes = {});

}  // namespace openrdu::compiler::detail
