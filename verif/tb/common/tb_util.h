// Small helpers every testbench program shares: the seed (OPENRDU_SEED), binary32 bit
// casts and the printing of a vector of words.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace openrdu::tb {

// OPENRDU_SEED (any base strtoull reads: 12, 0x1f), or dflt when unset or empty.
inline uint64_t seed_from_env(uint64_t dflt = 1) {
  const char* s = std::getenv("OPENRDU_SEED");
  return s && *s ? std::strtoull(s, nullptr, 0) : dflt;
}

inline float f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t u32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// "[0x1 0x3f800000 ...]"
inline std::string hex(const std::vector<uint32_t>& v) {
  std::ostringstream o;
  o << std::hex << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? " " : "") << "0x" << v[i];
  o << "]";
  return o.str();
}

}  // namespace openrdu::tb
