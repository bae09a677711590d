// binary32 <-> int32 conversions (combinational).
// FTOI: truncation toward zero, saturating to 0x7FFFFFFF / 0x80000000, NaN -> 0.
// ITOF: the int32 a_i rounded to binary32, round to nearest even.
module rdu_fp_cvt (
  input  logic [31:0] a_i,
  output logic [31:0] ftoi_o,
  output logic [31:0] itof_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function int unsigned rdu_fp_dpi_ftoi(input int unsigned a);
  import "DPI-C" pure function int unsigned rdu_fp_dpi_itof(input int unsigned a);
  assign ftoi_o = rdu_fp_dpi_ftoi(a_i);
  assign itof_o = rdu_fp_dpi_itof(a_i);
`else
  // ---------------------------------------------------------------- FTOI
  logic [7:0]  e;
  logic [31:0] mi, ti;
  assign e  = a_i[30:23];
  assign mi = {8'd0, 1'b1, a_i[22:0]};
  // 127 <= e <= 157 on the path that uses ti: the value has 1..31 integer bits.
  assign ti = (e >= 8'd150) ? (mi << (e - 8'd150)) : (mi >> (8'd150 - e));

  always_comb begin
    if ((&e) && (|a_i[22:0])) begin
      ftoi_o = 32'd0;                                  // NaN
    end else if (e >= 8'd158) begin
      ftoi_o = a_i[31] ? 32'h8000_0000 : 32'h7FFF_FFFF; // |x| >= 2^31, inf
    end else if (e < 8'd127) begin
      ftoi_o = 32'd0;                                  // |x| < 1
    end else begin
      ftoi_o = a_i[31] ? (32'd0 - ti) : ti;
    end
  end

  // ---------------------------------------------------------------- ITOF
  logic [31:0] u, nrm;
  logic [4:0]  lz;
  assign u = a_i[31] ? (32'd0 - a_i) : a_i;
  always_comb begin
    lz = 5'd31;
    for (int i = 0; i < 32; i++) begin
      if (u[i]) lz = 5'(31 - i);
    end
  end
  assign nrm = u << lz;

  logic        rup;
  logic [30:0] mag;
  assign rup = nrm[7] && ((|nrm[6:0]) || nrm[8]);
  assign mag = {8'(8'd158 - {3'd0, lz}), nrm[30:8]} + {30'd0, rup};
  assign itof_o = nrm[31] ? {a_i[31], mag} : 32'd0;  // nrm[31] = 0: a_i = 0
`endif
endmodule
