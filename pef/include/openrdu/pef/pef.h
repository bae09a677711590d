// PEF v2: the compiled program container (`docs/pef.md`).
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace openrdu::pef {

inline constexpr uint32_t kPefVersion = 2;

// Element types (section 9). On the device every element is one 32-bit word whatever
// the dtype (bytes = 4 * elements): fp32 as IEEE bits, int32 as is, int64 narrowed to
// int32 by the runtime, bool as fp32 1.0f / 0.
enum class DType : uint8_t { F32 = 1, I64 = 2, I32 = 3, BOOL = 4 };
// "fp32", "int64", "int32", "bool".
const char* dtype_name(DType t);
// input: given per run; output: read back after a run; weight: initial contents in
// WEIGHTS, uploaded once per load; activation: an intermediate value in DRAM.
enum class Role : uint8_t { Input = 0, Output = 1, Weight = 2, Activation = 3 };
const char* role_name(Role r);

// Checkpoint keys that are the optimizer's bookkeeping, not model weights (training PEFs,
// docs/training.md): names starting "optimizer." or ending ".momentum_buffer",
// ".exp_avg", ".exp_avg_sq", and "train.epoch".
// (Inline: the compiler, which does not link the PEF library, uses it too.)
inline bool is_optimizer_state_name(const std::string& k) {
  auto ends_with = [&](const std::string& suffix) {
    return k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return k.rfind("optimizer.", 0) == 0 || k == "train.epoch" || ends_with(".momentum_buffer") ||
         ends_with(".exp_avg") || ends_with(".exp_avg_sq");
}

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  Role role = Role::Input;
  std::vector<int64_t> shape;
  uint64_t dev_addr = 0;       // byte address in device DRAM
  uint64_t bytes = 0;          // 4 * number of elements
  uint64_t weight_offset = 0;  // weights: byte offset of the initial data in `weights` (else 0)
  uint64_t elements() const;
  bool operator==(const Tensor&) const = default;
};

// One step of the schedule: a bitstream, where it goes in DRAM, what it runs.
struct Section {
  std::string name;               // e.g. the graph node(s) it runs
  uint64_t dev_addr = 0;          // where the runtime places the bitstream in DRAM
  std::vector<uint32_t> bitstream;
  uint64_t est_cycles = 0;        // compiler's estimate of the run's cycles (0 = unknown)
  std::map<uint32_t, std::vector<std::string>> debug;  // unit id -> graph node names (DEBUG)
  bool operator==(const Section&) const = default;
};

struct Pef {
  std::string config_name;
  uint32_t fingerprint = 0;
  std::vector<Tensor> tensors;
  std::vector<Section> sections;               // the schedule: run in order
  std::vector<uint8_t> weights;                // initial data of weight tensors (WEIGHTS)
  std::vector<uint8_t> graph;                  // source model bytes, e.g. the ONNX file (GRAPH)
  std::map<std::string, std::string> meta;     // user key=value metadata (META)

  const Tensor* find(const std::string& name) const;
  bool operator==(const Pef&) const = default;
};

// A malformed file: the message names the file, the field and its byte offset.
class PefError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<uint8_t> serialize(const Pef& pef);
Pef parse(const std::vector<uint8_t>& bytes, const std::string& source_name = "<memory>");
Pef read_file(const std::string& path);                 // throws PefError (naming the file)
void write_file(const Pef& pef, const std::string& path);  // atomic: temp file then rename

}  // namespace openrdu::pef
