//! Unary operators that keep the shape: LOGISTIC, SOFTMAX, QUANTIZE,
//! DEQUANTIZE.

use super::OpContext;
use crate::import::tflite::schema::options_type;
use crate::import::ImportErrorKind;
use crate::model::OpKind;

pub(super) fn logistic(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    check_same_shape(ctx)?;
    Ok(OpKind::Logistic)
}

pub(super) fn softmax(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    let options = ctx.options(options_type::SOFTMAX)?;
    check_same_shape(ctx)?;
    let beta = options.f32(0, 0.0);
    if !(beta.is_finite() && beta > 0.0) {
        return Err(ctx.attribute_error("beta", beta.to_string(), "a finite value > 0".into()));
    }
    Ok(OpKind::Softmax { beta })
}

pub(super) fn quantize(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    check_same_shape(ctx)?;
    Ok(OpKind::Quantize)
}

pub(super) fn dequantize(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    check_same_shape(ctx)?;
    Ok(OpKind::Dequantize)
}

fn check_same_shape(ctx: &OpContext) -> Result<(), ImportErrorKind> {
    ctx.expect_counts(1..=1, 1)?;
    let input = ctx.input(0, "input")?;
    ctx.expect_output_shape(&input.shape)
}
