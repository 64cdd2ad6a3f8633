//! CONV_2D (including grouped convolution) on int8 and 16x8 NHWC tensors,
//! bit for bit as the TFLite Micro reference kernel computes it, and the
//! tests of both convolution kernels (DEPTHWISE_CONV_2D is in
//! `conv_depthwise`).
//!
//! The kernel runs the output rows in parallel with rayon. Each output
//! element is computed on its own, so results do not depend on the thread
//! count. Limitation: float32, uint8 and int4-weight layers are rejected.

use super::mac::{padded_k, Accumulation, Reference32, Reference64, VectorIsa};
use super::mac_capture::{capture_accumulators, Capture, CaptureSlots};
use super::mac_fold::FoldAccumulation;
use super::mac_gemm::{FastLayer, GemmConv};
use super::mac_layer::{
    channel_scales, channel_weight_sums, plan, read_activations, read_bias, read_weights,
    reference_register, widen_weights, Activations, ImageShape, MacPlan, OutputElement, PlanInputs,
    Register,
};
use super::mac_simd::DotIsa;
use super::mac_window::{rank4, read_window, Window, WindowAttrs};
use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{
    Datapath, ExecError, Kernel, LayerArithmetic, MacImage, MacKind, OverflowCounts, TensorData,
    TensorValue,
};
use crate::model::{Conv2dAttrs, DataType, Hw};
use rayon::prelude::*;

/// A prepared CONV_2D.
///
/// Matches TFLite Micro `reference_integer_ops::ConvPerChannel` (int8, and
/// the int16-activation overload with an int32 or int64 accumulator):
/// `acc = bias + sum w * (x - zx)` over the taps inside the image, then the
/// PPU. Groups follow the reference: `groups = cin / filter_cin`, and output
/// channel `oc` reads input channels of group `oc / (cout / groups)`.
#[derive(Debug)]
struct Conv2d {
    label: OpLabel,
    activations: Activations,
    window: Window,
    groups: usize,
    /// Input channels per group (the filter's last dimension).
    group_channels: usize,
    /// Output channels per group.
    group_filters: usize,
    /// `kh * kw * group_channels` rounded up by [`padded_k`].
    k_padded: usize,
    /// Weights as `[cout][ky][kx][group_channels]` plus a zero tail to
    /// `k_padded`: one K vector per output channel, in accumulation order.
    weights: Vec<i16>,
    plan: MacPlan,
    isa: VectorIsa,
    /// The int8 fast path, when the layer and the CPU qualify.
    gemm: Option<GemmConv>,
}

/// Prepares CONV_2D: filter `[cout, kh, kw, cin / groups]`, optional bias
/// `[cout]`.
pub(crate) fn prepare_conv2d(
    context: &OpContext,
    attrs: &Conv2dAttrs,
    datapath: &Datapath,
) -> Result<Box<dyn Kernel>, ExecError> {
    Ok(Box::new(conv2d(context, attrs, datapath)?))
}

fn conv2d(
    context: &OpContext,
    attrs: &Conv2dAttrs,
    datapath: &Datapath,
) -> Result<Conv2d, ExecError> {
    context.expect_arity(2, 3)?;
    let input = context.input(0)?;
    let filter = context.input(1)?;
    let output = context.output(0)?;
    let layer = read_activations(context, input, output, datapath)?;

    let [cout, kh, kw, group_channels] = rank4(context, "filter", &filter.shape)?;
    let cin = rank4(context, "input", &input.shape)?[3];
    if cin == 0 {
        return Err(context.invalid("input has 0 channels; expected at least 1"));
    }
    if group_channels == 0 || cin % group_channels != 0 {
        return Err(context.invalid(format!(
            "filter has {group_channels} input channels, which must divide the input's {cin} channels"
        )));
    }
    let groups = cin / group_channels;
    if cout == 0 || cout % groups != 0 {
        return Err(context.invalid(format!(
            "{cout} output channels do not split into {groups} groups"
        )));
    }
    let window = read_window(
        context,
        &input.shape,
        &output.shape,
        WindowAttrs {
            kernel: Hw { h: kh, w: kw },
            stride: attrs.stride,
            dilation: attrs.dilation,
            padding: attrs.padding,
            channels: cout,
        },
    )?;

    let weights = read_weights(context, filter, 0, cout, datapath)?;
    let bias = read_bias(
        context,
        context.optional_input(2)?,
        cout,
        bias_types(layer.activations, BiasRule::Conv),
    )?;
    let register = reference_register(layer.activations, bias.as_ref());
    let k = kh * kw * group_channels;
    let weight_sums = channel_weight_sums(&weights.values, k);
    let scales = channel_scales(&layer, &weights);
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
    let gemm = GemmConv::new(&fast, window, groups);
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

    Ok(Conv2d {
        label: context.label(),
        activations: layer.activations,
        window,
        groups,
        group_channels,
        group_filters: cout / groups,
        k_padded: padded_k(k),
        weights: widen_weights(&weights.values, k, padded_k(k)),
        plan,
        isa: VectorIsa::detect(),
        gemm,
    })
}

