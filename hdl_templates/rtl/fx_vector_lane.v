// fx_vector_lane: one MAC lane of the depthwise vector unit. It computes one
// output channel of one pixel, one kernel tap per cycle.
//
// When `valid` is high the product `act * weight` goes into
// fx_fold_accumulator, which keeps the fold order of the array (folds of
// ROWS taps), and at the last tap of a fold (`fold_last`) the accumulator
// takes the new sum.
//
// Latency: `result` is combinational, the accumulator after this cycle's
// tap, so it is the finished sum in the cycle of the pixel's last tap
// (`last_tap`), when `result_valid` is high. The sums are registered for
// the next tap.
module fx_vector_lane #(
    parameter A_BITS = 9,
    parameter A_SIGNED = 1,
    parameter W_BITS = 8,
    parameter W_SIGNED = 1,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0
) (
    input  wire                       clk,
    input  wire                       valid,
    input  wire                       fold_first,
    input  wire                       fold_last,
    input  wire                       first_fold,
    input  wire                       last_tap,
    input  wire [A_BITS-1:0]          act,
    input  wire [W_BITS-1:0]          weight,
    input  wire signed [ACC_BITS-1:0] bias,
    output wire signed [ACC_BITS-1:0] result,
    output wire                       result_valid
);
    localparam PRODUCT_BITS = A_BITS + W_BITS + 2;

    reg signed [ACC_BITS-1:0] acc_q;

    wire signed [A_BITS:0] act_extended =
        A_SIGNED != 0 ? $signed({act[A_BITS-1], act}) : $signed({1'b0, act});
    wire signed [W_BITS:0] weight_extended =
        W_SIGNED != 0 ? $signed({weight[W_BITS-1], weight}) : $signed({1'b0, weight});
    wire signed [PRODUCT_BITS-1:0] product = act_extended * weight_extended;

    fx_fold_accumulator #(
        .PRODUCT_BITS(PRODUCT_BITS),
        .ACC_BITS(ACC_BITS),
        .ACC_SATURATE(ACC_SATURATE)
    ) sums (
        .clk(clk),
        .valid(valid),
        .product(product),
        .fold_first(fold_first),
        .first_fold(first_fold),
        .bias(bias),
        .acc(acc_q),
        .acc_next(result)
    );
    assign result_valid = valid && last_tap;

    always @(posedge clk) begin
        if (valid && fold_last) acc_q <= result;
    end
endmodule
