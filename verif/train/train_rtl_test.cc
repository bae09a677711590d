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
  for (float loss : steps_on_both(*session, pef, g, info.loss, traj_data("mlp_data"), 3)) EXPECT_GT(loss, 0.0f);
  ASSERT_EQ(info.state.size(), info.params.size() + 1);  // momentum buffers and the step counter
  expect_state_equal(*session, g, info);
}
