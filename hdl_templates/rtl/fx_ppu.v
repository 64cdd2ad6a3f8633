// fx_ppu: one lane of the post-processing unit. Turns a finished
// accumulator into an output element: post bias (BIAS_POST), requantisation
// (REQUANT_MODE 0 tflite, 1 single, 2 fixed, 3 shift), output zero point,
// clamp to [out_min, out_max] (max first, then min).
//
// `tflite` is TFLite's MultiplyByQuantizedMultiplier: 32-bit wrapping left
// shift, saturating rounding doubling high multiply (ties toward +inf),
// rounding divide by a power of two (ties away from zero), zero point added
// with 32-bit wrapping. It needs ACC_BITS <= 32. The other modes compute
// round(x * multiplier / 2^shift) once, exactly, with ROUNDING 0 half-away,
// 1 half-up, 2 half-even, 3 truncate or 4 stochastic (the random word is
// aligned with the top of the dropped bits, then the sum is floored); a
// negative shift is an exact left shift. `shift` is signed, positive to the
// right; in tflite mode it is the negated TFLite shift.
//
// Latency: 2 cycles, fully pipelined. `out_valid`, `out_data` and
// `out_address` rise two clock edges after `in_valid`; the parameters and
// the random word are sampled with `in_valid`.
module fx_ppu #(
    parameter ACC_BITS = 32,
    parameter ACC_SATURATE = 0,
    parameter BIAS_POST = 0,
    parameter REQUANT_MODE = 0,
    parameter MULT_BITS = 32,
    parameter ROUNDING = 0,
    parameter OUT_BITS = 8,
    parameter ADDRESS_BITS = 16
) (
    input  wire                       clk,
    input  wire                       in_valid,
    input  wire signed [ACC_BITS-1:0] in_acc,
    input  wire [ADDRESS_BITS-1:0]    in_address,
    input  wire [MULT_BITS-1:0]       multiplier,
    input  wire signed [7:0]          shift,
    input  wire signed [ACC_BITS-1:0] bias_post,
    input  wire [31:0]                random,
    input  wire signed [31:0]         out_zero_point,
    input  wire signed [31:0]         out_min,
    input  wire signed [31:0]         out_max,
    output reg                        out_valid,
    output reg  [OUT_BITS-1:0]        out_data,
    output reg  [ADDRESS_BITS-1:0]    out_address
);
    localparam WIDE = 192;

    // Stage 1: post bias, then the product.
    wire signed [ACC_BITS:0] biased_exact = in_acc + bias_post;
    wire signed [ACC_BITS-1:0] biased_overflowed;
    fx_overflow #(
        .IN_BITS(ACC_BITS + 1),
        .OUT_BITS(ACC_BITS),
        .SATURATE(ACC_SATURATE)
    ) post_bias (
        .value(biased_exact),
        .result(biased_overflowed)
    );
    wire signed [ACC_BITS-1:0] biased = BIAS_POST != 0 ? biased_overflowed : in_acc;

    wire signed [31:0] multiplier_32 =
        REQUANT_MODE == 3 ? 32'sd1 : $signed(multiplier) ;
    wire signed [31:0] x_32 = biased;
    wire [4:0] left_shift_32 = shift < 0 ? -shift : 5'd0;
    wire signed [31:0] shifted_32 = x_32 <<< left_shift_32;
    wire signed [WIDE-1:0] product =
        REQUANT_MODE == 0 ? $signed(shifted_32) * $signed(multiplier_32)
                          : $signed(biased) * $signed(multiplier_32);

    reg signed [WIDE-1:0] product_q;
    reg signed [7:0]      shift_q;
    reg                   saturating_case_q;
    reg [31:0]            random_q;
    reg signed [31:0]     zero_point_q, min_q, max_q;
    reg                   valid_q;
    reg [ADDRESS_BITS-1:0] address_q;

    always @(posedge clk) begin
        valid_q <= in_valid;
        address_q <= in_address;
        product_q <= product;
        shift_q <= shift;
        saturating_case_q <= shifted_32 == 32'sh8000_0000 && multiplier_32 == 32'sh8000_0000;
        random_q <= random;
        zero_point_q <= out_zero_point;
        min_q <= out_min;
        max_q <= out_max;
    end

    // Stage 2, tflite: the high half of the doubled product, then the
    // rounding divide by 2^shift.
    wire signed [WIDE-1:0] nudged = product_q + (product_q >= 0 ? 192'sd1073741824 : -192'sd1073741823);
    wire signed [WIDE-1:0] high_wide = nudged >= 0 ? nudged >>> 31 : -((-nudged) >>> 31);
    wire signed [31:0] high = saturating_case_q ? 32'sh7fff_ffff : high_wide[31:0];
    wire [5:0] right_shift_32 = shift_q > 0 ? shift_q[5:0] : 6'd0;
    wire signed [31:0] mask = (32'sd1 <<< right_shift_32) - 1;
    wire signed [31:0] remainder = high & mask;
    wire signed [31:0] threshold = (mask >>> 1) + (high < 0 ? 32'sd1 : 32'sd0);
    wire signed [31:0] tflite_scaled = (high >>> right_shift_32) + (remainder > threshold ? 32'sd1 : 32'sd0);
    wire signed [31:0] tflite_offset = tflite_scaled + zero_point_q;

    // Stage 2, single rounding: round(product / 2^shift) or product << -shift.
    wire [7:0] cut = shift_q > 0 ? shift_q : 8'd0;
    wire signed [WIDE-1:0] floor_value = product_q >>> cut;
    wire [WIDE-1:0] remainder_wide = product_q - (floor_value <<< cut);
    wire [WIDE-1:0] half = cut == 0 ? 0 : ({ {(WIDE-1){1'b0}}, 1'b1 } << (cut - 1));
    wire [WIDE-1:0] random_addend = cut <= 32 ? ({160'd0, random_q} >> (32 - cut))
                                               : ({160'd0, random_q} << (cut - 32));
    wire [WIDE-1:0] one_wide = { {(WIDE-1){1'b0}}, 1'b1 };
    reg round_up;
    always @(*) begin
        if (cut == 0) begin
            round_up = 1'b0;
        end else begin
            case (ROUNDING)
                0: round_up = remainder_wide > half || (remainder_wide == half && product_q >= 0);
                1: round_up = remainder_wide >= half;
                2: round_up = remainder_wide > half || (remainder_wide == half && floor_value[0]);
                3: round_up = 1'b0;
                default: round_up = remainder_wide + random_addend >= (one_wide << cut);
            endcase
        end
    end
    wire [7:0] left_cut = shift_q < 0 ? -shift_q : 8'd0;
    wire left_overflows = left_cut >= 64 && product_q != 0;
    wire signed [WIDE-1:0] single_scaled =
        shift_q >= 0 ? floor_value + (round_up ? 1 : 0)
        : left_overflows ? (product_q < 0 ? -(one_wide << 64) : (one_wide << 64))
        : product_q <<< left_cut;
    wire signed [WIDE-1:0] single_offset = single_scaled + zero_point_q;

    wire signed [WIDE-1:0] offset = REQUANT_MODE == 0 ? tflite_offset : single_offset;
    wire signed [WIDE-1:0] raised = offset < min_q ? min_q : offset;
    wire signed [WIDE-1:0] clamped = raised > max_q ? max_q : raised;

    always @(posedge clk) begin
        out_valid <= valid_q;
        out_address <= address_q;
        out_data <= clamped[OUT_BITS-1:0];
    end
endmodule
