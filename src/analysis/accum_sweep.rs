//! Accuracy by accumulator width: every MAC layer set to one width, under
//! wrapping and under saturation, with every other datapath field from the
//! hardware description. Each point gives the top-1 accuracy against
//! labels and the agreement with the reference datapath's top-1.
//!
//! Limitation: top-1 is the index of the largest element of the model's
//! single output tensor, flattened, with ties going to the lower index. A
//! model whose output is not one vector of class scores (a regression, a
//! batch of several inputs) gives numbers without meaning.

use super::accum::{AccumError, OverflowMode, Progress};
use super::accum_inputs::ModelInput;
use crate::exec::{AccumulatorMode, Datapath, Executor, OverflowCounts, TensorData, TensorValue};
use crate::model::{Graph, TensorId};
use rayon::prelude::*;
use serde::Serialize;

/// The widths `fxsim accum` sweeps by default.
pub const DEFAULT_WIDTHS: std::ops::RangeInclusive<u32> = 12..=32;

/// Accuracy at each accumulator width.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WidthSweep {
    /// Inputs run at each width.
    pub inputs: usize,
    /// Top-1 accuracy on the reference datapath, when labels were given.
    pub reference_accuracy: Option<f64>,
    /// One row per width, in the order requested.
    pub rows: Vec<SweepRow>,
}

/// Both overflow modes at one width.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    pub bits: u32,
    pub wrap: SweepPoint,
    pub saturate: SweepPoint,
}

/// The network with every MAC layer at one width and overflow mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Fraction of inputs whose top-1 class is their label; `None` without
    /// labels.
    pub accuracy: Option<f64>,
    /// Fraction of inputs whose top-1 class equals the reference
    /// datapath's.
    pub agreement: f64,
    /// Accumulators corrupted by overflow, over every MAC layer and input
    /// (see [`OverflowCounts::corrupted_results`]).
    pub corrupted_results: u64,
    /// MAC layers with at least one corrupted accumulator.
    pub overflowing_layers: usize,
}

/// Outcome of one run for a sweep point: the top-1 class and the corrupted
/// accumulators of each operator.
struct RunOutcome {
    top1: Option<usize>,
    corrupted: Vec<u64>,
}

/// Runs the sweep: the reference datapath once, then each width in
/// `widths` under both overflow modes, every other field from `datapaths`
/// (one per operator). `labels`, when given, has one class per input.
pub fn sweep_widths(
    graph: &Graph,
    datapaths: &[Datapath],
    inputs: &[ModelInput],
    widths: &[u32],
    labels: Option<&[usize]>,
    hw: &str,
    progress: &dyn Progress,
) -> Result<WidthSweep, AccumError> {
    let reference_top1 = reference_top1(graph, inputs, progress)?;

    let mut rows = Vec::with_capacity(widths.len());
    for &bits in widths {
        let point = |mode: OverflowMode| {
            let widened: Vec<Datapath> = datapaths
                .iter()
                .map(|datapath| Datapath {
                    accumulator: AccumulatorMode::Register {
                        bits,
                        overflow: mode.into(),
                    },
                    ..datapath.clone()
                })
                .collect();
            let description = format!("the datapaths of {hw} at {bits}-bit {}", mode.name());
            evaluate_datapaths(
                graph,
                &widened,
                inputs,
                &reference_top1,
                labels,
                &description,
                progress,
            )
        };
        rows.push(SweepRow {
            bits,
            wrap: point(OverflowMode::Wrap)?,
            saturate: point(OverflowMode::Saturate)?,
        });
    }

    Ok(WidthSweep {
        inputs: inputs.len(),
        reference_accuracy: labels.map(|labels| accuracy(&reference_top1, labels)),
        rows,
    })
}

/// Runs every input on the reference datapath and returns each one's top-1
/// class, the baseline of [`evaluate_datapaths`].
pub fn reference_top1(
    graph: &Graph,
    inputs: &[ModelInput],
    progress: &dyn Progress,
) -> Result<Vec<Option<usize>>, AccumError> {
    let output = single_output(graph)?;
    let reference =
        Executor::new(graph, &Datapath::reference()).map_err(|source| AccumError::Prepare {
            datapath: "the reference datapath".to_string(),
            source,
        })?;
    Ok(run_all(&reference, inputs, output, progress)?
        .into_iter()
        .map(|outcome| outcome.top1)
        .collect())
}

