// fx_os_array: the ROWS x COLS output-stationary MAC array with its input
// skews. PE (r, c) computes the output element of pixel r and channel c of
// the current pass.
//
// Each stream cycle the controller presents one K term: `act_column` (one
// activation per row, that is per pixel), `act_valid` (one flag per row),
// the term's fold flags, and `weight_row` (one weight per column, that is
// per channel). Row r sees its activation r cycles later and column c its
// weight c cycles later (the skew registers), and each PE passes both on
// one cycle later, so term k meets in PE (r, c) k + r + c cycles after it
// was presented. The last term of a pass of K terms is added in PE
// (ROWS - 1, COLS - 1) K + ROWS + COLS - 3 cycles after the first was
// presented.
//
// While `drain` is high every column shifts its accumulators down by one
// PE, and `acc_bottom` (the bottom row's accumulators, straight from the
// registers) shows row ROWS - 1 - d in drain cycle d. `bias` is each
// column's accumulator start value and must hold for the whole pass.
// Nothing here is reset: the fold flags restart every sum, and the skew
// registers empty when the controller presents invalid terms for ROWS - 1
// cycles after the last valid one.
module fx_os_array #(
    parameter ROWS = 4,
    parameter COLS = 4,
    parameter A_BITS = 9,
    parameter A_SIGNED = 1,
    parameter W_BITS = 8,
    parameter W_SIGNED = 1,
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0
) (
    input  wire                     clk,
    input  wire                     enable,
    input  wire                     drain,
    input  wire [ROWS*A_BITS-1:0]   act_column,
    input  wire [ROWS-1:0]          act_valid,
    input  wire                     fold_first,
    input  wire                     fold_last,
    input  wire                     first_fold,
    input  wire [COLS*W_BITS-1:0]   weight_row,
    input  wire [COLS*ACC_BITS-1:0] bias,
    output wire [COLS*ACC_BITS-1:0] acc_bottom
);
    // An activation travels with its valid flag and the three fold flags.
    localparam TAG_BITS = A_BITS + 4;

    wire [TAG_BITS-1:0] act_skewed [0:ROWS-1];
    wire [W_BITS-1:0]   weight_skewed [0:COLS-1];

    // Interconnect, indexed by PE (r * COLS + c).
    wire [A_BITS-1:0]          act_q [0:ROWS*COLS-1];
    wire                       act_valid_q [0:ROWS*COLS-1];
    wire                       fold_first_q [0:ROWS*COLS-1];
    wire                       fold_last_q [0:ROWS*COLS-1];
    wire                       first_fold_q [0:ROWS*COLS-1];
    wire [W_BITS-1:0]          weight_q [0:ROWS*COLS-1];
    wire signed [ACC_BITS-1:0] acc_q [0:ROWS*COLS-1];

    genvar r, c, d;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : act_skew
            wire [TAG_BITS-1:0] entering = {
                first_fold, fold_last, fold_first, act_valid[r], act_column[r*A_BITS +: A_BITS]
            };
            if (r == 0) begin : direct
                assign act_skewed[0] = entering;
            end else begin : delayed
                reg [TAG_BITS-1:0] stage [0:r-1];
                always @(posedge clk) begin
                    if (enable) stage[0] <= entering;
                end
                for (d = 1; d < r; d = d + 1) begin : shift
                    always @(posedge clk) begin
                        if (enable) stage[d] <= stage[d-1];
                    end
                end
                assign act_skewed[r] = stage[r-1];
            end
        end

        for (c = 0; c < COLS; c = c + 1) begin : weight_skew
            if (c == 0) begin : direct
                assign weight_skewed[0] = weight_row[W_BITS-1:0];
            end else begin : delayed
                reg [W_BITS-1:0] stage [0:c-1];
                always @(posedge clk) begin
                    if (enable) stage[0] <= weight_row[c*W_BITS +: W_BITS];
                end
                for (d = 1; d < c; d = d + 1) begin : shift
                    always @(posedge clk) begin
                        if (enable) stage[d] <= stage[d-1];
                    end
                end
                assign weight_skewed[c] = stage[c-1];
            end
        end

        for (r = 0; r < ROWS; r = r + 1) begin : row
            for (c = 0; c < COLS; c = c + 1) begin : column
                wire [TAG_BITS-1:0] left = act_skewed[r];
                wire [A_BITS-1:0] act_in = c == 0 ? left[A_BITS-1:0] : act_q[r*COLS + c - 1];
                wire act_valid_in = c == 0 ? left[A_BITS] : act_valid_q[r*COLS + c - 1];
                wire fold_first_in = c == 0 ? left[A_BITS+1] : fold_first_q[r*COLS + c - 1];
                wire fold_last_in = c == 0 ? left[A_BITS+2] : fold_last_q[r*COLS + c - 1];
                wire first_fold_in = c == 0 ? left[A_BITS+3] : first_fold_q[r*COLS + c - 1];
                wire [W_BITS-1:0] weight_in = r == 0 ? weight_skewed[c] : weight_q[(r-1)*COLS + c];
                wire signed [ACC_BITS-1:0] acc_in = r == 0 ? 0 : acc_q[(r-1)*COLS + c];
                fx_os_pe #(
                    .A_BITS(A_BITS),
                    .A_SIGNED(A_SIGNED),
                    .W_BITS(W_BITS),
                    .W_SIGNED(W_SIGNED),
                    .ACC_BITS(ACC_BITS),
                    .ACC_SATURATE(ACC_SATURATE)
                ) pe (
                    .clk(clk),
                    .enable(enable),
                    .drain(drain),
                    .act_in(act_in),
                    .act_valid_in(act_valid_in),
                    .fold_first_in(fold_first_in),
                    .fold_last_in(fold_last_in),
                    .first_fold_in(first_fold_in),
                    .act_q(act_q[r*COLS + c]),
                    .act_valid_q(act_valid_q[r*COLS + c]),
                    .fold_first_q(fold_first_q[r*COLS + c]),
                    .fold_last_q(fold_last_q[r*COLS + c]),
                    .first_fold_q(first_fold_q[r*COLS + c]),
                    .weight_in(weight_in),
                    .weight_q(weight_q[r*COLS + c]),
                    .bias(bias[c*ACC_BITS +: ACC_BITS]),
                    .acc_in(acc_in),
                    .acc_q(acc_q[r*COLS + c])
                );
            end
        end

        for (c = 0; c < COLS; c = c + 1) begin : bottom
            assign acc_bottom[c*ACC_BITS +: ACC_BITS] = acc_q[(ROWS-1)*COLS + c];
        end
    endgenerate
endmodule
