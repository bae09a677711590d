// Pattern compute unit (docs/architecture.md sections 4.1 and 12): LANES x STAGES
// SIMD pipeline of binary32 operations, NREGS pipeline registers per lane per stage,
// PCU_VIN vector input FIFOs, one vector output. The lanes are rdu_pcu_lane instances
// (pipeline registers, operand selection, ALUs); this module holds the configuration,
// FIFOs, counters and valid pipeline.
//
// Fire rule: enabled, fired < count, every input of vin_mask holds a vector and the
// pipeline advances. Each stage is one register stage (latency STAGES, one vector
// per cycle); the whole pipeline stalls while the output is valid and not ready.
// Fields outside the ISA (the functional model does the same): an opcode other than
// MOV..ITOF is a NOP, a destination >= NREGS writes nothing, an operand source outside
// {REG0..REG(NREGS-1), IMM, LANE, ZERO} reads 0, an out_reg >= NREGS outputs zeros.
module rdu_pcu
  import rdu_cfg_pkg::*;
  import rdu_isa_pkg::*;
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

  // Vector operands and result.
  input  logic [PCU_VIN-1:0]  vin_valid_i,
  output logic [PCU_VIN-1:0]  vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i [PCU_VIN],
  output logic                vout_valid_o,
  input  logic                vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o,

  // Scalar and control ports: unused (outputs never valid, inputs always ready).
  input  logic                sin_valid_i,
  output logic                sin_ready_o,
  input  logic [31:0]         sin_data_i,
  output logic                sout_valid_o,
  input  logic                sout_ready_i,
  output logic [31:0]         sout_data_o,
  input  logic                cin_valid_i,
  output logic                cin_ready_o,
  input  logic [0:0]          cin_data_i,
  output logic                cout_valid_o,
  input  logic                cout_ready_i,
  output logic [0:0]          cout_data_o
);
  localparam int unsigned VW = LANES * 32;

  typedef logic [LANES-1:0][31:0] vec_t;    // lane l in bits 32*l+31 : 32*l

  // ---------------------------------------------------------------- configuration
  logic               en_q;
  logic [2:0]         out_reg_q;
  logic [PCU_VIN-1:0] vin_mask_q;
  logic [31:0]        count_q;
  logic [4:0]         op_q   [STAGES];
  logic [3:0]         srca_q [STAGES];
  logic [3:0]         srcb_q [STAGES];
  logic [3:0]         srcc_q [STAGES];
  logic [2:0]         dst_q  [STAGES];
  logic [31:0]        imm_q  [STAGES];

  logic cfg_sel;
  assign cfg_sel = cfg_we_i && (cfg_unit_i == 16'(UNIT_ID));

  always_ff @(posedge clk_i) begin
    if (!rst_ni || cfg_clear_i) begin
      en_q       <= 1'b0;
      out_reg_q  <= '0;
      vin_mask_q <= '0;
      count_q    <= '0;
    end else if (cfg_sel && cfg_word_i == 8'd0) begin
      en_q       <= cfg_data_i[0];
      out_reg_q  <= cfg_data_i[6:4];
      vin_mask_q <= cfg_data_i[8 +: PCU_VIN];
    end else if (cfg_sel && cfg_word_i == 8'd1) begin
      count_q    <= cfg_data_i;
    end
  end

  for (genvar s = 0; s < STAGES; s++) begin : g_stage_cfg
    always_ff @(posedge clk_i) begin
      if (!rst_ni || cfg_clear_i) begin
        op_q[s]   <= '0;
        srca_q[s] <= '0;
        srcb_q[s] <= '0;
        srcc_q[s] <= '0;
        dst_q[s]  <= '0;
        imm_q[s]  <= '0;
      end else if (cfg_sel && cfg_word_i == 8'(2 + 2 * s)) begin
        op_q[s]   <= cfg_data_i[4:0];
        srca_q[s] <= cfg_data_i[11:8];
        srcb_q[s] <= cfg_data_i[15:12];
        dst_q[s]  <= cfg_data_i[18:16];
        srcc_q[s] <= cfg_data_i[23:20];
      end else if (cfg_sel && cfg_word_i == 8'(3 + 2 * s)) begin
        imm_q[s]  <= cfg_data_i;
      end
    end
  end

  // ---------------------------------------------------------------- state
  logic              fire;       // a vector enters the pipeline
  logic              advance;    // the pipeline moves (output not stalled)
  logic [31:0]       fired_q, emitted_q;
  logic [STAGES-1:0] valid_q;

  // ---------------------------------------------------------------- input FIFOs
  // While run_i is low the FIFOs are held empty and refuse data (nothing is lost).
  logic               clr;
  logic [PCU_VIN-1:0] fifo_valid, fifo_pop, fifo_in_ready;
  vec_t               fifo_data [PCU_VIN];
  assign clr = !run_i;

  for (genvar k = 0; k < PCU_VIN; k++) begin : g_vin
    logic [$clog2(FIFO_DEPTH+1)-1:0] unused_count;
    rdu_fifo #(
      .WIDTH(VW),
      .DEPTH(FIFO_DEPTH)
    ) u_fifo (
      .clk_i,
      .rst_ni,
      .clr_i      (clr),
      .in_valid_i (vin_valid_i[k] && run_i),
      .in_ready_o (fifo_in_ready[k]),
      .in_data_i  (vin_data_i[k]),
      .out_valid_o(fifo_valid[k]),
      .out_ready_i(fifo_pop[k]),
      .out_data_o (fifo_data[k]),
      .count_o    (unused_count)
    );
    assign vin_ready_o[k] = fifo_in_ready[k] && run_i;
    assign fifo_pop[k]    = fire && vin_mask_q[k];
  end

  // ---------------------------------------------------------------- control
  assign advance = !(vout_valid_o && !vout_ready_i);
  assign fire    = run_i && en_q && (fired_q < count_q) && advance
                   && (&(fifo_valid | ~vin_mask_q));

  always_ff @(posedge clk_i) begin
    if (!rst_ni || !run_i) begin
      fired_q   <= '0;
      emitted_q <= '0;
    end else begin
      if (fire) fired_q <= fired_q + 32'd1;
      if (vout_valid_o && vout_ready_i) emitted_q <= emitted_q + 32'd1;
    end
  end

  assign done_o = !en_q || (emitted_q == count_q);

  // ---------------------------------------------------------------- pipeline
  // The lanes (rdu_pcu_lane) hold the pipeline registers and ALUs; this module keeps
  // the valid bits and the index i of the vector in each stage.
  logic [31:0] idx_in [STAGES];  // index i of the vector entering stage s
  logic [31:0] idx_q  [STAGES];

  assign idx_in[0] = fired_q;

  for (genvar s = 0; s < STAGES; s++) begin : g_stage
    if (s > 0) begin : g_link
      assign idx_in[s] = idx_q[s-1];
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni || !run_i) begin
        valid_q[s] <= 1'b0;
        idx_q[s]   <= '0;
      end else if (advance) begin
        valid_q[s] <= (s == 0) ? fire : valid_q[s-1];
        idx_q[s]   <= idx_in[s];
      end
    end
  end

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic [31:0] lane_in [NREGS];  // reg[k] = vin[k] for k in vin_mask, else 0
    for (genvar k = 0; k < NREGS; k++) begin : g_in
      if (k < PCU_VIN) begin : g_vin
        assign lane_in[k] = vin_mask_q[k] ? fifo_data[k][l] : '0;
      end else begin : g_zero
        assign lane_in[k] = '0;
      end
    end

    rdu_pcu_lane u_lane (
      .clk_i,
      .rst_ni,
      .clr_i    (clr),
      .advance_i(advance),
      .lane_i   (32'(l)),
      .op_i     (op_q),
      .srca_i   (srca_q),
      .srcb_i   (srcb_q),
      .srcc_i   (srcc_q),
      .dst_i    (dst_q),
      .imm_i    (imm_q),
      .out_reg_i(out_reg_q),
      .idx_i    (idx_in),
      .in_i     (lane_in),
      .out_o    (vout_data_o[32*l +: 32])
    );
  end

  assign vout_valid_o = valid_q[STAGES-1];

  // ---------------------------------------------------------------- scalar, control
  assign sin_ready_o  = 1'b1;
  assign sout_valid_o = 1'b0;
  assign sout_data_o  = '0;
  assign cin_ready_o  = 1'b1;
  assign cout_valid_o = 1'b0;
  assign cout_data_o  = '0;

  logic unused_ports;
  assign unused_ports = ^{sin_valid_i, sin_data_i, sout_ready_i, cin_valid_i, cin_data_i,
                          cout_ready_i};
endmodule
