// Checked arithmetic for every size, count, offset and element count read from a file
// (ONNX, YAML, .npy, PEF) or computed from one. The one place of these rules: the
// readers call these and turn a non-empty error into their own exception, naming the
// file and the tensor, node or field.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace openrdu::arch {

// The largest tensor any reader accepts: 1 TiB. A shape whose bytes exceed it is
// implausible for this device (and would exhaust the host before it got there).
inline constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 40;

// a * b and a + b; false when the result does not fit in 64 bits.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// The element and byte counts of a shape, or why it is not a valid tensor size.
struct ShapeSize {
  uint64_t elements = 0;
  uint64_t bytes = 0;
  std::string error;  // empty when valid: e.g. "shape [4611686018427387904,4] overflows 64 bits"
  bool ok() const { return error.empty(); }
};

// Every dimension >= 0 (>= 1 when !allow_zero), elements * elem_bytes computed without
// wrapping and at most `max_bytes`.
template <typename Int>
ShapeSize shape_size(std::span<const Int> dims, uint64_t elem_bytes, bool allow_zero = true,
                     uint64_t max_bytes = kMaxTensorBytes) {
  ShapeSize s;
  auto shape = [&] { return fmt::format("[{}]", fmt::join(dims, ",")); };
  uint64_t n = 1;
  bool wrapped = false, zero = false;
  for (Int d : dims) {
    if (d < 0 || (d == 0 && !allow_zero)) {
      s.error = fmt::format("shape {} has a dimension of size {} (sizes >= {} only)", shape(), int64_t(d),
                            allow_zero ? 0 : 1);
      return s;
    }
    zero |= d == 0;
    wrapped |= !checked_mul(n, uint64_t(d), n);
  }
  uint64_t bytes = 0;
  wrapped |= !checked_mul(n, elem_bytes, bytes);
  if (zero) return s;  // no elements, whatever the other dimensions are
  if (wrapped) {
    s.error = fmt::format("shape {}: the element count times {} bytes overflows 64 bits", shape(), elem_bytes);
    return s;
  }
  if (bytes > max_bytes) {
    s.error = fmt::format("shape {}: {} elements of {} bytes ({} bytes) exceed the limit of {} bytes", shape(), n,
                          elem_bytes, bytes, max_bytes);
    return s;
  }
  s.elements = n;
  s.bytes = bytes;
  return s;
}

template <typename Vec>
ShapeSize shape_size_of(const Vec& dims, uint64_t elem_bytes, bool allow_zero = true,
                        uint64_t max_bytes = kMaxTensorBytes) {
  using Int = typename Vec::value_type;
  return shape_size<Int>(std::span<const Int>(dims.data(), dims.size()), elem_bytes, allow_zero, max_bytes);
}

}  // namespace openrdu::arch
