//! The accumulator width that a layer's weights guarantee: no input in the
//! activation range can make the accumulator need more bits.
//!
//! For output channel `c`, with `K` the taps feeding it, the bound is
//! `B(c) = sum_k |w[c][k]| * m + |b(c)|`, where `m` is the largest magnitude
//! an operand can take and `b(c)` the value the bias contributes. With the
//! zero point subtracted, the operand is `x - zx` and
//! `m = max(|x_min - zx|, |x_max - zx|)`, `b(c)` is the bias. With the zero
//! point folded, the operand is the raw `x`, `m = max(|x_min|, |x_max|)`, and
//! `b(c) = bias(c) - zx * sum_k w[c][k]`. Every partial sum in any order is
//! at most `B(c)` in magnitude, so a signed accumulator of
//! `bits_for_magnitude(max_c B(c))` bits never overflows. The bound is exact
//! arithmetic in i128; it is tight only when one input can reach the
//! extreme of every tap at once, so real inputs usually need fewer bits.

use crate::exec::ZeroPointMode;
use crate::model::{Graph, OpKind};

/// Analytic accumulator bound of one MAC layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerBound {
    /// `B(c)` per output channel.
    pub per_channel: Vec<i128>,
    /// The largest `B(c)`.
    pub max: i128,
    /// Signed accumulator width that fits `max`: the guaranteed-safe width.
    pub bits: u32,
}

/// Returns the width of a signed two's complement register that fits every value in
/// `[-magnitude, magnitude]`.
pub fn bits_for_magnitude(magnitude: i128) -> u32 {
    let magnitude = magnitude.unsigned_abs();
    // n bits hold [-2^(n-1), 2^(n-1) - 1]; the positive end decides.
    (u128::BITS - magnitude.leading_zeros()) + 1
}

/// Computes the bound of operator `op_index` for inputs in
/// `[input_min, input_max]`, or `None` when the operator is not a MAC layer
/// or its weights are not constant integers.
pub fn layer_bound(
    graph: &Graph,
    op_index: usize,
    input_min: i64,
    input_max: i64,
    zero_point: ZeroPointMode,
) -> Option<LayerBound> {
    let op = graph.ops.get(op_index)?;
    let input = graph.get_tensor(op.input(0)?)?;
    let zx = input.quantization.as_ref().map_or(0, |q| q.zero_point(0));
    layer_bound_with_zero_point(graph, op_index, input_min, input_max, zx, zero_point)
}

/// Computes the bound like [`layer_bound`], with the input zero point `zx`
/// given instead of read from the input tensor. A datapath that moves or
/// requantises the input passes the zero point on its operand grid, and
/// `[input_min, input_max]` on the same grid.
pub fn layer_bound_with_zero_point(
    graph: &Graph,
    op_index: usize,
    input_min: i64,
    input_max: i64,
    zx: i64,
    zero_point: ZeroPointMode,
) -> Option<LayerBound> {
    let op = graph.ops.get(op_index)?;
    let weights = graph.get_tensor(op.input(1)?)?;
    let values = weights.data_as_i64()?;
    let bias: Option<Vec<i64>> = match op.input(2) {
        Some(id) => Some(graph.get_tensor(id)?.data_as_i64()?),
        None => None,
    };

    // Taps of each output channel, as indices into the weight values.
    let channel_taps: Vec<Vec<usize>> = match (&op.kind, weights.shape.as_slice()) {
        (OpKind::Conv2d(_), [cout, kh, kw, cin]) => {
            let taps = kh * kw * cin;
            (0..*cout)
                .map(|c| (c * taps..(c + 1) * taps).collect())
                .collect()
        }
        (OpKind::FullyConnected(_), [units, depth]) => (0..*units)
            .map(|c| (c * depth..(c + 1) * depth).collect())
            .collect(),
        (OpKind::DepthwiseConv2d(_), [_, kh, kw, cout]) => (0..*cout)
            .map(|c| (0..kh * kw).map(|t| t * cout + c).collect())
            .collect(),
        _ => return None,
    };

    let operand_magnitude = match zero_point {
        ZeroPointMode::Subtract => (i128::from(input_min) - i128::from(zx))
            .abs()
            .max((i128::from(input_max) - i128::from(zx)).abs()),
        ZeroPointMode::Fold => i128::from(input_min).abs().max(i128::from(input_max).abs()),
    };
    let per_channel: Vec<i128> = channel_taps
        .iter()
        .enumerate()
        .map(|(c, taps)| {
            let abs_sum: i128 = taps.iter().map(|&t| i128::from(values[t]).abs()).sum();
            let weight_sum: i128 = taps.iter().map(|&t| i128::from(values[t])).sum();
            let bias_value = bias
                .as_ref()
                .and_then(|b| b.get(c))
                .map_or(0, |&b| i128::from(b));
            let folded_bias = match zero_point {
                ZeroPointMode::Subtract => bias_value,
                ZeroPointMode::Fold => bias_value - i128::from(zx) * weight_sum,
            };
            abs_sum * operand_magnitude + folded_bias.abs()
        })
        .collect();
    let max = per_channel.iter().copied().max().unwrap_or(0);
    Some(LayerBound {
        bits: bits_for_magnitude(max),
        per_channel,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_for_magnitude_covers_both_ends() {
        assert_eq!(bits_for_magnitude(0), 1);
        assert_eq!(bits_for_magnitude(1), 2);
        assert_eq!(bits_for_magnitude(127), 8);
        assert_eq!(bits_for_magnitude(128), 9);
        assert_eq!(bits_for_magnitude(i128::from(i32::MAX)), 32);
        assert_eq!(bits_for_magnitude(1 << 31), 33);
    }
}
