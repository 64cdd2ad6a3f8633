//! Saturation and two's complement wrapping to an N-bit integer range,
//! the overflow behaviour of accumulators and output registers. Values are
//! carried in i64, so an unsigned 64-bit result is returned as its bit
//! pattern.

/// Whether an N-bit integer is two's complement signed or unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signedness {
    Signed,
    Unsigned,
}

/// The behaviour of an N-bit register on a result outside its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// Keep the low N bits (two's complement wrap-around).
    Wrap,
    /// Clamp to the minimum or maximum of the range.
    Saturate,
}

impl Overflow {
    /// Applies this overflow behaviour to `value` at `bits` bits; see [`wrap`]
    /// and [`saturate`].
    pub fn apply(self, value: i64, bits: u32, signedness: Signedness) -> i64 {
        match self {
            Overflow::Wrap => wrap(value, bits, signedness),
            Overflow::Saturate => saturate(value, bits, signedness),
        }
    }

    /// Adds `a + b` exactly and then applies this overflow behaviour at
    /// `bits` bits, the way an N-bit adder with this behaviour does.
    pub fn add(self, a: i64, b: i64, bits: u32, signedness: Signedness) -> i64 {
        let sum = i128::from(a) + i128::from(b);
        let (min, max) = int_range(bits, signedness);
        match self {
            Overflow::Wrap => wrap(sum as i64, bits, signedness),
            Overflow::Saturate => sum.clamp(i128::from(min), i128::from(max)) as i64,
        }
    }
}

/// Returns the inclusive range `(min, max)` of an integer of `bits` bits.
///
/// `bits` is clamped to `1..=64`. The maximum of a 64-bit unsigned integer
/// does not fit in i64 and is returned as `i64::MAX`.
pub fn int_range(bits: u32, signedness: Signedness) -> (i64, i64) {
    let bits = bits.clamp(1, 64);
    match signedness {
        Signedness::Signed => {
            let min = i64::MIN >> (64 - bits);
            let max = i64::MAX >> (64 - bits);
            (min, max)
        }
        Signedness::Unsigned => (0, (u64::MAX >> (64 - bits)).min(i64::MAX as u64) as i64),
    }
}

/// Clamps `value` to the range of a `bits`-bit integer.
///
/// `bits` is clamped to `1..=64`. For 64-bit unsigned only negative values
/// change (to 0), because every non-negative i64 is in range.
pub fn saturate(value: i64, bits: u32, signedness: Signedness) -> i64 {
    let (min, max) = int_range(bits, signedness);
    value.clamp(min, max)
}

