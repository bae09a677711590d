// Configuration controller (`docs/bitstream.md`): on start_i it clears every
// unit's configuration (cfg_clear_o), reads len_i bytes at addr_i through the memory
// port (LANES words per read, up to RD_MAX reads in flight, id 0), parses and checks
// the stream one word per cycle, writes the records on the configuration bus and
// checks the CRC-32 of the stream. Checks, in stream order (the first failing one is
// reported): words needed beyond len_i/4 (TRUNCATED); magic, version, fingerprint;
// length word == len_i/4 (BAD_LENGTH); per record header: terminator, unit id
// (BAD_UNIT), word count (BAD_WORDS); a record or header reaching the CRC word
// (TRUNCATED); the terminator not at word n-2 (BAD_LENGTH); CRC (BAD_CRC); a word
// whose read came back with an error (MEM_ERROR, when the parser reaches it). It reports done_o or err_o (one-cycle pulses) once no
// read is in flight any more.
module rdu_cfg_ctrl
  import rdu_cfg_pkg::*;
  import rdu_isa_pkg::*;
  import rdu_bits_pkg::*;
(
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                start_i,
  input  logic [31:0]         addr_i,
  input  logic [31:0]         len_i,
  input  logic [NUM_TILES-1:0] tiles_i,  // the tiles configured: a record for another tile's unit is BAD_UNIT
  output logic                busy_o,
  output logic                done_o,
  output logic                err_o,
  output logic [7:0]          err_code_o,
  output logic [15:0]         err_unit_o,
  output logic [31:0]         crc_o,
  // memory port (reads only)
  output logic                mem_req_valid_o,
  input  logic                mem_req_ready_i,
  output logic [31:0]         mem_req_addr_o,
  input  logic                mem_rsp_valid_i,
  input  logic [LANES*32-1:0] mem_rsp_rdata_i,
  input  logic                mem_rsp_err_i,
  // configuration bus
  output logic                cfg_clear_o,
  output logic                cfg_we_o,
  output logic [15:0]         cfg_unit_o,
  output logic [7:0]          cfg_word_o,
  output logic [31:0]         cfg_data_o
);
  localparam logic [31:0] MAGIC      = BITSTREAM_MAGIC;  // configs/bitstream.yaml
  localparam logic [31:0] VERSION    = BITSTREAM_VERSION;
  localparam logic [31:0] TERMINATOR = BITSTREAM_TERMINATOR;
  localparam int unsigned RD_MAX     = 4;  // reads in flight (and response buffer)
  localparam int unsigned CW         = $clog2(RD_MAX + 1);
  localparam int unsigned LW         = (LANES > 1) ? $clog2(LANES) : 1;
  localparam logic [15:0] NO_UNIT    = 16'hFFFF;

  // Configuration words of a unit (section 4.1-4.4).
  function automatic logic [15:0] unit_words(logic [15:0] id);
    int unsigned i;
    i = 32'(id);
    if (i < NUM_SLOTS) begin
      if ((((i / COLS) + (i % COLS)) % 2) == 0) return 16'(pcu_words(STAGES));  // PCU
      return 16'(PMU_WORDS);
    end
    if (i < NUM_SLOTS + NUM_AGCU) return 16'(AGCU_WORDS);
    return 16'(SWITCH_WORDS);
  endfunction

  // CRC-32 (reflected, polynomial 0xEDB88320) of one little-endian word.
  function automatic logic [31:0] crc_word(logic [31:0] crc, logic [31:0] data);
    logic [31:0] c;
    c = crc;
    for (int b = 0; b < 32; b++) begin
      c = (c[0] ^ data[b]) ? ((c >> 1) ^ 32'hEDB8_8320) : (c >> 1);
    end
    return c;
  endfunction

  typedef enum logic [1:0] {S_IDLE, S_CLEAR, S_RUN, S_DRAIN} state_e;
  typedef enum logic [2:0] {P_MAGIC, P_VERSION, P_FP, P_LEN, P_HDR, P_DATA, P_CRC} pstate_e;

  state_e      state_q, state_d;
  pstate_e     pst_q, pst_d;
  logic [29:0] nwords_q;   // len_i / 4
  logic [29:0] nreads_q;   // ceil(nwords / LANES)
  logic [29:0] issued_q;   // reads issued
  logic [31:0] raddr_q;
  logic [CW-1:0] inflight_q;
  logic        hold_q;     // request valid and not yet accepted
  logic [29:0] w_q;        // index of the word being parsed
  logic [LW-1:0] lane_q;
  logic [31:0] crc_q;
  logic [15:0] unit_q;
  logic [15:0] left_q;     // words left in the current record
  logic [7:0]  word_q;     // next word index in the current record
  logic        stop_q;     // error seen or stream complete: no more reads, drop data
  logic        ok_q;       // stream complete and correct
  logic [7:0]  code_q;
  logic [15:0] eunit_q;

  // Response buffer: reads issue only with space reserved, so it never overflows.
  // Error responses are queued too (bit LANES*32), so that a memory error is reported
  // when the parser reaches the first word it could not read, in stream order.
  logic                fifo_valid, fifo_pop, fifo_push, fifo_clr;
  logic [LANES*32:0]   fifo_data;
  logic [CW-1:0]       fifo_cnt;
  logic                fifo_in_ready;

  assign fifo_push = mem_rsp_valid_i && (state_q == S_RUN) && !stop_q;
  assign fifo_clr  = (state_q == S_CLEAR) || (state_q == S_DRAIN);

  rdu_fifo #(
    .WIDTH(LANES * 32 + 1),
    .DEPTH(RD_MAX)
  ) u_rsp_fifo (
    .clk_i,
    .rst_ni,
    .clr_i      (fifo_clr),
    .in_valid_i (fifo_push),
    .in_ready_o (fifo_in_ready),
    .in_data_i  ({mem_rsp_err_i, mem_rsp_rdata_i}),
    .out_valid_o(fifo_valid),
    .out_ready_i(fifo_pop),
    .out_data_o (fifo_data),
    .count_o    (fifo_cnt)
  );

  // Reader.
  logic can_issue, req_fire;
  assign can_issue = (state_q == S_RUN) && !stop_q && (issued_q < nreads_q) &&
                     ((32'(inflight_q) + 32'(fifo_cnt)) < RD_MAX);
  assign mem_req_valid_o = hold_q || can_issue;
  assign mem_req_addr_o  = raddr_q;
  assign req_fire        = mem_req_valid_o && mem_req_ready_i;

  // Parser: one word per cycle from the head of the buffer.
  logic [31:0] word;
  logic        have;       // a word is available this cycle (or none is needed)
  logic        fail;
  logic [7:0]  fail_code;
  logic [15:0] fail_unit;
  logic        finish;     // stream complete and correct
  logic        adv;        // the word is consumed
  logic        we_d;
  logic [15:0] hdr_unit;
  logic [15:0] hdr_nw;
  logic [29:0] last;       // nwords - 1: index of the CRC word

  assign word     = fifo_data[32*lane_q +: 32];
  assign have     = fifo_valid;
  assign hdr_unit = word[31:16];
  assign hdr_nw   = word[15:0];
  assign last     = nwords_q - 30'd1;

  always_comb begin
    pst_d     = pst_q;
    fail      = 1'b0;
    fail_code = ERR_NONE;
    fail_unit = NO_UNIT;
    finish    = 1'b0;
    adv       = 1'b0;
    we_d      = 1'b0;
    if (state_q == S_RUN && !stop_q) begin
      if (w_q >= nwords_q) begin
        // The stream needs more words than CFG_LEN holds.
        fail      = 1'b1;
        fail_code = ERR_TRUNCATED;
        if (pst_q == P_DATA) fail_unit = unit_q;
      end else if (have && fifo_data[LANES*32]) begin
        fail      = 1'b1;
        fail_code = ERR_MEM_ERROR;
      end else if (have) begin
        adv = 1'b1;
        unique case (pst_q)
          P_MAGIC: begin
            if (word != MAGIC) begin
              fail = 1'b1; fail_code = ERR_BAD_MAGIC;
            end
            pst_d = P_VERSION;
          end
          P_VERSION: begin
            if (word != VERSION) begin
              fail = 1'b1; fail_code = ERR_BAD_VERSION;
            end
            pst_d = P_FP;
          end
          P_FP: begin
            if (word != FINGERPRINT) begin
              fail = 1'b1; fail_code = ERR_BAD_FINGERPRINT;
            end
            pst_d = P_LEN;
          end
          P_LEN: begin
            if (word != {2'b00, nwords_q}) begin
              fail = 1'b1; fail_code = ERR_BAD_LENGTH;
            end
            pst_d = P_HDR;
          end
          P_HDR: begin
            if (w_q >= last) begin
              fail = 1'b1; fail_code = ERR_TRUNCATED;
            end else if (word == TERMINATOR) begin
              if (w_q != last - 30'd1) begin
                fail = 1'b1; fail_code = ERR_BAD_LENGTH;
              end
              pst_d = P_CRC;
            end else if (32'(hdr_unit) >= NUM_UNITS || !tiles_i[unit_tile(32'(hdr_unit))]) begin
              fail = 1'b1; fail_code = ERR_BAD_UNIT; fail_unit = hdr_unit;
            end else if (hdr_nw > unit_words(hdr_unit)) begin
              fail = 1'b1; fail_code = ERR_BAD_WORDS; fail_unit = hdr_unit;
            end else if (hdr_nw != 16'd0) begin
              pst_d = P_DATA;
            end
          end
          P_DATA: begin
            if (w_q >= last) begin
              fail = 1'b1; fail_code = ERR_TRUNCATED; fail_unit = unit_q;
            end else begin
              we_d = 1'b1;
              if (left_q == 16'd1) pst_d = P_HDR;
            end
          end
          P_CRC: begin
            if (word != ~crc_q) begin
              fail = 1'b1; fail_code = ERR_BAD_CRC;
            end else begin
              finish = 1'b1;
            end
          end
          default: ;
        endcase
      end
    end
  end

  assign fifo_pop = adv && ((32'(lane_q) == LANES - 1) || fail || finish);

  always_comb begin
    state_d = state_q;
    unique case (state_q)
      S_IDLE:  if (start_i) state_d = S_CLEAR;
      S_CLEAR: state_d = S_RUN;
      S_RUN:   if (stop_q || fail || finish) state_d = S_DRAIN;
      S_DRAIN: if (inflight_q == '0 && !hold_q) state_d = S_IDLE;
      default: state_d = S_IDLE;
    endcase
  end

  logic rsp_in;
  assign rsp_in = mem_rsp_valid_i && (state_q != S_IDLE) && (inflight_q != '0);

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      state_q    <= S_IDLE;
      pst_q      <= P_MAGIC;
      nwords_q   <= '0;
      nreads_q   <= '0;
      issued_q   <= '0;
      raddr_q    <= '0;
      inflight_q <= '0;
      hold_q     <= 1'b0;
      w_q        <= '0;
      lane_q     <= '0;
      crc_q      <= '1;
      unit_q     <= '0;
      left_q     <= '0;
      word_q     <= '0;
      stop_q     <= 1'b0;
      ok_q       <= 1'b0;
      code_q     <= ERR_NONE;
      eunit_q    <= NO_UNIT;
      cfg_we_o   <= 1'b0;
      cfg_unit_o <= '0;
      cfg_word_o <= '0;
      cfg_data_o <= '0;
    end else begin
      state_q  <= state_d;
      pst_q    <= pst_d;
      hold_q   <= mem_req_valid_o && !mem_req_ready_i;
      cfg_we_o <= we_d;
      if (we_d) begin
        cfg_unit_o <= unit_q;
        cfg_word_o <= word_q;
        cfg_data_o <= word;
      end
      // in-flight reads
      unique case ({req_fire, rsp_in})
        2'b10:   inflight_q <= inflight_q + CW'(1);
        2'b01:   inflight_q <= inflight_q - CW'(1);
        default: ;
      endcase
      if (req_fire) begin
        issued_q <= issued_q + 30'd1;
        raddr_q  <= raddr_q + 32'(4 * LANES);
      end
      if (state_q == S_IDLE && start_i) begin
        nwords_q <= len_i[31:2];
        nreads_q <= 30'((32'(len_i[31:2]) + LANES - 1) / LANES);
        issued_q <= '0;
        raddr_q  <= addr_i;
        pst_q    <= P_MAGIC;
        w_q      <= '0;
        lane_q   <= '0;
        crc_q    <= '1;
        stop_q   <= 1'b0;
        ok_q     <= 1'b0;
        code_q   <= ERR_NONE;
        eunit_q  <= NO_UNIT;
      end
      if (adv) begin
        w_q    <= w_q + 30'd1;
        lane_q <= (32'(lane_q) == LANES - 1) ? '0 : lane_q + LW'(1);
        if (pst_q != P_CRC) crc_q <= crc_word(crc_q, word);
        if (pst_q == P_HDR) begin
          unit_q <= hdr_unit;
          left_q <= hdr_nw;
          word_q <= '0;
        end
        if (pst_q == P_DATA) begin
          left_q <= left_q - 16'd1;
          word_q <= word_q + 8'd1;
        end
      end
      if (state_q == S_RUN && !stop_q) begin
        if (fail) begin
          stop_q  <= 1'b1;
          code_q  <= fail_code;
          eunit_q <= fail_unit;
        end else if (finish) begin
          stop_q <= 1'b1;
          ok_q   <= 1'b1;
        end
      end
    end
  end

  logic drained;
  assign drained     = (state_q == S_DRAIN) && (state_d == S_IDLE);
  assign done_o      = drained && ok_q;
  assign err_o       = drained && !ok_q;
  assign err_code_o  = code_q;
  assign err_unit_o  = eunit_q;
  assign busy_o      = (state_q != S_IDLE);
  assign crc_o       = ~crc_q;
  assign cfg_clear_o = (state_q == S_CLEAR);

  logic unused_fifo;
  assign unused_fifo = ^{fifo_in_ready, len_i[1:0]};  // CFG_LEN is used in whole words
endmodule
