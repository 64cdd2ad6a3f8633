//! `fxsim sweep`: a design-space sweep over a grid of hardware
//! descriptions, and `fxsim sweep merge` to join the shards of one.
//!
//! `sweep merge` is a subcommand of `sweep` that excludes the sweep's own
//! arguments, so `fxsim sweep MODEL ...` runs a sweep and
//! `fxsim sweep merge DIR... --out DIR` merges. A model file named `merge`
//! must be given as `./merge`.
//!
//! Limitation: glue only. The sweep is `fxsim::sweep`; this file reads the
//! files, draws the progress bar and prints a summary.

use super::progress::TerminalProgress;
use anyhow::Context;
use fxsim::analysis::accum_inputs::{load_inputs, load_labels};
use fxsim::analysis::accum_sweep::class_count;
use fxsim::hw::HwConfig;
use fxsim::sweep::{evaluate, Dataset, Grid, Shard, SweepOutput};
use std::path::PathBuf;

/// Arguments of `fxsim sweep`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    #[command(flatten)]
    pub run: SweepRunArgs,
}

/// Subcommands of `fxsim sweep`.
#[derive(clap::Subcommand, Debug)]
pub enum SweepAction {
    /// Join the output directories of the shards of one sweep into the output of the whole grid.
    Merge(MergeArgs),
}

/// Arguments of a sweep run.
#[derive(clap::Args, Debug)]
pub struct SweepRunArgs {
    /// The model file (.tflite).
    #[arg(required = true)]
    pub model: Option<PathBuf>,
    /// Base hardware description (TOML) that the grid varies; see docs/hardware-config.md.
    #[arg(long, required = true)]
    pub hw: Option<PathBuf>,
    /// Grid (TOML): dotted field paths, each with a list of values, as in "array.rows" = [8, 16]; see docs/sweep.md.
    #[arg(long, required = true)]
    pub grid: Option<PathBuf>,
    /// Inputs for accuracy and agreement with the reference datapath: a .npy, a stack [N, ...] or a directory of .npy files.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Integer class labels, one per input (.npy of shape [N]); adds top-1 accuracy.
    #[arg(long, requires = "dataset")]
    pub labels: Option<PathBuf>,
    /// Evaluate only shard I of N (0 <= I < N): a contiguous slice of the grid in grid order.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Output directory, created or replaced as a whole (an existing one must be an earlier sweep output).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub limits: super::limits::ModelLimits,
}

/// Arguments of `fxsim sweep merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Output directories of the shards, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output directory of the merged sweep.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|error| error.to_string())
}

/// Runs `fxsim sweep` or `fxsim sweep merge` and returns the summary to
/// print.
pub fn run(args: &SweepArgs) -> anyhow::Result<String> {
    match &args.action {
        Some(SweepAction::Merge(merge)) => run_merge(merge),
        None => run_sweep(&args.run),
    }
}

fn run_sweep(args: &SweepRunArgs) -> anyhow::Result<String> {
    let (Some(model_path), Some(hw_path), Some(grid_path), Some(out)) =
        (&args.model, &args.hw, &args.grid, &args.out)
    else {
        anyhow::bail!("fxsim sweep needs MODEL, --hw, --grid and --out");
    };
    SweepOutput::check_target(out)?;
    let model = model_path.display().to_string();
    let graph = match args.dataset {
        Some(_) => args.limits.read_model_to_run(model_path)?,
        None => args.limits.read_model(model_path)?,
    };
    let hw = HwConfig::load(hw_path)?;
    hw.check_graph(&graph)?;
    let base = hw.to_toml_value()?;
    let grid_text = std::fs::read_to_string(grid_path)
        .with_context(|| format!("{}: cannot read the grid", grid_path.display()))?;
    let grid_origin = grid_path.display().to_string();
    let grid = Grid::from_toml_str(&grid_text, &grid_origin, &base)?;

    let inputs = match &args.dataset {
        Some(path) => Some(
            load_inputs(path, &graph)
                .with_context(|| format!("{model}: cannot read the data set"))?,
        ),
        None => None,
    };
    let labels = match (&args.labels, &inputs) {
        (Some(path), Some(inputs)) => {
            let classes = class_count(&graph).with_context(|| model.clone())?;
            Some(load_labels(path, inputs.len(), classes)?)
        }
        _ => None,
    };
    let dataset = inputs.as_deref().map(|inputs| Dataset {
        inputs,
        labels: labels.as_deref(),
    });

    let points = grid.point_count();
    let range = args.shard.map_or(0..points, |shard| shard.range(points));
    let progress = TerminalProgress::new(&["sweep points", "sweep model runs"], "items");
    let started = std::time::Instant::now();
    let (evaluated, summary) = evaluate(
        &graph,
        &base,
        &hw.origin,
        &grid,
        range,
        dataset.as_ref(),
        &progress,
    )?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let datapath_sets = summary.as_ref().map(|summary| summary.datapath_sets);

    let output = SweepOutput::new(
        model,
        hw_path.display().to_string(),
        grid_origin,
        &grid,
        summary,
        args.shard,
        evaluated,
    );
    match args.shard {
        Some(_) => {
            if output.check_some_valid().is_err() {
                eprintln!("warning: every point of this shard is invalid");
            }
        }
        None => output.check_some_valid()?,
    }
    output.write(out)?;

    let mut text = summary_text(&output, out);
    text.push_str(&format!("evaluated in {seconds:.1} s"));
    if let Some(sets) = datapath_sets {
        text.push_str(&format!(
            ", the data set run on {sets} distinct datapath sets"
        ));
    }
    text.push('\n');
    Ok(text)
}

fn run_merge(args: &MergeArgs) -> anyhow::Result<String> {
    SweepOutput::check_target(&args.out)?;
    let shards = args
        .shards
        .iter()
        .map(|dir| Ok((dir.clone(), SweepOutput::read(dir)?)))
        .collect::<Result<Vec<_>, fxsim::sweep::SweepError>>()?;
    let output = SweepOutput::merge(shards)?;
    output.check_some_valid()?;
    output.write(&args.out)?;
    Ok(summary_text(&output, &args.out))
}

/// Formats the point counts and the output directory as one line.
fn summary_text(output: &SweepOutput, out: &std::path::Path) -> String {
    let valid = output.points.iter().filter(|p| p.invalid.is_none()).count();
    let fitting = output
        .points
        .iter()
        .filter(|p| p.invalid.is_none() && p.estimate.as_ref().is_some_and(|e| e.fits))
        .count();
    let front = output.points.iter().filter(|p| p.pareto).count();
    let points = match output.points.len() {
        1 => "1 point".to_string(),
        count => format!("{count} points"),
    };
    format!(
        "{points}: {valid} valid, {fitting} fit the part, {front} on the Pareto front; wrote {}\n",
        out.display()
    )
}
