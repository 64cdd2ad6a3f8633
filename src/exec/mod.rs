//! The executor: runs a [`Graph`] on a [`Datapath`] per operator, keeping
//! every tensor.
//!
//! [`Executor::new`] (one datapath for every layer) or
//! [`Executor::with_datapaths`] (one per operator, for mixed precision)
//! prepares each operator once: decodes constants, maps operands onto the
//! datapath's formats, derives multipliers and shifts. [`Executor::run`]
//! then evaluates the operators in graph order and returns every tensor and
//! the accumulator overflow counts of each MAC layer. [`Executor::arithmetic`]
//! returns what the datapath did to a layer (operand requantisation, scale
//! errors). Every intermediate tensor is kept so that tests and dumps can
//! compare all of them, which costs memory proportional to the whole network.

pub mod arithmetic;
mod datapath;
mod error;
pub mod image;
pub mod kernels;
mod value;

pub use arithmetic::{
    ChannelScale, LayerArithmetic, OperandConversion, OperandMapping, OverflowCounts,
    TfliteOverload,
};
pub use datapath::{
    AccumulatorMode, BiasMode, Datapath, DatapathError, RequantMode, ZeroPointMode,
};
pub use error::ExecError;
pub use image::{ChannelRequant, MacImage, MacKind};
pub use value::{TensorData, TensorValue};

use crate::model::{format_shape, Graph};

/// A prepared operator: evaluates its outputs from its inputs.
pub trait Kernel: Send + Sync {
    /// Computes the operator's outputs, in the order of `Op::outputs`.
    /// `inputs` follows `Op::inputs`, with `None` for omitted optional inputs.
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError>;

    /// Computes the outputs like [`Kernel::eval`] and also returns the
    /// accumulator overflow counts, for a MAC layer whose datapath counts
    /// them; `None` otherwise.
    fn eval_counted(
        &self,
        inputs: &[Option<&TensorValue>],
    ) -> Result<(Vec<TensorValue>, Option<OverflowCounts>), ExecError> {
        Ok((self.eval(inputs)?, None))
    }

    /// Returns what the datapath does to this operator's arithmetic, for a
    /// MAC layer; `None` for every other operator.
    fn arithmetic(&self) -> Option<&LayerArithmetic> {
        None
    }

    /// Computes the outputs like [`Kernel::eval`] and, for a MAC layer,
    /// also returns the accumulators as the PPU received them, indexed like
    /// the output tensor; `None` for every other operator.
    fn eval_captured(
        &self,
        inputs: &[Option<&TensorValue>],
    ) -> Result<(Vec<TensorValue>, Option<Vec<i64>>), ExecError> {
        Ok((self.eval(inputs)?, None))
    }

    /// Describes a MAC layer in hardware terms, for export; `None` for
    /// every other operator.
    fn image(&self) -> Option<MacImage> {
        None
    }
}

/// Every tensor's value after a run, indexed by tensor id, and the
/// accumulator overflow counts, indexed by operator.
#[derive(Debug, Clone)]
pub struct Execution {
    pub values: Vec<Option<TensorValue>>,
    /// Per operator: the overflow counts of a MAC layer on a counting
    /// datapath, `None` for other operators and for MAC layers on the
    /// reference accumulator with TFLite requantisation (never counted, to
    /// keep that path fast).
    pub overflow: Vec<Option<OverflowCounts>>,
}

/// Per operator: the accumulators a MAC layer's PPU received, indexed like
/// its output tensor; `None` for other operators.
pub type CapturedAccumulators = Vec<Option<Vec<i64>>>;

/// A graph prepared for repeated runs, each operator on its own datapath.
pub struct Executor<'g> {
    graph: &'g Graph,
    kernels: Vec<Box<dyn Kernel>>,
    constants: Vec<Option<TensorValue>>,
    datapaths: Vec<Datapath>,
}

