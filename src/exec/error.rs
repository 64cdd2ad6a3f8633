//! Errors of the executor; each names the layer (operator index) it concerns.

use super::DatapathError;
use crate::model::DataType;
use thiserror::Error;

/// Failure to start or to finish an execution.
#[derive(Debug, Error)]
pub enum ExecError {
    #[error("unsupported op {op} at index {index}")]
    UnsupportedOp { index: usize, op: String },

    #[error("op {index} ({op}): {what} has type {dtype}, which this kernel does not support; expected {expected}")]
    UnsupportedType {
        index: usize,
        op: String,
        what: String,
        dtype: DataType,
        expected: String,
    },

    #[error("op {index} ({op}): {message}")]
    InvalidOp {
        index: usize,
        op: String,
        message: String,
    },

    #[error("op {index} ({op}): invalid datapath: {source}")]
    InvalidDatapath {
        index: usize,
        op: String,
        source: DatapathError,
    },

    #[error("model has {expected} inputs, {found} given")]
    InputCount { expected: usize, found: usize },

    #[error("input {position} ({name}): shape {found} given, the model expects {expected}")]
    InputShape {
        position: usize,
        name: String,
        expected: String,
        found: String,
    },

    #[error("input {position} ({name}): type {found} given, the model expects {expected}")]
    InputType {
        position: usize,
        name: String,
        expected: DataType,
        found: DataType,
    },

    #[error("op {index} ({op}): input tensor {tensor} has no value (not a graph input, constant or earlier output)")]
    MissingValue {
        index: usize,
        op: String,
        tensor: usize,
    },
}

impl ExecError {
    /// True when the given inputs do not fit the model's (count, type or
    /// shape), so the fault is in the input file rather than the model.
    pub fn is_input_mismatch(&self) -> bool {
        matches!(
            self,
            ExecError::InputCount { .. }
                | ExecError::InputShape { .. }
                | ExecError::InputType { .. }
        )
    }
}
