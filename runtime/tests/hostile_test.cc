// Hostile input to the runtime's readers and checks (issue 24): .npy files that are not
// files or whose header lies, /dev/zero, the verdict of a comparison on non-finite
// values (one-line tool errors: tools/support/tests/log_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string npy_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const NpyError& e) {
    return e.what();
  }
  return "<no NpyError>";
}

TEST(HostileNpy, DevZeroIsRefusedAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THAT(npy_error([] { read_npy("/dev/zero"); }),
              AllOf(HasSubstr("/dev/zero: not a NumPy .npy file"), HasSubstr("magic")));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
}

TEST(HostileNpy, DirectoryNamesThePath) {
  EXPECT_EQ(npy_error([] { read_npy("/tmp"); }), "/tmp: is a directory, not a file");
}

TEST(HostileNpy, HeaderErrorIsOneLineWithoutThePadding) {
  std::string h = "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }";
  h.append(117 - h.size(), ' ');
  h += "\n";
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size()), 0};
  b.insert(b.end(), h.begin(), h.end());
  const std::string e = npy_error([&] { parse_npy(b, "in.npy"); });
  EXPECT_THAT(e, AllOf(HasSubstr("in.npy: bad .npy header: expected True or False"),
                       HasSubstr("(header: {'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), })")));
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(HostileNpy, ShapeOverflowIsNamed) {
  const std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n";
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size()), 0};
  b.insert(b.end(), h.begin(), h.end());
  EXPECT_THAT(npy_error([&] { parse_npy(b, "in.npy"); }), AllOf(HasSubstr("in.npy: shape"), HasSubstr("overflows")));
}

HostTensor vec(std::vector<float> v) { return {{int64_t(v.size())}, std::move(v)}; }

TEST(Compare, EqualInfinitiesAndNanAgainstNanPass) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const auto c = compare_values(vec({inf, -inf, nan, 1.0f}), vec({inf, -inf, nan, 1.0f}), 0, 0);
  EXPECT_TRUE(c.pass());
  EXPECT_EQ(c.max_abs, 0);
}

TEST(Compare, NanWhereTheReferenceIsFiniteFailsAndIsReported) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const HostTensor dev = vec({1.0f, nan, inf, -inf, nan}), ref = vec({1.0f, 2.0f, 3.0f, inf, inf});
  const auto c = compare_values(dev, ref, 1e-5, 1e-6);
  EXPECT_FALSE(c.pass());
  EXPECT_EQ(c.bad, 4u);
  EXPECT_EQ(c.first_bad, 1u);
  EXPECT_EQ(c.nan_where_finite, 1u);
  EXPECT_TRUE(std::isinf(c.max_abs));
  EXPECT_THAT(c.failure(dev, ref), AllOf(HasSubstr("4 outside tolerance, first at index 1: device nan, reference 2"),
                                         HasSubstr("1 device NaN where the reference is finite")));
  // Within tolerance passes; just outside fails.
  EXPECT_TRUE(compare_values(vec({1.0f + 1e-6f}), vec({1.0f}), 1e-5, 0).pass());
  EXPECT_FALSE(compare_values(vec({1.001f}), vec({1.0f}), 1e-5, 0).pass());
}

// Integer values (snrun --test, snref on int outputs) compare exactly: a difference of 1 in
// 2^31 fails though it is within rtol, and a missing value fails.
TEST(Compare, IntegersCompareExactly) {
  auto ints = [](std::vector<int64_t> v) { return HostTensor{{int64_t(v.size())}, {}, DType::I64, std::move(v)}; };
  EXPECT_TRUE(compare_values(ints({-2147483648, 7, 0}), ints({-2147483648, 7, 0}), 1e-5, 1e-6).pass());
  const HostTensor dev = ints({1, -2147483639, 5}), ref = ints({1, -2147483640, 5});
  const auto c = compare_values(dev, ref, 1e-5, 1e-6);
  EXPECT_EQ(c.bad, 1u);
  EXPECT_EQ(c.max_abs, 1.0);
  EXPECT_THAT(c.failure(dev, ref), HasSubstr("first at index 1: device -2147483639, reference -2147483640"));
  EXPECT_FALSE(compare_values(ints({1}), ints({1, 2}), 1e-5, 1e-6).pass());
}

TEST(Checks, FingerprintOfTheSameNameSaysWhich) {
  pef::Pef p;
  p.config_name = "tiny";
  p.fingerprint = 0x11111111u;
  try {
    check_pef_for_device(p, 0x22222222u, "tiny", 1u << 28);
    FAIL() << "no error";
  } catch (const RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_THAT(m, AllOf(HasSubstr("PEF fingerprint 0x11111111 differs from configuration 'tiny'"),
                         HasSubstr("0x22222222"), HasSubstr("corrupted")));
    EXPECT_EQ(m.find("but the device is 'tiny'"), std::string::npos);
  }
}

}  // namespace
}  // namespace openrdu::runtime
