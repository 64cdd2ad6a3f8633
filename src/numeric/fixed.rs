//! The scalar gemmlowp primitives behind TFLite requantisation: the
//! saturating rounding doubling high multiply, the rounding divide by a power
//! of two and the saturating multiply by a power of two. Only the 32-bit
//! versions are provided; the int16 overloads of gemmlowp are not.

/// Returns the high 32 bits of `2 * a * b`, rounded to nearest, i.e.
/// `floor((a * b + 2^30) / 2^31)`.
///
/// Inputs and output are i32: the product of two Q0.31 values is a Q0.31
/// value. Ties round toward +inf (`-2.5 -> -2`, `2.5 -> 3`), the same as the
/// ARM `vqrdmulh` instruction. gemmlowp's scalar code gets there with an
/// asymmetric nudge and a division that truncates toward zero. The only
/// overflowing case, `a == b == i32::MIN`, saturates to `i32::MAX`.
/// Matches gemmlowp `SaturatingRoundingDoublingHighMul` (int32 overload), as
/// used by TFLite Micro.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let product = i64::from(a) * i64::from(b);
    let nudge: i64 = if product >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((product + nudge) / (1_i64 << 31)) as i32
}

/// Divides `x` by `2^exponent`, rounding to nearest with ties away from zero
/// (`-2.5 -> -3`, `2.5 -> 3`).
///
/// Formula: `(x >> e) + (remainder > threshold)`, where `remainder` is the
/// low `e` bits of `x` and the threshold is `(2^e - 1) >> 1`, plus one when
/// `x` is negative. Input and output are i32; the result always fits, so
/// nothing overflows. The reference requires `exponent` in `0..=31`. Outside
/// that range this function stays defined: a negative exponent is treated as
/// 0, and a larger one returns the exactly rounded quotient (0, or -1 for
/// `i32::MIN` at 32). Matches gemmlowp `RoundingDivideByPOT`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 62);
    let x = i64::from(x);
    let mask = (1_i64 << exponent) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> exponent) + i64::from(remainder > threshold)) as i32
}

/// Multiplies `x` by `2^exponent`: a saturating left shift for a positive
/// exponent, [`rounding_divide_by_pot`] (ties away from zero) for a negative
/// one.
///
/// Input and output are i32. A left shift that leaves the i32 range
/// saturates to `i32::MIN` or `i32::MAX`; `exponent` may be any value.
/// Matches gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>`, and for
/// `exponent >= 0` TFLite `SaturatingRoundingMultiplyByPOTParam`.
pub fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent <= 0 {
        return rounding_divide_by_pot(x, exponent.saturating_neg());
    }
    let shifted = i64::from(x) << exponent.min(32);
    shifted.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Returns `(a + b) / 2` rounded to nearest with ties away from zero,
