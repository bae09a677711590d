// PEF v1: the compiled program container (docs/architecture.md section 9).
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace openrdu::pef {

inline constexpr uint32_t kPefVersion = 1;

enum class DType : uint8_t { F32 = 1 };
enum class Role : uint8_t { Input = 0, Output = 1, Constant = 2, Intermediate = 3 };
const char* role_name(Role r);

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  Role role = Role::Input;
  std::vector<int64_t> shape;
  uint64_t dev_addr = 0;     // byte address in device DRAM
  uint64_t bytes = 0;        // 4 * number of elements
  uint64_t const_offset = 0; // constants: byte offset of the data in `consts`
  uint64_t elements() const;
};

struct Section {
  std::string name;              // e.g. the graph node it runs (from META)
  uint64_t dev_addr = 0;         // where the runtime places the bitstream in DRAM
  std::vector<uint32_t> bitstream;
};

struct Pef {
  std::string config_name;
  uint32_t fingerprint = 0;
  std::vector<Tensor> tensors;
  std::vector<Section> sections;               // the schedule: run in order
  std::vector<uint8_t> consts;                 // initial data of constant tensors
  std::map<std::string, std::string> meta;     // key=value metadata

  const Tensor* find(const std::string& name) const;
};

// A malformed file: the message names the field and its byte offset.
class PefError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<uint8_t> serialize(const Pef& pef);
Pef parse(const std::vector<uint8_t>& bytes, const std::string& source_name = "<memory>");
Pef read_file(const std::string& path);                 // throws PefError (naming the file)
void write_file(const Pef& pef, const std::string& path);  // atomic: temp file then rename

}  // namespace openrdu::pef
