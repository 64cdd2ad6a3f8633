//! Arithmetic right shift with a named rounding mode, the step every
//! hardware requantiser ends with.
//!
//! Limitation: stochastic rounding takes its random bits from the caller, one
//! 32-bit word per rounding event (see [`super::lfsr`]). Below the top 32
//! dropped bits it adds zeros, so its rounding probabilities are exact only
//! to 2^-32.

/// Rounding of a right shift, i.e. of `value / 2^shift` to an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round to nearest, ties away from zero (`-2.5 -> -3`, `2.5 -> 3`).
    HalfAway,
    /// Add half, then shift arithmetically: round to nearest, ties toward
    /// +inf (`-2.5 -> -2`, `2.5 -> 3`).
    HalfUp,
    /// Round to nearest, ties to even (`-2.5 -> -2`, `3.5 -> 4`).
    HalfEven,
    /// Drop the shifted-out bits: floor in two's complement (`-2.5 -> -3`).
    Truncate,
    /// Add random bits below the cut, then truncate: rounds up with a
    /// probability equal to the dropped fraction, so the expected result is
    /// the exact quotient. The random bits are a 32-bit word `r` aligned
    /// with the top of the dropped bits: `r >> (32 - shift)` for a shift of
    /// at most 32, `r << (shift - 32)` above.
    Stochastic,
}

impl Rounding {
    /// Every mode, in declaration order.
    pub const ALL: [Rounding; 5] = [
        Rounding::HalfAway,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Truncate,
        Rounding::Stochastic,
    ];
}

/// Shifts `value` right by `shift` bits, rounding the exact quotient
/// `value / 2^shift` with `rounding`.
///
/// `random` is the 32-bit word [`Rounding::Stochastic`] adds below the cut;
/// the other modes ignore it. Input and output are i64; the result always
/// fits, so nothing overflows. Any `shift` is accepted: a shift of 0
/// returns `value`, and a shift of 64 or more returns the rounded value of
/// a quotient smaller than one half in magnitude (0 or -1).
pub fn rounding_shift_right(value: i64, shift: u32, rounding: Rounding, random: u32) -> i64 {
    // Beyond 100 bits every i64 quotient rounds the same way in every mode:
    // the stochastic addend `r << (shift - 32)` then exceeds |value| for
    // any nonzero r.
    rounding_shift_right_wide(i128::from(value), shift.min(100), rounding, random) as i64
}

/// [`rounding_shift_right`] on an i128 `value`, which must satisfy
/// `|value| < 2^94` (a 64-bit accumulator times a 32-bit multiplier).
///
/// A shift above 126 is treated as 126, which gives the same result for
/// every value in that range and every mode.
pub(crate) fn rounding_shift_right_wide(
    value: i128,
    shift: u32,
    rounding: Rounding,
    random: u32,
) -> i128 {
    if shift == 0 {
        return value;
    }
    let shift = shift.min(126);
    let half = 1_i128 << (shift - 1);
    let floor = value >> shift;
    match rounding {
        Rounding::Truncate => floor,
        Rounding::HalfUp => (value + half) >> shift,
        Rounding::HalfAway => {
            if value >= 0 {
                (value + half) >> shift
            } else {
                -((half - value) >> shift)
            }
        }
        Rounding::HalfEven => {
            let remainder = value - (floor << shift);
            let round_up = remainder > half || (remainder == half && floor & 1 == 1);
            floor + i128::from(round_up)
        }
        Rounding::Stochastic => (value + stochastic_addend(shift, random)) >> shift,
    }
}

