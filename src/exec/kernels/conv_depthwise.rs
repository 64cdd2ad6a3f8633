//! DEPTHWISE_CONV_2D on int8 and 16x8 NHWC tensors, bit for bit as the
//! TFLite Micro reference kernel computes it.
//!
//! The kernel runs the output rows in parallel with rayon. Each output
//! element is computed on its own, so results do not depend on the thread
//! count. Limitation: float32, uint8 and int4-weight layers are rejected.

use super::conv::{bias_types, BiasRule};
use super::mac::{Accumulation, Reference32, Reference64, VectorIsa};
use super::mac_capture::{capture_accumulators, Capture, CaptureSlots};
use super::mac_depthwise::DepthwiseSimd;
use super::mac_fold::FoldAccumulation;
use super::mac_gemm::FastLayer;
use super::mac_layer::{
    channel_scales, plan, read_activations, read_bias, read_weights, reference_register,
    widen_weights, Activations, ImageShape, MacPlan, OutputElement, PlanInputs, Register,
};
use super::mac_simd::DotIsa;
use super::mac_window::{rank4, read_window, Window, WindowAttrs};
use super::op_context::{check_value, operand, OpContext, OpLabel};
use crate::exec::{
    Datapath, ExecError, Kernel, LayerArithmetic, MacImage, MacKind, OverflowCounts, TensorData,
    TensorValue,
};
use crate::model::{format_shape, DepthwiseConv2dAttrs, Hw};
use rayon::prelude::*;

/// A prepared DEPTHWISE_CONV_2D.
///
/// Matches TFLite Micro `reference_integer_ops::DepthwiseConvPerChannel`
/// (int8 with an int32 accumulator, 16x8 with an int64 one): output channel
/// `c` reads input channel `c / depth_multiplier`.
#[derive(Debug)]
pub(super) struct DepthwiseConv2d {
    label: OpLabel,
    activations: Activations,
    window: Window,
    depth_multiplier: usize,
    /// Weights as `[ky][kx][cout]`, the file's layout without its leading 1.
    weights: Vec<i16>,
    plan: MacPlan,
    pub(super) isa: VectorIsa,
    /// The int8 fast path, when the layer and the CPU qualify.
    pub(super) simd: Option<DepthwiseSimd>,
}

/// Prepares DEPTHWISE_CONV_2D: filter `[1, kh, kw, cin * depth_multiplier]`,
/// optional bias `[cout]`.
pub(crate) fn prepare_depthwise_conv2d(
    context: &OpContext,
    attrs: &DepthwiseConv2dAttrs,
    datapath: &Datapath,
) -> Result<Box<dyn Kernel>, ExecError> {
    Ok(Box::new(depthwise_conv2d(context, attrs, datapath)?))
}

