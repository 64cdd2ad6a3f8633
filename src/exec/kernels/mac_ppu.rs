//! The post-processing unit (PPU) of the MAC kernels: turns a finished
//! accumulator into an output activation.
//!
//! Steps, in order: the bias when it enters here ([`BiasMode::Post`]),
//! requantisation by a per-channel scale, the output zero point, and the
//! clamp to the fused activation's range. The parameters are kept as one
//! array per field so that [`Ppu::apply_lanes`] compiles to vector code
//! across channels. [`Ppu::apply_configured`] serves the other datapaths:
//! the post bias in the accumulator's width, then the TFLite requantiser or
//! one rounding by an [`IntegerScale`]. Limitation: the configured path is
//! scalar, one channel at a time.
//!
//! [`BiasMode::Post`]: crate::exec::datapath::BiasMode::Post

use super::mac_fold::{FoldAccumulation, FoldResult};
use super::mac_layer::OutputElement;
use crate::exec::image::ChannelRequant;
use crate::numeric::lfsr::RoundingWords;
use crate::numeric::{
    multiply_by_integer_scale, multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_i64, multiply_by_quantized_multiplier_wide, IntegerScale,
    QuantizedMultiplier, Rounding,
};

/// A finished accumulator value the PPU can requantise; the type selects
/// the TFLite `MultiplyByQuantizedMultiplier` overload, as the reference's
/// accumulator type does.
pub(crate) trait Requantize: Copy + Send + Sync {
    /// Adds `bias` (wrapping at the accumulator's width) and scales by
    /// `multiplier * 2^(shift - 31)`.
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32;

    /// Returns the register's value as the PPU receives it, before any
    /// post bias.
    fn register_value(self) -> i64;
}

impl Requantize for i32 {
    /// Applies the int32 overload: saturating rounding doubling high
    /// multiply, then a rounding right shift (two roundings).
    #[inline(always)]
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier(self.wrapping_add(bias as i32), multiplier, shift)
    }

    fn register_value(self) -> i64 {
        i64::from(self)
    }
}

impl Requantize for i64 {
    /// Applies the int64 overload of the 16x8 kernels: the multiplier
    /// rounded to 16 bits, one rounding with ties toward +inf.
    #[inline(always)]
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32 {
        multiply_by_quantized_multiplier_i64(self.wrapping_add(bias), multiplier, shift)
    }

    fn register_value(self) -> i64 {
        self
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
    /// The requantiser of [`Ppu::apply_configured`].
    configured: ConfiguredRequant,
}

/// The requantiser of a configured datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfiguredRequant {
    /// TFLite's int32 overload (two roundings), for the layers the reference
    /// accumulates in 32 bits. A value of a wider register that does not fit
    /// in 32 bits takes the same two roundings computed exactly.
    TfliteInt32,
    /// TFLite's int64 overload (16-bit multiplier, one rounding), for the
    /// 16x8 layers the reference accumulates in 64 bits.
    TfliteInt64,
    /// One rounding by a per-channel integer scale.
    Scaled {
        scales: Vec<IntegerScale>,
        rounding: Rounding,
        /// LFSR seed and layer index of [`Rounding::Stochastic`].
        seed: u32,
        layer: usize,
    },
}

/// Parameters of a PPU in the form the hardware stores them.
pub(crate) struct PpuParameters {
    pub post_biases: Vec<i64>,
    pub requant: Vec<ChannelRequant>,
    pub output_zero_point: i32,
    pub output_min: i32,
    pub output_max: i32,
}