impl<'g> Executor<'g> {
    /// Prepares every operator of `graph` for `datapath`.
    ///
    /// Fails on an invalid datapath or on the first operator that cannot be
    /// executed, naming it and its index.
    pub fn new(graph: &'g Graph, datapath: &Datapath) -> Result<Executor<'g>, ExecError> {
        Self::with_datapaths(graph, |_| datapath.clone())
    }

    /// Prepares every operator of `graph`, operator `index` for
    /// `datapath_of(index)` (mixed precision). Only the MAC layers read
    /// their datapath; every datapath is validated all the same.
    ///
    /// Fails on the first invalid datapath or operator that cannot be
    /// executed, naming it and its index.
    pub fn with_datapaths(
        graph: &'g Graph,
        datapath_of: impl FnMut(usize) -> Datapath,
    ) -> Result<Executor<'g>, ExecError> {
        let datapaths: Vec<Datapath> = (0..graph.ops.len()).map(datapath_of).collect();
        for (index, (op, datapath)) in graph.ops.iter().zip(&datapaths).enumerate() {
            datapath
                .validate()
                .map_err(|source| ExecError::InvalidDatapath {
                    index,
                    op: op.kind.name().to_string(),
                    source,
                })?;
        }
        let constants = graph
            .tensors
            .iter()
            .map(TensorValue::from_constant)
            .collect();
        let kernels = graph
            .ops
            .iter()
            .zip(&datapaths)
            .enumerate()
            .map(|(index, (op, datapath))| kernels::prepare(graph, index, op, datapath))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Executor {
            graph,
            kernels,
            constants,
            datapaths,
        })
    }

    /// Returns the datapath operator `index` was prepared for.
    pub fn datapath(&self, index: usize) -> Option<&Datapath> {
        self.datapaths.get(index)
    }

    /// Returns what the datapath does to operator `index`'s arithmetic:
    /// `Some` for MAC layers (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED).
    pub fn arithmetic(&self, index: usize) -> Option<&LayerArithmetic> {
        self.kernels
            .get(index)
            .and_then(|kernel| kernel.arithmetic())
    }

    /// Runs the graph on `inputs` (one per graph input, in order).
    pub fn run(&self, inputs: &[TensorValue]) -> Result<Execution, ExecError> {
        self.run_with(inputs, None)
    }

    /// Runs the graph like [`Executor::run`] and also returns, per
    /// operator, the accumulators each MAC layer's PPU received, indexed
    /// like its output tensor (`None` for other operators). Slower than a
    /// plain run: MAC layers take the generic kernels.
    pub fn run_capturing(
        &self,
        inputs: &[TensorValue],
    ) -> Result<(Execution, CapturedAccumulators), ExecError> {
        let mut accumulators = vec![None; self.kernels.len()];
        let execution = self.run_with(inputs, Some(&mut accumulators))?;
        Ok((execution, accumulators))
    }

    /// Describes MAC layer `index` in hardware terms, for export; `None`
    /// for other operators.
    pub fn image(&self, index: usize) -> Option<MacImage> {
        self.kernels.get(index).and_then(|kernel| kernel.image())
    }

    fn run_with(
        &self,
        inputs: &[TensorValue],
        accumulators: Option<&mut CapturedAccumulators>,
    ) -> Result<Execution, ExecError> {
        let mut produced = vec![None; self.constants.len()];
        let mut overflow = vec![None; self.kernels.len()];
        self.bind_inputs(inputs, &mut produced)?;

        // Both halves run on rayon's pool. The operators run on one of its
        // threads, so a kernel's parallel loop splits its work from there.
        // Called from a thread outside the pool, every loop would instead
        // hand its work over and wait for it. Meanwhile another thread
        // copies the constants for the result, and the operators read them
        // in place.
        let (result, mut values) = rayon::join(
            || self.run_ops(&mut produced, &mut overflow, accumulators),
            || self.constants.clone(),
        );
        result?;

        for (value, produced) in values.iter_mut().zip(produced) {
            if produced.is_some() {
                *value = produced;
            }
        }
        Ok(Execution { values, overflow })
    }

    /// Evaluates the operators in graph order, storing the graph inputs'
    /// and each operator's outputs in `produced` and each MAC layer's
    /// overflow counts in `overflow`, or its accumulators in `accumulators`
    /// when given. An operand missing from `produced` is read from the
    /// constants.
    fn run_ops(
        &self,
        produced: &mut [Option<TensorValue>],
        overflow: &mut [Option<OverflowCounts>],
        mut accumulators: Option<&mut CapturedAccumulators>,
    ) -> Result<(), ExecError> {
        for (index, (op, kernel)) in self.graph.ops.iter().zip(&self.kernels).enumerate() {
            let mut operands = Vec::with_capacity(op.inputs.len());
            for input in &op.inputs {
                let value = |id: usize| {
                    let produced = produced.get(id).and_then(Option::as_ref);
                    produced.or_else(|| self.constants.get(id).and_then(Option::as_ref))
                };
                match input {
                    None => operands.push(None),
                    Some(id) => match value(*id) {
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
            let outputs = match accumulators.as_deref_mut() {
                Some(accumulators) => {
                    let (outputs, captured) = kernel.eval_captured(&operands)?;
                    accumulators[index] = captured;
                    outputs
                }
                None => {
                    let (outputs, counts) = kernel.eval_counted(&operands)?;
                    overflow[index] = counts;
                    outputs
                }
            };
            for (id, value) in op.outputs.iter().zip(outputs) {
                produced[*id] = Some(value);
            }
        }
        Ok(())
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
