// AGCU store stream: takes one vector per step from its input FIFO and issues a write
// of LANES words with the valid lanes as word mask; counts the acknowledgements.
module rdu_agcu_st
  import rdu_cfg_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,
  input  logic                active_i,
  input  logic [31:0]         cfg_i [7],

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
  localparam int unsigned ICW = $clog2(FIFO_DEPTH + 1);

  logic gdone, in_valid;
  logic [ICW-1:0] unused_count;
  logic unused_cfg;
  assign unused_cfg = ^cfg_i[0][31:2] ^ cfg_i[0][0];

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
    .out_ready_i(req_accept_i),
    .out_data_o (req_data_o),
    .count_o    (unused_count)
  );

  rdu_agcu_agen u_agen (
    .clk_i,
    .rst_ni,
    .clr_i,
    .bcast_i(cfg_i[0][1]),
    .base_i (cfg_i[1]),
    .inner_i(cfg_i[2]),
    .c1_i   (cfg_i[3]),
    .s1_i   (cfg_i[4]),
    .c2_i   (cfg_i[5]),
    .s2_i   (cfg_i[6]),
    .step_i (req_accept_i),
    .addr_o (req_addr_o),
    .mask_o (req_mask_o),
    .done_o (gdone)
  );

  assign req_valid_o = active_i && !gdone && in_valid;

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
