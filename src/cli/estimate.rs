//! `fxsim estimate`: the cycles of every layer and the resources of the
//! accelerator, for a model on a hardware description, without input data.
//!
//! Limitation: glue only. The figures are the timing and resource models'
//! estimates, and a design that does not fit its part is reported, not
//! treated as an error (the exit status stays 0).

use anyhow::Context;
use fxsim::hw::HwConfig;
use fxsim::report::estimate::EstimateReport;
use std::path::PathBuf;

/// Arguments of `fxsim estimate`.
#[derive(clap::Args, Debug)]
pub struct EstimateArgs {
    /// The model file (.tflite).
    pub model: PathBuf,
    /// Hardware description (TOML); see docs/hardware-config.md.
    #[arg(long)]
    pub hw: PathBuf,
    /// Print one JSON object with `timing` and `resources` instead of tables.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print Markdown tables instead of text tables.
    #[arg(long)]
    pub markdown: bool,
    #[command(flatten)]
    pub limits: super::limits::ModelLimits,
}

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
    Markdown,
}

impl OutputFormat {
    fn from_args(args: &EstimateArgs) -> OutputFormat {
        match (args.json, args.markdown) {
            (true, _) => OutputFormat::Json,
            (false, true) => OutputFormat::Markdown,
            (false, false) => OutputFormat::Text,
        }
    }
}

/// Runs `fxsim estimate` and returns the report to print.
pub fn run(args: &EstimateArgs) -> anyhow::Result<String> {
    let format = OutputFormat::from_args(args);
    let model = args.model.display().to_string();

    let graph = args.limits.read_model(&args.model)?;
    let hw = HwConfig::load(&args.hw)?;
    hw.check_graph(&graph)?;
    for warning in hw.ineffective_overrides(&graph) {
        eprintln!("warning: {warning}");
    }

    let timing = fxsim::timing::estimate(&graph, &hw)
        .with_context(|| format!("{model}: timing estimate failed"))?;
    let resources = fxsim::resources::estimate(&hw, Some(&graph));
    let report = EstimateReport {
        model,
        hardware: args.hw.display().to_string(),
        timing,
        resources,
    };

    match format {
        OutputFormat::Text => Ok(report.to_text()),
        OutputFormat::Markdown => Ok(report.to_markdown()),
        OutputFormat::Json => report.to_json().context("cannot serialise the estimate"),
    }
}
