//! SOFTMAX (int8 input, int8 or int16 output) and LOGISTIC (int8), bit for
//! bit as the TFLite Micro reference kernels compute them with gemmlowp
//! fixed-point arithmetic.
//!
//! Limitation: the int16-input variants of both operators (lookup tables
//! filled with float math) and the float32 variants are not implemented.

use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::{format_shape, DataType};
use crate::numeric::fixedpoint::{
    exp_on_negative_values, get_reciprocal, logistic, Q12_19, Q4_27, Q5_26,
};
use crate::numeric::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    rounding_divide_by_pot, LogisticParams, SoftmaxParams, SOFTMAX_ACCUMULATION_INTEGER_BITS,
};

/// A prepared int8 SOFTMAX over the last dimension.
///
/// Matches TFLite `reference_ops::Softmax` for int8 input. Per row, each
/// difference to the row maximum that is at least `diff_min` is scaled to
/// Q5.26, exponentiated to Q0.31 and summed in Q12.19. Each output is the
/// sum's reciprocal times the exponential, shifted down to the output width
/// and offset by the output type's minimum. Differences below `diff_min`
/// give the minimum.
#[derive(Debug)]
struct Softmax {
    label: OpLabel,
    output_dtype: DataType,
    shape: Vec<usize>,
    /// Length of the last dimension, the one normalised.
    depth: usize,
    params: SoftmaxParams,
}

/// Prepares SOFTMAX with scaling factor `beta`.
///
/// Checks what TFLite Micro `CalculateSoftmaxParams` checks for int8 input:
/// an int8 output has zero point -128 and scale exactly 1/256, an int16
/// output zero point -32768 and scale 1/65536 within 0.1 %.
pub(crate) fn prepare_softmax(
    context: &OpContext,
    beta: f32,
) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 1)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    context.expect_dtype("input", input, &[DataType::Int8])?;
    let output_dtype =
        context.expect_dtype("output", output, &[DataType::Int8, DataType::Int16])?;
    let Some(&depth) = input.shape.last() else {
        return Err(context.invalid("input is a scalar; expected at least one dimension"));
    };
    if output.shape != input.shape {
        return Err(context.invalid(format!(
            "output shape {} differs from input shape {}",
            format_shape(&output.shape),
            format_shape(&input.shape)
        )));
    }

    let output_quant = context.quant("output", output)?;
    let valid_output = match output_dtype {
        DataType::Int8 => output_quant.zero_point == -128 && output_quant.scale == 1.0 / 256.0,
        _ => {
            output_quant.zero_point == -32768
                && (output_quant.scale - 1.0 / 65536.0).abs() <= 0.001 / 65536.0
        }
    };
    if !valid_output {
        let expected = match output_dtype {
            DataType::Int8 => "scale 1/256 and zero point -128",
            _ => "scale 1/65536 and zero point -32768",
        };
        return Err(context.invalid(format!(
            "{output_dtype} output has scale {} and zero point {}; expected {expected}",
            output_quant.scale, output_quant.zero_point
        )));
    }

    let input_quant = context.quant("input", input)?;
    let params = SoftmaxParams::int8(beta, input_quant.scale).ok_or_else(|| {
        context.invalid(format!(
            "beta {beta} times input scale {} gives an input multiplier that is not above 1; expected a larger product",
            input_quant.scale
        ))
    })?;
    Ok(Box::new(Softmax {
        label: context.label(),
        output_dtype,
        shape: input.shape.clone(),
        depth,
        params,
    }))
}

impl Kernel for Softmax {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(
            &self.label,
            "input",
            value,
            DataType::Int8,
            self.shape.iter().product(),
        )?;
        let TensorData::I8(values) = &value.data else {
            return Err(self.label.invalid("input type changed after prepare"));
        };

        let (output_bits, output_min, output_max) = match self.output_dtype {
            DataType::Int16 => (16, i32::from(i16::MIN), i32::from(i16::MAX)),
            _ => (8, i32::from(i8::MIN), i32::from(i8::MAX)),
        };
        let mut outputs = Vec::with_capacity(values.len());
        for row in values.chunks(self.depth.max(1)) {
            self.softmax_row(row, output_bits, output_min, output_max, &mut outputs)?;
        }

        let data = match self.output_dtype {
            DataType::Int16 => TensorData::I16(outputs.into_iter().map(|x| x as i16).collect()),
            _ => TensorData::I8(outputs.into_iter().map(|x| x as i8).collect()),
        };
        Ok(vec![TensorValue {
            shape: self.shape.clone(),
            data,
        }])
    }
}

