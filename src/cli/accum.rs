//! `fxsim accum`: accumulator widths per layer (being written).

use std::path::PathBuf;

/// Arguments of `fxsim accum`.
#[derive(clap::Args, Debug)]
pub struct AccumArgs {
    /// The model file (.tflite).
    pub model: PathBuf,
}

/// Runs `fxsim accum`.
pub fn run(args: &AccumArgs) -> anyhow::Result<String> {
    anyhow::bail!("{}: accum is not available yet", args.model.display())
}
