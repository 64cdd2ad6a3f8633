//! `--max-tensor-bytes`, `--max-total-bytes` and `--max-macs`: the limits
//! on what a model file may declare, shared by every subcommand that reads
//! a model.
//!
//! Limitation: the limits apply to the model only. Input files have their
//! own fixed limit (`fxsim::io::MAX_TENSOR_FILE_BYTES`). `--max-macs` bounds
//! the work of one input; `accum` runs each input several times.

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
    /// Most multiply-accumulates one input may take, for the commands that execute the model.
    #[arg(long, value_name = "COUNT", default_value_t = DEFAULT_MAX_MACS)]
    pub max_macs: u64,
}

/// Default of `--max-macs`: 10^12. Large vision networks take tens to a
/// few hundred GMACs per input. The reference datapath ran mobilenet_v2 at
/// about 1.3 * 10^10 MACs per second on one core (docs/performance.md), and
/// configured datapaths run slower, so 10^12 is minutes of work or more.
pub const DEFAULT_MAX_MACS: u64 = 1_000_000_000_000;

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

    /// Reads the model at `path` within these limits, for a command that
    /// executes it: the model's multiply-accumulates per input are checked
    /// against `--max-macs` too.
    pub fn read_model_to_run(&self, path: &Path) -> anyhow::Result<Graph> {
        let graph = self.read_model(path)?;
        let macs = fxsim::model::cost::total_macs(&graph);
        if macs > self.max_macs {
            anyhow::bail!(
                "{}: the model takes {macs} multiply-accumulates per input, more than the limit of {}; if the model is genuine, raise the limit with --max-macs",
                path.display(),
                self.max_macs
            );
        }
        Ok(graph)
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
