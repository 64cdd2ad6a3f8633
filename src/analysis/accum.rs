//! The accumulator-width analysis behind `fxsim accum`. It runs a network
//! on a hardware description and reports, for each MAC layer (CONV_2D,
//! DEPTHWISE_CONV_2D, FULLY_CONNECTED), the width its weights guarantee and
//! the values its accumulator takes on real inputs. It also gives the
//! overflows at the configured width and the narrowest width without
//! overflow on those inputs. The accuracy at each width is
//! [`super::accum_sweep`].
//!
//! The observed values come from the executor's own fold-ordered
//! accumulator ([`OverflowCounts::observed_max`] says which values count
//! under each overflow mode). They are taken on an observation run: the
//! configured datapaths with each MAC layer's register widened so that
//! nothing overflows, which keeps each layer's inputs free of upstream
//! overflow. The overflow counts come from the run on the configured
//! datapaths as they are. Limitation: observed values only hold for the
//! inputs given; the bound holds for every input.

use super::accum_bound::{bits_for_magnitude, layer_bound_with_zero_point, LayerBound};
use super::accum_inputs::ModelInput;
use super::accum_sweep::{sweep_widths, WidthSweep};
use crate::exec::{
    AccumulatorMode, Datapath, ExecError, Executor, LayerArithmetic, OperandConversion,
    OverflowCounts, RequantMode,
};
use crate::hw::{HwConfig, HwError};
use crate::io::TensorIoError;
use crate::model::{DataType, Graph};
use crate::numeric::Overflow;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

/// Failure of the accumulator analysis, naming the file, input or layer.
#[derive(Debug, thiserror::Error)]
pub enum AccumError {
    /// Boxed because a description error is large and rare.
    #[error(transparent)]
    Hw(Box<HwError>),

    #[error(transparent)]
    Read(#[from] TensorIoError),

    #[error("{}: cannot list the directory: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot prepare the model for {datapath}: {source}")]
    Prepare {
        /// The datapaths, in words ("the datapaths of hw.toml").
        datapath: String,
        #[source]
        source: ExecError,
    },

    #[error("input {input}: execution failed: {source}")]
    Run {
        input: String,
        #[source]
        source: ExecError,
    },

    #[error("the model has {count} inputs; accum takes models with exactly one")]
    ModelInputs { count: usize },

    #[error(
        "the model has {count} outputs; the accuracy sweep reads the classes from exactly one"
    )]
    ModelOutputs { count: usize },

    #[error("{}: no inputs found; expected a .npy file or a directory of them", path.display())]
    NoInputs { path: PathBuf },

    #[error("{}: shape {found} does not fit; expected {expected}", path.display())]
    InputShape {
        path: PathBuf,
        found: String,
        expected: String,
    },

    #[error("{}: element type {found} does not fit; the model input takes {expected}", path.display())]
    InputType {
        path: PathBuf,
        found: DataType,
        expected: DataType,
    },

    #[error("{}: labels have element type {found}; expected integers (int8, uint8, int16, int32 or int64)", path.display())]
    LabelType { path: PathBuf, found: DataType },

    #[error("{}: labels have shape {found}; expected [N] or [N, 1], one label per input", path.display())]
    LabelShape { path: PathBuf, found: String },

    #[error("{}: {found} labels for {expected} inputs; expected one label per input", path.display())]
    LabelCount {
        path: PathBuf,
        found: usize,
        expected: usize,
    },

    #[error("{}: label {label} at index {index} is not a class of the model; expected 0 to {} ({classes} classes)", path.display(), classes.saturating_sub(1))]
    LabelRange {
        path: PathBuf,
        index: usize,
        label: i64,
        classes: usize,
    },

    #[error("{labels} labels for {inputs} inputs; expected one label per input")]
    LabelsForInputs { labels: usize, inputs: usize },

    #[error("accumulator width {bits} is out of range; expected 8 to 64")]
    Width { bits: u32 },

    #[error("invalid width list \"{text}\"; expected A..B (both ends included), A..=B or widths separated by commas")]
    WidthList { text: String },
}

/// Subject of the note that says where the observed figures come from;
/// reports without an `observed` column reword it.
pub const WIDENED_RUN_NOTE_SUBJECT: &str = "observed and narrowest come";

impl From<HwError> for AccumError {
    fn from(error: HwError) -> AccumError {
        AccumError::Hw(Box::new(error))
    }
}

/// Options of the analysis beyond the per-layer table: the report's model
/// name and the accuracy sweep.
#[derive(Debug, Clone, Default)]
pub struct AccumSettings {
    /// The model's name in the report, typically its file path.
    pub model: String,
    /// Accumulator widths of the accuracy sweep; empty for no sweep.
    pub widths: Vec<u32>,
    /// One class index per input, for top-1 accuracy in the sweep.
    pub labels: Option<Vec<usize>>,
}

