// Three-level affine address counter of one PMU side (`docs/bitstream.md` ("PMU configuration")), one
// tile: for i2 < c2: for i1 < c1: for i0 < c0: addr = base + i0*s0 + i1*s1 + i2*s2
// (32-bit wrap-around). addr_o is the address of the current access, last_o is high
// when it is the tile's last access; step_i advances to the next access, and after the
// last one back to the first (the next tile repeats the pattern). empty_o: a count is
// zero (no accesses at all).
module rdu_pmu_agen (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        clr_i,   // back to the first access
  input  logic [31:0] base_i,
  input  logic [31:0] c0_i,
  input  logic [31:0] s0_i,
  input  logic [31:0] c1_i,
  input  logic [31:0] s1_i,
  input  logic [31:0] c2_i,
  input  logic [31:0] s2_i,
  input  logic        step_i,
  output logic [31:0] addr_o,
  output logic        last_o,
  output logic        empty_o
);
  logic [31:0] i0_q, i1_q, i2_q;
  logic [31:0] p0_q, p1_q, p2_q;  // i0*s0, i1*s1, i2*s2
  logic        l0, l1, l2;         // index at its last value

  assign l0      = (i0_q + 32'd1 == c0_i);
  assign l1      = (i1_q + 32'd1 == c1_i);
  assign l2      = (i2_q + 32'd1 == c2_i);
  assign addr_o  = base_i + p0_q + p1_q + p2_q;
  assign last_o  = l0 && l1 && l2;
  assign empty_o = (c0_i == '0) || (c1_i == '0) || (c2_i == '0);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      i0_q <= '0;
      i1_q <= '0;
      i2_q <= '0;
      p0_q <= '0;
      p1_q <= '0;
      p2_q <= '0;
    end else if (step_i && !empty_o) begin
      if (!l0) begin
        i0_q <= i0_q + 32'd1;
        p0_q <= p0_q + s0_i;
      end else begin
        i0_q <= '0;
        p0_q <= '0;
        if (!l1) begin
          i1_q <= i1_q + 32'd1;
          p1_q <= p1_q + s1_i;
        end else begin
          i1_q <= '0;
          p1_q <= '0;
          if (!l2) begin
            i2_q <= i2_q + 32'd1;
            p2_q <= p2_q + s2_i;
          end else begin
            i2_q <= '0;
            p2_q <= '0;
          end
        end
      end
    end
  end
endmodule
