// snrun's training mode and --checkpoint (`docs/runtime.md` ("Runtime")):
//   snrun TRAIN.pef --train --data NAME=FILE.npy ... [--epochs E] [--shuffle --seed S]
//         [--checkpoint-dir DIR] [--resume CKPT.npz] [--metrics FILE.jsonl]
//         [--validate NAME=FILE.npy ... --validate-pef INFER.pef]
//   snrun INFER.pef --checkpoint CKPT.npz --input ... (weights replaced by name)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "openrdu/runtime/session.h"

namespace openrdu::snrun {

struct TrainCli {
  bool train = false;
  std::vector<std::string> data;  // NAME=FILE.npy
  size_t epochs = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  std::string checkpoint_dir, resume, metrics;
  std::vector<std::string> validate;  // NAME=FILE.npy of the validation set
  std::string validate_pef;           // the inference PEF that evaluates it
  std::string checkpoint;  // inference: weights from a checkpoint
};

void add_train_options(CLI::App& app, TrainCli& t);

// Device settings shared with the inference mode.
struct DeviceCli {
  std::string backend, config;
  double timeout_s = 60;
  uint32_t watchdog = 0, fault = 0;
};

// snrun MODEL --train: returns the exit status; throws on errors (one line each).
int run_train(const TrainCli& t, const std::string& model, const DeviceCli& dev);

// Without --train: refuses the training-only options (one line naming them).
void check_inference_flags(const TrainCli& t);

// --checkpoint CKPT: replaces the loaded PEF's weights by name (optimizer keys ignored).
void apply_checkpoint(runtime::Session& session, const std::string& path);

}  // namespace openrdu::snrun