/// Keeps the low `bits` bits of `value` (two's complement wrap-around),
/// sign-extending them for `Signed` and zero-extending them for `Unsigned`.
///
/// `bits` is clamped to `1..=64`. A 64-bit unsigned result above `i64::MAX`
/// is returned as its bit pattern, i.e. `value` unchanged; reinterpret it as
/// u64.
pub fn wrap(value: i64, bits: u32, signedness: Signedness) -> i64 {
    let bits = bits.clamp(1, 64);
    let unused = 64 - bits;
    match signedness {
        Signedness::Signed => (value << unused) >> unused,
        Signedness::Unsigned => (((value as u64) << unused) >> unused) as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Signedness::{Signed, Unsigned};

    #[test]
    fn int_range_table() {
        let cases = [
            (1, Signed, (-1, 0)),
            (1, Unsigned, (0, 1)),
            (8, Signed, (-128, 127)),
            (8, Unsigned, (0, 255)),
            (4, Unsigned, (0, 15)),
            (32, Signed, (i64::from(i32::MIN), i64::from(i32::MAX))),
            (63, Unsigned, (0, i64::MAX)),
            (64, Signed, (i64::MIN, i64::MAX)),
            (64, Unsigned, (0, i64::MAX)),
            (0, Signed, (-1, 0)),
            (200, Signed, (i64::MIN, i64::MAX)),
        ];
        for (bits, signedness, expected) in cases {
            assert_eq!(
                int_range(bits, signedness),
                expected,
                "{bits} bits {signedness:?}"
            );
        }
    }

    #[test]
    fn saturate_table() {
        let cases = [
            (200, 8, Signed, 127),
            (-200, 8, Signed, -128),
            (-5, 8, Unsigned, 0),
            (300, 8, Unsigned, 255),
            (17, 4, Unsigned, 15),
            (-9, 4, Signed, -8),
            (5, 4, Signed, 5),
            (i64::MIN, 64, Signed, i64::MIN),
            (i64::MIN, 64, Unsigned, 0),
        ];
        for (value, bits, signedness, expected) in cases {
            assert_eq!(
                saturate(value, bits, signedness),
                expected,
                "saturate({value}, {bits}, {signedness:?})"
            );
        }
    }

    #[test]
    fn wrap_table() {
        let cases = [
            (128, 8, Signed, -128),
            (-129, 8, Signed, 127),
            (255, 8, Signed, -1),
            (256, 8, Unsigned, 0),
            (-1, 8, Unsigned, 255),
            (-1, 1, Signed, -1),
            (1, 1, Signed, -1),
            (2, 1, Signed, 0),
            (i64::from(i32::MAX) + 1, 32, Signed, i64::from(i32::MIN)),
            (-1, 64, Unsigned, -1),
            (i64::MIN, 64, Signed, i64::MIN),
        ];
        for (value, bits, signedness, expected) in cases {
            assert_eq!(
                wrap(value, bits, signedness),
                expected,
                "wrap({value}, {bits}, {signedness:?})"
            );
        }
    }

    #[test]
    fn overflow_add_table() {
        let cases = [
            (Overflow::Wrap, 100, 100, 8, Signed, -56),
            (Overflow::Saturate, 100, 100, 8, Signed, 127),
            (Overflow::Saturate, -100, -100, 8, Signed, -128),
            (Overflow::Wrap, 200, 100, 8, Unsigned, 44),
            (Overflow::Saturate, 3, -5, 8, Unsigned, 0),
            (Overflow::Saturate, i64::MAX, 1, 64, Signed, i64::MAX),
            (Overflow::Wrap, i64::MAX, 1, 64, Signed, i64::MIN),
            (Overflow::Saturate, i64::MIN, -1, 64, Signed, i64::MIN),
        ];
        for (overflow, a, b, bits, signedness, expected) in cases {
            assert_eq!(
                overflow.add(a, b, bits, signedness),
                expected,
                "{overflow:?} {a} + {b} at {bits} bits {signedness:?}"
            );
        }
    }

    fn any_signedness() -> impl Strategy<Value = Signedness> {
        prop::sample::select(vec![Signed, Unsigned])
    }

    /// Returns the range of an N-bit integer in i128, without the i64 cap.
    fn exact_range(bits: u32, signedness: Signedness) -> (i128, i128) {
        match signedness {
            Signed => (-(1_i128 << (bits - 1)), (1_i128 << (bits - 1)) - 1),
            Unsigned => (0, (1_i128 << bits) - 1),
        }
    }

    proptest! {
        #[test]
        fn wrap_is_congruent_and_in_range(
            value: i64,
            bits in 1_u32..=63,
            signedness in any_signedness(),
        ) {
            let wrapped = i128::from(wrap(value, bits, signedness));
            let (min, max) = exact_range(bits, signedness);
            prop_assert!(min <= wrapped && wrapped <= max);
            prop_assert_eq!((wrapped - i128::from(value)).rem_euclid(1_i128 << bits), 0);
        }

        #[test]
        fn saturate_matches_clamp(
            value: i64,
            bits in 1_u32..=64,
            signedness in any_signedness(),
        ) {
            let (min, max) = exact_range(bits, signedness);
            let expected = i128::from(value).clamp(min, max);
            prop_assert_eq!(i128::from(saturate(value, bits, signedness)), expected);
        }

        #[test]
        fn overflow_apply_agrees_with_functions(
            value: i64,
            bits in 1_u32..=64,
            signedness in any_signedness(),
        ) {
            prop_assert_eq!(
                Overflow::Wrap.apply(value, bits, signedness),
                wrap(value, bits, signedness)
            );
            prop_assert_eq!(
                Overflow::Saturate.apply(value, bits, signedness),
                saturate(value, bits, signedness)
            );
        }

        #[test]
        fn overflow_add_matches_exact_sum(
            a in -(1_i64 << 40)..(1_i64 << 40),
            b in -(1_i64 << 40)..(1_i64 << 40),
            bits in 1_u32..=40,
            signedness in any_signedness(),
        ) {
            let sum = a + b;
            prop_assert_eq!(
                Overflow::Wrap.add(a, b, bits, signedness),
                wrap(sum, bits, signedness)
            );
            prop_assert_eq!(
                Overflow::Saturate.add(a, b, bits, signedness),
                saturate(sum, bits, signedness)
            );
        }
    }
}
