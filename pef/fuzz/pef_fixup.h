// Checksum repair for PEF fuzzing (`docs/robustness.md`).
//
// A mutated PEF almost always fails a CRC check first. fixup() rewrites, best effort and
// without ever reading outside the buffer, every checksum a reader verifies: in each
// in-bounds CONFIG payload that looks like a bitstream (>= 6 words) the length word
// (word 3) and the trailing CRC word, then every in-bounds section CRC, then the file
// CRC. The fuzz target parses both the input as given and the repaired copy, so the
// deeper checks of pef::parse and arch::parse_bitstream are reached. Payloads that
// overlap may end up with stale CRCs: the reader must reject those anyway.
#pragma once
#include <cstdint>
#include <vector>

#include "openrdu/arch/crc32.h"

namespace openrdu::pef::fuzz {

inline uint32_t get32(const std::vector<uint8_t>& b, uint64_t at) {
  return uint32_t(b[at]) | (uint32_t(b[at + 1]) << 8) | (uint32_t(b[at + 2]) << 16) | (uint32_t(b[at + 3]) << 24);
}
inline uint64_t get64(const std::vector<uint8_t>& b, uint64_t at) {
  return uint64_t(get32(b, at)) | (uint64_t(get32(b, at + 4)) << 32);
}
inline void put32(std::vector<uint8_t>& b, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Repair the CRCs (and bitstream length words) of a PEF image in place.
inline void fixup(std::vector<uint8_t>& b) {
  constexpr uint64_t kHeader = 48, kEntry = 32, kTypeConfig = 2;
  const uint64_t size = b.size();
  if (size < kHeader + 4) return;
  const uint64_t n = get32(b, 12);
  const uint64_t data_end = size - 4;  // the file CRC word
  const uint64_t table_end = kHeader + n * kEntry;
  const uint64_t entries = table_end <= data_end ? n : (data_end - kHeader) / kEntry;
  auto in_bounds = [&](uint64_t off, uint64_t len) { return off <= data_end && len <= data_end - off; };
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t at = kHeader + i * kEntry;
    const uint64_t off = get64(b, at + 8), len = get64(b, at + 16);
    if (get32(b, at) != kTypeConfig || !in_bounds(off, len) || len % 4 || len < 24) continue;
    const uint64_t words = len / 4;
    put32(b, off + 12, uint32_t(words));
    put32(b, off + len - 4, arch::crc32(b.data() + off, len - 4));
  }
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t at = kHeader + i * kEntry;
    const uint64_t off = get64(b, at + 8), len = get64(b, at + 16);
    if (!in_bounds(off, len)) continue;
    put32(b, at + 24, arch::crc32(b.data() + off, len));
  }
  put32(b, data_end, arch::crc32(b.data(), data_end));
}

}  // namespace openrdu::pef::fuzz
