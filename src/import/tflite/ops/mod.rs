//! Operator importers, one file per operator family, and the registry from
//! TFLite builtin code to import function.
//!
//! An importer reads the builtin options, checks operand counts, ranks,
//! shapes and attribute ranges, and returns the typed [`OpKind`]. Adding an
//! operator touches its family's file and one line of [`importer`].

mod activation;
mod conv;
mod elementwise;
mod pool;
mod shape;

use super::builtin::code;
use super::schema::{self, OptionsTable};
use crate::import::{ImportErrorKind, Location};
use crate::model::{format_shape, Activation, Graph, OpKind, Padding, Tensor, TensorId};

/// Reads one operator's options and operands into an [`OpKind`].
pub(super) type ImportFn = fn(&OpContext) -> Result<OpKind, ImportErrorKind>;

/// The import function of builtin operator `builtin`, or `None` for an
/// operator fxsim does not execute (it is then kept as unsupported).
pub(super) fn importer(builtin: i32) -> Option<ImportFn> {
    Some(match builtin {
        code::CONV_2D => conv::conv_2d,
        code::DEPTHWISE_CONV_2D => conv::depthwise_conv_2d,
        code::FULLY_CONNECTED => conv::fully_connected,
        code::AVERAGE_POOL_2D => pool::average_pool_2d,
        code::MAX_POOL_2D => pool::max_pool_2d,
        code::ADD => elementwise::add,
        code::MUL => elementwise::mul,
        code::LOGISTIC => activation::logistic,
        code::SOFTMAX => activation::softmax,
        code::QUANTIZE => activation::quantize,
        code::DEQUANTIZE => activation::dequantize,
        code::PAD | code::PADV2 => shape::pad,
        code::MEAN => shape::mean,
        code::RESHAPE => shape::reshape,
        code::TRANSPOSE => shape::transpose,
        code::CONCATENATION => shape::concatenation,
        _ => return None,
    })
}

/// Operator data passed to an importer.
pub(super) struct OpContext<'a> {
    pub graph: &'a Graph,
    pub location: Location,
    pub operator: &'a schema::Operator<'a>,
    pub inputs: &'a [Option<TensorId>],
    pub outputs: &'a [TensorId],
}

/// Builtin options of an operator, with schema defaults when absent.
pub(super) struct Options<'a>(Option<OptionsTable<'a>>);

impl Options<'_> {
    pub fn i8(&self, id: u16, default: i8) -> i8 {
        self.0.map_or(default, |t| t.i8_field(id, default))
    }
    pub fn i32(&self, id: u16, default: i32) -> i32 {
        self.0.map_or(default, |t| t.i32_field(id, default))
    }
    pub fn f32(&self, id: u16, default: f32) -> f32 {
        self.0.map_or(default, |t| t.f32_field(id, default))
    }
}

