// The node daemon `snd` (`docs/daemon.md`): one process owns a node of K simulated RDUs,
// one worker process per RDU holds its SystemC device (one device per process), and
// applications connect over a Unix socket; each gets tiles, a DRAM window and the device
// calls of driver::Device (the client is driver::open_device("unix:PATH", ...)).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/driver/device.h"
#include "openrdu/driver/protect.h"

namespace openrdu::node {

// The unit of allocation: tile `tile` of RDU `rdu`; an allocation is `count` consecutive
// tiles from `tile` (relocation needs consecutive tiles in order).
struct Tile {
  uint32_t rdu = 0, tile = 0, count = 1;
  uint32_t mask() const { return ((1u << count) - 1) << tile; }
};

// Tiles per RDU of a configuration: its tiles (arch::Config::num_tiles(), `docs/hardware.md`
// ("Tiles")), or its `tiles` field, else 1 (an application gets a whole RDU).
template <class Cfg>
uint32_t tiles_per_rdu(const Cfg& cfg) {
  if constexpr (requires { cfg.num_tiles(); })
    return cfg.num_tiles() ? static_cast<uint32_t>(cfg.num_tiles()) : 1u;
  else if constexpr (requires { cfg.tiles; })
    return cfg.tiles ? static_cast<uint32_t>(cfg.tiles) : 1u;
  else
    return 1u;
}

// Who holds which tile, and the line of applications waiting (first come, first served).
// Thread-safe.
class TileAllocator {
 public:
  TileAllocator(uint32_t rdus, uint32_t tiles_per_rdu, uint32_t max_apps);
  // A tile for `app`: at once when a tile is free, nobody is in line and fewer than
  // max_apps applications hold tiles. Otherwise, with `wait`, in line until granted or
  // `cancelled()` (polled every 50 ms) returns true; nullopt when refused or cancelled.
  // `tiles` consecutive tiles of one RDU (0: a whole RDU), the lowest such run first.
  std::optional<Tile> acquire(uint64_t app, bool wait, const std::function<bool()>& cancelled, uint32_t tiles = 1);
  void release(uint64_t app);
  // "8 of 8 applications running (--max-apps 8), 0 of 8 tiles free, 2 waiting"
  std::string busy_reason() const;
  uint32_t rdus() const { return rdus_; }
  uint32_t tiles_per_rdu() const { return tpr_; }
  uint32_t max_apps() const { return max_apps_; }
  // Owner of every tile (index rdu * tiles_per_rdu + tile; 0 = free) and the line's length.
  std::vector<uint64_t> owners() const;
  size_t waiting() const;

 private:
  bool grantable(uint64_t ticket, uint32_t tiles) const;
  std::optional<Tile> free_run(uint32_t tiles) const;
  struct Impl;
  std::shared_ptr<Impl> impl_;
  uint32_t rdus_, tpr_, max_apps_;
};

// The DRAM window [base, base + bytes) of tile `tile` when an RDU of `dram_bytes` bytes is
// split into `tiles_per_rdu` tiles: equal parts in tile order.
driver::DramRange tile_dram_window(uint64_t dram_bytes, uint32_t tiles_per_rdu, uint32_t tile);

// What an application may do (`docs/daemon.md` ("Isolation")): "" when allowed, else why not.
// `mine`: the application's tiles (bit t = tile t), `all`: every tile of its RDU. An
// application on part of an RDU may write only its own tiles' TILE_* bits and no device-wide
// control (CTRL, TILE_OWNER, IRQ_ENABLE, IRQ_STATUS).
std::string check_register_access(uint32_t offset, bool write, uint32_t value = 0, uint32_t mine = 1, uint32_t all = 1);
// A write of a device-wide register by an application on tiles `mine` of a shared RDU
// (`docs/daemon.md` ("Device-wide registers on a shared RDU")): "" when allowed, else why
// not. WATCHDOG holds the daemon's `watchdog` and FAULT 0: a write of another value is
// refused (a write of the value held changes nothing); PERF_UNIT must name a unit of the
// application's tiles (the daemon keeps the selection per application). Other offsets: "".
std::string check_shared_write(const arch::Config& cfg, uint32_t offset, uint32_t value, uint32_t mine,
                               uint32_t watchdog);
std::string check_dram_access(uint64_t addr, uint64_t bytes, const driver::DramRange& window);

struct NodeOptions {
  uint32_t rdus = 1;
  std::string config = "tiny", backend = "func";
  std::string socket_path;
  uint32_t max_apps = 8;
  unsigned socket_mode = 0660;           // who may connect: the socket file's permissions
  std::string worker_exe;                // runs as `worker_exe --worker FD --rdu I --config C --backend B`
  std::vector<std::string> worker_args;  // appended (e.g. --log-level)
  double timeout_s = 60;                 // the workers' device timeout
  uint32_t watchdog = 100'000'000;       // WATCHDOG of a shared RDU (the daemon's; runtime's default)
};

// Listens on the socket until stop(): see docs/daemon.md for the protocol.
class NodeDaemon {
 public:
  // Starts the workers and binds the socket (a stale socket file is removed; a live
  // daemon on the path is an error).
  explicit NodeDaemon(NodeOptions opt);
  ~NodeDaemon();
  void run();
  // Async-signal-safe: run() returns after tearing every application down.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The worker process of one RDU: opens the device, serves requests on `fd` until the
// stream ends; returns the exit status.
int worker_main(int fd, uint32_t rdu, const std::string& backend, const std::string& config, double timeout_s);

}  // namespace openrdu::node
