//! Shared parts of the int8 fast paths of the MAC kernels: the instruction
//! set they run on, the test that a datapath is the reference arithmetic,
//! and the per-channel requantisation in 16-lane vectors.
//!
//! The fast paths ([`mac_gemm`](super::mac_gemm) and
//! [`mac_depthwise`](super::mac_depthwise)) exist only for int8 layers with
//! a 32-bit wrapping accumulator, where the summation order cannot change a
//! result. Limitation: the only vector implementation is AVX-512 with VNNI.
//! Other CPUs keep the generic kernels, and the portable code here serves as
//! the specification the vector code is tested against.

use crate::exec::datapath::{AccumulatorMode, BiasMode, RequantMode, ZeroPointMode};
use crate::exec::Datapath;
use crate::numeric::{multiply_by_quantized_multiplier, QuantizedMultiplier};

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Output channels per vector: 16 lanes of i32 in a 512-bit register.
pub(crate) const LANES: usize = 16;

/// The instruction set the int8 fast paths run on. Every variant gives the
/// same results; only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DotIsa {
    /// x86-64 AVX-512 (F, BW, VL) with VNNI: `vpdpbusd` and `vpdpwssd` on
    /// 512-bit vectors.
    Avx512Vnni,
    /// Plain scalar Rust, kept as the specification of the vector code.
    /// Only the equality tests select it: a CPU without a vector variant
    /// keeps the generic kernels, which are faster than scalar code.
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

impl DotIsa {
    /// Detects the vector extension this CPU supports, or returns `None`
    /// when there is none and the generic kernels are the faster choice.
    pub fn detect() -> Option<DotIsa> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            return Some(DotIsa::Avx512Vnni);
        }
        None
    }
}

/// Returns true when `datapath` accumulates and requantises as the TFLite
/// Micro reference kernels do: a wrapping reference accumulator and the
/// TFLite requantiser. The operand formats are checked per layer, through
/// its operand mappings.
///
/// Under a wrapping accumulator the bias placement and the zero-point
/// handling cannot change a result, so every variant of those two known
/// here qualifies. A variant added later does not, until a fast path is
/// shown to match it.
pub(crate) fn is_reference_arithmetic(datapath: &Datapath) -> bool {
    matches!(datapath.accumulator, AccumulatorMode::Reference)
        && matches!(datapath.requant, RequantMode::Tflite)
        && matches!(datapath.bias, BiasMode::Init | BiasMode::Post)
        && matches!(
            datapath.zero_point,
            ZeroPointMode::Subtract | ZeroPointMode::Fold
        )
}

/// Returns each channel's accumulator start for operands that carry
/// `operand_offset` on top of the raw input: `bias - (zx + operand_offset) *
/// sum(w)`, wrapping at 32 bits. Entries run to `padded_len`, zero past the
/// last channel.
///
/// With a padded tap read as the raw value `zx`, `start + sum(w * (x +
/// operand_offset))` equals the reference's `bias + sum(w * (x - zx))` over
/// the taps inside the image, modulo 2^32.
pub(crate) fn folded_starts(
    biases: Option<&[i64]>,
    weight_sums: &[i64],
    input_zero_point: i32,
    operand_offset: i32,
    padded_len: usize,
) -> Vec<i32> {
    let offset = i64::from(input_zero_point) + i64::from(operand_offset);
    let mut starts = vec![0_i32; padded_len];
    for (channel, (start, &sum)) in starts.iter_mut().zip(weight_sums).enumerate() {
        let bias = biases.map_or(0, |b| b[channel]);
        // Truncation keeps the low 32 bits, the wrapping register's value.
        *start = bias.wrapping_sub(offset.wrapping_mul(sum)) as i32;
    }
    starts
}

/// The post-processing of the int8 fast paths: per output channel,
/// TFLite's `MultiplyByQuantizedMultiplier`, the output zero point and the
/// clamp, as [`Ppu`](super::mac_ppu::Ppu) computes them with no post bias.
///
/// The per-channel arrays cover whole vectors of [`LANES`] channels.
#[derive(Debug, Clone)]
pub(crate) struct ChannelRequant {
    /// One per channel and one more, so that a vector load one element
    /// further on puts the odd channels' multipliers in the even lanes.
    multipliers: Vec<i32>,
    shifts: Vec<i32>,
    /// `min(max(shift, 0), 32)`: shifting by 32 clears the value, as the
    /// reference's shift in 64 bits followed by truncation does.
    left_shifts: Vec<i32>,
    /// True when some channel shifts left, so the vector code cannot skip
    /// that step.
    any_left_shift: bool,
    /// `max(-shift, 0)`, at most 31.
    right_shifts: Vec<i32>,
    /// `2^right_shift - 1`: the bits the rounding divide discards.
    remainder_masks: Vec<i32>,
    /// `remainder_masks >> 1`, the rounding threshold of a non-negative
    /// value.
    half_masks: Vec<i32>,
    output_zero_point: i32,
    output_min: i32,
    output_max: i32,
}

