// Test wrapper: every binary32 operation of the PCU on one operand pair (combinational),
// and the lane ALU (every opcode) on one operand triple.
module fp_tb_top (
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] add_o,
  output logic [31:0] sub_o,
  output logic [31:0] mul_o,
  output logic [31:0] max_o,
  output logic [31:0] min_o,
  input  logic [4:0]  op_i,
  input  logic [31:0] c_i,
  output logic [31:0] alu_o
);
  rdu_fp_add    u_add (.a_i, .b_i, .sub_i(1'b0), .r_o(add_o));
  rdu_fp_add    u_sub (.a_i, .b_i, .sub_i(1'b1), .r_o(sub_o));
  rdu_fp_mul    u_mul (.a_i, .b_i, .r_o(mul_o));
  rdu_fp_minmax u_max (.a_i, .b_i, .max_i(1'b1), .r_o(max_o));
  rdu_fp_minmax u_min (.a_i, .b_i, .max_i(1'b0), .r_o(min_o));
  rdu_pcu_alu   u_alu (.op_i, .a_i, .b_i, .c_i, .r_o(alu_o));
endmodule
