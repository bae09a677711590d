// NumPy .npy files (format 1.0 and 2.0), fp32 little-endian ('<f4'), C order only.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace openrdu::runtime {

// A host tensor: fp32 data in C order and its shape (rank 0 = scalar).
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  uint64_t elements() const;
};

// A malformed or unsupported .npy: the message names the file and the problem.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

HostTensor parse_npy(const std::vector<uint8_t>& bytes, const std::string& source_name = "<memory>");
HostTensor read_npy(const std::string& path);
// Format 1.0 when the header fits in 65535 bytes, else 2.0; header padded to 64 bytes.
std::vector<uint8_t> serialize_npy(const HostTensor& t);
// Atomic: writes a temporary file in the same directory, then renames it.
void write_npy(const HostTensor& t, const std::string& path);

// Shape as text: "(2, 3)", "()" for a scalar, "(4,)" for rank 1 (NumPy's spelling).
std::string shape_str(const std::vector<int64_t>& shape);

// File name of a tensor's .npy in an output directory: "<name>.npy" with every
// character outside [A-Za-z0-9._-] replaced by '_' (ONNX names such as "/fc/Add_out").
std::string npy_file_name(const std::string& tensor_name);

}  // namespace openrdu::runtime
