// Relocation of a bitstream compiled for tiles onto the device's tiles
// (`docs/bitstream.md` ("Relocation onto tiles")).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "openrdu/arch/config.h"

namespace openrdu::arch {

// The bitstream `words` (compiled for tiles 0 .. tiles.size()-1 of `cfg`, sncompile
// --tiles) with every unit of its tile i moved to tile tiles[i]: the same position in
// the tile, its configuration words unchanged (routes are relative, DRAM addresses
// absolute). Throws BitstreamError for a bad stream or a unit outside the program's
// tiles, std::invalid_argument when the tiles cannot take it (repeated, out of range,
// not consecutive for a program of several tiles, or of another shape).
// `dram_offset`: added to every enabled AGCU stream's `base` (the program's DRAM layout
// moved into a window that starts there: a node daemon's tile window).
std::vector<uint32_t> relocate_bitstream(const Config& cfg, std::span<const uint32_t> words,
                                         std::span<const uint32_t> tiles, uint32_t dram_offset = 0);

}  // namespace openrdu::arch
