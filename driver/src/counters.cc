#include "openrdu/driver/counters.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "openrdu/gen/regs.h"

namespace openrdu::driver {

namespace reg = gen::reg;
using nlohmann::json;

std::vector<ChannelCounters> read_dram_channels(Device& dev) {
  std::vector<ChannelCounters> v;
  const uint32_t n = dev.read32(reg::DRAM_CHANNELS);
  for (uint32_t c = 0; c < n; ++c) {
    dev.write32(reg::DRAM_CH_SEL, c);
    v.push_back({c, dev.read32(reg::DRAM_CH_RD_BYTES), dev.read32(reg::DRAM_CH_WR_BYTES), dev.read32(reg::DRAM_CH_REQS),
                 dev.read32(reg::DRAM_CH_BUSY_CYCLES)});
  }
  return v;
}

Counters read_counters(Device& dev, const arch::Config& cfg, const std::vector<bool>* units,
                       const std::vector<ChannelCounters>* channels_before) {
  Counters c;
  c.backend = dev.info().backend;
  c.config = cfg.name;
  c.clock_mhz = cfg.clock_mhz;
  c.lanes = cfg.lanes;
  c.dram_bytes_per_cycle = cfg.dram_bytes_per_cycle;
  c.dram_latency_cycles = cfg.dram_latency_cycles;
  c.estimated = c.backend == "func";
  c.runs = 1;
  c.run_cycles = (uint64_t(dev.read32(reg::CYCLES_HI)) << 32) | dev.read32(reg::CYCLES_LO);
  const uint32_t n = cfg.num_slots() + cfg.agcu;
  for (uint32_t id = 0; id < n; ++id) {
    UnitCounters u;
    u.id = id;
    u.name = cfg.unit_name(id);
    const auto kind = cfg.unit_kind(id);
    u.kind = kind == arch::UnitKind::Pcu ? "pcu" : kind == arch::UnitKind::Pmu ? "pmu" : "agcu";
    if (!units || (id < units->size() && (*units)[id])) {
      dev.write32(reg::PERF_UNIT, id);
      u.active = dev.read32(reg::PERF_ACTIVE);
      u.stall_in = dev.read32(reg::PERF_STALL_IN);
      u.stall_out = dev.read32(reg::PERF_STALL_OUT);
    }
    u.runs = 1;
    c.units.push_back(std::move(u));
  }
  c.mem_rd_reqs = dev.read32(reg::MEM_RD_REQS);
  c.mem_wr_reqs = dev.read32(reg::MEM_WR_REQS);
  c.mem_rd_bytes = dev.read32(reg::MEM_RD_BYTES);
  c.mem_wr_bytes = dev.read32(reg::MEM_WR_BYTES);
  if (channels_before) {
    c.dram_channels = read_dram_channels(dev);
    for (auto& ch : c.dram_channels) {  // 32-bit registers: differences modulo 2^32
      if (ch.channel >= channels_before->size()) continue;
      const auto& b = (*channels_before)[ch.channel];
      ch.rd_bytes = uint32_t(ch.rd_bytes - b.rd_bytes);
      ch.wr_bytes = uint32_t(ch.wr_bytes - b.wr_bytes);
      ch.reqs = uint32_t(ch.reqs - b.reqs);
      ch.busy_cycles = uint32_t(ch.busy_cycles - b.busy_cycles);
    }
  }
  refresh_link_counters(dev, c);
  return c;
}

void refresh_link_counters(Device& dev, Counters& c) {
  c.dma_xfers = dev.read32(reg::DMA_XFERS);
  c.dma_h2d_bytes = dev.read32(reg::DMA_H2D_BYTES);
  c.dma_d2h_bytes = dev.read32(reg::DMA_D2H_BYTES);
  c.dma_busy_ns = dev.read32(reg::DMA_BUSY_NS);
  c.link_latency_ns = dev.read32(reg::LINK_LATENCY_NS);
  c.link_mbps = dev.read32(reg::LINK_MBPS);
  c.mmio_writes = dev.read32(reg::LINK_MMIO_WRITES);
  c.mmio_reads = dev.read32(reg::LINK_MMIO_READS);  // last: counts itself
}

void accumulate(Counters& total, const Counters& run) {
  if (total.units.empty()) {
    const uint64_t runs = total.runs;
    total = run;
    total.runs = runs + run.runs;
    return;
  }
  if (total.units.size() != run.units.size())
    throw std::invalid_argument(fmt::format("counters: cannot add a run of {} units to totals of {} units",
                                            run.units.size(), total.units.size()));
  total.runs += run.runs;
  total.run_cycles += run.run_cycles;
  for (size_t i = 0; i < run.units.size(); ++i) {
    auto& t = total.units[i];
    const auto& r = run.units[i];
    t.active += r.active;
    t.stall_in += r.stall_in;
    t.stall_out += r.stall_out;
    t.runs += r.runs;
  }
  total.mem_rd_reqs += run.mem_rd_reqs;
  total.mem_wr_reqs += run.mem_wr_reqs;
  total.mem_rd_bytes += run.mem_rd_bytes;
  total.mem_wr_bytes += run.mem_wr_bytes;
  if (total.dram_channels.size() < run.dram_channels.size()) total.dram_channels.resize(run.dram_channels.size());
  for (size_t i = 0; i < run.dram_channels.size(); ++i) {
    auto& t = total.dram_channels[i];
    const auto& r = run.dram_channels[i];
    t.channel = r.channel;
    t.rd_bytes += r.rd_bytes;
    t.wr_bytes += r.wr_bytes;
    t.reqs += r.reqs;
    t.busy_cycles += r.busy_cycles;
  }
  total.dma_xfers = run.dma_xfers;
  total.dma_h2d_bytes = run.dma_h2d_bytes;
  total.dma_d2h_bytes = run.dma_d2h_bytes;
  total.dma_busy_ns = run.dma_busy_ns;
  total.mmio_reads = run.mmio_reads;
  total.mmio_writes = run.mmio_writes;
}

std::string to_json(const Counters& c) {
  json units = json::array();
  for (const auto& u : c.units)
    units.push_back({{"id", u.id}, {"name", u.name}, {"kind", u.kind}, {"active", u.active},
                     {"stall_in", u.stall_in}, {"stall_out", u.stall_out}, {"runs", u.runs}});
  json channels = json::array();
  for (const auto& ch : c.dram_channels)
    channels.push_back({{"channel", ch.channel}, {"rd_bytes", ch.rd_bytes}, {"wr_bytes", ch.wr_bytes},
                        {"reqs", ch.reqs}, {"busy_cycles", ch.busy_cycles}});
  json j = {{"format", "openrdu-counters-1"},
            {"backend", c.backend},
            {"config", c.config},
            {"clock_mhz", c.clock_mhz},
            {"lanes", c.lanes},
            {"dram_bytes_per_cycle", c.dram_bytes_per_cycle},
            {"dram_latency_cycles", c.dram_latency_cycles},
            {"estimated", c.estimated},
            {"runs", c.runs},
            {"run_cycles", c.run_cycles},
            {"units", units},
            {"dram", {{"rd_reqs", c.mem_rd_reqs}, {"wr_reqs", c.mem_wr_reqs}, {"rd_bytes", c.mem_rd_bytes},
                      {"wr_bytes", c.mem_wr_bytes}, {"channels", channels}}},
            {"dma", {{"xfers", c.dma_xfers}, {"h2d_bytes", c.dma_h2d_bytes}, {"d2h_bytes", c.dma_d2h_bytes},
                     {"busy_ns", c.dma_busy_ns}}},
            {"link", {{"mmio_reads", c.mmio_reads}, {"mmio_writes", c.mmio_writes},
                      {"latency_ns", c.link_latency_ns}, {"mbps", c.link_mbps}}}};
  return j.dump(1) + "\n";
}

namespace {
template <class T>
T field(const json& j, const char* key, const std::string& what, const std::string& where) {
  if (!j.is_object() || !j.contains(key))
    throw std::runtime_error(fmt::format("{}: counters file: missing field '{}{}'", what, where, key));
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(fmt::format("{}: counters file: field '{}{}' has the wrong type", what, where, key));
  }
}

json array_field(const json& j, const char* key, const std::string& what, const std::string& where) {
  json a = field<json>(j, key, what, where);
  if (!a.is_array()) throw std::runtime_error(fmt::format("{}: counters file: '{}{}' is not an array", what, where, key));
  return a;
}
}  // namespace

