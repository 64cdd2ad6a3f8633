//! The parts of tests/rtl_datapaths.rs for registers wider than 32 bits:
//! their variants, their random cases and the `tflite` formulas in i128
//! that the expected values come from.
//!
//! Limitation: every case has eight channels of fixed kinds (see
//! [`make_wide_case`]); other channel counts repeat the kinds.

use super::{Case, Expected, Random, Requant, Variant};
use fxsim::numeric::Rounding;
use fxsim::numeric::{quantize_multiplier, QuantizedMultiplier};

/// Returns a random GEMM for an accumulator wider than 32 bits, with
/// full-range operands. Each of eight channel kinds takes its own weight width, bias
/// and scale. Together they give the requantiser values that fit 32 bits
/// (some wrapped by the reference's 32-bit left shift), values on both
/// sides of the i32 bounds and values near the top of the register. Biases
/// next to the register's bounds make some sums overflow it.
pub(crate) fn make_wide_case(variant: &Variant, random: &mut Random) -> Case {
    let (m, k, n) = (variant.m as usize, variant.k as usize, variant.n as usize);
    let act_limit = (1i64 << (variant.act_bits - 1)) - 1;
    let a: Vec<i64> = (0..m * k)
        .map(|_| random.range(-act_limit - 1, act_limit))
        .collect();
    let widest_weight = variant.weight_bits - 1;
    let weight_bits = |channel: usize| {
        let bits = match channel % 8 {
            0 => 4,
            4 => 10,
            5 => 12,
            _ => widest_weight,
        };
        bits.min(widest_weight)
    };
    let b: Vec<i64> = (0..k * n)
        .map(|index| {
            let limit = (1i64 << weight_bits(index % n)) - 1;
            random.range(-limit, limit)
        })
        .collect();

    let acc_bits = variant.acc_bits;
    let register_max = (1_i128 << (acc_bits - 1)) - 1;
    let bias: Vec<i64> = (0..n)
        .map(|channel| {
            // Bits of the largest product; a sum of K of them is often
            // larger, so a bias this close to a bound often overflows.
            let product_bits = variant.act_bits - 1 + weight_bits(channel);
            let value = match channel % 8 {
                0 => random.signed(20),
                1 => register_max - random.bits(product_bits),
                2 => random.bits(product_bits) - register_max,
                3 => random.signed(acc_bits - 2),
                4 => (1_i128 << 31) - random.bits(30),
                5 => 0,
                _ => random.signed(acc_bits - 1),
            };
            value as i64
        })
        .collect();

    // Scales that bring each channel's largest exact value to about
    // 2^(out_bits - 3). Kinds 3 and 5 scale up by 2 to 4, a left shift.
    let target = variant.out_bits as i32 - 3;
    let scales = (0..n)
        .map(|channel| {
            let largest = (0..m)
                .map(|pixel| {
                    let sum: i128 = (0..k)
                        .map(|term| i128::from(a[pixel * k + term] * b[term * n + channel]))
                        .sum();
                    (sum + i128::from(bias[channel])).abs()
                })
                .max()
                .unwrap_or(0)
                .max(1);
            let bits = 128 - largest.leading_zeros() as i32;
            let exponent = match channel % 8 {
                3 | 5 => 1,
                _ => (target - bits).clamp(-32, 6),
            };
            let mantissa = 1.0 + (random.next() % 1000) as f64 / 1000.0;
            quantize_multiplier(mantissa * 2f64.powi(exponent))
        })
        .collect();
    let out_max = (1i64 << (variant.out_bits - 1)) - 1;
    Case {
        a,
        b,
        bias,
        scales,
        zero_point: random.range(-20, 20),
        out_min: -out_max - 1,
        out_max,
        seed: 0x1234_5678,
        layer: 5,
    }
}

