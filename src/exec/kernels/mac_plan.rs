//! The plan that ties a MAC layer to its datapath. It fixes the operands on
//! the datapath's formats, where the bias and the zero-point correction go,
//! which accumulator register runs and how the PPU requantises. It also
//! keeps a record of all that for reports.
//!
//! Limitation: a narrowed layer's scales are derived from the reference
//! datapath's 32-bit multipliers, so they carry that multiplier's rounding
//! (below 2^-31 relative) on top of the format change.

use super::mac_fold::FoldConfig;
use super::mac_layer::{operands, Bias, LayerActivations, Register, Weights};
use super::mac_operands::{mapped_zero_point, operand_table, table_operands};
use super::mac_ppu::{ConfiguredRequant, Ppu};
use crate::exec::arithmetic::{
    ChannelScale, LayerArithmetic, OperandConversion, OperandMapping, TfliteOverload,
};
use crate::exec::datapath::{AccumulatorMode, BiasMode, RequantMode, ZeroPointMode};
use crate::exec::image::{MacImage, MacKind};
use crate::exec::{Datapath, TensorValue};
use crate::numeric::{
    nearest_power_of_two, quantize_multiplier, quantize_multiplier_to_bits, single_rounding_scale,
    IntegerScale, Overflow, QuantizedMultiplier, Rounding,
};

/// Everything a MAC kernel needs at eval time besides its weights.
#[derive(Debug, Clone)]
pub(crate) struct MacPlan {
    pub register: Register,
    /// Added to every input element before it is multiplied, when the input
    /// keeps its grid (`input_table` is `None`).
    pub input_offset: i32,
    /// The operand of each input value, indexed by the value minus its
    /// type's minimum, when the input is requantised onto a narrower format.
    pub input_table: Option<Vec<i16>>,
    /// The operand of a padded tap, after the offset.
    pub pad_value: i16,
    /// The input zero point on the datapath's activation format.
    pub input_zero_point: i64,
    /// Each output channel's accumulator starting value.
    pub starts: Vec<i64>,
    pub ppu: Ppu,
    /// Record of the datapath's effect on this layer's arithmetic, for
    /// reports.
    pub arithmetic: LayerArithmetic,
}

impl MacPlan {
    /// Converts an input value to the i16 operands of the accumulation, as
    /// [`operands`] does, through `input_table` when there is one.
    pub fn operands(
        &self,
        value: &TensorValue,
        channels: usize,
        row_stride: usize,
    ) -> Option<Vec<i16>> {
        convert_operands(
            self.input_offset,
            self.input_table.as_deref(),
            value,
            channels,
            row_stride,
        )
    }

    /// Describes the layer for export. `weights` is `[cout][terms]` on the
    /// weight format.
    pub fn image(&self, shape: ImageShape, weights: Vec<i64>) -> MacImage {
        let ppu = self.ppu.parameters();
        MacImage {
            kind: shape.kind,
            groups: shape.groups,
            group_outputs: shape.group_outputs,
            terms: shape.terms,
            weights,
            starts: self.starts.clone(),
            post_biases: ppu.post_biases,
            requant: ppu.requant,
            input_zero_point: self.input_zero_point,
            pad_value: i64::from(self.pad_value),
            output_zero_point: ppu.output_zero_point,
            output_min: ppu.output_min,
            output_max: ppu.output_max,
            operand_map: MacOperandMap {
                input_offset: self.input_offset,
                input_table: self.input_table.clone(),
            },
        }
    }
}

/// The GEMM shape of a MAC layer, for [`MacPlan::image`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImageShape {
    pub kind: MacKind,
    pub groups: usize,
    pub group_outputs: usize,
    pub terms: usize,
}

/// The conversion of input values to operands, kept for export.
#[derive(Debug, Clone)]
pub(crate) struct MacOperandMap {
    input_offset: i32,
    input_table: Option<Vec<i16>>,
}

impl MacOperandMap {
    /// Converts every element of `value` to its operand.
    pub fn operands(&self, value: &TensorValue) -> Option<Vec<i16>> {
        convert_operands(self.input_offset, self.input_table.as_deref(), value, 1, 1)
    }
}

