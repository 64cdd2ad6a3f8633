//! Operators of the graph and their typed attributes.
//!
//! Attributes carry what the file states, already range-checked by import
//! (strides and dilations at least 1, known padding and activation enums).
//! Operators fxsim cannot execute are kept as [`OpKind::Unsupported`] so that
//! `inspect` can still list them.

use super::TensorId;
use serde::Serialize;
use std::fmt;

/// Padding scheme of convolutions and pooling, as TensorFlow defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Output extent `ceil(in / stride)`; odd total padding puts the extra
    /// row or column after (bottom, right).
    Same,
    /// No padding: output extent `ceil((in - effective_kernel + 1) / stride)`.
    Valid,
}

/// Activation fused into an operator's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
    Tanh,
    SignBit,
}

/// Height and width pair (strides, dilations, kernel sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hw {
    pub h: usize,
    pub w: usize,
}

/// Attributes of CONV_2D.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conv2dAttrs {
    pub padding: Padding,
    pub stride: Hw,
    pub dilation: Hw,
    pub activation: Activation,
}

/// Attributes of DEPTHWISE_CONV_2D.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthwiseConv2dAttrs {
    pub padding: Padding,
    pub stride: Hw,
    pub dilation: Hw,
    pub depth_multiplier: usize,
    pub activation: Activation,
}

/// Attributes of FULLY_CONNECTED.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FullyConnectedAttrs {
    pub activation: Activation,
    /// Keep the input's leading dimensions instead of flattening to 2-D.
    pub keep_num_dims: bool,
}

/// Attributes of AVERAGE_POOL_2D and MAX_POOL_2D.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool2dAttrs {
    pub padding: Padding,
    pub stride: Hw,
    pub filter: Hw,
    pub activation: Activation,
}

/// Operator kind, with its attributes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpKind {
    Conv2d(Conv2dAttrs),
    DepthwiseConv2d(DepthwiseConv2dAttrs),
    FullyConnected(FullyConnectedAttrs),
    AveragePool2d(Pool2dAttrs),
    MaxPool2d(Pool2dAttrs),
    Add {
        activation: Activation,
    },
    Mul {
        activation: Activation,
    },
    /// PAD and PADV2 (the latter with an explicit constant operand).
    Pad,
    Mean {
        keep_dims: bool,
    },
    Reshape,
    Transpose,
    Concatenation {
        axis: i32,
        activation: Activation,
    },
    Softmax {
        beta: f32,
    },
    Logistic,
    Quantize,
    Dequantize,
    /// An operator fxsim reads but cannot execute.
    Unsupported {
        name: String,
    },
}

impl OpKind {
    /// Returns the TFLite builtin name (`CONV_2D`), or the custom or unknown name.
    pub fn name(&self) -> &str {
        match self {
            OpKind::Conv2d(_) => "CONV_2D",
            OpKind::DepthwiseConv2d(_) => "DEPTHWISE_CONV_2D",
            OpKind::FullyConnected(_) => "FULLY_CONNECTED",
            OpKind::AveragePool2d(_) => "AVERAGE_POOL_2D",
            OpKind::MaxPool2d(_) => "MAX_POOL_2D",
            OpKind::Add { .. } => "ADD",
            OpKind::Mul { .. } => "MUL",
            OpKind::Pad => "PAD",
            OpKind::Mean { .. } => "MEAN",
            OpKind::Reshape => "RESHAPE",
            OpKind::Transpose => "TRANSPOSE",
            OpKind::Concatenation { .. } => "CONCATENATION",
            OpKind::Softmax { .. } => "SOFTMAX",
            OpKind::Logistic => "LOGISTIC",
            OpKind::Quantize => "QUANTIZE",
            OpKind::Dequantize => "DEQUANTIZE",
            OpKind::Unsupported { name } => name,
        }
    }

    /// True for operators the executor does not implement.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, OpKind::Unsupported { .. })
    }
}

/// One operator instance, in execution order in [`Graph::ops`](super::Graph::ops).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    pub kind: OpKind,
    /// Input tensors; `None` marks an omitted optional input (TFLite's -1,
    /// for example a convolution without bias).
    pub inputs: Vec<Option<TensorId>>,
    pub outputs: Vec<TensorId>,
}

impl Op {
    /// Returns the tensor of input `position`, if present.
    pub fn input(&self, position: usize) -> Option<TensorId> {
        self.inputs.get(position).copied().flatten()
    }

    /// Returns the first output tensor (every operator fxsim executes has one).
    pub fn output(&self) -> Option<TensorId> {
        self.outputs.first().copied()
    }
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Padding::Same => "same",
            Padding::Valid => "valid",
        })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::ReluN1To1 => "relu_n1_to_1",
            Activation::Relu6 => "relu6",
            Activation::Tanh => "tanh",
            Activation::SignBit => "sign_bit",
        })
    }
}
