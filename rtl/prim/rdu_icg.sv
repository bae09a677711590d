// Integrated clock-gating cell (the standard latch-based ICG): clk_o follows clk_i in
// the cycles whose en_i was high before the rising edge, and stays low otherwise. The
// enable is captured by a latch transparent while clk_i is low, so a change of en_i
// after the rising edge cannot glitch clk_o. A synthesis flow maps this module onto the
// library's ICG cell. In Verilator 5 a gated clock is its own trigger: logic clocked by
// clk_o (and combinational logic fed only by it) is not evaluated in gated cycles.
module rdu_icg (
  input  logic clk_i,
  input  logic en_i,
  output logic clk_o
);
  logic en_q;
  always_latch begin
    if (!clk_i) en_q = en_i;
  end
  assign clk_o = clk_i & en_q;
endmodule
