// Address generator of one AGCU stream (docs/architecture.md 4.3):
// for i2 < c2: for i1 < c1: for v < ceil(inner/LANES), one vector per step at byte
// address base + 4*(i1*s1 + i2*s2 + (bcast ? 0 : v*LANES)) (32-bit wrap-around);
// lane l is valid when v*LANES + l < inner.
module rdu_agcu_agen
  import rdu_cfg_pkg::*;
(
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic             clr_i,   // back to the first step
  input  logic             bcast_i,
  input  logic [31:0]      base_i,
  input  logic [31:0]      inner_i,
  input  logic [31:0]      c1_i,
  input  logic [31:0]      s1_i,
  input  logic [31:0]      c2_i,
  input  logic [31:0]      s2_i,
  input  logic             step_i,
  output logic [31:0]      addr_o,
  output logic [LANES-1:0] mask_o,
  output logic             done_o
);
  localparam int unsigned LB = $clog2(LANES);

  // Vectors per inner row: ceil(inner / LANES).
  logic [31:0] nvec;
  assign nvec = (inner_i >> LB) + 32'(|inner_i[LB-1:0]);

  logic [31:0] v_q, i1_q, i2_q;
  logic [31:0] off2_q;  // i2*s2 (elements)
  logic [31:0] off1_q;  // i1*s1 (elements)
  logic [31:0] offv_q;  // v*LANES (elements)
  logic [31:0] rem_q;   // inner - v*LANES: valid lanes of this step (capped at LANES)

  assign done_o = (nvec == '0) || (c1_i == '0) || (c2_i == '0) || (i2_q == c2_i);
  assign addr_o = base_i + ((off2_q + off1_q + (bcast_i ? 32'd0 : offv_q)) << 2);

  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      mask_o[l] = (32'(l) < rem_q);
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      v_q    <= '0;
      i1_q   <= '0;
      i2_q   <= '0;
      off2_q <= '0;
      off1_q <= '0;
      offv_q <= '0;
      rem_q  <= inner_i;
    end else if (step_i && !done_o) begin
      if (v_q + 32'd1 < nvec) begin
        v_q    <= v_q + 32'd1;
        offv_q <= offv_q + 32'(LANES);
        rem_q  <= rem_q - 32'(LANES);
      end else begin
        v_q    <= '0;
        offv_q <= '0;
        rem_q  <= inner_i;
        if (i1_q + 32'd1 < c1_i) begin
          i1_q   <= i1_q + 32'd1;
          off1_q <= off1_q + s1_i;
        end else begin
          i1_q   <= '0;
          off1_q <= '0;
          i2_q   <= i2_q + 32'd1;
          off2_q <= off2_q + s2_i;
        end
      end
    end
  end
endmodule
