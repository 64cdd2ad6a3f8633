// fx_core: the modelled accelerator core for one MAC layer: a controller,
// the weight-stationary array, the accumulator buffer, one PPU lane and one
// stochastic-rounding LFSR per column.
//
// Schedule (the cycle-stepped model's): for each column tile t and, inside
// it, each fold f, one pass of 2*ROWS + COLS + M - 2 cycles. ROWS load
// cycles shift the fold's weights in from the top, bottom row first (weight
// word (t*F + f)*ROWS + ROWS-1-j in load cycle j). Then M + ROWS + COLS - 2
// stream cycles present activation word f*M + s in stream cycle s < M. Passes
// run back to back, so the layer takes F*T passes; `compute_cycles` counts
// them, from the first load cycle to the cycle the last fold sum is written.
// In the last fold each accumulator goes straight into its column's PPU
// lane, so the PPU adds only its latency (2 cycles, `ppu_cycles`) after the
// last pass.
//
// Memories are outside: every read port is asynchronous (address out, data
// in the same cycle); writes are per column (`*_write` one bit per column,
// element addresses t*M + m). `start` is sampled in the idle state; `done`
// rises after the last PPU output is written and stays high until the next
// `start`. The layer values (cfg_*) must hold from `start` to `done`.
//
// Stochastic rounding: output element e = m*N + n of the layer, N being its
// output channels over all groups, uses the LFSR state 32*(g + 1) steps past
// the seed, g = layer*2^24 + e. `cfg_lfsr_start` is the word of the run's
// first element (column 0, pixel 0) and `cfg_lfsr_jump` is x^(32*N) modulo
// the polynomial (one pixel further along a column); the lanes derive the
// rest with fx_lfsr_jump.
module fx_core #(
    parameter ROWS = 4,
    parameter COLS = 4,
    parameter A_BITS = 9,
    parameter A_SIGNED = 1,
    parameter W_BITS = 8,
    parameter W_SIGNED = 1,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0,
    parameter BIAS_POST = 0,
    parameter REQUANT_MODE = 0,
    parameter MULT_BITS = 32,
    parameter ROUNDING = 0,
    parameter OUT_BITS = 8,
    parameter PIXEL_BITS = 14,
    parameter ADDRESS_BITS = 20
) (
    input  wire                         clk,
    input  wire                         rst,
    input  wire                         start,
    output reg                          done,
    input  wire [31:0]                  cfg_m,
    input  wire [31:0]                  cfg_k,
    input  wire [31:0]                  cfg_n,
    input  wire [31:0]                  cfg_folds,
    input  wire [31:0]                  cfg_tiles,
    input  wire signed [31:0]           cfg_out_zero_point,
    input  wire signed [31:0]           cfg_out_min,
    input  wire signed [31:0]           cfg_out_max,
    input  wire [31:0]                  cfg_lfsr_start,
    input  wire [31:0]                  cfg_lfsr_jump,
    output wire [ADDRESS_BITS-1:0]      weight_address,
    input  wire [COLS*W_BITS-1:0]       weight_data,
    output wire [ADDRESS_BITS-1:0]      act_address,
    input  wire [ROWS*A_BITS-1:0]       act_data,
    output wire [ADDRESS_BITS-1:0]      tile_address,
    input  wire [COLS*ACC_BITS-1:0]     bias_data,
    input  wire [COLS*ACC_BITS-1:0]     bias_post_data,
    input  wire [COLS*(MULT_BITS+8)-1:0] requant_data,
    output wire [COLS-1:0]              acc_write,
    output wire [COLS*ADDRESS_BITS-1:0] acc_write_address,
    output wire [COLS*ACC_BITS-1:0]     acc_write_data,
    output wire [COLS-1:0]              out_write,
    output wire [COLS*ADDRESS_BITS-1:0] out_write_address,
    output wire [COLS*OUT_BITS-1:0]     out_write_data,
    output reg  [63:0]                  compute_cycles,
    output reg  [63:0]                  ppu_cycles
);
    localparam IDLE = 3'd0, LOAD = 3'd1, STREAM = 3'd2, DRAIN = 3'd3, DONE = 3'd4;
    localparam PPU_LATENCY = 2;

    reg [2:0]  state;
    reg [31:0] cycle;
    reg [31:0] fold;
    reg [31:0] tile;
    reg [31:0] pass;
    wire [31:0] stream_cycles = cfg_m + ROWS + COLS - 2;
    wire last_load = cycle == ROWS - 1;
    wire last_stream = cycle == stream_cycles - 1;
    wire last_fold = fold == cfg_folds - 1;
    wire last_tile = tile == cfg_tiles - 1;

    // Controller: advance the phase counters.
    always @(posedge clk) begin
        if (rst) begin
            state <= IDLE;
            done <= 1'b0;
        end else begin
            case (state)
                IDLE, DONE: if (start) begin
                    state <= cfg_folds == 0 || cfg_tiles == 0 || cfg_m == 0 ? DONE : LOAD;
                    done <= cfg_folds == 0 || cfg_tiles == 0 || cfg_m == 0;
                    cycle <= 0;
                    fold <= 0;
                    tile <= 0;
                    pass <= 0;
                    compute_cycles <= 0;
                    ppu_cycles <= 0;
                end
                LOAD: begin
                    compute_cycles <= compute_cycles + 1;
                    cycle <= last_load ? 0 : cycle + 1;
                    if (last_load) state <= STREAM;
                end
                STREAM: begin
                    compute_cycles <= compute_cycles + 1;
                    cycle <= last_stream ? 0 : cycle + 1;
                    if (last_stream) begin
                        pass <= pass + 1;
                        fold <= last_fold ? 0 : fold + 1;
                        if (last_fold) tile <= tile + 1;
                        state <= last_fold && last_tile ? DRAIN : LOAD;
                    end
                end
                DRAIN: begin
                    ppu_cycles <= ppu_cycles + 1;
                    cycle <= cycle + 1;
                    if (cycle == PPU_LATENCY - 1) begin
                        state <= DONE;
                        done <= 1'b1;
                    end
                end
                default: state <= IDLE;
            endcase
        end
    end

    wire loading = state == LOAD;
    wire streaming = state == STREAM;
    assign weight_address = pass * ROWS + (ROWS - 1 - cycle);
    assign act_address = fold * cfg_m + cycle;
    assign tile_address = tile;

    wire [ROWS-1:0] act_valid;
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : row_valid
            assign act_valid[r] = streaming && cycle < cfg_m && fold * ROWS + r < cfg_k;
        end
    endgenerate

    wire [COLS*ACC_BITS-1:0] sum_bottom;
    wire [COLS-1:0] sum_bottom_valid;
    fx_array #(
        .ROWS(ROWS),
        .COLS(COLS),
        .A_BITS(A_BITS),
        .A_SIGNED(A_SIGNED),
        .W_BITS(W_BITS),
        .W_SIGNED(W_SIGNED),
        .ACC_BITS(ACC_BITS),
        .ACC_SATURATE(ACC_SATURATE)
    ) array (
        .clk(clk),
        .enable(loading || streaming),
        .load(loading),
        .weight_top(weight_data),
        .act_column(act_data),
        .act_valid(act_valid),
        .sum_bottom(sum_bottom),
        .sum_bottom_valid(sum_bottom_valid)
    );

    wire [COLS*ACC_BITS-1:0] result;
    wire [COLS-1:0] result_valid;
    wire [COLS*PIXEL_BITS-1:0] result_pixel;
    fx_accumulator_buffer #(
        .COLS(COLS),
        .ACC_BITS(ACC_BITS),
        .ACC_SATURATE(ACC_SATURATE),
        .PIXEL_BITS(PIXEL_BITS)
    ) accumulators (
        .clk(clk),
        .pass_start(loading),
        .first_fold(fold == 0),
        .last_fold(last_fold),
        .bias(bias_data),
        .sum(sum_bottom),
        .sum_valid(sum_bottom_valid & {COLS{streaming}}),
        .result(result),
        .result_valid(result_valid),
        .result_pixel(result_pixel)
    );

    // LFSR lanes: lane c starts tile t at element t*COLS + c and moves N
    // elements on per pixel.
    localparam [31:0] EVENT_JUMP = 32'h0040_0007;
    reg  [31:0] tile_state;
    wire [31:0] lane_start [0:COLS];
    assign lane_start[0] = tile_state;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : lane_chain
            fx_lfsr_jump next_lane (
                .state(lane_start[c]),
                .jump(EVENT_JUMP),
                .result(lane_start[c + 1])
            );
        end
    endgenerate
    always @(posedge clk) begin
        if (state == IDLE || state == DONE) begin
            tile_state <= cfg_lfsr_start;
        end else if (streaming && last_stream && last_fold) begin
            tile_state <= lane_start[COLS];
        end
    end

    generate
        for (c = 0; c < COLS; c = c + 1) begin : lane
            reg  [31:0] lfsr;
            wire [31:0] lfsr_next_pixel;
            fx_lfsr_jump next_pixel (
                .state(lfsr),
                .jump(cfg_lfsr_jump),
                .result(lfsr_next_pixel)
            );
            always @(posedge clk) begin
                if (loading) lfsr <= lane_start[c];
                else if (result_valid[c]) lfsr <= lfsr_next_pixel;
            end

            wire [ADDRESS_BITS-1:0] element_address =
                tile * cfg_m + result_pixel[c*PIXEL_BITS +: PIXEL_BITS];
            wire in_range = tile * COLS + c < cfg_n;
            wire [OUT_BITS-1:0] ppu_data;
            wire ppu_valid;
            fx_ppu #(
                .ACC_BITS(ACC_BITS),
                .ACC_SATURATE(ACC_SATURATE),
                .BIAS_POST(BIAS_POST),
                .REQUANT_MODE(REQUANT_MODE),
                .MULT_BITS(MULT_BITS),
                .ROUNDING(ROUNDING),
                .OUT_BITS(OUT_BITS),
                .ADDRESS_BITS(ADDRESS_BITS)
            ) ppu (
                .clk(clk),
                .in_valid(result_valid[c] && in_range),
                .in_acc(result[c*ACC_BITS +: ACC_BITS]),
                .in_address(element_address),
                .multiplier(requant_data[c*(MULT_BITS+8) +: MULT_BITS]),
                .shift(requant_data[c*(MULT_BITS+8) + MULT_BITS +: 8]),
                .bias_post(bias_post_data[c*ACC_BITS +: ACC_BITS]),
                .random(lfsr),
                .out_zero_point(cfg_out_zero_point),
                .out_min(cfg_out_min),
                .out_max(cfg_out_max),
                .out_valid(ppu_valid),
                .out_data(ppu_data),
                .out_address(out_write_address[c*ADDRESS_BITS +: ADDRESS_BITS])
            );
            assign out_write[c] = ppu_valid;
            assign out_write_data[c*OUT_BITS +: OUT_BITS] = ppu_data;

            assign acc_write[c] = result_valid[c] && in_range;
            assign acc_write_address[c*ADDRESS_BITS +: ADDRESS_BITS] = element_address;
            assign acc_write_data[c*ACC_BITS +: ACC_BITS] = result[c*ACC_BITS +: ACC_BITS];
        end
    endgenerate
endmodule
