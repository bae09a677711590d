// IEEE-754 binary32 multiplication (combinational, one pipeline stage). Round to
// nearest even; subnormal inputs and results kept exactly; every NaN result is
// rdu_isa_pkg::CANONICAL_NAN.
module rdu_fp_mul (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] r_o
);
`ifdef OPENRDU_FP_DPI
  // Simulation only (OPENRDU_FP_IMPL=dpi, docs/rtl-builds.md): the functional model's
  // binary32 operation through DPI-C (rtl/sim/rdu_fp_dpi.cc).
  import "DPI-C" pure function int unsigned rdu_fp_dpi_mul(input int unsigned a,
                                                          input int unsigned b);
  assign r_o = rdu_fp_dpi_mul(a_i, b_i);
`else
  import rdu_isa_pkg::CANONICAL_NAN;

  localparam logic [30:0] INF_MAG = 31'h7F80_0000;

  logic sr;
  assign sr = a_i[31] ^ b_i[31];

  logic a_nan, b_nan, a_inf, b_inf, a_zero, b_zero;
  assign a_nan  = (&a_i[30:23]) && (|a_i[22:0]);
  assign b_nan  = (&b_i[30:23]) && (|b_i[22:0]);
  assign a_inf  = (&a_i[30:23]) && !(|a_i[22:0]);
  assign b_inf  = (&b_i[30:23]) && !(|b_i[22:0]);
  assign a_zero = (a_i[30:0] == 31'd0);
  assign b_zero = (b_i[30:0] == 31'd0);

  logic [7:0]  ea, eb;
  logic [23:0] ma, mb;
  assign ea = (a_i[30:23] == 8'd0) ? 8'd1 : a_i[30:23];
  assign eb = (b_i[30:23] == 8'd0) ? 8'd1 : b_i[30:23];
  assign ma = {a_i[30:23] != 8'd0, a_i[22:0]};
  assign mb = {b_i[30:23] != 8'd0, b_i[22:0]};

  logic [47:0] p;
  assign p = {24'd0, ma} * {24'd0, mb};

  // Leading zeros of the product (nonzero on the path that uses it).
  logic [5:0] lz;
  always_comb begin
    lz = 6'd48;
    for (int i = 0; i < 48; i++) begin
      if (p[i]) lz = 6'(47 - i);
    end
  end

  // Leading one at bit 47; biased exponent of the normalized result.
  logic [47:0]        pn;
  logic signed [10:0] e_norm;
  assign pn     = p << lz;
  assign e_norm = $signed({3'b000, ea}) + $signed({3'b000, eb}) - 11'sd126
                  - $signed({5'b00000, lz});

  // Subnormal result: shift right by 1 - e_norm with sticky.
  logic signed [10:0] rsh_full;
  logic [5:0]         rsh;
  logic [95:0]        q;
  assign rsh_full = 11'sd1 - e_norm;
  assign rsh      = (rsh_full > 11'sd63) ? 6'd63 : rsh_full[5:0];
  assign q        = {pn, 48'd0} >> rsh;
  logic unused_q;  // bit 95 is zero: the shift is at least one place
  assign unused_q = q[95];

  logic [22:0] m;  // fraction bits (the leading one is implied by efield)
  logic        g, st;
  logic [7:0]  efield;
  always_comb begin
    if (e_norm >= 11'sd1) begin
      m      = pn[46:24];
      g      = pn[23];
      st     = |pn[22:0];
      efield = e_norm[7:0];
    end else begin
      m      = q[94:72];
      g      = q[71];
      st     = |q[70:0];
      efield = 8'd0;
    end
  end

  logic        rup;
  logic [30:0] mag;
  assign rup = g && (st || m[0]);
  assign mag = {efield, m} + {30'd0, rup};

  always_comb begin
    if (a_nan || b_nan || (a_inf && b_zero) || (b_inf && a_zero)) begin
      r_o = CANONICAL_NAN;
    end else if (a_inf || b_inf) begin
      r_o = {sr, INF_MAG};
    end else if (a_zero || b_zero) begin
      r_o = {sr, 31'd0};
    end else if (e_norm >= 11'sd255) begin
      r_o = {sr, INF_MAG};
    end else begin
      r_o = {sr, mag};
    end
  end
`endif
endmodule
