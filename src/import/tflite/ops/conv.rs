//! CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: the layers that run on the
//! MAC array.
//!
//! Layouts (TFLite): input `[n, h, w, cin]`; convolution filter
//! `[cout, kh, kw, cin / groups]`; depthwise filter `[1, kh, kw, cin * m]`;
//! fully connected weights `[units, k]`; bias `[cout]`.

use super::{OpContext, Options};
use crate::import::tflite::schema::options_type;
use crate::import::ImportErrorKind;
use crate::model::geometry::output_extent;
use crate::model::{
    format_shape, Conv2dAttrs, DepthwiseConv2dAttrs, FullyConnectedAttrs, Hw, OpKind, Padding,
    Tensor,
};

pub(super) fn conv_2d(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=3, 1)?;
    let options = ctx.options(options_type::CONV_2D)?;
    let input = ctx.input_of_rank(0, "input", 4)?;
    let filter = ctx.input_of_rank(1, "filter", 4)?;
    let [n, h, w, cin] = dims4(input);
    let [cout, kh, kw, filter_cin] = dims4(filter);

    if cin == 0 {
        return Err(ctx.operand_error(0, "input", "has 0 channels; expected at least 1".into()));
    }
    if filter_cin == 0 || cin % filter_cin != 0 {
        return Err(ctx.operand_error(
            1,
            "filter",
            format!(
                "has {filter_cin} input channels, which must divide the input's {cin} channels"
            ),
        ));
    }
    // Not zero: cin >= filter_cin > 0 here.
    let groups = cin / filter_cin;
    if cout % groups != 0 {
        return Err(ctx.operand_error(
            1,
            "filter",
            format!("{cout} output channels do not split into {groups} groups"),
        ));
    }
    check_bias(ctx, cout)?;

    let padding = ctx.padding(options.i8(0, 0))?;
    let stride = Hw {
        h: ctx.step("stride_h", options.i32(2, 0), h)?,
        w: ctx.step("stride_w", options.i32(1, 0), w)?,
    };
    let dilation = Hw {
        h: ctx.step("dilation_h_factor", options.i32(5, 1), h)?,
        w: ctx.step("dilation_w_factor", options.i32(4, 1), w)?,
    };
    let activation = ctx.activation(options.i8(3, 0))?;
    let (oh, ow) = window_output(ctx, [h, w], [kh, kw], stride, dilation, padding)?;
    ctx.expect_output_shape(&[n, oh, ow, cout])?;

    Ok(OpKind::Conv2d(Conv2dAttrs {
        padding,
        stride,
        dilation,
        activation,
    }))
}

pub(super) fn depthwise_conv_2d(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=3, 1)?;
    let options = ctx.options(options_type::DEPTHWISE_CONV_2D)?;
    let input = ctx.input_of_rank(0, "input", 4)?;
    let filter = ctx.input_of_rank(1, "filter", 4)?;
    let [n, h, w, cin] = dims4(input);
    let [one, kh, kw, cout] = dims4(filter);
    if one != 1 {
        return Err(ctx.operand_error(
            1,
            "filter",
            format!(
                "shape {} must have 1 as its first dimension",
                format_shape(&filter.shape)
            ),
        ));
    }

    let depth_multiplier = ctx.positive("depth_multiplier", options.i32(3, 0))?;
    if cin.checked_mul(depth_multiplier) != Some(cout) {
        return Err(ctx.attribute_error(
            "depth_multiplier",
            depth_multiplier.to_string(),
            format!("filter channels / input channels = {cout} / {cin}"),
        ));
    }
    check_bias(ctx, cout)?;

    let padding = ctx.padding(options.i8(0, 0))?;
    let stride = Hw {
        h: ctx.step("stride_h", options.i32(2, 0), h)?,
        w: ctx.step("stride_w", options.i32(1, 0), w)?,
    };
    let dilation = Hw {
        h: ctx.step("dilation_h_factor", options.i32(6, 1), h)?,
        w: ctx.step("dilation_w_factor", options.i32(5, 1), w)?,
    };
    let activation = ctx.activation(options.i8(4, 0))?;
    let (oh, ow) = window_output(ctx, [h, w], [kh, kw], stride, dilation, padding)?;
    ctx.expect_output_shape(&[n, oh, ow, cout])?;

    Ok(OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
        padding,
        stride,
        dilation,
        depth_multiplier,
        activation,
    }))
}

