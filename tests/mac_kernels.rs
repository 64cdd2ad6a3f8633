//! Property tests of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED on the
//! reference datapath against naive direct loops kept in this file.
//!
//! Each problem struct contains the layer's parameters and data, a proptest
//! strategy, `reference()` and `run()`. `reference()` writes the TFLite
//! Micro reference semantics as plain loops with explicit padding checks,
//! exact i64 sums wrapped to the accumulator width, and an i128 model of the
//! requantisation. `run()` builds a one-operator [`Graph`] by hand and runs
//! the executor. Shapes, strides, dilations, padding, grouping, depth
//! multipliers, per-channel and per-tensor scales, zero points, biases and
//! fused activations are all drawn at random, for int8 and 16x8 layers.
//!
//! The multiplier and shift come from `numeric::quantize_multiplier`,
//! which is tested on its own; what is checked here is the kernels'
//! arithmetic and the effective-scale formulas of TFLite Micro's prepare.

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::model::{
    Activation, Conv2dAttrs, DataType, DepthwiseConv2dAttrs, FullyConnectedAttrs, Graph, Hw, Op,
    OpKind, Padding, Quantization, Tensor,
};
use fxsim::numeric::{quantize_multiplier, QuantizedMultiplier};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Shared pieces: quantisation, naive requantisation, graph building.

/// Element type of the activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activations {
    Int8,
    Int16,
}

impl Activations {
    fn dtype(self) -> DataType {
        match self {
            Activations::Int8 => DataType::Int8,
            Activations::Int16 => DataType::Int16,
        }
    }

    fn range(self) -> (i32, i32) {
        match self {
            Activations::Int8 => (-128, 127),
            Activations::Int16 => (-32768, 32767),
        }
    }
}

/// Bias of a layer, as stored in the model.
#[derive(Debug, Clone, PartialEq)]
enum BiasValues {
    None,
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl BiasValues {
    fn get(&self, channel: usize) -> i64 {
        match self {
            BiasValues::None => 0,
            BiasValues::I32(values) => i64::from(values[channel]),
            BiasValues::I64(values) => values[channel],
        }
    }

    /// True when the reference accumulates in 64 bits: 16x8 layers with an
    /// int64 bias or none.
    fn wide_accumulator(&self, activations: Activations) -> bool {
        activations == Activations::Int16 && !matches!(self, BiasValues::I32(_))
    }
}

/// Quantisation of a layer's activations and weights, and its fused
/// activation.
#[derive(Debug, Clone)]
struct LayerQuant {
    activations: Activations,
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    /// One scale (per-tensor) or one per output channel.
    weight_scales: Vec<f32>,
    activation: Activation,
}

impl LayerQuant {
    fn weight_scale(&self, channel: usize) -> f32 {
        if self.weight_scales.len() == 1 {
            self.weight_scales[0]
        } else {
            self.weight_scales[channel]
        }
    }

    /// `input_scale * weight_scale / output_scale` in double, as TFLite's
    /// convolution prepare computes it.
    fn conv_multiplier(&self, channel: usize) -> QuantizedMultiplier {
        let scale = f64::from(self.input_scale) * f64::from(self.weight_scale(channel))
            / f64::from(self.output_scale);
        quantize_multiplier(scale)
    }

    /// Computes the fused activation's clamp: `zero_point + round(bound / scale)` in
    /// float32, intersected with the type's range.
    fn clamp_range(&self) -> (i32, i32) {
        let (type_min, type_max) = self.activations.range();
        let quantize =
            |real: f32| self.output_zero_point + (real / self.output_scale).round() as i32;
        match self.activation {
            Activation::Relu => (type_min.max(quantize(0.0)), type_max),
            Activation::Relu6 => (type_min.max(quantize(0.0)), type_max.min(quantize(6.0))),
            Activation::ReluN1To1 => (type_min.max(quantize(-1.0)), type_max.min(quantize(1.0))),
            _ => (type_min, type_max),
        }
    }

    /// Computes the output value of an exact accumulator sum `sum` of channel
    /// `channel` scaled by `multiplier`.
    fn output(&self, sum: i64, multiplier: QuantizedMultiplier, wide: bool) -> i64 {
        let scaled = if wide {
            requantize_64(sum, multiplier)
        } else {
            requantize_32(sum as i32, multiplier)
        };
        let (min, max) = self.clamp_range();
        let clamped = scaled
            .wrapping_add(self.output_zero_point)
            .max(min)
            .min(max);
        match self.activations {
            Activations::Int8 => i64::from(clamped as i8),
            Activations::Int16 => i64::from(clamped as i16),
        }
    }

    fn input_quantization(&self) -> Quantization {
        Quantization::per_tensor(self.input_scale, i64::from(self.input_zero_point))
    }

