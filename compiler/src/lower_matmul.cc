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
#include "openrdu/model/cost.h"

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

SectionBuild lower_matmul(const Lowered& lw, const arch::Config& cfg, int node, const std::string& what, int chain) {
  const Graph& g = lw.g;
  const Node& n = g.nodes.at(size_t(node));
  // Not a structured binding: lambdas below capture them (clang 14, the fuzz build, lacks that).
  const bool ta = lw.trans.at(node).first, tb = lw.trans.at(node).second;
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
  const int64_t nt = (N + L - 1) / L;
  const uint64_t inflight = std::max<uint32_t>(1, cfg.inflight);
  const uint64_t lat = cfg.dram_latency_cycles + 3;
  const bool a_gather = am != 1 && am != 0;  // column of A: n_acc requests per firing
  const bool b_gather = bn != 1 && bn != 0;
  // Stores: one per (m-part, n-part), at most one per AGCU; PCUs: Pc per store.
  auto pmax_for = [&](int64_t Pc) {
    return std::max<int64_t>(1, std::min<int64_t>(int64_t(cfg.num_pcu()) / Pc, cfg.agcu));
  };

  // Candidate mappings: R = Pc * n_acc rows per m-tile, computed by a drain chain of Pc
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
  const int64_t pmu_rows = cfg.pmu_depth();
  const int64_t npmu_max = int64_t(cfg.num_slots() - cfg.num_pcu());
  struct Cand {
    int64_t n_acc, Pc, Pm, Pn, vp, mtp, D, ntp;
    uint64_t cost;
    bool pmu = false;
  };
  std::vector<Cand> cands;
  auto add = [&](int64_t n_acc, int64_t Pc, int64_t Pm, int64_t vp, int64_t mtp, int64_t D) {
    const int64_t R = Pc * n_acc;
    for (int64_t Pn = 1; Pn * Pm <= pmax_for(Pc) && Pn <= nt; ++Pn) {
      if (Pm + Pn > int64_t(2 * cfg.agcu)) break;
      const int64_t ntp = (nt + Pn - 1) / Pn;
      if ((Pn - 1) * ntp >= nt) continue;  // an empty n-part
      const uint64_t groups = uint64_t(nbatch) * uint64_t(vp * mtp * ntp);
      const uint64_t f = groups * uint64_t(K);
      // The estimate's terms (estimate_cycles) before placement: PCU firings and drained
      // rows, each load stream's in-flight bound, the requests spread over the AGCUs and
      // over the memory ports.
      const uint64_t ra = f * uint64_t(a_gather ? R : 1);
      const uint64_t rs = groups * uint64_t(R);
      const uint64_t ports = std::max<uint32_t>(1, cfg.dram_channels);
      for (bool pmu : {false, true}) {
        if (pmu && (vp * mtp < 2 || K > pmu_rows || Pn > npmu_max)) continue;  // no reuse, or no room
        const uint64_t rb = (pmu ? uint64_t(nbatch * ntp * K) : f) * uint64_t(b_gather ? std::min(L, N) : 1);
        uint64_t cost = std::max<uint64_t>(f, rs);
        if (pmu) cost = std::max<uint64_t>(cost, f + uint64_t(K) + 2);
        cost = std::max(cost, (std::max(ra, rb) + inflight - 1) / inflight * lat);
        const uint64_t total = ra * uint64_t(Pm) + rb * uint64_t(Pn) + rs * uint64_t(Pm * Pn);
        cost = std::max<uint64_t>(cost, (total + cfg.agcu - 1) / cfg.agcu);
        cost = std::max<uint64_t>(cost, (total + ports - 1) / ports);
        cands.push_back({n_acc, Pc, Pm, Pn, vp, mtp, D, ntp, cost, pmu});
      }
    }
  };
  // The rows of a tile are lanes of one A vector, named by a 4-bit broadcast lane.
  const int64_t rows_max = std::min<int64_t>({L, 16, M});
  const int64_t acc_max = std::min<int64_t>(cfg.stages, rows_max);
  for (int64_t n_acc = acc_max; n_acc >= 1; --n_acc) {
    for (int64_t Pc = 1; Pc * n_acc <= rows_max && Pc <= int64_t(cfg.num_pcu()); ++Pc) {
      const int64_t R = Pc * n_acc;
      for (int64_t Pm = 1; Pm <= pmax_for(Pc); ++Pm) {
        if (M % R == 0 && (M / R) % Pm == 0) {
          const int64_t mtp = M / R / Pm;
          add(n_acc, Pc, Pm, 1, mtp, mtp * R);
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
            if (D >= 1 && D < span) add(n_acc, Pc, Pm, vp, mtp, D);
            break;
          }
        }
      }
    }
  }
  if (chain < 0) throw CompileError(fmt::format("{}: matmul chain {} is not supported (0 automatic, N >= 1)", what, chain));
  if (chain > 0) {
    std::erase_if(cands, [&](const Cand& c) { return c.Pc != chain; });
    if (cands.empty())
      throw CompileError(fmt::format("{}: no mapping with drain chains of {} PCUs on '{}' (a tile's rows are at most "
                                     "{} lanes and the chains need PCUs)",
                                     what, chain, cfg.name, rows_max));
  }
  // Cheapest first; ties: B from a PMU (less DRAM traffic), fewer PCUs, fewer loads, more
  // rows per tile (the previous mapping).
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) {
    if (x.cost != y.cost) return x.cost < y.cost;
    if (x.pmu != y.pmu) return x.pmu;
    if (x.Pm * x.Pn * x.Pc != y.Pm * y.Pn * y.Pc) return x.Pm * x.Pn * x.Pc < y.Pm * y.Pn * y.Pc;
    if (x.Pm + x.Pn != y.Pm + y.Pn) return x.Pm + x.Pn < y.Pm + y.Pn;
    return x.n_acc > y.n_acc;
  });

  auto with_batch = [&](int64_t BDim::*field, std::vector<WalkDim> inner) {
    std::vector<WalkDim> v;
    for (const BDim& d : bd) v.push_back({uint64_t(d.count), d.*field});
    v.insert(v.end(), inner.begin(), inner.end());
    return v;
  };
  const int nb = int(bd.size());
  auto build = [&](const Cand& c) {
    const int64_t n_acc = c.n_acc, Pc = c.Pc, Pm = c.Pm, Pn = c.Pn, vp = c.vp, mtp = c.mtp, D = c.D, ntp = c.ntp;
    const int64_t R = Pc * n_acc;  // rows per m-tile
    const uint64_t groups = uint64_t(nbatch) * uint64_t(vp * mtp * ntp);
    const uint64_t firings = groups * uint64_t(K);
    if (firings > kU32 || uint64_t(K) > kU32)
      throw CompileError(fmt::format("{}: {} PCU firings do not fit the count register", what, firings));
    SectionBuild b;
    b.kind = "matmul";
    b.node_ids = {node};
    b.name = n.name;
    b.what = what;
    b.output = ty;
    const bool pmu = c.pmu;
    for (int64_t i = 0; i < Pm; ++i) {
      StreamPlan la;
      la.tensor = ta_id;
      la.offset = i * vp * D * am;
      const WalkDim dv{uint64_t(vp), D * am}, dm{uint64_t(mtp), R * am}, dn{uint64_t(ntp), 0}, dk{uint64_t(K), ak};
      la.s = make_stream(with_batch(&BDim::a, pmu ? std::vector<WalkDim>{dn, dv, dm, dk} : std::vector<WalkDim>{dv, dm, dn, dk}),
                         R > 1 ? am : 1, -1, 0, uint64_t(R), cfg.lanes, what + " (load of A)");
      b.loads.push_back(la);
    }
    for (int64_t j = 0; j < Pn; ++j) {
      StreamPlan lb;
      lb.tensor = tb_id;
      lb.offset = j * ntp * L * bn;
      // Into PMU j: each n-tile once; straight to the PCUs: again for every m-tile.
      lb.s = pmu ? make_stream(with_batch(&BDim::b, {{uint64_t(ntp), L * bn}, {uint64_t(K), bk}}), N > 1 ? bn : 1, nb,
                               uint64_t(N - j * ntp * L), uint64_t(L), cfg.lanes, what + " (load of B)")
                 : make_stream(with_batch(&BDim::b, {{uint64_t(vp * mtp), 0}, {uint64_t(ntp), L * bn}, {uint64_t(K), bk}}),
                               N > 1 ? bn : 1, nb + 1, uint64_t(N - j * ntp * L), uint64_t(L), cfg.lanes,
                               what + " (load of B)");
      b.loads.push_back(lb);
      if (pmu) {
        arch::PmuConfig pm;
        pm.enable = true;
        pm.mode = 0;
        pm.nbuf = 2 * K <= pmu_rows ? 2 : 1;
        const uint64_t tiles = uint64_t(nbatch) * uint64_t(ntp);
        if (tiles > kU32 || uint64_t(vp * mtp) > kU32)
          throw CompileError(fmt::format("{}: {} B tiles do not fit a PMU's tile count", what, tiles));
        pm.tiles = uint32_t(tiles);
        pm.buf_rows = uint32_t(K);
        pm.wr.c0 = uint32_t(K);  // rows k = 0..K-1 of the tile's buffer
        pm.wr.s0 = 1;
        pm.wr.c1 = 1;
        pm.rd.c0 = uint32_t(K);  // the same rows, once per m-tile of the PCUs
        pm.rd.s0 = 1;
        pm.rd.c1 = uint32_t(vp * mtp);
        pm.rd.s1 = 0;
        b.pmu_cfgs.push_back(pm);
        b.pmu_loads.push_back(int(Pm + j));
      }
    }
    std::vector<StreamPlan> stores;
    for (int64_t i = 0; i < Pm; ++i)
      for (int64_t j = 0; j < Pn; ++j) {
        StreamPlan st;
        st.tensor = ty;
        st.offset = i * vp * D * N + j * ntp * L;
        const WalkDim dv{uint64_t(vp), D * N}, dm{uint64_t(mtp), R * N}, dn{uint64_t(ntp), L}, dr{uint64_t(R), N};
        st.s = make_stream(with_batch(&BDim::c, pmu ? std::vector<WalkDim>{dn, dv, dm, dr} : std::vector<WalkDim>{dv, dm, dn, dr}),
                           1, pmu ? nb : nb + 2, uint64_t(N - j * ntp * L), uint64_t(L), cfg.lanes, what + " (store)");
        stores.push_back(st);
      }
    // Chain position c: rows c*n_acc .. c*n_acc+n_acc-1 of each tile; it forwards the
    // rows of positions c+1 .. Pc-1 (from its input 2) after its own.
    auto program = [&](int64_t c) {
      arch::PcuConfig pc;
      pc.enable = true;
      pc.vin_mask = 0b11;
      pc.count = uint32_t(firings);
      pc.out_mode = 1;
      pc.acc_len = uint32_t(K);
      pc.acc_init = 0x80000000u;  // -0.0
      pc.chain = uint8_t((Pc - 1 - c) * n_acc);
      for (uint32_t s = 0; s < cfg.stages; ++s) {
        arch::PcuStage st;
        if (int64_t(s) < n_acc) {
          st.op = arch::Opcode::FMA;
          st.src_a = uint8_t(arch::Src::BREG0);
          st.bl = uint8_t(c * n_acc + s);
          st.src_b = uint8_t(arch::Src::REG1);
          st.src_c = uint8_t(arch::Src::ACC);
          st.dst = 2;
          st.acc = true;
        }
        pc.stages.push_back(st);
      }
      return pc;
    };
    // Chain q = i*Pn + j holds PCUs q*Pc .. q*Pc+Pc-1 at positions Pc-1 .. 0, so that
    // each position's input 2 is the PCU before it and the chain's head comes last; the
    // last head's result is `store`, the other heads' `more_stores`.
    const int64_t P = Pm * Pn;
    std::vector<int> more;
    for (int64_t q = 0; q < P; ++q) {
      for (int64_t c = Pc - 1; c >= 0; --c) {
        const int p = int(b.pcu_cfgs.size());
        b.pcu_cfgs.push_back(program(c));
        std::vector<PcuInput> in;
        if (pmu)
          in = {{false, int(q / Pn)}, {false, int(q % Pn), true}};
        else
          in = {{false, int(q / Pn)}, {false, int(Pm + q % Pn)}};
        if (c + 1 < Pc) in.push_back({true, p - 1});
        b.pcu_inputs.push_back(in);
        if (c == 0 && q + 1 < P) {
          more.push_back(p);
          b.more_stores.push_back(stores[size_t(q)]);
        }
      }
    }
    b.store = stores.back();
    b.placement = place_and_route(cfg, int(Pm + Pn), b.pcu_inputs, what, more, b.pmu_loads);
    b.vectors = 0;
    for (const auto& st : stores) b.vectors += st.s.vectors();
    b.detail = fmt::format("batch={} M={} K={} N={} n_acc={} groups={} firings={}{}{}", nbatch, M, K, N, n_acc,
                           groups * uint64_t(P * Pc), firings * uint64_t(P * Pc), ta ? " A^T" : "", tb ? " B^T" : "");
    if (Pc > 1) b.detail += fmt::format(" chains={}x{} (PCUs x {} rows; {} rows per m-tile)", P, Pc, n_acc, R);
    if (pmu) b.detail += fmt::format(" B-tiles-in-PMUs={} buffers={}", Pn, b.pmu_cfgs.front().buffers());
    if (P > 1 || vp > 1)
      b.detail += fmt::format(" pcus={}x{} (m-parts x n-parts) m-tiles/part={} parts/pcu={} part-step={} n-tiles/pcu={}",
                              Pm, Pn, mtp, vp, D, ntp);
    return b;
  };
  std::string first_error;
  for (const Cand& c : cands) {
    try {
      return build(c);
    } catch (const CompileError& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  throw CompileError(first_error.empty() ? fmt::format("{}: no mapping of the product", what) : first_error);
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
  const int64_t L = cfg.lanes;
  // Through a PMU in transposed mode: [batch,] R x C -> C x R with R and C multiples of
  // LANES, one L x L block per tile: L contiguous row vectors in, L column vectors out.
  // One memory request per vector each way instead of a LANES-lane gather.
  if (dims.size() >= 2 && dims.size() <= 3 && cfg.pmu_depth() >= uint32_t(2 * L) &&
      cfg.num_slots() > cfg.num_pcu()) {
    const TD cd = dims[dims.size() - 2], rd = dims.back();  // output order: C (outer), R (inner)
    const int64_t R = rd.count, C = cd.count;
    if (cd.ld == 1 && rd.st == 1 && rd.ld == C && cd.st == R && R % L == 0 && C % L == 0) {
      const bool batched = dims.size() == 3;
      const TD bt = batched ? dims[0] : TD{1, 0, 0};
      const uint64_t tiles = uint64_t(bt.count) * uint64_t(R / L) * uint64_t(C / L);
      if (tiles <= kU32) {
        SectionBuild b = mov_section(
            cfg, node, n.name, x, 0, y, 0,
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
          b.detail = fmt::format("perm={} {} -> {} through a PMU (transposed mode), {} tiles of {}x{}", shape_str(perm),
                                 shape_str(sx), shape_str(sy), tiles, L, L);
          return b;
        } catch (const CompileError&) {
          // no route with the PMU: the gather below
        }
      }
    }
  }
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
      cfg, node, n.name, x, 0, y, 0,
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
