// OPENRDU_FP_IMPL=dpi (docs/rtl-builds.md): the DPI-C functions the FP units and the
// lane ALU call instead of their synthesizable datapaths (the `ifdef OPENRDU_FP_DPI
// bodies of rtl/units/rdu_fp_*.sv and rdu_pcu_alu.sv). Each is the functional model's
// operation, so results are bit-exact with the model; tb_fp checks them against the
// synthesizable units. The C types are those Verilator 5 gives the SystemVerilog ones
// (int unsigned: uint32_t, bit: unsigned char, byte unsigned: uint8_t).
#include <cstdint>

#include "openrdu/model/unit.h"

namespace fp = openrdu::model::fp;

extern "C" {

uint32_t rdu_fp_dpi_add(uint32_t a, uint32_t b, unsigned char sub) { return sub ? fp::sub(a, b) : fp::add(a, b); }
uint32_t rdu_fp_dpi_mul(uint32_t a, uint32_t b) { return fp::mul(a, b); }
uint32_t rdu_fp_dpi_fma(uint32_t a, uint32_t b, uint32_t c) { return fp::fma(a, b, c); }
uint32_t rdu_fp_dpi_minmax(uint32_t a, uint32_t b, unsigned char max) { return max ? fp::max(a, b) : fp::min(a, b); }
unsigned char rdu_fp_dpi_lt(uint32_t a, uint32_t b) { return fp::lt(a, b); }
unsigned char rdu_fp_dpi_eq(uint32_t a, uint32_t b) { return fp::eq(a, b); }
uint32_t rdu_fp_dpi_ftoi(uint32_t a) { return fp::ftoi(a); }
uint32_t rdu_fp_dpi_itof(uint32_t a) { return fp::itof(a); }

// The lane ALU: every opcode (opcodes outside the ISA and NOP: a, as the RTL).
uint32_t rdu_fp_dpi_alu(uint8_t op, uint32_t a, uint32_t b, uint32_t c) {
  return openrdu::model::pcu_op(static_cast<openrdu::gen::Opcode>(op), a, b, c);
}

}  // extern "C"
