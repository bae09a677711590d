// Lowering of MatMul / Gemm products and Transpose onto one PCU and AGCU v2 streams.
//
// MatMul (outer product, PCU accumulators; `docs/compiler.md`):
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
#include <optional>

#include "openrdu/model/cost.h"
#include "passes.h"

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

namespace {

// Batch dimensions of a product (outer to inner) with the strides of A, B and C.
struct BDim {
  int64_t count, a, b, c;
};

// A MatMul/Gemm product: logical A [batch.., M, K] and B [batch.., K, N] with element
// strides (am, ak; bk, bn), the batch dims merged where all three tensors merge.
struct Product {
  int node = -1, ta_id = -1, tb_id = -1, ty = -1;
  bool ta = false, tb = false;  // stored transposed
  int64_t M = 0, K = 0, N = 0, am = 0, ak = 0, bk = 0, bn = 0;
  std::vector<BDim> bd;
  int64_t nbatch = 1;
  std::string name, what;
};

// The batch dims of C = broadcast(abatch, bbatch), count-1 dims dropped, adjacent dims
// merged where A, B and C all chain.
std::vector<BDim> merged_batch_dims(const std::vector<int64_t>& batch, const std::vector<int64_t>& abatch,
                                    const std::vector<int64_t>& bbatch, int64_t M, int64_t K, int64_t N) {
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
  std::vector<BDim> bd;
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
  return bd;
}

// The product of MatMul/Gemm `node` (its operands' stored layout from legalize()).
Product product_of(const Lowered& lw, int node, const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  Product p;
  p.node = node, p.name = n.name, p.what = what;
  p.ta = lw.trans.at(node).first, p.tb = lw.trans.at(node).second;
  p.ta_id = n.inputs.at(0), p.tb_id = n.inputs.at(1), p.ty = n.outputs.at(0);
  const auto& sa = g.tensors[p.ta_id].shape;
  const auto& sb = g.tensors[p.tb_id].shape;
  if (sa.empty() || sb.empty())
    throw CompileError(fmt::format("{}: scalar operand ({} x {}) is not a matrix product", what, shape_str(sa),
                                   shape_str(sb)));
  int64_t Kb = 0;
  std::vector<int64_t> abatch, bbatch;
  if (sa.size() == 1) {
    p.M = 1, p.K = sa[0], p.am = 0, p.ak = 1;
  } else {
    const size_t r = sa.size();
    abatch.assign(sa.begin(), sa.end() - 2);
    if (p.ta)
      p.K = sa[r - 2], p.M = sa[r - 1], p.am = 1, p.ak = p.M;
    else
      p.M = sa[r - 2], p.K = sa[r - 1], p.am = p.K, p.ak = 1;
  }
  if (sb.size() == 1) {
    Kb = sb[0], p.N = 1, p.bk = 1, p.bn = 0;
  } else {
    const size_t r = sb.size();
    bbatch.assign(sb.begin(), sb.end() - 2);
    if (p.tb)
      p.N = sb[r - 2], Kb = sb[r - 1], p.bk = 1, p.bn = Kb;
    else
      Kb = sb[r - 2], p.N = sb[r - 1], p.bk = p.N, p.bn = 1;
  }
  if (p.K != Kb)
    throw CompileError(fmt::format("{}: inner dimensions differ: A {} gives K = {}, B {} gives K = {}", what,
                                   shape_str(sa), p.K, shape_str(sb), Kb));
  if (p.M == 0 || p.N == 0 || p.K == 0)
    throw CompileError(fmt::format("{}: empty operand ({} x {}) is not supported", what, shape_str(sa), shape_str(sb)));
  p.bd = merged_batch_dims(broadcast_shapes(abatch, bbatch, what), abatch, bbatch, p.M, p.K, p.N);
  for (const BDim& d : p.bd) p.nbatch *= d.count;
  if (p.nbatch * p.M * p.N != g.tensors[p.ty].elements())
    throw CompileError(fmt::format("{}: output '{}' has shape {}, the product of {} and {} has {} elements", what,
                                   g.tensors[p.ty].name, shape_str(g.tensors[p.ty].shape), shape_str(sa),
                                   shape_str(sb), p.nbatch * p.M * p.N));
  return p;
}

// A candidate mapping: R = Pc * n_acc rows per m-tile, computed by a drain chain of Pc
// PCUs (chain position c takes rows c*n_acc .. of the tile from lanes bl = c*n_acc + s
// of the one A vector and its rows leave through the chain's head, position 0: one
// output link and store stream per chain); Q = Pm * vp m-parts of mtp m-tiles each,
// part q starting at row q*D (D < mtp*R: parts overlap and the overlapped rows
// are computed twice, with the same values); chain (i, j) runs the vp parts of m-part
// i over the ntp n-tiles of n-part j (tiles past N fully masked: no request, no write).
// With `pmu`, n-part j's B tile (K rows of LANES columns) goes from DRAM into PMU j
// once per n-tile, and the PMU replays it to the Pm PCUs for each of their m-tiles
// (groups in the order batch, n-tile, m-part, m-tile; two buffers when 2K rows fit, so
// the next tile's load overlaps this tile's products).
struct Cand {
  int64_t n_acc, Pc, Pm, Pn, vp, mtp, D, ntp;
  uint64_t cost;
  bool pmu = false;
};

// Stores: one per (m-part, n-part), at most one per AGCU; PCUs: Pc per store.
int64_t max_parts(const arch::Config& cfg, int64_t Pc) {
  return std::max<int64_t>(1, std::min<int64_t>(int64_t(cfg.num_pcu()) / Pc, cfg.agcu));
}

// Appends the candidates of one (n_acc, Pc, Pm, vp, mtp, D) for every n-part count, with
// and without B in PMUs, each with the estimate's terms (estimate_cycles) before
// placement: PCU firings and drained rows, each load stream's in-flight bound, the
// requests spread over the AGCUs and over the memory ports.
void add_candidates(const arch::Config& cfg, const Product& p, const Cand& base, std::vector<Cand>& cands) {
  const int64_t L = cfg.lanes, nt = (p.N + L - 1) / L, R = base.Pc * base.n_acc;
  const uint64_t inflight = std::max<uint32_t>(1, cfg.inflight), lat = cfg.dram_latency_cycles + 3;
  const uint64_t ports = std::max<uint32_t>(1, cfg.dram_channels);
  const bool a_gather = p.am != 1 && p.am != 0;  // column of A: n_acc requests per firing
  const bool b_gather = p.bn != 1 && p.bn != 0;
  const int64_t pmu_rows = cfg.pmu_depth(), npmu_max = int64_t(cfg.num_slots() - cfg.num_pcu());
  for (int64_t Pn = 1; Pn * base.Pm <= max_parts(cfg, base.Pc) && Pn <= nt; ++Pn) {
    if (base.Pm + Pn > int64_t(2 * cfg.agcu)) break;
    const int64_t ntp = (nt + Pn - 1) / Pn;
    if ((Pn - 1) * ntp >= nt) continue;  // an empty n-part
    const uint64_t groups = uint64_t(p.nbatch) * uint64_t(base.vp * base.mtp * ntp);
    const uint64_t f = groups * uint64_t(p.K);
    const uint64_t ra = f * uint64_t(a_gather ? R : 1);
    const uint64_t rs = groups * uint64_t(R);
    for (bool pmu : {false, true}) {
      if (pmu && (base.vp * base.mtp < 2 || p.K > pmu_rows || Pn > npmu_max)) continue;  // no reuse, or no room
      const uint64_t rb = (pmu ? uint64_t(p.nbatch * ntp * p.K) : f) * uint64_t(b_gather ? std::min(L, p.N) : 1);
      uint64_t cost = std::max<uint64_t>(f, rs);
      if (pmu) cost = std::max<uint64_t>(cost, f + uint64_t(p.K) + 2);
      cost = std::max(cost, (std::max(ra, rb) + inflight - 1) / inflight * lat);
      const uint64_t total = ra * uint64_t(base.Pm) + rb * uint64_t(Pn) + rs * uint64_t(base.Pm * Pn);
      cost = std::max<uint64_t>(cost, (total + cfg.agcu - 1) / cfg.agcu);
      cost = std::max<uint64_t>(cost, (total + ports - 1) / ports);
      Cand c = base;
      c.Pn = Pn, c.ntp = ntp, c.cost = cost, c.pmu = pmu;
      cands.push_back(c);
    }
  }
}

// The rows of a tile are lanes of one A vector, named by a 4-bit broadcast lane.
int64_t max_tile_rows(const arch::Config& cfg, const Product& p) {
  return std::min<int64_t>({int64_t(cfg.lanes), 16, p.M});
}

// Every candidate: M in whole m-parts of whole tiles, or in Q = Pm * vp overlapping parts.
std::vector<Cand> candidates(const arch::Config& cfg, const Product& p) {
  std::vector<Cand> cands;
  const int64_t M = p.M, rows_max = max_tile_rows(cfg, p);
  const int64_t acc_max = std::min<int64_t>(cfg.stages, rows_max);
  for (int64_t n_acc = acc_max; n_acc >= 1; --n_acc)
    for (int64_t Pc = 1; Pc * n_acc <= rows_max && Pc <= int64_t(cfg.num_pcu()); ++Pc) {
      const int64_t R = Pc * n_acc;
      for (int64_t Pm = 1; Pm <= max_parts(cfg, Pc); ++Pm) {
        if (M % R == 0 && (M / R) % Pm == 0) {
          const int64_t mtp = M / R / Pm;
          add_candidates(cfg, p, {n_acc, Pc, Pm, 0, 1, mtp, mtp * R, 0, 0}, cands);
        }
        if (R == 1) continue;  // every M is a multiple of 1
        for (int64_t vp = 1; vp <= 2; ++vp) {
          const int64_t Q = Pm * vp;
          if (Q < 2) continue;
          for (int64_t mtp = std::max<int64_t>(1, (M + Q * R - 1) / (Q * R)), t = 0; t <= R; ++mtp, ++t) {
            const int64_t span = mtp * R;
            if (span >= M) break;
            if ((Q * span - M) % (Q - 1) != 0) continue;
            const int64_t D = (M - span) / (Q - 1);
            if (D >= 1 && D < span) add_candidates(cfg, p, {n_acc, Pc, Pm, 0, vp, mtp, D, 0, 0}, cands);
            break;
          }
        }
      }
    }
  return cands;
}

// The candidates to try, in order (--matmul-chain keeps those with chains of `chain`):
// cheapest first; ties: B from a PMU (less DRAM traffic), fewer PCUs, fewer loads, more
// rows per tile (the previous mapping).
std::vector<Cand> ordered_candidates(const arch::Config& cfg, const Product& p, int chain) {
  if (chain < 0)
    throw CompileError(fmt::format("{}: matmul chain {} is not supported (0 automatic, N >= 1)", p.what, chain));
  if (cfg.regs < 3)
    throw CompileError(fmt::format("{}: the outer product needs 3 pipeline registers, configuration '{}' has {}",
                                   p.what, cfg.name, cfg.regs));
  std::vector<Cand> cands = candidates(cfg, p);
  if (chain > 0) {
    std::erase_if(cands, [&](const Cand& c) { return c.Pc != chain; });
    if (cands.empty())
      throw CompileError(fmt::format("{}: no mapping with drain chains of {} PCUs on '{}' (a tile's rows are at most "
                                     "{} lanes and the chains need PCUs)",
                                     p.what, chain, cfg.name, max_tile_rows(cfg, p)));
  }
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) {
    if (x.cost != y.cost) return x.cost < y.cost;
    if (x.pmu != y.pmu) return x.pmu;
    if (x.Pm * x.Pn * x.Pc != y.Pm * y.Pn * y.Pc) return x.Pm * x.Pn * x.Pc < y.Pm * y.Pn * y.Pc;
    if (x.Pm + x.Pn != y.Pm + y.Pn) return x.Pm + x.Pn < y.Pm + y.Pn;
    return x.n_acc > y.n_acc;
  });
  return cands;
}

