//! Design-space sweeps: a grid of hardware descriptions around a base
//! description, the latency and resources of each point, optionally the
//! accuracy on a data set, and the Pareto front over them.
//!
//! | item | what it is |
//! |---|---|
//! | [`Grid`] | the varied fields and their values, read from TOML ([`grid`]) |
//! | [`Shard`] | the slice of the grid one job evaluates |
//! | [`evaluate`] | the points of a shard, in grid order |
//! | [`mark_front`] | the Pareto front over the candidates ([`pareto`]) |
//! | [`SweepOutput`] | `points.csv`, `points.json`, `latency_dsp.svg` and merging ([`output`]) |
//!
//! Timing and resources come from [`crate::timing::estimate`] and
//! [`crate::resources::estimate`], run in parallel over points with rayon.
//! Accuracy runs the data set once per distinct set of executor datapaths,
//! so points that differ only in the array's shape, buffers, part or clock
//! share one run. Under a wrapping accumulator the array's row count
//! (the fold size) cannot change a result, so it does not split a set.
//!
//! Limitation: a point is invalid when its description fails validation or
//! the timing model rejects the model on it (a buffer too small for one
//! tile). Such points stay in the output with the reason. Accuracy is
//! top-1 on a single-output classifier, as `fxsim accum` computes it.

pub mod grid;
pub mod output;
pub mod pareto;

pub use grid::{Grid, GridAxis, Shard, MAX_POINTS};
pub use output::SweepOutput;
pub use pareto::pareto_front;

use crate::analysis::accum::{AccumError, Progress};
use crate::analysis::accum_inputs::ModelInput;
use crate::analysis::accum_sweep::{evaluate_datapaths, reference_top1, top1_accuracy};
use crate::exec::{AccumulatorMode, Datapath};
use crate::hw::HwConfig;
use crate::model::Graph;
use crate::numeric::Overflow;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thiserror::Error;

/// A sweep failure. Invalid points are not failures; they are reported in
/// the output.
#[derive(Debug, Error)]
pub enum SweepError {
    #[error("{origin}: {message}")]
    Grid { origin: String, message: String },

    #[error("{origin}: key \"{path}\": {message}")]
    GridKey {
        origin: String,
        path: String,
        message: String,
    },

    #[error("--shard {text}: expected I/N with 0 <= I < N, as in 0/4")]
    Shard { text: String },

    #[error("every one of the {points} points is invalid; the first: point {index}: {reason}")]
    AllInvalid {
        points: u64,
        index: u64,
        reason: String,
    },

    #[error("data set: {0}")]
    Dataset(#[from] AccumError),

    #[error("{}: {message}", path.display())]
    Merge { path: PathBuf, message: String },

    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{0}")]
    Write(#[from] crate::io::DumpError),

    #[error("cannot draw the plot: {0}")]
    Plot(#[from] crate::report::svg::ChartError),

    #[error("cannot write JSON: {0}")]
    Json(String),
}

/// The latency and resources of one valid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointEstimate {
    pub total_cycles: u64,
    pub latency_us: f64,
    pub dsp: u64,
    /// Block RAM in BRAM36 sites, a BRAM18 counting half.
    pub bram36: f64,
    pub uram: u64,
    pub lut: u64,
    pub ff: u64,
    /// Whether every resource is within the part's.
    pub fits: bool,
}

/// Accuracy of one point's datapaths on the data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointAccuracy {
    /// Top-1 accuracy against the labels; `None` without labels.
    pub accuracy: Option<f64>,
    /// Fraction of inputs whose top-1 class equals the reference datapath's.
    pub agreement: f64,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignPoint {
    /// Position in grid order.
    pub index: u64,
    /// The value of each axis, in axis order.
    pub values: Vec<serde_json::Value>,
    /// The reason the point is invalid; `None` for a valid point.
    pub invalid: Option<String>,
    pub estimate: Option<PointEstimate>,
    pub accuracy: Option<PointAccuracy>,
    /// On the Pareto front of the valid points that fit their part.
    pub pareto: bool,
}

impl DesignPoint {
    /// Returns the objectives to minimise: latency in cycles, DSP, BRAM36
    /// sites and, with a data set, the negated accuracy (the agreement when
    /// there are no labels). `None` for a point that is not a candidate
    /// because it is invalid or does not fit its part.
    pub fn objectives(&self, with_accuracy: bool) -> Option<Vec<f64>> {
        let estimate = self.estimate.as_ref().filter(|estimate| estimate.fits)?;
        if self.invalid.is_some() {
            return None;
        }
        let mut objectives = vec![
            estimate.total_cycles as f64,
            estimate.dsp as f64,
            estimate.bram36,
        ];
        if with_accuracy {
            let accuracy = self.accuracy?;
            objectives.push(-accuracy.accuracy.unwrap_or(accuracy.agreement));
        }
        Some(objectives)
    }
}

/// The data set a sweep measures accuracy on.
pub struct Dataset<'a> {
    pub inputs: &'a [ModelInput],
    pub labels: Option<&'a [usize]>,
}

/// Summary of the data set in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub inputs: usize,
    pub labels: bool,
    /// Top-1 accuracy of the reference datapath; `None` without labels.
    pub reference_accuracy: Option<f64>,
    /// Distinct datapath sets executed in this run; not written, because
    /// it differs between shards.
    #[serde(skip)]
    pub datapath_sets: usize,
}

