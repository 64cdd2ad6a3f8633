//! Errors of the model readers. Every error names the file, and where it
//! concerns a tensor or an operator, its index and name.

use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// A model file could not be read into a graph.
#[derive(Debug, Error)]
#[error("{}: {kind}", path.display())]
pub struct ImportError {
    /// The model file (or the name given for an in-memory model).
    pub path: PathBuf,
    pub kind: Box<ImportErrorKind>,
}

/// Place in the model where a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Model,
    Subgraph,
    Tensor { index: usize, name: String },
    Op { index: usize, name: String },
    Buffer { index: usize },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Model => write!(f, "model"),
            Location::Subgraph => write!(f, "subgraph 0"),
            Location::Tensor { index, name } => write!(f, "tensor {index} ({name})"),
            Location::Op { index, name } => write!(f, "op {index} ({name})"),
            Location::Buffer { index } => write!(f, "buffer {index}"),
        }
    }
}

/// Cause of an import failure.
#[derive(Debug, Error)]
pub enum ImportErrorKind {
    #[error("cannot read file: {0}")]
    Io(#[source] std::io::Error),

    #[error("file is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },

    #[error("{0}")]
    Flatbuffer(String),

    #[error("{location}: required field {field} is missing")]
    Missing {
        location: Location,
        field: &'static str,
    },

    #[error("{location}: {field} refers to index {index}, but the model has {count} {what}")]
    IndexOutOfRange {
        location: Location,
        field: String,
        index: i64,
        count: usize,
        what: &'static str,
    },

    #[error("{location}: tensor type code {code} is not a TFLite tensor type")]
    UnknownTensorType { location: Location, code: i8 },

    #[error("{location}: shape {shape:?} has a negative dimension")]
    NegativeDimension { location: Location, shape: Vec<i32> },

    #[error("{location}: shape {shape:?} has more elements than this machine can address")]
    ShapeOverflow { location: Location, shape: Vec<i32> },

    #[error("{location}: shape {shape:?} of {dtype} declares {bytes} bytes, more than the {limit}-byte limit for one tensor")]
    TensorTooLarge {
        location: Location,
        shape: Vec<usize>,
        dtype: crate::model::DataType,
        bytes: u64,
        limit: u64,
    },

    #[error("{location}: the tensors up to this one declare {bytes} bytes in all, more than the {limit}-byte limit for a model")]
    ModelTooLarge {
        location: Location,
        bytes: u64,
        limit: u64,
    },

    #[error("{location}: constant data is {found} bytes, but shape {shape:?} of {dtype} needs {expected}")]
    DataLength {
        location: Location,
        shape: Vec<usize>,
        dtype: crate::model::DataType,
        expected: usize,
        found: usize,
    },

    #[error("{location}: data at file offset {offset} with size {size} lies outside the {file_len}-byte file")]
    ExternalDataOutOfFile {
        location: Location,
        offset: u64,
        size: u64,
        file_len: usize,
    },

    #[error("{location}: invalid quantization: {reason}")]
    Quantization { location: Location, reason: String },

    #[error("{location}: {role} count is {found}; expected {expected}")]
    OperandCount {
        location: Location,
        role: &'static str,
        found: usize,
        expected: String,
    },

    #[error("{location}: {field} = {value} is invalid; expected {allowed}")]
    Attribute {
        location: Location,
        field: String,
        value: String,
        allowed: String,
    },

    #[error("{location}: builtin options of type {found} given; expected type {expected}")]
    OptionsType {
        location: Location,
        found: u8,
        expected: u8,
    },

    #[error("{location}: {operand}: {reason}")]
    Operand {
        location: Location,
        operand: String,
        reason: String,
    },
}
