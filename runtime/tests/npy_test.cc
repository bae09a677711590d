// .npy reader/writer against byte images written by NumPy 1.24 (np.save, format 1.0 and 2.0).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {
namespace {

std::vector<uint8_t> bytes_of(const std::string& header, int major, const std::vector<float>& data) {
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major), 0};
  size_t hl = header.size();
  b.push_back(uint8_t(hl));
  b.push_back(uint8_t(hl >> 8));
  if (major == 2) {
    b.push_back(uint8_t(hl >> 16));
    b.push_back(uint8_t(hl >> 24));
  }
  b.insert(b.end(), header.begin(), header.end());
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  b.insert(b.end(), p, p + 4 * data.size());
  return b;
}

// Exactly what np.save(np.arange(6, dtype='<f4').reshape(2, 3)) writes.
std::string numpy_header_2x3() {
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  h.append(118 - h.size() - 1, ' ');
  return h + "\n";
}

std::string err(const std::vector<uint8_t>& b) {
  try {
    parse_npy(b, "in.npy");
  } catch (const NpyError& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, ReadsNumpyFormat1) {
  auto b = bytes_of(numpy_header_2x3(), 1, {0, 1, 2, 3, 4, 5});
  ASSERT_EQ(b.size(), 152u);  // as NumPy writes it
  auto t = parse_npy(b);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.data, (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, ReadsNumpyFormat2Scalar) {
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
  h.append(0x74 - h.size() - 1, ' ');
  h += "\n";
  auto t = parse_npy(bytes_of(h, 2, {2.5f}));
  EXPECT_TRUE(t.shape.empty());
  EXPECT_EQ(t.data, (std::vector<float>{2.5f}));
}

TEST(Npy, WritesWhatNumpyWrites) {
  HostTensor t{{2, 3}, {0, 1, 2, 3, 4, 5}};
  EXPECT_EQ(serialize_npy(t), bytes_of(numpy_header_2x3(), 1, t.data));
  HostTensor v{{3}, {1, 2, 3}};
  auto b = serialize_npy(v);
  EXPECT_EQ((b.size() - 12) % 64, 0u);
  std::string hdr(b.begin() + 10, b.begin() + 10 + 30);
  EXPECT_EQ(hdr, "{'descr': '<f4', 'fortran_orde");
  EXPECT_NE(std::string(b.begin(), b.end()).find("'shape': (3,), }"), std::string::npos);
  EXPECT_EQ(parse_npy(b).data, v.data);
}

TEST(Npy, FileRoundTripLeavesNoTemp) {
  auto dir = std::filesystem::temp_directory_path() / ("npy_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  HostTensor t{{1, 2, 2}, {-0.0f, 1e-38f, 3.5f, -7.25f}};
  write_npy(t, (dir / "x.npy").string());
  auto r = read_npy((dir / "x.npy").string());
  EXPECT_EQ(r.shape, t.shape);
  ASSERT_EQ(r.data.size(), 4u);
  EXPECT_EQ(std::memcmp(r.data.data(), t.data.data(), 16), 0);  // bit exact, -0 kept
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  std::filesystem::remove_all(dir);
}

TEST(Npy, RejectsWithFileName) {
  auto good = bytes_of(numpy_header_2x3(), 1, {0, 1, 2, 3, 4, 5});
  EXPECT_NE(err({'a', 'b'}).find("in.npy: not a NumPy .npy file"), std::string::npos);
  auto f8 = good;
  std::string h = numpy_header_2x3();
  auto pos = h.find("<f4");
  {
    auto b = bytes_of(h.replace(pos, 3, "<f8"), 1, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    EXPECT_NE(err(b).find("unsupported dtype '<f8'"), std::string::npos) << err(b);
  }
  {
    std::string h2 = numpy_header_2x3();
    h2.replace(h2.find("<f4"), 3, "|u1");
    EXPECT_NE(err(bytes_of(h2, 1, {0, 0})).find("'|u1'"), std::string::npos);
  }
  {
    std::string h2 = numpy_header_2x3();
    h2.replace(h2.find("False"), 5, "True ");
    EXPECT_NE(err(bytes_of(h2, 1, {0, 1, 2, 3, 4, 5})).find("Fortran-order"), std::string::npos);
  }
  {
    auto b = good;
    b.pop_back();
    EXPECT_NE(err(b).find("in.npy: data is 23 bytes but shape (2, 3) of float32 needs 24 bytes"), std::string::npos)
        << err(b);
  }
  {
    auto b = good;
    b[6] = 3;
    EXPECT_NE(err(b).find("unsupported .npy format version 3.0"), std::string::npos) << err(b);
  }
  {
    auto b = good;
    b[8] = 0xff;  // header length beyond the file
    EXPECT_NE(err(b).find("truncated .npy header"), std::string::npos) << err(b);
  }
  // Every truncation is rejected with an NpyError.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> b(good.begin(), good.begin() + n);
    EXPECT_FALSE(err(b).empty()) << "accepted a file truncated to " << n << " bytes";
  }
  try {
    read_npy("/nonexistent/dir/a.npy");
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/a.npy"), std::string::npos);
  }
}

TEST(Npy, FileNames) {
  EXPECT_EQ(npy_file_name("output_0"), "output_0.npy");
  EXPECT_EQ(npy_file_name("/fc/Add:0"), "_fc_Add_0.npy");
  EXPECT_EQ(npy_file_name(".."), "_...npy");
}

TEST(Npy, ShapeText) {
  EXPECT_EQ(shape_str({}), "()");
  EXPECT_EQ(shape_str({4}), "(4,)");
  EXPECT_EQ(shape_str({3, 4, 5}), "(3, 4, 5)");
}

TEST(NamedNpy, NamesFilesAndErrorsOfACommandLine) {
  const auto dir = std::filesystem::temp_directory_path() / "openrdu_named_npy_test";
  std::filesystem::create_directories(dir);
  const std::string a = (dir / "a.npy").string();
  HostTensor t;
  t.shape = {2};
  t.data = {1.5f, -2.0f};
  write_npy(t, a);
  std::map<std::string, std::string> files;
  const auto m = read_named_npy({"x=" + a}, "--input", &files);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.at("x").data, t.data);
  EXPECT_EQ(files.at("x"), a);
  auto message = [](const std::vector<std::string>& specs) {
    try {
      read_named_npy(specs, "--data");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message({"x"}), "--data 'x': expected NAME=FILE.npy");
  EXPECT_EQ(message({"=f.npy"}), "--data '=f.npy': expected NAME=FILE.npy");
  EXPECT_EQ(message({"x=" + a, "x=" + a}), "--data: 'x' given twice");
  EXPECT_NE(message({"x=" + (dir / "missing.npy").string()}).find("missing.npy"), std::string::npos);
}

}  // namespace
}  // namespace openrdu::runtime