/// Layer family, for the bias types it accepts.
#[derive(Clone, Copy)]
pub(super) enum BiasRule {
    Conv,
    Depthwise,
}

/// Returns the bias types the reference accepts. int8 layers take int32.
/// 16x8 convolutions take int32 or int64, and the type picks the
/// accumulator. 16x8 depthwise convolutions take only int64, because their
/// reference reads the bias as int64.
pub(super) fn bias_types(activations: Activations, rule: BiasRule) -> &'static [DataType] {
    match (activations, rule) {
        (Activations::Int8, _) => &[DataType::Int32],
        (Activations::Int16, BiasRule::Conv) => &[DataType::Int64, DataType::Int32],
        (Activations::Int16, BiasRule::Depthwise) => &[DataType::Int64],
    }
}

impl Kernel for Conv2d {
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
        capture_accumulators(self.window.output.iter().product(), |slots| {
            self.evaluate(inputs, slots)
        })
    }

    fn image(&self) -> Option<MacImage> {
        let k = self.window.kernel.h * self.window.kernel.w * self.group_channels;
        let weights = self
            .weights
            .chunks_exact(self.k_padded)
            .flat_map(|row| row[..k].iter().map(|&w| i64::from(w)))
            .collect();
        let shape = ImageShape {
            kind: MacKind::Conv2d,
            groups: self.groups,
            group_outputs: self.group_filters,
            terms: k,
        };
        Some(self.plan.image(shape, weights))
    }
}

impl Conv2d {
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
            self.window.input.iter().product(),
        )?;
        if let (Some(gemm), TensorData::I8(input), None) = (&self.gemm, &value.data, capture) {
            let outputs = vec![TensorValue {
                shape: self.window.output.to_vec(),
                data: TensorData::I8(gemm.run(input)),
            }];
            return Ok((outputs, None));
        }
        // A pointwise kernel reads each input pixel as its patch, so pixels
        // are laid out padded to the K vector's length.
        let cin = self.window.input[3];
        let row_stride = if self.is_pointwise() {
            self.k_padded
        } else {
            cin
        };
        let input = self.plan.operands(value, cin, row_stride).ok_or_else(|| {
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
                counts = Some(fold.counts(self.window.output.iter().product()));
                data
            }
        };
        let outputs = vec![TensorValue {
            shape: self.window.output.to_vec(),
            data,
        }];
        Ok((outputs, counts))
    }

    /// Runs [`Conv2d::run`], through [`Capture`] when `capture` is given.
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
}

/// Per-task buffers of the convolution kernel.
struct ConvScratch<O> {
    /// One K vector per group, each padded to `k_padded`.
    patch: Vec<i16>,
    /// The finished accumulators of one output pixel.
    accumulators: Vec<O>,
}

impl Conv2d {
    /// True for a 1x1 kernel without groups: it never reads padding and its
    /// patch is one input pixel.
    fn is_pointwise(&self) -> bool {
        self.window.taps() == 1 && self.groups == 1
    }

