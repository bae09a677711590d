// Memory arbiter of the core (`docs/hardware.md` ("Memory ports")): N requesters (0 =
// configuration controller, 1 + k = AGCU k) onto the core's P memory ports. Requester
// 0 uses port 0 and AGCU k port k mod P, so every requester's responses come back in
// its request order. Each port has its own round-robin arbiter among its requesters.
// Requesters give global ids (0 config, 1 + 3*k + sid stream sid of AGCU k); responses
// are routed back by id. The grant holds while the granted requester waits for ready
// (requesters keep valid up until the transfer), and moves past the granted requester
// after each transfer. Port p's fields are slice p of the packed port signals.
module rdu_mem_arb
  import rdu_cfg_pkg::*;
#(
  parameter int unsigned N = 1 + NUM_AGCU,
  parameter int unsigned P = MEM_PORTS
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  // requesters
  input  logic [N-1:0]          req_valid_i,
  output logic [N-1:0]          req_ready_o,
  input  logic [N-1:0]          req_we_i,
  input  logic [31:0]           req_addr_i  [N],
  input  logic [LANES*32-1:0]   req_wdata_i [N],
  input  logic [LANES-1:0]      req_wmask_i [N],
  input  logic [7:0]            req_id_i    [N],
  // responses: rsp_valid_o[i] when a response belongs to requester i
  output logic [N-1:0]          rsp_valid_o,
  output logic [7:0]            rsp_id_o    [N],
  output logic [LANES*32-1:0]   rsp_rdata_o [N],
  output logic [N-1:0]          rsp_err_o,
  // core memory ports
  output logic [P-1:0]          mem_req_valid_o,
  input  logic [P-1:0]          mem_req_ready_i,
  output logic [P-1:0]          mem_req_we_o,
  output logic [P*32-1:0]       mem_req_addr_o,
  output logic [P*LANES*32-1:0] mem_req_wdata_o,
  output logic [P*LANES-1:0]    mem_req_wmask_o,
  output logic [P*8-1:0]        mem_req_id_o,
  input  logic [P-1:0]          mem_rsp_valid_i,
  output logic [P-1:0]          mem_rsp_ready_o,
  input  logic [P*LANES*32-1:0] mem_rsp_rdata_i,
  input  logic [P*8-1:0]        mem_rsp_id_i,
  input  logic [P-1:0]          mem_rsp_err_i
);
  localparam int unsigned PW = (N > 1) ? $clog2(N) : 1;
  localparam int unsigned VW = LANES * 32;

  // Port of requester i.
  function automatic int unsigned port_of(int unsigned i);
    return (i == 0) ? 0 : (i - 1) % P;
  endfunction

  logic [PW-1:0] ptr_q [P];
  logic [PW-1:0] ptr_d [P];
  logic [PW-1:0] gnt   [P];
  logic [P-1:0]  any;

  // Per port: the first requesting index of this port at or after ptr_q.
  always_comb begin
    for (int unsigned p = 0; p < P; p++) begin
      gnt[p] = ptr_q[p];
      any[p] = 1'b0;
      for (int unsigned j = 0; j < N; j++) begin
        int unsigned idx;
        idx = 32'(ptr_q[p]) + j;
        if (idx >= N) idx = idx - N;
        if (!any[p] && port_of(idx) == p && req_valid_i[idx]) begin
          any[p] = 1'b1;
          gnt[p] = PW'(idx);
        end
      end
    end
  end

  for (genvar p = 0; p < P; p++) begin : g_port
    assign mem_req_valid_o[p]            = any[p];
    assign mem_req_we_o[p]               = req_we_i[gnt[p]];
    assign mem_req_addr_o[32*p +: 32]    = req_addr_i[gnt[p]];
    assign mem_req_wdata_o[VW*p +: VW]   = req_wdata_i[gnt[p]];
    assign mem_req_wmask_o[LANES*p +: LANES] = req_wmask_i[gnt[p]];
    assign mem_req_id_o[8*p +: 8]        = req_id_i[gnt[p]];
    assign mem_rsp_ready_o[p]            = 1'b1;

    always_comb begin
      ptr_d[p] = ptr_q[p];
      if (any[p] && mem_req_ready_i[p]) ptr_d[p] = (32'(gnt[p]) == N - 1) ? '0 : gnt[p] + PW'(1);
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni) ptr_q[p] <= '0;
      else         ptr_q[p] <= ptr_d[p];
    end
  end

  always_comb begin
    req_ready_o = '0;
    for (int unsigned p = 0; p < P; p++) begin
      if (any[p]) req_ready_o[gnt[p]] = mem_req_ready_i[p];
    end
  end

  // Responses of port port_of(i): id 0 to requester 0, ids 1+3k .. 3+3k to requester 1+k.
  for (genvar i = 0; i < N; i++) begin : g_rsp
    localparam int unsigned PI = port_of(i);
    logic [7:0] id;
    assign id             = mem_rsp_id_i[8*PI +: 8];
    assign rsp_id_o[i]    = id;
    assign rsp_rdata_o[i] = mem_rsp_rdata_i[VW*PI +: VW];
    assign rsp_err_o[i]   = mem_rsp_err_i[PI];
    if (i == 0) begin : g_cc
      assign rsp_valid_o[i] = mem_rsp_valid_i[PI] && (id == 8'd0);
    end else begin : g_agcu
      assign rsp_valid_o[i] = mem_rsp_valid_i[PI] && (id >= 8'(3 * i - 2)) && (id <= 8'(3 * i));
    end
  end
endmodule