/// Runs every input on `datapaths` (one per operator) and returns the
/// top-1 accuracy against `labels` and the agreement with
/// `reference_top1`. `description` names the datapaths in errors.
pub fn evaluate_datapaths(
    graph: &Graph,
    datapaths: &[Datapath],
    inputs: &[ModelInput],
    reference_top1: &[Option<usize>],
    labels: Option<&[usize]>,
    description: &str,
    progress: &dyn Progress,
) -> Result<SweepPoint, AccumError> {
    let output = single_output(graph)?;
    let executor =
        Executor::with_datapaths(graph, |index| datapaths[index].clone()).map_err(|source| {
            AccumError::Prepare {
                datapath: description.to_string(),
                source,
            }
        })?;
    let outcomes = run_all(&executor, inputs, output, progress)?;
    Ok(sweep_point(&outcomes, reference_top1, labels))
}

/// Returns the fraction of `top1` equal to `labels`: the top-1 accuracy.
pub fn top1_accuracy(top1: &[Option<usize>], labels: &[usize]) -> f64 {
    accuracy(top1, labels)
}

/// Returns the number of classes top-1 chooses from: the element count
/// of the model's single output.
pub fn class_count(graph: &Graph) -> Result<usize, AccumError> {
    Ok(graph.tensor(single_output(graph)?).element_count())
}

/// Parses a width list: `A..B` (both ends included), `A..=B`, or widths
/// separated by commas. Every width must be 8 to 64. The result is sorted,
/// without repeats.
pub fn parse_widths(text: &str) -> Result<Vec<u32>, AccumError> {
    let invalid = || AccumError::WidthList {
        text: text.to_string(),
    };
    let number = |part: &str| part.trim().parse::<u32>().map_err(|_| invalid());
    let widths: Vec<u32> = match text.split_once("..") {
        Some((first, last)) => {
            let last = last.strip_prefix('=').unwrap_or(last);
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                return Err(invalid());
            }
            (first..=last).collect()
        }
        None => {
            let mut listed: Vec<u32> = text.split(',').map(number).collect::<Result<_, _>>()?;
            listed.sort_unstable();
            listed.dedup();
            listed
        }
    };
    match widths.iter().find(|bits| !(8..=64).contains(*bits)) {
        Some(&bits) => Err(AccumError::Width { bits }),
        None => Ok(widths),
    }
}

/// Returns the index of the largest element of `value`, flattened; the
/// first one on a tie. `None` for an empty tensor.
pub fn top1(value: &TensorValue) -> Option<usize> {
    fn first_max<T: PartialOrd + Copy>(values: &[T]) -> Option<usize> {
        let mut best: Option<(usize, T)> = None;
        for (index, &value) in values.iter().enumerate() {
            if best.is_none_or(|(_, largest)| value > largest) {
                best = Some((index, value));
            }
        }
        best.map(|(index, _)| index)
    }
    match &value.data {
        TensorData::I8(values) => first_max(values),
        TensorData::U8(values) => first_max(values),
        TensorData::I16(values) => first_max(values),
        TensorData::I32(values) => first_max(values),
        TensorData::I64(values) => first_max(values),
        TensorData::F32(values) => first_max(values),
        TensorData::Bool(values) => first_max(values),
    }
}

/// Returns the model's only output tensor.
pub(crate) fn single_output(graph: &Graph) -> Result<TensorId, AccumError> {
    match graph.outputs.as_slice() {
        [id] => Ok(*id),
        ids => Err(AccumError::ModelOutputs { count: ids.len() }),
    }
}

/// Runs every input on `executor` in parallel, in input order.
fn run_all(
    executor: &Executor,
    inputs: &[ModelInput],
    output: TensorId,
    progress: &dyn Progress,
) -> Result<Vec<RunOutcome>, AccumError> {
    inputs
        .par_iter()
        .map(|input| {
            let execution = executor
                .run(std::slice::from_ref(&input.value))
                .map_err(|source| AccumError::Run {
                    input: input.source.clone(),
                    source,
                })?;
            progress.advance(1);
            let top1 = execution
                .values
                .get(output)
                .and_then(Option::as_ref)
                .and_then(top1);
            let corrupted = execution
                .overflow
                .iter()
                .map(|counts| counts.map_or(0, |c: OverflowCounts| c.corrupted_results))
                .collect();
            Ok(RunOutcome { top1, corrupted })
        })
        .collect()
}

