//! FULLY_CONNECTED on int8 and 16x8 tensors, with per-tensor or per-channel
//! weights, bit for bit as the TFLite Micro reference kernels compute it.
//!
//! The input is read as `[batches, depth]` rows whatever its rank, and the
//! output keeps the shape the model gives it (`keep_num_dims` only changes
//! that shape). Limitation: only two-dimensional constant weights in the
//! default layout are supported; shuffled weights and int4 weights are
//! rejected.

use super::mac::{padded_k, Accumulation, Reference32, Reference64, VectorIsa};
use super::mac_capture::{capture_accumulators, Capture, CaptureSlots};
use super::mac_fold::FoldAccumulation;
use super::mac_gemm::{FastLayer, GemmFullyConnected};
use super::mac_layer::{
    channel_scales, channel_weight_sums, plan, read_activations, read_bias, read_weights,
    reference_register, widen_weights, Activations, Bias, ImageShape, LayerActivations, MacPlan,
    OutputElement, PlanInputs, Register, Weights,
};
use super::mac_simd::DotIsa;
use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{
    Datapath, ExecError, Kernel, LayerArithmetic, MacImage, MacKind, OverflowCounts, TensorData,
    TensorValue,
};
use crate::model::{format_shape, DataType, FullyConnectedAttrs, Tensor};
use crate::numeric::{quantize_multiplier, QuantizedMultiplier};
use rayon::prelude::*;

/// Output channels per parallel task.
const UNITS_PER_TASK: usize = 64;

/// A prepared FULLY_CONNECTED.
///
/// Matches TFLite Micro `reference_integer_ops::FullyConnected` (per-tensor
/// weights) and `FullyConnectedPerChannel`: `acc = bias + sum w * (x - zx)`
/// in int32 for int8 layers, and in the bias type for 16x8 layers, then the
/// PPU.
#[derive(Debug)]
struct FullyConnected {
    label: OpLabel,
    activations: Activations,
    input_len: usize,
    /// Elements of one input row, the weights' second dimension.
    depth: usize,
    /// Output channels, the weights' first dimension.
    units: usize,
    /// `depth` rounded up by [`padded_k`].
    depth_padded: usize,
    output_shape: Vec<usize>,
    /// Weights as `[units][depth]`, the file's layout, plus a zero tail to
    /// `depth_padded` on each row.
    weights: Vec<i16>,
    plan: MacPlan,
    isa: VectorIsa,
    /// The int8 fast path, when the layer and the CPU qualify.
    gemm: Option<GemmFullyConnected>,
}

/// Prepares FULLY_CONNECTED: weights `[units, depth]`, optional bias
/// `[units]`, input of `batches * depth` elements, output `[..., units]`.
pub(crate) fn prepare_fully_connected(
    context: &OpContext,
    attrs: &FullyConnectedAttrs,
    datapath: &Datapath,
) -> Result<Box<dyn Kernel>, ExecError> {
    Ok(Box::new(fully_connected(context, attrs, datapath)?))
}

fn fully_connected(
    context: &OpContext,
    attrs: &FullyConnectedAttrs,
    datapath: &Datapath,
) -> Result<FullyConnected, ExecError> {
    context.expect_arity(2, 3)?;
    let input = context.input(0)?;
    let filter = context.input(1)?;
    let output = context.output(0)?;
    let layer = read_activations(context, input, output, datapath)?;

    let [units, depth] = <[usize; 2]>::try_from(filter.shape.as_slice()).map_err(|_| {
        context.invalid(format!(
            "weights have shape {}; expected rank 2 [units, depth]",
            format_shape(&filter.shape)
        ))
    })?;
    let batches = check_shapes(context, input, output, units, depth)?;

    let weights = read_weights(context, filter, 0, units, datapath)?;
    let bias_types: &[DataType] = match layer.activations {
        Activations::Int8 => &[DataType::Int32],
        Activations::Int16 => &[DataType::Int64, DataType::Int32],
    };
    let bias_tensor = context.optional_input(2)?;
    let bias = read_bias(context, bias_tensor, units, bias_types)?;
    let register = reference_register(layer.activations, bias.as_ref());
    let weight_sums = channel_weight_sums(&weights.values, depth);
    let scales = scales(context, &layer, &weights, bias_tensor, bias.as_ref())?;
    let (output_min, output_max) =
        context.activation_range(attrs.activation, layer.activations.dtype(), layer.output)?;
    let fast = FastLayer {
        datapath,
        layer: &layer,
        register,
        weights: &weights,
        bias: bias.as_ref(),
        scales: &scales,
        output_range: (output_min, output_max),
        isa: DotIsa::detect(),
    };
    let gemm = GemmFullyConnected::new(&fast, units, depth);
    let plan = plan(
        datapath,
        PlanInputs {
            layer: &layer,
            register,
            bias: bias.as_ref(),
            weights: &weights,
            weight_sums: &weight_sums,
            scales,
            output_min,
            output_max,
            layer_index: context.index,
        },
    );

    Ok(FullyConnected {
        label: context.label(),
        activations: layer.activations,
        input_len: batches * depth,
        depth,
        units,
        depth_padded: padded_k(depth),
        output_shape: output.shape.clone(),
        weights: widen_weights(&weights.values, depth, padded_k(depth)),
        plan,
        isa: VectorIsa::detect(),
        gemm,
    })
}

