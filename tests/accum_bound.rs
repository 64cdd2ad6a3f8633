//! The analytic accumulator bound on a hand-made layer, computed by hand,
//! and on the shared models against exhaustive extremes.

use fxsim::analysis::accum_bound::{bits_for_magnitude, layer_bound};
use fxsim::exec::ZeroPointMode;
use fxsim::model::{
    Activation, Conv2dAttrs, DataType, DepthwiseConv2dAttrs, Graph, Hw, Op, OpKind, Padding,
    Quantization, Tensor,
};

fn tensor(
    name: &str,
    shape: &[usize],
    dtype: DataType,
    zero_point: i64,
    data: Option<Vec<u8>>,
) -> Tensor {
    Tensor {
        name: name.into(),
        shape: shape.to_vec(),
        dtype,
        quantization: Some(Quantization::per_tensor(0.5, zero_point)),
        data,
        is_variable: false,
    }
}

fn i8_bytes(values: &[i8]) -> Vec<u8> {
    values.iter().map(|&v| v as u8).collect()
}

fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// CONV_2D 1x1 with 3 input channels and 2 output channels:
/// channel 0 weights [10, -20, 30], bias 100; channel 1 weights [-128, 127, 1], bias -5000.
fn conv_graph() -> Graph {
    Graph {
        name: String::new(),
        description: String::new(),
        tensors: vec![
            tensor("x", &[1, 2, 2, 3], DataType::Int8, -3, None),
            tensor(
                "w",
                &[2, 1, 1, 3],
                DataType::Int8,
                0,
                Some(i8_bytes(&[10, -20, 30, -128, 127, 1])),
            ),
            tensor(
                "b",
                &[2],
                DataType::Int32,
                0,
                Some(i32_bytes(&[100, -5000])),
            ),
            tensor("y", &[1, 2, 2, 2], DataType::Int8, 0, None),
        ],
        ops: vec![Op {
            kind: OpKind::Conv2d(Conv2dAttrs {
                padding: Padding::Valid,
                stride: Hw { h: 1, w: 1 },
                dilation: Hw { h: 1, w: 1 },
                activation: Activation::None,
            }),
            inputs: vec![Some(0), Some(1), Some(2)],
            outputs: vec![3],
        }],
        inputs: vec![0],
        outputs: vec![3],
    }
}

#[test]
fn conv_bound_with_zero_point_subtracted() {
    // x in [-128, 127], zx = -3: |x - zx| is at most max(125, 130) = 130.
    // Channel 0: (10 + 20 + 30) * 130 + 100 = 7900.
    // Channel 1: (128 + 127 + 1) * 130 + 5000 = 38280.
    let bound = layer_bound(&conv_graph(), 0, -128, 127, ZeroPointMode::Subtract).unwrap();
    assert_eq!(bound.per_channel, vec![7900, 38280]);
    assert_eq!(bound.max, 38280);
    // 38280 < 2^16 = 65536, so 17 signed bits hold it.
    assert_eq!(bound.bits, 17);
}

#[test]
fn conv_bound_with_zero_point_folded() {
    // Raw x: |x| at most 128. Folded bias = b - zx * sum(w) = b + 3 * sum(w).
    // Channel 0: 60 * 128 + |100 + 3 * 20| = 7680 + 160 = 7840.
    // Channel 1: 256 * 128 + |-5000 + 3 * 0| = 32768 + 5000 = 37768.
    let bound = layer_bound(&conv_graph(), 0, -128, 127, ZeroPointMode::Fold).unwrap();
    assert_eq!(bound.per_channel, vec![7840, 37768]);
    assert_eq!(bound.bits, 17);
}

#[test]
fn depthwise_bound_takes_taps_per_channel() {
    // Filter [1, 2, 1, 2]: taps of channel 0 are w[0] = 5 and w[2] = -7,
    // of channel 1 are w[1] = 1 and w[3] = 2. No bias, zx = 0, |x| <= 128.
    let mut graph = conv_graph();
    graph.tensors[0] = tensor("x", &[1, 3, 1, 2], DataType::Int8, 0, None);
    graph.tensors[1] = tensor(
        "w",
        &[1, 2, 1, 2],
        DataType::Int8,
        0,
        Some(i8_bytes(&[5, 1, -7, 2])),
    );
    graph.tensors[3] = tensor("y", &[1, 2, 1, 2], DataType::Int8, 0, None);
    graph.ops[0] = Op {
        kind: OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
            padding: Padding::Valid,
            stride: Hw { h: 1, w: 1 },
            dilation: Hw { h: 1, w: 1 },
            depth_multiplier: 1,
            activation: Activation::None,
        }),
        inputs: vec![Some(0), Some(1), None],
        outputs: vec![3],
    };
    let bound = layer_bound(&graph, 0, -128, 127, ZeroPointMode::Subtract).unwrap();
    assert_eq!(bound.per_channel, vec![12 * 128, 3 * 128]);
    assert_eq!(bound.bits, bits_for_magnitude(1536));
    assert_eq!(bound.bits, 12);
}

#[test]
fn non_mac_layers_have_no_bound() {
    let mut graph = conv_graph();
    graph.ops[0].kind = OpKind::Logistic;
    assert_eq!(
        layer_bound(&graph, 0, -128, 127, ZeroPointMode::Subtract),
        None
    );
}
