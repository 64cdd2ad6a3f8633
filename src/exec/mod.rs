//! The executor: runs a [`Graph`] on a [`Datapath`], keeping every tensor.
//!
//! [`Executor::new`] prepares each operator once (decodes constants, derives
//! multipliers and shifts); [`Executor::run`] then evaluates the operators in
//! graph order. Every intermediate tensor is kept so that tests and dumps can
//! compare all of them, which costs memory proportional to the whole network.

mod datapath;
mod error;
pub mod kernels;
mod value;

pub use datapath::{AccumulatorMode, BiasMode, Datapath, RequantMode, ZeroPointMode};
pub use error::ExecError;
pub use value::{TensorData, TensorValue};

use crate::model::{format_shape, Graph};

/// A prepared operator: evaluates its outputs from its inputs.
pub trait Kernel: Send + Sync {
    /// Computes the operator's outputs, in the order of `Op::outputs`.
    /// `inputs` follows `Op::inputs`, with `None` for omitted optional inputs.
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError>;
}

/// Every tensor's value after a run, indexed by tensor id.
#[derive(Debug, Clone)]
pub struct Execution {
    pub values: Vec<Option<TensorValue>>,
}

/// A graph prepared for repeated runs on one datapath.
pub struct Executor<'g> {
    graph: &'g Graph,
    kernels: Vec<Box<dyn Kernel>>,
    constants: Vec<Option<TensorValue>>,
}

impl<'g> Executor<'g> {
    /// Prepares every operator of `graph` for `datapath`.
    ///
    /// Fails on the first operator that cannot be executed, naming it and its
    /// index.
    pub fn new(graph: &'g Graph, datapath: &Datapath) -> Result<Executor<'g>, ExecError> {
        let constants = graph
            .tensors
            .iter()
            .map(TensorValue::from_constant)
            .collect();
        let kernels = graph
            .ops
            .iter()
            .enumerate()
            .map(|(index, op)| kernels::prepare(graph, index, op, datapath))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Executor {
            graph,
            kernels,
            constants,
        })
    }

    /// Runs the graph on `inputs` (one per graph input, in order).
    pub fn run(&self, inputs: &[TensorValue]) -> Result<Execution, ExecError> {
        let mut values = self.constants.clone();
        self.bind_inputs(inputs, &mut values)?;

        for (index, (op, kernel)) in self.graph.ops.iter().zip(&self.kernels).enumerate() {
            let mut operands = Vec::with_capacity(op.inputs.len());
            for input in &op.inputs {
                match input {
                    None => operands.push(None),
                    Some(id) => match values.get(*id).and_then(Option::as_ref) {
                        Some(value) => operands.push(Some(value)),
                        None => {
                            return Err(ExecError::MissingValue {
                                index,
                                op: op.kind.name().to_string(),
                                tensor: *id,
                            })
                        }
                    },
                }
            }
            let outputs = kernel.eval(&operands)?;
            for (id, value) in op.outputs.iter().zip(outputs) {
                values[*id] = Some(value);
            }
        }

        Ok(Execution { values })
    }

    fn bind_inputs(
        &self,
        inputs: &[TensorValue],
        values: &mut [Option<TensorValue>],
    ) -> Result<(), ExecError> {
        if inputs.len() != self.graph.inputs.len() {
            return Err(ExecError::InputCount {
                expected: self.graph.inputs.len(),
                found: inputs.len(),
            });
        }
        for (position, (&id, value)) in self.graph.inputs.iter().zip(inputs).enumerate() {
            let tensor = self.graph.tensor(id);
            if value.dtype() != tensor.dtype {
                return Err(ExecError::InputType {
                    position,
                    name: tensor.name.clone(),
                    expected: tensor.dtype,
                    found: value.dtype(),
                });
            }
            if value.shape != tensor.shape || value.len() != tensor.element_count() {
                return Err(ExecError::InputShape {
                    position,
                    name: tensor.name.clone(),
                    expected: format_shape(&tensor.shape),
                    found: format_shape(&value.shape),
                });
            }
            values[id] = Some(value.clone());
        }
        Ok(())
    }
}

/// Prepares and runs `graph` once on `inputs`.
pub fn run(
    graph: &Graph,
    datapath: &Datapath,
    inputs: &[TensorValue],
) -> Result<Execution, ExecError> {
    Executor::new(graph, datapath)?.run(inputs)
}