/// Summarises the runs of one point against the reference and the labels.
fn sweep_point(
    outcomes: &[RunOutcome],
    reference_top1: &[Option<usize>],
    labels: Option<&[usize]>,
) -> SweepPoint {
    let top1: Vec<Option<usize>> = outcomes.iter().map(|outcome| outcome.top1).collect();
    let agreeing = top1
        .iter()
        .zip(reference_top1)
        .filter(|(class, reference)| class.is_some() && class == reference)
        .count();
    let operators = outcomes
        .first()
        .map_or(0, |outcome| outcome.corrupted.len());
    let per_layer: Vec<u64> = (0..operators)
        .map(|op| outcomes.iter().map(|outcome| outcome.corrupted[op]).sum())
        .collect();
    SweepPoint {
        accuracy: labels.map(|labels| accuracy(&top1, labels)),
        agreement: fraction(agreeing, outcomes.len()),
        corrupted_results: per_layer.iter().sum(),
        overflowing_layers: per_layer.iter().filter(|&&count| count > 0).count(),
    }
}

/// Returns the fraction of `top1` equal to `labels`.
fn accuracy(top1: &[Option<usize>], labels: &[usize]) -> f64 {
    let correct = top1
        .iter()
        .zip(labels)
        .filter(|(class, label)| **class == Some(**label))
        .count();
    fraction(correct, top1.len())
}

/// `count / total`, 0 when `total` is 0.
fn fraction(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_widths_takes_ranges_and_lists() {
        assert_eq!(parse_widths("12..14").unwrap(), vec![12, 13, 14]);
        assert_eq!(parse_widths("12..=14").unwrap(), vec![12, 13, 14]);
        assert_eq!(parse_widths("16").unwrap(), vec![16]);
        assert_eq!(parse_widths("16, 24,32").unwrap(), vec![16, 24, 32]);
        assert_eq!(parse_widths("24,16,16").unwrap(), vec![16, 24]);
    }

    #[test]
    fn parse_widths_rejects_bad_lists() {
        for text in ["", "12..", "14..12", "a,b", "12-16"] {
            let error = parse_widths(text).unwrap_err();
            assert!(
                matches!(error, AccumError::WidthList { .. }),
                "{text}: {error}"
            );
        }
        let error = parse_widths("4..12").unwrap_err();
        assert_eq!(
            error.to_string(),
            "accumulator width 4 is out of range; expected 8 to 64"
        );
        assert!(matches!(
            parse_widths("16,65"),
            Err(AccumError::Width { bits: 65 })
        ));
    }

    #[test]
    fn top1_takes_first_largest() {
        let value = |data| TensorValue {
            shape: vec![1, 4],
            data,
        };
        assert_eq!(top1(&value(TensorData::I8(vec![-5, 7, 7, 2]))), Some(1));
        assert_eq!(
            top1(&value(TensorData::F32(vec![0.1, -1.0, 0.3, 0.2]))),
            Some(2)
        );
        assert_eq!(top1(&value(TensorData::I8(vec![]))), None);
    }

    #[test]
    fn sweep_point_counts_agreement_and_accuracy() {
        let outcome = |top1, corrupted: &[u64]| RunOutcome {
            top1,
            corrupted: corrupted.to_vec(),
        };
        let outcomes = [
            outcome(Some(1), &[0, 3, 0]),
            outcome(Some(0), &[0, 1, 2]),
            outcome(None, &[0, 0, 0]),
            outcome(Some(2), &[0, 0, 0]),
        ];
        let reference = [Some(1), Some(1), Some(0), Some(2)];
        let point = sweep_point(&outcomes, &reference, Some(&[1, 0, 0, 1]));
        assert_eq!(point.agreement, 0.5);
        assert_eq!(point.accuracy, Some(0.5));
        assert_eq!(point.corrupted_results, 6);
        assert_eq!(point.overflowing_layers, 2);
        assert_eq!(sweep_point(&outcomes, &reference, None).accuracy, None);
    }
}
