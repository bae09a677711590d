#include "openrdu/arch/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <vector>

#include "openrdu/arch/crc32.h"
#include "openrdu/gen/bits.h"
#include "openrdu/gen/builtin_configs.h"

namespace openrdu::arch {

const char* unit_kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::Pcu: return "pcu";
    case UnitKind::Pmu: return "pmu";
    case UnitKind::Agcu: return "agcu";
    case UnitKind::Switch: return "switch";
  }
  return "?";
}

// The parameters and their order: configs/bitstream.yaml (fingerprint).
std::string Config::canonical() const { return gen::bits::fingerprint_canonical(*this); }

uint32_t Config::dram_channel(uint64_t addr) const {
  const uint64_t c = std::max<uint32_t>(1, dram_channels);
  uint64_t i = addr / std::max<uint32_t>(1, dram_interleave_bytes);
  if (!dram_channel_hash) return uint32_t(i % c);
  uint64_t sum = 0;
  for (; i; i /= c) sum += i % c;
  return uint32_t(sum % c);
}

uint32_t Config::fingerprint() const {
  const std::string s = canonical();
  return crc32(s.data(), s.size());
}

UnitKind Config::unit_kind(uint32_t id) const {
  if (id < num_slots()) return slot_is_pcu(id / cols, id % cols) ? UnitKind::Pcu : UnitKind::Pmu;
  if (id < num_slots() + agcu) return UnitKind::Agcu;
  if (id < num_units()) return UnitKind::Switch;
  throw std::out_of_range(fmt::format("unit id {} out of range (configuration '{}' has {} units)", id, name,
                                      num_units()));
}

uint32_t Config::config_words(UnitKind k) const {
  switch (k) {
    case UnitKind::Pcu: return gen::bits::pcu_words(stages);
    case UnitKind::Pmu: return gen::bits::kPmuWords;
    case UnitKind::Agcu: return gen::bits::kAgcuWords;
    case UnitKind::Switch: return gen::bits::kSwitchWords;
  }
  return 0;
}

uint32_t Config::pcu_index(uint32_t slot) const {
  uint32_t n = 0;
  for (uint32_t s = 0; s < slot; ++s)
    if (slot_is_pcu(s / cols, s % cols)) ++n;
  return n;
}

uint32_t Config::pmu_index(uint32_t slot) const {
  uint32_t n = 0;
  for (uint32_t s = 0; s < slot; ++s)
    if (!slot_is_pcu(s / cols, s % cols)) ++n;
  return n;
}

std::string Config::unit_name(uint32_t id) const {
  if (id >= num_units()) return fmt::format("unit {} (invalid)", id);
  switch (unit_kind(id)) {
    case UnitKind::Pcu: return fmt::format("pcu{} (slot {},{}; unit {})", pcu_index(id), id / cols, id % cols, id);
    case UnitKind::Pmu: return fmt::format("pmu{} (slot {},{}; unit {})", pmu_index(id), id / cols, id % cols, id);
    case UnitKind::Agcu: return fmt::format("agcu{} (unit {})", id - num_slots(), id);
    case UnitKind::Switch: {
      const uint32_t s = id - num_slots() - agcu;
      return fmt::format("switch({},{}) (unit {})", s / (cols + 1), s % (cols + 1), id);
    }
  }
  return "?";
}

uint32_t Config::tile_at(uint32_t r, uint32_t c) const {
  return (std::min(r, rows - 1) / tile_h()) * tiles_across() + std::min(c, cols - 1) / tile_w();
}

uint32_t Config::tile_of(uint32_t id) const {
  switch (unit_kind(id)) {
    case UnitKind::Pcu:
    case UnitKind::Pmu: return tile_at(id / cols, id % cols);
    case UnitKind::Agcu: return tile_at(rows, id - num_slots());
    case UnitKind::Switch: {
      const uint32_t s = id - num_slots() - agcu;
      return tile_at(s / (cols + 1), s % (cols + 1));
    }
  }
  return 0;
}

