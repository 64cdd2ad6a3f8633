//! Shared helpers for integration tests that check fxsim against the oracle,
//! the TFLite Micro reference interpreter run through a Python script.
//!
//! Include it with `mod common;` from a file in `tests/`. The oracle and the
//! real-world models live outside the repository, in a `shared/` directory
//! beside it (`../shared/models`, `../shared/oracle/tflm_dump.py`), and the
//! oracle needs a Python environment made by `../shared/oracle/setup.sh`.
//! When any of them is missing a test should skip, not fail:
//!
//! ```ignore
//! mod common;
//! use common::{run_oracle, NpyArray};
//!
//! #[test]
//! fn person_detect_matches_oracle() {
//!     let models = require_shared_models!();
//!     require_oracle!();
//!     let input = common::bmp_to_int8(&models.join("person.bmp")).unwrap();
//!     let dump = run_oracle(&models.join("person_detect.tflite"), &input).unwrap();
//!     // ... run fxsim, then dump.assert_tensor_eq(index, &computed) per tensor
//! }
//! ```
//!
//! The macros are exported at the test crate's root, so a test module
//! nested inside the test file needs `use crate::{require_oracle, skip};`.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod compare;
pub mod convert;
pub mod inputs;
pub mod npy;
pub mod oracle;

use std::path::{Path, PathBuf};

// Re-exports for test files, each of which uses only some of them.
#[allow(unused_imports)]
pub use compare::{
    assert_no_mismatches, assert_tensor_eq, compare_tensor, Difference, TensorMismatch,
};
#[allow(unused_imports)]
pub use inputs::{bmp_to_int8, random_input};
#[allow(unused_imports)]
pub use npy::{read_npy, unravel_index, write_npy, ElementType, NpyArray, NpyData};
#[allow(unused_imports)]
pub use oracle::{load_dump, run_oracle, OracleDump, OracleTensor};

/// Prints `skipped: <reason>` to stderr and returns from the test, or
/// fails the test when `FXSIM_NO_SKIP` is set (CI sets it, so that a missing
/// oracle or model folder cannot pass silently).
///
/// A skipped test still reports as passed. The printed line, shown with
/// `cargo test -- --nocapture`, gives the reason it checked nothing.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::common::note_skip(&format!($($reason)+));
        return;
    }};
}

/// Reports a skipped check: prints the reason, or panics with it when
/// `FXSIM_NO_SKIP` is set to anything but empty or `0`.
pub fn note_skip(reason: &str) {
    let forbidden = std::env::var("FXSIM_NO_SKIP").is_ok_and(|v| !v.is_empty() && v != "0");
    if forbidden {
        panic!("FXSIM_NO_SKIP is set, but this test would skip: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Evaluates to the shared models directory, or skips the test.
#[macro_export]
macro_rules! require_shared_models {
    () => {
        match $crate::common::shared_models_dir() {
            Some(dir) => dir,
            None => $crate::skip!(
                "shared models directory {} not found",
                $crate::common::shared_dir().join("models").display()
            ),
        }
    };
}

/// Skips the test unless the oracle Python and script are both present.
#[macro_export]
macro_rules! require_oracle {
    () => {
        if let Err(reason) = $crate::common::oracle_available() {
            $crate::skip!("{}", reason);
        }
    };
}

/// Returns the repository root (the crate's manifest directory).
pub fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the `shared/` directory beside the repository, whether or not
/// it exists.
pub fn shared_dir() -> PathBuf {
    repo_dir()
        .parent()
        .unwrap_or_else(|| repo_dir())
        .join("shared")
}

/// Returns `../shared/models` relative to the repository, if it is a
/// directory.
pub fn shared_models_dir() -> Option<PathBuf> {
    let dir = shared_dir().join("models");
    dir.is_dir().then_some(dir)
}

/// Returns the directory of the generated test models, `tests/data/models`.
pub fn test_models_dir() -> PathBuf {
    repo_dir().join("tests").join("data").join("models")
}

/// Returns the example model directory, `examples/tiny`.
pub fn tiny_example_dir() -> PathBuf {
    repo_dir().join("examples").join("tiny")
}

/// Returns the Python that runs the oracle: `$FXSIM_ORACLE_PYTHON` when set
/// and non-empty, else `<repo>/.venv-oracle/bin/python` when it exists.
///
/// The variable is returned as given, without checking that it exists,
/// so a wrong value fails loudly in [`run_oracle`] instead of skipping.
pub fn oracle_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("FXSIM_ORACLE_PYTHON").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(python));
    }
    let venv_python = repo_dir().join(".venv-oracle").join("bin").join("python");
    venv_python.exists().then_some(venv_python)
}

/// Returns `../shared/oracle/tflm_dump.py` relative to the repository, if
/// it exists.
pub fn oracle_script() -> Option<PathBuf> {
    let script = shared_dir().join("oracle").join("tflm_dump.py");
    script.is_file().then_some(script)
}

/// Checks that [`run_oracle`] can run. The error is the reason to skip.
pub fn oracle_available() -> Result<(), String> {
    if oracle_script().is_none() {
        return Err(format!(
            "oracle script {} not found",
            shared_dir().join("oracle").join("tflm_dump.py").display()
        ));
    }
    if oracle_python().is_none() {
        return Err(format!(
            "oracle Python not found: set FXSIM_ORACLE_PYTHON or run \
             ../shared/oracle/setup.sh {}",
            repo_dir().join(".venv-oracle").display()
        ));
    }
    Ok(())
}
