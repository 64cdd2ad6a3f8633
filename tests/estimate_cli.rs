//! `fxsim estimate` as a user runs it: the per-layer rows and totals, the
//! resource table, the three output formats, a design too large for its
//! part, and the exit status and message for a bad hardware description.
//!
//! The person_detect and mobilenet_v2 checks need `../shared/models` and
//! skip, saying why, without it (or fail when `FXSIM_NO_SKIP` is set).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example hardware descriptions and whether each fits its part.
const EXAMPLES: [(&str, &str, bool); 3] = [
    ("examples/hw/zynq7020.toml", "xc7z020", true),
    ("examples/hw/zcu102.toml", "xczu9eg", true),
    // Layers 0 and 6 keep int8 operands, so the array is built for 9 x 8
    // bit products on DSPs: 256 of them, within the part's 360.
    ("examples/hw/aggressive.toml", "xczu3eg", true),
];

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("cannot start fxsim")
}

fn repo(path: &str) -> String {
    common::repo_dir().join(path).display().to_string()
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

fn write_hw(name: &str, text: &str) -> String {
    let path = scratch(name).join("hw.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Returns the path of a model in `../shared/models`, or `None` after
/// reporting the skip.
fn shared_model(file: &str) -> Option<String> {
    let Some(dir) = common::shared_models_dir() else {
        common::note_skip(&format!(
            "shared models directory {} not found",
            common::shared_dir().join("models").display()
        ));
        return None;
    };
    let path = dir.join(file);
    if !path.is_file() {
        common::note_skip(&format!("model {} not found", path.display()));
        return None;
    }
    Some(path.display().to_string())
}

fn operator_count(model: &str) -> usize {
    fxsim::import::tflite::read_file(model).unwrap().ops.len()
}

fn estimate_json(model: &str, hw: &str) -> serde_json::Value {
    let output = fxsim(&["estimate", model, "--hw", hw, "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// Runs every example description on `model` and checks the text report:
/// one row per operator, the totals, the resource table and the fit line.
fn check_text_report_for_examples(model: &str) {
    let operators = operator_count(model);
    for (hw, part, fits) in EXAMPLES {
        let output = fxsim(&["estimate", model, "--hw", &repo(hw)]);
        assert_eq!(output.status.code(), Some(0), "{hw}: {}", stderr(&output));
        let text = stdout(&output);

        let rows = text
            .lines()
            .skip_while(|line| !line.starts_with("per layer:"))
            .skip(2)
            .take_while(|line| !line.is_empty())
            .count();
        assert_eq!(rows, operators, "{hw}: layer rows\n{text}");
        for label in [
            "cycles:",
            "latency:",
            "inferences per second:",
            "DRAM bytes:",
        ] {
            assert!(text.contains(label), "{hw}: no {label}\n{text}");
        }
        assert!(
            text.contains(&format!("resources on {part}:")),
            "{hw}\n{text}"
        );
        for resource in ["BRAM36", "URAM", "LUT", "FF"] {
            assert!(
                text.contains(&format!("\n  {resource} ")),
                "{hw}: {resource}\n{text}"
            );
        }
        let verdict = if fits {
            format!("fits {part}")
        } else {
            "does not fit: needs ".to_string()
        };
        assert!(
            text.contains(&verdict),
            "{hw}: expected {verdict:?}\n{text}"
        );

        for line in text.lines() {
            let path_line = line.starts_with("model: ") || line.starts_with("hardware: ");
            assert!(
                path_line || line.chars().count() <= 100,
                "{hw}: line of {} columns: {line}",
                line.chars().count()
            );
        }
    }
}

#[test]
fn person_detect_text_report_per_example() {
    let Some(model) = shared_model("person_detect.tflite") else {
        return;
    };
    check_text_report_for_examples(&model);
}

#[test]
fn mobilenet_v2_text_report_per_example() {
    let Some(model) = shared_model("mobilenet_v2_quantized_1x3x224x224.tflite") else {
        return;
    };
    check_text_report_for_examples(&model);
}

#[test]
fn person_detect_json_has_timing_and_resources() {
    let Some(model) = shared_model("person_detect.tflite") else {
        return;
    };
    let operators = operator_count(&model);
    for (hw, part, fits) in EXAMPLES {
        let json = estimate_json(&model, &repo(hw));
        let layers = json["timing"]["layers"].as_array().unwrap();
        assert_eq!(layers.len(), operators, "{hw}");
        let cycles: u64 = layers
            .iter()
            .map(|layer| layer["total_cycles"].as_u64().unwrap())
            .sum();
        assert_eq!(
            json["timing"]["total_cycles"].as_u64(),
            Some(cycles),
            "{hw}"
        );
        assert!(json["timing"]["inferences_per_second"].as_f64().unwrap() > 0.0);
        assert_eq!(json["resources"]["part"], part, "{hw}");
        assert_eq!(json["resources"]["fits"], fits, "{hw}");
        assert_eq!(json["resources"]["usage"].as_array().unwrap().len(), 5);
    }
}

#[test]
fn markdown_has_timing_and_resource_tables() {
    let model = repo("examples/tiny/model.tflite");
    let output = fxsim(&[
        "estimate",
        &model,
        "--hw",
        &repo("examples/hw/zynq7020.toml"),
        "--markdown",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("# Estimate of "), "{text}");
    assert!(text.contains("## Timing"), "{text}");
    assert!(text.contains("| # | op | name |"), "{text}");
    assert!(text.contains("## Resources on xc7z020"), "{text}");
    assert!(text.contains("| DSP48E1 | 96 | 220 | 43.6% |"), "{text}");
    let layer_rows = text
        .lines()
        .filter(|line| line.split(" | ").nth(3) == Some("array"))
        .count();
    // The tiny model's four MAC layers run on the array.
    assert_eq!(layer_rows, 4, "{text}");
}

#[test]
fn json_and_markdown_conflict() {
    let output = fxsim(&[
        "estimate",
        &repo("examples/tiny/model.tflite"),
        "--hw",
        &repo("examples/hw/zynq7020.toml"),
        "--json",
        "--markdown",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot be used with"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn oversized_array_does_not_fit_xc7z010() {
    let hw = write_hw(
        "estimate_oversized",
        "[device]\npart = \"xc7z010\"\n\
         [array]\nrows = 64\ncols = 64\n\
         [datapath]\nactivation = \"int16\"\nweight = \"int16\"\n\
         [buffers]\nweight_kib = 128\naccumulator_kib = 64\noutput_kib = 64\n",
    );
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite"), "--hw", &hw]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // 4,096 PEs with one DSP48E1 each and 64 PPU lanes with 4 each.
    assert!(
        text.contains("does not fit: needs 4352 DSP48E1, xc7z010 has 80"),
        "{text}"
    );
    assert!(text.contains("BRAM36, xc7z010 has 60"), "{text}");
}

#[test]
fn bad_hw_value_exits_2_naming_key() {
    let hw = write_hw("estimate_bad_value", "[array]\nrows = 0\n");
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite"), "--hw", &hw]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("array.rows = 0 is out of range; expected an integer in 1..=256"),
        "{message}"
    );
    assert!(message.contains(&hw), "{message}");
}

#[test]
fn unknown_hw_key_exits_2() {
    let hw = write_hw("estimate_unknown_key", "[array]\nrowz = 8\n");
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite"), "--hw", &hw]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("array.rowz"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_hw_file_exits_2() {
    let dir = scratch("estimate_missing_hw");
    let hw = dir.join("absent.toml").display().to_string();
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite"), "--hw", &hw]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read hardware description"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn override_matching_no_layer_exits_2() {
    let hw = write_hw(
        "estimate_unmatched_layer",
        "[[layer]]\nmatch = \"99\"\nweight = \"int4\"\n",
    );
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite"), "--hw", &hw]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("matches no layer of the model"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_hw_argument_is_usage_error() {
    let output = fxsim(&["estimate", &repo("examples/tiny/model.tflite")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--hw"), "{}", stderr(&output));
}
