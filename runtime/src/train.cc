// The training loop (`docs/runtime.md` ("Runtime")): train.* META keys, the data set,
// the shuffled order of an epoch, batches, metrics.
#include "openrdu/runtime/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "openrdu/runtime/checks.h"
#include "openrdu/runtime/host_tensor.h"
#include "openrdu/runtime/session.h"

namespace openrdu::runtime {

namespace {

const pef::Tensor& tensor_of(const pef::Pef& pef, const std::string& pef_name, const std::string& key,
                             const std::string& name, pef::Role role) {
  const pef::Tensor* t = pef.find(name);
  if (!t || t->role != role)
    throw RuntimeError(fmt::format("{}: META {} = '{}' is not {} {} tensor of the PEF", pef_name, key, name,
                                   role == pef::Role::Weight ? "a" : "an", pef::role_name(role)));
  return *t;
}

// train.<what>.0, 1, ...: weight tensors.
std::vector<std::string> numbered(const pef::Pef& pef, const std::string& pef_name, const std::string& what) {
  std::vector<std::string> names;
  for (size_t i = 0;; ++i) {
    const std::string key = fmt::format("train.{}.{}", what, i);
    const auto it = pef.meta.find(key);
    if (it == pef.meta.end()) break;
    tensor_of(pef, pef_name, key, it->second, pef::Role::Weight);
    names.push_back(it->second);
  }
  return names;
}

std::string meta(const pef::Pef& pef, const std::string& key) {
  const auto it = pef.meta.find(key);
  return it == pef.meta.end() ? "" : it->second;
}

// The optional logits [B, C] and integer labels [B].
void logits_and_labels(const pef::Pef& pef, const std::string& pef_name, TrainSpec& s) {
  s.logits = meta(pef, "train.logits");
  s.labels = meta(pef, "train.labels");
  if (s.logits.empty() != s.labels.empty())
    throw RuntimeError(fmt::format("{}: META train.logits and train.labels go together (one is missing)", pef_name));
  if (s.logits.empty()) return;
  const auto& lg = tensor_of(pef, pef_name, "train.logits", s.logits, pef::Role::Output);
  if (lg.shape.size() != 2 || lg.shape[0] != int64_t(s.batch) || lg.shape[1] < 1)
    throw RuntimeError(fmt::format("{}: train.logits '{}' has shape {}, expected [{}, C]", pef_name, s.logits,
                                   shape_str(lg.shape), s.batch));
  s.classes = lg.shape[1];
  const auto& lb = tensor_of(pef, pef_name, "train.labels", s.labels, pef::Role::Input);
  if (lb.shape != std::vector<int64_t>{int64_t(s.batch)} || !is_integer(lb.dtype))
    throw RuntimeError(fmt::format("{}: train.labels '{}' is {} {}, expected an integer input [{}]", pef_name, s.labels,
                                   pef::dtype_name(lb.dtype), shape_str(lb.shape), s.batch));
}

}  // namespace

TrainSpec train_spec(const pef::Pef& pef, const std::string& pef_name) {
  if (meta(pef, "train") != "1")
    throw RuntimeError(fmt::format("{}: not a training PEF (META train is not 1; compile it with sncompile --train)",
                                   pef_name));
  TrainSpec s;
  s.loss = meta(pef, "train.loss");
  const auto& loss = tensor_of(pef, pef_name, "train.loss", s.loss, pef::Role::Output);
  if (loss.elements() != 1 || loss.dtype != DType::F32)
    throw RuntimeError(fmt::format("{}: train.loss '{}' is {} {}, expected one fp32 value", pef_name, s.loss,
                                   pef::dtype_name(loss.dtype), shape_str(loss.shape)));
  const std::string b = meta(pef, "train.batch");
  size_t used = 0;
  try {
    s.batch = std::stoul(b, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (b.empty() || used != b.size() || s.batch == 0)
    throw RuntimeError(fmt::format("{}: META train.batch '{}' is not a positive integer", pef_name, b));
  s.params = numbered(pef, pef_name, "param");
  s.state = numbered(pef, pef_name, "state");
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Input) continue;
    if (t.shape.empty() || t.shape[0] != int64_t(s.batch))
      throw RuntimeError(fmt::format("{}: input '{}' has shape {}: dimension 0 is not train.batch {}", pef_name, t.name,
                                     shape_str(t.shape), s.batch));
    s.inputs.push_back(t.name);
    s.input_shapes[t.name] = t.shape;
  }
  if (s.inputs.empty()) throw RuntimeError(fmt::format("{}: a training PEF without inputs (no data to train on)", pef_name));
  logits_and_labels(pef, pef_name, s);
  return s;
}

size_t check_dataset(const TrainSpec& spec, const TensorMap& data, const std::map<std::string, std::string>& files,
                     const std::string& option) {
  auto file = [&](const std::string& n) {
    const auto it = files.find(n);
    return it == files.end() ? n : fmt::format("{} ({})", n, it->second);
  };
  for (const auto& [name, t] : data)
    if (!spec.input_shapes.count(name))
      throw RuntimeError(fmt::format("{} {}: the model has no input '{}' (inputs: {})", option, file(name), name,
                                     fmt::join(data_names(spec), ", ")));
  std::vector<std::string> counts;
  std::optional<int64_t> n;
  bool disagree = false;
  for (const auto& name : data_names(spec)) {
    const auto it = data.find(name);
    if (it == data.end()) throw RuntimeError(fmt::format("{}: input '{}' not given", option, name));
    const HostTensor& t = it->second;
    const auto& want = spec.input_shapes.at(name);
    if (t.shape.size() != want.size() || !std::equal(want.begin() + 1, want.end(), t.shape.begin() + 1))
      throw RuntimeError(fmt::format("{} {}: shape {} is not [N, ...] of the input's {}", option, file(name),
                                     shape_str(t.shape), shape_str(want)));
    if (t.values() != t.elements())
      throw RuntimeError(fmt::format("{} {}: {} values for shape {}", option, file(name), t.values(), shape_str(t.shape)));
    counts.push_back(fmt::format("{} N={}", file(name), t.shape[0]));
    disagree = disagree || (n && *n != t.shape[0]);
    if (!n) n = t.shape[0];
  }
  if (disagree)
    throw RuntimeError(fmt::format("data files disagree on the number of samples: {}", fmt::join(counts, ", ")));
  if (!n || *n < int64_t(spec.batch))
    throw RuntimeError(fmt::format("data set of {} samples is smaller than one batch ({}): {}", n.value_or(0),
                                   spec.batch, fmt::join(counts, ", ")));
  if (!spec.labels.empty()) {
    const HostTensor& l = data.at(spec.labels);
    if (!is_integer(l.dtype))
      throw RuntimeError(fmt::format("{} {}: labels are {}, expected integers ('<i8' or '<i4')", option,
                                     file(spec.labels),
                                     dtype_desc(l.dtype)));
    for (size_t i = 0; i < l.idata.size(); ++i)
      if (l.idata[i] < 0 || l.idata[i] >= spec.classes)
        throw RuntimeError(fmt::format("{} {}: sample {} has label {}, outside [0, {}) (the {} classes of '{}')",
                                       option, file(spec.labels), i, l.idata[i], spec.classes, spec.classes, spec.logits));
  }
  return size_t(*n);
}

std::vector<size_t> epoch_order(size_t n, bool shuffle, uint64_t seed, size_t epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  if (!shuffle || n < 2) return order;
  std::mt19937_64 rng(seed + epoch);
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[size_t(rng() % (i + 1))]);
  return order;
}

