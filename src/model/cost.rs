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
    // The factors are element counts that import checked, but their
    // product can pass u64 in a forged model, so it saturates.
    let per_output = match (&op.kind, filter_shape) {
        // Filter [cout, kh, kw, cin]: each output element needs kh*kw*cin.
        (OpKind::Conv2d(_), Some(&[_, kh, kw, cin])) => product(&[kh, kw, cin]),
        // Filter [1, kh, kw, cout]: each output element needs kh*kw.
        (OpKind::DepthwiseConv2d(_), Some(&[_, kh, kw, _])) => product(&[kh, kw]),
        // Weights [units, k]: each output element needs k.
        (OpKind::FullyConnected(_), Some(&[_, k])) => product(&[k]),
        _ => 0,
    };
    output_elements.saturating_mul(per_output)
}

/// Multiply-accumulates of every operator of `graph`, saturating at
/// `u64::MAX`.
pub fn total_macs(graph: &Graph) -> u64 {
    graph
        .ops
        .iter()
        .map(|op| macs(graph, op))
        .fold(0, u64::saturating_add)
}

fn product(factors: &[usize]) -> u64 {
    factors
        .iter()
        .fold(1_u64, |acc, &factor| acc.saturating_mul(factor as u64))
}

/// Bytes of constant data read by `op` (weights, bias, shape operands).
pub fn parameter_bytes(graph: &Graph, op: &Op) -> u64 {
    op.inputs
        .iter()
        .flatten()
        .filter_map(|&id| graph.get_tensor(id))
        .map(|t| t.data_len() as u64)
        .fold(0, u64::saturating_add)
}