// The batch dims' walk (field: A's, B's or C's strides) followed by `inner`.
std::vector<WalkDim> with_batch(const Product& p, int64_t BDim::*field, const std::vector<WalkDim>& inner) {
  std::vector<WalkDim> v;
  for (const BDim& d : p.bd) v.push_back({uint64_t(d.count), d.*field});
  v.insert(v.end(), inner.begin(), inner.end());
  return v;
}

// PMU j's configuration: B's K-row tile written once per n-tile, replayed once per m-tile.
arch::PmuConfig b_tile_pmu(const arch::Config& cfg, const Product& p, const Cand& c) {
  arch::PmuConfig pm;
  pm.enable = true;
  pm.mode = 0;
  pm.nbuf = 2 * p.K <= int64_t(cfg.pmu_depth()) ? 2 : 1;
  const uint64_t tiles = uint64_t(p.nbatch) * uint64_t(c.ntp);
  if (tiles > kU32 || uint64_t(c.vp * c.mtp) > kU32)
    throw CompileError(fmt::format("{}: {} B tiles do not fit a PMU's tile count", p.what, tiles));
  pm.tiles = uint32_t(tiles);
  pm.buf_rows = uint32_t(p.K);
  pm.wr.c0 = uint32_t(p.K);  // rows k = 0..K-1 of the tile's buffer
  pm.wr.s0 = 1;
  pm.wr.c1 = 1;
  pm.rd.c0 = uint32_t(p.K);  // the same rows, once per m-tile of the PCUs
  pm.rd.s0 = 1;
  pm.rd.c1 = uint32_t(c.vp * c.mtp);
  pm.rd.s1 = 0;
  return pm;
}