pub(super) fn depthwise_conv2d(
    context: &OpContext,
    attrs: &DepthwiseConv2dAttrs,
    datapath: &Datapath,
) -> Result<DepthwiseConv2d, ExecError> {
    context.expect_arity(2, 3)?;
    let input = context.input(0)?;
    let filter = context.input(1)?;
    let output = context.output(0)?;
    let layer = read_activations(context, input, output, datapath)?;

    let [one, kh, kw, cout] = rank4(context, "filter", &filter.shape)?;
    let cin = rank4(context, "input", &input.shape)?[3];
    if cin == 0 {
        return Err(context.invalid("input has 0 channels; expected at least 1"));
    }
    if one != 1 {
        return Err(context.invalid(format!(
            "filter has shape {}; expected 1 as its first dimension",
            format_shape(&filter.shape)
        )));
    }
    if attrs.depth_multiplier == 0 || cin.checked_mul(attrs.depth_multiplier) != Some(cout) {
        return Err(context.invalid(format!(
            "depth_multiplier {} with {cin} input channels does not give the filter's {cout} channels",
            attrs.depth_multiplier
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

    let weights = read_weights(context, filter, 3, cout, datapath)?;
    let bias = read_bias(
        context,
        context.optional_input(2)?,
        cout,
        bias_types(layer.activations, BiasRule::Depthwise),
    )?;
    let register = reference_register(layer.activations, bias.as_ref());
    let weight_sums: Vec<i64> = (0..cout)
        .map(|channel| {
            weights
                .values
                .iter()
                .skip(channel)
                .step_by(cout)
                .map(|&w| i64::from(w))
                .sum()
        })
        .collect();
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
    let simd = DepthwiseSimd::new(&fast, window, attrs.depth_multiplier);
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

    Ok(DepthwiseConv2d {
        label: context.label(),
        activations: layer.activations,
        window,
        depth_multiplier: attrs.depth_multiplier,
        weights: widen_weights(&weights.values, cout, cout),
        plan,
        isa: VectorIsa::detect(),
        simd,
    })
}

impl Kernel for DepthwiseConv2d {
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
        // Stored `[ky][kx][cout]`; the image wants each channel's taps.
        let cout = self.window.output[3];
        let taps = self.window.taps();
        let weights = (0..cout)
            .flat_map(|channel| {
                (0..taps).map(move |tap| i64::from(self.weights[tap * cout + channel]))
            })
            .collect();
        let shape = ImageShape {
            kind: MacKind::DepthwiseConv2d,
            groups: self.window.input[3],
            group_outputs: self.depth_multiplier,
            terms: taps,
        };
        Some(self.plan.image(shape, weights))
    }
}

impl DepthwiseConv2d {
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
        if let (Some(simd), TensorData::I8(input), None) = (&self.simd, &value.data, capture) {
            let outputs = vec![TensorValue {
                shape: self.window.output.to_vec(),
                data: TensorData::I8(simd.run(input)),
            }];
            return Ok((outputs, None));
        }
        let cin = self.window.input[3];
        let input = self.plan.operands(value, cin, cin).ok_or_else(|| {
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

    /// Runs [`DepthwiseConv2d::run`], through [`Capture`] when `capture` is
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
}

/// Per-task buffers of the depthwise kernel.
struct DepthwiseScratch<R, O> {
    registers: Vec<R>,
    accumulators: Vec<O>,
    /// An input pixel repeated `depth_multiplier` times per channel.
    expanded: Vec<i16>,
    /// The operands of a padded tap.
    padding: Vec<i16>,
}

impl DepthwiseConv2d {
    /// Computes the whole output, one task per output row.
    fn run<T: OutputElement, A: Accumulation>(&self, accumulation: &A, input: &[i16]) -> Vec<T> {
        let [_, _, out_w, cout] = self.window.output;
        let mut output = vec![T::default(); self.window.output.iter().product()];
        let scratch = || DepthwiseScratch {
            registers: vec![accumulation.start(0); cout],
            accumulators: vec![accumulation.finish(accumulation.start(0)); cout],
            expanded: vec![0_i16; cout],
            padding: vec![self.plan.pad_value; cout],
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

    /// [`DepthwiseConv2d::run_row`] compiled for AVX2.
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
        scratch: &mut DepthwiseScratch<A::Register, A::Output>,
        output_row: &mut [T],
    ) {
        self.run_row(accumulation, input, row, scratch, output_row)
    }

    /// Computes output row `row` (counted over batch and height), tap by tap
    /// across all channels of a pixel, then the PPU across channels.
    #[inline(always)]
    fn run_row<T: OutputElement, A: Accumulation>(
        &self,
        accumulation: &A,
        input: &[i16],
        row: usize,
        scratch: &mut DepthwiseScratch<A::Register, A::Output>,
        output_row: &mut [T],
    ) {
        let [_, in_h, in_w, cin] = self.window.input;
        let [_, out_h, _, cout] = self.window.output;
        let (batch, oy) = (row / out_h, row % out_h);

        for (ox, output_pixel) in output_row.chunks_exact_mut(cout).enumerate() {
            for (register, &start) in scratch.registers.iter_mut().zip(&self.plan.starts) {
                *register = accumulation.start(start);
            }
            for ky in 0..self.window.kernel.h {
                let iy = self.window.input_row(oy, ky);
                for kx in 0..self.window.kernel.w {
                    let tap = ky * self.window.kernel.w + kx;
                    let weights = &self.weights[tap * cout..][..cout];
                    let operands: &[i16] = match (iy, self.window.input_column(ox, kx)) {
                        (Some(iy), Some(ix)) => {
                            let pixel = &input[((batch * in_h + iy) * in_w + ix) * cin..][..cin];
                            if self.depth_multiplier == 1 {
                                pixel
                            } else {
                                for (expanded, &x) in scratch
                                    .expanded
                                    .chunks_exact_mut(self.depth_multiplier)
                                    .zip(pixel)
                                {
                                    expanded.fill(x);
                                }
                                &scratch.expanded
                            }
                        }
                        _ => &scratch.padding,
                    };
                    accumulation.mac_lanes(&mut scratch.registers, tap, operands, weights);
                }
            }
            for (accumulator, &register) in scratch.accumulators.iter_mut().zip(&scratch.registers)
            {
                *accumulator = accumulation.finish(register);
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
}
