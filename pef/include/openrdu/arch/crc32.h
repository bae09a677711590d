#pragma once
#include <cstddef>
#include <cstdint>

namespace openrdu::arch {
// CRC-32 (IEEE 802.3, reflected, as zlib's crc32): pass the previous value to continue.
uint32_t crc32(const void* data, size_t len, uint32_t crc = 0);
}  // namespace openrdu::arch
