//! The facts the timing model reads from each operator: the GEMM of a MAC
//! layer with the window geometry behind it, or the bytes and element
//! operations of any other operator.
//!
//! Limitation: shapes are read from the graph's tensors as import checked
//! them. The output extent is taken from the output tensor and not
//! recomputed from the padding.

use super::TimingError;
use crate::model::{geometry, Graph, Op, OpKind, Padding, Tensor};

/// The three MAC layer kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacKind {
    Conv,
    Depthwise,
    FullyConnected,
}

/// A MAC layer as `groups` GEMMs of `m x k x group_outputs` over a sliding
/// window.
///
/// CONV_2D is one group with `k = kh * kw * cin`. DEPTHWISE_CONV_2D has one
/// group per input channel with `k = kh * kw` and `depth_multiplier`
/// outputs. FULLY_CONNECTED is a 1 x 1 convolution over `m` rows of one
/// column each, with `k` input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MacShape {
    pub kind: MacKind,
    /// Output rows, all images of the batch stacked.
    pub out_rows: u64,
    pub out_cols: u64,
    /// Output rows of one image.
    pub image_rows: u64,
    /// Input rows and columns of one image.
    pub in_rows: u64,
    pub in_cols: u64,
    /// Padding rows above and columns left of the input.
    pub pad_rows: u64,
    pub pad_cols: u64,
    /// Rows and columns one output pixel reads: the dilated kernel extent.
    pub span_rows: u64,
    pub span_cols: u64,
    pub stride_rows: u64,
    pub stride_cols: u64,
    pub groups: u64,
    /// Input channels per group.
    pub group_inputs: u64,
    /// Output channels per group.
    pub group_outputs: u64,
    /// GEMM rows: output pixels.
    pub m: u64,
    /// GEMM reduction per group.
    pub k: u64,
    /// Output channels of all groups.
    pub n: u64,
}

/// Data movement and element work of an operator that runs on the PPU
/// lanes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VectorWork {
    /// Bytes of each data input read from DRAM.
    pub input_bytes: Vec<u64>,
    pub output_bytes: u64,
    /// Element operations, at `cols` per cycle.
    pub operations: u64,
}

/// The work of one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerWork {
    Mac(MacShape),
    Vector(VectorWork),
    /// RESHAPE: a new view of the same bytes, no data moves.
    Free,
}

/// Reads operator `index` of `graph` into the work the timing model counts.
pub(crate) fn layer_work(graph: &Graph, index: usize, op: &Op) -> Result<LayerWork, TimingError> {
    let reader = OpReader { graph, index, op };
    match &op.kind {
        OpKind::Conv2d(attrs) => reader
            .window(
                MacKind::Conv,
                attrs.padding,
                [attrs.stride.h, attrs.stride.w],
                [attrs.dilation.h, attrs.dilation.w],
            )
            .map(LayerWork::Mac),
        OpKind::DepthwiseConv2d(attrs) => reader
            .window(
                MacKind::Depthwise,
                attrs.padding,
                [attrs.stride.h, attrs.stride.w],
                [attrs.dilation.h, attrs.dilation.w],
            )
            .map(LayerWork::Mac),
        OpKind::FullyConnected(_) => reader.fully_connected().map(LayerWork::Mac),
        OpKind::Reshape => Ok(LayerWork::Free),
        OpKind::Unsupported { name } => Err(TimingError::UnsupportedOp {
            index,
            op: name.clone(),
        }),
        kind => reader.vector(kind).map(LayerWork::Vector),
    }
}

struct OpReader<'a> {
    graph: &'a Graph,
    index: usize,
    op: &'a Op,
}

