//! Broken TFLite files give typed errors that name the file, the place and
//! the field; random corruption never panics.
//!
//! Models are built here with the flatbuffers builder, field ids as in
//! TensorFlow Lite's `schema.fbs` (vtable offset `4 + 2 * id`).

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use fxsim::import::tflite::read_bytes;
use fxsim::import::{ImportError, ImportErrorKind};
use proptest::prelude::*;
use std::path::PathBuf;

const INT8: i8 = 9;
const INT32: i8 = 2;
const CONV_2D: i32 = 3;
const CONV_OPTIONS: u8 = 1;
const PAD_OPTIONS: u8 = 22;

#[derive(Clone)]
struct TensorSpec {
    name: &'static str,
    shape: Vec<i32>,
    dtype: i8,
    buffer: u32,
    scales: Vec<f32>,
    zero_points: Vec<i64>,
    quantized_dimension: i32,
}

#[derive(Clone)]
struct OpSpec {
    opcode_index: u32,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    options_type: u8,
    /// (field id, value) pairs; i8 fields are enums.
    options_i8: Vec<(u16, i8)>,
    options_i32: Vec<(u16, i32)>,
}

#[derive(Clone)]
struct ModelSpec {
    codes: Vec<i32>,
    tensors: Vec<TensorSpec>,
    buffers: Vec<Vec<u8>>,
    ops: Vec<OpSpec>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
}

fn slot(id: u16) -> u16 {
    4 + 2 * id
}

fn quantized(
    name: &'static str,
    shape: &[i32],
    dtype: i8,
    buffer: u32,
    scale: f32,
    zero_point: i64,
) -> TensorSpec {
    TensorSpec {
        name,
        shape: shape.to_vec(),
        dtype,
        buffer,
        scales: vec![scale],
        zero_points: vec![zero_point],
        quantized_dimension: 0,
    }
}

/// Builds one CONV_2D: input [1,8,8,2], filter [4,3,3,2], bias [4], output
/// [1,4,4,4], stride 2, SAME, ReLU.
fn conv_model() -> ModelSpec {
    ModelSpec {
        codes: vec![CONV_2D],
        tensors: vec![
            quantized("input", &[1, 8, 8, 2], INT8, 0, 0.5, -1),
            quantized("filter", &[4, 3, 3, 2], INT8, 1, 0.25, 0),
            quantized("bias", &[4], INT32, 2, 0.125, 0),
            quantized("output", &[1, 4, 4, 4], INT8, 0, 1.0, 3),
        ],
        buffers: vec![vec![], vec![1u8; 72], vec![0u8; 16]],
        ops: vec![OpSpec {
            opcode_index: 0,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
            options_type: CONV_OPTIONS,
            options_i8: vec![(0, 0), (3, 1)],
            options_i32: vec![(1, 2), (2, 2)],
        }],
        inputs: vec![0],
        outputs: vec![3],
    }
}

fn build(spec: &ModelSpec) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();

    let codes: Vec<_> = spec
        .codes
        .iter()
        .map(|&code| {
            let start = fbb.start_table();
            fbb.push_slot_always::<i8>(slot(0), code.min(127) as i8);
            fbb.push_slot_always::<i32>(slot(2), 1);
            fbb.push_slot_always::<i32>(slot(3), code);
            fbb.end_table(start)
        })
        .collect();
    let codes = fbb.create_vector(&codes);

    let buffers: Vec<_> = spec
        .buffers
        .iter()
        .map(|data| {
            let data = fbb.create_vector(data);
            let start = fbb.start_table();
            fbb.push_slot_always::<WIPOffset<_>>(slot(0), data);
            fbb.end_table(start)
        })
        .collect();
    let buffers = fbb.create_vector(&buffers);

    let tensors: Vec<_> = spec
        .tensors
        .iter()
        .map(|t| {
            let shape = fbb.create_vector(&t.shape);
            let name = fbb.create_string(t.name);
            let scales = fbb.create_vector(&t.scales);
            let zero_points = fbb.create_vector(&t.zero_points);
            let start = fbb.start_table();
            fbb.push_slot_always::<WIPOffset<_>>(slot(2), scales);
            fbb.push_slot_always::<WIPOffset<_>>(slot(3), zero_points);
            fbb.push_slot_always::<i32>(slot(6), t.quantized_dimension);
            let quantization = fbb.end_table(start);
            let start = fbb.start_table();
            fbb.push_slot_always::<WIPOffset<_>>(slot(0), shape);
            fbb.push_slot_always::<i8>(slot(1), t.dtype);
            fbb.push_slot_always::<u32>(slot(2), t.buffer);
            fbb.push_slot_always::<WIPOffset<_>>(slot(3), name);
            fbb.push_slot_always::<WIPOffset<_>>(slot(4), quantization);
            fbb.end_table(start)
        })
        .collect();
    let tensors = fbb.create_vector(&tensors);

    let ops: Vec<_> = spec
        .ops
        .iter()
        .map(|op| {
            let inputs = fbb.create_vector(&op.inputs);
            let outputs = fbb.create_vector(&op.outputs);
            let start = fbb.start_table();
            for &(id, value) in &op.options_i8 {
                fbb.push_slot_always::<i8>(slot(id), value);
            }
            for &(id, value) in &op.options_i32 {
                fbb.push_slot_always::<i32>(slot(id), value);
            }
            let options = fbb.end_table(start);
            let start = fbb.start_table();
            fbb.push_slot_always::<u32>(slot(0), op.opcode_index);
            fbb.push_slot_always::<WIPOffset<_>>(slot(1), inputs);
            fbb.push_slot_always::<WIPOffset<_>>(slot(2), outputs);
            fbb.push_slot_always::<u8>(slot(3), op.options_type);
            fbb.push_slot_always::<WIPOffset<_>>(slot(4), options);
            fbb.end_table(start)
        })
        .collect();
    let ops = fbb.create_vector(&ops);

    let inputs = fbb.create_vector(&spec.inputs);
    let outputs = fbb.create_vector(&spec.outputs);
    let start = fbb.start_table();
    fbb.push_slot_always::<WIPOffset<_>>(slot(0), tensors);
    fbb.push_slot_always::<WIPOffset<_>>(slot(1), inputs);
    fbb.push_slot_always::<WIPOffset<_>>(slot(2), outputs);
    fbb.push_slot_always::<WIPOffset<_>>(slot(3), ops);
    let subgraph = fbb.end_table(start);
    let subgraphs = fbb.create_vector(&[subgraph]);

    let start = fbb.start_table();
    fbb.push_slot_always::<u32>(slot(0), 3);
    fbb.push_slot_always::<WIPOffset<_>>(slot(1), codes);
    fbb.push_slot_always::<WIPOffset<_>>(slot(2), subgraphs);
    fbb.push_slot_always::<WIPOffset<_>>(slot(4), buffers);
    let model = fbb.end_table(start);
    fbb.finish(model, Some("TFL3"));
    fbb.finished_data().to_vec()
}

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
