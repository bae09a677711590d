// The command-line conventions every tool shares (README "Tools"): `--version` ("TOOL
// VERSION"), `--log-level LEVEL` (stderr; default warn), `--log-dir DIR` (DIR/sn.log,
// default $OPENRDU_LOG_DIR), and a bad command line as one line "TOOL: error: ... (see
// --help)" with exit status 1. Header-only over CLI11, so libraries that never parse a
// command line do not depend on it.
#pragma once
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "openrdu/support/log.h"

#ifndef OPENRDU_VERSION
#define OPENRDU_VERSION "unknown"
#endif

namespace openrdu::support {

struct ToolCli {
  explicit ToolCli(std::string name) : tool(std::move(name)) {}
  std::string tool;
  std::string log_level = "warn";
  std::string log_dir;
};

// Adds --version, --log-level and --log-dir to `app`.
inline void add_common_options(CLI::App& app, ToolCli& t) {
  app.set_version_flag("--version", t.tool + " " + OPENRDU_VERSION);
  app.add_option("--log-level", t.log_level, "trace, debug, info, warn, error, off (default warn)")
      ->check(CLI::IsMember(log_level_names()));
  app.add_option("--log-dir", t.log_dir, "also log to DIR/sn.log (default $OPENRDU_LOG_DIR, else no file)");
}

// Parses the command line. Returns -1 when the tool should go on, otherwise its exit
// status: 0 after --help or --version, 1 after a parse error (reported as one line).
inline int parse_command_line(CLI::App& app, const ToolCli& t, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    log_error(t.tool, std::string(e.what()) + " (see --help)");
    return 1;
  }
  return -1;
}

// init_logging with the tool's options.
inline void init_logging(const ToolCli& t) { init_logging(t.tool, t.log_level, t.log_dir); }

}  // namespace openrdu::support
