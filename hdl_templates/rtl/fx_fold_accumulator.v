// fx_fold_accumulator: the fold order of the accumulation contract for a
// cell that sums its own K terms one per cycle (an output-stationary PE or
// a vector-unit lane).
//
// When `valid` is high `product` is added to the fold sum, which restarts
// from 0 at the first term of a fold (`fold_first`), and the fold sum
// register takes the result. `acc_next` is the accumulator after adding
// this fold sum: `bias` plus it in the first fold (`first_fold`), else
// `acc` plus it. The owner latches `acc_next` into its accumulator `acc` at
// the last term of a fold. Every addition is held in ACC_BITS with wrap or
// saturation, so the sums equal those of the weight-stationary array,
// where a fold's partial sum starts at 0 in the top row and is added to
// the accumulator at the bottom.
//
// Latency: `acc_next` is combinational from the inputs and the fold sum
// register; the fold sum register is one stage.
module fx_fold_accumulator #(
    parameter PRODUCT_BITS = 19,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0
) (
    input  wire                           clk,
    input  wire                           valid,
    input  wire signed [PRODUCT_BITS-1:0] product,
    input  wire                           fold_first,
    input  wire                           first_fold,
    input  wire signed [ACC_BITS-1:0]     bias,
    input  wire signed [ACC_BITS-1:0]     acc,
    output wire signed [ACC_BITS-1:0]     acc_next
);
    localparam SUM_BITS = (PRODUCT_BITS > ACC_BITS ? PRODUCT_BITS : ACC_BITS) + 1;

    reg signed [ACC_BITS-1:0] fold_sum_q;

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

    wire signed [ACC_BITS-1:0] acc_base = first_fold ? bias : acc;
    wire signed [ACC_BITS:0] acc_exact = acc_base + fold_next;
    fx_overflow #(
        .IN_BITS(ACC_BITS + 1),
        .OUT_BITS(ACC_BITS),
        .SATURATE(ACC_SATURATE)
    ) acc_overflow (
        .value(acc_exact),
        .result(acc_next)
    );

    always @(posedge clk) begin
        if (valid) fold_sum_q <= fold_next;
    end
endmodule