TensorMap gather_batch(const TrainSpec& spec, const TensorMap& data, const std::vector<size_t>& order, size_t step) {
  TensorMap batch;
  for (const auto& name : data_names(spec)) {
    const HostTensor& src = data.at(name);
    HostTensor t;
    t.shape = spec.input_shapes.at(name);
    t.dtype = src.dtype;
    const uint64_t row = t.elements() / spec.batch;
    for (size_t j = 0; j < spec.batch; ++j) append_elements(t, src, order.at(step * spec.batch + j) * row, row);
    batch.emplace(name, std::move(t));
  }
  return batch;
}

size_t count_correct(const HostTensor& logits, const HostTensor& labels) {
  const size_t c = logits.shape.empty() ? 0 : size_t(logits.shape.back());
  size_t right = 0;
  for (size_t i = 0; c && i < labels.idata.size() && (i + 1) * c <= logits.data.size(); ++i) {
    const float* row = logits.data.data() + i * c;
    right += int64_t(std::max_element(row, row + c) - row) == labels.idata[i];
  }
  return right;
}

std::vector<std::string> data_names(const TrainSpec& spec) {
  std::vector<std::string> names = spec.inputs;
  if (!spec.labels.empty() && std::find(names.begin(), names.end(), spec.labels) == names.end())
    names.push_back(spec.labels);
  return names;
}

