// Training on tiny's RTL: 3 SGD steps of the digits MLP (verif/train/traj/mlp_sgd) on the
// Verilated core equal the CPU reference bit for bit: every loss, every weight and the
// momentum buffers after the steps (the functional model equals the same reference:
// train_test.cc, so RTL == functional model).
#include <gtest/gtest.h>

#include "openrdu/arch/config.h"
#include "openrdu/runtime/session.h"
#include "train_util.h"

using namespace openrdu;
using namespace openrdu::train_test;

TEST(TrainRtl, ThreeSgdStepsOfTheMlpEqualTheReference) {
  compiler::TrainOptions o;
  o.optimizer = "sgd";
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 1e-4;
  compiler::TrainInfo info;
  compiler::Graph g = training_graph(kData / "traj" / "mlp_sgd" / "model.onnx", o, &info);
  const arch::Config cfg = arch::load_config("tiny");
  pef::Pef pef = compiler::compile_graph(g, cfg);
  compiler::add_train_meta(pef, info, o);
  auto session = runtime::Session::open("verilator", cfg);
  session->load(pef);
  std::map<std::string, runtime::HostTensor> data;
  for (const char* n : {"x", "y"})
    data[n] = runtime::read_npy((kData / "traj" / "mlp_data" / (std::string(n) + ".npy")).string());
  for (int64_t step = 0; step < 3; ++step) {
    const auto in = batch(data, step, info.batch);
    std::map<std::string, compiler::HostTensor> cin;
    for (const auto& [n, t] : in) cin[n] = to_compiler(t);
    const float ref = compiler::reference_train_step(g, cin).at(info.loss).data.at(0);
    const auto r = session->run(in);
    EXPECT_EQ(r.outputs.at(info.loss).data.at(0), ref) << "step " << step;
    EXPECT_GT(r.total_cycles, 0u);
  }
  ASSERT_EQ(info.state.size(), info.params.size() + 1);  // momentum buffers and the step counter
  for (const auto* names : {&info.params, &info.state})
    for (const std::string& n : *names)
      EXPECT_EQ(session->read_tensor(n).data, g.tensors[size_t(g.find(n))].data) << n;
}
