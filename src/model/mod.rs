//! The graph IR: one representation of a quantised network that every part of
//! fxsim (executor, timing, resources, export) works on.
//!
//! A [`Graph`] holds [`Tensor`]s (shape, [`DataType`], [`Quantization`],
//! constant data) and [`Op`]s in execution order, each with a typed
//! [`OpKind`]. Importers build it; nothing downstream sees the file format.

pub mod cost;
mod dtype;
pub mod geometry;
mod graph;
mod op;
mod quant;
mod tensor;

pub use dtype::DataType;
pub use graph::Graph;
pub use op::{
    Activation, Conv2dAttrs, DepthwiseConv2dAttrs, FullyConnectedAttrs, Hw, Op, OpKind, Padding,
    Pool2dAttrs,
};
pub use quant::Quantization;
pub use tensor::{format_shape, Tensor, TensorId};
