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

}  // namespace fp

uint32_t pcu_op(arch::Opcode op, uint32_t a, uint32_t b) {
  switch (op) {
    case arch::Opcode::MOV: return a;
    case arch::Opcode::FADD: return fp::add(a, b);
    case arch::Opcode::FSUB: return fp::sub(a, b);
    case arch::Opcode::FMUL: return fp::mul(a, b);
    case arch::Opcode::FMAX: return fp::max(a, b);
    case arch::Opcode::FMIN: return fp::min(a, b);
    case arch::Opcode::NOP: break;
  }
  return a;  // NOP and opcodes outside the ISA: no result (the stage writes nothing)
}

}  // namespace openrdu::model
