// Lowering of ReduceSum / ReduceMean / ReduceMax / ReduceMin / ReduceProd (any axes,
// keepdims) onto one PCU with accumulators (`docs/bitstream.md` and `docs/compiler.md`).
//
// Mapping: one lane per output element, each lane accumulating its reduced elements
// sequentially in C order, so the device computes exactly the CPU reference's order
// (sum from -0.0 in C order, FMAX/FMIN chains from -inf/+inf) on every configuration;
// the result does not depend on LANES (a lane-parallel sum followed by the reduce tree
// would, and the reference is configuration-independent).
//  * Kept dimensions (not reduced, count > 1; adjacent ones merged where X's strides
//    chain): the innermost is the lane dimension, split into vectors of LANES outputs
//    (lane stride = its X stride: contiguous when X's innermost dimension is kept,
//    otherwise a gather; the tail masked by vdim/vlen); the others are outer loops.
//  * Groups = (outer kept index, lane vector), in output C order; each group is
//    acc_len = R firings (R = number of reduced elements), the reduced dimensions
//    walked in C order inside the group (innermost loop of the load stream).
//  * Stage 0: FADD(ACC, REG0) (sum; ReduceMean is split by legalize() into this sum
//    and an elementwise FMUL by fp32(1/R)), FMAX(ACC, REG0), FMIN(ACC, REG0) or
//    FMUL(ACC, REG0) (ReduceProd), acc = 1; acc_init -0.0 / -inf / +inf / 1.0; out_mode accumulators (one vector per group), no
//    cross-lane reduction; masked lanes accumulate zeros and are not stored.
//  * Store: contiguous in output order, the lane tail masked.
// Load stream dims: outer kept dims + the lane-vector dim + reduced dims (merged where
// strides chain) must be at most 4, else an error naming the node.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <limits>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

// Groups of `firings` firings each must fit the PCU's 32-bit count register.
void check_firings(uint64_t groups, uint64_t firings, const std::string& what) {
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  if (firings > kU32 || groups * firings > kU32)
    throw CompileError(fmt::format("{}: {} groups of {} firings do not fit the count register", what, groups, firings));
}

// A PCU reading one vector input, accumulating `acc_len` firings from `init` per group
// and writing one vector per group (out_mode accumulators); its stages `first`, then
// empty ones up to the configuration's.
arch::PcuConfig accumulating_pcu(const arch::Config& cfg, uint64_t groups, uint64_t acc_len, uint32_t init,
                                 const std::vector<arch::PcuStage>& first) {
  arch::PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b1;
  pc.count = uint32_t(groups * acc_len);
  pc.out_mode = 1;
  pc.acc_len = uint32_t(acc_len);
  pc.acc_init = init;
  for (uint32_t s = 0; s < cfg.stages; ++s) pc.stages.push_back(s < first.size() ? first[s] : arch::PcuStage{});
  return pc;
}

// The stage dst = op(ACC, src), accumulating.
arch::PcuStage accumulate_stage(arch::Opcode op, arch::Src src, uint8_t dst) {
  arch::PcuStage stg;
  stg.op = op;
  stg.src_a = uint8_t(arch::Src::ACC);
  stg.src_b = uint8_t(src);
  stg.dst = dst;
  stg.acc = true;
  return stg;
}

// The one-PCU reduce section of node `node`: its input loaded by `load`, its output
// stored by `store`, the PCU `pc` placed and routed.
SectionBuild reduce_section(const Graph& g, const arch::Config& cfg, int node, const std::string& what,
                            const arch::AgcuStream& load, const arch::AgcuStream& store, const arch::PcuConfig& pc) {
  const Node& n = g.nodes.at(size_t(node));
  SectionBuild b;
  b.kind = "reduce";
  b.node_ids = {node};
  b.name = n.name;
  b.what = what;
  b.output = n.outputs.at(0);
  StreamPlan l;
  l.tensor = n.inputs.at(0);
  l.s = load;
  b.loads = {l};
  b.store.tensor = b.output;
  b.store.s = store;
  b.pcu_cfgs = {pc};
  b.pcu_inputs = {{{false, 0}}};
  b.placement = place_and_route(cfg, 1, b.pcu_inputs, what);
  b.vectors = b.store.s.vectors();
  return b;
}