    fn output_quantization(&self) -> Quantization {
        Quantization::per_tensor(self.output_scale, i64::from(self.output_zero_point))
    }

    fn weight_quantization(&self, axis: usize) -> Quantization {
        let count = self.weight_scales.len();
        Quantization {
            scales: self.weight_scales.clone(),
            zero_points: vec![0; count],
            axis: (count > 1).then_some(axis),
        }
    }
}

/// TFLite `MultiplyByQuantizedMultiplier(int32_t, ...)`, modelled in i128:
/// the left shift wraps in i32, the doubling high multiply rounds with the
/// nudge `2^30` (or `1 - 2^30` for negative products) and truncates, and
/// the right shift rounds half away from zero.
fn requantize_32(x: i32, multiplier: QuantizedMultiplier) -> i32 {
    let left = multiplier.shift.max(0);
    let right = (-multiplier.shift).max(0);
    let shifted = (i64::from(x) << left) as i32;
    let high = if shifted == i32::MIN && multiplier.multiplier == i32::MIN {
        i128::from(i32::MAX)
    } else {
        let product = i128::from(shifted) * i128::from(multiplier.multiplier);
        let nudge = if product >= 0 {
            1_i128 << 30
        } else {
            1 - (1_i128 << 30)
        };
        (product + nudge) / (1_i128 << 31)
    };
    if right == 0 {
        return high as i32;
    }
    let half = 1_i128 << (right - 1);
    let rounded = if high >= 0 {
        (high + half) >> right
    } else {
        -((-high + half) >> right)
    };
    rounded as i32
}

/// TFLite `MultiplyByQuantizedMultiplier(int64_t, ...)`: the multiplier
/// rounded to 16 bits, then one rounding with ties toward +inf; the result
/// keeps its low 32 bits.
fn requantize_64(x: i64, multiplier: QuantizedMultiplier) -> i32 {
    let reduced = if multiplier.multiplier < 0x7FFF_0000 {
        (i128::from(multiplier.multiplier) + (1 << 15)) >> 16
    } else {
        0x7FFF
    };
    let total_shift = 15 - multiplier.shift;
    let rounded = (i128::from(x) * reduced + (1_i128 << (total_shift - 1))) >> total_shift;
    rounded as i32
}

/// Exact sum wrapped to the accumulator width: 32 bits unless `wide`.
fn wrap_accumulator(sum: i64, wide: bool) -> i64 {
    if wide {
        sum
    } else {
        i64::from(sum as i32)
    }
}

fn activation_tensor(
    name: &str,
    shape: Vec<usize>,
    activations: Activations,
    quantization: Quantization,
) -> Tensor {
    Tensor {
        name: name.into(),
        shape,
        dtype: activations.dtype(),
        quantization: Some(quantization),
        data: None,
        is_variable: false,
    }
}

fn weights_tensor(shape: Vec<usize>, weights: &[i8], quantization: Quantization) -> Tensor {
    Tensor {
        name: "weights".into(),
        shape,
        dtype: DataType::Int8,
        quantization: Some(quantization),
        data: Some(weights.iter().map(|&w| w as u8).collect()),
        is_variable: false,
    }
}

/// Builds the bias tensor, quantised with `input_scale * weight_scale` per channel.
fn bias_tensor(bias: &BiasValues, quant: &LayerQuant, channels: usize) -> Option<Tensor> {
    let (dtype, data) = match bias {
        BiasValues::None => return None,
        BiasValues::I32(values) => (
            DataType::Int32,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
        BiasValues::I64(values) => (
            DataType::Int64,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    };
    let scales: Vec<f32> = (0..channels)
        .map(|c| quant.input_scale * quant.weight_scale(c))
        .collect();
    let quantization = Quantization {
        zero_points: vec![0; channels],
        scales,
        axis: Some(0),
    };
    Some(Tensor {
        name: "bias".into(),
        shape: vec![channels],
        dtype,
        quantization: Some(quantization),
        data: Some(data),
        is_variable: false,
    })
}

/// Builds a graph of one operator: tensor 0 input, 1 weights, 2 output, 3
/// bias.
fn one_op_graph(
    kind: OpKind,
    input: Tensor,
    weights: Tensor,
    output: Tensor,
    bias: Option<Tensor>,
) -> Graph {
    let mut tensors = vec![input, weights, output];
    let bias_id = bias.map(|bias| {
        tensors.push(bias);
        3
    });
    Graph {
        name: String::new(),
        description: "mac_kernels test".into(),
        tensors,
        ops: vec![Op {
            kind,
            inputs: vec![Some(0), Some(1), bias_id],
            outputs: vec![2],
        }],
        inputs: vec![0],
        outputs: vec![2],
    }
}

/// Runs `graph` on `input` and returns its output widened to i64.
fn run_graph(graph: &Graph, activations: Activations, input: &[i32]) -> Result<Vec<i64>, String> {
    let data = match activations {
        Activations::Int8 => TensorData::I8(input.iter().map(|&x| x as i8).collect()),
        Activations::Int16 => TensorData::I16(input.iter().map(|&x| x as i16).collect()),
    };
    let value = TensorValue {
        shape: graph.tensors[0].shape.clone(),
        data,
    };
    let executor = Executor::new(graph, &Datapath::reference()).map_err(|e| e.to_string())?;
    let execution = executor.run(&[value]).map_err(|e| e.to_string())?;
    let output = execution.values[2].as_ref().ok_or("output has no value")?;
    if output.shape != graph.tensors[2].shape {
        return Err(format!(
            "output shape {:?}, expected {:?}",
            output.shape, graph.tensors[2].shape
        ));
    }
    Ok(output.to_i64_vec())
}

/// Output extent and padding before, as TensorFlow defines them.
fn window_extent(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    let effective = (kernel - 1) * dilation + 1;
    let output = match padding {
        Padding::Same => input.div_ceil(stride),
        Padding::Valid => (input + 1).checked_sub(effective)?.div_ceil(stride),
    };
    if output == 0 {
        return None;
    }
    let total = ((output - 1) * stride + effective).saturating_sub(input);
    Some((output, total / 2))
}

// ---------------------------------------------------------------------------
// Strategies shared by the problems.

fn activations_strategy() -> impl Strategy<Value = Activations> {
    prop_oneof![Just(Activations::Int8), Just(Activations::Int16)]
}

fn fused_activation_strategy() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::None),
        Just(Activation::Relu),
        Just(Activation::Relu6),
        Just(Activation::ReluN1To1)
    ]
}