impl ChannelRequant {
    /// Creates the requantiser, or returns `None` when a channel's scale is
    /// outside what the vector code computes exactly: a multiplier of
    /// `i32::MIN` (the doubling high multiply's saturating case) or a right
    /// shift above 31.
    pub fn new(
        scales: &[QuantizedMultiplier],
        output_zero_point: i32,
        output_range: (i32, i32),
    ) -> Option<ChannelRequant> {
        if scales
            .iter()
            .any(|s| s.multiplier == i32::MIN || s.shift < -31)
        {
            return None;
        }
        let padded_len = scales.len().div_ceil(LANES) * LANES;
        let per_channel = |f: &dyn Fn(&QuantizedMultiplier) -> i32, len: usize| {
            let mut values: Vec<i32> = scales.iter().map(f).collect();
            values.resize(len, 0);
            values
        };
        // The scalar reference takes the shift count modulo 32 (see
        // `multiply_by_quantized_multiplier`).
        let left_shifts = per_channel(&|s| s.shift.max(0) & 31, padded_len);
        let remainder_mask = |s: &QuantizedMultiplier| ((1_i64 << (-s.shift).max(0)) - 1) as i32;
        Some(ChannelRequant {
            multipliers: per_channel(&|s| s.multiplier, padded_len + 1),
            shifts: per_channel(&|s| s.shift, padded_len),
            any_left_shift: left_shifts.iter().any(|&shift| shift > 0),
            left_shifts,
            right_shifts: per_channel(&|s| (-s.shift).max(0), padded_len),
            remainder_masks: per_channel(&remainder_mask, padded_len),
            half_masks: per_channel(&|s| remainder_mask(s) >> 1, padded_len),
            output_zero_point,
            output_min: output_range.0,
            output_max: output_range.1,
        })
    }

    /// Post-processes one accumulator of `channel` with the reference's
    /// scalar functions and keeps the low 8 bits, as the reference's
    /// `static_cast` does.
    #[inline(always)]
    pub fn apply_scalar(&self, channel: usize, accumulator: i32) -> i8 {
        self.clamped_scalar(channel, accumulator) as i8
    }

    /// Requantises one accumulator of `channel`, adds the output zero point
    /// (wrapping) and clamps with `max(min)` then `min(max)`.
    #[inline(always)]
    fn clamped_scalar(&self, channel: usize, accumulator: i32) -> i32 {
        let scaled = multiply_by_quantized_multiplier(
            accumulator,
            self.multipliers[channel],
            self.shifts[channel],
        );
        scaled
            .wrapping_add(self.output_zero_point)
            .max(self.output_min)
            .min(self.output_max)
    }

    /// Computes [`ChannelRequant::clamped_scalar`] on the 16 channels of
    /// vector `block` (channels `16 * block ..`), results as i32 lanes.
    ///
    /// The doubling high multiply is `(a * b + 2^30) >> 31` in 64 bits,
    /// because the reference's nudge and truncating division give that same
    /// value for every product. The result fits in i32 because no
    /// multiplier is `i32::MIN`. The rounding divide follows gemmlowp's remainder and
    /// threshold formula lane by lane.
    ///
    /// # Safety
    /// `block` must be below the channel count over 16, rounded up.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub unsafe fn apply_avx512(&self, block: usize, accumulators: __m512i) -> __m512i {
        let first = block * LANES;
        debug_assert!(first + LANES <= self.left_shifts.len());
        // SAFETY: the caller keeps `block` inside the arrays, which hold 16
        // values per vector (the multipliers one more, for the load at
        // `first + 1`).
        let [multipliers, odd_multipliers, left_shifts, right_shifts, remainder_masks, half_masks] = unsafe {
            [
                self.multipliers.as_ptr().add(first),
                self.multipliers.as_ptr().add(first + 1),
                self.left_shifts.as_ptr().add(first),
                self.right_shifts.as_ptr().add(first),
                self.remainder_masks.as_ptr().add(first),
                self.half_masks.as_ptr().add(first),
            ]
            .map(|address| _mm512_loadu_si512(address.cast()))
        };

