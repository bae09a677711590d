// Two-level affine address counter of one PMU side (docs/architecture.md 4.2):
// for i1 < c1: for i0 < c0: addr = base + i0*s0 + i1*s1 (32-bit wrap-around).
// addr_o is the address of the current access; step_i advances to the next one;
// done_o is high once all c0*c1 accesses have been made (at once when a count is 0).
module rdu_pmu_agen (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        clr_i,   // back to the first access
  input  logic [31:0] base_i,
  input  logic [31:0] c0_i,
  input  logic [31:0] s0_i,
  input  logic [31:0] c1_i,
  input  logic [31:0] s1_i,
  input  logic        step_i,
  output logic [31:0] addr_o,
  output logic        done_o
);
  logic [31:0] i0_q, i1_q;
  logic [31:0] outer_q;   // i1*s1
  logic [31:0] inner_q;   // i0*s0

  assign addr_o = base_i + outer_q + inner_q;
  assign done_o = (c0_i == '0) || (c1_i == '0) || (i1_q == c1_i);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      i0_q    <= '0;
      i1_q    <= '0;
      outer_q <= '0;
      inner_q <= '0;
    end else if (step_i && !done_o) begin
      if (i0_q + 32'd1 < c0_i) begin
        i0_q    <= i0_q + 32'd1;
        inner_q <= inner_q + s0_i;
      end else begin
        i0_q    <= '0;
        inner_q <= '0;
        i1_q    <= i1_q + 32'd1;
        outer_q <= outer_q + s1_i;
      end
    end
  end
endmodule
