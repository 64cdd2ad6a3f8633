//! Sliding-window geometry of the convolution kernels: checked NHWC extents,
//! strides, dilations and TensorFlow's padding split, and the input
//! coordinate each kernel tap reads.
//!
//! Limitation: batch and spatial extents are checked to fit in i64 index
//! arithmetic, not against any memory budget.

use super::op_context::OpContext;
use crate::exec::ExecError;
use crate::model::{format_shape, geometry, Hw, Padding};

/// The window of one convolution layer, validated at prepare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Input extents `[batch, height, width, channels]`.
    pub input: [usize; 4],
    /// Output extents `[batch, height, width, channels]`.
    pub output: [usize; 4],
    pub kernel: Hw,
    pub stride: Hw,
    pub dilation: Hw,
    /// Rows of padding above the input (TensorFlow puts the odd one below).
    pub pad_top: usize,
    /// Columns of padding left of the input (the odd one goes right).
    pub pad_left: usize,
}

/// Shape of a 4-D tensor, or an error naming operand `what`.
pub(crate) fn rank4(
    context: &OpContext,
    what: &str,
    shape: &[usize],
) -> Result<[usize; 4], ExecError> {
    <[usize; 4]>::try_from(shape).map_err(|_| {
        context.invalid(format!(
            "{what} has shape {}; expected rank 4",
            format_shape(shape)
        ))
    })
}

/// Parameters of [`read_window`] as the operator states them.
pub(crate) struct WindowAttrs {
    pub kernel: Hw,
    pub stride: Hw,
    pub dilation: Hw,
    pub padding: Padding,
    /// Output channels the weights produce.
    pub channels: usize,
}

/// Checks the input and output shapes of a convolution against its
/// attributes and returns the window.
///
/// The output must be `[batch, out_h, out_w, channels]` with TensorFlow's
/// output extents (SAME: `ceil(in / stride)`; VALID: `ceil((in - k_eff + 1)
/// / stride)`), the extents TFLite Micro computes in prepare.
pub(crate) fn read_window(
    context: &OpContext,
    input_shape: &[usize],
    output_shape: &[usize],
    attrs: WindowAttrs,
) -> Result<Window, ExecError> {
    let input = rank4(context, "input", input_shape)?;
    let output = rank4(context, "output", output_shape)?;
    let WindowAttrs {
        kernel,
        stride,
        dilation,
        padding,
        channels,
    } = attrs;

    let extent = |axis: usize, kernel: usize, stride: usize, dilation: usize| {
        geometry::output_extent(input[axis], kernel, stride, dilation, padding)
            .filter(|&extent| extent > 0)
    };
    let (Some(out_h), Some(out_w)) = (
        extent(1, kernel.h, stride.h, dilation.h),
        extent(2, kernel.w, stride.w, dilation.w),
    ) else {
        return Err(context.invalid(format!(
            "kernel {}x{} with stride {}x{}, dilation {}x{} and {padding} padding gives no output for input {}",
            kernel.h,
            kernel.w,
            stride.h,
            stride.w,
            dilation.h,
            dilation.w,
            format_shape(input_shape)
        )));
    };
    let expected = [input[0], out_h, out_w, channels];
    if output != expected {
        return Err(context.invalid(format!(
            "output has shape {}; the input, weights and options give {}",
            format_shape(output_shape),
            format_shape(&expected)
        )));
    }

    // Every tap coordinate lies in `-pad ..= (out - 1) * stride + k_eff`;
    // bounding that span keeps the index arithmetic of eval exact in i64.
    let span = |out: usize, kernel: usize, stride: usize, dilation: usize| {
        let k_eff = geometry::effective_kernel(kernel, dilation)?;
        (out - 1)
            .checked_mul(stride)?
            .checked_add(k_eff)
            .filter(|&span| span <= i32::MAX as usize)
    };
    if span(out_h, kernel.h, stride.h, dilation.h).is_none()
        || span(out_w, kernel.w, stride.w, dilation.w).is_none()
    {
        return Err(context.invalid(format!(
            "kernel {}x{} with stride {}x{} and dilation {}x{} spans more than 2^31 input positions",
            kernel.h, kernel.w, stride.h, stride.w, dilation.h, dilation.w
        )));
    }

    let pad_top = geometry::padding(input[1], kernel.h, stride.h, dilation.h, out_h).before;
    let pad_left = geometry::padding(input[2], kernel.w, stride.w, dilation.w, out_w).before;
    Ok(Window {
        input,
        output,
        kernel,
        stride,
        dilation,
        pad_top,
        pad_left,
    })
}

impl Window {
    /// Number of kernel taps, `kh * kw`.
    pub fn taps(&self) -> usize {
        self.kernel.h * self.kernel.w
    }

    /// Returns the input row read by kernel row `ky` of output row `oy`, or
    /// `None` in the padding.
    #[inline(always)]
    pub fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        tap_coordinate(
            oy,
            ky,
            self.stride.h,
            self.dilation.h,
            self.pad_top,
            self.input[1],
        )
    }

    /// Returns the input column read by kernel column `kx` of output column
    /// `ox`, or `None` in the padding.
    #[inline(always)]
    pub fn input_column(&self, ox: usize, kx: usize) -> Option<usize> {
        tap_coordinate(
            ox,
            kx,
            self.stride.w,
            self.dilation.w,
            self.pad_left,
            self.input[2],
        )
    }
}

/// `out * stride - pad + k * dilation` when it lies in `0..extent`.
#[inline(always)]
fn tap_coordinate(
    out: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    extent: usize,
) -> Option<usize> {
    // read_window bounds out * stride + k * dilation below 2^31.
    let position = (out * stride + k * dilation).checked_sub(pad)?;
    (position < extent).then_some(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Window {
        let out = geometry::output_extent(input, kernel, stride, dilation, padding).unwrap();
        let pad = geometry::padding(input, kernel, stride, dilation, out).before;
        Window {
            input: [1, input, input, 1],
            output: [1, out, out, 1],
            kernel: Hw {
                h: kernel,
                w: kernel,
            },
            stride: Hw {
                h: stride,
                w: stride,
            },
            dilation: Hw {
                h: dilation,
                w: dilation,
            },
            pad_top: pad,
            pad_left: pad,
        }
    }

    #[test]
    fn same_padding_taps_fall_outside_at_borders() {
        let window = window(5, 3, 1, 1, Padding::Same);
        assert_eq!(window.input_row(0, 0), None);
        assert_eq!(window.input_row(0, 1), Some(0));
        assert_eq!(window.input_row(4, 2), None);
    }

    #[test]
    fn dilated_valid_window_reads_inside() {
        let window = window(10, 3, 2, 2, Padding::Valid);
        assert_eq!(window.output[1], 3);
        assert_eq!(window.input_row(2, 2), Some(8));
        assert_eq!(window.input_column(0, 0), Some(0));
    }

    #[test]
    fn stride_two_odd_padding_goes_below() {
        let window = window(6, 3, 2, 1, Padding::Same);
        assert_eq!(window.pad_top, 0);
        assert_eq!(window.input_row(2, 2), None);
        assert_eq!(window.input_row(2, 1), Some(5));
    }
}
