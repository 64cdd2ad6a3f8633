//! Whole models against the TFLite Micro reference interpreter: every
//! tensor an operator writes must equal the oracle's, bit for bit, on the
//! reference datapath.
//!
//! Inputs: person_detect on its two test images (whose outputs are known:
//! person.bmp gives [-113, 113], no_person.bmp gives [57, -57]), and every
//! model on seeded random inputs. Seeds are `SEED_BASE + run`, printed at
//! the start of each test and in every failure. Every model takes 20 random
//! inputs, mobilenet_v2 included: one oracle run of it takes about half a
//! second and the executor a tenth of that, so the file runs in about a
//! minute on two cores (oracle dumps are cached after the first run).
//!
//! A failure lists each differing tensor: model, seed, the operator that
//! wrote it, tensor index and name, the first differing index and both
//! values. Tests skip with a printed reason when `../shared` or the oracle
//! Python is absent; set `FXSIM_ORACLE_PYTHON` to the oracle environment's
//! Python to run them. A model with an operator the executor does not
//! support fails with the executor's "unsupported op" error.

mod common;

use std::path::{Path, PathBuf};

use common::{bmp_to_int8, random_input, run_oracle, NpyArray};
use fxsim::exec::{Datapath, Executor, TensorValue};
use fxsim::model::Graph;

/// First seed of the random inputs; run `r` uses `SEED_BASE + r`.
const SEED_BASE: u64 = 0x00C0_2D00;

/// Random inputs per model.
const RUNS: u64 = 20;

/// Where a model's input came from, for failure messages.
#[derive(Debug, Clone)]
enum InputSource {
    Image(PathBuf),
    Seed(u64),
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Image(path) => write!(f, "input {}", path.display()),
            InputSource::Seed(seed) => write!(f, "seed {seed:#x}"),
        }
    }
}

use common::convert::{element_type, to_npy, to_value};

/// The outcome of one model on one input.
struct Checked {
    /// Tensors compared with the oracle and equal.
    equal: usize,
    failures: Vec<String>,
    /// The graph's first output as fxsim computed it.
    output: Option<TensorValue>,
}

/// Runs `model` on `input` in fxsim and in the oracle and compares the
/// graph input and every operator output.
fn check_input(
    model: &Path,
    graph: &Graph,
    executor: &Executor,
    input: &NpyArray,
    source: &InputSource,
) -> Checked {
    let dump = run_oracle(model, input)
        .unwrap_or_else(|error| panic!("{}: oracle failed: {error}", model.display()));
    let execution = match executor.run(&[to_value(input)]) {
        Ok(execution) => execution,
        Err(error) => {
            let failure = format!("{}, {source}: run failed: {error}", model.display());
            return Checked {
                equal: 0,
                failures: vec![failure],
                output: None,
            };
        }
    };

    let mut checked = Checked {
        equal: 0,
        failures: Vec::new(),
        output: None,
    };
    let written = graph
        .inputs
        .iter()
        .copied()
        .chain(graph.ops.iter().flat_map(|op| op.outputs.iter().copied()));
    for id in written {
        let producer = graph
            .producer(id)
            .map_or("graph input".to_string(), |index| {
                format!("op {index} ({})", graph.ops[index].kind.name())
            });
        let Some(value) = execution.values.get(id).and_then(Option::as_ref) else {
            checked.failures.push(format!(
                "{}, {source}, {producer}: tensor {id} has no value",
                model.display()
            ));
            continue;
        };
        match dump.compare(id, &to_npy(value)) {
            Ok(()) => checked.equal += 1,
            Err(mismatch) => checked
                .failures
                .push(format!("{source}, {producer}: {mismatch}")),
        }
    }
    checked.output = graph
        .outputs
        .first()
        .and_then(|&id| execution.values.get(id).cloned().flatten());
    checked
}

/// Imports `model` and prepares it on the reference datapath, panicking
/// with the importer's or executor's error.
fn load(model: &Path) -> Graph {
    fxsim::import::tflite::read_file(model).unwrap_or_else(|error| panic!("{error}"))
}

fn panic_on_failures(model: &Path, failures: &[String]) {
    if failures.is_empty() {
        return;
    }
    let listed: Vec<&str> = failures.iter().take(20).map(String::as_str).collect();
    panic!(
        "{}: {} tensors differ from the oracle (first {} shown):\n  {}",
        model.display(),
        failures.len(),
        listed.len(),
        listed.join("\n  ")
    );
}

