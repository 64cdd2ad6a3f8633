//! A prepared MAC layer in hardware terms, for export: the operands as the
//! multiplier sees them, the accumulator's initial values, the PPU's
//! parameters, and the conversion of an input tensor to operands.
//!
//! Everything here is read from the executor's own prepared plan, so an
//! export cannot drift from what the executor computes. Limitation: the
//! activation operands come per input element; laying them out as the
//! array streams them (im2col) is the caller's job.

use super::kernels::MacOperandMap;
use super::TensorValue;

/// The operator family of a MAC layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacKind {
    Conv2d,
    DepthwiseConv2d,
    FullyConnected,
}

/// One output channel's requantisation parameters:
/// `value = multiplier * 2^-right_shift`.
///
/// For TFLite requantisation the pair is the reference's 32-bit multiplier
/// and its shift negated (two roundings, see `docs/arithmetic.md`); for
/// the other modes it is the single-rounding integer scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRequant {
    pub multiplier: i64,
    pub right_shift: i32,
}

/// A MAC layer as the array and PPU see it.
#[derive(Debug, Clone)]
pub struct MacImage {
    pub kind: MacKind,
    /// GEMMs of the layer: 1, the groups of a grouped convolution, or the
    /// input channels of a depthwise convolution.
    pub groups: usize,
    /// Output channels per group (N of one GEMM).
    pub group_outputs: usize,
    /// Products per accumulator (K of one GEMM), in the weight layout order
    /// `(ky, kx, cin)`.
    pub terms: usize,
    /// `[cout][terms]`: each output channel's weights on the datapath's
    /// weight format, in K order.
    pub weights: Vec<i64>,
    /// Each output channel's accumulator initial value.
    pub starts: Vec<i64>,
    /// Each output channel's bias added in the PPU (0 unless the bias
    /// enters there).
    pub post_biases: Vec<i64>,
    pub requant: Vec<ChannelRequant>,
    /// The input zero point on the datapath's activation format.
    pub input_zero_point: i64,
    /// The operand a padded tap contributes.
    pub pad_value: i64,
    pub output_zero_point: i32,
    /// The clamp after the output zero point.
    pub output_min: i32,
    pub output_max: i32,
    pub(crate) operand_map: MacOperandMap,
}

impl MacImage {
    /// Converts a layer input to the operands the multiplier receives, one
    /// per input element, as the executor does. `None` when the value is
    /// not int8 or int16.
    pub fn operands(&self, value: &TensorValue) -> Option<Vec<i64>> {
        let operands = self.operand_map.operands(value)?;
        Some(operands.into_iter().map(i64::from).collect())
    }
}
