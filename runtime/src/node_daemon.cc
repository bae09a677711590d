// The node daemon (`docs/daemon.md`): the socket, the applications' allocations and their
// accounting, the checks of every request; the device work happens in the RDUs' workers.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "node_worker.h"
#include "openrdu/arch/config.h"
#include "openrdu/gen/regs.h"
#include "openrdu/runtime/node.h"

namespace openrdu::node {

namespace reg = gen::reg;
namespace wire = driver::wire;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct App {
  uint64_t id = 0;
  pid_t pid = 0;
  uid_t uid = 0;
  std::string name;
  Tile tile;
  driver::DramRange window;
  Clock::time_point since;
  uint64_t requests = 0, mmio_reads = 0, mmio_writes = 0, h2d = 0, d2h = 0, starts = 0, irq_waits = 0, errors = 0;
  uint64_t cycles_start = 0, cycles_now = 0;
  // The application's own view of device-wide registers (`docs/daemon.md` ("Device-wide
  // registers on a shared RDU")): its DMA traffic, and on a shared RDU its PERF_UNIT and
  // DRAM_CH_SEL selections, the cycles of its last configuration and of its tiles' runs.
  uint64_t dma_xfers = 0, dma_busy_ns = 0, run_cycles = 0;
  uint32_t perf_unit = 0, dram_ch_sel = 0, cfg_cycles = 0;
  bool started = false;  // a run started whose cycles are not counted yet
};

struct TileStat {
  uint64_t sessions = 0, busy_cycles = 0, run_cycles = 0;
};

// The configuration controller of one RDU is one: a CONFIGURE while another is in progress
// is ignored, and CFG_ADDR/CFG_LEN are the RDU's. A tenant holds its RDU's lock from its
// write of CFG_ADDR until it reads its tiles' CONFIG_DONE or ERROR in TILE_IRQ_STATUS
// (or starts its tiles, or goes away).
struct ConfigLock {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t holder = 0;
};

json error_reply(const std::string& msg, const char* kind = nullptr) {
  json r = {{"ok", false}, {"error", msg}};
  if (kind) r["kind"] = kind;
  return r;
}

// A request's unsigned field, checked ("read32: \"offset\" must be an unsigned integer up to N").
uint64_t field(const json& h, const char* name, uint64_t max = UINT32_MAX) {
  const auto it = h.find(name);
  if (it == h.end() || !it->is_number_unsigned() || it->get<uint64_t>() > max)
    throw std::invalid_argument(fmt::format("{}: \"{}\" must be an unsigned integer up to {}{}", h.value("op", "?"),
                                            name, max, it == h.end() ? " (missing)" : ", got " + it->dump()));
  return it->get<uint64_t>();
}

std::string printable_name(const json& h) {
  const auto it = h.find("name");
  if (it == h.end() || !it->is_string()) return "";
  std::string s;
  for (char c : it->get<std::string>().substr(0, 64)) s += (c >= 32 && c < 127) ? c : '?';
  return s;
}

// "app 3 'snrun digits.pef' (pid 5000, RDU 0 tile 1)": who a refusal or an error concerns.
std::string tenant(const App& a) {
  const std::string tiles = a.tile.count == 1 ? fmt::format("tile {}", a.tile.tile)
                                              : fmt::format("tiles {}-{}", a.tile.tile, a.tile.tile + a.tile.count - 1);
  return fmt::format("app {} '{}' (pid {}, RDU {} {})", a.id, a.name, a.pid, a.tile.rdu, tiles);
}

const std::set<std::string> kDeviceOps = {"read32",   "write32", "copy_to_device", "copy_from_device",
                                          "wait_irq", "reset",   "cycles",         "sim_stats"};

}  // namespace

struct NodeDaemon::Impl {
  explicit Impl(NodeOptions o)
      : opt(std::move(o)),
        cfg(arch::load_config(opt.config)),
        alloc(opt.rdus, tiles_per_rdu(cfg), opt.max_apps),
        tiles(size_t(opt.rdus) * alloc.tiles_per_rdu()) {}

