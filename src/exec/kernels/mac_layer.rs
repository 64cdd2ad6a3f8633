//! Prepare-time reading of the operands every MAC layer shares (activations,
//! int8 weights, bias) and the plan that ties them to a datapath: the
//! accumulator register, the operand offset, each channel's starting value
//! and the PPU.
//!
//! Limitation: the activations are int8 or int16 (the 16x8 scheme) with
//! symmetric int16 zero points, and the weights are int8 with zero point 0;
//! int4 weights, uint8 and hybrid float layers are rejected.

use super::mac_ppu::Ppu;
use super::op_context::{OpContext, TensorQuant};
use crate::exec::datapath::{AccumulatorMode, BiasMode, RequantMode, ZeroPointMode};
use crate::exec::{Datapath, ExecError, TensorData, TensorValue};
use crate::model::{format_shape, DataType, Tensor};
use crate::numeric::{quantize_multiplier, QuantizedMultiplier};

/// Element type of a MAC layer's input and output activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activations {
    /// int8 activations, int8 weights, int32 bias.
    Int8,
    /// int16 activations, int8 weights, int64 or int32 bias (16x8).
    Int16,
}

impl Activations {
    pub fn dtype(self) -> DataType {
        match self {
            Activations::Int8 => DataType::Int8,
            Activations::Int16 => DataType::Int16,
        }
    }
}

/// Input and output quantisation of a MAC layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerActivations {
    pub activations: Activations,
    pub input: TensorQuant,
    pub output: TensorQuant,
}

/// Reads and checks the input and output activation tensors: int8 or int16,
/// the same type on both sides, per-tensor quantisation with a positive
/// scale, an int8 zero point inside the int8 range and an int16 zero point
/// of 0.
///
/// TFLite Micro's 16x8 convolutions ignore the zero points, and its 16x8
/// fully connected layer applies them; requiring 0 makes both agree.
pub(crate) fn read_activations(
    context: &OpContext,
    input: &Tensor,
    output: &Tensor,
) -> Result<LayerActivations, ExecError> {
    let dtype = context.expect_dtype("input", input, &[DataType::Int8, DataType::Int16])?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }
    let activations = if dtype == DataType::Int8 {
        Activations::Int8
    } else {
        Activations::Int16
    };
    let input_quant = context.positive_quant("input", input)?;
    let output_quant = context.positive_quant("output", output)?;
    for (what, tensor, quant) in [
        ("input", input, input_quant),
        ("output", output, output_quant),
    ] {
        let valid = match activations {
            Activations::Int8 => (-128..=127).contains(&quant.zero_point),
            Activations::Int16 => quant.zero_point == 0,
        };
        if !valid {
            let expected = match activations {
                Activations::Int8 => "a value in -128..=127",
                Activations::Int16 => "0 (16x8 layers take symmetric int16 activations)",
            };
            return Err(context.invalid(format!(
                "{what} ({}) has zero point {}; expected {expected}",
                tensor.name, quant.zero_point
            )));
        }
    }
    Ok(LayerActivations {
        activations,
        input: input_quant,
        output: output_quant,
    })
}

/// Constant int8 weights with one scale per output channel.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// The weights in the tensor's own layout.
    pub values: Vec<i8>,
    /// One scale per output channel (a per-tensor scale repeated).
    pub scales: Vec<f32>,
    /// True when the file gives one scale per channel.
    pub per_channel: bool,
}

