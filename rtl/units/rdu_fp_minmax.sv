// IEEE-754 binary32 maximum / minimum (combinational). NaN (canonical) when either
// operand is NaN; -0 orders below +0: max(-0, +0) = +0, min(-0, +0) = -0.
module rdu_fp_minmax (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  input  logic        max_i,  // 1: maximum, 0: minimum
  output logic [31:0] r_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function int unsigned rdu_fp_dpi_minmax(input int unsigned a,
                                                             input int unsigned b, input bit max);
  assign r_o = rdu_fp_dpi_minmax(a_i, b_i, max_i);
`else
  import rdu_isa_pkg::CANONICAL_NAN;

  logic a_nan, b_nan;
  assign a_nan = (&a_i[30:23]) && (|a_i[22:0]);
  assign b_nan = (&b_i[30:23]) && (|b_i[22:0]);

  // Total-order keys: unsigned comparison of keys is the numeric order, -0 < +0.
  logic [31:0] ka, kb;
  assign ka = a_i[31] ? ~a_i : {1'b1, a_i[30:0]};
  assign kb = b_i[31] ? ~b_i : {1'b1, b_i[30:0]};

  logic a_gt;
  assign a_gt = ka > kb;

  always_comb begin
    if (a_nan || b_nan) begin
      r_o = CANONICAL_NAN;
    end else if (max_i) begin
      r_o = a_gt ? a_i : b_i;
    end else begin
      r_o = a_gt ? b_i : a_i;
    end
  end
`endif
endmodule