fn convert_operands(
    input_offset: i32,
    input_table: Option<&[i16]>,
    value: &TensorValue,
    channels: usize,
    row_stride: usize,
) -> Option<Vec<i16>> {
    match input_table {
        Some(table) => table_operands(value, table, channels, row_stride),
        None => operands(value, input_offset, channels, row_stride),
    }
}

/// Layer facts that [`plan`] combines with a datapath.
pub(crate) struct PlanInputs<'a> {
    pub layer: &'a LayerActivations,
    /// The register the reference kernels would use.
    pub register: Register,
    pub bias: Option<&'a Bias>,
    pub weights: &'a Weights,
    /// Per output channel, the sum of its weights over the whole kernel
    /// (for [`ZeroPointMode::Fold`]).
    pub weight_sums: &'a [i64],
    /// Per output channel requantisation scale, from the model's scales.
    pub scales: Vec<QuantizedMultiplier>,
    pub output_min: i32,
    pub output_max: i32,
    /// The operator's index in the graph, which selects the stochastic
    /// rounding words.
    pub layer_index: usize,
}

/// Ties a layer to `datapath`: the operands, where the bias and the
/// zero-point correction go, which accumulator and requantiser run.
///
/// When an operand is requantised onto a narrower format, each channel's
/// scale becomes `quantize_multiplier(reference * old_steps / new_steps)`
/// for each requantised operand. The bias, whose scale is the product of
/// the operand scales, is multiplied by the inverse ratios and rounded half
/// away from zero. The reference accumulator with TFLite requantisation keeps the
/// reference registers; every other combination runs the fold-ordered
/// register and the configured PPU.
pub(crate) fn plan(datapath: &Datapath, inputs: PlanInputs) -> MacPlan {
    let channels = inputs.scales.len();
    let input_mapping = inputs.layer.input_mapping;
    let weight_mapping = inputs.weights.mapping;
    let scales = operand_scales(&inputs.scales, input_mapping, weight_mapping);

    let zero_point = mapped_zero_point(&input_mapping, inputs.layer.input.zero_point);
    let subtracted = match datapath.zero_point {
        ZeroPointMode::Subtract => zero_point,
        ZeroPointMode::Fold => 0,
    };
    let grid_offset = match input_mapping.conversion {
        OperandConversion::Offset { offset } => offset,
        OperandConversion::Unchanged | OperandConversion::Requantized { .. } => 0,
    };
    // map_input checked that every operand, the pad value included, fits
    // in i16.
    let input_offset = (grid_offset - subtracted) as i32;
    let input_table = operand_table(&input_mapping, -subtracted);
    let pad_value = (zero_point - subtracted) as i16;
    let zero_point_terms: Vec<i64> = match datapath.zero_point {
        ZeroPointMode::Subtract => vec![0; channels],
        ZeroPointMode::Fold => inputs
            .weight_sums
            .iter()
            .map(|&sum| -zero_point * sum)
            .collect(),
    };

    let (bias_numerator, bias_denominator) = bias_ratio(input_mapping, weight_mapping);
    let biases: Vec<i64> = (0..channels)
        .map(|channel| {
            let bias = inputs.bias.map_or(0, |b| b.values[channel]);
            let bias = rescale_bias(bias, bias_numerator, bias_denominator);
            bias.wrapping_add(zero_point_terms[channel])
        })
        .collect();
    let (starts, post_biases) = match datapath.bias {
        BiasMode::Init => (biases, vec![0; channels]),
        BiasMode::Post => (vec![0; channels], biases),
    };

    let accumulator = accumulator(datapath, inputs.register, &scales, inputs.layer_index);
    let terms = inputs.weights.values.len() / channels.max(1);
    let arithmetic = LayerArithmetic {
        datapath: datapath.clone(),
        accumulator_bits: accumulator.bits,
        overflow: accumulator.overflow,
        tflite_overload: accumulator.tflite_overload,
        terms,
        folds: terms.div_ceil(datapath.rows.max(1)),
        activation: input_mapping,
        weight: weight_mapping,
        scales: channel_records(&scales, &accumulator.requant),
    };
    let ppu = Ppu::new(
        &scales,
        post_biases,
        inputs.layer.output.zero_point,
        (inputs.output_min, inputs.output_max),
    )
    .with_configured(accumulator.requant);
    MacPlan {
        register: accumulator.register,
        input_offset,
        input_table,
        pad_value,
        input_zero_point: zero_point,
        starts,
        ppu,
        arithmetic,
    }
}