fn padding_strategy() -> impl Strategy<Value = Padding> {
    prop_oneof![Just(Padding::Same), Just(Padding::Valid)]
}

/// Quantisation for `channels` output channels, per-tensor or per-channel.
fn quant_strategy(activations: Activations, channels: usize) -> impl Strategy<Value = LayerQuant> {
    let zero_point = move || match activations {
        Activations::Int8 => (-128..=127_i32).boxed(),
        Activations::Int16 => Just(0).boxed(),
    };
    let weight_scales = prop_oneof![
        prop::collection::vec(0.0005_f32..0.05, 1),
        prop::collection::vec(0.0005_f32..0.05, channels),
    ];
    (
        0.002_f32..1.0,
        zero_point(),
        0.002_f32..1.0,
        zero_point(),
        weight_scales,
        fused_activation_strategy(),
    )
        .prop_map(
            move |(
                input_scale,
                input_zero_point,
                output_scale,
                output_zero_point,
                weight_scales,
                activation,
            )| LayerQuant {
                activations,
                input_scale,
                input_zero_point,
                output_scale,
                output_zero_point,
                weight_scales,
                activation,
            },
        )
}

/// Input values covering the whole activation type.
fn input_strategy(activations: Activations, len: usize) -> impl Strategy<Value = Vec<i32>> {
    let (min, max) = activations.range();
    prop::collection::vec(min..=max, len)
}

fn weights_strategy(len: usize) -> impl Strategy<Value = Vec<i8>> {
    prop::collection::vec(any::<i8>(), len)
}

/// Generates a bias of the types the reference accepts for the layer: int32 for int8
/// layers, int64 or int32 for 16x8 layers (`allow_int32_wide` false keeps
/// 16x8 depthwise layers to int64), or none.
fn bias_strategy(
    activations: Activations,
    channels: usize,
    allow_int32_wide: bool,
) -> BoxedStrategy<BiasValues> {
    let int32 = prop::collection::vec(-200_000_i32..200_000, channels).prop_map(BiasValues::I32);
    let int64 =
        prop::collection::vec(-(1_i64 << 30)..(1 << 30), channels).prop_map(BiasValues::I64);
    match (activations, allow_int32_wide) {
        (Activations::Int8, _) => prop_oneof![Just(BiasValues::None), int32].boxed(),
        (Activations::Int16, true) => prop_oneof![Just(BiasValues::None), int64, int32].boxed(),
        (Activations::Int16, false) => prop_oneof![Just(BiasValues::None), int64].boxed(),
    }
}

// ---------------------------------------------------------------------------
// CONV_2D

/// Shape and attributes of a (possibly grouped) convolution.
#[derive(Debug, Clone, Copy)]
struct ConvShape {
    batch: usize,
    height: usize,
    width: usize,
    groups: usize,
    group_channels: usize,
    group_filters: usize,
    kernel: Hw,
    stride: Hw,
    dilation: Hw,
    padding: Padding,
}

impl ConvShape {
    fn input_channels(&self) -> usize {
        self.groups * self.group_channels
    }

