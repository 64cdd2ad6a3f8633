//! gemmlowp's 32-bit fixed-point arithmetic, as used by the int8 SOFTMAX,
//! LOGISTIC and TANH reference kernels of TFLite Micro: the [`FixedPoint`]
//! type and the exp, reciprocal, logistic and tanh approximations built on
//! it.
//!
//! The integer-bit count is a const generic. Stable Rust cannot compute a
//! type's const parameter from others (`FixedPoint<{A + B}>`), so a product
//! with a mixed format names its result format (see [`FixedPoint::mul_to`]) and
//! the check that it is right happens at compile time. Only the int32 raw
//! type is ported; gemmlowp's int16 and SIMD variants are not.

use std::ops::{Add, Mul, Neg, Sub};

use super::fixed::{
    rounding_half_sum, saturating_rounding_doubling_high_mul, saturating_rounding_multiply_by_pot,
};

/// A signed 32-bit fixed-point number with `INT_BITS` integer bits and
/// `31 - INT_BITS` fractional bits: raw value `r` represents
/// `r / 2^(31 - INT_BITS)`.
///
/// `INT_BITS` must be below 32, which is checked at compile time:
///
/// ```compile_fail
/// let _ = fxsim::numeric::fixedpoint::FixedPoint::<32>::from_raw(0);
/// ```
///
/// Addition, subtraction and negation wrap on overflow, as the reference
/// does in practice. Multiplication rounds (ties toward +inf) and saturates
/// only at `-1 * -1` in Q0.31. Matches gemmlowp `FixedPoint<std::int32_t,
/// INT_BITS>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FixedPoint<const INT_BITS: u32> {
    raw: i32,
}

/// Q0.31: the format of exp and logistic results and of the reciprocal.
pub type Q0_31 = FixedPoint<0>;
/// Q2.29: the format of the Newton-Raphson iteration in the reciprocal.
pub type Q2_29 = FixedPoint<2>;
/// Q4.27: the rescaled input of int8 LOGISTIC.
pub type Q4_27 = FixedPoint<4>;
/// Q5.26: the scaled input difference of int8 SOFTMAX.
pub type Q5_26 = FixedPoint<5>;
/// Q12.19: the sum of exponentials in int8 SOFTMAX.
pub type Q12_19 = FixedPoint<12>;

impl<const INT_BITS: u32> FixedPoint<INT_BITS> {
    /// Number of fractional bits, `31 - INT_BITS`.
    pub const FRACTIONAL_BITS: u32 = {
        assert!(INT_BITS < 32, "FixedPoint needs fewer than 32 integer bits");
        31 - INT_BITS
    };

    /// Wraps a raw i32 without changing its bits (gemmlowp `FromRaw`).
    pub const fn from_raw(raw: i32) -> Self {
        let _ = Self::FRACTIONAL_BITS;
        FixedPoint { raw }
    }

    /// Returns the raw i32 (gemmlowp `raw()`).
    pub const fn raw(self) -> i32 {
        self.raw
    }

    /// Returns zero.
    pub const fn zero() -> Self {
        Self::from_raw(0)
    }

    /// Returns one, or the largest value below one (`i32::MAX`) in Q0.31,
    /// which cannot hold one (gemmlowp `One`).
    pub const fn one() -> Self {
        if INT_BITS == 0 {
            Self::from_raw(i32::MAX)
        } else {
            Self::from_raw(1 << Self::FRACTIONAL_BITS)
        }
    }

    /// Returns `2^EXPONENT`, which must be exactly representable: this
    /// requires `FRACTIONAL_BITS + EXPONENT` in `0..=30`, checked at compile
    /// time (gemmlowp `ConstantPOT`).
    pub const fn constant_pot<const EXPONENT: i32>() -> Self {
        let offset = const {
            let offset = Self::FRACTIONAL_BITS as i32 + EXPONENT;
            assert!(offset >= 0, "power of two too small for this format");
            assert!(offset < 31, "power of two too large for this format");
            offset
        };
        Self::from_raw(1 << offset)
    }

    /// Converts from f64, rounding half away from zero and saturating to the
    /// i32 range; NaN gives 0 (gemmlowp `FromDouble`, for constants and
    /// tests).
    pub fn from_f64(value: f64) -> Self {
        let scaled = (value * 2f64.powi(Self::FRACTIONAL_BITS as i32)).round();
        Self::from_raw(scaled as i32)
    }