// The load streams: A for each m-part, then B for each n-part (into PMU j with c.pmu).
void product_loads(const arch::Config& cfg, const Product& p, const Cand& c, SectionBuild& b) {
  const int64_t L = cfg.lanes, R = c.Pc * c.n_acc, nb = int64_t(p.bd.size());
  for (int64_t i = 0; i < c.Pm; ++i) {
    StreamPlan la;
    la.tensor = p.ta_id;
    la.offset = i * c.vp * c.D * p.am;
    const WalkDim dv{uint64_t(c.vp), c.D * p.am}, dm{uint64_t(c.mtp), R * p.am}, dn{uint64_t(c.ntp), 0},
        dk{uint64_t(p.K), p.ak};
    la.s = make_stream(with_batch(p, &BDim::a, c.pmu ? std::vector<WalkDim>{dn, dv, dm, dk} : std::vector<WalkDim>{dv, dm, dn, dk}),
                       R > 1 ? p.am : 1, -1, 0, uint64_t(R), cfg.lanes, p.what + " (load of A)");
    b.loads.push_back(la);
  }
  for (int64_t j = 0; j < c.Pn; ++j) {
    StreamPlan lb;
    lb.tensor = p.tb_id;
    lb.offset = j * c.ntp * L * p.bn;
    const uint64_t vlen = uint64_t(p.N - j * c.ntp * L);
    // Into PMU j: each n-tile once; straight to the PCUs: again for every m-tile.
    lb.s = c.pmu ? make_stream(with_batch(p, &BDim::b, {{uint64_t(c.ntp), L * p.bn}, {uint64_t(p.K), p.bk}}),
                               p.N > 1 ? p.bn : 1, int(nb), vlen, uint64_t(L), cfg.lanes, p.what + " (load of B)")
                 : make_stream(with_batch(p, &BDim::b,
                                          {{uint64_t(c.vp * c.mtp), 0}, {uint64_t(c.ntp), L * p.bn}, {uint64_t(p.K), p.bk}}),
                               p.N > 1 ? p.bn : 1, int(nb + 1), vlen, uint64_t(L), cfg.lanes, p.what + " (load of B)");
    b.loads.push_back(lb);
    if (c.pmu) {
      b.pmu_cfgs.push_back(b_tile_pmu(cfg, p, c));
      b.pmu_loads.push_back(int(c.Pm + j));
    }
  }
}

