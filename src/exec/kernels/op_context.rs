//! Prepare-time access to one operator's tensors: operands by position,
//! per-tensor quantisation, constant operands, the fused-activation clamp
//! and the typed errors that name the operator.
//!
//! Limitation: quantisation is read as TFLite Micro reads it for activations,
//! the first scale and zero point only, so a per-channel activation tensor
//! is treated as per-tensor.

use crate::exec::ExecError;
use crate::model::{Activation, DataType, Graph, Op, Tensor, TensorId};

/// One operator of a graph, with the index that every error message names.
#[derive(Clone, Copy)]
pub(crate) struct OpContext<'g> {
    pub graph: &'g Graph,
    pub index: usize,
    pub op: &'g Op,
}

/// Per-tensor affine quantisation as the reference kernels use it:
/// `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TensorQuant {
    pub scale: f32,
    pub zero_point: i32,
}

/// Identifies an operator in errors raised at eval time, when the graph is
/// no longer at hand.
#[derive(Debug, Clone)]
pub(crate) struct OpLabel {
    pub index: usize,
    pub op: String,
}

impl OpLabel {
    /// Builds an [`ExecError::InvalidOp`] for this operator.
    pub fn invalid(&self, message: impl Into<String>) -> ExecError {
        ExecError::InvalidOp {
            index: self.index,
            op: self.op.clone(),
            message: message.into(),
        }
    }
}

impl<'g> OpContext<'g> {
    pub fn new(graph: &'g Graph, index: usize, op: &'g Op) -> Self {
        OpContext { graph, index, op }
    }

