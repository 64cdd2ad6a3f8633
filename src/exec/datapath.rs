//! The datapath a layer runs on: the MAC array's operand formats and
//! accumulator, the order in which products enter the accumulator, and how
//! the post-processing unit (PPU) turns accumulators into output
//! activations. `docs/arithmetic.md` states the whole contract.
//!
//! Every mode is an enum, so a new hardware variant makes the compiler flag
//! each place that must handle it. Limitation: the datapath covers the MAC
//! layers only (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED). Every other
//! operator runs with the reference kernels whatever the datapath sets.

use crate::numeric::{IntFormat, Overflow, Rounding};

/// Arithmetic of the multiply-accumulate layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datapath {
    /// Rows of the MAC array: the number of consecutive K terms in one fold
    /// (see [`AccumulatorMode::Register`]). At least 1.
    pub rows: usize,
    /// Format of the activation operand. A layer input of a wider type is
    /// requantised onto it at the layer input.
    pub activation: IntFormat,
    /// Format of the weight operand. Wider weights are requantised onto it
    /// per output channel.
    pub weight: IntFormat,
    pub accumulator: AccumulatorMode,
    pub bias: BiasMode,
    pub zero_point: ZeroPointMode,
    pub requant: RequantMode,
    /// Seed of the LFSR behind [`Rounding::Stochastic`], nonzero (0 is the
    /// state an LFSR never leaves).
    pub seed: u32,
}

/// The accumulator register and the order in which products enter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccumulatorMode {
    /// The register of the TFLite Micro reference kernels: 32 bits wrapping
    /// for int8 activations and for int16 activations with an int32 bias, 64
    /// bits for int16 activations with an int64 bias (or none). Because
    /// both wrap, the summation order does not change the result.
    Reference,
    /// A signed register of `bits` bits (8..=64) with the given overflow at
    /// every addition.
    ///
    /// Order: K is ordered as the weight layout `(ky, kx, cin)` and cut into
    /// folds of `rows` consecutive terms. In a fold the partial sum starts
    /// at 0 and each PE in row order adds its product. At the bottom the
    /// fold sum is added to the register. Both sums are held in `bits` bits.
    /// Under [`Overflow::Wrap`] the order does not change the result.
    Register { bits: u32, overflow: Overflow },
}

/// Entry point of the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BiasMode {
    /// As the accumulator's initial value, brought into the register's
    /// range with its overflow behaviour (saturated or wrapped).
    Init,
    /// In the PPU, added to the finished accumulator before requantisation,
    /// in the register's width and overflow behaviour.
    Post,
}

/// Removal of the input zero point `zx` from the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZeroPointMode {
    /// Each product is `w * (x - zx)`; padded taps contribute 0.
    Subtract,
    /// Each product is `w * x` with the raw input (padded taps read `zx`),
    /// and `-zx * sum(w)` over the whole kernel is added to the bias.
    Fold,
}

/// Scaling of an accumulator to the output grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequantMode {
    /// TFLite reference semantics: a 32-bit multiplier and a shift per
    /// output channel. An accumulator of at most 32 bits takes the
    /// saturating rounding doubling high multiply and then a rounding right
    /// shift (two roundings). A wider one takes the reference's int64
    /// overload, which rounds the multiplier to 16 bits and the product once.
    Tflite,
    /// One rounding of `acc * M` shifted right by `31 - shift`, with `M`
    /// and `shift` the TFLite multiplier and shift.
    Single { rounding: Rounding },
    /// The TFLite multiplier shortened to a signed multiplier of
    /// `multiplier_bits` bits (2..=32) with the shift adjusted, then one
    /// rounding.
    Fixed {
        multiplier_bits: u32,
        rounding: Rounding,
    },
    /// A power-of-two scale per output channel (a bare shift): each
    /// channel's scale is rounded to the nearest power of two in the log
    /// domain, then one rounding. The relative scale error is recorded per
    /// channel.
    Shift { rounding: Rounding },
}

/// A datapath setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatapathError {
    #[error("rows is 0; expected at least 1")]
    Rows,
    #[error("accumulator bits is {bits}; expected 8 to 64")]
    AccumulatorBits { bits: u32 },
    #[error("multiplier_bits is {bits}; expected 2 to 32")]
    MultiplierBits { bits: u32 },
    #[error("seed is 0; expected a nonzero LFSR seed")]
    Seed,
}

