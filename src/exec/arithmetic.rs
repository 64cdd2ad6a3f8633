//! Records of what a MAC layer's datapath does to its arithmetic, for
//! reports and the accumulator analysis. Fixed when the layer is prepared:
//! how each operand tensor maps onto its format and what each channel's
//! scale becomes. Per run: the accumulator overflow counts and the range of
//! exact accumulator values.
//!
//! Limitation: overflow is counted and values observed only for datapaths that run the
//! fold-ordered accumulator, i.e. not for the reference accumulator with
//! TFLite requantisation, whose fast path stays free of any counting.

use super::Datapath;
use crate::numeric::{IntFormat, Overflow, QuantizedMultiplier};

/// The arithmetic one MAC layer was prepared with.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerArithmetic {
    /// The datapath of this layer.
    pub datapath: Datapath,
    /// Width of the accumulator register. The reference accumulator
    /// resolves to 32 or 64 bits, as TFLite Micro picks it for the layer.
    pub accumulator_bits: u32,
    pub overflow: Overflow,
    /// The requantiser `tflite` mode applies to this layer; the other modes
    /// ignore it.
    pub tflite_overload: TfliteOverload,
    /// Products summed into each accumulator (K): `kh * kw * cin / groups`
    /// for a convolution, `kh * kw` for a depthwise convolution, the input
    /// depth for a fully connected layer.
    pub terms: usize,
    /// Folds per accumulator, `ceil(terms / rows)`.
    pub folds: usize,
    pub activation: OperandMapping,
    pub weight: OperandMapping,
    /// One entry per output channel.
    pub scales: Vec<ChannelScale>,
}

/// The TFLite `MultiplyByQuantizedMultiplier` overload of a layer, picked
/// by the accumulator TFLite Micro uses for it, whatever the datapath's
/// register width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfliteOverload {
    /// The int32 overload (two roundings), for layers the reference
    /// accumulates in 32 bits. A wider register's value outside the i32
    /// range takes the same two roundings computed exactly.
    Int32,
    /// The int64 overload (multiplier rounded to 16 bits, one rounding), for
    /// the 16x8 layers the reference accumulates in 64 bits.
    Int64,
}

impl LayerArithmetic {
    /// Returns the largest relative scale error over the channels, in
    /// magnitude (0 for a layer without channels).
    pub fn max_scale_error(&self) -> f64 {
        self.scales
            .iter()
            .map(|scale| scale.relative_error.abs())
            .fold(0.0, f64::max)
    }
}

/// Mapping of a model tensor's values onto the datapath's operand format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperandMapping {
    /// The tensor's own type (int8 or int16).
    pub tensor: IntFormat,
    /// The datapath's operand format.
    pub format: IntFormat,
    pub conversion: OperandConversion,
}

impl OperandMapping {
    /// Returns the mapping of a tensor used as is on its own format.
    pub fn unchanged(format: IntFormat) -> OperandMapping {
        OperandMapping {
            tensor: format,
            format,
            conversion: OperandConversion::Unchanged,
        }
    }
}

/// The change a tensor undergoes to fit its operand format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandConversion {
    /// The values fit the format as they are.
    Unchanged,
    /// Every value and the zero point move by `offset`, on the same grid:
    /// exact (a signed tensor on an unsigned format of enough bits).
    Offset { offset: i64 },
    /// Requantised onto the format's coarser grid over the same real range;
    /// the scale is multiplied by `old_steps / new_steps`. Activations: the
    /// steps span the type's whole range, and `zero_point` is the new zero
    /// point. Weights: the steps run from 0 to the largest magnitude of the
    /// symmetric grid, and `zero_point` is 0.
    Requantized {
        old_steps: i64,
        new_steps: i64,
        zero_point: i64,
    },
}

impl OperandConversion {
    /// Returns the factor the operand scale is multiplied by: 1 unless
    /// requantised.
    pub fn scale_ratio(self) -> f64 {
        match self {
            OperandConversion::Unchanged | OperandConversion::Offset { .. } => 1.0,
            OperandConversion::Requantized {
                old_steps,
                new_steps,
                ..
            } => old_steps as f64 / new_steps as f64,
        }
    }
}

/// One output channel's requantisation scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelScale {
    /// The 32-bit multiplier and shift the reference datapath would use
    /// for this layer (after any operand requantisation).
    pub reference: QuantizedMultiplier,
    /// The real scale the PPU applies.
    pub applied: f64,
    /// `(applied - reference) / reference`: 0 for the `tflite` and
    /// `single` modes, the shortening error for `fixed`, the power-of-two
    /// error for `shift`; 0 for a zero scale.
    pub relative_error: f64,
}

