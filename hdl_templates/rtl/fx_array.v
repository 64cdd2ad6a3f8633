// fx_array: the ROWS x COLS weight-stationary MAC array with its input skew.
//
// Weights: while `load` is high, `weight_top` (one weight per column) enters
// the top row and every row passes its weight down, so after ROWS load
// cycles row r holds the word that entered ROWS - 1 - r cycles before the
// last one. The controller therefore feeds the bottom row's weights first.
//
// Activations: `act_column` holds one element per row, `act_valid` one flag
// per row. Row r sees its element r cycles later (the skew registers), and
// each PE passes it to the right one cycle later. The partial sum of a
// pixel leaves the bottom of column c through `sum_bottom` and
// `sum_bottom_valid` combinationally, in the cycle its last product is
// added: ROWS - 1 + c cycles after the pixel's column word was presented.
// Nothing here is reset; every valid flag is cleared by ROWS load cycles.
module fx_array #(
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
    input  wire                     load,
    input  wire [COLS*W_BITS-1:0]   weight_top,
    input  wire [ROWS*A_BITS-1:0]   act_column,
    input  wire [ROWS-1:0]          act_valid,
    output wire [COLS*ACC_BITS-1:0] sum_bottom,
    output wire [COLS-1:0]          sum_bottom_valid
);
    // Skew: row r is delayed by r cycles; slot 0 of each row is the input.
    wire [A_BITS-1:0] skewed [0:ROWS-1];
    wire              skewed_valid [0:ROWS-1];

    // Interconnect, indexed by PE (r * COLS + c).
    wire [W_BITS-1:0]          weight_q [0:ROWS*COLS-1];
    wire [A_BITS-1:0]          act_q [0:ROWS*COLS-1];
    wire                       act_valid_q [0:ROWS*COLS-1];
    wire signed [ACC_BITS-1:0] sum_next [0:ROWS*COLS-1];
    wire                       sum_next_valid [0:ROWS*COLS-1];
    wire signed [ACC_BITS-1:0] sum_q [0:ROWS*COLS-1];
    wire                       sum_valid_q [0:ROWS*COLS-1];

    genvar r, c, d;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : skew
            if (r == 0) begin : direct
                assign skewed[0] = act_column[A_BITS-1:0];
                assign skewed_valid[0] = act_valid[0];
            end else begin : delayed
                reg [A_BITS-1:0] data [0:r-1];
                reg              valid [0:r-1];
                always @(posedge clk) begin
                    if (enable) begin
                        data[0] <= act_column[r*A_BITS +: A_BITS];
                        valid[0] <= act_valid[r];
                    end
                end
                for (d = 1; d < r; d = d + 1) begin : stage
                    always @(posedge clk) begin
                        if (enable) begin
                            data[d] <= data[d-1];
                            valid[d] <= valid[d-1];
                        end
                    end
                end
                assign skewed[r] = data[r-1];
                assign skewed_valid[r] = valid[r-1];
            end
        end

        for (r = 0; r < ROWS; r = r + 1) begin : row
            for (c = 0; c < COLS; c = c + 1) begin : column
                wire [W_BITS-1:0] weight_in =
                    r == 0 ? weight_top[c*W_BITS +: W_BITS] : weight_q[(r-1)*COLS + c];
                wire [A_BITS-1:0] act_in = c == 0 ? skewed[r] : act_q[r*COLS + c - 1];
                wire act_valid_in = c == 0 ? skewed_valid[r] : act_valid_q[r*COLS + c - 1];
                wire signed [ACC_BITS-1:0] sum_in = r == 0 ? 0 : sum_q[(r-1)*COLS + c];
                wire sum_valid_in = r == 0 ? 1'b0 : sum_valid_q[(r-1)*COLS + c];
                fx_pe #(
                    .A_BITS(A_BITS),
                    .A_SIGNED(A_SIGNED),
                    .W_BITS(W_BITS),
                    .W_SIGNED(W_SIGNED),
                    .ACC_BITS(ACC_BITS),
                    .ACC_SATURATE(ACC_SATURATE),
                    .FIRST_ROW(r == 0)
                ) pe (
                    .clk(clk),
                    .enable(enable),
                    .load(load),
                    .weight_in(weight_in),
                    .weight_q(weight_q[r*COLS + c]),
                    .act_in(act_in),
                    .act_valid_in(act_valid_in),
                    .act_q(act_q[r*COLS + c]),
                    .act_valid_q(act_valid_q[r*COLS + c]),
                    .sum_in(sum_in),
                    .sum_valid_in(sum_valid_in),
                    .sum_next(sum_next[r*COLS + c]),
                    .sum_next_valid(sum_next_valid[r*COLS + c]),
                    .sum_q(sum_q[r*COLS + c]),
                    .sum_valid_q(sum_valid_q[r*COLS + c])
                );
            end
        end

        for (c = 0; c < COLS; c = c + 1) begin : bottom
            assign sum_bottom[c*ACC_BITS +: ACC_BITS] = sum_next[(ROWS-1)*COLS + c];
            assign sum_bottom_valid[c] = sum_next_valid[(ROWS-1)*COLS + c];
        end
    endgenerate
endmodule
