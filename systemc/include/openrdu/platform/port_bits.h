// Fields of Verilated ports whatever their width (used by the RTL core's memory-port
// bridge, systemc/src/rtl_core.cc). Verilator declares a port of up to 8, 16, 32 or 64
// bits as CData, SData, IData or QData (integers) and a wider one as VlWide<N>: N 32-bit
// words, least significant first, reached with at(i). The core's memory-port pins are
// MEM_PORTS slices wide, so their type changes with the configuration (tiny's 1 port to
// plasticine's 4). A field here is at most 32 bits at any bit position.
#pragma once
#include <cstdint>
#include <type_traits>

namespace openrdu::platform::port_bits {

// 32-bit words of the port type T.
template <class T>
constexpr uint32_t words() {
  return std::is_integral_v<T> ? (sizeof(T) + 3) / 4 : sizeof(T) / 4;
}

// Word w of v (0 beyond the port's width).
template <class T>
uint32_t word(const T& v, uint32_t w) {
  if (w >= words<T>()) return 0;
  if constexpr (std::is_integral_v<T>)
    return static_cast<uint32_t>(static_cast<uint64_t>(v) >> (32 * w));
  else
    return v.at(w);
}

// Bits [lsb, lsb + width) of v, width 1..32.
template <class T>
uint32_t get(const T& v, uint32_t lsb, uint32_t width) {
  const uint64_t x = word(v, lsb / 32) | uint64_t{word(v, lsb / 32 + 1)} << 32;
  return static_cast<uint32_t>((x >> (lsb % 32)) & ((uint64_t{1} << width) - 1));
}

// Sets bits [lsb, lsb + width) of v to the low width bits of val, width 1..32; bits
// beyond the port's width are dropped.
template <class T>
void set(T& v, uint32_t lsb, uint32_t width, uint32_t val) {
  const uint64_t mask = (uint64_t{1} << width) - 1;
  if constexpr (std::is_integral_v<T>) {
    if (lsb >= 64) return;
    const uint64_t m = mask << lsb;
    v = static_cast<T>((static_cast<uint64_t>(v) & ~m) | ((uint64_t{val} << lsb) & m));
  } else {
    for (uint32_t w = lsb / 32; w <= (lsb + width - 1) / 32 && w < words<T>(); ++w) {
      // The field moved to word w's bit positions (a negative shift: its upper part).
      const int shift = static_cast<int>(lsb) - static_cast<int>(32 * w);
      const uint64_t m = shift >= 0 ? mask << shift : mask >> -shift;
      const uint64_t x = shift >= 0 ? uint64_t{val} << shift : uint64_t{val} >> -shift;
      v.at(w) = static_cast<uint32_t>((v.at(w) & ~m) | (x & m));
    }
  }
}

// Every bit of v to 0.
template <class T>
void clear(T& v) {
  if constexpr (std::is_integral_v<T>)
    v = 0;
  else
    for (uint32_t w = 0; w < words<T>(); ++w) v.at(w) = 0;
}

}  // namespace openrdu::platform::port_bits