/// The accumulator and requantiser [`plan`] picks.
struct AccumulatorChoice {
    register: Register,
    bits: u32,
    overflow: Overflow,
    requant: ConfiguredRequant,
    tflite_overload: TfliteOverload,
}

/// Picks the register and the PPU's requantiser for `datapath`.
fn accumulator(
    datapath: &Datapath,
    reference: Register,
    scales: &[QuantizedMultiplier],
    layer_index: usize,
) -> AccumulatorChoice {
    let reference_bits = match reference {
        Register::Bits64 => 64,
        Register::Bits32 | Register::Fold(_) => 32,
    };
    let tflite_overload = if reference_bits <= 32 {
        TfliteOverload::Int32
    } else {
        TfliteOverload::Int64
    };
    if let (AccumulatorMode::Reference, RequantMode::Tflite) =
        (datapath.accumulator, datapath.requant)
    {
        return AccumulatorChoice {
            register: reference,
            bits: reference_bits,
            overflow: Overflow::Wrap,
            requant: ConfiguredRequant::TfliteInt32,
            tflite_overload,
        };
    }

    let (bits, overflow) = match datapath.accumulator {
        AccumulatorMode::Reference => (reference_bits, Overflow::Wrap),
        AccumulatorMode::Register { bits, overflow } => (bits, overflow),
    };
    let scaled = |rounding: Rounding, scale: &dyn Fn(QuantizedMultiplier) -> IntegerScale| {
        ConfiguredRequant::Scaled {
            scales: scales.iter().map(|&q| scale(q)).collect(),
            rounding,
            seed: datapath.seed,
            layer: layer_index,
        }
    };
    let requant = match datapath.requant {
        // The routine the reference uses for this layer, whatever the
        // register width, so that a wider register without overflow gives
        // the reference's results.
        RequantMode::Tflite => match tflite_overload {
            TfliteOverload::Int32 => ConfiguredRequant::TfliteInt32,
            TfliteOverload::Int64 => ConfiguredRequant::TfliteInt64,
        },
        RequantMode::Single { rounding } => scaled(rounding, &single_rounding_scale),
        RequantMode::Fixed {
            multiplier_bits,
            rounding,
        } => scaled(rounding, &|q| {
            quantize_multiplier_to_bits(q, multiplier_bits)
        }),
        RequantMode::Shift { rounding } => scaled(rounding, &nearest_power_of_two),
    };
    AccumulatorChoice {
        register: Register::Fold(FoldConfig {
            bits,
            overflow,
            rows: datapath.rows,
        }),
        bits,
        overflow,
        requant,
        tflite_overload,
    }
}

/// Returns the channel scales of the operands as the datapath forms them:
/// the reference scales when both operands keep their grids, otherwise
/// each scale multiplied by `old_steps / new_steps` of every requantised
/// operand and quantised again.
fn operand_scales(
    reference: &[QuantizedMultiplier],
    input: OperandMapping,
    weight: OperandMapping,
) -> Vec<QuantizedMultiplier> {
    let ratio = input.conversion.scale_ratio() * weight.conversion.scale_ratio();
    if ratio == 1.0 {
        return reference.to_vec();
    }
    reference
        .iter()
        .map(|scale| quantize_multiplier(scale.to_f64() * ratio))
        .collect()
}

/// Returns `(numerator, denominator)` of the factor the bias is multiplied
/// by: the product of `new_steps / old_steps` over the requantised
/// operands, so that the bias stays on the accumulator's grid.
fn bias_ratio(input: OperandMapping, weight: OperandMapping) -> (i64, i64) {
    let steps = |mapping: OperandMapping| match mapping.conversion {
        OperandConversion::Requantized {
            old_steps,
            new_steps,
            ..
        } => (new_steps, old_steps),
        OperandConversion::Unchanged | OperandConversion::Offset { .. } => (1, 1),
    };
    let (input_new, input_old) = steps(input);
    let (weight_new, weight_old) = steps(weight);
    (input_new * weight_new, input_old * weight_old)
}

