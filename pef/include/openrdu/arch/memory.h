// Moving large buffers without holding two full copies (weights: issue 24).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace openrdu::arch {

// Chunk of the chunked walks below (bytes).
inline constexpr size_t kReleaseChunk = size_t(4) << 20;

// Gives the whole pages inside [p, p + n) back to the system (madvise MADV_DONTNEED):
// they read as zeros afterwards and no longer count in the resident set. For a buffer
// the caller owns, will not read again and is about to free; a no-op for small ranges.
void release_pages(void* p, size_t n);

// Calls use(chunk, offset, length) over [src, src + n) in chunks of kReleaseChunk bytes,
// releasing each chunk's pages once it is used, so that a copy made by `use` and the
// source never both occupy n bytes of memory.
void consume_chunks(uint8_t* src, size_t n, const std::function<void(const uint8_t*, size_t, size_t)>& use);

}  // namespace openrdu::arch