  NodeOptions opt;
  arch::Config cfg;
  TileAllocator alloc;
  std::vector<std::unique_ptr<WorkerProc>> workers;
  std::vector<std::unique_ptr<ConfigLock>> config_locks;  // per RDU
  int listen_fd = -1;
  int stop_pipe[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  Clock::time_point started = Clock::now();

  std::mutex mu;  // everything below
  std::map<uint64_t, App> apps;
  std::vector<TileStat> tiles;
  uint64_t next_app = 1, served = 0, refused = 0, device_errors = 0, protocol_errors = 0;
  std::set<int> conns;
  std::condition_variable conns_cv;

  void bind_socket();
  void serve(int fd);
  json handle(wire::Conn& c, const ucred& peer, std::optional<uint64_t>& app, const wire::Message& m,
              std::vector<uint8_t>& out);
  json open_app(wire::Conn& c, const ucred& peer, const json& h, std::optional<uint64_t>& app);
  void teardown(uint64_t id, const std::string& reason);
  json device_request(uint64_t id, const wire::Message& m, std::vector<uint8_t>& out);
  json status();
  void lock_config(uint64_t id, uint32_t rdu);
  void unlock_config(uint64_t id, uint32_t rdu);
  bool shared(const Tile& t) const { return t.count < alloc.tiles_per_rdu(); }
  json wait_irq_polled(uint32_t rdu, json req);
  std::optional<json> own_register(uint64_t id, json& req);
  void note_config_end(uint64_t id, uint32_t rdu);
  uint64_t last_run_cycles(const Tile& t);
  wire::Message forward(uint64_t id, const Tile& tile, const json& req, const std::vector<uint8_t>& payload);
  size_t tile_index(const Tile& t) const { return size_t(t.rdu) * alloc.tiles_per_rdu() + t.tile; }
};

void NodeDaemon::Impl::bind_socket() {
  const std::string& path = opt.socket_path;
  sockaddr_un a = wire::unix_address(path, "--socket");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error(fmt::format("--socket {}: exists and is not a socket; not removing it", path));
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(probe);
    if (live) throw std::runtime_error(fmt::format("--socket {}: another daemon is listening there", path));
    ::unlink(path.c_str());
    spdlog::warn("removed the stale socket file {} (no daemon listening)", path);
  }
  listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const mode_t old = ::umask(0777 & ~opt.socket_mode);
  const int rc = ::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (rc != 0 || ::chmod(path.c_str(), opt.socket_mode) != 0 || ::listen(listen_fd, 64) != 0)
    throw std::runtime_error(fmt::format("--socket {}: {}", path, std::strerror(errno)));
}