impl<'a> OpContext<'a> {
    /// Returns the builtin options, checked to be of union type `expected` when
    /// present.
    pub fn options(&self, expected: u8) -> Result<Options<'a>, ImportErrorKind> {
        let found = self.operator.builtin_options_type();
        match self.operator.builtin_options() {
            Some(_) if found != expected => Err(ImportErrorKind::OptionsType {
                location: self.location.clone(),
                found,
                expected,
            }),
            table => Ok(Options(table)),
        }
    }

    /// Checks the number of inputs (omitted optional inputs included) and
    /// outputs.
    pub fn expect_counts(
        &self,
        inputs: std::ops::RangeInclusive<usize>,
        outputs: usize,
    ) -> Result<(), ImportErrorKind> {
        if !inputs.contains(&self.inputs.len()) {
            let expected = if inputs.start() == inputs.end() {
                inputs.start().to_string()
            } else {
                format!("{} to {}", inputs.start(), inputs.end())
            };
            return Err(ImportErrorKind::OperandCount {
                location: self.location.clone(),
                role: "input",
                found: self.inputs.len(),
                expected,
            });
        }
        if self.outputs.len() != outputs {
            return Err(ImportErrorKind::OperandCount {
                location: self.location.clone(),
                role: "output",
                found: self.outputs.len(),
                expected: outputs.to_string(),
            });
        }
        Ok(())
    }

    /// Input `position`, which must be present.
    pub fn input(&self, position: usize, role: &str) -> Result<&'a Tensor, ImportErrorKind> {
        self.inputs
            .get(position)
            .copied()
            .flatten()
            .map(|id| self.graph.tensor(id))
            .ok_or_else(|| self.operand_error(position, role, "required input is missing".into()))
    }

    /// Input `position` if present (optional operands such as bias).
    pub fn optional_input(&self, position: usize) -> Option<&'a Tensor> {
        self.inputs
            .get(position)
            .copied()
            .flatten()
            .map(|id| self.graph.tensor(id))
    }

    /// Output `position`; `expect_counts` has checked it exists.
    pub fn output(&self, position: usize) -> Result<&'a Tensor, ImportErrorKind> {
        self.outputs
            .get(position)
            .map(|&id| self.graph.tensor(id))
            .ok_or_else(|| {
                self.attribute_error("outputs", "none".into(), format!("an output {position}"))
            })
    }

    /// Input `position` with rank `rank`.
    pub fn input_of_rank(
        &self,
        position: usize,
        role: &str,
        rank: usize,
    ) -> Result<&'a Tensor, ImportErrorKind> {
        let tensor = self.input(position, role)?;
        if tensor.shape.len() != rank {
            return Err(self.operand_error(
                position,
                role,
                format!(
                    "shape {} has rank {}; expected rank {rank}",
                    format_shape(&tensor.shape),
                    tensor.shape.len()
                ),
            ));
        }
        Ok(tensor)
    }

    pub fn operand_error(&self, position: usize, role: &str, reason: String) -> ImportErrorKind {
        ImportErrorKind::Operand {
            location: self.location.clone(),
            operand: format!("input {position} ({role})"),
            reason,
        }
    }

    pub fn output_error(&self, reason: String) -> ImportErrorKind {
        ImportErrorKind::Operand {
            location: self.location.clone(),
            operand: "output 0".into(),
            reason,
        }
    }

    pub fn attribute_error(&self, field: &str, value: String, allowed: String) -> ImportErrorKind {
        ImportErrorKind::Attribute {
            location: self.location.clone(),
            field: field.into(),
            value,
            allowed,
        }
    }

    /// Checks that output 0 has shape `expected`.
    pub fn expect_output_shape(&self, expected: &[usize]) -> Result<(), ImportErrorKind> {
        let output = self.output(0)?;
        if output.shape != expected {
            return Err(self.output_error(format!(
                "shape {} does not match {} computed from the inputs and options",
                format_shape(&output.shape),
                format_shape(expected)
            )));
        }
        Ok(())
    }

    /// Decodes a `Padding` enum value.
    pub fn padding(&self, raw: i8) -> Result<Padding, ImportErrorKind> {
        match raw {
            0 => Ok(Padding::Same),
            1 => Ok(Padding::Valid),
            _ => Err(self.attribute_error(
                "padding",
                raw.to_string(),
                "0 (SAME) or 1 (VALID)".into(),
            )),
        }
    }

    /// Decodes an `ActivationFunctionType` enum value.
    pub fn activation(&self, raw: i8) -> Result<Activation, ImportErrorKind> {
        Ok(match raw {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            5 => Activation::SignBit,
            _ => {
                return Err(self.attribute_error(
                    "fused_activation_function",
                    raw.to_string(),
                    "0 to 5 (NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT)".into(),
                ))
            }
        })
    }

    /// Checks a stride or dilation: at least 1 and at most the input extent
    /// it steps over.
    pub fn step(&self, field: &str, raw: i32, extent: usize) -> Result<usize, ImportErrorKind> {
        let limit = extent.max(1);
        match usize::try_from(raw) {
            Ok(value) if value >= 1 && value <= limit => Ok(value),
            _ => Err(self.attribute_error(
                field,
                raw.to_string(),
                format!("1 to {limit} (the input extent)"),
            )),
        }
    }

    /// Checks a positive size attribute (kernel extent, depth multiplier).
    pub fn positive(&self, field: &str, raw: i32) -> Result<usize, ImportErrorKind> {
        match usize::try_from(raw) {
            Ok(value) if value >= 1 => Ok(value),
            _ => Err(self.attribute_error(field, raw.to_string(), "an integer >= 1".into())),
        }
    }
}
