//! The post-processing unit (PPU) of the MAC kernels: turns a finished
//! accumulator into an output activation.
//!
//! Steps, in order: the bias when it enters here ([`BiasMode::Post`]),
//! requantisation by a per-channel multiplier and shift, the output zero
//! point, and the clamp to the fused activation's range. The parameters are
//! kept as one array per field so that [`Ppu::apply_lanes`] compiles to
//! vector code across channels. Limitation: only the TFLite requantisation
//! is implemented.
//!
//! [`BiasMode::Post`]: crate::exec::datapath::BiasMode::Post

use super::mac_layer::OutputElement;
use crate::numeric::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_i64, QuantizedMultiplier,
};

/// A finished accumulator value the PPU can requantise; the type selects
/// the TFLite `MultiplyByQuantizedMultiplier` overload, as the reference's
/// accumulator type does.
pub(crate) trait Requantize: Copy + Send + Sync {
    /// Adds `bias` (wrapping at the accumulator's width) and scales by
    /// `multiplier * 2^(shift - 31)`.
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32;
}

impl Requantize for i32 {
    /// Applies the int32 overload: saturating rounding doubling high
    /// multiply, then a rounding right shift (two roundings).
    #[inline(always)]
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier(self.wrapping_add(bias as i32), multiplier, shift)
    }
}

impl Requantize for i64 {
    /// Applies the int64 overload of the 16x8 kernels: the multiplier
    /// rounded to 16 bits, one rounding with ties toward +inf.
    #[inline(always)]
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier_i64(self.wrapping_add(bias), multiplier, shift)
    }
}

/// The PPU of one layer, one entry per output channel in each array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ppu {
    multipliers: Vec<i32>,
    shifts: Vec<i32>,
    /// Bias added in the PPU; 0 where the bias entered the accumulator.
    biases: Vec<i64>,
    /// Added after requantisation.
    output_zero_point: i32,
    /// The clamp: fused activation intersected with the output type's range.
    output_min: i32,
    output_max: i32,
}

impl Ppu {
    /// Creates a PPU with one `scale` and post bias per output channel.
    ///
    /// Panics if `scales` and `biases` differ in length (a kernel bug, not a
    /// model property).
    pub fn new(
        scales: &[QuantizedMultiplier],
        biases: Vec<i64>,
        output_zero_point: i32,
        output_range: (i32, i32),
    ) -> Ppu {
        assert_eq!(scales.len(), biases.len(), "one post bias per channel");
        Ppu {
            multipliers: scales.iter().map(|s| s.multiplier).collect(),
            shifts: scales.iter().map(|s| s.shift).collect(),
            biases,
            output_zero_point,
            output_min: output_range.0,
            output_max: output_range.1,
        }
    }

