//! Configurable datapaths of the MAC layers against independent models
//! written in this file. Covered: the fold-ordered accumulator (saturating
//! and wrapping, with its overflow counts), every requantisation and
//! rounding mode, narrow operand formats, stochastic rounding, per-layer
//! datapaths, and the reference-equivalent configuration on the shared
//! models.
//!
//! The naive model walks each output element's folds and rows in explicit
//! nested loops with an i128 running sum, clamped or wrapped at each
//! addition, and requantises in i128. Only `quantize_multiplier` (tested on
//! its own in the library) and the LFSR word of a stochastic rounding event
//! (checked here against a bit-by-bit LFSR) come from the library.
//! Limitation: the random layers are int8 with no fused activation; 16x8
//! layers are covered by the reference-path tests only.

mod common;

use fxsim::exec::{
    AccumulatorMode, BiasMode, Datapath, Executor, OperandConversion, OverflowCounts, RequantMode,
    TensorData, TensorValue, TfliteOverload, ZeroPointMode,
};
use fxsim::model::{
    Activation, Conv2dAttrs, DataType, DepthwiseConv2dAttrs, FullyConnectedAttrs, Graph, Hw, Op,
    OpKind, Padding, Quantization, Tensor,
};
use fxsim::numeric::lfsr::rounding_word;
use fxsim::numeric::{
    multiply_by_integer_scale, nearest_power_of_two, quantize_multiplier,
    quantize_multiplier_to_bits, single_rounding_scale, IntFormat, IntegerScale, Overflow,
    QuantizedMultiplier, Rounding,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Rounding and requantisation, modelled in i128.

const ROUNDINGS: [Rounding; 5] = [
    Rounding::HalfAway,
    Rounding::HalfUp,
    Rounding::HalfEven,
    Rounding::Truncate,
    Rounding::Stochastic,
];

/// Rounds `numerator / 2^shift` from its floor and remainder. Stochastic:
/// the top `min(shift, 32)` bits of `random` are the random fraction, and
/// the result rounds up when fraction plus remainder reaches one.
fn round_shift(numerator: i128, shift: u32, rounding: Rounding, random: u32) -> i128 {
    if shift == 0 {
        return numerator;
    }
    let denominator = 1_i128 << shift;
    let floor = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let up = match rounding {
        Rounding::Truncate => false,
        Rounding::Stochastic => {
            let kept_bits = shift.min(32);
            let random_part = i128::from(random >> (32 - kept_bits)) << (shift - kept_bits);
            remainder + random_part >= denominator
        }
        _ => match (2 * remainder).cmp(&denominator) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => match rounding {
                Rounding::HalfAway => numerator > 0,
                Rounding::HalfUp => true,
                Rounding::HalfEven => floor % 2 != 0,
                Rounding::Truncate | Rounding::Stochastic => false,
            },
        },
    };
    floor + i128::from(up)
}

/// TFLite's int32 `MultiplyByQuantizedMultiplier`: left shift wrapping in
/// i32, doubling high multiply rounded with ties toward +inf (saturating
/// only at `MIN * MIN`), then a right shift rounded half away from zero.
fn tflite_int32(x: i32, multiplier: QuantizedMultiplier) -> i32 {
    let left = multiplier.shift.max(0);
    let right = (-multiplier.shift).max(0) as u32;
    let shifted = (i64::from(x) << left) as i32;
    let high = if shifted == i32::MIN && multiplier.multiplier == i32::MIN {
        i128::from(i32::MAX)
    } else {
        let doubled = 2 * i128::from(shifted) * i128::from(multiplier.multiplier);
        (doubled + (1_i128 << 31)).div_euclid(1_i128 << 32)
    };
    round_shift(high, right, Rounding::HalfAway, 0) as i32
}

/// TFLite's int64 `MultiplyByQuantizedMultiplier`: the multiplier rounded
/// to 16 bits, then one rounding with ties toward +inf, low 32 bits kept.
fn tflite_int64(x: i64, multiplier: QuantizedMultiplier) -> i32 {
    let reduced = if multiplier.multiplier < 0x7FFF_0000 {
        (i128::from(multiplier.multiplier) + (1 << 15)) >> 16
    } else {
        0x7FFF
    };
    let shift = (15 - multiplier.shift) as u32;
    round_shift(i128::from(x) * reduced, shift, Rounding::HalfUp, 0) as i32
}

/// Shortens the multiplier to `bits` bits and returns `(multiplier, right
/// shift)`: normalise to [2^30, 2^31), round away the low bits with ties
/// up, and renormalise a carry to 2^(bits-1).
fn shortened(multiplier: QuantizedMultiplier, bits: u32) -> (i128, i64) {
    let mut magnitude = i128::from(multiplier.multiplier);
    let mut shift = i64::from(multiplier.shift);
    if magnitude == 0 {
        return (0, 0);
    }
    while magnitude < 1 << 30 {
        magnitude *= 2;
        shift -= 1;
    }
    let dropped = 32 - bits;
    let mut short = if dropped == 0 {
        magnitude
    } else {
        (magnitude + (1 << (dropped - 1))) / (1 << dropped)
    };
    if short == 1 << (bits - 1) {
        short /= 2;
        shift += 1;
    }
    (short, i64::from(bits) - 1 - shift)
}

/// Returns the exponent of the power of two nearest the scale in the log
/// domain, from the real value's base-2 logarithm.
fn power_of_two_exponent(multiplier: QuantizedMultiplier) -> i64 {
    let scale = f64::from(multiplier.multiplier) * 2f64.powi(multiplier.shift - 31);
    scale.log2().round() as i64
}

/// Multiplies by `multiplier / 2^right_shift` with one rounding, saturated
/// to i64; a negative shift is an exact left shift.
fn scale_once(x: i64, multiplier: i128, right_shift: i64, rounding: Rounding, random: u32) -> i64 {
    let product = i128::from(x) * multiplier;
    let result = if right_shift >= 0 {
        round_shift(product, right_shift as u32, rounding, random)
    } else {
        product.saturating_mul(1_i128 << (-right_shift).min(100))
    };
    result.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Requantises a finished accumulator of `bits` bits and adds the output
/// zero point, clamped to int8.
fn requantize(
    accumulator: i64,
    bits: u32,
    requant: RequantMode,
    multiplier: QuantizedMultiplier,
    output_zero_point: i32,
    random: u32,
) -> i8 {
    let scaled = match requant {
        RequantMode::Tflite => {
            let scaled = if bits <= 32 {
                tflite_int32(accumulator as i32, multiplier)
            } else {
                tflite_int64(accumulator, multiplier)
            };
            return scaled.wrapping_add(output_zero_point).clamp(-128, 127) as i8;
        }
        RequantMode::Single { rounding } => scale_once(
            accumulator,
            i128::from(multiplier.multiplier),
            31 - i64::from(multiplier.shift),
            rounding,
            random,
        ),
        RequantMode::Fixed {
            multiplier_bits,
            rounding,
        } => {
            let (short, right_shift) = shortened(multiplier, multiplier_bits);
            scale_once(accumulator, short, right_shift, rounding, random)
        }
        RequantMode::Shift { rounding } => {
            if multiplier.multiplier == 0 {
                0
            } else {
                let exponent = power_of_two_exponent(multiplier);
                scale_once(accumulator, 1, -exponent, rounding, random)
            }
        }
    };
    (i128::from(scaled) + i128::from(output_zero_point)).clamp(-128, 127) as i8
}

/// Steps a Galois LFSR with polynomial x^32 + x^22 + x^2 + x + 1 bit by
/// bit: shift left, XOR 0x0040_0007 when the bit shifted out was 1.
fn lfsr_step(state: u32) -> u32 {
    let carry = state >> 31 == 1;
    (state << 1) ^ if carry { 0x0040_0007 } else { 0 }
}

// ---------------------------------------------------------------------------
// Layer problems: shapes, data, graphs.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conv { groups: usize },
    Depthwise { multiplier: usize },
    FullyConnected,
}

