// onnx_node_table: run the ONNX node conformance tests the compiler supports on the
// functional model and print, per operator, tests found, compiled and passed; every
// other test is listed as skipped with its reason. Exit status 1 when a supported test
// fails. Usage: onnx_node_table [NODE_DATA_DIR] [CONFIG]
#include <fmt/format.h>

#include <map>

#include "node_suite.h"

int main(int argc, char** argv) {
  using namespace openrdu::compiler;
  const std::string root = argc > 1 ? argv[1] : ONNX_NODE_DATA;
  const std::string cfgname = argc > 2 ? argv[2] : "tiny";
  try {
    const openrdu::arch::Config cfg = openrdu::arch::load_config(cfgname);
    const auto cases = test::run_node_suite(root, cfg, {0, 1, 3});
    struct Row {
      int found = 0, compiled = 0, passed = 0;
    };
    std::map<std::string, Row> rows;
    int skipped = 0, failed = 0;
    for (const auto& c : cases) {
      if (c.status == test::NodeCase::Skipped) {
        ++skipped;
        continue;
      }
      Row& r = rows[c.op];
      ++r.found;
      r.compiled += c.status >= test::NodeCase::Failed;
      r.passed += c.status == test::NodeCase::Passed;
    }
    fmt::print("ONNX node tests in {} on the functional model, configuration {}, -O0/-O1/-O3, exact (NaN == NaN)\n\n",
               root, cfg.name);
    fmt::print("{:<16} {:>6} {:>9} {:>15}\n", "operator", "found", "compiled", "passed on func");
    Row total;
    for (const auto& [op, r] : rows) {
      fmt::print("{:<16} {:>6} {:>9} {:>15}\n", op, r.found, r.compiled, r.passed);
      total.found += r.found;
      total.compiled += r.compiled;
      total.passed += r.passed;
    }
    fmt::print("{:<16} {:>6} {:>9} {:>15}\n\n", "total", total.found, total.compiled, total.passed);
    for (const auto& c : cases)
      if (c.status == test::NodeCase::NotCompiled || c.status == test::NodeCase::Failed) {
        ++failed;
        fmt::print("{:<12} {} ({}): {}\n", test::status_name(c.status), c.test, c.op, c.reason);
      }
    fmt::print("\n{} tests skipped (not counted as passes):\n", skipped);
    for (const auto& c : cases)
      if (c.status == test::NodeCase::Skipped) fmt::print("skipped {} ({}): {}\n", c.test, c.op, c.reason);
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "onnx_node_table: {}\n", e.what());
    return 2;
  }
}
