//! The widths the hardware must support: the multiplier operands, the
//! accumulator and the stored formats of every layer that runs on a unit,
//! and what the post-processing unit (PPU) must compute.
//!
//! Limitation: one set of widths is built per unit (MAC array, depthwise
//! vector unit, PPU) from the widest layer. A design that narrows its
//! datapath per layer at run time, or builds separate units per precision,
//! is not modelled.

use crate::exec::{BiasMode, ZeroPointMode};
use crate::hw::{DatapathConfig, DepthwiseUnit, HwConfig, LayerSelector, Requant};
use crate::model::{Graph, OpKind};
use crate::numeric::{int_range, IntFormat, Overflow, Rounding, Signedness};
use serde::Serialize;

/// One input of a hardware multiplier: the width and signedness of the
/// values the multiplier receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct MultiplierOperand {
    pub bits: u8,
    pub signed: bool,
}

impl MultiplierOperand {
    /// Returns the weight operand: the weight format itself, because weights
    /// are symmetric and have no zero point to subtract.
    pub fn weight(format: IntFormat) -> MultiplierOperand {
        let (min, max) = format.range();
        MultiplierOperand::covering(min, max)
    }

    /// Returns the activation operand. Under `subtract` the multiplier
    /// receives `x - zx` with both in the activation format. That difference
    /// ranges over `[-span, span]` (`span = max - min`), so it needs one more
    /// bit than `x`, signed. Under `fold` the multiplier receives the raw `x`.
    pub fn activation(format: IntFormat, zero_point: ZeroPointMode) -> MultiplierOperand {
        match zero_point {
            ZeroPointMode::Subtract => {
                let span = format.span();
                MultiplierOperand::covering(-span, span)
            }
            ZeroPointMode::Fold => {
                let (min, max) = format.range();
                MultiplierOperand::covering(min, max)
            }
        }
    }

    /// Returns the narrowest operand holding every integer in `min..=max`:
    /// unsigned when `min >= 0`, else two's complement signed.
    pub fn covering(min: i64, max: i64) -> MultiplierOperand {
        let signed = min < 0;
        let signedness = if signed {
            Signedness::Signed
        } else {
            Signedness::Unsigned
        };
        let bits = (1..=64_u8)
            .find(|&bits| {
                let (low, high) = int_range(u32::from(bits), signedness);
                low <= min && max <= high
            })
            .unwrap_or(64);
        MultiplierOperand { bits, signed }
    }

    /// Returns the inclusive range of values of this operand.
    pub fn range(self) -> (i64, i64) {
        let signedness = if self.signed {
            Signedness::Signed
        } else {
            Signedness::Unsigned
        };
        int_range(u32::from(self.bits), signedness)
    }

    /// Returns the narrowest operand that contains the values of both.
    pub fn join(self, other: MultiplierOperand) -> MultiplierOperand {
        let (min_a, max_a) = self.range();
        let (min_b, max_b) = other.range();
        MultiplierOperand::covering(min_a.min(min_b), max_a.max(max_b))
    }

    /// Returns the width of a two's complement port that fits every value:
    /// `bits` when signed, `bits + 1` when unsigned (the DSP multiplier
    /// ports are signed).
    pub fn port_bits(self) -> u32 {
        u32::from(self.bits) + u32::from(!self.signed)
    }
}

/// Widths a multiply-accumulate unit (the MAC array or the depthwise vector
/// unit) must support: the widest settings of the layers that run on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitWidths {
    /// The activation input of the multiplier, after the zero-point mode.
    pub activation: MultiplierOperand,
    /// The weight input of the multiplier.
    pub weight: MultiplierOperand,
    /// Width of the partial sums and the accumulator register.
    pub accumulator_bits: u8,
    /// Width of an activation as stored in the input and output buffers.
    pub activation_storage_bits: u8,
    /// Width of a weight as stored in the weight buffer.
    pub weight_storage_bits: u8,
    /// True when some layer subtracts the input zero point before the
    /// multiplier, which needs one subtractor per array row.
    pub subtracts_zero_point: bool,
    /// True when some layer saturates its additions, which needs a clamp
    /// after every adder.
    pub saturates: bool,
}

impl UnitWidths {
    /// Returns the widths one datapath needs.
    pub fn of(datapath: &DatapathConfig) -> UnitWidths {
        UnitWidths {
            activation: MultiplierOperand::activation(datapath.activation, datapath.zero_point),
            weight: MultiplierOperand::weight(datapath.weight),
            accumulator_bits: datapath.accumulator.bits,
            activation_storage_bits: datapath.activation.bits(),
            weight_storage_bits: datapath.weight.bits(),
            subtracts_zero_point: datapath.zero_point == ZeroPointMode::Subtract,
            saturates: datapath.accumulator.overflow == Overflow::Saturate,
        }
    }