/// Accumulator overflow of one MAC layer in one run, and the range of the
/// exact accumulator values.
///
/// An event is an addition (or the bias load) whose exact result lies
/// outside the register's range, taken in the accumulation order of
/// `docs/arithmetic.md`. Under saturation the result was clamped, under
/// wrapping it wrapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OverflowCounts {
    /// Accumulators computed: the output elements of the layer.
    pub results: u64,
    /// Accumulators with at least one event before the PPU.
    pub overflowed_results: u64,
    /// Events before the PPU: bias loads, product additions within folds
    /// and fold-sum additions to the register.
    pub events: u64,
    /// Post-bias additions in the PPU that overflowed ([`BiasMode::Post`]).
    ///
    /// [`BiasMode::Post`]: super::BiasMode::Post
    pub post_bias_events: u64,
    /// Accumulators whose overflow reaches the requantiser. Under saturation
    /// that is every accumulator with an event, the post bias included.
    /// Under wrapping it is every accumulator whose final value (after any
    /// post bias) differs from the exact sum: a wrap that later additions
    /// undo leaves the result exact.
    pub corrupted_results: u64,
    /// Smallest exact value observed (see [`OverflowCounts::observed_max`]).
    pub observed_min: i64,
    /// Largest exact value observed: the values computed without overflow,
    /// in the accumulation order, whatever the register did. Under
    /// saturation every value the register and the fold partial sums hold
    /// counts (the bias load, each partial sum, each register value, the
    /// post bias and its sum), because any of them out of range is an
    /// event. Under wrapping only the final accumulator counts, after any
    /// post bias. The range always contains 0, where partial sums start.
    ///
    /// NOTE: exact sums saturate at the i64 range, which only an int64 bias
    /// near its limits can reach.
    pub observed_max: i64,
}

impl OverflowCounts {
    /// Returns the largest magnitude of the observed range.
    pub fn max_magnitude(&self) -> u64 {
        self.observed_min
            .unsigned_abs()
            .max(self.observed_max.unsigned_abs())
    }

    /// Returns the narrowest signed register width holding every observed
    /// value: with it, and the same inputs, no accumulator of the layer is
    /// corrupted; one bit less corrupts at least one. At least 1.
    pub fn narrowest_bits(&self) -> u32 {
        signed_bits(self.observed_min).max(signed_bits(self.observed_max))
    }

    /// Adds the counts of another run of the same layer and widens the
    /// observed range to cover both.
    pub fn merge(&mut self, other: &OverflowCounts) {
        self.observed_min = self.observed_min.min(other.observed_min);
        self.observed_max = self.observed_max.max(other.observed_max);
        self.results += other.results;
        self.overflowed_results += other.overflowed_results;
        self.events += other.events;
        self.post_bias_events += other.post_bias_events;
        self.corrupted_results += other.corrupted_results;
    }
}

/// Returns the width of the narrowest two's complement register holding
/// `value`: `n` bits hold `-2^(n-1) ..= 2^(n-1) - 1`.
fn signed_bits(value: i64) -> u32 {
    // A negative value needs the bits of its complement plus the sign bit.
    let magnitude = if value < 0 { !value } else { value };
    i64::BITS - magnitude.leading_zeros() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_ratio_of_each_conversion() {
        assert_eq!(OperandConversion::Unchanged.scale_ratio(), 1.0);
        assert_eq!(OperandConversion::Offset { offset: 128 }.scale_ratio(), 1.0);
        let requantized = OperandConversion::Requantized {
            old_steps: 127,
            new_steps: 7,
            zero_point: 0,
        };
        assert_eq!(requantized.scale_ratio(), 127.0 / 7.0);
    }

    #[test]
    fn max_scale_error_takes_magnitude() {
        let scale = |relative_error| ChannelScale {
            reference: QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: 0,
            },
            applied: 0.5,
            relative_error,
        };
        let mapping = OperandMapping {
            tensor: IntFormat::INT8,
            format: IntFormat::INT8,
            conversion: OperandConversion::Unchanged,
        };
        let arithmetic = LayerArithmetic {
            datapath: Datapath::reference(),
            accumulator_bits: 32,
            overflow: Overflow::Wrap,
            tflite_overload: TfliteOverload::Int32,
            terms: 9,
            folds: 1,
            activation: mapping,
            weight: mapping,
            scales: vec![scale(0.1), scale(-0.25), scale(0.2)],
        };
        assert_eq!(arithmetic.max_scale_error(), 0.25);
    }

    #[test]
    fn narrowest_bits_takes_both_ends() {
        let range = |observed_min, observed_max| OverflowCounts {
            results: 1,
            observed_min,
            observed_max,
            ..OverflowCounts::default()
        };
        let cases = [
            (0, 0, 1),
            (-1, 0, 1),
            (0, 1, 2),
            (-128, 127, 8),
            (-129, 0, 9),
            (0, 128, 9),
            (-300, 200, 10),
            (-256, 255, 9),
            (i64::MIN, i64::MAX, 64),
        ];
        for (min, max, bits) in cases {
            assert_eq!(range(min, max).narrowest_bits(), bits, "[{min}, {max}]");
        }
        assert_eq!(range(-300, 200).max_magnitude(), 300);
        assert_eq!(range(i64::MIN, 0).max_magnitude(), 1 << 63);
    }

    #[test]
    fn merge_adds_counts_and_widens_range() {
        let mut total = OverflowCounts::default();
        let first = OverflowCounts {
            results: 4,
            overflowed_results: 1,
            events: 3,
            post_bias_events: 1,
            corrupted_results: 2,
            observed_min: -3,
            observed_max: 90,
        };
        let second = OverflowCounts {
            results: 4,
            events: 1,
            observed_min: -7,
            observed_max: 40,
            ..OverflowCounts::default()
        };
        total.merge(&first);
        total.merge(&second);
        assert_eq!(total.results, 8);
        assert_eq!(total.overflowed_results, 1);
        assert_eq!(total.events, 4);
        assert_eq!(total.post_bias_events, 1);
        assert_eq!(total.corrupted_results, 2);
        assert_eq!((total.observed_min, total.observed_max), (-7, 90));
    }
}
