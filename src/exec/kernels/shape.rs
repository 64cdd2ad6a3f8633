//! Data-movement operators: PAD and PADV2, RESHAPE, TRANSPOSE and
//! CONCATENATION. None of them changes a value, so each maps output
//! elements to input elements (or to the pad value). PAD copies contiguous
//! runs of the input; the others gather through an index map.
//!
//! Limitation: like TFLite Micro, CONCATENATION does not requantise, so int8
//! inputs must share the output's scale and zero point. Paddings and
//! permutations must be constant tensors.

use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::{format_shape, Activation, DataType};

/// Element types every data-movement operator here accepts.
const MOVABLE_TYPES: &[DataType] = &[
    DataType::Int8,
    DataType::UInt8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::Float32,
    DataType::Bool,
];

/// Applies the same expression to the vector inside any [`TensorData`]
/// variant and wraps the result in that variant.
macro_rules! map_data {
    ($data:expr, $values:ident => $body:expr) => {
        match $data {
            TensorData::I8($values) => TensorData::I8($body),
            TensorData::U8($values) => TensorData::U8($body),
            TensorData::I16($values) => TensorData::I16($body),
            TensorData::I32($values) => TensorData::I32($body),
            TensorData::I64($values) => TensorData::I64($body),
            TensorData::F32($values) => TensorData::F32($body),
            TensorData::Bool($values) => TensorData::Bool($body),
        }
    };
}

/// Returns the elements of `data` at `indices`, in that order. Every index
/// must be in range, which holds because the kernels build them from
/// validated shapes.
fn gather(data: &TensorData, indices: &[usize]) -> TensorData {
    map_data!(data, values => indices.iter().map(|&index| values[index]).collect())
}

