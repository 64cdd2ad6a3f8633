//! A model output for people: raw values, dequantised values and the top
//! classes.

use crate::exec::TensorValue;
use crate::model::{format_shape, Tensor};
use std::fmt::Write;

/// Outputs with at most this many elements are printed whole.
const PRINT_ALL_LIMIT: usize = 16;

/// Describes output tensor `tensor` with value `value`: every element when
/// small, and the `top_k` largest elements with their dequantised values.
pub fn describe_output(tensor: &Tensor, value: &TensorValue, top_k: usize) -> String {
    let mut out = String::new();
    let raw = value.to_i64_vec();
    let dequantize = |q: i64| -> Option<f64> {
        let quant = tensor.quantization.as_ref()?;
        Some(f64::from(quant.scale(0)) * (q - quant.zero_point(0)) as f64)
    };
    let _ = writeln!(
        out,
        "output {} {} {}",
        tensor.name,
        format_shape(&value.shape),
        value.dtype()
    );

    if raw.len() <= PRINT_ALL_LIMIT {
        let values: Vec<String> = raw.iter().map(i64::to_string).collect();
        let _ = writeln!(out, "  values: [{}]", values.join(", "));
        if tensor
            .quantization
            .as_ref()
            .is_some_and(|q| q.is_per_tensor())
        {
            let real: Vec<String> = raw
                .iter()
                .filter_map(|&q| dequantize(q))
                .map(|r| format!("{r:.4}"))
                .collect();
            let _ = writeln!(out, "  dequantized: [{}]", real.join(", "));
        }
    }

    let mut order: Vec<usize> = (0..raw.len()).collect();
    // Stable sort: equal scores keep index order, so output is deterministic.
    order.sort_by(|&a, &b| raw[b].cmp(&raw[a]));
    if raw.len() > 1 && top_k > 0 {
        let _ = writeln!(out, "  top {}:", top_k.min(raw.len()));
        for &index in order.iter().take(top_k) {
            match dequantize(raw[index]) {
                Some(real) => {
                    let _ = writeln!(out, "    class {index:>5}  {:>6}  {real:.4}", raw[index]);
                }
                None => {
                    let _ = writeln!(out, "    class {index:>5}  {:>6}", raw[index]);
                }
            }
        }
    }
    out
}
