// AGCU load stream: issues a read of LANES words per step, at most AGCU_INFLIGHT in
// flight, and only when its response FIFO has room for every read in flight, so a
// response is always accepted. Responses (in order) have their invalid lanes zeroed
// (broadcast: word 0 copied to every lane first) and leave in order on vout.
module rdu_agcu_ld
  import rdu_cfg_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,
  input  logic                active_i,   // run and enabled
  input  logic [31:0]         cfg_i [7],  // the stream's 7 configuration words

  output logic                req_valid_o,
  output logic [31:0]         req_addr_o,
  input  logic                req_accept_i,  // request handshake for this stream

  input  logic                rsp_valid_i,
  input  logic [LANES*32-1:0] rsp_data_i,

  output logic                vout_valid_o,
  input  logic                vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o,
  output logic                done_o
);
  localparam int unsigned VW = LANES * 32;
  localparam int unsigned CW = $clog2(AGCU_INFLIGHT + 1);

  logic bcast, gdone;
  logic [LANES-1:0] mask;
  assign bcast = cfg_i[0][1];
  logic unused_cfg;
  assign unused_cfg = ^cfg_i[0][31:2] ^ cfg_i[0][0];

  rdu_agcu_agen u_agen (
    .clk_i,
    .rst_ni,
    .clr_i,
    .bcast_i(bcast),
    .base_i (cfg_i[1]),
    .inner_i(cfg_i[2]),
    .c1_i   (cfg_i[3]),
    .s1_i   (cfg_i[4]),
    .c2_i   (cfg_i[5]),
    .s2_i   (cfg_i[6]),
    .step_i (req_accept_i),
    .addr_o (req_addr_o),
    .mask_o (mask),
    .done_o (gdone)
  );

  // Lane masks of the reads in flight; its occupancy is the number in flight.
  logic [CW-1:0]    inflight, data_count;
  logic [LANES-1:0] rsp_mask;
  logic             meta_ready, meta_valid, data_ready;

  rdu_fifo #(
    .WIDTH(LANES),
    .DEPTH(AGCU_INFLIGHT)
  ) u_meta (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (req_accept_i),
    .in_ready_o (meta_ready),
    .in_data_i  (mask),
    .out_valid_o(meta_valid),
    .out_ready_i(rsp_valid_i),
    .out_data_o (rsp_mask),
    .count_o    (inflight)
  );

  assign req_valid_o = active_i && !gdone &&
                       (32'(inflight) + 32'(data_count) < AGCU_INFLIGHT);

  logic [VW-1:0] vec;
  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      vec[32*l +: 32] = !rsp_mask[l] ? 32'd0 : bcast ? rsp_data_i[31:0] : rsp_data_i[32*l +: 32];
    end
  end

  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(AGCU_INFLIGHT)
  ) u_data (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (rsp_valid_i),
    .in_ready_o (data_ready),
    .in_data_i  (vec),
    .out_valid_o(vout_valid_o),
    .out_ready_i(vout_ready_i),
    .out_data_o (vout_data_o),
    .count_o    (data_count)
  );
  logic unused_ready;
  assign unused_ready = meta_ready ^ meta_valid ^ data_ready;  // room reserved at issue

  assign done_o = gdone && (inflight == '0) && !vout_valid_o;
endmodule
