//! Prepare-step parameters of the int8 SOFTMAX and LOGISTIC reference
//! kernels of TFLite Micro: the input multiplier, its left shift and the
//! input radius. The int16 variants of both kernels (lookup tables filled
//! with float math) are not modelled.

use super::requant::{frexp, quantize_multiplier_greater_than_one, QuantizedMultiplier};

/// Integer bits of the scaled input difference of int8 SOFTMAX: the
/// difference to the row maximum is a Q5.26 value.
pub const SOFTMAX_SCALED_DIFF_INTEGER_BITS: u32 = 5;

/// Integer bits of the sum of exponentials in int8 SOFTMAX: a Q12.19 value.
pub const SOFTMAX_ACCUMULATION_INTEGER_BITS: u32 = 12;

/// Integer bits of the rescaled input of int8 LOGISTIC: a Q4.27 value.
pub const LOGISTIC_INPUT_INTEGER_BITS: u32 = 4;

/// Turns `beta * input_scale` into the multiplier that maps an input
/// difference to a Q`input_integer_bits`.(31 - `input_integer_bits`) value.
///
/// The real multiplier is `beta * input_scale * 2^(31 - input_integer_bits)`
/// in f64, capped at `2^31 - 1` (the cap of the default double-rounding build;
/// the single-rounding build caps at `2^30 - 1`). It is then split by
/// [`quantize_multiplier_greater_than_one`]. Returns `None` where the
/// reference fails that function's check, i.e. when the real multiplier is
/// not above 1 (a tiny `beta * input_scale`) or is NaN. `input_integer_bits`
/// above 31 is treated as 31. Matches TFLite `PreprocessSoftmaxScaling`
/// (without `TFLITE_EMULATE_FLOAT`).
pub fn preprocess_softmax_scaling(
    beta: f64,
    input_scale: f64,
    input_integer_bits: u32,
) -> Option<QuantizedMultiplier> {
    let max_real_multiplier = f64::from(i32::MAX);
    let fractional_bits = 31 - input_integer_bits.min(31) as i32;
    let real_multiplier = beta * input_scale * 2f64.powi(fractional_bits);
    // Same as `std::min(real, max)`: a NaN stays NaN and is rejected below.
    let capped = if max_real_multiplier < real_multiplier {
        max_real_multiplier
    } else {
        real_multiplier
    };
    quantize_multiplier_greater_than_one(capped)
}

/// Returns the largest input magnitude that stays in range after the input
/// multiplier is applied:
/// `floor((2^input_integer_bits - 1) * 2^(total_signed_bits -
/// input_integer_bits) / 2^input_left_shift)`.
///
/// The result saturates to the i32 range, where the reference's conversion
/// would be undefined. TFLite Micro calls it with `total_signed_bits` 31.
/// Matches TFLite `CalculateInputRadius` (without `TFLITE_EMULATE_FLOAT`);
/// `input_integer_bits` above 62 is treated as 62.
pub fn calculate_input_radius(
    input_integer_bits: u32,
    input_left_shift: i32,
    total_signed_bits: u32,
) -> i32 {
    let input_integer_bits = input_integer_bits.min(62);
    let max_integer = ((1_i64 << input_integer_bits) - 1) as f64;
    let exponent =
        i64::from(total_signed_bits) - i64::from(input_integer_bits) - i64::from(input_left_shift);
    let exponent = exponent.clamp(-2000, 2000) as i32;
    // Every factor is a power of two times a small integer, so this is exact
    // unless it leaves the i32 range, where the cast saturates.
    (max_integer * 2f64.powi(exponent)).floor() as i32
}

/// Prepared parameters of the int8 SOFTMAX reference kernel.
///
/// A kernel subtracts the row maximum from each input, skips differences
/// below `diff_min` (their output is the minimum), and scales the others with
/// [`multiply_by_quantized_multiplier_greater_than_one`] into a Q5.26 value
/// for [`exp_on_negative_values`].
///
/// [`multiply_by_quantized_multiplier_greater_than_one`]:
///     super::multiply_by_quantized_multiplier_greater_than_one
/// [`exp_on_negative_values`]: super::fixedpoint::exp_on_negative_values
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SoftmaxParams {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

impl SoftmaxParams {
    /// Computes the parameters for an int8 input of scale `input_scale` and
    /// the operator's `beta`, both as stored in the model (f32).
    ///
    /// Matches the int8 path of TFLite Micro `CalculateSoftmaxParams`. It
    /// does not check the output tensor, which the reference requires to be
    /// int8 with scale 1/256 and zero point -128, or int16 with scale
    /// 1/65536 and zero point -32768. Returns `None` where
    /// [`preprocess_softmax_scaling`] does.
    pub fn int8(beta: f32, input_scale: f32) -> Option<SoftmaxParams> {
        let quantized = preprocess_softmax_scaling(
            f64::from(beta),
            f64::from(input_scale),
            SOFTMAX_SCALED_DIFF_INTEGER_BITS,
        )?;
        let radius = calculate_input_radius(SOFTMAX_SCALED_DIFF_INTEGER_BITS, quantized.shift, 31);
        Some(SoftmaxParams {
            input_multiplier: quantized.multiplier,
            input_left_shift: quantized.shift,
            diff_min: -radius,
        })
    }
}

/// Prepared parameters of the int8 LOGISTIC reference kernel.
///
/// A kernel subtracts `input_zero_point`, returns -128 for inputs at or
/// below `-input_range_radius` and 127 at or above `input_range_radius`, and
/// otherwise rescales the input with
/// [`multiply_by_quantized_multiplier`](super::multiply_by_quantized_multiplier)
/// to a Q4.27 value for [`logistic`](super::fixedpoint::logistic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogisticParams {
    pub input_zero_point: i32,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub input_range_radius: i32,
}