/// Evaluates the points in `range` of `grid` around `base` (the output of
/// `HwConfig::to_toml_value`), in grid order. `origin` names the base
/// description in the reasons of invalid points.
///
/// `progress` is started twice: once with the point count, then, with a
/// data set, with the number of model runs.
pub fn evaluate(
    graph: &Graph,
    base: &toml::Value,
    origin: &str,
    grid: &Grid,
    range: std::ops::Range<u64>,
    dataset: Option<&Dataset<'_>>,
    progress: &dyn Progress,
) -> Result<(Vec<DesignPoint>, Option<DatasetSummary>), SweepError> {
    progress.start(range.end - range.start);
    let evaluated: Vec<(DesignPoint, Option<Vec<Datapath>>)> = range
        .into_par_iter()
        .map(|index| {
            let point = evaluate_point(graph, base, origin, grid, index, dataset.is_some());
            progress.advance(1);
            point
        })
        .collect();
    let (mut points, datapaths): (Vec<DesignPoint>, Vec<Option<Vec<Datapath>>>) =
        evaluated.into_iter().unzip();

    let summary = match dataset {
        Some(dataset) => Some(measure_accuracy(
            graph,
            dataset,
            &mut points,
            &datapaths,
            progress,
        )?),
        None => None,
    };
    Ok((points, summary))
}

/// Estimates one point, returning with it the executor datapaths to run
/// when a data set is given.
fn evaluate_point(
    graph: &Graph,
    base: &toml::Value,
    origin: &str,
    grid: &Grid,
    index: u64,
    with_datapaths: bool,
) -> (DesignPoint, Option<Vec<Datapath>>) {
    let values = grid
        .point_values(index)
        .into_iter()
        .map(|value| serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
        .collect();
    let mut point = DesignPoint {
        index,
        values,
        invalid: None,
        estimate: None,
        accuracy: None,
        pareto: false,
    };
    let config = match estimate_config(graph, base, origin, grid, index) {
        Ok((config, estimate)) => {
            point.estimate = Some(estimate);
            config
        }
        Err(reason) => {
            point.invalid = Some(reason);
            return (point, None);
        }
    };
    let datapaths = with_datapaths.then(|| config.datapaths(graph));
    (point, datapaths)
}

fn estimate_config(
    graph: &Graph,
    base: &toml::Value,
    origin: &str,
    grid: &Grid,
    index: u64,
) -> Result<(HwConfig, PointEstimate), String> {
    let config = grid
        .point_config(base, index, origin)
        .map_err(|error| error.to_string())?;
    config
        .check_graph(graph)
        .map_err(|error| error.to_string())?;
    let timing = crate::timing::estimate(graph, &config).map_err(|error| error.to_string())?;
    let resources = crate::resources::estimate(&config, Some(graph));
    let estimate = PointEstimate {
        total_cycles: timing.total_cycles,
        latency_us: timing.latency_us,
        dsp: resources.totals.dsp,
        bram36: resources.totals.bram36_sites(),
        uram: resources.totals.uram,
        lut: resources.totals.lut,
        ff: resources.totals.ff,
        fits: resources.fits,
    };
    Ok((config, estimate))
}

/// Returns the datapaths with the array's row count set to 1 wherever the
/// accumulator wraps: there the fold size cannot change a result, so
/// points differing only in rows share one run.
fn canonical_datapaths(datapaths: &[Datapath]) -> Vec<Datapath> {
    datapaths
        .iter()
        .map(|datapath| {
            let saturates = matches!(
                datapath.accumulator,
                AccumulatorMode::Register {
                    overflow: Overflow::Saturate,
                    ..
                }
            );
            Datapath {
                rows: if saturates { datapath.rows } else { 1 },
                ..datapath.clone()
            }
        })
        .collect()
}

/// Runs the data set once per distinct datapath set, in order of first
/// appearance, and fills in every valid point's accuracy.
fn measure_accuracy(
    graph: &Graph,
    dataset: &Dataset<'_>,
    points: &mut [DesignPoint],
    datapaths: &[Option<Vec<Datapath>>],
    progress: &dyn Progress,
) -> Result<DatasetSummary, SweepError> {
    let mut distinct: Vec<Vec<Datapath>> = Vec::new();
    let mut set_of_point: Vec<Option<usize>> = Vec::with_capacity(points.len());
    for point_datapaths in datapaths {
        let set = point_datapaths.as_ref().map(|datapaths| {
            let key = canonical_datapaths(datapaths);
            match distinct.iter().position(|known| *known == key) {
                Some(position) => position,
                None => {
                    distinct.push(key);
                    distinct.len() - 1
                }
            }
        });
        set_of_point.push(set);
    }

    let runs = (distinct.len() + 1) * dataset.inputs.len();
    progress.start(runs as u64);
    let reference = reference_top1(graph, dataset.inputs, progress)?;
    let mut results = Vec::with_capacity(distinct.len());
    for (position, set) in distinct.iter().enumerate() {
        let description = format!("datapath set {position} of the sweep");
        let result = evaluate_datapaths(
            graph,
            set,
            dataset.inputs,
            &reference,
            dataset.labels,
            &description,
            progress,
        )?;
        results.push(PointAccuracy {
            accuracy: result.accuracy,
            agreement: result.agreement,
        });
    }
    for (point, set) in points.iter_mut().zip(set_of_point) {
        point.accuracy = set.and_then(|set| results.get(set).copied());
    }

    Ok(DatasetSummary {
        inputs: dataset.inputs.len(),
        labels: dataset.labels.is_some(),
        reference_accuracy: dataset
            .labels
            .map(|labels| top1_accuracy(&reference, labels)),
        datapath_sets: distinct.len(),
    })
}

/// Marks the Pareto front over the valid points that fit their part.
pub fn mark_front(points: &mut [DesignPoint], with_accuracy: bool) {
    let objectives: Vec<Option<Vec<f64>>> = points
        .iter()
        .map(|point| point.objectives(with_accuracy))
        .collect();
    for (point, on_front) in points.iter_mut().zip(pareto_front(&objectives)) {
        point.pareto = on_front;
    }
}