/// Reads constant int8 weights quantised per tensor or per channel along
/// `channel_axis`, which has `channels` entries.
///
/// As TFLite Micro decides, more than one scale means per-channel; a single
/// scale applies to every channel whatever `quantized_dimension` states.
/// Every zero point must be 0 (symmetric weights), which the reference
/// kernels assume.
pub(crate) fn read_weights(
    context: &OpContext,
    weights: &Tensor,
    channel_axis: usize,
    channels: usize,
) -> Result<Weights, ExecError> {
    context.expect_dtype("weights", weights, &[DataType::Int8])?;
    let values = weights.data_i8().ok_or_else(|| {
        context.invalid(format!(
            "weights ({}) are not a constant tensor; only constant weights are supported",
            weights.name
        ))
    })?;
    if values.len() != weights.element_count() {
        return Err(context.invalid(format!(
            "weights ({}) hold {} values for shape {}",
            weights.name,
            values.len(),
            format_shape(&weights.shape)
        )));
    }
    let quantization = weights.quantization.as_ref().ok_or_else(|| {
        context.invalid(format!("weights ({}) have no quantization parameters; expected one scale per tensor or per output channel", weights.name))
    })?;
    if let Some(zero_point) = quantization.zero_points.iter().find(|&&z| z != 0) {
        return Err(context.invalid(format!(
            "weights ({}) have zero point {zero_point}; expected 0 (symmetric weights)",
            weights.name
        )));
    }
    if let Some(scale) = quantization
        .scales
        .iter()
        .find(|s| !(s.is_finite() && **s >= 0.0))
    {
        return Err(context.invalid(format!(
            "weights ({}) have scale {scale}; expected a finite value >= 0",
            weights.name
        )));
    }

    let per_channel = quantization.scales.len() > 1;
    let scales = match quantization.scales.as_slice() {
        [] => return Err(context.invalid(format!("weights ({}) have no scale", weights.name))),
        [scale] => vec![*scale; channels],
        scales if scales.len() == channels && quantization.axis == Some(channel_axis) => scales.to_vec(),
        scales => {
            return Err(context.invalid(format!(
                "weights ({}) have {} scales along dimension {:?}; expected 1, or {channels} along dimension {channel_axis} (the output channels)",
                weights.name,
                scales.len(),
                quantization.axis
            )))
        }
    };
    Ok(Weights {
        values,
        scales,
        per_channel,
    })
}

/// A constant bias, one value per output channel, widened to i64.
#[derive(Debug, Clone)]
pub(crate) struct Bias {
    pub dtype: DataType,
    pub values: Vec<i64>,
}

/// Reads the optional constant bias of `channels` elements with one of the
/// `allowed` types.
pub(crate) fn read_bias(
    context: &OpContext,
    bias: Option<&Tensor>,
    channels: usize,
    allowed: &[DataType],
) -> Result<Option<Bias>, ExecError> {
    let Some(bias) = bias else {
        return Ok(None);
    };
    let dtype = context.expect_dtype("bias", bias, allowed)?;
    let values = bias.data_as_i64().ok_or_else(|| {
        context.invalid(format!(
            "bias ({}) is not a constant tensor; only constant biases are supported",
            bias.name
        ))
    })?;
    if values.len() != channels || bias.element_count() != channels {
        return Err(context.invalid(format!(
            "bias ({}) has shape {} and {} values; expected {channels}, one per output channel",
            bias.name,
            format_shape(&bias.shape),
            values.len()
        )));
    }
    Ok(Some(Bias { dtype, values }))
}

/// The accumulator register a layer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Register {
    Bits32,
    Bits64,
}

/// Picks the reference register: TFLite Micro accumulates int8 layers in
/// int32, and 16x8 layers in the bias type (int64 when there is no bias).
pub(crate) fn reference_register(activations: Activations, bias: Option<&Bias>) -> Register {
    match (activations, bias.map(|b| b.dtype)) {
        (Activations::Int8, _) => Register::Bits32,
        (Activations::Int16, Some(DataType::Int32)) => Register::Bits32,
        (Activations::Int16, _) => Register::Bits64,
    }
}

/// Everything a MAC kernel needs at eval time besides its weights.
#[derive(Debug, Clone)]
pub(crate) struct MacPlan {
    pub register: Register,
    /// Added to every input element before it is multiplied.
    pub input_offset: i32,
    /// The operand of a padded tap, after the offset.
    pub pad_value: i16,
    /// Each output channel's accumulator starting value.
    pub starts: Vec<i64>,
    pub ppu: Ppu,
}