/// computed without overflow.
///
/// Inputs and output are i32. Matches gemmlowp `RoundingHalfSum` (int32
/// overload).
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Exact `floor((2ab + 2^31) / 2^32)`, saturated to i32.
    fn doubling_high_mul_reference(a: i32, b: i32) -> i32 {
        let doubled = 2 * i128::from(a) * i128::from(b);
        let rounded = (doubled + (1_i128 << 31)).div_euclid(1_i128 << 32);
        rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    /// Exact `x / 2^e` rounded half away from zero, from the rational value.
    fn divide_by_pot_reference(x: i32, exponent: u32) -> i32 {
        let numerator = i128::from(x);
        let denominator = 1_i128 << exponent;
        let magnitude = (2 * numerator.abs() + denominator) / (2 * denominator);
        (numerator.signum() * magnitude) as i32
    }

    #[test]
    fn doubling_high_mul_min_times_min_saturates() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn doubling_high_mul_table() {
        let half = 1 << 30;
        let cases = [
            // (a, b, expected): a * 2^30 / 2^31 = a / 2.
            (5, half, 3),
            (-5, half, -2),
            (3, half, 2),
            (-3, half, -1),
            (1, half, 1),
            (-1, half, 0),
            (4, half, 2),
            (-4, half, -2),
            (0, i32::MIN, 0),
            (i32::MIN, i32::MAX, -i32::MAX),
            (i32::MAX, i32::MAX, i32::MAX - 1),
            (i32::MIN, 1, -1),
            (1, 1, 0),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                expected,
                "a = {a}, b = {b}"
            );
        }
    }

    #[test]
    fn rounding_divide_by_pot_table() {
        let cases = [
            // Ties go away from zero on both sides.
            (5, 1, 3),
            (-5, 1, -3),
            (3, 1, 2),
            (-3, 1, -2),
            (6, 2, 2),
            (-6, 2, -2),
            (10, 2, 3),
            (-10, 2, -3),
            (7, 0, 7),
            (-7, 0, -7),
            (i32::MAX, 31, 1),
            (i32::MIN, 31, -1),
            (1 << 30, 31, 1),
            (-(1 << 30), 31, -1),
            ((1 << 30) - 1, 31, 0),
            (i32::MIN, 32, -1),
            (i32::MAX, 32, 0),
            (i32::MIN, 40, 0),
            (9, -3, 9),
        ];
        for (x, exponent, expected) in cases {
            assert_eq!(
                rounding_divide_by_pot(x, exponent),
                expected,
                "x = {x}, exponent = {exponent}"
            );
        }
    }

    #[test]
    fn multiply_by_pot_table() {
        let cases = [
            (3, 2, 12),
            (-3, 2, -12),
            (1 << 29, 2, i32::MAX),
            (-(1 << 29), 2, i32::MIN),
            ((1 << 29) - 1, 2, i32::MAX - 3),
            (1, 31, i32::MAX),
            (-1, 31, i32::MIN),
            (0, 31, 0),
            (1, 100, i32::MAX),
            (5, -1, 3),
            (-5, -1, -3),
            (7, 0, 7),
        ];
        for (x, exponent, expected) in cases {
            assert_eq!(
                saturating_rounding_multiply_by_pot(x, exponent),
                expected,
                "x = {x}, exponent = {exponent}"
            );
        }
    }

    #[test]
    fn rounding_half_sum_table() {
        let cases = [
            (1, 2, 2),
            (-1, -2, -2),
            (1, -2, -1),
            (2, 4, 3),
            (i32::MAX, i32::MAX, i32::MAX),
            (i32::MIN, i32::MIN, i32::MIN),
            (i32::MAX, 0, 1 << 30),
        ];
        for (a, b, expected) in cases {
            assert_eq!(rounding_half_sum(a, b), expected, "a = {a}, b = {b}");
        }
    }

    proptest! {
        #[test]
        fn doubling_high_mul_matches_exact(a: i32, b: i32) {
            prop_assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                doubling_high_mul_reference(a, b)
            );
        }

        #[test]
        fn rounding_divide_by_pot_matches_exact(x: i32, exponent in 0_u32..=40) {
            prop_assert_eq!(
                rounding_divide_by_pot(x, exponent as i32),
                divide_by_pot_reference(x, exponent)
            );
        }

        #[test]
        fn rounding_divide_by_pot_small_values(x in -300_i32..300, exponent in 0_u32..=4) {
            prop_assert_eq!(
                rounding_divide_by_pot(x, exponent as i32),
                divide_by_pot_reference(x, exponent)
            );
        }

        #[test]
        fn multiply_by_pot_left_matches_clamp(x: i32, exponent in 1_i32..=40) {
            let exact = i128::from(x) << exponent;
            let expected = exact.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
            prop_assert_eq!(saturating_rounding_multiply_by_pot(x, exponent), expected);
        }

        #[test]
        fn rounding_half_sum_matches_exact(a: i32, b: i32) {
            let sum = i128::from(a) + i128::from(b);
            let expected = (sum.signum() * ((sum.abs() + 1) / 2)) as i32;
            prop_assert_eq!(rounding_half_sum(a, b), expected);
        }
    }
}
