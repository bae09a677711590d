// Run a measurement in a child process (a process holds one simulated device: the
// SystemC kernel elaborates once) and get its JSON back through a file.
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
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

// Floors on a bench's cycle figures (cycle counts are deterministic, unlike timings): the
// tests that guard the README's figures pass them. Off by default (make bench judges nothing).
struct Floors {
  double min_peak_share = 0;        // a case's share of the array's (or the DRAM's) peak
  double max_estimate_error = -1;   // |cycles / estimate - 1|; < 0: not checked
};

inline void add_floor_options(CLI::App& app, Floors& f) {
  app.add_option("--min-peak-share", f.min_peak_share, "fail a case below this share of the peak (0-1)");
  app.add_option("--max-estimate-error", f.max_estimate_error,
                 "fail a case whose cycles differ from the estimate by more than this fraction");
}

// Prints one line per figure of case `tag` beyond its floor (prefixed by `bench`) and
// returns how many. `share` < 0 or `estimate` == 0: that figure is not checked.
inline int check_floors(const Floors& f, const std::string& bench, const std::string& tag, double share,
                        double cycles, double estimate) {
  int bad = 0;
  if (share >= 0 && share < f.min_peak_share) {
    fmt::print(stderr, "{}: {}: {:.2f}% of peak, below the floor {:.2f}%\n", bench, tag, 100 * share,
               100 * f.min_peak_share);
    ++bad;
  }
  if (f.max_estimate_error >= 0 && estimate > 0 && !(std::fabs(cycles / estimate - 1) <= f.max_estimate_error)) {
    fmt::print(stderr, "{}: {}: {} cycles against the estimate {}: off by {:.2f}%, more than {:.2f}%\n", bench, tag,
               cycles, estimate, 100 * std::fabs(cycles / estimate - 1), 100 * f.max_estimate_error);
    ++bad;
  }
  if (bad == 0 && (f.min_peak_share > 0 || f.max_estimate_error >= 0))
    fmt::print(stderr, "{}: {}: {}, {} cycles against the estimate {}: within the floors\n", bench, tag,
               share >= 0 ? fmt::format("{:.2f}% of peak", 100 * share) : "peak share not judged", cycles, estimate);
  return bad;
}

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
