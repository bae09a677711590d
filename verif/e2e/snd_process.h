// A node daemon (build/bin/snd) in a child process, for the node tests and bench/node.
#pragma once
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "openrdu/driver/wire.h"

namespace openrdu::test {

class SndProcess {
 public:
  // Starts `snd ARGS --socket DIR/snd.sock --log-dir DIR` and waits until it answers ping.
  SndProcess(const std::string& snd, const std::filesystem::path& dir, std::vector<std::string> args)
      : dir_(dir), socket_((dir / "snd.sock").string()) {
    std::filesystem::create_directories(dir);
    args.insert(args.begin(), snd);
    for (const char* a : {"--socket", socket_.c_str(), "--log-dir", dir_.c_str(), "--log-level", "info"})
      args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out = (dir / "snd.stderr").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (FILE* f = std::freopen(out.c_str(), "a", stderr)) (void)f;
      if (FILE* f = std::freopen("/dev/null", "w", stdout)) (void)f;
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      try {
        driver::wire::node_request(socket_, {{"op", "ping"}});
        return;
      } catch (const std::exception&) {
        int st;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
          pid_ = -1;
          throw std::runtime_error("snd exited at start (see " + out + ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    throw std::runtime_error("snd did not answer within 30 s");
  }
  ~SndProcess() { stop(SIGTERM); }

  // Sends `sig` and waits for the exit; returns the wait status.
  int stop(int sig) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
  }
  const std::string& socket() const { return socket_; }
  std::string device() const { return "unix:" + socket_; }
  pid_t pid() const { return pid_; }
  nlohmann::json status() const { return driver::wire::node_request(socket_, {{"op", "status"}}); }
  std::string log() const { return read_file(dir_ / "snd.log"); }

  static std::string read_file(const std::filesystem::path& p) {
    std::string s;
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  }
  // Entries of /proc/PID/fd and /proc/PID/task: descriptors and threads of a process.
  static size_t count_entries(pid_t pid, const char* what) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/{}", pid, what)))
      ++n;
    return n;
  }

 private:
  std::filesystem::path dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

}  // namespace openrdu::test