/// Joins `parts` end to end, or returns `None` when their types differ or
/// there are no parts.
fn concat(parts: &[&TensorData]) -> Option<TensorData> {
    let (first, rest) = parts.split_first()?;
    let mut joined = (*first).clone();
    for part in rest {
        match (&mut joined, part) {
            (TensorData::I8(all), TensorData::I8(more)) => all.extend_from_slice(more),
            (TensorData::U8(all), TensorData::U8(more)) => all.extend_from_slice(more),
            (TensorData::I16(all), TensorData::I16(more)) => all.extend_from_slice(more),
            (TensorData::I32(all), TensorData::I32(more)) => all.extend_from_slice(more),
            (TensorData::I64(all), TensorData::I64(more)) => all.extend_from_slice(more),
            (TensorData::F32(all), TensorData::F32(more)) => all.extend_from_slice(more),
            (TensorData::Bool(all), TensorData::Bool(more)) => all.extend_from_slice(more),
            _ => return None,
        }
    }
    Some(joined)
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// Calls `visit` with every multi-index of `shape` in row-major order.
fn for_each_index(shape: &[usize], mut visit: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut index = vec![0; shape.len()];
    loop {
        visit(&index);
        let mut axis = shape.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

/// A prepared data-movement operator: the output is `gather(source, map)`,
/// where the source is the operands joined end to end.
#[derive(Debug)]
struct Movement {
    label: OpLabel,
    dtype: DataType,
    /// Element count of each operand joined into the source, in order.
    operand_lens: Vec<usize>,
    /// Source of the pad value, for PAD and PADV2.
    pad_value: Option<PadValue>,
    /// Source index of every output element; `None` copies the source
    /// unchanged (RESHAPE) or, with `pad_rows`, pads it.
    map: Option<Vec<usize>>,
    /// PAD's row copies, which replace `map` for PAD and PADV2.
    pad_rows: Option<PadRows>,
    output_shape: Vec<usize>,
}

/// PAD's copy plan: the output is filled with the pad value, then each run
/// of the input that stays contiguous in the output is copied to its place.
/// A run covers the last padded dimension and every dimension inside it,
/// which no padding splits.
#[derive(Debug)]
struct PadRows {
    output_len: usize,
    /// Elements of one run.
    row_len: usize,
    /// Output offset of each run, in input order.
    row_offsets: Vec<usize>,
}

impl PadRows {
    /// Plans the padding of `input_shape` by `before` elements at the start
    /// of each dimension into `output_shape`, which must contain it.
    fn new(input_shape: &[usize], before: &[usize], output_shape: &[usize]) -> PadRows {
        let output_strides = strides(output_shape);
        let split = input_shape
            .iter()
            .zip(output_shape)
            .rposition(|(input, output)| input != output)
            .unwrap_or(0);
        let row_len = input_shape[split.min(input_shape.len())..].iter().product();
        let mut row_offsets = Vec::new();
        for_each_index(&input_shape[..split.min(input_shape.len())], |index| {
            let outer: usize = index
                .iter()
                .zip(before)
                .zip(&output_strides)
                .map(|((&position, &before), &stride)| (position + before) * stride)
                .sum();
            let within = before.get(split).map_or(0, |&b| b * output_strides[split]);
            row_offsets.push(outer + within);
        });
        PadRows {
            output_len: output_shape.iter().product(),
            row_len,
            row_offsets,
        }
    }

    fn apply<T: Copy>(&self, input: &[T], fill: T) -> Vec<T> {
        let mut output = vec![fill; self.output_len];
        if self.row_len == 0 {
            return output;
        }
        for (row, &offset) in input.chunks_exact(self.row_len).zip(&self.row_offsets) {
            output[offset..][..self.row_len].copy_from_slice(row);
        }
        output
    }

    /// Pads `input` with the first element of `fill`, or returns `None`
    /// when their types differ or `fill` is empty.
    fn apply_data(&self, input: &TensorData, fill: &TensorData) -> Option<TensorData> {
        Some(match (input, fill) {
            (TensorData::I8(values), TensorData::I8(fill)) => {
                TensorData::I8(self.apply(values, *fill.first()?))
            }
            (TensorData::U8(values), TensorData::U8(fill)) => {
                TensorData::U8(self.apply(values, *fill.first()?))
            }
            (TensorData::I16(values), TensorData::I16(fill)) => {
                TensorData::I16(self.apply(values, *fill.first()?))
            }
            (TensorData::I32(values), TensorData::I32(fill)) => {
                TensorData::I32(self.apply(values, *fill.first()?))
            }
            (TensorData::I64(values), TensorData::I64(fill)) => {
                TensorData::I64(self.apply(values, *fill.first()?))
            }
            (TensorData::F32(values), TensorData::F32(fill)) => {
                TensorData::F32(self.apply(values, *fill.first()?))
            }
            (TensorData::Bool(values), TensorData::Bool(fill)) => {
                TensorData::Bool(self.apply(values, *fill.first()?))
            }
            _ => return None,
        })
    }
}

/// Source of the value that PAD and PADV2 write into the padding.
#[derive(Debug, Clone)]
enum PadValue {
    /// PADV2: the scalar in this input position, read at eval time.
    Operand(usize),
    /// PAD: the output zero point for int8, zero for other types.
    Fixed(TensorData),
}

impl Kernel for Movement {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let mut parts = Vec::with_capacity(self.operand_lens.len() + 1);
        for (position, &len) in self.operand_lens.iter().enumerate() {
            let value = operand(&self.label, inputs, position)?;
            check_value(
                &self.label,
                &format!("input {position}"),
                value,
                self.dtype,
                len,
            )?;
            parts.push(&value.data);
        }
        match &self.pad_value {
            None => {}
            Some(PadValue::Fixed(fill)) => parts.push(fill),
            Some(PadValue::Operand(position)) => {
                let value = operand(&self.label, inputs, *position)?;
                check_value(&self.label, "the constant value", value, self.dtype, 1)?;
                parts.push(&value.data);
            }
        }

        let changed = || self.label.invalid("input types changed after prepare");
        let data = match (&self.pad_rows, &self.map, parts.as_slice()) {
            (Some(pad_rows), _, [input, fill]) => {
                pad_rows.apply_data(input, fill).ok_or_else(changed)?
            }
            (Some(_), _, _) => return Err(changed()),
            (None, Some(map), [input]) => gather(input, map),
            (None, Some(map), _) => gather(&concat(&parts).ok_or_else(changed)?, map),
            (None, None, _) => concat(&parts).ok_or_else(changed)?,
        };
        Ok(vec![TensorValue {
            shape: self.output_shape.clone(),
            data,
        }])
    }
}

/// Prepares PAD (2 inputs) and PADV2 (3 inputs, the last a scalar pad value).
///
/// Matches TFLite Micro `reference_ops::Pad`: constant padding, with the
/// output zero point as PAD's value for int8 and zero for other types.
/// PADV2's int8 value must share the output's scale and zero point.
pub(crate) fn prepare_pad(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(2, 3)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype(
        "input",
        input,
        &[
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Float32,
        ],
    )?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }

    let rank = input.shape.len();
    let paddings = context.constant_ints(1, "paddings")?;
    if paddings.len() != rank * 2 || output.shape.len() != rank {
        return Err(context.invalid(format!(
            "paddings hold {} values for input {} and output {}; expected 2 per dimension of both",
            paddings.len(),
            format_shape(&input.shape),
            format_shape(&output.shape)
        )));
    }
    let mut before = Vec::with_capacity(rank);
    for (axis, pair) in paddings.chunks_exact(2).enumerate() {
        let (low, high) = (pair[0], pair[1]);
        if low < 0 || high < 0 {
            return Err(context.invalid(format!(
                "padding of dimension {axis} is [{low}, {high}]; expected values >= 0"
            )));
        }
        let expected = (input.shape[axis] as u64)
            .checked_add(low as u64)
            .and_then(|sum| sum.checked_add(high as u64));
        if expected != Some(output.shape[axis] as u64) {
            return Err(context.invalid(format!(
                "output dimension {axis} is {}; input {} padded by [{low}, {high}] gives {}",
                output.shape[axis],
                input.shape[axis],
                input.shape[axis] as u64 + low as u64 + high as u64
            )));
        }
        before.push(low as usize);
    }

    let pad_value = match context.optional_input(2)? {
        Some(constant) => {
            if constant.dtype != dtype || constant.element_count() != 1 {
                return Err(context.invalid(format!(
                    "constant value has type {} and shape {}; expected one {dtype} element",
                    constant.dtype,
                    format_shape(&constant.shape)
                )));
            }
            if dtype == DataType::Int8 {
                let constant_quant = context.quant("constant value", constant)?;
                let output_quant = context.quant("output", output)?;
                if constant_quant != output_quant {
                    return Err(context.invalid(format!(
                        "constant value scale {} and zero point {} differ from output scale {} and zero point {}",
                        constant_quant.scale, constant_quant.zero_point, output_quant.scale, output_quant.zero_point
                    )));
                }
            }
            PadValue::Operand(2)
        }
        None => PadValue::Fixed(default_pad_value(context, output)?),
    };

    let input_len = input.element_count();
    Ok(Box::new(Movement {
        label: context.label(),
        dtype,
        operand_lens: vec![input_len],
        pad_value: Some(pad_value),
        map: None,
        pad_rows: Some(PadRows::new(&input.shape, &before, &output.shape)),
        output_shape: output.shape.clone(),
    }))
}

/// Returns PAD's value: the output zero point for int8 (which must fit
/// int8), zero otherwise. TFLite Micro pads int16 with 0 whatever its zero
/// point.
fn default_pad_value(
    context: &OpContext,
    output: &crate::model::Tensor,
) -> Result<TensorData, ExecError> {
    Ok(match output.dtype {
        DataType::Int8 => {
            let zero_point = context.quant("output", output)?.zero_point;
            let value = i8::try_from(zero_point).map_err(|_| {
                context.invalid(format!(
                    "output zero point {zero_point} is outside the int8 range"
                ))
            })?;
            TensorData::I8(vec![value])
        }
        DataType::Int16 => TensorData::I16(vec![0]),
        DataType::Int32 => TensorData::I32(vec![0]),
        _ => TensorData::F32(vec![0.0]),
    })
}

/// Prepares RESHAPE: the input's elements unchanged under the output
/// tensor's shape. The optional shape operand is not read, because the
/// output tensor already carries the resolved shape.
pub(crate) fn prepare_reshape(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(1, 2)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype("input", input, MOVABLE_TYPES)?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }
    if input.element_count() != output.element_count() {
        return Err(context.invalid(format!(
            "input {} has {} elements but output {} has {}",
            format_shape(&input.shape),
            input.element_count(),
            format_shape(&output.shape),
            output.element_count()
        )));
    }
    Ok(Box::new(Movement {
        label: context.label(),
        dtype,
        operand_lens: vec![input.element_count()],
        pad_value: None,
        map: None,
        pad_rows: None,
        output_shape: output.shape.clone(),
    }))
}

