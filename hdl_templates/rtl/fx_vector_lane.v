// fx_vector_lane: one MAC lane of the depthwise vector unit. It computes one
// output channel of one pixel, one kernel tap per cycle.
//
// When `valid` is high the product `act * weight` is added to the fold sum,
// which restarts from 0 at the first tap of a fold (`fold_first`). At the
// last tap of a fold (`fold_last`) the fold sum is added to the
// accumulator, which starts from `bias` in the first fold (`first_fold`).
// Every addition is held in ACC_BITS with wrap or saturation, in the fold
// order of the array, folds being ROWS taps long.
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
    localparam SUM_BITS = (PRODUCT_BITS > ACC_BITS ? PRODUCT_BITS : ACC_BITS) + 1;

    reg signed [ACC_BITS-1:0] fold_sum_q;
    reg signed [ACC_BITS-1:0] acc_q;

    wire signed [A_BITS:0] act_extended =
        A_SIGNED != 0 ? $signed({act[A_BITS-1], act}) : $signed({1'b0, act});
    wire signed [W_BITS:0] weight_extended =
        W_SIGNED != 0 ? $signed({weight[W_BITS-1], weight}) : $signed({1'b0, weight});
    wire signed [PRODUCT_BITS-1:0] product = act_extended * weight_extended;

    wire signed [SUM_BITS-1:0] product_term = product;
    wire signed [SUM_BITS-1:0] fold_base = fold_first ? 0 : fold_sum_q;
    wire signed [SUM_BITS-1:0] fold_exact = fold_base + product_term;
    wire signed [ACC_BITS-1:0] fold_next;
    fx_overflow #(
        .IN_BITS(SUM_BITS),
        .OUT_BITS(ACC_BITS),
        .SATURATE(ACC_SATURATE)
    ) fold_overflow (
        .value(fold_exact),
        .result(fold_next)
    );

    wire signed [ACC_BITS-1:0] acc_base = first_fold ? bias : acc_q;
    wire signed [ACC_BITS:0] acc_exact = acc_base + fold_next;
    fx_overflow #(
        .IN_BITS(ACC_BITS + 1),
        .OUT_BITS(ACC_BITS),
        .SATURATE(ACC_SATURATE)
    ) acc_overflow (
        .value(acc_exact),
        .result(result)
    );
    assign result_valid = valid && last_tap;

    always @(posedge clk) begin
        if (valid) begin
            fold_sum_q <= fold_next;
            if (fold_last) acc_q <= result;
        end
    end
endmodule
