//! `fxsim accum` and the accumulator analysis behind it. The tests cover the
//! binary's per-layer table on person_detect and observed values against
//! the analytic bound on every shared model. They also cover overflow of a
//! 16-bit saturating accumulator on mobilenet_v2, a layer checked by hand,
//! the narrowest width found again by rerunning, and input and label
//! errors.

mod common;

use common::{ElementType, NpyArray, NpyData};
use fxsim::analysis::accum::{
    analyze_accumulators, AccumError, AccumReport, AccumSettings, LayerAccum, NoProgress,
};
use fxsim::analysis::accum_inputs::{load_inputs, load_labels, ModelInput};
use fxsim::analysis::accum_sweep::top1;
use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::hw::{AccumulatorConfig, HwConfig};
use fxsim::model::{
    Activation, DataType, FullyConnectedAttrs, Graph, Op, OpKind, Quantization, Tensor,
};
use fxsim::numeric::Overflow;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ---------------------------------------------------------------------------
// Helpers.

fn zynq7020_path() -> PathBuf {
    common::repo_dir().join("examples/hw/zynq7020.toml")
}

/// Loads the Zynq-7020 description (8 rows, tflite requantisation) and
/// sets every layer's accumulator to `bits` and `overflow`.
fn zynq7020_with(bits: u8, overflow: Overflow) -> HwConfig {
    let mut config = HwConfig::load(zynq7020_path()).unwrap();
    config.datapath.accumulator = AccumulatorConfig { bits, overflow };
    config
}

/// Creates an empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("accum")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn to_value(array: &NpyArray) -> TensorValue {
    let data = match &array.data {
        NpyData::I8(values) => TensorData::I8(values.clone()),
        NpyData::I16(values) => TensorData::I16(values.clone()),
        NpyData::F32(values) => TensorData::F32(values.clone()),
        other => panic!("no model here takes {:?} inputs", other.element_type()),
    };
    TensorValue {
        shape: array.shape.clone(),
        data,
    }
}

/// Seeded random inputs for the single input of `graph`.
fn random_inputs(graph: &Graph, count: usize) -> Vec<ModelInput> {
    let tensor = graph.tensor(graph.inputs[0]);
    let element_type = match tensor.dtype {
        DataType::Int8 => ElementType::I8,
        DataType::Int16 => ElementType::I16,
        other => panic!("no model here takes {other} inputs"),
    };
    (0..count)
        .map(|seed| ModelInput {
            source: format!("random {seed}"),
            value: to_value(&common::random_input(
                &tensor.shape,
                element_type,
                seed as u64,
            )),
        })
        .collect()
}

fn analyze(graph: &Graph, config: &HwConfig, inputs: &[ModelInput]) -> AccumReport {
    let settings = AccumSettings {
        model: "test".to_string(),
        ..AccumSettings::default()
    };
    analyze_accumulators(graph, config, inputs, &settings, &NoProgress).unwrap()
}

fn layer(report: &AccumReport, index: usize) -> &LayerAccum {
    report
        .layers
        .iter()
        .find(|layer| layer.index == index)
        .unwrap_or_else(|| panic!("no MAC layer {index} in the report"))
}

fn read_model(path: &Path) -> Graph {
    fxsim::import::tflite::read_file(path).unwrap()
}

fn run_fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("fxsim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stacks the two person_detect images into one array `[2, 96, 96, 1]`.
fn person_detect_stack(models: &Path) -> NpyArray {
    let mut data = Vec::new();
    for image in ["person.bmp", "no_person.bmp"] {
        match common::bmp_to_int8(&models.join(image)).unwrap().data {
            NpyData::I8(values) => data.extend(values),
            other => panic!("bmp_to_int8 gave {:?}", other.element_type()),
        }
    }
    NpyArray::new(vec![2, 96, 96, 1], NpyData::I8(data)).unwrap()
}

/// Returns the operator indices of the MAC layers of a graph.
fn mac_layers(graph: &Graph) -> Vec<usize> {
    graph
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            matches!(
                op.kind,
                OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected(_)
            )
        })
        .map(|(index, _)| index)
        .collect()
}

// ---------------------------------------------------------------------------
// The binary.

