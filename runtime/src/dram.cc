#include "openrdu/runtime/dram.h"

#include <fmt/format.h>

namespace openrdu::runtime {

DramAllocator::DramAllocator(uint64_t dram_bytes, uint64_t base) : size_(dram_bytes), base_(base) { clear(); }

void DramAllocator::clear() {
  free_.clear();
  used_.clear();
  if (size_) free_[base_] = size_;
}

uint64_t DramAllocator::free_bytes() const {
  uint64_t n = 0;
  for (const auto& [a, b] : free_) n += b;
  return n;
}

uint64_t DramAllocator::largest_free() const {
  uint64_t n = 0;
  for (const auto& [a, b] : free_) n = std::max(n, b);
  return n;
}

uint64_t DramAllocator::allocate(const std::string& name, uint64_t bytes, uint64_t align) {
  if (align == 0 || (align & (align - 1))) throw RuntimeError(fmt::format("{}: alignment {} is not a power of 2", name, align));
  const uint64_t need = std::max<uint64_t>(bytes, 1);
  for (const auto& [a, b] : free_) {
    const uint64_t start = (a + align - 1) & ~(align - 1);
    if (start < a || start - a >= b || need > b - (start - a)) continue;
    reserve(name, start, need);
    return start;
  }
  throw OutOfMemory(fmt::format("device DRAM exhausted: {} needs {} bytes, {} of the device's {} bytes are free "
                                "(largest free block {} bytes)", name, bytes, free_bytes(), size_, largest_free()));
}

void DramAllocator::reserve(const std::string& name, uint64_t addr, uint64_t bytes) {
  if (bytes == 0 && addr >= base_ && addr - base_ <= size_) return;  // an empty tensor claims nothing
  const uint64_t need = std::max<uint64_t>(bytes, 1);
  if (addr < base_ || addr - base_ > size_ || need > size_ - (addr - base_))
    throw OutOfMemory(fmt::format("device DRAM exhausted: {} needs {} bytes at [0x{:x}, 0x{:x}), beyond the device's "
                                  "{} bytes of DRAM{} ({} bytes free)", name, bytes, addr, addr + bytes, size_,
                                  base_ ? fmt::format(" from 0x{:x}", base_) : "", free_bytes()));
  // The free block containing addr.
  auto it = free_.upper_bound(addr);
  if (it != free_.begin()) --it;
  if (it == free_.end() || it->first > addr || addr + need > it->first + it->second) {
    // Overlaps a claim: name it.
    for (const auto& [a, u] : used_)
      if (a < addr + need && addr < a + std::max<uint64_t>(u.bytes, 1))
        throw RuntimeError(fmt::format("{} at DRAM [0x{:x}, 0x{:x}) overlaps {} at [0x{:x}, 0x{:x})", name, addr,
                                       addr + bytes, u.name, a, a + u.bytes));
    throw RuntimeError(fmt::format("{} at DRAM [0x{:x}, 0x{:x}): range not free", name, addr, addr + bytes));
  }
  const uint64_t fa = it->first, fb = it->second;
  free_.erase(it);
  if (addr > fa) free_[fa] = addr - fa;
  if (addr + need < fa + fb) free_[addr + need] = fa + fb - (addr + need);
  used_[addr] = {need, name};
}

void DramAllocator::free(uint64_t addr) {
  auto it = used_.find(addr);
  if (it == used_.end()) throw RuntimeError(fmt::format("DRAM free: nothing allocated at 0x{:x}", addr));
  uint64_t a = addr, b = it->second.bytes;
  used_.erase(it);
  auto next = free_.lower_bound(a);
  if (next != free_.end() && next->first == a + b) {
    b += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == a) {
      a = prev->first;
      b += prev->second;
      free_.erase(prev);
    }
  }
  free_[a] = b;
}

void place_program(const pef::Pef& pef, DramAllocator& dram) {
  for (const auto& t : pef.tensors)
    dram.reserve(fmt::format("{} tensor '{}'", pef::role_name(t.role), t.name), t.dev_addr, t.bytes);
  for (size_t i = 0; i < pef.sections.size(); ++i) {
    const auto& s = pef.sections[i];
    const uint64_t bytes = 4 * uint64_t(s.bitstream.size());
    if (bytes == 0) throw RuntimeError(fmt::format("section {} ({}): empty bitstream", i, s.name));
    if (s.dev_addr + bytes > (uint64_t(1) << 32))
      throw RuntimeError(fmt::format("section {} ({}): bitstream at DRAM [0x{:x}, 0x{:x}) is not 32-bit addressable",
                                     i, s.name, s.dev_addr, s.dev_addr + bytes));
    dram.reserve(fmt::format("bitstream of section {} ({})", i, s.name), s.dev_addr, bytes);
  }
}

}  // namespace openrdu::runtime