    /// Returns widths that cover both.
    pub fn join(self, other: UnitWidths) -> UnitWidths {
        UnitWidths {
            activation: self.activation.join(other.activation),
            weight: self.weight.join(other.weight),
            accumulator_bits: self.accumulator_bits.max(other.accumulator_bits),
            activation_storage_bits: self
                .activation_storage_bits
                .max(other.activation_storage_bits),
            weight_storage_bits: self.weight_storage_bits.max(other.weight_storage_bits),
            subtracts_zero_point: self.subtracts_zero_point || other.subtracts_zero_point,
            saturates: self.saturates || other.saturates,
        }
    }

    /// Returns the widths covering every datapath in `datapaths`, or `None`
    /// when there is none.
    pub fn covering<'a>(datapaths: impl IntoIterator<Item = &'a DatapathConfig>) -> Option<Self> {
        datapaths
            .into_iter()
            .map(UnitWidths::of)
            .reduce(UnitWidths::join)
    }
}

/// Requirements of the post-processing unit: the widest requantisation any
/// layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PpuNeeds {
    /// Width of the accumulators the PPU reads.
    pub accumulator_bits: u8,
    /// Width of the requantisation multiplier: 32 for `tflite` and
    /// `single`, `multiplier_bits` for `fixed`, 0 when every layer uses
    /// `shift` (no multiplier).
    pub multiplier_bits: u8,
    /// Rounding adders in series: 2 for `tflite` (the doubling high
    /// multiply and the shift each round), else 1.
    pub rounding_stages: u8,
    /// True when some layer rounds stochastically, which needs an LFSR.
    pub stochastic: bool,
    /// True when some layer adds the bias in the PPU (`bias = "post"`).
    pub adds_bias: bool,
    /// Width of an output activation.
    pub output_bits: u8,
}

impl PpuNeeds {
    /// Returns what one datapath needs of the PPU.
    pub fn of(datapath: &DatapathConfig) -> PpuNeeds {
        let (multiplier_bits, rounding_stages) = match datapath.requant {
            Requant::Tflite => (32, 2),
            Requant::Single { .. } => (32, 1),
            Requant::Fixed {
                multiplier_bits, ..
            } => (multiplier_bits, 1),
            Requant::Shift { .. } => (0, 1),
        };
        PpuNeeds {
            accumulator_bits: datapath.accumulator.bits,
            multiplier_bits,
            rounding_stages,
            stochastic: datapath.requant.rounding() == Some(Rounding::Stochastic),
            adds_bias: datapath.bias == BiasMode::Post,
            output_bits: datapath.activation.bits(),
        }
    }

    /// Returns needs that cover both.
    pub fn join(self, other: PpuNeeds) -> PpuNeeds {
        PpuNeeds {
            accumulator_bits: self.accumulator_bits.max(other.accumulator_bits),
            multiplier_bits: self.multiplier_bits.max(other.multiplier_bits),
            rounding_stages: self.rounding_stages.max(other.rounding_stages),
            stochastic: self.stochastic || other.stochastic,
            adds_bias: self.adds_bias || other.adds_bias,
            output_bits: self.output_bits.max(other.output_bits),
        }
    }
}

/// The resolved datapaths of the layers each unit runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnitDatapaths {
    /// Layers on the MAC array.
    pub array: Vec<DatapathConfig>,
    /// Depthwise layers on the vector unit (`depthwise = "vector"`).
    pub vector: Vec<DatapathConfig>,
}

impl UnitDatapaths {
    /// Collects the datapaths each unit must support.
    ///
    /// With a graph: the resolved datapath of every CONV_2D,
    /// DEPTHWISE_CONV_2D and FULLY_CONNECTED operator, each on the unit
    /// that runs it. A unit that runs no layer of the graph gets
    /// `[datapath]`, because the hardware is built whatever the model.
    ///
    /// Without a graph: `[datapath]` and the datapath of every `[[layer]]`
    /// entry, on both units, because any layer may use any entry.
    pub fn collect(hw: &HwConfig, graph: Option<&Graph>) -> UnitDatapaths {
        let mut units = match graph {
            Some(graph) => Self::from_graph(hw, graph),
            None => Self::from_entries(hw),
        };
        if units.array.is_empty() {
            units.array.push(hw.datapath);
        }
        if units.vector.is_empty() {
            units.vector.push(hw.datapath);
        }
        units
    }

