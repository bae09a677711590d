// Configuration bitstream: per-unit configuration words and the stream format
// read by the configuration controller (docs/architecture.md section 4).
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/gen/isa.h"

namespace openrdu::arch {

using gen::ErrorCode;
using gen::Opcode;
using gen::Src;

inline constexpr uint32_t kBitstreamMagic = 0x42554452u;  // "RDUB"
inline constexpr uint32_t kBitstreamVersion = 1;
inline constexpr uint32_t kBitstreamTerminator = 0xFFFF0000u;
inline constexpr uint32_t kPmuWords = 11;
inline constexpr uint32_t kAgcuWords = 21;
inline constexpr uint32_t kAgcuStreamWords = 7;
inline constexpr uint32_t kSwitchWords = 3;
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
};

struct PcuConfig {
  bool enable = false;
  uint8_t out_reg = 0;
  uint8_t vin_mask = 0;
  uint32_t count = 0;
  std::vector<PcuStage> stages;  // exactly cfg.stages entries after decode

  std::vector<uint32_t> encode(const Config& cfg) const;
  static PcuConfig decode(const Config& cfg, std::span<const uint32_t> words);
};

struct PmuSide {
  uint32_t base = 0, c0 = 0, c1 = 0;
  int32_t s0 = 0, s1 = 0;
  uint64_t accesses() const { return uint64_t(c0) * c1; }
};

struct PmuConfig {
  bool enable = false;
  uint8_t mode = 0;  // 0 strided, 1 duplicated
  PmuSide wr, rd;

  std::vector<uint32_t> encode() const;
  static PmuConfig decode(std::span<const uint32_t> words);
};

struct AgcuStream {
  bool enable = false;
  bool bcast = false;
  uint32_t base = 0;   // byte address
  uint32_t inner = 1;  // elements
  uint32_t c1 = 1, c2 = 1;
  int32_t s1 = 0, s2 = 0;  // elements
  uint64_t vectors(uint32_t lanes) const {
    return uint64_t(c1) * c2 * ((uint64_t(inner) + lanes - 1) / lanes);
  }
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
// long, zero where the stream wrote nothing). Throws BitstreamError.
std::vector<std::vector<uint32_t>> parse_bitstream(const Config& cfg, std::span<const uint32_t> words);

}  // namespace openrdu::arch
