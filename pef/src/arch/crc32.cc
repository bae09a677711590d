#include "openrdu/arch/crc32.h"

#include <zlib.h>

namespace openrdu::arch {

uint32_t crc32(const void* data, size_t len, uint32_t crc) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (len > 0) {  // zlib takes uInt lengths
    const uInt n = len > (1u << 30) ? (1u << 30) : static_cast<uInt>(len);
    c = ::crc32(c, p, n);
    p += n;
    len -= n;
  }
  return static_cast<uint32_t>(c);
}

}  // namespace openrdu::arch
