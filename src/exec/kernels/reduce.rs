//! MEAN on int8 and int16 tensors, bit for bit as the TFLite Micro reference
//! kernel (`reference_ops::QuantizedMeanOrSum`) computes it.
//!
//! Limitation: float32 MEAN and the other reductions (SUM, REDUCE_MAX, ...)
//! are not implemented, and the axes must be a constant int32 tensor.

use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::{format_shape, DataType};
use crate::numeric::{multiply_by_quantized_multiplier, quantize_multiplier, QuantizedMultiplier};

/// A prepared MEAN.
///
/// TFLite Micro takes one path whether or not input and output share a
/// scale. The input elements of each output are summed in a wrapping i32
/// and `zero_point * count` is subtracted. The difference is multiplied by
/// `input_scale / output_scale`, with `1 / count` folded into the multiplier
/// (see [`fold_count`]). Then the output zero point is added and the result
/// saturated to the output type. There is no fused activation.
#[derive(Debug)]
struct Mean {
    label: OpLabel,
    dtype: DataType,
    input_len: usize,
    /// Output position of every input element.
    output_index: Vec<usize>,
    output_shape: Vec<usize>,
    output_len: usize,
    /// Number of input elements averaged into each output.
    count: i64,
    input_zero_point: i32,
    output_zero_point: i32,
    multiplier: QuantizedMultiplier,
}

/// Prepares MEAN, reducing the axes in constant input 1.
pub(crate) fn prepare_mean(
    context: &OpContext,
    keep_dims: bool,
) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(2, 2)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype("input", input, &[DataType::Int8, DataType::Int16])?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }
    let axes_tensor = context.input(1)?;
    context.expect_dtype("axes", axes_tensor, &[DataType::Int32])?;
    let axes = resolve_axes(
        context,
        &context.constant_ints(1, "axes")?,
        input.shape.len(),
    )?;

    let reduced: Vec<bool> = (0..input.shape.len())
        .map(|axis| axes.contains(&axis))
        .collect();
    let kept: Vec<usize> = input
        .shape
        .iter()
        .zip(&reduced)
        .filter(|(_, &is_reduced)| !is_reduced)
        .map(|(&dim, _)| dim)
        .collect();
    let output_len: usize = kept.iter().product();
    if output.element_count() != output_len {
        let keep_shape: Vec<usize> = input
            .shape
            .iter()
            .zip(&reduced)
            .map(|(&dim, &is_reduced)| if is_reduced { 1 } else { dim })
            .collect();
        let expected = if keep_dims { keep_shape } else { kept };
        return Err(context.invalid(format!(
            "output shape is {}; reducing {} over axes {axes:?} gives {}",
            format_shape(&output.shape),
            format_shape(&input.shape),
            format_shape(&expected)
        )));
    }
    let count: i64 = axes.iter().map(|&axis| input.shape[axis] as i64).product();

    let input_quant = context.positive_quant("input", input)?;
    let output_quant = context.positive_quant("output", output)?;
    let real = f64::from(input_quant.scale) / f64::from(output_quant.scale);
    let multiplier = fold_count(quantize_multiplier(real), count);

    Ok(Box::new(Mean {
        label: context.label(),
        dtype,
        input_len: input.element_count(),
        output_index: output_positions(&input.shape, &reduced),
        output_shape: output.shape.clone(),
        output_len,
        count,
        input_zero_point: input_quant.zero_point,
        output_zero_point: output_quant.zero_point,
        multiplier,
    }))
}

/// Resolves negative axes against `rank` and drops duplicates, keeping the
/// first occurrence (TFLite `ResolveAxis`).
fn resolve_axes(context: &OpContext, axes: &[i64], rank: usize) -> Result<Vec<usize>, ExecError> {
    let mut resolved = Vec::with_capacity(axes.len());
    for &axis in axes {
        let positive = if axis < 0 { axis + rank as i64 } else { axis };
        let axis_index = usize::try_from(positive)
            .ok()
            .filter(|&index| index < rank)
            .ok_or_else(|| {
                context.invalid(format!("axis {axis} is out of range for input rank {rank}"))
            })?;
        if !resolved.contains(&axis_index) {
            resolved.push(axis_index);
        }
    }
    Ok(resolved)
}

/// Folds `1 / count` into `multiplier` the way TFLite's `QuantizedMeanOrSum`
/// does: with `s = min(floor(log2(count)), 32, 31 + shift)`, the new
/// multiplier is `(multiplier << s) / count` (truncating) and the new shift
/// `shift - s`. A count of 0 or 1 leaves the multiplier unchanged.
fn fold_count(multiplier: QuantizedMultiplier, count: i64) -> QuantizedMultiplier {
    if count <= 1 {
        return multiplier;
    }
    let log2 = 63 - count.leading_zeros() as i32;
    let shift = log2.min(32).min(31 + multiplier.shift).max(0);
    let folded = (i64::from(multiplier.multiplier) << shift) / count;
    QuantizedMultiplier {
        multiplier: folded as i32,
        shift: multiplier.shift - shift,
    }
}

