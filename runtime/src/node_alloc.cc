// The node daemon's allocation of tiles and its checks of applications' requests.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "openrdu/gen/regs.h"
#include "openrdu/runtime/node.h"

namespace openrdu::node {

namespace reg = gen::reg;

struct TileAllocator::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> owner;  // per tile, 0 = free
  std::deque<uint64_t> line;    // tickets in arrival order
  uint64_t next_ticket = 1;
  uint32_t active = 0;
};

TileAllocator::TileAllocator(uint32_t rdus, uint32_t tiles_per_rdu, uint32_t max_apps)
    : impl_(std::make_shared<Impl>()), rdus_(rdus), tpr_(tiles_per_rdu), max_apps_(max_apps) {
  if (rdus == 0 || tiles_per_rdu == 0 || max_apps == 0)
    throw std::invalid_argument("a node needs at least one RDU, one tile per RDU and --max-apps 1");
  impl_->owner.assign(size_t(rdus) * tiles_per_rdu, 0);
}

// Under the lock: the ticket is first in line and a tile and an application slot are free.
bool TileAllocator::grantable(uint64_t ticket) const {
  const Impl& s = *impl_;
  if (s.active >= max_apps_ || std::find(s.owner.begin(), s.owner.end(), 0) == s.owner.end()) return false;
  return ticket == 0 ? s.line.empty() : (!s.line.empty() && s.line.front() == ticket);
}

std::optional<Tile> TileAllocator::acquire(uint64_t app, bool wait, const std::function<bool()>& cancelled) {
  Impl& s = *impl_;
  std::unique_lock lk(s.mu);
  uint64_t ticket = 0;
  if (!grantable(0)) {
    if (!wait) return std::nullopt;
    ticket = s.next_ticket++;
    s.line.push_back(ticket);
    while (!grantable(ticket)) {
      s.cv.wait_for(lk, std::chrono::milliseconds(50));
      if (cancelled && cancelled()) {
        s.line.erase(std::find(s.line.begin(), s.line.end(), ticket));
        s.cv.notify_all();
        return std::nullopt;
      }
    }
    s.line.pop_front();
  }
  // Lowest free tile: fills RDU 0 first (with several tiles per RDU, tenants share RDUs).
  const size_t i = std::find(s.owner.begin(), s.owner.end(), 0) - s.owner.begin();
  s.owner[i] = app;
  ++s.active;
  s.cv.notify_all();
  return Tile{static_cast<uint32_t>(i / tpr_), static_cast<uint32_t>(i % tpr_)};
}

void TileAllocator::release(uint64_t app) {
  Impl& s = *impl_;
  std::lock_guard lk(s.mu);
  bool held = false;
  for (auto& o : s.owner)
    if (o == app) o = 0, held = true;
  if (held) --s.active;
  s.cv.notify_all();
}

std::string TileAllocator::busy_reason() const {
  std::lock_guard lk(impl_->mu);
  const auto free = std::count(impl_->owner.begin(), impl_->owner.end(), 0);
  return fmt::format("{} of {} applications running (--max-apps {}), {} of {} tiles free, {} waiting", impl_->active,
                     max_apps_, max_apps_, free, impl_->owner.size(), impl_->line.size());
}

std::vector<uint64_t> TileAllocator::owners() const {
  std::lock_guard lk(impl_->mu);
  return impl_->owner;
}

size_t TileAllocator::waiting() const {
  std::lock_guard lk(impl_->mu);
  return impl_->line.size();
}

driver::DramRange tile_dram_window(uint64_t dram_bytes, uint32_t tiles_per_rdu, uint32_t tile) {
  const uint64_t part = dram_bytes / tiles_per_rdu;
  return {part * tile, part};
}

std::string check_register_access(uint32_t offset, bool write) {
  if (offset % 4) return fmt::format("BAR0 offset 0x{:x} is not 32-bit aligned", offset);
  const bool core = offset < 0x100, dma = offset >= reg::DMA_HOST_ADDR_LO && offset < reg::DMA_HOST_ADDR_LO + 0x100;
  if (!core && !dma)
    return fmt::format("BAR0 offset 0x{:x} is outside the core (0x000-0x0FF) and DMA (0x1000-0x10FF) blocks", offset);
  if (!write || core || offset == reg::DRAM_CH_SEL) return {};
  if (offset >= reg::PROT_CTRL && offset <= reg::PROT_LAST_ADDR)
    return fmt::format(
        "BAR0 0x{:x} (PROT_*): the DRAM protection registers belong to the node daemon, which programs "
        "the application's DRAM window",
        offset);
  return fmt::format(
      "BAR0 0x{:x}: the DMA engine's registers belong to the node daemon (use copy_to_device / "
      "copy_from_device)",
      offset);
}

std::string check_dram_access(uint64_t addr, uint64_t bytes, const driver::DramRange& w) {
  if (addr >= w.base && addr - w.base <= w.bytes && bytes <= w.bytes - (addr - w.base)) return {};
  return fmt::format("DRAM [0x{:x}, 0x{:x}) lies outside the application's window [0x{:x}, 0x{:x})", addr, addr + bytes,
                     w.base, w.base + w.bytes);
}

}  // namespace openrdu::node
