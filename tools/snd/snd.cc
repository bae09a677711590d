// snd: the node daemon (`docs/daemon.md`). Owns K simulated RDUs (one worker process
// each), listens on a Unix socket whose file permissions decide who may connect, serves
// up to --max-apps applications at once, logs to DIR/snd.log (rotating). Foreground;
// SIGINT or SIGTERM tear every application down, stop the workers and remove the socket.
//   snd --rdus 8 --config tiny --backend func --socket /tmp/snd.sock --log-dir logs
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdlib>

#include "openrdu/runtime/node.h"
#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"

using namespace openrdu;

namespace {

node::NodeDaemon* g_daemon = nullptr;

void on_signal(int) {
  if (g_daemon) g_daemon->stop();
}

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe (needed to start the RDU workers)");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "snd: the OpenRDU node daemon: K simulated RDUs shared by up to --max-apps applications "
      "(docs/daemon.md)"};
  node::NodeOptions opt;
  opt.socket_path = "/tmp/openrdu-snd.sock";
  std::string mode = "660";
  int worker_fd = -1;
  uint32_t worker_rdu = 0;
  app.add_option("--rdus", opt.rdus, "simulated RDUs of the node, one worker process each (default 1)")
      ->check(CLI::Range(1, 64));
  app.add_option("--config", opt.config,
                 "configuration of every RDU: tiny, small, plasticine or FILE.yaml (default tiny)");
  app.add_option("--backend", opt.backend, "func (functional model) or verilator (RTL) (default func)")
      ->check(CLI::IsMember({"func", "verilator"}));
  app.add_option("--socket", opt.socket_path, "Unix socket to listen on (default /tmp/openrdu-snd.sock)");
  app.add_option("--socket-mode", mode, "permissions of the socket file, octal (default 660: owner and group)");
  app.add_option("--max-apps", opt.max_apps, "applications at once; more wait in line or are refused (default 8)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--timeout", opt.timeout_s, "device timeout of every wait, seconds (default 60)");
  app.add_option("--watchdog", opt.watchdog,
                 "WATCHDOG cycles of a shared RDU, the daemon's (a tenant on tiles may not change it; default "
                 "100000000, the runtime's)")
      ->check(CLI::Range(1u, UINT32_MAX));
  app.add_option("--worker", worker_fd, "internal: serve one RDU on descriptor FD")->group("");
  app.add_option("--rdu", worker_rdu, "internal: the worker's RDU index")->group("");
  support::ToolCli cli{"snd"};
  app.set_version_flag("--version", std::string("snd ") + OPENRDU_VERSION);
  app.add_option("--log-level", cli.log_level, "trace, debug, info, warn, error, off (default warn)")
      ->check(CLI::IsMember(support::log_level_names()));
  cli.log_dir = ".";
  app.add_option("--log-dir", cli.log_dir, "directory of snd.log (rotating at 10 MiB, 3 kept; default .)");
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    if (worker_fd >= 0) {
      // stderr only (the daemon alone writes snd.log); Ctrl-C reaches the daemon, which
      // tears the applications down before closing the workers' channels.
      ::unsetenv("OPENRDU_LOG_DIR");
      ::signal(SIGINT, SIG_IGN);
      support::init_logging(fmt::format("snd-rdu{}", worker_rdu), cli.log_level);
      return node::worker_main(worker_fd, worker_rdu, opt.backend, opt.config, opt.timeout_s);
    }
    char* end = nullptr;
    opt.socket_mode = static_cast<unsigned>(std::strtoul(mode.c_str(), &end, 8));
    if (mode.empty() || *end || opt.socket_mode > 0777)
      throw std::invalid_argument(fmt::format("--socket-mode '{}': expected octal permissions such as 660", mode));
    support::init_logging("snd", cli.log_level, cli.log_dir, "snd.log", 10u << 20);
    opt.worker_exe = self_exe();
    opt.worker_args = {"--log-level", cli.log_level};
    ::signal(SIGPIPE, SIG_IGN);
    node::NodeDaemon daemon(opt);
    g_daemon = &daemon;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    fmt::print("snd: listening on {} ({} RDU(s) of {} on {}, --max-apps {})\n", opt.socket_path, opt.rdus, opt.config,
               opt.backend, opt.max_apps);
    std::fflush(stdout);
    daemon.run();
    g_daemon = nullptr;
  } catch (const std::exception& e) {
    support::log_error("snd", e.what());
    return 1;
  }
  return 0;
}
