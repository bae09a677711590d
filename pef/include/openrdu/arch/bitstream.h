// Configuration bitstream: per-unit configuration words and the stream format
// read by the configuration controller (`docs/bitstream.md`). The word and
// field layout is configs/bitstream.yaml's: encode/decode below go through the
// generated gen::bits::pack_*/unpack_* (the RTL's rdu_bits_pkg comes from the same file).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/gen/bits.h"
#include "openrdu/gen/isa.h"

namespace openrdu::arch {

using gen::ErrorCode;
using gen::Opcode;
using gen::Src;

// Stream constants and word layout: configs/bitstream.yaml (openrdu/gen/bits.h).
inline constexpr uint32_t kBitstreamMagic = gen::bits::kMagic;  // "RDUB"
inline constexpr uint32_t kBitstreamVersion = gen::bits::kVersion;
inline constexpr uint32_t kBitstreamTerminator = gen::bits::kTerminator;
inline constexpr uint32_t kPmuWords = gen::bits::kPmuWords;
inline constexpr uint32_t kAgcuWords = gen::bits::kAgcuWords;
inline constexpr uint32_t kAgcuStreamWords = gen::bits::kAgcuStreamWords;
inline constexpr uint32_t kSwitchWords = gen::bits::kSwitchWords;
inline constexpr uint32_t kSwitchInputs = 6;   // N E S W, local 0..1
inline constexpr uint32_t kSwitchOutputs = 7;  // N E S W, local 0..2
enum Dir : uint32_t { kNorth = 0, kEast = 1, kSouth = 2, kWest = 3, kLocal0 = 4 };
enum Network : uint32_t { kVectorNet = 0, kScalarNet = 1, kControlNet = 2 };

struct PcuStage {
  Opcode op = Opcode::NOP;
  uint8_t src_a = 0, src_b = 0;  // gen::Src values or register numbers 0..regs-1
  uint8_t dst = 0;
  uint32_t imm = 0;
  uint8_t src_c = 0;  // third operand (FMA, SEL); word bits 23:20, 0 = REG0
  uint8_t bl = 0;     // broadcast lane of sources BREG0..BREG3; word bits 27:24
  bool acc = false;   // the result is also written to the stage's accumulator; bit 28
  bool simm = false;  // source IMM reads the group's scalar input (PcuConfig::sin); bit 29
};

// One counter of a PCU's counter chain (`docs/bitstream.md` ("PCU configuration")): it starts at min and
// steps by stride (counter 0: stride*LANES per firing, lane l adding stride*l); when the
// stepped value reaches max (signed >=) it returns to min and the next counter steps.
struct PcuCounter {
  int32_t min = 0, max = 0, stride = 0;
  bool operator==(const PcuCounter&) const = default;
};

struct PcuConfig {
  bool enable = false;
  uint8_t out_reg = 0;
  uint8_t vin_mask = 0;
  uint32_t count = 0;
  uint8_t out_mode = 0;  // 0 stream (one output per firing), 1 accumulators
  uint8_t reduce = 0;    // cross-lane reduction of every output: 0 none, 1 sum, 2 max, 3 min
  uint32_t acc_len = 0;  // firings per accumulation group (0 acts as 1)
  uint32_t acc_init = 0; // what ACC reads at the first firing of a group
  // Accumulator mode: after each group's outputs, forward this many vectors of vector
  // input 2 unchanged (the results of the PCUs behind it in a drain chain); input 2 is
  // then not a firing operand. Ignored in stream mode. Word 0 bits 23:16.
  uint8_t chain = 0;
  bool chained() const { return out_mode == 1 && chain != 0; }
  // Scalar and control ports (word 0 bits 24..31). sin: each group (acc_len firings)
  // takes one scalar at its first firing, read by the simm stages. sout: lane 0 of
  // every output vector also goes out on the scalar port. tin: each group needs a credit
  // (tok_init at the start, +1 per token received). tout: a token after each group's
  // last output.
  bool sin = false, sout = false, tin = false, tout = false;
  uint8_t tok_init = 0;  // 0..15
  std::vector<PcuStage> stages;  // exactly cfg.stages entries after decode
  // Counter chain, counter 0 innermost: words 4+2*STAGES+3k .. +2 (min, max, stride).
  // encode() leaves the 9 words out when all are zero (absent words configure as 0).
  std::array<PcuCounter, kPcuCounters> ctr{};