    /// Converts to f64 exactly (gemmlowp `ToDouble`).
    pub fn to_f64(self) -> f64 {
        f64::from(self.raw) / 2f64.powi(Self::FRACTIONAL_BITS as i32)
    }

    /// Multiplies two fixed-point numbers whose integer bits add up to
    /// `OUT_BITS`, with [`saturating_rounding_doubling_high_mul`] on the raw
    /// values: ties toward +inf. Matches gemmlowp `operator*` on
    /// `FixedPoint`.
    ///
    /// ```
    /// use fxsim::numeric::fixedpoint::{FixedPoint, Q2_29};
    ///
    /// let x = Q2_29::from_f64(1.5);
    /// let product: FixedPoint<4> = x.mul_to(x);
    /// assert_eq!(product.to_f64(), 2.25);
    /// ```
    ///
    /// A result format with the wrong integer bits does not compile:
    ///
    /// ```compile_fail
    /// use fxsim::numeric::fixedpoint::{FixedPoint, Q2_29};
    ///
    /// let x = Q2_29::from_f64(1.5);
    /// let product: FixedPoint<3> = x.mul_to(x);
    /// ```
    pub fn mul_to<const RHS_BITS: u32, const OUT_BITS: u32>(
        self,
        rhs: FixedPoint<RHS_BITS>,
    ) -> FixedPoint<OUT_BITS> {
        const {
            assert!(
                INT_BITS + RHS_BITS == OUT_BITS,
                "product format must have the sum of the integer bits"
            );
        }
        FixedPoint::from_raw(saturating_rounding_doubling_high_mul(self.raw, rhs.raw))
    }

    /// Converts to `DST_BITS` integer bits with
    /// [`saturating_rounding_multiply_by_pot`] on the raw value: more integer
    /// bits round (ties away from zero), fewer saturate. Matches gemmlowp
    /// `Rescale<DST_BITS>`.
    pub fn rescale<const DST_BITS: u32>(self) -> FixedPoint<DST_BITS> {
        let exponent = INT_BITS as i32 - DST_BITS as i32;
        FixedPoint::from_raw(saturating_rounding_multiply_by_pot(self.raw, exponent))
    }

    /// Reinterprets the raw value with `DST_BITS` integer bits, which
    /// multiplies the value by `2^(DST_BITS - INT_BITS)` exactly. Matches
    /// gemmlowp `ExactMulByPot<DST_BITS - INT_BITS>`.
    pub fn exact_mul_by_pot<const DST_BITS: u32>(self) -> FixedPoint<DST_BITS> {
        FixedPoint::from_raw(self.raw)
    }

    /// Multiplies by `2^exponent`: a saturating left shift for a positive
    /// exponent, a rounding right shift (ties away from zero) for a negative
    /// one. Matches gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>`.
    pub fn saturating_rounding_multiply_by_pot(self, exponent: i32) -> Self {
        Self::from_raw(saturating_rounding_multiply_by_pot(self.raw, exponent))
    }

    /// Returns `(self + other) / 2`, rounded half away from zero, without
    /// overflow. Matches gemmlowp `RoundingHalfSum`.
    pub fn rounding_half_sum(self, other: Self) -> Self {
        Self::from_raw(rounding_half_sum(self.raw, other.raw))
    }
}

impl<const INT_BITS: u32> Add for FixedPoint<INT_BITS> {
    type Output = Self;

    /// Adds the raw values, wrapping on overflow.
    fn add(self, rhs: Self) -> Self {
        Self::from_raw(self.raw.wrapping_add(rhs.raw))
    }
}

impl<const INT_BITS: u32> Sub for FixedPoint<INT_BITS> {
    type Output = Self;

    /// Subtracts the raw values, wrapping on overflow.
    fn sub(self, rhs: Self) -> Self {
        Self::from_raw(self.raw.wrapping_sub(rhs.raw))
    }
}

impl<const INT_BITS: u32> Neg for FixedPoint<INT_BITS> {
    type Output = Self;

    /// Negates the raw value, wrapping `i32::MIN` to itself.
    fn neg(self) -> Self {
        Self::from_raw(self.raw.wrapping_neg())
    }
}

