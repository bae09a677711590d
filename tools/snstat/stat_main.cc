#include "stat_main.h"

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "openrdu/support/cli.h"
#include "openrdu/support/log.h"

namespace openrdu::tools {

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

int stat_main(int argc, char** argv, const std::string& tool, const std::string& about,
              const std::function<void(const driver::Counters&, const StatOptions&)>& print) {
  CLI::App app{tool + ": " + about};
  std::string path;
  StatOptions opt;
  app.add_option("COUNTERS", path, "counters.json written by snrun, or the snrun output directory holding it")
      ->required();
  app.add_flag("--json", opt.json, "print the figures as JSON");
  support::ToolCli cli{tool};
  support::add_common_options(app, cli);
  if (const int rc = support::parse_command_line(app, cli, argc, argv); rc >= 0) return rc;
  try {
    support::init_logging(cli);
    const driver::Counters c = driver::load_counters(path);
    print(c, opt);
  } catch (const std::exception& e) {
    support::log_error(tool, e.what());
    return 1;
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace openrdu::tools
