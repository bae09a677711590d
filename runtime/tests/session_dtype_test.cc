// Session with int64, int32 and bool tensors (words on the device, section 9) and
// read_tensor / write_tensor (section 10), against the scripted device.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "openrdu/arch/bitstream.h"
#include "openrdu/runtime/session.h"
#include "fake_device.h"

namespace openrdu::runtime {
namespace {

using fake::FakeDevice;
namespace reg = gen::reg;

pef::Pef typed_program(const arch::Config& cfg) {
  pef::Pef p;
  p.config_name = cfg.name;
  p.fingerprint = cfg.fingerprint();
  p.tensors = {{"x", DType::I64, pef::Role::Input, {3}, 0x1000, 12, 0},
               {"m", DType::BOOL, pef::Role::Input, {2}, 0x1100, 8, 0},
               {"w", DType::F32, pef::Role::Weight, {2}, 0x2000, 8, 0},
               {"y", DType::I64, pef::Role::Output, {3}, 0x3000, 12, 0},
               {"z", DType::BOOL, pef::Role::Output, {2}, 0x3100, 8, 0},
               {"n", DType::I32, pef::Role::Output, {1}, 0x3200, 4, 0}};
  const float w[2] = {1.5f, -2.0f};
  p.weights.resize(8);
  std::memcpy(p.weights.data(), w, 8);
  p.sections.push_back({"s", 0x8000, {0x42554452u, arch::kBitstreamVersion, p.fingerprint, 5, 0xFFFF0000u}, 0, {}});
  return p;
}

uint32_t word(const FakeDevice& d, uint64_t addr) {
  uint32_t v;
  std::memcpy(&v, &d.mem[addr], 4);
  return v;
}
void set_word(FakeDevice& d, uint64_t addr, uint32_t v) { std::memcpy(&d.mem[addr], &v, 4); }

std::map<std::string, HostTensor> typed_inputs(int64_t last) {
  return {{"x", {{3}, {}, DType::I64, {7, -1, last}}}, {"m", {{2}, {0, 1}, DType::BOOL, {}}}};
}

TEST(SessionDType, InputsNarrowedOutputsWidened) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  Session s(dev, cfg);
  s.load(typed_program(cfg));
  set_word(dev, 0x3000, 0xFFFFFFFDu);  // -3
  set_word(dev, 0x3004, 9);
  set_word(dev, 0x3008, 0x7FFFFFFFu);
  set_word(dev, 0x3100, 0x3F800000u);
  set_word(dev, 0x3104, 0);
  set_word(dev, 0x3200, 0xFFFFFFFFu);
  const auto r = s.run(typed_inputs(2147483647));
  EXPECT_EQ(word(dev, 0x1000), 7u);
  EXPECT_EQ(word(dev, 0x1004), 0xFFFFFFFFu);
  EXPECT_EQ(word(dev, 0x1008), 0x7FFFFFFFu);
  EXPECT_EQ(word(dev, 0x1100), 0u);
  EXPECT_EQ(word(dev, 0x1104), 0x3F800000u);
  const HostTensor& y = r.outputs.at("y");
  EXPECT_EQ(y.dtype, DType::I64);
  EXPECT_EQ(y.idata, (std::vector<int64_t>{-3, 9, 2147483647}));
  EXPECT_EQ(r.outputs.at("z").dtype, DType::BOOL);
  EXPECT_EQ(r.outputs.at("z").data, (std::vector<float>{1, 0}));
  EXPECT_EQ(r.outputs.at("n").dtype, DType::I32);
  EXPECT_EQ(r.outputs.at("n").idata, (std::vector<int64_t>{-1}));
}

TEST(SessionDType, OutOfRangeInputRefusedBeforeTheDevice) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  Session s(dev, cfg);
  s.load(typed_program(cfg));
  const size_t dmas = dev.to_device.size();
  try {
    s.run(typed_inputs(2147483648LL));
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'x': element 2 is 2147483648, outside int32"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(dev.to_device.size(), dmas);  // nothing copied
  EXPECT_EQ(s.uploads(), 1u);             // and nothing to upload again
}

TEST(SessionTensors, ReadAndWriteByName) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  Session s(dev, cfg);
  s.load(typed_program(cfg));
  EXPECT_EQ(s.read_tensor("w").data, (std::vector<float>{1.5f, -2.0f}));
  s.write_tensor("w", {{2}, {4.0f, 8.0f}});
  EXPECT_EQ(word(dev, 0x2000), 0x40800000u);
  EXPECT_EQ(s.read_tensor("w").data, (std::vector<float>{4.0f, 8.0f}));
  set_word(dev, 0x3200, 42);
  EXPECT_EQ(s.read_tensor("n").idata, (std::vector<int64_t>{42}));  // any role
  s.write_tensor("x", {{3}, {}, DType::I32, {1, 2, 3}});              // int32 values for an int64 tensor
  EXPECT_EQ(word(dev, 0x1008), 3u);
  auto error_of = [&](const std::function<void()>& f) {
    try {
      f();
    } catch (const RuntimeError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string m = error_of([&] { s.read_tensor("nope"); });
  EXPECT_NE(m.find("read_tensor 'nope': the loaded PEF has no tensor of that name"), std::string::npos) << m;
  m = error_of([&] { s.write_tensor("w", {{3}, {1, 2, 3}}); });
  EXPECT_NE(m.find("write_tensor 'w': shape (3,) given, the tensor's shape is (2,)"), std::string::npos) << m;
  m = error_of([&] { s.write_tensor("w", {{2}, {}, DType::I64, {1, 2}}); });
  EXPECT_NE(m.find("tensor 'w': int64 ('<i8') values given, the model's tensor is fp32"), std::string::npos) << m;
  EXPECT_EQ(s.read_tensor("w").data, (std::vector<float>{4.0f, 8.0f}));  // the refused writes changed nothing
}

TEST(SessionTensors, WrittenWeightSurvivesTheUploadAfterAFailedRun) {
  auto cfg = arch::load_config("tiny");
  FakeDevice dev(cfg);
  Session s(dev, cfg);
  s.load(typed_program(cfg));
  s.write_tensor("w", {{2}, {4.0f, 8.0f}});
  dev.run_err = 1;
  dev.run_irq = reg::IRQ_STATUS_ERROR_MASK;
  EXPECT_THROW(s.run(typed_inputs(1)), RuntimeError);
  std::memset(&dev.mem[0x2000], 0, 8);  // whatever the failed run left
  dev.run_err = 0;
  dev.run_irq = reg::IRQ_STATUS_RUN_DONE_MASK;
  s.run(typed_inputs(1));
  EXPECT_EQ(s.uploads(), 2u);
  EXPECT_EQ(s.read_tensor("w").data, (std::vector<float>{4.0f, 8.0f}));
}

}  // namespace
}  // namespace openrdu::runtime
