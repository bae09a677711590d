// DRAM protection (`docs/platform.md` ("Counters, protection, fault injection, descriptor ring")): the PROT_* registers of the
// platform's endpoint hold up to 64 windows; when enabled, every DMA and core (AGCU,
// configuration controller) access must lie inside their union, or it is refused whole
// (DMA_STATUS.ERROR, or the core's MEM_ERROR) and touches no memory.
#pragma once
#include <cstdint>
#include <vector>

#include "openrdu/driver/device.h"

namespace openrdu::driver {

struct DramRange {
  uint64_t base = 0;
  uint64_t bytes = 0;
};

inline constexpr uint32_t kProtWindows = 64;

// The windows that cover `ranges`, each extended by `slack` bytes (a core read request
// moves LANES words from its first address): overlapping or touching ranges merged;
// beyond 64 windows, the two windows with the smallest gap between them are merged
// until 64 remain (the gap becomes accessible). Sorted by base.
std::vector<DramRange> protection_windows(std::vector<DramRange> ranges, uint64_t slack);

// Program and enable the windows of `ranges` (as protection_windows); throws
// std::invalid_argument naming the range when one ends beyond 4 GiB.
void protect_dram(Device& dev, const std::vector<DramRange>& ranges, uint64_t slack);
// Disable protection and clear every window.
void unprotect_dram(Device& dev);

}  // namespace openrdu::driver