uint32_t Config::relocate(uint32_t id, uint32_t from, uint32_t to) const {
  const int dr = int(to / tiles_across() * tile_h()) - int(from / tiles_across() * tile_h());
  const int dc = int(to % tiles_across() * tile_w()) - int(from % tiles_across() * tile_w());
  auto moved = [&](uint32_t r, uint32_t c, uint32_t nr, uint32_t nc) {
    const int r2 = int(r) + dr, c2 = int(c) + dc;
    if (r2 < 0 || c2 < 0 || r2 >= int(nr) || c2 >= int(nc))
      throw std::out_of_range(fmt::format("{} of tile {} has no place in tile {}", unit_name(id), from, to));
    return std::pair<uint32_t, uint32_t>(r2, c2);
  };
  switch (unit_kind(id)) {
    case UnitKind::Pcu:
    case UnitKind::Pmu: {
      const auto [r, c] = moved(id / cols, id % cols, rows, cols);
      if (slot_is_pcu(r, c) != slot_is_pcu(id / cols, id % cols))
        throw std::out_of_range(fmt::format("{} of tile {} lands on a slot of the other kind in tile {}",
                                            unit_name(id), from, to));
      return slot_id(r, c);
    }
    case UnitKind::Agcu: {
      const auto [r, c] = moved(rows, id - num_slots(), rows + 1, agcu);
      return agcu_id(c);
    }
    case UnitKind::Switch: {
      const uint32_t s = id - num_slots() - agcu;
      const auto [r, c] = moved(s / (cols + 1), s % (cols + 1), rows + 1, cols + 1);
      return switch_id(r, c);
    }
  }
  return id;
}

void Config::validate() const {
  auto fail = [&](const std::string& what) {
    throw ConfigError(fmt::format("configuration '{}': {}", name, what));
  };
  if (rows < 1 || cols < 1 || rows > 64 || cols > 64) fail("grid rows and cols must be in 1..64");
  if (lanes < 2 || (lanes & (lanes - 1)) || lanes > 64) fail("pcu.lanes must be a power of two in 2..64");
  if (stages < 1 || stages > 16) fail("pcu.stages must be in 1..16");
  if (regs != 4) fail("pcu.regs must be 4 in this version");
  if (vin != 3) fail("pcu.vin must be 3 in this version");
  if (fifo_depth < 2) fail("fifo_depth must be >= 2");
  const uint32_t depth = pmu_depth();
  if (depth < 2 || (depth & (depth - 1)) || uint64_t(depth) * 4 * lanes != pmu_bytes)
    fail("pmu.bytes / (4 * lanes) must be a power of two >= 2");
  if (agcu < 1 || agcu > cols + 1) fail("agcu.count must be in 1..cols+1");
  if (inflight < 1) fail("agcu.inflight must be >= 1");
  if (dram_bytes < (1u << 20) || dram_bytes > (uint64_t(1) << 32)) fail("dram.bytes must be in 1 MiB..4 GiB");
  if (clock_mhz == 0) fail("clock_mhz must be > 0");
  if (dram_channels < 1 || dram_channels > 16) fail("dram.channels must be in 1..16");
  if (dram_interleave_bytes < 64 || (dram_interleave_bytes & (dram_interleave_bytes - 1)))
    fail("dram.interleave_bytes must be a power of two >= 64");
  if (dram_channel_hash && (dram_channels & (dram_channels - 1)))
    fail("dram.channel_hash needs a power-of-two dram.channels");
  validate_tiles(fail);
}

template <typename Fail>
void Config::validate_tiles(Fail fail) const {
  if (rows % tile_h() || cols % tile_w()) fail("tiles.rows and tiles.cols must divide grid.rows and grid.cols");
  if (num_tiles() > kMaxTiles) fail(fmt::format("tiles: {} tiles, at most {}", num_tiles(), kMaxTiles));
  std::vector<uint32_t> agcus(num_tiles(), 0);
  for (uint32_t k = 0; k < agcu; ++k) ++agcus[tile_of(agcu_id(k))];
  for (uint32_t t = 0; t < num_tiles(); ++t)
    if (agcus[t] == 0)
      fail(fmt::format("tiles: tile {} has no AGCU (AGCUs attach to the bottom row of switches, columns 0..{})", t,
                       agcu - 1));
}

