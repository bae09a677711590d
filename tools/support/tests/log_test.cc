// The shared tool logging (openrdu/support/log.h): file sink, levels, format, errors.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "openrdu/support/log.h"

namespace openrdu::support {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("openrdu_log_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d;
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> v;
  for (std::string l; std::getline(f, l);) v.push_back(l);
  return v;
}

TEST(Log, FileGetsInfoAndAboveInTheSharedFormat) {
  const fs::path dir = fresh_dir("a") / "nested";
  init_logging("tooltest", "warn", dir.string());
  EXPECT_EQ(log_file_path(), (dir / "sn.log").string());
  spdlog::debug("dropped debug");
  spdlog::info("kept info {}", 1);
  spdlog::warn("kept warn");
  log_error("tooltest", "it broke");
  spdlog::default_logger()->flush();
  const auto v = lines(dir / "sn.log");
  ASSERT_EQ(v.size(), 3u);
  const std::regex re(R"(^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}\] \[tooltest\] \[(info|warning|error)\] (.*)$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(v[0], m, re)) << v[0];
  EXPECT_EQ(m[1], "info");
  EXPECT_EQ(m[2], "kept info 1");
  ASSERT_TRUE(std::regex_match(v[1], m, re)) << v[1];
  EXPECT_EQ(m[2], "kept warn");
  ASSERT_TRUE(std::regex_match(v[2], m, re)) << v[2];
  EXPECT_EQ(m[1], "error");
  EXPECT_EQ(m[2], "it broke");
}

TEST(Log, DebugLevelReachesTheFileAndEnvironmentGivesTheDirectory) {
  const fs::path dir = fresh_dir("b");
  ::setenv("OPENRDU_LOG_DIR", dir.c_str(), 1);
  init_logging("envtool", "debug");
  ::unsetenv("OPENRDU_LOG_DIR");
  spdlog::trace("dropped trace");
  spdlog::debug("kept debug");
  spdlog::default_logger()->flush();
  const auto v = lines(dir / "sn.log");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("] [envtool] [debug] kept debug"), std::string::npos) << v[0];
}

TEST(Log, NoDirectoryNoFileAndBadLevelNamed) {
  ::unsetenv("OPENRDU_LOG_DIR");
  init_logging("nofile", "info");
  EXPECT_EQ(log_file_path(), "");
  try {
    init_logging("x", "verbose");
    FAIL() << "no error for level 'verbose'";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'verbose'"), std::string::npos) << e.what();
  }
  // A directory that cannot be created (below a regular file) is named.
  const fs::path d = fresh_dir("c");
  fs::create_directories(d);
  std::ofstream(d / "file") << "x";
  try {
    init_logging("x", "warn", (d / "file" / "sub").string());
    FAIL() << "no error for a log directory below a file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file/sub"), std::string::npos) << e.what();
  }
}

TEST(LogError, ControlCharactersAreEscapedOnOneLine) {
  char path[] = "/tmp/openrdu_log_error_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  FILE* saved = stderr;
  FILE* f = ::fdopen(fd, "w+");
  stderr = f;
  log_error("tool", std::string("name 'a\nb\tc\0d' bad"s));
  std::fflush(f);
  stderr = saved;
  std::rewind(f);
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  ::unlink(path);
  EXPECT_EQ(std::string(buf, n), "tool: error: name 'a\\nb\\tc\\0d' bad\n");
  EXPECT_EQ(out_of_memory_message("m.onnx"), "m.onnx: out of memory (std::bad_alloc) while processing this file");
}

}  // namespace
}  // namespace openrdu::support