/// Prepares TRANSPOSE: output dimension `i` is input dimension `perm[i]`
/// (TFLite `reference_ops::Transpose`). The permutation must be constant.
pub(crate) fn prepare_transpose(context: &OpContext) -> Result<Box<dyn Kernel>, ExecError> {
    context.expect_arity(2, 2)?;
    let input = context.input(0)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype("input", input, MOVABLE_TYPES)?;
    if output.dtype != dtype {
        return Err(context.unsupported_type("output", output.dtype, dtype.name()));
    }

    let rank = input.shape.len();
    let perm = context.constant_ints(1, "permutation")?;
    let mut seen = vec![false; rank];
    let mut axes = Vec::with_capacity(rank);
    for &axis in &perm {
        match usize::try_from(axis) {
            Ok(axis) if axis < rank && !seen[axis] => {
                seen[axis] = true;
                axes.push(axis);
            }
            _ => {
                return Err(context.invalid(format!(
                    "permutation {perm:?} is not a permutation of 0..{rank} for input {}",
                    format_shape(&input.shape)
                )))
            }
        }
    }
    if axes.len() != rank {
        return Err(context.invalid(format!(
            "permutation {perm:?} has {} entries; the input has rank {rank}",
            perm.len()
        )));
    }
    let expected: Vec<usize> = axes.iter().map(|&axis| input.shape[axis]).collect();
    if output.shape != expected {
        return Err(context.invalid(format!(
            "output shape is {}; transposing {} by {perm:?} gives {}",
            format_shape(&output.shape),
            format_shape(&input.shape),
            format_shape(&expected)
        )));
    }

    let input_strides = strides(&input.shape);
    let mut map = Vec::with_capacity(output.element_count());
    for_each_index(&output.shape, |index| {
        map.push(
            index
                .iter()
                .zip(&axes)
                .map(|(&position, &axis)| position * input_strides[axis])
                .sum(),
        );
    });

    Ok(Box::new(Movement {
        label: context.label(),
        dtype,
        operand_lens: vec![input.element_count()],
        pad_value: None,
        map: Some(map),
        pad_rows: None,
        output_shape: output.shape.clone(),
    }))
}

