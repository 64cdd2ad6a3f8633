//! `fxsim run`: a model on one input, or on a whole data set with accuracy,
//! latency, resources and accumulator safety, optionally written as a
//! Markdown report with SVG charts.
//!
//! Limitation: glue only. The data-set summary is
//! `fxsim::analysis::run_summary`, its rendering `fxsim::report::run` and
//! `fxsim::report::run_charts`; this file parses the arguments, finds the
//! data set, reads the files and draws the progress bar.

use super::progress::TerminalProgress;
use anyhow::{bail, Context};
use fxsim::analysis::accum_inputs::{load_inputs, load_labels};
use fxsim::analysis::accum_sweep::class_count;
use fxsim::analysis::run_summary::{summarize_run, SummarySettings};
use fxsim::exec::{Datapath, Executor, TensorValue};
use fxsim::hw::HwConfig;
use fxsim::model::Graph;
use fxsim::report::run::run_text;
use fxsim::report::run_charts::write_run_report;
use std::path::{Path, PathBuf};

/// File name of the inputs `run` looks for beside the model.
pub const DATASET_FILE: &str = "test_images.npy";
/// File name of the labels `run` looks for beside the model.
pub const LABELS_FILE: &str = "test_labels.npy";

/// Arguments of `fxsim run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The model file (.tflite).
    pub model: PathBuf,
    /// One input tensor: .npy in the model's input type, or raw little-endian bytes with --shape.
    #[arg(long, conflicts_with_all = ["dataset", "labels", "report"])]
    pub input: Option<PathBuf>,
    /// Shape of a raw input, comma-separated (for example 1,96,96,1).
    #[arg(long, value_delimiter = ',', requires = "input")]
    pub shape: Option<Vec<usize>>,
    /// Write every tensor as .npy, with tensors.tsv naming them, into this directory.
    #[arg(long, requires = "input")]
    pub dump: Option<PathBuf>,
    /// Number of top classes to list for one input.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Hardware description (TOML): run on its datapath, compare with the reference, and report latency, resources and accumulators.
    #[arg(long)]
    pub hw: Option<PathBuf>,
    /// Inputs of a data set: a stack [N, ...] of inputs in one .npy, or a directory of .npy files [default: test_images.npy beside the model].
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Integer class labels, one per input (.npy of shape [N]) [default: test_labels.npy beside the data set's default].
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Write the data-set report as Markdown to this file, with SVG charts beside it.
    #[arg(long, requires = "hw")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub limits: super::limits::ModelLimits,
}

/// Runs `fxsim run` and returns the text to print.
pub fn run(args: &RunArgs) -> anyhow::Result<String> {
    let graph = args.limits.read_model_to_run(&args.model)?;
    let hw = match &args.hw {
        Some(path) => Some(load_hw(path, &graph)?),
        None => None,
    };
    match &args.input {
        Some(input) => run_single(args, input, &graph, hw.as_ref()),
        None => run_dataset(args, &graph, hw.as_ref()),
    }
}

fn load_hw(path: &Path, graph: &Graph) -> anyhow::Result<HwConfig> {
    let config = HwConfig::load(path)?;
    config.check_graph(graph)?;
    for warning in config.ineffective_overrides(graph) {
        eprintln!("warning: {warning}");
    }
    Ok(config)
}

/// The data set's files: given, or found beside the model.
struct DatasetFiles {
    inputs: PathBuf,
    labels: Option<PathBuf>,
}

impl DatasetFiles {
    fn locate(args: &RunArgs) -> anyhow::Result<DatasetFiles> {
        if let Some(inputs) = &args.dataset {
            return Ok(DatasetFiles {
                inputs: inputs.clone(),
                labels: args.labels.clone(),
            });
        }
        let dir = args.model.parent().unwrap_or(Path::new(""));
        let inputs = dir.join(DATASET_FILE);
        if !inputs.is_file() {
            bail!(
                "no input given and no data set beside the model ({} not found); pass --input \
                 X.npy for one input, or --dataset X.npy [--labels Y.npy] for a data set",
                inputs.display()
            );
        }
        let labels = match &args.labels {
            Some(labels) => Some(labels.clone()),
            None => Some(dir.join(LABELS_FILE)).filter(|path| path.is_file()),
        };
        Ok(DatasetFiles { inputs, labels })
    }
}

