// Inside the node daemon: the parent's handle on one RDU's worker process.
#pragma once
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "openrdu/driver/wire.h"

namespace openrdu::node {

class WorkerProc {
 public:
  WorkerProc(uint32_t rdu, std::vector<std::string> argv) : rdu_(rdu), argv_(std::move(argv)) {}
  ~WorkerProc() { stop(); }
  // Starts the process (again, after it died) and reads its hello: the device's info.
  void start();
  // One request and its reply (serialised: one request at a time per RDU). Throws
  // std::runtime_error naming the RDU when the worker is gone (it is restarted by start()).
  driver::wire::Message call(const nlohmann::json& req, const std::vector<uint8_t>& payload = {});
  bool alive() const { return conn_ != nullptr; }
  const driver::DeviceInfo& info() const { return info_; }
  pid_t pid() const { return pid_; }
  void stop();

 private:
  uint32_t rdu_;
  std::vector<std::string> argv_;
  std::mutex mu_;
  std::unique_ptr<driver::wire::Conn> conn_;
  pid_t pid_ = -1;
  driver::DeviceInfo info_;
};

}  // namespace openrdu::node