/// Prepares CONCATENATION along `axis` (negative counts from the end).
///
/// Matches TFLite Micro: no fused activation, int8 inputs must have the
/// output's scale and zero point, int16 tensors zero point 0.
pub(crate) fn prepare_concatenation(
    context: &OpContext,
    axis: i32,
    activation: Activation,
) -> Result<Box<dyn Kernel>, ExecError> {
    if activation != Activation::None {
        return Err(context.invalid(format!(
            "fused activation {activation} is not supported; expected none"
        )));
    }
    context.expect_arity(1, usize::MAX)?;
    let output = context.output(0)?;
    let dtype = context.expect_dtype("output", output, MOVABLE_TYPES)?;
    let rank = output.shape.len();
    let resolved = if axis < 0 {
        i64::from(axis) + rank as i64
    } else {
        i64::from(axis)
    };
    let axis = usize::try_from(resolved)
        .ok()
        .filter(|&axis| axis < rank)
        .ok_or_else(|| {
            context.invalid(format!(
                "axis {axis} is out of range for output rank {rank}"
            ))
        })?;
    let output_quant = match dtype {
        DataType::Int8 => Some(context.quant("output", output)?),
        _ => None,
    };
    if dtype == DataType::Int16 {
        check_int16_zero_point(context, "output", output)?;
    }

    let mut shapes = Vec::with_capacity(context.op.inputs.len());
    let mut axis_total = 0;
    for position in 0..context.op.inputs.len() {
        let what = format!("input {position}");
        let input = context.input(position)?;
        if input.dtype != dtype {
            return Err(context.unsupported_type(&what, input.dtype, dtype.name()));
        }
        let matches_output = input.shape.len() == rank
            && input
                .shape
                .iter()
                .zip(&output.shape)
                .enumerate()
                .all(|(dim, (a, b))| dim == axis || a == b);
        if !matches_output {
            return Err(context.invalid(format!(
                "{what} has shape {}, which differs from output {} outside axis {axis}",
                format_shape(&input.shape),
                format_shape(&output.shape)
            )));
        }
        if let Some(output_quant) = output_quant {
            let quant = context.quant(&what, input)?;
            if quant != output_quant {
                return Err(context.invalid(format!(
                    "{what} scale {} and zero point {} differ from output scale {} and zero point {}; int8 CONCATENATION does not requantize",
                    quant.scale, quant.zero_point, output_quant.scale, output_quant.zero_point
                )));
            }
        }
        if dtype == DataType::Int16 {
            check_int16_zero_point(context, &what, input)?;
        }
        axis_total += input.shape[axis];
        shapes.push(input.shape.clone());
    }
    if axis_total != output.shape[axis] {
        return Err(context.invalid(format!(
            "inputs sum to {axis_total} along axis {axis}, but the output has {}",
            output.shape[axis]
        )));
    }

    let outer: usize = output.shape[..axis].iter().product();
    let inner: usize = output.shape[axis + 1..].iter().product();
    let operand_lens: Vec<usize> = shapes.iter().map(|shape| shape.iter().product()).collect();
    let mut map = Vec::with_capacity(output.element_count());
    for slice in 0..outer {
        let mut base = 0;
        for (shape, &len) in shapes.iter().zip(&operand_lens) {
            let chunk = shape[axis] * inner;
            map.extend(base + slice * chunk..base + (slice + 1) * chunk);
            base += len;
        }
    }

    Ok(Box::new(Movement {
        label: context.label(),
        dtype,
        operand_lens,
        pad_value: None,
        map: Some(map),
        pad_rows: None,
        output_shape: output.shape.clone(),
    }))
}

