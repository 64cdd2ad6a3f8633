// fx_ppu: one lane of the post-processing unit. Turns a finished
// accumulator into an output element: post bias (BIAS_POST), requantisation
// (REQUANT_MODE 0 tflite, 1 single, 2 fixed, 3 shift, 4 tflite with the
// int64 overload), output zero point, clamp to [out_min, out_max] (max
// first, then min). ACC_BITS may be up to 64 in every mode.
//
// Mode 0 is TFLite's MultiplyByQuantizedMultiplier, int32 overload. A value
// that fits 32 bits takes the reference's arithmetic: 32-bit wrapping left
// shift (count modulo 32), saturating rounding doubling high multiply (ties
// toward +inf), rounding divide by a power of two (ties away from zero). A
// wider value takes the same two roundings computed exactly, its left shift
// limited to 63 and not wrapped, and the result saturates to 32 bits.
// Mode 4 is the int64 overload of TFLite's 16x8 kernels: the multiplier
// rounded to 16 bits, (multiplier + 2^15) >> 16, or 0x7FFF from 0x7FFF0000
// up, then one rounding of x * reduced by 2^(15 + shift), ties toward +inf,
// with the right shift limited to -7..31; the result keeps its low 32 bits.
// Both add the zero point with 32-bit wrapping. The right shift of mode 0
// is limited to 0..63, and either path then rounds exactly. The other
// modes compute round(x * multiplier / 2^shift) once, exactly, with
// ROUNDING 0 half-away, 1 half-up, 2 half-even, 3 truncate or 4 stochastic
// (the random word is aligned with the top of the dropped bits, then the
// sum is floored); a negative shift is an exact left shift. `shift` is
// signed, positive to the right; in modes 0 and 4 it is the negated TFLite
// shift.
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
    localparam signed [WIDE-1:0] INT32_MAX = (192'sd1 <<< 31) - 192'sd1;
    localparam signed [WIDE-1:0] INT32_MIN = -(192'sd1 <<< 31);

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
    wire signed [WIDE-1:0] biased_wide = biased;

    // The factor of the product: 1 in shift mode, the multiplier rounded to
    // 16 bits in mode 4, else the multiplier.
    wire signed [31:0] multiplier_32 = $signed(multiplier);
    wire signed [32:0] multiplier_rounded = multiplier_32 + 33'sd32768;
    wire signed [16:0] multiplier_16 =
        multiplier_32 >= 32'sh7fff_0000 ? 17'sh7fff : multiplier_rounded[32:16];
    wire signed [31:0] factor =
        REQUANT_MODE == 3 ? 32'sd1
        : REQUANT_MODE == 4 ? multiplier_16
        : multiplier_32;

    // Mode 0 takes the reference's wrapping 32-bit left shift when the
    // value fits 32 bits, else an exact left shift of at most 63.
    wire signed [31:0] x_32 = biased_wide[31:0];
    wire fits_32 = biased_wide == x_32;
    wire [4:0] left_shift_32 = shift < 0 ? -shift : 5'd0;
    wire signed [31:0] shifted_32 = x_32 <<< left_shift_32;
    wire signed [8:0] tflite_shift = -$signed({shift[7], shift});
    wire [5:0] left_shift_wide =
        tflite_shift > 9'sd63 ? 6'd63 : tflite_shift > 9'sd0 ? tflite_shift[5:0] : 6'd0;
    wire signed [WIDE-1:0] shifted_wide = biased_wide <<< left_shift_wide;
    wire signed [WIDE-1:0] product =
        REQUANT_MODE != 0 ? biased_wide * factor
        : fits_32 ? shifted_32 * factor
        : shifted_wide * factor;

    reg signed [WIDE-1:0] product_q;
    reg signed [7:0]      shift_q;
    reg                   fits_32_q;
    reg [31:0]            random_q;
    reg signed [31:0]     zero_point_q, min_q, max_q;
    reg                   valid_q;
    reg [ADDRESS_BITS-1:0] address_q;

    always @(posedge clk) begin
        valid_q <= in_valid;
        address_q <= in_address;
        product_q <= product;
        shift_q <= shift;
        fits_32_q <= fits_32;
        random_q <= random;
        zero_point_q <= out_zero_point;
        min_q <= out_min;
        max_q <= out_max;
    end

    // Stage 2, mode 0: the high half of the doubled product, then the
    // rounding divide by 2^shift. Of the 32-bit products only i32::MIN
    // times i32::MIN has a high half beyond 32 bits, and the reference
    // saturates it.
    wire signed [WIDE-1:0] nudged = product_q + (product_q >= 0 ? 192'sd1073741824 : -192'sd1073741823);
    wire signed [WIDE-1:0] high_wide = nudged >= 0 ? nudged >>> 31 : -((-nudged) >>> 31);
    wire signed [WIDE-1:0] high = fits_32_q && high_wide > INT32_MAX ? INT32_MAX : high_wide;
    wire [5:0] right_shift = shift_q > 8'sd63 ? 6'd63 : shift_q > 8'sd0 ? shift_q[5:0] : 6'd0;
    wire signed [WIDE-1:0] mask = (192'sd1 <<< right_shift) - 192'sd1;
    wire signed [WIDE-1:0] remainder = high & mask;
    wire signed [WIDE-1:0] threshold = (mask >>> 1) + (high < 0 ? 192'sd1 : 192'sd0);
    wire signed [WIDE-1:0] rounded = (high >>> right_shift) + (remainder > threshold ? 192'sd1 : 192'sd0);
    wire signed [31:0] int32_scaled =
        rounded > INT32_MAX ? INT32_MAX[31:0]
        : rounded < INT32_MIN ? INT32_MIN[31:0]
        : rounded[31:0];

    // Stage 2, mode 4: one rounding by 2^(15 + shift), shift in -7..31.
    wire signed [8:0] shift_int64 = shift_q < -8'sd7 ? -9'sd7 : shift_q > 8'sd31 ? 9'sd31 : shift_q;
    wire signed [8:0] total_shift = 9'sd15 + shift_int64;
    wire signed [WIDE-1:0] half_int64 = 192'sd1 <<< (total_shift[5:0] - 6'd1);
    wire signed [WIDE-1:0] rounded_int64 = (product_q + half_int64) >>> total_shift[5:0];
    wire signed [31:0] int64_scaled = rounded_int64[31:0];

    wire signed [31:0] tflite_scaled = REQUANT_MODE == 4 ? int64_scaled : int32_scaled;
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

    wire signed [WIDE-1:0] offset =
        REQUANT_MODE == 0 || REQUANT_MODE == 4 ? tflite_offset : single_offset;
    wire signed [WIDE-1:0] raised = offset < min_q ? min_q : offset;
    wire signed [WIDE-1:0] clamped = raised > max_q ? max_q : raised;

    always @(posedge clk) begin
        out_valid <= valid_q;
        out_address <= address_q;
        out_data <= clamped[OUT_BITS-1:0];
    end
endmodule