/// Checks `model` on `runs` seeded random inputs.
fn check_random_inputs(model: &Path, runs: u64) {
    let graph = load(model);
    let executor = Executor::new(&graph, &Datapath::reference())
        .unwrap_or_else(|error| panic!("{}: {error}", model.display()));
    assert_eq!(
        graph.inputs.len(),
        1,
        "{}: expected one graph input",
        model.display()
    );
    let input_tensor = graph.tensor(graph.inputs[0]);
    let input_type = element_type(input_tensor.dtype);
    eprintln!(
        "{}: {runs} random inputs, seeds {SEED_BASE:#x}..{:#x}",
        model.display(),
        SEED_BASE + runs
    );

    let mut failures = Vec::new();
    let mut equal = 0;
    for run in 0..runs {
        let seed = SEED_BASE + run;
        let input = random_input(&input_tensor.shape, input_type, seed);
        let checked = check_input(model, &graph, &executor, &input, &InputSource::Seed(seed));
        equal += checked.equal;
        failures.extend(checked.failures);
    }
    eprintln!(
        "{}: {equal} tensors equal to the oracle's over {runs} inputs",
        model.display()
    );
    panic_on_failures(model, &failures);
}

/// Checks person_detect on one of its test images and returns its output.
fn check_person_image(image: &str) -> Option<Vec<i64>> {
    let models = common::shared_models_dir()?;
    if let Err(reason) = common::oracle_available() {
        common::note_skip(&reason);
        return None;
    }
    let model = models.join("person_detect.tflite");
    let image = models.join(image);
    let graph = load(&model);
    let executor = Executor::new(&graph, &Datapath::reference())
        .unwrap_or_else(|error| panic!("{}: {error}", model.display()));
    let input = bmp_to_int8(&image).unwrap_or_else(|error| panic!("{error}"));

    let checked = check_input(
        &model,
        &graph,
        &executor,
        &input,
        &InputSource::Image(image.clone()),
    );
    eprintln!(
        "{}: {} tensors equal to the oracle's on {}",
        model.display(),
        checked.equal,
        image.display()
    );
    panic_on_failures(&model, &checked.failures);
    checked.output.map(|output| output.to_i64_vec())
}

fn shared_model(file: &str) -> Option<PathBuf> {
    let Some(models) = common::shared_models_dir() else {
        common::note_skip(&format!(
            "shared models directory {} not found",
            common::shared_dir().join("models").display()
        ));
        return None;
    };
    if let Err(reason) = common::oracle_available() {
        common::note_skip(&reason);
        return None;
    }
    Some(models.join(file))
}

fn generated_model(file: &str) -> Option<PathBuf> {
    if let Err(reason) = common::oracle_available() {
        common::note_skip(&reason);
        return None;
    }
    Some(common::test_models_dir().join(file))
}

#[test]
fn person_detect_on_person_image() {
    if let Some(output) = check_person_image("person.bmp") {
        assert_eq!(
            output,
            vec![-113, 113],
            "person.bmp: expected [no person, person] = [-113, 113]"
        );
    }
}

#[test]
fn person_detect_on_no_person_image() {
    if let Some(output) = check_person_image("no_person.bmp") {
        assert_eq!(
            output,
            vec![57, -57],
            "no_person.bmp: expected [no person, person] = [57, -57]"
        );
    }
}

#[test]
fn person_detect_on_random_inputs() {
    if let Some(model) = shared_model("person_detect.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn hello_world_on_random_inputs() {
    if let Some(model) = shared_model("hello_world_int8.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn micro_speech_on_random_inputs() {
    if let Some(model) = shared_model("micro_speech_quantized.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn mobilenet_v2_on_random_inputs() {
    if let Some(model) = shared_model("mobilenet_v2_quantized_1x3x224x224.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn conv_same_stride2_on_random_inputs() {
    if let Some(model) = generated_model("conv_same_stride2.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn conv_dilated_on_random_inputs() {
    if let Some(model) = generated_model("conv_dilated.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn depthwise_multiplier2_on_random_inputs() {
    if let Some(model) = generated_model("depthwise_multiplier2.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn fully_connected_on_random_inputs() {
    if let Some(model) = generated_model("fully_connected.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn int16x8_conv_on_random_inputs() {
    if let Some(model) = generated_model("int16x8_conv.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn int16x8_depthwise_on_random_inputs() {
    if let Some(model) = generated_model("int16x8_depthwise.tflite") {
        check_random_inputs(&model, RUNS);
    }
}

#[test]
fn int16x8_fully_connected_on_random_inputs() {
    if let Some(model) = generated_model("int16x8_fully_connected.tflite") {
        check_random_inputs(&model, RUNS);
    }
}
