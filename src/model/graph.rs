//! The graph: tensors, operators in execution order, inputs and outputs.

use super::{Op, Tensor, TensorId};
use serde::Serialize;

/// A network as fxsim represents it, independent of the file format.
///
/// `ops` is in execution order: every operator's inputs are graph inputs,
/// constants, or outputs of earlier operators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    /// Subgraph name from the file (often empty).
    pub name: String,
    /// Model description string from the file (often the converter's name).
    pub description: String,
    pub tensors: Vec<Tensor>,
    pub ops: Vec<Op>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

impl Graph {
    /// Returns the tensor with index `id`.
    ///
    /// Import guarantees that every id stored in the graph is in range; an
    /// id from elsewhere should be checked with [`Graph::get_tensor`].
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id]
    }

    /// Returns the tensor with index `id`, or `None` when out of range.
    pub fn get_tensor(&self, id: TensorId) -> Option<&Tensor> {
        self.tensors.get(id)
    }

    /// Returns the operator that writes tensor `id`, if any.
    pub fn producer(&self, id: TensorId) -> Option<usize> {
        self.ops.iter().position(|op| op.outputs.contains(&id))
    }
}
