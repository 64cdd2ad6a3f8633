//! Pooling, elementwise, shape, MEAN, SOFTMAX, LOGISTIC, QUANTIZE and
//! DEQUANTIZE kernels against the TFLite Micro reference interpreter.
//!
//! Two checks per model and seeded input:
//! - each of these operators alone: it is run on the oracle's values of its
//!   inputs, and its outputs must equal the oracle's, so a wrong kernel is
//!   found even while other operators of the model are missing;
//! - the whole model, every tensor, once the executor supports all its
//!   operators (until then the test prints which operator is missing).
//!
//! Tests skip with a printed reason when `../shared` or the oracle Python is
//! absent. Seeds are `SEED_BASE + run`; a failure prints the seed, the model,
//! the operator, the tensor, the first differing index and both values.

mod common;

use std::path::Path;

use common::{random_input, run_oracle, NpyArray, NpyData, OracleDump};
use fxsim::exec::{Datapath, Executor, TensorValue};
use fxsim::model::{Graph, OpKind};

/// First seed of the random inputs; run `r` uses `SEED_BASE + r`.
const SEED_BASE: u64 = 0xF5_0000;

/// Random inputs per small model.
const RUNS: u64 = 20;

/// Random inputs for mobilenet_v2, whose oracle run takes seconds.
const MOBILENET_RUNS: u64 = 3;

/// True for the operators whose kernels this file checks one by one.
fn is_checked_op(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::AveragePool2d(_)
            | OpKind::MaxPool2d(_)
            | OpKind::Add { .. }
            | OpKind::Mul { .. }
            | OpKind::Pad
            | OpKind::Reshape
            | OpKind::Transpose
            | OpKind::Concatenation { .. }
            | OpKind::Mean { .. }
            | OpKind::Softmax { .. }
            | OpKind::Logistic
            | OpKind::Quantize
            | OpKind::Dequantize
    )
}

use common::convert::{element_type, to_npy, to_value};

/// Builds the graph reduced to operator `index`: its non-constant inputs
/// become the graph inputs, its outputs the graph outputs.
fn single_op_graph(graph: &Graph, index: usize) -> Graph {
    let op = graph.ops[index].clone();
    let mut inputs = Vec::new();
    for id in op.inputs.iter().flatten() {
        if !graph.tensor(*id).is_constant() && !inputs.contains(id) {
            inputs.push(*id);
        }
    }
    let outputs = op.outputs.clone();
    Graph {
        ops: vec![op],
        inputs,
        outputs,
        ..graph.clone()
    }
}

/// Runs each checked operator of `graph` alone on the oracle's inputs and
/// appends a description of every output that differs from the oracle's.
/// Returns the number of operators run.
fn check_ops_alone(
    model: &Path,
    graph: &Graph,
    dump: &OracleDump,
    source: &str,
    failures: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    for (index, op) in graph.ops.iter().enumerate() {
        if !is_checked_op(&op.kind) {
            continue;
        }
        let name = op.kind.name();
        checked += 1;
        let sub = single_op_graph(graph, index);
        let executor = match Executor::new(&sub, &Datapath::reference()) {
            Ok(executor) => executor,
            Err(error) => {
                failures.push(format!(
                    "{source}: {}: op {index} ({name}): prepare failed: {error}",
                    model.display()
                ));
                continue;
            }
        };
        let inputs: Vec<TensorValue> = sub
            .inputs
            .iter()
            .map(|&id| to_value(&dump.tensors[id].value))
            .collect();
        let execution = match executor.run(&inputs) {
            Ok(execution) => execution,
            Err(error) => {
                failures.push(format!(
                    "{source}: {}: op {index} ({name}): eval failed: {error}",
                    model.display()
                ));
                continue;
            }
        };
        for &id in &sub.outputs {
            let Some(value) = execution.values[id].as_ref() else {
                failures.push(format!(
                    "{source}: {}: op {index} ({name}): output tensor {id} has no value",
                    model.display()
                ));
                continue;
            };
            if let Err(mismatch) = dump.compare(id, &to_npy(value)) {
                failures.push(format!("{source}: op {index} ({name}): {mismatch}"));
            }
        }
    }
    checked
}

