// IEEE-754 binary32 fused multiply-add r = a * b + c with a single rounding
// (combinational, one pipeline stage). Round to nearest even; subnormal inputs and
// results kept exactly; an exact zero sum is +0 (-0 only for (-0) + (-0)); every NaN
// result is rdu_isa_pkg::CANONICAL_NAN. The PCU also computes FMUL as a * b + (-0).
//
// Datapath: a 79-bit window, bit 0 a sticky bit. The exact 48-bit product sits at bits
// 50:3; the addend's 24-bit mantissa is shifted right from bits 77:54 (three bits of
// gap above the product) with the bits it loses ORed into bit 0. An addend more than
// three bits above the product stays at 77:54 and the product then only acts as
// guard / sticky bits (the result is the addend's rounding either way). When the
// addend reaches below bit 0 the product is at least 2^26 and the result's rounding
// position is at bit 2 or above, so the sticky bit 0 decides nothing but stickiness.
module rdu_fp_fma (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  input  logic [31:0] c_i,
  output logic [31:0] r_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function int unsigned rdu_fp_dpi_fma(input int unsigned a,
                                                          input int unsigned b,
                                                          input int unsigned c);
  assign r_o = rdu_fp_dpi_fma(a_i, b_i, c_i);
`else
  import rdu_isa_pkg::CANONICAL_NAN;

  localparam logic [30:0] INF_MAG = 31'h7F80_0000;

  logic a_nan, b_nan, c_nan, a_inf, b_inf, c_inf, a_zero, b_zero, c_zero;
  assign a_nan  = (&a_i[30:23]) && (|a_i[22:0]);
  assign b_nan  = (&b_i[30:23]) && (|b_i[22:0]);
  assign c_nan  = (&c_i[30:23]) && (|c_i[22:0]);
  assign a_inf  = (&a_i[30:23]) && !(|a_i[22:0]);
  assign b_inf  = (&b_i[30:23]) && !(|b_i[22:0]);
  assign c_inf  = (&c_i[30:23]) && !(|c_i[22:0]);
  assign a_zero = (a_i[30:0] == 31'd0);
  assign b_zero = (b_i[30:0] == 31'd0);
  assign c_zero = (c_i[30:0] == 31'd0);

  logic sp;  // sign of the product
  assign sp = a_i[31] ^ b_i[31];

  logic [7:0]  ea, eb, ec;
  logic [23:0] ma, mb, mc;
  assign ea = (a_i[30:23] == 8'd0) ? 8'd1 : a_i[30:23];
  assign eb = (b_i[30:23] == 8'd0) ? 8'd1 : b_i[30:23];
  assign ec = (c_i[30:23] == 8'd0) ? 8'd1 : c_i[30:23];
  assign ma = {a_i[30:23] != 8'd0, a_i[22:0]};
  assign mb = {b_i[30:23] != 8'd0, b_i[22:0]};
  assign mc = {c_i[30:23] != 8'd0, c_i[22:0]};

  logic [47:0] p;
  assign p = {24'd0, ma} * {24'd0, mb};

  // Addend alignment: right shift from bits 77:54 by ea + eb - ec - 99.
  logic signed [10:0] sh_full;
  logic               clamp;   // addend far above the product: stays at 77:54
  logic [6:0]         sh;
  assign sh_full = $signed({3'b000, ea}) + $signed({3'b000, eb}) - $signed({3'b000, ec}) - 11'sd99;
  assign clamp   = (sh_full <= 11'sd0) && !c_zero;
  assign sh      = (sh_full <= 11'sd0) ? 7'd0 : (sh_full > 11'sd79) ? 7'd79 : sh_full[6:0];

  logic [157:0] cw;
  logic [78:0]  cx, px;
  assign cw = {1'b0, mc, 54'd0, 79'd0} >> sh;
  assign cx = {cw[157:80], cw[79] | (|cw[78:0])};
  assign px = {28'd0, p, 3'd0};

  // Biased exponent of window bit 0, minus 127.
  logic signed [10:0] e0;
  assign e0 = clamp ? ($signed({3'b000, ec}) - 11'sd204)
                    : ($signed({3'b000, ea}) + $signed({3'b000, eb}) - 11'sd303);

  logic        eff_sub, neg;
  logic [79:0] dsum;
  logic [78:0] s;
  logic        rs;  // sign of the result
  assign eff_sub = sp ^ c_i[31];
  assign dsum    = eff_sub ? ({1'b0, px} - {1'b0, cx}) : ({1'b0, px} + {1'b0, cx});
  assign neg     = eff_sub && dsum[79];
  assign s       = neg ? (79'd0 - dsum[78:0]) : dsum[78:0];
  assign rs      = neg ? c_i[31] : sp;

  logic [6:0] lz;
  always_comb begin
    lz = 7'd79;
    for (int i = 0; i < 79; i++) begin
      if (s[i]) lz = 7'(78 - i);
    end
  end

  // Biased exponent with the leading one at bit 78; shift so that the exponent is at
  // least 1 (subnormal results: the leading one stays below bit 78).
  logic signed [10:0] e_norm, t;
  logic [78:0]        n, nr, rmask;
  logic [6:0]         rsh;
  assign e_norm = e0 + 11'sd205 - $signed({4'b0000, lz});
  assign t      = (e_norm >= 11'sd1) ? $signed({4'b0000, lz})
                                     : $signed({4'b0000, lz}) + e_norm - 11'sd1;
  assign rsh    = (t < -11'sd79) ? 7'd79 : 7'(-t);
  assign nr     = s >> rsh;
  assign rmask  = ~({79{1'b1}} << rsh);
  assign n      = (t >= 11'sd0) ? (s << t[6:0]) : {nr[78:1], nr[0] | (|(s & rmask))};

  logic [22:0] m;
  logic        g, st, rup;
  logic [7:0]  efield;
  logic [30:0] mag;
  assign m      = n[77:55];
  assign g      = n[54];
  assign st     = |n[53:0];
  assign efield = n[78] ? e_norm[7:0] : 8'd0;
  assign rup    = g && (st || m[0]);
  assign mag    = {efield, m} + {30'd0, rup};

  always_comb begin
    if (a_nan || b_nan || c_nan || (a_inf && b_zero) || (b_inf && a_zero)
        || ((a_inf || b_inf) && c_inf && (sp != c_i[31]))) begin
      r_o = CANONICAL_NAN;
    end else if (a_inf || b_inf) begin
      r_o = {sp, INF_MAG};
    end else if (c_inf) begin
      r_o = c_i;
    end else if (a_zero || b_zero) begin
      r_o = c_zero ? {sp & c_i[31], 31'd0} : c_i;
    end else if (s == 79'd0) begin
      r_o = 32'd0;
    end else if (e_norm >= 11'sd255) begin
      r_o = {rs, INF_MAG};
    end else begin
      r_o = {rs, mag};
    end
  end
`endif
endmodule