/// Shape of one MAC layer. A fully connected layer has `depth = cin`,
/// `units = cout` and a 1x1 window.
#[derive(Debug, Clone, Copy)]
struct Shape {
    kind: Kind,
    batch: usize,
    in_h: usize,
    in_w: usize,
    cin: usize,
    cout: usize,
    kernel: (usize, usize),
    stride: (usize, usize),
    dilation: (usize, usize),
    padding: Padding,
}

/// Output extent and padding before, as TensorFlow computes them.
fn extent(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> (usize, usize) {
    let effective = (kernel - 1) * dilation + 1;
    let output = match padding {
        Padding::Same => input.div_ceil(stride),
        Padding::Valid => (input + 1).saturating_sub(effective).div_ceil(stride),
    };
    let total = ((output.max(1) - 1) * stride + effective).saturating_sub(input);
    (output, total / 2)
}

impl Shape {
    fn out_hw(&self) -> (usize, usize) {
        let (h, _) = extent(
            self.in_h,
            self.kernel.0,
            self.stride.0,
            self.dilation.0,
            self.padding,
        );
        let (w, _) = extent(
            self.in_w,
            self.kernel.1,
            self.stride.1,
            self.dilation.1,
            self.padding,
        );
        (h, w)
    }

    fn pads(&self) -> (usize, usize) {
        let (_, top) = extent(
            self.in_h,
            self.kernel.0,
            self.stride.0,
            self.dilation.0,
            self.padding,
        );
        let (_, left) = extent(
            self.in_w,
            self.kernel.1,
            self.stride.1,
            self.dilation.1,
            self.padding,
        );
        (top, left)
    }

    fn input_shape(&self) -> Vec<usize> {
        match self.kind {
            Kind::FullyConnected => vec![self.batch, self.cin],
            _ => vec![self.batch, self.in_h, self.in_w, self.cin],
        }
    }

    fn output_shape(&self) -> Vec<usize> {
        match self.kind {
            Kind::FullyConnected => vec![self.batch, self.cout],
            _ => {
                let (h, w) = self.out_hw();
                vec![self.batch, h, w, self.cout]
            }
        }
    }

    fn weight_shape(&self) -> Vec<usize> {
        let (kh, kw) = self.kernel;
        match self.kind {
            Kind::Conv { groups } => vec![self.cout, kh, kw, self.cin / groups],
            Kind::Depthwise { .. } => vec![1, kh, kw, self.cout],
            Kind::FullyConnected => vec![self.cout, self.cin],
        }
    }

    /// Products per output element (K).
    fn terms(&self) -> usize {
        let (kh, kw) = self.kernel;
        match self.kind {
            Kind::Conv { groups } => kh * kw * (self.cin / groups),
            Kind::Depthwise { .. } => kh * kw,
            Kind::FullyConnected => self.cin,
        }
    }

    /// Term `k` of output element `element`, in K order `(ky, kx, cin)`:
    /// the input index it reads (`None` for a padded tap) and its weight
    /// index.
    fn term(&self, element: usize, k: usize) -> (Option<usize>, usize) {
        let (kh, kw) = self.kernel;
        let channel = element % self.cout;
        if self.kind == Kind::FullyConnected {
            let batch = element / self.cout;
            return (Some(batch * self.cin + k), channel * self.cin + k);
        }

        let (out_h, out_w) = self.out_hw();
        let pixel = element / self.cout;
        let (batch, oy, ox) = (
            pixel / (out_h * out_w),
            pixel / out_w % out_h,
            pixel % out_w,
        );
        let (pad_top, pad_left) = self.pads();
        let (ky, kx, input_channel, weight) = match self.kind {
            Kind::Conv { groups } => {
                let group_channels = self.cin / groups;
                let ky = k / (kw * group_channels);
                let kx = k / group_channels % kw;
                let ci = k % group_channels;
                let group = channel / (self.cout / groups);
                let weight = ((channel * kh + ky) * kw + kx) * group_channels + ci;
                (ky, kx, group * group_channels + ci, weight)
            }
            Kind::Depthwise { multiplier } => {
                let (ky, kx) = (k / kw, k % kw);
                (
                    ky,
                    kx,
                    channel / multiplier,
                    (ky * kw + kx) * self.cout + channel,
                )
            }
            Kind::FullyConnected => unreachable!("handled above"),
        };

        let iy = (oy * self.stride.0 + ky * self.dilation.0).checked_sub(pad_top);
        let ix = (ox * self.stride.1 + kx * self.dilation.1).checked_sub(pad_left);
        let input = match (iy, ix) {
            (Some(iy), Some(ix)) if iy < self.in_h && ix < self.in_w => {
                Some(((batch * self.in_h + iy) * self.in_w + ix) * self.cin + input_channel)
            }
            _ => None,
        };
        (input, weight)
    }
}

/// Quantisation of a layer; weights are per channel when there is more
/// than one channel.
#[derive(Debug, Clone)]
struct Quant {
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    weight_scales: Vec<f32>,
}

impl Quant {
    fn weight_scale(&self, channel: usize) -> f32 {
        self.weight_scales[channel.min(self.weight_scales.len() - 1)]
    }

    /// Returns the reference multiplier: `input * weight / output` in double,
    /// or for a per-tensor fully connected layer the float32 product first.
    fn multiplier(&self, kind: Kind, channel: usize) -> QuantizedMultiplier {
        let weight_scale = self.weight_scale(channel);
        let real = if kind == Kind::FullyConnected && self.weight_scales.len() == 1 {
            f64::from(self.input_scale * weight_scale) / f64::from(self.output_scale)
        } else {
            f64::from(self.input_scale) * f64::from(weight_scale) / f64::from(self.output_scale)
        };
        quantize_multiplier(real)
    }
}

/// One MAC layer with data and a datapath.
#[derive(Debug, Clone)]
struct MacProblem {
    shape: Shape,
    quant: Quant,
    input: Vec<i8>,
    weights: Vec<i8>,
    bias: Vec<i32>,
    datapath: Datapath,
}

/// What the naive model computes for a layer.
struct Modelled {
    output: Vec<i8>,
    counts: OverflowCounts,
}

fn round_half_away(numerator: i128, denominator: i128) -> i128 {
    let magnitude = (2 * numerator.abs() + denominator) / (2 * denominator);
    numerator.signum() * magnitude
}

impl MacProblem {
    /// Computes the layer with explicit loops: operands on the datapath's
    /// formats, then per output element the folds of `rows` terms and the
    /// rows within each fold, an i128 sum clamped or wrapped at every
    /// addition, then the PPU.
    fn reference(&self) -> Modelled {
        let shape = &self.shape;
        let datapath = &self.datapath;
        let (bits, overflow) = match datapath.accumulator {
            AccumulatorMode::Reference => (32, Overflow::Wrap),
            AccumulatorMode::Register { bits, overflow } => (bits, overflow),
        };
        let min = -(1_i128 << (bits - 1));
        let max = (1_i128 << (bits - 1)) - 1;
        let into_register = |value: i128, events: &mut u64| -> i128 {
            if (min..=max).contains(&value) {
                return value;
            }
            *events += 1;
            match overflow {
                Overflow::Saturate => value.clamp(min, max),
                Overflow::Wrap => (value - min).rem_euclid(1_i128 << bits) + min,
            }
        };

        // Activations: int8 onto the activation format.
        let (format_min, format_max) = datapath.activation.range();
        let (format_min, format_max) = (i128::from(format_min), i128::from(format_max));
        let (old_span, new_span) = (255_i128, format_max - format_min);
        let narrow_input = new_span < old_span;
        let to_grid = |x: i128| -> i128 {
            if narrow_input {
                format_min + round_half_away((x + 128) * new_span, old_span)
            } else if format_min <= -128 && format_max >= 127 {
                x
            } else {
                x + format_min + 128
            }
        };
        let zero_point = to_grid(i128::from(self.quant.input_zero_point));

        // Weights: symmetric int8 onto the weight format.
        let new_magnitude = i128::from(datapath.weight.max_magnitude());
        let narrow_weights = new_magnitude < 127;
        let weights: Vec<i128> = self
            .weights
            .iter()
            .map(|&w| {
                if narrow_weights {
                    round_half_away(i128::from(w) * new_magnitude, 127)
                        .clamp(-new_magnitude, new_magnitude)
                } else {
                    i128::from(w)
                }
            })
            .collect();
        let (bias_numerator, bias_denominator) = (
            if narrow_input { new_span } else { 1 }
                * if narrow_weights { new_magnitude } else { 1 },
            if narrow_input { old_span } else { 1 } * if narrow_weights { 127 } else { 1 },
        );
        // Operand scales grow by old / new steps, in the executor's order.
        let input_ratio = if narrow_input {
            old_span as f64 / new_span as f64
        } else {
            1.0
        };
        let weight_ratio = if narrow_weights {
            127.0 / new_magnitude as f64
        } else {
            1.0
        };
        let scale_ratio = input_ratio * weight_ratio;

        let terms = shape.terms();
        let rows = datapath.rows;
        let elements: usize = shape.output_shape().iter().product();
        let mut output = Vec::with_capacity(elements);
        let mut counts = OverflowCounts {
            results: elements as u64,
            ..OverflowCounts::default()
        };
        for element in 0..elements {
            let channel = element % shape.cout;
            let operand_and_weight = |k: usize| -> (i128, i128) {
                let (input, weight) = shape.term(element, k);
                let operand = match (input, datapath.zero_point) {
                    (Some(index), ZeroPointMode::Subtract) => {
                        to_grid(i128::from(self.input[index])) - zero_point
                    }
                    (Some(index), ZeroPointMode::Fold) => to_grid(i128::from(self.input[index])),
                    (None, ZeroPointMode::Subtract) => 0,
                    (None, ZeroPointMode::Fold) => zero_point,
                };
                (operand, weights[weight])
            };

            let mut bias = if bias_numerator == bias_denominator {
                i128::from(self.bias[channel])
            } else {
                round_half_away(
                    i128::from(self.bias[channel]) * bias_numerator,
                    bias_denominator,
                )
            };
            if datapath.zero_point == ZeroPointMode::Fold {
                let weight_sum: i128 = (0..terms).map(|k| operand_and_weight(k).1).sum();
                bias -= zero_point * weight_sum;
            }

            // Beside the register, the exact sums and the values the
            // observed range covers: every one under saturation, the final
            // accumulator under wrapping, and always 0.
            let mut events = 0_u64;
            let mut exact = match datapath.bias {
                BiasMode::Init => bias,
                BiasMode::Post => 0,
            };
            let mut seen = vec![0, exact];
            let mut accumulator = match datapath.bias {
                BiasMode::Init => into_register(bias, &mut events),
                BiasMode::Post => 0,
            };
            for fold in 0..terms.div_ceil(rows) {
                let mut partial = 0_i128;
                let mut exact_partial = 0_i128;
                for row in 0..rows {
                    let k = fold * rows + row;
                    if k >= terms {
                        break;
                    }
                    let (operand, weight) = operand_and_weight(k);
                    partial = into_register(partial + operand * weight, &mut events);
                    exact_partial += operand * weight;
                    seen.push(exact_partial);
                }
                accumulator = into_register(accumulator + partial, &mut events);
                exact += exact_partial;
                seen.push(exact);
            }
            counts.events += events;
            counts.overflowed_results += u64::from(events > 0);

            let mut post_events = 0;
            if datapath.bias == BiasMode::Post {
                let loaded = into_register(bias, &mut post_events);
                accumulator = into_register(accumulator + loaded, &mut post_events);
                counts.post_bias_events += u64::from(post_events > 0);
                exact += bias;
                seen.extend([bias, exact]);
            }
            let (corrupted, low, high) = match overflow {
                Overflow::Saturate => (
                    events + post_events > 0,
                    *seen.iter().min().unwrap(),
                    *seen.iter().max().unwrap(),
                ),
                Overflow::Wrap => (accumulator != exact, exact.min(0), exact.max(0)),
            };
            counts.corrupted_results += u64::from(corrupted);
            counts.observed_min = counts.observed_min.min(low as i64);
            counts.observed_max = counts.observed_max.max(high as i64);

            let reference = self.quant.multiplier(shape.kind, channel);
            let multiplier = if scale_ratio == 1.0 {
                reference
            } else {
                quantize_multiplier(reference.to_f64() * scale_ratio)
            };
            let random = match datapath.requant {
                RequantMode::Single {
                    rounding: Rounding::Stochastic,
                }
                | RequantMode::Fixed {
                    rounding: Rounding::Stochastic,
                    ..
                }
                | RequantMode::Shift {
                    rounding: Rounding::Stochastic,
                } => rounding_word(datapath.seed, 0, element as u64).unwrap(),
                _ => 0,
            };
            output.push(requantize(
                accumulator as i64,
                bits,
                datapath.requant,
                multiplier,
                self.quant.output_zero_point,
                random,
            ));
        }
        Modelled { output, counts }
    }

    fn graph(&self) -> Graph {
        let shape = &self.shape;
        let quant = &self.quant;
        let activation = |name: &str, dims: Vec<usize>, scale: f32, zero_point: i32| Tensor {
            name: name.into(),
            shape: dims,
            dtype: DataType::Int8,
            quantization: Some(Quantization::per_tensor(scale, i64::from(zero_point))),
            data: None,
            is_variable: false,
        };
        let axis = match shape.kind {
            Kind::Depthwise { .. } => 3,
            _ => 0,
        };
        let channels = quant.weight_scales.len();
        let weights = Tensor {
            name: "weights".into(),
            shape: shape.weight_shape(),
            dtype: DataType::Int8,
            quantization: Some(Quantization {
                scales: quant.weight_scales.clone(),
                zero_points: vec![0; channels],
                axis: (channels > 1).then_some(axis),
            }),
            data: Some(self.weights.iter().map(|&w| w as u8).collect()),
            is_variable: false,
        };
        let bias = Tensor {
            name: "bias".into(),
            shape: vec![shape.cout],
            dtype: DataType::Int32,
            quantization: Some(Quantization {
                scales: (0..shape.cout)
                    .map(|c| quant.input_scale * quant.weight_scale(c))
                    .collect(),
                zero_points: vec![0; shape.cout],
                axis: Some(0),
            }),
            data: Some(self.bias.iter().flat_map(|b| b.to_le_bytes()).collect()),
            is_variable: false,
        };
        let hw = |(h, w): (usize, usize)| Hw { h, w };
        let kind = match shape.kind {
            Kind::Conv { .. } => OpKind::Conv2d(Conv2dAttrs {
                padding: shape.padding,
                stride: hw(shape.stride),
                dilation: hw(shape.dilation),
                activation: Activation::None,
            }),
            Kind::Depthwise { multiplier } => OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
                padding: shape.padding,
                stride: hw(shape.stride),
                dilation: hw(shape.dilation),
                depth_multiplier: multiplier,
                activation: Activation::None,
            }),
            Kind::FullyConnected => OpKind::FullyConnected(FullyConnectedAttrs {
                activation: Activation::None,
                keep_num_dims: false,
            }),
        };
        Graph {
            name: String::new(),
            description: "datapath test".into(),
            tensors: vec![
                activation(
                    "input",
                    shape.input_shape(),
                    quant.input_scale,
                    quant.input_zero_point,
                ),
                weights,
                activation(
                    "output",
                    shape.output_shape(),
                    quant.output_scale,
                    quant.output_zero_point,
                ),
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

    fn input_value(&self) -> TensorValue {
        TensorValue {
            shape: self.shape.input_shape(),
            data: TensorData::I8(self.input.clone()),
        }
    }

    /// Runs the executor and returns the output and the overflow counts.
    fn run(&self) -> Result<(Vec<i8>, Option<OverflowCounts>), String> {
        let graph = self.graph();
        let executor = Executor::new(&graph, &self.datapath).map_err(|e| e.to_string())?;
        let execution = executor
            .run(&[self.input_value()])
            .map_err(|e| e.to_string())?;
        let output = match &execution.values[2] {
            Some(TensorValue {
                data: TensorData::I8(values),
                ..
            }) => values.clone(),
            other => return Err(format!("output is not int8: {other:?}")),
        };
        Ok((output, execution.overflow[0]))
    }

    /// Checks the executor against the model, naming the first differing
    /// output element.
    fn check(&self) -> Result<(), TestCaseError> {
        let expected = self.reference();
        let (output, counts) = self.run().map_err(TestCaseError::fail)?;
        if let Some(index) = (0..output.len()).find(|&i| output[i] != expected.output[i]) {
            return Err(TestCaseError::fail(format!(
                "output element {index}: expected {}, got {} ({} elements)",
                expected.output[index],
                output[index],
                output.len()
            )));
        }
        prop_assert_eq!(output.len(), expected.output.len());
        let reference_path = matches!(
            (self.datapath.accumulator, self.datapath.requant),
            (AccumulatorMode::Reference, RequantMode::Tflite)
        );
        if reference_path {
            prop_assert_eq!(counts, None);
        } else {
            prop_assert_eq!(counts, Some(expected.counts));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Strategies.

fn rounding_strategy() -> impl Strategy<Value = Rounding> {
    prop::sample::select(ROUNDINGS.to_vec())
}

fn requant_strategy() -> impl Strategy<Value = RequantMode> {
    prop_oneof![
        Just(RequantMode::Tflite),
        rounding_strategy().prop_map(|rounding| RequantMode::Single { rounding }),
        (2_u32..=32, rounding_strategy()).prop_map(|(multiplier_bits, rounding)| {
            RequantMode::Fixed {
                multiplier_bits,
                rounding,
            }
        }),
        rounding_strategy().prop_map(|rounding| RequantMode::Shift { rounding }),
    ]
}

fn overflow_strategy() -> impl Strategy<Value = Overflow> {
    prop_oneof![Just(Overflow::Wrap), Just(Overflow::Saturate)]
}

/// Datapaths with int8 operands, a register of 8 to 32 bits, any rows,
/// bias and zero-point mode, requantiser and seed.
fn datapath_strategy(overflow: BoxedStrategy<Overflow>) -> BoxedStrategy<Datapath> {
    (
        1_usize..=20,
        8_u32..=32,
        overflow,
        prop_oneof![Just(BiasMode::Init), Just(BiasMode::Post)],
        prop_oneof![Just(ZeroPointMode::Subtract), Just(ZeroPointMode::Fold)],
        requant_strategy(),
        1_u32..,
    )
        .prop_map(
            |(rows, bits, overflow, bias, zero_point, requant, seed)| Datapath {
                rows,
                activation: IntFormat::INT8,
                weight: IntFormat::INT8,
                accumulator: AccumulatorMode::Register { bits, overflow },
                bias,
                zero_point,
                requant,
                seed,
            },
        )
        .boxed()
}

fn padding_strategy() -> BoxedStrategy<Padding> {
    prop_oneof![Just(Padding::Same), Just(Padding::Valid)].boxed()
}

/// Small conv, depthwise and fully connected shapes with at least one
/// output element.
fn shape_strategy() -> impl Strategy<Value = Shape> {
    let window = (
        1_usize..=2,
        1_usize..=6,
        1_usize..=6,
        (1_usize..=3, 1_usize..=3),
        (1_usize..=2, 1_usize..=2),
        (1_usize..=2, 1_usize..=2),
        padding_strategy(),
    );
    let conv = (window.clone(), 1_usize..=2, 1_usize..=3, 1_usize..=3).prop_map(
        |((batch, in_h, in_w, kernel, stride, dilation, padding), groups, group_in, group_out)| {
            Shape {
                kind: Kind::Conv { groups },
                batch,
                in_h,
                in_w,
                cin: groups * group_in,
                cout: groups * group_out,
                kernel,
                stride,
                dilation,
                padding,
            }
        },
    );
    let depthwise = (window, 1_usize..=4, 1_usize..=2).prop_map(
        |((batch, in_h, in_w, kernel, stride, dilation, padding), cin, multiplier)| Shape {
            kind: Kind::Depthwise { multiplier },
            batch,
            in_h,
            in_w,
            cin,
            cout: cin * multiplier,
            kernel,
            stride,
            dilation,
            padding,
        },
    );
    let fully_connected =
        (1_usize..=3, 1_usize..=40, 1_usize..=6).prop_map(|(batch, depth, units)| Shape {
            kind: Kind::FullyConnected,
            batch,
            in_h: 1,
            in_w: 1,
            cin: depth,
            cout: units,
            kernel: (1, 1),
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::Valid,
        });
    prop_oneof![conv, depthwise, fully_connected].prop_filter("no output", |shape| {
        let (h, w) = shape.out_hw();
        h > 0 && w > 0
    })
}

/// Generates a layer's data and quantisation for `shape`. The effective
/// scale lies between 2^-12 and 2^-2, so accumulators land in the int8
/// output range.
fn problem_strategy(datapath: BoxedStrategy<Datapath>) -> impl Strategy<Value = MacProblem> {
    shape_strategy().prop_flat_map(move |shape| {
        let inputs: usize = shape.input_shape().iter().product();
        let weights: usize = shape.weight_shape().iter().product();
        let channels = if shape.cout > 1 { shape.cout } else { 1 };
        (
            prop::collection::vec(any::<i8>(), inputs),
            prop::collection::vec(-127_i8..=127, weights),
            prop::collection::vec(-(1_i32 << 20)..(1 << 20), shape.cout),
            (0.005_f32..0.1, -128_i32..=127, -128_i32..=127),
            prop::collection::vec(0.002_f32..0.02, channels),
            2.0_f32..12.0,
            datapath.clone(),
        )
            .prop_map(
                move |(
                    input,
                    weights,
                    bias,
                    (input_scale, input_zp, output_zp),
                    weight_scales,
                    log_ratio,
                    datapath,
                )| {
                    let output_scale = input_scale * weight_scales[0] * 2f32.powf(log_ratio);
                    MacProblem {
                        shape,
                        quant: Quant {
                            input_scale,
                            input_zero_point: input_zp,
                            output_scale,
                            output_zero_point: output_zp,
                            weight_scales,
                        },
                        input,
                        weights,
                        bias,
                        datapath,
                    }
                },
            )
    })
}

fn format_strategy(min_bits: u8) -> impl Strategy<Value = IntFormat> {
    (min_bits..=16_u8, any::<bool>()).prop_map(|(bits, signed)| {
        if signed {
            IntFormat::signed(bits).unwrap()
        } else {
            IntFormat::unsigned(bits).unwrap()
        }
    })
}

// ---------------------------------------------------------------------------
// Property tests against the naive model.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Saturating and wrapping registers of 8 to 32 bits in fold order,
    /// with their overflow counts, on conv, depthwise and fully connected
    /// layers, every bias and zero-point mode and every requantiser.
    #[test]
    fn fold_order_matches_naive_model(
        problem in problem_strategy(datapath_strategy(overflow_strategy().boxed())),
    ) {
        problem.check()?;
    }

    /// Narrow and unsigned activation formats, narrow signed weight
    /// formats, on any accumulator.
    #[test]
    fn operand_formats_match_naive_model(
        problem in problem_strategy(
            (
                datapath_strategy(overflow_strategy().boxed()),
                format_strategy(1),
                format_strategy(2).prop_map(|f| IntFormat::signed(f.bits()).unwrap()),
            )
                .prop_map(|(datapath, activation, weight)| Datapath {
                    activation,
                    weight,
                    ..datapath
                })
                .boxed(),
        ),
    ) {
        problem.check()?;
    }

    /// The reference accumulator with any requantiser resolves to a 32-bit
    /// wrapping register and counts its events.
    #[test]
    fn reference_accumulator_with_other_requant(
        problem in problem_strategy(
            datapath_strategy(Just(Overflow::Wrap).boxed())
                .prop_map(|datapath| Datapath {
                    accumulator: AccumulatorMode::Reference,
                    ..datapath
                })
                .boxed(),
        ),
    ) {
        problem.check()?;
    }

    /// Under wrap the result is the exact sum modulo 2^bits in any order:
    /// here the products summed last term first, without folds, wrapped
    /// once.
    #[test]
    fn wrap_equals_exact_sum_modulo(
        problem in problem_strategy(
            datapath_strategy(Just(Overflow::Wrap).boxed())
                .prop_map(|datapath| Datapath {
                    requant: RequantMode::Tflite,
                    ..datapath
                })
                .boxed(),
        ),
    ) {
        let AccumulatorMode::Register { bits, .. } = problem.datapath.accumulator else {
            unreachable!("the strategy sets a register");
        };
        let shape = &problem.shape;
        let zero_point = i128::from(problem.quant.input_zero_point);
        let elements: usize = shape.output_shape().iter().product();
        let mut expected = Vec::with_capacity(elements);
        for element in 0..elements {
            let channel = element % shape.cout;
            let mut sum = i128::from(problem.bias[channel]);
            for k in (0..shape.terms()).rev() {
                let (input, weight) = shape.term(element, k);
                if let Some(index) = input {
                    let operand = i128::from(problem.input[index]) - zero_point;
                    sum += operand * i128::from(problem.weights[weight]);
                }
            }
            let half = 1_i128 << (bits - 1);
            let wrapped = (sum + half).rem_euclid(1_i128 << bits) - half;
            expected.push(requantize(
                wrapped as i64,
                bits,
                RequantMode::Tflite,
                problem.quant.multiplier(shape.kind, channel),
                problem.quant.output_zero_point,
                0,
            ));
        }
        let (output, _) = problem.run().map_err(TestCaseError::fail)?;
        prop_assert_eq!(output, expected);
    }

    /// Every requantiser and rounding on random accumulators and scales.
    #[test]
    fn requant_modes_match_i128_reference(
        accumulator in prop_oneof![-(1_i64 << 40)..(1_i64 << 40), any::<i64>()],
        multiplier in (1_i32 << 30)..=i32::MAX,
        shift in -31_i32..=2,
        multiplier_bits in 2_u32..=32,
        rounding in rounding_strategy(),
        random: u32,
    ) {
        check_requant_modes(accumulator, multiplier, shift, multiplier_bits, rounding, random)?;
    }

    /// The same on scales that are powers of two, where small accumulators
    /// hit ties, negative ones included.
    #[test]
    fn requant_modes_hit_ties(
        accumulator in -64_i64..64,
        shift in -4_i32..=0,
        multiplier_bits in 2_u32..=32,
        rounding in rounding_strategy(),
        random: u32,
    ) {
        check_requant_modes(accumulator, 1 << 30, shift, multiplier_bits, rounding, random)?;
    }
}

/// Checks the library's single, fixed and shift requantisers against the
/// models above for one accumulator and scale.
fn check_requant_modes(
    accumulator: i64,
    multiplier: i32,
    shift: i32,
    multiplier_bits: u32,
    rounding: Rounding,
    random: u32,
) -> Result<(), TestCaseError> {
    let quantized = QuantizedMultiplier { multiplier, shift };
    let single = single_rounding_scale(quantized);
    prop_assert_eq!(
        multiply_by_integer_scale(accumulator, single, rounding, random),
        scale_once(
            accumulator,
            i128::from(multiplier),
            31 - i64::from(shift),
            rounding,
            random
        ),
        "single"
    );

    let fixed = quantize_multiplier_to_bits(quantized, multiplier_bits);
    let (short, right_shift) = shortened(quantized, multiplier_bits);
    prop_assert_eq!(
        (i128::from(fixed.multiplier), i64::from(fixed.right_shift)),
        (short, right_shift),
        "shortened multiplier"
    );
    prop_assert_eq!(
        multiply_by_integer_scale(accumulator, fixed, rounding, random),
        scale_once(accumulator, short, right_shift, rounding, random),
        "fixed"
    );

    let power = nearest_power_of_two(quantized);
    let exponent = power_of_two_exponent(quantized);
    prop_assert_eq!(power.right_shift, -exponent as i32, "power-of-two exponent");
    prop_assert_eq!(
        multiply_by_integer_scale(accumulator, power, rounding, random),
        scale_once(accumulator, 1, -exponent, rounding, random),
        "shift"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Named cases.

/// Shortening multiplier 2147478150 (shift -10) to 16 bits rounds it to
/// 2^15, one past the largest signed 16-bit value. It must renormalise to
/// 2^14 with shift -9; a wrap to -2^15 would turn 10000 into -10.
#[test]
fn shortened_multiplier_carry_keeps_sign() {
    let quantized = QuantizedMultiplier {
        multiplier: 2_147_478_150,
        shift: -10,
    };
    let scale = quantize_multiplier_to_bits(quantized, 16);
    assert_eq!(
        scale,
        IntegerScale {
            multiplier: 1 << 14,
            right_shift: 24
        }
    );
    for rounding in [Rounding::HalfAway, Rounding::HalfUp, Rounding::HalfEven] {
        assert_eq!(multiply_by_integer_scale(10_000, scale, rounding, 0), 10);
    }
}

/// Table of the single-rounding requantiser at scale 1/4 (ties at odd
/// multiples of 2), negative ties included, per rounding mode.
#[test]
fn single_rounding_tie_table() {
    let quarter = single_rounding_scale(QuantizedMultiplier {
        multiplier: 1 << 30,
        shift: -1,
    });
    // (x, [half-away, half-up, half-even, truncate]) for x / 4.
    let cases: [(i64, [i64; 4]); 6] = [
        (2, [1, 1, 0, 0]),
        (-2, [-1, 0, 0, -1]),
        (6, [2, 2, 2, 1]),
        (-6, [-2, -1, -2, -2]),
        (10, [3, 3, 2, 2]),
        (-10, [-3, -2, -2, -3]),
    ];
    for (x, expected) in cases {
        for (&rounding, want) in ROUNDINGS[..4].iter().zip(expected) {
            assert_eq!(
                multiply_by_integer_scale(x, quarter, rounding, 0),
                want,
                "{x} / 4 with {rounding:?}"
            );
        }
    }
}

/// The words of the first events equal a Galois LFSR stepped bit by bit,
/// 32 steps per event, from the seed.
#[test]
fn lfsr_words_match_bitwise_lfsr() {
    let seed = 0xC0FF_EE11;
    let mut state = seed;
    for event in 0..50_u64 {
        for _ in 0..32 {
            state = lfsr_step(state);
        }
        assert_eq!(rounding_word(seed, 0, event), Some(state), "event {event}");
    }
}

/// Stochastic rounding is unbiased: over 200,000 words the mean error of
/// `x * scale` rounded stochastically is within 0.006 of zero. Each error
/// lies in (-1, 1) with a variance of at most 1/4, so the standard error of
/// the mean is at most 0.5 / sqrt(200,000) = 0.0011; the tolerance is over
/// five of those, plus the 2^-32 bias of LFSR words, which are never zero.
/// Truncation on the same draws is off by about -0.5, so the test can fail.
#[test]
fn stochastic_rounding_mean_error_near_zero() {
    let scale = IntegerScale {
        multiplier: 1_518_500_250,
        right_shift: 37,
    };
    let exact = |x: i64| x as f64 * f64::from(scale.multiplier) * 2f64.powi(-scale.right_shift);
    let draws = 200_000_u64;
    let mut stochastic_error = 0.0;
    let mut truncate_error = 0.0;
    let mut generator = 0x2545_F491_4F6C_DD1D_u64;
    for event in 0..draws {
        generator ^= generator << 13;
        generator ^= generator >> 7;
        generator ^= generator << 17;
        let x = (generator % 2_000_000) as i64 - 1_000_000;
        let word = rounding_word(0x1234_5678, 2, event).unwrap();
        let rounded = multiply_by_integer_scale(x, scale, Rounding::Stochastic, word);
        stochastic_error += rounded as f64 - exact(x);
        let truncated = multiply_by_integer_scale(x, scale, Rounding::Truncate, 0);
        truncate_error += truncated as f64 - exact(x);
    }
    let mean = stochastic_error / draws as f64;
    assert!(mean.abs() < 0.006, "mean stochastic error {mean}");
    let truncate_mean = truncate_error / draws as f64;
    assert!(
        truncate_mean < -0.4,
        "mean truncation error {truncate_mean}"
    );
}

/// A fixed fraction of 1/4 rounds up in about a quarter of the events:
/// the words are spread evenly over their range.
#[test]
fn stochastic_rounding_rate_follows_fraction() {
    let quarter = IntegerScale {
        multiplier: 1,
        right_shift: 2,
    };
    let draws = 100_000_u64;
    let ups = (0..draws)
        .filter(|&event| {
            let word = rounding_word(99, 0, event).unwrap();
            multiply_by_integer_scale(5, quarter, Rounding::Stochastic, word) == 2
        })
        .count();
    let rate = ups as f64 / draws as f64;
    // Standard error sqrt(0.25 * 0.75 / 100,000) = 0.0014; five of them.
    assert!((rate - 0.25).abs() < 0.007, "round-up rate {rate}");
}

/// Builds a conv and a fully connected layer chained, for run-level tests.
fn two_layer_graph() -> (Graph, TensorValue) {
    let conv = MacProblem {
        shape: Shape {
            kind: Kind::Conv { groups: 1 },
            batch: 1,
            in_h: 6,
            in_w: 5,
            cin: 3,
            cout: 4,
            kernel: (3, 3),
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::Same,
        },
        quant: Quant {
            input_scale: 0.02,
            input_zero_point: -5,
            output_scale: 0.05,
            output_zero_point: 3,
            weight_scales: vec![0.01, 0.013, 0.007, 0.02],
        },
        input: (0..90).map(|i| ((i * 37 + 11) % 256) as u8 as i8).collect(),
        weights: (0..108).map(|i| ((i * 53 + 7) % 255) as i8).collect(),
        bias: vec![1200, -800, 35, 4000],
        datapath: Datapath::reference(),
    };
    let mut graph = conv.graph();
    // FULLY_CONNECTED reads the conv output [1, 6, 5, 4] as one row of 120.
    let fc_weights: Vec<u8> = (0..7 * 120).map(|i| ((i * 29 + 3) % 255) as u8).collect();
    graph.tensors.push(Tensor {
        name: "fc_weights".into(),
        shape: vec![7, 120],
        dtype: DataType::Int8,
        quantization: Some(Quantization::per_tensor(0.004, 0)),
        data: Some(fc_weights),
        is_variable: false,
    });
    graph.tensors.push(Tensor {
        name: "fc_output".into(),
        shape: vec![1, 7],
        dtype: DataType::Int8,
        quantization: Some(Quantization::per_tensor(0.3, -2)),
        data: None,
        is_variable: false,
    });
    graph.ops.push(Op {
        kind: OpKind::FullyConnected(FullyConnectedAttrs {
            activation: Activation::Relu,
            keep_num_dims: false,
        }),
        inputs: vec![Some(2), Some(4), None],
        outputs: vec![5],
    });
    graph.outputs = vec![5];
    (graph, conv.input_value())
}

fn stochastic_datapath() -> Datapath {
    Datapath {
        rows: 7,
        accumulator: AccumulatorMode::Register {
            bits: 18,
            overflow: Overflow::Saturate,
        },
        requant: RequantMode::Shift {
            rounding: Rounding::Stochastic,
        },
        seed: 0xBEEF,
        ..Datapath::reference()
    }
}

/// Stochastic rounding gives the same tensors on every run and with 1, 2,
/// 3 and 8 worker threads (rayon pools of those sizes, the same effect as
/// RAYON_NUM_THREADS).
#[test]
fn stochastic_rounding_is_reproducible() {
    let (graph, input) = two_layer_graph();
    let executor = Executor::new(&graph, &stochastic_datapath()).unwrap();
    let first = executor.run(std::slice::from_ref(&input)).unwrap();
    let again = executor.run(std::slice::from_ref(&input)).unwrap();
    assert_eq!(first.values, again.values);
    for threads in [1, 2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let run = pool.install(|| executor.run(std::slice::from_ref(&input)).unwrap());
        assert_eq!(run.values, first.values, "{threads} threads");
        assert_eq!(run.overflow, first.overflow, "{threads} threads");
    }
    // Another seed changes some output, so the seed is used at all.
    let reseeded = Datapath {
        seed: 0xBEF0,
        ..stochastic_datapath()
    };
    let other = Executor::new(&graph, &reseeded)
        .unwrap()
        .run(std::slice::from_ref(&input))
        .unwrap();
    assert_ne!(other.values[2], first.values[2]);
}

/// Each operator takes its own datapath. The records state what each layer
/// ran with, and a layer's output equals the same layer run alone.
#[test]
fn per_layer_datapaths_apply_to_their_layer() {
    let (graph, input) = two_layer_graph();
    let narrow = Datapath {
        weight: IntFormat::signed(4).unwrap(),
        activation: IntFormat::unsigned(6).unwrap(),
        requant: RequantMode::Fixed {
            multiplier_bits: 12,
            rounding: Rounding::HalfEven,
        },
        ..Datapath::reference()
    };
    let shifted = stochastic_datapath();
    let executor = Executor::with_datapaths(&graph, |index| {
        if index == 0 {
            narrow.clone()
        } else {
            shifted.clone()
        }
    })
    .unwrap();
    assert_eq!(executor.datapath(0), Some(&narrow));
    assert_eq!(executor.datapath(1), Some(&shifted));

    let conv = executor.arithmetic(0).unwrap();
    assert_eq!(
        conv.weight.conversion,
        OperandConversion::Requantized {
            old_steps: 127,
            new_steps: 7,
            zero_point: 0
        }
    );
    assert!(matches!(
        conv.activation.conversion,
        OperandConversion::Requantized {
            old_steps: 255,
            new_steps: 63,
            ..
        }
    ));
    assert_eq!(conv.terms, 27);
    assert_eq!(conv.folds, 2);
    // A 12-bit multiplier is off by at most 2^-11 relative.
    assert!(conv.max_scale_error() > 0.0);
    assert!(conv.max_scale_error() < 1e-3);
    let fc = executor.arithmetic(1).unwrap();
    assert_eq!(fc.accumulator_bits, 18);
    assert_eq!(fc.folds, 120_usize.div_ceil(7));
    // A power of two is off by at most 2^0.5 - 1 = 0.414 relative.
    assert!(fc.max_scale_error() > 0.0);
    assert!(fc.max_scale_error() <= 0.42);

    let mixed = executor.run(std::slice::from_ref(&input)).unwrap();
    let alone = Executor::new(&graph, &narrow)
        .unwrap()
        .run(std::slice::from_ref(&input))
        .unwrap();
    assert_eq!(mixed.values[2], alone.values[2], "conv output");
    assert_eq!(mixed.overflow[0], alone.overflow[0]);
    assert!(mixed.overflow[1].is_some());

    let reference = Executor::new(&graph, &Datapath::reference()).unwrap();
    let run = reference.run(std::slice::from_ref(&input)).unwrap();
    assert_eq!(run.overflow, vec![None, None]);
}

/// An invalid datapath is rejected before any layer is prepared, naming the
/// operator.
#[test]
fn invalid_datapath_names_operator() {
    let (graph, _) = two_layer_graph();
    let result = Executor::with_datapaths(&graph, |index| Datapath {
        rows: if index == 1 { 0 } else { 16 },
        ..Datapath::reference()
    });
    let message = result.err().unwrap().to_string();
    assert!(message.contains("op 1 (FULLY_CONNECTED)"), "{message}");
    assert!(message.contains("rows"), "{message}");
}

/// An unsigned weight format cannot hold symmetric signed weights.
#[test]
fn unsigned_weight_format_rejects_negative_weights() {
    let (graph, _) = two_layer_graph();
    let datapath = Datapath {
        weight: IntFormat::unsigned(8).unwrap(),
        ..Datapath::reference()
    };
    let message = Executor::new(&graph, &datapath).err().unwrap().to_string();
    assert!(message.contains("op 0 (CONV_2D)"), "{message}");
    assert!(message.contains("uint8"), "{message}");
}

/// Builds a 16x8 FULLY_CONNECTED: int16 activations with zero point 0,
/// int8 weights, and an int64 or int32 bias.
fn sixteen_by_eight_graph(wide_bias: bool) -> (Graph, TensorValue) {
    let (depth, units) = (45, 6);
    let activation = |name: &str, dims: Vec<usize>, scale: f32| Tensor {
        name: name.into(),
        shape: dims,
        dtype: DataType::Int16,
        quantization: Some(Quantization::per_tensor(scale, 0)),
        data: None,
        is_variable: false,
    };
    let biases: Vec<i64> = (0..units as i64).map(|u| u * 70_001 - 200_000).collect();
    let (bias_type, bias_bytes) = if wide_bias {
        let bytes = biases.iter().flat_map(|b| b.to_le_bytes()).collect();
        (DataType::Int64, bytes)
    } else {
        let bytes = biases
            .iter()
            .flat_map(|&b| (b as i32).to_le_bytes())
            .collect();
        (DataType::Int32, bytes)
    };
    let weight_scales: Vec<f32> = (0..units).map(|u| 0.002 + 0.0007 * u as f32).collect();
    let graph = Graph {
        name: String::new(),
        description: "16x8 datapath test".into(),
        tensors: vec![
            activation("input", vec![1, depth], 0.0004),
            Tensor {
                name: "weights".into(),
                shape: vec![units, depth],
                dtype: DataType::Int8,
                quantization: Some(Quantization {
                    scales: weight_scales.clone(),
                    zero_points: vec![0; units],
                    axis: Some(0),
                }),
                data: Some(
                    (0..units * depth)
                        .map(|i| ((i * 83 + 5) % 255) as u8)
                        .collect(),
                ),
                is_variable: false,
            },
            activation("output", vec![1, units], 0.003),
            Tensor {
                name: "bias".into(),
                shape: vec![units],
                dtype: bias_type,
                quantization: Some(Quantization {
                    scales: weight_scales.iter().map(|w| w * 0.0004).collect(),
                    zero_points: vec![0; units],
                    axis: Some(0),
                }),
                data: Some(bias_bytes),
                is_variable: false,
            },
        ],
        ops: vec![Op {
            kind: OpKind::FullyConnected(FullyConnectedAttrs {
                activation: Activation::None,
                keep_num_dims: false,
            }),
            inputs: vec![Some(0), Some(1), Some(3)],
            outputs: vec![2],
        }],
        inputs: vec![0],
        outputs: vec![2],
    };
    let input = TensorValue {
        shape: vec![1, depth],
        data: TensorData::I16(
            (0..depth)
                .map(|i| ((i * 7919 + 13) % 65536) as u16 as i16)
                .collect(),
        ),
    };
    (graph, input)
}

/// A 16x8 layer on a wrapping register as wide as the reference's (64 bits
/// with an int64 bias, 32 with an int32 one) and TFLite requantisation
/// equals the reference datapath, which picks the same register and
/// overload.
#[test]
fn sixteen_by_eight_register_matches_reference() {
    for (wide_bias, bits) in [(true, 64), (false, 32)] {
        let (graph, input) = sixteen_by_eight_graph(wide_bias);
        let reference = Executor::new(&graph, &Datapath::reference())
            .unwrap()
            .run(std::slice::from_ref(&input))
            .unwrap();
        let datapath = Datapath {
            rows: 4,
            accumulator: AccumulatorMode::Register {
                bits,
                overflow: Overflow::Wrap,
            },
            ..Datapath::reference()
        };
        let executor = Executor::new(&graph, &datapath).unwrap();
        let run = executor.run(std::slice::from_ref(&input)).unwrap();
        assert_eq!(run.values[2], reference.values[2], "{bits}-bit register");
        assert_eq!(executor.arithmetic(0).unwrap().accumulator_bits, bits);
        let overload = if wide_bias {
            TfliteOverload::Int64
        } else {
            TfliteOverload::Int32
        };
        assert_eq!(executor.arithmetic(0).unwrap().tflite_overload, overload);
        assert_eq!(run.overflow[0].unwrap().events, 0, "{bits}-bit register");
    }
}

/// int16 activations on an int8 format are requantised at the layer input.
/// The outputs stay on the model's int16 output grid and, here, within 1%
/// of the output range of the reference.
#[test]
fn sixteen_by_eight_on_int8_activations() {
    let (graph, input) = sixteen_by_eight_graph(true);
    let reference = Executor::new(&graph, &Datapath::reference())
        .unwrap()
        .run(std::slice::from_ref(&input))
        .unwrap();
    let datapath = Datapath {
        activation: IntFormat::INT8,
        ..Datapath::reference()
    };
    let executor = Executor::new(&graph, &datapath).unwrap();
    let run = executor.run(std::slice::from_ref(&input)).unwrap();
    let arithmetic = executor.arithmetic(0).unwrap();
    assert_eq!(
        arithmetic.activation.conversion,
        OperandConversion::Requantized {
            old_steps: 65535,
            new_steps: 255,
            zero_point: 0
        }
    );
    let (
        Some(TensorValue {
            data: TensorData::I16(expected),
            ..
        }),
        Some(TensorValue {
            data: TensorData::I16(got),
            ..
        }),
    ) = (&reference.values[2], &run.values[2])
    else {
        panic!("outputs are not int16");
    };
    for (unit, (&want, &have)) in expected.iter().zip(got).enumerate() {
        let difference = (i32::from(want) - i32::from(have)).abs();
        assert!(
            difference <= 655,
            "unit {unit}: reference {want}, int8 operands {have}"
        );
    }
    assert_ne!(expected, got, "requantisation changed nothing");
}

// ---------------------------------------------------------------------------
// The reference-equivalent configuration on the shared models.

/// Generates a deterministic int8 or int16 value for a graph input.
fn random_input(tensor: &Tensor, seed: u64) -> TensorValue {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let count = tensor.element_count();
    let data = match tensor.dtype {
        DataType::Int8 => TensorData::I8((0..count).map(|_| (next() >> 56) as u8 as i8).collect()),
        DataType::Int16 => {
            TensorData::I16((0..count).map(|_| (next() >> 48) as u16 as i16).collect())
        }
        other => panic!("no random input for type {other}"),
    };
    TensorValue {
        shape: tensor.shape.clone(),
        data,
    }
}

/// int8 operands, a 32-bit wrapping register in fold order and TFLite
/// requantisation (any rows, bias and zero-point mode) reproduce the
/// reference datapath on every tensor of every shared model.
#[test]
fn reference_equivalent_matches_reference_on_shared_models() {
    let models = require_shared_models!();
    let mut paths: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "tflite"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        skip!("no .tflite model in {}", models.display());
    }
    let configurations = [
        (1, BiasMode::Init, ZeroPointMode::Subtract),
        (16, BiasMode::Post, ZeroPointMode::Fold),
        (27, BiasMode::Init, ZeroPointMode::Fold),
    ];
    for path in paths {
        let graph = fxsim::import::tflite::read_file(&path).unwrap();
        let reference = Executor::new(&graph, &Datapath::reference()).unwrap();
        for (seed, (rows, bias, zero_point)) in configurations.into_iter().enumerate() {
            let datapath = Datapath {
                rows,
                activation: IntFormat::INT8,
                weight: IntFormat::INT8,
                accumulator: AccumulatorMode::Register {
                    bits: 32,
                    overflow: Overflow::Wrap,
                },
                bias,
                zero_point,
                requant: RequantMode::Tflite,
                seed: 1,
            };
            let equivalent = Executor::new(&graph, &datapath).unwrap();
            let inputs: Vec<TensorValue> = graph
                .inputs
                .iter()
                .map(|&id| random_input(graph.tensor(id), seed as u64 + 1))
                .collect();
            let expected = reference.run(&inputs).unwrap();
            let got = equivalent.run(&inputs).unwrap();
            for (id, (want, have)) in expected.values.iter().zip(&got.values).enumerate() {
                assert!(
                    want == have,
                    "{}: tensor {id} ({}) differs with rows {rows}, {bias:?}, {zero_point:?}",
                    path.display(),
                    graph.tensor(id).name
                );
            }
            for (index, counts) in got.overflow.iter().enumerate() {
                if let Some(counts) = counts {
                    assert_eq!(
                        counts.overflowed_results,
                        0,
                        "{}: op {index} overflowed a 32-bit register",
                        path.display()
                    );
                }
            }
        }
    }
}
