//! AVERAGE_POOL_2D and MAX_POOL_2D.

use super::conv::window_output;
use super::OpContext;
use crate::import::tflite::schema::options_type;
use crate::import::ImportErrorKind;
use crate::model::{Hw, OpKind, Pool2dAttrs};

pub(super) fn average_pool_2d(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    pool_2d(ctx).map(OpKind::AveragePool2d)
}

pub(super) fn max_pool_2d(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    pool_2d(ctx).map(OpKind::MaxPool2d)
}

fn pool_2d(ctx: &OpContext) -> Result<Pool2dAttrs, ImportErrorKind> {
    ctx.expect_counts(1..=1, 1)?;
    let options = ctx.options(options_type::POOL_2D)?;
    let input = ctx.input_of_rank(0, "input", 4)?;
    // Rank 4 is checked above.
    let (n, h, w, c) = (
        input.shape[0],
        input.shape[1],
        input.shape[2],
        input.shape[3],
    );

    let padding = ctx.padding(options.i8(0, 0))?;
    let stride = Hw {
        h: ctx.step("stride_h", options.i32(2, 0), h)?,
        w: ctx.step("stride_w", options.i32(1, 0), w)?,
    };
    let filter = Hw {
        h: ctx.positive("filter_height", options.i32(4, 0))?,
        w: ctx.positive("filter_width", options.i32(3, 0))?,
    };
    let activation = ctx.activation(options.i8(5, 0))?;
    let (oh, ow) = window_output(
        ctx,
        [h, w],
        [filter.h, filter.w],
        stride,
        Hw { h: 1, w: 1 },
        padding,
    )?;
    ctx.expect_output_shape(&[n, oh, ow, c])?;

    Ok(Pool2dAttrs {
        padding,
        stride,
        filter,
        activation,
    })
}
