// Max ULP error of the PCU special functions (compiler/src/lower_math.h) against a
// correctly rounded reference (double-precision libm rounded to binary32; see
// compiler/tests/ulp_measure.h). Prints one table row per function: PCU operations, PCUs
// (segments) on tiny and small, inputs
// measured, max ULP, the worst input, documented flushes, wrong special results.
//   ulp [--n N] [--seed S] [--fn NAME]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "openrdu/arch/config.h"
#include "ulp_measure.h"

using namespace openrdu::compiler;

int main(int argc, char** argv) {
  uint64_t n = 10'000'000, seed = 1;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--n") && i + 1 < argc)
      n = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--fn") && i + 1 < argc)
      only = argv[++i];
    else {
      std::fprintf(stderr, "usage: ulp [--n N] [--seed S] [--fn NAME]\n");
      return 2;
    }
  }
  const openrdu::arch::Config tiny = openrdu::arch::load_config("tiny"), small = openrdu::arch::load_config("small");
  std::printf("%-11s %5s %6s %6s %10s %9s %16s %10s %8s\n", "function", "ops", "pcus_t", "pcus_s", "inputs", "max_ulp",
              "worst_input", "flushed", "bad_spec");
  int rc = 0;
  for (const std::string& fn : ulp::functions()) {
    if (!only.empty() && fn != only) continue;
    const auto t0 = std::chrono::steady_clock::now();
    const ulp::Stats st = ulp::run(fn, n, seed);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const detail::MathProgram p = detail::function_program(fn);
    std::printf("%-11s %5zu %6zu %6zu %10llu %9.3f %16.9g %10llu %8llu  (%.1f s)\n", fn.c_str(), p.ops.size(),
                detail::schedule_program(tiny, p, fn).segs.size(), detail::schedule_program(small, p, fn).segs.size(),
                (unsigned long long)st.n, st.max_ulp, double(st.worst_x),
                (unsigned long long)st.flushed, (unsigned long long)st.special_bad, s);
    if (st.special_bad) rc = 1;
  }
  return rc;
}
