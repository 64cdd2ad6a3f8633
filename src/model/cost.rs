//! Work and storage counts of an operator: multiply-accumulates and
//! constant parameter bytes.
//!
//! MACs count only the multiply-accumulates of convolution, depthwise
//! convolution and fully connected layers (one per weight tap per output
//! element, padding taps included, as the array would issue them); other
//! operators count 0 MACs.

use super::{Graph, Op, OpKind};

/// Multiply-accumulates of `op`.
pub fn macs(graph: &Graph, op: &Op) -> u64 {
    let output_elements = op
        .output()
        .and_then(|id| graph.get_tensor(id))
        .map_or(0, |t| t.element_count() as u64);
    let filter_shape = op
        .input(1)
        .and_then(|id| graph.get_tensor(id))
        .map(|t| t.shape.as_slice());
    match (&op.kind, filter_shape) {
        // Filter [cout, kh, kw, cin]: each output element needs kh*kw*cin.
        (OpKind::Conv2d(_), Some([_, kh, kw, cin])) => output_elements * (kh * kw * cin) as u64,
        // Filter [1, kh, kw, cout]: each output element needs kh*kw.
        (OpKind::DepthwiseConv2d(_), Some([_, kh, kw, _])) => output_elements * (kh * kw) as u64,
        // Weights [units, k]: each output element needs k.
        (OpKind::FullyConnected(_), Some([_, k])) => output_elements * *k as u64,
        _ => 0,
    }
}

/// Bytes of constant data read by `op` (weights, bias, shape operands).
pub fn parameter_bytes(graph: &Graph, op: &Op) -> u64 {
    op.inputs
        .iter()
        .flatten()
        .filter_map(|&id| graph.get_tensor(id))
        .map(|t| t.data_len() as u64)
        .sum()
}