    /// Computes the whole output, one task per output row.
    fn run<T: OutputElement, A: Accumulation>(&self, accumulation: &A, input: &[i16]) -> Vec<T> {
        let [_, _, out_w, cout] = self.window.output;
        let mut output = vec![T::default(); self.window.output.iter().product()];
        let scratch = || ConvScratch {
            patch: vec![0_i16; self.groups * self.k_padded],
            accumulators: vec![accumulation.finish(accumulation.start(0)); cout],
        };
        output
            .par_chunks_mut(out_w * cout)
            .enumerate()
            .for_each_init(scratch, |scratch, (row, output_row)| match self.isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `isa` is Avx2 only when the CPU reported AVX2 at prepare.
                VectorIsa::Avx2 => unsafe {
                    self.run_row_avx2(accumulation, input, row, scratch, output_row)
                },
                _ => self.run_row(accumulation, input, row, scratch, output_row),
            });
        output
    }

    /// [`Conv2d::run_row`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_row_avx2<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        input: &[i16],
        row: usize,
        scratch: &mut ConvScratch<A::Output>,
        output_row: &mut [T],
    ) {
        self.run_row(accumulation, input, row, scratch, output_row)
    }

    /// Computes output row `row` (counted over batch and height): per pixel,
    /// one dot product per output channel, then the PPU across channels.
    #[inline(always)]
    fn run_row<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        input: &[i16],
        row: usize,
        scratch: &mut ConvScratch<A::Output>,
        output_row: &mut [T],
    ) {
        let [_, in_h, in_w, _] = self.window.input;
        let [_, out_h, _, cout] = self.window.output;
        let (batch, oy) = (row / out_h, row % out_h);
        let k_padded = self.k_padded;
        let pointwise = self.is_pointwise();

        for (ox, output_pixel) in output_row.chunks_exact_mut(cout).enumerate() {
            let patch: &[i16] = if pointwise {
                let iy = oy * self.window.stride.h;
                let ix = ox * self.window.stride.w;
                &input[((batch * in_h + iy) * in_w + ix) * k_padded..][..k_padded]
            } else {
                self.fill_patch(input, batch, oy, ox, &mut scratch.patch);
                &scratch.patch
            };
            let groups = scratch
                .accumulators
                .chunks_exact_mut(self.group_filters)
                .zip(self.weights.chunks_exact(self.group_filters * k_padded))
                .zip(self.plan.starts.chunks_exact(self.group_filters))
                .zip(patch.chunks_exact(k_padded));
            for (((accumulators, weights), starts), operands) in groups {
                let channels = accumulators
                    .iter_mut()
                    .zip(weights.chunks_exact(k_padded))
                    .zip(starts);
                for ((accumulator, weights), &start) in channels {
                    *accumulator = accumulation.finish(accumulation.dot(
                        accumulation.start(start),
                        operands,
                        weights,
                    ));
                }
            }
            let first_element = (row * self.window.output[2] + ox) * cout;
            accumulation.post_process(
                &self.plan.ppu,
                0,
                first_element,
                &scratch.accumulators,
                output_pixel,
            );
        }
    }

    /// Gathers the operands of output pixel `(oy, ox)` as one K vector per
    /// group, `[group][ky][kx][group_channels]`, with padded taps set to the
    /// plan's pad value. The zero tail up to `k_padded` is never written.
    #[inline(always)]
    fn fill_patch(&self, input: &[i16], batch: usize, oy: usize, ox: usize, patch: &mut [i16]) {
        let [_, in_h, in_w, cin] = self.window.input;
        let group_channels = self.group_channels;
        let k_padded = self.k_padded;
        for ky in 0..self.window.kernel.h {
            let iy = self.window.input_row(oy, ky);
            for kx in 0..self.window.kernel.w {
                let tap_start = (ky * self.window.kernel.w + kx) * group_channels;
                match (iy, self.window.input_column(ox, kx)) {
                    (Some(iy), Some(ix)) => {
                        let pixel = &input[((batch * in_h + iy) * in_w + ix) * cin..][..cin];
                        for (group, channels) in pixel.chunks_exact(group_channels).enumerate() {
                            patch[group * k_padded + tap_start..][..group_channels]
                                .copy_from_slice(channels);
                        }
                    }
                    _ => {
                        for group in 0..self.groups {
                            patch[group * k_padded + tap_start..][..group_channels]
                                .fill(self.plan.pad_value);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::datapath::{BiasMode, ZeroPointMode};
    use crate::exec::kernels::conv_depthwise::depthwise_conv2d;
    use crate::exec::TensorData;
    use crate::model::DepthwiseConv2dAttrs;
    use crate::model::{Activation, Graph, Op, OpKind, Padding, Quantization, Tensor};

    /// A 3x3 SAME convolution, 5x6x3 input to 4 channels, int8 with nonzero
    /// zero points, per-channel scales and a bias, or a depthwise one with
    /// depth multiplier 2 on the same input.
    fn graph(depthwise: bool) -> Graph {
        let activation = |name: &str, shape: Vec<usize>, scale: f32, zero_point: i64| Tensor {
            name: name.into(),
            shape,
            dtype: DataType::Int8,
            quantization: Some(Quantization::per_tensor(scale, zero_point)),
            data: None,
            is_variable: false,
        };
        let (channels, weights_shape, axis) = if depthwise {
            (6, vec![1, 3, 3, 6], 3)
        } else {
            (4, vec![4, 3, 3, 3], 0)
        };
        let weight_count: usize = weights_shape.iter().product();
        let weights = Tensor {
            name: "weights".into(),
            shape: weights_shape,
            dtype: DataType::Int8,
            quantization: Some(Quantization {
                scales: (0..channels).map(|c| 0.01 + 0.003 * c as f32).collect(),
                zero_points: vec![0; channels],
                axis: Some(axis),
            }),
            data: Some(
                (0..weight_count)
                    .map(|i| ((i * 71 + 5) % 256) as u8)
                    .collect(),
            ),
            is_variable: false,
        };
        let bias = Tensor {
            name: "bias".into(),
            shape: vec![channels],
            dtype: DataType::Int32,
            quantization: None,
            data: Some(
                (0..channels as i32)
                    .flat_map(|c| (c * 997 - 1500).to_le_bytes())
                    .collect(),
            ),
            is_variable: false,
        };
        let kind = if depthwise {
            OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
                padding: Padding::Same,
                stride: Hw { h: 1, w: 2 },
                dilation: Hw { h: 1, w: 1 },
                depth_multiplier: 2,
                activation: Activation::None,
            })
        } else {
            OpKind::Conv2d(Conv2dAttrs {
                padding: Padding::Same,
                stride: Hw { h: 1, w: 2 },
                dilation: Hw { h: 1, w: 1 },
                activation: Activation::Relu6,
            })
        };
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: vec![
                activation("input", vec![1, 5, 6, 3], 0.04, 17),
                weights,
                activation("output", vec![1, 5, 3, channels], 0.05, -9),
                bias,
            ],
            ops: vec![Op {
                kind,
                inputs: vec![Some(0), Some(1), Some(3)],
                outputs: vec![2],
            }],
            inputs: vec![0],
            outputs: vec![2],
        }
    }

    fn input() -> TensorValue {
        let data = (0..90).map(|i| ((i * 37 + 3) % 256) as u8 as i8).collect();
        TensorValue {
            shape: vec![1, 5, 6, 3],
            data: TensorData::I8(data),
        }
    }

    /// Returns the implementations a test compares: the generic kernel on
    /// each vector extension, and the int8 fast path (where the layer and
    /// the CPU have one) on each of its instruction sets.
    fn paths() -> Vec<(VectorIsa, Option<DotIsa>)> {
        let mut paths = vec![
            (VectorIsa::Baseline, None),
            (VectorIsa::detect(), None),
            (VectorIsa::detect(), Some(DotIsa::Portable)),
        ];
        paths.extend(DotIsa::detect().map(|isa| (VectorIsa::detect(), Some(isa))));
        paths
    }

    /// Prepares the graph's operator for `datapath` and runs it on the
    /// generic kernel built for `isa`, or on the fast path with instruction
    /// set `fast` when the layer has one.
    fn run(
        graph: &Graph,
        datapath: &Datapath,
        isa: VectorIsa,
        fast: Option<DotIsa>,
    ) -> Vec<TensorValue> {
        let context = OpContext::new(graph, 0, &graph.ops[0]);
        let inputs = [Some(&input())];
        match &graph.ops[0].kind {
            OpKind::Conv2d(attrs) => {
                let mut kernel = conv2d(&context, attrs, datapath).unwrap();
                kernel.isa = isa;
                match fast {
                    None => kernel.gemm = None,
                    Some(fast) => kernel.gemm.iter_mut().for_each(|gemm| gemm.set_isa(fast)),
                }
                kernel.eval(&inputs).unwrap()
            }
            OpKind::DepthwiseConv2d(attrs) => {
                let mut kernel = depthwise_conv2d(&context, attrs, datapath).unwrap();
                kernel.isa = isa;
                match fast {
                    None => kernel.simd = None,
                    Some(fast) => kernel.simd.iter_mut().for_each(|simd| simd.set_isa(fast)),
                }
                kernel.eval(&inputs).unwrap()
            }
            _ => unreachable!("the test graphs hold convolutions"),
        }
    }

    /// Under the reference (wrapping) accumulator, where the bias enters and
    /// how the input zero point is removed cannot change any output.
    #[test]
    fn bias_and_zero_point_modes_agree_under_wrap() {
        for depthwise in [false, true] {
            let graph = graph(depthwise);
            let expected = run(&graph, &Datapath::reference(), VectorIsa::detect(), None);
            for bias in [BiasMode::Init, BiasMode::Post] {
                for zero_point in [ZeroPointMode::Subtract, ZeroPointMode::Fold] {
                    let datapath = Datapath {
                        bias,
                        zero_point,
                        ..Datapath::reference()
                    };
                    for (isa, fast) in paths() {
                        let output = run(&graph, &datapath, isa, fast);
                        assert_eq!(
                            output, expected,
                            "depthwise {depthwise}, {bias:?}, {zero_point:?}, {isa:?}, fast path {fast:?}"
                        );
                    }
                }
            }
        }
    }

    /// The vector build of the row loops and the baseline build agree.
    #[test]
    fn vector_isas_agree() {
        for depthwise in [false, true] {
            let graph = graph(depthwise);
            let baseline = run(&graph, &Datapath::reference(), VectorIsa::Baseline, None);
            for (isa, fast) in paths() {
                let output = run(&graph, &Datapath::reference(), isa, fast);
                assert_eq!(
                    baseline, output,
                    "depthwise {depthwise}, {isa:?}, fast path {fast:?}"
                );
            }
        }
    }
}