/// A product with a Q0.31 factor keeps the other factor's format, so it can
/// use the `*` operator; see [`FixedPoint::mul_to`] for other formats.
impl<const INT_BITS: u32> Mul<Q0_31> for FixedPoint<INT_BITS> {
    type Output = Self;

    fn mul(self, rhs: Q0_31) -> Self {
        Self::from_raw(saturating_rounding_doubling_high_mul(self.raw, rhs.raw))
    }
}

/// Returns `exp(a)` for `a` in `[-1/4, 0)`, as a Q0.31 value.
///
/// A fourth-order Taylor expansion around -1/8: with `x = a + 1/8`,
/// `exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24)`. Every product rounds as
/// [`FixedPoint::mul_to`] does, and every division by a power of two rounds
/// half away from zero. The final addition wraps, which happens only for
/// inputs outside the interval. Matches gemmlowp
/// `exp_on_interval_between_negative_one_quarter_and_0_excl`.
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: Q0_31) -> Q0_31 {
    // exp(-1/8) and 1/3 in Q0.31, the constants gemmlowp uses.
    let constant_term = Q0_31::from_raw(1_895_147_668);
    let constant_1_over_3 = Q0_31::from_raw(715_827_883);

    let x = a + Q0_31::constant_pot::<-3>();
    let x2 = x * x;
    let x3 = x2 * x;
    let x4 = x2 * x2;
    let x4_over_4 = x4.saturating_rounding_multiply_by_pot(-2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 =
        (((x4_over_4 + x3) * constant_1_over_3) + x2).saturating_rounding_multiply_by_pot(-1);
    constant_term + constant_term * (x + x4_over_24_plus_x3_over_6_plus_x2_over_2)
}

/// Multipliers `exp(-2^k)` in Q0.31 for k = -2..=4, the constants of
/// gemmlowp's barrel shifter in `exp_on_negative_values`.
const EXP_OF_NEGATIVE_POWERS_OF_TWO: [(i32, i32); 7] = [
    (-2, 1_672_461_947),
    (-1, 1_302_514_674),
    (0, 790_015_084),
    (1, 290_630_308),
    (2, 39_332_535),
    (3, 720_401),
    (4, 242),
];

/// Returns `exp(a)` for `a <= 0`, as a Q0.31 value.
///
/// The input is split into `a = -k/4 + r` with `r` in `[-1/4, 0)`;
/// [`exp_on_interval_between_negative_one_quarter_and_0_excl`] gives
/// `exp(r)`, and each set bit of `k/4` (worth 1/4 up to 16) multiplies in
/// `exp(-2^j)`. With more than 5 integer bits, inputs below -32 give 0;
/// `a == 0` gives `one()` (`i32::MAX`). Positive inputs give meaningless
/// results, as in the reference. `INT_BITS` must be at most 29 (checked at
/// compile time). Matches gemmlowp `exp_on_negative_values`.
pub fn exp_on_negative_values<const INT_BITS: u32>(a: FixedPoint<INT_BITS>) -> Q0_31 {
    const {
        assert!(
            INT_BITS <= 29,
            "exp_on_negative_values needs INT_BITS <= 29"
        );
    }
    Q0_31::from_raw(exp_on_negative_values_raw(a.raw(), INT_BITS))
}

/// [`exp_on_negative_values`] on a raw value with `int_bits` (at most 29)
/// integer bits.
fn exp_on_negative_values_raw(a: i32, int_bits: u32) -> i32 {
    let fractional_bits = 31 - int_bits as i32;
    let one_quarter = 1_i32 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);

    // Rescale<0> of the remainder: a saturating left shift by `int_bits`.
    let remainder_q0 = Q0_31::from_raw(saturating_rounding_multiply_by_pot(
        a_mod_quarter_minus_one_quarter,
        int_bits as i32,
    ));
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(remainder_q0);

    // Bits of -(a - r) select the exp(-2^k) factors; bits beyond the input's
    // integer part do not exist in its format and are skipped.
    let multiples_of_quarter = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    for (exponent, multiplier) in EXP_OF_NEGATIVE_POWERS_OF_TWO {
        if int_bits as i32 > exponent {
            let bit = 1_i32 << (fractional_bits + exponent);
            if multiples_of_quarter & bit != 0 {
                result = result * Q0_31::from_raw(multiplier);
            }
        }
    }

    if int_bits > 5 {
        // -32 in the input format: below it exp() is zero in Q0.31.
        let clamp = -(1_i32 << (36 - int_bits));
        if a < clamp {
            result = Q0_31::zero();
        }
    }
    if a == 0 {
        result = Q0_31::one();
    }
    result.raw()
}

