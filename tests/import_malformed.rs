//! Broken TFLite files give typed errors that name the file, the place and
//! the field; random corruption never panics.
//!
//! Models are built with the flatbuffers builder in
//! `support/tflite_builder.rs`.

#[path = "support/tflite_builder.rs"]
mod tflite_builder;

use fxsim::import::tflite::{read_bytes, read_bytes_with};
use fxsim::import::{ImportError, ImportErrorKind, ImportOptions};
use proptest::prelude::*;
use std::path::PathBuf;
use tflite_builder::{build, conv_model, ModelSpec, PAD_OPTIONS};

/// Reads `spec` and returns the error, failing the test when it reads.
fn error_of(spec: &ModelSpec) -> ImportError {
    match read_bytes(&build(spec), "broken.tflite") {
        Ok(_) => panic!("a broken model was accepted"),
        Err(error) => error,
    }
}

/// Asserts the message names the file and contains every fragment.
fn assert_message(error: &ImportError, fragments: &[&str]) {
    let message = error.to_string();
    assert!(
        message.starts_with("broken.tflite: "),
        "message does not name the file: {message}"
    );
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "message lacks {fragment:?}: {message}"
        );
    }
}

#[test]
fn conv_model_reads() {
    let graph = read_bytes(&build(&conv_model()), "conv.tflite").unwrap();
    assert_eq!(graph.ops.len(), 1);
    assert_eq!(graph.ops[0].kind.name(), "CONV_2D");
}

#[test]
fn eight_byte_file_is_rejected() {
    let bytes = [0x18, 0x00, 0x00, 0x00, 0x54, 0x46, 0x4C, 0x33];
    let error = read_bytes(&bytes, "broken.tflite").unwrap_err();
    assert!(
        matches!(*error.kind, ImportErrorKind::Flatbuffer(_)),
        "{error}"
    );
    assert_message(&error, &["damaged or truncated TFLite model (8 bytes)"]);
}

#[test]
fn empty_file_is_rejected() {
    let error = read_bytes(&[], "broken.tflite").unwrap_err();
    assert!(
        matches!(*error.kind, ImportErrorKind::Flatbuffer(_)),
        "{error}"
    );
}

#[test]
fn zero_stride_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_i32 = vec![(1, 0), (2, 2)];
    let error = error_of(&spec);
    assert!(
        matches!(*error.kind, ImportErrorKind::Attribute { .. }),
        "{error}"
    );
    assert_message(&error, &["op 0 (CONV_2D)", "stride_w = 0", "1 to 8"]);
}

#[test]
fn huge_stride_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_i32 = vec![(1, 2), (2, 65536)];
    let error = error_of(&spec);
    assert_message(&error, &["op 0 (CONV_2D)", "stride_h = 65536"]);
}

#[test]
fn zero_dilation_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_i32.push((4, 0));
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "dilation_w_factor = 0"],
    );
}

#[test]
fn unknown_padding_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_i8 = vec![(0, 7), (3, 1)];
    assert_message(&error_of(&spec), &["op 0 (CONV_2D)", "padding = 7", "SAME"]);
}

#[test]
fn unknown_activation_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_i8 = vec![(0, 0), (3, 9)];
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "fused_activation_function = 9"],
    );
}

#[test]
fn options_of_wrong_type_are_rejected() {
    let mut spec = conv_model();
    spec.ops[0].options_type = PAD_OPTIONS;
    let error = error_of(&spec);
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::OptionsType {
                found: 22,
                expected: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn op_input_index_out_of_range_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].inputs[1] = 40;
    let error = error_of(&spec);
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::IndexOutOfRange {
                index: 40,
                count: 4,
                ..
            }
        ),
        "{error}"
    );
    assert_message(&error, &["op 0 (CONV_2D)", "inputs[1]", "index 40"]);
}

#[test]
fn op_output_index_out_of_range_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].outputs[0] = -1;
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "outputs[0]", "index -1"],
    );
}

#[test]
fn graph_input_index_out_of_range_is_rejected() {
    let mut spec = conv_model();
    spec.inputs[0] = 4;
    assert_message(&error_of(&spec), &["subgraph 0", "inputs[0]", "index 4"]);
}

#[test]
fn opcode_index_out_of_range_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].opcode_index = 3;
    assert_message(&error_of(&spec), &["op 0", "opcode_index", "index 3"]);
}

