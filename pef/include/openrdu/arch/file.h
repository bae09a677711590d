// Writing files so that no partial file is ever left looking valid.
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace openrdu::arch {

// Writes `bytes` to a temporary file beside `path` (mode 0644), then renames it into
// place. On any failure the temporary file is removed and std::runtime_error is thrown
// with a message "PATH: what failed: reason".
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace openrdu::arch
