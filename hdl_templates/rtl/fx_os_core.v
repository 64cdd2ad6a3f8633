// fx_os_core: the modelled accelerator core for one MAC layer under the
// output-stationary dataflow: a controller, the output-stationary array, one
// PPU lane and one stochastic-rounding LFSR per column.
//
// Schedule (the cycle-stepped model's): for each row tile p (ROWS pixels)
// and, inside it, each column tile t (COLS channels), one pass of
// 2*ROWS + COLS + K - 2 cycles. K + ROWS + COLS - 2 stream cycles present
// activation word p*K + s and weight word t*F*ROWS + s in stream cycle s < K
// (the weight image is the weight-stationary one, whose words run over K
// padded to F*ROWS). Then ROWS drain cycles shift the finished accumulators
// out of the bottom of the array, pixel p*ROWS + ROWS - 1 - d in drain cycle
// d, each straight into its column's PPU lane. Passes run back to back, so
// the layer takes ceil(M / ROWS) * T passes; `compute_cycles` counts them,
// from the first stream cycle to the last drain cycle, and the PPU adds only
// its latency (2 cycles, `ppu_cycles`) after the last pass. There is no
// accumulator buffer: every sum is finished inside its PE.
//
// Memories are outside: every read port is asynchronous (address out, data
// in the same cycle); writes are per column (`*_write` one bit per column,
// element addresses t*M + m, as fx_core writes them). `start` is sampled in
// the idle state; `done` rises after the last PPU output is written and
// stays high until the next `start`. The layer values (cfg_*) must hold
// from `start` to `done`.
//
// Stochastic rounding: output element e = m*N + n uses the same LFSR word
// as under fx_core. `cfg_lfsr_start` is the word of the first pass's
// bottom-row element (pixel ROWS - 1, channel 0), `cfg_lfsr_back` is
// x^(-32*N) modulo the polynomial (one pixel back along a column, the order
// of the drain) and `cfg_lfsr_rows` is x^(32*N*ROWS) (one row tile on).
module fx_os_core #(
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
    input  wire [31:0]                  cfg_lfsr_back,
    input  wire [31:0]                  cfg_lfsr_rows,
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
    localparam IDLE = 3'd0, STREAM = 3'd1, DRAIN = 3'd2, FLUSH = 3'd3, DONE = 3'd4;
    localparam PPU_LATENCY = 2;

    reg [2:0]  state;
    reg [31:0] cycle;
    reg [31:0] row_tile;
    reg [31:0] tile;
    // The fold of stream cycle `cycle` and the term's place in it.
    reg [31:0] fold;
    reg [31:0] fold_term;
    wire [31:0] stream_cycles = cfg_k + ROWS + COLS - 2;
    wire last_stream = cycle == stream_cycles - 1;
    wire last_drain = cycle == ROWS - 1;
    wire last_tile = tile == cfg_tiles - 1;
    wire last_row_tile = (row_tile + 1) * ROWS >= cfg_m;
    wire empty = cfg_m == 0 || cfg_k == 0 || cfg_tiles == 0;

    // Controller: advance the phase counters.
    always @(posedge clk) begin
        if (rst) begin
            state <= IDLE;
            done <= 1'b0;
        end else begin
            case (state)
                IDLE, DONE: if (start) begin
                    state <= empty ? DONE : STREAM;
                    done <= empty;
                    cycle <= 0;
                    fold <= 0;
                    fold_term <= 0;
                    row_tile <= 0;
                    tile <= 0;
                    compute_cycles <= 0;
                    ppu_cycles <= 0;
                end
                STREAM: begin
                    compute_cycles <= compute_cycles + 1;
                    cycle <= last_stream ? 0 : cycle + 1;
                    if (fold_term == ROWS - 1) begin
                        fold_term <= 0;
                        fold <= fold + 1;
                    end else begin
                        fold_term <= fold_term + 1;
                    end
                    if (last_stream) state <= DRAIN;
                end
                DRAIN: begin
                    compute_cycles <= compute_cycles + 1;
                    cycle <= last_drain ? 0 : cycle + 1;
                    if (last_drain) begin
                        fold <= 0;
                        fold_term <= 0;
                        tile <= last_tile ? 0 : tile + 1;
                        if (last_tile) row_tile <= row_tile + 1;
                        state <= last_tile && last_row_tile ? FLUSH : STREAM;
                    end
                end
                FLUSH: begin
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

    wire streaming = state == STREAM;
    wire draining = state == DRAIN;
    wire term_valid = streaming && cycle < cfg_k;
    assign act_address = row_tile * cfg_k + cycle;
    assign weight_address = tile * cfg_folds * ROWS + cycle;
    assign tile_address = tile;

    wire [COLS*ACC_BITS-1:0] acc_bottom;
    fx_os_array #(
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
        .enable(streaming || draining),
        .drain(draining),
        .act_column(act_data),
        .act_valid({ROWS{term_valid}}),
        .fold_first(fold_term == 0),
        .fold_last(fold_term == ROWS - 1 || cycle == cfg_k - 1),
        .first_fold(fold == 0),
        .weight_row(weight_data),
        .bias(bias_data),
        .acc_bottom(acc_bottom)
    );

    // LFSR: `row_state` is the word of (pixel p*ROWS + ROWS - 1, channel 0)
    // and `pass_state` that of (pixel p*ROWS + ROWS - 1, channel t*COLS).
    // Lane c starts a pass at channel t*COLS + c and steps one pixel back
    // per drain cycle.
    localparam [31:0] EVENT_JUMP = 32'h0040_0007;
    reg  [31:0] row_state;
    reg  [31:0] pass_state;
    wire [31:0] next_row_state;
    wire [31:0] lane_start [0:COLS];
    assign lane_start[0] = pass_state;
    fx_lfsr_jump next_row (
        .state(row_state),
        .jump(cfg_lfsr_rows),
        .result(next_row_state)
    );
    genvar c;
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
            row_state <= cfg_lfsr_start;
            pass_state <= cfg_lfsr_start;
        end else if (draining && last_drain) begin
            if (last_tile) begin
                row_state <= next_row_state;
                pass_state <= next_row_state;
            end else begin
                pass_state <= lane_start[COLS];
            end
        end
    end

    wire [31:0] pixel = row_tile * ROWS + (ROWS - 1 - cycle);
    generate
        for (c = 0; c < COLS; c = c + 1) begin : lane
            reg  [31:0] lfsr;
            wire [31:0] lfsr_previous_pixel;
            fx_lfsr_jump previous_pixel (
                .state(lfsr),
                .jump(cfg_lfsr_back),
                .result(lfsr_previous_pixel)
            );
            always @(posedge clk) begin
                if (streaming) lfsr <= lane_start[c];
                else if (draining) lfsr <= lfsr_previous_pixel;
            end

            wire [ADDRESS_BITS-1:0] element_address = tile * cfg_m + pixel;
            wire in_range = draining && pixel < cfg_m && tile * COLS + c < cfg_n;
            wire signed [ACC_BITS-1:0] finished = acc_bottom[c*ACC_BITS +: ACC_BITS];
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
                .in_valid(in_range),
                .in_acc(finished),
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

            assign acc_write[c] = in_range;
            assign acc_write_address[c*ADDRESS_BITS +: ADDRESS_BITS] = element_address;
            assign acc_write_data[c*ACC_BITS +: ACC_BITS] = finished;
        end
    endgenerate
endmodule
