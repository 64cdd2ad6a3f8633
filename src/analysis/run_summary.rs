//! The summary behind `fxsim run` on a data set. It executes the network on
//! every input, on the hardware description's datapaths and on the
//! reference datapath, and counts top-1 accuracy against labels and the
//! agreement between the two. It adds the design's timing and resource
//! estimates, the accumulator analysis of every MAC layer and, on request,
//! accuracy by accumulator width.
//!
//! Limitation: this module composes the executor, [`crate::timing`],
//! [`crate::resources`] and [`super::accum`] and adds no model of its own.
//! Cycles and resources are those models' estimates, and observed
//! accumulator values hold only for the inputs given.

use super::accum::Progress;
use super::accum::{analyze_accumulators, AccumError, AccumReport, AccumSettings, LayerAccum};
use super::accum_inputs::ModelInput;
use super::accum_sweep::{single_output, sweep_widths, top1};
use crate::exec::{Datapath, Executor, TensorValue};
use crate::hw::HwConfig;
use crate::model::{Graph, TensorId};
use crate::resources::ResourceReport;
use crate::timing::{TimingError, TimingReport};
use rayon::prelude::*;
use serde::Serialize;

/// Narrowest accumulator width of the accuracy sweep.
const SWEEP_MIN_BITS: u32 = 8;
/// Widest accumulator width of the accuracy sweep.
const SWEEP_MAX_BITS: u32 = 32;
/// Widths the sweep covers below the narrowest width any layer needs on
/// the inputs, where accuracy falls away.
const SWEEP_BITS_BELOW: u32 = 6;
/// Widths the sweep covers above the widest bound, where accuracy is flat.
const SWEEP_BITS_ABOVE: u32 = 2;

/// Failure of the run summary.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error(transparent)]
    Accum(#[from] AccumError),

    #[error("timing estimate failed: {0}")]
    Timing(#[from] TimingError),
}

/// Names shown in the summary, the labels, and the optional sweep.
#[derive(Debug, Clone, Default)]
pub struct SummarySettings {
    /// The model's name in the report, typically its file path.
    pub model: String,
    /// The inputs' name in the report, typically the `.npy` path.
    pub dataset: String,
    /// The labels' name in the report; `None` without labels.
    pub labels_source: Option<String>,
    /// One class index per input.
    pub labels: Option<Vec<usize>>,
    /// Runs the accuracy-by-width sweep (the report's chart), which costs
    /// two runs per input and width.
    pub sweep: bool,
}

/// Everything `fxsim run` reports on a data set.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub model: String,
    pub dataset: String,
    pub labels: Option<String>,
    /// The hardware description's origin; `None` for the reference datapath
    /// alone.
    pub hw: Option<String>,
    pub results: DatasetResults,
    /// Timing, resources and accumulators of the design; `None` without a
    /// hardware description.
    pub design: Option<DesignSummary>,
}

/// The network's results on every input of the data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetResults {
    pub inputs: usize,
    /// Top-1 class per input on the hardware datapaths (on the reference
    /// datapath without a hardware description). `None` for an empty
    /// output.
    pub top1: Vec<Option<usize>>,
    /// Inputs whose top-1 class is their label; `None` without labels.
    pub correct: Option<usize>,
    /// The same on the reference datapath, when a hardware description is
    /// given and labels are.
    pub reference_correct: Option<usize>,
    /// Inputs whose top-1 class on the hardware datapaths equals the
    /// reference datapath's; `None` without a hardware description.
    pub agreeing: Option<usize>,
    /// Inputs whose output tensor on the hardware datapaths equals the
    /// reference datapath's bit for bit; `None` without a hardware
    /// description.
    pub identical: Option<usize>,
}

/// The design's estimates and accumulator analysis.
#[derive(Debug, Clone, Serialize)]
pub struct DesignSummary {
    pub part: String,
    pub clock_mhz: f64,
    pub rows: u32,
    pub cols: u32,
    pub timing: TimingReport,
    pub resources: ResourceReport,
    /// The accumulator analysis; its `sweep` is set when the settings ask
    /// for one.
    pub accumulators: AccumReport,
}