// The walk of chain (m-part i, n-part j)'s results over a [M, N] tensor whose rows are
// sM elements apart and columns sN (the store: N, 1; an epilogue operand broadcast over
// rows: 0, 1).
StreamPlan product_walk(const arch::Config& cfg, const Product& p, const Cand& c, int64_t i, int64_t j, int tensor,
                        int64_t sM, int64_t sN, const std::string& what) {
  const int64_t L = cfg.lanes, R = c.Pc * c.n_acc, N = p.N, nb = int64_t(p.bd.size());
  StreamPlan st;
  st.tensor = tensor;
  st.offset = i * c.vp * c.D * sM + j * c.ntp * L * sN;
  const WalkDim dv{uint64_t(c.vp), c.D * sM}, dm{uint64_t(c.mtp), R * sM}, dn{uint64_t(c.ntp), L * sN},
      dr{uint64_t(R), sM};
  st.s = make_stream(with_batch(p, &BDim::c, c.pmu ? std::vector<WalkDim>{dn, dv, dm, dr} : std::vector<WalkDim>{dv, dm, dn, dr}),
                     sN, int(c.pmu ? nb : nb + 2), uint64_t(N - j * c.ntp * L), uint64_t(L), cfg.lanes, what);
  return st;
}

// The store streams, one per chain (m-part i, n-part j), in chain order.
std::vector<StreamPlan> product_stores(const arch::Config& cfg, const Product& p, const Cand& c) {
  std::vector<StreamPlan> stores;
  for (int64_t i = 0; i < c.Pm; ++i)
    for (int64_t j = 0; j < c.Pn; ++j) stores.push_back(product_walk(cfg, p, c, i, j, p.ty, p.N, 1, p.what + " (store)"));
  return stores;
}

