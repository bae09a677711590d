// OpenRDU core (`docs/hardware.md` and `docs/platform.md`): CSR block, configuration
// controller, memory arbiter, and the grid generated from rdu_cfg_pkg: unit slots
// (PCU where r+c is even, PMU where odd), AGCUs on the bottom row of switches, the
// (ROWS+1) x (COLS+1) switches and the vector, scalar and control networks.
module rdu_core
  import rdu_cfg_pkg::*;
  import rdu_isa_pkg::*;
  import rdu_csr_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  // CSR bus
  input  logic                csr_valid_i,
  input  logic                csr_we_i,
  input  logic [11:0]         csr_addr_i,
  input  logic [31:0]         csr_wdata_i,
  output logic                csr_rvalid_o,
  output logic [31:0]         csr_rdata_o,
  // memory ports (MEM_PORTS of them; port p is slice p of each signal)
  output logic [MEM_PORTS-1:0]          mem_req_valid_o,
  input  logic [MEM_PORTS-1:0]          mem_req_ready_i,
  output logic [MEM_PORTS-1:0]          mem_req_we_o,
  output logic [MEM_PORTS*32-1:0]       mem_req_addr_o,
  output logic [MEM_PORTS*LANES*32-1:0] mem_req_wdata_o,
  output logic [MEM_PORTS*LANES-1:0]    mem_req_wmask_o,
  output logic [MEM_PORTS*8-1:0]        mem_req_id_o,
  input  logic [MEM_PORTS-1:0]          mem_rsp_valid_i,
  output logic [MEM_PORTS-1:0]          mem_rsp_ready_o,
  input  logic [MEM_PORTS*LANES*32-1:0] mem_rsp_rdata_i,
  input  logic [MEM_PORTS*8-1:0]        mem_rsp_id_i,
  input  logic [MEM_PORTS-1:0]          mem_rsp_err_i,
  output logic                irq_o,
  // High while configuring, running, stopping or in soft reset. While it is low the
  // core's state changes only through the CSR bus: a simulator may skip idle cycles.
  output logic                busy_o
);
  localparam int unsigned VW  = LANES * 32;
  localparam int unsigned SR  = ROWS + 1;
  localparam int unsigned SC  = COLS + 1;
  localparam int unsigned NSW = SR * SC;
  localparam int unsigned NRQ = 1 + NUM_AGCU;
  localparam logic [15:0] NO_UNIT = 16'hFFFF;
  localparam int unsigned NPU = NUM_SLOTS + NUM_AGCU;  // units with done and counters
  localparam int unsigned NT  = NUM_TILES;
  localparam logic [NT-1:0] ALL_TILES = '1;

  // ---------------------------------------------------------------------------------
  // Soft reset: CTRL.SOFT_RESET resets everything but the CSR block (one cycle later).
  logic [3:0] ctrl;
  logic       soft_rst_q;
  logic       rst_n;  // reset of everything but the CSR block
  always_ff @(posedge clk_i) begin
    if (!rst_ni) soft_rst_q <= 1'b0;
    else         soft_rst_q <= ctrl[CSR_CTRL_SOFT_RESET_LSB];
  end
  assign rst_n = rst_ni && !soft_rst_q;

  // ---------------------------------------------------------------------------------
  // CSR block
  logic [4:0]  status;
  logic [2:0]  irq_set, irq_status;
  logic [31:0] irq_enable;
  logic [23:0] err_status;
  logic [31:0] cfg_addr, cfg_len, cfg_crc, scratch;
  logic [63:0] cycles_q;
  logic [31:0] cfg_cycles_q;
  logic [31:0] watchdog;
  logic [31:0] perf_unit;
  logic [31:0] perf_active, perf_stall_in, perf_stall_out;
  logic [31:0] mem_rd_reqs_q, mem_wr_reqs_q, mem_rd_bytes_q, mem_wr_bytes_q;
  logic [23:0] fault;
  logic [31:0] tile_owner, tile_irq_enable;
  logic [23:0] tile_ctrl, tile_irq_set, tile_irq_status;
  logic [31:0] tile_status;
  logic [31:0] tile_err [8], tile_cyc [8];

  rdu_csr_regs u_csr (
    .clk_i,
    .rst_ni,
    .csr_valid_i,
    .csr_we_i,
    .csr_addr_i,
    .csr_wdata_i,
    .csr_rvalid_o,
    .csr_rdata_o,
    .id_i            (CSR_ID_VALUE),       // configs/regs.yaml
    .version_i       (CSR_VERSION_VALUE),
    .fingerprint_i   (FINGERPRINT),
    .cap_grid_i      ({8'(NUM_AGCU), 8'(COLS), 8'(ROWS)}),
    .cap_pcu_i       ({8'(PCU_VIN), 8'(NREGS), 8'(STAGES), 8'(LANES)}),
    .cap_pmu_i       (32'(PMU_BYTES)),
    .cap_dram_i      (32'(DRAM_MIB)),
    .ctrl_o          (ctrl),
    .status_i        (status),
    .irq_status_set_i(irq_set),
    .irq_status_o    (irq_status),
    .irq_enable_o    (irq_enable),
    .err_status_i    (err_status),
    .cfg_addr_o      (cfg_addr),
    .cfg_len_o       (cfg_len),
    .cfg_crc_i       (cfg_crc),
    .cycles_lo_i     (cycles_q[31:0]),
    .cycles_hi_i     (cycles_q[63:32]),
    .scratch_o       (scratch),
    .cfg_cycles_i    (cfg_cycles_q),
    .watchdog_o      (watchdog),
    .perf_unit_o     (perf_unit),
    .perf_active_i   (perf_active),
    .perf_stall_in_i (perf_stall_in),
    .perf_stall_out_i(perf_stall_out),
    .mem_rd_reqs_i   (mem_rd_reqs_q),
    .mem_wr_reqs_i   (mem_wr_reqs_q),
    .mem_rd_bytes_i  (mem_rd_bytes_q),
    .mem_wr_bytes_i  (mem_wr_bytes_q),
    .fault_o         (fault),
    .tile_owner_o    (tile_owner),
    .tile_ctrl_o     (tile_ctrl),
    .tile_status_i   (tile_status),
    .tile_irq_status_set_i(tile_irq_set),
    .tile_irq_status_o(tile_irq_status),
    .tile_irq_enable_o(tile_irq_enable),
    .tile_err0_i     (tile_err[0]),
    .tile_err1_i     (tile_err[1]),
    .tile_err2_i     (tile_err[2]),
    .tile_err3_i     (tile_err[3]),
    .tile_err4_i     (tile_err[4]),
    .tile_err5_i     (tile_err[5]),
    .tile_err6_i     (tile_err[6]),
    .tile_err7_i     (tile_err[7]),
    .tile_cycles0_i  (tile_cyc[0]),
    .tile_cycles1_i  (tile_cyc[1]),
    .tile_cycles2_i  (tile_cyc[2]),
    .tile_cycles3_i  (tile_cyc[3]),
    .tile_cycles4_i  (tile_cyc[4]),
    .tile_cycles5_i  (tile_cyc[5]),
    .tile_cycles6_i  (tile_cyc[6]),
    .tile_cycles7_i  (tile_cyc[7])
  );
  assign irq_o = |(irq_status & irq_enable[2:0]) || |(tile_irq_status & tile_irq_enable[23:0]);

  // ---------------------------------------------------------------------------------
  // Configuration controller
  logic        cc_start, cc_busy, cc_done, cc_err;
  logic [7:0]  cc_code;
  logic [15:0] cc_unit;
  logic        cc_req_valid, cc_req_ready, cc_rsp_valid;
  logic [31:0] cc_req_addr;
  logic        cfg_clear, cfg_we;
  logic [15:0] cfg_unit;
  logic [7:0]  cfg_word;
  logic [31:0] cfg_data;
  logic [VW-1:0] rsp_rdata [NRQ];
  logic [VW-1:0] cc_rdata;
  logic [NRQ-1:0] rsp_err;
  logic [7:0]  rsp_id [NRQ];

  rdu_cfg_ctrl u_cfg_ctrl (
    .clk_i,
    .rst_ni         (rst_n),
    .start_i        (cc_start),
    .addr_i         (cfg_addr),
    .len_i          (cfg_len),
    .tiles_i        (cmask_q),
    .busy_o         (cc_busy),
    .done_o         (cc_done),
    .err_o          (cc_err),
    .err_code_o     (cc_code),
    .err_unit_o     (cc_unit),
    .crc_o          (cfg_crc),
    .mem_req_valid_o(cc_req_valid),
    .mem_req_ready_i(cc_req_ready),
    .mem_req_addr_o (cc_req_addr),
    .mem_rsp_valid_i(cc_rsp_valid),
    .mem_rsp_rdata_i(cc_rdata),
    .mem_rsp_err_i  (rsp_err[0]),
    .cfg_clear_o    (cfg_clear),
    .cfg_we_o       (cfg_we),
    .cfg_unit_o     (cfg_unit),
    .cfg_word_o     (cfg_word),
    .cfg_data_o     (cfg_data)
  );

  // ---------------------------------------------------------------------------------
  // Memory arbiter: requester 0 the configuration controller, 1 + k AGCU k.
  logic [NRQ-1:0] rq_valid, rq_ready, rq_we, rs_valid;
  logic [31:0]    rq_addr  [NRQ];
  logic [VW-1:0]  rq_wdata [NRQ];
  logic [LANES-1:0] rq_wmask [NRQ];
  logic [7:0]     rq_id    [NRQ];

  assign rq_valid[0] = cc_req_valid;
  assign rq_we[0]    = 1'b0;
  assign rq_addr[0]  = cc_req_addr;
  assign rq_wdata[0] = '0;
  assign rq_wmask[0] = '0;
  assign rq_id[0]    = 8'd0;
  assign cc_req_ready = rq_ready[0];
  assign cc_rsp_valid = rs_valid[0];

  rdu_mem_arb #(.N(NRQ)) u_mem_arb (
    .clk_i,
    .rst_ni     (rst_n),
    .req_valid_i(rq_valid),
    .req_ready_o(rq_ready),
    .req_we_i   (rq_we),
    .req_addr_i (rq_addr),
    .req_wdata_i(rq_wdata),
    .req_wmask_i(rq_wmask),
    .req_id_i   (rq_id),
    .rsp_valid_o(rs_valid),
    .rsp_id_o   (rsp_id),
    .rsp_rdata_o(rsp_rdata),
    .rsp_err_o  (rsp_err),
    .mem_req_valid_o,
    .mem_req_ready_i,
    .mem_req_we_o,
    .mem_req_addr_o,
    .mem_req_wdata_o,
    .mem_req_wmask_o,
    .mem_req_id_o,
    .mem_rsp_valid_i,
    .mem_rsp_ready_o,
    .mem_rsp_rdata_i,
    .mem_rsp_id_i,
    .mem_rsp_err_i
  );

  // Memory requests of each AGCU in flight: a stopped run group waits for its AGCUs'
  // to drain so that no stale response reaches the next run.
  logic [MEM_PORTS-1:0] req_fire;
  logic [15:0]          agcu_out_q [NUM_AGCU];
  assign req_fire = mem_req_valid_o & mem_req_ready_i;
  for (genvar k = 0; k < NUM_AGCU; k++) begin : g_agcu_out
    always_ff @(posedge clk_i) begin
      if (!rst_n) agcu_out_q[k] <= '0;
      else        agcu_out_q[k] <= agcu_out_q[k] + 16'(rq_valid[1+k] && rq_ready[1+k]) - 16'(rs_valid[1+k]);
    end
  end

  // ---------------------------------------------------------------------------------
  // Fault injection (FAULT): kind 2 flips bit 0 of bitstream word FAULT.ARG as the
  // configuration controller's read response carrying it arrives (responses of the
  // controller come in order, LANES words each, from CFG_ADDR on).
  localparam int unsigned LW = $clog2(LANES);
  logic [15:0] cfg_blk_q;
  logic        fault_cfg;
  assign fault_cfg = (fault[19:16] == 4'd2) && (cfg_blk_q == 16'(fault[15:0] >> LW));
  always_ff @(posedge clk_i) begin
    if (!rst_n)                                   cfg_blk_q <= '0;
    else if (cc_start)                            cfg_blk_q <= '0;
    else if (cc_rsp_valid && cfg_blk_q != '1)     cfg_blk_q <= cfg_blk_q + 16'd1;
  end
  always_comb begin
    cc_rdata = rsp_rdata[0];
    if (fault_cfg) cc_rdata[32 * int'(fault[LW-1:0])] = ~rsp_rdata[0][32 * int'(fault[LW-1:0])];
  end

  // ---------------------------------------------------------------------------------
  // Control (section 6), per tile (`docs/hardware.md` ("Tiles")). CTRL acts on every tile,
  // TILE_CTRL on the tiles given. The configuration controller is shared: one
  // configuration at a time, of the tiles in cmask_q. A START's tiles form a run group
  // (grp_q): they run from the same cycle, and done, a memory error, ABORT or the
  // watchdog of any of them ends the whole group.
  typedef enum logic [1:0] {T_IDLE, T_RUN, T_STOP} tstate_e;
  tstate_e     tst_q [NT];
  logic        cfg_busy_q;
  logic [NT-1:0] cmask_q, tcfgd_q, tdone_q, terror_q, trun_q, tseen_q;
  logic [NT-1:0] grp_q [NT];
  logic [7:0]  tecode_q [NT];
  logic [15:0] teunit_q [NT];
  logic [31:0] tcyc_q [NT];
  logic [NT-1:0] last_grp_q;
  logic        ctl_configure, ctl_start, ctl_abort;
  logic [NT-1:0] conf_mask, start_mask, abort_mask, tactive;
  logic        run_start;
  logic [NT-1:0] tile_start;
  // Per tile: its units done, an AGCU error, its AGCUs' requests drained, its lowest
  // AGCU with an error and lowest unit not done (NO_UNIT when none).
  logic [NT-1:0] tdone, terr, tdrained;
  logic [23:0] tile_irq_d;
  logic [15:0] terr_unit [NT], twd_unit [NT];

  assign ctl_configure = ctrl[CSR_CTRL_CONFIGURE_LSB];
  assign ctl_start     = ctrl[CSR_CTRL_START_LSB];
  assign ctl_abort     = ctrl[CSR_CTRL_ABORT_LSB];
  always_comb begin
    for (int t = 0; t < NT; t++) tactive[t] = (tst_q[t] != T_IDLE);
  end
  assign conf_mask  = ctl_configure ? ALL_TILES : tile_ctrl[CSR_TILE_CTRL_CONFIGURE_LSB +: NT];
  assign start_mask = ctl_start ? ALL_TILES : tile_ctrl[CSR_TILE_CTRL_START_LSB +: NT];
  assign abort_mask = ctl_abort ? ALL_TILES : tile_ctrl[CSR_TILE_CTRL_ABORT_LSB +: NT];
  assign cc_start   = !cfg_busy_q && (conf_mask != '0) && ((conf_mask & tactive) == '0) && !soft_rst_q;
  // START: every tile given configured and idle, not being configured this cycle.
  assign run_start  = !cc_start && (start_mask != '0) && ((start_mask & ~(tcfgd_q & ~tactive)) == '0);
  assign tile_start = run_start ? start_mask : '0;

  always_ff @(posedge clk_i) begin
    if (!rst_n) begin
      cfg_busy_q   <= 1'b0;
      cmask_q      <= '0;
      cfg_cycles_q <= '0;
      cycles_q     <= '0;
      last_grp_q   <= '0;
    end else begin
      if (cc_start) begin
        cfg_busy_q   <= 1'b1;
        cmask_q      <= conf_mask;
        cfg_cycles_q <= '0;
      end else if (cfg_busy_q) begin
        cfg_cycles_q <= cfg_cycles_q + 32'd1;
        if (cc_done || cc_err) cfg_busy_q <= 1'b0;
      end
      if (run_start) begin
        cycles_q   <= '0;
        last_grp_q <= start_mask;
      end else if ((trun_q & last_grp_q) != '0) begin
        cycles_q <= cycles_q + 64'd1;
      end
    end
  end

  for (genvar t = 0; t < NT; t++) begin : g_tile
    logic [NT-1:0] g;  // the tile's run group
    logic          gdone, gerr, gdrained, gabort, wd_fire;
    logic [15:0]   gerr_unit, gwd_unit;
    assign g        = grp_q[t];
    assign gdone    = &(tdone | ~g);
    assign gerr     = |(terr & g);
    assign gdrained = &(tdrained | ~g);
    assign gabort   = |(abort_mask & g);
    // Watchdog: the run has taken WATCHDOG cycles (TILE_CYCLESt reads WATCHDOG afterwards).
    assign wd_fire  = (watchdog != '0) && ({1'b0, tcyc_q[t]} + 33'd1 >= {1'b0, watchdog});
    always_comb begin
      gerr_unit = NO_UNIT;
      gwd_unit  = NO_UNIT;
      for (int u = NT - 1; u >= 0; u--) begin
        if (g[u] && terr_unit[u] < gerr_unit) gerr_unit = terr_unit[u];
        if (g[u] && twd_unit[u] < gwd_unit)   gwd_unit  = twd_unit[u];
      end
    end

    always_ff @(posedge clk_i) begin
      if (!rst_n) begin
        tst_q[t]    <= T_IDLE;
        tcfgd_q[t]  <= 1'b0;
        tdone_q[t]  <= 1'b0;
        terror_q[t] <= 1'b0;
        tecode_q[t] <= ERR_NONE;
        teunit_q[t] <= NO_UNIT;
        trun_q[t]   <= 1'b0;
        tseen_q[t]  <= 1'b0;
        tcyc_q[t]   <= '0;
        grp_q[t]    <= '0;
      end else begin
        if (cc_start && conf_mask[t]) begin
          tcfgd_q[t]  <= 1'b0;
          tdone_q[t]  <= 1'b0;
          terror_q[t] <= 1'b0;
          tecode_q[t] <= ERR_NONE;
          teunit_q[t] <= NO_UNIT;
        end else if (cfg_busy_q && cmask_q[t] && cc_done) begin
          tcfgd_q[t] <= 1'b1;
        end else if (cfg_busy_q && cmask_q[t] && cc_err) begin
          terror_q[t] <= 1'b1;
          tecode_q[t] <= cc_code;
          teunit_q[t] <= cc_unit;
        end
        unique case (tst_q[t])
          T_IDLE: begin
            if (tile_start[t]) begin
              tst_q[t]    <= T_RUN;
              trun_q[t]   <= 1'b1;
              tseen_q[t]  <= 1'b0;
              tdone_q[t]  <= 1'b0;
              terror_q[t] <= 1'b0;
              tecode_q[t] <= ERR_NONE;
              teunit_q[t] <= NO_UNIT;
              tcyc_q[t]   <= '0;
              grp_q[t]    <= start_mask;
            end
          end
          T_RUN: begin
            tcyc_q[t]  <= tcyc_q[t] + 32'd1;
            tseen_q[t] <= 1'b1;
            if (gabort) begin
              tst_q[t]    <= T_STOP;
              trun_q[t]   <= 1'b0;
              tecode_q[t] <= ERR_ABORTED;
              teunit_q[t] <= NO_UNIT;
            end else if (gerr) begin
              tst_q[t]    <= T_STOP;
              trun_q[t]   <= 1'b0;
              tecode_q[t] <= ERR_MEM_ERROR;
              teunit_q[t] <= gerr_unit;
            end else if (tseen_q[t] && gdone) begin
              tst_q[t]   <= T_IDLE;
              trun_q[t]  <= 1'b0;
              tdone_q[t] <= 1'b1;
            end else if (wd_fire) begin
              // Stops like ABORT (drain the memory requests), naming the first unit not done.
              tst_q[t]    <= T_STOP;
              trun_q[t]   <= 1'b0;
              tecode_q[t] <= ERR_WATCHDOG;
              teunit_q[t] <= gwd_unit;
            end
          end
          T_STOP: begin
            // Units are held in reset (run low); wait for the group's AGCUs to drain.
            if (gdrained) begin
              tst_q[t]    <= T_IDLE;
              terror_q[t] <= 1'b1;
            end
          end
          default: tst_q[t] <= T_IDLE;
        endcase
      end
    end
    // Interrupt causes of this cycle's transitions.
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_RUN_DONE_LSB + t] =
        (tst_q[t] == T_RUN) && !gabort && !gerr && tseen_q[t] && gdone;
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_ERROR_LSB + t] =
        ((tst_q[t] == T_STOP) && gdrained) || (cfg_busy_q && cmask_q[t] && !cc_done && cc_err);
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_CONFIG_DONE_LSB + t] = cfg_busy_q && cmask_q[t] && cc_done;
    assign tile_err[t]    = {8'd0, teunit_q[t], tecode_q[t]};
    assign tile_cyc[t]    = tcyc_q[t];
  end
  for (genvar t = NT; t < 8; t++) begin : g_no_tile
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_RUN_DONE_LSB + t]    = 1'b0;
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_ERROR_LSB + t]       = 1'b0;
    assign tile_irq_d[CSR_TILE_IRQ_STATUS_CONFIG_DONE_LSB + t] = 1'b0;
    assign tile_err[t] = '0;
    assign tile_cyc[t] = '0;
  end
  // Interrupt causes, registered as the state changes (global: any tile's).
  always_ff @(posedge clk_i) begin
    if (!rst_n) begin
      irq_set      <= '0;
      tile_irq_set <= '0;
    end else begin
      tile_irq_set <= tile_irq_d;
      irq_set[CSR_IRQ_STATUS_CONFIG_DONE_LSB] <= |tile_irq_d[CSR_TILE_IRQ_STATUS_CONFIG_DONE_LSB +: 8];
      irq_set[CSR_IRQ_STATUS_RUN_DONE_LSB]    <= |tile_irq_d[CSR_TILE_IRQ_STATUS_RUN_DONE_LSB +: 8];
      irq_set[CSR_IRQ_STATUS_ERROR_LSB]       <= |tile_irq_d[CSR_TILE_IRQ_STATUS_ERROR_LSB +: 8];
    end
  end

  // ---------------------------------------------------------------------------------
  // Performance counters (PERF_*, MEM_*): cleared when a run starts (a unit's: when its
  // tile starts), counting while it runs. Per unit: active (a vector handshake on any of
  // its network ports or, for an AGCU, its memory port), stalled on output (no handshake,
  // an output valid and not ready), stalled on input (no handshake, no output waiting,
  // not done).
  logic [NPU-1:0] unit_active, unit_oblk, unit_done;
  logic [31:0]    cnt_act_q [NPU], cnt_sin_q [NPU], cnt_sout_q [NPU];
  logic [31:0] n_rd, n_wr, n_wr_words;
  // Requests of this cycle over all ports: reads, writes, written words.
  always_comb begin
    n_rd       = '0;
    n_wr       = '0;
    n_wr_words = '0;
    for (int p = 0; p < MEM_PORTS; p++) begin
      if (req_fire[p] && mem_req_we_o[p]) begin
        n_wr = n_wr + 32'd1;
        for (int l = 0; l < LANES; l++) n_wr_words = n_wr_words + 32'(mem_req_wmask_o[LANES*p + l]);
      end else if (req_fire[p]) begin
        n_rd = n_rd + 32'd1;
      end
    end
  end
  always_ff @(posedge clk_i) begin
    if (!rst_n || run_start) begin
      mem_rd_reqs_q  <= '0;
      mem_wr_reqs_q  <= '0;
      mem_rd_bytes_q <= '0;
      mem_wr_bytes_q <= '0;
    end else if (trun_q != '0) begin
      mem_wr_reqs_q  <= mem_wr_reqs_q + n_wr;
      mem_wr_bytes_q <= mem_wr_bytes_q + n_wr_words * 32'd4;
      mem_rd_reqs_q  <= mem_rd_reqs_q + n_rd;
      mem_rd_bytes_q <= mem_rd_bytes_q + n_rd * 32'(LANES * 4);
    end
  end
  for (genvar u = 0; u < NPU; u++) begin : g_perf
    localparam int unsigned T = unit_tile(u);
    always_ff @(posedge clk_i) begin
      if (!rst_n || tile_start[T]) begin
        cnt_act_q[u]  <= '0;
        cnt_sin_q[u]  <= '0;
        cnt_sout_q[u] <= '0;
      end else if (trun_q[T]) begin
        if (unit_active[u])      cnt_act_q[u]  <= cnt_act_q[u] + 32'd1;
        else if (unit_oblk[u])   cnt_sout_q[u] <= cnt_sout_q[u] + 32'd1;
        else if (!unit_done[u])  cnt_sin_q[u]  <= cnt_sin_q[u] + 32'd1;
      end
    end
  end
  always_comb begin
    perf_active    = '0;
    perf_stall_in  = '0;
    perf_stall_out = '0;
    for (int u = 0; u < NPU; u++) begin
      if (perf_unit == 32'(u)) begin
        perf_active    = cnt_act_q[u];
        perf_stall_in  = cnt_sin_q[u];
        perf_stall_out = cnt_sout_q[u];
      end
    end
  end

  // Global state from the tiles': configured and done when every tile is, running and
  // error when one is; ERR_STATUS the lowest tile's error with one.
  assign status = {|terror_q, &tdone_q, |tactive, cc_busy, &tcfgd_q};
  assign busy_o = (|tactive) || cfg_busy_q || cc_busy || soft_rst_q;
  always_comb begin
    err_status = {NO_UNIT, ERR_NONE};
    for (int t = NT - 1; t >= 0; t--) begin
      if (terror_q[t]) err_status = {teunit_q[t], tecode_q[t]};
    end
  end
  assign tile_status = {8'(terror_q), 8'(tdone_q), 8'(tactive), 8'(tcfgd_q)};

  // ---------------------------------------------------------------------------------
  // Grid
  // Per-network switch ports, indexed by switch s = r*(COLS+1) + c.
  logic [6:0]    v_so_valid [NSW], v_so_ready [NSW], s_so_valid [NSW], s_so_ready [NSW];
  logic [6:0]    c_so_valid [NSW], c_so_ready [NSW];
  logic [5:0]    v_si_valid [NSW], v_si_ready [NSW], s_si_valid [NSW], s_si_ready [NSW];
  logic [5:0]    c_si_valid [NSW], c_si_ready [NSW];
  logic [VW-1:0] v_so_data [NSW][7];
  logic [31:0]   s_so_data [NSW][7];
  logic [0:0]    c_so_data [NSW][7];
  logic [VW-1:0] v_si_data [NSW][6];
  logic [31:0]   s_si_data [NSW][6];
  logic [0:0]    c_si_data [NSW][6];
  // Local ports: unit outputs into switch inputs 4, 5 (li) and switch outputs 4..6 into
  // unit inputs (lo).
  logic [1:0]    v_li_valid [NSW], v_li_ready [NSW], s_li_valid [NSW], s_li_ready [NSW];
  logic [1:0]    c_li_valid [NSW], c_li_ready [NSW];
  logic [2:0]    v_lo_valid [NSW], v_lo_ready [NSW], s_lo_valid [NSW], s_lo_ready [NSW];
  logic [2:0]    c_lo_valid [NSW], c_lo_ready [NSW];
  logic [VW-1:0] v_li_data [NSW][2];
  logic [31:0]   s_li_data [NSW][2];
  logic [0:0]    c_li_data [NSW][2];
  logic [VW-1:0] v_lo_data [NSW][3];
  logic [31:0]   s_lo_data [NSW][3];
  logic [0:0]    c_lo_data [NSW][3];

  rdu_core_net #(.W(VW), .SR(SR), .SC(SC)) u_vnet (
    .sw_out_valid_i (v_so_valid),
    .sw_out_data_i  (v_so_data),
    .sw_out_ready_o (v_so_ready),
    .sw_in_valid_o  (v_si_valid),
    .sw_in_data_o   (v_si_data),
    .sw_in_ready_i  (v_si_ready),
    .loc_in_valid_i (v_li_valid),
    .loc_in_data_i  (v_li_data),
    .loc_in_ready_o (v_li_ready),
    .loc_out_valid_o(v_lo_valid),
    .loc_out_data_o (v_lo_data),
    .loc_out_ready_i(v_lo_ready),
    .link_on_i      (link_on)
  );
  rdu_core_net #(.W(32), .SR(SR), .SC(SC)) u_snet (
    .sw_out_valid_i (s_so_valid),
    .sw_out_data_i  (s_so_data),
    .sw_out_ready_o (s_so_ready),
    .sw_in_valid_o  (s_si_valid),
    .sw_in_data_o   (s_si_data),
    .sw_in_ready_i  (s_si_ready),
    .loc_in_valid_i (s_li_valid),
    .loc_in_data_i  (s_li_data),
    .loc_in_ready_o (s_li_ready),
    .loc_out_valid_o(s_lo_valid),
    .loc_out_data_o (s_lo_data),
    .loc_out_ready_i(s_lo_ready),
    .link_on_i      (link_on)
  );
  rdu_core_net #(.W(1), .SR(SR), .SC(SC)) u_cnet (
    .sw_out_valid_i (c_so_valid),
    .sw_out_data_i  (c_so_data),
    .sw_out_ready_o (c_so_ready),
    .sw_in_valid_o  (c_si_valid),
    .sw_in_data_o   (c_si_data),
    .sw_in_ready_i  (c_si_ready),
    .loc_in_valid_i (c_li_valid),
    .loc_in_data_i  (c_li_data),
    .loc_in_ready_o (c_li_ready),
    .loc_out_valid_o(c_lo_valid),
    .loc_out_data_o (c_lo_data),
    .loc_out_ready_i(c_lo_ready),
    .link_on_i      (link_on)
  );

  // Done of every slot and AGCU; error of every AGCU.
  logic [NUM_SLOTS-1:0] slot_done;
  logic [NUM_AGCU-1:0]  agcu_done, agcu_errs;
  // FAULT kind 1: unit FAULT.ARG never reports done (the watchdog must catch it).
  always_comb begin
    unit_done = {agcu_done, slot_done};
    for (int u = 0; u < NPU; u++) begin
      if (fault[19:16] == 4'd1 && fault[15:0] == 16'(u)) unit_done[u] = 1'b0;
    end
  end
  // Per tile: done, AGCU errors (the lowest AGCU with one), drained, the lowest unit
  // (slots, then AGCUs) not done for the watchdog.
  always_comb begin
    for (int t = 0; t < NT; t++) begin
      tdone[t]     = 1'b1;
      terr[t]      = 1'b0;
      tdrained[t]  = 1'b1;
      terr_unit[t] = NO_UNIT;
      twd_unit[t]  = NO_UNIT;
    end
    for (int u = NPU - 1; u >= 0; u--) begin
      if (!unit_done[u]) begin
        tdone[unit_tile(u)]    = 1'b0;
        twd_unit[unit_tile(u)] = 16'(u);
      end
    end
    for (int k = NUM_AGCU - 1; k >= 0; k--) begin
      if (agcu_errs[k]) begin
        terr[unit_tile(NUM_SLOTS + k)]      = 1'b1;
        terr_unit[unit_tile(NUM_SLOTS + k)] = 16'(NUM_SLOTS + k);
      end
      if (agcu_out_q[k] != '0) tdrained[unit_tile(NUM_SLOTS + k)] = 1'b0;
    end
  end

  // Partition (TILE_OWNER): the link from switch s in direction d is on when both
  // switches' tiles have the same owner.
  logic [3:0] link_on [NSW];
  for (genvar r = 0; r < SR; r++) begin : g_link_row
    for (genvar c = 0; c < SC; c++) begin : g_link_col
      localparam int unsigned T0 = tile_at(r, c);
      localparam int unsigned TN [4] = '{tile_at((r > 0) ? r - 1 : 0, c), tile_at(r, c + 1),
                                         tile_at(r + 1, c), tile_at(r, (c > 0) ? c - 1 : 0)};
      for (genvar d = 0; d < 4; d++) begin : g_dir
        assign link_on[r*SC+c][d] = (tile_owner[4*T0 +: 4] == tile_owner[4*TN[d] +: 4]);
      end
    end
  end

  for (genvar r = 0; r < SR; r++) begin : g_row
    for (genvar c = 0; c < SC; c++) begin : g_col
      localparam int unsigned S = r * SC + c;
      localparam int unsigned TS = tile_at(r, c);  // the tile of the switch and of its unit

      rdu_switch #(.UNIT_ID(NUM_SLOTS + NUM_AGCU + S)) u_switch (
        .clk_i,
        .rst_ni      (rst_n),
        .cfg_clear_i (cfg_clear && cmask_q[TS]),
        .cfg_we_i    (cfg_we),
        .cfg_unit_i  (cfg_unit),
        .cfg_word_i  (cfg_word),
        .cfg_data_i  (cfg_data),
        .run_i       (trun_q[TS]),
        .vin_valid_i (v_si_valid[S]),
        .vin_ready_o (v_si_ready[S]),
        .vin_data_i  (v_si_data[S]),
        .vout_valid_o(v_so_valid[S]),
        .vout_ready_i(v_so_ready[S]),
        .vout_data_o (v_so_data[S]),
        .sin_valid_i (s_si_valid[S]),
        .sin_ready_o (s_si_ready[S]),
        .sin_data_i  (s_si_data[S]),
        .sout_valid_o(s_so_valid[S]),
        .sout_ready_i(s_so_ready[S]),
        .sout_data_o (s_so_data[S]),
        .cin_valid_i (c_si_valid[S]),
        .cin_ready_o (c_si_ready[S]),
        .cin_data_i  (c_si_data[S]),
        .cout_valid_o(c_so_valid[S]),
        .cout_ready_i(c_so_ready[S]),
        .cout_data_o (c_so_data[S])
      );

      if (r < ROWS && c < COLS) begin : g_slot
        localparam int unsigned ID = r * COLS + c;
        assign unit_active[ID] = (|(v_lo_valid[S] & v_lo_ready[S])) || (|(v_li_valid[S] & v_li_ready[S]));
        assign unit_oblk[ID]   = |(v_li_valid[S] & ~v_li_ready[S]);
        if ((r + c) % 2 == 0) begin : g_pcu
          logic [2:0]    vin_valid, vin_ready;
          logic [VW-1:0] vin_data [3];
          logic          vout_valid;
          logic [VW-1:0] vout_data;
          for (genvar i = 0; i < 3; i++) begin : g_vin
            assign vin_data[i] = v_lo_data[S][i];
          end
          assign vin_valid     = v_lo_valid[S];
          assign v_lo_ready[S] = vin_ready;
          assign v_li_valid[S] = {1'b0, vout_valid};
          // FAULT kind 3: lane FAULT.LANE of this PCU's output reads 0.
          always_comb begin
            v_li_data[S] = '{vout_data, '0};
            for (int l = 0; l < LANES; l++) begin
              if (fault[19:16] == 4'd3 && fault[15:0] == 16'(ID) && fault[23:20] == 4'(l))
                v_li_data[S][0][32*l +: 32] = '0;
            end
          end

          rdu_pcu #(.UNIT_ID(ID)) u_pcu (
            .clk_i,
            .rst_ni      (rst_n),
            .cfg_clear_i (cfg_clear && cmask_q[TS]),
            .cfg_we_i    (cfg_we),
            .cfg_unit_i  (cfg_unit),
            .cfg_word_i  (cfg_word),
            .cfg_data_i  (cfg_data),
            .run_i       (trun_q[TS]),
            .done_o      (slot_done[ID]),
            .vin_valid_i (vin_valid),
            .vin_ready_o (vin_ready),
            .vin_data_i  (vin_data),
            .vout_valid_o(vout_valid),
            .vout_ready_i(v_li_ready[S][0]),
            .vout_data_o (vout_data),
            .sin_valid_i (s_lo_valid[S][0]),
            .sin_ready_o (s_lo_ready[S][0]),
            .sin_data_i  (s_lo_data[S][0]),
            .sout_valid_o(s_li_valid[S][0]),
            .sout_ready_i(s_li_ready[S][0]),
            .sout_data_o (s_li_data[S][0]),
            .cin_valid_i (c_lo_valid[S][0]),
            .cin_ready_o (c_lo_ready[S][0]),
            .cin_data_i  (c_lo_data[S][0]),
            .cout_valid_o(c_li_valid[S][0]),
            .cout_ready_i(c_li_ready[S][0]),
            .cout_data_o (c_li_data[S][0])
          );
        end else begin : g_pmu
          logic          vout_valid;
          logic [VW-1:0] vout_data;
          logic          vin_ready;
          assign v_lo_ready[S] = {2'b00, vin_ready};
          assign v_li_valid[S] = {1'b0, vout_valid};
          assign v_li_data[S]  = '{vout_data, '0};

          rdu_pmu #(.UNIT_ID(ID)) u_pmu (
            .clk_i,
            .rst_ni      (rst_n),
            .cfg_clear_i (cfg_clear && cmask_q[TS]),
            .cfg_we_i    (cfg_we),
            .cfg_unit_i  (cfg_unit),
            .cfg_word_i  (cfg_word),
            .cfg_data_i  (cfg_data),
            .run_i       (trun_q[TS]),
            .done_o      (slot_done[ID]),
            .vin_valid_i (v_lo_valid[S][0]),
            .vin_ready_o (vin_ready),
            .vin_data_i  (v_lo_data[S][0]),
            .vout_valid_o(vout_valid),
            .vout_ready_i(v_li_ready[S][0]),
            .vout_data_o (vout_data),
            .sin_valid_i (s_lo_valid[S][0]),
            .sin_ready_o (s_lo_ready[S][0]),
            .sin_data_i  (s_lo_data[S][0]),
            .sout_valid_o(s_li_valid[S][0]),
            .sout_ready_i(s_li_ready[S][0]),
            .sout_data_o (s_li_data[S][0]),
            .cin_valid_i (c_lo_valid[S][0]),
            .cin_ready_o (c_lo_ready[S][0]),
            .cin_data_i  (c_lo_data[S][0]),
            .cout_valid_o(c_li_valid[S][0]),
            .cout_ready_i(c_li_ready[S][0]),
            .cout_data_o (c_li_data[S][0])
          );
          logic unused_pmu;
          assign unused_pmu = ^{v_lo_valid[S][2:1], v_lo_data[S][1], v_lo_data[S][2]};
        end
        // Scalar and control: one port each on PCU and PMU (local in 0, local out 0).
        assign s_li_valid[S][1]   = 1'b0;
        assign s_li_data[S][1]    = '0;
        assign c_li_valid[S][1]   = 1'b0;
        assign c_li_data[S][1]    = '0;
        assign s_lo_ready[S][2:1] = 2'b00;
        assign c_lo_ready[S][2:1] = 2'b00;
        logic unused_slot;
        assign unused_slot = ^{s_li_ready[S][1], c_li_ready[S][1], v_li_ready[S][1],
                               s_lo_valid[S][2:1], s_lo_data[S][1], s_lo_data[S][2],
                               c_lo_valid[S][2:1], c_lo_data[S][1], c_lo_data[S][2]};
      end else if (r == ROWS && c < NUM_AGCU) begin : g_agcu
        localparam int unsigned K = c;
        logic          vin_ready;
        logic [1:0]    vout_valid;
        logic [VW-1:0] vout_data [2];
        logic [1:0]    sid;
        assign v_lo_ready[S] = {2'b00, vin_ready};
        assign v_li_valid[S] = vout_valid;
        assign v_li_data[S]  = vout_data;
        assign rq_id[1+K]    = 8'(1 + 3 * K) + 8'(sid);
        assign unit_active[NUM_SLOTS+K] = (|(v_lo_valid[S] & v_lo_ready[S])) ||
                                          (|(v_li_valid[S] & v_li_ready[S])) ||
                                          (rq_valid[1+K] && rq_ready[1+K]) || rs_valid[1+K];
        assign unit_oblk[NUM_SLOTS+K]   = |(v_li_valid[S] & ~v_li_ready[S]);

        rdu_agcu #(.UNIT_ID(NUM_SLOTS + K)) u_agcu (
          .clk_i,
          .rst_ni         (rst_n),
          .cfg_clear_i    (cfg_clear && cmask_q[TS]),
          .cfg_we_i       (cfg_we),
          .cfg_unit_i     (cfg_unit),
          .cfg_word_i     (cfg_word),
          .cfg_data_i     (cfg_data),
          .run_i          (trun_q[TS]),
          .done_o         (agcu_done[K]),
          .vin_valid_i    (v_lo_valid[S][0]),
          .vin_ready_o    (vin_ready),
          .vin_data_i     (v_lo_data[S][0]),
          .vout_valid_o   (vout_valid),
          .vout_ready_i   (v_li_ready[S]),
          .vout_data_o    (vout_data),
          .cin_valid_i    (c_lo_valid[S][0]),
          .cin_ready_o    (c_lo_ready[S][0]),
          .cin_data_i     (c_lo_data[S][0]),
          .cout_valid_o   (c_li_valid[S][0]),
          .cout_ready_i   (c_li_ready[S][0]),
          .cout_data_o    (c_li_data[S][0]),
          .mem_req_valid_o(rq_valid[1+K]),
          .mem_req_ready_i(rq_ready[1+K]),
          .mem_req_we_o   (rq_we[1+K]),
          .mem_req_addr_o (rq_addr[1+K]),
          .mem_req_wdata_o(rq_wdata[1+K]),
          .mem_req_wmask_o(rq_wmask[1+K]),
          .mem_req_sid_o  (sid),
          .mem_rsp_valid_i(rs_valid[1+K]),
          .mem_rsp_rdata_i(rsp_rdata[1+K]),
          .mem_rsp_sid_i  (2'(rsp_id[1+K] - 8'(1 + 3 * K))),
          .mem_rsp_err_i  (rsp_err[1+K]),
          .err_o          (agcu_errs[K])
        );
        // AGCUs: control input 0 and output 0; no scalar ports.
        assign s_li_valid[S]      = '0;
        assign s_li_data[S]       = '{default: '0};
        assign c_li_valid[S][1]   = 1'b0;
        assign c_li_data[S][1]    = '0;
        assign s_lo_ready[S]      = '0;
        assign c_lo_ready[S][2:1] = 2'b00;
        logic unused_agcu;
        assign unused_agcu = ^{v_lo_valid[S][2:1], v_lo_data[S][1], v_lo_data[S][2],
                               s_lo_valid[S], s_lo_data[S][0], s_lo_data[S][1], s_lo_data[S][2],
                               c_lo_valid[S][2:1], c_lo_data[S][1], c_lo_data[S][2],
                               s_li_ready[S], c_li_ready[S][1]};
      end else begin : g_none
        assign v_li_valid[S] = '0;
        assign v_li_data[S]  = '{default: '0};
        assign s_li_valid[S] = '0;
        assign s_li_data[S]  = '{default: '0};
        assign c_li_valid[S] = '0;
        assign c_li_data[S]  = '{default: '0};
        assign v_lo_ready[S] = '0;
        assign s_lo_ready[S] = '0;
        assign c_lo_ready[S] = '0;
        logic unused_none;
        assign unused_none = ^{v_lo_valid[S], v_lo_data[S][0], v_lo_data[S][1], v_lo_data[S][2],
                               s_lo_valid[S], s_lo_data[S][0], s_lo_data[S][1], s_lo_data[S][2],
                               c_lo_valid[S], c_lo_data[S][0], c_lo_data[S][1], c_lo_data[S][2],
                               v_li_ready[S], s_li_ready[S], c_li_ready[S]};
      end
    end
  end

  logic unused_core;
  assign unused_core = ^{irq_enable[31:3], scratch, rsp_id[0], tile_irq_enable[31:24], tile_owner,
                        tile_ctrl};
endmodule
