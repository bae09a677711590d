// AGCU store stream (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")): takes one vector per step from its
// input FIFO. Contiguous (lstride 1): one write of LANES words with the valid lanes as
// word mask. Broadcast (lstride 0): one write of lane 0's word (mask bit 0). Scatter:
// one write per valid lane, in lane order, at the lane's address with the lane's word
// as word 0 (mask bit 0). A vector with no valid lane is taken without a write. The
// vector leaves the FIFO with its last write; acknowledgements are counted for done.
// With tout_i, the stream stops after each tile's last write until every write is
// acknowledged, then pulses tok_o (the store-done token of a tile).
module rdu_agcu_st
  import rdu_cfg_pkg::*;
  import rdu_bits_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,
  input  logic                active_i,
  input  logic [31:0]         cfg_i [AGCU_STREAM_WORDS],

  input  logic                vin_valid_i,
  output logic                vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i,

  output logic                req_valid_o,
  output logic [31:0]         req_addr_o,
  output logic [LANES-1:0]    req_mask_o,
  output logic [LANES*32-1:0] req_data_o,
  input  logic                req_accept_i,

  input  logic                ack_i,
  input  logic                tout_i,
  output logic                tile_o,   // the last write (or vector) of a tile retires
  output logic                tok_o,    // a tile's writes are all acknowledged (tout_i)
  output logic                done_o
);
  localparam int unsigned VW  = LANES * 32;
  localparam int unsigned LB  = $clog2(LANES);
  localparam int unsigned ICW = $clog2(FIFO_DEPTH + 1);

  logic          gdone, in_valid, last, gather, bcast, adv, noreq, tile_end, go;
  logic          tw_q;  // tout: waiting for the acknowledgements of a tile's writes
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
    .tile_end_o(tile_end),
    .done_o  (gdone)
  );

  assign go          = active_i && !gdone && in_valid && !tw_q;
  assign noreq       = (n == '0);
  assign req_valid_o = go && !noreq;
  assign adv         = req_accept_i || (go && noreq);
  assign tile_o      = adv && tile_end;

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

  // tout: the wait starts after the tile's last write (pending_q counts it from the next
  // cycle) and ends, with a token, in the first cycle with nothing unacknowledged.
  assign tok_o = tw_q && (pending_q == '0);
  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      tw_q <= 1'b0;
    end else if (tile_o && tout_i) begin
      tw_q <= 1'b1;
    end else if (tok_o) begin
      tw_q <= 1'b0;
    end
  end

  assign done_o = gdone && (pending_q == '0) && !tw_q;
endmodule
