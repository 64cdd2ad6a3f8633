//! The `fxsim` command line: parses arguments, calls the library, prints.

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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect { model, json } => inspect(&model, json),
        Command::Run {
            model,
            input,
            shape,
            dump,
            top,
        } => run_model(&model, &input, shape.as_deref(), dump.as_deref(), top),
    }
}

fn run_model(
    model: &Path,
    input: &Path,
    shape: Option<&[usize]>,
    dump: Option<&Path>,
    top: usize,
) -> anyhow::Result<()> {
    let graph = fxsim::import::tflite::read_file(model)?;
    let input_id = match graph.inputs.as_slice() {
        [id] => *id,
        ids => anyhow::bail!(
            "{}: model has {} inputs; run takes models with exactly one",
            model.display(),
            ids.len()
        ),
    };
    let input_tensor = graph.tensor(input_id);
    let value = match shape {
        Some(shape) => fxsim::io::read_raw(input, shape, input_tensor.dtype)?,
        None => fxsim::io::read_npy(input)?,
    };

    let execution = fxsim::exec::run(&graph, &fxsim::exec::Datapath::reference(), &[value])?;

    for &id in &graph.outputs {
        if let Some(value) = execution.values.get(id).and_then(Option::as_ref) {
            print!(
                "{}",
                fxsim::report::output::describe_output(graph.tensor(id), value, top)
            );
        }
    }
    if let Some(dir) = dump {
        fxsim::io::write_dump(dir, &graph, &execution.values)
            .with_context(|| format!("cannot write the dump to {}", dir.display()))?;
        eprintln!(
            "wrote {} tensors to {}",
            execution.values.iter().flatten().count(),
            dir.display()
        );
    }
    Ok(())
}

fn inspect(model: &Path, json: bool) -> anyhow::Result<()> {
    let graph = fxsim::import::tflite::read_file(model)?;
    let inspection = fxsim::report::inspect::inspect(&graph, &model.display().to_string());
    if json {
        let text =
            serde_json::to_string_pretty(&inspection).context("cannot serialise the summary")?;
        println!("{text}");
    } else {
        print!("{}", inspection.to_text());
    }
    Ok(())
}