/// One row of the text table: operator index, op, configured width and
/// overflow, and the numeric columns.
#[derive(Debug)]
struct TableRow {
    index: usize,
    op: String,
    configured: String,
    bound: u32,
    observed: u64,
    bits: u32,
    overflows: u64,
    narrowest: u32,
}

/// Parses the rows of the per-layer table: lines that start with an
/// operator index followed by an op name.
fn table_rows(stdout: &str) -> Vec<TableRow> {
    let number = |field: &str| field.replace(',', "").parse::<u64>().unwrap();
    stdout
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let index = fields.first()?.parse::<usize>().ok()?;
            if fields.len() != 10
                || !fields[1]
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                return None;
            }
            Some(TableRow {
                index,
                op: fields[1].to_string(),
                configured: format!("{} {}", fields[3], fields[4]),
                bound: number(fields[5]) as u32,
                observed: number(fields[6]),
                bits: number(fields[7]) as u32,
                overflows: number(fields[8]),
                narrowest: number(fields[9]) as u32,
            })
        })
        .collect()
}

#[test]
fn person_detect_table_from_binary() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("person_detect_table");
    let inputs = dir.join("images.npy");
    common::write_npy(&inputs, &person_detect_stack(&models)).unwrap();

    let hw = zynq7020_path();
    let args = [
        "accum",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
    ];
    let output = run_fxsim(&args);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    // Standard error is a pipe here, so no progress bar.
    assert_eq!(text(&output.stderr), "");
    assert!(stdout.starts_with("accumulator widths\n"), "{stdout}");
    assert!(stdout.contains("\n  inputs:   2\n"), "{stdout}");
    for line in stdout.lines() {
        let path_line = line.starts_with("  model:") || line.starts_with("  hardware:");
        assert!(line.len() <= 100 || path_line, "{line}");
    }

    let graph = read_model(&model);
    let rows = table_rows(&stdout);
    let indices: Vec<usize> = rows.iter().map(|row| row.index).collect();
    assert_eq!(indices, mac_layers(&graph), "{stdout}");
    for row in &rows {
        assert_eq!(row.op, graph.ops[row.index].kind.name(), "{row:?}");
        assert_eq!(row.configured, "32 wrap", "{row:?}");
        assert!(
            row.bits <= row.bound,
            "observed wider than the bound: {row:?}"
        );
        assert!(row.narrowest <= row.bits, "{row:?}");
        assert!(row.observed > 0, "{row:?}");
        assert_eq!(row.overflows, 0, "32 bits overflowed: {row:?}");
    }
    assert!(
        stdout.contains("layers that overflow at the configured width: 0 of 28"),
        "{stdout}"
    );
    eprintln!("{}", stdout.lines().take(8).collect::<Vec<_>>().join("\n"));

    let json = run_fxsim(&[&args[..], &["--json"]].concat());
    assert!(json.status.success(), "stderr: {}", text(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["inputs"], 2);
    assert_eq!(report["layers"].as_array().unwrap().len(), rows.len());
    let first = &report["layers"][0];
    assert_eq!(first["observed"]["max_magnitude"], rows[0].observed);
    assert_eq!(first["bound"]["bits"], rows[0].bound);
    assert_eq!(first["overflow"], "wrap");

    let csv = run_fxsim(&[&args[..], &["--csv"]].concat());
    assert!(csv.status.success(), "stderr: {}", text(&csv.stderr));
    let csv = text(&csv.stdout);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("index,op,name,terms,rows,folds,bits,overflow,bound_bits"));
    assert_eq!(lines.count(), rows.len());
}