impl Softmax {
    /// Appends the outputs of one row, each in `output_min..=output_max`.
    fn softmax_row(
        &self,
        row: &[i8],
        output_bits: i32,
        output_min: i32,
        output_max: i32,
        outputs: &mut Vec<i32>,
    ) -> Result<(), ExecError> {
        let max_in_row = row
            .iter()
            .copied()
            .max()
            .map_or(i32::from(i8::MIN), i32::from);
        // exp(scale * beta * (x - max)) in Q0.31, or `None` below diff_min.
        let exp_of = |x: i8| {
            let diff = i32::from(x) - max_in_row;
            (diff >= self.params.diff_min).then(|| {
                let scaled = multiply_by_quantized_multiplier_greater_than_one(
                    diff,
                    self.params.input_multiplier,
                    self.params.input_left_shift,
                );
                exp_on_negative_values(Q5_26::from_raw(scaled))
            })
        };

        let mut sum_of_exps = Q12_19::zero();
        for exp in row.iter().filter_map(|&x| exp_of(x)) {
            sum_of_exps = sum_of_exps + exp.rescale::<{ SOFTMAX_ACCUMULATION_INTEGER_BITS }>();
        }
        let (reciprocal, num_bits_over_unit) =
            get_reciprocal(sum_of_exps.raw(), SOFTMAX_ACCUMULATION_INTEGER_BITS as i32);
        let exponent = num_bits_over_unit + 31 - output_bits;
        if !(0..=31).contains(&exponent) {
            return Err(self.label.invalid(format!(
                "sum of exponentials {} gives output shift {exponent}, outside 0..=31",
                sum_of_exps.raw()
            )));
        }

        for &x in row {
            let output = match exp_of(x) {
                Some(exp) => {
                    let unsaturated = rounding_divide_by_pot((reciprocal * exp).raw(), exponent);
                    unsaturated
                        .wrapping_add(output_min)
                        .clamp(output_min, output_max)
                }
                None => output_min,
            };
            outputs.push(output);
        }
        Ok(())
    }
}

/// A prepared int8 LOGISTIC.
///
/// Matches TFLite `reference_integer_ops::Logistic` for int8. Inputs at or
/// beyond the input radius saturate to -128 or 127. The others are rescaled
/// to Q4.27 and passed through gemmlowp `logistic` to Q0.31, which is
/// shifted down by 23 bits (ties away from zero) and offset by -128.
#[derive(Debug)]
struct Logistic {
    label: OpLabel,
    shape: Vec<usize>,
    params: LogisticParams,
}

/// Prepares LOGISTIC. As in TFLite Micro, the int8 output must have zero
/// point -128; its scale is not checked (the kernel assumes 1/256).
pub(crate) fn prepare_logistic(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 1)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    context.expect_dtype("input", input, &[DataType::Int8])?;
    context.expect_dtype("output", output, &[DataType::Int8])?;
    if output.element_count() != input.element_count() {
        return Err(context.invalid(format!(
            "output shape {} differs in size from input shape {}",
            format_shape(&output.shape),
            format_shape(&input.shape)
        )));
    }

    let output_quant = context.quant("output", output)?;
    if output_quant.zero_point != -128 {
        return Err(context.invalid(format!(
            "int8 output has zero point {}; expected -128",
            output_quant.zero_point
        )));
    }
    let input_quant = context.quant("input", input)?;
    let params =
        LogisticParams::int8(input_quant.scale, input_quant.zero_point).ok_or_else(|| {
            context.invalid(format!(
                "input scale {} is not finite; expected a finite scale",
                input_quant.scale
            ))
        })?;
    Ok(Box::new(Logistic {
        label: context.label(),
        shape: output.shape.clone(),
        params,
    }))
}

impl Kernel for Logistic {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(
            &self.label,
            "input",
            value,
            DataType::Int8,
            self.shape.iter().product(),
        )?;
        let TensorData::I8(values) = &value.data else {
            return Err(self.label.invalid("input type changed after prepare"));
        };
        let outputs = values
            .iter()
            .map(|&x| logistic_int8(x, &self.params))
            .collect();
        Ok(vec![TensorValue {
            shape: self.shape.clone(),
            data: TensorData::I8(outputs),
        }])
    }
}

