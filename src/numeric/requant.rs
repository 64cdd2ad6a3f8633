//! Requantisation as TFLite Micro does it: a real scale split into a Q0.31
//! multiplier and a power-of-two shift, and the integer multiplies that apply
//! it. The default build of TFLite Micro (double rounding) is the reference;
//! its `TFLITE_SINGLE_ROUNDING` build is provided as a named variant. The
//! `TFLITE_EMULATE_FLOAT` path of `QuantizeMultiplier` is not modelled.

use super::fixed::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul};

/// A real scale in the form `multiplier * 2^(shift - 31)`.
///
/// `multiplier` is a Q0.31 value, normally in `[2^30, 2^31)`, or 0 for a
/// zero (or flushed) scale. A positive `shift` is a left shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantizedMultiplier {
    pub multiplier: i32,
    pub shift: i32,
}

impl QuantizedMultiplier {
    /// The zero scale: multiplier 0, shift 0.
    pub const ZERO: QuantizedMultiplier = QuantizedMultiplier {
        multiplier: 0,
        shift: 0,
    };

    /// Returns the real scale this multiplier represents,
    /// `multiplier * 2^(shift - 31)`, exact in f64.
    pub fn to_f64(self) -> f64 {
        f64::from(self.multiplier) * 2f64.powi(self.shift - 31)
    }
}

/// Splits a real `scale` into a Q0.31 multiplier and a shift.
///
/// Matches TFLite `QuantizeMultiplier` in the default build: `frexp` gives
/// `scale = q * 2^shift` with `|q|` in `[0.5, 1)`, then `q * 2^31` is rounded
/// half away from zero. A result of exactly `2^31` becomes `2^30` with
/// `shift + 1`. A shift below -31 (roughly `|scale| < 2^-32`) flushes to
/// multiplier 0 and shift 0, and so does a zero scale. Large scales keep
/// their shift, so `scale >= 2^31` gives a shift above 31 that
/// [`multiply_by_quantized_multiplier`] cannot apply usefully. (The
/// single-rounding build saturates such scales to shift 30.)
///
/// A negative scale gives a negative multiplier. The reference has undefined
/// behaviour for NaN and infinite scales; here they give multiplier 0 and
/// shift 0.
pub fn quantize_multiplier(scale: f64) -> QuantizedMultiplier {
    if scale == 0.0 || !scale.is_finite() {
        return QuantizedMultiplier::ZERO;
    }

    let (fraction, mut shift) = frexp(scale);
    let mut q_fixed = (fraction * 2f64.powi(31)).round() as i64;
    if q_fixed == 1_i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }

    if shift < -31 {
        return QuantizedMultiplier::ZERO;
    }
    QuantizedMultiplier {
        multiplier: q_fixed as i32,
        shift,
    }
}

/// [`quantize_multiplier`] for a scale known to be above 1, giving a
/// non-negative (left) shift.
///
/// Returns `None` where TFLite `QuantizeMultiplierGreaterThanOne` fails its
/// check: `scale <= 1` or NaN.
pub fn quantize_multiplier_greater_than_one(scale: f64) -> Option<QuantizedMultiplier> {
    if scale.is_nan() || scale <= 1.0 {
        return None;
    }
    let quantized = quantize_multiplier(scale);
    (quantized.shift >= 0).then_some(quantized)
}

/// [`quantize_multiplier`] for a scale in `(0, 1)`, giving a non-positive
/// shift (the "exp" form: a negative left shift, not a right shift count).
///
/// Returns `None` where TFLite `QuantizeMultiplierSmallerThanOneExp` fails its
/// checks: `scale` outside the open interval `(0, 1)`.
pub fn quantize_multiplier_smaller_than_one_exp(scale: f64) -> Option<QuantizedMultiplier> {
    if scale.is_nan() || scale <= 0.0 || scale >= 1.0 {
        return None;
    }
    let quantized = quantize_multiplier(scale);
    (quantized.shift <= 0).then_some(quantized)
}

/// Splits a finite, nonzero `x` into `(fraction, exponent)` with
/// `x = fraction * 2^exponent` and `|fraction|` in `[0.5, 1)`, as C `frexp`.
pub(crate) fn frexp(x: f64) -> (f64, i32) {
    const EXPONENT_MASK: u64 = 0x7ff << 52;
    let bits = x.to_bits();
    let biased = ((bits & EXPONENT_MASK) >> 52) as i32;
    if biased == 0 {
        // Subnormal: scaling by 2^64 makes it normal, and is exact.
        let (fraction, exponent) = frexp(x * 2f64.powi(64));
        return (fraction, exponent - 64);
    }
    let fraction = f64::from_bits((bits & !EXPONENT_MASK) | (1022 << 52));
    (fraction, biased - 1022)
}

