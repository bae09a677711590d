// .npz archives: files written by NumPy 1.24 (savez and savez_compressed; tests/data/
// make_data.py), round trips, and every corruption refused naming the file and member.
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "openrdu/runtime/npz.h"

#include "test_data.h"

namespace openrdu::runtime {
namespace {

const std::string& kData = test_data::kDir;
using test_data::file_bytes;

std::string error_of(const std::vector<uint8_t>& b) {
  try {
    parse_npz(b, "c.npz");
  } catch (const NpyError& e) {
    return e.what();
  }
  return "";
}

void expect_numpy_arrays(const std::map<std::string, HostTensor>& m) {
  ASSERT_TRUE(m.count("a") && m.count("labels") && m.count("mask") && m.count("scalar") && m.count("train.epoch"));
  EXPECT_EQ(m.at("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(m.at("a").data, (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(m.at("labels").dtype, DType::I64);
  EXPECT_EQ(m.at("labels").idata, (std::vector<int64_t>{7, -8}));
  EXPECT_EQ(m.at("mask").dtype, DType::BOOL);
  EXPECT_EQ(m.at("mask").data, (std::vector<float>{1, 0}));
  EXPECT_TRUE(m.at("scalar").shape.empty());
  EXPECT_EQ(m.at("scalar").data, (std::vector<float>{2.5f}));
  EXPECT_EQ(m.at("train.epoch").dtype, DType::I64);
  EXPECT_EQ(m.at("train.epoch").idata, (std::vector<int64_t>{3}));
}

TEST(Npz, ReadsNumpySavez) {
  const auto m = read_npz(kData + "/stored.npz");
  EXPECT_EQ(m.size(), 5u);
  expect_numpy_arrays(m);
}

TEST(Npz, ReadsNumpySavezCompressed) {
  const auto m = read_npz(kData + "/deflated.npz");
  EXPECT_EQ(m.size(), 6u);
  expect_numpy_arrays(m);
  EXPECT_EQ(m.at("zeros").data, std::vector<float>(1000, 0.0f));
}

TEST(Npz, RoundTripAndFileLeavesNoTemp) {
  const auto m = read_npz(kData + "/deflated.npz");
  const auto back = parse_npz(serialize_npz(m), "mem");
  ASSERT_EQ(back.size(), m.size());
  for (const auto& [k, t] : m) {
    EXPECT_EQ(back.at(k).shape, t.shape) << k;
    EXPECT_EQ(back.at(k).dtype, t.dtype) << k;
    EXPECT_EQ(back.at(k).data, t.data) << k;
    EXPECT_EQ(back.at(k).idata, t.idata) << k;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("npz_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_npz(m, (dir / "x.npz").string());
  EXPECT_EQ(read_npz((dir / "x.npz").string()).size(), m.size());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

TEST(Npz, EmptyArchive) {
  EXPECT_TRUE(parse_npz(serialize_npz({}), "e.npz").empty());
}

TEST(Npz, RefusesCorruptionNamingFileAndMember) {
  const auto good = file_bytes(kData + "/stored.npz");
  const auto deflated = file_bytes(kData + "/deflated.npz");
  ASSERT_FALSE(good.empty());
  EXPECT_NE(error_of({'n', 'o'}).find("c.npz: not a .npz (zip) file"), std::string::npos);
  EXPECT_NE(error_of(std::vector<uint8_t>(100, 0)).find("c.npz: not a .npz (zip) file: no end"), std::string::npos);
  // Every truncation is refused (the end record moves or vanishes).
  for (size_t n = 0; n < good.size(); n += 7)
    EXPECT_FALSE(error_of({good.begin(), good.begin() + long(n)}).empty()) << "accepted " << n << " bytes";
  {  // A flipped data byte of the first member ("a.npy"): its CRC-32.
    auto b = good;
    b[30 + 5 + 20 + 60] ^= 1;
    const std::string m = error_of(b);
    EXPECT_NE(m.find("c.npz: member 'a.npy': CRC-32"), std::string::npos) << m;
  }
  {  // A flipped compressed byte: the deflate stream or the CRC.
    auto b = deflated;
    b[30 + 9 + 20 + 10] ^= 0x55;
    const std::string m = error_of(b);
    EXPECT_NE(m.find("c.npz: member 'zeros.npy'"), std::string::npos) << m;
  }
  const size_t end = good.size() - 22;
  const size_t cd = size_t(good[end + 16]) | size_t(good[end + 17]) << 8;
  {  // Central directory offset beyond the file.
    auto b = good;
    b[end + 19] = 0x7F;
    EXPECT_NE(error_of(b).find("central directory"), std::string::npos) << error_of(b);
  }
  {  // First member's local header offset beyond the file.
    auto b = good;
    b[cd + 42 + 3] = 0x10;
    const std::string m = error_of(b);
    EXPECT_NE(m.find("member 'a.npy': local header at byte"), std::string::npos) << m;
    EXPECT_NE(m.find("beyond the end"), std::string::npos) << m;
  }
  {  // Compressed size beyond the file.
    auto b = good;
    b[cd + 20 + 2] = 0x10;
    EXPECT_NE(error_of(b).find("member 'a.npy': data at byte"), std::string::npos) << error_of(b);
  }
  {  // An unknown compression method.
    auto b = good;
    b[cd + 10] = 12;  // bzip2
    EXPECT_NE(error_of(b).find("member 'a.npy': compression method 12 is not supported"), std::string::npos);
  }
  {  // zip64 markers.
    auto b = good;
    for (int k = 0; k < 4; ++k) b[cd + 20 + k] = 0xFF;
    EXPECT_NE(error_of(b).find("member 'a.npy': zip64"), std::string::npos) << error_of(b);
    auto e = good;
    e[end + 8] = e[end + 9] = e[end + 10] = e[end + 11] = 0xFF;
    EXPECT_NE(error_of(e).find("c.npz: zip64 archives"), std::string::npos) << error_of(e);
  }
  {  // A member that is not a .npy file.
    auto b = good;
    b[cd + 46 + 2] = 'x';  // central name "a.xpy"
    b[30 + 2] = 'x';       // and the local one
    EXPECT_NE(error_of(b).find("c.npz: member 'a.xpy' is not a .npy file"), std::string::npos) << error_of(b);
  }
  {  // The local header's name differs from the central directory's.
    auto b = good;
    b[30] = 'b';
    EXPECT_NE(error_of(b).find("member 'a.npy': local header name differs"), std::string::npos) << error_of(b);
  }
}

}  // namespace
}  // namespace openrdu::runtime