NodeDaemon::NodeDaemon(NodeOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {
  Impl& s = *impl_;
  if (::pipe2(s.stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  for (uint32_t i = 0; i < s.opt.rdus; ++i) {
    std::vector<std::string> argv = {s.opt.worker_exe,
                                     "--worker",
                                     "3",
                                     "--rdu",
                                     std::to_string(i),
                                     "--config",
                                     s.opt.config,
                                     "--backend",
                                     s.opt.backend,
                                     "--timeout",
                                     fmt::format("{}", s.opt.timeout_s)};
    argv.insert(argv.end(), s.opt.worker_args.begin(), s.opt.worker_args.end());
    s.workers.push_back(std::make_unique<WorkerProc>(i, argv));
    s.config_locks.push_back(std::make_unique<ConfigLock>());
    s.workers.back()->start();
  }
  s.bind_socket();
  spdlog::info("snd listening on {} (mode {:o}): {} RDU(s) of '{}' on {}, {} tile(s) per RDU, --max-apps {}",
               s.opt.socket_path, s.opt.socket_mode, s.opt.rdus, s.opt.config, s.opt.backend, s.alloc.tiles_per_rdu(),
               s.opt.max_apps);
}

NodeDaemon::~NodeDaemon() {
  Impl& s = *impl_;
  if (s.listen_fd >= 0) {
    ::close(s.listen_fd);
    ::unlink(s.opt.socket_path.c_str());
  }
  for (auto& w : s.workers) w->stop();
  for (int fd : s.stop_pipe)
    if (fd >= 0) ::close(fd);
}

void NodeDaemon::stop() {
  const char c = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->stop_pipe[1], &c, 1);
}

void NodeDaemon::run() {
  Impl& s = *impl_;
  for (;;) {
    pollfd p[2] = {{s.listen_fd, POLLIN, 0}, {s.stop_pipe[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    }
    if (p[1].revents) break;
    const int fd = ::accept4(s.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard lk(s.mu);
      s.conns.insert(fd);
    }
    std::thread([&s, fd] { s.serve(fd); }).detach();
  }
  spdlog::info("snd stopping: closing {} connection(s)", s.conns.size());
  s.stopping = true;
  ::close(s.listen_fd);
  s.listen_fd = -1;
  ::unlink(s.opt.socket_path.c_str());
  std::unique_lock lk(s.mu);
  for (int fd : s.conns) ::shutdown(fd, SHUT_RDWR);
  s.conns_cv.wait_for(lk, std::chrono::seconds(120), [&] { return s.conns.empty(); });
  spdlog::info("snd stopped: {} application(s) served, {} refused", s.served, s.refused);
}

void NodeDaemon::Impl::serve(int fd) {
  {
    wire::Conn c(fd);
    ucred peer{};
    socklen_t len = sizeof peer;
    ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len);
    std::optional<uint64_t> app;
    wire::Message m;
    for (;;) {
      json reply;
      std::vector<uint8_t> out;
      bool fatal = false;
      try {
        try {
          if (!c.read(m)) break;
        } catch (const wire::ProtocolError&) {
          throw;
        } catch (const std::exception& e) {
          if (!c.peer_closed()) spdlog::warn("client pid {}: {}", peer.pid, e.what());
          break;  // the stream is cut (inside a payload) or unreadable
        }
        reply = handle(c, peer, app, m, out);
      } catch (const wire::ProtocolError& e) {
        std::lock_guard lk(mu);
        ++protocol_errors;
        spdlog::warn("client pid {}: protocol error: {}", peer.pid, e.what());
        reply = error_reply(fmt::format("protocol error: {}", e.what()), "protocol");
        fatal = e.fatal;
      } catch (const std::exception& e) {
        reply = error_reply(e.what());
      }
      try {
        c.write(reply, out.data(), out.size());
      } catch (const std::exception&) {
        break;
      }
      if (fatal) break;
    }
    if (app) teardown(*app, "connection closed");
  }
  std::lock_guard lk(mu);
  conns.erase(fd);
  conns_cv.notify_all();
}

json NodeDaemon::Impl::handle(wire::Conn& c, const ucred& peer, std::optional<uint64_t>& app, const wire::Message& m,
                              std::vector<uint8_t>& out) {
  const json& h = m.head;
  if (!h.contains("version"))
    throw wire::ProtocolError(
        fmt::format("request without \"version\" (this daemon speaks version {})", wire::kVersion), false);
  if (h["version"] != wire::kVersion)
    throw wire::ProtocolError(fmt::format("protocol version {} is not supported (this daemon speaks version {})",
                                          h["version"].dump(), wire::kVersion),
                              false);
  if (!h.contains("op") || !h["op"].is_string()) throw wire::ProtocolError("request without a string \"op\"", false);
  const std::string op = h["op"];
  if (op == "ping") return {{"ok", true}, {"version", wire::kVersion}, {"daemon", "snd"}};
  if (op == "status") return status();
  if (op == "open") return open_app(c, peer, h, app);
  if (op == "close") {
    if (app) teardown(*app, "closed by the application");
    app.reset();
    return {{"ok", true}};
  }
  if (!kDeviceOps.count(op))
    throw wire::ProtocolError(
        fmt::format("unknown request \"{}\" (requests: ping, status, open, close, read32, write32, "
                    "copy_to_device, copy_from_device, wait_irq, reset, cycles, sim_stats)",
                    op.substr(0, 40)),
        false);
  if (!app) return error_reply(fmt::format("{}: no application open on this connection (send \"open\" first)", op));
  try {
    return device_request(*app, m, out);
  } catch (const std::invalid_argument& e) {
    std::lock_guard lk(mu);
    App& a = apps.at(*app);
    ++a.errors;
    const std::string msg = fmt::format("{}: refused: {}", tenant(a), e.what());
    spdlog::warn("{}", msg);
    return error_reply(msg, "refused");
  }
}

json NodeDaemon::Impl::open_app(wire::Conn& c, const ucred& peer, const json& h, std::optional<uint64_t>& app) {
  if (app) return error_reply(fmt::format("open: this connection holds application {} already (close it first)", *app));
  if (h.contains("wait") && !h["wait"].is_boolean())
    throw std::invalid_argument("open: \"wait\" must be true or false");
  const bool wait = h.value("wait", true);
  const uint32_t want = h.contains("tiles") ? static_cast<uint32_t>(field(h, "tiles", alloc.tiles_per_rdu())) : 0;
  const auto t0 = Clock::now();
  uint64_t id;
  {
    std::lock_guard lk(mu);
    id = next_app++;
  }
  const std::optional<Tile> t = alloc.acquire(
      id, wait, [&] { return stopping || c.peer_closed(); }, want);
  if (!t) {
    std::lock_guard lk(mu);
    ++refused;
    const std::string why = stopping ? "the daemon is stopping" : "node busy: " + alloc.busy_reason();
    spdlog::info("app {} (pid {}): refused: {}", id, peer.pid, why);
    return error_reply(wait ? why : why + "; send \"wait\": true to wait in line", "busy");
  }
  WorkerProc& w = *workers[t->rdu];
  App a;
  try {
    w.start();  // again, if the worker died
    a.window = tile_dram_window(w.info().dram_bytes, alloc.tiles_per_rdu(), t->tile);
    a.window.bytes *= t->count;  // consecutive tiles: consecutive equal parts
    json setup = {{"op", "setup"}, {"base", a.window.base}, {"bytes", a.window.bytes}};
    // Part of an RDU: owner id first tile + 1 (0 = the free tiles), protection window
    // number = first tile (tenants' tiles are disjoint).
    if (shared(*t))
      setup.update({{"mask", t->mask()}, {"owner", t->tile + 1}, {"window", t->tile}, {"watchdog", opt.watchdog}});
    const wire::Message r = w.call(setup);
    if (!r.head.value("ok", false)) throw std::runtime_error(r.head.value("error", "setup failed"));
    a.cycles_start = a.cycles_now = r.head.value("cycles", uint64_t{0});
  } catch (const std::exception& e) {
    alloc.release(id);
    spdlog::error("app {}: setup of RDU {} tile {} failed: {}", id, t->rdu, t->tile, e.what());
    return error_reply(fmt::format("setup of RDU {} tile {} failed: {}", t->rdu, t->tile, e.what()));
  }
  a.id = id, a.pid = peer.pid, a.uid = peer.uid, a.name = printable_name(h), a.tile = *t, a.since = Clock::now();
  driver::DeviceInfo info = w.info();
  info.dram_base = a.window.base, info.dram_bytes = a.window.bytes, info.managed = true;
  info.rdu = t->rdu, info.app = id, info.tiles.clear();
  for (uint32_t k = 0; k < t->count; ++k) info.tiles.push_back(t->tile + k);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  {
    std::lock_guard lk(mu);
    apps[id] = a;
    for (uint32_t k = 0; k < t->count; ++k) ++tiles[tile_index(*t) + k].sessions;
  }
  app = id;
  spdlog::info("app {} '{}' (pid {}, uid {}): RDU {} tile {} ({} tile(s)), DRAM [0x{:x}, 0x{:x}), open in {:.2f} ms",
               id, a.name, a.pid, a.uid, t->rdu, t->tile, t->count, a.window.base, a.window.base + a.window.bytes, ms);
  return {{"ok", true}, {"app", id}, {"info", wire::info_to_json(info)}, {"open_ms", ms}};
}

void NodeDaemon::Impl::teardown(uint64_t id, const std::string& reason) {
  App a;
  {
    std::lock_guard lk(mu);
    a = apps.at(id);
  }
  const auto t0 = Clock::now();
  unlock_config(id, a.tile.rdu);
  WorkerProc& w = *workers[a.tile.rdu];
  try {
    if (a.started) a.run_cycles += last_run_cycles(a.tile);  // its last run (or the one it leaves)
    json req = {{"op", "teardown"}, {"base", a.window.base}, {"bytes", a.window.bytes}};
    if (shared(a.tile)) req.update({{"mask", a.tile.mask()}, {"window", a.tile.tile}});
    const wire::Message r = w.call(req);
    if (!r.head.value("ok", false)) throw std::runtime_error(r.head.value("error", "teardown failed"));
  } catch (const std::exception& e) {
    spdlog::error("app {}: teardown of RDU {}: {}; restarting its worker", id, a.tile.rdu, e.what());
    w.stop();
    try {
      w.start();
    } catch (const std::exception& e2) {
      spdlog::error("RDU {}: worker restart failed: {}", a.tile.rdu, e2.what());
    }
  }
  alloc.release(id);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::lock_guard lk(mu);
  for (uint32_t k = 0; k < a.tile.count; ++k) {
    tiles[tile_index(a.tile) + k].busy_cycles += a.cycles_now - a.cycles_start;
    tiles[tile_index(a.tile) + k].run_cycles += a.run_cycles;
  }
  apps.erase(id);
  ++served;
  spdlog::info(
      "app {} '{}' (pid {}) released RDU {} tile {} ({}) in {:.2f} ms: {} requests, {} STARTs, DMA {} B in, "
      "{} B out, {} simulated cycles, {:.3f} s",
      id, a.name, a.pid, a.tile.rdu, a.tile.tile, reason, ms, a.requests, a.starts, a.h2d, a.d2h,
      a.cycles_now - a.cycles_start, std::chrono::duration<double>(Clock::now() - a.since).count());
}

json NodeDaemon::Impl::device_request(uint64_t id, const wire::Message& m, std::vector<uint8_t>& out) {
  const json& h = m.head;
  const std::string op = h["op"];
  driver::DramRange window;
  Tile tile;
  {
    std::lock_guard lk(mu);
    const App& a = apps.at(id);
    window = a.window, tile = a.tile;
  }
  const uint32_t rdu = tile.rdu, all = (1u << alloc.tiles_per_rdu()) - 1;
  json req = {{"op", op}};
  std::string why;
  if (op == "read32" || op == "write32") {
    req["offset"] = field(h, "offset");
    if (op == "write32") req["value"] = field(h, "value");
    why = check_register_access(req["offset"], op == "write32", req.value("value", 0u), tile.mask(), all);
    if (why.empty() && op == "write32" && shared(tile))
      why = check_shared_write(cfg, req["offset"], req["value"], tile.mask(), opt.watchdog);
    if (shared(tile) && req["offset"] == reg::TILE_IRQ_ENABLE) req["keep"] = (all & ~tile.mask()) * 0x00010101u;
  } else if (op == "copy_to_device" || op == "copy_from_device") {
    req["addr"] = field(h, "addr", UINT64_MAX);
    const uint64_t n = op == "copy_to_device" ? m.payload.size() : field(h, "bytes", wire::kMaxPayload);
    if (op == "copy_from_device") req["bytes"] = n;
    why = check_dram_access(req["addr"], n, window);
  } else if (op == "wait_irq") {
    req["vector"] = field(h, "vector");
    const auto it = h.find("timeout_s");
    if (it == h.end() || !it->is_number() || it->get<double>() < 0 || it->get<double>() > 3600)
      throw std::invalid_argument("wait_irq: \"timeout_s\" must be a number of seconds from 0 to 3600");
    req["timeout_s"] = it->get<double>();
    if (req["vector"] != driver::kIrqCore)
      why =
          fmt::format("vector {} is the daemon's (DMA); an application waits on vector 0 (core)", req["vector"].dump());
  }
  if (op == "reset" && shared(tile))
    why = fmt::format(
        "the RDU is shared with other applications (this one has tiles mask 0x{:x}): "
        "TILE_CTRL.ABORT stops its tiles",
        tile.mask());
  if (!why.empty()) throw std::invalid_argument(op + ": " + why);
  std::optional<json> own;
  if (op == "read32" || op == "write32") own = own_register(id, req);
  wire::Message r = own ? wire::Message{*own, {}}
                        : forward(id, tile, req, op == "copy_to_device" ? m.payload : std::vector<uint8_t>{});
  std::lock_guard lk(mu);
  App& a = apps.at(id);
  a.dma_xfers += r.head.value("dma_xfers", uint64_t{0}), a.dma_busy_ns += r.head.value("dma_busy_ns", uint64_t{0});
  r.head.erase("dma_xfers"), r.head.erase("dma_busy_ns");
  ++a.requests;
  a.cycles_now = r.head.value("cycles", a.cycles_now);
  if (op == "read32") ++a.mmio_reads;
  if (op == "write32") ++a.mmio_writes;
  if (op == "write32" && req["offset"] == reg::CTRL && (req["value"].get<uint32_t>() & reg::CTRL_START_MASK))
    ++a.starts;
  if (op == "write32" && req["offset"] == reg::TILE_CTRL && (req["value"].get<uint32_t>() & reg::TILE_CTRL_START_MASK))
    ++a.starts;
  if (op == "wait_irq") ++a.irq_waits;
  if (!r.head.value("ok", false)) {
    ++a.errors, ++device_errors;
    spdlog::warn("app {} '{}' (pid {}) RDU {}: {} failed: {}", id, a.name, a.pid, rdu, op, r.head.value("error", "?"));
    return r.head;
  }
  const uint32_t off = op == "read32" ? req["offset"].get<uint32_t>() : 0;
  const bool err_reg = off == reg::ERR_STATUS || (off >= reg::TILE_ERR0 && off < reg::TILE_ERR0 + 32);
  if (op == "read32" && err_reg && (r.head["value"].get<uint32_t>() & reg::ERR_STATUS_CODE_MASK)) {
    ++a.errors, ++device_errors;
    spdlog::warn("app {} '{}' (pid {}) RDU {}: device error {}=0x{:08x}", id, a.name, a.pid, rdu,
                 off == reg::ERR_STATUS ? "ERR_STATUS" : fmt::format("TILE_ERR{}", (off - reg::TILE_ERR0) / 4),
                 r.head["value"].get<uint32_t>());
  }
  if (op == "copy_to_device") a.h2d += m.payload.size();
  if (op == "copy_from_device") a.d2h += r.payload.size(), out = std::move(r.payload);
  if (op == "cycles") r.head["value"] = r.head["cycles"];
  r.head.erase("payload");
  return r.head;
}

// A checked request to the worker of the application's RDU; on a shared RDU, with the
// configure lock (ConfigLock) and waits in pieces (wait_irq_polled).
wire::Message NodeDaemon::Impl::forward(uint64_t id, const Tile& tile, const json& req,
                                        const std::vector<uint8_t>& payload) {
  const std::string op = req["op"];
  const uint32_t rdu = tile.rdu, tm = tile.mask();
  // A CONFIGURE or START of the application's tiles (CTRL on a whole RDU): the cycles of its
  // previous run are counted first (both restart the tiles' counters).
  const uint32_t v = op == "write32" ? req["value"].get<uint32_t>() : 0;
  const bool whole_ctrl = !shared(tile) && req.value("offset", 0u) == reg::CTRL;
  const bool tile_ctrl = req.value("offset", 0u) == reg::TILE_CTRL;
  const bool start = whole_ctrl ? (v & reg::CTRL_START_MASK) : tile_ctrl && (v & tm);
  if (start || (whole_ctrl && (v & reg::CTRL_CONFIGURE_MASK)) || (tile_ctrl && (v & tm << 16))) {
    bool started;
    {
      std::lock_guard lk(mu);
      started = apps.at(id).started;
    }
    const uint64_t c = started ? last_run_cycles(tile) : 0;
    std::lock_guard lk(mu);
    apps.at(id).run_cycles += c, apps.at(id).started = start;
  }
  if (!shared(tile)) return workers[rdu]->call(req, payload);
  if (op == "write32" && req["offset"] == reg::CFG_ADDR) lock_config(id, rdu);
  if (op == "write32" && req["offset"] == reg::TILE_CTRL && (req["value"].get<uint32_t>() & tm)) unlock_config(id, rdu);
  wire::Message r = op == "wait_irq" ? wire::Message{wait_irq_polled(rdu, req), {}} : workers[rdu]->call(req, payload);
  if (op == "read32" && req["offset"] == reg::TILE_IRQ_STATUS && r.head.value("ok", false) &&
      (r.head["value"].get<uint32_t>() & (tm << 8 | tm << 16)))
    note_config_end(id, rdu);
  return r;
}

// The application's configuration ended (its tiles' CONFIG_DONE or ERROR seen): while it
// still holds the configure lock, CFG_CYCLES is its configuration's; kept for its reads of
// CFG_CYCLES, then the lock is given back.
void NodeDaemon::Impl::note_config_end(uint64_t id, uint32_t rdu) {
  {
    ConfigLock& l = *config_locks[rdu];
    std::lock_guard lk(l.mu);
    if (l.holder != id) return;
  }
  const wire::Message r = workers[rdu]->call({{"op", "read32"}, {"offset", reg::CFG_CYCLES}});
  if (r.head.value("ok", false)) {
    std::lock_guard lk(mu);
    apps.at(id).cfg_cycles = r.head["value"];
  }
  unlock_config(id, rdu);
}

// The cycles of the last run of tiles `t` (TILE_CYCLES of the first on a shared RDU; CYCLES
// of a whole RDU): the application's own while its tiles are idle.
uint64_t NodeDaemon::Impl::last_run_cycles(const Tile& t) {
  auto read = [&](uint32_t off) -> uint64_t {
    const wire::Message r = workers[t.rdu]->call({{"op", "read32"}, {"offset", off}});
    return r.head.value("ok", false) ? r.head["value"].get<uint64_t>() : 0;
  };
  if (shared(t)) return read(reg::TILE_CYCLES0 + 4 * t.tile);
  const uint64_t lo = read(reg::CYCLES_LO);
  return read(reg::CYCLES_HI) << 32 | lo;
}

// Registers the daemon answers itself (`docs/daemon.md` ("Device-wide registers on a shared
// RDU")): for every application the DMA engine's and the link's counters of its own
// traffic; on a shared RDU its own PERF_UNIT and DRAM_CH_SEL, CFG_CYCLES of its last
// configuration, CYCLES = TILE_CYCLES of its first tile, 0 for the counters that mix every
// tenant's traffic (MEM_*, DRAM_CH_*), and the writes of WATCHDOG and FAULT that
// check_shared_write let through (the value held: nothing to do). Returns the reply, or
// nullopt to forward `req`, which it may amend (PERF_* read the application's unit).
std::optional<json> NodeDaemon::Impl::own_register(uint64_t id, json& req) {
  const uint32_t off = req["offset"];
  const bool write = req["op"] == "write32";
  std::lock_guard lk(mu);
  App& a = apps.at(id);
  auto value = [&](uint64_t v) { return json{{"ok", true}, {"value", uint32_t(v)}, {"cycles", a.cycles_now}}; };
  if (!write && off == reg::DMA_XFERS) return value(a.dma_xfers);
  if (!write && off == reg::DMA_BYTES) return value(a.h2d + a.d2h);
  if (!write && off == reg::DMA_H2D_BYTES) return value(a.h2d);
  if (!write && off == reg::DMA_D2H_BYTES) return value(a.d2h);
  if (!write && off == reg::DMA_BUSY_NS) return value(a.dma_busy_ns);
  if (!write && off == reg::LINK_MMIO_READS) return value(a.mmio_reads + 1);  // this one included
  if (!write && off == reg::LINK_MMIO_WRITES) return value(a.mmio_writes);
  if (!shared(a.tile)) return std::nullopt;
  if (write) {
    if (off == reg::PERF_UNIT) a.perf_unit = req["value"];
    if (off == reg::DRAM_CH_SEL) a.dram_ch_sel = req["value"];
    const bool own = off == reg::PERF_UNIT || off == reg::DRAM_CH_SEL || off == reg::WATCHDOG || off == reg::FAULT;
    return own ? std::optional<json>(json{{"ok", true}, {"cycles", a.cycles_now}}) : std::nullopt;
  }
  if (off == reg::PERF_UNIT) return value(a.perf_unit);
  if (off == reg::DRAM_CH_SEL) return value(a.dram_ch_sel);
  if (off == reg::CFG_CYCLES) return value(a.cfg_cycles);
  if (off == reg::CYCLES_HI) return value(0);  // TILE_CYCLESt is 32 bits
  if ((off >= reg::MEM_RD_REQS && off <= reg::MEM_WR_BYTES) ||
      (off >= reg::DRAM_CH_RD_BYTES && off <= reg::DRAM_CH_BUSY_CYCLES))
    return value(0);
  if (off == reg::CYCLES_LO) req["offset"] = reg::TILE_CYCLES0 + 4 * a.tile.tile;
  if (off == reg::PERF_ACTIVE || off == reg::PERF_STALL_IN || off == reg::PERF_STALL_OUT)
    req["select"] = {{"offset", reg::PERF_UNIT}, {"value", a.perf_unit}};
  return std::nullopt;
}

// Waits for the configuration controller of `rdu` (see ConfigLock); an error naming the
// holder after the device timeout.
void NodeDaemon::Impl::lock_config(uint64_t id, uint32_t rdu) {
  ConfigLock& l = *config_locks[rdu];
  std::unique_lock lk(l.mu);
  if (!l.cv.wait_for(lk, std::chrono::duration<double>(opt.timeout_s), [&] { return l.holder == 0 || l.holder == id; }))
    throw std::runtime_error(
        fmt::format("write32: CFG_ADDR: RDU {}'s configuration controller is held by app {} "
                    "for more than {} s",
                    rdu, l.holder, opt.timeout_s));
  l.holder = id;
}

void NodeDaemon::Impl::unlock_config(uint64_t id, uint32_t rdu) {
  ConfigLock& l = *config_locks[rdu];
  std::lock_guard lk(l.mu);
  if (l.holder != id) return;
  l.holder = 0;
  l.cv.notify_all();
}

// A wait on a shared RDU: waits of at most 10 ms on the worker, so the other tenants'
// requests are served in between (the worker serves one request at a time).
json NodeDaemon::Impl::wait_irq_polled(uint32_t rdu, json req) {
  const auto end = Clock::now() + std::chrono::duration<double>(req["timeout_s"].get<double>());
  for (;;) {
    const double left = std::chrono::duration<double>(end - Clock::now()).count();
    req["timeout_s"] = std::clamp(left, 0.0, 0.01);
    wire::Message r = workers[rdu]->call(req);
    if (!r.head.value("ok", false) || r.head.value("fired", false) || left <= 0.01) return r.head;
  }
}

json NodeDaemon::Impl::status() {
  const std::vector<uint64_t> owners = alloc.owners();
  std::lock_guard lk(mu);
  const double up = std::chrono::duration<double>(Clock::now() - started).count();
  json j = {{"ok", true},
            {"version", wire::kVersion},
            {"node",
             {{"config", opt.config},
              {"backend", opt.backend},
              {"rdus", opt.rdus},
              {"tiles_per_rdu", alloc.tiles_per_rdu()},
              {"max_apps", opt.max_apps},
              {"socket", opt.socket_path},
              {"pid", ::getpid()},
              {"uptime_s", up}}},
            {"counts",
             {{"active", apps.size()},
              {"waiting", alloc.waiting()},
              {"served", served},
              {"refused", refused},
              {"device_errors", device_errors},
              {"protocol_errors", protocol_errors}}},
            {"apps", json::array()},
            {"tiles", json::array()},
            {"workers", json::array()}};
  for (size_t r = 0; r < workers.size(); ++r) j["workers"].push_back({{"rdu", r}, {"pid", workers[r]->pid()}});
  for (const auto& [id, a] : apps)
    j["apps"].push_back({{"app", id},
                         {"name", a.name},
                         {"pid", a.pid},
                         {"uid", a.uid},
                         {"rdu", a.tile.rdu},
                         {"tile", a.tile.tile},
                         {"tiles", a.tile.count},
                         {"dram_base", a.window.base},
                         {"dram_bytes", a.window.bytes},
                         {"seconds", std::chrono::duration<double>(Clock::now() - a.since).count()},
                         {"requests", a.requests},
                         {"mmio_reads", a.mmio_reads},
                         {"mmio_writes", a.mmio_writes},
                         {"dma_h2d_bytes", a.h2d},
                         {"dma_d2h_bytes", a.d2h},
                         {"starts", a.starts},
                         {"irq_waits", a.irq_waits},
                         {"errors", a.errors},
                         {"sim_cycles", a.cycles_now - a.cycles_start},
                         {"run_cycles", a.run_cycles}});
  for (size_t i = 0; i < owners.size(); ++i) {
    uint64_t busy = tiles[i].busy_cycles, run = tiles[i].run_cycles;
    if (owners[i] && apps.count(owners[i]))
      busy += apps[owners[i]].cycles_now - apps[owners[i]].cycles_start, run += apps[owners[i]].run_cycles;
    j["tiles"].push_back({{"rdu", i / alloc.tiles_per_rdu()},
                          {"tile", i % alloc.tiles_per_rdu()},
                          {"app", owners[i]},
                          {"sessions", tiles[i].sessions},
                          {"busy_cycles", busy},
                          {"run_cycles", run}});
  }
  return j;
}

}  // namespace openrdu::node
