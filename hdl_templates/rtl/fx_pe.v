// fx_pe: one processing element of the weight-stationary array.
//
// While `load` is high the weight register takes `weight_in` (the weight
// shifts down the column) and the activation and partial-sum registers are
// emptied. Otherwise the weight holds, the activation register takes
// `act_in` (passed right) and the partial-sum register takes `sum_next`:
// the product `act_in * weight` added to the sum from above, every addition
// held in ACC_BITS with wrap or saturation. The first row starts the fold's
// partial sum at 0. A row without a valid activation (past the end of K)
// passes the sum on unchanged.
//
// Latency: `sum_next` and `sum_next_valid` are combinational from the
// inputs and the weight register; every `*_q` output is one register stage.
// Valid signals travel with their data; there is no done signal.
module fx_pe #(
    parameter A_BITS = 9,
    parameter A_SIGNED = 1,
    parameter W_BITS = 8,
    parameter W_SIGNED = 1,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0,
    parameter FIRST_ROW = 0
) (
    input  wire                       clk,
    input  wire                       enable,
    input  wire                       load,
    input  wire [W_BITS-1:0]          weight_in,
    output reg  [W_BITS-1:0]          weight_q,
    input  wire [A_BITS-1:0]          act_in,
    input  wire                       act_valid_in,
    output reg  [A_BITS-1:0]          act_q,
    output reg                        act_valid_q,
    input  wire signed [ACC_BITS-1:0] sum_in,
    input  wire                       sum_valid_in,
    output wire signed [ACC_BITS-1:0] sum_next,
    output wire                       sum_next_valid,
    output reg  signed [ACC_BITS-1:0] sum_q,
    output reg                        sum_valid_q
);
    localparam PRODUCT_BITS = A_BITS + W_BITS + 2;
    localparam SUM_BITS = (PRODUCT_BITS > ACC_BITS ? PRODUCT_BITS : ACC_BITS) + 1;

    // An invalid activation multiplies as 0, so the product feeds the adder
    // directly (the multiply-add pattern a DSP slice absorbs).
    wire [A_BITS-1:0] act_operand = act_valid_in ? act_in : {A_BITS{1'b0}};
    wire signed [A_BITS:0] act_extended =
        A_SIGNED != 0 ? $signed({act_operand[A_BITS-1], act_operand}) : $signed({1'b0, act_operand});
    wire signed [W_BITS:0] weight_extended =
        W_SIGNED != 0 ? $signed({weight_q[W_BITS-1], weight_q}) : $signed({1'b0, weight_q});
    wire signed [PRODUCT_BITS-1:0] product = act_extended * weight_extended;

    wire signed [SUM_BITS-1:0] product_term = product;
    wire signed [SUM_BITS-1:0] sum_above = FIRST_ROW != 0 ? 0 : sum_in;
    wire signed [SUM_BITS-1:0] exact_sum = sum_above + product_term;

    fx_overflow #(
        .IN_BITS(SUM_BITS),
        .OUT_BITS(ACC_BITS),
        .SATURATE(ACC_SATURATE)
    ) overflow (
        .value(exact_sum),
        .result(sum_next)
    );
    assign sum_next_valid = FIRST_ROW != 0 ? act_valid_in : sum_valid_in;

    always @(posedge clk) begin
        if (enable) begin
            if (load) begin
                weight_q <= weight_in;
                act_valid_q <= 1'b0;
                sum_valid_q <= 1'b0;
            end else begin
                act_q <= act_in;
                act_valid_q <= act_valid_in;
                sum_q <= sum_next;
                sum_valid_q <= sum_next_valid;
            end
        end
    end
endmodule