/// `bias * numerator / denominator`, rounded half away from zero and
/// saturated to i64; the bias unchanged when the ratio is 1.
fn rescale_bias(bias: i64, numerator: i64, denominator: i64) -> i64 {
    if numerator == denominator {
        return bias;
    }
    let scaled = i128::from(bias) * i128::from(numerator);
    let denominator = i128::from(denominator);
    let magnitude = (2 * scaled.abs() + denominator) / (2 * denominator);
    (scaled.signum() * magnitude).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Records each channel's reference scale, the scale the PPU applies and
/// the relative error between them.
fn channel_records(
    scales: &[QuantizedMultiplier],
    requant: &ConfiguredRequant,
) -> Vec<ChannelScale> {
    scales
        .iter()
        .enumerate()
        .map(|(channel, &reference)| {
            let applied = match requant {
                ConfiguredRequant::TfliteInt32 | ConfiguredRequant::TfliteInt64 => {
                    reference.to_f64()
                }
                ConfiguredRequant::Scaled { scales, .. } => scales[channel].to_f64(),
            };
            let exact = reference.to_f64();
            let relative_error = if exact == 0.0 {
                0.0
            } else {
                (applied - exact) / exact
            };
            ChannelScale {
                reference,
                applied,
                relative_error,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::kernels::mac_layer::Activations;
    use crate::exec::kernels::op_context::TensorQuant;
    use crate::model::DataType;
    use crate::numeric::IntFormat;

    fn layer(input_zero_point: i32) -> LayerActivations {
        LayerActivations {
            activations: Activations::Int8,
            input: TensorQuant {
                scale: 0.1,
                zero_point: input_zero_point,
            },
            output: TensorQuant {
                scale: 0.2,
                zero_point: 5,
            },
            input_mapping: OperandMapping::unchanged(IntFormat::INT8),
        }
    }

    /// Two channels of three weights each, summing to 10 and -4.
    fn weights(mapping: OperandMapping) -> Weights {
        Weights {
            values: vec![4, 4, 2, -1, -1, -2],
            scales: vec![0.01; 2],
            per_channel: false,
            mapping,
        }
    }

    fn plan_with_weights(
        datapath: &Datapath,
        layer: &LayerActivations,
        bias: &Bias,
        weights: &Weights,
    ) -> MacPlan {
        let scale = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 0,
        };
        plan(
            datapath,
            PlanInputs {
                layer,
                register: Register::Bits32,
                bias: Some(bias),
                weights,
                weight_sums: &[10, -4],
                scales: vec![scale; 2],
                output_min: -128,
                output_max: 127,
                layer_index: 3,
            },
        )
    }

    fn plan_for(datapath: &Datapath, layer: &LayerActivations, bias: &Bias) -> MacPlan {
        let weights = weights(OperandMapping::unchanged(IntFormat::INT8));
        plan_with_weights(datapath, layer, bias, &weights)
    }

    #[test]
    fn plan_subtracts_zero_point_and_starts_from_bias() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![100, -50],
        };
        let plan = plan_for(&Datapath::reference(), &layer(-3), &bias);
        assert_eq!(plan.input_offset, 3);
        assert_eq!(plan.pad_value, 0);
        assert_eq!(plan.starts, vec![100, -50]);
    }

    #[test]
    fn plan_folds_zero_point_into_bias() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![100, -50],
        };
        let datapath = Datapath {
            zero_point: ZeroPointMode::Fold,
            ..Datapath::reference()
        };
        let plan = plan_for(&datapath, &layer(-3), &bias);
        assert_eq!(plan.input_offset, 0);
        assert_eq!(plan.pad_value, -3);
        // bias - zx * sum(w) = 100 + 3 * 10 and -50 + 3 * -4.
        assert_eq!(plan.starts, vec![130, -62]);
    }

    #[test]
    fn plan_with_post_bias_starts_from_zero() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![100, -50],
        };
        let datapath = Datapath {
            bias: BiasMode::Post,
            ..Datapath::reference()
        };
        let plan = plan_for(&datapath, &layer(-3), &bias);
        assert_eq!(plan.starts, vec![0, 0]);
    }

    #[test]
    fn plan_keeps_reference_register_for_reference_arithmetic() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![100, -50],
        };
        let plan = plan_for(&Datapath::reference(), &layer(-3), &bias);
        assert_eq!(plan.register, Register::Bits32);
        assert_eq!(plan.arithmetic.accumulator_bits, 32);
        assert_eq!(plan.arithmetic.terms, 3);
        assert_eq!(plan.arithmetic.folds, 1);
        assert_eq!(plan.arithmetic.max_scale_error(), 0.0);
    }

    #[test]
    fn plan_picks_fold_register_for_configured_arithmetic() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![100, -50],
        };
        let datapath = Datapath {
            rows: 2,
            accumulator: AccumulatorMode::Register {
                bits: 20,
                overflow: Overflow::Saturate,
            },
            ..Datapath::reference()
        };
        let plan = plan_for(&datapath, &layer(-3), &bias);
        assert_eq!(
            plan.register,
            Register::Fold(FoldConfig {
                bits: 20,
                overflow: Overflow::Saturate,
                rows: 2
            })
        );
        assert_eq!(plan.arithmetic.folds, 2);
        // The reference accumulator with another requantiser resolves to
        // its 32 wrapping bits.
        let shifted = Datapath {
            requant: RequantMode::Shift {
                rounding: Rounding::HalfEven,
            },
            ..Datapath::reference()
        };
        let plan = plan_for(&shifted, &layer(-3), &bias);
        assert_eq!(
            plan.register,
            Register::Fold(FoldConfig {
                bits: 32,
                overflow: Overflow::Wrap,
                rows: 16
            })
        );
    }

    #[test]
    fn plan_records_power_of_two_scale_error() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![0, 0],
        };
        let datapath = Datapath {
            requant: RequantMode::Shift {
                rounding: Rounding::HalfAway,
            },
            ..Datapath::reference()
        };
        let exact = plan_for(&datapath, &layer(0), &bias);
        // Scale 0.5 is a power of two: no error.
        assert_eq!(exact.arithmetic.max_scale_error(), 0.0);

        let scale = QuantizedMultiplier {
            multiplier: 3 << 29, // 0.75
            shift: 0,
        };
        let weights = weights(OperandMapping::unchanged(IntFormat::INT8));
        let rounded = plan(
            &datapath,
            PlanInputs {
                layer: &layer(0),
                register: Register::Bits32,
                bias: Some(&bias),
                weights: &weights,
                weight_sums: &[10, -4],
                scales: vec![scale; 2],
                output_min: -128,
                output_max: 127,
                layer_index: 0,
            },
        );

        // 0.75 rounds to 1 in the log domain (log2 0.75 = -0.415).
        let record = rounded.arithmetic.scales[0];
        assert_eq!(record.applied, 1.0);
        assert!((record.relative_error - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn plan_rescales_bias_and_scale_of_narrowed_operands() {
        let bias = Bias {
            dtype: DataType::Int32,
            values: vec![1000, -1001],
        };
        // Weights requantised from 127 steps to 7: the bias is multiplied by
        // 7 / 127 and the scale by 127 / 7.
        let narrowed = weights(OperandMapping {
            tensor: IntFormat::INT8,
            format: "int4".parse().unwrap(),
            conversion: OperandConversion::Requantized {
                old_steps: 127,
                new_steps: 7,
                zero_point: 0,
            },
        });
        let plan = plan_with_weights(&Datapath::reference(), &layer(0), &bias, &narrowed);
        // 1000 * 7 / 127 = 55.12 -> 55; -1001 * 7 / 127 = -55.17 -> -55.
        assert_eq!(plan.starts, vec![55, -55]);
        let scale = plan.arithmetic.scales[0].reference.to_f64();
        assert!((scale - 0.5 * 127.0 / 7.0).abs() < 1e-8, "{scale}");
    }

    #[test]
    fn rescale_bias_rounds_half_away() {
        assert_eq!(rescale_bias(5, 1, 2), 3);
        assert_eq!(rescale_bias(-5, 1, 2), -3);
        assert_eq!(rescale_bias(7, 3, 3), 7);
        assert_eq!(rescale_bias(i64::MAX, 2, 1), i64::MAX);
    }
}
