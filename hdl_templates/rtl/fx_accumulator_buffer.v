// fx_accumulator_buffer: one accumulator register per output pixel and
// array column, M_MAX pixels deep.
//
// When `sum_valid[c]` is high the fold sum of column c is added to the
// accumulator of that column's next pixel (a per-column counter, cleared by
// `pass_start`, since a column's pixels leave the array in order). In the
// first fold the addition starts from the column's initial value `bias`
// (the bias of `bias = "init"`, or 0); later folds add to the stored value.
// The addition is held in ACC_BITS with wrap or saturation.
//
// Latency: `result`, `result_valid` and `result_pixel` are combinational
// from the inputs (the value written this cycle); `result_valid` is high
// only in the last fold. The stored value is visible from the next cycle.
// Reads are asynchronous, so the memories map to distributed RAM.
module fx_accumulator_buffer #(
    parameter COLS = 4,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0,
    parameter PIXEL_BITS = 16
) (
    input  wire                     clk,
    input  wire                     pass_start,
    input  wire                     first_fold,
    input  wire                     last_fold,
    input  wire [COLS*ACC_BITS-1:0] bias,
    input  wire [COLS*ACC_BITS-1:0] sum,
    input  wire [COLS-1:0]          sum_valid,
    output wire [COLS*ACC_BITS-1:0] result,
    output wire [COLS-1:0]          result_valid,
    output wire [COLS*PIXEL_BITS-1:0] result_pixel
);
    localparam M_MAX = 1 << PIXEL_BITS;

    genvar c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : column
            reg signed [ACC_BITS-1:0] stored [0:M_MAX-1];
            reg [PIXEL_BITS-1:0] pixel;

            wire signed [ACC_BITS-1:0] base =
                first_fold ? bias[c*ACC_BITS +: ACC_BITS] : stored[pixel];
            wire signed [ACC_BITS-1:0] fold_sum = sum[c*ACC_BITS +: ACC_BITS];
            wire signed [ACC_BITS:0] exact = base + fold_sum;
            wire signed [ACC_BITS-1:0] added;

            fx_overflow #(
                .IN_BITS(ACC_BITS + 1),
                .OUT_BITS(ACC_BITS),
                .SATURATE(ACC_SATURATE)
            ) overflow (
                .value(exact),
                .result(added)
            );

            always @(posedge clk) begin
                if (pass_start) begin
                    pixel <= 0;
                end else if (sum_valid[c]) begin
                    stored[pixel] <= added;
                    pixel <= pixel + 1'b1;
                end
            end

            assign result[c*ACC_BITS +: ACC_BITS] = added;
            assign result_valid[c] = sum_valid[c] & last_fold;
            assign result_pixel[c*PIXEL_BITS +: PIXEL_BITS] = pixel;
        end
    endgenerate
endmodule
