#include "openrdu/driver/wire.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace openrdu::driver::wire {

Conn::~Conn() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t payload_size(const nlohmann::json& head) {
  if (!head.is_object() || !head.contains("payload")) return 0;
  const auto& p = head["payload"];
  if (!p.is_number_unsigned() || p.get<uint64_t>() > kMaxPayload)
    throw ProtocolError(fmt::format("\"payload\" must be a byte count from 0 to {}, got {}", kMaxPayload, p.dump()),
                        true);
  return p.get<uint64_t>();
}

void Conn::read_exact(uint8_t* dst, size_t n) {
  if (n == 0) return;  // dst may be null (an empty payload's data()): memcpy's arguments must not be
  const size_t have = std::min(n, buf_.size());
  std::memcpy(dst, buf_.data(), have);
  buf_.erase(0, have);
  for (size_t off = have; off < n;) {
    const ssize_t r = ::recv(fd_, dst + off, n - off, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw std::runtime_error(fmt::format("connection closed inside a {}-byte payload", n));
    off += static_cast<size_t>(r);
  }
}

bool Conn::read(Message& m) {
  size_t nl;
  while ((nl = buf_.find('\n')) == std::string::npos) {
    if (buf_.size() > kMaxLine)
      throw ProtocolError(fmt::format("request line longer than {} bytes without a newline", kMaxLine), true);
    char chunk[16384];
    const ssize_t r = ::recv(fd_, chunk, sizeof chunk, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(fmt::format("read: {}", std::strerror(errno)));
    if (r == 0) {
      if (buf_.empty()) return false;
      throw std::runtime_error(
          fmt::format("connection closed inside a line ({} bytes without a newline)", buf_.size()));
    }
    buf_.append(chunk, static_cast<size_t>(r));
  }
  if (nl > kMaxLine) throw ProtocolError(fmt::format("request line of {} bytes, more than {}", nl, kMaxLine), true);
  const std::string line = buf_.substr(0, nl);
  buf_.erase(0, nl + 1);
  m.head = nlohmann::json::parse(line, nullptr, false);
  m.payload.clear();
  if (m.head.is_discarded()) throw ProtocolError(fmt::format("not a JSON object: '{}'", line.substr(0, 80)), false);
  if (!m.head.is_object())
    throw ProtocolError(fmt::format("a request is one JSON object per line, got '{}'", line.substr(0, 80)), false);
  m.payload.resize(payload_size(m.head));
  read_exact(m.payload.data(), m.payload.size());
  return true;
}

void Conn::write(nlohmann::json head, const void* payload, size_t bytes) {
  if (bytes) head["payload"] = bytes;
  std::string out = head.dump() + '\n';
  if (bytes) out.append(static_cast<const char*>(payload), bytes);
  for (size_t off = 0; off < out.size();) {
    const ssize_t w = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw std::runtime_error(fmt::format("write: {}", std::strerror(errno)));
    off += static_cast<size_t>(w);
  }
}

bool Conn::peer_closed() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

sockaddr_un unix_address(const std::string& path, const std::string& what) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof a.sun_path)
    throw std::invalid_argument(
        fmt::format("{} '{}': a socket path of 1 to {} characters is needed", what, path, sizeof a.sun_path - 1));
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

int connect_unix(const std::string& path) {
  sockaddr_un a = unix_address(path, "device unix:");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("device unix:{}: socket: {}", path, std::strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("device unix:{}: cannot connect to the node daemon: {}{}", path,
                                         std::strerror(e),
                                         e == ENOENT || e == ECONNREFUSED ? " (is snd running?)" : ""));
  }
  return fd;
}

nlohmann::json info_to_json(const DeviceInfo& i) {
  return {{"backend", i.backend},
          {"config", i.config},
          {"id", i.id},
          {"version", i.version},
          {"fingerprint", i.fingerprint},
          {"rows", i.rows},
          {"cols", i.cols},
          {"agcu", i.agcu},
          {"lanes", i.lanes},
          {"stages", i.stages},
          {"regs", i.regs},
          {"vin", i.vin},
          {"pmu_bytes", i.pmu_bytes},
          {"dram_bytes", i.dram_bytes},
          {"dram_base", i.dram_base},
          {"managed", i.managed},
          {"rdu", i.rdu},
          {"tiles", i.tiles},
          {"app", i.app}};
}

DeviceInfo info_from_json(const nlohmann::json& j) {
  DeviceInfo i;
  j.at("backend").get_to(i.backend);
  j.at("config").get_to(i.config);
  j.at("id").get_to(i.id);
  j.at("version").get_to(i.version);
  j.at("fingerprint").get_to(i.fingerprint);
  j.at("rows").get_to(i.rows);
  j.at("cols").get_to(i.cols);
  j.at("agcu").get_to(i.agcu);
  j.at("lanes").get_to(i.lanes);
  j.at("stages").get_to(i.stages);
  j.at("regs").get_to(i.regs);
  j.at("vin").get_to(i.vin);
  j.at("pmu_bytes").get_to(i.pmu_bytes);
  j.at("dram_bytes").get_to(i.dram_bytes);
  j.at("dram_base").get_to(i.dram_base);
  j.at("managed").get_to(i.managed);
  j.at("rdu").get_to(i.rdu);
  j.at("tiles").get_to(i.tiles);
  j.at("app").get_to(i.app);
  return i;
}

}  // namespace openrdu::driver::wire
