//! A TFLite flatbuffer builder for tests: a model described as plain
//! structs (tensors, buffers, operators) and written with the flatbuffers
//! builder, so a test can break one field at a time.
//!
//! Field ids are those of TensorFlow Lite's `schema.fbs` (vtable offset
//! `4 + 2 * id`). Limitation: only the fields these tests need are written:
//! one subgraph, per-tensor or per-channel quantisation, and operator
//! options as raw integer fields.
//!
//! Include it with `#[path = "support/tflite_builder.rs"] mod tflite_builder;`.

// Each test file uses a different subset of the builder.
#![allow(dead_code)]

use flatbuffers::{FlatBufferBuilder, WIPOffset};

pub const INT8: i8 = 9;
pub const INT32: i8 = 2;
pub const CONV_2D: i32 = 3;
pub const CONV_OPTIONS: u8 = 1;
pub const PAD_OPTIONS: u8 = 22;

#[derive(Clone)]
pub struct TensorSpec {
    pub name: &'static str,
    pub shape: Vec<i32>,
    pub dtype: i8,
    pub buffer: u32,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub quantized_dimension: i32,
}

#[derive(Clone)]
pub struct OpSpec {
    pub opcode_index: u32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options_type: u8,
    /// (field id, value) pairs; i8 fields are enums.
    pub options_i8: Vec<(u16, i8)>,
    pub options_i32: Vec<(u16, i32)>,
}

#[derive(Clone)]
pub struct ModelSpec {
    pub codes: Vec<i32>,
    pub tensors: Vec<TensorSpec>,
    pub buffers: Vec<Vec<u8>>,
    pub ops: Vec<OpSpec>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
}

fn slot(id: u16) -> u16 {
    4 + 2 * id
}

pub fn quantized(
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
pub fn conv_model() -> ModelSpec {
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

pub fn build(spec: &ModelSpec) -> Vec<u8> {
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
