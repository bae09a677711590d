// The training graph (train.h): forward, gradients (autodiff.h), optimizer update.
#include "openrdu/compiler/train.h"
#include "openrdu/compiler/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <set>

#include "autodiff.h"
#include "decompose.h"

namespace openrdu::compiler {

namespace {

using detail::GraphBuilder;

// Composite operators without a rule of their own become their composition (the same
// one the lowering uses), so the gradient flows through its parts.
void expand_composites(Graph& g) {
  std::vector<Node> nodes;
  for (const Node& n : g.nodes) {
    if (!detail::is_decomposed_op(n.op) || detail::has_gradient_rule(n.op)) {
      nodes.push_back(n);
      continue;
    }
    for (Node& k : detail::decompose(g, n)) nodes.push_back(std::move(k));
  }
  g.nodes = std::move(nodes);
  for (Tensor& t : g.tensors)
    if (t.kind == TensorKind::Value) t.producer = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i) g.tensors[size_t(g.nodes[i].outputs[0])].producer = int(i);
}

// The loss's scores (made a graph output, for accuracy) and labels when the loss is a
// SoftmaxCrossEntropyLoss or NegativeLogLikelihoodLoss of a graph input's labels.
void find_logits(Graph& g, int loss, TrainInfo& info) {
  const int p = g.tensors[size_t(loss)].producer;
  if (p < 0) return;
  const Node& n = g.nodes[size_t(p)];
  if (n.op != "SoftmaxCrossEntropyLoss" && n.op != "NegativeLogLikelihoodLoss") return;
  const int scores = n.inputs[0], labels = n.inputs[1];
  if (g.tensors[size_t(labels)].kind != TensorKind::Input || g.tensors[size_t(scores)].kind != TensorKind::Value ||
      g.tensors[size_t(scores)].shape.size() != 2)
    return;
  info.labels = g.tensors[size_t(labels)].name;
  info.logits = g.tensors[size_t(scores)].name;
  if (!g.tensors[size_t(scores)].is_output) {
    g.tensors[size_t(scores)].is_output = true;
    g.outputs.push_back(scores);
  }
}

std::vector<int> trainable(const Graph& g, const std::string& freeze) {
  std::regex re;
  try {
    re = std::regex(freeze.empty() ? std::string("(?!)") : freeze, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw CompileError(fmt::format("--freeze '{}': not a valid regular expression ({})", freeze, e.what()));
  }
  std::vector<int> out;
  for (int i : g.inputs)
    if (g.tensors[size_t(i)].state && !std::regex_match(g.tensors[size_t(i)].name, re)) out.push_back(i);
  return out;
}

// The optimizer's nodes: per parameter its update, with its state.
class Optimizer {
 public:
  Optimizer(GraphBuilder& b, const TrainOptions& o, TrainInfo& info) : b_(b), o_(o), info_(info) {}

  void update(int p, int grad) {
    count_step();
    if (o_.optimizer == "sgd")
      sgd(p, grad);
    else
      adam(p, grad);
  }

 private:
  // One constant per value (lr, betas, ... are read once per parameter).
  int c(double v) {
    const float f = float(v);
    auto it = constants_.find(f);
    if (it == constants_.end()) it = constants_.emplace(f, b_.scalar("optimizer.c", f)).first;
    return it->second;
  }
  std::string name(int t) const { return b_.t(t).name; }
  int op(int t, const std::string& o, std::vector<int> in) { return b_.add(name(t) + ".new", o, std::move(in)); }
  int state(const std::string& n, int like, float init = 0.0f) {
    const auto& s = b_.shape(like);
    int64_t e = 1;
    for (int64_t d : s) e *= d;
    info_.state.push_back(n);
    return b_.state(n, s, std::vector<float>(size_t(e), init));
  }
  void set(int s, int v) { b_.graph().updates.emplace_back(s, v); }

  void sgd(int p, int d) {
    if (o_.weight_decay != 0) d = op(p, "Add", {d, op(p, "Mul", {p, c(o_.weight_decay)})});
    if (o_.momentum != 0) {
      const int buf = state(name(p) + ".momentum_buffer", p);
      d = op(buf, "Add", {op(buf, "Mul", {buf, c(o_.momentum)}), d});
      set(buf, d);
    }
    set(p, op(p, "Sub", {p, op(p, "Mul", {d, c(o_.lr)})}));
  }

  // The step's scalars, shared by every parameter: bias corrections from
  // s_t = beta * s_(t-1) + 1 (so 1 - beta^t = (1 - beta) s_t without cancellation).
  // optimizer.step: the number of steps made (a float32 scalar, as in a checkpoint).
  void count_step() {
    if (counted_) return;
    counted_ = true;
    const int one = c(1.0);
    const int step = state("optimizer.step", one);
    set(step, op(step, "Add", {step, one}));
  }

  void adam_scalars() {
    if (step_size_ >= 0) return;
    const int one = c(1.0);
    auto bias = [&](const char* n, double beta) {
      const int s = state(n, one);
      const int sn = op(s, "Add", {op(s, "Mul", {s, c(beta)}), one});
      set(s, sn);
      return op(s, "Mul", {sn, c(1.0 - beta)});
    };
    const int bc1 = bias("optimizer.beta1_sum", o_.beta1), bc2 = bias("optimizer.beta2_sum", o_.beta2);
    step_size_ = op(bc1, "Div", {c(o_.lr), bc1});
    bc2_sqrt_ = op(bc2, "Sqrt", {bc2});
  }

  void adam(int p, int g) {
    adam_scalars();
    int pd = p;
    if (o_.weight_decay != 0 && o_.optimizer == "adamw") pd = op(p, "Mul", {p, c(1.0 - o_.lr * o_.weight_decay)});
    if (o_.weight_decay != 0 && o_.optimizer == "adam") g = op(p, "Add", {g, op(p, "Mul", {p, c(o_.weight_decay)})});
    const int m = state(name(p) + ".exp_avg", p), v = state(name(p) + ".exp_avg_sq", p);
    const int mn = op(m, "Add", {op(m, "Mul", {m, c(o_.beta1)}), op(m, "Mul", {g, c(1.0 - o_.beta1)})});
    const int vn = op(v, "Add", {op(v, "Mul", {v, c(o_.beta2)}), op(v, "Mul", {op(v, "Mul", {g, c(1.0 - o_.beta2)}), g})});
    set(m, mn);
    set(v, vn);
    const int denom = op(p, "Add", {op(p, "Div", {op(p, "Sqrt", {vn}), bc2_sqrt_}), c(o_.eps)});
    set(p, op(p, "Sub", {pd, op(p, "Mul", {step_size_, op(p, "Div", {mn, denom})})}));
  }

  GraphBuilder& b_;
  const TrainOptions& o_;
  TrainInfo& info_;
  int step_size_ = -1, bc2_sqrt_ = -1;
  bool counted_ = false;
  std::map<float, int> constants_;
};

void check_options(const TrainOptions& o) {
  static const std::set<std::string> kOpt = {"sgd", "adam", "adamw", "none"};
  if (!kOpt.count(o.optimizer))
    throw CompileError(fmt::format("optimizer '{}' is not sgd, adam, adamw or none", o.optimizer));
  if (!(o.lr > 0)) throw CompileError(fmt::format("learning rate {} is not positive", o.lr));
  if (o.momentum < 0 || o.weight_decay < 0 || o.eps < 0 || o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 ||
      o.beta2 >= 1)
    throw CompileError("momentum, weight decay and eps must be >= 0, betas in [0, 1)");
}

}  // namespace

Graph build_training_graph(const Graph& model, const TrainOptions& opts, TrainInfo* info_out) {
  check_options(opts);
  Graph g = model;
  TrainInfo info;
  if (g.outputs.empty()) throw CompileError(fmt::format("{}: the model has no outputs", g.source));
  const int loss = g.outputs[0];
  const Tensor& lt = g.tensors[size_t(loss)];
  if (lt.elements() != 1 || lt.dtype != DType::F32)
    throw CompileError(fmt::format("{}: the first output '{}' has shape {} ({}); training needs a scalar fp32 loss "
                                   "as the model's first output",
                                   g.source, lt.name, shape_str(lt.shape), dtype_name(lt.dtype)));
  info.loss = lt.name;
  find_logits(g, loss, info);
  expand_composites(g);
  GraphBuilder b(g);
  const std::vector<int> wrt = trainable(g, opts.freeze);
  const std::map<int, int> grads = detail::gradients(b, loss, wrt);
  if (grads.empty())
    throw CompileError(fmt::format("{}: the loss '{}' depends on no trainable parameter (float initializer{})",
                                   g.source, info.loss, opts.freeze.empty() ? "" : " not matched by --freeze"));
  Optimizer optimizer(b, opts, info);
  for (int p : wrt) {
    auto it = grads.find(p);
    if (it == grads.end()) continue;
    info.params.push_back(g.tensors[size_t(p)].name);
    if (opts.expose_gradients) {
      const int e = b.add(g.tensors[size_t(p)].name + ".grad", "Identity", {it->second});
      g.tensors[size_t(e)].is_output = true;
      g.outputs.push_back(e);
    }
    if (opts.optimizer != "none") optimizer.update(p, it->second);
  }
  // Dropout masks change every step: their step input is the step counter.
  if (const int step = g.find("optimizer.step"); step >= 0 && g.tensors[size_t(step)].state)
    for (Node& n : g.nodes)
      if (n.op == "DropoutTrain") n.inputs.at(2) = step;
  for (const auto& [st, value] : g.updates) {  // e.g. BatchNormalization's running statistics
    const std::string& n = g.tensors[size_t(st)].name;
    if (std::find(info.params.begin(), info.params.end(), n) == info.params.end() &&
        std::find(info.state.begin(), info.state.end(), n) == info.state.end())
      info.state.push_back(n);
  }
  for (int i : g.inputs)
    if (!g.tensors[size_t(i)].state && !g.tensors[size_t(i)].shape.empty() && info.batch == 0)
      info.batch = g.tensors[size_t(i)].shape[0];
  finalize(g);
  if (info_out) *info_out = info;
  return g;
}

void add_train_meta(pef::Pef& pef, const TrainInfo& info, const TrainOptions& o) {
  pef.meta["train"] = "1";
  pef.meta["train.loss"] = info.loss;
  pef.meta["train.batch"] = std::to_string(info.batch);
  for (size_t i = 0; i < info.params.size(); ++i) pef.meta[fmt::format("train.param.{}", i)] = info.params[i];
  for (size_t i = 0; i < info.state.size(); ++i) pef.meta[fmt::format("train.state.{}", i)] = info.state[i];
  pef.meta["train.optimizer"] = o.optimizer;
  for (const auto& [k, v] : std::map<std::string, double>{{"lr", o.lr},
                                                          {"momentum", o.momentum},
                                                          {"weight_decay", o.weight_decay},
                                                          {"beta1", o.beta1},
                                                          {"beta2", o.beta2},
                                                          {"eps", o.eps}})
    pef.meta["train." + k] = fmt::format("{}", v);
  if (!info.logits.empty()) {
    pef.meta["train.logits"] = info.logits;
    pef.meta["train.labels"] = info.labels;
  }
}

pef::Pef compile_training_file(const std::string& path, const arch::Config& cfg, const Options& opts,
                               const TrainOptions& topts, CompileStats* stats) {
  FrontEnd front;  // the pipeline's import .. package passes (pipeline.h), as sncompile --train
  front.path = path;
  front.import.params_as_state = true;
  front.train = true;
  front.train_opts = topts;
  return compile_file(front, cfg, opts, stats);
}

std::map<std::string, HostTensor> reference_train_step(Graph& g, const std::map<std::string, HostTensor>& inputs) {
  Graph run = g;
  std::vector<std::string> outs;
  for (int o : g.outputs) outs.push_back(g.tensors[size_t(o)].name);
  for (const auto& [s, v] : run.updates)
    if (!run.tensors[size_t(v)].is_output) {
      run.tensors[size_t(v)].is_output = true;
      run.outputs.push_back(v);
    }
  std::map<std::string, HostTensor> all = reference_run(run, inputs);
  for (const auto& [s, v] : g.updates) g.tensors[size_t(s)].data = all.at(g.tensors[size_t(v)].name).data;
  std::map<std::string, HostTensor> result;
  for (const std::string& n : outs) result[n] = all.at(n);
  return result;
}

}  // namespace openrdu::compiler
