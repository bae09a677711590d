#include "openrdu/support/log.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include "openrdu/arch/printable.h"
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace openrdu::support {

namespace {
constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S.%e] [%n] [%l] %v";
std::shared_ptr<spdlog::logger> g_file_logger;  // file sink only, for log_error
std::string g_file_path;
constexpr size_t kMaxErrorChars = 2000;
}  // namespace

const std::vector<std::string>& log_level_names() {
  static const std::vector<std::string> v = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return v;
}

void init_logging(const std::string& tool, const std::string& level, const std::string& log_dir,
                  const std::string& file_name, size_t rotate_bytes) {
  bool known = false;
  for (const auto& n : log_level_names()) known = known || n == level;
  if (!known) throw std::runtime_error(fmt::format("log level '{}': expected one of trace, debug, info, warn, error, "
                                                   "critical, off", level));
  const auto lvl = spdlog::level::from_str(level);

  auto err_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  err_sink->set_level(lvl);
  err_sink->set_pattern(kPattern);
  std::vector<spdlog::sink_ptr> sinks{err_sink};
  auto logger_level = lvl;

  std::string dir = log_dir;
  if (dir.empty())
    if (const char* e = std::getenv("OPENRDU_LOG_DIR")) dir = e;
  g_file_logger.reset();
  g_file_path.clear();
  if (!dir.empty()) {
    const std::filesystem::path path = std::filesystem::path(dir) / file_name;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!std::filesystem::is_directory(dir))
      throw std::runtime_error(fmt::format("log directory {}: cannot create it{}", dir,
                                           ec ? ": " + ec.message() : std::string()));
    spdlog::sink_ptr file_sink;
    try {
      if (rotate_bytes)
        file_sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path.string(), rotate_bytes, 3);
      else
        file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), false);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error(fmt::format("log file {}: {}", path.string(), e.what()));
    }
    const auto file_level = std::min(lvl, spdlog::level::info);
    file_sink->set_level(file_level);
    file_sink->set_pattern(kPattern);
    sinks.push_back(file_sink);
    logger_level = std::min(logger_level, file_level);
    g_file_logger = std::make_shared<spdlog::logger>(tool, file_sink);
    g_file_logger->set_level(file_level);
    g_file_logger->flush_on(spdlog::level::trace);
    g_file_path = path.string();
  }
  auto logger = std::make_shared<spdlog::logger>(tool, sinks.begin(), sinks.end());
  logger->set_level(logger_level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string log_file_path() { return g_file_path; }

void log_error(const std::string& tool, const std::string& message) {
  // One line whatever the message holds: control characters escaped as arch::printable
  // does (backslashes and UTF-8 kept: the names in it are escaped already), capped.
  std::string line;
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    line += u < 0x20 || u == 0x7f ? arch::printable(std::string_view(&c, 1)) : std::string(1, c);
  }
  if (line.size() > kMaxErrorChars) line = line.substr(0, kMaxErrorChars) + "...";
  std::fflush(stdout);
  std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), line.c_str());
  std::fflush(stderr);
  if (g_file_logger) g_file_logger->error("{}", line);
}

std::string out_of_memory_message(const std::string& file) {
  return fmt::format("{}: out of memory (std::bad_alloc) while processing this file", arch::printable(file));
}

}  // namespace openrdu::support