namespace {

Config from_builtin(const gen::BuiltinConfig& b) {
  Config c;
  c.name = b.name;
  c.rows = b.rows;
  c.cols = b.cols;
  c.lanes = b.lanes;
  c.stages = b.stages;
  c.regs = b.regs;
  c.vin = b.vin;
  c.fifo_depth = b.fifo_depth;
  c.pmu_bytes = b.pmu_bytes;
  c.agcu = b.agcu;
  c.inflight = b.inflight;
  c.dram_bytes = b.dram_bytes;
  c.dram_latency_cycles = b.dram_latency_cycles;
  c.dram_bytes_per_cycle = b.dram_bytes_per_cycle;
  c.dram_channels = b.dram_channels;
  c.dram_interleave_bytes = b.dram_interleave_bytes;
  c.dram_channel_hash = b.dram_channel_hash;
  c.clock_mhz = b.clock_mhz;
  c.tile_rows = b.tile_rows;
  c.tile_cols = b.tile_cols;
  return c;
}

template <typename T>
T get(const YAML::Node& root, const std::string& path, const std::string& file) {
  YAML::Node n = YAML::Clone(root);
  size_t pos = 0;
  std::string rest = path;
  while (true) {
    pos = rest.find('.');
    const std::string key = rest.substr(0, pos);
    if (!n.IsMap() || !n[key]) throw ConfigError(fmt::format("{}: missing key '{}'", file, path));
    n = n[key];
    if (pos == std::string::npos) break;
    rest = rest.substr(pos + 1);
  }
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    throw ConfigError(fmt::format("{}: key '{}' has an invalid value", file, path));
  }
}

// An optional key "section.key": out keeps its default when it is absent.
template <typename T>
void get_optional(const YAML::Node& root, const std::string& path, const std::string& file, T& out) {
  const size_t dot = path.find('.');
  const YAML::Node section = root[path.substr(0, dot)];
  if (section && section[path.substr(dot + 1)]) out = get<T>(root, path, file);
}

}  // namespace

Config config_from_yaml_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(fmt::format("{}: cannot read configuration file", path));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: malformed YAML: {}", path, e.mark.line + 1, e.msg));
  }
  Config c;
  c.name = get<std::string>(root, "name", path);
  c.rows = get<uint32_t>(root, "grid.rows", path);
  c.cols = get<uint32_t>(root, "grid.cols", path);
  c.lanes = get<uint32_t>(root, "pcu.lanes", path);
  c.stages = get<uint32_t>(root, "pcu.stages", path);
  c.regs = get<uint32_t>(root, "pcu.regs", path);
  c.vin = get<uint32_t>(root, "pcu.vin", path);
  c.fifo_depth = get<uint32_t>(root, "fifo_depth", path);
  c.pmu_bytes = get<uint32_t>(root, "pmu.bytes", path);
  c.agcu = get<uint32_t>(root, "agcu.count", path);
  c.inflight = get<uint32_t>(root, "agcu.inflight", path);
  c.dram_bytes = get<uint64_t>(root, "dram.bytes", path);
  c.dram_latency_cycles = get<uint32_t>(root, "dram.latency_cycles", path);
  c.dram_bytes_per_cycle = get<uint32_t>(root, "dram.bytes_per_cycle", path);
  get_optional(root, "dram.channels", path, c.dram_channels);
  get_optional(root, "dram.interleave_bytes", path, c.dram_interleave_bytes);
  get_optional(root, "dram.channel_hash", path, c.dram_channel_hash);
  c.clock_mhz = get<uint32_t>(root, "clock_mhz", path);
  get_optional(root, "tiles.rows", path, c.tile_rows);
  get_optional(root, "tiles.cols", path, c.tile_cols);
  try {
    c.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", path, e.what()));
  }
  return c;
}

Config load_config(const std::string& name_or_path) {
  for (const auto& b : gen::kBuiltinConfigs)
    if (name_or_path == b.name) return from_builtin(b);
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".yaml") ||
      name_or_path.ends_with(".yml") || std::filesystem::exists(name_or_path))
    return config_from_yaml_file(name_or_path);
  std::string names;
  for (const auto& b : gen::kBuiltinConfigs) names += std::string(names.empty() ? "" : ", ") + b.name;
  throw ConfigError(fmt::format("unknown configuration '{}' (built in: {}; or give a path to a .yaml file)",
                                name_or_path, names));
}

}  // namespace openrdu::arch