#[test]
fn buffer_index_out_of_range_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[1].buffer = 9;
    let error = error_of(&spec);
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::IndexOutOfRange {
                index: 9,
                count: 3,
                ..
            }
        ),
        "{error}"
    );
    assert_message(&error, &["tensor 1 (filter)", "buffer"]);
}

#[test]
fn data_length_mismatch_is_rejected() {
    let mut spec = conv_model();
    spec.buffers[1] = vec![1u8; 71];
    let error = error_of(&spec);
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::DataLength {
                expected: 72,
                found: 71,
                ..
            }
        ),
        "{error}"
    );
    assert_message(&error, &["tensor 1 (filter)", "71 bytes", "needs 72"]);
}

#[test]
fn overflowing_shape_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[1].shape = vec![i32::MAX, i32::MAX, i32::MAX, 4];
    let error = error_of(&spec);
    assert!(
        matches!(*error.kind, ImportErrorKind::ShapeOverflow { .. }),
        "{error}"
    );
    assert_message(&error, &["tensor 1 (filter)"]);
}

#[test]
fn negative_dimension_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[0].shape = vec![1, -8, 8, 2];
    let error = error_of(&spec);
    assert!(
        matches!(*error.kind, ImportErrorKind::NegativeDimension { .. }),
        "{error}"
    );
    assert_message(&error, &["tensor 0 (input)"]);
}

#[test]
fn filter_channel_mismatch_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[1].shape = vec![4, 3, 2, 3];
    let error = error_of(&spec);
    assert_message(
        &error,
        &[
            "op 0 (CONV_2D)",
            "input 1 (filter)",
            "3 input channels",
            "2 channels",
        ],
    );
}

#[test]
fn output_shape_mismatch_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[3].shape = vec![1, 5, 4, 4];
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "output 0", "[1, 5, 4, 4]", "[1, 4, 4, 4]"],
    );
}

#[test]
fn bias_length_mismatch_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[2].shape = vec![3];
    spec.buffers[2] = vec![0u8; 12];
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "input 2 (bias)", "expected 4"],
    );
}

#[test]
fn zero_point_outside_type_range_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[0].zero_points = vec![300];
    let error = error_of(&spec);
    assert!(
        matches!(*error.kind, ImportErrorKind::Quantization { .. }),
        "{error}"
    );
    assert_message(
        &error,
        &["tensor 0 (input)", "zero point 300", "[-128, 127]"],
    );
}

#[test]
fn nan_and_negative_scales_are_rejected() {
    for scale in [f32::NAN, f32::INFINITY, -0.5] {
        let mut spec = conv_model();
        spec.tensors[0].scales = vec![scale];
        assert_message(
            &error_of(&spec),
            &["tensor 0 (input)", "invalid quantization", "scale"],
        );
    }
}

#[test]
fn per_channel_scale_count_mismatch_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[1].scales = vec![0.25; 3];
    spec.tensors[1].zero_points = vec![0; 3];
    assert_message(
        &error_of(&spec),
        &["tensor 1 (filter)", "3 scales", "size 4"],
    );
}

#[test]
fn single_scale_with_nonzero_dimension_is_per_tensor() {
    let mut spec = conv_model();
    spec.tensors[1].quantized_dimension = 3;
    let graph = read_bytes(&build(&spec), "conv.tflite").unwrap();
    assert!(graph.tensors[1]
        .quantization
        .as_ref()
        .unwrap()
        .is_per_tensor());
}

#[test]
fn missing_required_conv_input_is_rejected() {
    let mut spec = conv_model();
    spec.ops[0].inputs = vec![0, -1, 2];
    assert_message(
        &error_of(&spec),
        &["op 0 (CONV_2D)", "input 1 (filter)", "missing"],
    );
}

#[test]
fn unknown_operator_is_listed_as_unsupported() {
    let mut spec = conv_model();
    spec.codes = vec![5];
    let graph = read_bytes(&build(&spec), "depth_to_space.tflite").unwrap();
    assert!(graph.ops[0].kind.is_unsupported());
    assert_eq!(graph.ops[0].kind.name(), "DEPTH_TO_SPACE");
}

fn shared_model(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/models")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            skip_or_fail(&format!("{} not found", path.display()));
            None
        }
    }
}

#[test]
fn truncated_shared_models_are_rejected() {
    for name in [
        "hello_world_int8.tflite",
        "micro_speech_quantized.tflite",
        "person_detect.tflite",
        "mobilenet_v2_quantized_1x3x224x224.tflite",
    ] {
        let Some(bytes) = shared_model(name) else {
            return;
        };
        let step = (bytes.len() / 300).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let result = read_bytes(&bytes[..cut], name);
            assert!(
                result.is_err(),
                "{name} truncated to {cut} bytes was accepted"
            );
        }
    }
}