/// Receives the progress of a long analysis, counted in network runs.
pub trait Progress: Sync {
    /// Announces the number of runs the analysis will make.
    fn start(&self, runs: u64);
    /// Records `runs` more finished runs; called from several threads.
    fn advance(&self, runs: u64);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _runs: u64) {}
    fn advance(&self, _runs: u64) {}
}

/// Overflow behaviour of an accumulator, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowMode {
    Wrap,
    Saturate,
}

impl From<Overflow> for OverflowMode {
    fn from(overflow: Overflow) -> OverflowMode {
        match overflow {
            Overflow::Wrap => OverflowMode::Wrap,
            Overflow::Saturate => OverflowMode::Saturate,
        }
    }
}

impl From<OverflowMode> for Overflow {
    fn from(mode: OverflowMode) -> Overflow {
        match mode {
            OverflowMode::Wrap => Overflow::Wrap,
            OverflowMode::Saturate => Overflow::Saturate,
        }
    }
}

impl OverflowMode {
    /// Returns the name as a hardware description writes it.
    pub fn name(self) -> &'static str {
        match self {
            OverflowMode::Wrap => "wrap",
            OverflowMode::Saturate => "saturate",
        }
    }
}

/// The analysis of one network on one hardware description.
#[derive(Debug, Clone, Serialize)]
pub struct AccumReport {
    pub model: String,
    /// The hardware description's origin (its file path).
    pub hw: String,
    /// Inputs the observed values and counts were taken on.
    pub inputs: usize,
    /// One row per MAC layer, in operator order.
    pub layers: Vec<LayerAccum>,
    /// Accuracy by accumulator width, when requested.
    pub sweep: Option<WidthSweep>,
    /// Caveats found while analysing, one sentence each.
    pub notes: Vec<String>,
}

/// The accumulator widths of one MAC layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerAccum {
    /// Operator index.
    pub index: usize,
    pub op: String,
    /// Name of the operator's first output tensor.
    pub name: String,
    /// Products per accumulator (K).
    pub terms: usize,
    /// Terms per fold (the array's rows) and folds per accumulator.
    pub rows: usize,
    pub folds: usize,
    /// The configured accumulator width and overflow behaviour.
    pub bits: u32,
    pub overflow: OverflowMode,
    /// The width the weights guarantee, or `None` when the weights are not
    /// constant integers.
    pub bound: Option<BoundSummary>,
    /// The values observed on the inputs, or `None` without inputs.
    pub observed: Option<ObservedRange>,
    /// Overflow counts of the configured run, summed over the inputs;
    /// `None` when the layer's datapath counts nothing (the reference
    /// accumulator with `tflite` requantisation).
    pub overflows: Option<OverflowCounts>,
}

/// The analytic bound of one layer and the operand range it assumed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundSummary {
    /// Signed width that holds `max`.
    pub bits: u32,
    /// The largest magnitude any value of the accumulator can reach.
    pub max: i128,
    /// Operand range and zero point on the datapath's grid.
    pub input_min: i64,
    pub input_max: i64,
    pub zero_point: i64,
}

/// The range of the exact accumulator values observed in one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ObservedRange {
    pub min: i64,
    pub max: i64,
    /// The larger of `|min|` and `|max|`.
    pub max_magnitude: u64,
    /// Signed width that holds `[-max_magnitude, max_magnitude]`, comparable
    /// with the bound's width.
    pub bits: u32,
    /// The narrowest signed width that holds `[min, max]`: with it, these
    /// inputs overflow no accumulator of the layer, and with one bit less
    /// at least one.
    pub narrowest_bits: u32,
}

impl ObservedRange {
    fn from_counts(counts: &OverflowCounts) -> ObservedRange {
        ObservedRange {
            min: counts.observed_min,
            max: counts.observed_max,
            max_magnitude: counts.max_magnitude(),
            bits: bits_for_magnitude(i128::from(counts.max_magnitude())),
            narrowest_bits: counts.narrowest_bits(),
        }
    }
}

/// Per-layer overflow counts of a set of runs, summed over the inputs.
struct RunTotals {
    configured: Vec<Option<OverflowCounts>>,
    observed: Vec<Option<OverflowCounts>>,
}

