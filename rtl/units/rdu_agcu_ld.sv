// AGCU load stream (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")). Issue side: one read per contiguous or
// broadcast vector, one per valid lane of a gather vector, none for a vector with no
// valid lane; at most AGCU_INFLIGHT reads in flight plus buffered responses, so a
// response always finds room in the response FIFO. Every request and every vector
// without a request leaves an entry in the meta FIFO (in issue order). Drain side: the
// meta FIFO's head retires with its response (in order; none for a zero vector):
// contiguous/broadcast responses become a vector at once (broadcast: word 0 copied to
// every lane; invalid lanes zeroed); gather responses fill lanes of an assembly
// register, sent on the vector's last request. Vectors leave through a 2-entry FIFO.
module rdu_agcu_ld
  import rdu_cfg_pkg::*;
  import rdu_bits_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,
  input  logic                active_i,    // run and enabled
  input  logic [31:0]         cfg_i [AGCU_STREAM_WORDS], // the stream's configuration words

  output logic                req_valid_o,
  output logic [31:0]         req_addr_o,
  input  logic                req_accept_i,  // request handshake for this stream

  input  logic                rsp_valid_i,
  input  logic [LANES*32-1:0] rsp_data_i,

  output logic                vout_valid_o,
  input  logic                vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o,
  output logic                tile_o,      // the last request (or vector) of a tile retires
  output logic                done_o
);
  localparam int unsigned VW = LANES * 32;
  localparam int unsigned LB = $clog2(LANES);
  localparam int unsigned CW = $clog2(AGCU_INFLIGHT + 1);
  localparam int unsigned MD = AGCU_INFLIGHT + 2;      // meta FIFO depth
  localparam int unsigned MW = 4 + LB + (LB + 1);      // meta entry width

  logic          gdone, last, gather, bcast, tile_end;
  logic [LB:0]   n;
  logic [LB-1:0] lane;
  logic          adv, zero;

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
  assign tile_o = adv && tile_end && !gdone;

  // ---------------------------------------------------------------- issue
  logic [CW-1:0] outstanding_q, raw_count;
  logic          meta_room, credit;
  assign zero   = (n == '0);
  assign credit = (32'(outstanding_q) + 32'(raw_count) < AGCU_INFLIGHT);
  assign req_valid_o = active_i && !gdone && !zero && meta_room && credit;
  assign adv = req_accept_i || (active_i && !gdone && zero && meta_room);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      outstanding_q <= '0;
    end else begin
      unique case ({req_accept_i, rsp_valid_i})
        2'b10:   outstanding_q <= outstanding_q + CW'(1);
        2'b01:   outstanding_q <= outstanding_q - CW'(1);
        default: outstanding_q <= outstanding_q;
      endcase
    end
  end

  // Meta entry: {zero, gather, bcast, last, lane, n}.
  logic [MW-1:0] meta_in, meta_out;
  logic          meta_valid, meta_pop;
  logic [$clog2(MD+1)-1:0] unused_meta_count;
  assign meta_in = {zero, gather, bcast, last, lane, n};

  rdu_fifo #(
    .WIDTH(MW),
    .DEPTH(MD)
  ) u_meta (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (adv),
    .in_ready_o (meta_room),
    .in_data_i  (meta_in),
    .out_valid_o(meta_valid),
    .out_ready_i(meta_pop),
    .out_data_o (meta_out),
    .count_o    (unused_meta_count)
  );

  // Responses; room reserved at issue.
  logic          raw_valid, raw_pop, unused_raw_ready;
  logic [VW-1:0] raw;
  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(AGCU_INFLIGHT)
  ) u_raw (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (rsp_valid_i),
    .in_ready_o (unused_raw_ready),
    .in_data_i  (rsp_data_i),
    .out_valid_o(raw_valid),
    .out_ready_i(raw_pop),
    .out_data_o (raw),
    .count_o    (raw_count)
  );

  // ---------------------------------------------------------------- drain
  logic          h_zero, h_gather, h_bcast, h_last;
  logic [LB-1:0] h_lane;
  logic [LB:0]   h_n;
  assign {h_zero, h_gather, h_bcast, h_last, h_lane, h_n} = meta_out;

  logic          out_ready, out_push, fire;
  logic [VW-1:0] out_data, asm_q;
  assign fire     = meta_valid && (h_zero || raw_valid) && (!(h_zero || h_last) || out_ready);
  assign meta_pop = fire;
  assign raw_pop  = fire && !h_zero;
  assign out_push = fire && (h_zero || h_last);

  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      if (h_zero) begin
        out_data[32*l +: 32] = 32'd0;
      end else if (h_gather) begin
        out_data[32*l +: 32] = (LB'(l) == h_lane) ? raw[31:0] : asm_q[32*l +: 32];
      end else if ((LB+1)'(l) < h_n) begin
        out_data[32*l +: 32] = h_bcast ? raw[31:0] : raw[32*l +: 32];
      end else begin
        out_data[32*l +: 32] = 32'd0;
      end
    end
  end

  // Gather assembly: lanes received so far of the vector being gathered (others 0).
  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      asm_q <= '0;
    end else if (fire && h_gather && !h_zero) begin
      asm_q <= h_last ? '0 : out_data;
    end
  end

  logic [1:0] unused_out_count;
  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(2)
  ) u_out (
    .clk_i,
    .rst_ni,
    .clr_i,
    .in_valid_i (out_push),
    .in_ready_o (out_ready),
    .in_data_i  (out_data),
    .out_valid_o(vout_valid_o),
    .out_ready_i(vout_ready_i),
    .out_data_o (vout_data_o),
    .count_o    (unused_out_count)
  );

  assign done_o = gdone && (outstanding_q == '0) && !meta_valid && !raw_valid && !vout_valid_o;
endmodule
