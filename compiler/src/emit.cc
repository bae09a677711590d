// The emit pass: the DRAM layout (views alias their root's buffer, training updates
// their state's), each section's unit configurations and bitstream, the schedule's
// estimates and the PEF's tensors, weights and META.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "openrdu/arch/memory.h"
#include "passes.h"

namespace openrdu::compiler::detail {
namespace {

constexpr uint64_t kDramBase = 0x00100000;
constexpr uint64_t kAlign = 256;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

pef::DType pef_dtype(DType t) {
  return t == DType::I64 ? pef::DType::I64 : t == DType::BOOL ? pef::DType::BOOL : pef::DType::F32;
}

// Training updates (Graph::updates): each value's buffer is its state's. Checks that the
// value owns its buffer and that no section after the value's reads the state (the
// state's old contents are gone then). Returns value root -> state.
std::map<int, int> update_buffers(const Lowered& lw, const std::vector<SectionBuild>& builds) {
  const Graph& g = lw.g;
  std::map<int, int> out;
  for (const auto& [state, value] : g.updates) {
    const std::string what = fmt::format("{}: the update of state '{}' by '{}'", g.source, g.tensors[state].name,
                                         g.tensors[value].name);
    if (lw.root[value] != value || g.tensors[value].is_output || g.tensors[value].kind != TensorKind::Value)
      throw CompileError(fmt::format("{}: the value must be computed into a buffer of its own", what));
    size_t writer = builds.size();  // the last section writing the value (streaming parts)
    for (size_t i = 0; i < builds.size(); ++i) {
      if (builds[i].output == value) writer = i;
      for (const auto& ms : builds[i].more_stores)
        if (ms.tensor == value) writer = i;
    }
    if (writer == builds.size()) throw CompileError(fmt::format("{}: no section computes the value", what));
    for (size_t i = writer + 1; i < builds.size(); ++i)
      for (const auto& l : builds[i].loads)
        if (lw.root[l.tensor] == state)
          throw CompileError(fmt::format("{}: section {} ({}) reads the state after section {} overwrote it", what,
                                         i, builds[i].name, writer));
    out[value] = state;
  }
  return out;
}

std::string stream_name(const StreamRef& s) {
  static const char* names[] = {"ld0", "ld1", "st0"};
  return fmt::format("agcu{}.{}", s.agcu, names[s.stream]);
}


// DRAM buffers by root tensor: graph inputs (state inputs are weights: uploaded once,
// updated in place by their value), constants that sections load, section outputs.
// WEIGHTS is allocated once and each constant's data is given up as it is copied there.
class Layout {
 public:
  Layout(Lowered& lw, const std::vector<SectionBuild>& builds, pef::Pef& pef) : lw_(lw), pef_(pef) {
    const Graph& g = lw.g;
    std::vector<bool> in_dram(g.tensors.size(), false);
    for (int i : g.inputs) in_dram[i] = true;
    for (const auto& b : builds) {
      for (const auto& l : b.loads) in_dram[lw.root[l.tensor]] = true;
      in_dram[lw.root[b.output]] = true;
      for (const auto& ms : b.more_stores) in_dram[lw.root[ms.tensor]] = true;
    }
    std::vector<std::pair<int, pef::Role>> first;
    for (int i : g.inputs) first.emplace_back(i, g.tensors[i].state ? pef::Role::Weight : pef::Role::Input);
    for (size_t t = 0; t < g.tensors.size(); ++t)
      if (in_dram[t] && g.tensors[t].kind == TensorKind::Constant) first.emplace_back(int(t), pef::Role::Weight);
    uint64_t weight_bytes = 0;  // WEIGHTS in one allocation
    for (const auto& [t, role] : first)
      weight_bytes += role == pef::Role::Weight ? 4 * uint64_t(g.tensors[t].elements()) : 0;
    pef_.weights.reserve(weight_bytes);
    for (const auto& [t, role] : first) place(t, role);
    const auto updated = update_buffers(lw, builds);  // value root -> state
    for (const auto& [value, state] : updated) addr_[value] = addr_.at(state);
    for (const Node& n : g.nodes) {
      const int t = n.outputs[0];
      if (in_dram[t] && lw.root[t] == t && !updated.count(t)) place(t, pef::Role::Activation);
    }
  }
  uint32_t base_of(const StreamPlan& sp) const {
    return uint32_t(addr_.at(lw_.root[sp.tensor]) + 4 * uint64_t(sp.offset));
  }
  uint64_t next = kDramBase;  // the first free byte