// ReduceMax/Min over rows: X's innermost run of reduced dims (Rin elements, contiguous)
// loaded as vectors (tail masked: the AGCU zeroes those lanes), the lane-wise FMAX/FMIN
// accumulated over the run's vectors and the outer reduced dims, then the PCU's reduce
// tree; the store writes lane 0 (lstride 0) per output. The masked lanes are replaced
// by -inf/+inf with SEL on the PCU's tail mask: counter 0 of its counter chain walks the
// run ({0, Rin, 1}: nvr firings, then it wraps for the next run), TAIL is 1.0 where the
// position in the run is < Rin.
SectionBuild lower_reduce_rows(const Graph& g, const arch::Config& cfg, int node, const std::vector<WalkDim>& kept,
                               const std::vector<WalkDim>& rdims, const std::string& what) {
  const Node& n = g.nodes.at(size_t(node));
  const WalkDim rin = rdims.back();
  const int64_t L = cfg.lanes;
  const uint64_t nvr = (rin.count + uint64_t(L) - 1) / uint64_t(L);
  if (rin.stride != 1 || rin.count > uint64_t(std::numeric_limits<int32_t>::max()))
    throw CompileError(fmt::format("{}: the reduced run is not contiguous or too long for a counter", what));
  std::vector<WalkDim> ld, st;
  uint64_t outputs = 1, acc_len = nvr;
  for (const WalkDim& k : kept) {
    ld.push_back(k);
    outputs *= k.count;
  }
  for (size_t i = 0; i + 1 < rdims.size(); ++i) {
    ld.push_back(rdims[i]);
    acc_len *= rdims[i].count;
  }
  ld.push_back({nvr, L});
  st.push_back({outputs, 1});
  check_firings(outputs, acc_len, what);
  const arch::AgcuStream load = make_stream(ld, 1, int(ld.size()) - 1, rin.count, uint64_t(L), cfg.lanes, what + " (load)");
  const arch::AgcuStream store = make_stream(st, 0, -1, 0, 1, cfg.lanes, what + " (store)");
  const bool is_max = n.op == "ReduceMax";
  const uint32_t pad = std::bit_cast<uint32_t>(is_max ? -INFINITY : INFINITY);
  arch::PcuStage tail;  // r2 = TAIL != 0 ? x : pad
  tail.op = arch::Opcode::SEL;
  tail.src_a = uint8_t(arch::Src::TAIL);
  tail.src_b = uint8_t(arch::Src::REG0);
  tail.src_c = uint8_t(arch::Src::IMM);
  tail.imm = pad;
  tail.dst = 2;
  arch::PcuConfig pc = accumulating_pcu(
      cfg, outputs, acc_len, pad, {tail, accumulate_stage(is_max ? arch::Opcode::FMAX : arch::Opcode::FMIN, arch::Src::REG2, 2)});
  pc.ctr[0] = {0, int32_t(rin.count), 1};  // TAIL: position in the run < Rin
  pc.reduce = is_max ? 2 : 3;
  SectionBuild b = reduce_section(g, cfg, node, what, load, store, pc);
  if (b.vectors != outputs || b.loads[0].s.vectors() != outputs * acc_len)
    throw CompileError(fmt::format("{}: stream walks do not match ({} outputs, {} firings)", what, outputs,
                                   outputs * acc_len));
  b.detail = fmt::format("{} rows of {} elements ({} vectors each), tail mask + reduce tree, {} outputs",
                         gen::opcode_name(is_max ? arch::Opcode::FMAX : arch::Opcode::FMIN), rin.count, acc_len,
                         outputs);
  return b;
}

// X's dimensions split into kept and reduced walks (count-1 dims dropped, adjacent
// dims of the same kind merged where X's strides chain); R = reduced elements per output.
void reduce_dims(const Graph& g, const Node& n, const std::string& what, std::vector<WalkDim>& kept,
                 std::vector<WalkDim>& rdims, uint64_t& R) {
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const auto& sx = g.tensors[x].shape;
  const size_t r = sx.size();
  if (g.tensors[x].elements() == 0 || g.tensors[y].elements() == 0)
    throw CompileError(fmt::format("{}: input {} has no elements (not supported)", what, shape_str(sx)));
  std::vector<bool> red(r, false);
  for (int64_t a : n.ints("axes")) {
    if (a < 0 || size_t(a) >= r) throw CompileError(fmt::format("{}: axis {} out of range for {}", what, a, shape_str(sx)));
    red[size_t(a)] = true;
  }
  std::vector<int64_t> xs(r, 1);
  for (size_t i = r; i-- > 1;) xs[i - 1] = xs[i] * sx[i];
  R = 1;
  for (size_t d = 0; d < r; ++d) {
    if (red[d]) R *= uint64_t(sx[d]);
    if (sx[d] == 1) continue;
    std::vector<WalkDim>& v = red[d] ? rdims : kept;
    const WalkDim w{uint64_t(sx[d]), xs[d]};
    // Merge with the previous dim of the same kind when adjacent in X (strides chain).
    if (!v.empty() && v.back().stride == w.stride * int64_t(w.count)) {
      v.back().count *= w.count;
      v.back().stride = w.stride;
    } else {
      v.push_back(w);
    }
  }
}

}  // namespace

