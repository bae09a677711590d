// The worker process of one RDU (the SystemC device lives here: one per process) and the
// daemon's handle on it. Requests and replies use the daemon's framing (driver/wire.h).
#include "node_worker.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "openrdu/arch/config.h"
#include "openrdu/driver/protect.h"
#include "openrdu/gen/regs.h"
#include "openrdu/runtime/node.h"

namespace openrdu::node {

namespace reg = gen::reg;
using driver::wire::Message;
using nlohmann::json;

namespace {

// Returns the tenant's RDU to the state a new application expects: no run, no fault, no
// watchdog, counters' selectors at 0, default interrupt enables, no pending interrupt,
// protection off (setup programs the next window).
void scrub(driver::Device& dev) {
  dev.write32(reg::CTRL, reg::CTRL_ABORT_MASK);
  dev.reset();
  for (uint32_t r : {reg::FAULT, reg::WATCHDOG, reg::SCRATCH, reg::PERF_UNIT, reg::CFG_ADDR, reg::CFG_LEN})
    dev.write32(r, 0);
  dev.write32(reg::DRAM_CH_SEL, 0);
  dev.write32(reg::IRQ_ENABLE,
              reg::IRQ_STATUS_CONFIG_DONE_MASK | reg::IRQ_STATUS_RUN_DONE_MASK | reg::IRQ_STATUS_ERROR_MASK);
  dev.write32(reg::IRQ_STATUS, 0xFFFFFFFFu);
  driver::unprotect_dram(dev);
  dev.reset();
}

// Tiles `mask` of a shared RDU (`docs/daemon.md` ("Tiles")): only those tiles' state, the
// other tenants run on. Their runs stopped, their interrupt enables and causes cleared,
// owner 0 (free), protection window `window` disabled.
void scrub_tiles(driver::Device& dev, uint32_t mask, uint32_t window) {
  if (dev.read32(reg::TILE_STATUS) & mask << 8) dev.write32(reg::TILE_CTRL, mask << 8);  // ABORT
  // The group stops once its AGCUs' requests in flight are back (each read lets the core run).
  for (int i = 0; i < 10000 && (dev.read32(reg::TILE_STATUS) & mask << 8); ++i) {
  }
  const uint32_t bytes = mask * 0x00010101u;
  dev.write32(reg::TILE_IRQ_ENABLE, dev.read32(reg::TILE_IRQ_ENABLE) & ~bytes);
  dev.write32(reg::TILE_IRQ_STATUS, bytes);
  uint32_t owner = dev.read32(reg::TILE_OWNER);
  for (uint32_t t = 0; t < 8; ++t)
    if (mask >> t & 1) owner &= ~(0xFu << 4 * t);
  dev.write32(reg::TILE_OWNER, owner);
  dev.write32(reg::PROT_INDEX, window);
  dev.write32(reg::PROT_LIMIT, 0);
  dev.write32(reg::PROT_BASE, 0);
  dev.write32(reg::PROT_TILES, 0);
}

// Setup of tiles `mask` for one tenant: owner id `owner` (distinct from the other tenants'
// tiles: a switch link to them is off), window `window` = its DRAM, for its tiles' AGCUs
// only, protection on; the device-wide WATCHDOG and FAULT the daemon's (`watchdog`, 0).
void setup_tiles(driver::Device& dev, const json& h) {
  const uint32_t mask = h.at("mask"), owner = h.at("owner"), window = h.at("window");
  const uint64_t base = h.at("base"), bytes = h.at("bytes");
  scrub_tiles(dev, mask, window);
  dev.write32(reg::WATCHDOG, h.at("watchdog"));
  dev.write32(reg::FAULT, 0);
  uint32_t o = dev.read32(reg::TILE_OWNER);
  for (uint32_t t = 0; t < 8; ++t)
    if (mask >> t & 1) o = (o & ~(0xFu << 4 * t)) | owner << 4 * t;
  dev.write32(reg::TILE_OWNER, o);
  dev.write32(reg::PROT_INDEX, window);
  dev.write32(reg::PROT_BASE, static_cast<uint32_t>(base));
  dev.write32(reg::PROT_LIMIT, static_cast<uint32_t>(std::min<uint64_t>(base + bytes, UINT32_MAX)));
  dev.write32(reg::PROT_TILES, mask);
  dev.write32(reg::PROT_CTRL, reg::PROT_CTRL_ENABLE_MASK);
}

// A write of the application; "keep": the bits of the register that stay as they are
// (another tenant's TILE_IRQ_ENABLE bits), merged here so no other request comes between.
void write_merged(driver::Device& dev, const json& h) {
  const uint32_t offset = h.at("offset"), value = h.at("value"), keep = h.value("keep", 0u);
  dev.write32(offset, keep ? (dev.read32(offset) & keep) | (value & ~keep) : value);
}

// A DMA of the application; the reply carries the engine's transfers and busy time it took
// (the daemon keeps them per application: DMA_XFERS, DMA_BUSY_NS).
void copy(driver::Device& dev, const Message& m, std::vector<uint8_t>& out, json& r) {
  const uint32_t xfers = dev.read32(reg::DMA_XFERS), busy = dev.read32(reg::DMA_BUSY_NS);
  if (m.head.at("op") == "copy_to_device") {
    dev.copy_to_device(m.payload.data(), m.head.at("addr"), m.payload.size());
  } else {
    out.resize(m.head.at("bytes").get<size_t>());
    dev.copy_from_device(out.data(), m.head.at("addr"), out.size());
  }
  r["dma_xfers"] = uint32_t(dev.read32(reg::DMA_XFERS) - xfers);
  r["dma_busy_ns"] = uint32_t(dev.read32(reg::DMA_BUSY_NS) - busy);
}

// One request on the device; the reply's head (payload, if any, in `out`).
json serve(driver::Device& dev, const Message& m, std::vector<uint8_t>& out) {
  const std::string op = m.head.at("op");
  json r = {{"ok", true}};
  if (op == "read32") {
    if (m.head.contains("select")) dev.write32(m.head["select"].at("offset"), m.head["select"].at("value"));
    r["value"] = dev.read32(m.head.at("offset"));
  } else if (op == "write32") {
    write_merged(dev, m.head);
  } else if (op == "copy_to_device" || op == "copy_from_device") {
    copy(dev, m, out, r);
  } else if (op == "wait_irq") {
    r["fired"] = dev.wait_irq(m.head.at("vector"), m.head.at("timeout_s"));
  } else if (op == "reset") {
    dev.reset();
  } else if (op == "sim_stats") {
    const auto s = dev.sim_stats();
    r.update({{"cycles", s.cycles},
              {"wall_seconds", s.wall_seconds},
              {"cycles_per_second", s.cycles_per_second},
              {"evaluated_cycles", s.evaluated_cycles}});
  } else if (op == "setup" && m.head.contains("mask")) {
    setup_tiles(dev, m.head);
  } else if (op == "teardown") {
    // The tenant's tiles (or the whole RDU) stopped and scrubbed, then its DRAM window
    // zeroed: the next tenant reads zeros, never the previous one's data.
    if (m.head.contains("mask"))
      scrub_tiles(dev, m.head.at("mask"), m.head.at("window"));
    else
      scrub(dev);
    dev.zero_dram(m.head.at("base"), m.head.at("bytes"));
  } else if (op == "setup") {
    scrub(dev);
    driver::protect_dram(dev, {{m.head.at("base"), m.head.at("bytes")}}, 0);
  } else if (op != "cycles") {
    throw std::invalid_argument(fmt::format("worker: unknown request '{}'", op));
  }
  r["cycles"] = dev.cycles();
  return r;
}

}  // namespace

int worker_main(int fd, uint32_t rdu, const std::string& backend, const std::string& config, double timeout_s) {
  driver::wire::Conn conn(fd);
  std::unique_ptr<driver::Device> dev;
  try {
    driver::DeviceOptions opt;
    opt.timeout_s = timeout_s;
    dev = driver::open_device(backend, arch::load_config(config), opt);
    scrub(*dev);
    conn.write({{"ok", true}, {"info", driver::wire::info_to_json(dev->info())}, {"cycles", dev->cycles()}});
  } catch (const std::exception& e) {
    conn.write({{"ok", false}, {"error", fmt::format("RDU {}: {}", rdu, e.what())}});
    return 1;
  }
  Message m;
  std::vector<uint8_t> out;
  while (conn.read(m)) {
    out.clear();
    json r;
    try {
      r = serve(*dev, m, out);
    } catch (const driver::TimeoutError& e) {
      r = {{"ok", false}, {"kind", "timeout"}, {"error", e.what()}, {"cycles", dev->cycles()}};
      out.clear();
    } catch (const std::exception& e) {
      r = {{"ok", false}, {"error", e.what()}, {"cycles", dev->cycles()}};
      out.clear();
    }
    conn.write(r, out.data(), out.size());
  }
  return 0;
}

void WorkerProc::start() {
  std::lock_guard lk(mu_);
  if (conn_) return;
  if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::runtime_error(fmt::format("RDU {}: socketpair: {}", rdu_, std::strerror(errno)));
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(sv[1], 3);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(sv[1]);
  if (pid < 0) {
    ::close(sv[0]);
    throw std::runtime_error(fmt::format("RDU {}: fork: {}", rdu_, std::strerror(errno)));
  }
  pid_ = pid;
  auto conn = std::make_unique<driver::wire::Conn>(sv[0]);
  Message hello;
  if (!conn->read(hello))
    throw std::runtime_error(fmt::format("RDU {}: worker {} exited before reporting ({})", rdu_, pid, argv_[0]));
  if (!hello.head.value("ok", false))
    throw std::runtime_error(hello.head.value("error", fmt::format("RDU {}: worker failed", rdu_)));
  info_ = driver::wire::info_from_json(hello.head.at("info"));
  conn_ = std::move(conn);
  spdlog::info("RDU {}: worker pid {} up ({} {})", rdu_, pid, info_.backend, info_.config);
}

Message WorkerProc::call(const json& req, const std::vector<uint8_t>& payload) {
  std::lock_guard lk(mu_);
  if (!conn_) throw std::runtime_error(fmt::format("RDU {}: its worker process is not running", rdu_));
  try {
    conn_->write(req, payload.data(), payload.size());
    Message r;
    if (!conn_->read(r)) throw std::runtime_error("end of stream");
    return r;
  } catch (const std::exception& e) {
    conn_.reset();
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    throw std::runtime_error(fmt::format(
        "RDU {}: worker process died ({}; {}); the application's device state is lost", rdu_, e.what(),
        WIFSIGNALED(st) ? fmt::format("signal {}", WTERMSIG(st)) : fmt::format("exit {}", WEXITSTATUS(st))));
  }
}

void WorkerProc::stop() {
  std::lock_guard lk(mu_);
  conn_.reset();  // end of stream: the worker returns
  if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace openrdu::node
