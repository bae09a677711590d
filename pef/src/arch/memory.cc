#include "openrdu/arch/memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace openrdu::arch {

void release_pages(void* p, size_t n) {
  static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void consume_chunks(uint8_t* src, size_t n, const std::function<void(const uint8_t*, size_t, size_t)>& use) {
  for (size_t off = 0; off < n; off += kReleaseChunk) {
    const size_t len = std::min(kReleaseChunk, n - off);
    use(src + off, off, len);
    release_pages(src + off, len);
  }
}

}  // namespace openrdu::arch
