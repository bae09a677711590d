// IEEE-754 binary32 operations of the PCU, bit-exact with rtl/units/rdu_fp_*.sv.
// Host float arithmetic (SSE on x86-64: round to nearest even, subnormals kept; this
// file must not be built with -ffast-math) plus NaN canonicalisation.
#include <cmath>
#include <cstring>

#include "openrdu/model/unit.h"

namespace openrdu::model {
namespace {

float to_f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

uint32_t to_u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

bool is_nan(uint32_t u) { return (u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0; }

uint32_t canon(float r) { return std::isnan(r) ? gen::kCanonicalNan : to_u(r); }

}  // namespace

namespace fp {

uint32_t add(uint32_t a, uint32_t b) { return canon(to_f(a) + to_f(b)); }
uint32_t sub(uint32_t a, uint32_t b) { return canon(to_f(a) - to_f(b)); }
uint32_t mul(uint32_t a, uint32_t b) { return canon(to_f(a) * to_f(b)); }

// Equal non-NaN values have equal bits except for +0 / -0: the AND of the bits keeps
// the sign only when both are -0 (max), the OR when either is (min).
uint32_t max(uint32_t a, uint32_t b) {
  if (is_nan(a) || is_nan(b)) return gen::kCanonicalNan;
  const float fa = to_f(a), fb = to_f(b);
  if (fa > fb) return a;
  if (fb > fa) return b;
  return a & b;
}

uint32_t min(uint32_t a, uint32_t b) {
  if (is_nan(a) || is_nan(b)) return gen::kCanonicalNan;
  const float fa = to_f(a), fb = to_f(b);
  if (fa < fb) return a;
  if (fb < fa) return b;
  return a | b;
}

uint32_t fma(uint32_t a, uint32_t b, uint32_t c) { return canon(std::fma(to_f(a), to_f(b), to_f(c))); }
uint32_t abs(uint32_t a) { return is_nan(a) ? gen::kCanonicalNan : a & 0x7FFFFFFFu; }
uint32_t neg(uint32_t a) { return is_nan(a) ? gen::kCanonicalNan : a ^ 0x80000000u; }
bool lt(uint32_t a, uint32_t b) { return to_f(a) < to_f(b); }
bool le(uint32_t a, uint32_t b) { return to_f(a) <= to_f(b); }
bool eq(uint32_t a, uint32_t b) { return to_f(a) == to_f(b); }

uint32_t ftoi(uint32_t a) {
  const float f = to_f(a);
  if (std::isnan(f)) return 0;
  if (f >= 2147483648.0f) return 0x7FFFFFFFu;
  if (f < -2147483648.0f) return 0x80000000u;
  return static_cast<uint32_t>(static_cast<int32_t>(f));
}

uint32_t itof(uint32_t a) { return to_u(static_cast<float>(static_cast<int32_t>(a))); }

}  // namespace fp

uint32_t pcu_op(arch::Opcode op, uint32_t a, uint32_t b, uint32_t c) {
  constexpr uint32_t kOne = 0x3F800000u;  // 1.0f: comparison true
  const auto sa = static_cast<int32_t>(a);
  const uint32_t sh = b & 31;
  switch (op) {
    case arch::Opcode::MOV: return a;
    case arch::Opcode::FADD: return fp::add(a, b);
    case arch::Opcode::FSUB: return fp::sub(a, b);
    case arch::Opcode::FMUL: return fp::mul(a, b);
    case arch::Opcode::FMAX: return fp::max(a, b);
    case arch::Opcode::FMIN: return fp::min(a, b);
    case arch::Opcode::FMA: return fp::fma(a, b, c);
    case arch::Opcode::FABS: return fp::abs(a);
    case arch::Opcode::FNEG: return fp::neg(a);
    case arch::Opcode::FLT: return fp::lt(a, b) ? kOne : 0;
    case arch::Opcode::FLE: return fp::le(a, b) ? kOne : 0;
    case arch::Opcode::FEQ: return fp::eq(a, b) ? kOne : 0;
    case arch::Opcode::SEL: return a != 0 ? b : c;
    case arch::Opcode::IADD: return a + b;
    case arch::Opcode::ISUB: return a - b;
    case arch::Opcode::IMUL: return a * b;
    case arch::Opcode::SHL: return a << sh;
    case arch::Opcode::SHRL: return a >> sh;
    case arch::Opcode::SHRA: return static_cast<uint32_t>(sa >> sh);  // C++20: arithmetic
    case arch::Opcode::AND: return a & b;
    case arch::Opcode::OR: return a | b;
    case arch::Opcode::XOR: return a ^ b;
    case arch::Opcode::ILT: return sa < static_cast<int32_t>(b) ? 1u : 0u;
    case arch::Opcode::FTOI: return fp::ftoi(a);
    case arch::Opcode::ITOF: return fp::itof(a);
    case arch::Opcode::NOP: break;
  }
  return a;  // NOP and opcodes outside the ISA: no result (the stage writes nothing)
}

}  // namespace openrdu::model