    fn output_channels(&self) -> usize {
        self.groups * self.group_filters
    }

    /// `(out_h, pad_top, out_w, pad_left)`, or `None` when VALID leaves no
    /// output.
    fn output_window(&self) -> Option<(usize, usize, usize, usize)> {
        let (out_h, pad_top) = window_extent(
            self.height,
            self.kernel.h,
            self.stride.h,
            self.dilation.h,
            self.padding,
        )?;
        let (out_w, pad_left) = window_extent(
            self.width,
            self.kernel.w,
            self.stride.w,
            self.dilation.w,
            self.padding,
        )?;
        Some((out_h, pad_top, out_w, pad_left))
    }
}

fn conv_shape_strategy(max_groups: usize) -> impl Strategy<Value = ConvShape> {
    (
        (1..=2_usize, 1..=7_usize, 1..=7_usize),
        (1..=max_groups, 1..=4_usize, 1..=4_usize),
        (
            1..=3_usize,
            1..=3_usize,
            1..=3_usize,
            1..=3_usize,
            1..=2_usize,
            1..=2_usize,
        ),
        padding_strategy(),
    )
        .prop_map(
            |(
                (batch, height, width),
                (groups, group_channels, group_filters),
                (kh, kw, sh, sw, dh, dw),
                padding,
            )| ConvShape {
                batch,
                height,
                width,
                groups,
                group_channels,
                group_filters,
                kernel: Hw { h: kh, w: kw },
                stride: Hw { h: sh, w: sw },
                dilation: Hw { h: dh, w: dw },
                padding,
            },
        )
        .prop_filter("the window must give an output", |shape| {
            shape.output_window().is_some()
        })
}

/// A CONV_2D problem.
#[derive(Debug, Clone)]
struct ConvProblem {
    shape: ConvShape,
    quant: LayerQuant,
    /// `[batch, height, width, cin]`.
    input: Vec<i32>,
    /// `[cout, kh, kw, group_channels]`.
    weights: Vec<i8>,
    bias: BiasValues,
}

impl ConvProblem {
    fn strategy() -> impl Strategy<Value = ConvProblem> {
        (conv_shape_strategy(3), activations_strategy()).prop_flat_map(|(shape, activations)| {
            let input_len = shape.batch * shape.height * shape.width * shape.input_channels();
            let weights_len =
                shape.output_channels() * shape.kernel.h * shape.kernel.w * shape.group_channels;
            (
                Just(shape),
                quant_strategy(activations, shape.output_channels()),
                input_strategy(activations, input_len),
                weights_strategy(weights_len),
                bias_strategy(activations, shape.output_channels(), true),
            )
                .prop_map(|(shape, quant, input, weights, bias)| ConvProblem {
                    shape,
                    quant,
                    input,
                    weights,
                    bias,
                })
        })
    }

    fn output_shape(&self) -> Vec<usize> {
        let (out_h, _, out_w, _) = self
            .shape
            .output_window()
            .expect("strategy keeps windows with an output");
        vec![self.shape.batch, out_h, out_w, self.shape.output_channels()]
    }

    /// Direct loops over output pixels, channels and taps, skipping taps
    /// outside the image.
    fn reference(&self) -> Vec<i64> {
        let s = &self.shape;
        let (out_h, pad_top, out_w, pad_left) = s
            .output_window()
            .expect("strategy keeps windows with an output");
        let (cin, cout) = (s.input_channels(), s.output_channels());
        let wide = self.bias.wide_accumulator(self.quant.activations);
        let mut output = Vec::new();
        for b in 0..s.batch {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    for oc in 0..cout {
                        let group = oc / s.group_filters;
                        let mut sum = 0_i64;
                        for ky in 0..s.kernel.h {
                            for kx in 0..s.kernel.w {
                                let iy =
                                    (oy * s.stride.h + ky * s.dilation.h) as i64 - pad_top as i64;
                                let ix =
                                    (ox * s.stride.w + kx * s.dilation.w) as i64 - pad_left as i64;
                                if iy < 0 || ix < 0 || iy >= s.height as i64 || ix >= s.width as i64
                                {
                                    continue;
                                }
                                for ic in 0..s.group_channels {
                                    let channel = group * s.group_channels + ic;
                                    let x = self.input[((b * s.height + iy as usize) * s.width
                                        + ix as usize)
                                        * cin
                                        + channel];
                                    let w = self.weights[((oc * s.kernel.h + ky) * s.kernel.w
                                        + kx)
                                        * s.group_channels
                                        + ic];
                                    sum +=
                                        i64::from(w) * i64::from(x - self.quant.input_zero_point);
                                }
                            }
                        }
                        let accumulator = wrap_accumulator(sum + self.bias.get(oc), wide);
                        output.push(self.quant.output(
                            accumulator,
                            self.quant.conv_multiplier(oc),
                            wide,
                        ));
                    }
                }
            }
        }
        output
    }

    fn graph(&self) -> Graph {
        let s = &self.shape;
        let kind = OpKind::Conv2d(Conv2dAttrs {
            padding: s.padding,
            stride: s.stride,
            dilation: s.dilation,
            activation: self.quant.activation,
        });
        let input_shape = vec![s.batch, s.height, s.width, s.input_channels()];
        let weights_shape = vec![
            s.output_channels(),
            s.kernel.h,
            s.kernel.w,
            s.group_channels,
        ];
        one_op_graph(
            kind,
            activation_tensor(
                "input",
                input_shape,
                self.quant.activations,
                self.quant.input_quantization(),
            ),
            weights_tensor(
                weights_shape,
                &self.weights,
                self.quant.weight_quantization(0),
            ),
            activation_tensor(
                "output",
                self.output_shape(),
                self.quant.activations,
                self.quant.output_quantization(),
            ),
            bias_tensor(&self.bias, &self.quant, s.output_channels()),
        )
    }

    fn run(&self) -> Result<Vec<i64>, String> {
        run_graph(&self.graph(), self.quant.activations, &self.input)
    }
}

