// End to end: ONNX node tests from the ONNX conformance suite, compiled for `tiny`,
// run on the functional model and on the Verilated RTL through the platform, driver
// and runtime, compared with the suite's expected outputs (test_data_set_0).
//
// Tolerance: rtol 0, atol 0. Every operator here (Add, Sub, Mul, Relu, Max) is a single
// correctly rounded IEEE-754 binary32 operation per element, as in NumPy's float32
// reference, so the results must be equal (-0 and +0 count as equal; NaN must match NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "openrdu/compiler/compiler.h"
#include "openrdu/driver/device.h"
#include "openrdu/runtime/session.h"

namespace openrdu {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string model;
  std::string backend;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " on " << c.backend; }

class E2E : public ::testing::TestWithParam<Case> {};

TEST_P(E2E, MatchesOnnxExpected) {
  const auto& [model, backend] = GetParam();
  const fs::path dir = fs::path(OPENRDU_ONNX_TESTDATA) / model;
  ASSERT_TRUE(fs::exists(dir / "model.onnx")) << dir;
  const arch::Config cfg = arch::load_config("tiny");
  const pef::Pef pef = compiler::compile_onnx_file((dir / "model.onnx").string(), cfg);
  // Through the container too: the runtime runs what a file would hold.
  const pef::Pef loaded = pef::parse(pef::serialize(pef), model);

  std::map<std::string, runtime::HostTensor> inputs;
  for (int i = 0; fs::exists(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto t = compiler::load_tensor_pb((dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb")).string(), &name);
    inputs[name] = {t.shape, t.data};
  }
  ASSERT_FALSE(inputs.empty());

  driver::DeviceOptions opts;
  opts.timeout_s = 60;
  auto dev = driver::open_device(backend, cfg, opts);
  runtime::Session session(*dev, cfg, runtime::SessionOptions{60});
  session.load(loaded);
  const runtime::RunResult res = session.run(inputs);
  ASSERT_EQ(res.sections.size(), loaded.sections.size());
  for (const auto& s : res.sections) {
    std::printf("  section %zu (%s): %llu cycles, configuration %llu cycles\n", s.index, s.name.c_str(),
                (unsigned long long)s.cycles, (unsigned long long)s.config_cycles);
    EXPECT_GT(s.cycles, 0u) << "section " << s.index;
  }

  int checked = 0;
  for (int i = 0; fs::exists(dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")); ++i) {
    std::string name;
    auto want = compiler::load_tensor_pb((dir / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")).string(), &name);
    auto it = res.outputs.find(name);
    ASSERT_NE(it, res.outputs.end()) << "no output named '" << name << "'";
    const auto& got = it->second;
    ASSERT_EQ(got.shape, want.shape) << name;
    ASSERT_EQ(got.data.size(), want.data.size()) << name;
    double max_abs = 0;
    size_t worst = 0;
    for (size_t k = 0; k < want.data.size(); ++k) {
      const float a = got.data[k], b = want.data[k];
      if (std::isnan(a) && std::isnan(b)) continue;
      const double err = std::isnan(a) || std::isnan(b) ? INFINITY : std::fabs(double(a) - double(b));
      if (err > max_abs) max_abs = err, worst = k;
    }
    EXPECT_LE(max_abs, 0.0) << model << " on " << backend << ": output '" << name << "' element " << worst
                            << ": device " << got.data[worst] << ", expected " << want.data[worst];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// A bitstream damaged after compilation (the PEF's own CRCs recomputed, so only the
// device can notice): the configuration controller must reject it and the runtime must
// report the error code by name, on both backends.
class E2EErrors : public ::testing::TestWithParam<std::string> {};

TEST_P(E2EErrors, BadBitstreamCrcReported) {
  const std::string backend = GetParam();
  const fs::path dir = fs::path(OPENRDU_ONNX_TESTDATA) / "test_add";
  const arch::Config cfg = arch::load_config("tiny");
  pef::Pef pef = compiler::compile_onnx_file((dir / "model.onnx").string(), cfg);
  ASSERT_FALSE(pef.sections.empty());
  pef.sections[0].bitstream.back() ^= 1u;  // the bitstream's CRC word
  pef = pef::parse(pef::serialize(pef), "damaged");
  std::map<std::string, runtime::HostTensor> inputs;
  for (const auto& t : pef.tensors)
    if (t.role == pef::Role::Input) inputs[t.name] = {t.shape, std::vector<float>(t.elements(), 1.0f)};
  auto dev = driver::open_device(backend, cfg, {});
  runtime::Session session(*dev, cfg, runtime::SessionOptions{60});
  session.load(pef);
  try {
    session.run(inputs);
    ADD_FAILURE() << "a bitstream with a bad CRC was accepted on " << backend;
  } catch (const runtime::RuntimeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("section 0 (" + pef.sections[0].name + ")"), std::string::npos) << m;
    EXPECT_NE(m.find("BAD_CRC"), std::string::npos) << m;
    std::printf("  reported: %s\n", m.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, E2EErrors, ::testing::Values("func", "verilator"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const char* backend : {"func", "verilator"})
    for (const char* m : {"test_add", "test_add_bcast", "test_sub", "test_mul", "test_relu", "test_max_example"})
      v.push_back({m, backend});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Onnx, E2E, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.model + "_" + info.param.backend;
                         });

}  // namespace
}  // namespace openrdu
