//! The TFLite reader and `inspect` on the real models in ../shared/models.
//!
//! Expected op counts and MAC totals were computed independently with the
//! `tflite` Python package (flatbuffer accessors generated from the schema):
//! for each operator, output elements times kh*kw*cin (CONV_2D), kh*kw
//! (DEPTHWISE_CONV_2D) or the weights' depth (FULLY_CONNECTED).

use fxsim::import::tflite::read_file;
use fxsim::model::{Activation, Graph, OpKind, Padding};
use fxsim::report::inspect::inspect;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn model(name: &str) -> Option<Graph> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models");
    if !dir.is_dir() {
        skip_or_fail(&format!("{} not found", dir.display()));
        return None;
    }
    Some(read_file(dir.join(name)).unwrap_or_else(|e| panic!("{e}")))
}

fn op_counts(graph: &Graph) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for op in &graph.ops {
        *counts.entry(op.kind.name().to_string()).or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs
        .iter()
        .map(|&(name, n)| (name.to_string(), n))
        .collect()
}

#[test]
fn mobilenet_v2_ops_and_macs() {
    let Some(graph) = model("mobilenet_v2_quantized_1x3x224x224.tflite") else {
        return;
    };
    assert_eq!(
        op_counts(&graph),
        counts(&[
            ("ADD", 10),
            ("CONV_2D", 35),
            ("DEPTHWISE_CONV_2D", 17),
            ("FULLY_CONNECTED", 1),
            ("MEAN", 1),
            ("PAD", 18),
            ("RESHAPE", 1),
            ("TRANSPOSE", 1),
        ])
    );
    let summary = inspect(&graph, "mobilenet_v2");
    assert_eq!(summary.totals.macs, 300_774_272);
    assert_eq!(summary.totals.unsupported_ops, 0);
    assert_eq!(graph.tensor(graph.inputs[0]).shape, vec![1, 3, 224, 224]);
    assert_eq!(graph.tensor(graph.outputs[0]).shape, vec![1, 1000]);
    assert!(matches!(graph.ops[0].kind, OpKind::Transpose));
}

#[test]
fn person_detect_first_layer_and_macs() {
    let Some(graph) = model("person_detect.tflite") else {
        return;
    };
    assert_eq!(
        op_counts(&graph),
        counts(&[
            ("AVERAGE_POOL_2D", 1),
            ("CONV_2D", 14),
            ("DEPTHWISE_CONV_2D", 14),
            ("RESHAPE", 1),
            ("SOFTMAX", 1),
        ])
    );
    let first = &graph.ops[0];
    let input = graph.tensor(first.input(0).unwrap());
    let filter = graph.tensor(first.input(1).unwrap());
    assert_eq!(input.shape, vec![1, 96, 96, 1]);
    assert_eq!(filter.shape, vec![1, 3, 3, 8]);
    let OpKind::DepthwiseConv2d(attrs) = &first.kind else {
        panic!("op 0 is {}, expected DEPTHWISE_CONV_2D", first.kind.name())
    };
    assert_eq!((attrs.stride.h, attrs.stride.w), (2, 2));
    assert_eq!(attrs.depth_multiplier, 8);
    assert_eq!(attrs.padding, Padding::Same);
    assert_eq!(attrs.activation, Activation::Relu6);
    assert_eq!(inspect(&graph, "person_detect").totals.macs, 7_157_888);
}

#[test]
fn person_detect_sloppy_quantization_is_accepted() {
    let Some(graph) = model("person_detect.tflite") else {
        return;
    };
    // Depthwise filters carry per-channel scales along dimension 3; their
    // biases repeat quantized_dimension 3 on a rank-1 tensor.
    let first = &graph.ops[0];
    let filter = graph.tensor(first.input(1).unwrap());
    let bias = graph.tensor(first.input(2).unwrap());
    assert_eq!(filter.quantization.as_ref().unwrap().axis, Some(3));
    assert_eq!(bias.quantization.as_ref().unwrap().axis, Some(0));
    assert_eq!(bias.quantization.as_ref().unwrap().scales.len(), 8);
    let input = graph.tensor(graph.inputs[0]).quantization.clone().unwrap();
    assert_eq!(input.zero_points, vec![-1]);
    assert!(input.is_per_tensor());
}

#[test]
fn micro_speech_ops_and_macs() {
    let Some(graph) = model("micro_speech_quantized.tflite") else {
        return;
    };
    assert_eq!(
        op_counts(&graph),
        counts(&[
            ("DEPTHWISE_CONV_2D", 1),
            ("FULLY_CONNECTED", 1),
            ("RESHAPE", 1),
            ("SOFTMAX", 1)
        ])
    );
    assert_eq!(inspect(&graph, "micro_speech").totals.macs, 336_000);
    assert_eq!(graph.tensor(graph.inputs[0]).shape, vec![1, 1960]);
    assert_eq!(graph.tensor(graph.outputs[0]).shape, vec![1, 4]);
}

#[test]
fn hello_world_ops_and_macs() {
    let Some(graph) = model("hello_world_int8.tflite") else {
        return;
    };
    assert_eq!(op_counts(&graph), counts(&[("FULLY_CONNECTED", 3)]));
    let summary = inspect(&graph, "hello_world");
    // 1x16 + 16x16 + 16x1.
    assert_eq!(summary.totals.macs, 288);
    assert_eq!(summary.totals.largest_activation_bytes, 16);
}

#[test]
fn constant_data_lengths_match_shapes() {
    for name in [
        "person_detect.tflite",
        "micro_speech_quantized.tflite",
        "hello_world_int8.tflite",
        "mobilenet_v2_quantized_1x3x224x224.tflite",
    ] {
        let Some(graph) = model(name) else { return };
        for (id, tensor) in graph.tensors.iter().enumerate() {
            if let Some(data) = &tensor.data {
                let expected = tensor.dtype.byte_len(tensor.element_count()).unwrap();
                assert_eq!(
                    data.len(),
                    expected,
                    "{name}: tensor {id} ({})",
                    tensor.name
                );
            }
        }
    }
}

/// Prints why a check is skipped, or fails when `FXSIM_NO_SKIP` is set
/// (CI sets it so that missing models cannot pass silently).
fn skip_or_fail(reason: &str) {
    if std::env::var("FXSIM_NO_SKIP").is_ok_and(|v| !v.is_empty() && v != "0") {
        panic!("FXSIM_NO_SKIP is set, but this test would skip: {reason}");
    }
    eprintln!("skipped: {reason}");
}
