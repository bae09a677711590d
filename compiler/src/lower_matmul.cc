// Lowering of MatMul / Gemm products and Transpose onto one PCU and AGCU v2 streams.
//
// MatMul (outer product, PCU accumulators; docs/architecture.md section 13):
//   C[b][m][n] = sum over k ascending of A[b][m][k] * B[b][k][n], one FMA per term,
//   from -0.0 (the identity of IEEE addition), as the CPU reference.
// The PCU uses n_acc stages = the largest divisor of M that is <= min(STAGES, LANES),
// so every m-tile of n_acc rows lies inside the tensor. Groups (b, m-tile, n-tile), in
// that loop order (batch outermost), each of K firings k = 0..K-1:
//   vin0 = column k of the m-tile: lane s = A[b][m0+s][k] (gather, lstride = A's row
//          pitch; contiguous when A is stored transposed), n_acc valid lanes;
//   vin1 = row k of the n-tile: B[b][k][n0 .. n0+LANES-1] (contiguous; a gather with
//          lstride = K when B is stored transposed), tail lanes masked by vlen = N;
//   stage s < n_acc: FMA(BREG0 bl=s, REG1, ACC) -> REG2 with acc = 1 (NOP above);
//   acc_len = K, acc_init = -0.0, out_mode 1: after the group's last firing the PCU
//   emits rows m0 .. m0+n_acc-1 of the n-tile, which the store stream writes
//   (contiguous, N tail masked).
// Constant operands are stored so that their loads are contiguous (legalize()).
// Transpose: a gather load in the output's order (lstride = the input stride of the
// output's innermost dimension), MOV, a contiguous store.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {
constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();

bool fits_i32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}
}  // namespace

arch::AgcuStream make_stream(std::vector<WalkDim> dims, int64_t lstride, int mask_dim, uint64_t vlen, uint64_t vstep,
                             uint32_t lanes, const std::string& what) {
  if (vstep == 0) vstep = lanes;
  if (mask_dim >= 0 && dims.at(size_t(mask_dim)).count == 1) {
    // One vector along the mask dim: the mask is the same for every vector.
    vstep = std::min<uint64_t>({vstep, vlen, lanes});
    mask_dim = -1;
  }
  struct D {
    WalkDim d;
    bool mask;
  };
  std::vector<D> kept;
  for (size_t i = 0; i < dims.size(); ++i) {
    const bool m = int(i) == mask_dim;
    if (dims[i].count == 1 && !m) continue;
    if (!kept.empty() && !m && !kept.back().mask && kept.back().d.stride == dims[i].stride * int64_t(dims[i].count)) {
      kept.back().d.count *= dims[i].count;
      kept.back().d.stride = dims[i].stride;
      continue;
    }
    kept.push_back({dims[i], m});
  }
  if (kept.empty()) kept.push_back({{1, 0}, false});
  if (kept.size() > 4)
    throw CompileError(fmt::format("{}: the access needs {} address dimensions, an AGCU stream has 4", what, kept.size()));
  arch::AgcuStream s;
  s.enable = true;
  if (!fits_i32(lstride)) throw CompileError(fmt::format("{}: lane stride {} does not fit an AGCU stream", what, lstride));
  s.lstride = int32_t(lstride);
  for (size_t i = 0; i < kept.size(); ++i) {
    const size_t d = kept.size() - 1 - i;  // stream dim, 0 innermost
    if (kept[i].d.count > kU32)
      throw CompileError(fmt::format("{}: {} iterations do not fit an AGCU stream", what, kept[i].d.count));
    if (!fits_i32(kept[i].d.stride))
      throw CompileError(fmt::format("{}: stride {} does not fit an AGCU stream", what, kept[i].d.stride));
    s.c[d] = uint32_t(kept[i].d.count);
    s.s[d] = int32_t(kept[i].d.stride);
    if (kept[i].mask) s.vdim = uint8_t(d);
  }
  const bool has_mask = std::any_of(kept.begin(), kept.end(), [](const D& k) { return k.mask; });
  if (!has_mask) {
    s.vdim = 0;
    vlen = uint64_t(s.c[0]) * vstep;
  }
  if (vlen > kU32 || vstep > kU32)
    throw CompileError(fmt::format("{}: {} elements do not fit an AGCU stream", what, vlen));
  s.vlen = uint32_t(vlen);
  s.vstep = uint32_t(vstep);
  if (s.vectors() > kU32) throw CompileError(fmt::format("{}: {} vectors is too many", what, s.vectors()));
  return s;
}

