// fx_os_pe: one processing element of the output-stationary array. It owns
// one output element (a pixel and a channel) for a whole pass, and K streams
// through it.
//
// The activation enters from the left with its K term's fold flags and
// leaves to the right one cycle later; the weight enters from the top and
// leaves downwards one cycle later. When `act_valid_in` is high the product
// goes into fx_fold_accumulator, which keeps the fold order of the
// contract, and at the last term of a fold (`fold_last_in`) the
// accumulator takes the new sum. While `drain` is high the accumulator takes `acc_in`, the
// accumulator of the PE above, so the column shifts down.
//
// Latency: every `*_q` output is one register stage; the accumulator holds
// the finished sum from the cycle after the pass's last term reached this
// PE. There is no valid or done signal: the controller counts cycles.
module fx_os_pe #(
    parameter A_BITS = 9,
    parameter A_SIGNED = 1,
    parameter W_BITS = 8,
    parameter W_SIGNED = 1,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0
) (
    input  wire                       clk,
    input  wire                       enable,
    input  wire                       drain,
    input  wire [A_BITS-1:0]          act_in,
    input  wire                       act_valid_in,
    input  wire                       fold_first_in,
    input  wire                       fold_last_in,
    input  wire                       first_fold_in,
    output reg  [A_BITS-1:0]          act_q,
    output reg                        act_valid_q,
    output reg                        fold_first_q,
    output reg                        fold_last_q,
    output reg                        first_fold_q,
    input  wire [W_BITS-1:0]          weight_in,
    output reg  [W_BITS-1:0]          weight_q,
    input  wire signed [ACC_BITS-1:0] bias,
    input  wire signed [ACC_BITS-1:0] acc_in,
    output reg  signed [ACC_BITS-1:0] acc_q
);
    localparam PRODUCT_BITS = A_BITS + W_BITS + 2;

    // An invalid activation multiplies as 0, as in fx_pe.
    wire [A_BITS-1:0] act_operand = act_valid_in ? act_in : {A_BITS{1'b0}};
    wire signed [A_BITS:0] act_extended =
        A_SIGNED != 0 ? $signed({act_operand[A_BITS-1], act_operand}) : $signed({1'b0, act_operand});
    wire signed [W_BITS:0] weight_extended =
        W_SIGNED != 0 ? $signed({weight_in[W_BITS-1], weight_in}) : $signed({1'b0, weight_in});
    wire signed [PRODUCT_BITS-1:0] product = act_extended * weight_extended;

    wire signed [ACC_BITS-1:0] acc_next;
    fx_fold_accumulator #(
        .PRODUCT_BITS(PRODUCT_BITS),
        .ACC_BITS(ACC_BITS),
        .ACC_SATURATE(ACC_SATURATE)
    ) sums (
        .clk(clk),
        .valid(enable && !drain && act_valid_in),
        .product(product),
        .fold_first(fold_first_in),
        .first_fold(first_fold_in),
        .bias(bias),
        .acc(acc_q),
        .acc_next(acc_next)
    );

    always @(posedge clk) begin
        if (enable) begin
            act_q <= act_in;
            act_valid_q <= act_valid_in;
            fold_first_q <= fold_first_in;
            fold_last_q <= fold_last_in;
            first_fold_q <= first_fold_in;
            weight_q <= weight_in;
            if (drain) begin
                acc_q <= acc_in;
            end else if (act_valid_in && fold_last_in) begin
                acc_q <= acc_next;
            end
        end
    end
endmodule
