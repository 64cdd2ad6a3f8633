//! `inspect`: one row per operator (shapes, types, quantisation, MACs,
//! parameter bytes) and model totals, as a text table or JSON.
//!
//! Unsupported operators are listed and marked; they add no MACs, since
//! fxsim does not know what they compute.

use crate::io::escape_field;
use crate::model::{cost, format_shape, Graph, Op, Tensor, TensorId};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Summary of a graph, ready to print or serialise.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub model: String,
    pub description: String,
    pub inputs: Vec<TensorSummary>,
    pub outputs: Vec<TensorSummary>,
    pub ops: Vec<OpRow>,
    pub totals: Totals,
}

/// One operator.
#[derive(Debug, Clone, Serialize)]
pub struct OpRow {
    pub index: usize,
    pub op: String,
    pub supported: bool,
    pub inputs: Vec<TensorSummary>,
    pub outputs: Vec<TensorSummary>,
    pub macs: u64,
    pub parameter_bytes: u64,
}

/// One tensor as `inspect` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TensorSummary {
    pub id: TensorId,
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: String,
    pub constant: bool,
    pub quantization: Option<QuantSummary>,
}

/// Quantisation of one tensor, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct QuantSummary {
    /// `per-tensor` or `per-channel`.
    pub granularity: &'static str,
    /// Quantised dimension for per-channel parameters.
    pub axis: Option<usize>,
    pub channels: usize,
    /// One scale per channel (one for per-tensor parameters).
    pub scales: Vec<f32>,
    /// One zero point per channel (one for per-tensor parameters).
    pub zero_points: Vec<i64>,
}

/// Model totals.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub ops: usize,
    pub unsupported_ops: usize,
    pub op_counts: BTreeMap<String, usize>,
    pub macs: u64,
    pub parameter_bytes: u64,
    /// The largest tensor that is not a constant (activation), by bytes.
    pub largest_activation: Option<TensorSummary>,
    pub largest_activation_bytes: u64,
}

/// Builds the summary of `graph`; `model` names it (usually the file path).
pub fn inspect(graph: &Graph, model: &str) -> Inspection {
    let summary = |id: TensorId| summarize(graph, id);
    let ops: Vec<OpRow> = graph
        .ops
        .iter()
        .enumerate()
        .map(|(index, op)| op_row(graph, index, op))
        .collect();

    let mut op_counts = BTreeMap::new();
    for row in &ops {
        *op_counts.entry(row.op.clone()).or_insert(0) += 1;
    }
    let largest = graph
        .tensors
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_constant())
        .map(|(id, t)| (id, tensor_bytes(t)))
        .max_by_key(|&(id, bytes)| (bytes, std::cmp::Reverse(id)));
    let totals = Totals {
        ops: ops.len(),
        unsupported_ops: ops.iter().filter(|r| !r.supported).count(),
        op_counts,
        macs: ops.iter().map(|r| r.macs).fold(0, u64::saturating_add),
        parameter_bytes: ops
            .iter()
            .map(|r| r.parameter_bytes)
            .fold(0, u64::saturating_add),
        largest_activation: largest.map(|(id, _)| summary(id)),
        largest_activation_bytes: largest.map_or(0, |(_, bytes)| bytes),
    };

    Inspection {
        model: model.to_string(),
        description: graph.description.clone(),
        inputs: graph.inputs.iter().map(|&id| summary(id)).collect(),
        outputs: graph.outputs.iter().map(|&id| summary(id)).collect(),
        ops,
        totals,
    }
}

fn op_row(graph: &Graph, index: usize, op: &Op) -> OpRow {
    OpRow {
        index,
        op: op.kind.name().to_string(),
        supported: !op.kind.is_unsupported(),
        inputs: op
            .inputs
            .iter()
            .flatten()
            .map(|&id| summarize(graph, id))
            .collect(),
        outputs: op.outputs.iter().map(|&id| summarize(graph, id)).collect(),
        macs: if op.kind.is_unsupported() {
            0
        } else {
            cost::macs(graph, op)
        },
        parameter_bytes: cost::parameter_bytes(graph, op),
    }
}

fn tensor_bytes(tensor: &Tensor) -> u64 {
    tensor.dtype.byte_len(tensor.element_count()).unwrap_or(0) as u64
}