/// Checks that the output is `[..., units]` and that the input contains one
/// row of `depth` elements per output row, and returns the number of rows.
fn check_shapes(
    context: &OpContext,
    input: &Tensor,
    output: &Tensor,
    units: usize,
    depth: usize,
) -> Result<usize, ExecError> {
    if units == 0 || depth == 0 {
        return Err(context.invalid(format!(
            "weights have shape [{units}, {depth}]; expected no empty dimension"
        )));
    }
    if output.shape.last() != Some(&units) {
        return Err(context.invalid(format!(
            "output has shape {}; expected {units} (the weights' units) as its last dimension",
            format_shape(&output.shape)
        )));
    }
    let batches = output.element_count() / units;
    if batches.checked_mul(depth) != Some(input.element_count()) {
        return Err(context.invalid(format!(
            "input has shape {} ({} elements); expected {batches} rows of the weights' depth {depth} for output {}",
            format_shape(&input.shape),
            input.element_count(),
            format_shape(&output.shape)
        )));
    }
    Ok(batches)
}

/// Derives the per-unit requantisation scales as TFLite Micro does.
///
/// Per-channel weights use `input_scale * weight_scale / output_scale` in
/// double. Per-tensor weights go through `GetQuantizedConvolutionMultipler`,
/// which multiplies the two scales in float32 before widening, a different
/// rounding of the same real number. That function also rejects a bias
/// whose scale differs from `input_scale * weight_scale` by more than 2% of
/// the output scale.
fn scales(
    context: &OpContext,
    layer: &LayerActivations,
    weights: &Weights,
    bias_tensor: Option<&Tensor>,
    bias: Option<&Bias>,
) -> Result<Vec<QuantizedMultiplier>, ExecError> {
    if weights.per_channel {
        return Ok(channel_scales(layer, weights));
    }

    let (input_scale, output_scale) = (layer.input.scale, layer.output.scale);
    let weight_scale = weights.scales.first().copied().unwrap_or(0.0);
    let bias_scale = bias_tensor
        .and_then(|t| t.quantization.as_ref())
        .and_then(|q| q.scales.first().copied());
    if let (Some(_), Some(bias_scale)) = (bias, bias_scale) {
        let product = f64::from(input_scale) * f64::from(weight_scale);
        let difference = (product - f64::from(bias_scale)).abs();
        if difference / f64::from(output_scale) > 0.02 {
            return Err(context.invalid(format!(
                "bias scale {bias_scale} differs from input scale * weight scale = {product} by more than 2% of the output scale {output_scale}"
            )));
        }
    }
    let product = f64::from(input_scale * weight_scale);
    let scale = quantize_multiplier(product / f64::from(output_scale));
    Ok(vec![scale; weights.scales.len()])
}

impl Kernel for FullyConnected {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        self.eval_counted(inputs).map(|(outputs, _)| outputs)
    }

    fn arithmetic(&self) -> Option<&LayerArithmetic> {
        Some(&self.plan.arithmetic)
    }

    fn eval_counted(
        &self,
        inputs: &[Option<&TensorValue>],
    ) -> Result<(Vec<TensorValue>, Option<OverflowCounts>), ExecError> {
        self.evaluate(inputs, None)
    }

    fn eval_captured(
        &self,
        inputs: &[Option<&TensorValue>],
    ) -> Result<(Vec<TensorValue>, Option<Vec<i64>>), ExecError> {
        let elements = self.input_len / self.depth.max(1) * self.units;
        capture_accumulators(elements, |slots| self.evaluate(inputs, slots))
    }

    fn image(&self) -> Option<MacImage> {
        let weights = self
            .weights
            .chunks_exact(self.depth_padded)
            .flat_map(|row| row[..self.depth].iter().map(|&w| i64::from(w)))
            .collect();
        let shape = ImageShape {
            kind: MacKind::FullyConnected,
            groups: 1,
            group_outputs: self.units,
            terms: self.depth,
        };
        Some(self.plan.image(shape, weights))
    }
}