impl Datapath {
    /// Builds the datapath of the TFLite Micro reference kernels, bit for bit.
    ///
    /// The operand formats are int16 activations and int8 weights: wide
    /// enough for every tensor those kernels take (int8 or int16
    /// activations, int8 weights), so nothing is requantised. `rows` (16)
    /// has no effect on the wrapping reference accumulator, and `seed` (1)
    /// none without stochastic rounding.
    pub fn reference() -> Datapath {
        Datapath {
            rows: 16,
            activation: IntFormat::INT16,
            weight: IntFormat::INT8,
            accumulator: AccumulatorMode::Reference,
            bias: BiasMode::Init,
            zero_point: ZeroPointMode::Subtract,
            requant: RequantMode::Tflite,
            seed: 1,
        }
    }

    /// Checks every numeric setting against its allowed range.
    pub fn validate(&self) -> Result<(), DatapathError> {
        if self.rows == 0 {
            return Err(DatapathError::Rows);
        }
        if let AccumulatorMode::Register { bits, .. } = self.accumulator {
            if !(8..=64).contains(&bits) {
                return Err(DatapathError::AccumulatorBits { bits });
            }
        }
        if let RequantMode::Fixed {
            multiplier_bits, ..
        } = self.requant
        {
            if !(2..=32).contains(&multiplier_bits) {
                return Err(DatapathError::MultiplierBits {
                    bits: multiplier_bits,
                });
            }
        }
        if self.seed == 0 {
            return Err(DatapathError::Seed);
        }
        Ok(())
    }

    /// Returns the rounding of the requantiser's single rounding, or `None`
    /// for [`RequantMode::Tflite`], whose two roundings are fixed.
    pub fn rounding(&self) -> Option<Rounding> {
        match self.requant {
            RequantMode::Tflite => None,
            RequantMode::Single { rounding }
            | RequantMode::Fixed { rounding, .. }
            | RequantMode::Shift { rounding } => Some(rounding),
        }
    }
}

impl Default for Datapath {
    fn default() -> Self {
        Datapath::reference()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_is_valid() {
        assert_eq!(Datapath::reference().validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_out_of_range_settings() {
        let cases = [
            (
                Datapath {
                    rows: 0,
                    ..Datapath::reference()
                },
                DatapathError::Rows,
            ),
            (
                Datapath {
                    accumulator: AccumulatorMode::Register {
                        bits: 7,
                        overflow: Overflow::Wrap,
                    },
                    ..Datapath::reference()
                },
                DatapathError::AccumulatorBits { bits: 7 },
            ),
            (
                Datapath {
                    accumulator: AccumulatorMode::Register {
                        bits: 65,
                        overflow: Overflow::Saturate,
                    },
                    ..Datapath::reference()
                },
                DatapathError::AccumulatorBits { bits: 65 },
            ),
            (
                Datapath {
                    requant: RequantMode::Fixed {
                        multiplier_bits: 1,
                        rounding: Rounding::HalfUp,
                    },
                    ..Datapath::reference()
                },
                DatapathError::MultiplierBits { bits: 1 },
            ),
            (
                Datapath {
                    requant: RequantMode::Fixed {
                        multiplier_bits: 33,
                        rounding: Rounding::HalfUp,
                    },
                    ..Datapath::reference()
                },
                DatapathError::MultiplierBits { bits: 33 },
            ),
            (
                Datapath {
                    seed: 0,
                    ..Datapath::reference()
                },
                DatapathError::Seed,
            ),
        ];
        for (datapath, expected) in cases {
            assert_eq!(datapath.validate(), Err(expected.clone()), "{datapath:?}");
        }
    }

    #[test]
    fn validate_accepts_range_ends() {
        for bits in [8, 64] {
            let datapath = Datapath {
                accumulator: AccumulatorMode::Register {
                    bits,
                    overflow: Overflow::Saturate,
                },
                requant: RequantMode::Fixed {
                    multiplier_bits: if bits == 8 { 2 } else { 32 },
                    rounding: Rounding::Stochastic,
                },
                rows: 1,
                ..Datapath::reference()
            };
            assert_eq!(datapath.validate(), Ok(()));
        }
    }

    #[test]
    fn rounding_of_each_mode() {
        let cases = [
            (RequantMode::Tflite, None),
            (
                RequantMode::Single {
                    rounding: Rounding::HalfEven,
                },
                Some(Rounding::HalfEven),
            ),
            (
                RequantMode::Fixed {
                    multiplier_bits: 16,
                    rounding: Rounding::Truncate,
                },
                Some(Rounding::Truncate),
            ),
            (
                RequantMode::Shift {
                    rounding: Rounding::Stochastic,
                },
                Some(Rounding::Stochastic),
            ),
        ];
        for (requant, expected) in cases {
            let datapath = Datapath {
                requant,
                ..Datapath::reference()
            };
            assert_eq!(datapath.rounding(), expected, "{requant:?}");
        }
    }
}
