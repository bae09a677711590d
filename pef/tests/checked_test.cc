// The checked arithmetic, printable names and file helpers every reader uses (issue 24).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "openrdu/arch/checked.h"
#include "openrdu/arch/file.h"
#include "openrdu/arch/memory.h"
#include "openrdu/arch/printable.h"

namespace openrdu::arch {
namespace {

using V = std::vector<int64_t>;

TEST(Checked, ShapeSize) {
  ShapeSize s = shape_size_of(V{2, 3, 4}, 4);
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.elements, 24u);
  EXPECT_EQ(s.bytes, 96u);
  EXPECT_TRUE(shape_size_of(V{}, 4).ok());
  EXPECT_EQ(shape_size_of(V{}, 4).elements, 1u);
  // 2^62 * 4 bytes wraps to exactly 0: an overflow, not an empty tensor.
  s = shape_size_of(V{int64_t(1) << 62}, 4);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error, "shape [4611686018427387904]: the element count times 4 bytes overflows 64 bits");
  EXPECT_FALSE(shape_size_of(V{int64_t(1) << 32, int64_t(1) << 32}, 4).ok());
  EXPECT_FALSE(shape_size_of(V{int64_t(1) << 62, 4}, 1).ok());
  // A zero dimension makes an empty tensor whatever the others (unless refused).
  s = shape_size_of(V{int64_t(1) << 62, 0, 4}, 4);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.elements, 0u);
  EXPECT_FALSE(shape_size_of(V{2, 0}, 4, false).ok());
  EXPECT_EQ(shape_size_of(V{2, -1}, 4).error, "shape [2,-1] has a dimension of size -1 (sizes >= 0 only)");
  // Implausible: over the limit.
  EXPECT_FALSE(shape_size_of(V{int64_t(1) << 39}, 4).ok());
  EXPECT_TRUE(shape_size_of(V{int64_t(1) << 38}, 4).ok());
  EXPECT_FALSE(shape_size_of(V{1024}, 4, true, 4095).ok());
  uint64_t out = 0;
  EXPECT_FALSE(checked_mul(uint64_t(1) << 32, uint64_t(1) << 32, out));
  EXPECT_TRUE(checked_add(1, 2, out));
  EXPECT_EQ(out, 3u);
  EXPECT_FALSE(checked_add(UINT64_MAX, 1, out));
}

TEST(Printable, EscapesAndCaps) {
  using namespace std::string_literals;
  EXPECT_EQ(printable("a\nb\r\tc\0d\\e\x01\x7f\xff"s), "a\\nb\\r\\tc\\0d\\\\e\\x01\\x7f\\xff");
  EXPECT_EQ(printable(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(printable("plain name"), "plain name");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ReadFileCapped, RefusesDirectoriesEndlessFilesAndWrongKinds) {
  EXPECT_EQ(error_of([] { read_file_capped("/", 100); }), "/: is a directory, not a file");
  EXPECT_EQ(error_of([] { read_file_capped("/nonexistent/x", 100); }),
            "/nonexistent/x: cannot open: No such file or directory");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([] { read_file_capped("/dev/zero", 3 << 20); }),
            "/dev/zero: more than the 3145728 bytes this reader accepts");
  // The prefix check runs on the first bytes, before the rest is read.
  EXPECT_EQ(error_of([] {
              read_file_capped("/dev/zero", uint64_t(1) << 40, 4,
                               [](std::span<const uint8_t> b) {
                                 if (b.size() == 4 && b[0] == 0) throw std::runtime_error("no magic");
                               });
            }),
            "no magic");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  const auto dir = std::filesystem::temp_directory_path() / ("openrdu_checked_test." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string f = (dir / "f.bin").string();
  write_file_atomic(f, std::vector<uint8_t>(100, 7));
  EXPECT_EQ(read_file_capped(f, 100), std::vector<uint8_t>(100, 7));
  EXPECT_EQ(error_of([&] { read_file_capped(f, 99); }), f + ": 100 bytes, more than the 99 bytes this reader accepts");
  std::filesystem::remove_all(dir);
}

TEST(WriteFilesAtomic, AllOrNothing) {
  const auto dir = std::filesystem::temp_directory_path() / ("openrdu_checked_test2." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string a = (dir / "a").string(), b = (dir / "missing" / "b").string();
  // The second file cannot be written: the first is not written either, no temporary left.
  EXPECT_NE(error_of([&] { write_files_atomic({{a, {1, 2}}, {b, {3}}}); }), "<no error>");
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  write_files_atomic({{a, {1, 2}}, {(dir / "c").string(), {3}}});
  EXPECT_EQ(read_file_capped(a, 10), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(read_file_capped((dir / "c").string(), 10), (std::vector<uint8_t>{3}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace openrdu::arch

namespace openrdu::arch {
namespace {

// Every byte reaches `use` once, in order, at its offset; the source's whole pages read
// as zeros afterwards (released).
TEST(Memory, ConsumeChunksCopiesAllThenReleasesTheSource) {
  const size_t n = 2 * kReleaseChunk + 12345;
  std::vector<uint8_t> src(n), dst(n, 0xEE), expect(n);
  for (size_t i = 0; i < n; ++i) expect[i] = src[i] = uint8_t(i * 7 + i / 4096 + 1);
  size_t next = 0;
  consume_chunks(src.data(), n, [&](const uint8_t* p, size_t off, size_t len) {
    EXPECT_EQ(off, next);
    std::memcpy(dst.data() + off, p, len);
    next = off + len;
  });
  EXPECT_EQ(next, n);
  EXPECT_EQ(dst, expect);
  const size_t mid = kReleaseChunk / 2;  // inside the first chunk, on no boundary
  EXPECT_EQ(std::count(src.begin() + mid, src.begin() + mid + 8192, 0), 8192);
}

}  // namespace
}  // namespace openrdu::arch
