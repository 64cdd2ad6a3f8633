//! Errors of the timing model. Each names the layer (operator index and
//! TFLite op name) it concerns and what is wrong.
//!
//! Limitation: a layer that cannot be estimated stops the whole estimate,
//! so a report never contains a partial network.

use super::BufferKind;
use thiserror::Error;

/// A failure to time a layer, or a GEMM given to the cycle-stepped model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimingError {
    #[error("unsupported op {op} at index {index}")]
    UnsupportedOp { index: usize, op: String },

    /// A tensor the layer needs is absent or has a shape the model cannot
    /// map onto the array.
    #[error("layer {index} ({op}): {message}")]
    InvalidLayer {
        index: usize,
        op: String,
        message: String,
    },

    /// Even the smallest tile the array can run needs more of one buffer
    /// than one bank holds.
    #[error(
        "layer {index} ({op} \"{name}\"): the smallest tile needs {needed_bytes} bytes of the \
         {buffer} buffer, but buffers.{key} gives {available_bytes} bytes per bank; \
         increase buffers.{key}"
    )]
    TileDoesNotFit {
        index: usize,
        op: String,
        name: String,
        buffer: BufferKind,
        key: &'static str,
        needed_bytes: u64,
        available_bytes: u64,
    },

    /// A cycle or byte count does not fit in 64 bits.
    #[error("layer {index} ({op}): {quantity} overflows 64 bits")]
    Overflow {
        index: usize,
        op: String,
        quantity: &'static str,
    },

    /// A sum over the layers does not fit in 64 bits.
    #[error("network: {quantity} overflows 64 bits")]
    TotalOverflow { quantity: &'static str },

    /// Operands given to the cycle-stepped model do not match its GEMM.
    #[error("invalid GEMM operands: {message}")]
    InvalidGemm { message: String },
}
