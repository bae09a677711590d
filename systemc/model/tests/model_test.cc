// Unit tests of the functional model itself (systemc/model), per unit, against cases
// computed by hand: binary32 arithmetic (bit patterns), PCU stage operations, the PCU
// (stream and accumulator modes, cross-lane reduction, counters and LANE), the PMU
// (strided, duplicated and transposed storage) and the AGCU (contiguous, ragged, gather
// loads and masked stores). The RTL testbenches compare the RTL with this model; these
// tests check the model against the definitions (`docs/bitstream.md`, docs/isa.md).
#include <gtest/gtest.h>

#include <bit>
#include <map>

#include "openrdu/arch/config.h"
#include "openrdu/model/units.h"

namespace openrdu::model {
namespace {

using arch::Opcode;
using arch::Src;

uint32_t u(float f) { return std::bit_cast<uint32_t>(f); }
Vec fv(std::initializer_list<float> l) {
  Vec v;
  for (float x : l) v.push_back(u(x));
  return v;
}
const arch::Config& tiny() {
  static const arch::Config c = arch::load_config("tiny");  // 4 lanes, 4 stages, 4 registers
  return c;
}

// ---- binary32 ---------------------------------------------------------------------------

TEST(ModelFp, AddRoundsToNearestEven) {
  EXPECT_EQ(fp::add(u(1.0f), u(2.0f)), 0x40400000u);            // 3.0
  EXPECT_EQ(fp::add(0x3F800000u, 0x33800000u), 0x3F800000u);    // 1 + 2^-24: tie, to even (1.0)
  EXPECT_EQ(fp::add(0x3F800001u, 0x33800000u), 0x3F800002u);    // 1+2^-23 + 2^-24: tie, to even (up)
  EXPECT_EQ(fp::add(0x3F800000u, 0x34400000u), 0x3F800002u);    // 1 + 3*2^-24: rounds up to 1 + 2^-22
  EXPECT_EQ(fp::sub(u(1.0f), u(1.0f)), 0x00000000u);            // +0
  EXPECT_EQ(fp::add(0x7F7FFFFFu, 0x7F7FFFFFu), 0x7F800000u);    // max + max overflows to +inf
}

TEST(ModelFp, SubnormalsKeptAndNaNCanonical) {
  EXPECT_EQ(fp::mul(0x00800000u, u(0.5f)), 0x00400000u);        // min normal / 2: subnormal, not flushed
  EXPECT_EQ(fp::add(0x00000001u, 0x00000001u), 0x00000002u);    // two smallest subnormals
  EXPECT_EQ(fp::add(0x7FC00001u, u(1.0f)), 0x7FC00000u);        // NaN payload dropped
  EXPECT_EQ(fp::sub(0x7F800000u, 0x7F800000u), 0x7FC00000u);    // inf - inf
  EXPECT_EQ(fp::mul(0x00000000u, 0xFF800000u), 0x7FC00000u);    // 0 * -inf
  EXPECT_EQ(fp::abs(0xFFC00001u), 0x7FC00000u);
  EXPECT_EQ(fp::neg(0x7FA00000u), 0x7FC00000u);
  EXPECT_EQ(fp::abs(0x80000000u), 0x00000000u);
  EXPECT_EQ(fp::neg(u(2.5f)), u(-2.5f));
}

TEST(ModelFp, FmaRoundsOnce) {
  // (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly; a rounded product first would give 0.
  EXPECT_EQ(fp::fma(0x3F800001u, 0x3F7FFFFEu, u(-1.0f)), 0xA8800000u);
  EXPECT_EQ(fp::add(fp::mul(0x3F800001u, 0x3F7FFFFEu), u(-1.0f)), 0x00000000u);
  EXPECT_EQ(fp::fma(u(2.0f), u(3.0f), u(0.5f)), u(6.5f));
}

TEST(ModelFp, MaxMinSignedZerosAndNaN) {
  EXPECT_EQ(fp::max(0x80000000u, 0x00000000u), 0x00000000u);  // max(-0, +0) = +0
  EXPECT_EQ(fp::max(0x00000000u, 0x80000000u), 0x00000000u);
  EXPECT_EQ(fp::min(0x00000000u, 0x80000000u), 0x80000000u);  // min(+0, -0) = -0
  EXPECT_EQ(fp::max(u(-3.0f), u(2.0f)), u(2.0f));
  EXPECT_EQ(fp::min(u(-3.0f), u(2.0f)), u(-3.0f));
  EXPECT_EQ(fp::max(0x7FC00000u, u(1.0f)), 0x7FC00000u);      // NaN if either is NaN
  EXPECT_EQ(fp::min(u(1.0f), 0xFF800001u), 0x7FC00000u);
}

TEST(ModelFp, ComparisonsAndConversions) {
  EXPECT_TRUE(fp::eq(0x80000000u, 0x00000000u));
  EXPECT_FALSE(fp::eq(0x7FC00000u, 0x7FC00000u));
  EXPECT_FALSE(fp::lt(0x7FC00000u, u(1.0f)));
  EXPECT_TRUE(fp::le(u(1.0f), u(1.0f)));
  EXPECT_FALSE(fp::lt(u(1.0f), u(1.0f)));
  EXPECT_EQ(fp::ftoi(u(2.9f)), 2u);
  EXPECT_EQ(fp::ftoi(u(-2.9f)), uint32_t(-2));
  EXPECT_EQ(fp::ftoi(u(3e9f)), 0x7FFFFFFFu);   // saturates
  EXPECT_EQ(fp::ftoi(u(-3e9f)), 0x80000000u);
  EXPECT_EQ(fp::ftoi(0x7FC00000u), 0u);         // NaN -> 0
  EXPECT_EQ(fp::itof(16777217u), u(16777216.0f));  // 2^24 + 1: tie, to even
  EXPECT_EQ(fp::itof(16777219u), u(16777220.0f));  // 2^24 + 3: tie, to even (up)
  EXPECT_EQ(fp::itof(uint32_t(-1)), 0xBF800000u);
}

// ---- PCU stage operations -----------------------------------------------------------------

TEST(ModelPcuOp, IntegerBitAndSelectOperations) {
  EXPECT_EQ(pcu_op(Opcode::IADD, 0xFFFFFFFFu, 2), 1u);  // wraps
  EXPECT_EQ(pcu_op(Opcode::ISUB, 1, 2), 0xFFFFFFFFu);
  EXPECT_EQ(pcu_op(Opcode::IMUL, 0x10000u, 0x10001u), 0x10000u);  // low 32 bits
  EXPECT_EQ(pcu_op(Opcode::SHL, 1, 33), 2u);                       // shift amount & 31
  EXPECT_EQ(pcu_op(Opcode::SHRL, 0x80000000u, 31), 1u);
  EXPECT_EQ(pcu_op(Opcode::SHRA, 0x80000000u, 31), 0xFFFFFFFFu);
  EXPECT_EQ(pcu_op(Opcode::AND, 0xF0F0u, 0xFF00u), 0xF000u);
  EXPECT_EQ(pcu_op(Opcode::OR, 0xF0F0u, 0xFF00u), 0xFFF0u);
  EXPECT_EQ(pcu_op(Opcode::XOR, 0xF0F0u, 0xFF00u), 0x0FF0u);
  EXPECT_EQ(pcu_op(Opcode::ILT, 0xFFFFFFFFu, 0), 1u);  // -1 < 0 signed
  EXPECT_EQ(pcu_op(Opcode::SEL, 0x80000000u, 7, 9), 7u);  // -0.0's bits are not 0: B
  EXPECT_EQ(pcu_op(Opcode::SEL, 0, 7, 9), 9u);
  EXPECT_EQ(pcu_op(Opcode::MOV, 42, 7), 42u);
  EXPECT_EQ(pcu_op(Opcode::FLT, u(1.0f), u(2.0f)), 0x3F800000u);
  EXPECT_EQ(pcu_op(Opcode::FLE, u(2.0f), u(1.0f)), 0u);
  EXPECT_EQ(pcu_op(Opcode::FEQ, 0x80000000u, 0u), 0x3F800000u);
  EXPECT_EQ(pcu_op(Opcode::FMA, u(2.0f), u(3.0f), u(1.0f)), u(7.0f));
  EXPECT_EQ(pcu_op(Opcode::FSUB, u(1.0f), u(3.0f)), u(-2.0f));
}

// ---- PCU ------------------------------------------------------------------------------------

arch::PcuStage stage(Opcode op, Src a, Src b, uint8_t dst = 0, bool acc = false, Src c = Src::REG0) {
  arch::PcuStage s;
  s.op = op;
  s.src_a = uint8_t(a);
  s.src_b = uint8_t(b);
  s.src_c = uint8_t(c);
  s.dst = dst;
  s.acc = acc;
  return s;
}

// Runs a configured unit until nothing moves; returns output port 0.
std::vector<Vec> drain(Unit& unit, Memory* mem = nullptr, int port = 0) {
  while (unit.step(mem)) {
  }
  return {unit.output(port).begin(), unit.output(port).end()};
}

TEST(ModelPcu, StreamModeTwoStages) {
  // y = (a + b) * 2 per lane, two firings.
  arch::PcuConfig c;
  c.enable = true;
  c.vin_mask = 0b011;
  c.count = 2;
  c.stages.assign(tiny().stages, arch::PcuStage{});
  c.stages[0] = stage(Opcode::FADD, Src::REG0, Src::REG1, 0);
  c.stages[1] = stage(Opcode::FMUL, Src::REG0, Src::IMM, 0);
  c.stages[1].imm = u(2.0f);
  Pcu p(tiny());
  p.configure(c.encode(tiny()));
  p.push(0, fv({1, 2, 3, 4}));
  p.push(1, fv({0.5f, -2, 10, 0}));
  p.push(0, fv({-1, 0, 1e30f, 8}));
  p.push(1, fv({1, 0.25f, 1e30f, -8}));
  const auto out = drain(p);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], fv({3, 0, 26, 8}));
  EXPECT_EQ(out[1], fv({0, 0.5f, 4e30f, 0}));  // 1e30 + 1e30 and the doubling are exact
  EXPECT_TRUE(p.done());
}

