//! `fxsim export`: writes the HDL parameter header, memory images and golden
//! vectors of a model on a hardware description for one input.
//!
//! Limitation: glue only; the layouts are the library's (`fxsim::export`).
//! The input must be a `.npy` file of the model input's type and shape.

use super::progress::TerminalProgress;
use anyhow::Context;
use fxsim::export::{ExportError, ExportOptions, ExportSources};
use fxsim::hw::HwConfig;
use std::path::{Path, PathBuf};

/// Arguments of `fxsim export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The model file (.tflite).
    pub model: PathBuf,
    /// Hardware description (TOML); see docs/hardware-config.md.
    #[arg(long)]
    pub hw: PathBuf,
    /// Input tensor (.npy in the model input's type).
    #[arg(long)]
    pub input: PathBuf,
    /// Output directory, replaced when it contains an earlier export and
    /// nothing else.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write each MAC layer's accumulators before the PPU.
    #[arg(long)]
    pub accumulators: bool,
    /// Also write the reference RTL, its Verilator testbench and a run
    /// script for every covered layer into DIR/rtl.
    #[arg(long)]
    pub rtl: bool,
    #[command(flatten)]
    pub limits: super::limits::ModelLimits,
}

/// Runs `fxsim export` and returns the summary line to print.
pub fn run(args: &ExportArgs) -> anyhow::Result<String> {
    let graph = args.limits.read_model_to_run(&args.model)?;
    let hw = HwConfig::load(&args.hw)?;
    for warning in hw.ineffective_overrides(&graph) {
        eprintln!("warning: {warning}");
    }
    let input = fxsim::io::read_npy(&args.input)?;
    let sources = ExportSources {
        model: file_name(&args.model),
        hw: file_name(&args.hw),
        input: file_name(&args.input),
    };
    let options = ExportOptions {
        accumulators: args.accumulators,
        rtl: args.rtl,
    };

    let progress = TerminalProgress::new(&["export"], "operators");
    let manifest = fxsim::export::export(
        &args.out, &graph, &hw, input, sources, options, &progress,
    )
    .map_err(|error| {
        // An input that does not fit the model is the input file's fault.
        let subject = match &error {
            ExportError::Exec(exec) if exec.is_input_mismatch() => &args.input,
            _ => &args.model,
        };
        anyhow::Error::new(error).context(format!("{}: export failed", subject.display()))
    })?;
    progress.finish();

    // The manifest lists every file but itself and the files of rtl/.
    let files = manifest.files.len() as u64 + 1;
    let rtl_dir = args.out.join("rtl");
    let rtl_files = if args.rtl {
        std::fs::read_dir(&rtl_dir)
            .with_context(|| format!("{}: cannot read", rtl_dir.display()))?
            .count() as u64
    } else {
        0
    };
    let mut summary = format!(
        "wrote {} to {}",
        fxsim::verify::count(files + rtl_files, "file"),
        args.out.display()
    );
    if rtl_files > 0 {
        summary.push_str(&format!(" ({rtl_files} of them in {})", rtl_dir.display()));
    }
    summary.push('\n');
    Ok(summary)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
