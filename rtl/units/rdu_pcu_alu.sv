// One lane of one PCU stage: r = op(A, B) (docs/isa.md). For NOP and opcodes outside
// the ISA r = A (the stage writes no register: see rdu_pcu).
module rdu_pcu_alu
  import rdu_isa_pkg::*;
(
  input  logic [4:0]  op_i,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] r_o
);
  logic [31:0] add_r, mul_r, mm_r;

  rdu_fp_add u_add (
    .a_i,
    .b_i,
    .sub_i(op_i == OP_FSUB),
    .r_o  (add_r)
  );

  rdu_fp_mul u_mul (
    .a_i,
    .b_i,
    .r_o(mul_r)
  );

  rdu_fp_minmax u_minmax (
    .a_i,
    .b_i,
    .max_i(op_i == OP_FMAX),
    .r_o  (mm_r)
  );

  always_comb begin
    unique case (op_i)
      OP_MOV:            r_o = a_i;
      OP_FADD, OP_FSUB:  r_o = add_r;
      OP_FMUL:           r_o = mul_r;
      OP_FMAX, OP_FMIN:  r_o = mm_r;
      default:           r_o = a_i;
    endcase
  end
endmodule
