// Helpers of the training tests (train_test.cc, train_rtl_test.cc).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "openrdu/runtime/npy.h"
#include "openrdu/runtime/session.h"
#include "openrdu/runtime/train.h"

namespace openrdu::train_test {

namespace fs = std::filesystem;

inline const fs::path kData = OPENRDU_TRAIN_DATA;

inline compiler::HostTensor to_compiler(const runtime::HostTensor& t) {
  return compiler::HostTensor{t.shape, t.data, t.idata};
}

inline std::map<std::string, compiler::HostTensor> inputs_of(const fs::path& dir) {
  std::map<std::string, compiler::HostTensor> in;
  if (!fs::exists(dir)) return in;
  for (const auto& e : fs::directory_iterator(dir))
    in[e.path().stem().string()] = to_compiler(runtime::read_npy(e.path().string()));
  return in;
}

// max |got - want| / max(floor, max |want|): the error relative to the tensor's scale.
inline double scaled_error(const std::vector<float>& got, const std::vector<float>& want, double floor) {
  double err = 0, scale = floor;
  for (float w : want) scale = std::max(scale, double(std::fabs(w)));
  for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(double(got.at(i)) - double(want[i])));
  return err / scale;
}

inline compiler::Graph training_graph(const fs::path& onnx, const compiler::TrainOptions& o,
                               compiler::TrainInfo* info = nullptr) {
  compiler::ImportOptions io;
  io.params_as_state = true;
  return compiler::build_training_graph(compiler::import_onnx_file(onnx.string(), io), o, info);
}

// Step i's batch (rows [i*B, (i+1)*B) of the data set, in order): the runtime's own
// gather (runtime/train.h), B the training PEF's train.batch.
inline std::map<std::string, runtime::HostTensor> batch(const pef::Pef& pef,
                                                        const std::map<std::string, runtime::HostTensor>& data,
                                                        int64_t i) {
  const runtime::TrainSpec spec = runtime::train_spec(pef, "training PEF");
  return runtime::gather_batch(spec, data, runtime::epoch_order(data.begin()->second.shape[0], false, 0, 1), size_t(i));
}

// The digits data set of verif/train/traj/<ds> (x, y).
inline std::map<std::string, runtime::HostTensor> traj_data(const std::string& ds) {
  std::map<std::string, runtime::HostTensor> data;
  for (const char* n : {"x", "y"}) data[n] = runtime::read_npy((kData / "traj" / ds / (std::string(n) + ".npy")).string());
  return data;
}

// `steps` steps of a training PEF (compiled from g, with its train.* META) on a loaded
// session and on the CPU reference (g's state updated): the losses equal bit for bit.
// Returns the reference's losses.
inline std::vector<float> steps_on_both(runtime::Session& session, const pef::Pef& pef, compiler::Graph& g,
                                        const std::string& loss, const std::map<std::string, runtime::HostTensor>& data,
                                        int steps) {
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    const auto in = batch(pef, data, step);
    std::map<std::string, compiler::HostTensor> cin;
    for (const auto& [n, t] : in) cin[n] = to_compiler(t);
    const float ref = compiler::reference_train_step(g, cin).at(loss).data.at(0);
    EXPECT_EQ(session.run(in).outputs.at(loss).data.at(0), ref) << "step " << step << ": device against the reference";
    losses.push_back(ref);
  }
  return losses;
}

// Every parameter and state tensor on the device equals the reference's, bit for bit.
inline void expect_state_equal(runtime::Session& session, const compiler::Graph& g, const compiler::TrainInfo& info) {
  for (const auto* names : {&info.params, &info.state})
    for (const std::string& n : *names)
      EXPECT_EQ(session.read_tensor(n).data, g.tensors[size_t(g.find(n))].data) << n;
}

}  // namespace openrdu::train_test