/// Layer facts that [`plan`] combines with a datapath.
pub(crate) struct PlanInputs<'a> {
    pub layer: &'a LayerActivations,
    pub register: Register,
    pub bias: Option<&'a Bias>,
    /// Per output channel, the sum of its weights over the whole kernel
    /// (for [`ZeroPointMode::Fold`]).
    pub weight_sums: &'a [i64],
    /// Per output channel requantisation scale.
    pub scales: Vec<QuantizedMultiplier>,
    pub output_min: i32,
    pub output_max: i32,
}

/// Ties a layer to `datapath`: where the bias and the zero-point correction
/// go, which requantiser runs, and the operand offset.
pub(crate) fn plan(datapath: &Datapath, inputs: PlanInputs) -> MacPlan {
    // Irrefutable while each mode has one variant: a new variant fails to
    // compile here until this plan handles it.
    let AccumulatorMode::Reference = datapath.accumulator;
    let RequantMode::Tflite = datapath.requant;
    let channels = inputs.scales.len();
    let input_zero_point = inputs.layer.input.zero_point;

    let (input_offset, pad_value, zero_point_terms): (i32, i16, Vec<i64>) =
        match datapath.zero_point {
            ZeroPointMode::Subtract => (-input_zero_point, 0, vec![0; channels]),
            ZeroPointMode::Fold => {
                let terms = inputs
                    .weight_sums
                    .iter()
                    .map(|&sum| -i64::from(input_zero_point) * sum)
                    .collect();
                // read_activations keeps the zero point inside the int8 range.
                (0, input_zero_point as i16, terms)
            }
        };
    let biases: Vec<i64> = (0..channels)
        .map(|channel| {
            let bias = inputs.bias.map_or(0, |b| b.values[channel]);
            bias.wrapping_add(zero_point_terms[channel])
        })
        .collect();
    let (starts, post_biases) = match datapath.bias {
        BiasMode::Init => (biases, vec![0; channels]),
        BiasMode::Post => (vec![0; channels], biases),
    };

    let ppu = Ppu::new(
        &inputs.scales,
        post_biases,
        inputs.layer.output.zero_point,
        (inputs.output_min, inputs.output_max),
    );
    MacPlan {
        register: inputs.register,
        input_offset,
        pad_value,
        starts,
        ppu,
    }
}

/// Computes each output channel's multiplier and shift from the real scale
/// `input_scale * weight_scale / output_scale`, evaluated in double as
/// TFLite `PopulateConvolutionQuantizationParams` does.
pub(crate) fn channel_scales(
    layer: &LayerActivations,
    weights: &Weights,
) -> Vec<QuantizedMultiplier> {
    let (input_scale, output_scale) = (f64::from(layer.input.scale), f64::from(layer.output.scale));
    weights
        .scales
        .iter()
        .map(|&weight_scale| {
            quantize_multiplier(input_scale * f64::from(weight_scale) / output_scale)
        })
        .collect()
}

/// Converts an input value to the i16 operands the accumulation takes,
/// adding `offset` to each element. Rows of `channels` elements are laid
/// out `row_stride` apart, with zeros after each row.
///
/// Returns `None` when the value is not int8 or int16. The sum fits in i16
/// for the offsets [`plan`] produces: an int8 element plus an offset in
/// `-127..=128`, or an int16 element plus 0.
pub(crate) fn operands(
    value: &TensorValue,
    offset: i32,
    channels: usize,
    row_stride: usize,
) -> Option<Vec<i16>> {
    fn convert<T: Copy + Into<i32>>(
        values: &[T],
        offset: i32,
        channels: usize,
        row_stride: usize,
    ) -> Vec<i16> {
        let shifted = |&x: &T| (x.into() + offset) as i16;
        if channels == row_stride || channels == 0 {
            return values.iter().map(shifted).collect();
        }
        let mut operands = vec![0_i16; values.len() / channels * row_stride];
        for (row, values) in operands
            .chunks_exact_mut(row_stride)
            .zip(values.chunks_exact(channels))
        {
            for (operand, value) in row.iter_mut().zip(values) {
                *operand = shifted(value);
            }
        }
        operands
    }
    match &value.data {
        TensorData::I8(values) => Some(convert(values, offset, channels, row_stride)),
        TensorData::I16(values) => Some(convert(values, offset, channels, row_stride)),
        _ => None,
    }
}

