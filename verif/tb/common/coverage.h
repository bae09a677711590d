// Verilator coverage of a testbench (make coverage). With a model Verilated with
// --coverage (OPENRDU_COVERAGE=ON, which defines VM_COVERAGE=1), each harness calls
// openrdu::tb::coverage_collect(context) in its destructor, while its model still
// exists: the model's counts are added to a per-process total and the context's
// coverage points are cleared (they point into the model). When the tests end the
// total is written to $OPENRDU_COVERAGE_DIR/<name>.dat (default: the current
// directory) in Verilator's coverage format (verilator_coverage reads it). Include this
// header once per testbench with OPENRDU_TB_COVERAGE("tb_pcu"). Without VM_COVERAGE
// both do nothing.
#pragma once
#include <gtest/gtest.h>
#include <verilated.h>
#if VM_COVERAGE
#include <unistd.h>
#include <verilated_cov.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#endif

#include <cstdlib>
#include <string>

namespace openrdu::tb {

#if VM_COVERAGE
// Coverage point key (Verilator's '\001k\002v...' string) -> count, over every model
// this process has simulated.
inline std::map<std::string, uint64_t>& coverage_total() {
  static std::map<std::string, uint64_t> m;
  return m;
}

inline void coverage_collect(VerilatedContext* ctx) {
  const std::string tmp =
      (std::filesystem::temp_directory_path() / ("openrdu_cov_" + std::to_string(::getpid()) + ".dat")).string();
  ctx->coveragep()->write(tmp.c_str());
  std::ifstream f(tmp, std::ios::binary);
  std::string line;
  while (std::getline(f, line)) {
    // C '<key>' <count>
    if (line.size() < 4 || line[0] != 'C') continue;
    const size_t q1 = line.find('\''), q2 = line.rfind('\'');
    if (q1 == std::string::npos || q2 <= q1) continue;
    coverage_total()[line.substr(q1 + 1, q2 - q1 - 1)] += std::strtoull(line.c_str() + q2 + 1, nullptr, 10);
  }
  f.close();
  std::remove(tmp.c_str());
  ctx->coveragep()->clear();
}
#else
inline void coverage_collect(VerilatedContext*) {}
#endif

class CoverageEnv : public ::testing::Environment {
 public:
  explicit CoverageEnv(std::string name) : name_(std::move(name)) {}
  void TearDown() override {
#if VM_COVERAGE
    const char* dir = std::getenv("OPENRDU_COVERAGE_DIR");
    const std::string file = (dir && *dir ? std::string(dir) + "/" : std::string()) + name_ + ".dat";
    std::ofstream o(file, std::ios::binary);
    o << "# SystemC::Coverage-3\n";
    for (const auto& [key, count] : coverage_total()) o << "C '" << key << "' " << count << "\n";
    if (!o) std::fprintf(stderr, "coverage: cannot write %s\n", file.c_str());
#endif
  }

 private:
  std::string name_;
};

}  // namespace openrdu::tb

#define OPENRDU_TB_COVERAGE(name) \
  static ::testing::Environment* const openrdu_tb_coverage_env = \
      ::testing::AddGlobalTestEnvironment(new ::openrdu::tb::CoverageEnv(name))