TEST(ModelPcu, AccumulatorModeDotProductAndReduction) {
  // Per lane: acc = a * b + acc over groups of 3 firings, then the lanes summed (reduce 1).
  arch::PcuConfig c;
  c.enable = true;
  c.vin_mask = 0b011;
  c.count = 3;
  c.out_mode = 1;
  c.acc_len = 3;
  c.reduce = 1;
  c.stages.assign(tiny().stages, arch::PcuStage{});
  c.stages[0] = stage(Opcode::FMA, Src::REG0, Src::REG1, 0, true, Src::ACC);
  Pcu p(tiny());
  p.configure(c.encode(tiny()));
  for (int i = 0; i < 3; ++i) {
    p.push(0, fv({1.0f + i, 2, 0.5f, -1}));
    p.push(1, fv({2, float(i), 4, 1}));
  }
  const auto out = drain(p);
  // Lanes: 1*2+2*2+3*2 = 12; 2*(0+1+2) = 6; 0.5*4*3 = 6; -1*3 = -3; the sum 21 in every lane.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], fv({21, 21, 21, 21}));
}

TEST(ModelPcu, LaneCountersAndTail) {
  // Stage 0: LANE (element index), stage 1: CTR0 (min 0, stride 1, max 6), stage 2: TAIL.
  arch::PcuConfig c;
  c.enable = true;
  c.count = 2;
  c.stages.assign(tiny().stages, arch::PcuStage{});
  c.stages[0] = stage(Opcode::MOV, Src::LANE, Src::ZERO, 0);
  c.stages[1] = stage(Opcode::MOV, Src::CTR0, Src::ZERO, 1);
  c.stages[2] = stage(Opcode::MOV, Src::TAIL, Src::ZERO, 2);
  c.ctr[0] = {0, 6, 1};
  for (uint8_t reg : {0, 1, 2}) {
    c.out_reg = reg;
    Pcu p(tiny());
    p.configure(c.encode(tiny()));
    const auto out = drain(p);
    ASSERT_EQ(out.size(), 2u) << "register " << int(reg);
    const Vec one(4, 0x3F800000u);
    // LANE: element index; CTR0: counter 0 stepped by stride * lanes; TAIL: elements 6, 7 past max 6.
    const std::vector<Vec> want[3] = {{{0, 1, 2, 3}, {4, 5, 6, 7}},
                                      {{0, 1, 2, 3}, {4, 5, 6, 7}},
                                      {one, {0x3F800000u, 0x3F800000u, 0, 0}}};
    EXPECT_EQ(out, want[reg]) << "register " << int(reg);
  }
}

