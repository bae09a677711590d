// Pattern compute unit (docs/architecture.md sections 4.1 and 12): LANES x STAGES
// SIMD pipeline of binary32 operations, NREGS pipeline registers per lane per stage,
// PCU_VIN vector input FIFOs, one vector output.
//
// Fire rule: enabled, fired < count, every input of vin_mask holds a vector and the
// pipeline advances. Each stage is one register stage (latency STAGES, one vector
// per cycle); the whole pipeline stalls while the output is valid and not ready.
// Fields outside the ISA (the functional model does the same): an opcode other than
// MOV..FMIN is a NOP, a destination >= NREGS writes nothing, an operand source outside
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
  localparam int unsigned RW = (NREGS > 1) ? $clog2(NREGS) : 1;
  localparam int unsigned VW = LANES * 32;

  typedef logic [LANES-1:0][31:0] vec_t;    // lane l in bits 32*l+31 : 32*l
  typedef vec_t [NREGS-1:0]        regs_t;   // the pipeline registers of one stage

  // ---------------------------------------------------------------- configuration
  logic               en_q;
  logic [2:0]         out_reg_q;
  logic [PCU_VIN-1:0] vin_mask_q;
  logic [31:0]        count_q;
  logic [4:0]         op_q   [STAGES];
  logic [3:0]         srca_q [STAGES];
  logic [3:0]         srcb_q [STAGES];
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
        dst_q[s]  <= '0;
        imm_q[s]  <= '0;
      end else if (cfg_sel && cfg_word_i == 8'(2 + 2 * s)) begin
        op_q[s]   <= cfg_data_i[4:0];
        srca_q[s] <= cfg_data_i[11:8];
        srcb_q[s] <= cfg_data_i[15:12];
        dst_q[s]  <= cfg_data_i[18:16];
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
  regs_t       st_in  [STAGES];  // registers entering stage s
  regs_t       st_out [STAGES];  // registers leaving stage s (next value of pr_q[s])
  logic [31:0] idx_in [STAGES];  // index i of the vector entering stage s
  regs_t       pr_q   [STAGES];
  logic [31:0] idx_q  [STAGES];

  always_comb begin
    st_in[0] = '0;
    for (int k = 0; k < PCU_VIN; k++) begin
      if (k < NREGS && vin_mask_q[k]) st_in[0][k] = fifo_data[k];
    end
  end
  assign idx_in[0] = fired_q;

  for (genvar s = 0; s < STAGES; s++) begin : g_stage
    if (s > 0) begin : g_link
      assign st_in[s]  = pr_q[s-1];
      assign idx_in[s] = idx_q[s-1];
    end

    vec_t res;
    logic we;  // the opcode produces a result (MOV..FMIN)
    always_comb begin
      unique case (op_q[s])
        OP_MOV, OP_FADD, OP_FSUB, OP_FMUL, OP_FMAX, OP_FMIN: we = 1'b1;
        default:                                              we = 1'b0;
      endcase
    end
    for (genvar l = 0; l < LANES; l++) begin : g_lane
      logic [31:0] a, b, lane_idx;
      assign lane_idx = idx_in[s] * 32'(LANES) + 32'(l);

      always_comb begin
        if (srca_q[s] < 4'(NREGS)) begin
          a = st_in[s][srca_q[s][RW-1:0]][l];
        end else begin
          unique case (srca_q[s])
            SRC_IMM:  a = imm_q[s];
            SRC_LANE: a = lane_idx;
            default:  a = '0;
          endcase
        end
        if (srcb_q[s] < 4'(NREGS)) begin
          b = st_in[s][srcb_q[s][RW-1:0]][l];
        end else begin
          unique case (srcb_q[s])
            SRC_IMM:  b = imm_q[s];
            SRC_LANE: b = lane_idx;
            default:  b = '0;
          endcase
        end
      end

      rdu_pcu_alu u_alu (
        .op_i(op_q[s]),
        .a_i (a),
        .b_i (b),
        .r_o (res[l])
      );
    end

    always_comb begin
      st_out[s] = st_in[s];
      if (we && dst_q[s] < 3'(NREGS)) st_out[s][dst_q[s][RW-1:0]] = res;
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni || !run_i) begin
        valid_q[s] <= 1'b0;
        pr_q[s]    <= '0;
        idx_q[s]   <= '0;
      end else if (advance) begin
        valid_q[s] <= (s == 0) ? fire : valid_q[s-1];
        pr_q[s]    <= st_out[s];
        idx_q[s]   <= idx_in[s];
      end
    end
  end

  assign vout_valid_o = valid_q[STAGES-1];
  assign vout_data_o  = (out_reg_q < 3'(NREGS)) ? pr_q[STAGES-1][out_reg_q[RW-1:0]] : '0;

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
