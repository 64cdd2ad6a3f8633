//! `--max-tensor-bytes` and `--max-total-bytes`: the limits on what a model
//! file may declare, shared by every subcommand that reads a model.
//!
//! Limitation: the limits apply to the model's tensors only. Input files
//! have their own fixed limit (`fxsim::io::MAX_TENSOR_FILE_BYTES`).

use fxsim::import::{ImportError, ImportErrorKind, ImportOptions};
use fxsim::model::Graph;
use std::path::Path;

/// Limits on the tensors of the model a command reads.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelLimits {
    /// Largest tensor the model may declare, in bytes; a larger one is rejected before anything is allocated.
    #[arg(long, value_name = "BYTES", default_value_t = ImportOptions::DEFAULT_MAX_TENSOR_BYTES)]
    pub max_tensor_bytes: u64,
    /// Largest sum of all the model's tensors, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ImportOptions::DEFAULT_MAX_TOTAL_BYTES)]
    pub max_total_bytes: u64,
}

impl ModelLimits {
    /// Returns the reader's options for these limits.
    pub fn import_options(&self) -> ImportOptions {
        ImportOptions {
            max_tensor_bytes: self.max_tensor_bytes,
            max_total_bytes: self.max_total_bytes,
        }
    }

    /// Reads the model at `path` within these limits. An error for a tensor
    /// over a limit names the option that raises it.
    pub fn read_model(&self, path: &Path) -> anyhow::Result<Graph> {
        fxsim::import::tflite::read_file_with(path, &self.import_options()).map_err(with_limit_hint)
    }
}

fn with_limit_hint(error: ImportError) -> anyhow::Error {
    let option = match *error.kind {
        ImportErrorKind::TensorTooLarge { .. } => "--max-tensor-bytes",
        ImportErrorKind::ModelTooLarge { .. } => "--max-total-bytes",
        _ => return error.into(),
    };
    let message = format!("{error}; if the model is genuine, raise the limit with {option}");
    anyhow::Error::msg(message)
}