  std::vector<uint32_t> encode(const Config& cfg) const;
  static PcuConfig decode(const Config& cfg, std::span<const uint32_t> words);
};

// One PMU side (`docs/bitstream.md` ("PMU configuration")): per tile, for i2 < c2: for i1 < c1: for
// i0 < c0, address base + i0*s0 + i1*s1 + i2*s2 (+ the tile's buffer offset), 32-bit wrap.
// c2/s2 come last so that v1-style aggregates {base, c0, c1, s0, s1} keep c2 = 1.
struct PmuSide {
  uint32_t base = 0, c0 = 0, c1 = 0;
  int32_t s0 = 0, s1 = 0;
  uint32_t c2 = 1;
  int32_t s2 = 0;
  uint64_t accesses() const { return uint64_t(c0) * c1 * c2; }  // per tile
};

struct PmuConfig {
  bool enable = false;
  uint8_t mode = 0;       // 0 strided, 1 duplicated (broadcast reads), 2 transposed (skewed, column reads)
  uint8_t nbuf = 1;       // buffers 1..4 (word 0 bits 6:4; 0 acts as 1)
  uint32_t tiles = 1;     // tiles (0 acts as 1)
  uint32_t buf_rows = 0;  // rows per buffer: tile t's addresses are offset by (t mod nbuf)*buf_rows rows
  // Control network (`docs/bitstream.md` ("PMU configuration")): tin = each tile's reads need a credit
  // (tok_init at the start, +1 per token received); tout = a token per tile, after its
  // last write (tsel 0) or after its last read is issued (tsel 1).
  bool tin = false, tout = false, tsel = false;
  uint8_t tok_init = 0;  // 0..15
  PmuSide wr, rd;
  uint32_t buffers() const { return nbuf == 0 ? 1u : nbuf; }
  uint32_t num_tiles() const { return tiles == 0 ? 1u : tiles; }

  std::vector<uint32_t> encode() const;
  static PmuConfig decode(std::span<const uint32_t> words);
};

// One AGCU stream (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")): a 4-D affine walk, one vector per step
// at byte address base + 4*sum(i_d*s_d) (32-bit wrap), lane l at + 4*l*lstride;
// lstride 1 contiguous, 0 broadcast, otherwise gather/scatter (one request per lane).
struct AgcuStream {
  bool enable = false;
  uint8_t vdim = 0;        // dimension (0..3) whose index gives the lane mask
  uint32_t base = 0;       // byte address
  int32_t lstride = 1;     // elements between lanes
  uint32_t vlen = 0;       // elements along vdim
  uint32_t vstep = 0;      // elements along vdim per vector (0 acts as LANES)
  uint32_t c[4] = {1, 1, 1, 1};  // counts, c[0] innermost
  int32_t s[4] = {0, 0, 0, 0};   // strides (elements)
  // Control network (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")); a tile is one iteration of dimension 3.
  // tin: each tile needs a credit (tok_init at the start, +1 per token the AGCU
  // receives). tout (store stream only): a token once every write of a tile is
  // acknowledged (the store-done token of a dependency through DRAM).
  bool tin = false, tout = false;
  uint8_t tok_init = 0;  // 0..15
  uint64_t vectors() const { return uint64_t(c[0]) * c[1] * c[2] * c[3]; }
  // Valid lanes of the step with indices idx: min(lanes, vstep', max(0, vlen - idx[vdim]*vstep')).
  uint32_t valid_lanes(uint32_t lanes, const uint32_t idx[4]) const;
  // The v1 stream shape: `inner` elements in ceil(inner/lanes) contiguous vectors
  // (c0, s0 = lanes, vdim 0, vlen = inner, vstep = lanes), enabled; c1..c3 = 1.
  static AgcuStream linear(uint32_t base, uint32_t inner, uint32_t lanes);
};

struct AgcuConfig {
  AgcuStream ld[2];
  AgcuStream st;

  std::vector<uint32_t> encode() const;
  static AgcuConfig decode(std::span<const uint32_t> words);
};

struct SwitchConfig {
  uint8_t sel[3][kSwitchOutputs] = {};  // [network][output]: 0 unused, 1+i input i

  std::vector<uint32_t> encode() const;
  static SwitchConfig decode(std::span<const uint32_t> words);
};

// The configuration words of every unit of one program, indexed by unit id; a unit
// absent from the map is disabled (all words zero).
using UnitWords = std::map<uint32_t, std::vector<uint32_t>>;

// Build the stream: header, one record per unit, terminator, CRC.
std::vector<uint32_t> assemble_bitstream(const Config& cfg, const UnitWords& units);

class BitstreamError : public std::runtime_error {
 public:
  BitstreamError(ErrorCode code, uint32_t unit, const std::string& msg)
      : std::runtime_error(msg), code(code), unit(unit) {}
  ErrorCode code;
  uint32_t unit;  // 0xFFFF when no unit is concerned
};

// Parse and check a stream exactly as the configuration controller does. Returns the
// configuration words of every unit (num_units() entries, each config_words(kind)
// long, zero where the stream wrote nothing). Throws BitstreamError. `tiles` (bit t =
// tile t; 0 = every tile): the tiles being configured; a record for a unit of another
// tile is BAD_UNIT (TILE_CTRL.CONFIGURE, docs/hardware.md ("Tiles")).
std::vector<std::vector<uint32_t>> parse_bitstream(const Config& cfg, std::span<const uint32_t> words,
                                                   uint32_t tiles = 0);

}  // namespace openrdu::arch
