// Helpers of the compiler tests that read a compiled bitstream independently of the
// compiler: follow a network's switch selects, enumerate an AGCU stream's walk.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "openrdu/arch/bitstream.h"

namespace openrdu::compiler::test {

// Follow network `net` (the vector network unless told) back from switch `s` output `o`
// to the unit output that feeds it: returns {unit id, unit output port}. Independent of
// the router.
inline std::pair<uint32_t, int> trace_back(const arch::Config& cfg, const std::vector<std::vector<uint32_t>>& units,
                                    uint32_t r, uint32_t c, uint32_t o, uint32_t net = arch::kVectorNet) {
  for (int hops = 0; hops < 64; ++hops) {
    const auto sc = arch::SwitchConfig::decode(units[cfg.switch_id(r, c)]);
    const uint32_t sel = sc.sel[net][o];
    if (sel == 0) throw std::runtime_error(fmt::format("switch({},{}) output {} unselected", r, c, o));
    const uint32_t i = sel - 1;
    if (i >= 4) {  // local input: the attached unit's output i-4
      if (r < cfg.rows && c < cfg.cols) return {cfg.slot_id(r, c), int(i - 4)};
      if (r == cfg.rows && c < cfg.agcu) return {cfg.agcu_id(c), int(i - 4)};
      throw std::runtime_error(fmt::format("switch({},{}) selects local input {} of no unit", r, c, i));
    }
    // Input i comes from the neighbour in direction i, through its opposite output.
    switch (i) {
      case arch::kNorth:
        if (r == 0) throw std::runtime_error("edge");
        --r;
        break;
      case arch::kEast:
        if (c == cfg.cols) throw std::runtime_error("edge");
        ++c;
        break;
      case arch::kSouth:
        if (r == cfg.rows) throw std::runtime_error("edge");
        ++r;
        break;
      case arch::kWest:
        if (c == 0) throw std::runtime_error("edge");
        --c;
        break;
    }
    o = (i + 2) % 4;
  }
  throw std::runtime_error("route loops");
}

// The byte address of every valid lane of every vector of stream s, in stream order
// (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)"): base + 4*sum(i_d*s_d) + 4*lane*lstride, 32-bit wrap).
inline std::vector<uint32_t> stream_addresses(const arch::AgcuStream& s, uint32_t lanes) {
  std::vector<uint32_t> out;
  uint32_t idx[4];
  for (idx[3] = 0; idx[3] < s.c[3]; ++idx[3])
    for (idx[2] = 0; idx[2] < s.c[2]; ++idx[2])
      for (idx[1] = 0; idx[1] < s.c[1]; ++idx[1])
        for (idx[0] = 0; idx[0] < s.c[0]; ++idx[0]) {
          int64_t e = 0;
          for (int d = 0; d < 4; ++d) e += int64_t(idx[d]) * s.s[d];
          const uint32_t valid = s.valid_lanes(lanes, idx);
          for (uint32_t l = 0; l < valid; ++l)
            out.push_back(uint32_t(s.base + 4 * uint64_t(e + int64_t(l) * s.lstride)));
        }
  return out;
}

}  // namespace openrdu::compiler::test
