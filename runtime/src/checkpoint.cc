// Training checkpoints (.npz) and the weights of an inference PEF from one
// (`docs/runtime.md` ("Runtime")).
#include <fmt/format.h>

#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/host_tensor.h"
#include "openrdu/runtime/npz.h"
#include "openrdu/runtime/session.h"
#include "openrdu/runtime/train.h"

namespace openrdu::runtime {

namespace {

constexpr const char* kStepName = "optimizer.step";


std::vector<std::string> train_names(const TrainSpec& spec) {
  std::vector<std::string> names = spec.params;
  names.insert(names.end(), spec.state.begin(), spec.state.end());
  return names;
}

// The checkpoint's value for a tensor, converted to the tensor's dtype; shape and dtype
// checked (errors name the tensor and the checkpoint).
HostTensor value_for(const pef::Tensor& t, const HostTensor& v, const std::string& ckpt) {
  if (v.shape != t.shape)
    throw RuntimeError(fmt::format("checkpoint {}: '{}' has shape {}, the model's tensor {} (checkpoint of another "
                                   "model?)", ckpt, t.name, shape_str(v.shape), shape_str(t.shape)));
  const HostTensor c = t.name == kStepName ? convert_dtype(v, t.dtype) : v;
  if (!accepts(t.dtype, c.dtype))
    throw RuntimeError(fmt::format("checkpoint {}: '{}' is {}, the model's tensor is {}", ckpt, t.name,
                                   dtype_desc(c.dtype), dtype_desc(t.dtype)));
  return c;
}

}  // namespace

TensorMap read_train_state(Session& session, const TrainSpec& spec) {
  TensorMap m;
  for (const auto& name : train_names(spec)) {
    HostTensor t = session.read_tensor(name);
    m.emplace(name, name == kStepName ? convert_dtype(t, DType::F32) : std::move(t));
  }
  return m;
}

void save_checkpoint(Session& session, const TrainSpec& spec, size_t epochs_done, const std::string& path) {
  TensorMap m = read_train_state(session, spec);
  m[kEpochKey] = HostTensor{{}, {}, DType::I64, {int64_t(epochs_done)}};
  write_npz(m, path);
}

size_t restore_checkpoint(Session& session, const TrainSpec& spec, const TensorMap& ckpt, const std::string& name) {
  const std::vector<std::string> names = train_names(spec);
  for (const auto& [k, v] : ckpt)
    if (k != kEpochKey && std::find(names.begin(), names.end(), k) == names.end())
      throw RuntimeError(fmt::format("checkpoint {}: '{}' is not a parameter or state tensor of the model "
                                     "(checkpoint of another model?)", name, k));
  TensorMap values;  // every check before the first write
  for (const auto& n : names) {
    const auto it = ckpt.find(n);
    if (it == ckpt.end())
      throw RuntimeError(fmt::format("checkpoint {}: no '{}' (checkpoint of another model?)", name, n));
    values.emplace(n, value_for(*session.program().find(n), it->second, name));
  }
  size_t epoch = 0;
  if (const auto it = ckpt.find(kEpochKey); it != ckpt.end()) {
    const HostTensor& e = it->second;
    if (!is_integer(e.dtype) || e.idata.size() != 1 || e.idata[0] < 0)
      throw RuntimeError(fmt::format("checkpoint {}: '{}' is not a non-negative integer scalar", name, kEpochKey));
    epoch = size_t(e.idata[0]);
  }
  for (const auto& [n, v] : values) session.write_tensor(n, v);
  return epoch;
}

size_t apply_checkpoint_weights(Session& session, const TensorMap& ckpt, const std::string& name) {
  const pef::Pef& pef = session.program();
  TensorMap values;  // every check before the first write
  for (const auto& [k, v] : ckpt) {
    const pef::Tensor* t = pef.find(k);
    if (t && t->role == pef::Role::Weight)
      values.emplace(k, value_for(*t, v, name));
    else if (!pef::is_optimizer_state_name(k))
      throw RuntimeError(fmt::format("checkpoint {}: '{}' is not a weight of the model{}", name, k,
                                     t ? fmt::format(" (it is {} tensor)", pef::role_name(t->role)) : ""));
  }
  for (const auto& [n, v] : values) session.write_tensor(n, v);
  return values.size();
}

}  // namespace openrdu::runtime
