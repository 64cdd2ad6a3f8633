//! ADD and MUL, with NumPy-style broadcasting of the two inputs.

use super::OpContext;
use crate::import::tflite::schema::options_type;
use crate::import::ImportErrorKind;
use crate::model::{format_shape, OpKind};

pub(super) fn add(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    let options = ctx.options(options_type::ADD)?;
    check_binary(ctx)?;
    Ok(OpKind::Add {
        activation: ctx.activation(options.i8(0, 0))?,
    })
}

pub(super) fn mul(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    let options = ctx.options(options_type::MUL)?;
    check_binary(ctx)?;
    Ok(OpKind::Mul {
        activation: ctx.activation(options.i8(0, 0))?,
    })
}

fn check_binary(ctx: &OpContext) -> Result<(), ImportErrorKind> {
    ctx.expect_counts(2..=2, 1)?;
    let a = ctx.input(0, "a")?;
    let b = ctx.input(1, "b")?;
    let shape = broadcast_shape(&a.shape, &b.shape).ok_or_else(|| {
        ctx.operand_error(
            1,
            "b",
            format!(
                "shape {} does not broadcast with {}",
                format_shape(&b.shape),
                format_shape(&a.shape)
            ),
        )
    })?;
    ctx.expect_output_shape(&shape)
}

/// Broadcast of two shapes (dimensions aligned at the end; each pair equal or
/// one of them 1), or `None` when they are incompatible.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |shape: &[usize], i: usize| {
        let offset = rank - shape.len();
        if i < offset {
            1
        } else {
            shape[i - offset]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::broadcast_shape;

    #[test]
    fn broadcast_aligns_trailing_dimensions() {
        assert_eq!(broadcast_shape(&[1, 4, 4, 8], &[8]), Some(vec![1, 4, 4, 8]));
        assert_eq!(broadcast_shape(&[2, 1, 3], &[1, 5, 1]), Some(vec![2, 5, 3]));
        assert_eq!(broadcast_shape(&[], &[3]), Some(vec![3]));
        assert_eq!(broadcast_shape(&[2, 3], &[4, 3]), None);
    }
}
