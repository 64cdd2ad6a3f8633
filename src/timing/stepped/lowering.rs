//! Lowering of a CONV_2D or FULLY_CONNECTED layer and its input value to
//! the GEMM operands the stepped array takes (im2col).
//!
//! `a` contains `x - zx` for every output pixel and every K term in the weight
//! layout order `(ky, kx, cin)`, with 0 for a padded tap. `b` contains
//! the weights minus their zero point, K by output channel. This is the
//! `zero_point = "subtract"` datapath on operands that are already in the
//! layer's formats. [`im2col`] lays out operands the caller has already
//! mapped onto a datapath (any zero-point mode, any pad value), for
//! grouped and depthwise convolutions too, one GEMM per group.
//! Limitation: [`lower_layer`] lowers no DEPTHWISE_CONV_2D and no grouped
//! convolution.

use super::GemmOperands;
use crate::exec::TensorValue;
use crate::model::{geometry, Graph, OpKind, Padding, Tensor};
use crate::timing::{Gemm, TimingError};

/// A MAC layer as one GEMM with its operands and bias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoweredGemm {
    pub gemm: Gemm,
    /// `m x k`, row-major.
    pub a: Vec<i64>,
    /// `k x n`, row-major.
    pub b: Vec<i64>,
    /// One per output channel; zeros when the layer has no bias.
    pub bias: Vec<i64>,
}

impl LoweredGemm {
    /// Borrows the operands for [`super::run_gemm`].
    pub fn operands(&self) -> GemmOperands<'_> {
        GemmOperands {
            gemm: self.gemm,
            a: &self.a,
            b: &self.b,
        }
    }
}

/// Lowers operator `index` of `graph`, given the value of its input
/// tensor.
pub fn lower_layer(
    graph: &Graph,
    index: usize,
    input: &TensorValue,
) -> Result<LoweredGemm, TimingError> {
    let op = graph
        .ops
        .get(index)
        .ok_or_else(|| TimingError::InvalidGemm {
            message: format!(
                "no operator at index {index}; the graph has {}",
                graph.ops.len()
            ),
        })?;
    let invalid = |message: String| TimingError::InvalidLayer {
        index,
        op: op.kind.name().to_string(),
        message,
    };
    let tensor = |position: usize, what: &str| {
        op.input(position)
            .and_then(|id| graph.get_tensor(id))
            .ok_or_else(|| invalid(format!("{what} (input {position}) is missing")))
    };
    let input_tensor = tensor(0, "input")?;
    let filter = tensor(1, "filter")?;
    let output = op
        .output()
        .and_then(|id| graph.get_tensor(id))
        .ok_or_else(|| invalid("output tensor is missing".to_string()))?;
    if input.len() != input_tensor.element_count() {
        return Err(invalid(format!(
            "input value has {} elements; the tensor \"{}\" has {}",
            input.len(),
            input_tensor.name,
            input_tensor.element_count()
        )));
    }

    let zero_point = input_tensor
        .quantization
        .as_ref()
        .map_or(0, |q| q.zero_point(0));
    let x: Vec<i64> = input
        .to_i64_vec()
        .into_iter()
        .map(|v| v - zero_point)
        .collect();
    let weights = weight_values(filter).ok_or_else(|| {
        invalid(format!(
            "filter \"{}\" has no integer constant data",
            filter.name
        ))
    })?;

    let (gemm, a, b) = match &op.kind {
        OpKind::Conv2d(attrs) => {
            let geometry = ConvGeometry::read(
                input_tensor,
                filter,
                output,
                attrs.padding,
                [attrs.stride.h, attrs.stride.w],
                [attrs.dilation.h, attrs.dilation.w],
            )
            .filter(|geometry| geometry.groups == 1)
            .ok_or_else(|| {
                invalid(
                    "shapes are not NHWC input, [cout, kh, kw, cin] filter and NHWC output"
                        .to_string(),
                )
            })?;
            geometry.lower(&x, &weights)
        }
        OpKind::FullyConnected(_) => {
            let [units, depth] = filter.shape[..] else {
                return Err(invalid(format!(
                    "weights have shape {:?}; expected [units, depth]",
                    filter.shape
                )));
            };
            if depth == 0 || !x.len().is_multiple_of(depth) {
                return Err(invalid(format!(
                    "{} input elements are not a multiple of depth {depth}",
                    x.len()
                )));
            }
            let gemm = Gemm {
                m: (x.len() / depth) as u64,
                k: depth as u64,
                n: units as u64,
            };
            (gemm, x, transpose(&weights, units, depth))
        }
        kind => {
            return Err(invalid(format!(
                "{} cannot be lowered to one GEMM; expected CONV_2D or FULLY_CONNECTED",
                kind.name()
            )))
        }
    };

    let bias = match op.input(2).and_then(|id| graph.get_tensor(id)) {
        Some(tensor) => tensor.data_as_i64().ok_or_else(|| {
            invalid(format!(
                "bias \"{}\" has no integer constant data",
                tensor.name
            ))
        })?,
        None => vec![0; gemm.n as usize],
    };
    Ok(LoweredGemm { gemm, a, b, bias })
}

