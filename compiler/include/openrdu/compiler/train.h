// Training (docs/training.md): from a model whose first output is a scalar loss, the
// training graph: the forward pass, its gradients (reverse-mode autodiff, one rule per
// operator) and the optimizer's update of every trainable parameter, run on the device
// as sections. Parameters and optimizer state live in device DRAM across steps (state
// inputs updated in place, Graph::updates).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/ir.h"

namespace openrdu::compiler {

// The optimizers follow torch.optim: SGD (momentum, dampening 0, weight decay added to
// the gradient), Adam (bias correction; weight decay added to the gradient) and AdamW
// (decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step).
struct TrainOptions {
  std::string optimizer = "sgd";  // sgd | adam | adamw | none (gradients only, for tests)
  // Hyperparameters as PyTorch holds them (Python floats): constants derived from them
  // (1 - beta1, 1 - lr * weight_decay) are computed in double, then rounded to fp32.
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::string freeze;  // ECMAScript regex: parameters whose whole name matches stay fixed
  // Tests: the gradient of every trainable parameter as a graph output "<param>.grad".
  bool expose_gradients = false;
};

// What a training graph is, for the PEF's META (train.* keys) and the runtime.
struct TrainInfo {
  std::string loss;                 // the scalar loss output
  std::vector<std::string> params;  // trainable parameters (initializer names), in graph order
  std::vector<std::string> state;   // optimizer state tensors ("<param>.exp_avg", "optimizer.step", ...)
  int64_t batch = 0;                // dimension 0 of the data inputs (0: no data input)
  std::string logits, labels;       // the loss's scores output and label input, when it has them
};

// The training graph of a model imported with ImportOptions::params_as_state. Errors
// (CompileError, one line): a first output that is not a scalar; a loss that depends on
// no trainable parameter; an operator on the gradient's path without a rule (node, op).
Graph build_training_graph(const Graph& model, const TrainOptions& opts, TrainInfo* info = nullptr);

// compile_file with --train's front end (pipeline.h): import, training graph, compile; the PEF's
// META gets train = 1 and the train.* keys (`docs/pef.md`).
pef::Pef compile_training_file(const std::string& path, const arch::Config& cfg, const Options& opts,
                               const TrainOptions& topts, CompileStats* stats = nullptr);
// The META keys of a training PEF.
void add_train_meta(pef::Pef& pef, const TrainInfo& info, const TrainOptions& opts);

// One step of the training graph on the host (the CPU reference): runs it on `inputs`
// and state values held in `g` (the state inputs' data), writes the updated state back
// into g, and returns the graph outputs.
std::map<std::string, HostTensor> reference_train_step(Graph& g, const std::map<std::string, HostTensor>& inputs);

}  // namespace openrdu::compiler
