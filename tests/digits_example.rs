//! The digits example end to end. The reference datapath's accuracy on the
//! committed test set equals the TFLite interpreter's, which both READMEs
//! state. fxsim's tensors equal the TFLite Micro reference kernels' on a
//! sample of the test set. `fxsim run`, the README's first command, prints
//! its report within 100 columns and writes the Markdown report with three
//! SVG charts.
//!
//! The oracle sample is every fourth test image plus every image the
//! reference datapath misclassifies: one oracle run starts Python and
//! TFLite Micro and takes about 0.6 s, so all 360 images would take about
//! two minutes on two cores before the dumps are cached, and a quarter
//! takes about 30 s.

mod common;

use common::convert::{to_npy, to_value};
use common::run_oracle;
use fxsim::analysis::accum::NoProgress;
use fxsim::analysis::accum_inputs::{load_inputs, load_labels, ModelInput};
use fxsim::analysis::run_summary::evaluate_dataset;
use fxsim::exec::{Datapath, Executor};
use fxsim::model::Graph;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Test images in examples/digits/test_images.npy.
const TEST_IMAGES: usize = 360;
/// Images the TFLite interpreter classifies correctly, with the reference
/// kernels and with the default ones (examples/digits/make_model.py prints
/// both; examples/digits/README.md and README.md state the figure).
const INTERPRETER_CORRECT: usize = 353;
/// The same as a percentage, as the READMEs and `fxsim run` print it.
const INTERPRETER_PERCENT: &str = "98.06%";
/// Every how many images the oracle sample takes one.
const ORACLE_STRIDE: usize = 4;

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(path)
}

fn load_example() -> (Graph, Vec<ModelInput>, Vec<usize>) {
    let graph = fxsim::import::tflite::read_file(example("digits/model.tflite"))
        .unwrap_or_else(|error| panic!("{error}"));
    let inputs = load_inputs(&example("digits/test_images.npy"), &graph)
        .unwrap_or_else(|error| panic!("{error}"));
    let labels = load_labels(&example("digits/test_labels.npy"), inputs.len(), 10)
        .unwrap_or_else(|error| panic!("{error}"));
    (graph, inputs, labels)
}

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("cannot start fxsim")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn reference_accuracy_equals_interpreter() {
    let (graph, inputs, labels) = load_example();
    assert_eq!(inputs.len(), TEST_IMAGES);
    let results = evaluate_dataset(&graph, None, &inputs, Some(&labels), &NoProgress)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(results.correct, Some(INTERPRETER_CORRECT));
    assert_eq!(results.top1.len(), TEST_IMAGES);
}

#[test]
fn readmes_state_tested_accuracy() {
    let figure = format!("{INTERPRETER_CORRECT} of {TEST_IMAGES}");
    for readme in ["README.md", "examples/digits/README.md"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(readme);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{readme}: {error}"));
        assert!(text.contains(&figure), "{readme} does not state {figure}");
        assert!(
            text.contains(INTERPRETER_PERCENT),
            "{readme} does not state {INTERPRETER_PERCENT}"
        );
    }
}