impl FullyConnected {
    /// Computes the outputs, storing the accumulators in `capture` when
    /// given (then the int8 fast path is skipped).
    fn evaluate(
        &self,
        inputs: &[Option<&TensorValue>],
        capture: CaptureSlots<'_>,
    ) -> Result<(Vec<TensorValue>, Option<OverflowCounts>), ExecError> {
        let value = operand(&self.label, inputs, 0)?;
        check_value(
            &self.label,
            "input",
            value,
            self.activations.dtype(),
            self.input_len,
        )?;
        if let (Some(gemm), TensorData::I8(input), None) = (&self.gemm, &value.data, capture) {
            let outputs = vec![TensorValue {
                shape: self.output_shape.clone(),
                data: TensorData::I8(gemm.run(input)),
            }];
            return Ok((outputs, None));
        }
        let input = self
            .plan
            .operands(value, self.depth, self.depth_padded)
            .ok_or_else(|| {
                self.label.invalid(format!(
                    "input has type {}; expected int8 or int16",
                    value.dtype()
                ))
            })?;

        let mut counts = None;
        let data = match (self.activations, self.plan.register) {
            (Activations::Int8, Register::Bits32) => {
                i8::into_data(self.run_captured::<i8, _>(&Reference32, &input, capture))
            }
            (Activations::Int8, Register::Bits64) => {
                i8::into_data(self.run_captured::<i8, _>(&Reference64, &input, capture))
            }
            (Activations::Int16, Register::Bits32) => {
                i16::into_data(self.run_captured::<i16, _>(&Reference32, &input, capture))
            }
            (Activations::Int16, Register::Bits64) => {
                i16::into_data(self.run_captured::<i16, _>(&Reference64, &input, capture))
            }
            (activations, Register::Fold(config)) => {
                let fold = FoldAccumulation::new(config);
                let data = match activations {
                    Activations::Int8 => {
                        i8::into_data(self.run_captured::<i8, _>(&fold, &input, capture))
                    }
                    Activations::Int16 => {
                        i16::into_data(self.run_captured::<i16, _>(&fold, &input, capture))
                    }
                };
                counts = Some(fold.counts(self.input_len / self.depth * self.units));
                data
            }
        };
        let outputs = vec![TensorValue {
            shape: self.output_shape.clone(),
            data,
        }];
        Ok((outputs, counts))
    }

