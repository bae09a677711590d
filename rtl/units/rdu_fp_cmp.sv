// binary32 comparisons (combinational): lt_o = a < b, eq_o = a == b; both false when
// either operand is NaN; -0 == +0.
module rdu_fp_cmp (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic        lt_o,
  output logic        eq_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function bit rdu_fp_dpi_lt(input int unsigned a, input int unsigned b);
  import "DPI-C" pure function bit rdu_fp_dpi_eq(input int unsigned a, input int unsigned b);
  assign lt_o = rdu_fp_dpi_lt(a_i, b_i);
  assign eq_o = rdu_fp_dpi_eq(a_i, b_i);
`else
  logic a_nan, b_nan, zeros;
  assign a_nan = (&a_i[30:23]) && (|a_i[22:0]);
  assign b_nan = (&b_i[30:23]) && (|b_i[22:0]);
  assign zeros = (a_i[30:0] == 31'd0) && (b_i[30:0] == 31'd0);

  // Total-order keys: unsigned comparison of keys is the numeric order, -0 < +0.
  logic [31:0] ka, kb;
  assign ka = a_i[31] ? ~a_i : {1'b1, a_i[30:0]};
  assign kb = b_i[31] ? ~b_i : {1'b1, b_i[30:0]};

  assign lt_o = !a_nan && !b_nan && !zeros && (ka < kb);
  assign eq_o = !a_nan && !b_nan && (zeros || (a_i == b_i));
`endif
endmodule
