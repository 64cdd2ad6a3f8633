//! Window geometry shared by convolution and pooling: output extents and the
//! padding TensorFlow applies.
//!
//! Formulas (TensorFlow's, which the TFLite reference kernels use):
//! effective kernel `k_eff = (k - 1) * dilation + 1`;
//! SAME: `out = ceil(in / stride)`; VALID: `out = ceil((in - k_eff + 1) / stride)`;
//! total padding `max((out - 1) * stride + k_eff - in, 0)`, of which
//! `total / 2` goes before and the rest (one more when odd) after.

use super::Padding;

/// Padding of one spatial dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pad1d {
    pub before: usize,
    pub after: usize,
}

/// Effective extent of a dilated kernel, or `None` on overflow.
pub fn effective_kernel(kernel: usize, dilation: usize) -> Option<usize> {
    kernel.checked_sub(1)?.checked_mul(dilation)?.checked_add(1)
}

/// Output extent of a window of `kernel` taps sliding over `input` positions.
///
/// Returns `None` when a stride is 0, the kernel is empty, or (VALID) the
/// effective kernel is larger than the input, so that no output exists.
pub fn output_extent(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<usize> {
    if stride == 0 || kernel == 0 || dilation == 0 {
        return None;
    }
    let k_eff = effective_kernel(kernel, dilation)?;
    match padding {
        Padding::Same => Some(input.div_ceil(stride)),
        Padding::Valid => {
            let span = input.checked_sub(k_eff)?.checked_add(1)?;
            Some(span.div_ceil(stride))
        }
    }
}

/// Padding before and after one dimension for the given output extent.
pub fn padding(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    output: usize,
) -> Pad1d {
    let k_eff = effective_kernel(kernel, dilation).unwrap_or(usize::MAX);
    let needed = output
        .saturating_sub(1)
        .saturating_mul(stride)
        .saturating_add(k_eff);
    let total = needed.saturating_sub(input);
    Pad1d {
        before: total / 2,
        after: total - total / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_of_odd_total_goes_after() {
        // 6x6 input, 3x3 kernel, stride 2: out 3, total padding 1.
        let out = output_extent(6, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!(out, 3);
        assert_eq!(
            padding(6, 3, 2, 1, out),
            Pad1d {
                before: 0,
                after: 1
            }
        );
    }

    #[test]
    fn same_padding_of_even_total_splits() {
        let out = output_extent(5, 3, 1, 1, Padding::Same).unwrap();
        assert_eq!(out, 5);
        assert_eq!(
            padding(5, 3, 1, 1, out),
            Pad1d {
                before: 1,
                after: 1
            }
        );
    }

    #[test]
    fn valid_extent_with_dilation() {
        // k_eff = (3-1)*2+1 = 5, (10-5+1)=6, ceil(6/2)=3.
        assert_eq!(output_extent(10, 3, 2, 2, Padding::Valid), Some(3));
        assert_eq!(
            padding(10, 3, 2, 2, 3),
            Pad1d {
                before: 0,
                after: 0
            }
        );
    }

    #[test]
    fn valid_extent_of_kernel_larger_than_input_is_none() {
        assert_eq!(output_extent(2, 3, 1, 1, Padding::Valid), None);
        assert_eq!(output_extent(2, 3, 0, 1, Padding::Same), None);
    }
}
