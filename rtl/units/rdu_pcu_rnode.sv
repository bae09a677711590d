// One node of a PCU's cross-lane reduction tree (`docs/bitstream.md` ("PCU configuration")):
// r = FADD(a, b) (op_i 1), FMAX(a, b) (2) or FMIN(a, b) (3), with the lane ALU's
// rounding and NaN / signed-zero rules (rdu_fp_add, rdu_fp_minmax). op_i 0: r = a
// (unused: the tree's result is not selected).
module rdu_pcu_rnode (
  input  logic [1:0]  op_i,
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] r_o
);
  logic [31:0] add_r, mm_r;

  rdu_fp_add u_add (
    .a_i,
    .b_i,
    .sub_i(1'b0),
    .r_o  (add_r)
  );

  rdu_fp_minmax u_minmax (
    .a_i,
    .b_i,
    .max_i(op_i == 2'd2),
    .r_o  (mm_r)
  );

  always_comb begin
    unique case (op_i)
      2'd1:       r_o = add_r;
      2'd2, 2'd3: r_o = mm_r;
      default:    r_o = a_i;
    endcase
  end
endmodule
