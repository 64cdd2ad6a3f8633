//! AVERAGE_POOL_2D and MAX_POOL_2D on int8 and int16 NHWC tensors, bit for
//! bit as the TFLite Micro reference kernels compute them.
//!
//! Limitation: float32 pooling is not implemented, and input and output must
//! share scale and zero point (as TFLite Micro requires), so pooling never
//! requantises.

use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::{geometry, DataType, Hw, Pool2dAttrs};

/// The reduction a pooling window applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolKind {
    Average,
    Max,
}

/// A prepared pooling operator.
///
/// Matches TFLite Micro `reference_integer_ops::AveragePool` and `MaxPool`.
/// Windows are clipped to the input, so padding never enters a window.
/// Average pooling divides the window sum by the number of valid elements,
/// rounding half away from zero. The fused-activation clamp comes last.
#[derive(Debug)]
struct Pool2d {
    label: OpLabel,
    kind: PoolKind,
    dtype: DataType,
    /// Input extents `[batch, height, width, channels]`.
    input: [usize; 4],
    /// Output extents `[batch, height, width, channels]`.
    output: [usize; 4],
    stride: Hw,
    filter: Hw,
    /// Padding before the first row and column (TensorFlow's SAME split).
    pad_top: usize,
    pad_left: usize,
    clamp: (i32, i32),
}

/// Prepares AVERAGE_POOL_2D.
pub(crate) fn prepare_average(
    context: &OpContext,
    attrs: &Pool2dAttrs,
) -> Result<Box<dyn Kernel>, ExecError> {
    prepare(context, attrs, PoolKind::Average)
}

/// Prepares MAX_POOL_2D.
pub(crate) fn prepare_max(
    context: &OpContext,
    attrs: &Pool2dAttrs,
) -> Result<Box<dyn Kernel>, ExecError> {
    prepare(context, attrs, PoolKind::Max)
}

fn prepare(
    context: &OpContext,
    attrs: &Pool2dAttrs,
    kind: PoolKind,
) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 1)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype("input", input, &[DataType::Int8, DataType::Int16])?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }

    let input_dims = rank4(context, "input", &input.shape)?;
    let output_dims = rank4(context, "output", &output.shape)?;
    let extent = |axis: usize, kernel: usize, stride: usize| {
        geometry::output_extent(input_dims[axis], kernel, stride, 1, attrs.padding)
    };
    let (Some(out_h), Some(out_w)) = (
        extent(1, attrs.filter.h, attrs.stride.h),
        extent(2, attrs.filter.w, attrs.stride.w),
    ) else {
        return Err(context.invalid(format!(
            "filter {}x{} with stride {}x{} and {} padding gives no output for input {:?}",
            attrs.filter.h,
            attrs.filter.w,
            attrs.stride.h,
            attrs.stride.w,
            attrs.padding,
            input.shape
        )));
    };
    let expected = [input_dims[0], out_h, out_w, input_dims[3]];
    if output_dims != expected {
        return Err(context.invalid(format!(
            "output shape is {:?}; pooling input {:?} with filter {}x{}, stride {}x{} and {} padding gives {expected:?}",
            output.shape, input.shape, attrs.filter.h, attrs.filter.w, attrs.stride.h, attrs.stride.w, attrs.padding
        )));
    }

    let input_quant = context.quant("input", input)?;
    let output_quant = context.quant("output", output)?;
    // TFLite Micro accepts scales that differ by at most 1e-6 and equal
    // zero points; it then pools the raw values without requantising.
    let scale_difference = f64::from((input_quant.scale - output_quant.scale).abs());
    if scale_difference > 1.0e-6 || input_quant.zero_point != output_quant.zero_point {
        return Err(context.invalid(format!(
            "input scale {} and zero point {} differ from output scale {} and zero point {}; pooling requires equal quantization",
            input_quant.scale, input_quant.zero_point, output_quant.scale, output_quant.zero_point
        )));
    }
    let clamp = context.activation_range(attrs.activation, dtype, output_quant)?;

    let pad_top = geometry::padding(input_dims[1], attrs.filter.h, attrs.stride.h, 1, out_h).before;
    let pad_left =
        geometry::padding(input_dims[2], attrs.filter.w, attrs.stride.w, 1, out_w).before;
    Ok(Box::new(Pool2d {
        label: context.label(),
        kind,
        dtype,
        input: input_dims,
        output: output_dims,
        stride: attrs.stride,
        filter: attrs.filter,
        pad_top,
        pad_left,
        clamp,
    }))
}

fn rank4(context: &OpContext, what: &str, shape: &[usize]) -> Result<[usize; 4], ExecError> {
    <[usize; 4]>::try_from(shape).map_err(|_| {
        context.invalid(format!(
            "{what} has shape {shape:?}; expected rank 4 (NHWC)"
        ))
    })
}