SectionBuild lower_matmul(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const auto [ta, tb] = lw.trans.at(node);
  const int ta_id = n.inputs.at(0), tb_id = n.inputs.at(1), ty = n.outputs.at(0);
  const auto& sa = g.tensors[ta_id].shape;
  const auto& sb = g.tensors[tb_id].shape;
  if (sa.empty() || sb.empty())
    throw CompileError(fmt::format("{}: scalar operand ({} x {}) is not a matrix product", what, shape_str(sa),
                                   shape_str(sb)));
  // Logical A [batch.., M, K] and B [batch.., K, N] with element strides.
  int64_t M, K, Kb, N, am, ak, bk, bn;
  std::vector<int64_t> abatch, bbatch;
  if (sa.size() == 1) {
    M = 1, K = sa[0], am = 0, ak = 1;
  } else {
    const size_t r = sa.size();
    abatch.assign(sa.begin(), sa.end() - 2);
    if (ta)
      K = sa[r - 2], M = sa[r - 1], am = 1, ak = M;
    else
      M = sa[r - 2], K = sa[r - 1], am = K, ak = 1;
  }
  if (sb.size() == 1) {
    Kb = sb[0], N = 1, bk = 1, bn = 0;
  } else {
    const size_t r = sb.size();
    bbatch.assign(sb.begin(), sb.end() - 2);
    if (tb)
      N = sb[r - 2], Kb = sb[r - 1], bk = 1, bn = Kb;
    else
      Kb = sb[r - 2], N = sb[r - 1], bk = N, bn = 1;
  }
  if (K != Kb)
    throw CompileError(fmt::format("{}: inner dimensions differ: A {} gives K = {}, B {} gives K = {}", what,
                                   shape_str(sa), K, shape_str(sb), Kb));
  if (M == 0 || N == 0 || K == 0)
    throw CompileError(fmt::format("{}: empty operand ({} x {}) is not supported", what, shape_str(sa), shape_str(sb)));
  const std::vector<int64_t> batch = broadcast_shapes(abatch, bbatch, what);
  // Batch dims (outer to inner) with strides of A, B, C; merged where all three merge.
  struct BDim {
    int64_t count, a, b, c;
  };
  std::vector<BDim> bd;
  {
    const size_t r = batch.size();
    std::vector<BDim> all(r);
    int64_t as = M * K, bs = K * N, cs = M * N;
    for (size_t k = 0; k < r; ++k) {
      const size_t d = r - 1 - k;
      all[d].count = batch[d];
      all[d].c = cs;
      cs *= batch[d];
      const int64_t da = k < abatch.size() ? abatch[abatch.size() - 1 - k] : 1;
      const int64_t db = k < bbatch.size() ? bbatch[bbatch.size() - 1 - k] : 1;
      all[d].a = da == 1 ? 0 : as;
      all[d].b = db == 1 ? 0 : bs;
      as *= da;
      bs *= db;
    }
    for (const BDim& d : all) {
      if (d.count == 1) continue;
      if (!bd.empty()) {
        BDim& p = bd.back();
        if (p.a == d.a * d.count && p.b == d.b * d.count && p.c == d.c * d.count) {
          p.count *= d.count;
          p.a = d.a, p.b = d.b, p.c = d.c;
          continue;
        }
      }
      bd.push_back(d);
    }
  }
  int64_t nbatch = 1;
  for (const BDim& d : bd) nbatch *= d.count;
  if (nbatch * M * N != g.tensors[ty].elements())
    throw CompileError(fmt::format("{}: output '{}' has shape {}, the product of {} and {} has {} elements", what,
                                   g.tensors[ty].name, shape_str(g.tensors[ty].shape), shape_str(sa), shape_str(sb),
                                   nbatch * M * N));
  if (cfg.regs < 3)
    throw CompileError(fmt::format("{}: the outer product needs 3 pipeline registers, configuration '{}' has {}", what,
                                   cfg.name, cfg.regs));
  const int64_t L = cfg.lanes;
  int64_t n_acc = 1;
  for (int64_t d = std::min<int64_t>(cfg.stages, L); d >= 1; --d)
    if (M % d == 0) {
      n_acc = d;
      break;
    }
  const int64_t mt = M / n_acc, nt = (N + L - 1) / L;
  const uint64_t groups = uint64_t(nbatch) * uint64_t(mt) * uint64_t(nt);
  const uint64_t firings = groups * uint64_t(K);
  if (firings > kU32 || uint64_t(K) > kU32)
    throw CompileError(fmt::format("{}: {} PCU firings do not fit the count register", what, firings));

  auto with_batch = [&](int64_t BDim::*field, std::vector<WalkDim> inner) {
    std::vector<WalkDim> v;
    for (const BDim& d : bd) v.push_back({uint64_t(d.count), d.*field});
    v.insert(v.end(), inner.begin(), inner.end());
    return v;
  };
  const int nb = int(bd.size());
  SectionBuild b;
  b.kind = "matmul";
  b.node_ids = {node};
  b.name = n.name;
  b.what = what;
  b.output = ty;
  StreamPlan la, lb;
  la.tensor = ta_id;
  la.s = make_stream(with_batch(&BDim::a, {{uint64_t(mt), n_acc * am}, {uint64_t(nt), 0}, {uint64_t(K), ak}}),
                     n_acc > 1 ? am : 1, -1, 0, uint64_t(n_acc), cfg.lanes, what + " (load of A)");
  lb.tensor = tb_id;
  lb.s = make_stream(with_batch(&BDim::b, {{uint64_t(mt), 0}, {uint64_t(nt), L * bn}, {uint64_t(K), bk}}),
                     N > 1 ? bn : 1, nb + 1, uint64_t(N), uint64_t(L), cfg.lanes, what + " (load of B)");
  b.store.tensor = ty;
  b.store.s = make_stream(with_batch(&BDim::c, {{uint64_t(mt), n_acc * N}, {uint64_t(nt), L}, {uint64_t(n_acc), N}}),
                          1, nb + 1, uint64_t(N), uint64_t(L), cfg.lanes, what + " (store)");
  b.loads = {la, lb};

  arch::PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b11;
  pc.count = uint32_t(firings);
  pc.out_mode = 1;
  pc.acc_len = uint32_t(K);
  pc.acc_init = 0x80000000u;  // -0.0
  for (uint32_t s = 0; s < cfg.stages; ++s) {
    arch::PcuStage st;
    if (int64_t(s) < n_acc) {
      st.op = arch::Opcode::FMA;
      st.src_a = uint8_t(arch::Src::BREG0);
      st.bl = uint8_t(s);
      st.src_b = uint8_t(arch::Src::REG1);
      st.src_c = uint8_t(arch::Src::ACC);
      st.dst = 2;
      st.acc = true;
    }
    pc.stages.push_back(st);
  }
  b.pcu_cfgs = {pc};
  b.pcu_inputs = {{{false, 0}, {false, 1}}};
  b.placement = place_and_route(cfg, 2, b.pcu_inputs, what);
  b.vectors = b.store.s.vectors();
  b.detail = fmt::format("batch={} M={} K={} N={} n_acc={} groups={} firings={}{}{}", nbatch, M, K, N, n_acc, groups,
                         firings, ta ? " A^T" : "", tb ? " B^T" : "");
  return b;
}

