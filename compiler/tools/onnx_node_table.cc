// onnx_node_table: run the ONNX node conformance tests the front end supports on the CPU
// reference (against ONNX's expected outputs, exact or within rtol/atol for the
// operators of test::tolerant_op) and, when every operator is lowered, on the functional
// model (bit-exact against the reference); print per operator: tests found, reference
// ok, not lowered, compiled, passed on func, worst reference error. Every other test is
// listed as skipped with its reason; tests of operators not lowered yet are listed as
// skipped "not lowered". Exit status 1 when a lowered test fails or the reference fails
// a test. Usage: onnx_node_table [NODE_DATA_DIR] [CONFIG]
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "node_suite.h"

int main(int argc, char** argv) {
  using namespace openrdu::compiler;
  const std::string root = argc > 1 ? argv[1] : ONNX_NODE_DATA;
  const std::string cfgname = argc > 2 ? argv[2] : "tiny";
  try {
    const openrdu::arch::Config cfg = openrdu::arch::load_config(cfgname);
    const auto cases = test::run_node_suite(root, cfg, {0, 1, 3});
    // Per operator: tests found (supported ops, fp32), reference matches ONNX's expected
    // outputs, compiled, device == reference; worst reference error of tolerant ops.
    struct Row {
      int found = 0, ref_ok = 0, not_lowered = 0, compiled = 0, passed = 0;
      double worst_abs = 0, worst_rel = 0;
      bool tolerant = false;
    };
    std::map<std::string, Row> rows;
    int skipped = 0, failed = 0, ref_failed = 0;
    for (const auto& c : cases) {
      if (c.status == test::NodeCase::Skipped && !c.not_lowered) {
        ++skipped;
        continue;
      }
      Row& r = rows[c.op];
      ++r.found;
      r.ref_ok += c.ref == test::NodeCase::RefPassed;
      r.not_lowered += c.not_lowered;
      r.compiled += !c.not_lowered && c.status >= test::NodeCase::Failed;
      r.passed += c.status == test::NodeCase::Passed;
      r.tolerant |= c.tolerant;
      r.worst_abs = std::max(r.worst_abs, c.worst_abs);
      r.worst_rel = std::max(r.worst_rel, c.worst_rel);
    }
    fmt::print(
        "ONNX node tests in {}: the CPU reference against ONNX's expected outputs (exact, NaN == NaN; within "
        "rtol {} / atol {} for {}), and on the functional model, configuration {}, -O0/-O1/-O3, bit-exact against "
        "the CPU reference\n\n",
        root, test::kRtol, test::kAtol, "MatMul, Gemm, Softmax, LogSoftmax, Reduce*, the math operators (Exp ... Mean), Conv, AveragePool, GlobalAveragePool, BatchNormalization, LayerNormalization", cfg.name);
    fmt::print("{:<28} {:>6} {:>7} {:>12} {:>9} {:>15}  {}\n", "operator", "found", "ref ok", "not lowered",
               "compiled", "passed on func", "worst ref error (abs / rel)");
    Row total;
    for (const auto& [op, r] : rows) {
      fmt::print("{:<28} {:>6} {:>7} {:>12} {:>9} {:>15}  {}\n", op, r.found, r.ref_ok, r.not_lowered, r.compiled,
                 r.passed, r.tolerant ? fmt::format("{:.3g} / {:.3g}", r.worst_abs, r.worst_rel) : "exact");
      total.found += r.found;
      total.ref_ok += r.ref_ok;
      total.not_lowered += r.not_lowered;
      total.compiled += r.compiled;
      total.passed += r.passed;
    }
    fmt::print("{:<28} {:>6} {:>7} {:>12} {:>9} {:>15}\n\n", "total", total.found, total.ref_ok, total.not_lowered,
               total.compiled, total.passed);
    for (const auto& c : cases) {
      if (c.status == test::NodeCase::NotCompiled || c.status == test::NodeCase::Failed) {
        ++failed;
        fmt::print("{:<12} {} ({}): {}\n", test::status_name(c.status), c.test, c.op, c.reason);
      } else if (c.not_lowered && c.ref != test::NodeCase::RefPassed) {
        ++ref_failed;
        fmt::print("{:<12} {} ({}): {}\n", "REF FAILED", c.test, c.op, c.reason);
      }
    }
    fmt::print("\n{} tests not lowered yet (reference checked, listed as skipped):\n", total.not_lowered);
    for (const auto& c : cases)
      if (c.not_lowered) fmt::print("skipped {} ({}): {}\n", c.test, c.op, c.reason);
    fmt::print("\n{} tests skipped (not counted as passes):\n", skipped);
    for (const auto& c : cases)
      if (c.status == test::NodeCase::Skipped && !c.not_lowered)
        fmt::print("skipped {} ({}): {}\n", c.test, c.op, c.reason);
    return failed || ref_failed ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "onnx_node_table: {}\n", e.what());
    return 2;
  }
}