/// Safety class of one MAC layer's configured accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccumSafety {
    /// The width the weights guarantee fits the configured width: no input
    /// can overflow it.
    AnyInput,
    /// No accumulator overflowed on the inputs given, but the bound is
    /// wider than the configured width (or unknown), so other inputs may.
    TheseInputs,
    /// Overflow reached the requantiser on the inputs given.
    Overflows,
    /// Neither a bound nor counts are available.
    Unknown,
}

impl AccumSafety {
    /// Classifies one row of the accumulator analysis.
    pub fn of(layer: &LayerAccum) -> AccumSafety {
        let corrupted = layer.overflows.map(|counts| counts.corrupted_results);
        if corrupted.is_some_and(|count| count > 0) {
            return AccumSafety::Overflows;
        }
        if layer
            .bound
            .as_ref()
            .is_some_and(|bound| bound.bits <= layer.bits)
        {
            return AccumSafety::AnyInput;
        }
        let narrow_enough = layer
            .observed
            .is_some_and(|observed| observed.narrowest_bits <= layer.bits);
        if corrupted == Some(0) || narrow_enough {
            AccumSafety::TheseInputs
        } else {
            AccumSafety::Unknown
        }
    }

    /// Describes the class in a few words for tables.
    pub fn describe(self) -> &'static str {
        match self {
            AccumSafety::AnyInput => "safe for any input",
            AccumSafety::TheseInputs => "safe on these inputs only",
            AccumSafety::Overflows => "overflows",
            AccumSafety::Unknown => "unknown",
        }
    }
}

/// Runs `graph` on every input and summarises it: on the datapaths of
/// `config` and on the reference datapath when `config` is given, on the
/// reference datapath alone otherwise.
///
/// Inputs run in parallel; the summary does not depend on the thread count.
pub fn summarize_run(
    graph: &Graph,
    config: Option<&HwConfig>,
    inputs: &[ModelInput],
    settings: &SummarySettings,
    progress: &dyn Progress,
) -> Result<RunSummary, SummaryError> {
    if let Some(config) = config {
        config.check_graph(graph).map_err(AccumError::from)?;
    }
    let results = evaluate_dataset(graph, config, inputs, settings.labels.as_deref(), progress)?;
    let design = match config {
        Some(config) => Some(summarize_design(graph, config, inputs, settings, progress)?),
        None => None,
    };
    Ok(RunSummary {
        model: settings.model.clone(),
        dataset: settings.dataset.clone(),
        labels: settings.labels_source.clone(),
        hw: config.map(|config| config.origin.clone()),
        results,
        design,
    })
}

