// libFuzzer target over the .npz reader (`docs/robustness.md` ("Hostile input")). Built by
// scripts/fuzz-readers.sh with clang++ -fsanitize=fuzzer,address,undefined; seeded with the
// checkpoints and reference data of verif/train and runtime/tests/data. parse_npz must
// return its members or throw NpyError; accepted members must hold their shapes' element
// counts and survive serialize_npz + parse_npz unchanged.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "openrdu/runtime/npz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace openrdu::runtime;
  try {
    const auto m = parse_npz(std::vector<uint8_t>(data, data + size), "fuzz.npz");
    for (const auto& [name, t] : m)
      if (t.values() != t.elements()) {
        std::fprintf(stderr, "npz_fuzz: member '%s' holds %llu values for %llu elements\n", name.c_str(),
                     static_cast<unsigned long long>(t.values()), static_cast<unsigned long long>(t.elements()));
        std::abort();
      }
    const auto again = parse_npz(serialize_npz(m), "again.npz");
    for (const auto& [name, t] : m) {
      const auto it = again.find(name);
      if (it == again.end() || it->second.shape != t.shape || it->second.dtype != t.dtype ||
          it->second.idata != t.idata || it->second.data.size() != t.data.size()) {
        std::fprintf(stderr, "npz_fuzz: serialize + parse changed member '%s'\n", name.c_str());
        std::abort();
      }
    }
  } catch (const NpyError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npz_fuzz: unexpected %s\n", e.what());
    std::abort();
  }
  return 0;
}
