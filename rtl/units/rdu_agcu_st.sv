// AGCU store stream (docs/architecture.md 4.3): takes one vector per step from its
// input FIFO. Contiguous (lstride 1): one write of LANES words with the valid lanes as
// word mask. Broadcast (lstride 0): one write of lane 0's word (mask bit 0). Scatter:
// one write per valid lane, in lane order, at the lane's address with the lane's word
// as word 0 (mask bit 0). A vector with no valid lane is taken without a write. The
// vector leaves the FIFO with its last write; acknowledgements are counted for done.
module rdu_agcu_st
  import rdu_cfg_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,
  input  logic                active_i,
  input  logic [31:0]         cfg_i [13],

  input  logic                vin_valid_i,
  output logic                vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i,

  output logic                req_valid_o,
  output logic [31:0]         req_addr_o,
  output logic [LANES-1:0]    req_mask_o,
  output logic [LANES*32-1:0] req_data_o,
  input  logic                req_accept_i,

  input  logic                ack_i,
  output logic                done_o
);
  localparam int unsigned VW  = LANES * 32;
  localparam int unsigned LB  = $clog2(LANES);
  localparam int unsigned ICW = $clog2(FIFO_DEPTH + 1);

  logic          gdone, in_valid, last, gather, bcast, adv, noreq;
  logic [LB:0]   n;
  logic [LB-1:0] lane;
  logic [VW-1:0] in_data;
  logic [ICW-1:0] unused_count;

  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(FIFO_DEPTH)
  ) u_in (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (vin_valid_i),
    .in_ready_o (vin_ready_o),
    .in_data_i  (vin_data_i),
    .out_valid_o(in_valid),
    .out_ready_i(adv && last),
    .out_data_o (in_data),
    .count_o    (unused_count)
  );

  rdu_agcu_agen u_agen (
    .clk_i,
    .rst_ni,
    .clr_i,
    .cfg_i,
    .adv_i   (adv),
    .addr_o  (req_addr_o),
    .n_o     (n),
    .lane_o  (lane),
    .last_o  (last),
    .gather_o(gather),
    .bcast_o (bcast),
    .done_o  (gdone)
  );

  assign noreq       = (n == '0);
  assign req_valid_o = active_i && !gdone && in_valid && !noreq;
  assign adv         = req_accept_i || (active_i && !gdone && in_valid && noreq);

  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      req_mask_o[l] = (gather || bcast) ? (l == 0) : ((LB+1)'(l) < n);
    end
    req_data_o = in_data;
    if (gather) req_data_o[31:0] = in_data[32*lane +: 32];
  end

  // Writes issued and not yet acknowledged.
  logic [31:0] pending_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      pending_q <= '0;
    end else begin
      unique case ({req_accept_i, ack_i})
        2'b10:   pending_q <= pending_q + 32'd1;
        2'b01:   pending_q <= pending_q - 32'd1;
        default: pending_q <= pending_q;
      endcase
    end
  end

  assign done_o = gdone && (pending_q == '0);
endmodule