/// Analyses every MAC layer of `graph` on the datapaths of `config`, over
/// `inputs`, and runs the accuracy sweep when `settings` asks for it.
///
/// Inputs run in parallel; the report does not depend on the thread count.
pub fn analyze_accumulators(
    graph: &Graph,
    config: &HwConfig,
    inputs: &[ModelInput],
    settings: &AccumSettings,
    progress: &dyn Progress,
) -> Result<AccumReport, AccumError> {
    config.check_graph(graph)?;
    check_settings(inputs, settings)?;
    let datapaths = config.datapaths(graph);
    let prepare = |datapaths: &[Datapath]| {
        Executor::with_datapaths(graph, |index| datapaths[index].clone()).map_err(|source| {
            AccumError::Prepare {
                datapath: format!("the datapaths of {}", config.origin),
                source,
            }
        })
    };
    let configured = prepare(&datapaths)?;
    let observation_datapaths = observation_datapaths(&configured, &datapaths);
    let observer = if observation_datapaths == datapaths {
        None
    } else {
        Some(prepare(&observation_datapaths)?)
    };

    let runs_per_input = 1 + u64::from(observer.is_some()) + sweep_runs(&settings.widths);
    progress.start(runs_per_input * inputs.len() as u64);
    let totals = run_inputs(
        &configured,
        observer.as_ref(),
        inputs,
        graph.ops.len(),
        progress,
    )?;
    let layers = layer_rows(graph, &configured, &totals);
    let notes = notes(&configured, &layers, &totals, observer.is_some());
    let sweep = if settings.widths.is_empty() {
        None
    } else {
        let labels = settings.labels.as_deref();
        let hw = &config.origin;
        let widths = &settings.widths;
        Some(sweep_widths(
            graph, &datapaths, inputs, widths, labels, hw, progress,
        )?)
    };

    Ok(AccumReport {
        model: settings.model.clone(),
        hw: config.origin.clone(),
        inputs: inputs.len(),
        layers,
        sweep,
        notes,
    })
}

/// Checks the settings against the inputs.
fn check_settings(inputs: &[ModelInput], settings: &AccumSettings) -> Result<(), AccumError> {
    if let Some(labels) = &settings.labels {
        if labels.len() != inputs.len() {
            return Err(AccumError::LabelsForInputs {
                labels: labels.len(),
                inputs: inputs.len(),
            });
        }
    }
    match settings
        .widths
        .iter()
        .find(|bits| !(8..=64).contains(*bits))
    {
        Some(&bits) => Err(AccumError::Width { bits }),
        None => Ok(()),
    }
}

/// Returns the runs the sweep makes per input: the reference datapath and
/// both overflow modes at each width.
fn sweep_runs(widths: &[u32]) -> u64 {
    if widths.is_empty() {
        0
    } else {
        1 + 2 * widths.len() as u64
    }
}

/// Returns the datapaths of the observation run: the configured ones with
/// each MAC layer's register widened, keeping its overflow mode, so that
/// each layer sees the inputs a wide enough register gives. Every
/// configured register gets 64 bits; `tflite` requantisation gives the same
/// results on a wider register as long as the value does not overflow.
fn observation_datapaths(configured: &Executor, datapaths: &[Datapath]) -> Vec<Datapath> {
    datapaths
        .iter()
        .enumerate()
        .map(|(index, datapath)| {
            let Some(arithmetic) = configured.arithmetic(index) else {
                return datapath.clone();
            };
            let bits = match (datapath.requant, datapath.accumulator) {
                (RequantMode::Tflite, AccumulatorMode::Reference) => arithmetic.accumulator_bits,
                _ => 64,
            };
            Datapath {
                accumulator: AccumulatorMode::Register {
                    bits,
                    overflow: arithmetic.overflow,
                },
                ..datapath.clone()
            }
        })
        .collect()
}

/// Runs every input on the configured executor and, when given, on the
/// observation executor, and sums the overflow counts of each of the
/// `op_count` operators.
fn run_inputs(
    configured: &Executor,
    observer: Option<&Executor>,
    inputs: &[ModelInput],
    op_count: usize,
    progress: &dyn Progress,
) -> Result<RunTotals, AccumError> {
    let run = |executor: &Executor, input: &ModelInput| {
        let execution = executor
            .run(std::slice::from_ref(&input.value))
            .map_err(|source| AccumError::Run {
                input: input.source.clone(),
                source,
            })?;
        progress.advance(1);
        Ok::<_, AccumError>(execution.overflow)
    };
    let per_input: Vec<Result<_, AccumError>> = inputs
        .par_iter()
        .map(|input| {
            let configured_counts = run(configured, input)?;
            let observed_counts = match observer {
                Some(observer) => run(observer, input)?,
                None => configured_counts.clone(),
            };
            Ok((configured_counts, observed_counts))
        })
        .collect();

    let mut totals = RunTotals {
        configured: vec![None; op_count],
        observed: vec![None; op_count],
    };
    for result in per_input {
        let (configured_counts, observed_counts) = result?;
        merge_counts(&mut totals.configured, &configured_counts);
        merge_counts(&mut totals.observed, &observed_counts);
    }
    Ok(totals)
}

/// Adds one run's per-layer counts to `totals`.
fn merge_counts(totals: &mut [Option<OverflowCounts>], run: &[Option<OverflowCounts>]) {
    for (total, counts) in totals.iter_mut().zip(run) {
        if let Some(counts) = counts {
            total
                .get_or_insert_with(OverflowCounts::default)
                .merge(counts);
        }
    }
}