fn run_dataset(args: &RunArgs, graph: &Graph, hw: Option<&HwConfig>) -> anyhow::Result<String> {
    let model = args.model.display().to_string();
    let files = DatasetFiles::locate(args)?;
    let inputs = load_inputs(&files.inputs, graph)
        .with_context(|| format!("{model}: cannot read the data set"))?;
    let labels = match &files.labels {
        Some(path) => {
            let classes = class_count(graph).with_context(|| model.clone())?;
            Some(load_labels(path, inputs.len(), classes)?)
        }
        None => None,
    };
    let settings = SummarySettings {
        model: model.clone(),
        dataset: files.inputs.display().to_string(),
        labels_source: files.labels.as_ref().map(|path| path.display().to_string()),
        labels,
        sweep: args.report.is_some(),
    };

    let progress = TerminalProgress::new(&["run"], "runs");
    let summary =
        summarize_run(graph, hw, &inputs, &settings, &progress).with_context(|| model.clone())?;
    progress.finish();

    if let Some(path) = &args.report {
        let written = write_run_report(path, &summary)?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("wrote {}", names.join(", "));
    }
    Ok(run_text(&summary))
}

/// Runs one input on the reference datapath and, with `hw`, on its
/// datapaths with a layer-by-layer comparison.
fn run_single(
    args: &RunArgs,
    input: &Path,
    graph: &Graph,
    hw: Option<&HwConfig>,
) -> anyhow::Result<String> {
    let model = args.model.as_path();
    let input_id = match graph.inputs.as_slice() {
        [id] => *id,
        ids => bail!(
            "{}: model has {} inputs; run takes models with exactly one",
            model.display(),
            ids.len()
        ),
    };
    let value = match &args.shape {
        Some(shape) => fxsim::io::read_raw(input, shape, graph.tensor(input_id).dtype)?,
        None => fxsim::io::read_npy(input)?,
    };
    let inputs = [value];
    let failed = || format!("{}: execution failed", model.display());

    let reference = Executor::new(graph, &Datapath::reference())
        .and_then(|executor| executor.run(&inputs))
        .map_err(|error| {
            // An input that does not fit the model is the input file's fault.
            let subject = if error.is_input_mismatch() {
                input
            } else {
                model
            };
            anyhow::Error::new(error).context(format!("{}: execution failed", subject.display()))
        })?;
    let (execution, comparison) = match hw {
        None => (reference, None),
        Some(config) => {
            let datapaths = config.datapaths(graph);
            let executor =
                Executor::with_datapaths(graph, |i| datapaths[i].clone()).with_context(failed)?;
            let configured = executor.run(&inputs).with_context(failed)?;
            let rows =
                fxsim::analysis::compare::compare_layers(graph, &executor, &reference, &configured);
            (
                configured,
                Some(fxsim::report::compare::comparison_text(&rows)),
            )
        }
    };

    let mut text = String::new();
    for &id in &graph.outputs {
        let value: Option<&TensorValue> = execution.values.get(id).and_then(Option::as_ref);
        if let Some(value) = value {
            text.push_str(&fxsim::report::output::describe_output(
                graph.tensor(id),
                value,
                args.top,
            ));
        }
    }
    if let Some(comparison) = comparison {
        text.push('\n');
        text.push_str(&comparison);
    }
    if let Some(dir) = &args.dump {
        fxsim::io::write_dump(dir, graph, &execution.values)?;
        eprintln!(
            "wrote {} tensors to {}",
            execution.values.iter().flatten().count(),
            dir.display()
        );
    }
    Ok(text)
}