    /// Returns the operator's TFLite name (`ADD`).
    pub fn name(&self) -> &'g str {
        self.op.kind.name()
    }

    /// Returns a label for eval-time errors.
    pub fn label(&self) -> OpLabel {
        OpLabel {
            index: self.index,
            op: self.name().to_string(),
        }
    }

    /// Builds an [`ExecError::InvalidOp`] naming this operator.
    pub fn invalid(&self, message: impl Into<String>) -> ExecError {
        ExecError::InvalidOp {
            index: self.index,
            op: self.name().to_string(),
            message: message.into(),
        }
    }

    /// Builds an [`ExecError::UnsupportedType`] for operand `what`.
    pub fn unsupported_type(&self, what: &str, dtype: DataType, expected: &str) -> ExecError {
        ExecError::UnsupportedType {
            index: self.index,
            op: self.name().to_string(),
            what: what.to_string(),
            dtype,
            expected: expected.to_string(),
        }
    }

    /// Checks that the operator has between `min` and `max` inputs (counting
    /// omitted optional ones) and exactly one output.
    pub fn expect_arity(&self, min: usize, max: usize) -> Result<(), ExecError> {
        let count = self.op.inputs.len();
        if count < min || count > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.invalid(format!("has {count} inputs; expected {expected}")));
        }
        if self.op.outputs.len() != 1 {
            return Err(self.invalid(format!("has {} outputs; expected 1", self.op.outputs.len())));
        }
        Ok(())
    }

    /// Returns the id of input `position`, which must be present and in
    /// range.
    pub fn input_id(&self, position: usize) -> Result<TensorId, ExecError> {
        let id = self
            .op
            .input(position)
            .ok_or_else(|| self.invalid(format!("input {position} is missing")))?;
        self.check_id(id, "input", position)
    }

    /// Returns input `position`, which must be present.
    pub fn input(&self, position: usize) -> Result<&'g Tensor, ExecError> {
        Ok(self.graph.tensor(self.input_id(position)?))
    }

    /// Returns input `position` if the operator lists it, `None` when
    /// omitted.
    pub fn optional_input(&self, position: usize) -> Result<Option<&'g Tensor>, ExecError> {
        match self.op.input(position) {
            None => Ok(None),
            Some(id) => Ok(Some(
                self.graph.tensor(self.check_id(id, "input", position)?),
            )),
        }
    }

    /// Returns output `position`.
    pub fn output(&self, position: usize) -> Result<&'g Tensor, ExecError> {
        let id = *self
            .op
            .outputs
            .get(position)
            .ok_or_else(|| self.invalid(format!("output {position} is missing")))?;
        Ok(self.graph.tensor(self.check_id(id, "output", position)?))
    }

    fn check_id(&self, id: TensorId, role: &str, position: usize) -> Result<TensorId, ExecError> {
        if self.graph.get_tensor(id).is_none() {
            return Err(self.invalid(format!(
                "{role} {position} refers to tensor {id}, but the graph has {} tensors",
                self.graph.tensors.len()
            )));
        }
        Ok(id)
    }

    /// Checks that `tensor` (operand `what`) has one of the `allowed` types.
    pub fn expect_dtype(
        &self,
        what: &str,
        tensor: &Tensor,
        allowed: &[DataType],
    ) -> Result<DataType, ExecError> {
        if allowed.contains(&tensor.dtype) {
            return Ok(tensor.dtype);
        }
        let names: Vec<&str> = allowed.iter().map(|dtype| dtype.name()).collect();
        Err(self.unsupported_type(what, tensor.dtype, &names.join(" or ")))
    }

    /// Returns the per-tensor scale and zero point of `tensor` (operand
    /// `what`).
    ///
    /// Fails when the tensor has no quantisation or a zero point outside i32.
    /// The scale may be 0; kernels that divide by it check it themselves.
    pub fn quant(&self, what: &str, tensor: &Tensor) -> Result<TensorQuant, ExecError> {
        let quantization = tensor.quantization.as_ref().ok_or_else(|| {
            self.invalid(format!(
                "{what} ({}) has no quantization parameters; expected a scale and zero point",
                tensor.name
            ))
        })?;
        let (Some(&scale), Some(&zero_point)) = (
            quantization.scales.first(),
            quantization.zero_points.first(),
        ) else {
            return Err(self.invalid(format!(
                "{what} ({}) has an empty scale or zero point list",
                tensor.name
            )));
        };
        let zero_point = i32::try_from(zero_point).map_err(|_| {
            self.invalid(format!(
                "{what} ({}) has zero point {zero_point}, outside the int32 range",
                tensor.name
            ))
        })?;
        Ok(TensorQuant { scale, zero_point })
    }

    /// Like [`OpContext::quant`], and also checks that the scale is finite and
    /// greater than zero.
    pub fn positive_quant(&self, what: &str, tensor: &Tensor) -> Result<TensorQuant, ExecError> {
        let quant = self.quant(what, tensor)?;
        if !(quant.scale.is_finite() && quant.scale > 0.0) {
            return Err(self.invalid(format!(
                "{what} ({}) has scale {}; expected a finite value greater than 0",
                tensor.name, quant.scale
            )));
        }
        Ok(quant)
    }

    /// Returns the integer contents of constant input `position` (paddings,
    /// axes, permutations), widened to i64.
    pub fn constant_ints(&self, position: usize, what: &str) -> Result<Vec<i64>, ExecError> {
        let tensor = self.input(position)?;
        if !tensor.is_constant() {
            return Err(self.invalid(format!(
                "{what} ({}) is not a constant tensor; only constant {what} are supported",
                tensor.name
            )));
        }
        let values = tensor
            .data_as_i64()
            .ok_or_else(|| self.unsupported_type(what, tensor.dtype, "int32 or int64"))?;
        if values.len() != tensor.element_count() {
            return Err(self.invalid(format!(
                "{what} ({}) holds {} values for shape {:?}",
                tensor.name,
                values.len(),
                tensor.shape
            )));
        }
        Ok(values)
    }

    /// Returns the clamp `[min, max]` of the fused `activation` on an output
    /// of type `dtype` quantised as `output`.
    ///
    /// Matches TFLite `CalculateActivationRangeQuantized`: each bound is
    /// `zero_point + round(bound / scale)` computed in float32 with ties away
    /// from zero, then intersected with the type's range. TANH and SIGN_BIT
    /// do not clamp there, so they give the full range here too.
    pub fn activation_range(
        &self,
        activation: Activation,
        dtype: DataType,
        output: TensorQuant,
    ) -> Result<(i32, i32), ExecError> {
        let (type_min, type_max) = match dtype {
            DataType::Int8 => (i32::from(i8::MIN), i32::from(i8::MAX)),
            DataType::UInt8 => (0, i32::from(u8::MAX)),
            DataType::Int16 => (i32::from(i16::MIN), i32::from(i16::MAX)),
            other => return Err(self.unsupported_type("output", other, "int8, uint8 or int16")),
        };
        let quantize = |real: f32| -> Result<i32, ExecError> {
            let rounded = (real / output.scale).round();
            // The reference rejects bounds whose quotient leaves the int32 range.
            if !(rounded >= i32::MIN as f32 && rounded <= i32::MAX as f32) {
                return Err(self.invalid(format!(
                    "fused activation {activation}: bound {real} / output scale {} is outside the int32 range",
                    output.scale
                )));
            }
            Ok(output.zero_point.wrapping_add(rounded as i32))
        };
        let range = match activation {
            Activation::Relu => (type_min.max(quantize(0.0)?), type_max),
            Activation::Relu6 => (type_min.max(quantize(0.0)?), type_max.min(quantize(6.0)?)),
            Activation::ReluN1To1 => (type_min.max(quantize(-1.0)?), type_max.min(quantize(1.0)?)),
            Activation::None | Activation::Tanh | Activation::SignBit => (type_min, type_max),
        };
        Ok(range)
    }
}

