// Run a measurement in a child process (a process holds one simulated device: the
// SystemC kernel elaborates once) and get its JSON back through a file.
#pragma once
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace openrdu::bench {

// f() runs in a forked child; its JSON (or {"error": what()} when it throws) comes back.
// Throws when the child dies without a result or reports an error. `tag` names the run.
template <typename F>
nlohmann::json run_in_child(const std::string& tag, F&& f) {
  static int seq = 0;
  const auto out = std::filesystem::temp_directory_path() / fmt::format("openrdu_bench_{}_{}.json", ::getpid(), ++seq);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    nlohmann::json j;
    try {
      j = f();
    } catch (const std::exception& e) {
      j = {{"error", e.what()}};
    }
    std::ofstream(out) << j.dump();
    std::_Exit(0);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  std::ifstream in(out);
  if (!in) throw std::runtime_error(fmt::format("{}: the run died (status {})", tag, st));
  const auto j = nlohmann::json::parse(in);
  in.close();
  std::filesystem::remove(out);
  if (j.contains("error")) throw std::runtime_error(fmt::format("{}: {}", tag, j.at("error").get<std::string>()));
  return j;
}

}  // namespace openrdu::bench
