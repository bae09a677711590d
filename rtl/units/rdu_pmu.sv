// Pattern memory unit (docs/architecture.md sections 4.2, 12): LANES banks of
// PMU_DEPTH words, row a = word a of every bank. The write side takes one vector per
// access from input 0 (through a FIFO_DEPTH input FIFO) and stores it in row
// (wbase + i0*ws0 + i1*ws1) mod PMU_DEPTH. After the last write the read side emits one
// vector per access: strided mode row (rbase + i0*rs0 + i1*rs1) mod PMU_DEPTH;
// duplicated mode the word w = (...) mod (PMU_DEPTH*LANES) of bank w mod LANES, row
// w / LANES, on every lane. Read latency: 2 cycles (synchronous bank read, then a
// 2-entry output FIFO); a read is issued only when the output FIFO has room for it.
module rdu_pmu
  import rdu_cfg_pkg::*;
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

  // Scalar and control ports: not used yet (outputs never valid, inputs always ready).
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
  localparam int unsigned NWORDS = 11;
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

  logic enable, dup;
  assign enable = cfg_q[0][0];
  assign dup    = (cfg_q[0][2:1] == 2'd1);
  logic unused_cfg;
  assign unused_cfg = ^cfg_q[0][31:3];

  logic clr, active;
  assign clr    = !run_i;
  assign active = run_i && enable;

  // ---------------------------------------------------------------- write side
  logic          in_valid, in_pop;
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

  logic [31:0] waddr;
  logic        wdone;
  rdu_pmu_agen u_wgen (
    .clk_i,
    .rst_ni,
    .clr_i (clr),
    .base_i(cfg_q[1]),
    .c0_i  (cfg_q[2]),
    .s0_i  (cfg_q[3]),
    .c1_i  (cfg_q[4]),
    .s1_i  (cfg_q[5]),
    .step_i(in_pop),
    .addr_o(waddr),
    .done_o(wdone)
  );
  assign in_pop = active && in_valid && !wdone;

  // ---------------------------------------------------------------- read side
  logic [31:0] raddr;
  logic        rdone, rissue;
  rdu_pmu_agen u_rgen (
    .clk_i,
    .rst_ni,
    .clr_i (clr),
    .base_i(cfg_q[6]),
    .c0_i  (cfg_q[7]),
    .s0_i  (cfg_q[8]),
    .c1_i  (cfg_q[9]),
    .s1_i  (cfg_q[10]),
    .step_i(rissue),
    .addr_o(raddr),
    .done_o(rdone)
  );

  // Bank row and (duplicated mode) bank of the read.
  logic [RW-1:0] rrow;
  logic [BW-1:0] rbank;
  always_comb begin
    if (dup) begin
      rrow  = raddr[WW-1:WW-RW];
      rbank = BW'(raddr[WW-RW-1:0]);
    end else begin
      rrow  = raddr[RW-1:0];
      rbank = '0;
    end
  end
  logic unused_raddr;
  assign unused_raddr = ^raddr[31:RW] ^ ^waddr[31:RW];

  // Output FIFO with room reserved for the read in flight.
  logic           out_push, out_pop, out_valid, out_ready;
  logic [OCW-1:0] out_count;
  logic [VW-1:0]  out_data;
  logic           pend_q;          // a read was issued last cycle: data this cycle
  logic           pend_dup_q;
  logic [BW-1:0]  pend_bank_q;

  assign out_pop = out_valid && vout_ready_i;
  // Room: entries + read in flight - entry leaving this cycle < ODEPTH.
  assign rissue  = active && wdone && !rdone &&
                   ((32'(out_count) + 32'(pend_q) - 32'(out_pop)) < ODEPTH);
  assign out_push = pend_q;

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr) begin
      pend_q      <= 1'b0;
      pend_dup_q  <= 1'b0;
      pend_bank_q <= '0;
    end else begin
      pend_q      <= rissue;
      pend_dup_q  <= dup;
      pend_bank_q <= rbank;
    end
  end

  logic [31:0] rdata [LANES];
  for (genvar b = 0; b < LANES; b++) begin : g_bank
    rdu_pmu_bank #(
      .DEPTH(PMU_DEPTH)
    ) u_bank (
      .clk_i,
      .we_i   (in_pop),
      .waddr_i(waddr[RW-1:0]),
      .wdata_i(in_data[32*b +: 32]),
      .re_i   (rissue),
      .raddr_i(rrow),
      .rdata_o(rdata[b])
    );
  end

  logic [VW-1:0] rvec;
  always_comb begin
    for (int unsigned l = 0; l < LANES; l++) begin
      rvec[32*l +: 32] = pend_dup_q ? rdata[pend_bank_q] : rdata[l];
    end
  end

  rdu_fifo #(
    .WIDTH(VW),
    .DEPTH(ODEPTH)
  ) u_out_fifo (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .in_valid_i (out_push),
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

  assign done_o = !enable || (wdone && rdone && !pend_q && !out_valid);

  // ---------------------------------------------------------------- scalar / control
  assign sin_ready_o  = 1'b1;
  assign sout_valid_o = 1'b0;
  assign sout_data_o  = '0;
  assign cin_ready_o  = 1'b1;
  assign cout_valid_o = 1'b0;
  assign cout_data_o  = 1'b0;
  logic unused_ports;
  assign unused_ports = sin_valid_i ^ ^sin_data_i ^ sout_ready_i ^ cin_valid_i ^ cin_data_i ^
                        cout_ready_i;
endmodule
