// Shared command line of the counter tools: COUNTERS (a counters.json or the output
// directory of snrun holding one) or --device unix:PATH (a node daemon's usage per
// application and per tile, docs/daemon.md), --json, --help, --version, --log-level, --log-dir.
#pragma once
#include <functional>
#include <string>

#include "openrdu/driver/counters.h"

namespace openrdu::tools {

struct StatOptions {
  bool json = false;
};

// What a tool shows of a node daemon's status: tiles and applications (sntilestat), DRAM
// windows and DMA bytes (snddrstat), DMA and BAR0 traffic (snpciestat).
enum class NodeView { Tiles, Dram, Pcie };

// Parses the command line, loads the counters and calls `print` (or, with --device, asks
// the daemon for its status and prints `view`); returns the exit code (errors are one line
// "TOOL: error: ..." and exit 1).
int stat_main(int argc, char** argv, const std::string& tool, const std::string& about,
              const std::function<void(const driver::Counters&, const StatOptions&)>& print, NodeView view);

std::string percent(uint64_t part, uint64_t whole);

}  // namespace openrdu::tools