/// An output element type of the MAC kernels.
pub(crate) trait OutputElement: Copy + Default + Send + Sync {
    /// Keeps the low bits of a clamped PPU result, as the reference's
    /// `static_cast` does (the clamp already keeps it in range unless the
    /// fused activation's range lies outside the type's).
    fn from_ppu(value: i32) -> Self;

    /// Wraps a finished output buffer.
    fn into_data(values: Vec<Self>) -> TensorData;
}

impl OutputElement for i8 {
    #[inline(always)]
    fn from_ppu(value: i32) -> i8 {
        value as i8
    }

    fn into_data(values: Vec<i8>) -> TensorData {
        TensorData::I8(values)
    }
}

impl OutputElement for i16 {
    #[inline(always)]
    fn from_ppu(value: i32) -> i16 {
        value as i16
    }

    fn into_data(values: Vec<i16>) -> TensorData {
        TensorData::I16(values)
    }
}

/// Converts int8 weights to the i16 operands of the accumulation, rows of
/// `row_len` weights each followed by zeros up to `padded_row_len`.
pub(crate) fn widen_weights(values: &[i8], row_len: usize, padded_row_len: usize) -> Vec<i16> {
    if row_len == 0 || row_len == padded_row_len {
        return values.iter().map(|&w| i16::from(w)).collect();
    }
    let mut widened = vec![0_i16; values.len() / row_len * padded_row_len];
    for (row, weights) in widened
        .chunks_exact_mut(padded_row_len)
        .zip(values.chunks_exact(row_len))
    {
        for (widened, &weight) in row.iter_mut().zip(weights) {
            *widened = i16::from(weight);
        }
    }
    widened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::datapath::{BiasMode, ZeroPointMode};

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
        }
    }

    fn plan_for(datapath: &Datapath, layer: &LayerActivations, bias: &Bias) -> MacPlan {
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
                weight_sums: &[10, -4],
                scales: vec![scale; 2],
                output_min: -128,
                output_max: 127,
            },
        )
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
    fn reference_register_follows_bias_type() {
        let int32 = Bias {
            dtype: DataType::Int32,
            values: vec![],
        };
        let int64 = Bias {
            dtype: DataType::Int64,
            values: vec![],
        };
        assert_eq!(
            reference_register(Activations::Int8, Some(&int32)),
            Register::Bits32
        );
        assert_eq!(
            reference_register(Activations::Int16, Some(&int32)),
            Register::Bits32
        );
        assert_eq!(
            reference_register(Activations::Int16, Some(&int64)),
            Register::Bits64
        );
        assert_eq!(
            reference_register(Activations::Int16, None),
            Register::Bits64
        );
    }

    #[test]
    fn operands_pad_rows_with_zeros() {
        let value = TensorValue {
            shape: vec![2, 3],
            data: TensorData::I8(vec![1, 2, 3, -128, 0, 127]),
        };
        let padded = operands(&value, 128, 3, 4).unwrap();
        assert_eq!(padded, vec![129, 130, 131, 0, 0, 128, 255, 0]);
    }

    #[test]
    fn widen_weights_pads_rows_with_zeros() {
        assert_eq!(
            widen_weights(&[1, -2, 3, -4], 2, 3),
            vec![1, -2, 0, 3, -4, 0]
        );
        assert_eq!(widen_weights(&[1, -2], 2, 2), vec![1, -2]);
    }
}
