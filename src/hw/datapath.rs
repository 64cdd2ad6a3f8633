//! The arithmetic of one layer as the hardware description sets it:
//! operand formats, accumulator width and overflow, bias entry, zero-point
//! handling and the requantiser of the post-processing unit (PPU).
//!
//! Limitation: this is configuration only. The executor runs an
//! `exec::Datapath`, whose modes mirror these one to one, but no conversion
//! from [`DatapathConfig`] to it exists yet.

pub use crate::exec::{BiasMode, ZeroPointMode};
use crate::numeric::{IntFormat, Overflow, Rounding};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Fully resolved arithmetic of one layer: every field is concrete.
///
/// [`super::HwConfig::datapath_for`] builds it from `[datapath]` and the
/// `[[layer]]` overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatapathConfig {
    pub activation: IntFormat,
    pub weight: IntFormat,
    pub accumulator: AccumulatorConfig,
    pub bias: BiasMode,
    pub zero_point: ZeroPointMode,
    pub requant: Requant,
    /// Seed of the LFSR that stochastic rounding draws from; never 0,
    /// because an all-zero LFSR state never changes.
    pub seed: u32,
}

impl DatapathConfig {
    /// Seed used when the description gives none.
    pub const DEFAULT_SEED: u32 = 1;
}

impl Default for DatapathConfig {
    /// Returns the TFLite int8 arithmetic: int8 operands, a 32-bit wrapping
    /// accumulator initialised with the bias, the input zero point
    /// subtracted before the multiplier and `tflite` requantisation.
    fn default() -> Self {
        DatapathConfig {
            activation: IntFormat::INT8,
            weight: IntFormat::INT8,
            accumulator: AccumulatorConfig::default(),
            bias: BiasMode::Init,
            zero_point: ZeroPointMode::Subtract,
            requant: Requant::Tflite,
            seed: Self::DEFAULT_SEED,
        }
    }
}

/// The accumulator register and the adders that feed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccumulatorConfig {
    /// Width in bits, two's complement signed, 8..=64. Fold partial sums and
    /// the accumulator register both have this width.
    pub bits: u8,
    /// Behaviour of every addition on a result outside `bits`.
    pub overflow: Overflow,
}

impl AccumulatorConfig {
    pub const MIN_BITS: u8 = 8;
    pub const MAX_BITS: u8 = 64;
}

impl Default for AccumulatorConfig {
    fn default() -> Self {
        AccumulatorConfig {
            bits: 32,
            overflow: Overflow::Wrap,
        }
    }
}

/// The requantisation mode without its parameters: the `mode` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequantKind {
    Tflite,
    Single,
    Fixed,
    Shift,
}

impl RequantKind {
    /// Returns the name as written in a hardware description (`tflite`).
    pub fn name(self) -> &'static str {
        match self {
            RequantKind::Tflite => "tflite",
            RequantKind::Single => "single",
            RequantKind::Fixed => "fixed",
            RequantKind::Shift => "shift",
        }
    }
}

impl fmt::Display for RequantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Scaling of an accumulator to the output grid, with the parameters each
/// mode takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requant {
    /// TFLite reference: a 32-bit multiplier, the saturating rounding
    /// doubling high multiply and a rounding right shift. Both roundings are
    /// half away from zero and fixed by the reference.
    Tflite,
    /// `acc * M` with the 32-bit multiplier, shifted right with one rounding.
    Single { rounding: Rounding },
    /// Like `Single` with a multiplier of `multiplier_bits` bits.
    Fixed {
        multiplier_bits: u8,
        rounding: Rounding,
    },
    /// Power-of-two scale only: a per-channel right shift.
    Shift { rounding: Rounding },
}

impl Requant {
    /// Rounding of `single`, `fixed` and `shift` when the description gives
    /// none.
    pub const DEFAULT_ROUNDING: Rounding = Rounding::HalfAway;
    /// Multiplier width of `fixed` when the description gives none.
    pub const DEFAULT_MULTIPLIER_BITS: u8 = 16;
    pub const MIN_MULTIPLIER_BITS: u8 = 2;
    pub const MAX_MULTIPLIER_BITS: u8 = 32;