SectionBuild lower_transpose(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const int x = n.inputs.at(0), y = n.outputs.at(0);
  const auto& sx = g.tensors[x].shape;
  const size_t r = sx.size();
  std::vector<int64_t> perm;
  if (n.has_iattr("perm"))
    perm = n.ints("perm");
  else
    for (size_t d = 0; d < r; ++d) perm.push_back(int64_t(r - 1 - d));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t d = 0; d < sorted.size(); ++d)
    if (sorted[d] != int64_t(d) || perm.size() != r)
      throw CompileError(fmt::format("{}: perm is not a permutation of the {} dimensions of {}", what, r, shape_str(sx)));
  const auto xs = contiguous_strides(sx);
  std::vector<int64_t> sy(r);
  for (size_t d = 0; d < r; ++d) sy[d] = sx[size_t(perm[d])];
  const auto ys = contiguous_strides(sy);
  struct TD {
    int64_t count, ld, st;
  };
  std::vector<TD> dims;
  for (size_t d = 0; d < r; ++d) {
    if (sy[d] == 1) continue;
    const TD t{sy[d], xs[size_t(perm[d])], ys[d]};
    if (!dims.empty() && dims.back().ld == t.ld * t.count && dims.back().st == t.st * t.count) {
      dims.back().count *= t.count;
      dims.back().ld = t.ld, dims.back().st = t.st;
      continue;
    }
    dims.push_back(t);
  }
  if (dims.empty()) dims.push_back({1, 1, 1});
  if (dims.size() > 4)
    throw CompileError(fmt::format("{}: the permutation {} of {} needs {} dimensions after collapsing, at most 4", what,
                                   shape_str(perm), shape_str(sx), dims.size()));
  const TD in = dims.back();
  dims.pop_back();
  const int64_t L = cfg.lanes;
  const uint64_t nv = uint64_t((in.count + L - 1) / L);
  std::vector<WalkDim> ld, st;
  for (const TD& d : dims) {
    ld.push_back({uint64_t(d.count), d.ld});
    st.push_back({uint64_t(d.count), d.st});
  }
  ld.push_back({nv, L * in.ld});
  st.push_back({nv, L});
  SectionBuild b;
  b.kind = "transpose";
  b.node_ids = {node};
  b.name = n.name;
  b.what = what;
  b.output = y;
  StreamPlan l;
  l.tensor = x;
  l.s = make_stream(ld, in.ld, int(ld.size()) - 1, uint64_t(in.count), uint64_t(L), cfg.lanes, what + " (load)");
  b.loads = {l};
  b.store.tensor = y;
  b.store.s = make_stream(st, 1, int(st.size()) - 1, uint64_t(in.count), uint64_t(L), cfg.lanes, what + " (store)");
  SectionPlan plan;
  plan.name = n.name;
  plan.node_ids = {node};
  plan.ext_inputs = {x};
  plan.output = y;
  plan.ops.push_back({arch::Opcode::MOV, ValRef::val(0), ValRef::immediate(0)});
  b.plans = {plan};
  b.vectors = b.store.s.vectors();
  b.pcu_cfgs = {pcu_program(cfg, plan, uint32_t(b.vectors), what)};
  b.pcu_inputs = {{{false, 0}}};
  b.placement = place_and_route(cfg, 1, b.pcu_inputs, what);
  b.detail = fmt::format("perm={} {} -> {}, lane stride {}", shape_str(perm), shape_str(sx), shape_str(sy), in.ld);
  return b;
}