// ---- PMU ------------------------------------------------------------------------------------

Vec iota4(uint32_t first) { return {first, first + 1, first + 2, first + 3}; }

std::vector<Vec> pmu_run(uint8_t mode, const arch::PmuSide& rd, int writes = 4) {
  arch::PmuConfig c;
  c.enable = true;
  c.mode = mode;
  c.wr = {0, uint32_t(writes), 1, 1, 0};  // rows 0.. in order
  c.rd = rd;
  Pmu m(tiny());
  m.configure(c.encode());
  for (int r = 0; r < writes; ++r) m.push(0, iota4(4 * r));  // row r = [4r .. 4r+3]
  auto out = drain(m);
  EXPECT_TRUE(m.done());
  return out;
}

TEST(ModelPmu, StridedReadsRowsBackwards) {
  const auto out = pmu_run(0, {3, 4, 1, -1, 0});
  ASSERT_EQ(out.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(out[r], iota4(4 * (3 - r)));
}

TEST(ModelPmu, DuplicatedReadBroadcastsOneWord) {
  const auto out = pmu_run(1, {5, 2, 1, 6, 0});  // word addresses 5 and 11
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Vec{5, 5, 5, 5}));
  EXPECT_EQ(out[1], (Vec{11, 11, 11, 11}));
}

