//! `fxsim export` gives byte-identical files whatever the thread count:
//! the example is exported with `RAYON_NUM_THREADS=1`, `2` and `2` again,
//! with accumulators and with stochastic rounding, and every file of the
//! output directories compared.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Thread counts of the three exports compared.
const THREAD_COUNTS: [&str; 3] = ["1", "2", "2"];

/// Stochastic rounding and a saturating 16-bit accumulator: the datapath
/// whose results could depend on the order of computation.
const STOCHASTIC_HW: &str = r#"
[array]
rows = 8
cols = 8

[datapath]
accumulator = { bits = 16, overflow = "saturate" }
requant = { mode = "fixed", multiplier_bits = 12, rounding = "stochastic" }
seed = 2024
"#;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("determinism_export")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory can be created");
    dir
}

/// Reads every file of a directory, by name, sorted.
fn directory_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("export directory lists")
        .map(|entry| {
            let entry = entry.expect("directory entry reads");
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).expect("exported file reads");
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Exports the example on `hw` with every thread count and compares every
/// file's bytes with the first export's.
fn check_export(name: &str, hw: &str) {
    let dir = scratch(name);
    let mut exports = Vec::new();
    for (run, threads) in THREAD_COUNTS.iter().enumerate() {
        let out = dir.join(format!("run{run}"));
        let output = Command::new(env!("CARGO_BIN_EXE_fxsim"))
            .args([
                "export",
                &repo("examples/tiny/model.tflite"),
                "--hw",
                hw,
                "--input",
                &repo("examples/tiny/input.npy"),
                "--out",
                &out.display().to_string(),
                "--accumulators",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .expect("fxsim starts");
        assert!(
            output.status.success(),
            "export with {threads} threads: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        exports.push((
            format!("run {run} ({threads} threads)"),
            directory_files(&out),
        ));
    }

    let (first_label, first) = &exports[0];
    assert!(
        first.len() > 3,
        "{name}: the export wrote {} files",
        first.len()
    );
    for (label, files) in &exports[1..] {
        let names: Vec<&String> = files.iter().map(|(file, _)| file).collect();
        let first_names: Vec<&String> = first.iter().map(|(file, _)| file).collect();
        assert_eq!(
            names, first_names,
            "{name}: {label} wrote other files than {first_label}"
        );
        for ((file, bytes), (_, first_bytes)) in files.iter().zip(first) {
            let at = bytes.iter().zip(first_bytes).position(|(a, b)| a != b);
            assert!(
                bytes == first_bytes,
                "{name}: {file} of {label} differs from {first_label} at byte {at:?} (lengths {} and {})",
                bytes.len(),
                first_bytes.len()
            );
        }
    }
}

#[test]
fn export_example_hw() {
    check_export("example_hw", &repo("examples/hw/zynq7020.toml"));
}

#[test]
fn export_stochastic_hw() {
    let dir = scratch("stochastic_hw_config");
    let hw = dir.join("hw.toml");
    std::fs::write(&hw, STOCHASTIC_HW).expect("hw can be written");
    check_export("stochastic_hw", &hw.display().to_string());
}
