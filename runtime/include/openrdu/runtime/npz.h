// NumPy .npz archives (numpy.savez / savez_compressed): a zip of NAME.npy members
// (`docs/runtime.md` ("Runtime")).
#pragma once
#include <map>
#include <string>

#include "openrdu/runtime/npy.h"

namespace openrdu::runtime {

// name (the member's file name without ".npy") -> tensor. Stored and deflate members;
// every header size and offset is checked against the file, every member's CRC-32 too.
// Zip64 archives, encrypted members and other methods are refused. Errors are NpyError
// "FILE: ..." or "FILE: member 'NAME.npy': ...".
std::map<std::string, HostTensor> read_npz(const std::string& path);
std::map<std::string, HostTensor> parse_npz(const std::vector<uint8_t>& bytes, const std::string& source_name);
// Stored (uncompressed) members in name order, readable by numpy.load; atomic (temporary
// file, then rename).
void write_npz(const std::map<std::string, HostTensor>& tensors, const std::string& path);
std::vector<uint8_t> serialize_npz(const std::map<std::string, HostTensor>& tensors);

}  // namespace openrdu::runtime
