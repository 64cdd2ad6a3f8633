//! The `fxsim` binary as a user runs it: outputs, exit statuses, messages
//! and what is left on disk after an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("cannot start fxsim")
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates an empty scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const TINY_OUTPUT: &str = "[-95, -116, -114, -118, -116, -93, -100, -65, -111, -98]";

#[test]
fn run_prints_tiny_example_output() {
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        &repo("examples/tiny/input.npy"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The reference interpreter's output, recorded in examples/tiny/README.md.
    assert!(stdout(&output).contains(TINY_OUTPUT), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("class     7"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn run_with_reference_equivalent_hw_matches_reference() {
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        &repo("examples/tiny/input.npy"),
        "--hw",
        &repo("examples/hw/zynq7020.toml"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains(TINY_OUTPUT), "{text}");
    assert!(
        text.contains("layers whose output differs from the reference: 0 of 8"),
        "{text}"
    );
}

#[test]
fn run_with_aggressive_hw_reports_differences() {
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        &repo("examples/tiny/input.npy"),
        "--hw",
        &repo("examples/hw/aggressive.toml"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains("differs from the reference: 0 of"), "{text}");
    assert!(text.contains("requantised from int8"), "{text}");
}

#[test]
fn inspect_json_is_valid() {
    let output = fxsim(&["inspect", "--json", &repo("examples/tiny/model.tflite")]);
    assert_eq!(output.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["totals"]["ops"], 8);
    assert_eq!(value["totals"]["macs"], 55_936);
}

#[test]
fn missing_model_exits_2_naming_the_file() {
    let output = fxsim(&["inspect", "/nonexistent/model.tflite"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/model.tflite"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn input_of_wrong_type_exits_2() {
    let dir = scratch("wrong_type");
    let path = dir.join("x.npy");
    // int16 input for an int8 model: a valid .npy of the right shape.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 16, 16, 1), }";
    let padded = format!("{header:<117}\n");
    bytes.extend_from_slice(&(padded.len() as u16).to_le_bytes());
    bytes.extend_from_slice(padded.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 512));
    std::fs::write(&path, bytes).unwrap();
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("int16"), "{}", stderr(&output));
    assert!(stderr(&output).contains("int8"), "{}", stderr(&output));
}

#[test]
fn dump_rejects_non_dump_directory() {
    let dir = scratch("not_a_dump");
    let keep = dir.join("keep.txt");
    std::fs::write(&keep, "user data").unwrap();
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        &repo("examples/tiny/input.npy"),
        "--dump",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not an fxsim dump"),
        "{}",
        stderr(&output)
    );
    assert!(keep.exists());
}

#[test]
fn dump_replaces_earlier_dump() {
    let dir = scratch("dump").join("tensors");
    let run = || {
        fxsim(&[
            "run",
            &repo("examples/tiny/model.tflite"),
            "--input",
            &repo("examples/tiny/input.npy"),
            "--dump",
            dir.to_str().unwrap(),
        ])
    };
    assert_eq!(run().status.code(), Some(0));
    let first = std::fs::read(dir.join("tensors.tsv")).unwrap();
    assert_eq!(run().status.code(), Some(0));
    let second = std::fs::read(dir.join("tensors.tsv")).unwrap();
    assert_eq!(first, second);
    let npy_count = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "npy")
        })
        .count();
    // Every line of the index but the header names one .npy file.
    assert_eq!(
        npy_count,
        String::from_utf8(first).unwrap().lines().count() - 1
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial") || name.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unknown_hw_key_exits_2_naming_the_key() {
    let dir = scratch("bad_hw");
    let path = dir.join("hw.toml");
    std::fs::write(&path, "[array]\nrows = 8\ncolumns = 8\n").unwrap();
    let output = fxsim(&[
        "run",
        &repo("examples/tiny/model.tflite"),
        "--input",
        &repo("examples/tiny/input.npy"),
        "--hw",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("columns"), "{}", stderr(&output));
}

/// Help text wider than 100 columns wraps badly in an 80- or 100-column
/// terminal; clap wraps every command's help at 100 columns at most.
#[test]
fn help_fits_100_columns() {
    let commands: [&[&str]; 9] = [
        &[],
        &["inspect"],
        &["run"],
        &["accum"],
        &["estimate"],
        &["export"],
        &["verify"],
        &["sweep"],
        &["sweep", "merge"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let output = fxsim(&args);
        assert_eq!(output.status.code(), Some(0), "{command:?}");
        for line in stdout(&output).lines() {
            let width = line.chars().count();
            assert!(width <= 100, "{command:?}: {width} columns: {line}");
        }
    }
}

/// A report whose Markdown target is a directory fails with status 2 and
/// leaves the charts already beside it unchanged.
#[test]
fn report_to_directory_changes_no_file() {
    let dir = scratch("report-to-directory");
    let report = dir.join("out.md");
    std::fs::create_dir(&report).unwrap();
    let chart = dir.join("out-cycles.svg");
    std::fs::write(&chart, "old chart").unwrap();
    let output = fxsim(&[
        "run",
        &repo("examples/digits/model.tflite"),
        "--hw",
        &repo("examples/hw/zynq7020.toml"),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("out.md"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&chart).unwrap(), "old chart");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["out-cycles.svg", "out.md"]);
}
