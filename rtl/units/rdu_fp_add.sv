// IEEE-754 binary32 addition and subtraction (combinational, one pipeline stage).
// Round to nearest even; subnormal inputs and results kept exactly (no flush to
// zero); x + (-x) = +0; every NaN result is rdu_isa_pkg::CANONICAL_NAN.
//
// Datapath: operands ordered by magnitude, the smaller aligned with guard, round and
// sticky bits (3 extra bits suffice: a left shift of more than one place happens
// only when the exponents differ by at most one, where the alignment is exact).
module rdu_fp_add (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  input  logic        sub_i,  // 1: a_i - b_i
  output logic [31:0] r_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function int unsigned rdu_fp_dpi_add(input int unsigned a,
                                                          input int unsigned b, input bit sub);
  assign r_o = rdu_fp_dpi_add(a_i, b_i, sub_i);
`else
  import rdu_isa_pkg::CANONICAL_NAN;

  localparam logic [30:0] INF_MAG = 31'h7F80_0000;

  logic [31:0] b_eff;
  assign b_eff = {b_i[31] ^ sub_i, b_i[30:0]};

  logic a_nan, b_nan, a_inf, b_inf;
  assign a_nan = (&a_i[30:23]) && (|a_i[22:0]);
  assign b_nan = (&b_eff[30:23]) && (|b_eff[22:0]);
  assign a_inf = (&a_i[30:23]) && !(|a_i[22:0]);
  assign b_inf = (&b_eff[30:23]) && !(|b_eff[22:0]);

  // x: the operand of larger magnitude, y: the other.
  logic [31:0] x, y;
  assign x = (a_i[30:0] >= b_eff[30:0]) ? a_i : b_eff;
  assign y = (a_i[30:0] >= b_eff[30:0]) ? b_eff : a_i;

  logic [7:0]  ex, ey, d;
  logic [23:0] mx, my;
  assign ex = (x[30:23] == 8'd0) ? 8'd1 : x[30:23];
  assign ey = (y[30:23] == 8'd0) ? 8'd1 : y[30:23];
  assign mx = {x[30:23] != 8'd0, x[22:0]};
  assign my = {y[30:23] != 8'd0, y[22:0]};
  assign d  = ex - ey;

  // Align y: 27 bits (mantissa, guard, round, sticky).
  logic [4:0]  dcl;
  logic [53:0] ysh;
  logic [26:0] xa, ya;
  assign dcl = (d > 8'd31) ? 5'd31 : d[4:0];
  assign ysh = {my, 3'b000, 27'd0} >> dcl;
  assign xa  = {mx, 3'b000};
  assign ya  = {ysh[53:28], ysh[27] | (|ysh[26:0])};

  logic        eff_sub;
  logic [27:0] s;
  assign eff_sub = x[31] ^ y[31];
  assign s = eff_sub ? ({1'b0, xa} - {1'b0, ya}) : ({1'b0, xa} + {1'b0, ya});

  // Leading zeros of s[26:0].
  logic [4:0] lz;
  always_comb begin
    lz = 5'd27;
    for (int i = 0; i < 27; i++) begin
      if (s[i]) lz = 5'(26 - i);
    end
  end

  // Normalize: leading one to bit 26, or as far as the minimum exponent allows.
  logic [7:0]  lim, sh;
  logic [26:0] n;
  logic [8:0]  en;
  assign lim = ex - 8'd1;
  assign sh  = ({3'b000, lz} < lim) ? {3'b000, lz} : lim;
  always_comb begin
    if (s[27]) begin
      n  = {s[27:2], s[1] | s[0]};
      en = {1'b0, ex} + 9'd1;
    end else begin
      n  = s[26:0] << sh;
      en = {1'b0, ex} - {1'b0, sh};
    end
  end

  // Round to nearest even; the carry of the rounding increment runs into the exponent.
  logic        rup;
  logic [7:0]  efield;
  logic [30:0] mag;
  assign rup    = n[2] && ((|n[1:0]) || n[3]);
  assign efield = n[26] ? en[7:0] : 8'd0;
  assign mag    = {efield, n[25:3]} + {30'd0, rup};

  always_comb begin
    if (a_nan || b_nan || (a_inf && b_inf && (a_i[31] != b_eff[31]))) begin
      r_o = CANONICAL_NAN;
    end else if (a_inf) begin
      r_o = {a_i[31], INF_MAG};
    end else if (b_inf) begin
      r_o = {b_eff[31], INF_MAG};
    end else if (s == 28'd0) begin
      r_o = {a_i[31] & b_eff[31], 31'd0};
    end else if (en >= 9'd255) begin
      r_o = {x[31], INF_MAG};
    end else begin
      r_o = {x[31], mag};
    end
  end
`endif
endmodule
