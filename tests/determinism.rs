//! The same inputs, configuration and seed give byte-identical output,
//! whatever the thread count: every command is run with
//! `RAYON_NUM_THREADS=1`, `=2`, and `=2` again, and the bytes compared.
//!
//! The hardware descriptions include stochastic rounding (an LFSR seeded
//! from the description) and a saturating narrow accumulator, the two
//! places where an order of computation could leak into the result.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Thread counts each command runs with; the repeated 2 checks that two
/// runs with the same count agree too.
const THREAD_COUNTS: [&str; 3] = ["1", "2", "2"];

/// Stochastic rounding in the default datapath and in one layer override,
/// with a saturating accumulator narrow enough to overflow.
const STOCHASTIC_HW: &str = r#"
[array]
rows = 8
cols = 8

[datapath]
accumulator = { bits = 16, overflow = "saturate" }
requant = { mode = "fixed", multiplier_bits = 12, rounding = "stochastic" }
seed = 2024

[[layer]]
match = "0"
requant = { mode = "single", rounding = "stochastic" }
seed = 77
"#;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("determinism")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory can be created");
    dir
}

/// Runs fxsim with `threads` rayon threads and returns its standard output;
/// fails the test on a non-zero exit.
fn fxsim_with_threads(args: &[&str], threads: &str) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("fxsim starts");
    assert!(
        output.status.success(),
        "{args:?} with {threads} threads: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Asserts that every run's output equals the first, naming the first
/// differing byte.
fn assert_same_bytes(context: &str, runs: &[(String, Vec<u8>)]) {
    let (first_label, first) = &runs[0];
    for (label, bytes) in &runs[1..] {
        if bytes != first {
            let at = first
                .iter()
                .zip(bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(first.len().min(bytes.len()));
            panic!(
                "{context}: {label} differs from {first_label} at byte {at} (lengths {} and {})",
                bytes.len(),
                first.len()
            );
        }
    }
}

/// Runs `args` with every thread count and compares standard output.
fn check_stdout(context: &str, args: &[&str]) {
    let runs: Vec<(String, Vec<u8>)> = THREAD_COUNTS
        .iter()
        .enumerate()
        .map(|(run, threads)| {
            let label = format!("run {run} ({threads} threads)");
            (label, fxsim_with_threads(args, threads))
        })
        .collect();
    assert!(!runs[0].1.is_empty(), "{context}: printed nothing");
    assert_same_bytes(context, &runs);
}

/// Reads every file of a directory, by name, sorted.
fn directory_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("output directory lists")
        .map(|entry| {
            let entry = entry.expect("directory entry reads");
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).expect("output file reads");
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs a command that writes the directory `out` with every thread
/// count and compares every file's bytes.
fn check_directory(context: &str, args_for: impl Fn(&str) -> Vec<String>, scratch_name: &str) {
    let dir = scratch(scratch_name);
    let mut trees = Vec::new();
    for (run, threads) in THREAD_COUNTS.iter().enumerate() {
        let out = dir.join(format!("run{run}"));
        let out_text = out.display().to_string();
        let args = args_for(&out_text);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fxsim_with_threads(&args, threads);
        trees.push((
            format!("run {run} ({threads} threads)"),
            directory_files(&out),
        ));
    }

    let (first_label, first) = &trees[0];
    assert!(!first.is_empty(), "{context}: wrote no files");
    for (label, files) in &trees[1..] {
        let names: Vec<&String> = files.iter().map(|(name, _)| name).collect();
        let first_names: Vec<&String> = first.iter().map(|(name, _)| name).collect();
        assert_eq!(
            names, first_names,
            "{context}: {label} wrote other files than {first_label}"
        );
        for ((name, bytes), (_, first_bytes)) in files.iter().zip(first) {
            assert_same_bytes(
                &format!("{context}: {name}"),
                &[
                    (first_label.clone(), first_bytes.clone()),
                    (label.clone(), bytes.clone()),
                ],
            );
        }
    }
}

fn write_hw(name: &str, text: &str) -> String {
    let path = scratch(name).join("hw.toml");
    std::fs::write(&path, text).expect("hw can be written");
    path.display().to_string()
}

fn tiny_model() -> String {
    repo("examples/tiny/model.tflite").display().to_string()
}

fn tiny_input() -> String {
    repo("examples/tiny/input.npy").display().to_string()
}

#[test]
fn run_dump_reference() {
    let (model, input) = (tiny_model(), tiny_input());
    check_directory(
        "run --dump",
        |out| {
            ["run", &model, "--input", &input, "--dump", out]
                .map(String::from)
                .to_vec()
        },
        "run_dump_reference",
    );
}

#[test]
fn run_dump_stochastic_hw() {
    let (model, input) = (tiny_model(), tiny_input());
    let hw = write_hw("run_dump_stochastic_hw_config", STOCHASTIC_HW);
    check_directory(
        "run --hw --dump",
        |out| {
            ["run", &model, "--input", &input, "--hw", &hw, "--dump", out]
                .map(String::from)
                .to_vec()
        },
        "run_dump_stochastic_hw",
    );
}

/// Six inputs and labels, so that `accum` spreads its runs over threads.
#[test]
fn accum_every_format() {
    let model = tiny_model();
    let dir = scratch("accum_every_format_inputs");
    let inputs = dir.join("inputs.npy");
    write_ramp_input(&inputs, &[6, 16, 16, 1]);
    let labels = dir.join("labels.npy");
    let label_values = fxsim::exec::TensorValue {
        shape: vec![6],
        data: fxsim::exec::TensorData::I64(vec![7, 0, 3, 9, 7, 1]),
    };
    let file = std::fs::File::create(&labels).expect("labels can be created");
    fxsim::io::write_npy(file, &label_values).expect("labels can be written");
    let (inputs, labels) = (inputs.display().to_string(), labels.display().to_string());
    let hw = write_hw("accum_every_format", STOCHASTIC_HW);
    let common = [
        "accum", &model, "--hw", &hw, "--inputs", &inputs, "--labels", &labels, "--widths",
        "10..20",
    ];
    for format in [None, Some("--json"), Some("--csv")] {
        let mut args = common.to_vec();
        args.extend(format);
        check_stdout(&format!("accum {}", format.unwrap_or("(text)")), &args);
    }
}

#[test]
fn accum_with_example_hw() {
    let (model, input) = (tiny_model(), tiny_input());
    let hw = repo("examples/hw/aggressive.toml").display().to_string();
    check_stdout(
        "accum aggressive",
        &["accum", &model, "--hw", &hw, "--inputs", &input, "--json"],
    );
}

#[test]
fn estimate_json() {
    let model = tiny_model();
    for hw in [
        "examples/hw/zynq7020.toml",
        "examples/hw/zcu102.toml",
        "examples/hw/aggressive.toml",
    ] {
        let hw = repo(hw).display().to_string();
        check_stdout(
            &format!("estimate {hw}"),
            &["estimate", &model, "--hw", &hw, "--json"],
        );
    }
    let hw = write_hw("estimate_json", STOCHASTIC_HW);
    check_stdout(
        "estimate stochastic",
        &["estimate", &model, "--hw", &hw, "--json"],
    );
}

/// Stochastic rounding must actually change results, or the tests above
/// would compare a datapath that never drew from the LFSR.
#[test]
fn stochastic_seed_changes_output() {
    let (model, input) = (tiny_model(), tiny_input());
    let hw_a = write_hw("seed_a", STOCHASTIC_HW);
    let hw_b = write_hw(
        "seed_b",
        &STOCHASTIC_HW.replace("seed = 2024", "seed = 2025"),
    );
    let a = fxsim_with_threads(&["run", &model, "--input", &input, "--hw", &hw_a], "2");
    let b = fxsim_with_threads(&["run", &model, "--input", &input, "--hw", &hw_b], "2");
    assert_ne!(a, b, "changing the seed changed nothing");
}

/// Writes a deterministic int8 input of `shape`: a ramp that wraps.
fn write_ramp_input(path: &Path, shape: &[usize]) {
    let count: usize = shape.iter().product();
    let value = fxsim::exec::TensorValue {
        shape: shape.to_vec(),
        data: fxsim::exec::TensorData::I8((0..count).map(|i| (i * 37 % 256) as u8 as i8).collect()),
    };
    let file = std::fs::File::create(path).expect("input can be created");
    fxsim::io::write_npy(file, &value).expect("input can be written");
}

/// person_detect is large enough (96 x 96 input, 31 operators) that rayon
/// splits its kernels' loops over both threads.
#[test]
fn person_detect_run_and_accum() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite").display().to_string();
    let dir = scratch("person_detect_input");
    let input = dir.join("input.npy");
    write_ramp_input(&input, &[1, 96, 96, 1]);
    let input = input.display().to_string();
    let hw = write_hw(
        "person_detect_hw",
        &STOCHASTIC_HW.replace("[[layer]]\nmatch = \"0\"", "[[layer]]\nmatch = \"1\""),
    );

    check_directory(
        "person_detect run --hw --dump",
        |out| {
            ["run", &model, "--input", &input, "--hw", &hw, "--dump", out]
                .map(String::from)
                .to_vec()
        },
        "person_detect_run",
    );
    check_stdout(
        "person_detect accum",
        &[
            "accum", &model, "--hw", &hw, "--inputs", &input, "--widths", "14..18", "--json",
        ],
    );
}