// ---------------------------------------------------------------------------
// DEPTHWISE_CONV_2D

/// A DEPTHWISE_CONV_2D problem; the shape's groups are the input channels
/// and its group filters the depth multiplier.
#[derive(Debug, Clone)]
struct DepthwiseProblem {
    shape: ConvShape,
    quant: LayerQuant,
    /// `[batch, height, width, cin]`.
    input: Vec<i32>,
    /// `[1, kh, kw, cin * depth_multiplier]`.
    weights: Vec<i8>,
    bias: BiasValues,
}

impl DepthwiseProblem {
    fn strategy() -> impl Strategy<Value = DepthwiseProblem> {
        let shape = conv_shape_strategy(6).prop_map(|shape| ConvShape {
            group_channels: 1,
            group_filters: shape.group_filters.min(3),
            ..shape
        });
        (shape, activations_strategy()).prop_flat_map(|(shape, activations)| {
            let input_len = shape.batch * shape.height * shape.width * shape.input_channels();
            let weights_len = shape.kernel.h * shape.kernel.w * shape.output_channels();
            (
                Just(shape),
                quant_strategy(activations, shape.output_channels()),
                input_strategy(activations, input_len),
                weights_strategy(weights_len),
                bias_strategy(activations, shape.output_channels(), false),
            )
                .prop_map(|(shape, quant, input, weights, bias)| DepthwiseProblem {
                    shape,
                    quant,
                    input,
                    weights,
                    bias,
                })
        })
    }

    fn depth_multiplier(&self) -> usize {
        self.shape.group_filters
    }

    fn output_shape(&self) -> Vec<usize> {
        let (out_h, _, out_w, _) = self
            .shape
            .output_window()
            .expect("strategy keeps windows with an output");
        vec![self.shape.batch, out_h, out_w, self.shape.output_channels()]
    }

    fn reference(&self) -> Vec<i64> {
        let s = &self.shape;
        let (out_h, pad_top, out_w, pad_left) = s
            .output_window()
            .expect("strategy keeps windows with an output");
        let (cin, cout, multiplier) = (
            s.input_channels(),
            s.output_channels(),
            self.depth_multiplier(),
        );
        let wide = self.bias.wide_accumulator(self.quant.activations);
        let mut output = Vec::new();
        for b in 0..s.batch {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    for oc in 0..cout {
                        let ic = oc / multiplier;
                        let mut sum = 0_i64;
                        for ky in 0..s.kernel.h {
                            for kx in 0..s.kernel.w {
                                let iy =
                                    (oy * s.stride.h + ky * s.dilation.h) as i64 - pad_top as i64;
                                let ix =
                                    (ox * s.stride.w + kx * s.dilation.w) as i64 - pad_left as i64;
                                if iy < 0 || ix < 0 || iy >= s.height as i64 || ix >= s.width as i64
                                {
                                    continue;
                                }
                                let x = self.input[((b * s.height + iy as usize) * s.width
                                    + ix as usize)
                                    * cin
                                    + ic];
                                let w = self.weights[(ky * s.kernel.w + kx) * cout + oc];
                                sum += i64::from(w) * i64::from(x - self.quant.input_zero_point);
                            }
                        }
                        let accumulator = wrap_accumulator(sum + self.bias.get(oc), wide);
                        output.push(self.quant.output(
                            accumulator,
                            self.quant.conv_multiplier(oc),
                            wide,
                        ));
                    }
                }
            }
        }
        output
    }

    fn graph(&self) -> Graph {
        let s = &self.shape;
        let kind = OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
            padding: s.padding,
            stride: s.stride,
            dilation: s.dilation,
            depth_multiplier: self.depth_multiplier(),
            activation: self.quant.activation,
        });
        let input_shape = vec![s.batch, s.height, s.width, s.input_channels()];
        let weights_shape = vec![1, s.kernel.h, s.kernel.w, s.output_channels()];
        one_op_graph(
            kind,
            activation_tensor(
                "input",
                input_shape,
                self.quant.activations,
                self.quant.input_quantization(),
            ),
            weights_tensor(
                weights_shape,
                &self.weights,
                self.quant.weight_quantization(3),
            ),
            activation_tensor(
                "output",
                self.output_shape(),
                self.quant.activations,
                self.quant.output_quantization(),
            ),
            bias_tensor(&self.bias, &self.quant, s.output_channels()),
        )
    }

    fn run(&self) -> Result<Vec<i64>, String> {
        run_graph(&self.graph(), self.quant.activations, &self.input)
    }
}

