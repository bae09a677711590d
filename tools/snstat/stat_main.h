// Shared command line of the counter tools: COUNTERS (a counters.json or the output
// directory of snrun holding one), --json, --help, --version, --log-level, --log-dir.
#pragma once
#include <functional>
#include <string>

#include "openrdu/driver/counters.h"

namespace openrdu::tools {

struct StatOptions {
  bool json = false;
};

// Parses the command line, loads the counters and calls `print`; returns the exit code
// (errors are one line "TOOL: error: ..." and exit 1).
int stat_main(int argc, char** argv, const std::string& tool, const std::string& about,
              const std::function<void(const driver::Counters&, const StatOptions&)>& print);

std::string percent(uint64_t part, uint64_t whole);

}  // namespace openrdu::tools