        let shifted = if self.any_left_shift {
            _mm512_sllv_epi32(accumulators, left_shifts)
        } else {
            accumulators
        };
        // Even channels sit in the low half of each 64-bit lane; the odd
        // ones are moved there.
        let nudge = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(shifted, multipliers), nudge);
        let odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_srli_epi64::<32>(shifted), odd_multipliers),
            nudge,
        );
        // Bits 31..62 of each product: the low half of the even lanes after
        // a right shift by 31, the high half of the odd lanes after a left
        // shift by 1.
        let high = _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64::<31>(even),
            _mm512_slli_epi64::<1>(odd),
        );

        let remainder = _mm512_and_si512(high, remainder_masks);
        // Threshold `(mask >> 1) + (x < 0)`; `x >> 31` is -1 for negatives.
        let threshold = _mm512_sub_epi32(half_masks, _mm512_srai_epi32::<31>(high));
        let quotient = _mm512_srav_epi32(high, right_shifts);
        let round_up = _mm512_cmpgt_epi32_mask(remainder, threshold);
        let rounded = _mm512_mask_add_epi32(quotient, round_up, quotient, _mm512_set1_epi32(1));

        let offset = _mm512_add_epi32(rounded, _mm512_set1_epi32(self.output_zero_point));
        _mm512_min_epi32(
            _mm512_max_epi32(offset, _mm512_set1_epi32(self.output_min)),
            _mm512_set1_epi32(self.output_max),
        )
    }
}