impl Kernel for Pool2d {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(
            &self.label,
            "input",
            value,
            self.dtype,
            self.input.iter().product(),
        )?;

        let data = match &value.data {
            TensorData::I8(values) => {
                let pooled = self.pool(values)?;
                TensorData::I8(pooled.into_iter().map(|x| x as i8).collect())
            }
            TensorData::I16(values) => {
                let pooled = self.pool(values)?;
                TensorData::I16(pooled.into_iter().map(|x| x as i16).collect())
            }
            _ => return Err(self.label.invalid("input type changed after prepare")),
        };
        Ok(vec![TensorValue {
            shape: self.output.to_vec(),
            data,
        }])
    }
}

impl Pool2d {
    /// Pools `input` (NHWC) into clamped outputs, each within the element
    /// type's range.
    fn pool<T: Copy + Into<i32>>(&self, input: &[T]) -> Result<Vec<i32>, ExecError> {
        let [batches, in_h, in_w, depth] = self.input;
        let [_, out_h, out_w, _] = self.output;
        let mut output = Vec::with_capacity(self.output.iter().product());

        for batch in 0..batches {
            for out_y in 0..out_h {
                let rows = window(out_y, self.stride.h, self.pad_top, self.filter.h, in_h);
                for out_x in 0..out_w {
                    let cols = window(out_x, self.stride.w, self.pad_left, self.filter.w, in_w);
                    for channel in 0..depth {
                        let at = |y: usize, x: usize| {
                            input[((batch * in_h + y) * in_w + x) * depth + channel].into()
                        };
                        let pooled = match self.kind {
                            PoolKind::Average => self.average(rows.clone(), cols.clone(), at)?,
                            PoolKind::Max => max(rows.clone(), cols.clone(), at),
                        };
                        output.push(pooled.clamp(self.clamp.0, self.clamp.1));
                    }
                }
            }
        }
        Ok(output)
    }

    /// Returns the window sum divided by the number of valid elements, rounded
    /// half away from zero (see [`divide_half_away`]). The i32 sum wraps like
    /// the reference's accumulator.
    fn average(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        at: impl Fn(usize, usize) -> i32,
    ) -> Result<i32, ExecError> {
        let mut sum: i32 = 0;
        let mut count: i32 = 0;
        for y in rows {
            for x in cols.clone() {
                sum = sum.wrapping_add(at(y, x));
                count += 1;
            }
        }
        if count == 0 {
            return Err(self
                .label
                .invalid("a pooling window covers no input element"));
        }
        Ok(divide_half_away(sum, count))
    }
}

/// Rounds `sum / count` half away from zero, for `count > 0`. This is the
/// reference's `acc > 0 ? (acc + n/2) / n : (acc - n/2) / n` with truncating
/// division, and it wraps like the reference's i32.
pub(crate) fn divide_half_away(sum: i32, count: i32) -> i32 {
    if sum > 0 {
        sum.wrapping_add(count / 2) / count
    } else {
        sum.wrapping_sub(count / 2) / count
    }
}

fn max(
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    at: impl Fn(usize, usize) -> i32,
) -> i32 {
    let mut largest = i32::MIN;
    for y in rows {
        for x in cols.clone() {
            largest = largest.max(at(y, x));
        }
    }
    largest
}

/// Returns the input positions that the window of output position `out`
/// covers along one axis, clipped to `0..input`.
fn window(
    out: usize,
    stride: usize,
    pad_before: usize,
    filter: usize,
    input: usize,
) -> std::ops::Range<usize> {
    let origin = out * stride;
    let start = origin.saturating_sub(pad_before);
    let end = origin
        .saturating_add(filter)
        .saturating_sub(pad_before)
        .min(input);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divide_half_away_rounds_negative_ties_down() {
        // -10 over 4 valid elements is -2.5, which rounds to -3.
        assert_eq!(divide_half_away(-10, 4), -3);
        assert_eq!(divide_half_away(10, 4), 3);
        assert_eq!(divide_half_away(-9, 4), -2);
        assert_eq!(divide_half_away(-11, 4), -3);
        assert_eq!(divide_half_away(0, 4), 0);
        assert_eq!(divide_half_away(-1, 2), -1);
        assert_eq!(divide_half_away(1, 2), 1);
        assert_eq!(divide_half_away(-1, 3), 0);
        assert_eq!(divide_half_away(5, 1), 5);
    }

    #[test]
    fn window_clips_padding() {
        // SAME padding of a 3-wide filter over 4 positions at stride 2:
        // out = 2, total padding 1, which goes after.
        assert_eq!(window(0, 2, 0, 3, 4), 0..3);
        assert_eq!(window(1, 2, 0, 3, 4), 2..4);
        // Padding 1 before: the first window starts in the padding.
        assert_eq!(window(0, 1, 1, 3, 4), 0..2);
        assert_eq!(window(3, 1, 1, 3, 4), 2..4);
    }
}
