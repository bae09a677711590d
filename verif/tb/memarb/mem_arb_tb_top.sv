// Testbench top: rdu_mem_arb with the configuration controller and four AGCUs (N = 5)
// on two memory ports (P = 2), whatever the configuration's MEM_PORTS: the multi-port
// arbiter of `small` checked on tiny's lanes.
module mem_arb_tb_top
  import rdu_cfg_pkg::*;
(
  input  logic                    clk_i,
  input  logic                    rst_ni,
  input  logic [4:0]              req_valid_i,
  output logic [4:0]              req_ready_o,
  input  logic [4:0]              req_we_i,
  input  logic [31:0]             req_addr_i  [5],
  input  logic [LANES*32-1:0]     req_wdata_i [5],
  input  logic [LANES-1:0]        req_wmask_i [5],
  input  logic [7:0]              req_id_i    [5],
  output logic [4:0]              rsp_valid_o,
  output logic [7:0]              rsp_id_o    [5],
  output logic [LANES*32-1:0]     rsp_rdata_o [5],
  output logic [4:0]              rsp_err_o,
  output logic [1:0]              mem_req_valid_o,
  input  logic [1:0]              mem_req_ready_i,
  output logic [1:0]              mem_req_we_o,
  output logic [2*32-1:0]         mem_req_addr_o,
  output logic [2*LANES*32-1:0]   mem_req_wdata_o,
  output logic [2*LANES-1:0]      mem_req_wmask_o,
  output logic [2*8-1:0]          mem_req_id_o,
  input  logic [1:0]              mem_rsp_valid_i,
  output logic [1:0]              mem_rsp_ready_o,
  input  logic [2*LANES*32-1:0]   mem_rsp_rdata_i,
  input  logic [2*8-1:0]          mem_rsp_id_i,
  input  logic [1:0]              mem_rsp_err_i
);
  rdu_mem_arb #(.N(5), .P(2)) u_arb (.*);
endmodule