 private:
  void place(int t, pef::Role role) {
    Tensor& data = lw_.g.tensors[t];
    const Tensor& named = lw_.g.tensors[lw_.owner[t]];  // the buffer's name: its owning output, if any
    pef::Tensor pt;
    pt.name = named.name;
    pt.role = named.is_output ? pef::Role::Output : role;
    pt.dtype = pef_dtype(data.dtype);
    pt.shape = named.shape;
    pt.bytes = 4 * uint64_t(data.elements());
    next = align_up(next, kAlign);
    pt.dev_addr = next;
    addr_[t] = next;
    next += pt.bytes;
    if (role == pef::Role::Weight) {  // the graph's copy is given up as WEIGHTS takes it
      pt.weight_offset = pef_.weights.size();
      const size_t off = pef_.weights.size();
      if (4 * uint64_t(data.data.size()) < pt.bytes)
        throw CompileError(fmt::format("{}: constant '{}' holds {} values, its shape {}", lw_.g.source, data.name,
                                       data.data.size(), data.elements()));
      arch::consume_chunks(reinterpret_cast<uint8_t*>(data.data.data()), pt.bytes,
                           [&](const uint8_t* p, size_t o, size_t n) {
                             pef_.weights.resize(off + o + n);  // touched chunk by chunk (reserved above)
                             std::memcpy(pef_.weights.data() + off + o, p, n);
                           });
      std::vector<float>().swap(data.data);
    }
    pef_.tensors.push_back(std::move(pt));
  }
  Lowered& lw_;
  pef::Pef& pef_;
  std::map<int, uint64_t> addr_;  // root tensor -> device address
};

// The unit configurations of one section (AGCU streams based at their buffers, PCUs,
// PMUs, switches), its names for the stats in `pcus`.
arch::UnitWords section_units(const arch::Config& cfg, const SectionBuild& b, const Layout& layout,
                              std::string& pcus) {
  const Placement& pl = b.placement;
  std::map<uint32_t, arch::AgcuConfig> agcus;
  for (size_t l = 0; l < b.loads.size(); ++l) {
    arch::AgcuStream s = b.loads[l].s;
    s.base = layout.base_of(b.loads[l]);
    agcus[pl.loads[l].agcu].ld[pl.loads[l].stream] = s;
  }
  arch::AgcuStream sst = b.store.s;
  sst.base = layout.base_of(b.store);
  agcus[pl.store.agcu].st = sst;
  for (size_t k = 0; k < b.more_stores.size() && k < pl.more_stores.size(); ++k) {
    arch::AgcuStream ms = b.more_stores[k].s;
    ms.base = layout.base_of(b.more_stores[k]);
    agcus[pl.more_stores[k].agcu].st = ms;
  }
  arch::UnitWords units;
  for (size_t p = 0; p < pl.pcus.size(); ++p) {
    const uint32_t id = cfg.slot_id(pl.pcus[p].first, pl.pcus[p].second);
    units[id] = b.pcu_cfgs[p].encode(cfg);
    pcus += (pcus.empty() ? "" : ", ") + cfg.unit_name(id);
  }
  for (size_t m = 0; m < pl.pmus.size() && m < b.pmu_cfgs.size(); ++m) {
    const uint32_t id = cfg.slot_id(pl.pmus[m].first, pl.pmus[m].second);
    units[id] = b.pmu_cfgs[m].encode();
    pcus += (pcus.empty() ? "" : ", ") + cfg.unit_name(id);
  }
  for (const auto& [k, a] : agcus) units[cfg.agcu_id(k)] = a.encode();
  for (const auto& [id, s] : pl.switches) units[id] = s.encode();
  return units;
}

// The id on `device` of unit `id` of the placement grid `cfg` (its first tiles: the same
// rows, columns and AGCUs). A switch right of those tiles would belong to another tile.
uint32_t device_unit(const arch::Config& cfg, const arch::Config& device, uint32_t id, const std::string& section) {
  if (cfg.cols == device.cols) return id;
  switch (cfg.unit_kind(id)) {
    case arch::UnitKind::Pcu:
    case arch::UnitKind::Pmu: return device.slot_id(id / cfg.cols, id % cfg.cols);
    case arch::UnitKind::Agcu: return device.agcu_id(id - cfg.num_slots());
    case arch::UnitKind::Switch: break;
  }
  const uint32_t s = id - cfg.num_slots() - cfg.agcu, r = s / (cfg.cols + 1), c = s % (cfg.cols + 1);
  if (c == cfg.cols)
    throw CompileError(fmt::format("{}: the route uses switch({},{}), right of the {} tiles compiled for (--tiles): "
                                   "it belongs to the next tile",
                                   section, r, c, cfg.num_tiles()));
  return device.switch_id(r, c);
}

// One PEF section: bitstream, the functional model's estimate (PEF SCHEDULE) and the
// debug map (unit -> the nodes it serves); its stats appended to `st`. Unit ids of the
// placement grid `cfg` become the device's.
pef::Section emit_section(const Graph& g, const arch::Config& cfg, const arch::Config& device, const SectionBuild& b,
                          const Layout& layout, CompileStats& st) {
  const Placement& pl = b.placement;
  std::string pcus;
  arch::UnitWords units;
  for (auto& [id, w] : section_units(cfg, b, layout, pcus)) units[device_unit(cfg, device, id, b.name)] = std::move(w);
  pef::Section sec;
  sec.name = b.name;
  sec.bitstream = arch::assemble_bitstream(device, units);
  sec.est_cycles = estimate_cycles(cfg, b);
  std::vector<std::string> all_nodes;
  for (int nid : b.node_ids) all_nodes.push_back(g.nodes[nid].name);
  for (const auto& [id, w] : units) sec.debug[id] = all_nodes;
  for (size_t p = 0; p < pl.pcus.size() && p < b.plans.size(); ++p) {
    auto& names = sec.debug[device.slot_id(pl.pcus[p].first, pl.pcus[p].second)];
    names.clear();
    for (int nid : b.plans[p].node_ids) names.push_back(g.nodes[nid].name);
  }
  std::string streams;
  for (const auto& s : pl.loads) streams += stream_name(s) + " ";
  streams += stream_name(pl.store);
  for (const auto& s : pl.more_stores) streams += " " + stream_name(s);
  SectionStats ss;
  ss.name = b.name;
  ss.units = fmt::format("{}; {}; {} switches", pcus, streams, pl.switches.size());
  ss.vectors = b.vectors;
  ss.bitstream_words = uint32_t(sec.bitstream.size());
  spdlog::debug("section {} '{}' ({}): {}; {} vectors", st.sections.size(), b.name, b.kind, ss.units, b.vectors);
  st.sections.push_back(ss);
  st.pcus += uint32_t(pl.pcus.size());
  st.agcu_streams += uint32_t(pl.loads.size() + 1 + pl.more_stores.size());
  st.switches += uint32_t(pl.switches.size());
  return sec;
}

}  // namespace

pef::Pef emit_pef(Lowered& lw, const std::vector<SectionBuild>& builds, const arch::Config& cfg,
                  const arch::Config& device, const Options& opts, CompileStats* stats) {
  const Graph& g = lw.g;
  pef::Pef pef;
  pef.config_name = device.name;
  pef.fingerprint = device.fingerprint();
  Layout layout(lw, builds, pef);
  CompileStats st;
  for (const SectionBuild& b : builds) pef.sections.push_back(emit_section(g, cfg, device, b, layout, st));
  // Bitstreams after the tensors.
  uint64_t next = layout.next;
  for (auto& sec : pef.sections) {
    next = align_up(next, kAlign);
    sec.dev_addr = next;
    next += 4 * uint64_t(sec.bitstream.size());
  }
  // Loads read LANES words from lane 0's address: keep that slack inside DRAM.
  const uint64_t end = next + 4 * uint64_t(cfg.lanes);
  if (end > cfg.dram_bytes)
    throw CompileError(
        fmt::format("{}: the program needs {} bytes of device DRAM (tensors and bitstreams from 0x{:08X}), "
                    "configuration '{}' has {}",
                    g.source, end, kDramBase, cfg.name, cfg.dram_bytes));
  st.dram_bytes = next;
  pef.meta["source"] = g.source;
  pef.meta["opt_level"] = std::to_string(opts.opt_level);
  pef.meta["compiler_version"] = version();
  pef.meta["config"] = device.name;
  if (opts.tiles != 0) {  // docs/pef.md: the tiles the program was placed on
    pef.meta["tiles"] = std::to_string(opts.tiles);
    pef.meta["tile_shape"] = fmt::format("{}x{}", device.tile_h(), device.tile_w());
  }
  pef.meta["fusion"] = opts.opt_level == 0 ? "none" : opts.opt_level == 1 ? "chain" : "chain+pipeline";
  for (size_t i = 0; i < pef.sections.size(); ++i)
    pef.meta[fmt::format("placement.{}", i)] = fmt::format("{} [{}]", st.sections[i].name, st.sections[i].units);
  if (stats) *stats = std::move(st);
  return pef;
}

}  // namespace openrdu::compiler::detail
