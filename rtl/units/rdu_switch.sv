// Switch (`docs/hardware.md` and `docs/bitstream.md`): three statically routed networks
// of identical structure, vector (LANES*32 bits, prefix v), scalar (32, prefix s) and
// control (1, prefix c). Inputs 0..3 N E S W, 4..5 attached unit outputs 0..1;
// outputs 0..3 N E S W, 4..6 attached unit inputs 0..2. Configuration word n holds the
// 4-bit selects of network n (bits 4*o+3:4*o for output o).
module rdu_switch
  import rdu_cfg_pkg::*;
  import rdu_bits_pkg::*;
#(
  parameter int unsigned UNIT_ID = 0
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  cfg_clear_i,
  input  logic                  cfg_we_i,
  input  logic [15:0]           cfg_unit_i,
  input  logic [7:0]            cfg_word_i,
  input  logic [31:0]           cfg_data_i,
  input  logic                  run_i,

  // Vector network.
  input  logic [5:0]            vin_valid_i,
  output logic [5:0]            vin_ready_o,
  input  logic [LANES*32-1:0]   vin_data_i [6],
  output logic [6:0]            vout_valid_o,
  input  logic [6:0]            vout_ready_i,
  output logic [LANES*32-1:0]   vout_data_o [7],
  // Scalar network.
  input  logic [5:0]            sin_valid_i,
  output logic [5:0]            sin_ready_o,
  input  logic [31:0]           sin_data_i [6],
  output logic [6:0]            sout_valid_o,
  input  logic [6:0]            sout_ready_i,
  output logic [31:0]           sout_data_o [7],
  // Control network.
  input  logic [5:0]            cin_valid_i,
  output logic [5:0]            cin_ready_o,
  input  logic [0:0]            cin_data_i [6],
  output logic [6:0]            cout_valid_o,
  input  logic [6:0]            cout_ready_i,
  output logic [0:0]            cout_data_o [7]
);
  localparam int unsigned NIN  = 6;
  localparam int unsigned NOUT = 7;
  localparam int unsigned SELW = 4 * NOUT;

  // Configuration: one select word per network (configs/bitstream.yaml, rdu_bits_pkg).
  switch_sel_t     cfg_sel;
  logic [SELW-1:0] sel_q [SWITCH_NET_N];
  logic            unused_cfg;
  assign cfg_sel    = switch_sel_t'(cfg_data_i);
  assign unused_cfg = switch_sel_rsvd(cfg_sel);

  for (genvar n = 0; n < SWITCH_NET_N; n++) begin : g_cfg
    always_ff @(posedge clk_i) begin
      if (!rst_ni || cfg_clear_i) begin
        sel_q[n] <= '0;
      end else if (cfg_we_i && cfg_unit_i == 16'(UNIT_ID) && cfg_word_i == 8'(SWITCH_NET_BASE + SWITCH_NET_WORDS * n)) begin
        sel_q[n] <= cfg_sel.sel;
      end
    end
  end

  logic clr;
  assign clr = !run_i;

  rdu_switch_net #(
    .WIDTH(LANES * 32),
    .NIN  (NIN),
    .NOUT (NOUT)
  ) u_vec (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .sel_i      (sel_q[0]),
    .in_valid_i (vin_valid_i),
    .in_ready_o (vin_ready_o),
    .in_data_i  (vin_data_i),
    .out_valid_o(vout_valid_o),
    .out_ready_i(vout_ready_i),
    .out_data_o (vout_data_o)
  );

  rdu_switch_net #(
    .WIDTH(32),
    .NIN  (NIN),
    .NOUT (NOUT)
  ) u_scalar (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .sel_i      (sel_q[1]),
    .in_valid_i (sin_valid_i),
    .in_ready_o (sin_ready_o),
    .in_data_i  (sin_data_i),
    .out_valid_o(sout_valid_o),
    .out_ready_i(sout_ready_i),
    .out_data_o (sout_data_o)
  );

  rdu_switch_net #(
    .WIDTH(1),
    .NIN  (NIN),
    .NOUT (NOUT)
  ) u_ctrl (
    .clk_i,
    .rst_ni,
    .clr_i      (clr),
    .sel_i      (sel_q[2]),
    .in_valid_i (cin_valid_i),
    .in_ready_o (cin_ready_o),
    .in_data_i  (cin_data_i),
    .out_valid_o(cout_valid_o),
    .out_ready_i(cout_ready_i),
    .out_data_o (cout_data_o)
  );
endmodule
