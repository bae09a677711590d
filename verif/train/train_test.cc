// Training against PyTorch (verif/train/README.md holds how the data is made):
//  * every gradient rule: the compiler's gradient graph on the CPU reference against
//    PyTorch autograd (float32) and against central finite differences (float64);
//  * trajectories: 20 steps of SGD, Adam and AdamW of the digits MLP and a small CNN, on
//    the CPU reference and on the functional model (bit-exact to each other), against
//    PyTorch's losses and final weights and optimizer state.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "openrdu/arch/config.h"
#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/npz.h"
#include "openrdu/runtime/session.h"

namespace fs = std::filesystem;
using namespace openrdu;

namespace {

const fs::path kData = OPENRDU_TRAIN_DATA;

compiler::HostTensor to_compiler(const runtime::HostTensor& t) {
  return compiler::HostTensor{t.shape, t.data, t.idata};
}

std::map<std::string, compiler::HostTensor> inputs_of(const fs::path& dir) {
  std::map<std::string, compiler::HostTensor> in;
  if (!fs::exists(dir)) return in;
  for (const auto& e : fs::directory_iterator(dir))
    in[e.path().stem().string()] = to_compiler(runtime::read_npy(e.path().string()));
  return in;
}

// max |got - want| / max(floor, max |want|): the error relative to the tensor's scale.
double scaled_error(const std::vector<float>& got, const std::vector<float>& want, double floor) {
  double err = 0, scale = floor;
  for (float w : want) scale = std::max(scale, double(std::fabs(w)));
  for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(double(got.at(i)) - double(want[i])));
  return err / scale;
}

compiler::Graph training_graph(const fs::path& onnx, const compiler::TrainOptions& o,
                               compiler::TrainInfo* info = nullptr) {
  compiler::ImportOptions io;
  io.params_as_state = true;
  return compiler::build_training_graph(compiler::import_onnx_file(onnx.string(), io), o, info);
}

// ---------------------------------------------------------------- gradient rules

class GradRule : public ::testing::TestWithParam<std::string> {};

// Cases the compiler refuses today, each with the one-line error it must give (the
// forward operator is not supported): docs/training.md lists them as open.
const std::map<std::string, std::string> kRefused = {
    {"avg_pool2d", "node '/Pad' (Pad): unsupported operator"},
    {"avg_pool2d_pad", "node '/Pad' (Pad): unsupported operator"},
    {"batch_norm", "the running mean/variance outputs (training mode)"},
    {"batch_norm_opset15", "the running mean/variance outputs (training mode)"},
    {"gather", "node '/GatherElements' (GatherElements): unsupported operator"},
};

TEST_P(GradRule, MatchesAutogradAndFiniteDifferences) {
  const fs::path dir = kData / "grad" / GetParam();
  if (auto it = kRefused.find(GetParam()); it != kRefused.end()) {
    try {
      training_graph(dir / "model.onnx", compiler::TrainOptions{});
      FAIL() << GetParam() << " now compiles: compare it (remove it from kRefused)";
    } catch (const compiler::CompileError& e) {
      EXPECT_NE(std::string(e.what()).find(it->second), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    }
    return;
  }
  compiler::TrainOptions o;
  o.optimizer = "none";
  o.expose_gradients = true;
  compiler::TrainInfo info;
  const compiler::Graph g = training_graph(dir / "model.onnx", o, &info);
  const auto out = compiler::reference_run(g, inputs_of(dir / "inputs"));
  const auto torch = runtime::read_npz((dir / "grads.npz").string());
  const auto fd = runtime::read_npz((dir / "fd32.npz").string());
  const float loss = runtime::read_npy((dir / "loss.npy").string()).data.at(0);
  EXPECT_NEAR(out.at(info.loss).data.at(0), loss, 1e-5 * std::max(1.0f, std::fabs(loss)));
  ASSERT_EQ(info.params.size(), torch.size()) << "trainable parameters differ from PyTorch's";
  for (const auto& [name, want] : torch) {
    const auto it = out.find(name + ".grad");
    ASSERT_NE(it, out.end()) << "no gradient for parameter " << name;
    ASSERT_EQ(it->second.shape, want.shape) << name;
    EXPECT_LE(scaled_error(it->second.data, want.data, 1e-3), 2e-5) << name << " against autograd";
    EXPECT_LE(scaled_error(it->second.data, fd.at(name).data, 1e-3), 1e-4) << name << " against finite differences";
  }
}

std::vector<std::string> grad_cases() {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(kData / "grad"))
    if (e.is_directory() && fs::exists(e.path() / "grads.npz")) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

INSTANTIATE_TEST_SUITE_P(Ops, GradRule, ::testing::ValuesIn(grad_cases()),
                         [](const auto& info) { return info.param; });

}  // namespace