// ---------------------------------------------------------------------------
// FULLY_CONNECTED

/// A FULLY_CONNECTED problem with input `leading_dims + [depth]`.
#[derive(Debug, Clone)]
struct FullyConnectedProblem {
    /// Input dimensions before the last; their product is the batch count.
    leading_dims: Vec<usize>,
    depth: usize,
    units: usize,
    keep_num_dims: bool,
    quant: LayerQuant,
    input: Vec<i32>,
    /// `[units, depth]`.
    weights: Vec<i8>,
    bias: BiasValues,
}

impl FullyConnectedProblem {
    fn strategy() -> impl Strategy<Value = FullyConnectedProblem> {
        let dims = (
            prop::collection::vec(1..=3_usize, 1..=2),
            1..=80_usize,
            1..=70_usize,
            any::<bool>(),
        );
        (dims, activations_strategy()).prop_flat_map(
            |((leading_dims, depth, units, keep_num_dims), activations)| {
                let batches: usize = leading_dims.iter().product();
                (
                    Just((leading_dims, depth, units, keep_num_dims)),
                    quant_strategy(activations, units),
                    input_strategy(activations, batches * depth),
                    weights_strategy(units * depth),
                    bias_strategy(activations, units, true),
                )
                    .prop_map(
                        |(
                            (leading_dims, depth, units, keep_num_dims),
                            quant,
                            input,
                            weights,
                            bias,
                        )| FullyConnectedProblem {
                            leading_dims,
                            depth,
                            units,
                            keep_num_dims,
                            quant,
                            input,
                            weights,
                            bias,
                        },
                    )
            },
        )
    }

    fn batches(&self) -> usize {
        self.leading_dims.iter().product()
    }

    /// Per-channel weights use the double formula; per-tensor weights go
    /// through `GetQuantizedConvolutionMultipler`, which multiplies the
    /// two scales in float32 first.
    fn multiplier(&self, unit: usize) -> QuantizedMultiplier {
        if self.quant.weight_scales.len() > 1 {
            return self.quant.conv_multiplier(unit);
        }
        let product = f64::from(self.quant.input_scale * self.quant.weight_scales[0]);
        quantize_multiplier(product / f64::from(self.quant.output_scale))
    }

    fn reference(&self) -> Vec<i64> {
        let wide = self.bias.wide_accumulator(self.quant.activations);
        let mut output = Vec::new();
        for b in 0..self.batches() {
            for unit in 0..self.units {
                let mut sum = 0_i64;
                for d in 0..self.depth {
                    let x = self.input[b * self.depth + d];
                    let w = self.weights[unit * self.depth + d];
                    sum += i64::from(w) * i64::from(x - self.quant.input_zero_point);
                }
                let accumulator = wrap_accumulator(sum + self.bias.get(unit), wide);
                output.push(self.quant.output(accumulator, self.multiplier(unit), wide));
            }
        }
        output
    }

    fn graph(&self) -> Graph {
        let kind = OpKind::FullyConnected(FullyConnectedAttrs {
            activation: self.quant.activation,
            keep_num_dims: self.keep_num_dims,
        });
        let mut input_shape = self.leading_dims.clone();
        input_shape.push(self.depth);
        let output_shape = if self.keep_num_dims {
            let mut shape = self.leading_dims.clone();
            shape.push(self.units);
            shape
        } else {
            vec![self.batches(), self.units]
        };
        one_op_graph(
            kind,
            activation_tensor(
                "input",
                input_shape,
                self.quant.activations,
                self.quant.input_quantization(),
            ),
            weights_tensor(
                vec![self.units, self.depth],
                &self.weights,
                self.quant.weight_quantization(0),
            ),
            activation_tensor(
                "output",
                output_shape,
                self.quant.activations,
                self.quant.output_quantization(),
            ),
            bias_tensor(&self.bias, &self.quant, self.units),
        )
    }