/// Checks that an int16 tensor has zero point 0. A tensor without
/// quantisation counts as zero point 0, as in TFLite Micro.
fn check_int16_zero_point(
    context: &OpContext,
    what: &str,
    tensor: &crate::model::Tensor,
) -> Result<(), ExecError> {
    let zero_point = tensor
        .quantization
        .as_ref()
        .and_then(|quant| quant.zero_points.first().copied())
        .unwrap_or(0);
    if zero_point != 0 {
        return Err(context.invalid(format!(
            "int16 {what} has zero point {zero_point}; int16 CONCATENATION requires zero point 0"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(strides(&[5]), vec![1]);
        assert!(strides(&[]).is_empty());
    }

    #[test]
    fn for_each_index_visits_row_major() {
        let mut visited = Vec::new();
        for_each_index(&[2, 2], |index| visited.push(index.to_vec()));
        assert_eq!(
            visited,
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );

        let mut count = 0;
        for_each_index(&[], |_| count += 1);
        assert_eq!(count, 1, "a scalar has one element");
        for_each_index(&[3, 0], |_| count += 1);
        assert_eq!(count, 1, "an empty shape has none");
    }

    #[test]
    fn concat_rejects_mixed_types() {
        let a = TensorData::I8(vec![1]);
        let b = TensorData::I16(vec![2]);
        assert_eq!(concat(&[&a, &a]), Some(TensorData::I8(vec![1, 1])));
        assert_eq!(concat(&[&a, &b]), None);
        assert_eq!(concat(&[]), None);
    }

    #[test]
    fn pad_rows_copy_runs_inside_last_padded_axis() {
        // [2, 3] padded by one row above and one column left: runs of 3
        // elements, the inner dimension.
        let rows = PadRows::new(&[2, 3], &[1, 1], &[3, 5]);
        assert_eq!(rows.row_len, 3);
        assert_eq!(
            rows.apply(&[1, 2, 3, 4, 5, 6], 0),
            vec![0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0]
        );

        // NHWC padded in H and W only: one run per input row of W * C.
        let rows = PadRows::new(&[1, 2, 2, 2], &[0, 1, 0, 0], &[1, 3, 3, 2]);
        assert_eq!(rows.row_len, 4);
        assert_eq!(rows.row_offsets, vec![6, 12]);

        // Nothing padded: one run of the whole tensor.
        let rows = PadRows::new(&[2, 2], &[0, 0], &[2, 2]);
        assert_eq!(rows.apply(&[1, 2, 3, 4], 9), vec![1, 2, 3, 4]);

        // A scalar is one run of one element.
        let rows = PadRows::new(&[], &[], &[]);
        assert_eq!(rows.apply(&[7], 0), vec![7]);

        // An empty input leaves the pad value everywhere.
        let rows = PadRows::new(&[0, 2], &[1, 0], &[2, 2]);
        assert_eq!(rows.apply::<i8>(&[], 5), vec![5; 4]);
    }
}