/// Runs the whole model and compares every tensor with the oracle's,
/// appending mismatches. Returns the number of tensors compared, or `None`
/// when the executor cannot prepare the model yet.
fn check_whole_model(
    model: &Path,
    graph: &Graph,
    input: &NpyArray,
    dump: &OracleDump,
    source: &str,
    failures: &mut Vec<String>,
) -> Option<usize> {
    let executor = Executor::new(graph, &Datapath::reference()).ok()?;
    let execution = match executor.run(&[to_value(input)]) {
        Ok(execution) => execution,
        Err(error) => {
            failures.push(format!(
                "{source}: {}: whole model failed: {error}",
                model.display()
            ));
            return Some(0);
        }
    };
    let mut compared = 0;
    for (id, value) in execution.values.iter().enumerate() {
        let Some(value) = value else { continue };
        compared += 1;
        if let Err(mismatch) = dump.compare(id, &to_npy(value)) {
            let producer = graph
                .producer(id)
                .map_or("constant or input".to_string(), |op| {
                    format!("op {op} ({})", graph.ops[op].kind.name())
                });
            failures.push(format!("{source}: whole model, {producer}: {mismatch}"));
        }
    }
    Some(compared)
}

/// Checks `model` on `runs` seeded random inputs and on `extra_inputs`
/// (label and array), and panics listing every mismatch.
fn check_model(model: &Path, runs: u64, extra_inputs: &[(String, NpyArray)]) {
    let graph = fxsim::import::tflite::read_file(model).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        graph.inputs.len(),
        1,
        "{}: expected one graph input",
        model.display()
    );
    let input_tensor = graph.tensor(graph.inputs[0]);
    let input_type = element_type(input_tensor.dtype);
    eprintln!(
        "{}: {runs} inputs from seed {SEED_BASE:#x}",
        model.display()
    );

    let mut inputs: Vec<(String, NpyArray)> = (0..runs)
        .map(|run| {
            let seed = SEED_BASE + run;
            (
                format!("seed {seed:#x}"),
                random_input(&input_tensor.shape, input_type, seed),
            )
        })
        .collect();
    inputs.extend(extra_inputs.iter().cloned());

    let mut failures = Vec::new();
    let mut ops_checked = 0;
    let mut tensors_compared = Some(0);
    for (source, input) in &inputs {
        let dump = run_oracle(model, input).unwrap_or_else(|error| panic!("{error}"));
        ops_checked = check_ops_alone(model, &graph, &dump, source, &mut failures);
        tensors_compared = check_whole_model(model, &graph, input, &dump, source, &mut failures);
    }

    match tensors_compared {
        Some(count) => eprintln!(
            "{}: per input, {ops_checked} operators checked alone and {count} tensors of the whole model",
            model.display()
        ),
        None => {
            let reason = Executor::new(&graph, &Datapath::reference()).err().map_or_else(String::new, |error| error.to_string());
            eprintln!(
                "{}: per input, {ops_checked} operators checked alone; whole-model check skipped: {reason}",
                model.display()
            );
        }
    }
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(20).map(String::as_str).collect();
        panic!(
            "{} mismatches against the oracle (first {} shown):\n  {}",
            failures.len(),
            shown.len(),
            shown.join("\n  ")
        );
    }
}

fn generated_model(file: &str) -> std::path::PathBuf {
    common::test_models_dir().join(file)
}

/// Generated models, each checked by its own test below.
const GENERATED_MODELS: &[&str] = &[
    "conv_dilated.tflite",
    "conv_same_stride2.tflite",
    "depthwise_multiplier2.tflite",
    "elementwise.tflite",
    "fully_connected.tflite",
    "int16x8_add.tflite",
    "int16x8_conv.tflite",
    "int16x8_depthwise.tflite",
    "int16x8_fully_connected.tflite",
    "pad_transpose.tflite",
    "pooling.tflite",
    "quantize_dequantize.tflite",
    "reduce_mean.tflite",
];

/// Defines a test that checks generated model `$file` on `RUNS` inputs.
macro_rules! generated_model_test {
    ($($name:ident => $file:literal,)+) => {
        $(
            #[test]
            fn $name() {
                require_oracle!();
                check_model(&generated_model($file), RUNS, &[]);
            }
        )+

        #[test]
        fn generated_models_all_checked() {
            let tested = [$($file),+];
            assert_eq!(tested, GENERATED_MODELS);
            let mut on_disk: Vec<String> = std::fs::read_dir(common::test_models_dir())
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".tflite"))
                .collect();
            on_disk.sort();
            assert_eq!(on_disk, GENERATED_MODELS, "a model in tests/data/models has no test here");
        }
    };
}