impl OpReader<'_> {
    fn invalid(&self, message: String) -> TimingError {
        TimingError::InvalidLayer {
            index: self.index,
            op: self.op.kind.name().to_string(),
            message,
        }
    }

    fn overflow(&self, quantity: &'static str) -> TimingError {
        TimingError::Overflow {
            index: self.index,
            op: self.op.kind.name().to_string(),
            quantity,
        }
    }

    fn input(&self, position: usize, role: &str) -> Result<&Tensor, TimingError> {
        self.op
            .input(position)
            .and_then(|id| self.graph.get_tensor(id))
            .ok_or_else(|| self.invalid(format!("{role} (input {position}) is missing")))
    }

    fn output(&self) -> Result<&Tensor, TimingError> {
        self.op
            .output()
            .and_then(|id| self.graph.get_tensor(id))
            .ok_or_else(|| self.invalid("output tensor is missing".to_string()))
    }

    fn rank4(&self, tensor: &Tensor, role: &str, layout: &str) -> Result<[u64; 4], TimingError> {
        match tensor.shape.as_slice() {
            &[a, b, c, d] => Ok([a, b, c, d].map(|dim| dim as u64)),
            shape => Err(self.invalid(format!(
                "{role} \"{}\" has shape {shape:?}; expected rank 4 ({layout})",
                tensor.name
            ))),
        }
    }

    /// CONV_2D and DEPTHWISE_CONV_2D.
    fn window(
        &self,
        kind: MacKind,
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<MacShape, TimingError> {
        let [batch, in_rows, in_cols, in_channels] =
            self.rank4(self.input(0, "input")?, "input", "NHWC")?;
        let filter_layout = match kind {
            MacKind::Depthwise => "1, kh, kw, cout",
            _ => "cout, kh, kw, cin",
        };
        let filter = self.rank4(self.input(1, "filter")?, "filter", filter_layout)?;
        let [_, out_rows, out_cols, out_channels] = self.rank4(self.output()?, "output", "NHWC")?;
        let [kernel_rows, kernel_cols] = [filter[1], filter[2]];

        let (groups, group_inputs, group_outputs) = match kind {
            MacKind::Depthwise => {
                if in_channels == 0 || !out_channels.is_multiple_of(in_channels) {
                    return Err(self.invalid(format!(
                        "{out_channels} output channels are not a multiple of the {in_channels} input channels"
                    )));
                }
                (in_channels, 1, out_channels / in_channels)
            }
            _ => (1, in_channels, out_channels),
        };

        let span = |kernel: u64, dilation: usize| {
            kernel
                .saturating_sub(1)
                .checked_mul(dilation as u64)
                .and_then(|extent| extent.checked_add(1))
        };
        let overflow = || self.overflow("the GEMM size");
        let all_rows = batch.checked_mul(out_rows).ok_or_else(overflow)?;
        let m = all_rows.checked_mul(out_cols).ok_or_else(overflow)?;
        let k = kernel_rows
            .checked_mul(kernel_cols)
            .and_then(|taps| taps.checked_mul(group_inputs))
            .ok_or_else(overflow)?;
        let pad_before = |input: u64, kernel: u64, axis: usize, output: u64| match padding {
            Padding::Same => {
                geometry::padding(
                    input as usize,
                    kernel as usize,
                    stride[axis],
                    dilation[axis],
                    output as usize,
                )
                .before as u64
            }
            Padding::Valid => 0,
        };
        Ok(MacShape {
            kind,
            out_rows: all_rows,
            out_cols,
            image_rows: out_rows,
            in_rows,
            in_cols,
            pad_rows: pad_before(in_rows, kernel_rows, 0, out_rows),
            pad_cols: pad_before(in_cols, kernel_cols, 1, out_cols),
            span_rows: span(kernel_rows, dilation[0]).ok_or_else(overflow)?,
            span_cols: span(kernel_cols, dilation[1]).ok_or_else(overflow)?,
            stride_rows: stride[0] as u64,
            stride_cols: stride[1] as u64,
            groups,
            group_inputs,
            group_outputs,
            m,
            k,
            n: out_channels,
        })
    }

    fn fully_connected(&self) -> Result<MacShape, TimingError> {
        let input = self.input(0, "input")?;
        let weights = self.input(1, "weights")?;
        let (units, depth) = match weights.shape.as_slice() {
            &[units, depth] => (units as u64, depth as u64),
            shape => {
                return Err(self.invalid(format!(
                    "weights \"{}\" have shape {shape:?}; expected [units, depth]",
                    weights.name
                )))
            }
        };
        let elements = input.element_count() as u64;
        if depth == 0 || !elements.is_multiple_of(depth) {
            return Err(self.invalid(format!(
                "input \"{}\" has {elements} elements, not a multiple of the weights' depth {depth}",
                input.name
            )));
        }
        let rows = elements / depth;
        Ok(MacShape {
            kind: MacKind::FullyConnected,
            out_rows: rows,
            out_cols: 1,
            image_rows: rows,
            in_rows: rows,
            in_cols: 1,
            pad_rows: 0,
            pad_cols: 0,
            span_rows: 1,
            span_cols: 1,
            stride_rows: 1,
            stride_cols: 1,
            groups: 1,
            group_inputs: depth,
            group_outputs: units,
            m: rows,
            k: depth,
            n: units,
        })
    }

    fn tensor_bytes(&self, tensor: &Tensor) -> Result<u64, TimingError> {
        tensor
            .dtype
            .byte_len(tensor.element_count())
            .map(|bytes| bytes as u64)
            .ok_or_else(|| {
                self.invalid(format!(
                    "tensor \"{}\" of type {} has no fixed element size",
                    tensor.name, tensor.dtype
                ))
            })
    }

    /// Reads the work of any operator other than the MAC layers and RESHAPE:
    /// the bytes of its data inputs and output, and its element operations.
    fn vector(&self, kind: &OpKind) -> Result<VectorWork, TimingError> {
        // Shape, permutation, axis and padding operands are a few bytes the
        // controller holds; only the data moves.
        let data_inputs: Vec<usize> = match kind {
            OpKind::Add { .. } | OpKind::Mul { .. } | OpKind::Concatenation { .. } => {
                (0..self.op.inputs.len()).collect()
            }
            _ => vec![0],
        };
        let mut input_bytes = Vec::with_capacity(data_inputs.len());
        for position in data_inputs {
            if self.op.input(position).is_some() {
                input_bytes.push(self.tensor_bytes(self.input(position, "input")?)?);
            }
        }
        let output = self.output()?;
        let output_bytes = self.tensor_bytes(output)?;

        let input_elements = self.input(0, "input")?.element_count() as u64;
        let output_elements = output.element_count() as u64;
        let operations = match kind {
            // One read per window tap.
            OpKind::AveragePool2d(attrs) | OpKind::MaxPool2d(attrs) => (attrs.filter.h as u64)
                .checked_mul(attrs.filter.w as u64)
                .and_then(|taps| output_elements.checked_mul(taps))
                .ok_or_else(|| self.overflow("the element operation count"))?,
            // Maximum, sum of exponentials, then the normalised outputs.
            OpKind::Softmax { .. } => input_elements
                .checked_mul(3)
                .ok_or_else(|| self.overflow("the element operation count"))?,
            OpKind::Mean { .. } => input_elements,
            _ => output_elements,
        };
        Ok(VectorWork {
            input_bytes,
            output_bytes,
            operations,
        })
    }
}
