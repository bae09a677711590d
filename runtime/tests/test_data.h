// The NumPy-written files of runtime/tests/data (make_data.py) for the unit tests.
#pragma once
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace openrdu::runtime::test_data {

inline const std::string kDir = OPENRDU_RUNTIME_TEST_DATA;

inline std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace openrdu::runtime::test_data
