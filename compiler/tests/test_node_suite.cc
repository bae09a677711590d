// The supported subset of the ONNX node conformance tests on the functional model
// (compiled for tiny at -O0/-O1/-O3 and small at -O3), bit-exact against output_*.pb.
#include <gtest/gtest.h>

#include "node_suite.h"

namespace openrdu::compiler {
namespace {

TEST(NodeSuite, SupportedSubsetPassesOnModel) {
  for (const char* cfgname : {"tiny", "small"}) {
    const arch::Config cfg = arch::load_config(cfgname);
    const std::vector<int> levels = std::string(cfgname) == "tiny" ? std::vector<int>{0, 1, 3} : std::vector<int>{3};
    const auto cases = test::run_node_suite(ONNX_NODE_DATA, cfg, levels);
    int passed = 0;
    std::set<std::string> ops;
    std::set<std::string> ref_ops;
    int ref_passed = 0;
    for (const auto& c : cases) {
      // Tests of operators not lowered yet still check the CPU reference against ONNX.
      if (c.not_lowered) {
        EXPECT_EQ(c.ref, test::NodeCase::RefPassed) << cfgname << " " << c.test << " (" << c.op << "): " << c.reason;
        if (c.ref == test::NodeCase::RefPassed) ++ref_passed;
      }
      if (c.ref == test::NodeCase::RefPassed) ref_ops.insert(c.op);
      if (c.status == test::NodeCase::Skipped) continue;
      EXPECT_EQ(c.status, test::NodeCase::Passed)
          << cfgname << " " << c.test << " (" << c.op << "): " << test::status_name(c.status) << ": " << c.reason;
      if (c.status == test::NodeCase::Passed) {
        ++passed;
        ops.insert(c.op);
      }
    }
    std::printf("%s: %d node tests passed on the model, %d more (not lowered yet) on the CPU reference\n", cfgname,
                passed, ref_passed);
    // Every front-end operator has conformance tests that pass on the CPU reference.
    for (const char* op : {"MatMul", "Gemm", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Softmax",
                           "LogSoftmax", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "Concat", "Slice",
                           "Gather", "Div"})
      EXPECT_TRUE(ref_ops.count(op)) << cfgname << ": no conformance test of " << op << " passed on the reference";
    // Every supported operator has conformance tests that ran (none silently skipped).
    for (const char* op : {"Abs", "Add", "Clip", "HardSigmoid", "Identity", "LeakyRelu", "Max", "Min", "Mul", "Neg",
                           "PRelu", "Relu", "Sub", "Sum", "Exp", "Log", "Sqrt", "Reciprocal", "Div", "Sigmoid", "Tanh",
                           "Erf", "Pow", "Elu", "Selu", "Mean"})
      EXPECT_TRUE(ops.count(op)) << cfgname << ": no conformance test of " << op << " passed";
  }
}

}  // namespace
}  // namespace openrdu::compiler
