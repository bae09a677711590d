// port_bits: fields of Verilated ports of every width (the RTL core's memory-port bridge).
#include "openrdu/platform/port_bits.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace pb = openrdu::platform::port_bits;

namespace {

// The shape of Verilator's VlWide<N>: N 32-bit words, least significant first, at(i).
template <size_t N>
struct Wide {
  std::array<uint32_t, N> w{};
  uint32_t& at(size_t i) { return w.at(i); }
  const uint32_t& at(size_t i) const { return w.at(i); }
};

}  // namespace

TEST(PortBits, Words) {
  EXPECT_EQ(pb::words<uint8_t>(), 1u);
  EXPECT_EQ(pb::words<uint32_t>(), 1u);
  EXPECT_EQ(pb::words<uint64_t>(), 2u);
  EXPECT_EQ(pb::words<Wide<4>>(), 4u);  // plasticine's mem_req_addr_o: 4 ports x 32 bits
}

TEST(PortBits, IntegralPorts) {
  uint8_t valid = 0;  // CData: 4 ports of 1 bit
  pb::set(valid, 2, 1, 1);
  pb::set(valid, 0, 1, 1);
  EXPECT_EQ(valid, 0b0101);
  pb::set(valid, 2, 1, 0);
  EXPECT_EQ(valid, 0b0001);
  EXPECT_EQ(pb::get(valid, 0, 1), 1u);
  EXPECT_EQ(pb::get(valid, 3, 1), 0u);
  uint32_t id = 0;  // IData: 4 ports of 8 bits
  pb::set(id, 24, 8, 0x1ab);  // bits beyond the field are dropped
  pb::set(id, 8, 8, 0x12);
  EXPECT_EQ(id, 0xab001200u);
  EXPECT_EQ(pb::get(id, 24, 8), 0xabu);
  uint64_t addr = 0;  // QData: 2 ports of 32 bits (small)
  pb::set(addr, 32, 32, 0xdeadbeef);
  pb::set(addr, 0, 32, 0x01020304);
  EXPECT_EQ(addr, 0xdeadbeef01020304ull);
  EXPECT_EQ(pb::get(addr, 32, 32), 0xdeadbeefu);
  EXPECT_EQ(pb::get(addr, 16, 32), 0xbeef0102u);  // across the halves
  pb::clear(addr);
  EXPECT_EQ(addr, 0u);
}

TEST(PortBits, WidePorts) {
  Wide<4> addr;  // 4 ports x 32 bits
  for (uint32_t p = 0; p < 4; ++p) pb::set(addr, 32 * p, 32, 0x10000000u * (p + 1) + p);
  for (uint32_t p = 0; p < 4; ++p) EXPECT_EQ(pb::get(addr, 32 * p, 32), 0x10000000u * (p + 1) + p);
  EXPECT_EQ(addr.w[2], 0x30000002u);
  Wide<3> x;  // fields across word boundaries
  pb::set(x, 28, 8, 0xa5);
  EXPECT_EQ(x.w[0], 0x50000000u);
  EXPECT_EQ(x.w[1], 0x0000000au);
  EXPECT_EQ(pb::get(x, 28, 8), 0xa5u);
  pb::set(x, 60, 32, 0xffffffffu);
  EXPECT_EQ(x.w[1], 0xf000000au);
  EXPECT_EQ(x.w[2], 0x0fffffffu);
  EXPECT_EQ(pb::get(x, 60, 32), 0xffffffffu);
  pb::set(x, 62, 4, 0);
  EXPECT_EQ(pb::get(x, 60, 32), 0xffffffc3u);
  EXPECT_EQ(pb::get(x, 90, 8), 0x3u);  // beyond the width reads 0
  pb::set(x, 94, 8, 0xff);             // and is not written
  EXPECT_EQ(x.w[2], 0xcffffffcu);
  pb::clear(x);
  EXPECT_EQ(x.w[0] | x.w[1] | x.w[2], 0u);
}
