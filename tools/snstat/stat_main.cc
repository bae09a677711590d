#include "stat_main.h"

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "openrdu/runtime/log.h"

namespace openrdu::tools {

std::string percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

int stat_main(int argc, char** argv, const std::string& tool, const std::string& about,
              const std::function<void(const driver::Counters&, const StatOptions&)>& print) {
  CLI::App app{tool + ": " + about};
  app.set_version_flag("--version", tool + " 0.1.0");
  std::string path;
  StatOptions opt;
  app.add_option("COUNTERS", path, "counters.json written by snrun, or the snrun output directory holding it")
      ->required();
  app.add_flag("--json", opt.json, "print the figures as JSON");
  std::string log_level = "warn", log_dir;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off (default warn)")
      ->check(CLI::IsMember(runtime::log_level_names()));
  app.add_option("--log-dir", log_dir, "also log to DIR/sn.log (default $OPENRDU_LOG_DIR, else no file)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    runtime::log_error(tool, std::string(e.what()) + " (see --help)");
    return 1;
  }
  try {
    runtime::init_logging(tool, log_level, log_dir);
    const driver::Counters c = driver::load_counters(path);
    print(c, opt);
  } catch (const std::exception& e) {
    runtime::log_error(tool, e.what());
    return 1;
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace openrdu::tools