TrainSpec eval_spec(const pef::Pef& pef, const std::string& pef_name, const TrainSpec& train) {
  TrainSpec s;
  for (const auto& t : pef.tensors) {
    if (t.role == pef::Role::Input) {
      if (t.shape.empty() || (s.batch && t.shape[0] != int64_t(s.batch)))
        throw RuntimeError(fmt::format("{}: input '{}' {}: the inputs do not share a batch dimension 0", pef_name,
                                       t.name, shape_str(t.shape)));
      s.batch = size_t(t.shape[0]);
      s.inputs.push_back(t.name);
      s.input_shapes[t.name] = t.shape;
    }
  }
  if (s.inputs.empty() || s.batch == 0) throw RuntimeError(fmt::format("{}: no inputs to evaluate", pef_name));
  for (const auto& t : pef.tensors) {
    if (t.role != pef::Role::Output) continue;
    if (t.name == train.loss && t.elements() == 1 && t.dtype == DType::F32) s.loss = t.name;
    if (t.name == train.logits && t.shape.size() == 2 && t.shape[0] == int64_t(s.batch) && t.shape[1] == train.classes)
      s.logits = t.name, s.classes = train.classes;
  }
  if (!s.logits.empty()) {
    s.labels = train.labels;
    if (!s.input_shapes.count(s.labels)) s.input_shapes[s.labels] = {int64_t(s.batch)};
  }
  if (s.loss.empty() && s.logits.empty())
    throw RuntimeError(fmt::format("{}: neither the loss '{}' nor the logits '{}' [{}, {}] is an output", pef_name,
                                   train.loss, train.logits, s.batch, train.classes));
  return s;
}

TrainStep session_step(Session& session, const TrainSpec& spec) {
  return [&session, spec](const TensorMap& batch) {
    TensorMap inputs;  // the labels of an evaluation are not an input of the PEF
    for (const auto& n : spec.inputs) inputs.emplace(n, batch.at(n));
    RunResult r = session.run(inputs);
    StepResult s;
    s.loss = spec.loss.empty() ? std::nan("") : r.outputs.at(spec.loss).data.at(0);
    if (!spec.logits.empty()) s.logits = std::move(r.outputs.at(spec.logits));
    s.cycles = r.total_cycles + r.total_config_cycles;
    return s;
  };
}

Trainer::Trainer(TrainSpec spec, TrainStep step, double clock_mhz)
    : spec_(std::move(spec)), step_(std::move(step)), clock_mhz_(clock_mhz) {}

EpochMetrics Trainer::run_epoch(const TensorMap& data, size_t epoch, const TrainOptions& opts,
                                const TrainCallbacks& cb) {
  const size_t n = size_t(data.at(spec_.inputs.at(0)).shape.at(0));
  const std::vector<size_t> order = epoch_order(n, opts.shuffle, opts.seed, epoch);
  EpochMetrics m;
  m.epoch = epoch;
  m.steps = n / spec_.batch;
  m.samples = m.steps * spec_.batch;
  const auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  size_t right = 0;
  for (size_t k = 0; k < m.steps; ++k) {
    const TensorMap batch = gather_batch(spec_, data, order, k);
    StepResult r;
    try {
      r = step_(batch);
    } catch (const std::exception& e) {
      throw RuntimeError(fmt::format("epoch {} step {}: {}", epoch, k + 1, e.what()));
    }
    loss_sum += r.loss;
    m.cycles += r.cycles;
    if (r.logits && !spec_.labels.empty()) right += count_correct(*r.logits, batch.at(spec_.labels));
    if (cb.on_step) cb.on_step({epoch, k + 1, m.steps, r.loss});
  }
  m.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.mean_loss = m.steps ? loss_sum / double(m.steps) : 0;
  if (!spec_.labels.empty() && m.samples) m.accuracy = double(right) / double(m.samples);
  m.sim_seconds = double(m.cycles) / (clock_mhz_ * 1e6);
  m.samples_per_sim_second = m.sim_seconds > 0 ? double(m.samples) / m.sim_seconds : 0;
  m.samples_per_wall_second = m.wall_seconds > 0 ? double(m.samples) / m.wall_seconds : 0;
  return m;
}

std::vector<EpochMetrics> Trainer::train(const TensorMap& data, const TrainOptions& opts, const TrainCallbacks& cb) {
  std::vector<EpochMetrics> all;
  for (size_t e = opts.first_epoch; e < opts.first_epoch + opts.epochs; ++e) {
    all.push_back(run_epoch(data, e, opts, cb));
    if (cb.on_epoch) cb.on_epoch(all.back());
  }
  return all;
}

}  // namespace openrdu::runtime
