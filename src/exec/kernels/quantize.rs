//! QUANTIZE (float32 to int8 or int16, and integer requantisation between
//! int8, uint8, int16 and int32) and DEQUANTIZE (int8, int16 or uint8 to
//! float32), bit for bit as the TFLite Micro reference kernels compute them.
//!
//! Limitation: only per-tensor quantisation; a per-channel QUANTIZE output
//! is rejected, as TFLite Micro does.

use super::op_context::{check_value, operand, OpContext, OpLabel, TensorQuant};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::DataType;
use crate::numeric::{multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier};

/// Integer requantisations TFLite Micro implements, as (input, output).
const REQUANTIZE_PAIRS: &[(DataType, DataType)] = &[
    (DataType::Int8, DataType::Int8),
    (DataType::Int8, DataType::UInt8),
    (DataType::Int8, DataType::Int16),
    (DataType::Int8, DataType::Int32),
    (DataType::UInt8, DataType::Int8),
    (DataType::Int16, DataType::Int8),
    (DataType::Int16, DataType::Int16),
    (DataType::Int16, DataType::Int32),
    (DataType::Int32, DataType::Int8),
    (DataType::Int32, DataType::Int16),
];

/// The per-element conversion of a prepared QUANTIZE or DEQUANTIZE.
#[derive(Debug, Clone, Copy)]
enum Conversion {
    /// TFLite `AffineQuantize`: `round(x / scale) + zero_point` in float32,
    /// rounding half away from zero, saturated to the output type.
    Quantize { output: TensorQuant },
    /// TFLite `Requantize`: `(x - input_zero_point)` scaled by
    /// `input_scale / output_scale` with two roundings, plus the output zero
    /// point, saturated to the output type.
    Requantize {
        input_zero_point: i32,
        multiplier: QuantizedMultiplier,
        output_zero_point: i32,
    },
    /// TFLite `Dequantize`: `scale * (x - zero_point)` in double, rounded
    /// to float32.
    Dequantize { input: TensorQuant },
}

/// A prepared QUANTIZE or DEQUANTIZE.
#[derive(Debug)]
struct Convert {
    label: OpLabel,
    input_dtype: DataType,
    output_dtype: DataType,
    len: usize,
    shape: Vec<usize>,
    conversion: Conversion,
}

/// Prepares QUANTIZE.
///
/// Matches TFLite Micro `PrepareQuantizeReference`: the output must have one
/// scale, and integer inputs are requantised with the multiplier of
/// `input_scale / output_scale` computed in double.
pub(crate) fn prepare_quantize(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 1)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    check_same_count(context, input, output)?;
    if output
        .quantization
        .as_ref()
        .is_some_and(|quant| quant.scales.len() != 1)
    {
        return Err(context
            .invalid("output has per-channel quantization; QUANTIZE supports one scale only"));
    }

    let conversion = if input.dtype == DataType::Float32 {
        context.expect_dtype("output", output, &[DataType::Int8, DataType::Int16])?;
        Conversion::Quantize {
            output: context.positive_quant("output", output)?,
        }
    } else {
        if !REQUANTIZE_PAIRS.contains(&(input.dtype, output.dtype)) {
            return Err(context.invalid(format!(
                "requantizing {} to {} is not supported; supported are float32 to int8 or int16, int8 to int8, uint8, int16 or int32, uint8 to int8, int16 to int8, int16 or int32, int32 to int8 or int16",
                input.dtype, output.dtype
            )));
        }
        let input_quant = context.positive_quant("input", input)?;
        let output_quant = context.positive_quant("output", output)?;
        let real = f64::from(input_quant.scale) / f64::from(output_quant.scale);
        Conversion::Requantize {
            input_zero_point: input_quant.zero_point,
            multiplier: quantize_multiplier(real),
            output_zero_point: output_quant.zero_point,
        }
    };
    Ok(Box::new(Convert::new(context, input, output, conversion)))
}

/// Prepares DEQUANTIZE (TFLite Micro `DequantizePrepare`): int8, int16 or
/// uint8 input, float32 output, the input's first scale and zero point.
pub(crate) fn prepare_dequantize(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 1)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    check_same_count(context, input, output)?;
    context.expect_dtype(
        "input",
        input,
        &[DataType::Int8, DataType::Int16, DataType::UInt8],
    )?;
    context.expect_dtype("output", output, &[DataType::Float32])?;
    let conversion = Conversion::Dequantize {
        input: context.quant("input", input)?,
    };
    Ok(Box::new(Convert::new(context, input, output, conversion)))
}

fn check_same_count(
    context: &OpContext,
    input: &crate::model::Tensor,
    output: &crate::model::Tensor,
) -> Result<(), ExecError> {
    if input.element_count() != output.element_count() {
        return Err(context.invalid(format!(
            "input has {} elements and output {}; expected equal counts",
            input.element_count(),
            output.element_count()
        )));
    }
    Ok(())
}

impl Convert {
    fn new(
        context: &OpContext,
        input: &crate::model::Tensor,
        output: &crate::model::Tensor,
        conversion: Conversion,
    ) -> Convert {
        Convert {
            label: context.label(),
            input_dtype: input.dtype,
            output_dtype: output.dtype,
            len: input.element_count(),
            shape: output.shape.clone(),
            conversion,
        }
    }
}

