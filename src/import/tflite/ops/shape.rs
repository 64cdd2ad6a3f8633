//! Operators that move data without arithmetic on it: PAD (and PADV2),
//! RESHAPE, TRANSPOSE, CONCATENATION, and the MEAN reduction.
//!
//! Shape operands (paddings, permutation, axes) are checked against the
//! output shape when they are constants; fxsim's executor requires them to be
//! constants and reports it there otherwise.

use super::OpContext;
use crate::import::tflite::schema::options_type;
use crate::import::ImportErrorKind;
use crate::model::{format_shape, OpKind, Tensor};

pub(super) fn pad(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=3, 1)?;
    let input = ctx.input(0, "input")?;
    let paddings = ctx.input(1, "paddings")?;
    let rank = input.shape.len();
    if paddings.shape != [rank, 2] {
        return Err(ctx.operand_error(
            1,
            "paddings",
            format!(
                "shape {} must be [{rank}, 2]",
                format_shape(&paddings.shape)
            ),
        ));
    }
    if let Some(values) = paddings.data_as_i64() {
        let mut expected = Vec::with_capacity(rank);
        for (axis, &extent) in input.shape.iter().enumerate() {
            let (before, after) = (values[2 * axis], values[2 * axis + 1]);
            let padded = usize::try_from(before)
                .ok()
                .zip(usize::try_from(after).ok())
                .and_then(|(b, a)| extent.checked_add(b)?.checked_add(a));
            let Some(padded) = padded else {
                return Err(ctx.operand_error(
                    1,
                    "paddings",
                    format!(
                        "axis {axis} pads by ({before}, {after}); expected non-negative amounts"
                    ),
                ));
            };
            expected.push(padded);
        }
        ctx.expect_output_shape(&expected)?;
    }
    Ok(OpKind::Pad)
}

pub(super) fn reshape(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(1..=2, 1)?;
    let input = ctx.input(0, "input")?;
    let output = ctx.output(0)?;
    if input.element_count() != output.element_count() {
        return Err(ctx.output_error(format!(
            "shape {} has {} elements, but the input {} has {}",
            format_shape(&output.shape),
            output.element_count(),
            format_shape(&input.shape),
            input.element_count()
        )));
    }
    Ok(OpKind::Reshape)
}

pub(super) fn transpose(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=2, 1)?;
    let input = ctx.input(0, "input")?;
    let perm = ctx.input(1, "permutation")?;
    if let Some(values) = perm.data_as_i64() {
        let rank = input.shape.len();
        let mut seen = vec![false; rank];
        let mut expected = Vec::with_capacity(rank);
        for &axis in &values {
            let slot = usize::try_from(axis).ok().filter(|&a| a < rank && !seen[a]);
            let Some(axis) = slot else {
                return Err(ctx.operand_error(
                    1,
                    "permutation",
                    format!("{values:?} is not a permutation of 0..{rank}"),
                ));
            };
            seen[axis] = true;
            expected.push(input.shape[axis]);
        }
        if values.len() != rank {
            return Err(ctx.operand_error(
                1,
                "permutation",
                format!("{values:?} is not a permutation of 0..{rank}"),
            ));
        }
        ctx.expect_output_shape(&expected)?;
    }
    Ok(OpKind::Transpose)
}

pub(super) fn concatenation(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    let options = ctx.options(options_type::CONCATENATION)?;
    if ctx.inputs.is_empty() {
        return Err(ImportErrorKind::OperandCount {
            location: ctx.location.clone(),
            role: "input",
            found: 0,
            expected: "at least 1".into(),
        });
    }
    ctx.expect_counts(ctx.inputs.len()..=ctx.inputs.len(), 1)?;
    let first = ctx.input(0, "input")?;
    let rank = first.shape.len();
    let raw_axis = options.i32(0, 0);
    let axis = normalize_axis(raw_axis, rank).ok_or_else(|| {
        ctx.attribute_error(
            "axis",
            raw_axis.to_string(),
            format!("-{rank} to {}", rank as i64 - 1),
        )
    })?;

    let mut expected = first.shape.clone();
    expected[axis] = 0;
    for position in 0..ctx.inputs.len() {
        let input = ctx.input(position, "input")?;
        let compatible = input.shape.len() == rank
            && input
                .shape
                .iter()
                .enumerate()
                .all(|(d, &extent)| d == axis || extent == first.shape[d]);
        if !compatible {
            return Err(ctx.operand_error(
                position,
                "input",
                format!(
                    "shape {} does not match {} outside axis {axis}",
                    format_shape(&input.shape),
                    format_shape(&first.shape)
                ),
            ));
        }
        expected[axis] = expected[axis]
            .checked_add(input.shape[axis])
            .ok_or_else(|| {
                ctx.output_error(format!(
                    "the sum of the inputs' extents along axis {axis} overflows"
                ))
            })?;
    }
    ctx.expect_output_shape(&expected)?;
    Ok(OpKind::Concatenation {
        axis: axis as i32,
        activation: ctx.activation(options.i8(1, 0))?,
    })
}

pub(super) fn mean(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=2, 1)?;
    let options = ctx.options(options_type::REDUCER)?;
    let input = ctx.input(0, "input")?;
    let axes_tensor: &Tensor = ctx.input(1, "axes")?;
    let keep_dims = options.i8(0, 0) != 0;
    if let Some(values) = axes_tensor.data_as_i64() {
        let rank = input.shape.len();
        let mut reduced = vec![false; rank];
        for &raw in &values {
            let axis = i32::try_from(raw)
                .ok()
                .and_then(|a| normalize_axis(a, rank))
                .ok_or_else(|| {
                    ctx.operand_error(
                        1,
                        "axes",
                        format!("axis {raw} is out of range for rank {rank}"),
                    )
                })?;
            reduced[axis] = true;
        }
        let expected: Vec<usize> = input
            .shape
            .iter()
            .zip(&reduced)
            .filter_map(|(&extent, &r)| match (r, keep_dims) {
                (true, true) => Some(1),
                (true, false) => None,
                (false, _) => Some(extent),
            })
            .collect();
        ctx.expect_output_shape(&expected)?;
    }
    Ok(OpKind::Mean { keep_dims })
}

/// Maps an axis in `[-rank, rank)` to `[0, rank)`.
fn normalize_axis(axis: i32, rank: usize) -> Option<usize> {
    let rank = i64::try_from(rank).ok()?;
    let axis = i64::from(axis);
    let normalized = if axis < 0 { axis + rank } else { axis };
    (0..rank)
        .contains(&normalized)
        .then_some(normalized as usize)
}
