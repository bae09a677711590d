// Helpers of the training tests (train_test.cc, train_rtl_test.cc).
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/ir.h"
#include "openrdu/compiler/train.h"
#include "openrdu/runtime/npy.h"

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

// Rows [i*B, (i+1)*B) of the data set.
inline std::map<std::string, runtime::HostTensor> batch(const std::map<std::string, runtime::HostTensor>& data, int64_t i,
                                                 int64_t B) {
  std::map<std::string, runtime::HostTensor> out;
  for (const auto& [name, t] : data) {
    runtime::HostTensor b = t;
    b.shape[0] = B;
    const int64_t row = t.elements() / t.shape[0];
    if (!t.data.empty()) b.data.assign(t.data.begin() + i * B * row, t.data.begin() + (i + 1) * B * row);
    if (!t.idata.empty()) b.idata.assign(t.idata.begin() + i * B * row, t.idata.begin() + (i + 1) * B * row);
    out[name] = std::move(b);
  }
  return out;
}


}  // namespace openrdu::train_test