impl Kernel for Convert {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(&self.label, "input", value, self.input_dtype, self.len)?;

        let data = match self.conversion {
            Conversion::Quantize { output } => {
                let TensorData::F32(values) = &value.data else {
                    return Err(self.label.invalid("input type changed after prepare"));
                };
                let quantized = values.iter().map(|&x| affine_quantize(x, output));
                narrow(quantized, self.output_dtype)
            }
            Conversion::Requantize {
                input_zero_point,
                multiplier,
                output_zero_point,
            } => {
                let requantized = widen(&value.data).map(|x| {
                    let centred = x.wrapping_sub(input_zero_point);
                    multiply_by_quantized_multiplier(
                        centred,
                        multiplier.multiplier,
                        multiplier.shift,
                    )
                    .wrapping_add(output_zero_point)
                });
                narrow(requantized, self.output_dtype)
            }
            Conversion::Dequantize { input } => {
                let scale = f64::from(input.scale);
                let zero_point = input.zero_point;
                TensorData::F32(
                    widen(&value.data)
                        .map(|x| (scale * f64::from(x.wrapping_sub(zero_point))) as f32)
                        .collect(),
                )
            }
        };
        Ok(vec![TensorValue {
            shape: self.shape.clone(),
            data,
        }])
    }
}

/// Computes `round(x / scale) + zero_point` as TFLite `AffineQuantize` does
/// on x86-64. Division and rounding (half away from zero) are in float32.
/// The conversion to i32 gives `i32::MIN` for NaN and out-of-range values,
/// as `cvttss2si` does, so +inf quantises to the type's minimum. The zero
/// point is added with i32 wrap-around.
fn affine_quantize(x: f32, output: TensorQuant) -> i32 {
    let rounded = (x / output.scale).round();
    // 2^31 is exactly representable in f32; anything from it upward overflows.
    let truncated = if (-2_147_483_648.0_f32..2_147_483_648.0_f32).contains(&rounded) {
        rounded as i32
    } else {
        i32::MIN
    };
    truncated.wrapping_add(output.zero_point)
}

/// Widens integer elements to i32. Floats and wider types never reach here
/// because prepare admits only the integer types below; they give no
/// elements.
fn widen(data: &TensorData) -> Box<dyn Iterator<Item = i32> + '_> {
    match data {
        TensorData::I8(values) => Box::new(values.iter().map(|&x| i32::from(x))),
        TensorData::U8(values) => Box::new(values.iter().map(|&x| i32::from(x))),
        TensorData::I16(values) => Box::new(values.iter().map(|&x| i32::from(x))),
        TensorData::I32(values) => Box::new(values.iter().copied()),
        TensorData::I64(_) | TensorData::F32(_) | TensorData::Bool(_) => {
            Box::new(std::iter::empty())
        }
    }
}

/// Saturates each value to `dtype` (int8, uint8, int16 or int32).
fn narrow(values: impl Iterator<Item = i32>, dtype: DataType) -> TensorData {
    match dtype {
        DataType::Int8 => TensorData::I8(
            values
                .map(|x| x.clamp(i8::MIN.into(), i8::MAX.into()) as i8)
                .collect(),
        ),
        DataType::UInt8 => {
            TensorData::U8(values.map(|x| x.clamp(0, u8::MAX.into()) as u8).collect())
        }
        DataType::Int16 => TensorData::I16(
            values
                .map(|x| x.clamp(i16::MIN.into(), i16::MAX.into()) as i16)
                .collect(),
        ),
        _ => TensorData::I32(values.collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quant(scale: f32, zero_point: i32) -> TensorQuant {
        TensorQuant { scale, zero_point }
    }

    #[test]
    fn affine_quantize_rounds_half_away() {
        let output = quant(0.5, -1);
        assert_eq!(affine_quantize(0.25, output), 0); // 0.5 -> 1, -1 + 1
        assert_eq!(affine_quantize(-0.25, output), -2); // -0.5 -> -1
        assert_eq!(affine_quantize(0.74, output), 0); // 1.48 -> 1
    }

    #[test]
    fn affine_quantize_out_of_range_is_int_min() {
        let output = quant(1.0, 0);
        assert_eq!(affine_quantize(f32::NAN, output), i32::MIN);
        assert_eq!(affine_quantize(f32::INFINITY, output), i32::MIN);
        assert_eq!(affine_quantize(3.0e9, output), i32::MIN);
        assert_eq!(affine_quantize(-2_147_483_648.0, output), i32::MIN);
        // i32::MIN + (-1) wraps to i32::MAX, which then saturates high.
        assert_eq!(affine_quantize(f32::NAN, quant(1.0, -1)), i32::MAX);
    }

    #[test]
    fn narrow_saturates() {
        let values = [-200, -128, 0, 127, 300];
        assert_eq!(
            narrow(values.into_iter(), DataType::Int8),
            TensorData::I8(vec![-128, -128, 0, 127, 127])
        );
        assert_eq!(
            narrow(values.into_iter(), DataType::UInt8),
            TensorData::U8(vec![0, 0, 0, 127, 255])
        );
    }
}
