// Streaming sections split over parallel PCU groups (docs/compiler.md, "Parallel
// streaming sections").
//
// An elementwise or copy section walks one iteration space: every load stream and the
// store stream have the same counts, and every PCU fires once per vector. Such a section
// can be cut along one dimension of that space into P parts, each part a copy of the
// section's PCUs with its own load streams and its own store stream, placed on other
// AGCUs: the parts' memory requests then spread over the AGCUs (one request per cycle
// each) and over the core's memory ports (AGCU k on port k mod ports), which is what
// bounds a streaming section on one AGCU. The candidate with the lowest estimate of
// run plus configuration cycles wins; a tie keeps fewer parts. A section through PMUs
// (a transpose through a PMU in transposed mode) is cut at tile boundaries only, each
// part with its own PMUs holding its share of the tiles.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "lower.h"

namespace openrdu::compiler::detail {

namespace {

// Vectors per PMU tile, the same for every PMU of the section (each side moves one
// vector per access): 0 when the section has PMUs that cannot be cut into whole tiles.
uint64_t pmu_tile_vectors(const SectionBuild& b) {
  uint64_t tv = 0;
  for (const auto& pm : b.pmu_cfgs) {
    const uint64_t w = pm.wr.accesses(), r = pm.rd.accesses();
    if (!pm.enable || w == 0 || w != r || w * pm.num_tiles() != b.vectors || (tv && tv != w)) return 0;
    tv = w;
  }
  return tv;
}

// The outermost dimension of a stream with more than one index (0 if none).
int outer_dim(const arch::AgcuStream& s) {
  for (int d = 3; d > 0; --d)
    if (s.c[d] > 1) return d;
  return 0;
}

// Vectors inside one index of a stream's outermost dimension.
uint64_t outer_step(const arch::AgcuStream& s) {
  uint64_t v = 1;
  for (int d = 0; d < outer_dim(s); ++d) v *= s.c[d];
  return v;
}

// Streams whose walks differ (make_stream merged or dropped other dimensions: a
// broadcast operand, the load and store of a transpose through a PMU) still move the
// same vectors in the same order, one per firing. A part [A, A+N) of that order is a
// range of each stream's outermost dimension when A and N are multiples of the vectors
// inside one index of it: the granularity G is the least common multiple of those (and
// of the PMU tile), 0 when the streams move different vector counts.
uint64_t flat_granularity(const SectionBuild& b, uint64_t tile_vectors) {
  uint64_t g = std::max<uint64_t>(1, tile_vectors);
  g = std::lcm(g, outer_step(b.store.s));
  for (const auto& l : b.loads) {
    if (l.s.vectors() != b.store.s.vectors()) return 0;
    g = std::lcm(g, outer_step(l.s));
  }
  return g;
}

// Every stream walks the same space as the store (any dimension can be cut).
bool same_walks(const SectionBuild& b) {
  for (const auto& l : b.loads) {
    if (l.s.vdim != b.store.s.vdim || l.s.vstep != b.store.s.vstep) return false;
    for (int d = 0; d < 4; ++d)
      if (l.s.c[d] != b.store.s.c[d]) return false;
  }
  return true;
}

// Can the section be cut: PCUs stream one output per firing, never read the element
// index, and every stream moves the store's vectors (walking the same space, or else cut
// at multiples of flat_granularity); PMUs hold whole tiles.
bool splittable(const SectionBuild& b) {
  if (b.pcu_cfgs.empty() || b.loads.empty() || !b.more_stores.empty()) return false;
  if (!b.pmu_cfgs.empty() && pmu_tile_vectors(b) == 0) return false;
  if (b.pcu_cfgs.size() != b.plans.size()) return false;
  for (const auto& pc : b.pcu_cfgs) {
    if (pc.out_mode != 0 || pc.reduce != 0 || pc.count != b.vectors) return false;
    for (const auto& st : pc.stages) {
      const auto lane = uint8_t(gen::Src::LANE), acc = uint8_t(gen::Src::ACC);
      if (st.acc || st.src_a == lane || st.src_b == lane || st.src_c == lane || st.src_a == acc ||
          st.src_b == acc || st.src_c == acc)
        return false;
    }
  }
  if (b.store.s.vectors() != b.vectors) return false;
  return same_walks(b) || flat_granularity(b, b.pmu_cfgs.empty() ? 1 : pmu_tile_vectors(b)) != 0;
}

// The part [a, a + n) of dimension d of stream s.
StreamPlan cut(const StreamPlan& sp, int d, uint32_t a, uint32_t n, uint32_t lanes) {
  StreamPlan r = sp;
  r.offset += int64_t(a) * sp.s.s[d];
  r.s.c[d] = n;
  if (sp.s.vdim == d) {
    const uint64_t step = sp.s.vstep ? sp.s.vstep : lanes;
    const uint64_t skip = uint64_t(a) * step;
    r.s.vlen = uint32_t(sp.s.vlen > skip ? sp.s.vlen - skip : 0);
  }
  return r;
}

// The section cut into `parts` along dimension d of every stream (c[d] >= parts) when
// the walks are the same; with d = -1, into ranges of the vector order at multiples of
// flat_granularity, each stream cut on its outermost dimension. Throws CompileError
// when it does not place and route.
SectionBuild split(const arch::Config& cfg, const SectionBuild& b, uint32_t parts, int d) {
  const size_t npcu = b.pcu_cfgs.size(), nload = b.loads.size(), npmu = b.pmu_cfgs.size();
  const uint64_t tile_vectors = npmu ? pmu_tile_vectors(b) : 1;
  const bool flat = d < 0;
  const uint64_t gran = flat ? flat_granularity(b, tile_vectors) : 1;
  if (flat && gran == 0) throw CompileError(fmt::format("{}: the streams move different vectors", b.what));
  // Units cut into parts: indices of dimension d, or groups of `gran` vectors (the last
  // part also takes the remainder of the vectors).
  const uint64_t count = flat ? b.vectors / gran : b.store.s.c[d];
  if (count < parts) throw CompileError(fmt::format("{}: {} units for {} parts", b.what, count, parts));
  auto cut_stream = [&](const StreamPlan& sp, uint64_t a, uint64_t n, bool last) {
    if (!flat) return cut(sp, d, uint32_t(a), uint32_t(n), cfg.lanes);
    const uint64_t step = outer_step(sp.s), first = a * gran;
    const uint64_t len = last ? sp.s.vectors() - first : n * gran;
    return cut(sp, outer_dim(sp.s), uint32_t(first / step), uint32_t(len / step), cfg.lanes);
  };
  SectionBuild s = b;
  s.plans.clear();
  s.pcu_cfgs.clear();
  s.pcu_inputs.clear();
  s.loads.clear();
  s.more_stores.clear();
  s.pmu_cfgs.clear();
  s.pmu_loads.clear();
  std::vector<StreamPlan> stores;
  std::vector<int> more_stored;
  uint64_t a = 0;
  for (uint32_t p = 0; p < parts; ++p) {
    const uint64_t n = count / parts + (p < count % parts ? 1 : 0);
    const StreamPlan st = cut_stream(b.store, a, n, p + 1 == parts);
    for (size_t q = 0; q < npcu; ++q) {
      s.plans.push_back(b.plans[q]);
      arch::PcuConfig pc = b.pcu_cfgs[q];
      pc.count = uint32_t(st.s.vectors());
      s.pcu_cfgs.push_back(pc);
      std::vector<PcuInput> ins = b.pcu_inputs[q];
      for (auto& in : ins) in.index += int(in.from_pcu ? p * npcu : in.from_pmu ? p * npmu : p * nload);
      s.pcu_inputs.push_back(ins);
    }
    for (size_t k = 0; k < npmu; ++k) {
      arch::PmuConfig pm = b.pmu_cfgs[k];
      if (st.s.vectors() % tile_vectors != 0)
        throw CompileError(fmt::format("{}: a part of {} vectors is not whole PMU tiles of {}", b.what,
                                       st.s.vectors(), tile_vectors));
      pm.tiles = uint32_t(st.s.vectors() / tile_vectors);
      s.pmu_cfgs.push_back(pm);
      s.pmu_loads.push_back(b.pmu_loads[k] + int(p * nload));
    }
    for (const auto& l : b.loads) s.loads.push_back(cut_stream(l, a, n, p + 1 == parts));
    stores.push_back(st);
    if (p + 1 < parts) more_stored.push_back(int((p + 1) * npcu - 1));
    a += n;
  }
  // place_and_route stores the last PCU first, then `more_stored` in order.
  s.store = stores.back();
  s.more_stores.assign(stores.begin(), stores.end() - 1);
  s.placement = place_and_route(cfg, int(s.loads.size()), s.pcu_inputs, b.what, more_stored, s.pmu_loads,
                                max_stream_requests(cfg, s));
  s.detail = flat ? fmt::format("{}; split in {} parts of the vector order ({} groups of {} vectors)", b.detail,
                                parts, count, gran)
                  : fmt::format("{}; split in {} parts along stream dim {} ({} of {})", b.detail, parts, d,
                                count / parts + (count % parts ? 1 : 0), count);
  return s;
}

}  // namespace

// Configuration cycles of a section, as the configuration controller spends them
// (rtl/core/rdu_cfg_ctrl.sv): it parses one bitstream word per cycle but reads LANES
// words per request with 4 reads in flight, so a round trip of about latency + 8 cycles
// brings 4*LANES words. Words: 4 header words, per unit a record header and its words
// (a PCU's without its counter chain, as most are), the terminator and the CRC. A cut
// section configures more units; on a short stream that costs more than the parts save.
uint64_t config_cycles(const arch::Config& cfg, const SectionBuild& b) {
  const Placement& pl = b.placement;
  std::set<uint32_t> agcus = {pl.store.agcu};
  for (const auto& l : pl.loads) agcus.insert(l.agcu);
  for (const auto& m : pl.more_stores) agcus.insert(m.agcu);
  const uint64_t words = 6 + pl.pcus.size() * (1 + uint64_t(gen::bits::pcu_ctr_base(cfg.stages))) +
                         pl.pmus.size() * (1 + uint64_t(cfg.config_words(arch::UnitKind::Pmu))) +
                         agcus.size() * (1 + uint64_t(arch::kAgcuWords)) +
                         pl.switches.size() * (1 + uint64_t(arch::kSwitchWords));
  const double per_word = std::max(1.0, double(cfg.dram_latency_cycles + 8) / (4.0 * cfg.lanes));
  return uint64_t(double(words) * per_word) + cfg.dram_latency_cycles;
}

SectionBuild split_streaming(const arch::Config& cfg, SectionBuild b, int want) {
  if (want == 1 || !splittable(b)) return b;
  const uint32_t npcu = uint32_t(b.pcu_cfgs.size()), nload = uint32_t(b.loads.size());
  const uint32_t npmu = uint32_t(b.pmu_cfgs.size());
  const uint32_t num_pmu = cfg.num_slots() - cfg.num_pcu();
  const uint32_t max_parts =
      std::min({cfg.agcu, cfg.num_pcu() / npcu, 2 * cfg.agcu / nload, npmu ? num_pmu / npmu : cfg.agcu});
  // With PMUs a part must hold whole tiles: dimension d is cut only when the vectors
  // inside one index of d are whole tiles.
  const uint64_t tile_vectors = npmu ? pmu_tile_vectors(b) : 1;
  // Run and configuration: the runtime configures every section before it runs it.
  uint64_t best_est = estimate_cycles(cfg, b) + config_cycles(cfg, b);
  SectionBuild best;
  bool split_wins = false;
  for (uint32_t parts = 2; parts <= max_parts; ++parts) {
    if (want >= 2 && parts != uint32_t(want)) continue;
    // The dimension that balances the parts best (the outermost on a tie); walks that
    // differ are cut in the vector order (dim -1).
    const bool same = same_walks(b);
    int dim = same ? -2 : -1;
    uint64_t dim_max = ~uint64_t(0);
    for (int d = 3; d >= 0 && same; --d) {
      const uint32_t c = b.store.s.c[d];
      if (c < parts) continue;
      uint64_t inner = 1;
      for (int e = 0; e < d; ++e) inner *= b.store.s.c[e];
      if (inner % tile_vectors != 0) continue;
      const uint64_t part = (b.vectors / c) * ((c + parts - 1) / parts);
      if (part < dim_max) {
        dim_max = part;
        dim = d;
      }
    }
    if (dim == -2) continue;
    try {
      SectionBuild c = split(cfg, b, parts, dim);
      const uint64_t est = estimate_cycles(cfg, c) + config_cycles(cfg, c);
      if (est < best_est || want >= 2) {  // a tie keeps fewer parts
        best_est = est;
        best = std::move(c);
        split_wins = true;
      }
    } catch (const CompileError&) {
      // does not place and route with this many parts: keep the others
    }
  }
  if (!split_wins) return b;
  return best;
}

}  // namespace openrdu::compiler::detail