/// Builds one row per MAC layer.
fn layer_rows(graph: &Graph, executor: &Executor, totals: &RunTotals) -> Vec<LayerAccum> {
    (0..graph.ops.len())
        .filter_map(|index| {
            let arithmetic = executor.arithmetic(index)?;
            let op = &graph.ops[index];
            let name = op
                .output()
                .and_then(|id| graph.get_tensor(id))
                .map_or_else(String::new, |tensor| tensor.name.clone());
            Some(LayerAccum {
                index,
                op: op.kind.name().to_string(),
                name,
                terms: arithmetic.terms,
                rows: arithmetic.datapath.rows,
                folds: arithmetic.folds,
                bits: arithmetic.accumulator_bits,
                overflow: arithmetic.overflow.into(),
                bound: layer_bound_summary(graph, index, arithmetic),
                observed: totals.observed[index]
                    .as_ref()
                    .map(ObservedRange::from_counts),
                overflows: totals.configured[index],
            })
        })
        .collect()
}

/// Computes the analytic bound of layer `index` for operands in the range
/// of the datapath's grid: the format's range when the input is
/// requantised onto a narrower format, the tensor type's range otherwise
/// (moved by the offset of a signed tensor on an unsigned format), with
/// the zero point on the same grid.
///
/// NOTE: the bound reads the model's weights. Weights requantised onto a
/// narrower format are no larger in magnitude, so the bound stays valid
/// with the zero point subtracted; with it folded, the folded bias term is
/// not covered by that argument.
fn layer_bound_summary(
    graph: &Graph,
    index: usize,
    arithmetic: &LayerArithmetic,
) -> Option<BoundSummary> {
    let input = graph.get_tensor(graph.ops[index].input(0)?)?;
    let zero_point = input
        .quantization
        .as_ref()
        .map_or(0, |quantization| quantization.zero_point(0));
    let (type_min, type_max) = input.dtype.int_range()?;
    let (input_min, input_max, zero_point) = match arithmetic.activation.conversion {
        OperandConversion::Unchanged => (type_min, type_max, zero_point),
        OperandConversion::Offset { offset } => {
            (type_min + offset, type_max + offset, zero_point + offset)
        }
        OperandConversion::Requantized { zero_point, .. } => {
            let (format_min, format_max) = arithmetic.activation.format.range();
            (format_min, format_max, zero_point)
        }
    };
    let LayerBound { bits, max, .. } = layer_bound_with_zero_point(
        graph,
        index,
        input_min,
        input_max,
        zero_point,
        arithmetic.datapath.zero_point,
    )?;
    Some(BoundSummary {
        bits,
        max,
        input_min,
        input_max,
        zero_point,
    })
}

/// Lists what the reader of the table must know about it.
fn notes(
    executor: &Executor,
    layers: &[LayerAccum],
    totals: &RunTotals,
    observed_separately: bool,
) -> Vec<String> {
    let mut notes = Vec::new();
    for layer in layers {
        let arithmetic = executor.arithmetic(layer.index);
        if let Some(OperandConversion::Requantized { .. }) = arithmetic.map(|a| a.weight.conversion)
        {
            notes.push(format!(
                "layer {}: the bound uses the model's weights, not the weights requantised onto {}",
                layer.index,
                arithmetic.map_or_else(String::new, |a| a.weight.format.to_string())
            ));
        }
        if let (Some(bound), Some(observed)) = (&layer.bound, &layer.observed) {
            if i128::from(observed.max_magnitude) > bound.max {
                notes.push(format!(
                    "layer {}: observed magnitude {} exceeds the bound {}",
                    layer.index, observed.max_magnitude, bound.max
                ));
            }
        }
        if observed_separately {
            let overflowed = totals.observed[layer.index].is_some_and(|c| c.corrupted_results > 0);
            if overflowed {
                notes.push(format!(
                    "layer {}: the widened observation register still overflowed, so later layers observed overflowed activations",
                    layer.index
                ));
            }
        }
    }
    if observed_separately {
        notes.push(format!(
            "{WIDENED_RUN_NOTE_SUBJECT} from a run with every MAC register widened to 32 bits \
             (64 unless the requantiser is tflite), so that layers do not overflow; overflows \
             come from the configured run"
        ));
        let overflowed = layers
            .iter()
            .any(|layer| layer.overflows.is_some_and(|c| c.corrupted_results > 0));
        if overflowed {
            notes.push(
                "after an overflowing layer the two runs feed later layers different inputs, so \
                 a layer may overflow at the configured width although its narrowest width is \
                 below it, or the reverse"
                    .to_string(),
            );
        }
    }
    notes
}
