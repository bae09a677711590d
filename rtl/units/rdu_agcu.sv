// Address generation and coalescing unit (docs/architecture.md sections 4.3, 5, 12):
// load streams ld0, ld1 (vout 0, 1) and store stream st0 (vin) sharing one memory
// port through a round-robin arbiter. Local stream ids on the port: 0 ld0, 1 ld1,
// 2 st0. A request, once valid, is held (same stream, same fields) until accepted.
module rdu_agcu
  import rdu_cfg_pkg::*;
#(
  parameter int unsigned UNIT_ID = 0
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                cfg_clear_i,
  input  logic                cfg_we_i,
  input  logic [15:0]         cfg_unit_i,
  input  logic [7:0]          cfg_word_i,
  input  logic [31:0]         cfg_data_i,
  input  logic                run_i,
  output logic                done_o,
  output logic                err_o,

  input  logic                vin_valid_i,
  output logic                vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i,
  output logic [1:0]          vout_valid_o,
  input  logic [1:0]          vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o [2],

  output logic                mem_req_valid_o,
  input  logic                mem_req_ready_i,
  output logic                mem_req_we_o,
  output logic [31:0]         mem_req_addr_o,
  output logic [LANES*32-1:0] mem_req_wdata_o,
  output logic [LANES-1:0]    mem_req_wmask_o,
  output logic [1:0]          mem_req_sid_o,
  input  logic                mem_rsp_valid_i,
  input  logic [LANES*32-1:0] mem_rsp_rdata_i,
  input  logic [1:0]          mem_rsp_sid_i,
  input  logic                mem_rsp_err_i
);
  localparam int unsigned NWORDS = 39;
  localparam int unsigned SW     = 13;  // words per stream

  // ---------------------------------------------------------------- configuration
  logic [31:0] cfg_q [NWORDS];
  for (genvar w = 0; w < NWORDS; w++) begin : g_cfg
    always_ff @(posedge clk_i) begin
      if (!rst_ni || cfg_clear_i) begin
        cfg_q[w] <= '0;
      end else if (cfg_we_i && cfg_unit_i == 16'(UNIT_ID) && cfg_word_i == 8'(w)) begin
        cfg_q[w] <= cfg_data_i;
      end
    end
  end

  logic [31:0] scfg [3][SW];
  logic [2:0]  en;
  for (genvar s = 0; s < 3; s++) begin : g_scfg
    for (genvar w = 0; w < SW; w++) begin : g_word
      assign scfg[s][w] = cfg_q[SW*s + w];
    end
    assign en[s] = cfg_q[SW*s][0];
  end

  logic clr;
  assign clr = !run_i;

  // ---------------------------------------------------------------- streams
  logic [2:0]          req_valid, accept, sdone;
  logic [31:0]         req_addr [3];
  logic [LANES-1:0]    st_mask;
  logic [LANES*32-1:0] st_data;

  for (genvar k = 0; k < 2; k++) begin : g_ld
    rdu_agcu_ld u_ld (
      .clk_i,
      .rst_ni,
      .clr_i       (clr),
      .active_i    (run_i && en[k]),
      .cfg_i       (scfg[k]),
      .req_valid_o (req_valid[k]),
      .req_addr_o  (req_addr[k]),
      .req_accept_i(accept[k]),
      .rsp_valid_i (run_i && mem_rsp_valid_i && mem_rsp_sid_i == 2'(k)),
      .rsp_data_i  (mem_rsp_rdata_i),
      .vout_valid_o(vout_valid_o[k]),
      .vout_ready_i(vout_ready_i[k]),
      .vout_data_o (vout_data_o[k]),
      .done_o      (sdone[k])
    );
  end

  logic st_vin_ready;
  rdu_agcu_st u_st (
    .clk_i,
    .rst_ni,
    .clr_i       (clr),
    .active_i    (run_i && en[2]),
    .cfg_i       (scfg[2]),
    .vin_valid_i (vin_valid_i),
    .vin_ready_o (st_vin_ready),
    .vin_data_i  (vin_data_i),
    .req_valid_o (req_valid[2]),
    .req_addr_o  (req_addr[2]),
    .req_mask_o  (st_mask),
    .req_data_o  (st_data),
    .req_accept_i(accept[2]),
    .ack_i       (run_i && mem_rsp_valid_i && mem_rsp_sid_i == 2'd2),
    .done_o      (sdone[2])
  );
  assign vin_ready_o = st_vin_ready && run_i;

  // ---------------------------------------------------------------- arbiter
  // Round robin: the stream after the last granted one wins; a request that was not
  // accepted keeps the grant (lock) so the port sees a stable request.
  logic [1:0] last_q, grant_q, grant;
  logic       lock_q, any;

  // {found, winner}: the first requester after `last` in the order 0, 1, 2, 0, ...
  function automatic logic [2:0] rr_pick(logic [1:0] last, logic [2:0] req);
    logic [2:0] r;
    r = 3'b000;
    for (int unsigned j = 3; j >= 1; j--) begin
      logic [1:0] cand;
      cand = 2'((32'(last) + j) % 3);
      if (req[cand]) r = {1'b1, cand};
    end
    return r;
  endfunction

  logic [2:0] pick;
  assign pick  = rr_pick(last_q, req_valid);
  assign any   = lock_q || pick[2];
  assign grant = lock_q ? grant_q : pick[1:0];

  assign mem_req_valid_o = any;
  assign mem_req_sid_o   = grant;
  assign mem_req_we_o    = (grant == 2'd2);
  assign mem_req_addr_o  = req_addr[grant];
  assign mem_req_wdata_o = st_data;
  assign mem_req_wmask_o = (grant == 2'd2) ? st_mask : {LANES{1'b1}};

  for (genvar k = 0; k < 3; k++) begin : g_accept
    assign accept[k] = any && mem_req_ready_i && (grant == 2'(k));
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      last_q  <= 2'd2;
      grant_q <= '0;
      lock_q  <= 1'b0;
    end else if (any) begin
      grant_q <= grant;
      lock_q  <= !mem_req_ready_i;
      if (mem_req_ready_i) last_q <= grant;
    end
  end

  // ---------------------------------------------------------------- status
  logic err_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      err_q <= 1'b0;
    end else if (mem_rsp_valid_i && mem_rsp_err_i) begin
      err_q <= 1'b1;
    end
  end
  assign err_o = err_q;

  assign done_o = &(~en | sdone);
endmodule
