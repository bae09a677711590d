// The client side of the node daemon (`docs/daemon.md`): a driver::Device whose every call
// is one request over the daemon's Unix socket, so runtime::Session runs unchanged above it.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "openrdu/driver/device.h"
#include "openrdu/driver/wire.h"

namespace openrdu::driver {

namespace {

using nlohmann::json;

class RemoteDevice : public Device {
 public:
  RemoteDevice(const std::string& path, const arch::Config& cfg, const DeviceOptions& opt)
      : path_(path), opt_(opt), conn_(wire::connect_unix(path)) {
    json req = {{"op", "open"}, {"wait", opt.wait_for_tiles}, {"name", opt.app_name}};
    if (opt.tiles) req["tiles"] = opt.tiles;
    const json r = call(req);
    info_ = wire::info_from_json(r.at("info"));
    if (info_.fingerprint != cfg.fingerprint())
      throw std::runtime_error(
          fmt::format("device unix:{}: the node runs configuration '{}' (fingerprint 0x{:08x}), not '{}' (0x{:08x}); "
                      "use --config {}",
                      path_, info_.config, info_.fingerprint, cfg.name, cfg.fingerprint(), info_.config));
  }
  ~RemoteDevice() override {
    try {
      call({{"op", "close"}});
    } catch (...) {
      // The daemon frees the tiles when the connection closes anyway.
    }
  }

  const DeviceInfo& info() const override { return info_; }
  uint32_t read32(uint32_t offset) override { return call({{"op", "read32"}, {"offset", offset}}).at("value"); }
  void write32(uint32_t offset, uint32_t value) override {
    call({{"op", "write32"}, {"offset", offset}, {"value", value}});
  }
  void copy_to_device(const void* src, uint64_t dev_addr, size_t bytes) override {
    const auto* p = static_cast<const uint8_t*>(src);
    for (size_t off = 0; off < bytes; off += kChunk)
      call({{"op", "copy_to_device"}, {"addr", dev_addr + off}}, p + off, std::min(kChunk, bytes - off));
  }
  void copy_from_device(void* dst, uint64_t dev_addr, size_t bytes) override {
    auto* p = static_cast<uint8_t*>(dst);
    for (size_t off = 0; off < bytes; off += kChunk) {
      const size_t n = std::min(kChunk, bytes - off);
      call({{"op", "copy_from_device"}, {"addr", dev_addr + off}, {"bytes", n}});
      if (reply_.payload.size() != n)
        throw std::runtime_error(
            fmt::format("device unix:{}: copy_from_device of {} bytes returned {}", path_, n, reply_.payload.size()));
      std::memcpy(p + off, reply_.payload.data(), n);
    }
  }
  bool wait_irq(unsigned vector, double timeout_s) override {
    return call({{"op", "wait_irq"}, {"vector", vector}, {"timeout_s", timeout_s < 0 ? opt_.timeout_s : timeout_s}})
        .at("fired");
  }
  void reset() override { call({{"op", "reset"}}); }
  uint64_t cycles() override { return call({{"op", "cycles"}}).at("value"); }
  SimStats sim_stats() override {
    const json r = call({{"op", "sim_stats"}});
    SimStats s;
    s.cycles = r.at("cycles");
    s.wall_seconds = r.at("wall_seconds");
    s.cycles_per_second = r.at("cycles_per_second");
    s.evaluated_cycles = r.at("evaluated_cycles");
    return s;
  }

 private:
  static constexpr size_t kChunk = 8u << 20;  // bytes per copy request (below wire::kMaxPayload)

  // One request and its reply; an error reply throws its message (TimeoutError for "timeout").
  const json& call(json req, const void* payload = nullptr, size_t bytes = 0) {
    req["version"] = wire::kVersion;
    try {
      conn_.write(req, payload, bytes);
      if (!conn_.read(reply_)) throw std::runtime_error("the daemon closed the connection");
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("device unix:{}: {}: {}", path_, req.value("op", "?"), e.what()));
    }
    const json& r = reply_.head;
    if (!r.value("ok", false)) {
      const std::string msg = fmt::format("device unix:{}: {}", path_, r.value("error", r.dump()));
      if (r.value("kind", "") == "timeout") throw TimeoutError(msg);
      throw std::runtime_error(msg);
    }
    return r;
  }

  std::string path_;
  DeviceOptions opt_;
  wire::Conn conn_;
  wire::Message reply_;
  DeviceInfo info_;
};

}  // namespace

nlohmann::json wire::node_request(const std::string& socket_path, nlohmann::json req) {
  wire::Conn c(wire::connect_unix(socket_path));
  req["version"] = wire::kVersion;
  c.write(req);
  wire::Message m;
  if (!c.read(m)) throw std::runtime_error(fmt::format("unix:{}: the daemon closed the connection", socket_path));
  if (!m.head.value("ok", false))
    throw std::runtime_error(fmt::format("unix:{}: {}", socket_path, m.head.value("error", m.head.dump())));
  return m.head;
}

std::unique_ptr<Device> open_remote_device(const std::string& socket_path, const arch::Config& cfg,
                                           const DeviceOptions& opt) {
  return std::make_unique<RemoteDevice>(socket_path, cfg, opt);
}

}  // namespace openrdu::driver