/// Runs every input on the reference datapath and, with `config`, on its
/// datapaths, and counts correct, agreeing and identical results.
pub fn evaluate_dataset(
    graph: &Graph,
    config: Option<&HwConfig>,
    inputs: &[ModelInput],
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<DatasetResults, AccumError> {
    if let Some(labels) = labels {
        if labels.len() != inputs.len() {
            return Err(AccumError::LabelsForInputs {
                labels: labels.len(),
                inputs: inputs.len(),
            });
        }
    }
    let output = single_output(graph)?;
    let reference = prepare(graph, "the reference datapath", |_| Datapath::reference())?;
    let configured = match config {
        Some(config) => {
            let datapaths = config.datapaths(graph);
            let name = format!("the datapaths of {}", config.origin);
            Some(prepare(graph, &name, |index| datapaths[index].clone())?)
        }
        None => None,
    };
    let passes = 1 + u64::from(configured.is_some());
    progress.start(passes * inputs.len() as u64);

    let outputs: Vec<(Option<TensorValue>, Option<TensorValue>)> = inputs
        .par_iter()
        .map(|input| {
            let reference_output = run_output(&reference, input, output)?;
            progress.advance(1);
            let configured_output = match &configured {
                Some(executor) => {
                    let value = run_output(executor, input, output)?;
                    progress.advance(1);
                    Some(value)
                }
                None => None,
            };
            Ok::<_, AccumError>((reference_output, configured_output.flatten()))
        })
        .collect::<Result<_, _>>()?;

    let reference_top1: Vec<Option<usize>> = outputs
        .iter()
        .map(|(reference, _)| reference.as_ref().and_then(top1))
        .collect();
    let count_correct = |top1: &[Option<usize>]| {
        labels.map(|labels| {
            top1.iter()
                .zip(labels)
                .filter(|(class, label)| **class == Some(**label))
                .count()
        })
    };
    if configured.is_none() {
        return Ok(DatasetResults {
            inputs: inputs.len(),
            correct: count_correct(&reference_top1),
            top1: reference_top1,
            reference_correct: None,
            agreeing: None,
            identical: None,
        });
    }

    let configured_top1: Vec<Option<usize>> = outputs
        .iter()
        .map(|(_, configured)| configured.as_ref().and_then(top1))
        .collect();
    let agreeing = configured_top1
        .iter()
        .zip(&reference_top1)
        .filter(|(configured, reference)| configured.is_some() && configured == reference)
        .count();
    let identical = outputs
        .iter()
        .filter(|(reference, configured)| reference.is_some() && reference == configured)
        .count();
    Ok(DatasetResults {
        inputs: inputs.len(),
        correct: count_correct(&configured_top1),
        reference_correct: count_correct(&reference_top1),
        top1: configured_top1,
        agreeing: Some(agreeing),
        identical: Some(identical),
    })
}

/// Estimates the design and analyses its accumulators, with the accuracy
/// sweep when the settings ask for it.
fn summarize_design(
    graph: &Graph,
    config: &HwConfig,
    inputs: &[ModelInput],
    settings: &SummarySettings,
    progress: &dyn Progress,
) -> Result<DesignSummary, SummaryError> {
    let timing = crate::timing::estimate(graph, config)?;
    let resources = crate::resources::estimate(config, Some(graph));

    let accum_settings = AccumSettings {
        model: settings.model.clone(),
        widths: Vec::new(),
        labels: settings.labels.clone(),
    };
    let mut accumulators = analyze_accumulators(graph, config, inputs, &accum_settings, progress)?;
    if settings.sweep {
        let widths = sweep_range(&accumulators.layers);
        progress.start(inputs.len() as u64 * (1 + 2 * widths.len() as u64));
        accumulators.sweep = Some(sweep_widths(
            graph,
            &config.datapaths(graph),
            inputs,
            &widths,
            settings.labels.as_deref(),
            &config.origin,
            progress,
        )?);
    }

    Ok(DesignSummary {
        part: resources.part.clone(),
        clock_mhz: timing.clock_mhz,
        rows: timing.rows,
        cols: timing.cols,
        timing,
        resources,
        accumulators,
    })
}

/// Chooses the accumulator widths of the accuracy sweep: from a few bits
/// below the narrowest width any layer needs on the inputs, where accuracy
/// collapses, to a little above the widest analytic bound, beyond which
/// nothing can overflow. Layers without observations give 12 to 32 bits.
pub fn sweep_range(layers: &[LayerAccum]) -> Vec<u32> {
    let narrowest = layers
        .iter()
        .filter_map(|layer| layer.observed.map(|observed| observed.narrowest_bits))
        .min();
    let widest = layers
        .iter()
        .filter_map(|layer| {
            let bound = layer.bound.as_ref().map(|bound| bound.bits);
            let observed = layer.observed.map(|observed| observed.narrowest_bits);
            bound.max(observed)
        })
        .max();
    let (Some(narrowest), Some(widest)) = (narrowest, widest) else {
        return (12..=SWEEP_MAX_BITS).collect();
    };
    let low = narrowest
        .saturating_sub(SWEEP_BITS_BELOW)
        .clamp(SWEEP_MIN_BITS, SWEEP_MAX_BITS);
    let high = (widest + SWEEP_BITS_ABOVE).clamp(low, SWEEP_MAX_BITS);
    (low..=high).collect()
}

/// Prepares an executor, naming the datapaths in the error.
fn prepare<'g>(
    graph: &'g Graph,
    name: &str,
    datapath_of: impl Fn(usize) -> Datapath,
) -> Result<Executor<'g>, AccumError> {
    Executor::with_datapaths(graph, datapath_of).map_err(|source| AccumError::Prepare {
        datapath: name.to_string(),
        source,
    })
}