    fn from_graph(hw: &HwConfig, graph: &Graph) -> UnitDatapaths {
        let mut units = UnitDatapaths {
            array: Vec::new(),
            vector: Vec::new(),
        };
        let names = crate::hw::layer_names(graph);
        for ((index, name), op) in names.iter().zip(&graph.ops) {
            let datapath = hw.datapath_for(*index, name);
            match op.kind {
                OpKind::Conv2d(_) | OpKind::FullyConnected(_) => units.array.push(datapath),
                OpKind::DepthwiseConv2d(_) => match hw.array.depthwise {
                    DepthwiseUnit::Array => units.array.push(datapath),
                    DepthwiseUnit::Vector => units.vector.push(datapath),
                },
                _ => {}
            }
        }
        units
    }

    fn from_entries(hw: &HwConfig) -> UnitDatapaths {
        let mut datapaths = vec![hw.datapath];
        for entry in &hw.layers {
            // Resolving at the selector applies every entry with the same
            // selector, in file order, as a real layer would see them.
            let datapath = match &entry.selector {
                LayerSelector::Index(index) => hw.datapath_for(*index, ""),
                LayerSelector::Name(name) => hw.datapath_for(usize::MAX, name),
            };
            datapaths.push(datapath);
        }
        UnitDatapaths {
            array: datapaths.clone(),
            vector: datapaths,
        }
    }

    /// Returns the widths the MAC array must support.
    pub fn array_widths(&self) -> UnitWidths {
        UnitWidths::covering(&self.array)
            .unwrap_or_else(|| UnitWidths::of(&DatapathConfig::default()))
    }

    /// Returns the widths the vector unit must support.
    pub fn vector_widths(&self) -> UnitWidths {
        UnitWidths::covering(&self.vector)
            .unwrap_or_else(|| UnitWidths::of(&DatapathConfig::default()))
    }

    /// Returns what the PPU must compute: it requantises the results of both
    /// units.
    pub fn ppu_needs(&self) -> PpuNeeds {
        self.array
            .iter()
            .chain(&self.vector)
            .map(PpuNeeds::of)
            .reduce(PpuNeeds::join)
            .unwrap_or_else(|| PpuNeeds::of(&DatapathConfig::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(text: &str) -> IntFormat {
        text.parse().unwrap()
    }

    #[test]
    fn activation_operand_by_zero_point_mode() {
        let cases = [
            ("int8", ZeroPointMode::Subtract, 9, true),
            ("uint8", ZeroPointMode::Subtract, 9, true),
            ("int8", ZeroPointMode::Fold, 8, true),
            ("uint8", ZeroPointMode::Fold, 8, false),
            ("uint4", ZeroPointMode::Subtract, 5, true),
            ("int16", ZeroPointMode::Subtract, 17, true),
            ("int1", ZeroPointMode::Subtract, 2, true),
        ];
        for (text, mode, bits, signed) in cases {
            let operand = MultiplierOperand::activation(format(text), mode);
            assert_eq!(
                operand,
                MultiplierOperand { bits, signed },
                "{text} {mode:?}"
            );
        }
    }

    #[test]
    fn port_bits_add_sign_bit_for_unsigned() {
        let unsigned = MultiplierOperand::weight(format("uint8"));
        assert_eq!(unsigned.port_bits(), 9);
        let signed = MultiplierOperand::weight(format("int8"));
        assert_eq!(signed.port_bits(), 8);
    }

    #[test]
    fn join_of_mixed_signedness_is_signed() {
        let joined = MultiplierOperand::weight(format("uint8"))
            .join(MultiplierOperand::weight(format("int4")));
        assert_eq!(
            joined,
            MultiplierOperand {
                bits: 9,
                signed: true
            }
        );
        let same = MultiplierOperand::weight(format("int4"))
            .join(MultiplierOperand::weight(format("int8")));
        assert_eq!(same.bits, 8);
    }

    #[test]
    fn ppu_needs_by_requant_mode() {
        let mut datapath = DatapathConfig::default();
        assert_eq!(PpuNeeds::of(&datapath).multiplier_bits, 32);
        assert_eq!(PpuNeeds::of(&datapath).rounding_stages, 2);
        datapath.requant = Requant::Fixed {
            multiplier_bits: 12,
            rounding: Rounding::Stochastic,
        };
        let fixed = PpuNeeds::of(&datapath);
        assert_eq!(fixed.multiplier_bits, 12);
        assert_eq!(fixed.rounding_stages, 1);
        assert!(fixed.stochastic);
        datapath.requant = Requant::Shift {
            rounding: Rounding::HalfUp,
        };
        assert_eq!(PpuNeeds::of(&datapath).multiplier_bits, 0);
    }
}