/// The streamed operand of a layer's GEMMs: `a` is `[group][m][k]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Im2col {
    pub groups: usize,
    pub m: usize,
    /// K of one group.
    pub k: usize,
    pub a: Vec<i64>,
}

/// Lays out `operands` (one per element of operator `index`'s input, NHWC,
/// already as the multiplier receives them) as the rows of each group's
/// GEMM, with `pad_value` for a padded tap. CONV_2D (with groups),
/// DEPTHWISE_CONV_2D (one group per input channel) and FULLY_CONNECTED
/// (one group, the input rows as they are).
pub fn im2col(
    graph: &Graph,
    index: usize,
    operands: &[i64],
    pad_value: i64,
) -> Result<Im2col, TimingError> {
    let op = graph
        .ops
        .get(index)
        .ok_or_else(|| TimingError::InvalidGemm {
            message: format!(
                "no operator at index {index}; the graph has {}",
                graph.ops.len()
            ),
        })?;
    let invalid = |message: String| TimingError::InvalidLayer {
        index,
        op: op.kind.name().to_string(),
        message,
    };
    let tensor = |position: usize, what: &str| {
        op.input(position)
            .and_then(|id| graph.get_tensor(id))
            .ok_or_else(|| invalid(format!("{what} (input {position}) is missing")))
    };
    let input = tensor(0, "input")?;
    let filter = tensor(1, "filter")?;
    let output = op
        .output()
        .and_then(|id| graph.get_tensor(id))
        .ok_or_else(|| invalid("output tensor is missing".to_string()))?;
    if operands.len() != input.element_count() {
        return Err(invalid(format!(
            "{} operands for the input \"{}\" of {} elements",
            operands.len(),
            input.name,
            input.element_count()
        )));
    }
    let bad_shapes = || invalid("shapes do not fit the operator's layout".to_string());
    let geometry = match &op.kind {
        OpKind::Conv2d(attrs) => ConvGeometry::read(
            input,
            filter,
            output,
            attrs.padding,
            [attrs.stride.h, attrs.stride.w],
            [attrs.dilation.h, attrs.dilation.w],
        ),
        OpKind::DepthwiseConv2d(attrs) => ConvGeometry::read_depthwise(
            input,
            filter,
            output,
            attrs.padding,
            [attrs.stride.h, attrs.stride.w],
            [attrs.dilation.h, attrs.dilation.w],
        ),
        OpKind::FullyConnected(_) => {
            let depth = filter.shape.get(1).copied().filter(|&d| d > 0);
            let depth = depth.ok_or_else(bad_shapes)?;
            if !operands.len().is_multiple_of(depth) {
                return Err(bad_shapes());
            }
            return Ok(Im2col {
                groups: 1,
                m: operands.len() / depth,
                k: depth,
                a: operands.to_vec(),
            });
        }
        kind => {
            return Err(invalid(format!(
                "{} has no GEMM operands; expected CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED",
                kind.name()
            )))
        }
    };
    let geometry = geometry.ok_or_else(bad_shapes)?;
    Ok(geometry.im2col(operands, pad_value))
}

/// Constant weights minus their zero point, in the file's layout.
fn weight_values(filter: &Tensor) -> Option<Vec<i64>> {
    let values = filter.data_as_i64()?;
    let quantization = filter.quantization.as_ref();
    let per_channel = quantization.is_some_and(|q| q.zero_points.len() > 1);
    let channel_len = values.len() / filter.shape.first().copied().unwrap_or(1).max(1);
    Some(
        values
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let channel = if per_channel {
                    i / channel_len.max(1)
                } else {
                    0
                };
                w - quantization.map_or(0, |q| q.zero_point(channel))
            })
            .collect(),
    )
}

/// `rows x cols` row-major to `cols x rows` row-major.
fn transpose(values: &[i64], rows: usize, cols: usize) -> Vec<i64> {
    let mut out = vec![0; values.len()];
    for row in 0..rows {
        for col in 0..cols {
            out[col * rows + row] = values[row * cols + col];
        }
    }
    out
}

struct ConvGeometry {
    batch: usize,
    in_rows: usize,
    in_cols: usize,
    channels: usize,
    groups: usize,
    /// Input channels one group reads.
    group_channels: usize,
    out_rows: usize,
    out_cols: usize,
    out_channels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad_before: [usize; 2],
}