/// Labels equal to the reference datapath's top-1 make the reference 100%
/// accurate, and accuracy then equals agreement at every width.
#[test]
fn person_detect_sweep_with_reference_labels() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("person_detect_sweep");
    let stack = person_detect_stack(&models);
    let inputs = dir.join("images.npy");
    common::write_npy(&inputs, &stack).unwrap();

    let graph = read_model(&model);
    let reference = Executor::new(&graph, &Datapath::reference()).unwrap();
    let loaded = load_inputs(&inputs, &graph).unwrap();
    let labels: Vec<i64> = loaded
        .iter()
        .map(|input| {
            let run = reference.run(std::slice::from_ref(&input.value)).unwrap();
            let output = run.values[graph.outputs[0]].as_ref().unwrap();
            top1(output).unwrap() as i64
        })
        .collect();
    let labels_path = dir.join("labels.npy");
    common::write_npy(
        &labels_path,
        &NpyArray::new(vec![2], NpyData::I64(labels)).unwrap(),
    )
    .unwrap();

    let hw = zynq7020_path();
    let output = run_fxsim(&[
        "accum",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--labels",
        labels_path.to_str().unwrap(),
        "--widths",
        "12,16,32",
        "--json",
    ]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sweep = &report["sweep"];
    assert_eq!(sweep["reference_accuracy"], 1.0);
    let rows = sweep["rows"].as_array().unwrap();
    let widths: Vec<u64> = rows
        .iter()
        .map(|row| row["bits"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, vec![12, 16, 32]);
    for row in rows {
        for mode in ["wrap", "saturate"] {
            assert_eq!(row[mode]["accuracy"], row[mode]["agreement"], "{row}");
        }
    }
    // 32 bits overflow nowhere, so both modes are the reference.
    let widest = &rows[2];
    for mode in ["wrap", "saturate"] {
        assert_eq!(widest[mode]["agreement"], 1.0, "{widest}");
        assert_eq!(widest[mode]["overflowing_layers"], 0, "{widest}");
    }
    // 12 bits overflow in some layer under both modes.
    for mode in ["wrap", "saturate"] {
        assert!(
            rows[0][mode]["overflowing_layers"].as_u64().unwrap() > 0,
            "{}",
            rows[0]
        );
    }
}

#[test]
fn binary_reports_bad_inputs_and_labels() {
    let dir = scratch_dir("binary_errors");
    let tiny = common::tiny_example_dir();
    let model = tiny.join("model.tflite");
    let input = tiny.join("input.npy");
    let hw = zynq7020_path();
    let base = [
        "accum",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--inputs",
    ];

    let wrong_shape = dir.join("wrong_shape.npy");
    common::write_npy(
        &wrong_shape,
        &NpyArray::new(vec![3, 16], NpyData::I8(vec![0; 48])).unwrap(),
    )
    .unwrap();
    let output = run_fxsim(&[&base[..], &[wrong_shape.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    assert!(
        message.contains("wrong_shape.npy: shape [3, 16] does not fit"),
        "{message}"
    );
    assert!(
        message.contains("[1, 16, 16, 1] or a stack [N, 16, 16, 1]"),
        "{message}"
    );

    let cases = [
        (
            "count.npy",
            NpyArray::new(vec![2], NpyData::I64(vec![1, 2])).unwrap(),
            "2 labels for 1 inputs",
        ),
        (
            "float.npy",
            NpyArray::new(vec![1], NpyData::F32(vec![1.0])).unwrap(),
            "labels have element type float32; expected integers",
        ),
        (
            "range.npy",
            NpyArray::new(vec![1], NpyData::I32(vec![10])).unwrap(),
            "label 10 at index 0 is not a class of the model; expected 0 to 9",
        ),
    ];
    for (name, labels, expected) in cases {
        let path = dir.join(name);
        common::write_npy(&path, &labels).unwrap();
        let output = run_fxsim(
            &[
                &base[..],
                &[input.to_str().unwrap(), "--labels", path.to_str().unwrap()],
            ]
            .concat(),
        );
        assert_eq!(output.status.code(), Some(2), "{name}");
        let message = text(&output.stderr);
        assert!(message.contains(name), "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
    }

    let output = run_fxsim(&[&base[..], &[input.to_str().unwrap(), "--widths", "4..12"]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("accumulator width 4 is out of range; expected 8 to 64"));
}

// ---------------------------------------------------------------------------
// Observed values against the analytic bound.

/// Checks that no layer's observed magnitude exceeds its bound; returns
/// the number of layers checked.
fn check_observed_within_bound(name: &str, report: &AccumReport) -> usize {
    for layer in &report.layers {
        let bound = layer
            .bound
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: layer {} has no bound", layer.index));
        let observed = layer.observed.as_ref().unwrap();
        assert!(
            i128::from(observed.max_magnitude) <= bound.max,
            "{name}: layer {} ({}): observed {} exceeds the bound {}",
            layer.index,
            layer.op,
            observed.max_magnitude,
            bound.max
        );
        assert!(observed.bits <= bound.bits, "{name}: layer {}", layer.index);
        assert!(
            observed.narrowest_bits <= observed.bits,
            "{name}: layer {}",
            layer.index
        );
    }
    report.layers.len()
}

/// Runs the check under wrapping (final accumulators observed) and under
/// saturation (every partial sum observed), both at 32 bits.
fn check_model_within_bound(name: &str, graph: &Graph, inputs: &[ModelInput]) {
    for overflow in [Overflow::Wrap, Overflow::Saturate] {
        let report = analyze(graph, &zynq7020_with(32, overflow), inputs);
        let layers = check_observed_within_bound(name, &report);
        assert!(layers > 0, "{name}: no MAC layers");
        assert_eq!(layers, mac_layers(graph).len(), "{name}");
    }
}

#[test]
fn observed_within_bound_on_tiny() {
    let tiny = common::tiny_example_dir();
    let graph = read_model(&tiny.join("model.tflite"));
    let mut inputs = load_inputs(&tiny.join("input.npy"), &graph).unwrap();
    inputs.extend(random_inputs(&graph, 3));
    check_model_within_bound("tiny", &graph, &inputs);
}

#[test]
fn observed_within_bound_on_shared_models() {
    let models = require_shared_models!();
    let cases = [
        ("person_detect.tflite", 3),
        ("micro_speech_quantized.tflite", 3),
        ("hello_world_int8.tflite", 8),
        ("mobilenet_v2_quantized_1x3x224x224.tflite", 2),
    ];
    for (file, count) in cases {
        let graph = read_model(&models.join(file));
        let inputs = random_inputs(&graph, count);
        check_model_within_bound(file, &graph, &inputs);
    }
}

/// With every layer on a 16-bit saturating accumulator, each layer that
/// overflows has a bound above 16 bits: a layer whose bound fits cannot
/// overflow on any input.
#[test]
fn mobilenet_saturating_16_bits_overflows_only_above_bound() {
    let models = require_shared_models!();
    let graph = read_model(&models.join("mobilenet_v2_quantized_1x3x224x224.tflite"));
    let inputs = random_inputs(&graph, 2);
    let report = analyze(&graph, &zynq7020_with(16, Overflow::Saturate), &inputs);

    let mut overflowing = Vec::new();
    let mut above_bound_without_overflow = Vec::new();
    for layer in &report.layers {
        let bound = layer.bound.as_ref().unwrap().bits;
        let overflows = layer.overflows.unwrap().corrupted_results;
        if overflows > 0 {
            assert!(
                bound > 16,
                "layer {} overflows with a bound of {bound} bits",
                layer.index
            );
            overflowing.push(layer.index);
        } else if bound > 16 {
            above_bound_without_overflow.push(layer.index);
        }
    }
    assert!(!overflowing.is_empty(), "no layer overflowed at 16 bits");
    eprintln!(
        "mobilenet_v2, 16-bit saturate, {} inputs: {} of {} layers overflow; \
         bound above 16 bits without overflow: {above_bound_without_overflow:?}",
        inputs.len(),
        overflowing.len(),
        report.layers.len()
    );
}

// ---------------------------------------------------------------------------
// A layer checked by hand.

/// FULLY_CONNECTED with one output and three inputs `x = [10, 10, -30]`,
/// weights `[10, 10, 10]`, no bias and zero points 0: the products are
/// 100, 100 and -300.
fn hand_graph() -> (Graph, ModelInput) {
    let tensor = |name: &str, shape: &[usize], dtype, scale, data: Option<Vec<u8>>| Tensor {
        name: name.into(),
        shape: shape.to_vec(),
        dtype,
        quantization: Some(Quantization::per_tensor(scale, 0)),
        data,
        is_variable: false,
    };
    let weights: Vec<u8> = [10_i8, 10, 10].iter().map(|&w| w as u8).collect();
    let graph = Graph {
        name: String::new(),
        description: "accumulator checked by hand".into(),
        tensors: vec![
            tensor("x", &[1, 3], DataType::Int8, 1.0, None),
            tensor("w", &[1, 3], DataType::Int8, 1.0, Some(weights)),
            tensor(
                "b",
                &[1],
                DataType::Int32,
                1.0,
                Some(0_i32.to_le_bytes().to_vec()),
            ),
            tensor("y", &[1, 1], DataType::Int8, 16.0, None),
        ],
        ops: vec![Op {
            kind: OpKind::FullyConnected(FullyConnectedAttrs {
                activation: Activation::None,
                keep_num_dims: false,
            }),
            inputs: vec![Some(0), Some(1), Some(2)],
            outputs: vec![3],
        }],
        inputs: vec![0],
        outputs: vec![3],
    };
    let input = ModelInput {
        source: "x".into(),
        value: TensorValue {
            shape: vec![1, 3],
            data: TensorData::I8(vec![10, 10, -30]),
        },
    };
    (graph, input)
}

fn hand_config(bits: u8, overflow: &str) -> HwConfig {
    let text = format!(
        "[array]\nrows = 2\ncols = 2\n\n[datapath]\naccumulator = {{ bits = {bits}, overflow = \"{overflow}\" }}\n"
    );
    HwConfig::from_toml_str(&text, "hand.toml").unwrap()
}

/// Folds of 2: the fold sums are 200 and -300, and the register takes 0,
/// 200, then -100. Under saturation every one of them counts, so the
/// largest magnitude is 300 and the narrowest width 10 bits (-512..=511).
/// Under wrapping only the final -100 counts: 8 bits.
#[test]
fn hand_built_layer_in_fold_order() {
    let (graph, input) = hand_graph();
    let inputs = [input];

    let report = analyze(&graph, &hand_config(32, "saturate"), &inputs);
    let row = layer(&report, 0);
    assert_eq!((row.terms, row.rows, row.folds), (3, 2, 2));
    let observed = row.observed.unwrap();
    assert_eq!((observed.min, observed.max), (-300, 200));
    assert_eq!(observed.max_magnitude, 300);
    assert_eq!(observed.bits, 10);
    assert_eq!(observed.narrowest_bits, 10);
    // Bound: (10 + 10 + 10) * 128 = 3840, which needs 13 bits.
    let bound = row.bound.as_ref().unwrap();
    assert_eq!((bound.max, bound.bits), (3840, 13));

    let report = analyze(&graph, &hand_config(32, "wrap"), &inputs);
    let observed = layer(&report, 0).observed.unwrap();
    assert_eq!((observed.min, observed.max), (-100, 0));
    assert_eq!(observed.max_magnitude, 100);
    assert_eq!(observed.narrowest_bits, 8);

    // The configured width: 10 saturating bits hold every value, 9 do not
    // (-300 is below -256), while 8 wrapping bits keep the final -100.
    let overflows = |bits, overflow| {
        let report = analyze(&graph, &hand_config(bits, overflow), &inputs);
        layer(&report, 0).overflows.unwrap().corrupted_results
    };
    assert_eq!(overflows(10, "saturate"), 0);
    assert_eq!(overflows(9, "saturate"), 1);
    assert_eq!(overflows(8, "wrap"), 0);
}

// ---------------------------------------------------------------------------
// The narrowest width, found again by rerunning.

/// Each MAC layer of tiny, on a 32-bit saturating datapath: at its
/// narrowest width (the other layers unchanged) the layer does not
/// overflow, and one bit less overflows it.
#[test]
fn narrowest_width_is_tight_on_tiny() {
    let tiny = common::tiny_example_dir();
    let graph = read_model(&tiny.join("model.tflite"));
    let mut inputs = load_inputs(&tiny.join("input.npy"), &graph).unwrap();
    inputs.extend(random_inputs(&graph, 2));
    let base = std::fs::read_to_string(zynq7020_path()).unwrap().replace(
        "bits = 32, overflow = \"wrap\"",
        "bits = 32, overflow = \"saturate\"",
    );
    let report = analyze(
        &graph,
        &HwConfig::from_toml_str(&base, "base.toml").unwrap(),
        &inputs,
    );

    for row in &report.layers {
        let narrowest = row.observed.unwrap().narrowest_bits;
        assert!(
            narrowest > 8,
            "layer {}: narrowest {narrowest} leaves no narrower width to try",
            row.index
        );
        let overflows_at = |bits: u32| {
            let text = format!(
                "{base}\n[[layer]]\nmatch = \"{}\"\naccumulator = {{ bits = {bits} }}\n",
                row.index
            );
            let config = HwConfig::from_toml_str(&text, "override.toml").unwrap();
            layer(&analyze(&graph, &config, &inputs), row.index)
                .overflows
                .unwrap()
                .corrupted_results
        };
        assert_eq!(
            overflows_at(narrowest),
            0,
            "layer {} at {narrowest} bits",
            row.index
        );
        assert!(
            overflows_at(narrowest - 1) > 0,
            "layer {} at {} bits",
            row.index,
            narrowest - 1
        );
    }
}

// ---------------------------------------------------------------------------
// Inputs, labels, determinism.

#[test]
fn inputs_from_stack_and_directory() {
    let tiny = common::tiny_example_dir();
    let graph = read_model(&tiny.join("model.tflite"));
    let dir = scratch_dir("inputs_directory");
    let array = |count: usize, value: i8| {
        NpyArray::new(
            vec![count, 16, 16, 1],
            NpyData::I8(vec![value; count * 256]),
        )
        .unwrap()
    };
    common::write_npy(&dir.join("b.npy"), &array(2, 2)).unwrap();
    common::write_npy(&dir.join("a.npy"), &array(1, 1)).unwrap();
    std::fs::write(dir.join("notes.txt"), "not an input").unwrap();

    let inputs = load_inputs(&dir, &graph).unwrap();
    let sources: Vec<String> = inputs
        .iter()
        .map(|input| {
            Path::new(&input.source)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(sources, vec!["a.npy", "b.npy[0]", "b.npy[1]"]);
    let first = |input: &ModelInput| match &input.value.data {
        TensorData::I8(values) => values[0],
        other => panic!("{:?}", other.dtype()),
    };
    assert_eq!(inputs.iter().map(first).collect::<Vec<_>>(), vec![1, 2, 2]);
    assert!(inputs
        .iter()
        .all(|input| input.value.shape == [1, 16, 16, 1]));

    let empty = scratch_dir("inputs_empty");
    assert!(matches!(
        load_inputs(&empty, &graph),
        Err(AccumError::NoInputs { .. })
    ));
}

#[test]
fn labels_must_fit_inputs_and_classes() {
    let dir = scratch_dir("labels");
    let write = |name: &str, array: NpyArray| {
        let path = dir.join(name);
        common::write_npy(&path, &array).unwrap();
        path
    };
    let good = write(
        "good.npy",
        NpyArray::new(vec![3, 1], NpyData::U8(vec![0, 9, 4])).unwrap(),
    );
    assert_eq!(load_labels(&good, 3, 10).unwrap(), vec![0, 9, 4]);

    let count = load_labels(&good, 2, 10).unwrap_err();
    assert!(
        matches!(
            count,
            AccumError::LabelCount {
                found: 3,
                expected: 2,
                ..
            }
        ),
        "{count}"
    );
    let negative = write(
        "negative.npy",
        NpyArray::new(vec![1], NpyData::I8(vec![-1])).unwrap(),
    );
    assert!(matches!(
        load_labels(&negative, 1, 10),
        Err(AccumError::LabelRange { label: -1, .. })
    ));
    let matrix = write(
        "matrix.npy",
        NpyArray::new(vec![2, 2], NpyData::I64(vec![0; 4])).unwrap(),
    );
    assert!(matches!(
        load_labels(&matrix, 4, 10),
        Err(AccumError::LabelShape { .. })
    ));
    let flags = write(
        "flags.npy",
        NpyArray::new(vec![1], NpyData::Bool(vec![true])).unwrap(),
    );
    assert!(matches!(
        load_labels(&flags, 1, 10),
        Err(AccumError::LabelType { .. })
    ));
}

#[test]
fn report_does_not_depend_on_threads() {
    let tiny = common::tiny_example_dir();
    let graph = read_model(&tiny.join("model.tflite"));
    let inputs = random_inputs(&graph, 5);
    let config = zynq7020_with(14, Overflow::Saturate);
    let settings = AccumSettings {
        model: "tiny".into(),
        widths: vec![10, 14, 20],
        labels: Some(vec![0, 1, 2, 3, 4]),
    };
    let report_json = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let report = pool
            .install(|| analyze_accumulators(&graph, &config, &inputs, &settings, &NoProgress))
            .unwrap();
        fxsim::report::accum::accum_json(&report).unwrap()
    };
    let single = report_json(1);
    assert_eq!(report_json(3), single);
    assert!(single.contains("\"sweep\""));
}
