// Pattern memory unit (`docs/bitstream.md` and `docs/hardware.md`): LANES banks of
// PMU_DEPTH words (one write and one read port each), row a = word a of every bank.
// The memory holds `nbuf` buffers of `buf_rows` rows; tile t uses buffer t mod nbuf
// (all its addresses offset by (t mod nbuf)*buf_rows rows). The write side takes one
// vector per access from input 0 (through a FIFO_DEPTH input FIFO) and stores it in row
// (wbase + i0*ws0 + i1*ws1 + i2*ws2 + offset) mod PMU_DEPTH; in transposed mode lane l
// goes to bank (l + row) mod LANES (skewed). The read side performs tile t's reads once
// all writes of tile t are done; the write side starts tile t once the reads of tile
// t-nbuf have all been issued, so writes of later tiles overlap reads (N-buffering).
// Reads: strided mode the row (rbase + ... + offset) mod PMU_DEPTH; duplicated mode the
// word w (word address, offset*LANES) of bank w mod LANES, row w / LANES, on every
// lane; transposed mode lane j = bank (c + r0 + j) mod LANES, row (r0 + j) mod
// PMU_DEPTH, with r0 = w / LANES, c = w mod LANES (a column of the tile written by
// rows). No bank conflict is possible: each bank sees at most one read and one write
// per cycle. One write and one read per cycle. Read latency: 2 cycles (synchronous bank
// read, then a 2-entry output FIFO); a read is issued only when the output FIFO has room.
// Control network: with `tin` each tile's reads need a credit (tok_init at the run's
// start, +1 per token received, one used per tile); with `tout` a token leaves after
// each tile's last write (tsel 0) or last read issue (tsel 1). Scalar ports: unused.
module rdu_pmu
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

  input  logic                vin_valid_i,
  output logic                vin_ready_o,
  input  logic [LANES*32-1:0] vin_data_i,
  output logic                vout_valid_o,
  input  logic                vout_ready_i,
  output logic [LANES*32-1:0] vout_data_o,

  // Scalar ports: not used (output never valid, input always ready). Control: tokens.
  input  logic                sin_valid_i,
  output logic                sin_ready_o,
  input  logic [31:0]         sin_data_i,
  output logic                sout_valid_o,
  input  logic                sout_ready_i,
  output logic [31:0]         sout_data_o,
  input  logic                cin_valid_i,
  output logic                cin_ready_o,
  input  logic                cin_data_i,
  output logic                cout_valid_o,
  input  logic                cout_ready_i,
  output logic                cout_data_o
);
  localparam int unsigned NWORDS = PMU_WORDS;
  localparam int unsigned WSIDE  = PMU_SIDE_BASE;                    // write side's first word
  localparam int unsigned RSIDE  = PMU_SIDE_BASE + PMU_SIDE_WORDS;   // read side's first word
  localparam int unsigned RW     = $clog2(PMU_DEPTH);          // row address bits
  localparam int unsigned BW     = (LANES > 1) ? $clog2(LANES) : 1;
  localparam int unsigned WW     = $clog2(PMU_DEPTH * LANES);  // word address bits
  localparam int unsigned VW     = LANES * 32;
  localparam int unsigned ODEPTH = 2;                          // output FIFO entries
  localparam int unsigned OCW    = $clog2(ODEPTH + 1);
  localparam int unsigned ICW    = $clog2(FIFO_DEPTH + 1);

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

  // Fields: configs/bitstream.yaml (rdu_bits_pkg).
  pmu_ctrl_t   ctrl;
  logic        enable, dup, tr, tin, tout, tsel;
  logic [2:0]  nbuf;
  logic [3:0]  tok_init;
  logic [31:0] tiles_w, tiles, buf_rows;
  assign ctrl     = pmu_ctrl_t'(cfg_q[PMU_HEAD_BASE + PMU_HEAD_W_CTRL]);
  assign enable   = ctrl.enable;
  assign dup      = (ctrl.mode == 2'd1);
  assign tr       = (ctrl.mode == 2'd2);
  assign nbuf     = (ctrl.nbuf == 3'd0) ? 3'd1 : ctrl.nbuf;
  assign tin      = ctrl.tin;
  assign tout     = ctrl.tout;
  assign tsel     = ctrl.tsel;
  assign tok_init = ctrl.tok_init;
  assign tiles_w  = cfg_q[PMU_HEAD_BASE + PMU_HEAD_W_TILES];
  assign tiles    = (tiles_w == '0) ? 32'd1 : tiles_w;
  assign buf_rows = cfg_q[PMU_HEAD_BASE + PMU_HEAD_W_BUF_ROWS];
  logic unused_cfg;
  assign unused_cfg = pmu_ctrl_rsvd(ctrl);

  logic clr, active;
  assign clr    = !run_i;
  assign active = run_i && enable;

  // ---------------------------------------------------------------- tile bookkeeping
  // wt_q / rt_q: tiles whose writes / reads are complete (all issued); wb_q / rb_q the
  // buffer of the current tile (tile mod nbuf), woff_q / roff_q = buffer * buf_rows.
  logic [31:0] wt_q, rt_q, woff_q, roff_q;
  logic [2:0]  wb_q, rb_q;
  logic        wempty, rempty, wlast, rlast;
  logic        in_pop, rissue;
  logic [31:0] wtiles, rtiles;  // tiles complete, a side without accesses counting all
  logic        wfin, rfin, w_ok, r_ok;
  logic [7:0]  cred;            // read credits (tin)
  logic        tfull;           // 255 tokens wait on the control output

  assign wtiles = wempty ? tiles : wt_q;
  assign rtiles = rempty ? tiles : rt_q;
  assign wfin   = wempty || (wt_q == tiles);
  assign rfin   = rempty || (rt_q == tiles);
  // Write tile wt_q needs the reads of tile wt_q - nbuf complete: wt_q < rtiles + nbuf.
  assign w_ok   = !wfin && ({1'b0, wt_q} < ({1'b0, rtiles} + 33'(nbuf)));
  // Read tile rt_q needs its writes complete and, with tin, a credit.
  assign r_ok   = !rfin && (wtiles > rt_q) && (!tin || cred != 8'd0) && !(tout && tsel && tfull);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      wt_q   <= '0;
      wb_q   <= '0;
      woff_q <= '0;
      rt_q   <= '0;
      rb_q   <= '0;
      roff_q <= '0;
    end else begin
      if (in_pop && wlast) begin
        wt_q <= wt_q + 32'd1;
        if (wb_q + 3'd1 == nbuf) begin
          wb_q   <= '0;
          woff_q <= '0;
        end else begin
          wb_q   <= wb_q + 3'd1;
          woff_q <= woff_q + buf_rows;
        end
      end
      if (rissue && rlast) begin
        rt_q <= rt_q + 32'd1;
        if (rb_q + 3'd1 == nbuf) begin
          rb_q   <= '0;
          roff_q <= '0;
        end else begin
          rb_q   <= rb_q + 3'd1;
          roff_q <= roff_q + buf_rows;
        end
      end
    end
  end

  // ---------------------------------------------------------------- write side
  logic          in_valid;
  logic [VW-1:0] in_data;
  logic [ICW-1:0] unused_in_count;
  logic          in_ready;

  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(FIFO_DEPTH)
  ) u_in_fifo (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .in_valid_i (vin_valid_i),
    .in_ready_o (in_ready),
    .in_data_i  (vin_data_i),
    .out_valid_o(in_valid),
    .out_ready_i(in_pop),
    .out_data_o (in_data),
    .count_o    (unused_in_count)
  );
  assign vin_ready_o = in_ready && run_i;

  logic [31:0] wpat, waddr;
  rdu_pmu_agen u_wgen (
    .clk_i,
    .rst_ni,
    .clr_i  (clr),
    .base_i (cfg_q[WSIDE + PMU_SIDE_W_BASE]),
    .c0_i   (cfg_q[WSIDE + PMU_SIDE_W_C0]),
    .s0_i   (cfg_q[WSIDE + PMU_SIDE_W_S0]),
    .c1_i   (cfg_q[WSIDE + PMU_SIDE_W_C1]),
    .s1_i   (cfg_q[WSIDE + PMU_SIDE_W_S1]),
    .c2_i   (cfg_q[WSIDE + PMU_SIDE_W_C2]),
    .s2_i   (cfg_q[WSIDE + PMU_SIDE_W_S2]),
    .step_i (in_pop),
    .addr_o (wpat),
    .last_o (wlast),
    .empty_o(wempty)
  );
  assign in_pop = active && in_valid && w_ok && !(tout && !tsel && tfull);
  assign waddr  = wpat + woff_q;

  logic [RW-1:0] wrow;
  logic [BW-1:0] wskew;  // transposed: lane l goes to bank (l + row) mod LANES
  assign wrow  = waddr[RW-1:0];
  assign wskew = tr ? BW'(waddr[RW-1:0]) : '0;

  // ---------------------------------------------------------------- read side
  logic [31:0] rpat, raddr;
  rdu_pmu_agen u_rgen (
    .clk_i,
    .rst_ni,
    .clr_i  (clr),
    .base_i (cfg_q[RSIDE + PMU_SIDE_W_BASE]),
    .c0_i   (cfg_q[RSIDE + PMU_SIDE_W_C0]),
    .s0_i   (cfg_q[RSIDE + PMU_SIDE_W_S0]),
    .c1_i   (cfg_q[RSIDE + PMU_SIDE_W_C1]),
    .s1_i   (cfg_q[RSIDE + PMU_SIDE_W_S1]),
    .c2_i   (cfg_q[RSIDE + PMU_SIDE_W_C2]),
    .s2_i   (cfg_q[RSIDE + PMU_SIDE_W_S2]),
    .step_i (rissue),
    .addr_o (rpat),
    .last_o (rlast),
    .empty_o(rempty)
  );
  // Buffer offset: rows (strided) or words (duplicated, transposed).
  assign raddr = rpat + ((dup || tr) ? {roff_q[31-BW:0], {BW{1'b0}}} : roff_q);

  // Word address fields (duplicated, transposed): row r0 and column c.
  logic [RW-1:0] rr0;
  logic [BW-1:0] rcol;
  assign rr0  = raddr[WW-1:WW-RW];
  assign rcol = BW'(raddr[WW-RW-1:0]);
  logic unused_addr;
  assign unused_addr = ^raddr[31:WW] ^ ^waddr[31:RW];

  // Row read by bank b.
  logic [RW-1:0] rrow [LANES];
  for (genvar b = 0; b < LANES; b++) begin : g_rrow
    logic [BW-1:0] j;  // transposed: the lane bank b serves
    assign j = BW'(b) - rcol - BW'(rr0);
    always_comb begin
      if (tr) begin
        rrow[b] = rr0 + RW'(j);
      end else if (dup) begin
        rrow[b] = rr0;
      end else begin
        rrow[b] = raddr[RW-1:0];
      end
    end
  end

  // Output FIFO with room reserved for the read in flight.
  logic           out_pop, out_valid, out_ready;
  logic [OCW-1:0] out_count;
  logic [VW-1:0]  out_data;
  logic           pend_q;          // a read was issued last cycle: data this cycle
  logic           pend_dup_q, pend_tr_q;
  logic [BW-1:0]  pend_sel_q;      // duplicated: the bank; transposed: bank of lane 0

  assign out_pop = out_valid && vout_ready_i;
  // Room: entries + read in flight - entry leaving this cycle < ODEPTH.
  assign rissue  = active && r_ok &&
                   ((32'(out_count) + 32'(pend_q) - 32'(out_pop)) < ODEPTH);

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      pend_q     <= 1'b0;
      pend_dup_q <= 1'b0;
      pend_tr_q  <= 1'b0;
      pend_sel_q <= '0;
    end else begin
      pend_q     <= rissue;
      pend_dup_q <= dup;
      pend_tr_q  <= tr;
      pend_sel_q <= tr ? (rcol + BW'(rr0)) : rcol;
    end
  end

  logic [31:0] rdata [LANES];
  for (genvar b = 0; b < LANES; b++) begin : g_bank
    logic [BW-1:0] wl;  // input lane stored in this bank
    assign wl = BW'(b) - wskew;
    rdu_pmu_bank #(
      .DEPTH(PMU_DEPTH)
    ) u_bank (
      .clk_i,
      .we_i   (in_pop),
      .waddr_i(wrow),
      .wdata_i(in_data[32*wl +: 32]),
      .re_i   (rissue),
      .raddr_i(rrow[b]),
      .rdata_o(rdata[b])
    );
  end

  logic [VW-1:0] rvec;
  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      if (pend_dup_q) begin
        rvec[32*l +: 32] = rdata[pend_sel_q];
      end else if (pend_tr_q) begin
        rvec[32*l +: 32] = rdata[BW'(pend_sel_q + BW'(l))];
      end else begin
        rvec[32*l +: 32] = rdata[l];
      end
    end
  end

  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(ODEPTH)
  ) u_out_fifo (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .in_valid_i (pend_q),
    .in_ready_o (out_ready),
    .in_data_i  (rvec),
    .out_valid_o(out_valid),
    .out_ready_i(vout_ready_i),
    .out_data_o (out_data),
    .count_o    (out_count)
  );
  logic unused_out_ready;
  assign unused_out_ready = out_ready;  // room is reserved before the read is issued

  assign vout_valid_o = out_valid && run_i;
  assign vout_data_o  = out_data;

  // ---------------------------------------------------------------- control
  // Credits: tok_init in the run's first cycle (the configuration may be written just
  // before run_i rises), +1 per token accepted, -1 when a tile's reads are complete.
  // Without tin, or once every tile's reads are made, tokens are accepted and dropped.
  logic       started_q, cin_take, tok_ev;
  logic [7:0] cred_r, tpend_q;
  assign cred        = started_q ? cred_r : 8'(tok_init);
  assign cin_ready_o = run_i && (!tin || rfin || cred != 8'hFF);
  assign cin_take    = cin_valid_i && cin_ready_o && tin && !rfin;
  assign tfull       = (tpend_q == 8'hFF);
  assign tok_ev      = tout && (tsel ? (rissue && rlast) : (in_pop && wlast));

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      started_q <= 1'b0;
      cred_r    <= '0;
      tpend_q   <= '0;
    end else begin
      started_q <= 1'b1;
      cred_r    <= cred + 8'(cin_take) - 8'(tin && rissue && rlast);
      tpend_q   <= tpend_q + 8'(tok_ev) - 8'(cout_valid_o && cout_ready_i);
    end
  end
  assign cout_valid_o = run_i && (tpend_q != 8'd0);
  assign cout_data_o  = 1'b1;

  assign done_o = !enable || (wfin && rfin && !pend_q && !out_valid && tpend_q == 8'd0);

  // ---------------------------------------------------------------- scalar
  assign sin_ready_o  = 1'b1;
  assign sout_valid_o = 1'b0;
  assign sout_data_o  = '0;
  logic unused_ports;
  assign unused_ports = sin_valid_i ^ ^sin_data_i ^ sout_ready_i ^ cin_data_i;
endmodule
