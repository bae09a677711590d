// One logging setup for every OpenRDU tool (sncompile, snrun, pefdump, snref), through
// spdlog's default logger so library code logs with spdlog::info(...) and friends.
//   stderr: messages at --log-level and above (default warn);
//   file:   DIR/sn.log, appended, when --log-dir DIR or $OPENRDU_LOG_DIR is given,
//           at info and above (or the stderr level when that is lower).
// Both use the format  [2026-11-22 01:02:03.456] [snrun] [info] message
// Errors that end a tool stay one line "TOOL: error: MESSAGE" on stderr (log_error),
// and are also written to the log file in the format above.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace openrdu::support {

// Valid --log-level values: trace, debug, info, warn, error, critical, off.
const std::vector<std::string>& log_level_names();

// Installs the default logger named `tool`. `log_dir` empty: $OPENRDU_LOG_DIR, if set
// and non-empty; else no file. The directory is created when missing. Throws
// std::runtime_error naming the level or the file when they are unusable.
// `file_name` and `rotate_bytes` (> 0: the file rotates at that size, keeping 3 old ones,
// FILE.1 to FILE.3): the node daemon logs to DIR/snd.log so.
void init_logging(const std::string& tool, const std::string& level, const std::string& log_dir = {},
                  const std::string& file_name = "sn.log", size_t rotate_bytes = 0);

// Path of the log file in use, empty when none.
std::string log_file_path();

// Prints "TOOL: error: MESSAGE" as one line on stderr (after flushing stdout) and logs
// MESSAGE at error level to the log file, if any (not to stderr a second time). Control
// characters in MESSAGE are escaped (arch::printable) and it is capped at 2,000 characters.
void log_error(const std::string& tool, const std::string& message);

// "FILE: out of memory (std::bad_alloc) while processing this file": what a tool
// prints when std::bad_alloc reaches it (never a bare "std::bad_alloc").
std::string out_of_memory_message(const std::string& file);

}  // namespace openrdu::support