bool lower_reduce_last_axis_rows(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what,
                                 SectionBuild& out, uint64_t& row_vectors) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  if (n.op != "ReduceMax" && n.op != "ReduceMin") return false;
  const auto& sx = g.tensors[n.inputs.at(0)].shape;
  const auto& sy = g.tensors[n.outputs.at(0)].shape;
  const auto axes = n.ints("axes");
  if (sx.empty() || sx.back() < 2 || axes.size() != 1 || axes[0] != int64_t(sx.size()) - 1 ||
      sy.size() != sx.size())
    return false;
  std::vector<WalkDim> kept, rdims;
  uint64_t R = 0;
  try {
    reduce_dims(g, n, what, kept, rdims, R);
    if (rdims.size() != 1 || rdims.back().stride != 1) return false;
    out = lower_reduce_rows(g, cfg, node, kept, rdims, what);
  } catch (const CompileError&) {
    return false;
  }
  row_vectors = (rdims.back().count + cfg.lanes - 1) / cfg.lanes;
  return out.pcu_cfgs.size() == 1 && out.pcu_cfgs[0].acc_len == row_vectors;
}

namespace {

// The accumulating opcode of a reduction and its initial value (`init`).
arch::Opcode reduce_opcode(const Node& n, const std::string& what, uint32_t& init) {
  init = 0x80000000u;  // -0.0
  if (n.op == "ReduceMax") {
    init = std::bit_cast<uint32_t>(-INFINITY);
    return arch::Opcode::FMAX;
  }
  if (n.op == "ReduceMin") {
    init = std::bit_cast<uint32_t>(INFINITY);
    return arch::Opcode::FMIN;
  }
  if (n.op == "ReduceProd") {
    init = std::bit_cast<uint32_t>(1.0f);
    return arch::Opcode::FMUL;
  }
  if (n.op != "ReduceSum" && n.op != "ReduceMean") throw CompileError(fmt::format("{}: not a reduction", what));
  return arch::Opcode::FADD;
}

// The load and store walks of the lane-per-output mapping: the kept dims but the lane
// dim as outer loops (the store in output C order over them), the lane vectors (the
// mask dim, returned), then the reduced dims (load only); `groups` counts the outputs'
// vectors.
int lane_walks(const std::vector<WalkDim>& kept, const WalkDim& lane, const std::vector<WalkDim>& rdims, int64_t L,
               std::vector<WalkDim>& ld, std::vector<WalkDim>& st, uint64_t& groups) {
  const uint64_t nv = (lane.count + uint64_t(L) - 1) / uint64_t(L);
  std::vector<int64_t> os(kept.size());  // output strides of the kept dims
  int64_t s = int64_t(lane.count);
  for (size_t i = kept.size(); i-- > 0;) {
    os[i] = s;
    s *= int64_t(kept[i].count);
  }
  groups = nv;
  for (size_t i = 0; i < kept.size(); ++i) {
    ld.push_back(kept[i]);
    st.push_back({kept[i].count, os[i]});
    groups *= kept[i].count;
  }
  const int mask_dim = int(ld.size());
  ld.push_back({nv, L * lane.stride});
  st.push_back({nv, L});
  ld.insert(ld.end(), rdims.begin(), rdims.end());
  return mask_dim;
}

}  // namespace

SectionBuild lower_reduce(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const auto& sx = g.tensors[n.inputs.at(0)].shape;
  std::vector<WalkDim> kept, rdims;
  uint64_t R = 1;
  reduce_dims(g, n, what, kept, rdims, R);
  // ReduceMax/Min over X's innermost (contiguous) run: the row mapping when it fits the
  // streams (else the lane-per-output mapping below).
  if ((n.op == "ReduceMax" || n.op == "ReduceMin") && !rdims.empty() && rdims.back().stride == 1 &&
      rdims.back().count > 1) {
    try {
      return lower_reduce_rows(g, cfg, node, kept, rdims, what);
    } catch (const CompileError&) {
    }
  }
  const WalkDim lane = kept.empty() ? WalkDim{1, 1} : kept.back();
  if (!kept.empty()) kept.pop_back();
  const int64_t L = cfg.lanes;
  std::vector<WalkDim> ld, st;
  uint64_t groups = 0;
  const int mask_dim = lane_walks(kept, lane, rdims, L, ld, st, groups);
  check_firings(groups, R, what);
  const arch::AgcuStream load = make_stream(ld, lane.count > 1 ? lane.stride : 1, mask_dim, lane.count, uint64_t(L),
                                            cfg.lanes, what + " (load)");
  const arch::AgcuStream store =
      make_stream(st, 1, mask_dim, lane.count, uint64_t(L), cfg.lanes, what + " (store)");
  uint32_t init = 0;
  const arch::Opcode op = reduce_opcode(n, what, init);
  const arch::PcuConfig pc = accumulating_pcu(cfg, groups, R, init, {accumulate_stage(op, arch::Src::REG0, 1)});
  SectionBuild b = reduce_section(g, cfg, node, what, load, store, pc);
  if (b.vectors != groups)
    throw CompileError(fmt::format("{}: the store walks {} vectors for {} groups", what, b.vectors, groups));
  b.detail = fmt::format("{} {} over {} elements per output; {} groups, lane stride {}", gen::opcode_name(op),
                         shape_str(sx), R, groups, lane.stride);
  return b;
}

}  // namespace openrdu::compiler::detail
