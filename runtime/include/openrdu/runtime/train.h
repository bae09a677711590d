// Training on the device (`docs/runtime.md` ("Runtime")): the train.* META keys of a
// training PEF, the data set, the epoch loop over a step function, checkpoints.
//
//   auto spec = runtime::train_spec(pef, "train.pef");
//   runtime::check_dataset(spec, pef, data, files);
//   runtime::Trainer t(spec, runtime::session_step(session, spec), cfg.clock_mhz);
//   t.train(data, {.epochs = 3, .shuffle = true, .seed = 1}, callbacks);
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "openrdu/pef/pef.h"
#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {

class Session;

using TensorMap = std::map<std::string, HostTensor>;

// The META train.* keys of a training PEF, checked against its tensors.
struct TrainSpec {
  std::string loss;                 // train.loss: an fp32 output of one element (may be empty: eval_spec)
  size_t batch = 0;                 // train.batch: dimension 0 of every data input
  std::vector<std::string> params;  // train.param.0, 1, ...: weights
  std::vector<std::string> state;   // train.state.0, 1, ...: weights
  std::string logits;               // train.logits: an output [B, C] (optional)
  std::string labels;               // train.labels: an integer input [B] (optional; with logits)
  std::vector<std::string> inputs;  // the PEF's inputs (the data), in PEF order
  std::map<std::string, std::vector<int64_t>> input_shapes;  // the inputs' and the labels' shapes
  int64_t classes = 0;              // C of the logits (0 without)
};

// Reads and checks the keys (RuntimeError "PEF: ..." naming the key and tensor).
TrainSpec train_spec(const pef::Pef& pef, const std::string& pef_name);

// The data set: every input of the model by name, [N, ...input shape without its batch
// dimension], N >= B and the same for all (else one error naming every file and its N);
// dtypes the inputs accept; with logits and labels, every label in [0, C) (else an error
// naming the file, the sample index and the value). `files`: input name -> file.
// Returns N.
// `option` starts the messages ("--data").
size_t check_dataset(const TrainSpec& spec, const TensorMap& data, const std::map<std::string, std::string>& files,
                     const std::string& option = "--data");
// The names of the data set: the inputs, and the labels when they are not an input (an
// evaluation spec).
std::vector<std::string> data_names(const TrainSpec& spec);
// Evaluation with an inference PEF (validation): its inputs (sharing dimension 0, its
// batch), the training spec's loss and logits [batch, C] when it has them as outputs
// (one at least), the labels then taken from the data set beside its inputs.
TrainSpec eval_spec(const pef::Pef& pef, const std::string& pef_name, const TrainSpec& train);

// The order of the samples in epoch `epoch` (1-based): 0..n-1, or with shuffle a
// Fisher-Yates shuffle driven by std::mt19937_64(seed + epoch) (j = rng() % (i + 1) for
// i = n-1 down to 1), so it depends only on (seed, epoch) and a resumed run repeats it.
std::vector<size_t> epoch_order(size_t n, bool shuffle, uint64_t seed, size_t epoch);

// The inputs of step `step` (0-based): samples order[step*B .. step*B+B-1] of every input.
TensorMap gather_batch(const TrainSpec& spec, const TensorMap& data, const std::vector<size_t>& order, size_t step);

// What one step returns: the loss, the logits when the spec has them, device cycles.
struct StepResult {
  double loss = 0;
  std::optional<HostTensor> logits;
  uint64_t cycles = 0;
};
using TrainStep = std::function<StepResult(const TensorMap& batch)>;
// Session::run of the batch's inputs; the loss (NaN without one), the logits; cycles = run
// + configuration cycles of every section.
TrainStep session_step(Session& session, const TrainSpec& spec);

struct TrainOptions {
  size_t epochs = 1;       // epochs to run
  size_t first_epoch = 1;  // the number of the first (a resumed run continues the numbering)
  bool shuffle = false;
  uint64_t seed = 0;
};

struct StepMetrics {
  size_t epoch = 0, step = 0, steps = 0;  // step 1..steps within the epoch
  double loss = 0;
};

struct EpochMetrics {
  size_t epoch = 0, steps = 0, samples = 0;  // samples = steps * B (the remainder of N is not used)
  double mean_loss = 0;
  std::optional<double> accuracy;  // fraction of argmax(logits row) == label, with logits and labels
  uint64_t cycles = 0;             // device cycles of the epoch's steps
  double sim_seconds = 0, wall_seconds = 0;
  double samples_per_sim_second = 0, samples_per_wall_second = 0;
};

struct TrainCallbacks {
  std::function<void(const StepMetrics&)> on_step;    // after every step
  std::function<void(const EpochMetrics&)> on_epoch;  // after every epoch (checkpoints)
};

// The training loop over a step function (a Session through session_step, or a fake).
class Trainer {
 public:
  Trainer(TrainSpec spec, TrainStep step, double clock_mhz);
  // floor(N / B) steps per epoch; returns every epoch's metrics.
  std::vector<EpochMetrics> train(const TensorMap& data, const TrainOptions& opts, const TrainCallbacks& cb = {});
  EpochMetrics run_epoch(const TensorMap& data, size_t epoch, const TrainOptions& opts, const TrainCallbacks& cb);

 private:
  TrainSpec spec_;
  TrainStep step_;
  double clock_mhz_;
};

// Argmax of every row of logits [B, C] compared with integer labels [B]: the number equal.
size_t count_correct(const HostTensor& logits, const HostTensor& labels);

// ---- Checkpoints (.npz): every train.param and train.state tensor under its name
// (optimizer.step as a float32 scalar of its shape) and "train.epoch" (int64 scalar: the
// epochs done).
inline constexpr const char* kEpochKey = "train.epoch";

// The current params and state, read back from the device.
TensorMap read_train_state(Session& session, const TrainSpec& spec);
void save_checkpoint(Session& session, const TrainSpec& spec, size_t epochs_done, const std::string& path);
// Writes a checkpoint's params and state back (every name present with the tensor's shape,
// no other name: else one error naming the name and the checkpoint, and nothing is
// written). Returns its train.epoch (0 when absent).
size_t restore_checkpoint(Session& session, const TrainSpec& spec, const TensorMap& ckpt, const std::string& ckpt_name);
// Inference: replaces every weight of the loaded PEF whose name is a key; optimizer state
// keys (suffixes .momentum_buffer, .exp_avg, .exp_avg_sq; the prefix optimizer.) and train.epoch
// are ignored; any other key that is not a weight is an error naming it (nothing written).
// Returns the number of weights replaced.
size_t apply_checkpoint_weights(Session& session, const TensorMap& ckpt, const std::string& ckpt_name);

}  // namespace openrdu::runtime