TEST(ModelPmu, TransposedReadGivesColumns) {
  const auto out = pmu_run(2, {0, 4, 1, 1, 0});  // columns 0..3 of rows 0..3
  ASSERT_EQ(out.size(), 4u);
  for (uint32_t col = 0; col < 4; ++col) EXPECT_EQ(out[col], (Vec{col, 4 + col, 8 + col, 12 + col}));
}

// ---- AGCU -----------------------------------------------------------------------------------

// 256 words of DRAM at byte 0; word i = 1000 + i. Accesses outside throw.
class TestMemory : public Memory {
 public:
  TestMemory() {
    for (uint32_t i = 0; i < w.size(); ++i) w[i] = 1000 + i;
  }
  void read_words(uint32_t addr, uint32_t* out, uint32_t n) override {
    for (uint32_t i = 0; i < n; ++i) out[i] = w.at(addr / 4 + i);
  }
  void write_words(uint32_t addr, const uint32_t* in, uint32_t n, uint64_t mask) override {
    for (uint32_t i = 0; i < n; ++i)
      if (mask >> i & 1) w.at(addr / 4 + i) = in[i];
  }
  std::array<uint32_t, 256> w{};
};

TEST(ModelAgcu, ContiguousRaggedAndGatherLoads) {
  arch::AgcuConfig c;
  c.ld[0] = arch::AgcuStream::linear(4 * 8, 6, 4);  // words 8..13 in two vectors, the second 2 lanes valid
  c.ld[1] = arch::AgcuStream::linear(4 * 100, 4, 4);
  c.ld[1].lstride = 3;  // gather: words 100, 103, 106, 109
  Agcu a(tiny());
  a.configure(c.encode());
  TestMemory mem;
  const auto out0 = drain(a, &mem, 0);
  ASSERT_EQ(out0.size(), 2u);
  EXPECT_EQ(out0[0], (Vec{1008, 1009, 1010, 1011}));
  EXPECT_EQ(out0[1], (Vec{1012, 1013, 0, 0}));  // invalid lanes read as 0
  const auto& out1 = a.output(1);
  ASSERT_EQ(out1.size(), 1u);
  EXPECT_EQ(out1[0], (Vec{1100, 1103, 1106, 1109}));
  EXPECT_EQ(a.requests(), 2u + 4u);  // two contiguous requests, one per gathered lane
  EXPECT_TRUE(a.done());
}

TEST(ModelAgcu, StoreWritesOnlyValidLanes) {
  arch::AgcuConfig c;
  c.st = arch::AgcuStream::linear(4 * 20, 6, 4);  // words 20..25
  Agcu a(tiny());
  a.configure(c.encode());
  TestMemory mem;
  a.push(0, {1, 2, 3, 4});
  a.push(0, {5, 6, 7, 8});
  drain(a, &mem);
  EXPECT_TRUE(a.done());
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(mem.w[20 + i], i + 1) << "word " << 20 + i;
  EXPECT_EQ(mem.w[26], 1026u);  // lanes 2, 3 of the last vector masked off
  EXPECT_EQ(mem.w[27], 1027u);
  EXPECT_EQ(mem.w[19], 1019u);
}

}  // namespace
}  // namespace openrdu::model
