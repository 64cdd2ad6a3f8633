//! Prepare-time reading of the operands every MAC layer shares (activations,
//! int8 weights, bias), mapped onto the datapath's operand formats, and the
//! eval-time conversion of inputs to operands. The plan that ties them to
//! the rest of the datapath lives in `mac_plan` and is re-exported here.
//!
//! Limitation: the model's activations are int8 or int16 (the 16x8 scheme)
//! with symmetric int16 zero points, and its weights are int8 with zero
//! point 0. Int4 weight tensors, uint8 and hybrid float layers are
//! rejected. A narrower datapath format is modelled by requantising int8
//! weights instead.

use super::mac_fold::FoldConfig;
use super::mac_operands::{map_input, map_weights};
use super::op_context::{OpContext, TensorQuant};
use crate::exec::arithmetic::OperandMapping;
use crate::exec::{Datapath, ExecError, TensorData, TensorValue};
use crate::model::{format_shape, DataType, Tensor};
use crate::numeric::{quantize_multiplier, IntFormat, QuantizedMultiplier};

pub(crate) use super::mac_plan::{plan, ImageShape, MacPlan, PlanInputs};

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

    /// Returns the element type as an operand format.
    pub fn format(self) -> IntFormat {
        match self {
            Activations::Int8 => IntFormat::INT8,
            Activations::Int16 => IntFormat::INT16,
        }
    }
}

/// Input and output quantisation of a MAC layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerActivations {
    pub activations: Activations,
    /// The input tensor's own quantisation.
    pub input: TensorQuant,
    pub output: TensorQuant,
    /// Mapping of input values onto the datapath's activation format.
    pub input_mapping: OperandMapping,
}

/// Reads and checks the input and output activation tensors: int8 or int16,
/// the same type on both sides, per-tensor quantisation with a positive
/// scale, an int8 zero point inside the int8 range and an int16 zero point
/// of 0. Then maps the input onto the datapath's activation format.
///
/// TFLite Micro's 16x8 convolutions ignore the zero points, and its 16x8
/// fully connected layer applies them; requiring 0 makes both agree.
pub(crate) fn read_activations(
    context: &OpContext,
    input: &Tensor,
    output: &Tensor,
    datapath: &Datapath,
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
    let input_mapping = map_input(
        context,
        &input.name,
        activations.format(),
        input_quant.zero_point,
        datapath.activation,
        datapath.zero_point,
    )?;
    Ok(LayerActivations {
        activations,
        input: input_quant,
        output: output_quant,
        input_mapping,
    })
}

/// Constant int8 weights with one scale per output channel.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// The weights in the tensor's own layout, on the datapath's weight
    /// format (see `mapping`).
    pub values: Vec<i8>,
    /// One scale per output channel (a per-tensor scale repeated), as the
    /// model gives it. Weights requantised onto a narrower format have the
    /// scale `scales * mapping.conversion.scale_ratio()`.
    pub scales: Vec<f32>,
    /// True when the file gives one scale per channel.
    pub per_channel: bool,
    /// Mapping of the tensor's values onto `values`.
    pub mapping: OperandMapping,
}

/// Reads constant int8 weights quantised per tensor or per channel along
/// `channel_axis`, which has `channels` entries, and maps them onto the
/// datapath's weight format.
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
    datapath: &Datapath,
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
    let mapped = map_weights(context, &weights.name, values, datapath.weight)?;
    Ok(Weights {
        values: mapped.values,
        scales,
        per_channel,
        mapping: mapped.mapping,
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
    /// The reference's 32-bit wrapping register.
    Bits32,
    /// The reference's 64-bit register.
    Bits64,
    /// A configured register fed in fold order, with a configured PPU.
    Fold(FoldConfig),
}

/// Picks the reference register: TFLite Micro accumulates int8 layers in
/// int32, and 16x8 layers in the bias type (int64 when there is no bias).
/// Sums each output channel's weights, for weights stored channel by channel
/// in rows of `taps` values (convolution and fully connected layouts).
pub(crate) fn channel_weight_sums(weights: &[i8], taps: usize) -> Vec<i64> {
    weights
        .chunks(taps)
        .map(|row| row.iter().map(|&w| i64::from(w)).sum())
        .collect()
}

pub(crate) fn reference_register(activations: Activations, bias: Option<&Bias>) -> Register {
    match (activations, bias.map(|b| b.dtype)) {
        (Activations::Int8, _) => Register::Bits32,
        (Activations::Int16, Some(DataType::Int32)) => Register::Bits32,
        (Activations::Int16, _) => Register::Bits64,
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
