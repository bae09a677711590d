// Memory arbiter of the core (docs/architecture.md section 5): round-robin between N
// requesters (0 = configuration controller, 1 + k = AGCU k) onto the core's one memory
// port. Requesters give global ids (0 config, 1 + 3*k + sid stream sid of AGCU k);
// responses are routed back by id. The grant holds while the granted requester waits
// for ready (requesters keep valid up until the transfer), and moves past the granted
// requester after each transfer.
module rdu_mem_arb
  import rdu_cfg_pkg::*;
#(
  parameter int unsigned N = 1 + NUM_AGCU
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  // requesters
  input  logic [N-1:0]        req_valid_i,
  output logic [N-1:0]        req_ready_o,
  input  logic [N-1:0]        req_we_i,
  input  logic [31:0]         req_addr_i  [N],
  input  logic [LANES*32-1:0] req_wdata_i [N],
  input  logic [LANES-1:0]    req_wmask_i [N],
  input  logic [7:0]          req_id_i    [N],
  // responses: rsp_valid_o[i] when the response belongs to requester i; data shared
  output logic [N-1:0]        rsp_valid_o,
  output logic [7:0]          rsp_id_o,
  output logic [LANES*32-1:0] rsp_rdata_o,
  output logic                rsp_err_o,
  // core memory port
  output logic                mem_req_valid_o,
  input  logic                mem_req_ready_i,
  output logic                mem_req_we_o,
  output logic [31:0]         mem_req_addr_o,
  output logic [LANES*32-1:0] mem_req_wdata_o,
  output logic [LANES-1:0]    mem_req_wmask_o,
  output logic [7:0]          mem_req_id_o,
  input  logic                mem_rsp_valid_i,
  output logic                mem_rsp_ready_o,
  input  logic [LANES*32-1:0] mem_rsp_rdata_i,
  input  logic [7:0]          mem_rsp_id_i,
  input  logic                mem_rsp_err_i
);
  localparam int unsigned PW = (N > 1) ? $clog2(N) : 1;

  logic [PW-1:0] ptr_q, ptr_d;
  logic [PW-1:0] gnt;
  logic          any;

  // First requesting index at or after ptr_q.
  always_comb begin
    gnt = ptr_q;
    any = 1'b0;
    for (int unsigned j = 0; j < N; j++) begin
      int unsigned idx;
      idx = 32'(ptr_q) + j;
      if (idx >= N) idx = idx - N;
      if (!any && req_valid_i[idx]) begin
        any = 1'b1;
        gnt = PW'(idx);
      end
    end
  end

  assign mem_req_valid_o = any;
  assign mem_req_we_o    = req_we_i[gnt];
  assign mem_req_addr_o  = req_addr_i[gnt];
  assign mem_req_wdata_o = req_wdata_i[gnt];
  assign mem_req_wmask_o = req_wmask_i[gnt];
  assign mem_req_id_o    = req_id_i[gnt];

  always_comb begin
    req_ready_o = '0;
    if (any) req_ready_o[gnt] = mem_req_ready_i;
  end

  always_comb begin
    ptr_d = ptr_q;
    if (any && mem_req_ready_i) ptr_d = (32'(gnt) == N - 1) ? '0 : gnt + PW'(1);
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) ptr_q <= '0;
    else         ptr_q <= ptr_d;
  end

  // Responses: id 0 to requester 0, ids 1+3k .. 3+3k to requester 1+k.
  assign mem_rsp_ready_o = 1'b1;
  assign rsp_id_o        = mem_rsp_id_i;
  assign rsp_rdata_o     = mem_rsp_rdata_i;
  assign rsp_err_o       = mem_rsp_err_i;
  assign rsp_valid_o[0]  = mem_rsp_valid_i && (mem_rsp_id_i == 8'd0);
  for (genvar k = 1; k < N; k++) begin : g_rsp
    assign rsp_valid_o[k] = mem_rsp_valid_i && (mem_rsp_id_i >= 8'(3 * k - 2)) &&
                            (mem_rsp_id_i <= 8'(3 * k));
  end
endmodule