/// Returns, for every input element in row-major order, the row-major
/// position of its output among the kept (not reduced) dimensions.
fn output_positions(input_shape: &[usize], reduced: &[bool]) -> Vec<usize> {
    let total: usize = input_shape.iter().product();
    let mut positions = Vec::with_capacity(total);
    if total == 0 {
        return positions;
    }
    // Output stride of each input dimension; 0 for reduced dimensions.
    let mut output_strides = vec![0; input_shape.len()];
    let mut stride = 1;
    for axis in (0..input_shape.len()).rev() {
        if !reduced[axis] {
            output_strides[axis] = stride;
            stride *= input_shape[axis];
        }
    }
    let mut index = vec![0; input_shape.len()];
    let mut position = 0;
    for _ in 0..total {
        positions.push(position);
        for axis in (0..input_shape.len()).rev() {
            index[axis] += 1;
            position += output_strides[axis];
            if index[axis] < input_shape[axis] {
                break;
            }
            position -= output_strides[axis] * index[axis];
            index[axis] = 0;
        }
    }
    positions
}

impl Kernel for Mean {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(&self.label, "input", value, self.dtype, self.input_len)?;
        let data = match &value.data {
            TensorData::I8(values) => {
                TensorData::I8(self.mean(values).into_iter().map(|x| x as i8).collect())
            }
            TensorData::I16(values) => {
                TensorData::I16(self.mean(values).into_iter().map(|x| x as i16).collect())
            }
            _ => return Err(self.label.invalid("input type changed after prepare")),
        };
        Ok(vec![TensorValue {
            shape: self.output_shape.clone(),
            data,
        }])
    }
}

impl Mean {
    /// Computes the saturated means, one per output element. An empty input
    /// gives zeros (not the zero point), as the reference leaves them.
    fn mean<T: Copy + Into<i32>>(&self, input: &[T]) -> Vec<i32> {
        let mut sums = vec![0_i32; self.output_len];
        if input.is_empty() {
            return sums;
        }
        for (&x, &position) in input.iter().zip(&self.output_index) {
            sums[position] = sums[position].wrapping_add(x.into());
        }

        let (low, high) = match self.dtype {
            DataType::Int16 => (i32::from(i16::MIN), i32::from(i16::MAX)),
            _ => (i32::from(i8::MIN), i32::from(i8::MAX)),
        };
        let offset = i64::from(self.input_zero_point) * self.count;
        sums.iter()
            .map(|&sum| {
                // The reference narrows the i64 difference back to i32.
                let shifted = (i64::from(sum) - offset) as i32;
                let scaled = multiply_by_quantized_multiplier(
                    shifted,
                    self.multiplier.multiplier,
                    self.multiplier.shift,
                );
                scaled.wrapping_add(self.output_zero_point).clamp(low, high)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_count_divides_multiplier() {
        let one = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 1,
        };
        // count 4: s = 2, (2^30 << 2) / 4 = 2^30, shift 1 - 2 = -1: a quarter.
        assert_eq!(
            fold_count(one, 4),
            QuantizedMultiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        // count 49: s = 5, (2^30 << 5) / 49 truncated.
        let expected = ((1_i64 << 35) / 49) as i32;
        assert_eq!(
            fold_count(one, 49),
            QuantizedMultiplier {
                multiplier: expected,
                shift: -4
            }
        );
        assert_eq!(fold_count(one, 1), one);
    }

    #[test]
    fn fold_count_limits_shift_to_31_plus_shift() {
        let small = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: -30,
        };
        // log2(1024) = 10, but 31 + (-30) = 1 caps it.
        assert_eq!(
            fold_count(small, 1024),
            QuantizedMultiplier {
                multiplier: ((1_i64 << 31) / 1024) as i32,
                shift: -31
            }
        );
    }

    #[test]
    fn mean_of_same_scale_rounds_ties_up() {
        // Mean of [-1, -2] at zero point 0 and equal scales is -1.5. The
        // folded multiplier is 2^30 with shift 0, so only the high multiply
        // rounds, and it rounds ties toward +inf: -1, not -2.
        let one = QuantizedMultiplier {
            multiplier: 1 << 30,
            shift: 1,
        };
        let mean = Mean {
            label: OpLabel {
                index: 0,
                op: "MEAN".into(),
            },
            dtype: DataType::Int8,
            input_len: 2,
            output_index: vec![0, 0],
            output_shape: vec![1],
            output_len: 1,
            count: 2,
            input_zero_point: 0,
            output_zero_point: 0,
            multiplier: fold_count(one, 2),
        };
        assert_eq!(mean.mean(&[-1_i8, -2]), vec![-1]);
        assert_eq!(mean.mean(&[1_i8, 2]), vec![2]);
        assert_eq!(mean.mean(&[127_i8, 127]), vec![127]);
    }

    #[test]
    fn output_positions_skip_reduced_axes() {
        // [2, 3] reduced over axis 1: each row maps to its own output.
        assert_eq!(
            output_positions(&[2, 3], &[false, true]),
            vec![0, 0, 0, 1, 1, 1]
        );
        // Reduced over axis 0: each column maps to its own output.
        assert_eq!(
            output_positions(&[2, 3], &[true, false]),
            vec![0, 1, 2, 0, 1, 2]
        );
    }
}