/// Runs gemmlowp's three Newton-Raphson steps for `1 / d` with
/// `d = half_denominator` in `[1/2, 1]`, returning the estimate in Q2.29.
fn newton_raphson_reciprocal(half_denominator: Q0_31) -> Q2_29 {
    // 48/17 and -32/17 in Q2.29: the standard initial estimate
    // 48/17 - 32/17 * d.
    let constant_48_over_17 = Q2_29::from_raw(1_515_870_810);
    let constant_neg_32_over_17 = Q2_29::from_raw(-1_010_580_540);

    let mut x = constant_48_over_17 + constant_neg_32_over_17 * half_denominator;
    for _ in 0..3 {
        let half_denominator_times_x = x * half_denominator;
        let one_minus_half_denominator_times_x = Q2_29::one() - half_denominator_times_x;
        let correction: FixedPoint<4> = x.mul_to(one_minus_half_denominator_times_x);
        x = x + correction.rescale::<2>();
    }
    x
}

/// Returns `1 / (1 + a)` for `a` in `[0, 1]`, as a Q0.31 value.
///
/// Newton-Raphson division on `(1 + a) / 2`, three iterations from the
/// estimate `48/17 - 32/17 * d`, then halved. Matches gemmlowp
/// `one_over_one_plus_x_for_x_in_0_1`.
pub fn one_over_one_plus_x_for_x_in_0_1(a: Q0_31) -> Q0_31 {
    let half_denominator = a.rounding_half_sum(Q0_31::one());
    let reciprocal = newton_raphson_reciprocal(half_denominator);
    reciprocal.exact_mul_by_pot::<1>().rescale::<0>()
}

/// Returns `(1 - a) / (1 + a)` for `a` in `[0, 1]`, as a Q0.31 value.
///
/// The same Newton-Raphson division as [`one_over_one_plus_x_for_x_in_0_1`],
/// minus one. Matches gemmlowp `one_minus_x_over_one_plus_x_for_x_in_0_1`.
pub fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: Q0_31) -> Q0_31 {
    let half_denominator = a.rounding_half_sum(Q0_31::one());
    let reciprocal = newton_raphson_reciprocal(half_denominator);
    (reciprocal - Q2_29::one()).rescale::<0>()
}

/// Returns `-tanh(a)` for `a <= 0`, as `(1 - e) / (1 + e)` with
/// `e = exp(2a)`. `INT_BITS` must be at most 28 (checked at compile time).
/// Matches gemmlowp `neg_tanh_on_negative_values`.
pub fn neg_tanh_on_negative_values<const INT_BITS: u32>(a: FixedPoint<INT_BITS>) -> Q0_31 {
    const {
        assert!(
            INT_BITS <= 28,
            "neg_tanh_on_negative_values needs INT_BITS <= 28"
        );
    }
    // ExactMulByPot<1>: the same raw value read with one more integer bit.
    let exp_of_twice_a = Q0_31::from_raw(exp_on_negative_values_raw(a.raw(), INT_BITS + 1));
    one_minus_x_over_one_plus_x_for_x_in_0_1(exp_of_twice_a)
}

/// Returns `tanh(a)` as a Q0.31 value, from [`neg_tanh_on_negative_values`]
/// of `-|a|`; `tanh(0)` is exactly 0. `INT_BITS` must be at most 28
/// (checked at compile time). Matches gemmlowp `tanh`.
pub fn tanh<const INT_BITS: u32>(a: FixedPoint<INT_BITS>) -> Q0_31 {
    if a.raw() == 0 {
        return Q0_31::zero();
    }
    let is_negative = a.raw() < 0;
    let non_positive = if is_negative { a } else { -a };
    let neg_tanh = neg_tanh_on_negative_values(non_positive);
    if is_negative {
        -neg_tanh
    } else {
        neg_tanh
    }
}

