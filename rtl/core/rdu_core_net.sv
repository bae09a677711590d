// Wiring of one statically routed network of the core (`docs/hardware.md` ("Networks and switches")):
// the links between the switches of the (SR x SC) switch grid and the local ports.
// Switch s = r*SC + c. Input N/E/S/W comes from the neighbour's output S/W/N/E; at the
// grid edge an input is never valid and an output never ready. Local inputs 4, 5 come
// from loc_in_* (the attached unit's outputs, tied off by the core where absent);
// local outputs 4, 5, 6 go to loc_out_* (the attached unit's inputs). A link whose
// link_on_i bit is low (a tile boundary between different owners, `docs/hardware.md`
// ("Tiles")) is off: neither side sees the other valid or ready.
module rdu_core_net #(
  parameter int unsigned W  = 32,
  parameter int unsigned SR = 3,
  parameter int unsigned SC = 3
) (
  input  logic [6:0]   sw_out_valid_i [SR*SC],
  input  logic [W-1:0] sw_out_data_i  [SR*SC][7],
  output logic [6:0]   sw_out_ready_o [SR*SC],
  output logic [5:0]   sw_in_valid_o  [SR*SC],
  output logic [W-1:0] sw_in_data_o   [SR*SC][6],
  input  logic [5:0]   sw_in_ready_i  [SR*SC],
  input  logic [1:0]   loc_in_valid_i [SR*SC],
  input  logic [W-1:0] loc_in_data_i  [SR*SC][2],
  output logic [1:0]   loc_in_ready_o [SR*SC],
  output logic [2:0]   loc_out_valid_o[SR*SC],
  output logic [W-1:0] loc_out_data_o [SR*SC][3],
  input  logic [2:0]   loc_out_ready_i[SR*SC],
  input  logic [3:0]   link_on_i      [SR*SC]  // per switch, per direction N E S W
);
  for (genvar r = 0; r < SR; r++) begin : g_row
    for (genvar c = 0; c < SC; c++) begin : g_col
      localparam int unsigned S = r * SC + c;
      // Neighbour of each direction (valid only when it exists) and the port facing us.
      localparam int unsigned NB [4] = '{(r > 0) ? S - SC : 0, (c + 1 < SC) ? S + 1 : 0,
                                         (r + 1 < SR) ? S + SC : 0, (c > 0) ? S - 1 : 0};
      localparam bit          HAS [4] = '{r > 0, c + 1 < SC, r + 1 < SR, c > 0};

      for (genvar d = 0; d < 4; d++) begin : g_dir
        localparam int unsigned OPP = (d + 2) % 4;
        if (HAS[d]) begin : g_link
          assign sw_in_valid_o[S][d] = sw_out_valid_i[NB[d]][OPP] && link_on_i[S][d];
          assign sw_in_data_o[S][d]  = sw_out_data_i[NB[d]][OPP];
          assign sw_out_ready_o[S][d] = sw_in_ready_i[NB[d]][OPP] && link_on_i[S][d];
        end else begin : g_edge
          assign sw_in_valid_o[S][d]  = 1'b0;
          assign sw_in_data_o[S][d]   = '0;
          assign sw_out_ready_o[S][d] = 1'b0;
          logic unused_edge;
          assign unused_edge = ^{sw_out_valid_i[S][d], sw_out_data_i[S][d], sw_in_ready_i[S][d], link_on_i[S][d]};
        end
      end

      for (genvar i = 0; i < 2; i++) begin : g_loc_in
        assign sw_in_valid_o[S][4+i] = loc_in_valid_i[S][i];
        assign sw_in_data_o[S][4+i]  = loc_in_data_i[S][i];
        assign loc_in_ready_o[S][i]  = sw_in_ready_i[S][4+i];
      end
      for (genvar o = 0; o < 3; o++) begin : g_loc_out
        assign loc_out_valid_o[S][o]  = sw_out_valid_i[S][4+o];
        assign loc_out_data_o[S][o]   = sw_out_data_i[S][4+o];
        assign sw_out_ready_o[S][4+o] = loc_out_ready_i[S][o];
      end
    end
  end
endmodule
