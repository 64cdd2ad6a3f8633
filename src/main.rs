//! The `fxsim` command line: parses arguments, calls the library, prints.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "fxsim", version, about = "Bit-accurate, cycle-level simulator of an FPGA neural-network accelerator")]
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
    }
}

fn inspect(model: &PathBuf, json: bool) -> anyhow::Result<()> {
    let graph = fxsim::import::tflite::read_file(model)?;
    let inspection = fxsim::report::inspect::inspect(&graph, &model.display().to_string());
    if json {
        let text = serde_json::to_string_pretty(&inspection).context("cannot serialise the summary")?;
        println!("{text}");
    } else {
        print!("{}", inspection.to_text());
    }
    Ok(())
}
