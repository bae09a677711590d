// Address generation and coalescing unit (`docs/bitstream.md` and `docs/hardware.md`):
// load streams ld0, ld1 (vout 0, 1) and store stream st0 (vin) sharing one memory
// port through a round-robin arbiter. Local stream ids on the port: 0 ld0, 1 ld1,
// 2 st0. A request, once valid, is held (same stream, same fields) until accepted.
// Control network: a stream with `tin` needs a credit per tile (an iteration of
// dimension 3; tok_init at the run's start, +1 for every token received); the store
// stream with `tout` sends a token once a tile's writes are all acknowledged.
module rdu_agcu
  import rdu_cfg_pkg::*;
  import rdu_bits_pkg::*;
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

  input  logic                cin_valid_i,
  output logic                cin_ready_o,
  input  logic                cin_data_i,
  output logic                cout_valid_o,
  input  logic                cout_ready_i,
  output logic                cout_data_o,

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
  localparam int unsigned NWORDS = AGCU_WORDS;
  localparam int unsigned SW     = AGCU_STREAM_WORDS;  // words per stream

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

  // Streams 0 ld0, 1 ld1, 2 st0; words and fields: configs/bitstream.yaml (rdu_bits_pkg).
  logic [31:0] scfg [3][SW];
  agcu_ctrl_t  sctrl [3];
  logic [2:0]  en, tin;
  logic [3:0]  tok_init [3];
  logic        tout;
  for (genvar s = 0; s < 3; s++) begin : g_scfg
    for (genvar w = 0; w < SW; w++) begin : g_word
      assign scfg[s][w] = cfg_q[AGCU_STREAM_BASE + SW*s + w];
    end
    assign sctrl[s]    = agcu_ctrl_t'(scfg[s][AGCU_STREAM_W_CTRL]);
    assign en[s]       = sctrl[s].enable;
    assign tin[s]      = sctrl[s].tin && sctrl[s].enable;
    assign tok_init[s] = sctrl[s].tok_init;
  end
  assign tout = sctrl[2].tout;  // tout of the load streams: ignored
  logic unused_ctrl;  // vdim: rdu_agcu_agen
  assign unused_ctrl = ^{sctrl[0].tout, sctrl[1].tout, sctrl[0].vdim, sctrl[1].vdim, sctrl[2].vdim,
                         agcu_ctrl_rsvd(sctrl[0]), agcu_ctrl_rsvd(sctrl[1]), agcu_ctrl_rsvd(sctrl[2])};

  logic clr;
  assign clr = !run_i;

  // ---------------------------------------------------------------- control
  // Credits per stream: tok_init in the run's first cycle (the configuration may be
  // written just before run_i rises), +1 per token accepted (every tin stream counts
  // every token), -1 when a tile's last request retires. Tokens are accepted while no
  // unfinished tin stream holds 255 credits (without tin they are dropped; a disabled
  // stream has no tin).
  logic       started_q, cin_take, tfull;
  logic [7:0] cred_r [3];
  logic [7:0] cred [3];
  logic [2:0] tile, cred_ok, cred_max, sdone;  // sdone: each stream is done
  logic       st_tok;
  logic [7:0] tpend_q;  // tokens waiting on cout
  for (genvar s = 0; s < 3; s++) begin : g_cred
    assign cred[s]     = started_q ? cred_r[s] : 8'(tok_init[s]);
    assign cred_ok[s]  = !tin[s] || (cred[s] != 8'd0);
    assign cred_max[s] = tin[s] && !sdone[s] && (cred[s] == 8'hFF);
  end
  assign cin_ready_o = run_i && !(|cred_max);
  assign cin_take    = cin_valid_i && cin_ready_o;
  assign tfull       = (tpend_q == 8'hFF);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      started_q <= 1'b0;
      for (int unsigned s = 0; s < 3; s++) cred_r[s] <= '0;
      tpend_q   <= '0;
    end else begin
      started_q <= 1'b1;
      for (int unsigned s = 0; s < 3; s++) begin
        cred_r[s] <= cred[s] + 8'(cin_take && tin[s]) - 8'(tile[s] && tin[s]);
      end
      tpend_q <= tpend_q + 8'(st_tok) - 8'(cout_valid_o && cout_ready_i);
    end
  end
  assign cout_valid_o = run_i && (tpend_q != 8'd0);
  assign cout_data_o  = 1'b1;
  logic unused_cin;
  assign unused_cin = cin_data_i;

  // ---------------------------------------------------------------- streams
  logic [2:0]          req_valid, accept;
  logic [31:0]         req_addr [3];
  logic [LANES-1:0]    st_mask;
  logic [LANES*32-1:0] st_data;

  for (genvar k = 0; k < 2; k++) begin : g_ld
    rdu_agcu_ld u_ld (
      .clk_i,
      .rst_ni,
      .clr_i       (clr),
      .active_i    (run_i && en[k] && cred_ok[k]),
      .cfg_i       (scfg[k]),
      .req_valid_o (req_valid[k]),
      .req_addr_o  (req_addr[k]),
      .req_accept_i(accept[k]),
      .rsp_valid_i (run_i && mem_rsp_valid_i && mem_rsp_sid_i == 2'(k)),
      .rsp_data_i  (mem_rsp_rdata_i),
      .vout_valid_o(vout_valid_o[k]),
      .vout_ready_i(vout_ready_i[k]),
      .vout_data_o (vout_data_o[k]),
      .tile_o      (tile[k]),
      .done_o      (sdone[k])
    );
  end

  logic st_vin_ready;
  rdu_agcu_st u_st (
    .clk_i,
    .rst_ni,
    .clr_i       (clr),
    .active_i    (run_i && en[2] && cred_ok[2] && !(tout && tfull)),
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
    .tout_i      (tout),
    .tile_o      (tile[2]),
    .tok_o       (st_tok),
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

  assign done_o = &(~en | sdone) && (tpend_q == 8'd0);
endmodule