impl LogisticParams {
    /// Computes the parameters for an int8 input of scale `input_scale` (f32,
    /// as stored in the model) and zero point `input_zero_point`.
    ///
    /// Matches the int8 path of TFLite Micro
    /// `CalculateArithmeticOpDataLogistic`: `frexp(input_scale * 2^27)` gives
    /// the shift, and its fraction times `2^31`, rounded half away from zero,
    /// gives the multiplier. Unlike [`quantize_multiplier`](super::quantize_multiplier)
    /// there is no carry and no flush; an f32 scale has 24 significant bits,
    /// so that product is already an integer below `2^31`. It does not check
    /// the output zero point, which the reference requires to be -128.
    /// Returns `None` for a NaN or infinite scale, where the reference is
    /// undefined. The int8 TANH prepare step computes the same parameters
    /// (TFLite Micro `tanh.cc`), so they serve that kernel too.
    pub fn int8(input_scale: f32, input_zero_point: i32) -> Option<LogisticParams> {
        if !input_scale.is_finite() {
            return None;
        }
        let real_multiplier =
            f64::from(input_scale) * 2f64.powi(31 - LOGISTIC_INPUT_INTEGER_BITS as i32);
        let (fraction, shift) = if real_multiplier == 0.0 {
            (0.0, 0)
        } else {
            frexp(real_multiplier)
        };
        let multiplier = (fraction * 2f64.powi(31)).round() as i32;
        Some(LogisticParams {
            input_zero_point,
            input_multiplier: multiplier,
            input_left_shift: shift,
            input_range_radius: calculate_input_radius(LOGISTIC_INPUT_INTEGER_BITS, shift, 31),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculate_input_radius_table() {
        let cases = [
            // (integer bits, left shift, total bits, expected)
            (5, 0, 31, 31 << 26),
            (5, 26, 31, 31),
            (5, 27, 31, 15),
            (5, 31, 31, 0),
            (4, 20, 31, 15 << 7),
            (4, 30, 31, 1),
            (4, -10, 31, i32::MAX),
        ];
        for (integer_bits, left_shift, total_bits, expected) in cases {
            assert_eq!(
                calculate_input_radius(integer_bits, left_shift, total_bits),
                expected,
                "bits {integer_bits}, shift {left_shift}, total {total_bits}"
            );
        }
    }

    #[test]
    fn preprocess_softmax_scaling_table() {
        // beta * scale * 2^26 = 2^26 / 16 = 2^22: multiplier 2^30, shift 23.
        assert_eq!(
            preprocess_softmax_scaling(1.0, 1.0 / 16.0, 5),
            Some(QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 23
            })
        );
        // A huge scale is capped at 2^31 - 1.
        assert_eq!(
            preprocess_softmax_scaling(1.0, 1e6, 5),
            Some(QuantizedMultiplier {
                multiplier: i32::MAX,
                shift: 31
            })
        );
        assert_eq!(preprocess_softmax_scaling(1.0, 1e-9, 5), None);
        assert_eq!(preprocess_softmax_scaling(f64::NAN, 1.0, 5), None);
        assert_eq!(preprocess_softmax_scaling(-1.0, 1.0, 5), None);
    }

    #[test]
    fn softmax_params_power_of_two_scale() {
        let params = SoftmaxParams::int8(1.0, 1.0 / 16.0);
        assert_eq!(
            params,
            Some(SoftmaxParams {
                input_multiplier: 1 << 30,
                input_left_shift: 23,
                diff_min: -(31 << 3),
            })
        );
    }

    #[test]
    fn logistic_params_power_of_two_scale() {
        // 2^-4 * 2^27 = 2^23 = 0.5 * 2^24.
        assert_eq!(
            LogisticParams::int8(1.0 / 16.0, -3),
            Some(LogisticParams {
                input_zero_point: -3,
                input_multiplier: 1 << 30,
                input_left_shift: 24,
                input_range_radius: 15 << 3,
            })
        );
        assert_eq!(LogisticParams::int8(f32::NAN, 0), None);
    }

    #[test]
    fn logistic_params_zero_scale() {
        let params = LogisticParams::int8(0.0, 0).expect("zero is a finite scale");
        assert_eq!(params.input_multiplier, 0);
        assert_eq!(params.input_left_shift, 0);
        assert_eq!(params.input_range_radius, 15 << 27);
    }
}