    /// Builds the mode `kind` with the parameters it takes; parameters the
    /// mode does not take are dropped.
    pub fn from_parts(kind: RequantKind, multiplier_bits: u8, rounding: Rounding) -> Requant {
        match kind {
            RequantKind::Tflite => Requant::Tflite,
            RequantKind::Single => Requant::Single { rounding },
            RequantKind::Fixed => Requant::Fixed {
                multiplier_bits,
                rounding,
            },
            RequantKind::Shift => Requant::Shift { rounding },
        }
    }

    pub fn kind(self) -> RequantKind {
        match self {
            Requant::Tflite => RequantKind::Tflite,
            Requant::Single { .. } => RequantKind::Single,
            Requant::Fixed { .. } => RequantKind::Fixed,
            Requant::Shift { .. } => RequantKind::Shift,
        }
    }

    /// Returns the configurable rounding, or `None` for `Tflite`, whose rounding the
    /// reference fixes.
    pub fn rounding(self) -> Option<Rounding> {
        match self {
            Requant::Tflite => None,
            Requant::Single { rounding }
            | Requant::Fixed { rounding, .. }
            | Requant::Shift { rounding } => Some(rounding),
        }
    }

    /// Returns the multiplier width of `Fixed`, or `None` for the other modes.
    pub fn multiplier_bits(self) -> Option<u8> {
        match self {
            Requant::Fixed {
                multiplier_bits, ..
            } => Some(multiplier_bits),
            _ => None,
        }
    }
}

impl DatapathConfig {
    /// Builds the executor's datapath for a MAC array of `rows` rows (the
    /// fold length).
    pub fn to_datapath(&self, rows: usize) -> crate::exec::Datapath {
        use crate::exec::{AccumulatorMode, Datapath, RequantMode};
        let requant = match self.requant {
            Requant::Tflite => RequantMode::Tflite,
            Requant::Single { rounding } => RequantMode::Single { rounding },
            Requant::Fixed {
                multiplier_bits,
                rounding,
            } => RequantMode::Fixed {
                multiplier_bits: u32::from(multiplier_bits),
                rounding,
            },
            Requant::Shift { rounding } => RequantMode::Shift { rounding },
        };
        Datapath {
            rows,
            activation: self.activation,
            weight: self.weight,
            accumulator: AccumulatorMode::Register {
                bits: u32::from(self.accumulator.bits),
                overflow: self.accumulator.overflow,
            },
            bias: self.bias,
            zero_point: self.zero_point,
            requant,
            seed: self.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parts_keeps_only_parameters_the_mode_takes() {
        let rounding = Rounding::HalfUp;
        assert_eq!(
            Requant::from_parts(RequantKind::Tflite, 12, rounding),
            Requant::Tflite
        );
        assert_eq!(
            Requant::from_parts(RequantKind::Fixed, 12, rounding),
            Requant::Fixed {
                multiplier_bits: 12,
                rounding
            }
        );
        let shift = Requant::from_parts(RequantKind::Shift, 12, rounding);
        assert_eq!(shift.multiplier_bits(), None);
        assert_eq!(shift.rounding(), Some(rounding));
    }

    #[test]
    fn kind_round_trips_through_from_parts() {
        for kind in [
            RequantKind::Tflite,
            RequantKind::Single,
            RequantKind::Fixed,
            RequantKind::Shift,
        ] {
            let requant = Requant::from_parts(kind, 16, Requant::DEFAULT_ROUNDING);
            assert_eq!(requant.kind(), kind);
        }
    }

    #[test]
    fn default_is_tflite_int8() {
        let datapath = DatapathConfig::default();
        assert_eq!(datapath.activation.to_string(), "int8");
        assert_eq!(datapath.accumulator.bits, 32);
        assert_eq!(datapath.accumulator.overflow, Overflow::Wrap);
        assert_eq!(datapath.requant, Requant::Tflite);
        assert_eq!(datapath.seed, 1);
    }
}