generated_model_test! {
    conv_dilated_model => "conv_dilated.tflite",
    conv_same_stride2_model => "conv_same_stride2.tflite",
    depthwise_multiplier2_model => "depthwise_multiplier2.tflite",
    elementwise_model => "elementwise.tflite",
    fully_connected_model => "fully_connected.tflite",
    int16x8_add_model => "int16x8_add.tflite",
    int16x8_conv_model => "int16x8_conv.tflite",
    int16x8_depthwise_model => "int16x8_depthwise.tflite",
    int16x8_fully_connected_model => "int16x8_fully_connected.tflite",
    pad_transpose_model => "pad_transpose.tflite",
    pooling_model => "pooling.tflite",
    quantize_dequantize_model => "quantize_dequantize.tflite",
    reduce_mean_model => "reduce_mean.tflite",
}

/// QUANTIZE of float inputs outside the int32 range, infinities and NaN,
/// where the reference's float-to-int conversion is out of range.
#[test]
fn quantize_of_extreme_floats() {
    require_oracle!();
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0e10,
        -1.0e10,
        3.0e9,
        2.2e9,
        -2.2e9,
        1.0e-30,
        -0.0,
        0.5,
        -0.5,
    ];
    let values: Vec<f32> = (0..72)
        .map(|index| specials[index % specials.len()])
        .collect();
    let input = NpyArray {
        shape: vec![1, 6, 6, 2],
        data: NpyData::F32(values),
    };
    check_model(
        &generated_model("quantize_dequantize.tflite"),
        0,
        &[("extreme floats".to_string(), input)],
    );
}

/// Hand-built models of operator variants the generated models do not
/// reach, written by `scripts/make_op_models.py`.
fn op_model(file: &str) -> std::path::PathBuf {
    common::repo_dir()
        .join("tests")
        .join("data")
        .join("op_models")
        .join(file)
}

#[test]
fn requantize_chain_model() {
    require_oracle!();
    check_model(&op_model("requantize_chain.tflite"), RUNS, &[]);
}

#[test]
fn pool_activations_model() {
    require_oracle!();
    check_model(&op_model("pool_activations.tflite"), RUNS, &[]);
}

#[test]
fn add_mul_activations_model() {
    require_oracle!();
    check_model(&op_model("add_mul_activations.tflite"), RUNS, &[]);
}

#[test]
fn int16_ops_model() {
    require_oracle!();
    check_model(&op_model("int16_ops.tflite"), RUNS, &[]);
}

#[test]
fn softmax_logistic_model() {
    require_oracle!();
    check_model(&op_model("softmax_logistic.tflite"), RUNS, &[]);
}

#[test]
fn padv2_transpose5d_model() {
    require_oracle!();
    check_model(&op_model("padv2_transpose5d.tflite"), RUNS, &[]);
}

#[test]
fn person_detect_model() {
    let models = require_shared_models!();
    require_oracle!();
    let images: Vec<(String, NpyArray)> = ["person.bmp", "no_person.bmp"]
        .iter()
        .map(|file| {
            let path = models.join(file);
            let input = common::bmp_to_int8(&path).unwrap_or_else(|error| panic!("{error}"));
            (format!("input {}", path.display()), input)
        })
        .collect();
    check_model(&models.join("person_detect.tflite"), RUNS, &images);
}

#[test]
fn micro_speech_model() {
    let models = require_shared_models!();
    require_oracle!();
    check_model(&models.join("micro_speech_quantized.tflite"), RUNS, &[]);
}

#[test]
fn hello_world_model() {
    let models = require_shared_models!();
    require_oracle!();
    check_model(&models.join("hello_world_int8.tflite"), RUNS, &[]);
}

#[test]
fn mobilenet_v2_model() {
    let models = require_shared_models!();
    require_oracle!();
    check_model(
        &models.join("mobilenet_v2_quantized_1x3x224x224.tflite"),
        MOBILENET_RUNS,
        &[],
    );
}
