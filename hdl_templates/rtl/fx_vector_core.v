// fx_vector_core: the depthwise vector unit for one layer: a controller,
// COLS MAC lanes (fx_vector_lane), one PPU lane and one stochastic-rounding
// LFSR per lane. Lane c of tile t computes output channel t*COLS + c, whose
// own input channel arrives in element c of the activation word.
//
// Schedule (the timing model's `depthwise_vector_cycles`): for each tile t
// of COLS channels, each pixel m and each tap k < K, one cycle, reading
// activation word (t*M + m)*K + k and weight word t*F*ROWS + k (the
// weight-stationary weight image of one group of N channels, whose words
// run over K padded to F*ROWS). The lanes are fully pipelined: a pixel's
// accumulators go to the PPU lanes in the cycle of its last tap, so the
// layer takes T*M*K cycles (`compute_cycles`) and the PPU adds its latency
// (2 cycles, `ppu_cycles`) after the last one.
//
// Memories are outside: every read port is asynchronous (address out, data
// in the same cycle); writes are per lane (`*_write` one bit per lane,
// element addresses t*M + m, as fx_core writes them). `start` is sampled in
// the idle state; `done` rises after the last PPU output is written and
// stays high until the next `start`. The layer values (cfg_*) must hold
// from `start` to `done`.
//
// Stochastic rounding: output element e = m*N + n uses the word of fx_core.
// `cfg_lfsr_start` is the word of element 0 and `cfg_lfsr_jump` is
// x^(32*N) modulo the polynomial (one pixel further in the same channel).
module fx_vector_core #(
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
    input  wire [31:0]                  cfg_lfsr_jump,
    output wire [ADDRESS_BITS-1:0]      weight_address,
    input  wire [COLS*W_BITS-1:0]       weight_data,
    output wire [ADDRESS_BITS-1:0]      act_address,
    input  wire [COLS*A_BITS-1:0]       act_data,
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
    localparam IDLE = 2'd0, STREAM = 2'd1, FLUSH = 2'd2, DONE = 2'd3;
    localparam PPU_LATENCY = 2;

    reg [1:0]  state;
    reg [31:0] tile;
    reg [31:0] pixel;
    reg [31:0] tap;
    reg [31:0] flush_cycle;
    // The fold of the current tap and the tap's place in it.
    reg [31:0] fold;
    reg [31:0] fold_term;
    wire last_tap = tap == cfg_k - 1;
    wire last_pixel = pixel == cfg_m - 1;
    wire last_tile = tile == cfg_tiles - 1;
    wire empty = cfg_m == 0 || cfg_k == 0 || cfg_tiles == 0;

    // Controller: advance the tap, pixel and tile counters.
    always @(posedge clk) begin
        if (rst) begin
            state <= IDLE;
            done <= 1'b0;
        end else begin
            case (state)
                IDLE, DONE: if (start) begin
                    state <= empty ? DONE : STREAM;
                    done <= empty;
                    tile <= 0;
                    pixel <= 0;
                    tap <= 0;
                    fold <= 0;
                    fold_term <= 0;
                    flush_cycle <= 0;
                    compute_cycles <= 0;
                    ppu_cycles <= 0;
                end
                STREAM: begin
                    compute_cycles <= compute_cycles + 1;
                    if (last_tap) begin
                        tap <= 0;
                        fold <= 0;
                        fold_term <= 0;
                        pixel <= last_pixel ? 0 : pixel + 1;
                        if (last_pixel) tile <= tile + 1;
                        if (last_pixel && last_tile) state <= FLUSH;
                    end else begin
                        tap <= tap + 1;
                        if (fold_term == ROWS - 1) begin
                            fold_term <= 0;
                            fold <= fold + 1;
                        end else begin
                            fold_term <= fold_term + 1;
                        end
                    end
                end
                FLUSH: begin
                    ppu_cycles <= ppu_cycles + 1;
                    flush_cycle <= flush_cycle + 1;
                    if (flush_cycle == PPU_LATENCY - 1) begin
                        state <= DONE;
                        done <= 1'b1;
                    end
                end
                default: state <= IDLE;
            endcase
        end
    end

    wire streaming = state == STREAM;
    assign act_address = (tile * cfg_m + pixel) * cfg_k + tap;
    assign weight_address = tile * cfg_folds * ROWS + tap;
    assign tile_address = tile;

    // LFSR: `tile_state` is the word of (pixel 0, channel t*COLS); lane c
    // starts a tile at channel t*COLS + c and moves one pixel on after each
    // of its results.
    localparam [31:0] EVENT_JUMP = 32'h0040_0007;
    reg  [31:0] tile_state;
    wire [31:0] lane_start [0:COLS];
    assign lane_start[0] = tile_state;
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
            tile_state <= cfg_lfsr_start;
        end else if (streaming && last_tap && last_pixel) begin
            tile_state <= lane_start[COLS];
        end
    end

    generate
        for (c = 0; c < COLS; c = c + 1) begin : lane
            wire signed [ACC_BITS-1:0] result;
            wire result_valid;
            fx_vector_lane #(
                .A_BITS(A_BITS),
                .A_SIGNED(A_SIGNED),
                .W_BITS(W_BITS),
                .W_SIGNED(W_SIGNED),
                .ACC_BITS(ACC_BITS),
                .ACC_SATURATE(ACC_SATURATE)
            ) mac (
                .clk(clk),
                .valid(streaming),
                .fold_first(fold_term == 0),
                .fold_last(fold_term == ROWS - 1 || last_tap),
                .first_fold(fold == 0),
                .last_tap(last_tap),
                .act(act_data[c*A_BITS +: A_BITS]),
                .weight(weight_data[c*W_BITS +: W_BITS]),
                .bias(bias_data[c*ACC_BITS +: ACC_BITS]),
                .result(result),
                .result_valid(result_valid)
            );

            reg  [31:0] lfsr;
            wire [31:0] random = pixel == 0 ? lane_start[c] : lfsr;
            wire [31:0] random_next_pixel;
            fx_lfsr_jump next_pixel (
                .state(random),
                .jump(cfg_lfsr_jump),
                .result(random_next_pixel)
            );
            always @(posedge clk) begin
                if (result_valid) lfsr <= random_next_pixel;
            end

            wire [ADDRESS_BITS-1:0] element_address = tile * cfg_m + pixel;
            wire in_range = result_valid && tile * COLS + c < cfg_n;
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
                .in_acc(result),
                .in_address(element_address),
                .multiplier(requant_data[c*(MULT_BITS+8) +: MULT_BITS]),
                .shift(requant_data[c*(MULT_BITS+8) + MULT_BITS +: 8]),
                .bias_post(bias_post_data[c*ACC_BITS +: ACC_BITS]),
                .random(random),
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
            assign acc_write_data[c*ACC_BITS +: ACC_BITS] = result;
        end
    endgenerate
endmodule