/// Aligns the random word with the top of the `shift` dropped bits.
fn stochastic_addend(shift: u32, random: u32) -> i128 {
    if shift <= 32 {
        i128::from(random >> (32 - shift))
    } else {
        i128::from(random) << (shift - 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NEAREST_AND_TRUNCATE: [Rounding; 4] = [
        Rounding::HalfAway,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Truncate,
    ];

    /// Rounds the rational `value / 2^shift` from its floor and the exact
    /// remainder compared with one half. Stochastic rounding takes the floor
    /// of `(value + addend) / 2^shift`, with the addend rebuilt from `random`.
    fn shift_reference(value: i64, shift: u32, rounding: Rounding, random: u32) -> i64 {
        let numerator = i128::from(value);
        let denominator = 1_i128 << shift;
        if rounding == Rounding::Stochastic {
            // The top min(shift, 32) bits of `random`, placed right below the cut.
            let kept_bits = shift.min(32);
            let top = if kept_bits == 0 {
                0
            } else {
                i128::from(random) / (1_i128 << (32 - kept_bits))
            };
            let addend = top * (1_i128 << (shift - kept_bits));
            return (numerator + addend).div_euclid(denominator) as i64;
        }
        let floor = numerator.div_euclid(denominator);
        let twice_remainder = 2 * numerator.rem_euclid(denominator);
        let nearest_up = match twice_remainder.cmp(&denominator) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => match rounding {
                Rounding::HalfAway => numerator > 0,
                Rounding::HalfUp => true,
                Rounding::HalfEven => floor % 2 != 0,
                Rounding::Truncate | Rounding::Stochastic => false,
            },
        };
        let round_up = match rounding {
            Rounding::Truncate => false,
            _ => nearest_up,
        };
        (floor + i128::from(round_up)) as i64
    }

    #[test]
    fn rounding_shift_right_table() {
        // (value, shift, [half-away, half-up, half-even, truncate]):
        // the quotient in the comment.
        let cases: [(i64, u32, [i64; 4]); 14] = [
            (5, 1, [3, 3, 2, 2]),       // 2.5
            (-5, 1, [-3, -2, -2, -3]),  // -2.5
            (7, 1, [4, 4, 4, 3]),       // 3.5
            (-7, 1, [-4, -3, -4, -4]),  // -3.5
            (1, 1, [1, 1, 0, 0]),       // 0.5
            (-1, 1, [-1, 0, 0, -1]),    // -0.5
            (3, 2, [1, 1, 1, 0]),       // 0.75
            (-3, 2, [-1, -1, -1, -1]),  // -0.75
            (5, 2, [1, 1, 1, 1]),       // 1.25
            (-5, 2, [-1, -1, -1, -2]),  // -1.25
            (6, 2, [2, 2, 2, 1]),       // 1.5
            (-6, 2, [-2, -1, -2, -2]),  // -1.5
            (10, 2, [3, 3, 2, 2]),      // 2.5
            (-10, 2, [-3, -2, -2, -3]), // -2.5
        ];
        for (value, shift, expected) in cases {
            for (rounding, want) in NEAREST_AND_TRUNCATE.into_iter().zip(expected) {
                assert_eq!(
                    rounding_shift_right(value, shift, rounding, 0),
                    want,
                    "{value} >> {shift} with {rounding:?}"
                );
            }
        }
    }

    #[test]
    fn stochastic_table() {
        // (value, shift, random word, expected): the quotient in the
        // comment. The result rounds up from the floor when the random
        // fraction r / 2^32 reaches one minus the dropped fraction.
        let cases: [(i64, u32, u32, i64); 15] = [
            (5, 1, 0, 2),                      // 2.5, r = 0
            (5, 1, 0x7FFF_FFFF, 2),            // 2.5, r just below 1/2
            (5, 1, 0x8000_0000, 3),            // 2.5, r = 1/2
            (-5, 1, 0x7FFF_FFFF, -3),          // -2.5, r just below 1/2
            (-5, 1, 0x8000_0000, -2),          // -2.5, r = 1/2
            (-1, 1, 0xFFFF_FFFF, 0),           // -0.5, r near 1
            (-1, 1, 0, -1),                    // -0.5, r = 0
            (-6, 2, 0x7FFF_FFFF, -2),          // -1.5, r just below 1/2
            (-6, 2, 0x8000_0000, -1),          // -1.5, r = 1/2
            (-5, 2, 0x3FFF_FFFF, -2),          // -1.25 = -2 + 3/4, r just below 1/4
            (-5, 2, 0x4000_0000, -1),          // -1.25 = -2 + 3/4, r = 1/4
            (1, 40, 0xFFFF_FFFF, 0),           // 2^-40: r alone never reaches 1
            (255, 40, 0xFFFF_FFFF, 0),         // 255 * 2^-40 + (1 - 2^-32) < 1
            (256, 40, 0xFFFF_FFFF, 1),         // 256 * 2^-40 + (1 - 2^-32) = 1
            (-(1 << 40), 40, 0xFFFF_FFFF, -1), // exact -1 stays -1
        ];
        for (value, shift, random, expected) in cases {
            assert_eq!(
                rounding_shift_right(value, shift, Rounding::Stochastic, random),
                expected,
                "{value} >> {shift} with random {random:#x}"
            );
        }
    }

    #[test]
    fn rounding_shift_right_zero_shift_is_identity() {
        for rounding in Rounding::ALL {
            assert_eq!(rounding_shift_right(-7, 0, rounding, 0xFFFF_FFFF), -7);
            assert_eq!(rounding_shift_right(i64::MIN, 0, rounding, 1), i64::MIN);
        }
    }

    #[test]
    fn rounding_shift_right_extremes() {
        // i64::MIN / 2^64 is exactly -0.5.
        let cases: [(i64, u32, [i64; 4]); 6] = [
            (i64::MIN, 63, [-1, -1, -1, -1]),
            (i64::MAX, 63, [1, 1, 1, 0]),
            (i64::MIN, 64, [-1, 0, 0, -1]),
            (i64::MAX, 64, [0, 0, 0, 0]),
            (i64::MIN, 200, [0, 0, 0, -1]),
            (-1, u32::MAX, [0, 0, 0, -1]),
        ];
        for (value, shift, expected) in cases {
            for (rounding, want) in NEAREST_AND_TRUNCATE.into_iter().zip(expected) {
                assert_eq!(
                    rounding_shift_right(value, shift, rounding, 0),
                    want,
                    "{value} >> {shift} with {rounding:?}"
                );
            }
        }
    }

    #[test]
    fn stochastic_extremes() {
        // With a nonzero word, a huge shift gives 0; a zero word floors.
        assert_eq!(
            rounding_shift_right(i64::MIN, 200, Rounding::Stochastic, 1),
            0
        );
        assert_eq!(
            rounding_shift_right(i64::MIN, 200, Rounding::Stochastic, 0),
            -1
        );
        assert_eq!(
            rounding_shift_right(i64::MAX, 63, Rounding::Stochastic, 0),
            0
        );
        assert_eq!(
            rounding_shift_right(i64::MAX, 63, Rounding::Stochastic, 1),
            1
        );
    }

    #[test]
    fn wide_shift_matches_exact_rational() {
        let values = [
            -(1_i128 << 93) + 12345,
            (1_i128 << 93) - 1,
            -(1_i128 << 93),
            -3,
            0,
        ];
        for value in values {
            for rounding in Rounding::ALL {
                for random in [0, 1, 0x9E37_79B9, u32::MAX] {
                    for shift in [0, 1, 2, 31, 32, 33, 62, 93, 94, 95, 125, 126, 127, 500] {
                        assert_eq!(
                            rounding_shift_right_wide(value, shift, rounding, random),
                            shift_reference_wide(value, shift, rounding, random),
                            "{value} >> {shift} with {rounding:?}, random {random:#x}"
                        );
                    }
                }
            }
        }
    }

    /// [`shift_reference`] for i128 values below 2^94 in magnitude. Up to
    /// 126 bits the rational is exact in i128. Beyond, the quotient is
    /// below 2^-32 in magnitude, so the nearest modes give 0, truncation
    /// the floor, and a nonzero stochastic addend (at least 2^95) lifts any
    /// value into `[0, 2^shift)`.
    fn shift_reference_wide(value: i128, shift: u32, rounding: Rounding, random: u32) -> i128 {
        let floor_sign = if value < 0 { -1 } else { 0 };
        if shift > 126 {
            return match rounding {
                Rounding::HalfAway | Rounding::HalfUp | Rounding::HalfEven => 0,
                Rounding::Truncate => floor_sign,
                Rounding::Stochastic if random != 0 => 0,
                Rounding::Stochastic => floor_sign,
            };
        }
        if shift == 0 {
            return value;
        }
        let denominator = 1_i128 << shift;
        if rounding == Rounding::Stochastic {
            let kept_bits = shift.min(32);
            let top = i128::from(random) / (1_i128 << (32 - kept_bits));
            let addend = top * (1_i128 << (shift - kept_bits));
            return (value + addend).div_euclid(denominator);
        }
        let floor = value.div_euclid(denominator);
        let remainder = value.rem_euclid(denominator);
        let half = denominator / 2;
        let round_up = match (rounding, remainder.cmp(&half)) {
            (Rounding::Truncate, _) => false,
            (_, std::cmp::Ordering::Less) => false,
            (_, std::cmp::Ordering::Greater) => true,
            (Rounding::HalfAway, _) => value > 0,
            (Rounding::HalfUp, _) => true,
            (Rounding::HalfEven, _) => floor % 2 != 0,
            (Rounding::Stochastic, _) => false,
        };
        floor + i128::from(round_up)
    }

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop::sample::select(Rounding::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn rounding_shift_right_matches_rational(
            value: i64,
            shift in 0_u32..=70,
            rounding in any_rounding(),
            random: u32,
        ) {
            prop_assert_eq!(
                rounding_shift_right(value, shift, rounding, random),
                shift_reference(value, shift, rounding, random)
            );
        }

        #[test]
        fn rounding_shift_right_small_values_hit_ties(
            value in -64_i64..64,
            shift in 0_u32..=4,
            rounding in any_rounding(),
            random: u32,
        ) {
            prop_assert_eq!(
                rounding_shift_right(value, shift, rounding, random),
                shift_reference(value, shift, rounding, random)
            );
        }

        #[test]
        fn non_stochastic_modes_ignore_random(
            value: i64,
            shift in 0_u32..=70,
            random: u32,
        ) {
            for rounding in NEAREST_AND_TRUNCATE {
                prop_assert_eq!(
                    rounding_shift_right(value, shift, rounding, random),
                    rounding_shift_right(value, shift, rounding, 0)
                );
            }
        }
    }
}