fn summarize(graph: &Graph, id: TensorId) -> TensorSummary {
    let tensor = graph.tensor(id);
    TensorSummary {
        id,
        name: tensor.name.clone(),
        shape: tensor.shape.clone(),
        dtype: tensor.dtype.name().to_string(),
        constant: tensor.is_constant(),
        quantization: tensor.quantization.as_ref().map(|q| QuantSummary {
            granularity: if q.is_per_tensor() {
                "per-tensor"
            } else {
                "per-channel"
            },
            axis: q.axis,
            channels: q.scales.len(),
            scales: q.scales.clone(),
            zero_points: q.zero_points.clone(),
        }),
    }
}

impl Inspection {
    /// Renders the summary as a text table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "model: {}", self.model);
        if !self.description.is_empty() {
            let _ = writeln!(out, "description: {}", escape_field(&self.description));
        }
        for (role, list) in [("input", &self.inputs), ("output", &self.outputs)] {
            for t in list {
                let _ = writeln!(
                    out,
                    "{role}: {} {} {} {}",
                    escape_field(&t.name),
                    format_shape(&t.shape),
                    t.dtype,
                    quant_text(t)
                );
            }
        }
        let _ = writeln!(out);

        let header = [
            "#",
            "op",
            "input",
            "output",
            "weights",
            "quantization",
            "MACs",
            "params",
        ];
        let mut rows: Vec<[String; 8]> = Vec::new();
        for row in &self.ops {
            let activation_in = row.inputs.iter().find(|t| !t.constant);
            // Weights are input 1 of the layers that run on the MAC array.
            let weights = row.inputs.get(1).filter(|t| t.constant && row.macs > 0);
            let output = row.outputs.first();
            let mut op = row.op.clone();
            if !row.supported {
                op.push_str(" (unsupported)");
            }
            let quant = [
                activation_in.map(|t| format!("in {}", quant_text(t))),
                weights.map(|t| format!("w {}", quant_text(t))),
                output.map(|t| format!("out {}", quant_text(t))),
            ];
            rows.push([
                row.index.to_string(),
                op,
                activation_in.map(typed_shape).unwrap_or_default(),
                output.map(typed_shape).unwrap_or_default(),
                weights.map(typed_shape).unwrap_or_default(),
                quant.into_iter().flatten().collect::<Vec<_>>().join(", "),
                group_digits(row.macs),
                group_digits(row.parameter_bytes),
            ]);
        }
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let line = |cells: &[String]| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                let right_aligned = matches!(i, 0 | 6 | 7);
                if right_aligned {
                    let _ = write!(text, "{cell:>width$}  ");
                } else {
                    let _ = write!(text, "{cell:<width$}  ");
                }
            }
            text.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&header.map(String::from)));
        for row in &rows {
            let _ = writeln!(out, "{}", line(row));
        }

        let t = &self.totals;
        let _ = writeln!(out);
        let counts: Vec<String> = t
            .op_counts
            .iter()
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        let _ = writeln!(out, "ops: {} ({})", t.ops, counts.join(", "));
        if t.unsupported_ops > 0 {
            let _ = writeln!(out, "unsupported ops: {}", t.unsupported_ops);
        }
        let _ = writeln!(out, "MACs: {}", group_digits(t.macs));
        let _ = writeln!(out, "parameter bytes: {}", group_digits(t.parameter_bytes));
        if let Some(largest) = &t.largest_activation {
            let _ = writeln!(
                out,
                "largest activation: {} bytes ({} {})",
                group_digits(t.largest_activation_bytes),
                escape_field(&largest.name),
                typed_shape(largest)
            );
        }
        out
    }
}

fn typed_shape(t: &TensorSummary) -> String {
    format!("{}{}", t.dtype, format_shape(&t.shape))
}

fn quant_text(t: &TensorSummary) -> String {
    match &t.quantization {
        None => "unquantized".into(),
        Some(q) if q.granularity == "per-tensor" => format!("zp {}", q.zero_points[0]),
        Some(q) => {
            let mut distinct: Vec<i64> = Vec::new();
            for &z in &q.zero_points {
                if !distinct.contains(&z) {
                    distinct.push(z);
                }
            }
            let zps: Vec<String> = distinct.iter().map(i64::to_string).collect();
            format!("per-channel({}) zp {}", q.channels, zps.join("/"))
        }
    }
}

/// Formats 1234567 as `1,234,567`.
pub fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn group_digits_inserts_commas() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(300_774_272), "300,774,272");
    }
}