/// Multiplies `x` by the real scale `multiplier * 2^(shift - 31)`.
///
/// TFLite Micro reference semantics, double rounding (the default build,
/// confirmed against the `tflite-micro` Python package):
/// 1. `x` is multiplied by `2^(max(shift, 0) mod 32)`, wrapping modulo 2^32.
///    The C++ reference computes `x * (1 << shift)`, which is undefined for
///    shifts of 32 or more (effective scales of 2^31 or more). x86 builds,
///    the oracle's included, take the shift count modulo 32, so this
///    function does too;
/// 2. [`saturating_rounding_doubling_high_mul`] with `multiplier` rounds
///    once, ties toward +inf;
/// 3. [`rounding_divide_by_pot`] by `max(-shift, 0)` rounds again, ties away
///    from zero.
///
/// Input and output are i32; nothing else overflows. A right shift above 31
/// is outside the reference's range and returns the exactly rounded quotient
/// of step 3. Matches TFLite `MultiplyByQuantizedMultiplier(int32_t,
/// int32_t, int)`.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left_shift = shift.max(0);
    let right_shift = shift.saturating_neg().max(0);
    let shifted = x.wrapping_mul(1i32.wrapping_shl(left_shift as u32));
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, multiplier),
        right_shift,
    )
}

/// Applies [`multiply_by_quantized_multiplier`]'s two roundings to an
/// accumulator wider than 32 bits: the doubling high multiply (ties toward
/// +inf), then the right shift (ties away from zero). Both are computed
/// exactly in i128 with no wrap of the left shift, and the result saturates
/// to i32.
///
/// For every `x` that fits in i32 and a left shift below 32 it equals
/// [`multiply_by_quantized_multiplier`], except that the reference's single
/// saturating case (`i32::MIN` times `i32::MIN`) needs no saturation here.
pub fn multiply_by_quantized_multiplier_wide(x: i64, multiplier: i32, shift: i32) -> i32 {
    let left_shift = shift.clamp(0, 63) as u32;
    let right_shift = shift.saturating_neg().clamp(0, 63) as u32;
    let product = (i128::from(x) << left_shift) * i128::from(multiplier);
    let nudge: i128 = if product >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncates toward zero, as the reference's does.
    let high = (product + nudge) / (1i128 << 31);
    let mask = (1i128 << right_shift) - 1;
    let remainder = high & mask;
    let threshold = (mask >> 1) + i128::from(high < 0);
    let rounded = (high >> right_shift) + i128::from(remainder > threshold);
    rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// [`multiply_by_quantized_multiplier`] for a non-negative `left_shift`:
/// `saturating_rounding_doubling_high_mul(x << left_shift, multiplier)`, one
/// rounding with ties toward +inf.
///
/// The shift wraps modulo 2^32 as in [`multiply_by_quantized_multiplier`]; a
/// negative `left_shift` is treated as 0. Matches TFLite
/// `MultiplyByQuantizedMultiplierGreaterThanOne` (default build).
pub fn multiply_by_quantized_multiplier_greater_than_one(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    multiply_by_quantized_multiplier(x, multiplier, left_shift.max(0))
}

/// [`multiply_by_quantized_multiplier`] for a non-positive `left_shift`:
/// `rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x,
/// multiplier), -left_shift)`, two roundings.
///
/// A positive `left_shift` is treated as 0. Matches TFLite
/// `MultiplyByQuantizedMultiplierSmallerThanOneExp` (default build).
pub fn multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: i32,
    multiplier: i32,
    left_shift: i32,
) -> i32 {
    multiply_by_quantized_multiplier(x, multiplier, left_shift.min(0))
}

/// Multiplies `x` by `multiplier * 2^(shift - 31)` with a single rounding:
/// `(x * multiplier + 2^(30 - shift)) >> (31 - shift)`, ties toward +inf.
///
/// This is not what the default reference computes: it matches TFLite
/// `MultiplyByQuantizedMultiplier(int32_t, int32_t, int)` built with
/// `TFLITE_SINGLE_ROUNDING`. Input and output are i32; the product is exact
/// and the result wraps to i32 (the reference's inputs keep it in range).
/// `shift` is clamped to `-31..=30`, the range that build supports.
pub fn multiply_by_quantized_multiplier_single_round(x: i32, multiplier: i32, shift: i32) -> i32 {
    let total_shift = (31 - shift.clamp(-31, 30)) as u32;
    let product = i64::from(x) * i64::from(multiplier);
    let rounded = (i128::from(product) + (1_i128 << (total_shift - 1))) >> total_shift;
    rounded as i32
}

