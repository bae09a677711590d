// Pattern compute unit (`docs/bitstream.md` and `docs/hardware.md`): LANES x STAGES
// SIMD pipeline of binary32 operations, NREGS pipeline registers per lane per stage,
// a per-lane accumulator and drain register per stage, PCU_VIN vector input FIFOs,
// a cross-lane reduction tree and one output register. The lanes are rdu_pcu_lane
// instances (pipeline registers, operand selection, ALUs, accumulators); this module
// holds the configuration, FIFOs, counters, valid pipeline, broadcast-lane selection,
// drain sequencing and the reduction tree (rdu_pcu_rnode).
//
// Fire rule: enabled, fired < count, every input of vin_mask holds a vector and stage
// 0 can take it. The stages form an elastic pipeline: stage s's register loads when it
// is empty or its vector moves on; a vector moves from stage s's input into its
// register unless it must snapshot (accumulator mode, last firing of a group, stage
// with acc) into a drain register still holding a value not yet emitted (then it waits,
// later stages keep moving). Stream mode: the last stage feeds the output register
// (through the reduction tree) whenever that is empty or being emptied. Accumulator
// mode: the drain registers of the acc stages are emitted in stage order, one per
// cycle, into the output register; the last stage's registers are dropped. Drain
// chain (accumulator mode, chain != 0): after each group's last drain value the next
// `chain` vectors of input CH = PCU_VIN-1 go to the output unchanged (no reduction),
// then the next group's drain values; input CH is then not a firing operand.
// Latency: FIFO 1 cycle + STAGES + 1 (output register); N firings in stream mode
// take N + STAGES + 2 cycles from the first vector offered to the last output valid.
// Fields outside the ISA (the functional model does the same): an opcode other than
// MOV..ITOF is a NOP, a destination >= NREGS writes nothing, an operand source outside
// {REG0.., BREG0.., IMM, LANE, ZERO, ACC, CTR0..2, TAIL} (or REGk/BREGk with k >= NREGS)
// reads 0, an out_reg >= NREGS outputs zeros.
// Counter chain: three nested counters (min, max, stride; counter 0 innermost and
// vectorised by LANES) step with the firings; their values enter the pipeline with each
// vector (sources CTR0..CTR2, TAIL: the ragged-tail mask of counter 0).
module rdu_pcu
  import rdu_cfg_pkg::*;
  import rdu_isa_pkg::*;
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

  // Vector operands and result.
  input  logic [PCU_VIN-1:0]  vin_valid_i,
  output logic [PCU_VIN-1:0]  vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i [PCU_VIN],
  output logic                vout_valid_o,
  input  logic                vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o,

  // Scalar and control ports (section 4.1, scalar and control): a scalar per group in
  // (stages with simm read it), lane 0 of every output out; a token or credit per group
  // in, a token per finished group out.
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
  localparam int unsigned VW     = LANES * 32;
  localparam int unsigned DW     = (STAGES > 1) ? $clog2(STAGES) : 1;
  localparam int unsigned LEVELS = (LANES > 1) ? $clog2(LANES) : 0;
  localparam int unsigned CH     = PCU_VIN - 1;  // drain chain input
  localparam int unsigned NCTR   = PCU_CTR_N;    // counters of the counter chain
  localparam int unsigned CW0    = pcu_ctr_base(STAGES);  // word of counter 0's min

  typedef logic [LANES-1:0][31:0] vec_t;    // lane l in bits 32*l+31 : 32*l

  // ---------------------------------------------------------------- configuration
  logic               en_q;
  logic [2:0]         out_reg_q;
  logic [PCU_VIN-1:0] vin_mask_q;
  logic               out_mode_q;
  logic [1:0]         reduce_q;
  logic [7:0]         chain_q;
  logic               sin_q, sout_q, tin_q, tout_q;  // scalar in/out, control in/out
  logic [3:0]         tok_init_q;                    // initial credits (tin)
  logic [31:0]        count_q, acc_len_q, acc_init_q;
  logic [4:0]         op_q   [STAGES];
  logic [3:0]         srca_q [STAGES];
  logic [3:0]         srcb_q [STAGES];
  logic [3:0]         srcc_q [STAGES];
  logic [2:0]         dst_q  [STAGES];
  logic [3:0]         bl_q   [STAGES];
  logic [STAGES-1:0]  accf_q;
  logic [STAGES-1:0]  simm_q;     // the stage's IMM reads the group's scalar input
  logic [31:0]        imm_q  [STAGES];
  logic [31:0]        cmin_q [NCTR];    // counter chain: min, max, stride of counter k
  logic [31:0]        cmax_q [NCTR];
  logic [31:0]        cstr_q [NCTR];

  // Configuration words and fields: configs/bitstream.yaml (rdu_bits_pkg).
  logic       cfg_sel;
  pcu_ctrl_t  cfg_ctrl;
  pcu_op_t    cfg_op;
  logic       unused_cfg_rsvd;
  assign cfg_sel  = cfg_we_i && (cfg_unit_i == 16'(UNIT_ID));
  assign cfg_ctrl = pcu_ctrl_t'(cfg_data_i);
  assign cfg_op   = pcu_op_t'(cfg_data_i);
  assign unused_cfg_rsvd = pcu_ctrl_rsvd(cfg_ctrl) ^ pcu_op_rsvd(cfg_op);

  // Clock gate (rtl/prim/rdu_icg.sv): a PCU that is not enabled (unconfigured, or a
  // program that does not use it) holds every register once run_i's edge has been
  // taken, as long as no configuration word for it and no input arrives. Its clock, the
  // lanes' and the FIFOs' then stop, and Verilator skips their logic.
  logic gclk;
  logic started_q;  // run_i has been high for a cycle (see "state")
  rdu_icg u_icg (
    .clk_i,
    .en_i (!rst_ni || cfg_sel || cfg_clear_i || en_q || (run_i != started_q) || (|vin_valid_i)
           || sin_valid_i || cin_valid_i),
    .clk_o(gclk)
  );

  always_ff @(posedge gclk) begin
    if (!rst_ni || cfg_clear_i) begin
      en_q       <= 1'b0;
      out_reg_q  <= '0;
      vin_mask_q <= '0;
      out_mode_q <= 1'b0;
      reduce_q   <= '0;
      chain_q    <= '0;
      sin_q      <= 1'b0;
      sout_q     <= 1'b0;
      tin_q      <= 1'b0;
      tout_q     <= 1'b0;
      tok_init_q <= '0;
      count_q    <= '0;
      acc_len_q  <= '0;
      acc_init_q <= '0;
    end else if (cfg_sel && cfg_word_i == 8'(PCU_HEAD_BASE + PCU_HEAD_W_CTRL)) begin
      en_q       <= cfg_ctrl.enable;
      out_reg_q  <= cfg_ctrl.out_reg;
      vin_mask_q <= cfg_ctrl.vin_mask;
      out_mode_q <= cfg_ctrl.out_mode;
      reduce_q   <= cfg_ctrl.reduce;
      chain_q    <= cfg_ctrl.chain;
      sin_q      <= cfg_ctrl.sin;
      sout_q     <= cfg_ctrl.sout;
      tin_q      <= cfg_ctrl.tin;
      tout_q     <= cfg_ctrl.tout;
      tok_init_q <= cfg_ctrl.tok_init;
    end else if (cfg_sel && cfg_word_i == 8'(PCU_HEAD_BASE + PCU_HEAD_W_COUNT)) begin
      count_q    <= cfg_data_i;
    end else if (cfg_sel && cfg_word_i == 8'(PCU_HEAD_BASE + PCU_HEAD_W_ACC_LEN)) begin
      acc_len_q  <= cfg_data_i;
    end else if (cfg_sel && cfg_word_i == 8'(PCU_HEAD_BASE + PCU_HEAD_W_ACC_INIT)) begin
      acc_init_q <= cfg_data_i;
    end
  end

  for (genvar s = 0; s < STAGES; s++) begin : g_stage_cfg
    localparam int unsigned SW0 = PCU_STAGE_BASE + PCU_STAGE_WORDS * s;  // stage s's first word
    always_ff @(posedge gclk) begin
      if (!rst_ni || cfg_clear_i) begin
        op_q[s]   <= '0;
        srca_q[s] <= '0;
        srcb_q[s] <= '0;
        srcc_q[s] <= '0;
        dst_q[s]  <= '0;
        bl_q[s]   <= '0;
        accf_q[s] <= 1'b0;
        simm_q[s] <= 1'b0;
        imm_q[s]  <= '0;
      end else if (cfg_sel && cfg_word_i == 8'(SW0 + PCU_STAGE_W_OP)) begin
        op_q[s]   <= cfg_op.op;
        srca_q[s] <= cfg_op.src_a;
        srcb_q[s] <= cfg_op.src_b;
        dst_q[s]  <= cfg_op.dst;
        srcc_q[s] <= cfg_op.src_c;
        bl_q[s]   <= cfg_op.bl;
        accf_q[s] <= cfg_op.acc;
        simm_q[s] <= cfg_op.simm;
      end else if (cfg_sel && cfg_word_i == 8'(SW0 + PCU_STAGE_W_IMM)) begin
        imm_q[s]  <= cfg_data_i;
      end
    end
  end

  for (genvar k = 0; k < NCTR; k++) begin : g_ctr_cfg
    always_ff @(posedge gclk) begin
      if (!rst_ni || cfg_clear_i) begin
        cmin_q[k] <= '0;
        cmax_q[k] <= '0;
        cstr_q[k] <= '0;
      end else if (cfg_sel && cfg_word_i == 8'(CW0 + PCU_CTR_WORDS * k + PCU_CTR_W_MIN)) begin
        cmin_q[k] <= cfg_data_i;
      end else if (cfg_sel && cfg_word_i == 8'(CW0 + PCU_CTR_WORDS * k + PCU_CTR_W_MAX)) begin
        cmax_q[k] <= cfg_data_i;
      end else if (cfg_sel && cfg_word_i == 8'(CW0 + PCU_CTR_WORDS * k + PCU_CTR_W_STRIDE)) begin
        cstr_q[k] <= cfg_data_i;
      end
    end
  end

  // ---------------------------------------------------------------- state
  logic              fire;         // a vector enters the pipeline
  logic              fire_req;     // a vector could enter (inputs present, count left)
  logic [31:0]       fired_q;
  logic [31:0]       pos_q;        // position of the next firing in its group
  logic [STAGES-1:0] valid_q, first_q, last_q;
  logic [STAGES-1:0] drain_valid_q;
  logic [DW-1:0]     dptr;         // next drain register to emit (dptr_r, or at the start dptr_first)
  logic [DW-1:0]     dptr_r;
  // started_q (declared with the clock gate): the state registers hold the run's
  // values, not yet their configuration-derived start
  logic              vpend_q;      // the output register's vector is still to be taken
  logic              spend_q;      // its lane 0 is still to be taken on the scalar output
  vec_t              out_q;

  // Drain chain: input CH is forwarded, not a firing operand.
  logic               chained;
  logic [PCU_VIN-1:0] mask;
  logic               fwd_active, fwd_pop;
  logic [7:0]         fwd_q;       // vectors of input CH still to forward
  assign chained = out_mode_q && (chain_q != 8'd0);
  assign mask    = chained ? (vin_mask_q & ~(PCU_VIN'(1) << CH)) : vin_mask_q;

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
      .clk_i(gclk),
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
    assign fifo_pop[k]    = (fire && mask[k]) || (k == CH && fwd_pop);
  end

  // ---------------------------------------------------------------- scalar, control in
  // Scalar input: a FIFO like the vector inputs; with sin, a group's first firing takes
  // one scalar, which the group's vectors carry down the pipeline (simm stages read it).
  // Control input: every token accepted adds a credit (tok_init at the start of the
  // run); with tin, a group's first firing takes one. Tokens are accepted while the
  // count is below 255. Without sin (tin), scalars (tokens) are accepted and dropped, as
  // in the PMU and AGCU: an input the program does not use cannot stall its sender.
  logic        sfifo_valid, sfifo_in_ready, grp_start;
  logic [31:0] sfifo_data, grp_scal_q;
  logic [7:0]  cred, cred_r;
  logic        cin_take;
  logic [$clog2(FIFO_DEPTH+1)-1:0] unused_scount;
  rdu_fifo #(
    .WIDTH(32),
    .DEPTH(FIFO_DEPTH)
  ) u_sfifo (
    .clk_i(gclk),
    .rst_ni,
    .clr_i      (clr),
    .in_valid_i (sin_valid_i && run_i && sin_q),
    .in_ready_o (sfifo_in_ready),
    .in_data_i  (sin_data_i),
    .out_valid_o(sfifo_valid),
    .out_ready_i(fire && first_f && sin_q),
    .out_data_o (sfifo_data),
    .count_o    (unused_scount)
  );
  assign sin_ready_o = run_i && (!sin_q || sfifo_in_ready);
  assign cred        = started_q ? cred_r : 8'(tok_init_q);
  // Once every firing is made (or without tin) tokens are accepted and dropped: a
  // producer that sends more than were needed never stalls on a finished consumer.
  assign cin_ready_o = run_i && (!tin_q || fired_q == count_q || cred != 8'hFF);
  assign cin_take    = cin_valid_i && cin_ready_o && tin_q && fired_q != count_q;
  assign grp_start   = (!sin_q || sfifo_valid) && (!tin_q || cred != 8'd0);

  // ---------------------------------------------------------------- control
  // Group position of the firing at stage 0's input: first (ACC reads acc_init) and
  // last (accumulator mode: snapshot into the drain registers) of its group.
  logic [31:0] alen;
  logic        grp_end, first_f, last_f;
  assign alen     = (acc_len_q == 32'd0) ? 32'd1 : acc_len_q;
  assign grp_end  = (pos_q == alen - 32'd1);
  assign first_f  = (pos_q == 32'd0);
  assign last_f   = grp_end || (fired_q == count_q - 32'd1);
  assign fire_req = run_i && en_q && (fired_q < count_q) && (&(fifo_valid | ~mask)) && (!first_f || grp_start);

  // Counter chain (section 4.1): ctr_cur holds the values of the next firing (counter 0:
  // lane 0's value); after each firing counter 0 steps by stride0*LANES, and a counter
  // that reaches its max (signed >=) returns to its min and steps the next one. At the
  // start of a run they are the mins (read from the configuration, not a reset value
  // taken while it may still be written).
  logic [31:0] ctr_cur [NCTR];
  logic [31:0] ctr_r   [NCTR];
  assign ctr_cur = started_q ? ctr_r : cmin_q;
  logic [31:0] ctr_nxt [NCTR];
  for (genvar k = 0; k < NCTR; k++) begin : g_ctr
    logic        step, wrap;  // counter k steps; its stepped value reaches max
    logic [31:0] inc;
    if (k == 0) begin : g_vec
      assign step = 1'b1;
      assign inc  = ctr_cur[k] + (cstr_q[k] << $clog2(LANES));
    end else begin : g_scalar
      assign step = g_ctr[k-1].step && g_ctr[k-1].wrap;
      assign inc  = ctr_cur[k] + cstr_q[k];
    end
    assign wrap       = $signed(inc) >= $signed(cmax_q[k]);
    assign ctr_nxt[k] = !step ? ctr_cur[k] : wrap ? cmin_q[k] : inc;
  end

  // The vector at the input of stage s.
  logic [STAGES-1:0] in_valid, in_first, in_last;
  logic [31:0]       idx_in [STAGES];  // index i of the vector entering stage s
  logic [31:0]       idx_q  [STAGES];
  logic [31:0]       ctr_in [STAGES][NCTR];  // counter values of the vector entering stage s
  logic [31:0]       ctr_sq [STAGES][NCTR];
  logic [31:0]       scal_in [STAGES];       // its group's scalar (0 without sin)
  logic [31:0]       scal_sq [STAGES];
  logic [31:0]       imm_eff [STAGES];       // what source IMM reads in stage s

  assign in_valid[0] = fire_req;
  assign in_first[0] = first_f;
  assign in_last[0]  = last_f;
  assign idx_in[0]   = fired_q;
  assign ctr_in[0]   = ctr_cur;
  assign scal_in[0]  = !sin_q ? '0 : first_f ? sfifo_data : grp_scal_q;
  for (genvar s = 1; s < STAGES; s++) begin : g_in
    assign in_valid[s] = valid_q[s-1];
    assign in_first[s] = first_q[s-1];
    assign in_last[s]  = last_q[s-1];
    assign idx_in[s]   = idx_q[s-1];
    assign ctr_in[s]   = ctr_sq[s-1];
    assign scal_in[s]  = scal_sq[s-1];
  end
  for (genvar s = 0; s < STAGES; s++) begin : g_imm
    assign imm_eff[s] = simm_q[s] ? scal_in[s] : imm_q[s];
  end

  // Drain sequencing (accumulator mode).
  logic              out_free, cand_valid, emit;
  logic [STAGES-1:0] snap_req, blocked, go, rdy, pass;
  logic [DW-1:0]     dptr_next, dptr_first;

  // The first acc stage after d (cyclically); d itself when it is the only one.
  function automatic logic [DW-1:0] next_acc(logic [DW-1:0] d, logic [STAGES-1:0] accf);
    logic [DW-1:0] r;
    r = d;
    for (int k = STAGES; k >= 1; k--) begin
      if (accf[(32'(d) + k) % STAGES]) r = DW'((32'(d) + k) % STAGES);
    end
    return r;
  endfunction

  // The last acc stage: its drain value ends a group's outputs.
  function automatic logic [DW-1:0] last_acc(logic [STAGES-1:0] accf);
    logic [DW-1:0] r;
    r = '0;
    for (int k = 0; k < STAGES; k++) begin
      if (accf[k]) r = DW'(k);
    end
    return r;
  endfunction

  assign dptr_next  = next_acc(dptr, accf_q);
  assign dptr_first = next_acc(DW'(STAGES - 1), accf_q);
  assign dptr       = started_q ? dptr_r : dptr_first;

  // Output register: free when every part still pending is taken this cycle (the vector
  // on vout; with sout, its lane 0 on sout) and a token for a finished group can be
  // counted (tout: at most 255 waiting).
  logic       tok_ev;    // a group's last output enters the output register
  logic [7:0] tpend_q;   // tokens waiting on cout
  assign out_free   = (!vpend_q || vout_ready_i) && (!spend_q || sout_ready_i) && !(tout_q && tpend_q == 8'hFF);
  assign fwd_active = (fwd_q != 8'd0);
  assign fwd_pop    = fwd_active && out_free && fifo_valid[CH];
  assign cand_valid = fwd_active ? fifo_valid[CH] : out_mode_q ? drain_valid_q[dptr] : valid_q[STAGES-1];
  assign emit       = out_free && out_mode_q && !fwd_active && drain_valid_q[dptr];
  assign snap_req   = {STAGES{out_mode_q}} & accf_q & in_valid & in_last;
  // A group's last output: stream mode, the group's last firing; accumulator mode, the
  // last acc stage's drain value, or with a drain chain the last forwarded vector.
  assign tok_ev     = tout_q && out_free &&
                      (!out_mode_q ? (valid_q[STAGES-1] && last_q[STAGES-1])
                                   : chained ? (fwd_pop && fwd_q == 8'd1)
                                             : (emit && dptr == last_acc(accf_q)));

  // Elastic pipeline: rdy[s] = stage s's register may load (it is empty or its vector
  // moves on); go[s] = the vector at stage s's input may pass (not blocked by a drain
  // register that still holds an unemitted value).
  always_comb begin
    for (int s = 0; s < STAGES; s++) begin
      blocked[s] = snap_req[s] && drain_valid_q[s] && !(emit && dptr == DW'(s));
    end
    rdy[STAGES-1] = !valid_q[STAGES-1] || out_mode_q || out_free;
    go[STAGES-1]  = rdy[STAGES-1] && !blocked[STAGES-1];
    for (int s = STAGES - 2; s >= 0; s--) begin
      rdy[s] = !valid_q[s] || go[s+1];
      go[s]  = rdy[s] && !blocked[s];
    end
  end

  assign pass = in_valid & go;
  assign fire = pass[0];

  always_ff @(posedge gclk) begin
    if (!rst_ni || !run_i) begin
      fired_q       <= '0;
      pos_q         <= '0;
      ctr_r         <= '{default: '0};
      started_q     <= 1'b0;
      drain_valid_q <= '0;
      dptr_r        <= '0;
      vpend_q       <= 1'b0;
      spend_q       <= 1'b0;
      fwd_q         <= '0;
      grp_scal_q    <= '0;
      cred_r        <= '0;
      tpend_q       <= '0;
    end else begin
      if (fire) begin
        fired_q <= fired_q + 32'd1;
        pos_q   <= grp_end ? 32'd0 : pos_q + 32'd1;
      end
      for (int s = 0; s < STAGES; s++) begin
        if (pass[s] && snap_req[s])           drain_valid_q[s] <= 1'b1;
        else if (emit && dptr == DW'(s))    drain_valid_q[s] <= 1'b0;
      end
      started_q <= 1'b1;
      ctr_r     <= fire ? ctr_nxt : ctr_cur;
      dptr_r    <= emit ? dptr_next : dptr;
      if (emit && chained && dptr == last_acc(accf_q)) fwd_q <= chain_q;
      else if (fwd_pop)                                  fwd_q <= fwd_q - 8'd1;
      if (out_free) begin
        vpend_q <= cand_valid;
        spend_q <= cand_valid && sout_q;
      end else begin
        vpend_q <= vpend_q && !vout_ready_i;
        spend_q <= spend_q && !sout_ready_i;
      end
      if (fire && first_f && sin_q) grp_scal_q <= sfifo_data;
      cred_r  <= cred + 8'(cin_take) - 8'(fire && first_f && tin_q);
      tpend_q <= tpend_q + 8'(tok_ev) - 8'(cout_valid_o && cout_ready_i);
    end
  end

  // Done: every output emitted. Stream mode: every firing left the output register.
  // Accumulator mode: no vector in the pipeline still to snapshot (the last firing of a
  // group before an acc stage), no drain value, nothing in the output register; with no
  // acc stage there are no outputs: done at once.
  logic [STAGES-1:0] acc_after, pending;
  always_comb begin
    acc_after[STAGES-1] = 1'b0;
    for (int s = STAGES - 2; s >= 0; s--) acc_after[s] = acc_after[s+1] || accf_q[s+1];
  end
  assign pending = valid_q & (out_mode_q ? (last_q & acc_after) : '1);
  assign done_o  = !en_q || (out_mode_q && accf_q == '0)
                   || ((fired_q == count_q) && !(|pending) && !(|drain_valid_q) && !vpend_q && !spend_q
                       && (tpend_q == 8'd0)
                       && !fwd_active);

  // ---------------------------------------------------------------- pipeline
  // The lanes (rdu_pcu_lane) hold the pipeline registers, ALUs and accumulators; this
  // module keeps the valid bits, group flags and the index i of the vector in each stage.
  for (genvar s = 0; s < STAGES; s++) begin : g_stage
    always_ff @(posedge gclk) begin
      if (!rst_ni || !run_i) begin
        valid_q[s] <= 1'b0;
        first_q[s] <= 1'b0;
        last_q[s]  <= 1'b0;
        idx_q[s]   <= '0;
        ctr_sq[s]  <= '{default: '0};
        scal_sq[s] <= '0;
      end else if (rdy[s]) begin
        valid_q[s] <= pass[s];
        first_q[s] <= in_first[s];
        last_q[s]  <= in_last[s];
        idx_q[s]   <= idx_in[s];
        ctr_sq[s]  <= ctr_in[s];
        scal_sq[s] <= scal_in[s];
      end
    end
  end

  logic [STAGES-1:0] acc_we, snap, use_init;
  assign acc_we   = pass & accf_q;
  assign snap     = pass & snap_req;
  assign use_init = ~accf_q | in_first;

  // Registers of every lane entering each stage, and the broadcast-lane selection:
  // bc[s][k] = lane (bl mod LANES) of register k entering stage s (LANES a power of two).
  localparam int unsigned LW = (LANES > 1) ? $clog2(LANES) : 1;
  // verilator tracing_off
  logic [31:0] lane_in   [LANES][NREGS];            // reg[k] = vin[k] in vin_mask, else 0
  logic [31:0] lane_regs [LANES][STAGES-1][NREGS];  // pipeline registers feeding stage 1..
  logic [31:0] bc        [STAGES][NREGS];
  // verilator tracing_on
  vec_t        cand;                                // output candidate of every lane

  for (genvar s = 0; s < STAGES; s++) begin : g_bc
    logic [LW-1:0] blm;
    assign blm = (LANES > 1) ? LW'(bl_q[s]) : '0;
    if (s == 0) begin : g_first
      assign bc[s] = lane_in[blm];
    end else begin : g_link
      assign bc[s] = lane_regs[blm][s-1];
    end
  end

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    for (genvar k = 0; k < NREGS; k++) begin : g_in
      if (k < PCU_VIN) begin : g_vin
        assign lane_in[l][k] = mask[k] ? fifo_data[k][l] : '0;
      end else begin : g_zero
        assign lane_in[l][k] = '0;
      end
    end

    rdu_pcu_lane u_lane (
      .clk_i(gclk),
      .rst_ni,
      .clr_i     (clr),
      .load_i    (rdy),
      .acc_we_i  (acc_we),
      .snap_i    (snap),
      .use_init_i(use_init),
      .lane_i    (32'(l)),
      .op_i      (op_q),
      .srca_i    (srca_q),
      .srcb_i    (srcb_q),
      .srcc_i    (srcc_q),
      .dst_i     (dst_q),
      .imm_i     (imm_eff),
      .out_reg_i (out_reg_q),
      .out_mode_i(out_mode_q),
      .acc_init_i(acc_init_q),
      .dsel_i    (dptr),
      .idx_i     (idx_in),
      .ctr_i     (ctr_in),
      .stride0_i (cstr_q[0]),
      .max0_i    (cmax_q[0]),
      .in_i      (lane_in[l]),
      .bc_i      (bc),
      .regs_o    (lane_regs[l]),
      .out_o     (cand[l])
    );
  end

  // ---------------------------------------------------------------- reduction, output
  // Fixed pairwise tree: level 1 combines lanes (0,1), (2,3), ...; level j+1 combines
  // level j's results pairwise in order. Every lane of the output holds the root.
  for (genvar j = 0; j <= LEVELS; j++) begin : g_lvl
    // verilator tracing_off
    logic [31:0] val [LANES >> j];  // level j's values (out_q holds the root)
    // verilator tracing_on
    if (j == 0) begin : g_leaf
      for (genvar i = 0; i < LANES; i++) begin : g_l
        assign val[i] = cand[i];
      end
    end else begin : g_node
      for (genvar i = 0; i < (LANES >> j); i++) begin : g_n
        rdu_pcu_rnode u_node (
          .op_i(reduce_q),
          .a_i (g_lvl[j-1].val[2*i]),
          .b_i (g_lvl[j-1].val[2*i+1]),
          .r_o (val[i])
        );
      end
    end
  end

  always_ff @(posedge gclk) begin
    if (!rst_ni || !run_i) begin
      out_q <= '0;
    end else if (out_free) begin
      out_q <= fwd_active ? fifo_data[CH] : (reduce_q == 2'd0) ? cand : {LANES{g_lvl[LEVELS].val[0]}};
    end
  end

  assign vout_valid_o = vpend_q;
  assign vout_data_o  = out_q;

  // ---------------------------------------------------------------- scalar, control out
  assign sout_valid_o = spend_q;
  assign sout_data_o  = out_q[0];
  assign cout_valid_o = (tpend_q != 8'd0);
  assign cout_data_o  = 1'b1;

  logic unused_ports;
  assign unused_ports = ^{cin_data_i, first_q[STAGES-1]};
endmodule
