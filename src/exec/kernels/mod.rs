//! Kernels, one file per operator family, and the table from operator kind to
//! its prepare function.

mod activation;
mod conv;
mod conv_depthwise;
mod elementwise;
mod fully_connected;
mod mac;
mod mac_capture;
mod mac_depthwise;
mod mac_fold;
mod mac_gemm;
mod mac_layer;
mod mac_operands;
mod mac_plan;
mod mac_ppu;
mod mac_simd;
mod mac_window;
mod op_context;
mod pool;
mod quantize;
mod reduce;
mod shape;

pub(crate) use mac_plan::MacOperandMap;

use super::{Datapath, ExecError, Kernel};
use crate::model::{Graph, Op, OpKind};
use op_context::OpContext;

/// Prepares operator `index` of `graph` for `datapath`.
pub fn prepare(
    graph: &Graph,
    index: usize,
    op: &Op,
    datapath: &Datapath,
) -> Result<Box<dyn Kernel>, ExecError> {
    let _ = (graph, datapath);
    let context = OpContext::new(graph, index, op);
    match &op.kind {
        OpKind::Conv2d(attrs) => conv::prepare_conv2d(&context, attrs, datapath),
        OpKind::DepthwiseConv2d(attrs) => {
            conv_depthwise::prepare_depthwise_conv2d(&context, attrs, datapath)
        }
        OpKind::FullyConnected(attrs) => {
            fully_connected::prepare_fully_connected(&context, attrs, datapath)
        }
        OpKind::AveragePool2d(attrs) => pool::prepare_average(&context, attrs),
        OpKind::MaxPool2d(attrs) => pool::prepare_max(&context, attrs),
        OpKind::Add { activation } => elementwise::prepare_add(&context, *activation),
        OpKind::Mul { activation } => elementwise::prepare_mul(&context, *activation),
        OpKind::Pad => shape::prepare_pad(&context),
        OpKind::Reshape => shape::prepare_reshape(&context),
        OpKind::Transpose => shape::prepare_transpose(&context),
        OpKind::Concatenation { axis, activation } => {
            shape::prepare_concatenation(&context, *axis, *activation)
        }
        OpKind::Mean { keep_dims } => reduce::prepare_mean(&context, *keep_dims),
        OpKind::Softmax { beta } => activation::prepare_softmax(&context, *beta),
        OpKind::Logistic => activation::prepare_logistic(&context),
        OpKind::Quantize => quantize::prepare_quantize(&context),
        OpKind::Dequantize => quantize::prepare_dequantize(&context),
        kind => Err(ExecError::UnsupportedOp {
            index,
            op: kind.name().to_string(),
        }),
    }
}
