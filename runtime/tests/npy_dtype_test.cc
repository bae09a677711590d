// .npy files of every dtype (section 10) against files written by NumPy 1.24
// (runtime/tests/data/make_data.py), and the host <-> device word conversions.
#include <gtest/gtest.h>


#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/host_tensor.h"
#include "openrdu/runtime/npy.h"

#include "test_data.h"

namespace openrdu::runtime {
namespace {

const std::string& kData = test_data::kDir;
using test_data::file_bytes;

TEST(NpyDType, ReadsNumpyInt64Int32Bool) {
  const HostTensor a = read_npy(kData + "/i8.npy");
  EXPECT_EQ(a.dtype, DType::I64);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.idata, (std::vector<int64_t>{1, -2, 3'000'000'000}));
  EXPECT_TRUE(a.data.empty());
  const HostTensor b = read_npy(kData + "/i4.npy");
  EXPECT_EQ(b.dtype, DType::I32);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(b.idata, (std::vector<int64_t>{1, -2, 3, 4}));
  const HostTensor c = read_npy(kData + "/b1.npy");
  EXPECT_EQ(c.dtype, DType::BOOL);
  EXPECT_EQ(c.data, (std::vector<float>{1, 0, 1}));
}

TEST(NpyDType, WritesWhatNumpyWrites) {
  for (const char* f : {"i8.npy", "i4.npy", "b1.npy"}) {
    const auto bytes = file_bytes(kData + "/" + f);
    ASSERT_FALSE(bytes.empty()) << f;
    EXPECT_EQ(serialize_npy(parse_npy(bytes, f)), bytes) << f;
  }
}

TEST(NpyDType, RejectsOtherDTypesNamingFileAndDType) {
  try {
    read_npy(kData + "/i2.npy");
    ADD_FAILURE() << "int16 accepted";
  } catch (const NpyError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("i2.npy: unsupported dtype '<i2'"), std::string::npos) << m;
    EXPECT_NE(m.find("'<i8' (int64)"), std::string::npos) << m;
  }
  auto b = file_bytes(kData + "/i8.npy");
  b.resize(b.size() - 4);  // 20 data bytes for 3 int64
  try {
    parse_npy(b, "cut.npy");
    ADD_FAILURE();
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.npy: data is 20 bytes but shape (3,) of int64 needs 24 bytes"),
              std::string::npos)
        << e.what();
  }
}

pef::Tensor tensor(DType d, std::vector<int64_t> shape) {
  pef::Tensor t{"t", d, pef::Role::Input, std::move(shape), 0x1000, 0, 0};
  t.bytes = 4 * t.elements();
  return t;
}

TEST(DeviceWords, FloatBitsIntNarrowedBoolAsOneFloat) {
  HostTensor f{{2}, {-0.0f, 1.5f}};
  EXPECT_EQ(to_device_words(f, tensor(DType::F32, {2})), (std::vector<uint32_t>{0x80000000u, 0x3FC00000u}));
  HostTensor i{{3}, {}, DType::I64, {5, -1, 2147483647}};
  EXPECT_EQ(to_device_words(i, tensor(DType::I64, {3})), (std::vector<uint32_t>{5, 0xFFFFFFFFu, 0x7FFFFFFFu}));
  // An int64 tensor accepts int32 values and an int32 tensor int64 values.
  HostTensor i32{{3}, {}, DType::I32, {5, -1, 7}};
  EXPECT_EQ(to_device_words(i32, tensor(DType::I64, {3})), (std::vector<uint32_t>{5, 0xFFFFFFFFu, 7}));
  EXPECT_EQ(to_device_words(i, tensor(DType::I32, {3})), (std::vector<uint32_t>{5, 0xFFFFFFFFu, 0x7FFFFFFFu}));
  HostTensor m{{3}, {1, 0, 1}, DType::BOOL, {}};
  EXPECT_EQ(to_device_words(m, tensor(DType::BOOL, {3})), (std::vector<uint32_t>{0x3F800000u, 0, 0x3F800000u}));
}

TEST(DeviceWords, OutOfInt32RangeNamesTensorIndexValue) {
  HostTensor i{{3}, {}, DType::I64, {0, 1, -2147483649LL}};
  try {
    to_device_words(i, tensor(DType::I64, {3}));
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 't': element 2 is -2147483649, outside int32"), std::string::npos)
        << e.what();
  }
  HostTensor f{{3}, {1, 2, 3}};
  try {
    to_device_words(f, tensor(DType::I64, {3}));
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("fp32 ('<f4') values given, the model's tensor is int64 ('<i8')"),
              std::string::npos)
        << e.what();
  }
}

TEST(DeviceWords, OutputsConvertedBackPerDType) {
  const std::vector<uint32_t> w = {0, 0xFFFFFFFEu, 0x3F800000u};
  const HostTensor i = from_device_words(w, tensor(DType::I64, {3}));
  EXPECT_EQ(i.dtype, DType::I64);
  EXPECT_EQ(i.idata, (std::vector<int64_t>{0, -2, 0x3F800000}));
  const HostTensor b = from_device_words(w, tensor(DType::BOOL, {3}));
  EXPECT_EQ(b.dtype, DType::BOOL);
  EXPECT_EQ(b.data, (std::vector<float>{0, 1, 1}));  // any non-zero word is true
  const HostTensor f = from_device_words({0x3FC00000u}, tensor(DType::F32, {1}));
  EXPECT_EQ(f.data, (std::vector<float>{1.5f}));
}

TEST(DeviceWords, ConvertDTypeByValue) {
  const HostTensor i{{3}, {}, DType::I64, {3, -2, 0}};
  const HostTensor f = convert_dtype(i, DType::F32);
  EXPECT_EQ(f.dtype, DType::F32);
  EXPECT_EQ(f.data, (std::vector<float>{3, -2, 0}));
  EXPECT_TRUE(f.idata.empty());
  const HostTensor back = convert_dtype(HostTensor{{2}, {7.9f, -1.5f}}, DType::I32);
  EXPECT_EQ(back.idata, (std::vector<int64_t>{7, -1}));  // truncated toward zero
  EXPECT_EQ(convert_dtype(i, DType::I32).idata, i.idata);
  EXPECT_EQ(convert_dtype(HostTensor{{2}, {0.5f, 0}}, DType::BOOL).data, (std::vector<float>{1, 0}));
}

TEST(CheckInputs, DTypeRules) {
  pef::Pef p;
  p.tensors = {{"x", DType::F32, pef::Role::Input, {2}, 0x1000, 8, 0},
               {"y", DType::I64, pef::Role::Input, {2}, 0x2000, 8, 0},
               {"m", DType::BOOL, pef::Role::Input, {2}, 0x3000, 8, 0}};
  const HostTensor x{{2}, {1, 2}}, y64{{2}, {}, DType::I64, {1, 2}}, y32{{2}, {}, DType::I32, {1, 2}};
  const HostTensor m{{2}, {1, 0}, DType::BOOL, {}};
  EXPECT_NO_THROW(check_inputs(p, {{"x", x}, {"y", y64}, {"m", m}}));
  EXPECT_NO_THROW(check_inputs(p, {{"x", x}, {"y", y32}, {"m", m}}));
  try {
    check_inputs(p, {{"x", x}, {"y", x}, {"m", m}}, {{"y", "labels.npy"}});
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'y' (labels.npy): fp32 ('<f4') given, the model's tensor is int64"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_inputs(p, {{"x", m}, {"y", y64}, {"m", m}}), RuntimeError);  // bool for fp32
  EXPECT_THROW(check_inputs(p, {{"x", x}, {"y", y64}, {"m", x}}), RuntimeError);  // fp32 for bool
  const HostTensor short_y{{2}, {}, DType::I64, {1}};
  EXPECT_THROW(check_inputs(p, {{"x", x}, {"y", short_y}, {"m", m}}), RuntimeError);
}

}  // namespace
}  // namespace openrdu::runtime
