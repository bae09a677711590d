// The node daemon's framing (`docs/daemon.md`): every message is one JSON object on one
// line ('\n'-terminated, at most kMaxLine bytes); when the object has a member
// "payload": N, exactly N raw bytes follow the newline (DMA data). Used by the client
// device (`unix:PATH`), the daemon and its per-RDU worker processes alike.
#pragma once
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "openrdu/driver/device.h"

namespace openrdu::driver::wire {

inline constexpr int kVersion = 1;                    // "version" of every request
inline constexpr size_t kMaxLine = 64 * 1024;         // bytes of one JSON line
inline constexpr uint64_t kMaxPayload = 64ull << 20;  // bytes after one line

// A message that breaks the protocol. `fatal`: the stream cannot be resynchronised (a
// line over kMaxLine, a bad payload size) and the connection must be closed; otherwise
// the offending line was consumed and the next message can be read.
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(const std::string& what, bool fatal) : std::runtime_error(what), fatal(fatal) {}
  bool fatal;
};

struct Message {
  nlohmann::json head;
  std::vector<uint8_t> payload;
};

// One end of a stream socket (owns the descriptor).
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  int fd() const { return fd_; }
  // Next message; false on end of stream before its first byte. Throws ProtocolError
  // (above), std::runtime_error on an I/O error or a stream cut inside a message.
  bool read(Message& m);
  // Sends `head` (its "payload" member set to `bytes` when bytes > 0) and the bytes.
  // Throws std::runtime_error when the peer is gone (no SIGPIPE).
  void write(nlohmann::json head, const void* payload = nullptr, size_t bytes = 0);
  // True when the peer has closed its end (checked without blocking or consuming).
  bool peer_closed();

 private:
  void read_exact(uint8_t* dst, size_t n);
  int fd_;
  std::string buf_;  // bytes read past the last message
};

// The "payload" member of a message's head: 0 when absent; ProtocolError (fatal) when
// not an integer in [0, kMaxPayload].
uint64_t payload_size(const nlohmann::json& head);

// The address of a Unix socket at `path`; std::invalid_argument naming `what` and the path
// when it is empty or longer than sockaddr_un holds.
struct sockaddr_un unix_address(const std::string& path, const std::string& what);
// A connected stream socket (close-on-exec); std::runtime_error naming the path and errno.
int connect_unix(const std::string& path);

// One request to the node daemon listening on `socket_path` over a new connection, e.g.
// {"op": "status"} ("version" added): its reply. Throws when the daemon cannot be reached
// or answers {"ok": false, "error": ...} (the message then names the socket and the error).
nlohmann::json node_request(const std::string& socket_path, nlohmann::json req);

// DeviceInfo as the daemon sends it ("info" of an "open" reply) and back.
nlohmann::json info_to_json(const DeviceInfo& i);
DeviceInfo info_from_json(const nlohmann::json& j);

}  // namespace openrdu::driver::wire
