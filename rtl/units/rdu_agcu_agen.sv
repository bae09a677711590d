// Address generator of one AGCU stream (`docs/bitstream.md` ("AGCU configuration (streams `ld0`, `ld1`, `st0`)")): the 4-D walk
// for i3 < c3: for i2 < c2: for i1 < c1: for i0 < c0, one vector per step at element
// offset i0*s0 + i1*s1 + i2*s2 + i3*s3 (byte address base + 4*offset, 32-bit wrap);
// n = min(LANES, vstep', max(0, vlen - i_vdim*vstep')) valid lanes. A contiguous
// (lstride 1) or broadcast (lstride 0) vector is one request at the step address; a
// gather/scatter vector is one request per valid lane l < n, in lane order, at the
// step address + 4*l*lstride. `adv_i` retires the current request (or a vector with
// n = 0, which has none); the generator then moves to the next lane or step. A tile is
// one iteration of dimension 3 (the control network's unit of credits and tokens).
module rdu_agcu_agen
  import rdu_cfg_pkg::*;
  import rdu_bits_pkg::*;
#(
  localparam int unsigned LB = $clog2(LANES)
) (
  input  logic          clk_i,
  input  logic          rst_ni,
  input  logic          clr_i,      // back to the first step
  input  logic [31:0]   cfg_i [AGCU_STREAM_WORDS], // the stream's configuration words
  input  logic          adv_i,
  output logic [31:0]   addr_o,     // byte address of the current request
  output logic [LB:0]   n_o,        // valid lanes of the current vector
  output logic [LB-1:0] lane_o,     // gather/scatter: lane of the current request
  output logic          last_o,     // the current request completes the vector
  output logic          gather_o,   // lstride not in {0, 1}
  output logic          bcast_o,    // lstride == 0
  output logic          tile_end_o, // the current request completes the last vector of a tile
  output logic          done_o
);
  // ---------------------------------------------------------------- configuration
  // Words and fields: configs/bitstream.yaml (rdu_bits_pkg).
  agcu_ctrl_t  ctrl;
  logic [1:0]  vdim;
  logic [31:0] base, lstride, vlen, vstep;
  logic [31:0] cnt [4];
  logic [31:0] str [4];
  assign ctrl    = agcu_ctrl_t'(cfg_i[AGCU_STREAM_W_CTRL]);
  assign vdim    = ctrl.vdim;
  assign base    = cfg_i[AGCU_STREAM_W_BASE];
  assign lstride = cfg_i[AGCU_STREAM_W_LSTRIDE];
  assign vlen    = cfg_i[AGCU_STREAM_W_VLEN];
  assign vstep   = (cfg_i[AGCU_STREAM_W_VSTEP] == '0) ? 32'(LANES) : cfg_i[AGCU_STREAM_W_VSTEP];
  assign cnt[0]  = cfg_i[AGCU_STREAM_W_C0];
  assign str[0]  = cfg_i[AGCU_STREAM_W_S0];
  assign cnt[1]  = cfg_i[AGCU_STREAM_W_C1];
  assign str[1]  = cfg_i[AGCU_STREAM_W_S1];
  assign cnt[2]  = cfg_i[AGCU_STREAM_W_C2];
  assign str[2]  = cfg_i[AGCU_STREAM_W_S2];
  assign cnt[3]  = cfg_i[AGCU_STREAM_W_C3];
  assign str[3]  = cfg_i[AGCU_STREAM_W_S3];
  logic unused_cfg;  // control fields: rdu_agcu
  assign unused_cfg = ^{ctrl.enable, ctrl.tin, ctrl.tout, ctrl.tok_init, agcu_ctrl_rsvd(ctrl)};

  assign gather_o = (lstride != 32'd0) && (lstride != 32'd1);
  assign bcast_o  = (lstride == 32'd0);

  // ---------------------------------------------------------------- state
  logic [31:0] idx_q [4];
  logic [31:0] off_q [4];  // idx[d] * s[d] (elements, wrapping)
  logic [32:0] voff_q;     // idx[vdim] * vstep', saturated at 2^32
  logic [LB-1:0] lane_q;
  logic [31:0] loff_q;     // lane * lstride * 4 (bytes)

  // ---------------------------------------------------------------- outputs
  logic [31:0] rem, n_cap;
  assign rem   = (voff_q >= {1'b0, vlen}) ? 32'd0 : vlen - voff_q[31:0];
  assign n_cap = (vstep < 32'(LANES)) ? vstep : 32'(LANES);
  assign n_o   = (LB+1)'((rem < n_cap) ? rem : n_cap);

  assign done_o = (cnt[0] == '0) || (cnt[1] == '0) || (cnt[2] == '0) || (cnt[3] == '0) ||
                  (idx_q[3] == cnt[3]);
  assign addr_o = base + ((off_q[0] + off_q[1] + off_q[2] + off_q[3]) << 2) + loff_q;
  assign lane_o = lane_q;
  assign last_o = !gather_o || (n_o == '0) || ({1'b0, lane_q} == n_o - (LB+1)'(1));
  // A tile is one iteration of dimension 3: its last vector has i0, i1, i2 at their ends.
  assign tile_end_o = last_o && (idx_q[0] + 32'd1 == cnt[0]) && (idx_q[1] + 32'd1 == cnt[1]) &&
                      (idx_q[2] + 32'd1 == cnt[2]);

  // ---------------------------------------------------------------- next step
  logic [31:0] idx_d [4];
  logic [31:0] off_d [4];
  logic [32:0] voff_d;
  logic [33:0] voff_sum;
  assign voff_sum = {1'b0, voff_q} + {2'b0, vstep};

  always_comb begin
    logic carry;
    carry  = 1'b1;
    voff_d = voff_q;
    for (int unsigned d = 0; d < 4; d++) begin
      idx_d[d] = idx_q[d];
      off_d[d] = off_q[d];
      if (carry) begin
        if (d < 3 && idx_q[d] + 32'd1 == cnt[d]) begin
          idx_d[d] = '0;
          off_d[d] = '0;
          if (vdim == 2'(d)) voff_d = '0;
        end else begin
          idx_d[d] = idx_q[d] + 32'd1;
          off_d[d] = off_q[d] + str[d];
          if (vdim == 2'(d)) voff_d = (voff_sum[33:32] != 2'b00) ? {1'b1, 32'd0} : voff_sum[32:0];
          carry = 1'b0;
        end
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni || clr_i) begin
      for (int unsigned d = 0; d < 4; d++) begin
        idx_q[d] <= '0;
        off_q[d] <= '0;
      end
      voff_q <= '0;
      lane_q <= '0;
      loff_q <= '0;
    end else if (adv_i && !done_o) begin
      if (!last_o) begin
        lane_q <= lane_q + LB'(1);
        loff_q <= loff_q + (lstride << 2);
      end else begin
        lane_q <= '0;
        loff_q <= '0;
        for (int unsigned d = 0; d < 4; d++) begin
          idx_q[d] <= idx_d[d];
          off_q[d] <= off_d[d];
        end
        voff_q <= voff_d;
      end
    end
  end
endmodule
