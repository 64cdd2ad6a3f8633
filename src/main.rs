//! The `fxsim` command line: parses arguments, calls the library, prints.

mod cli;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "fxsim",
    version,
    max_term_width = 100,
    about = "Bit-accurate, cycle-level simulator of an FPGA neural-network accelerator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every operator of a model with shapes, quantisation, MACs and parameter bytes.
    Inspect {
        /// The model file (.tflite).
        model: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: cli::limits::ModelLimits,
    },
    /// Run a model bit-exactly: on one input (--input), or on a data set with accuracy, latency, resources and accumulator safety.
    Run(cli::run::RunArgs),
    /// Check accumulator widths per layer: analytic bound, observed range, overflows, accuracy by width.
    Accum(cli::accum::AccumArgs),
    /// Estimate cycles per layer and the DSP, BRAM, LUT and FF use of the accelerator; needs no input.
    Estimate(cli::estimate::EstimateArgs),
    /// Write params.vh, $readmemh memory images and golden vectors for RTL verification.
    Export(cli::export::ExportArgs),
    /// Compare an RTL memory dump with the golden vectors of an export; exit 1 on mismatches.
    Verify(cli::verify::VerifyArgs),
    /// Sweep a grid of hardware descriptions: latency, resources, accuracy and the Pareto front; `sweep merge` joins shards.
    Sweep(cli::sweep::SweepArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<StdoutClosed>() => ExitCode::SUCCESS,
        Err(error) if error.is::<cli::verify::MismatchesFound>() => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::from(2)
        }
    }
}

/// Standard output was closed by its reader (`fxsim inspect M | head`);
/// not an error worth reporting.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `text` to standard output; a closed pipe becomes [`StdoutClosed`],
/// any other failure (a full disk) an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let result = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Joins an error and its causes with `: `, leaving out a cause whose text
/// the message before it already contains.
fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect {
            model,
            json,
            limits,
        } => inspect(&model, json, &limits),
        Command::Accum(args) => emit(&cli::accum::run(&args)?),
        Command::Estimate(args) => emit(&cli::estimate::run(&args)?),
        Command::Export(args) => emit(&cli::export::run(&args)?),
        Command::Verify(args) => cli::verify::run(&args),
        Command::Run(args) => emit(&cli::run::run(&args)?),
        Command::Sweep(args) => emit(&cli::sweep::run(&args)?),
    }
}

fn inspect(model: &Path, json: bool, limits: &cli::limits::ModelLimits) -> anyhow::Result<()> {
    let graph = limits.read_model(model)?;
    let inspection = fxsim::report::inspect::inspect(&graph, &model.display().to_string());
    if json {
        let mut text =
            serde_json::to_string_pretty(&inspection).context("cannot serialise the summary")?;
        text.push('\n');
        emit(&text)
    } else {
        emit(&inspection.to_text())
    }
}
