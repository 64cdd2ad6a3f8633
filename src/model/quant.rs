//! Affine quantisation parameters: `real = scale * (q - zero_point)`.
//!
//! One scale and zero point for the whole tensor, or one per slice along an
//! axis (per-channel weights). Import guarantees the invariants documented on
//! [`Quantization`]; code that builds one by hand should call
//! [`Quantization::check`].

use serde::Serialize;

/// Quantisation of one tensor.
///
/// Invariants after import: `scales` is non-empty, `zero_points` has the same
/// length, every scale is finite and not negative, and when `axis` is
/// `Some(a)` the tensor's dimension `a` equals `scales.len()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantization {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    /// `None` for per-tensor parameters; the quantised dimension otherwise.
    pub axis: Option<usize>,
}

impl Quantization {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Quantization {
            scales: vec![scale],
            zero_points: vec![zero_point],
            axis: None,
        }
    }

    /// True when there is one scale and zero point for the whole tensor.
    pub fn is_per_tensor(&self) -> bool {
        self.axis.is_none()
    }

    /// Returns the scale of slice `channel` (the single scale when per-tensor).
    pub fn scale(&self, channel: usize) -> f32 {
        if self.scales.len() == 1 {
            self.scales[0]
        } else {
            self.scales[channel]
        }
    }

    /// Returns the zero point of slice `channel` (the single one when per-tensor).
    pub fn zero_point(&self, channel: usize) -> i64 {
        if self.zero_points.len() == 1 {
            self.zero_points[0]
        } else {
            self.zero_points[channel]
        }
    }

    /// Checks the invariants against a tensor `shape`; returns a description
    /// of the first violation.
    pub fn check(&self, shape: &[usize]) -> Result<(), String> {
        if self.scales.is_empty() {
            return Err("no scale".into());
        }
        if self.zero_points.len() != self.scales.len() {
            return Err(format!(
                "{} zero points for {} scales; expected one per scale",
                self.zero_points.len(),
                self.scales.len()
            ));
        }
        if let Some(bad) = self.scales.iter().find(|s| !s.is_finite() || **s < 0.0) {
            return Err(format!(
                "scale {bad} is invalid; expected a finite value >= 0"
            ));
        }
        match self.axis {
            None if self.scales.len() != 1 => Err(format!(
                "{} scales without a quantized dimension",
                self.scales.len()
            )),
            Some(axis) if axis >= shape.len() => Err(format!(
                "quantized_dimension {axis} is out of range for a tensor of rank {}",
                shape.len()
            )),
            Some(axis) if shape[axis] != self.scales.len() => Err(format!(
                "{} scales along quantized_dimension {axis}, but that dimension has size {}",
                self.scales.len(),
                shape[axis]
            )),
            _ => Ok(()),
        }
    }
}
