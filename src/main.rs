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
    /// Run a model bit-exactly on one input and print its output.
    Run {
        /// The model file (.tflite).
        model: PathBuf,
        /// Input tensor: .npy in the model's input type, or raw little-endian bytes with --shape.
        #[arg(long)]
        input: PathBuf,
        /// Shape of a raw input, comma-separated (for example 1,96,96,1).
        #[arg(long, value_delimiter = ',')]
        shape: Option<Vec<usize>>,
        /// Write every tensor as .npy, with tensors.tsv naming them, into this directory.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Number of top classes to list.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Hardware description (TOML): run on its datapath and compare each layer with the reference.
        #[arg(long)]
        hw: Option<PathBuf>,
        #[command(flatten)]
        limits: cli::limits::ModelLimits,
    },
    /// Check accumulator widths per layer: analytic bound, observed range, overflows, accuracy by width.
    Accum(cli::accum::AccumArgs),
    /// Estimate cycles per layer and the DSP, BRAM, LUT and FF use of the accelerator; needs no input.
    Estimate(cli::estimate::EstimateArgs),
    /// Write params.vh, $readmemh memory images and golden vectors for RTL verification.
    Export(cli::export::ExportArgs),
    /// Compare an RTL memory dump with the golden vectors of an export; exit 1 on mismatches.
    Verify(cli::verify::VerifyArgs),
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
        Command::Run {
            model,
            input,
            shape,
            dump,
            top,
            hw,
            limits,
        } => {
            let settings = RunSettings {
                model,
                input,
                shape,
                dump,
                top,
                hw,
                limits,
            };
            run_model(&settings)
        }
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

/// Arguments of `fxsim run`.
struct RunSettings {
    model: PathBuf,
    input: PathBuf,
    shape: Option<Vec<usize>>,
    dump: Option<PathBuf>,
    top: usize,
    hw: Option<PathBuf>,
    limits: cli::limits::ModelLimits,
}

fn run_model(settings: &RunSettings) -> anyhow::Result<()> {
    let model = settings.model.as_path();
    let graph = settings.limits.read_model_to_run(model)?;
    let hw = match &settings.hw {
        Some(path) => {
            let config = fxsim::hw::HwConfig::load(path)?;
            config.check_graph(&graph)?;
            for warning in config.ineffective_overrides(&graph) {
                eprintln!("warning: {warning}");
            }
            Some(config)
        }
        None => None,
    };
    let input_id = match graph.inputs.as_slice() {
        [id] => *id,
        ids => anyhow::bail!(
            "{}: model has {} inputs; run takes models with exactly one",
            model.display(),
            ids.len()
        ),
    };
    let value = match &settings.shape {
        Some(shape) => fxsim::io::read_raw(&settings.input, shape, graph.tensor(input_id).dtype)?,
        None => fxsim::io::read_npy(&settings.input)?,
    };
    let inputs = [value];
    let failed = || format!("{}: execution failed", model.display());

    let reference = fxsim::exec::Executor::new(&graph, &fxsim::exec::Datapath::reference())
        .and_then(|executor| executor.run(&inputs))
        .with_context(failed)?;
    let (execution, comparison) = match &hw {
        None => (reference, None),
        Some(config) => {
            let datapaths = config.datapaths(&graph);
            let executor = fxsim::exec::Executor::with_datapaths(&graph, |i| datapaths[i].clone())
                .with_context(failed)?;
            let configured = executor.run(&inputs).with_context(failed)?;
            let rows = fxsim::analysis::compare::compare_layers(
                &graph,
                &executor,
                &reference,
                &configured,
            );
            (
                configured,
                Some(fxsim::report::compare::comparison_text(&rows)),
            )
        }
    };
    let top = settings.top;
    let dump = settings.dump.as_deref();

    let mut text = String::new();
    for &id in &graph.outputs {
        if let Some(value) = execution.values.get(id).and_then(Option::as_ref) {
            text.push_str(&fxsim::report::output::describe_output(
                graph.tensor(id),
                value,
                top,
            ));
        }
    }
    if let Some(comparison) = comparison {
        text.push('\n');
        text.push_str(&comparison);
    }
    emit(&text)?;
    if let Some(dir) = dump {
        fxsim::io::write_dump(dir, &graph, &execution.values)?;
        eprintln!(
            "wrote {} tensors to {}",
            execution.values.iter().flatten().count(),
            dir.display()
        );
    }
    Ok(())
}
