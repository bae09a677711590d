// Device DRAM allocator (`docs/runtime.md` ("Runtime")): first fit with free, plus
// fixed placements (a PEF's tensors and bitstreams live at the addresses the compiler
// chose). Needs no device.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "openrdu/pef/pef.h"
#include "openrdu/runtime/checks.h"

namespace openrdu::runtime {

// Device DRAM exhausted: the message names the tensor, its size and the DRAM free.
class OutOfMemory : public RuntimeError {
 public:
  using RuntimeError::RuntimeError;
};

class DramAllocator {
 public:
  // DRAM [base, base + dram_bytes): a node daemon's application gets a window (base > 0
  // once RDUs are shared by tiles).
  explicit DramAllocator(uint64_t dram_bytes, uint64_t base = 0);
  // First fit: the lowest `align`-aligned free range of `bytes` bytes. Throws OutOfMemory.
  uint64_t allocate(const std::string& name, uint64_t bytes, uint64_t align = 256);
  // Claims [addr, addr + bytes) for `name`: OutOfMemory when it lies beyond DRAM,
  // RuntimeError naming both owners when it overlaps a claimed range.
  void reserve(const std::string& name, uint64_t addr, uint64_t bytes);
  // Releases the range claimed at `addr` (RuntimeError if none starts there).
  void free(uint64_t addr);
  void clear();
  uint64_t size() const { return size_; }
  uint64_t free_bytes() const;
  uint64_t largest_free() const;
  size_t claimed() const { return used_.size(); }

 private:
  struct Used {
    uint64_t bytes;
    std::string name;
  };
  uint64_t size_, base_;
  std::map<uint64_t, uint64_t> free_;  // start -> bytes, disjoint, coalesced
  std::map<uint64_t, Used> used_;       // start -> claim
};

// Reserves every tensor ("tensor 'x'") and every step's bitstream ("bitstream of step I
// (name)") of the PEF at its address; also checks bitstreams are 32-bit addressable.
void place_program(const pef::Pef& pef, DramAllocator& dram);

}  // namespace openrdu::runtime