Counters counters_from_json(const std::string& text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: not a counters file: JSON error at byte {}: {}", what, e.byte, e.what()));
  }
  if (field<std::string>(j, "format", what, "") != "openrdu-counters-1")
    throw std::runtime_error(fmt::format("{}: counters file: unknown format '{}' (expected openrdu-counters-1)", what,
                                         j.at("format").get<std::string>()));
  Counters c;
  c.backend = field<std::string>(j, "backend", what, "");
  c.config = field<std::string>(j, "config", what, "");
  c.clock_mhz = field<uint32_t>(j, "clock_mhz", what, "");
  c.lanes = field<uint32_t>(j, "lanes", what, "");
  c.dram_bytes_per_cycle = field<uint32_t>(j, "dram_bytes_per_cycle", what, "");
  c.dram_latency_cycles = field<uint32_t>(j, "dram_latency_cycles", what, "");
  c.estimated = field<bool>(j, "estimated", what, "");
  c.runs = field<uint64_t>(j, "runs", what, "");
  c.run_cycles = field<uint64_t>(j, "run_cycles", what, "");
  const json units = array_field(j, "units", what, "");
  for (size_t i = 0; i < units.size(); ++i) {
    const std::string where = fmt::format("units[{}].", i);
    UnitCounters u;
    u.id = field<uint32_t>(units[i], "id", what, where);
    u.name = field<std::string>(units[i], "name", what, where);
    u.kind = field<std::string>(units[i], "kind", what, where);
    u.active = field<uint64_t>(units[i], "active", what, where);
    u.stall_in = field<uint64_t>(units[i], "stall_in", what, where);
    u.stall_out = field<uint64_t>(units[i], "stall_out", what, where);
    u.runs = field<uint32_t>(units[i], "runs", what, where);
    c.units.push_back(std::move(u));
  }
  const json dram = field<json>(j, "dram", what, "");
  c.mem_rd_reqs = field<uint64_t>(dram, "rd_reqs", what, "dram.");
  c.mem_wr_reqs = field<uint64_t>(dram, "wr_reqs", what, "dram.");
  c.mem_rd_bytes = field<uint64_t>(dram, "rd_bytes", what, "dram.");
  c.mem_wr_bytes = field<uint64_t>(dram, "wr_bytes", what, "dram.");
  const json chans = array_field(dram, "channels", what, "dram.");
  for (size_t i = 0; i < chans.size(); ++i) {
    const std::string where = fmt::format("dram.channels[{}].", i);
    ChannelCounters ch;
    ch.channel = field<uint32_t>(chans[i], "channel", what, where);
    ch.rd_bytes = field<uint64_t>(chans[i], "rd_bytes", what, where);
    ch.wr_bytes = field<uint64_t>(chans[i], "wr_bytes", what, where);
    ch.reqs = field<uint64_t>(chans[i], "reqs", what, where);
    ch.busy_cycles = field<uint64_t>(chans[i], "busy_cycles", what, where);
    c.dram_channels.push_back(ch);
  }
  const json dma = field<json>(j, "dma", what, "");
  c.dma_xfers = field<uint64_t>(dma, "xfers", what, "dma.");
  c.dma_h2d_bytes = field<uint64_t>(dma, "h2d_bytes", what, "dma.");
  c.dma_d2h_bytes = field<uint64_t>(dma, "d2h_bytes", what, "dma.");
  c.dma_busy_ns = field<uint64_t>(dma, "busy_ns", what, "dma.");
  const json link = field<json>(j, "link", what, "");
  c.mmio_reads = field<uint64_t>(link, "mmio_reads", what, "link.");
  c.mmio_writes = field<uint64_t>(link, "mmio_writes", what, "link.");
  c.link_latency_ns = field<uint32_t>(link, "latency_ns", what, "link.");
  c.link_mbps = field<uint32_t>(link, "mbps", what, "link.");
  return c;
}

Counters load_counters(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "counters.json").string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open counters file", file));
  std::stringstream ss;
  ss << in.rdbuf();
  return counters_from_json(ss.str(), file);
}

}  // namespace openrdu::driver