// Chain position `pos`: rows pos*n_acc .. pos*n_acc+n_acc-1 of each tile; it forwards
// the rows of positions pos+1 .. Pc-1 (from its input 2) after its own.
arch::PcuConfig chain_program(const arch::Config& cfg, const Product& p, const Cand& c, uint64_t firings,
                              int64_t pos) {
  arch::PcuConfig pc;
  pc.enable = true;
  pc.vin_mask = 0b11;
  pc.count = uint32_t(firings);
  pc.out_mode = 1;
  pc.acc_len = uint32_t(p.K);
  pc.acc_init = 0x80000000u;  // -0.0
  pc.chain = uint8_t((c.Pc - 1 - pos) * c.n_acc);
  for (uint32_t s = 0; s < cfg.stages; ++s) {
    arch::PcuStage st;
    if (int64_t(s) < c.n_acc) {
      st.op = arch::Opcode::FMA;
      st.src_a = uint8_t(arch::Src::BREG0);
      st.bl = uint8_t(pos * c.n_acc + s);
      st.src_b = uint8_t(arch::Src::REG1);
      st.src_c = uint8_t(arch::Src::ACC);
      st.dst = 2;
      st.acc = true;
    }
    pc.stages.push_back(st);
  }
  return pc;
}

// The PCUs: chain q = i*Pn + j holds PCUs q*Pc .. q*Pc+Pc-1 at positions Pc-1 .. 0, so
// that each position's input 2 is the PCU before it and the chain's head comes last;
// the last head's result is `store`, the other heads' `more_stores`. Returns the PCUs
// of those other heads.
std::vector<int> product_chains(const arch::Config& cfg, const Product& p, const Cand& c, uint64_t firings,
                                const std::vector<StreamPlan>& stores, SectionBuild& b) {
  const int64_t P = c.Pm * c.Pn;
  std::vector<int> more;
  for (int64_t q = 0; q < P; ++q)
    for (int64_t pos = c.Pc - 1; pos >= 0; --pos) {
      const int pcu = int(b.pcu_cfgs.size());
      b.pcu_cfgs.push_back(chain_program(cfg, p, c, firings, pos));
      std::vector<PcuInput> in;
      if (c.pmu)
        in = {{false, int(q / c.Pn)}, {false, int(q % c.Pn), true}};
      else
        in = {{false, int(q / c.Pn)}, {false, int(c.Pm + q % c.Pn)}};
      if (pos + 1 < c.Pc) in.push_back({true, pcu - 1});
      b.pcu_inputs.push_back(in);
      if (pos == 0 && q + 1 < P) {
        more.push_back(pcu);
        b.more_stores.push_back(stores[size_t(q)]);
      }
    }
  return more;
}

// An epilogue of elementwise nodes after a product (lower_matmul's `epilogue`): its plan
// (one PCU), the index of the product's result among its inputs, and per input the row
// stride of its [M, N] broadcast (columns contiguous).
struct Epilogue {
  SectionPlan plan;
  int p_input = -1;
  std::vector<int64_t> row_stride;
};

// The epilogue of `nodes` after product p, or nullopt when it cannot run in the product's
// section: an input that is not P, [N] or [M, N] (leading 1s allowed), or any input but P
// of a product with batch dimensions (operands walk [M, N]), an output not of P's shape.
std::optional<Epilogue> epilogue_of(const Graph& g, const Product& p, const std::vector<int>& nodes) {
  Epilogue e;
  e.plan = build_plan(g, nodes);
  if (g.tensors[size_t(e.plan.output)].shape != g.tensors[size_t(p.ty)].shape) return std::nullopt;
  const bool batched = !p.bd.empty() || p.nbatch != 1;
  for (size_t k = 0; k < e.plan.ext_inputs.size(); ++k) {
    const int t = e.plan.ext_inputs[k];
    std::vector<int64_t> sh = g.tensors[size_t(t)].shape;
    while (sh.size() > 2 && sh.front() == 1) sh.erase(sh.begin());
    if (t == p.ty) {
      e.p_input = int(k);
      e.row_stride.push_back(p.N);
    } else if (batched) {
      return std::nullopt;
    } else if (sh.size() == 1 && sh[0] == p.N) {
      e.row_stride.push_back(0);
    } else if (sh.size() == 2 && sh[1] == p.N && (sh[0] == p.M || sh[0] == 1)) {
      e.row_stride.push_back(sh[0] == 1 ? 0 : p.N);
    } else {
      return std::nullopt;
    }
  }
  if (e.p_input < 0) return std::nullopt;
  return e;
}