pub(super) fn fully_connected(ctx: &OpContext) -> Result<OpKind, ImportErrorKind> {
    ctx.expect_counts(2..=3, 1)?;
    let options: Options = ctx.options(options_type::FULLY_CONNECTED)?;
    let input = ctx.input(0, "input")?;
    let weights = ctx.input_of_rank(1, "weights", 2)?;
    // Rank 2 is checked above.
    let (units, depth) = (weights.shape[0], weights.shape[1]);
    let input_count = input.element_count();
    if depth == 0 || input_count % depth != 0 {
        return Err(ctx.operand_error(
            0,
            "input",
            format!("{input_count} elements do not form rows of the weights' depth {depth}"),
        ));
    }
    check_bias(ctx, units)?;

    let activation = ctx.activation(options.i8(0, 0))?;
    let weights_format = options.i8(1, 0);
    if weights_format != 0 {
        return Err(ctx.attribute_error(
            "weights_format",
            weights_format.to_string(),
            "0 (DEFAULT)".into(),
        ));
    }
    let keep_num_dims = options.i8(2, 0) != 0;
    let expected = if keep_num_dims {
        let mut shape = input.shape.clone();
        match shape.last_mut() {
            Some(last) if *last == depth => *last = units,
            _ => {
                return Err(ctx.operand_error(
                    0,
                    "input",
                    format!(
                    "last dimension of {} must equal the weights' depth {depth} with keep_num_dims",
                    format_shape(&input.shape)
                ),
                ))
            }
        }
        shape
    } else {
        vec![input_count / depth, units]
    };
    check_fully_connected_output(ctx, &expected, keep_num_dims)?;

    Ok(OpKind::FullyConnected(FullyConnectedAttrs {
        activation,
        keep_num_dims,
    }))
}

/// Without keep_num_dims the output is `[batches, units]`; converters also
/// write it with extra leading ones, which have the same elements.
fn check_fully_connected_output(
    ctx: &OpContext,
    expected: &[usize],
    keep_num_dims: bool,
) -> Result<(), ImportErrorKind> {
    let output = ctx.output(0)?;
    let squeezed = |shape: &[usize]| -> Vec<usize> {
        let leading_ones = shape
            .iter()
            .take(shape.len().saturating_sub(2))
            .take_while(|&&d| d == 1)
            .count();
        shape[leading_ones..].to_vec()
    };
    let matches = if keep_num_dims {
        output.shape == expected
    } else {
        squeezed(&output.shape) == squeezed(expected)
    };
    if !matches {
        return Err(ctx.output_error(format!(
            "shape {} does not match {} computed from the inputs and options",
            format_shape(&output.shape),
            format_shape(expected)
        )));
    }
    Ok(())
}

/// Returns the four dimensions of a tensor that `OpContext::input_of_rank`
/// has checked to be of rank 4, so the indexing cannot fail.
fn dims4(tensor: &Tensor) -> [usize; 4] {
    [
        tensor.shape[0],
        tensor.shape[1],
        tensor.shape[2],
        tensor.shape[3],
    ]
}

/// Checks the optional bias: one element per output channel.
fn check_bias(ctx: &OpContext, channels: usize) -> Result<(), ImportErrorKind> {
    if let Some(bias) = ctx.optional_input(2) {
        if bias.element_count() != channels {
            return Err(ctx.operand_error(
                2,
                "bias",
                format!(
                    "shape {} has {} elements; expected {channels}, one per output channel",
                    format_shape(&bias.shape),
                    bias.element_count()
                ),
            ));
        }
    }
    Ok(())
}

/// Output height and width of a sliding window, or an error when the window
/// does not fit (VALID padding with a kernel larger than the input).
pub(super) fn window_output(
    ctx: &OpContext,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: Hw,
    dilation: Hw,
    padding: Padding,
) -> Result<(usize, usize), ImportErrorKind> {
    let extent = |i: usize, k: usize, s: usize, d: usize| {
        output_extent(i, k, s, d, padding).filter(|&o| o > 0).ok_or_else(|| {
            ImportErrorKind::Operand {
                location: ctx.location.clone(),
                operand: "window".into(),
                reason: format!(
                    "kernel extent {k} with dilation {d} and {} padding gives no output on input extent {i}",
                    padding.to_string().to_uppercase()
                ),
            }
        })
    };
    Ok((
        extent(input[0], kernel[0], stride.h, dilation.h)?,
        extent(input[1], kernel[1], stride.w, dilation.w)?,
    ))
}