    /// Post-processes the accumulators of channels `first_channel..` into
    /// `outputs`.
    ///
    /// TFLite Micro reference kernel semantics: the output zero point is
    /// added with 32-bit wrapping, then the clamp applies `max(min)` and
    /// then `min(max)`, so an empty range yields `output_max`. The result
    /// keeps the output type's low bits, as the reference's `static_cast`.
    ///
    /// Panics if `accumulators` and `outputs` differ in length or the
    /// channels run past the last one.
    #[inline(always)]
    pub fn apply_lanes<R: Requantize, T: OutputElement>(
        &self,
        first_channel: usize,
        accumulators: &[R],
        outputs: &mut [T],
    ) {
        let channels = first_channel..first_channel + accumulators.len();
        assert_eq!(
            accumulators.len(),
            outputs.len(),
            "one output per accumulator"
        );
        let multipliers = &self.multipliers[channels.clone()];
        let shifts = &self.shifts[channels.clone()];
        let biases = &self.biases[channels];
        let lanes = accumulators
            .iter()
            .zip(multipliers)
            .zip(shifts)
            .zip(biases)
            .zip(outputs);
        for ((((&accumulator, &multiplier), &shift), &bias), output) in lanes {
            let scaled = accumulator.requantize(bias, multiplier, shift);
            let clamped = scaled
                .wrapping_add(self.output_zero_point)
                .max(self.output_min)
                .min(self.output_max);
            *output = T::from_ppu(clamped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scale 0.5 (multiplier 2^30, shift 0), output zero point 10.
    fn ppu(bias: i64) -> Ppu {
        let scale = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 0,
        };
        Ppu::new(&[scale], vec![bias], 10, (-128, 127))
    }

    fn apply<R: Requantize>(ppu: &Ppu, accumulator: R) -> i16 {
        let mut output = [0_i16];
        ppu.apply_lanes(0, &[accumulator], &mut output);
        output[0]
    }

    #[test]
    fn apply_rounds_like_the_reference() {
        // 5 * 0.5 = 2.5 rounds up; -2.5 rounds toward zero, because the
        // doubling high multiply's nudge for negative products is 1 - 2^30.
        assert_eq!(apply(&ppu(0), 5_i32), 10 + 3);
        assert_eq!(apply(&ppu(0), -5_i32), 10 - 2);
        assert_eq!(apply(&ppu(0), 5_i64), 10 + 3);
        assert_eq!(apply(&ppu(0), -5_i64), 10 - 2);
    }

    #[test]
    fn apply_picks_overload_by_accumulator_type() {
        // With a multiplier that the int64 overload rounds to 16 bits the
        // two overloads differ: -88 * (2^30 + 12345) * 2^-34.
        let scale = QuantizedMultiplier {
            multiplier: (1 << 30) + 12345,
            shift: -3,
        };
        let ppu = Ppu::new(&[scale], vec![0], 0, (-128, 127));
        assert_eq!(apply(&ppu, -88_i32), -6);
        assert_eq!(apply(&ppu, -88_i64), -5);
    }

    #[test]
    fn apply_adds_post_bias_before_scaling() {
        assert_eq!(apply(&ppu(100), 0_i32), 10 + 50);
    }

    #[test]
    fn apply_wraps_post_bias_at_32_bits() {
        // i32::MAX + 1 wraps to i32::MIN, which scales to -2^30.
        assert_eq!(apply(&ppu(1), i32::MAX), -128);
    }

    #[test]
    fn apply_clamps_to_output_range() {
        assert_eq!(apply(&ppu(0), 1000_i32), 127);
        assert_eq!(apply(&ppu(0), -1000_i32), -128);
    }

    #[test]
    fn apply_with_empty_range_gives_max() {
        let scale = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 0,
        };
        let ppu = Ppu::new(&[scale], vec![0], 0, (20, 5));
        assert_eq!(apply(&ppu, -1000_i32), 5);
    }

    #[test]
    fn apply_truncates_to_output_type() {
        // A clamp range outside int8 (an activation bound beyond the type)
        // keeps the low 8 bits, as a C++ static_cast does.
        let scale = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 1,
        };
        let ppu = Ppu::new(&[scale], vec![0], 0, (300, 300));
        let mut output = [0_i8];
        ppu.apply_lanes(0, &[0_i32], &mut output);
        assert_eq!(output[0], 300_i32 as i8);
    }

    #[test]
    fn apply_lanes_uses_each_channel_parameters() {
        let scales: Vec<QuantizedMultiplier> = (0..3)
            .map(|i| QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: -i,
            })
            .collect();
        let ppu = Ppu::new(&scales, vec![0, 0, 8], -5, (-100, 90));
        let mut outputs = [0_i8; 2];
        ppu.apply_lanes(1, &[100_i32, 100], &mut outputs);
        // Channel 1: 100 * 0.25 = 25; channel 2: (100 + 8) * 0.125 = 13.5 -> 14.
        assert_eq!(outputs, [25 - 5, 14 - 5]);
    }
}