impl ConvGeometry {
    fn read(
        input: &Tensor,
        filter: &Tensor,
        output: &Tensor,
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Option<ConvGeometry> {
        let [batch, in_rows, in_cols, channels] = input.shape[..] else {
            return None;
        };
        let [out_channels, kernel_rows, kernel_cols, filter_channels] = filter.shape[..] else {
            return None;
        };
        let [_, out_rows, out_cols, _] = output.shape[..] else {
            return None;
        };
        if filter_channels == 0 || !channels.is_multiple_of(filter_channels) {
            return None;
        }
        let mut geometry = Self::read_window(
            [batch, in_rows, in_cols, channels],
            [out_rows, out_cols, out_channels],
            [kernel_rows, kernel_cols],
            padding,
            stride,
            dilation,
        );
        geometry.groups = channels / filter_channels;
        geometry.group_channels = filter_channels;
        Some(geometry)
    }

    /// Reads a depthwise layer: filter `[1, kh, kw, cout]`, one group per
    /// input channel.
    fn read_depthwise(
        input: &Tensor,
        filter: &Tensor,
        output: &Tensor,
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Option<ConvGeometry> {
        let [batch, in_rows, in_cols, channels] = input.shape[..] else {
            return None;
        };
        let [1, kernel_rows, kernel_cols, out_channels] = filter.shape[..] else {
            return None;
        };
        let [_, out_rows, out_cols, _] = output.shape[..] else {
            return None;
        };
        let mut geometry = Self::read_window(
            [batch, in_rows, in_cols, channels],
            [out_rows, out_cols, out_channels],
            [kernel_rows, kernel_cols],
            padding,
            stride,
            dilation,
        );
        geometry.groups = channels;
        geometry.group_channels = 1;
        Some(geometry)
    }

    /// Builds the geometry of one group covering every input channel.
    fn read_window(
        [batch, in_rows, in_cols, channels]: [usize; 4],
        [out_rows, out_cols, out_channels]: [usize; 3],
        [kernel_rows, kernel_cols]: [usize; 2],
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> ConvGeometry {
        let pad = |axis: usize, input: usize, kernel: usize, out: usize| match padding {
            Padding::Same => {
                geometry::padding(input, kernel, stride[axis], dilation[axis], out).before
            }
            Padding::Valid => 0,
        };
        ConvGeometry {
            batch,
            in_rows,
            in_cols,
            channels,
            groups: 1,
            group_channels: channels,
            out_rows,
            out_cols,
            out_channels,
            kernel: [kernel_rows, kernel_cols],
            stride,
            dilation,
            pad_before: [
                pad(0, in_rows, kernel_rows, out_rows),
                pad(1, in_cols, kernel_cols, out_cols),
            ],
        }
    }

    /// Builds `a` (im2col of the zero-point-free input `x`) and `b` (the
    /// weights as K by output channel). Only for one group.
    fn lower(&self, x: &[i64], weights: &[i64]) -> (Gemm, Vec<i64>, Vec<i64>) {
        let Im2col { m, k, a, .. } = self.im2col(x, 0);
        let gemm = Gemm {
            m: m as u64,
            k: k as u64,
            n: self.out_channels as u64,
        };
        (gemm, a, transpose(weights, self.out_channels, k))
    }

    /// Lays out `x` as `[group][m][k]` with `pad` for padded taps.
    fn im2col(&self, x: &[i64], pad: i64) -> Im2col {
        let k = self.kernel[0] * self.kernel[1] * self.group_channels;
        let m = self.batch * self.out_rows * self.out_cols;
        let mut a = Vec::with_capacity(self.groups * m * k);
        for group in 0..self.groups {
            let first_channel = group * self.group_channels;
            for image in 0..self.batch {
                for out_row in 0..self.out_rows {
                    for out_col in 0..self.out_cols {
                        for ky in 0..self.kernel[0] {
                            for kx in 0..self.kernel[1] {
                                match self.tap(out_row, out_col, ky, kx) {
                                    Some((r, c)) => {
                                        let pixel = ((image * self.in_rows + r) * self.in_cols + c)
                                            * self.channels;
                                        a.extend_from_slice(
                                            &x[pixel + first_channel..][..self.group_channels],
                                        );
                                    }
                                    None => a.extend(std::iter::repeat_n(pad, self.group_channels)),
                                }
                            }
                        }
                    }
                }
            }
        }
        Im2col {
            groups: self.groups,
            m,
            k,
            a,
        }
    }

    /// Returns the input pixel kernel tap `(ky, kx)` of output pixel
    /// `(out_row, out_col)` reads, `None` in the padding.
    fn tap(&self, out_row: usize, out_col: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let in_row =
            (out_row * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pad_before[0]);
        let in_col =
            (out_col * self.stride[1] + kx * self.dilation[1]).checked_sub(self.pad_before[1]);
        match (in_row, in_col) {
            (Some(r), Some(c)) if r < self.in_rows && c < self.in_cols => Some((r, c)),
            _ => None,
        }
    }
}