    /// Runs [`FullyConnected::run`], through [`Capture`] when `capture` is
    /// given.
    fn run_captured<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        input: &[i16],
        capture: CaptureSlots<'_>,
    ) -> Vec<T> {
        match capture {
            Some(values) => self.run(
                &Capture {
                    inner: accumulation,
                    values,
                },
                input,
            ),
            None => self.run(accumulation, input),
        }
    }

    /// Computes the output row by row, each row in parallel blocks of
    /// [`UNITS_PER_TASK`] output channels.
    fn run<T: OutputElement, A: Accumulation>(&self, accumulation: &A, input: &[i16]) -> Vec<T> {
        let batches = self.input_len / self.depth;
        let mut output = vec![T::default(); batches * self.units];
        for (batch, (row, output_row)) in input
            .chunks_exact(self.depth_padded)
            .zip(output.chunks_exact_mut(self.units))
            .enumerate()
        {
            output_row
                .par_chunks_mut(UNITS_PER_TASK)
                .enumerate()
                .for_each(|(block, outputs)| {
                    let first_unit = block * UNITS_PER_TASK;
                    let first_element = batch * self.units + first_unit;
                    match self.isa {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `isa` is Avx2 only when the CPU reported AVX2 at prepare.
                        VectorIsa::Avx2 => unsafe {
                            self.run_units_avx2(accumulation, row, first_element, outputs)
                        },
                        _ => self.run_units(accumulation, row, first_element, outputs),
                    }
                });
        }
        output
    }

    /// [`FullyConnected::run_units`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_units_avx2<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        row: &[i16],
        first_element: usize,
        outputs: &mut [T],
    ) {
        self.run_units(accumulation, row, first_element, outputs)
    }

    /// Computes `outputs.len()` output channels (at most
    /// [`UNITS_PER_TASK`]) for one input row; `first_element` is the flat
    /// output index of the first, so its unit is `first_element % units`.
    #[inline(always)]
    fn run_units<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        row: &[i16],
        first_element: usize,
        outputs: &mut [T],
    ) {
        let first_unit = first_element % self.units;
        let mut accumulators = [accumulation.finish(accumulation.start(0)); UNITS_PER_TASK];
        let accumulators = &mut accumulators[..outputs.len()];
        let weights =
            self.weights[first_unit * self.depth_padded..].chunks_exact(self.depth_padded);
        for ((accumulator, weights), &start) in accumulators
            .iter_mut()
            .zip(weights)
            .zip(&self.plan.starts[first_unit..])
        {
            *accumulator =
                accumulation.finish(accumulation.dot(accumulation.start(start), row, weights));
        }
        accumulation.post_process(
            &self.plan.ppu,
            first_unit,
            first_element,
            accumulators,
            outputs,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::TensorData;
    use crate::model::{Activation, Graph, Op, OpKind, Quantization};

    /// FULLY_CONNECTED of 150 int8 inputs to 70 units (two parallel blocks),
    /// per-tensor weights, with an int32 bias whose scale is `bias_scale`.
    fn graph(bias_scale: f32) -> Graph {
        let tensor = |name: &str,
                      shape: Vec<usize>,
                      dtype: DataType,
                      quantization: Quantization,
                      data: Option<Vec<u8>>| Tensor {
            name: name.into(),
            shape,
            dtype,
            quantization: Some(quantization),
            data,
            is_variable: false,
        };
        let weights: Vec<u8> = (0..70 * 150).map(|i| ((i * 31 + 9) % 256) as u8).collect();
        let bias: Vec<u8> = (0..70_i32)
            .flat_map(|u| (u * 1000 - 35_000).to_le_bytes())
            .collect();
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: vec![
                tensor(
                    "input",
                    vec![1, 150],
                    DataType::Int8,
                    Quantization::per_tensor(0.02, -7),
                    None,
                ),
                tensor(
                    "weights",
                    vec![70, 150],
                    DataType::Int8,
                    Quantization::per_tensor(0.004, 0),
                    Some(weights),
                ),
                tensor(
                    "output",
                    vec![1, 70],
                    DataType::Int8,
                    Quantization::per_tensor(0.3, 12),
                    None,
                ),
                tensor(
                    "bias",
                    vec![70],
                    DataType::Int32,
                    Quantization::per_tensor(bias_scale, 0),
                    Some(bias),
                ),
            ],
            ops: vec![Op {
                kind: OpKind::FullyConnected(FullyConnectedAttrs {
                    activation: Activation::Relu,
                    keep_num_dims: false,
                }),
                inputs: vec![Some(0), Some(1), Some(3)],
                outputs: vec![2],
            }],
            inputs: vec![0],
            outputs: vec![2],
        }
    }

    fn prepare(graph: &Graph) -> Result<FullyConnected, ExecError> {
        let OpKind::FullyConnected(attrs) = &graph.ops[0].kind else {
            unreachable!("the test graph is a FULLY_CONNECTED")
        };
        fully_connected(
            &OpContext::new(graph, 0, &graph.ops[0]),
            attrs,
            &Datapath::reference(),
        )
    }

    #[test]
    fn vector_isas_agree() {
        let graph = graph(0.02 * 0.004);
        let input = TensorValue {
            shape: vec![1, 150],
            data: TensorData::I8((0..150).map(|i| (i * 7 % 256) as u8 as i8).collect()),
        };
        let mut kernel = prepare(&graph).unwrap();
        let fast_detected = kernel.eval(&[Some(&input)]).unwrap();
        if let Some(gemm) = &mut kernel.gemm {
            gemm.set_isa(DotIsa::Portable);
        }
        let fast_portable = kernel.eval(&[Some(&input)]).unwrap();
        kernel.gemm = None;
        let detected = kernel.eval(&[Some(&input)]).unwrap();
        kernel.isa = VectorIsa::Baseline;
        let baseline = kernel.eval(&[Some(&input)]).unwrap();
        assert_eq!(
            detected,
            baseline,
            "generic kernel, {:?}",
            VectorIsa::detect()
        );
        assert_eq!(fast_portable, baseline, "fast path, portable");
        assert_eq!(fast_detected, baseline, "fast path, {:?}", DotIsa::detect());
    }

    #[test]
    fn distant_bias_scale_is_rejected() {
        // input * weight scale is 8e-5; 0.1 differs by far more than 2% of
        // the output scale 0.3.
        let message = prepare(&graph(0.1))
            .expect_err("prepare must fail")
            .to_string();
        assert!(message.contains("op 0 (FULLY_CONNECTED)"), "{message}");
        assert!(message.contains("bias scale 0.1"), "{message}");
    }
}
