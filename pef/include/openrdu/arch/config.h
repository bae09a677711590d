// Architecture parameters of one OpenRDU configuration (`docs/hardware.md`).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "openrdu/gen/bits.h"

namespace openrdu::arch {

enum class UnitKind : uint8_t { Pcu, Pmu, Agcu, Switch };
inline constexpr uint32_t kPcuCounters = gen::bits::kPcuCtrN;  // counters in a PCU's counter chain (section 4.1)
const char* unit_kind_name(UnitKind k);

struct Config {
  std::string name;
  uint32_t rows = 0, cols = 0;
  uint32_t lanes = 0, stages = 0, regs = 0, vin = 0;
  uint32_t fifo_depth = 0;
  uint32_t pmu_bytes = 0;
  uint32_t agcu = 0, inflight = 0;
  uint64_t dram_bytes = 0;
  uint32_t dram_latency_cycles = 0, dram_bytes_per_cycle = 0;  // bytes_per_cycle: per channel
  uint32_t dram_channels = 1;            // independent channels, each with its own bandwidth
  uint32_t dram_interleave_bytes = 256;  // address interleave: piece i = addr / this
  // Channel of piece i: i % channels, or with the hash (channels a power of two) the sum
  // of i's base-`channels` digits mod channels (strides of a power of two pieces then
  // spread over the channels).
  bool dram_channel_hash = false;
  uint32_t dram_channel(uint64_t addr) const;
  uint32_t clock_mhz = 0;
  // Tiles (`docs/hardware.md` ("Tiles")): the grid splits into equal tiles of
  // tile_rows x tile_cols slots, numbered row-major; 0 = the whole grid (one tile).
  uint32_t tile_rows = 0, tile_cols = 0;

  // Canonical parameter string and its CRC-32: the configuration fingerprint.
  std::string canonical() const;
  uint32_t fingerprint() const;

  uint32_t num_slots() const { return rows * cols; }
  uint32_t num_pcu() const { return (num_slots() + 1) / 2; }
  uint32_t num_pmu() const { return num_slots() / 2; }
  uint32_t num_switch() const { return (rows + 1) * (cols + 1); }
  uint32_t num_units() const { return num_slots() + agcu + num_switch(); }
  uint32_t pmu_depth() const { return pmu_bytes / (4 * lanes); }

  bool slot_is_pcu(uint32_t r, uint32_t c) const { return (r + c) % 2 == 0; }
  uint32_t slot_id(uint32_t r, uint32_t c) const { return r * cols + c; }
  uint32_t agcu_id(uint32_t k) const { return num_slots() + k; }
  uint32_t switch_id(uint32_t r, uint32_t c) const { return num_slots() + agcu + r * (cols + 1) + c; }

  // Tiles. A switch (r,c) belongs to the tile of slot (min(r,rows-1), min(c,cols-1)); AGCU
  // k to the tile of its switch (rows,k).
  uint32_t tile_h() const { return tile_rows ? tile_rows : rows; }
  uint32_t tile_w() const { return tile_cols ? tile_cols : cols; }
  uint32_t tiles_across() const { return cols / tile_w(); }
  uint32_t num_tiles() const { return (rows / tile_h()) * tiles_across(); }
  uint32_t tile_at(uint32_t r, uint32_t c) const;  // tile of slot or switch position (r,c)
  uint32_t tile_of(uint32_t id) const;             // tile of any unit id
  // The unit id that `id` (a unit of tile `from`) becomes in tile `to`: the same position
  // shifted by the tiles' offset (`docs/bitstream.md` ("Relocation onto tiles")).
  uint32_t relocate(uint32_t id, uint32_t from, uint32_t to) const;

  UnitKind unit_kind(uint32_t id) const;  // throws std::out_of_range for an invalid id
  // Configuration words of a unit kind (`docs/bitstream.md`).
  uint32_t config_words(UnitKind k) const;
  // "pcu1 (slot 0,2)", "agcu0", "switch(1,2)": for messages.
  std::string unit_name(uint32_t id) const;
  // Rank of the slot among PCU (or PMU) slots in row-major order.
  uint32_t pcu_index(uint32_t slot) const;
  uint32_t pmu_index(uint32_t slot) const;

  void validate() const;  // throws ConfigError naming the bad parameter

 private:
  template <typename Fail>
  void validate_tiles(Fail fail) const;
};

inline constexpr uint32_t kMaxTiles = 8;  // TILE_OWNER holds 4 bits per tile

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "tiny" / "small" (built in, from configs/*.yaml at build time) or a path to a YAML file.
Config load_config(const std::string& name_or_path);
Config config_from_yaml_file(const std::string& path);

}  // namespace openrdu::arch