    fn run(&self) -> Result<Vec<i64>, String> {
        run_graph(&self.graph(), self.quant.activations, &self.input)
    }
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn conv2d_matches_naive_loops(problem in ConvProblem::strategy()) {
        prop_assert_eq!(problem.run().map_err(TestCaseError::fail)?, problem.reference());
    }

    #[test]
    fn depthwise_conv2d_matches_naive_loops(problem in DepthwiseProblem::strategy()) {
        prop_assert_eq!(problem.run().map_err(TestCaseError::fail)?, problem.reference());
    }

    #[test]
    fn fully_connected_matches_naive_loops(problem in FullyConnectedProblem::strategy()) {
        prop_assert_eq!(problem.run().map_err(TestCaseError::fail)?, problem.reference());
    }
}

// ---------------------------------------------------------------------------
// Pinned cases

fn int8_quant(channels: usize, activation: Activation) -> LayerQuant {
    LayerQuant {
        activations: Activations::Int8,
        input_scale: 0.05,
        input_zero_point: -3,
        output_scale: 0.1,
        output_zero_point: 4,
        weight_scales: (0..channels).map(|c| 0.01 + 0.002 * c as f32).collect(),
        activation,
    }
}

fn pattern(len: usize, modulus: i32, offset: i32) -> Vec<i32> {
    (0..len)
        .map(|i| (i as i32 * 37 + 11) % modulus - offset)
        .collect()
}

fn weight_pattern(len: usize) -> Vec<i8> {
    (0..len)
        .map(|i| ((i * 53 + 7) % 255) as i32 - 127)
        .map(|w| w as i8)
        .collect()
}