// After each chain head (its PCU `heads[q]`), an epilogue PCU reading the head's rows and
// the other operands (each loaded with the walk of the head's store); its result is
// stored instead. Returns the stored PCUs other than the last; stores[q] now store Y.
std::vector<int> add_epilogue(const arch::Config& cfg, const Product& p, const Cand& c, const Epilogue& e,
                              std::vector<StreamPlan>& stores, SectionBuild& b) {
  std::vector<int> more;
  const int64_t P = c.Pm * c.Pn;
  for (int64_t q = 0; q < P; ++q) {
    const int head = int(q * c.Pc + c.Pc - 1);
    std::vector<PcuInput> in;
    for (size_t k = 0; k < e.plan.ext_inputs.size(); ++k) {
      if (int(k) == e.p_input) {
        in.push_back({true, head});
        continue;
      }
      in.push_back({false, int(b.loads.size())});
      b.loads.push_back(product_walk(cfg, p, c, q / c.Pn, q % c.Pn, e.plan.ext_inputs[k], e.row_stride[k], 1,
                                     p.what + " (epilogue load)"));
    }
    b.pcu_inputs.push_back(in);
    b.pcu_cfgs.push_back(pcu_program(cfg, e.plan, uint32_t(stores[size_t(q)].s.vectors()), p.what));
    stores[size_t(q)].tensor = e.plan.output;
    if (q + 1 < P) more.push_back(int(b.pcu_cfgs.size()) - 1);
  }
  b.more_stores.assign(stores.begin(), stores.end() - 1);
  b.output = e.plan.output;
  b.node_ids.insert(b.node_ids.end(), e.plan.node_ids.begin(), e.plan.node_ids.end());
  b.name += "+" + e.plan.name;
  return more;
}

// The section of one candidate mapping (CompileError when it does not fit), with the
// epilogue `epi` when given.
SectionBuild build_product(const arch::Config& cfg, const Product& p, const Cand& c, const Epilogue* epi = nullptr) {
  const int64_t R = c.Pc * c.n_acc, P = c.Pm * c.Pn;
  const uint64_t groups = uint64_t(p.nbatch) * uint64_t(c.vp * c.mtp * c.ntp);
  const uint64_t firings = groups * uint64_t(p.K);
  if (firings > kU32 || uint64_t(p.K) > kU32)
    throw CompileError(fmt::format("{}: {} PCU firings do not fit the count register", p.what, firings));
  SectionBuild b;
  b.kind = "matmul";
  b.node_ids = {p.node};
  b.name = p.name;
  b.what = p.what;
  b.output = p.ty;
  product_loads(cfg, p, c, b);
  std::vector<StreamPlan> stores = product_stores(cfg, p, c);
  std::vector<int> more = product_chains(cfg, p, c, firings, stores, b);
  if (epi) more = add_epilogue(cfg, p, c, *epi, stores, b);
  b.store = stores.back();
  b.placement = place_and_route(cfg, int(b.loads.size()), b.pcu_inputs, p.what, more, b.pmu_loads);
  b.vectors = 0;
  for (const auto& st : stores) b.vectors += st.s.vectors();
  b.detail = fmt::format("batch={} M={} K={} N={} n_acc={} groups={} firings={}{}{}", p.nbatch, p.M, p.K, p.N,
                         c.n_acc, groups * uint64_t(P * c.Pc), firings * uint64_t(P * c.Pc), p.ta ? " A^T" : "",
                         p.tb ? " B^T" : "");
  if (c.Pc > 1) b.detail += fmt::format(" chains={}x{} (PCUs x {} rows; {} rows per m-tile)", P, c.Pc, c.n_acc, R);
  if (c.pmu) b.detail += fmt::format(" B-tiles-in-PMUs={} buffers={}", c.Pn, b.pmu_cfgs.front().buffers());
  if (P > 1 || c.vp > 1)
    b.detail += fmt::format(" pcus={}x{} (m-parts x n-parts) m-tiles/part={} parts/pcu={} part-step={} n-tiles/pcu={}",
                            c.Pm, c.Pn, c.mtp, c.vp, c.D, c.ntp);
  return b;
}

}  // namespace

