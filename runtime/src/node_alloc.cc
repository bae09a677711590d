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

// Under the lock: the lowest `tiles` consecutive free tiles of one RDU.
std::optional<Tile> TileAllocator::free_run(uint32_t tiles) const {
  const Impl& s = *impl_;
  for (uint32_t r = 0; r < rdus_; ++r)
    for (uint32_t t = 0; t + tiles <= tpr_; ++t) {
      const auto first = s.owner.begin() + size_t(r) * tpr_ + t;
      if (std::all_of(first, first + tiles, [](uint64_t o) { return o == 0; })) return Tile{r, t, tiles};
    }
  return std::nullopt;
}

// Under the lock: the ticket is first in line and tiles and an application slot are free.
bool TileAllocator::grantable(uint64_t ticket, uint32_t tiles) const {
  const Impl& s = *impl_;
  if (s.active >= max_apps_ || !free_run(tiles)) return false;
  return ticket == 0 ? s.line.empty() : (!s.line.empty() && s.line.front() == ticket);
}

std::optional<Tile> TileAllocator::acquire(uint64_t app, bool wait, const std::function<bool()>& cancelled,
                                           uint32_t tiles) {
  if (tiles == 0) tiles = tpr_;
  if (tiles > tpr_)
    throw std::invalid_argument(fmt::format(
        "open: {} tiles asked, an RDU of this node has {} (an application's tiles are on one RDU)", tiles, tpr_));
  Impl& s = *impl_;
  std::unique_lock lk(s.mu);
  uint64_t ticket = 0;
  if (!grantable(0, tiles)) {
    if (!wait) return std::nullopt;
    ticket = s.next_ticket++;
    s.line.push_back(ticket);
    while (!grantable(ticket, tiles)) {
      s.cv.wait_for(lk, std::chrono::milliseconds(50));
      if (cancelled && cancelled()) {
        s.line.erase(std::find(s.line.begin(), s.line.end(), ticket));
        s.cv.notify_all();
        return std::nullopt;
      }
    }
    s.line.pop_front();
  }
  // Lowest free run: fills RDU 0 first (with several tiles per RDU, tenants share RDUs).
  const Tile t = *free_run(tiles);
  std::fill_n(s.owner.begin() + size_t(t.rdu) * tpr_ + t.tile, tiles, app);
  ++s.active;
  s.cv.notify_all();
  return t;
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

// A write of the core block by an application on tiles `mine` of an RDU whose tiles are `all`.
static std::string check_core_write(uint32_t offset, uint32_t value, uint32_t mine, uint32_t all) {
  if (mine == all) return {};
  if (offset == reg::TILE_CTRL || offset == reg::TILE_IRQ_STATUS || offset == reg::TILE_IRQ_ENABLE) {
    // Bit t of each byte is tile t; TILE_IRQ_ENABLE's other tiles' bits must stay as they are
    // (the daemon merges them: see below), the strobes and w1c bits must be the tenant's.
    const uint32_t others = (all & ~mine) * 0x01010101u;
    if (offset != reg::TILE_IRQ_ENABLE && (value & others))
      return fmt::format("BAR0 0x{:x} ({}) value 0x{:x}: bits of tiles not the application's (its tiles: mask 0x{:x})",
                         offset, gen::reg::reg_name(offset), value, mine);
    return {};
  }
  if (offset == reg::CTRL || offset == reg::TILE_OWNER || offset == reg::IRQ_ENABLE || offset == reg::IRQ_STATUS)
    return fmt::format(
        "BAR0 0x{:x} ({}): device-wide control belongs to the node daemon while the RDU is shared "
        "(use TILE_CTRL, TILE_IRQ_STATUS, TILE_IRQ_ENABLE for tiles mask 0x{:x})",
        offset, gen::reg::reg_name(offset), mine);
  return {};
}

std::string check_register_access(uint32_t offset, bool write, uint32_t value, uint32_t mine, uint32_t all) {
  if (offset % 4) return fmt::format("BAR0 offset 0x{:x} is not 32-bit aligned", offset);
  const bool core = offset < 0x100, dma = offset >= reg::DMA_HOST_ADDR_LO && offset < reg::DMA_HOST_ADDR_LO + 0x100;
  if (!core && !dma)
    return fmt::format("BAR0 offset 0x{:x} is outside the core (0x000-0x0FF) and DMA (0x1000-0x10FF) blocks", offset);
  if (write && core) return check_core_write(offset, value, mine, all);
  if (!write || offset == reg::DRAM_CH_SEL) return {};
  if (offset >= reg::PROT_CTRL && offset <= reg::PROT_LAST_ADDR)
    return fmt::format(
        "BAR0 0x{:x} ({}): the DRAM protection registers (PROT_*) belong to the node daemon, which programs "
        "the application's DRAM window",
        offset, gen::reg::reg_name(offset));
  return fmt::format(
      "BAR0 0x{:x} ({}): the DMA engine's registers belong to the node daemon (use copy_to_device / "
      "copy_from_device)",
      offset, gen::reg::reg_name(offset));
}

std::string check_shared_write(const arch::Config& cfg, uint32_t offset, uint32_t value, uint32_t mine,
                               uint32_t watchdog) {
  if (offset == reg::WATCHDOG && value != watchdog)
    return fmt::format(
        "BAR0 0x{:x} (WATCHDOG) value {}: the watchdog is device-wide; on a shared RDU the node daemon holds it "
        "at {} cycles (snd --watchdog); open a whole RDU to set another",
        offset, value, watchdog);
  if (offset == reg::FAULT && value != 0)
    return fmt::format(
        "BAR0 0x{:x} (FAULT) value 0x{:x}: fault injection is device-wide; on a shared RDU it stays 0 (open a "
        "whole RDU to inject faults)",
        offset, value);
  const uint32_t counted = cfg.num_slots() + cfg.agcu;  // PERF_UNIT: PCU/PMU slots, then AGCUs
  if (offset == reg::PERF_UNIT && (value >= counted || !(mine >> cfg.tile_of(value) & 1)))
    return fmt::format("BAR0 0x{:x} (PERF_UNIT) value {}: {} is not a unit of the application's tiles (mask 0x{:x})",
                       offset, value, value < counted ? cfg.unit_name(value) : "no unit", mine);
  return {};
}

std::string check_dram_access(uint64_t addr, uint64_t bytes, const driver::DramRange& w) {
  if (addr >= w.base && addr - w.base <= w.bytes && bytes <= w.bytes - (addr - w.base)) return {};
  return fmt::format("DRAM [0x{:x}, 0x{:x}) lies outside the application's window [0x{:x}, 0x{:x})", addr, addr + bytes,
                     w.base, w.base + w.bytes);
}

}  // namespace openrdu::node
