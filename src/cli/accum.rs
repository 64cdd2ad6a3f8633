//! `fxsim accum`: whether an accumulator width is safe for a network, layer
//! by layer, and what narrower widths do to its accuracy.
//!
//! Limitation: glue only. The analysis is `fxsim::analysis::accum` and the
//! rendering `fxsim::report::accum`; this file parses the arguments, reads
//! the files and draws the progress bar.

use super::progress::TerminalProgress;
use anyhow::Context;
use fxsim::analysis::accum::{analyze_accumulators, AccumSettings};
use fxsim::analysis::accum_inputs::{load_inputs, load_labels};
use fxsim::analysis::accum_sweep::{class_count, parse_widths, DEFAULT_WIDTHS};
use fxsim::hw::HwConfig;
use fxsim::report::accum::{accum_csv, accum_json, accum_text};
use std::path::PathBuf;

/// Arguments of `fxsim accum`.
#[derive(clap::Args, Debug)]
pub struct AccumArgs {
    /// The model file (.tflite).
    pub model: PathBuf,
    /// Hardware description (TOML) whose datapath each layer runs on; see docs/hardware-config.md.
    #[arg(long)]
    pub hw: PathBuf,
    /// Inputs: a .npy of the model input's shape, a stack [N, ...] of inputs, or a directory of .npy files read in name order.
    #[arg(long)]
    pub inputs: PathBuf,
    /// Integer class labels, one per input (.npy of shape [N]); adds top-1 accuracy by accumulator width.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Accumulator widths in bits for the accuracy sweep: A..B (both ends included), A..=B or A,B,C [default with --labels: 12..32].
    #[arg(long, value_parser = parse_width_list)]
    pub widths: Option<WidthList>,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV instead of a table: the layers, then the sweep after an empty line.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub limits: super::limits::ModelLimits,
}

/// Accumulator widths parsed from `--widths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidthList(Vec<u32>);

fn parse_width_list(text: &str) -> Result<WidthList, String> {
    parse_widths(text)
        .map(WidthList)
        .map_err(|error| error.to_string())
}

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
    Csv,
}

impl OutputFormat {
    fn from_args(args: &AccumArgs) -> OutputFormat {
        match (args.json, args.csv) {
            (true, _) => OutputFormat::Json,
            (false, true) => OutputFormat::Csv,
            (false, false) => OutputFormat::Text,
        }
    }
}

/// Runs `fxsim accum` and returns the report to print.
pub fn run(args: &AccumArgs) -> anyhow::Result<String> {
    let format = OutputFormat::from_args(args);
    let model = args.model.display().to_string();

    let graph = args.limits.read_model_to_run(&args.model)?;
    let config = HwConfig::load(&args.hw)?;
    config.check_graph(&graph)?;
    for warning in config.ineffective_overrides(&graph) {
        eprintln!("warning: {warning}");
    }
    let inputs = load_inputs(&args.inputs, &graph)
        .with_context(|| format!("{model}: cannot read the inputs"))?;
    let labels = match &args.labels {
        Some(path) => {
            let classes = class_count(&graph).with_context(|| model.clone())?;
            Some(load_labels(path, inputs.len(), classes)?)
        }
        None => None,
    };
    // The sweep runs when asked for by labels or widths: without labels it
    // still gives the agreement with the reference datapath.
    let widths = match (&args.widths, &labels) {
        (Some(WidthList(widths)), _) => widths.clone(),
        (None, Some(_)) => DEFAULT_WIDTHS.collect(),
        (None, None) => Vec::new(),
    };
    let settings = AccumSettings {
        model: model.clone(),
        widths,
        labels,
    };

    let progress = TerminalProgress::new(&["accum"], "runs");
    let report = analyze_accumulators(&graph, &config, &inputs, &settings, &progress)
        .with_context(|| model.clone())?;
    progress.finish();

    match format {
        OutputFormat::Text => Ok(accum_text(&report)),
        OutputFormat::Json => accum_json(&report).context("cannot serialise the report"),
        OutputFormat::Csv => Ok(accum_csv(&report)),
    }
}
