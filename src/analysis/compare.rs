//! Per-layer comparison of a run on a configured datapath with the run on
//! the reference datapath. For each operator it measures how far the output
//! moved and how often the accumulator overflowed, and it lists what the
//! datapath changed (operands requantised onto narrower grids, scale errors).
//!
//! Limitation: differences are measured on the quantised outputs, in output
//! steps; a layer whose output scale is coarse can hide small accumulator
//! differences.

use crate::exec::{
    Execution, Executor, OperandConversion, OperandMapping, OverflowCounts, RequantMode,
};
use crate::model::Graph;
use serde::Serialize;

/// One operator's output on the configured datapath against the reference.
#[derive(Debug, Clone, Serialize)]
pub struct LayerComparison {
    pub index: usize,
    pub op: String,
    /// Name of the operator's first output tensor.
    pub name: String,
    pub elements: usize,
    /// Elements whose value differs from the reference run.
    pub differing: usize,
    /// Largest absolute difference, in output steps.
    pub max_abs_difference: i64,
    /// Accumulator overflow counts (MAC layers on a counting datapath).
    pub overflow: Option<OverflowCounts>,
    /// Largest relative error of a channel's applied scale (requantisation
    /// modes that approximate the scale, such as `shift`).
    pub max_scale_error: Option<f64>,
    /// Changes the datapath made to this layer's arithmetic, in words.
    pub notes: Vec<String>,
}

/// Compares every operator's first output of `configured` (run by
/// `executor`) with `reference`.
pub fn compare_layers(
    graph: &Graph,
    executor: &Executor,
    reference: &Execution,
    configured: &Execution,
) -> Vec<LayerComparison> {
    graph
        .ops
        .iter()
        .enumerate()
        .filter_map(|(index, op)| {
            let id = op.output()?;
            let expected = reference.values.get(id)?.as_ref()?;
            let got = configured.values.get(id)?.as_ref()?;
            let (expected, got) = (expected.to_i64_vec(), got.to_i64_vec());
            let differences = expected.iter().zip(&got).map(|(a, b)| (a - b).abs());
            let arithmetic = executor.arithmetic(index);
            Some(LayerComparison {
                index,
                op: op.kind.name().to_string(),
                name: graph
                    .get_tensor(id)
                    .map_or_else(String::new, |t| t.name.clone()),
                elements: expected.len(),
                differing: differences.clone().filter(|&d| d != 0).count(),
                max_abs_difference: differences.max().unwrap_or(0),
                overflow: configured.overflow.get(index).copied().flatten(),
                max_scale_error: arithmetic
                    .filter(|a| !matches!(a.datapath.requant, RequantMode::Tflite))
                    .map(|a| a.max_scale_error()),
                notes: arithmetic.map_or_else(Vec::new, |a| {
                    let mut notes = Vec::new();
                    notes.extend(mapping_note("activations", &a.activation));
                    notes.extend(mapping_note("weights", &a.weight));
                    notes
                }),
            })
        })
        .collect()
}

fn mapping_note(role: &str, mapping: &OperandMapping) -> Option<String> {
    match mapping.conversion {
        OperandConversion::Unchanged => None,
        OperandConversion::Offset { offset } => Some(format!(
            "{role} {} shifted by {offset} onto {}",
            mapping.tensor, mapping.format
        )),
        OperandConversion::Requantized { .. } => Some(format!(
            "{role} requantised from {} onto the coarser {} grid",
            mapping.tensor, mapping.format
        )),
    }
}
