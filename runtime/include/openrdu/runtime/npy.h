// NumPy .npy files (format 1.0 and 2.0), C order only: '<f4' (fp32), '<i8' (int64),
// '<i4' (int32), '|b1' (bool).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "openrdu/pef/pef.h"

namespace openrdu::runtime {

using DType = pef::DType;

// A host tensor in C order and its shape (rank 0 = scalar). fp32 and bool values are in
// `data` (bool as 0.0f / 1.0f), int64 and int32 values in `idata` (held as int64).
struct HostTensor {
  HostTensor() = default;
  HostTensor(std::vector<int64_t> s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}
  HostTensor(std::vector<int64_t> s, std::vector<float> d, DType t, std::vector<int64_t> i)
      : shape(std::move(s)), data(std::move(d)), dtype(t), idata(std::move(i)) {}
  std::vector<int64_t> shape;
  std::vector<float> data;
  DType dtype = DType::F32;
  std::vector<int64_t> idata;
  uint64_t elements() const;
  // Number of values held: idata.size() for the integer dtypes, else data.size()
  // (host_tensor.h).
  uint64_t values() const;
};

// A malformed or unsupported .npy: the message names the file and the problem.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

HostTensor parse_npy(const std::vector<uint8_t>& bytes, const std::string& source_name = "<memory>");
HostTensor read_npy(const std::string& path);
// Format 1.0 when the header fits in 65535 bytes, else 2.0; header padded to 64 bytes.
// Tensors named on a command line, one "NAME=FILE.npy" each (`option` names the flag in
// messages, e.g. "--input"); `files`, if given, receives each name's file. Throws
// std::runtime_error (one line) on a malformed spec or a name given twice, and what
// read_npy throws for a bad file.
std::map<std::string, HostTensor> read_named_npy(const std::vector<std::string>& specs, const std::string& option,
                                                 std::map<std::string, std::string>* files = nullptr);

std::vector<uint8_t> serialize_npy(const HostTensor& t);
// Atomic: writes a temporary file in the same directory, then renames it.
void write_npy(const HostTensor& t, const std::string& path);

// Shape as text: "(2, 3)", "()" for a scalar, "(4,)" for rank 1 (NumPy's spelling).
std::string shape_str(const std::vector<int64_t>& shape);

// File name of a tensor's .npy in an output directory: "<name>.npy" with every
// character outside [A-Za-z0-9._-] replaced by '_' (ONNX names such as "/fc/Add_out").
std::string npy_file_name(const std::string& tensor_name);

}  // namespace openrdu::runtime
