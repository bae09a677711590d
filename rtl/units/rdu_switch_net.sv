// One network of a switch (`docs/hardware.md` ("Networks and switches")): NIN inputs, NOUT outputs,
// a 4-bit select per output (0 unused, 1+i input i; other values unused). Fan-out with
// all-ready semantics: an input is consumed only in a cycle where every output that
// selects it can accept it; an input no output selects is never ready. Every output is
// registered through a 2-entry FIFO: one cycle per hop, one transfer per cycle, and
// no combinational path from an output's ready to an input's ready.
module rdu_switch_net #(
  parameter int unsigned WIDTH = 32,
  parameter int unsigned NIN   = 6,
  parameter int unsigned NOUT  = 7
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                clr_i,     // empty every output FIFO, accept nothing
  input  logic [4*NOUT-1:0]   sel_i,

  input  logic [NIN-1:0]      in_valid_i,
  output logic [NIN-1:0]      in_ready_o,
  input  logic [WIDTH-1:0]    in_data_i [NIN],

  output logic [NOUT-1:0]     out_valid_o,
  input  logic [NOUT-1:0]     out_ready_i,
  output logic [WIDTH-1:0]    out_data_o [NOUT]
);
  localparam int unsigned ODEPTH = 2;
  localparam int unsigned OW     = $clog2(ODEPTH + 1);

  // use_o[o][i]: output o selects input i (decoded from the select).
  logic [NIN-1:0] use_o [NOUT];
  logic [NOUT-1:0] fifo_ready;

  for (genvar o = 0; o < NOUT; o++) begin : g_dec
    logic [3:0] sel;
    assign sel = sel_i[4*o +: 4];
    for (genvar i = 0; i < NIN; i++) begin : g_in
      assign use_o[o][i] = (sel == 4'(i + 1));
    end
  end

  // Input i is ready when some output selects it and every selecting output has room.
  for (genvar i = 0; i < NIN; i++) begin : g_ready
    logic [NOUT-1:0] sel_by, blocked;
    for (genvar o = 0; o < NOUT; o++) begin : g_out
      assign sel_by[o]  = use_o[o][i];
      assign blocked[o] = use_o[o][i] && !fifo_ready[o];
    end
    assign in_ready_o[i] = !clr_i && (|sel_by) && !(|blocked);
  end

  for (genvar o = 0; o < NOUT; o++) begin : g_out
    logic             push, valid;
    logic [WIDTH-1:0] data;
    logic [OW-1:0]    unused_count;

    always_comb begin
      push = 1'b0;
      data = '0;
      for (int unsigned i = 0; i < NIN; i++) begin
        if (use_o[o][i]) begin
          push = in_valid_i[i] && in_ready_o[i];
          data = in_data_i[i];
        end
      end
    end

    rdu_fifo #(
      .WIDTH(WIDTH),
      .DEPTH(ODEPTH)
    ) u_fifo (
      .clk_i,
      .rst_ni,
      .clr_i,
      .in_valid_i (push),
      .in_ready_o (fifo_ready[o]),
      .in_data_i  (data),
      .out_valid_o(valid),
      .out_ready_i(out_ready_i[o]),
      .out_data_o (out_data_o[o]),
      .count_o    (unused_count)
    );
    assign out_valid_o[o] = valid && !clr_i;
  end
endmodule