/// Returns `1 / (1 + exp(-a))` for `a >= 0`, as a Q0.31 value. `INT_BITS`
/// must be at most 29 (checked at compile time). Matches gemmlowp
/// `logistic_on_positive_values`.
pub fn logistic_on_positive_values<const INT_BITS: u32>(a: FixedPoint<INT_BITS>) -> Q0_31 {
    one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-a))
}

/// Returns `1 / (1 + exp(-a))` as a Q0.31 value.
///
/// Positive inputs use [`logistic_on_positive_values`], negative ones
/// `one() - logistic(-a)`, and zero gives exactly 1/2. `INT_BITS` must be at
/// most 29 (checked at compile time). Matches gemmlowp `logistic`.
pub fn logistic<const INT_BITS: u32>(a: FixedPoint<INT_BITS>) -> Q0_31 {
    if a.raw() == 0 {
        return Q0_31::from_raw(1 << 30);
    }
    let is_positive = a.raw() > 0;
    let magnitude = if is_positive { a } else { -a };
    let result_if_positive = logistic_on_positive_values(magnitude);
    if is_positive {
        result_if_positive
    } else {
        Q0_31::one() - result_if_positive
    }
}

/// Returns the reciprocal of a positive fixed-point `x` with
/// `x_integer_digits` integer bits, as a Q0.31 fraction and the power of two
/// it is missing: `1 / x ≈ fraction * 2^-num_bits_over_unit`, with the
/// tuple being `(fraction, num_bits_over_unit)`.
///
/// `x` is normalised by its leading zeros to `1 + s` with `s` in `[0, 1)`,
/// and [`one_over_one_plus_x_for_x_in_0_1`] gives `1 / (1 + s)`;
/// `num_bits_over_unit = x_integer_digits - leading_zeros(x)`. The shift
/// and subtraction work on the unsigned bit pattern, so zero and negative
/// `x` give defined but meaningless results, as in the reference. Matches
/// TFLite `GetReciprocal`.
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (Q0_31, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    let shifted = (x as u32).checked_shl(headroom_plus_one).unwrap_or(0);
    let shifted_minus_one = shifted.wrapping_sub(1 << 31) as i32;
    let fraction = one_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(shifted_minus_one));
    (fraction, num_bits_over_unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Raw (input, output) pairs printed by gemmlowp's own scalar code
    /// (`testdata/gemmlowp_vectors.cc`).
    type RawCases = [(i32, i32)];

    fn check_raw_cases(name: &str, cases: &RawCases, function: impl Fn(i32) -> i32) {
        for &(input, expected) in cases {
            assert_eq!(function(input), expected, "{name}({input})");
        }
    }

    #[test]
    fn constants_and_conversions() {
        assert_eq!(Q0_31::one().raw(), i32::MAX);
        assert_eq!(Q5_26::one().raw(), 1 << 26);
        assert_eq!(Q0_31::constant_pot::<-3>().raw(), 1 << 28);
        assert_eq!(Q5_26::constant_pot::<-2>().raw(), 1 << 24);
        assert_eq!(Q12_19::FRACTIONAL_BITS, 19);
        assert_eq!(Q2_29::from_f64(48.0 / 17.0).raw(), 1_515_870_810);
        assert_eq!(Q2_29::from_f64(-32.0 / 17.0).raw(), -1_010_580_540);
        assert_eq!(Q0_31::from_f64(2.0).raw(), i32::MAX);
        assert_eq!(Q0_31::from_f64(-2.0).raw(), i32::MIN);
        assert_eq!(Q4_27::from_raw(3 << 26).to_f64(), 1.5);
    }

    #[test]
    fn exp_constants_match_their_values() {
        assert_eq!(Q0_31::from_f64((-1.0_f64 / 8.0).exp()).raw(), 1_895_147_668);
        assert_eq!(Q0_31::from_f64(1.0 / 3.0).raw(), 715_827_883);
        for (exponent, multiplier) in EXP_OF_NEGATIVE_POWERS_OF_TWO {
            let value = (-(2f64.powi(exponent))).exp();
            assert_eq!(
                Q0_31::from_f64(value).raw(),
                multiplier,
                "exp(-2^{exponent})"
            );
        }
    }

    #[test]
    fn arithmetic_wraps_and_rounds() {
        let max = Q5_26::from_raw(i32::MAX);
        let min = Q5_26::from_raw(i32::MIN);
        assert_eq!((max + Q5_26::from_raw(1)).raw(), i32::MIN);
        assert_eq!((min - Q5_26::from_raw(1)).raw(), i32::MAX);
        assert_eq!((-min).raw(), i32::MIN);
        // 1.5 * 0.5 in Q5.26 times Q0.31 stays Q5.26.
        let product = Q5_26::from_f64(1.5) * Q0_31::from_f64(0.5);
        assert_eq!(product.to_f64(), 0.75);
        let product: Q4_27 = Q2_29::from_f64(1.5).mul_to(Q2_29::from_f64(-1.25));
        assert_eq!(product.to_f64(), -1.875);
        let minus_one = Q0_31::from_raw(i32::MIN);
        assert_eq!((minus_one * minus_one).raw(), i32::MAX);
    }

    #[test]
    fn rescale_rounds_down_and_saturates_up() {
        // Q0.31 to Q12.19: divide the raw value by 2^12, ties away from zero.
        assert_eq!(Q0_31::from_raw(2048).rescale::<12>().raw(), 1);
        assert_eq!(Q0_31::from_raw(-2048).rescale::<12>().raw(), -1);
        assert_eq!(Q0_31::from_raw(2047).rescale::<12>().raw(), 0);
        assert_eq!(Q0_31::one().rescale::<12>().raw(), 1 << 19);
        // Q5.26 to Q0.31: multiply by 2^5, saturating.
        assert_eq!(Q5_26::from_f64(-0.25).rescale::<0>().raw(), -(1 << 29));
        assert_eq!(Q5_26::from_f64(-2.0).rescale::<0>().raw(), i32::MIN);
        assert_eq!(Q5_26::from_f64(2.0).rescale::<0>().raw(), i32::MAX);
        assert_eq!(Q2_29::from_raw(5).exact_mul_by_pot::<1>().raw(), 5);
    }

    #[test]
    fn exp_on_interval_matches_gemmlowp() {
        let cases = [
            (-536_870_912, 1_672_462_419),
            (-536_870_911, 1_672_462_420),
            (-268_435_456, 1_895_147_668),
            (-425_890_774, 1_761_165_724),
            (-190_587_056, 1_965_109_063),
            (-2, 2_147_483_154),
            (-1, 2_147_483_155),
        ];
        check_raw_cases("exp_on_interval", &cases, |a| {
            exp_on_interval_between_negative_one_quarter_and_0_excl(Q0_31::from_raw(a)).raw()
        });
    }

    #[test]
    fn exp_on_negative_values_matches_gemmlowp() {
        let q0_cases = [
            (i32::MIN, 790_015_308),
            (-1_073_741_824, 1_302_515_042),
            (-497_362_147, 1_703_516_405),
            (-1_903_365_153, 885_124_730),
            (-1, 2_147_483_155),
            (0, i32::MAX),
        ];
        check_raw_cases("exp_on_negative_values::<0>", &q0_cases, |a| {
            exp_on_negative_values(Q0_31::from_raw(a)).raw()
        });
        let q5_cases = [
            (i32::MIN, 0),
            (-1_073_741_824, 242),
            (-656_789_101, 120_649),
            (-779_578_436, 19_360),
            (-869_170_380, 5_094),
            (-1, 2_147_483_124),
            (0, i32::MAX),
        ];
        check_raw_cases("exp_on_negative_values::<5>", &q5_cases, |a| {
            exp_on_negative_values(Q5_26::from_raw(a)).raw()
        });
        let q12_cases = [(-275_319_001, 0), (-1, 2_147_479_060), (0, i32::MAX)];
        check_raw_cases("exp_on_negative_values::<12>", &q12_cases, |a| {
            exp_on_negative_values(Q12_19::from_raw(a)).raw()
        });
    }

    #[test]
    fn reciprocal_helpers_match_gemmlowp() {
        let one_over_cases = [
            (0, i32::MAX),
            (1, i32::MAX),
            (1_073_741_823, 1_431_655_770),
            (264_047_428, 1_912_347_746),
            (1_562_231_745, 1_243_137_416),
            (i32::MAX, 1_073_741_820),
        ];
        check_raw_cases("one_over_one_plus_x", &one_over_cases, |a| {
            one_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(a)).raw()
        });
        let one_minus_cases = [
            (0, i32::MAX),
            (1_073_741_823, 715_827_892),
            (264_047_428, 1_677_211_844),
            (1_562_231_745, 338_791_184),
            (i32::MAX, -8),
        ];
        check_raw_cases("one_minus_x_over_one_plus_x", &one_minus_cases, |a| {
            one_minus_x_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(a)).raw()
        });
    }

    #[test]
    fn logistic_and_tanh_match_gemmlowp() {
        let logistic_q4 = [
            (i32::MIN, 241),
            (-2_147_483_647, 241),
            (0, 1 << 30),
            (55_993_163, 1_294_521_670),
            (364_745_313, 2_014_458_100),
            (i32::MAX, 2_147_483_406),
        ];
        check_raw_cases("logistic::<4>", &logistic_q4, |a| {
            logistic(Q4_27::from_raw(a)).raw()
        });
        let logistic_q0 = [
            (i32::MIN, 577_547_421),
            (-1_639_856_510, 682_601_971),
            (i32::MAX, 1_569_936_226),
        ];
        check_raw_cases("logistic::<0>", &logistic_q0, |a| {
            logistic(Q0_31::from_raw(a)).raw()
        });
        let tanh_q4 = [
            (-2_147_483_647, -2_147_483_647),
            (-248_363_063, -2_043_949_648),
            (0, 0),
            (1_214_012_095, 2_147_483_588),
            (i32::MAX, i32::MAX),
        ];
        check_raw_cases("tanh::<4>", &tanh_q4, |a| tanh(Q4_27::from_raw(a)).raw());
    }

    #[test]
    fn get_reciprocal_matches_tflite() {
        let cases = [
            (1, i32::MAX, -19),
            (2, i32::MAX, -18),
            (418_818_136, 1_376_398_736, 9),
            (745_829_452, 1_545_824_590, 10),
            (1 << 30, i32::MAX, 11),
            (i32::MAX - 1, 1_073_741_822, 11),
            (i32::MAX, 1_073_741_820, 11),
        ];
        for (x, fraction, bits_over_unit) in cases {
            let (got_fraction, got_bits) = get_reciprocal(x, 12);
            assert_eq!(got_fraction.raw(), fraction, "get_reciprocal({x}) fraction");
            assert_eq!(
                got_bits, bits_over_unit,
                "get_reciprocal({x}) bits over unit"
            );
        }
    }

    #[test]
    fn get_reciprocal_of_zero_is_defined() {
        let (fraction, bits_over_unit) = get_reciprocal(0, 12);
        assert_eq!(bits_over_unit, 12 - 32);
        assert_eq!(
            fraction,
            one_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(i32::MIN))
        );
    }

    proptest! {
        #[test]
        fn exp_on_negative_values_is_accurate(raw in i32::MIN..=0) {
            let input = Q5_26::from_raw(raw);
            let exact = input.to_f64().exp();
            let approx = exp_on_negative_values(input).to_f64();
            prop_assert!((approx - exact).abs() < 1e-6, "exp({}) = {approx}, not {exact}", input.to_f64());
        }

        #[test]
        fn logistic_is_accurate(raw: i32) {
            let input = Q4_27::from_raw(raw);
            let exact = 1.0 / (1.0 + (-input.to_f64()).exp());
            let approx = logistic(input).to_f64();
            prop_assert!((approx - exact).abs() < 1e-6, "logistic({}) = {approx}, not {exact}", input.to_f64());
        }

        #[test]
        fn tanh_is_accurate(raw in (i32::MIN + 1)..=i32::MAX) {
            let input = Q4_27::from_raw(raw);
            let exact = input.to_f64().tanh();
            let approx = tanh(input).to_f64();
            prop_assert!((approx - exact).abs() < 1e-6, "tanh({}) = {approx}, not {exact}", input.to_f64());
        }

        #[test]
        fn get_reciprocal_is_accurate(x in 1_i32..=i32::MAX) {
            let (fraction, bits_over_unit) = get_reciprocal(x, 12);
            let value = Q12_19::from_raw(x).to_f64();
            let approx = fraction.to_f64() * 2f64.powi(-bits_over_unit);
            let relative_error = (approx * value - 1.0).abs();
            prop_assert!(relative_error < 1e-8, "1/{value} = {approx}");
        }
    }
}