/// Multiplies a 64-bit `x` by `multiplier * 2^(shift - 31)`, the overload
/// the 16x8 kernels use on their 64-bit accumulators.
///
/// Matches TFLite `MultiplyByQuantizedMultiplier(int64_t, int32_t, int)`,
/// which is the same in the double- and single-rounding builds. The
/// multiplier is first rounded to 16 bits, `reduced = (multiplier + 2^15) >>
/// 16` (or `0x7FFF` when `multiplier >= 0x7FFF0000`). Then a single rounding
/// `(x * reduced + 2^(14 - shift)) >> (15 - shift)` follows, ties toward
/// +inf, and the result keeps its low 32 bits. The reference requires
/// `multiplier >= 0`, `shift` in `-31..=7` and `-2^47 <= x < 2^47`. Here
/// `shift` is clamped to that range and the product is exact for any `x`.
#[inline]
pub fn multiply_by_quantized_multiplier_i64(x: i64, multiplier: i32, shift: i32) -> i32 {
    let reduced = if multiplier < 0x7FFF_0000 {
        (i64::from(multiplier) + (1 << 15)) >> 16
    } else {
        0x7FFF
    };
    let total_shift = (15 - shift.clamp(-31, 7)) as u32;
    let product = i128::from(x) * i128::from(reduced);
    ((product + (1_i128 << (total_shift - 1))) >> total_shift) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Outputs of the `tflite-micro` Python package (version
    /// 0.dev20261023182759) for an int8 FULLY_CONNECTED with one input
    /// channel, weight 1 at scale 1, bias 0, output scale 1 and zero points
    /// 0, so the output is `multiply_by_quantized_multiplier(x, 2^30, -1)`,
    /// i.e. x / 4 with the reference's two roundings, for x in -6..=6.
    const ORACLE_QUARTER: [(i32, i32); 13] = [
        (-6, -2),
        (-5, -1),
        (-4, -1),
        (-3, -1),
        (-2, -1),
        (-1, 0),
        (0, 0),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 2),
        (6, 2),
    ];

    #[test]
    fn double_rounding_matches_oracle() {
        let quarter = quantize_multiplier(0.25);
        assert_eq!(
            quarter,
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        for (x, expected) in ORACLE_QUARTER {
            assert_eq!(
                multiply_by_quantized_multiplier(x, quarter.multiplier, quarter.shift),
                expected,
                "x = {x}"
            );
        }
    }

    #[test]
    fn single_rounding_differs_from_oracle() {
        // The single-rounding build would give 0 for x = 1 and -1 for x = -6,
        // so the oracle's 1 and -2 show that it uses double rounding.
        assert_eq!(
            multiply_by_quantized_multiplier_single_round(1, 1 << 30, -1),
            0
        );
        assert_eq!(
            multiply_by_quantized_multiplier_single_round(-6, 1 << 30, -1),
            -1
        );
    }

    #[test]
    fn requantize_7984_double_vs_single() {
        assert_eq!(multiply_by_quantized_multiplier(7984, 1583594044, -9), 12);
        assert_eq!(
            multiply_by_quantized_multiplier_single_round(7984, 1583594044, -9),
            11
        );
    }

    #[test]
    fn requantize_one_half_double_vs_single() {
        assert_eq!(multiply_by_quantized_multiplier(1, 1 << 30, -1), 1);
        assert_eq!(
            multiply_by_quantized_multiplier_single_round(1, 1 << 30, -1),
            0
        );
    }

    #[test]
    fn wide_requantize_matches_32_bit_routine() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = state as i32;
            let multiplier = ((state >> 32) as i32).max(1 << 30);
            let shift = -((state >> 59) as i32);
            assert_eq!(
                multiply_by_quantized_multiplier_wide(i64::from(x), multiplier, shift),
                multiply_by_quantized_multiplier(x, multiplier, shift),
                "x = {x}, multiplier = {multiplier}, shift = {shift}"
            );
        }
    }

    #[test]
    fn requantize_table() {
        let cases = [
            // (x, multiplier, shift, expected)
            (100, 1 << 30, 0, 50),
            (-3, 1 << 30, 0, -1),
            (3, 1 << 30, 0, 2),
            (100, 1 << 30, 2, 200),
            (7, i32::MAX, 0, 7),
            (-7, i32::MAX, 0, -7),
            (i32::MAX, i32::MAX, 0, i32::MAX - 1),
            (i32::MIN, i32::MAX, 0, i32::MIN + 1),
            (12345, 0, 0, 0),
            // The left shift wraps before the multiply.
            (1 << 30, 1 << 30, 1, i32::MIN / 2),
            // Shifts of 32 or more count modulo 32, as on x86: 3 * 2^8 / 2.
            (3, 1 << 30, 40, 384),
            (3, 1 << 30, 32, 2),
        ];
        for &(x, multiplier, shift, expected) in &cases {
            let no_wrap = (0..32).contains(&shift) && i32::try_from(i64::from(x) << shift).is_ok();
            if no_wrap && !(x == i32::MIN && multiplier == i32::MIN) {
                let wide = multiply_by_quantized_multiplier_wide(i64::from(x), multiplier, shift);
                assert_eq!(
                    wide, expected,
                    "wide: x = {x}, multiplier = {multiplier}, shift = {shift}"
                );
            }
        }
        for (x, multiplier, shift, expected) in cases {
            assert_eq!(
                multiply_by_quantized_multiplier(x, multiplier, shift),
                expected,
                "x = {x}, multiplier = {multiplier}, shift = {shift}"
            );
        }
    }

    #[test]
    fn requantize_one_sided_wrappers() {
        assert_eq!(
            multiply_by_quantized_multiplier_greater_than_one(5, 1 << 30, 3),
            20
        );
        assert_eq!(
            multiply_by_quantized_multiplier_smaller_than_one_exp(7984, 1583594044, -9),
            12
        );
    }

    #[test]
    fn multiply_i64_table() {
        let cases = [
            // reduced multiplier 2^14 = 0.5 in Q0.15.
            (3, 1 << 30, 0, 2),
            (-3, 1 << 30, 0, -1),
            (-5, 1 << 30, 0, -2),
            (1_i64 << 40, 1 << 30, -10, 1 << 29),
            (1_i64 << 46, i32::MAX, 0, (0x7FFF_i64 << 31) as i32),
            (1000, 0x7FFF_8000, 0, 1000),
            (-1000, 0, 7, 0),
        ];
        for (x, multiplier, shift, expected) in cases {
            assert_eq!(
                multiply_by_quantized_multiplier_i64(x, multiplier, shift),
                expected,
                "x = {x}, multiplier = {multiplier}, shift = {shift}"
            );
        }
    }

    #[test]
    fn quantize_multiplier_table() {
        let cases = [
            (0.0, 0, 0),
            (-0.0, 0, 0),
            (1e-12, 0, 0),
            (f64::NAN, 0, 0),
            (f64::INFINITY, 0, 0),
            (0.5, 1 << 30, 0),
            (1.0, 1 << 30, 1),
            (0.25, 1 << 30, -1),
            (-0.5, -(1 << 30), 0),
            (2f64.powi(-32), 1 << 30, -31),
            (2f64.powi(-33), 0, 0),
            (2f64.powi(40), 1 << 30, 41),
            // Just under 1: q * 2^31 rounds up to 2^31 and carries.
            (1.0 - 2f64.powi(-40), 1 << 30, 1),
        ];
        for (scale, multiplier, shift) in cases {
            assert_eq!(
                quantize_multiplier(scale),
                QuantizedMultiplier { multiplier, shift },
                "scale = {scale}"
            );
        }
    }

    #[test]
    fn quantize_multiplier_above_one_shifts_left() {
        let quantized = quantize_multiplier(4.6369);
        assert_eq!(quantized.shift, 3);
        assert_eq!(
            quantized.multiplier,
            (4.6369 / 8.0 * 2f64.powi(31)).round() as i32
        );
    }

    #[test]
    fn quantize_multiplier_checked_variants() {
        assert_eq!(quantize_multiplier_greater_than_one(1.0), None);
        assert_eq!(quantize_multiplier_greater_than_one(f64::NAN), None);
        assert_eq!(
            quantize_multiplier_greater_than_one(3.0),
            Some(QuantizedMultiplier {
                multiplier: 3 << 29,
                shift: 2
            })
        );
        assert_eq!(quantize_multiplier_smaller_than_one_exp(1.0), None);
        assert_eq!(quantize_multiplier_smaller_than_one_exp(0.0), None);
        assert_eq!(
            quantize_multiplier_smaller_than_one_exp(0.375),
            Some(QuantizedMultiplier {
                multiplier: 3 << 29,
                shift: -1
            })
        );
    }

    #[test]
    fn frexp_table() {
        let cases = [
            (1.0, 0.5, 1),
            (0.5, 0.5, 0),
            (3.0, 0.75, 2),
            (-3.0, -0.75, 2),
            (f64::MIN_POSITIVE, 0.5, -1021),
            (f64::from_bits(1), 0.5, -1073),
            (f64::MAX, 1.0 - f64::EPSILON / 2.0, 1024),
        ];
        for (x, fraction, exponent) in cases {
            assert_eq!(frexp(x), (fraction, exponent), "x = {x}");
        }
    }

    /// Exact `round_half_up(x * multiplier / 2^(31 - shift))` in i128.
    fn single_round_reference(x: i32, multiplier: i32, shift: i32) -> i32 {
        let numerator = i128::from(x) * i128::from(multiplier);
        let denominator = 1_i128 << (31 - shift);
        (2 * numerator + denominator).div_euclid(2 * denominator) as i32
    }

    proptest! {
        #[test]
        fn quantize_multiplier_within_one_ulp(
            mantissa in 0.5_f64..1.0,
            exponent in -31_i32..=30,
            negative: bool,
        ) {
            let scale = if negative { -mantissa } else { mantissa } * 2f64.powi(exponent);
            let quantized = quantize_multiplier(scale);
            let magnitude = quantized.multiplier.unsigned_abs();
            prop_assert!(magnitude >= 1 << 30, "{quantized:?}");
            // One Q0.31 ulp of the normalised fraction, scaled like it.
            let ulp = 2f64.powi(quantized.shift - 31);
            prop_assert!((quantized.to_f64() - scale).abs() <= ulp, "{quantized:?}");
        }

        #[test]
        fn quantize_multiplier_flushes_tiny(
            mantissa in 0.5_f64..1.0,
            exponent in -200_i32..=-33,
        ) {
            prop_assert_eq!(
                quantize_multiplier(mantissa * 2f64.powi(exponent)),
                QuantizedMultiplier::ZERO
            );
        }

        #[test]
        fn double_rounding_within_one_of_exact(
            x: i32,
            multiplier in (1_i32 << 30)..=i32::MAX,
            shift in -31_i32..=0,
        ) {
            let exact = f64::from(x) * f64::from(multiplier) * 2f64.powi(shift - 31);
            let result = multiply_by_quantized_multiplier(x, multiplier, shift);
            prop_assert!((f64::from(result) - exact).abs() <= 1.0, "{result} vs {exact}");
        }

        #[test]
        fn double_rounding_is_two_roundings(
            x: i32,
            multiplier: i32,
            shift in -31_i32..=0,
        ) {
            // First rounding: exact floor((2 x M + 2^31) / 2^32), saturated.
            let doubled = 2 * i128::from(x) * i128::from(multiplier);
            let high = (doubled + (1_i128 << 31)).div_euclid(1_i128 << 32)
                .clamp(i128::from(i32::MIN), i128::from(i32::MAX));
            // Second rounding: half away from zero of high / 2^-shift.
            let denominator = 1_i128 << (-shift);
            let magnitude = (2 * high.abs() + denominator) / (2 * denominator);
            let expected = (high.signum() * magnitude) as i32;
            prop_assert_eq!(multiply_by_quantized_multiplier(x, multiplier, shift), expected);
        }

        #[test]
        fn single_round_matches_exact(
            x: i32,
            multiplier in 0_i32..=i32::MAX,
            shift in -31_i32..=0,
        ) {
            prop_assert_eq!(
                multiply_by_quantized_multiplier_single_round(x, multiplier, shift),
                single_round_reference(x, multiplier, shift)
            );
        }

        #[test]
        fn multiply_i64_matches_exact(
            x in -(1_i64 << 47)..(1_i64 << 47),
            multiplier in 0_i32..=i32::MAX,
            shift in -31_i32..=7,
        ) {
            let reduced = if multiplier >= 0x7FFF_0000 {
                0x7FFF
            } else {
                (i128::from(multiplier) + (1 << 15)) / (1 << 16)
            };
            let numerator = i128::from(x) * reduced;
            let denominator = 1_i128 << (15 - shift);
            let expected = (2 * numerator + denominator).div_euclid(2 * denominator) as i32;
            prop_assert_eq!(multiply_by_quantized_multiplier_i64(x, multiplier, shift), expected);
        }
    }
}