namespace {
// Memory requests of a stream as the functional model counts them (its AGCU busy
// cycles): one per contiguous or broadcast vector, the valid lanes (at least 1) per
// gather/scatter vector.
uint64_t stream_requests(const arch::AgcuStream& s, uint32_t lanes) {
  if (s.lstride == 0 || s.lstride == 1) return s.vectors();
  const uint32_t vd = s.vdim & 3;
  uint64_t other = 1;
  for (uint32_t d = 0; d < 4; ++d)
    if (d != vd) other *= s.c[d];
  const uint64_t step = s.vstep ? s.vstep : lanes;
  uint64_t per = 0;
  for (uint64_t i = 0; i < s.c[vd]; ++i) {
    const uint64_t left = s.vlen > i * step ? s.vlen - i * step : 0;
    per += std::max<uint64_t>(1, std::min<uint64_t>({lanes, step, left}));
  }
  return other * per;
}
}  // namespace

uint64_t estimate_cycles(const arch::Config& cfg, const SectionBuild& b) {
  uint64_t busy = 0;
  for (const auto& pc : b.pcu_cfgs) {
    if (!pc.count) continue;
    uint64_t outputs = pc.count;
    if (pc.out_mode == 1) {
      uint64_t nacc = 0;
      for (const auto& st : pc.stages) nacc += st.acc;
      const uint64_t len = pc.acc_len ? pc.acc_len : 1;
      outputs = (pc.count + len - 1) / len * nacc;
    }
    busy = std::max<uint64_t>(busy, std::max<uint64_t>(pc.count, outputs) + cfg.stages + 1);
  }
  std::map<uint32_t, uint64_t> agcu;
  // The model's AGCU: one request per cycle over its streams, and per load stream at
  // most `inflight` requests per DRAM latency + 3 cycles (model::Agcu::busy_cycles).
  std::map<uint32_t, uint64_t> inflight_bound;
  const uint64_t inflight = std::max<uint32_t>(1, cfg.inflight);
  for (size_t l = 0; l < b.loads.size() && l < b.placement.loads.size(); ++l) {
    const uint64_t r = stream_requests(b.loads[l].s, cfg.lanes);
    agcu[b.placement.loads[l].agcu] += r;
    auto& bound = inflight_bound[b.placement.loads[l].agcu];
    bound = std::max(bound, (r + inflight - 1) / inflight * (cfg.dram_latency_cycles + 3));
  }
  for (const auto& [k, v] : inflight_bound) busy = std::max(busy, v);
  agcu[b.placement.store.agcu] += stream_requests(b.store.s, cfg.lanes);
  for (const auto& [k, v] : agcu) busy = std::max(busy, v);
  return busy + cfg.dram_latency_cycles + 2 * (cfg.rows + cfg.cols + 2) + cfg.stages;
}

}  // namespace openrdu::compiler::detail