fn mutate(bytes: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for &(position, value) in edits {
        let position = position % bytes.len();
        bytes[position] = value;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_models_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        for name in ["hello_world_int8.tflite", "micro_speech_quantized.tflite", "person_detect.tflite"] {
            let Some(bytes) = shared_model(name) else { return Ok(()) };
            if let Ok(graph) = read_bytes(&mutate(&bytes, &edits), name) {
                let _ = fxsim::report::inspect::inspect(&graph, name).to_text();
            }
        }
    }

    #[test]
    fn mutated_builder_models_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let bytes = build(&conv_model());
        if let Ok(graph) = read_bytes(&mutate(&bytes, &edits), "conv.tflite") {
            let _ = fxsim::report::inspect::inspect(&graph, "conv").to_text();
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

#[test]
fn tensor_over_size_limit_is_rejected() {
    let options = ImportOptions {
        max_tensor_bytes: 127,
        ..ImportOptions::default()
    };
    // The input [1, 8, 8, 2] of int8 is the first tensor over 127 bytes.
    let error = read_bytes_with(&build(&conv_model()), "broken.tflite", &options).unwrap_err();
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::TensorTooLarge {
                bytes: 128,
                limit: 127,
                ..
            }
        ),
        "{error}"
    );
    assert_message(
        &error,
        &["tensor 0 (input)", "[1, 8, 8, 2] of int8", "128 bytes"],
    );
}

#[test]
fn tensor_of_sixteen_gib_is_rejected_by_default() {
    let mut spec = conv_model();
    spec.tensors[3].shape = vec![1, 65536, 65536, 4];
    let error = error_of(&spec);
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::TensorTooLarge {
                bytes: 17_179_869_184,
                ..
            }
        ),
        "{error}"
    );
    assert_message(&error, &["tensor 3 (output)", "268435456-byte limit"]);
}

#[test]
fn int4_tensor_size_counts_half_bytes() {
    // 9 int4 elements take 5 bytes; a limit of 5 accepts the tensor.
    let mut spec = conv_model();
    spec.tensors[0].shape = vec![1, 3, 3, 1];
    spec.tensors[0].dtype = 17;
    spec.tensors[0].zero_points = vec![0];
    spec.ops.clear();
    let options = ImportOptions {
        max_tensor_bytes: 128,
        ..ImportOptions::default()
    };
    assert!(read_bytes_with(&build(&spec), "int4.tflite", &options).is_ok());
    let options = ImportOptions {
        max_tensor_bytes: 4,
        ..ImportOptions::default()
    };
    let error = read_bytes_with(&build(&spec), "int4.tflite", &options).unwrap_err();
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::TensorTooLarge { bytes: 5, .. }
        ),
        "{error}"
    );
}

#[test]
fn model_over_total_limit_is_rejected() {
    let options = ImportOptions {
        max_total_bytes: 215,
        ..ImportOptions::default()
    };
    // Input 128, filter 72, bias 16: 216 bytes once the bias is read.
    let error = read_bytes_with(&build(&conv_model()), "broken.tflite", &options).unwrap_err();
    assert!(
        matches!(
            *error.kind,
            ImportErrorKind::ModelTooLarge {
                bytes: 216,
                limit: 215,
                ..
            }
        ),
        "{error}"
    );
    assert_message(&error, &["tensor 2 (bias)"]);
}

#[test]
fn zero_scale_on_activation_is_rejected() {
    let mut spec = conv_model();
    spec.tensors[3].scales = vec![0.0];
    assert_message(
        &error_of(&spec),
        &[
            "tensor 3 (output)",
            "scale 0 on a tensor without constant data",
        ],
    );
}

#[test]
fn zero_scale_on_constant_is_accepted() {
    let mut spec = conv_model();
    spec.tensors[1].scales = vec![0.0];
    assert!(read_bytes(&build(&spec), "conv.tflite").is_ok());
}

#[test]
fn wrong_file_identifier_is_rejected() {
    let mut bytes = build(&conv_model());
    bytes[4..8].copy_from_slice(b"TFL2");
    let error = read_bytes(&bytes, "broken.tflite").unwrap_err();
    assert_message(&error, &["no TFL3 file identifier", "\"TFL2\""]);
}
