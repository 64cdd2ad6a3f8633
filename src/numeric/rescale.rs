//! Requantisation as hardware post-processing units do it with a single
//! rounding: the TFLite multiplier as is, a multiplier shortened to fewer
//! bits, or a power-of-two scale (a bare shift).
//!
//! Every variant is an [`IntegerScale`], `multiplier / 2^right_shift`,
//! applied to an accumulator by [`multiply_by_integer_scale`] with one
//! rounding of the exact product. Limitation: the scales come from a
//! TFLite [`QuantizedMultiplier`], so a variant can be no more precise than
//! its 32-bit multiplier.

use super::requant::QuantizedMultiplier;
use super::rounding::{rounding_shift_right_wide, Rounding};

/// A real scale `multiplier / 2^right_shift`; a negative `right_shift` is
/// an exact left shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntegerScale {
    pub multiplier: i32,
    pub right_shift: i32,
}

impl IntegerScale {
    /// The zero scale: every product is 0.
    pub const ZERO: IntegerScale = IntegerScale {
        multiplier: 0,
        right_shift: 0,
    };

    /// Returns the real scale, `multiplier * 2^-right_shift`, exact in f64.
    pub fn to_f64(self) -> f64 {
        f64::from(self.multiplier) * 2f64.powi(-self.right_shift)
    }
}

/// Returns the TFLite multiplier unchanged as an [`IntegerScale`]:
/// `multiplier / 2^(31 - shift)`, for one rounding of `x * multiplier`
/// where the reference rounds twice.
pub fn single_rounding_scale(quantized: QuantizedMultiplier) -> IntegerScale {
    IntegerScale {
        multiplier: quantized.multiplier,
        right_shift: 31 - quantized.shift,
    }
}

/// Shortens the 32-bit TFLite multiplier to a signed multiplier of `bits`
/// bits (clamped to `2..=32`), adjusting the shift.
///
/// The multiplier is first normalised to `[2^30, 2^31)` in magnitude. Its
/// low `32 - bits` bits are then rounded away, ties up. A carry to
/// `2^(bits-1)`, which does not fit a signed `bits`-bit multiplier,
/// renormalises to `2^(bits-2)` with the shift one higher. So the result
/// has a magnitude in `[2^(bits-2), 2^(bits-1))` and represents
/// `multiplier * 2^(shift - (bits - 1))`. A zero multiplier gives
/// [`IntegerScale::ZERO`]; a negative one keeps its sign.
pub fn quantize_multiplier_to_bits(quantized: QuantizedMultiplier, bits: u32) -> IntegerScale {
    let bits = bits.clamp(2, 32);
    let Some((magnitude, shift)) = normalise(quantized) else {
        return IntegerScale::ZERO;
    };

    let dropped = 32 - bits;
    let mut short = if dropped == 0 {
        magnitude
    } else {
        (magnitude + (1 << (dropped - 1))) >> dropped
    };
    let mut shift = shift;
    if short == 1 << (bits - 1) {
        short >>= 1;
        shift += 1;
    }

    let multiplier = if quantized.multiplier < 0 {
        -short
    } else {
        short
    };
    IntegerScale {
        multiplier: multiplier as i32,
        right_shift: (bits as i32 - 1).saturating_sub(shift),
    }
}

/// Rounds the scale to the nearest power of two in the log domain:
/// `2^e` with `|log2(scale) - e| <= 1/2`.
///
/// With the multiplier normalised to `m` in `[2^30, 2^31)` and the scale
/// `m * 2^(shift - 31)` in `[2^(shift-1), 2^shift)`, the exponent is
/// `shift` when `m >= 2^30.5`, tested exactly as `m^2 >= 2^61`, and
/// `shift - 1` otherwise (no ties: `2^30.5` is irrational). The result is
/// `±1 / 2^-e`. A zero multiplier gives [`IntegerScale::ZERO`].
pub fn nearest_power_of_two(quantized: QuantizedMultiplier) -> IntegerScale {
    let Some((magnitude, shift)) = normalise(quantized) else {
        return IntegerScale::ZERO;
    };
    let exponent = if magnitude * magnitude >= 1 << 61 {
        shift
    } else {
        shift - 1
    };
    IntegerScale {
        multiplier: if quantized.multiplier < 0 { -1 } else { 1 },
        right_shift: exponent.saturating_neg(),
    }
}

