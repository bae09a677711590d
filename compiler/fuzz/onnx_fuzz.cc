// libFuzzer target over the ONNX importer (`docs/robustness.md` ("Hostile input")). Built by
// scripts/fuzz-readers.sh with clang++ -fsanitize=fuzzer,address,undefined; seeded with
// the examples' models and ONNX node tests. import_onnx_bytes must return a verified
// graph or throw CompileError: any other exception, crash or sanitizer report fails.
// The fold limit is 1 MiB so that every input stays fast (the budget scales with it).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fold_limit.h"
#include "openrdu/compiler/ir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrdu::compiler;
  static const bool once = (set_fold_limit(uint64_t(1) << 20), true);
  (void)once;
  try {
    const Graph g = import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    verify(g);
  } catch (const CompileError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onnx_fuzz: unexpected %s\n", e.what());
    std::abort();
  }
  return 0;
}