/// Random layers for the fast paths' equality tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::super::mac_layer::{Activations, Bias, LayerActivations, Weights};
    use super::super::mac_window::Window;
    use super::super::op_context::TensorQuant;
    use crate::exec::OperandMapping;
    use crate::model::{geometry, DataType, Hw, Padding};
    use crate::numeric::{IntFormat, QuantizedMultiplier};

    /// A seeded xorshift64 generator.
    pub struct XorShift(pub u64);

    impl XorShift {
        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub fn next_i32(&mut self) -> i32 {
            (self.next_u64() >> 16) as i32
        }

        /// Returns a value in `low..=high`.
        pub fn range(&mut self, low: i32, high: i32) -> i32 {
            let span = (i64::from(high) - i64::from(low) + 1) as u64;
            (i64::from(low) + (self.next_u64() % span) as i64) as i32
        }

        /// Returns an int8 value, -128 and 127 one time in four each.
        pub fn int8(&mut self) -> i8 {
            match self.next_u64() % 8 {
                0 | 1 => i8::MIN,
                2 | 3 => i8::MAX,
                _ => self.next_u64() as i8,
            }
        }

        pub fn int8s(&mut self, len: usize) -> Vec<i8> {
            (0..len).map(|_| self.int8()).collect()
        }
    }

    /// The quantisation and constants of a random int8 MAC layer.
    pub struct RandomLayer {
        pub layer: LayerActivations,
        pub weights: Weights,
        pub bias: Bias,
        pub scales: Vec<QuantizedMultiplier>,
        pub output_range: (i32, i32),
    }

    impl RandomLayer {
        /// Draws `weight_count` weights and `channels` biases and scales.
        /// Zero points are often at the ends of the int8 range, biases
        /// sometimes near the i32 limits, and scales include left shifts
        /// and a right shift of 31.
        pub fn new(random: &mut XorShift, channels: usize, weight_count: usize) -> RandomLayer {
            let zero_point = |random: &mut XorShift| match random.next_u64() % 4 {
                0 => -128,
                1 => 127,
                _ => random.range(-128, 127),
            };
            let input_zero_point = zero_point(random);
            let output_zero_point = zero_point(random);
            let scales = (0..channels)
                .map(|_| QuantizedMultiplier {
                    multiplier: random.range(1 << 30, i32::MAX),
                    shift: match random.next_u64() % 8 {
                        0 => -31,
                        1 => random.range(0, 3),
                        _ => random.range(-16, -1),
                    },
                })
                .collect();
            let biases = (0..channels)
                .map(|_| match random.next_u64() % 8 {
                    0 => i64::from(i32::MAX - random.range(0, 1000)),
                    1 => i64::from(i32::MIN + random.range(0, 1000)),
                    _ => i64::from(random.range(-100_000, 100_000)),
                })
                .collect();
            let output_range = match random.next_u64() % 3 {
                0 => (-128, 127),
                1 => (output_zero_point, 127),
                _ => (random.range(-128, 0), random.range(0, 127)),
            };
            let quant = |zero_point| TensorQuant {
                scale: 0.05,
                zero_point,
            };
            RandomLayer {
                layer: LayerActivations {
                    activations: Activations::Int8,
                    input: quant(input_zero_point),
                    output: quant(output_zero_point),
                    input_mapping: OperandMapping::unchanged(IntFormat::INT8),
                },
                weights: Weights {
                    values: random.int8s(weight_count),
                    scales: vec![0.01; channels],
                    per_channel: true,
                    mapping: OperandMapping::unchanged(IntFormat::INT8),
                },
                bias: Bias {
                    dtype: DataType::Int32,
                    values: biases,
                },
                scales,
                output_range,
            }
        }
    }

    /// Builds the window of a square-kernel NHWC convolution.
    pub struct WindowShape {
        pub batch: usize,
        pub input: Hw,
        pub channels: [usize; 2],
        pub kernel: Hw,
        pub stride: Hw,
        pub dilation: Hw,
        pub padding: Padding,
    }

    impl WindowShape {
        pub fn window(&self) -> Window {
            let extent = |input, kernel, stride, dilation| {
                let out =
                    geometry::output_extent(input, kernel, stride, dilation, self.padding).unwrap();
                let pad = geometry::padding(input, kernel, stride, dilation, out).before;
                (out, pad)
            };
            let (out_h, pad_top) =
                extent(self.input.h, self.kernel.h, self.stride.h, self.dilation.h);
            let (out_w, pad_left) =
                extent(self.input.w, self.kernel.w, self.stride.w, self.dilation.w);
            Window {
                input: [self.batch, self.input.h, self.input.w, self.channels[0]],
                output: [self.batch, out_h, out_w, self.channels[1]],
                kernel: self.kernel,
                stride: self.stride,
                dilation: self.dilation,
                pad_top,
                pad_left,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::XorShift;
    use super::*;

    #[test]
    fn requant_rejects_saturating_multiplier_and_long_shift() {
        let scale = |multiplier, shift| QuantizedMultiplier { multiplier, shift };
        assert!(ChannelRequant::new(&[scale(i32::MIN, 0)], 0, (-128, 127)).is_none());
        assert!(ChannelRequant::new(&[scale(1 << 30, -32)], 0, (-128, 127)).is_none());
        assert!(ChannelRequant::new(&[scale(1 << 30, -31)], 0, (-128, 127)).is_some());
    }

    #[test]
    fn folded_starts_wrap_at_32_bits() {
        let starts = folded_starts(Some(&[i64::from(i32::MAX)]), &[-1], 0, 128, 16);
        assert_eq!(starts[0], i32::MAX.wrapping_add(128));
        assert_eq!(starts.len(), 16);
        assert_eq!(starts[1..], [0; 15]);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn requant_avx512_matches_scalar() {
        if DotIsa::detect() != Some(DotIsa::Avx512Vnni) {
            eprintln!("requant_avx512_matches_scalar skipped: no AVX-512 VNNI");
            return;
        }
        let mut random = XorShift(0x5EED_1234_ABCD_0001);
        let special_accumulators = [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX, 1 << 30];
        let special_multipliers = [0, 1, -1, i32::MAX, i32::MIN + 1, 1 << 30, -(1 << 30)];
        for round in 0..400 {
            let channels = 1 + round % 40;
            let scales: Vec<QuantizedMultiplier> = (0..channels)
                .map(|c| QuantizedMultiplier {
                    multiplier: if c % 5 == 0 {
                        special_multipliers[(round + c) % special_multipliers.len()]
                    } else {
                        random.next_i32().max(i32::MIN + 1)
                    },
                    // Every third layer shifts only right, the case that
                    // skips the left shift.
                    shift: if round % 3 == 0 {
                        random.range(-31, 0)
                    } else {
                        random.range(-31, 40)
                    },
                })
                .collect();
            let zero_point = random.range(-200, 200);
            let mut range = (random.range(-300, 300), random.range(-300, 300));
            if round % 3 != 0 {
                range = (range.0.min(range.1), range.0.max(range.1));
            }
            let requant = ChannelRequant::new(&scales, zero_point, range).unwrap();
            for block in 0..channels.div_ceil(LANES) {
                let accumulators: Vec<i32> = (0..LANES)
                    .map(|lane| match lane % 4 {
                        0 => special_accumulators[(round + lane) % special_accumulators.len()],
                        1 => random.range(-100_000, 100_000),
                        _ => random.next_i32(),
                    })
                    .collect();
                // SAFETY: AVX-512 was detected above, and `block` is below
                // the padded channel count over 16.
                let vector = unsafe {
                    let result = requant
                        .apply_avx512(block, _mm512_loadu_si512(accumulators.as_ptr().cast()));
                    let mut lanes = [0_i32; LANES];
                    _mm512_storeu_si512(lanes.as_mut_ptr().cast(), result);
                    lanes
                };
                for lane in 0..LANES.min(channels - block * LANES) {
                    let channel = block * LANES + lane;
                    assert_eq!(
                        vector[lane],
                        requant.clamped_scalar(channel, accumulators[lane]),
                        "channel {channel}, accumulator {}, scale {:?}, zero point {zero_point}, range {range:?}",
                        accumulators[lane],
                        scales[channel]
                    );
                }
            }
        }
    }
}
