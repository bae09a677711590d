// One lane of one PCU stage: r = op(A, B, C) (docs/isa.md). For NOP and opcodes
// outside the ISA r = A (the stage writes no register: see rdu_pcu).
module rdu_pcu_alu
  import rdu_isa_pkg::*;
(
  input  logic [4:0]  op_i,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  input  logic [31:0] c_i,
  output logic [31:0] r_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the whole operation is the
  // functional model's (model::pcu_op) through one DPI-C call (rtl/sim/rdu_fp_dpi.cc),
  // instead of five FP units evaluated on every operand change.
  import "DPI-C" pure function int unsigned rdu_fp_dpi_alu(input byte unsigned op,
                                                          input int unsigned a,
                                                          input int unsigned b,
                                                          input int unsigned c);
  assign r_o = rdu_fp_dpi_alu({3'b000, op_i}, a_i, b_i, c_i);
`else
  localparam logic [31:0] ONE_F = 32'h3F80_0000;  // 1.0f: FLT / FLE / FEQ true

  logic [31:0] add_r, fma_r, mm_r, ftoi_r, itof_r, fma_c, a_nan_r;
  logic        lt, eq, a_nan;

  rdu_fp_add u_add (
    .a_i,
    .b_i,
    .sub_i(op_i == OP_FSUB),
    .r_o  (add_r)
  );

  // FMUL is a * b + (-0): exact, the same rounding as a product.
  assign fma_c = (op_i == OP_FMA) ? c_i : 32'h8000_0000;
  rdu_fp_fma u_fma (
    .a_i,
    .b_i,
    .c_i(fma_c),
    .r_o(fma_r)
  );

  rdu_fp_minmax u_minmax (
    .a_i,
    .b_i,
    .max_i(op_i == OP_FMAX),
    .r_o  (mm_r)
  );

  rdu_fp_cmp u_cmp (
    .a_i,
    .b_i,
    .lt_o(lt),
    .eq_o(eq)
  );

  rdu_fp_cvt u_cvt (
    .a_i,
    .ftoi_o(ftoi_r),
    .itof_o(itof_r)
  );

  assign a_nan   = (&a_i[30:23]) && (|a_i[22:0]);
  assign a_nan_r = a_nan ? CANONICAL_NAN : a_i;

  always_comb begin
    unique case (op_i)
      OP_MOV:            r_o = a_i;
      OP_FADD, OP_FSUB:  r_o = add_r;
      OP_FMUL, OP_FMA:   r_o = fma_r;
      OP_FMAX, OP_FMIN:  r_o = mm_r;
      OP_FABS:           r_o = a_nan ? CANONICAL_NAN : {1'b0, a_i[30:0]};
      OP_FNEG:           r_o = {a_nan_r[31] ^ !a_nan, a_nan_r[30:0]};
      OP_FLT:            r_o = lt ? ONE_F : 32'd0;
      OP_FLE:            r_o = (lt || eq) ? ONE_F : 32'd0;
      OP_FEQ:            r_o = eq ? ONE_F : 32'd0;
      OP_SEL:            r_o = (a_i != 32'd0) ? b_i : c_i;
      OP_IADD:           r_o = a_i + b_i;
      OP_ISUB:           r_o = a_i - b_i;
      OP_IMUL:           r_o = a_i * b_i;
      OP_SHL:            r_o = a_i << b_i[4:0];
      OP_SHRL:           r_o = a_i >> b_i[4:0];
      OP_SHRA:           r_o = $unsigned($signed(a_i) >>> b_i[4:0]);
      OP_AND:            r_o = a_i & b_i;
      OP_OR:             r_o = a_i | b_i;
      OP_XOR:            r_o = a_i ^ b_i;
      OP_ILT:            r_o = {31'd0, $signed(a_i) < $signed(b_i)};
      OP_FTOI:           r_o = ftoi_r;
      OP_ITOF:           r_o = itof_r;
      default:           r_o = a_i;
    endcase
  end
`endif
endmodule
