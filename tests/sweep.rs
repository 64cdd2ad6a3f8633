//! `fxsim sweep` and `fxsim sweep merge` on person_detect. A grid of 1024
//! hardware descriptions with a data set, run whole and as 4 shards, must
//! give the same bytes. Points must carry the figures that the timing and
//! resource models give for the same description. Invalid points stay in
//! the output, and grid errors exit with status 2 before anything is
//! written.

mod common;

use common::{NpyArray, NpyData};
use fxsim::exec::{Datapath, Executor};
use fxsim::hw::{apply_override, HwConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// 4 x 4 x 4 x 2 x 4 x 2 = 1024 points. Rows and columns change the
/// array, the accumulator fields the datapath, and the buffers the tiling.
const GRID: &str = r#"
"array.rows" = [4, 8, 16, 32]
"array.cols" = [4, 8, 16, 32]
"datapath.accumulator.bits" = [14, 16, 20, 32]
"datapath.accumulator.overflow" = ["wrap", "saturate"]
"buffers.weight_kib" = [4, 8, 16, 32]
"buffers.input_kib" = [16, 32]
"#;

const OUTPUT_FILES: [&str; 3] = ["points.csv", "points.json", "latency_dsp.svg"];

fn run_fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("fxsim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Creates an empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sweep")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn zynq7020_path() -> PathBuf {
    common::repo_dir().join("examples/hw/zynq7020.toml")
}

/// Writes the two person_detect images as one stack and, as labels, the
/// reference datapath's top-1 class of each; returns both paths.
fn person_detect_dataset(models: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let mut data = Vec::new();
    for image in ["person.bmp", "no_person.bmp"] {
        match common::bmp_to_int8(&models.join(image)).unwrap().data {
            NpyData::I8(values) => data.extend(values),
            other => panic!("bmp_to_int8 gave {:?}", other.element_type()),
        }
    }
    let inputs = dir.join("images.npy");
    common::write_npy(
        &inputs,
        &NpyArray::new(vec![2, 96, 96, 1], NpyData::I8(data)).unwrap(),
    )
    .unwrap();

    let graph = fxsim::import::tflite::read_file(models.join("person_detect.tflite")).unwrap();
    let loaded = fxsim::analysis::accum_inputs::load_inputs(&inputs, &graph).unwrap();
    let reference = Executor::new(&graph, &Datapath::reference()).unwrap();
    let labels: Vec<i64> = loaded
        .iter()
        .map(|input| {
            let run = reference.run(std::slice::from_ref(&input.value)).unwrap();
            let output = run.values[graph.outputs[0]].as_ref().unwrap();
            fxsim::analysis::accum_sweep::top1(output).unwrap() as i64
        })
        .collect();
    let labels_path = dir.join("labels.npy");
    common::write_npy(
        &labels_path,
        &NpyArray::new(vec![2], NpyData::I64(labels)).unwrap(),
    )
    .unwrap();
    (inputs, labels_path)
}

/// Parses points.csv into one map per row, keyed by column name.
fn csv_rows(csv: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|line| {
            // The rows of these grids have no quoted fields.
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn shards_merge_to_unsharded_bytes() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("shards");
    let grid = dir.join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    let (inputs, labels) = person_detect_dataset(&models, &dir);
    let hw = zynq7020_path();
    let common_args = [
        "sweep",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
        "--dataset",
        inputs.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
    ];

    let whole = dir.join("whole");
    let output = run_fxsim(&[&common_args[..], &["--out", whole.to_str().unwrap()]].concat());
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    assert!(
        text(&output.stdout).starts_with("1024 points: 1024 valid"),
        "{}",
        text(&output.stdout)
    );
    // Standard error is a pipe here, so no progress bar.
    assert_eq!(text(&output.stderr), "");

    let mut shard_dirs = Vec::new();
    for index in 0..4 {
        let shard_dir = dir.join(format!("shard{index}"));
        let shard = format!("{index}/4");
        let args = [
            &common_args[..],
            &["--shard", &shard, "--out", shard_dir.to_str().unwrap()],
        ]
        .concat();
        let output = run_fxsim(&args);
        assert!(output.status.success(), "stderr: {}", text(&output.stderr));
        let csv = std::fs::read_to_string(shard_dir.join("points.csv")).unwrap();
        let rows = csv_rows(&csv);
        assert_eq!(rows.len(), 256, "shard {index}");
        assert_eq!(rows[0]["index"], (index * 256).to_string());
        shard_dirs.push(shard_dir);
    }

    // Shards in any order give the same merge.
    let merged = dir.join("merged");
    let mut merge_args = vec!["sweep", "merge"];
    for shard in shard_dirs.iter().rev() {
        merge_args.push(shard.to_str().unwrap());
    }
    merge_args.extend(["--out", merged.to_str().unwrap()]);
    let output = run_fxsim(&merge_args);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    for file in OUTPUT_FILES {
        let expected = std::fs::read(whole.join(file)).unwrap();
        let found = std::fs::read(merged.join(file)).unwrap();
        assert!(
            expected == found,
            "{file}: merged shards differ from the unsharded run"
        );
    }

    let csv = std::fs::read_to_string(whole.join("points.csv")).unwrap();
    check_points(&csv_rows(&csv));

    // A missing shard is an error and writes nothing.
    let partial = dir.join("partial");
    let output = run_fxsim(&[
        "sweep",
        "merge",
        shard_dirs[0].to_str().unwrap(),
        shard_dirs[2].to_str().unwrap(),
        "--out",
        partial.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("point 256 is in no shard"),
        "{}",
        text(&output.stderr)
    );
    assert!(!partial.exists());

    // A directory that is not a sweep output is never replaced, and the
    // sweep stops before evaluating any point.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let output = run_fxsim(&[&common_args[..], &["--out", foreign.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("is not an fxsim sweep output (no .fxsim-sweep inside)"),
        "{}",
        text(&output.stderr)
    );
    assert!(foreign.join("notes.txt").exists());
}

/// Checks the figures of the whole run: grid order, accuracy shared by equal
/// datapaths, and the Pareto column against a pairwise recomputation.
fn check_points(rows: &[std::collections::HashMap<String, String>]) {
    assert_eq!(rows.len(), 1024);
    // The last key varies fastest.
    assert_eq!(rows[0]["buffers.input_kib"], "16");
    assert_eq!(rows[1]["buffers.input_kib"], "32");
    assert_eq!(rows[2]["buffers.weight_kib"], "8");
    assert_eq!(rows[7]["datapath.accumulator.overflow"], "wrap");
    assert_eq!(rows[8]["datapath.accumulator.overflow"], "saturate");
    assert_eq!(rows[1023]["array.rows"], "32");

    for row in rows {
        // Labels are the reference's top-1, so accuracy equals agreement.
        assert_eq!(row["accuracy"], row["agreement"], "{row:?}");
        // A 32-bit accumulator overflows nowhere in person_detect.
        if row["datapath.accumulator.bits"] == "32" {
            assert_eq!(row["agreement"], "1", "{row:?}");
        }
    }
    // Under wrapping the array's shape and buffers do not change results.
    let wrap_14: Vec<&String> = rows
        .iter()
        .filter(|row| {
            row["datapath.accumulator.bits"] == "14"
                && row["datapath.accumulator.overflow"] == "wrap"
        })
        .map(|row| &row["agreement"])
        .collect();
    assert!(wrap_14.windows(2).all(|pair| pair[0] == pair[1]));

    let number = |row: &std::collections::HashMap<String, String>, key: &str| -> f64 {
        row[key].parse().unwrap()
    };
    let candidates: Vec<Option<[f64; 4]>> = rows
        .iter()
        .map(|row| {
            (row["valid"] == "true" && row["fits"] == "true").then(|| {
                [
                    number(row, "total_cycles"),
                    number(row, "dsp"),
                    number(row, "bram36"),
                    -number(row, "accuracy"),
                ]
            })
        })
        .collect();
    let dominates = |a: &[f64; 4], b: &[f64; 4]| {
        a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
    };
    let mut front = 0;
    for (row, candidate) in rows.iter().zip(&candidates) {
        let expected = candidate.is_some_and(|point| {
            !candidates
                .iter()
                .flatten()
                .any(|other| dominates(other, &point))
        });
        assert_eq!(row["pareto"], expected.to_string(), "{row:?}");
        front += usize::from(expected);
    }
    assert!(front > 1, "a front of {front} points");
    assert!(
        candidates.iter().any(Option::is_none),
        "some points should exceed the xc7z020"
    );
}

/// A point's figures equal the timing and resource models' on the same
/// description built by hand.
#[test]
fn point_matches_estimate_of_its_description() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("estimate");
    let grid = dir.join("grid.toml");
    std::fs::write(&grid, GRID).unwrap();
    let out = dir.join("out");
    let hw = zynq7020_path();
    let output = run_fxsim(&[
        "sweep",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let rows = csv_rows(&std::fs::read_to_string(out.join("points.csv")).unwrap());
    assert_eq!(rows[0]["accuracy"], "");

    let graph = fxsim::import::tflite::read_file(&model).unwrap();
    for index in [0usize, 333, 1023] {
        let row = &rows[index];
        let mut document = HwConfig::load(&hw).unwrap().to_toml_value().unwrap();
        for key in [
            "array.rows",
            "array.cols",
            "datapath.accumulator.bits",
            "buffers.weight_kib",
            "buffers.input_kib",
        ] {
            let value = toml::Value::Integer(row[key].parse().unwrap());
            apply_override(&mut document, key, value).unwrap();
        }
        let overflow = toml::Value::String(row["datapath.accumulator.overflow"].clone());
        apply_override(&mut document, "datapath.accumulator.overflow", overflow).unwrap();
        let config = HwConfig::from_toml_value(&document, "by hand").unwrap();
        let timing = fxsim::timing::estimate(&graph, &config).unwrap();
        let resources = fxsim::resources::estimate(&config, Some(&graph));
        assert_eq!(
            row["total_cycles"],
            timing.total_cycles.to_string(),
            "{row:?}"
        );
        assert_eq!(row["dsp"], resources.totals.dsp.to_string(), "{row:?}");
        assert_eq!(
            row["bram36"],
            resources.totals.bram36_sites().to_string(),
            "{row:?}"
        );
        assert_eq!(row["fits"], resources.fits.to_string(), "{row:?}");
    }
}

#[test]
fn invalid_points_kept_with_reason() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("invalid");
    let grid = dir.join("grid.toml");
    // multiplier_bits is only allowed with mode "fixed".
    std::fs::write(
        &grid,
        "[datapath.requant]\nmode = [\"tflite\", \"fixed\"]\nmultiplier_bits = [12, 16]\n",
    )
    .unwrap();
    let out = dir.join("out");
    let hw = zynq7020_path();
    let args = [
        "sweep",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let output = run_fxsim(&args);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let rows = csv_rows(&std::fs::read_to_string(out.join("points.csv")).unwrap());
    assert_eq!(rows.len(), 4);
    for (row, valid) in rows.iter().zip(["false", "false", "true", "true"]) {
        assert_eq!(row["valid"], valid, "{row:?}");
        if valid == "false" {
            assert_eq!(row["pareto"], "false", "{row:?}");
            assert_eq!(row["total_cycles"], "", "{row:?}");
        }
    }
    assert!(
        rows[0]["reason"].contains("multiplier_bits = 12 is not allowed"),
        "{:?}",
        rows[0]
    );
    assert_eq!(rows[2]["datapath.requant.multiplier_bits"], "12");

    // Every point invalid is an error.
    std::fs::write(&grid, "\"datapath.requant.multiplier_bits\" = [12, 16]\n").unwrap();
    let output = run_fxsim(&args);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("every one of the 2 points is invalid"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn grid_errors_exit_2_without_output() {
    let models = require_shared_models!();
    let model = models.join("person_detect.tflite");
    let dir = scratch_dir("errors");
    let hw = zynq7020_path();
    let cases = [
        (
            "\"array.rowz\" = [8]\n",
            "key \"array.rowz\": no field `rowz` in array; expected one of rows, cols",
        ),
        (
            "\"array.rows\" = []\n",
            "key \"array.rows\": the list of values is empty",
        ),
        (
            "\"array.rows\" = [8, \"wide\"]\n",
            "key \"array.rows\": value \"wide\" is not allowed",
        ),
        (
            "\"array.rows\" = [8, 0]\n",
            "array.rows = 0 is out of range; expected an integer in 1..=256",
        ),
        (
            "\"array.rows\" = 8\n",
            "key \"array.rows\": expected a list of values, as in [8, 16], found the integer 8",
        ),
        (
            "\"array.rows\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"array.cols\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"buffers.input_kib\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"buffers.weight_kib\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"buffers.output_kib\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"buffers.accumulator_kib\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
             \"dram.latency_cycles\" = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n",
            "the grid has 10000000 points",
        ),
        (
            "\"array.rows\" = [4]\n[array]\nrows = [8]\n",
            "key \"array.rows\": the field is given twice, as \"array.rows\" at the top level \
             and as rows in table [array]",
        ),
        (
            "\"array.rows\" = [4, 8\n",
            "invalid TOML (at line 1, column ",
        ),
    ];
    for (position, (grid_text, expected)) in cases.iter().enumerate() {
        let grid = dir.join(format!("grid{position}.toml"));
        std::fs::write(&grid, grid_text).unwrap();
        let out = dir.join(format!("out{position}"));
        let output = run_fxsim(&[
            "sweep",
            model.to_str().unwrap(),
            "--hw",
            hw.to_str().unwrap(),
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{grid_text}: {stderr}");
        assert!(stderr.contains(expected), "{grid_text}: {stderr}");
        assert!(!out.exists(), "{grid_text}: {} was written", out.display());
    }

    let output = run_fxsim(&[
        "sweep",
        model.to_str().unwrap(),
        "--hw",
        hw.to_str().unwrap(),
        "--grid",
        "missing.toml",
        "--shard",
        "4/4",
        "--out",
        "unused",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("expected I/N with 0 <= I < N"),
        "{}",
        text(&output.stderr)
    );
}