/// Runs one input and returns the value of tensor `output`.
fn run_output(
    executor: &Executor,
    input: &ModelInput,
    output: TensorId,
) -> Result<Option<TensorValue>, AccumError> {
    let mut execution = executor
        .run(std::slice::from_ref(&input.value))
        .map_err(|source| AccumError::Run {
            input: input.source.clone(),
            source,
        })?;
    Ok(execution.values.get_mut(output).and_then(Option::take))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::accum::{BoundSummary, ObservedRange, OverflowMode};
    use crate::exec::OverflowCounts;

    /// Builds a layer configured at `bits`, with an optional bound width,
    /// narrowest observed width and count of corrupted results.
    fn layer(
        bits: u32,
        bound: Option<u32>,
        narrowest: Option<u32>,
        corrupted: Option<u64>,
    ) -> LayerAccum {
        LayerAccum {
            index: 0,
            op: "CONV_2D".to_string(),
            name: "conv".to_string(),
            terms: 9,
            rows: 8,
            folds: 2,
            bits,
            overflow: OverflowMode::Wrap,
            bound: bound.map(|bits| BoundSummary {
                bits,
                max: 1 << (bits - 1),
                input_min: -128,
                input_max: 127,
                zero_point: 0,
            }),
            observed: narrowest.map(|narrowest_bits| ObservedRange {
                min: -5,
                max: 5,
                max_magnitude: 5,
                bits: narrowest_bits,
                narrowest_bits,
            }),
            overflows: corrupted.map(|corrupted_results| OverflowCounts {
                corrupted_results,
                ..OverflowCounts::default()
            }),
        }
    }

    #[test]
    fn safety_classes() {
        let cases = [
            (
                layer(32, Some(19), Some(18), Some(0)),
                AccumSafety::AnyInput,
            ),
            (
                layer(19, Some(19), Some(18), Some(0)),
                AccumSafety::AnyInput,
            ),
            (
                layer(18, Some(19), Some(18), Some(0)),
                AccumSafety::TheseInputs,
            ),
            (layer(18, None, Some(17), None), AccumSafety::TheseInputs),
            (
                layer(16, Some(19), Some(18), Some(3)),
                AccumSafety::Overflows,
            ),
            (
                layer(32, Some(19), Some(18), Some(1)),
                AccumSafety::Overflows,
            ),
            (layer(16, None, None, None), AccumSafety::Unknown),
            (layer(16, Some(19), Some(18), None), AccumSafety::Unknown),
        ];
        for (position, (row, expected)) in cases.iter().enumerate() {
            assert_eq!(AccumSafety::of(row), *expected, "case {position}");
        }
    }

    #[test]
    fn sweep_range_spans_need_to_bound() {
        let layers = [
            layer(32, Some(19), Some(18), Some(0)),
            layer(32, Some(22), Some(17), Some(0)),
        ];
        assert_eq!(sweep_range(&layers), (11..=24).collect::<Vec<_>>());
    }

    #[test]
    fn sweep_range_clamps_to_limits() {
        let narrow = [layer(16, Some(10), Some(9), Some(0))];
        assert_eq!(sweep_range(&narrow), (8..=12).collect::<Vec<_>>());
        let wide = [layer(32, Some(40), Some(31), Some(0))];
        assert_eq!(sweep_range(&wide), (25..=32).collect::<Vec<_>>());
        let unobserved = [layer(32, Some(19), None, Some(0))];
        assert_eq!(sweep_range(&unobserved), (12..=32).collect::<Vec<_>>());
    }
}