SectionBuild lower_matmul(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what, int chain,
                          const std::vector<int>& epilogue, int candidates) {
  const Product p = product_of(lw, node, what);
  std::optional<Epilogue> epi;
  if (!epilogue.empty() && !(epi = epilogue_of(lw.g, p, epilogue)))
    throw CompileError(fmt::format("{}: the epilogue {} cannot run in the product's section", what,
                                   build_plan(lw.g, epilogue).name));
  std::string first_error;
  std::optional<SectionBuild> best;  // of the first `candidates` that build: least estimate + configuration
  uint64_t best_cost = 0;
  int built = 0;
  for (const Cand& c : ordered_candidates(cfg, p, chain)) {
    if (epi && c.Pm * c.Pn * (c.Pc + 1) > int64_t(cfg.num_pcu())) continue;  // an epilogue PCU per chain
    try {
      SectionBuild b = build_product(cfg, p, c, epi ? &*epi : nullptr);
      const uint64_t cost = candidates > 1 ? estimate_cycles(cfg, b) + config_cycles(cfg, b) : 0;
      if (!best || cost < best_cost) best = std::move(b), best_cost = cost;
      if (++built >= candidates) break;
    } catch (const CompileError& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  if (best) return std::move(*best);
  throw CompileError(first_error.empty() ? fmt::format("{}: no mapping of the product", what) : first_error);
}

namespace {

// One dimension of a transpose's copy: count, load and store strides (elements).
struct TD {
  int64_t count, ld, st;
};

// The transpose's copy dims (output order, outer to inner), count-1 dims dropped and
// dims merged where both walks chain ({1, 1, 1} if none); its permutation and output shape.
std::vector<TD> transpose_dims(const Node& n, const std::vector<int64_t>& sx, const std::string& what,
                               std::vector<int64_t>& perm, std::vector<int64_t>& sy) {
  const size_t r = sx.size();
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
  sy.assign(r, 0);
  for (size_t d = 0; d < r; ++d) sy[d] = sx[size_t(perm[d])];
  const auto ys = contiguous_strides(sy);
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
  return dims;
}

// Through a PMU in transposed mode: [batch,] R x C -> C x R with R and C multiples of
// LANES, one L x L block per tile: L contiguous row vectors in, L column vectors out.
// One memory request per vector each way instead of a LANES-lane gather. Empty when the
// shape does not allow it or no route exists with the PMU.
std::optional<SectionBuild> transpose_through_pmu(const arch::Config& cfg, const Node& n, int node,
                                                  const std::vector<TD>& dims, const std::string& what) {
  const int64_t L = cfg.lanes;
  if (dims.size() < 2 || dims.size() > 3 || cfg.pmu_depth() < uint32_t(2 * L) || cfg.num_slots() <= cfg.num_pcu())
    return std::nullopt;
  const TD cd = dims[dims.size() - 2], rd = dims.back();  // output order: C (outer), R (inner)
  const int64_t R = rd.count, C = cd.count;
  if (!(cd.ld == 1 && rd.st == 1 && rd.ld == C && cd.st == R && R % L == 0 && C % L == 0)) return std::nullopt;
  const TD bt = dims.size() == 3 ? dims[0] : TD{1, 0, 0};
  const uint64_t tiles = uint64_t(bt.count) * uint64_t(R / L) * uint64_t(C / L);
  if (tiles > kU32) return std::nullopt;
  SectionBuild b = mov_section(
      cfg, node, n.name, n.inputs.at(0), 0, n.outputs.at(0), 0,
      make_stream({{uint64_t(bt.count), bt.ld}, {uint64_t(R / L), L * C}, {uint64_t(C / L), L}, {uint64_t(L), C}}, 1,
                  -1, 0, uint64_t(L), cfg.lanes, what + " (load)"),
      make_stream({{uint64_t(bt.count), bt.st}, {uint64_t(R / L), L}, {uint64_t(C / L), L * R}, {uint64_t(L), R}}, 1,
                  -1, 0, uint64_t(L), cfg.lanes, what + " (store)"),
      "transpose", what, true);
  arch::PmuConfig pm;
  pm.enable = true;
  pm.mode = 2;  // transposed: rows written, columns read
  pm.nbuf = 2;
  pm.tiles = uint32_t(tiles);
  pm.buf_rows = uint32_t(L);
  pm.wr.c0 = uint32_t(L);  // rows 0..L-1 of the buffer
  pm.wr.s0 = 1;
  pm.wr.c1 = 1;
  pm.rd.c0 = uint32_t(L);  // word addresses 0..L-1: column c of rows 0..L-1
  pm.rd.s0 = 1;
  pm.rd.c1 = 1;
  b.pmu_cfgs = {pm};
  b.pmu_loads = {0};
  try {
    b.placement = place_and_route(cfg, 1, b.pcu_inputs, what, {}, b.pmu_loads, max_stream_requests(cfg, b));
  } catch (const CompileError&) {
    return std::nullopt;  // no route with the PMU: the gather instead
  }
  return b;
}

}  // namespace

SectionBuild lower_transpose(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  const auto& sx = g.tensors[n.inputs.at(0)].shape;
  std::vector<int64_t> perm, sy;
  std::vector<TD> dims = transpose_dims(n, sx, what, perm, sy);
  if (auto b = transpose_through_pmu(cfg, n, node, dims, what)) {
    b->detail = fmt::format("perm={} {} -> {} through a PMU (transposed mode), {} tiles of {}x{}", shape_str(perm),
                            shape_str(sx), shape_str(sy), b->pmu_cfgs.front().tiles, cfg.lanes, cfg.lanes);
    return std::move(*b);
  }
  // A gather load in the output's order (lane stride: the input stride of the output's
  // innermost dimension), a contiguous store.
  const int64_t L = cfg.lanes;
  const TD in = dims.back();
  dims.pop_back();
  const uint64_t nv = uint64_t((in.count + L - 1) / L);
  std::vector<WalkDim> ld, st;
  for (const TD& d : dims) {
    ld.push_back({uint64_t(d.count), d.ld});
    st.push_back({uint64_t(d.count), d.st});
  }
  ld.push_back({nv, L * in.ld});
  st.push_back({nv, L});
  SectionBuild b = mov_section(
      cfg, node, n.name, n.inputs.at(0), 0, n.outputs.at(0), 0,
      make_stream(ld, in.ld, int(ld.size()) - 1, uint64_t(in.count), uint64_t(L), cfg.lanes, what + " (load)"),
      make_stream(st, 1, int(st.size()) - 1, uint64_t(in.count), uint64_t(L), cfg.lanes, what + " (store)"),
      "transpose", what);
  b.placement = place_and_route(cfg, 1, b.pcu_inputs, what, {}, {}, max_stream_requests(cfg, b));
  b.detail = fmt::format("perm={} {} -> {}, lane stride {}", shape_str(perm), shape_str(sx), shape_str(sy), in.ld);
  return b;
}

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

uint64_t max_stream_requests(const arch::Config& cfg, const SectionBuild& b) {
  uint64_t m = stream_requests(b.store.s, cfg.lanes);
  for (const auto& l : b.loads) m = std::max(m, stream_requests(l.s, cfg.lanes));
  for (const auto& st : b.more_stores) m = std::max(m, stream_requests(st.s, cfg.lanes));
  return m;
}

// The functional model's cost model (openrdu/model/cost.h) over the work the section's
// configuration gives each unit, as model::Core::run adds it up after a run.
uint64_t estimate_cycles(const arch::Config& cfg, const SectionBuild& b) {
  uint64_t busy = 0;
  for (const auto& pc : b.pcu_cfgs) busy = std::max(busy, model::pcu_busy_cycles(cfg, pc.count, model::pcu_outputs(pc)));
  for (const auto& pm : b.pmu_cfgs)
    if (pm.enable)
      busy = std::max(busy, model::pmu_busy_cycles(pm, pm.wr.accesses() * pm.num_tiles(), pm.rd.accesses() * pm.num_tiles()));
  std::vector<model::AgcuWork> agcu(cfg.agcu);
  auto add = [&](const arch::AgcuStream& s, const StreamRef& at) {
    const uint64_t r = stream_requests(s, cfg.lanes);
    agcu.at(at.agcu).requests += r;
    if (at.stream < 2) agcu.at(at.agcu).ld_requests[at.stream] += r;
  };
  for (size_t l = 0; l < b.loads.size() && l < b.placement.loads.size(); ++l) add(b.loads[l].s, b.placement.loads[l]);
  add(b.store.s, b.placement.store);
  for (size_t k = 0; k < b.more_stores.size() && k < b.placement.more_stores.size(); ++k)
    add(b.more_stores[k].s, b.placement.more_stores[k]);
  std::vector<uint64_t> requests;
  for (const auto& w : agcu) {
    busy = std::max(busy, model::agcu_busy_cycles(cfg, w));
    requests.push_back(w.requests);
  }
  return model::run_cycles(cfg, std::max(busy, model::port_busy_cycles(cfg, requests)));
}

}  // namespace openrdu::compiler::detail
