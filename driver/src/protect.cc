#include "openrdu/driver/protect.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "openrdu/gen/regs.h"

namespace openrdu::driver {

namespace reg = gen::reg;

std::vector<DramRange> protection_windows(std::vector<DramRange> ranges, uint64_t slack) {
  std::erase_if(ranges, [](const DramRange& r) { return r.bytes == 0; });
  for (auto& r : ranges) r.bytes += slack;
  std::sort(ranges.begin(), ranges.end(), [](const DramRange& a, const DramRange& b) { return a.base < b.base; });
  std::vector<DramRange> w;
  for (const auto& r : ranges) {
    if (!w.empty() && r.base <= w.back().base + w.back().bytes)
      w.back().bytes = std::max(w.back().base + w.back().bytes, r.base + r.bytes) - w.back().base;
    else
      w.push_back(r);
  }
  while (w.size() > kProtWindows) {
    size_t best = 0;
    uint64_t best_gap = UINT64_MAX;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      const uint64_t gap = w[i + 1].base - (w[i].base + w[i].bytes);
      if (gap < best_gap) best_gap = gap, best = i;
    }
    w[best].bytes = w[best + 1].base + w[best + 1].bytes - w[best].base;
    w.erase(w.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  return w;
}

void protect_dram(Device& dev, const std::vector<DramRange>& ranges, uint64_t slack) {
  const auto w = protection_windows(ranges, slack);
  for (const auto& r : w)
    if (r.base + r.bytes > UINT32_MAX + uint64_t(1))
      throw std::invalid_argument(fmt::format("DRAM protection: window [0x{:x}, 0x{:x}) ends beyond 4 GiB (PROT_LIMIT "
                                              "is 32 bits)",
                                              r.base, r.base + r.bytes));
  dev.write32(reg::PROT_CTRL, 0);
  for (uint32_t i = 0; i < kProtWindows; ++i) {
    dev.write32(reg::PROT_INDEX, i);
    const bool used = i < w.size();
    dev.write32(reg::PROT_BASE, used ? static_cast<uint32_t>(w[i].base) : 0);
    dev.write32(reg::PROT_LIMIT, used ? static_cast<uint32_t>(std::min<uint64_t>(w[i].base + w[i].bytes, UINT32_MAX))
                                      : 0);
  }
  dev.write32(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
}

void unprotect_dram(Device& dev) {
  dev.write32(reg::PROT_CTRL, 0);
  for (uint32_t i = 0; i < kProtWindows; ++i) {
    dev.write32(reg::PROT_INDEX, i);
    dev.write32(reg::PROT_BASE, 0);
    dev.write32(reg::PROT_LIMIT, 0);
  }
}

}  // namespace openrdu::driver
