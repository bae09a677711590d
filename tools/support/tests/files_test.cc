// ensure_writable_dir (openrdu/support/files.h): created, refused with the option's name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "openrdu/support/files.h"

namespace openrdu::support {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("openrdu_files_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d;
}

TEST(WritableDir, MissingDirectoriesAreCreatedAndNoProbeStays) {
  const fs::path d = scratch("a") / "b" / "c";
  ensure_writable_dir(d.string(), "--output-dir");
  EXPECT_TRUE(fs::is_directory(d));
  EXPECT_TRUE(fs::is_empty(d));
}

TEST(WritableDir, AFileIsNotADirectory) {
  const fs::path f = scratch("file");
  fs::create_directories(f.parent_path());
  std::ofstream(f) << "x";
  try {
    ensure_writable_dir(f.string(), "--checkpoint-dir");
    FAIL() << "a file was taken for a directory";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--checkpoint-dir " + f.string() + ": not a directory"));
  }
}

TEST(WritableDir, ADirectoryUnderAFileCannotBeMade) {
  const fs::path f = scratch("plain");
  fs::create_directories(f.parent_path());
  std::ofstream(f) << "x";
  try {
    ensure_writable_dir((f / "out").string(), "--output-dir");
    FAIL() << "a directory under a file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output-dir " + (f / "out").string() + ": not a directory: "));
  }
}

}  // namespace
}  // namespace openrdu::support
