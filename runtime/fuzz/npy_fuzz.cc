// libFuzzer target over the .npy reader (`docs/robustness.md` ("Hostile input")). Built by
// scripts/fuzz-readers.sh with clang++ -fsanitize=fuzzer,address,undefined; seeded with
// the examples' .npy files. parse_npy must return a tensor or throw NpyError; an accepted
// tensor must hold its shape's element count (fp32 and bool in data, integers in idata)
// and survive serialize_npy + parse_npy unchanged (dtype, shape, values).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "openrdu/runtime/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrdu::runtime;
  try {
    const HostTensor t = parse_npy(std::vector<uint8_t>(data, data + size), "fuzz.npy");
    if (t.values() != t.elements()) {
      std::fprintf(stderr, "npy_fuzz: %llu values for %llu elements\n", static_cast<unsigned long long>(t.values()),
                   static_cast<unsigned long long>(t.elements()));
      std::abort();
    }
    const HostTensor u = parse_npy(serialize_npy(t), "again.npy");
    if (u.shape != t.shape || u.dtype != t.dtype || u.idata != t.idata || u.data.size() != t.data.size() ||
        (!t.data.empty() && std::memcmp(u.data.data(), t.data.data(), 4 * t.data.size()) != 0)) {
      std::fprintf(stderr, "npy_fuzz: serialize + parse changed the tensor\n");
      std::abort();
    }
  } catch (const NpyError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npy_fuzz: unexpected %s\n", e.what());
    std::abort();
  }
  return 0;
}