/// TFLite's int32 `MultiplyByQuantizedMultiplier` as docs/arithmetic.md
/// states it for a register of any width, in i128. A value that fits i32:
/// left shift by `max(shift, 0) mod 32` wrapping in 32 bits, then
/// `round(x * M / 2^31)` with ties toward +inf saturated to i32, then a
/// division by `2^max(-shift, 0)` with ties away from zero. A wider value:
/// the same two roundings without the wrap, shifts limited to 63, the
/// result saturated to i32.
pub(crate) fn tflite_int32_requant(x: i64, scale: QuantizedMultiplier) -> i32 {
    let fits = i32::try_from(x).is_ok();
    let shifted = if fits {
        let product = i128::from(x) << scale.shift.max(0).rem_euclid(32);
        (product + (1 << 31)).rem_euclid(1 << 32) - (1 << 31)
    } else {
        i128::from(x) << scale.shift.clamp(0, 63)
    };
    let mut high = (2 * shifted * i128::from(scale.multiplier) + (1 << 31)).div_euclid(1 << 32);
    if fits {
        high = high.min(i128::from(i32::MAX));
    }
    let denominator = 1_i128 << (-scale.shift).clamp(0, 63);
    let magnitude = (2 * high.abs() + denominator).div_euclid(2 * denominator);
    (high.signum() * magnitude).clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// TFLite's int64 `MultiplyByQuantizedMultiplier` of 16x8 layers as
/// docs/arithmetic.md states it, in i128: the multiplier rounded to 16 bits,
/// `M16 = round(M / 2^16)` (ties toward +inf) or `0x7FFF` from `0x7FFF0000`
/// up, then `round(x * M16 / 2^(15 - shift))` with ties toward +inf and
/// `shift` limited to -31..=7, keeping the low 32 bits.
pub(crate) fn tflite_int64_requant(x: i64, scale: QuantizedMultiplier) -> i32 {
    let multiplier = i128::from(scale.multiplier);
    let reduced = if multiplier >= 0x7FFF_0000 {
        0x7FFF
    } else {
        (multiplier + (1 << 15)).div_euclid(1 << 16)
    };
    let total_shift = 15 - scale.shift.clamp(-31, 7);
    let rounded = (i128::from(x) * reduced + (1 << (total_shift - 1))).div_euclid(1 << total_shift);
    rounded as i32
}

/// Checks that the int32 overload takes both of its paths with a left
/// shift: values that fit i32 and wrap in the reference's 32-bit left
/// shift, and values beyond i32 that the exact path shifts left.
pub(crate) fn assert_exercises_wide_tflite(variant: &Variant, case: &Case, expected: &Expected) {
    let n = variant.n as usize;
    let (mut wrapped, mut shifted_wide) = (0, 0);
    for (index, &value) in expected.requantised.iter().enumerate() {
        let shift = case.scales[index % n].shift;
        if shift <= 0 {
            continue;
        }
        match i32::try_from(value) {
            Ok(narrow) if i32::try_from(i64::from(narrow) << shift).is_err() => wrapped += 1,
            Ok(_) => {}
            Err(_) => shifted_wide += 1,
        }
    }
    assert!(
        wrapped > 0,
        "{}: no 32-bit value wraps in the left shift",
        variant.name
    );
    assert!(
        shifted_wide > 0,
        "{}: no value beyond 32 bits is shifted left",
        variant.name
    );
}

/// Returns the variants on registers wider than 32 bits: int16 x int16
/// operands on 40- and 48-bit registers with `tflite`'s int32 overload and
/// with `single`, and 16x8 layers (int16 activations, int8 weights) on a
/// 64-bit register with the int64 overload.
pub(crate) fn wide_variants(base: Variant) -> Vec<Variant> {
    let int16 = Variant {
        act_bits: 17,
        weight_bits: 16,
        ..base
    };
    let sixteen_by_eight = Variant {
        requant: Requant::TfliteInt64,
        act_bits: 16,
        acc_bits: 64,
        out_bits: 16,
        ..base
    };
    vec![
        Variant {
            name: "tflite, 40-bit wrap, 32-bit output",
            acc_bits: 40,
            out_bits: 32,
            ..int16
        },
        Variant {
            name: "tflite, 40-bit saturate, post bias",
            acc_bits: 40,
            saturate: true,
            bias_post: true,
            out_bits: 16,
            ..int16
        },
        Variant {
            name: "tflite, 48-bit saturate",
            acc_bits: 48,
            saturate: true,
            out_bits: 16,
            ..int16
        },
        Variant {
            name: "tflite, 48-bit wrap, post bias, 32-bit output",
            acc_bits: 48,
            bias_post: true,
            out_bits: 32,
            ..int16
        },
        Variant {
            name: "single half-even, 48-bit saturate, post bias",
            acc_bits: 48,
            saturate: true,
            bias_post: true,
            requant: Requant::Single,
            rounding: Rounding::HalfEven,
            out_bits: 16,
            ..int16
        },
        Variant {
            name: "tflite int64 (16x8), 64-bit wrap",
            ..sixteen_by_eight
        },
        Variant {
            name: "tflite int64 (16x8), 64-bit saturate, post bias, 32-bit output",
            saturate: true,
            bias_post: true,
            out_bits: 32,
            ..sixteen_by_eight
        },
    ]
}
