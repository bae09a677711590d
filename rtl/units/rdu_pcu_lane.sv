// One lane of a PCU through all STAGES (`docs/bitstream.md` ("PCU configuration")): the lane's
// NREGS pipeline registers per stage, the operand selection and the ALU of each stage,
// and each stage's accumulator and drain register. rdu_pcu holds the configuration,
// FIFOs, counters, the valid pipeline, the broadcast-lane selection and the reduction
// tree, and instantiates LANES of these. The lane number is a port, not a parameter, so
// all lanes of all PCUs are one Verilated class (not inlined: rtl/build.vlt) working on
// 32-bit words instead of the PCU's LANES*32-bit vectors.
//
// Fields outside the ISA as in rdu_pcu: an opcode other than MOV..ITOF writes no
// register, a destination >= NREGS writes nothing, an operand source outside
// {REG0.., BREG0.., IMM, LANE, ZERO, ACC, CTR0..2, TAIL} (or a REG/BREG >= NREGS) reads 0, an
// out_reg >= NREGS outputs 0. The accumulator and the drain register take the ALU
// result whatever the opcode (NOP: A).
module rdu_pcu_lane
  import rdu_cfg_pkg::*;
  import rdu_isa_pkg::*;
(
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        clr_i,              // registers to 0 (run_i low)
  input  logic [STAGES-1:0] load_i,       // pipeline register of stage s loads
  input  logic [STAGES-1:0] acc_we_i,     // stage s's accumulator takes its result
  input  logic [STAGES-1:0] snap_i,       // stage s's drain register takes its result
  input  logic [STAGES-1:0] use_init_i,   // ACC of stage s reads acc_init_i
  input  logic [31:0] lane_i,             // this lane's number (0..LANES-1)

  // Not traced (copies of rdu_pcu's configuration registers, idx_in and lane_in, per lane):
  // verilator tracing_off
  // Configuration of each stage.
  input  logic [4:0]  op_i   [STAGES],
  input  logic [3:0]  srca_i [STAGES],
  input  logic [3:0]  srcb_i [STAGES],
  input  logic [3:0]  srcc_i [STAGES],
  input  logic [2:0]  dst_i  [STAGES],
  input  logic [31:0] imm_i  [STAGES],
  input  logic [2:0]  out_reg_i,
  input  logic        out_mode_i,         // 1: out_o is the drain register of stage dsel_i
  input  logic [31:0] acc_init_i,
  input  logic [$clog2(STAGES)-1:0] dsel_i,

  input  logic [31:0] idx_i  [STAGES],    // index i of the vector entering each stage
  input  logic [31:0] ctr_i  [STAGES][3], // counter values of that vector (0: lane 0's)
  input  logic [31:0] stride0_i,          // counter 0's stride (lane l: ctr0 + stride0*l)
  input  logic [31:0] max0_i,             // counter 0's max (TAIL: lanes below it)
  input  logic [31:0] in_i   [NREGS],     // this lane's registers entering stage 0
  input  logic [31:0] bc_i   [STAGES][NREGS],  // BREGk of each stage (lane bl of the regs)
  // verilator tracing_on
  output logic [31:0] regs_o [STAGES-1][NREGS],  // pipeline registers feeding stages 1..
  output logic [31:0] out_o               // output candidate (reg[out_reg] or drain)
);
  localparam int unsigned RW = (NREGS > 1) ? $clog2(NREGS) : 1;

  logic [31:0] pr_q    [STAGES][NREGS];   // traced: the pipeline registers
  logic [31:0] acc_q   [STAGES];          // traced: the accumulators
  logic [31:0] drain_q [STAGES];          // traced: the drain registers

  // Operand source: a register, a broadcast register, the immediate, the lane index,
  // the accumulator, a counter, the tail mask or 0 (outside the ISA).
  function automatic logic [31:0] operand(logic [3:0] src, logic [31:0] regs [NREGS],
                                          logic [31:0] bc [NREGS], logic [31:0] imm,
                                          logic [31:0] lane_idx, logic [31:0] acc,
                                          logic [31:0] ctr0, logic [31:0] ctr1,
                                          logic [31:0] ctr2, logic [31:0] tail);
    if (src < 4'(NREGS)) return regs[src[RW-1:0]];
    if (src >= SRC_BREG0 && src <= SRC_BREG3 && (src - SRC_BREG0) < 4'(NREGS))
      return bc[RW'(src - SRC_BREG0)];
    unique case (src)
      SRC_IMM:  return imm;
      SRC_LANE: return lane_idx;
      SRC_ACC:  return acc;
      SRC_CTR0: return ctr0;
      SRC_CTR1: return ctr1;
      SRC_CTR2: return ctr2;
      SRC_TAIL: return tail;
      default:  return '0;
    endcase
  endfunction
  // verilator tracing_off
  logic [31:0] st_in  [STAGES][NREGS];    // registers entering stage s (in_i, pr_q[s-1])
  logic [31:0] st_out [STAGES][NREGS];    // registers leaving stage s (next pr_q[s])
  // verilator tracing_on

  logic [31:0] ctr0_off;                  // this lane's offset in counter 0: stride0 * lane
  assign ctr0_off = stride0_i * lane_i;

  for (genvar s = 0; s < STAGES; s++) begin : g_stage
    if (s == 0) begin : g_first
      assign st_in[s] = in_i;
    end else begin : g_link
      assign st_in[s] = pr_q[s-1];
      assign regs_o[s-1] = pr_q[s-1];
    end

    logic [31:0] a, b, c, res, lane_idx, acc;
    logic [31:0] ctr0, tail;  // this lane's CTR0 and TAIL
    logic        we;  // the opcode produces a result (MOV..ITOF)

    assign we = (op_i[s] != OP_NOP) && (op_i[s] <= OP_ITOF);

    assign lane_idx = idx_i[s] * 32'(LANES) + lane_i;
    assign acc      = use_init_i[s] ? acc_init_i : acc_q[s];
    assign ctr0     = ctr_i[s][0] + ctr0_off;
    assign tail     = ($signed(ctr0) < $signed(max0_i)) ? 32'h3F80_0000 : '0;

    assign a = operand(srca_i[s], st_in[s], bc_i[s], imm_i[s], lane_idx, acc,
                       ctr0, ctr_i[s][1], ctr_i[s][2], tail);
    assign b = operand(srcb_i[s], st_in[s], bc_i[s], imm_i[s], lane_idx, acc,
                       ctr0, ctr_i[s][1], ctr_i[s][2], tail);
    assign c = operand(srcc_i[s], st_in[s], bc_i[s], imm_i[s], lane_idx, acc,
                       ctr0, ctr_i[s][1], ctr_i[s][2], tail);

    rdu_pcu_alu u_alu (
      .op_i(op_i[s]),
      .a_i (a),
      .b_i (b),
      .c_i (c),
      .r_o (res)
    );

    always_comb begin
      st_out[s] = st_in[s];
      if (we && dst_i[s] < 3'(NREGS)) st_out[s][dst_i[s][RW-1:0]] = res;
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni || clr_i) begin
        pr_q[s]    <= '{default: '0};
        acc_q[s]   <= '0;
        drain_q[s] <= '0;
      end else begin
        if (load_i[s])   pr_q[s]    <= st_out[s];
        if (acc_we_i[s]) acc_q[s]   <= res;
        if (snap_i[s])   drain_q[s] <= res;
      end
    end
  end

  always_comb begin
    if (out_mode_i)                   out_o = drain_q[dsel_i];
    else if (out_reg_i < 3'(NREGS))   out_o = pr_q[STAGES-1][out_reg_i[RW-1:0]];
    else                              out_o = '0;
  end
endmodule