/// Returns the magnitude of the multiplier scaled into `[2^30, 2^31)` and
/// the shift that keeps the represented value, or `None` for 0.
fn normalise(quantized: QuantizedMultiplier) -> Option<(i64, i32)> {
    let mut magnitude = i64::from(quantized.multiplier).abs();
    if magnitude == 0 {
        return None;
    }
    let mut shift = quantized.shift;
    while magnitude < 1 << 30 {
        magnitude <<= 1;
        shift -= 1;
    }
    if magnitude == 1 << 31 {
        magnitude >>= 1;
        shift += 1;
    }
    Some((magnitude, shift))
}

/// Multiplies `x` by `scale` with one rounding:
/// `round(x * multiplier / 2^right_shift)`.
///
/// The product is exact (i128), so `rounding` sees the true quotient;
/// `random` is the word [`Rounding::Stochastic`] adds below the cut (other
/// modes ignore it). A negative `right_shift` shifts left exactly. The
/// result saturates to the i64 range.
pub fn multiply_by_integer_scale(
    x: i64,
    scale: IntegerScale,
    rounding: Rounding,
    random: u32,
) -> i64 {
    // |x * multiplier| <= 2^63 * 2^31 = 2^94, the input bound of the shift.
    let product = i128::from(x) * i128::from(scale.multiplier);
    let result = if scale.right_shift >= 0 {
        rounding_shift_right_wide(product, scale.right_shift as u32, rounding, random)
    } else {
        shift_left_saturating(product, scale.right_shift.unsigned_abs())
    };
    result.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `value * 2^shift`, saturated to the i64 range.
fn shift_left_saturating(value: i128, shift: u32) -> i128 {
    if value == 0 {
        return 0;
    }
    let limit = i128::from(i64::MAX);
    if shift >= 64 || value.unsigned_abs() > (limit >> shift) as u128 {
        return if value < 0 {
            i128::from(i64::MIN)
        } else {
            limit
        };
    }
    value << shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DETERMINISTIC: [Rounding; 4] = [
        Rounding::HalfAway,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Truncate,
    ];

    fn quantized(multiplier: i32, shift: i32) -> QuantizedMultiplier {
        QuantizedMultiplier { multiplier, shift }
    }

    #[test]
    fn single_rounding_table() {
        // Scale 0.5: multiplier 2^30, shift 0. Columns: half-away, half-up,
        // half-even, truncate, and stochastic with random words 0x7FFF_FFFF
        // and 0x8000_0000 (just below and at one half).
        let scale = single_rounding_scale(quantized(1 << 30, 0));
        assert_eq!(
            scale,
            IntegerScale {
                multiplier: 1 << 30,
                right_shift: 31
            }
        );
        let cases: [(i64, [i64; 6]); 8] = [
            (5, [3, 3, 2, 2, 2, 3]),        // 2.5
            (-5, [-3, -2, -2, -3, -3, -2]), // -2.5
            (3, [2, 2, 2, 1, 1, 2]),        // 1.5
            (-3, [-2, -1, -2, -2, -2, -1]), // -1.5
            (1, [1, 1, 0, 0, 0, 1]),        // 0.5
            (-1, [-1, 0, 0, -1, -1, 0]),    // -0.5
            (4, [2, 2, 2, 2, 2, 2]),        // 2
            (-7, [-4, -3, -4, -4, -4, -3]), // -3.5
        ];
        for (x, expected) in cases {
            for (rounding, want) in DETERMINISTIC.into_iter().zip(expected) {
                assert_eq!(
                    multiply_by_integer_scale(x, scale, rounding, 0),
                    want,
                    "{x} * 0.5 with {rounding:?}"
                );
            }
            for (random, want) in [(0x7FFF_FFFF, expected[4]), (0x8000_0000, expected[5])] {
                assert_eq!(
                    multiply_by_integer_scale(x, scale, Rounding::Stochastic, random),
                    want,
                    "{x} * 0.5 stochastic with {random:#x}"
                );
            }
        }
    }

    /// Shortening 2147478150 (shift -10) to 16 bits rounds up to 2^15,
    /// which must renormalise to 2^14 with shift -9 instead of wrapping to
    /// -2^15; 10000 then requantises to 10 (9.77 before rounding), not -10.
    #[test]
    fn shortened_multiplier_carry_renormalises() {
        let scale = quantize_multiplier_to_bits(quantized(2_147_478_150, -10), 16);
        assert_eq!(
            scale,
            IntegerScale {
                multiplier: 1 << 14,
                right_shift: 24
            }
        );
        for rounding in [Rounding::HalfAway, Rounding::HalfUp, Rounding::HalfEven] {
            assert_eq!(multiply_by_integer_scale(10_000, scale, rounding, 0), 10);
            assert_eq!(multiply_by_integer_scale(-10_000, scale, rounding, 0), -10);
        }
        assert_eq!(
            multiply_by_integer_scale(10_000, scale, Rounding::Truncate, 0),
            9
        );
    }

    #[test]
    fn quantize_multiplier_to_bits_table() {
        // (multiplier, shift, bits, expected multiplier, expected right shift)
        let cases = [
            (1 << 30, 0, 16, 1 << 14, 15),
            (i32::MAX, 0, 16, 1 << 14, 14),  // carry
            (i32::MAX, 0, 32, i32::MAX, 31), // 32 bits: unchanged
            (1_518_500_250, -3, 8, 91, 10),  // 90.51 rounds to 91
            ((3 << 29) - 1, 0, 2, 1, 1),     // 1.4999 * 2^30: rounds down to 1
            (3 << 29, 0, 2, 1, 0),           // 1.5 * 2^30 rounds up to 2: carry
            (1 << 20, 0, 16, 1 << 14, 25),   // not normalised: 2^20 = 2^30 * 2^-10
            (0, 5, 16, 0, 0),
            (-(1 << 30), 2, 16, -(1 << 14), 13),
        ];
        for (multiplier, shift, bits, want_multiplier, want_shift) in cases {
            let scale = quantize_multiplier_to_bits(quantized(multiplier, shift), bits);
            let exact = quantized(multiplier, shift).to_f64();
            // The shortened value is within half a unit of its last bit.
            if multiplier != 0 {
                let unit = 2f64.powi(-scale.right_shift);
                assert!((scale.to_f64() - exact).abs() <= unit / 2.0, "{scale:?}");
            }
            assert_eq!(
                scale,
                IntegerScale {
                    multiplier: want_multiplier,
                    right_shift: want_shift
                },
                "{multiplier} shift {shift} to {bits} bits"
            );
        }
    }

    #[test]
    fn nearest_power_of_two_table() {
        // 2^30.5 = 1518500249.988..., the log-domain midpoint of [2^30, 2^31).
        let cases = [
            (1 << 30, 0, 1, 1),       // 0.5 exactly
            (1_518_500_249, 0, 1, 1), // just below 2^-0.5: 0.5
            (1_518_500_250, 0, 1, 0), // just above: 1
            (i32::MAX, -4, 1, 4),     // ~2^-4
            (1 << 30, 3, 1, -2),      // 4: left shift by 2
            (-(1 << 30), 0, -1, 1),
            (0, 7, 0, 0),
        ];
        for (multiplier, shift, want_multiplier, want_shift) in cases {
            assert_eq!(
                nearest_power_of_two(quantized(multiplier, shift)),
                IntegerScale {
                    multiplier: want_multiplier,
                    right_shift: want_shift
                },
                "{multiplier} shift {shift}"
            );
        }
    }

    #[test]
    fn power_of_two_shift_rounds_ties_per_mode() {
        // Scale 1/4 (0.25 is a power of two): x = ±6 is ±1.5, x = ±10 is ±2.5.
        let scale = nearest_power_of_two(quantized(1 << 30, -1));
        assert_eq!(
            scale,
            IntegerScale {
                multiplier: 1,
                right_shift: 2
            }
        );
        let cases: [(i64, [i64; 4]); 4] = [
            (6, [2, 2, 2, 1]),
            (-6, [-2, -1, -2, -2]),
            (10, [3, 3, 2, 2]),
            (-10, [-3, -2, -2, -3]),
        ];
        for (x, expected) in cases {
            for (rounding, want) in DETERMINISTIC.into_iter().zip(expected) {
                assert_eq!(
                    multiply_by_integer_scale(x, scale, rounding, 0),
                    want,
                    "{x} / 4 with {rounding:?}"
                );
            }
        }
    }

    #[test]
    fn left_shift_saturates() {
        let scale = IntegerScale {
            multiplier: 3,
            right_shift: -62,
        };
        assert_eq!(
            multiply_by_integer_scale(1, scale, Rounding::HalfAway, 0),
            i64::MAX
        );
        assert_eq!(
            multiply_by_integer_scale(-1, scale, Rounding::HalfAway, 0),
            i64::MIN
        );
        assert_eq!(
            multiply_by_integer_scale(0, scale, Rounding::HalfAway, 0),
            0
        );
        let small = IntegerScale {
            multiplier: 3,
            right_shift: -4,
        };
        assert_eq!(
            multiply_by_integer_scale(-5, small, Rounding::Truncate, 0),
            -240
        );
    }

    /// Exact `x * multiplier / 2^right_shift`, rounded from the rational.
    fn scale_reference(x: i64, scale: IntegerScale, rounding: Rounding, random: u32) -> i128 {
        let product = i128::from(x) * i128::from(scale.multiplier);
        if scale.right_shift <= 0 {
            let shifted = product * (1_i128 << scale.right_shift.unsigned_abs());
            return shifted.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        }
        let shift = scale.right_shift as u32;
        let denominator = 1_i128 << shift;
        let floor = product.div_euclid(denominator);
        let remainder = product.rem_euclid(denominator);
        let round_up = match rounding {
            Rounding::Truncate => false,
            Rounding::Stochastic => {
                let kept_bits = shift.min(32);
                let top = i128::from(random >> (32 - kept_bits));
                remainder + (top << (shift - kept_bits)) >= denominator
            }
            _ => match (2 * remainder).cmp(&denominator) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => match rounding {
                    Rounding::HalfAway => product > 0,
                    Rounding::HalfEven => floor % 2 != 0,
                    _ => true,
                },
            },
        };
        (floor + i128::from(round_up)).clamp(i128::from(i64::MIN), i128::from(i64::MAX))
    }

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop::sample::select(Rounding::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn multiply_by_integer_scale_matches_rational(
            x: i64,
            multiplier: i32,
            right_shift in -20_i32..=96,
            rounding in any_rounding(),
            random: u32,
        ) {
            let scale = IntegerScale { multiplier, right_shift };
            prop_assert_eq!(
                i128::from(multiply_by_integer_scale(x, scale, rounding, random)),
                scale_reference(x, scale, rounding, random)
            );
        }

        #[test]
        fn small_products_hit_ties(
            x in -40_i64..40,
            multiplier in -4_i32..=4,
            right_shift in 0_i32..=4,
            rounding in any_rounding(),
            random: u32,
        ) {
            let scale = IntegerScale { multiplier, right_shift };
            prop_assert_eq!(
                i128::from(multiply_by_integer_scale(x, scale, rounding, random)),
                scale_reference(x, scale, rounding, random)
            );
        }

        #[test]
        fn shortened_multiplier_fits_and_is_close(
            multiplier in (1_i32 << 30)..=i32::MAX,
            shift in -31_i32..=5,
            bits in 2_u32..=32,
        ) {
            let scale = quantize_multiplier_to_bits(quantized(multiplier, shift), bits);
            let magnitude = i64::from(scale.multiplier);
            prop_assert!(magnitude >= 1 << (bits - 2), "{:?}", scale);
            prop_assert!(magnitude < 1 << (bits - 1), "{:?}", scale);
            let exact = quantized(multiplier, shift).to_f64();
            let unit = 2f64.powi(-scale.right_shift);
            prop_assert!((scale.to_f64() - exact).abs() <= unit / 2.0, "{:?}", scale);
        }

        #[test]
        fn power_of_two_is_nearest_in_log_domain(
            multiplier in (1_i32 << 30)..=i32::MAX,
            shift in -31_i32..=5,
        ) {
            let scale = nearest_power_of_two(quantized(multiplier, shift));
            let exact = quantized(multiplier, shift).to_f64();
            let distance = (scale.to_f64().log2() - exact.log2()).abs();
            prop_assert!(distance <= 0.5 + 1e-12, "{:?} for {}", scale, exact);
        }
    }
}
