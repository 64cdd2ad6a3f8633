//! Arithmetic right shift with a named rounding mode, the step every
//! hardware requantiser ends with.

/// Rounding of a right shift, i.e. of `value / 2^shift` to an integer.
///
/// Stochastic rounding (seeded LFSR bits added below the cut) is not
/// implemented yet.
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
}

/// Shifts `value` right by `shift` bits, rounding the exact quotient
/// `value / 2^shift` with `rounding`.
///
/// Input and output are i64. The result always fits, so nothing overflows.
/// Any `shift` is accepted: a shift of 0 returns `value`, and a shift of 64 or
/// more returns the rounded value of a quotient smaller than one half in
/// magnitude (0 or -1).
pub fn rounding_shift_right(value: i64, shift: u32, rounding: Rounding) -> i64 {
    if shift == 0 {
        return value;
    }
    // In i128 no intermediate overflows; beyond 100 bits every i64 quotient
    // rounds the same way.
    let shift = shift.min(100);
    let value = i128::from(value);
    let half = 1_i128 << (shift - 1);
    let floor = value >> shift;
    let rounded = match rounding {
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
    };
    rounded as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL_MODES: [Rounding; 4] = [
        Rounding::HalfAway,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Truncate,
    ];

    /// Rounds the rational `value / 2^shift` from its floor and the exact
    /// remainder compared with one half.
    fn shift_reference(value: i64, shift: u32, rounding: Rounding) -> i64 {
        let numerator = i128::from(value);
        let denominator = 1_i128 << shift;
        let floor = numerator.div_euclid(denominator);
        let twice_remainder = 2 * numerator.rem_euclid(denominator);
        let nearest_up = match twice_remainder.cmp(&denominator) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => match rounding {
                Rounding::HalfAway => numerator > 0,
                Rounding::HalfUp => true,
                Rounding::HalfEven => floor % 2 != 0,
                Rounding::Truncate => false,
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
            for (rounding, want) in ALL_MODES.into_iter().zip(expected) {
                assert_eq!(
                    rounding_shift_right(value, shift, rounding),
                    want,
                    "{value} >> {shift} with {rounding:?}"
                );
            }
        }
    }

    #[test]
    fn rounding_shift_right_zero_shift_is_identity() {
        for rounding in ALL_MODES {
            assert_eq!(rounding_shift_right(-7, 0, rounding), -7);
            assert_eq!(rounding_shift_right(i64::MIN, 0, rounding), i64::MIN);
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
            for (rounding, want) in ALL_MODES.into_iter().zip(expected) {
                assert_eq!(
                    rounding_shift_right(value, shift, rounding),
                    want,
                    "{value} >> {shift} with {rounding:?}"
                );
            }
        }
    }

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop::sample::select(ALL_MODES.to_vec())
    }

    proptest! {
        #[test]
        fn rounding_shift_right_matches_rational(
            value: i64,
            shift in 0_u32..=70,
            rounding in any_rounding(),
        ) {
            prop_assert_eq!(
                rounding_shift_right(value, shift, rounding),
                shift_reference(value, shift, rounding)
            );
        }

        #[test]
        fn rounding_shift_right_small_values_hit_ties(
            value in -64_i64..64,
            shift in 0_u32..=4,
            rounding in any_rounding(),
        ) {
            prop_assert_eq!(
                rounding_shift_right(value, shift, rounding),
                shift_reference(value, shift, rounding)
            );
        }
    }
}
