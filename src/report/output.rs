//! A model output for people: raw values, dequantised values and the top
//! classes.

use crate::exec::{TensorData, TensorValue};
use crate::io::escape_field;
use crate::model::{format_shape, Tensor};
use std::fmt::Write;

/// Outputs with at most this many elements are printed whole.
const PRINT_ALL_LIMIT: usize = 16;

/// Describes output tensor `tensor` with value `value`: every element when
/// small, and the `top_k` largest elements with their dequantised values.
///
/// Float outputs are printed and ranked as floats. Integer outputs are
/// ranked by their real values (`scale * (q - zero_point)`, per channel
/// when the last dimension is quantised per channel) when the tensor is
/// quantised, else by the integers.
pub fn describe_output(tensor: &Tensor, value: &TensorValue, top_k: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "output {} {} {}",
        escape_field(&tensor.name),
        format_shape(&value.shape),
        value.dtype()
    );

    let (raw, real) = elements(tensor, value);
    if raw.len() <= PRINT_ALL_LIMIT {
        let _ = writeln!(out, "  values: [{}]", raw.join(", "));
        if let Some(real) = &real {
            let text: Vec<String> = real.iter().map(|r| format!("{r:.4}")).collect();
            let _ = writeln!(out, "  dequantized: [{}]", text.join(", "));
        }
    }

    let scores: Vec<f64> = match (&real, &value.data) {
        (Some(real), _) => real.clone(),
        (None, TensorData::F32(v)) => v.iter().map(|&x| f64::from(x)).collect(),
        (None, _) => value.to_i64_vec().into_iter().map(|q| q as f64).collect(),
    };
    if scores.len() > 1 && top_k > 0 {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        // Stable sort: equal scores keep index order, so output is deterministic.
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let _ = writeln!(out, "  top {}:", top_k.min(scores.len()));
        for &index in order.iter().take(top_k) {
            match &real {
                Some(real) => {
                    let _ = writeln!(
                        out,
                        "    class {index:>5}  {:>6}  {:.4}",
                        raw[index], real[index]
                    );
                }
                None => {
                    let _ = writeln!(out, "    class {index:>5}  {:>10}", raw[index]);
                }
            }
        }
    }
    out
}

/// Elements as text, and their real values when the tensor is quantised.
fn elements(tensor: &Tensor, value: &TensorValue) -> (Vec<String>, Option<Vec<f64>>) {
    if let TensorData::F32(v) = &value.data {
        return (v.iter().map(|x| format!("{x:.4}")).collect(), None);
    }
    let raw = value.to_i64_vec();
    let text = raw.iter().map(i64::to_string).collect();
    let Some(quant) = &tensor.quantization else {
        return (text, None);
    };
    let channels = value.shape.last().copied().unwrap_or(1).max(1);
    let per_last_axis = quant.axis.is_some_and(|a| a + 1 == value.shape.len());
    if !quant.is_per_tensor() && !per_last_axis {
        return (text, None);
    }
    let real = raw
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let channel = if per_last_axis { i % channels } else { 0 };
            f64::from(quant.scale(channel)) * (q - quant.zero_point(channel)) as f64
        })
        .collect();
    (text, Some(real))
}
