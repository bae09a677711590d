// libFuzzer target over the ONNX importer (`docs/robustness.md` ("Hostile input")). Built by
// scripts/fuzz-readers.sh with clang++ -fsanitize=fuzzer,address,undefined; seeded with
// the examples' models and ONNX node tests. import_onnx_bytes must return a verified
// graph or throw CompileError: any other exception, crash or sanitizer report fails.
// The fold limit is 1 MiB so that every input stays fast (the budget scales with it).
// The scan that reads a file's large raw_data (onnx_wire.h) must give the model protobuf
// parses from the same bytes, or decline.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "onnx_wire.h"
#include "openrdu/compiler/compiler.h"
#include "openrdu/compiler/fold_limit.h"
#include "openrdu/compiler/ir.h"

namespace {

void check_stripped(const uint8_t* data, size_t size) {
  using namespace openrdu::compiler::detail;
  size_t at = 0;
  const WireRead read = [&](char* p, size_t n) {
    const size_t k = std::min(n, size - at);
    std::memcpy(p, data + at, k);
    at += k;
    return k;
  };
  std::optional<StrippedModel> s = strip_raw_data(read, size, 1);
  if (!s) return;  // protobuf parses the file itself
  onnx::ModelProto want, got;
  const bool want_ok = want.ParseFromArray(data, int(size));
  const bool got_ok = parse_stripped(got, std::move(*s));
  if (got_ok != want_ok || (got_ok && got.SerializeAsString() != want.SerializeAsString())) {
    std::fprintf(stderr, "onnx_fuzz: the stripped parse (%d) differs from protobuf's (%d)\n", got_ok, want_ok);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrdu::compiler;
  static const bool once = (set_fold_limit(uint64_t(1) << 20), true);
  (void)once;
  check_stripped(data, size);
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