impl Ppu {
    /// Returns the per-channel parameters: for the TFLite requantisers the
    /// 32-bit multiplier with the shift negated into a right shift, for
    /// the scaled one its integer scales.
    pub fn parameters(&self) -> PpuParameters {
        let requant = match &self.configured {
            ConfiguredRequant::TfliteInt32 | ConfiguredRequant::TfliteInt64 => self
                .multipliers
                .iter()
                .zip(&self.shifts)
                .map(|(&multiplier, &shift)| ChannelRequant {
                    multiplier: i64::from(multiplier),
                    right_shift: shift.saturating_neg(),
                })
                .collect(),
            ConfiguredRequant::Scaled { scales, .. } => scales
                .iter()
                .map(|scale| ChannelRequant {
                    multiplier: i64::from(scale.multiplier),
                    right_shift: scale.right_shift,
                })
                .collect(),
        };
        PpuParameters {
            post_biases: self.biases.clone(),
            requant,
            output_zero_point: self.output_zero_point,
            output_min: self.output_min,
            output_max: self.output_max,
        }
    }

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
            configured: ConfiguredRequant::TfliteInt32,
        }
    }

    /// Sets the requantiser [`Ppu::apply_configured`] uses.
    ///
    /// Panics if a scaled requantiser has a scale count other than the
    /// channel count (a kernel bug, not a model property).
    pub fn with_configured(self, configured: ConfiguredRequant) -> Ppu {
        if let ConfiguredRequant::Scaled { scales, .. } = &configured {
            assert_eq!(scales.len(), self.biases.len(), "one scale per channel");
        }
        Ppu { configured, ..self }
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

    /// Post-processes the accumulators of a configured datapath, channels
    /// `first_channel..` and output elements `first_element..` (the
    /// elements' flat indices in the output tensor, which select the
    /// stochastic rounding words).
    ///
    /// The post bias is added in the accumulator's width and overflow
    /// behaviour, counted by `accumulation`. The TFLite requantisers then
    /// keep the reference's 32-bit wrapping addition of the output zero
    /// point; the scaled ones add it exactly (saturating in i64). The clamp
    /// applies `max(min)` and then `min(max)`.
    ///
    /// Panics if `accumulators` and `outputs` differ in length or the
    /// channels run past the last one.
    pub fn apply_configured<T: OutputElement>(
        &self,
        accumulation: &FoldAccumulation,
        first_channel: usize,
        first_element: usize,
        accumulators: &[FoldResult],
        outputs: &mut [T],
    ) {
        let channels = first_channel..first_channel + accumulators.len();
        assert_eq!(
            accumulators.len(),
            outputs.len(),
            "one output per accumulator"
        );
        let biases = &self.biases[channels.clone()];
        let lanes = accumulators.iter().zip(biases).zip(outputs);
        match &self.configured {
            ConfiguredRequant::TfliteInt32 | ConfiguredRequant::TfliteInt64 => {
                let multipliers = &self.multipliers[channels.clone()];
                let shifts = &self.shifts[channels];
                for ((((&accumulator, &bias), output), &multiplier), &shift) in
                    lanes.zip(multipliers).zip(shifts)
                {
                    let accumulator = accumulation.add_post_bias(accumulator, bias);
                    let scaled = if self.configured == ConfiguredRequant::TfliteInt32 {
                        match i32::try_from(accumulator) {
                            Ok(value) => multiply_by_quantized_multiplier(value, multiplier, shift),
                            Err(_) => multiply_by_quantized_multiplier_wide(
                                accumulator,
                                multiplier,
                                shift,
                            ),
                        }
                    } else {
                        multiply_by_quantized_multiplier_i64(accumulator, multiplier, shift)
                    };
                    let clamped = scaled
                        .wrapping_add(self.output_zero_point)
                        .max(self.output_min)
                        .min(self.output_max);
                    *output = T::from_ppu(clamped);
                }
            }
            ConfiguredRequant::Scaled {
                scales,
                rounding,
                seed,
                layer,
            } => {
                let mut words = match rounding {
                    Rounding::Stochastic => RoundingWords::new(*seed, *layer, first_element as u64),
                    _ => None,
                };
                for (((&accumulator, &bias), output), &scale) in lanes.zip(&scales[channels]) {
                    let accumulator = accumulation.add_post_bias(accumulator, bias);
                    let random = words.as_mut().map_or(0, RoundingWords::next_word);
                    let scaled = multiply_by_integer_scale(accumulator, scale, *rounding, random);
                    let clamped = scaled
                        .saturating_add(i64::from(self.output_zero_point))
                        .max(i64::from(self.output_min))
                        .min(i64::from(self.output_max));
                    *output = T::from_ppu(clamped as i32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::kernels::mac::Accumulation;
    use crate::exec::kernels::mac_fold::FoldConfig;
    use crate::numeric::lfsr::rounding_word;
    use crate::numeric::{single_rounding_scale, Overflow};

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

    /// Builds a configured PPU at scale 0.5 with output zero point 0 and the
    /// post biases `biases`, on a 16-bit register.
    fn configured(rounding: Rounding, biases: Vec<i64>) -> (Ppu, FoldAccumulation) {
        let half = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 0,
        };
        let scales = vec![half; biases.len()];
        let integer_scales = scales.iter().map(|&q| single_rounding_scale(q)).collect();
        let ppu =
            Ppu::new(&scales, biases, 0, (-128, 127)).with_configured(ConfiguredRequant::Scaled {
                scales: integer_scales,
                rounding,
                seed: 7,
                layer: 2,
            });
        let accumulation = FoldAccumulation::new(FoldConfig {
            bits: 16,
            overflow: Overflow::Saturate,
            rows: 4,
        });
        (ppu, accumulation)
    }

    /// Loads each value into a finished accumulator of `accumulation`.
    fn results(accumulation: &FoldAccumulation, values: &[i64]) -> Vec<FoldResult> {
        values
            .iter()
            .map(|&value| accumulation.finish(accumulation.start(value)))
            .collect()
    }

    #[test]
    fn apply_configured_rounds_ties_per_mode() {
        // Accumulators times 0.5: 2.5, -2.5, 1.5, -1.5, 0.5, -0.5.
        let accumulators = [5_i64, -5, 3, -3, 1, -1];
        let table: [(Rounding, [i8; 6]); 4] = [
            (Rounding::HalfAway, [3, -3, 2, -2, 1, -1]),
            (Rounding::HalfUp, [3, -2, 2, -1, 1, 0]),
            (Rounding::HalfEven, [2, -2, 2, -2, 0, 0]),
            (Rounding::Truncate, [2, -3, 1, -2, 0, -1]),
        ];
        for (rounding, expected) in table {
            let (ppu, accumulation) = configured(rounding, vec![0; 6]);
            let mut outputs = [0_i8; 6];
            let accumulators = results(&accumulation, &accumulators);
            ppu.apply_configured(&accumulation, 0, 0, &accumulators, &mut outputs);
            assert_eq!(outputs, expected, "{rounding:?}");
        }
    }

    #[test]
    fn apply_configured_stochastic_uses_element_words() {
        let accumulators = [5_i64, -5, 3, -3, 1, -1];
        let (ppu, accumulation) = configured(Rounding::Stochastic, vec![0; 6]);
        let mut outputs = [0_i8; 6];
        // Elements 100..106 of layer 2: each rounds up from the floor when
        // its word's top bit is set (a dropped fraction of one half).
        let finished = results(&accumulation, &accumulators);
        ppu.apply_configured(&accumulation, 0, 100, &finished, &mut outputs);
        for (lane, (&accumulator, &output)) in accumulators.iter().zip(&outputs).enumerate() {
            let word = rounding_word(7, 2, 100 + lane as u64).unwrap();
            let floor = accumulator.div_euclid(2);
            let expected = floor + i64::from(word >> 31);
            assert_eq!(i64::from(output), expected, "lane {lane}, word {word:#x}");
        }
    }

    #[test]
    fn apply_configured_counts_post_bias_overflow() {
        // A 16-bit register: 32000 + 1000 saturates at 32767, then * 0.5.
        let (ppu, accumulation) = configured(Rounding::HalfAway, vec![1000, -3]);
        let mut outputs = [0_i16; 2];
        let accumulators = results(&accumulation, &[32_000, 9]);
        ppu.apply_configured(&accumulation, 0, 0, &accumulators, &mut outputs);
        assert_eq!(outputs, [127, 3]);
        assert_eq!(accumulation.counts(2).post_bias_events, 1);
    }

    #[test]
    fn apply_configured_tflite_overloads_by_width() {
        // The int64 overload rounds the multiplier to 16 bits: -88 *
        // (2^30 + 12345) * 2^-34 gives -6 in int32 and -5 in int64.
        let scale = QuantizedMultiplier {
            multiplier: (1 << 30) + 12345,
            shift: -3,
        };
        let accumulation = FoldAccumulation::new(FoldConfig {
            bits: 40,
            overflow: Overflow::Wrap,
            rows: 1,
        });
        for (configured, expected) in [
            (ConfiguredRequant::TfliteInt32, -6),
            (ConfiguredRequant::TfliteInt64, -5),
        ] {
            let ppu = Ppu::new(&[scale], vec![0], 0, (-128, 127)).with_configured(configured);
            let mut output = [0_i8];
            let accumulators = results(&accumulation, &[-88]);
            ppu.apply_configured(&accumulation, 0, 0, &accumulators, &mut output);
            assert_eq!(output[0], expected);
        }
    }
}
