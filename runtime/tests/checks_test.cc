// Runtime checks made before a PEF touches a device: inputs by name and shape, fingerprint, placement.
#include <gtest/gtest.h>

#include "openrdu/runtime/checks.h"

namespace openrdu::runtime {
namespace {

pef::Pef model() {
  pef::Pef p;
  p.config_name = "tiny";
  p.fingerprint = 0xC3E48205u;
  p.tensors = {{"x", pef::DType::F32, pef::Role::Input, {3, 4}, 0x1000, 48, 0},
               {"y", pef::DType::F32, pef::Role::Input, {4}, 0x2000, 16, 0},
               {"w", pef::DType::F32, pef::Role::Weight, {4}, 0x3000, 16, 0},
               {"z", pef::DType::F32, pef::Role::Output, {3, 4}, 0x4000, 48, 0}};
  p.weights.resize(16);
  p.sections.push_back({"add", 0x8000, std::vector<uint32_t>(6, 0), 0, {}});
  return p;
}

std::map<std::string, HostTensor> good() {
  return {{"x", {{3, 4}, std::vector<float>(12, 1.f)}}, {"y", {{4}, std::vector<float>(4, 2.f)}}};
}

std::string input_error(const std::map<std::string, HostTensor>& in) {
  try {
    check_inputs(model(), in);
  } catch (const RuntimeError& e) {
    return e.what();
  }
  return "";
}

TEST(Checks, GoodInputsAccepted) { EXPECT_EQ(input_error(good()), ""); }

TEST(Checks, MissingInputNamed) {
  auto in = good();
  in.erase("y");
  EXPECT_NE(input_error(in).find("missing input 'y'"), std::string::npos) << input_error(in);
}

TEST(Checks, ExtraInputNamed) {
  auto in = good();
  in["q"] = {{1}, {0.f}};
  EXPECT_NE(input_error(in).find("unknown input 'q'"), std::string::npos) << input_error(in);
  auto in2 = good();
  in2["z"] = {{3, 4}, std::vector<float>(12)};
  EXPECT_NE(input_error(in2).find("'z' is not an input"), std::string::npos) << input_error(in2);
  auto in3 = good();
  in3["w"] = {{4}, std::vector<float>(4)};
  EXPECT_NE(input_error(in3).find("'w' is not an input of the model but a weight"), std::string::npos)
      << input_error(in3);
}

TEST(Checks, WrongShapeNamed) {
  auto in = good();
  in["x"] = {{4, 3}, std::vector<float>(12)};
  EXPECT_NE(input_error(in).find("input 'x': shape (4, 3) given, the model expects (3, 4)"), std::string::npos)
      << input_error(in);
  in = good();
  in["y"] = {{4}, std::vector<float>(3)};
  EXPECT_NE(input_error(in).find("input 'y': 3 values"), std::string::npos) << input_error(in);
}

TEST(Checks, FingerprintMismatchNamesBoth) {
  try {
    check_pef_for_device(model(), 0xFF4445D9u, "small", 1u << 30);
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("0xc3e48205"), std::string::npos) << m;
    EXPECT_NE(m.find("0xff4445d9"), std::string::npos) << m;
    EXPECT_NE(m.find("'tiny'"), std::string::npos) << m;
    EXPECT_NE(m.find("'small'"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_pef_for_device(model(), 0xC3E48205u, "tiny", 1u << 28));
}

TEST(Checks, PlacementOutsideDramNamed) {
  auto p = model();
  p.tensors[3].dev_addr = (1u << 28) - 32;  // 48 bytes from here run past 256 MiB
  try {
    check_pef_for_device(p, p.fingerprint, "tiny", 1u << 28);
    ADD_FAILURE();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'z'"), std::string::npos) << e.what();
  }
  p = model();
  p.sections[0].dev_addr = (1u << 28) - 8;
  EXPECT_THROW(check_pef_for_device(p, p.fingerprint, "tiny", 1u << 28), RuntimeError);
  // Exactly at the end fits.
  p = model();
  p.tensors[3].dev_addr = (1u << 28) - 48;
  EXPECT_NO_THROW(check_pef_for_device(p, p.fingerprint, "tiny", 1u << 28));
}

}  // namespace
}  // namespace openrdu::runtime
