#include "openrdu/arch/relocate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>

#include "openrdu/arch/bitstream.h"

namespace openrdu::arch {

namespace {
// A program of several tiles may route across its tiles' boundaries: they must keep
// their order and adjacency.
void check_tiles(const Config& cfg, std::span<const uint32_t> tiles) {
  for (size_t i = 0; i < tiles.size(); ++i) {
    if (tiles[i] >= cfg.num_tiles())
      throw std::invalid_argument(
          fmt::format("tile {} out of range: configuration '{}' has {} tiles", tiles[i], cfg.name, cfg.num_tiles()));
    if (i > 0 && tiles[i] != tiles[i - 1] + 1)
      throw std::invalid_argument(fmt::format("tiles {}: a program of {} tiles runs on consecutive tiles in order",
                                              fmt::join(tiles, ","), tiles.size()));
  }
}
}  // namespace

std::vector<uint32_t> relocate_bitstream(const Config& cfg, std::span<const uint32_t> words,
                                         std::span<const uint32_t> tiles, uint32_t dram_offset) {
  check_tiles(cfg, tiles);
  const uint32_t program_tiles = (1u << tiles.size()) - 1;
  const auto units = parse_bitstream(cfg, words, program_tiles);
  UnitWords moved;
  for (uint32_t id = 0; id < units.size(); ++id) {
    if (std::all_of(units[id].begin(), units[id].end(), [](uint32_t w) { return w == 0; })) continue;
    const uint32_t from = cfg.tile_of(id);
    uint32_t to_id = id;
    try {
      to_id = cfg.relocate(id, from, tiles[from]);
    } catch (const std::out_of_range& e) {
      throw std::invalid_argument(e.what());
    }
    if (cfg.tile_of(to_id) != tiles[from])
      throw std::invalid_argument(fmt::format("{} of the program's tile {} leaves tile {} when moved", cfg.unit_name(id),
                                              from, tiles[from]));
    moved[to_id] = units[id];
    if (dram_offset && cfg.unit_kind(id) == UnitKind::Agcu)
      for (uint32_t k = 0; k < gen::bits::kAgcuStreamN; ++k) {
        uint32_t* w = moved[to_id].data() + gen::bits::kAgcuStreamBase + k * gen::bits::kAgcuStreamWords;
        if (w[0] & 1u) w[1] += dram_offset;  // enable: base moves with the layout
      }
  }
  return assemble_bitstream(cfg, moved);
}

}  // namespace openrdu::arch