/// Computes one element of int8 LOGISTIC.
fn logistic_int8(x: i8, params: &LogisticParams) -> i8 {
    let input = i32::from(x).wrapping_sub(params.input_zero_point);
    if input <= -params.input_range_radius {
        return i8::MIN;
    }
    if input >= params.input_range_radius {
        return i8::MAX;
    }
    let input_q4 =
        multiply_by_quantized_multiplier(input, params.input_multiplier, params.input_left_shift);
    let output_q0 = logistic(Q4_27::from_raw(input_q4)).raw();
    // Q0.31 to the int8 grid of 1/256: drop 23 bits, then add the zero point.
    let output = rounding_divide_by_pot(output_q0, 23) - 128;
    output.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logistic_params(scale: f32, zero_point: i32) -> LogisticParams {
        LogisticParams::int8(scale, zero_point).unwrap()
    }

    #[test]
    fn logistic_of_zero_is_one_half() {
        // sigmoid(0) = 0.5, which is 128 steps of 1/256 above -128: 0.
        let params = logistic_params(0.1, 3);
        assert_eq!(logistic_int8(3, &params), 0);
    }

    #[test]
    fn logistic_saturates_beyond_radius() {
        // Scale 0.1: 0.1 * 2^27 lies in [2^23, 2^24), so the shift is 24 and
        // the radius 15 * 2^(27 - 24) = 120 steps.
        let params = logistic_params(0.1, 0);
        assert_eq!(params.input_range_radius, 120);
        assert_eq!(logistic_int8(127, &params), 127);
        assert_eq!(logistic_int8(-128, &params), -128);
    }

    #[test]
    fn logistic_of_huge_scale_saturates_everything() {
        // Scale 16: 16 * 2^27 = 2^31 gives shift 32 and input radius 0, so the
        // reference maps 0 and below to -128 and everything above to 127.
        let params = logistic_params(16.0, 0);
        assert_eq!(params.input_range_radius, 0);
        assert_eq!(logistic_int8(0, &params), -128);
        assert_eq!(logistic_int8(1, &params), 127);
    }

    #[test]
    fn logistic_is_monotonic() {
        let params = logistic_params(0.05, -10);
        let outputs: Vec<i8> = (-128..=127).map(|x| logistic_int8(x, &params)).collect();
        assert!(
            outputs.windows(2).all(|pair| pair[0] <= pair[1]),
            "{outputs:?}"
        );
    }

    fn softmax(output_dtype: DataType, depth: usize, input_scale: f32) -> Softmax {
        Softmax {
            label: OpLabel {
                index: 0,
                op: "SOFTMAX".into(),
            },
            output_dtype,
            shape: vec![1, depth],
            depth,
            params: SoftmaxParams::int8(1.0, input_scale).unwrap(),
        }
    }

    fn run_row(kernel: &Softmax, row: &[i8]) -> Vec<i32> {
        let (bits, min, max) = match kernel.output_dtype {
            DataType::Int16 => (16, i32::from(i16::MIN), i32::from(i16::MAX)),
            _ => (8, i32::from(i8::MIN), i32::from(i8::MAX)),
        };
        let mut outputs = Vec::new();
        kernel
            .softmax_row(row, bits, min, max, &mut outputs)
            .unwrap();
        outputs
    }

    #[test]
    fn softmax_of_equal_inputs_is_uniform() {
        // Four equal inputs: 1/4 each, 64 steps of 1/256 above -128.
        let kernel = softmax(DataType::Int8, 4, 0.1);
        assert_eq!(run_row(&kernel, &[5, 5, 5, 5]), vec![-64; 4]);
        // Two equal inputs: 1/2 each.
        let kernel = softmax(DataType::Int8, 2, 0.1);
        assert_eq!(run_row(&kernel, &[-7, -7]), vec![0, 0]);
    }

    #[test]
    fn softmax_of_one_input_saturates_at_max() {
        // A single element has probability 1, which is 256 steps: clamped.
        let kernel = softmax(DataType::Int8, 1, 0.1);
        assert_eq!(run_row(&kernel, &[42]), vec![127]);
    }

    #[test]
    fn softmax_far_below_max_is_minimum() {
        // With scale 1, a difference of -255 is far below diff_min.
        let kernel = softmax(DataType::Int8, 2, 1.0);
        assert_eq!(run_row(&kernel, &[127, -128]), vec![127, -128]);
    }

    #[test]
    fn softmax_int16_output_of_equal_inputs() {
        // 1/2 in steps of 1/65536 above -32768: 0.
        let kernel = softmax(DataType::Int16, 2, 0.1);
        assert_eq!(run_row(&kernel, &[1, 1]), vec![0, 0]);
    }
}