/// Checks that `value` has the type and element count the kernel prepared
/// for; eval-time guard against values that do not match the graph.
pub(crate) fn check_value(
    label: &OpLabel,
    what: &str,
    value: &crate::exec::TensorValue,
    dtype: DataType,
    len: usize,
) -> Result<(), ExecError> {
    if value.dtype() != dtype || value.len() != len {
        return Err(label.invalid(format!(
            "{what} is {} with {} elements; expected {dtype} with {len} elements",
            value.dtype(),
            value.len()
        )));
    }
    Ok(())
}

/// Returns the value of operand `position` at eval time.
pub(crate) fn operand<'v>(
    label: &OpLabel,
    inputs: &[Option<&'v crate::exec::TensorValue>],
    position: usize,
) -> Result<&'v crate::exec::TensorValue, ExecError> {
    inputs
        .get(position)
        .copied()
        .flatten()
        .ok_or_else(|| label.invalid(format!("input {position} has no value")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OpKind, Quantization};

    fn graph_with_output(scale: f32, zero_point: i64) -> Graph {
        let tensor = Tensor {
            name: "out".into(),
            shape: vec![1],
            dtype: DataType::Int8,
            quantization: Some(Quantization::per_tensor(scale, zero_point)),
            data: None,
            is_variable: false,
        };
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: vec![tensor],
            ops: vec![Op {
                kind: OpKind::Logistic,
                inputs: vec![Some(0)],
                outputs: vec![0],
            }],
            inputs: vec![0],
            outputs: vec![0],
        }
    }

    #[test]
    fn activation_range_relu6_rounds_bounds() {
        let graph = graph_with_output(0.05, -10);
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let quant = TensorQuant {
            scale: 0.05,
            zero_point: -10,
        };
        // round(6 / 0.05) = 120, and -10 + 120 = 110.
        let range = context
            .activation_range(Activation::Relu6, DataType::Int8, quant)
            .unwrap();
        assert_eq!(range, (-10, 110));
    }

    #[test]
    fn activation_range_clips_to_type() {
        let graph = graph_with_output(0.01, 0);
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let quant = TensorQuant {
            scale: 0.01,
            zero_point: 0,
        };
        assert_eq!(
            context
                .activation_range(Activation::Relu6, DataType::Int8, quant)
                .unwrap(),
            (0, 127)
        );
        assert_eq!(
            context
                .activation_range(Activation::ReluN1To1, DataType::Int8, quant)
                .unwrap(),
            (-100, 100)
        );
        assert_eq!(
            context
                .activation_range(Activation::None, DataType::Int16, quant)
                .unwrap(),
            (-32768, 32767)
        );
        assert_eq!(
            context
                .activation_range(Activation::Tanh, DataType::Int8, quant)
                .unwrap(),
            (-128, 127)
        );
    }

    #[test]
    fn quant_without_parameters_is_an_error() {
        let mut graph = graph_with_output(1.0, 0);
        graph.tensors[0].quantization = None;
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let message = context
            .quant("output", &graph.tensors[0])
            .unwrap_err()
            .to_string();
        assert!(message.contains("op 0 (LOGISTIC)"), "{message}");
        assert!(message.contains("no quantization"), "{message}");
    }
}