#[test]
fn tensors_equal_oracle_on_sample() {
    require_oracle!();
    let (graph, inputs, labels) = load_example();
    let model = example("digits/model.tflite");
    let executor = Executor::new(&graph, &Datapath::reference()).unwrap();
    let results = evaluate_dataset(&graph, None, &inputs, Some(&labels), &NoProgress).unwrap();
    let misclassified: Vec<usize> = (0..inputs.len())
        .filter(|&i| results.top1[i] != Some(labels[i]))
        .collect();
    let mut sample: Vec<usize> = (0..inputs.len()).step_by(ORACLE_STRIDE).collect();
    sample.extend(&misclassified);
    sample.sort_unstable();
    sample.dedup();
    eprintln!(
        "{} of {} images against the oracle ({} misclassified included)",
        sample.len(),
        inputs.len(),
        misclassified.len()
    );

    let failures: Vec<String> = sample
        .par_iter()
        .flat_map(|&index| {
            let input = to_npy(&inputs[index].value);
            let dump = run_oracle(&model, &input)
                .unwrap_or_else(|error| panic!("image {index}: oracle failed: {error}"));
            let execution = executor.run(&[to_value(&input)]).unwrap();
            let written = graph.ops.iter().flat_map(|op| op.outputs.iter().copied());
            written
                .filter_map(|id| {
                    let value = execution.values[id].as_ref()?;
                    let mismatch = dump.compare(id, &to_npy(value)).err()?;
                    Some(format!("image {index}: {mismatch}"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} tensors differ, first: {}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn readme_command_prints_report() {
    let output = fxsim(&[
        "run",
        "examples/digits/model.tflite",
        "--hw",
        "examples/hw/zynq7020.toml",
    ]);
    let text = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figure = format!("{INTERPRETER_CORRECT} of {TEST_IMAGES}");
    let accuracy_lines: Vec<&str> = text.lines().filter(|line| line.contains(&figure)).collect();
    assert_eq!(
        accuracy_lines.len(),
        2,
        "hardware and reference rows:\n{text}"
    );
    for line in accuracy_lines {
        assert!(line.contains(INTERPRETER_PERCENT), "{line}");
    }
    assert!(
        text.contains("bit for bit, on 360 of 360 inputs"),
        "the zynq7020 datapath is the TFLite arithmetic:\n{text}"
    );
    for heading in [
        "latency per layer",
        "resources on xc7z020",
        "accumulators of the MAC layers",
    ] {
        assert!(text.contains(heading), "missing {heading}:\n{text}");
    }
    let verdicts = text
        .lines()
        .filter(|line| line.ends_with("safe for any input"))
        .count();
    assert_eq!(verdicts, 4, "one verdict per MAC layer:\n{text}");
}

#[test]
fn report_fits_100_columns() {
    for hw in ["zynq7020", "zcu102", "aggressive"] {
        let config = format!("examples/hw/{hw}.toml");
        let output = fxsim(&["run", "examples/digits/model.tflite", "--hw", &config]);
        assert_eq!(output.status.code(), Some(0), "{hw}");
        for line in stdout(&output).lines() {
            assert!(
                line.chars().count() <= 100,
                "{hw}: {} columns: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn report_writes_markdown_and_charts() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("digits-report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.md");
    let output = fxsim(&[
        "run",
        "examples/digits/model.tflite",
        "--hw",
        "examples/hw/aggressive.toml",
        "--report",
        &report.display().to_string(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = std::fs::read_to_string(&report).unwrap();
    let charts = [
        ("report-cycles.svg", "Cycles per layer on xczu3eg"),
        ("report-resources.svg", "Resources against the capacity"),
        (
            "report-accuracy.svg",
            "Top-1 accuracy against accumulator width",
        ),
    ];
    for (file, title) in charts {
        assert!(
            markdown.contains(&format!("]({file})")),
            "{file} not linked"
        );
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        let document = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|error| panic!("{file}: invalid SVG: {error}"));
        let has_title = document.descendants().any(|node| {
            node.tag_name().name() == "text" && node.text().is_some_and(|t| t.starts_with(title))
        });
        assert!(has_title, "{file}: no title starting {title:?}");
    }
    assert!(markdown.contains("## Accumulators"));
    assert!(markdown.contains("### Accuracy by accumulator width"));

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "report-accuracy.svg",
            "report-cycles.svg",
            "report-resources.svg",
            "report.md"
        ],
        "no temporary files left"
    );
}

#[test]
fn dataset_flags_override_example() {
    let output = fxsim(&[
        "run",
        "examples/digits/model.tflite",
        "--dataset",
        "examples/digits/test_images.npy",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("no labels given"), "{text}");
    assert!(text.contains("give --hw"), "{text}");
}

/// `run --dataset X.npy` without labels and without `--hw` has nothing to
/// compare the outputs with, so it lists the inputs per top-1 class. The
/// counts must equal those of the reference datapath run here, and no line
/// may promise an agreement that never follows.
#[test]
fn run_without_labels_or_hw_counts_classes() {
    let output = fxsim(&[
        "run",
        "examples/digits/model.tflite",
        "--dataset",
        "examples/digits/test_images.npy",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(!text.contains("only agreement is shown"), "{text}");
    assert!(text.contains("add --labels Y.npy"), "{text}");

    let (graph, inputs, _) = load_example();
    let results = evaluate_dataset(&graph, None, &inputs, None, &NoProgress)
        .unwrap_or_else(|error| panic!("{error}"));
    let mut expected = [0usize; 10];
    for class in results.top1.iter().flatten() {
        expected[*class] += 1;
    }
    let mut printed = [0usize; 10];
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [class, count, share, _bar] = fields.as_slice() {
            if share.ends_with('%') {
                if let (Ok(class), Ok(count)) = (class.parse::<usize>(), count.parse::<usize>()) {
                    printed[class] = count;
                }
            }
        }
    }
    assert_eq!(printed, expected, "{text}");
    assert_eq!(printed.iter().sum::<usize>(), TEST_IMAGES, "{text}");
}

/// `run`'s accumulator table has a `narrowest` column but no `observed`
/// one, so its note about the widened run must not name `observed`.
#[test]
fn run_note_names_only_shown_columns() {
    let output = fxsim(&[
        "run",
        "examples/digits/model.tflite",
        "--hw",
        "examples/hw/zynq7020.toml",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(!text.contains("observed"), "{text}");
    assert!(
        text.contains("note: narrowest comes from a run with every MAC register widened"),
        "{text}"
    );
}

#[test]
fn missing_dataset_is_an_error() {
    let output = fxsim(&["run", "examples/tiny/model.tflite"]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("test_images.npy not found"), "{message}");
    assert!(message.contains("--input"), "{message}");
}