/// SAME padding with stride 2 on an even input puts the odd padding row and
/// column after the input: the last output row reads one padded row.
#[test]
fn conv_same_stride2_pads_after() {
    let shape = ConvShape {
        batch: 1,
        height: 6,
        width: 6,
        groups: 1,
        group_channels: 3,
        group_filters: 4,
        kernel: Hw { h: 3, w: 3 },
        stride: Hw { h: 2, w: 2 },
        dilation: Hw { h: 1, w: 1 },
        padding: Padding::Same,
    };
    assert_eq!(shape.output_window(), Some((3, 0, 3, 0)));
    let problem = ConvProblem {
        shape,
        quant: int8_quant(4, Activation::Relu6),
        input: pattern(6 * 6 * 3, 256, 128),
        weights: weight_pattern(4 * 3 * 3 * 3),
        bias: BiasValues::I32(vec![100, -2000, 0, 777]),
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// A grouped convolution reads only its group's input channels.
#[test]
fn conv_grouped_reads_own_group() {
    let shape = ConvShape {
        batch: 2,
        height: 4,
        width: 5,
        groups: 3,
        group_channels: 2,
        group_filters: 2,
        kernel: Hw { h: 2, w: 3 },
        stride: Hw { h: 1, w: 2 },
        dilation: Hw { h: 2, w: 1 },
        padding: Padding::Same,
    };
    let problem = ConvProblem {
        shape,
        quant: int8_quant(6, Activation::None),
        input: pattern(2 * 4 * 5 * 6, 256, 128),
        weights: weight_pattern(6 * 2 * 3 * 2),
        bias: BiasValues::None,
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// A K vector longer than the padding block with a remainder (K = 3*3*5 =
/// 45) and a 16x8 layer with an int32 bias, which accumulates in 32 bits.
#[test]
fn conv_16x8_int32_bias_accumulates_in_32_bits() {
    let shape = ConvShape {
        batch: 1,
        height: 5,
        width: 5,
        groups: 1,
        group_channels: 5,
        group_filters: 3,
        kernel: Hw { h: 3, w: 3 },
        stride: Hw { h: 1, w: 1 },
        dilation: Hw { h: 1, w: 1 },
        padding: Padding::Valid,
    };
    let quant = LayerQuant {
        activations: Activations::Int16,
        input_scale: 0.0005,
        input_zero_point: 0,
        output_scale: 0.002,
        output_zero_point: 0,
        weight_scales: vec![0.003],
        activation: Activation::None,
    };
    let problem = ConvProblem {
        shape,
        quant,
        input: pattern(5 * 5 * 5, 65536, 32768),
        weights: weight_pattern(3 * 3 * 3 * 5),
        bias: BiasValues::I32(vec![1 << 20, -(1 << 22), 5]),
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// Depth multiplier 3 with dilation 2: output channel `c` reads input
/// channel `c / 3`.
#[test]
fn depthwise_multiplier3_dilated() {
    let shape = ConvShape {
        batch: 1,
        height: 7,
        width: 6,
        groups: 2,
        group_channels: 1,
        group_filters: 3,
        kernel: Hw { h: 3, w: 2 },
        stride: Hw { h: 1, w: 1 },
        dilation: Hw { h: 2, w: 2 },
        padding: Padding::Same,
    };
    let problem = DepthwiseProblem {
        shape,
        quant: int8_quant(6, Activation::ReluN1To1),
        input: pattern(7 * 6 * 2, 256, 128),
        weights: weight_pattern(3 * 2 * 6),
        bias: BiasValues::I32(vec![10, 20, -30, 40, -50, 60]),
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// Per-tensor fully connected weights take the float32 product of the
/// input and weight scales, which rounds differently from the double one.
#[test]
fn fully_connected_per_tensor_keep_num_dims() {
    let mut quant = int8_quant(1, Activation::Relu);
    quant.weight_scales = vec![0.0123];
    let problem = FullyConnectedProblem {
        leading_dims: vec![2, 3],
        depth: 33,
        units: 5,
        keep_num_dims: true,
        quant,
        input: pattern(6 * 33, 256, 128),
        weights: weight_pattern(5 * 33),
        bias: BiasValues::I32(vec![-5, 5, 500, -500, 0]),
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// A 16x8 fully connected layer without bias accumulates in 64 bits.
#[test]
fn fully_connected_16x8_without_bias() {
    let quant = LayerQuant {
        activations: Activations::Int16,
        input_scale: 0.001,
        input_zero_point: 0,
        output_scale: 0.0007,
        output_zero_point: 0,
        weight_scales: (0..7).map(|c| 0.004 + 0.001 * c as f32).collect(),
        activation: Activation::Relu6,
    };
    let problem = FullyConnectedProblem {
        leading_dims: vec![2],
        depth: 100,
        units: 7,
        keep_num_dims: false,
        quant,
        input: pattern(200, 65536, 32768),
        weights: weight_pattern(700),
        bias: BiasValues::None,
    };
    assert_eq!(problem.run().unwrap(), problem.reference());
}

/// A weights zero point other than 0 is rejected at prepare with a message
/// that names the operator.
#[test]
fn nonzero_weight_zero_point_is_rejected() {
    let problem = FullyConnectedProblem {
        leading_dims: vec![1],
        depth: 4,
        units: 2,
        keep_num_dims: false,
        quant: int8_quant(1, Activation::None),
        input: vec![1, 2, 3, 4],
        weights: vec![1, 2, 3, 4, 5, 6, 7, 8],
        bias: BiasValues::None,
    };
    let mut graph = problem.graph();
    graph.tensors[1].quantization.as_mut().unwrap().zero_points = vec![3];
    let error = Executor::new(&graph, &Datapath::reference())
        .err()
        .expect("prepare must fail")
        .to_string();
    assert!(error.contains("op 0 (FULLY_CONNECTED)"), "{error}");
    assert!(error.contains("zero point 3"), "{error}");
}

/// An output shape that does not match the window is rejected at prepare.
#[test]
fn conv_with_wrong_output_shape_is_rejected() {
    let problem = ConvProblem {
        shape: ConvShape {
            batch: 1,
            height: 4,
            width: 4,
            groups: 1,
            group_channels: 1,
            group_filters: 1,
            kernel: Hw { h: 3, w: 3 },
            stride: Hw { h: 1, w: 1 },
            dilation: Hw { h: 1, w: 1 },
            padding: Padding::Valid,
        },
        quant: int8_quant(1, Activation::None),
        input: vec![0; 16],
        weights: vec![1; 9],
        bias: BiasValues::None,
    };
    let mut graph = problem.graph();
    graph.tensors[2].shape = vec![1, 4, 4, 1];
    let error = Executor::new(&graph, &Datapath::reference())
        .err()
        .expect("prepare must fail")
        .to_string();
    assert!(error.contains("op 0 (CONV_2D)"), "{error}");
    assert!(error.contains("[1, 2, 2, 1]"), "{error}");
}

/// An input without channels is rejected at prepare, not divided by.
#[test]
fn conv_with_zero_input_channels_is_rejected() {
    let problem = ConvProblem {
        shape: ConvShape {
            batch: 1,
            height: 3,
            width: 3,
            groups: 1,
            group_channels: 0,
            group_filters: 2,
            kernel: Hw { h: 1, w: 1 },
            stride: Hw { h: 1, w: 1 },
            dilation: Hw { h: 1, w: 1 },
            padding: Padding::Valid,
        },
        quant: int8_quant(2, Activation::None),
        input: Vec::new(),
        weights: Vec::new(),
        bias: BiasValues::None,
    };
    let error = Executor::new(&problem.graph(), &Datapath::reference())
        .err()
        .expect("prepare must fail")
        .to_string();
    assert!(error.contains("op 0 (CONV_2D)"), "{error}");
    assert!(error.contains("0 channels"), "{error}");
}
