//! Property tests of the pooling, elementwise, data-movement, MEAN, SOFTMAX
//! and LOGISTIC kernels against plain references written from the
//! documented TFLite Micro semantics.
//!
//! Each problem is a struct with a proptest strategy, a `reference()` that
//! computes the expected output directly (coordinates, i128 arithmetic,
//! f64), and `run()`, which builds a one-operator graph and runs it through
//! the executor. Where the reference is real arithmetic rather than the
//! exact integer recipe, the check allows the documented rounding error.

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::model::{
    Activation, DataType, Graph, Hw, Op, OpKind, Padding, Pool2dAttrs, Quantization, Tensor,
};
use fxsim::numeric::quantize_multiplier;
use proptest::prelude::*;

/// Builds an activation tensor with per-tensor quantisation.
fn activation_tensor(
    name: &str,
    shape: &[usize],
    dtype: DataType,
    scale: f32,
    zero_point: i64,
) -> Tensor {
    Tensor {
        name: name.to_string(),
        shape: shape.to_vec(),
        dtype,
        quantization: Some(Quantization::per_tensor(scale, zero_point)),
        data: None,
        is_variable: false,
    }
}

/// Builds a constant int32 tensor (axes, paddings, permutations).
fn int32_constant(name: &str, shape: &[usize], values: &[i32]) -> Tensor {
    Tensor {
        name: name.to_string(),
        shape: shape.to_vec(),
        dtype: DataType::Int32,
        quantization: None,
        data: Some(
            values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
        ),
        is_variable: false,
    }
}

/// Runs a graph of one operator whose non-constant inputs are `inputs` (in
/// tensor order) and returns its first output.
fn run_one_op(
    kind: OpKind,
    tensors: Vec<Tensor>,
    op_inputs: Vec<usize>,
    output: usize,
    inputs: &[TensorValue],
) -> TensorValue {
    let graph_inputs: Vec<usize> = op_inputs
        .iter()
        .copied()
        .filter(|&id| !tensors[id].is_constant())
        .collect();
    let graph = Graph {
        name: String::new(),
        description: String::new(),
        tensors,
        ops: vec![Op {
            kind,
            inputs: op_inputs.into_iter().map(Some).collect(),
            outputs: vec![output],
        }],
        inputs: graph_inputs,
        outputs: vec![output],
    };
    let executor = Executor::new(&graph, &Datapath::reference())
        .unwrap_or_else(|error| panic!("prepare failed: {error}"));
    let execution = executor
        .run(inputs)
        .unwrap_or_else(|error| panic!("eval failed: {error}"));
    execution.values[output]
        .clone()
        .expect("output has a value")
}

fn i8_value(shape: &[usize], values: &[i8]) -> TensorValue {
    TensorValue {
        shape: shape.to_vec(),
        data: TensorData::I8(values.to_vec()),
    }
}

fn i8_data(value: &TensorValue) -> Vec<i8> {
    match &value.data {
        TensorData::I8(values) => values.clone(),
        other => panic!("expected int8 output, got {:?}", other.dtype()),
    }
}

/// Row-major coordinates of flat index `flat` in `shape`.
fn unravel(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut coordinates = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        coordinates[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    coordinates
}

/// Row-major flat index of `coordinates` in `shape`.
fn ravel(shape: &[usize], coordinates: &[usize]) -> usize {
    coordinates
        .iter()
        .zip(shape)
        .fold(0, |flat, (&c, &dim)| flat * dim + c)
}

/// `round(a * b / 2^31)` with ties toward +inf, saturating `MIN * MIN`:
/// gemmlowp's saturating rounding doubling high multiply, in i128.
fn high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let product = i128::from(a) * i128::from(b);
    (product + (1 << 30)).div_euclid(1 << 31) as i32
}

/// `round(x / 2^exponent)` with ties away from zero, in i128.
fn divide_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent == 0 {
        return x;
    }
    let divisor = 1_i128 << exponent;
    let magnitude = (i128::from(x).abs() * 2 + divisor) / (2 * divisor);
    (if x < 0 { -magnitude } else { magnitude }) as i32
}

/// `x * multiplier * 2^(shift - 31)` with TFLite's two roundings.
fn scale_by(x: i32, real: f64) -> i32 {
    let quantized = quantize_multiplier(real);
    let shifted = (i64::from(x) << quantized.shift.max(0)) as i32;
    divide_by_pot(
        high_mul(shifted, quantized.multiplier),
        (-quantized.shift).max(0),
    )
}

/// Returns the fused-activation clamp of an int8 output, from the TFLite
/// definition: bounds `zero_point + round(bound / scale)` in float32.
fn activation_bounds(activation: Activation, scale: f32, zero_point: i32) -> (i32, i32) {
    let quantize = |real: f32| zero_point + (real / scale).round() as i32;
    match activation {
        Activation::Relu => (quantize(0.0).max(-128), 127),
        Activation::Relu6 => (quantize(0.0).max(-128), quantize(6.0).min(127)),
        Activation::ReluN1To1 => (quantize(-1.0).max(-128), quantize(1.0).min(127)),
        _ => (-128, 127),
    }
}

fn activation_strategy() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::None),
        Just(Activation::Relu),
        Just(Activation::Relu6),
        Just(Activation::ReluN1To1)
    ]
}

/// Draws a quantisation scale log-uniformly from `[2^-8, 1)`.
fn scale_strategy() -> impl Strategy<Value = f32> + Clone {
    (-8.0_f32..0.0).prop_map(|exponent| 2.0_f32.powf(exponent))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PoolKind {
    Average,
    Max,
}

#[derive(Debug, Clone)]
struct PoolProblem {
    kind: PoolKind,
    /// NHWC with batch 1.
    height: usize,
    width: usize,
    channels: usize,
    filter: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    activation: Activation,
    scale: f32,
    zero_point: i32,
    input: Vec<i8>,
}

impl PoolProblem {
    fn strategy() -> impl Strategy<Value = PoolProblem> {
        let geometry = (
            1_usize..8,
            1_usize..8,
            1_usize..4,
            1_usize..5,
            1_usize..5,
            1_usize..4,
            1_usize..4,
        );
        let kind = prop_oneof![Just(PoolKind::Average), Just(PoolKind::Max)];
        let padding = prop_oneof![Just(Padding::Same), Just(Padding::Valid)];
        (
            geometry,
            kind,
            padding,
            activation_strategy(),
            scale_strategy(),
            -20_i32..20,
        )
            .prop_filter(
                "VALID padding needs the filter to fit",
                |((h, w, _, fh, fw, _, _), _, padding, ..)| {
                    *padding == Padding::Same || (fh <= h && fw <= w)
                },
            )
            .prop_flat_map(
                |((h, w, c, fh, fw, sh, sw), kind, padding, activation, scale, zero_point)| {
                    proptest::collection::vec(any::<i8>(), h * w * c).prop_map(move |input| {
                        PoolProblem {
                            kind,
                            height: h,
                            width: w,
                            channels: c,
                            filter: (fh, fw),
                            stride: (sh, sw),
                            padding,
                            activation,
                            scale,
                            zero_point,
                            input,
                        }
                    })
                },
            )
    }

    /// Output extent and padding before, along one axis, from TensorFlow's
    /// definition of SAME and VALID.
    fn axis_geometry(&self, input: usize, filter: usize, stride: usize) -> (usize, usize) {
        match self.padding {
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out - 1) * stride + filter).saturating_sub(input);
                (out, total / 2)
            }
            Padding::Valid => ((input - filter + 1).div_ceil(stride), 0),
        }
    }

    fn output_shape(&self) -> Vec<usize> {
        let (out_h, _) = self.axis_geometry(self.height, self.filter.0, self.stride.0);
        let (out_w, _) = self.axis_geometry(self.width, self.filter.1, self.stride.1);
        vec![1, out_h, out_w, self.channels]
    }

    fn reference(&self) -> Vec<i8> {
        let (out_h, pad_top) = self.axis_geometry(self.height, self.filter.0, self.stride.0);
        let (out_w, pad_left) = self.axis_geometry(self.width, self.filter.1, self.stride.1);
        let (low, high) = activation_bounds(self.activation, self.scale, self.zero_point);
        let mut output = Vec::new();
        for oy in 0..out_h {
            for ox in 0..out_w {
                for channel in 0..self.channels {
                    let mut window = Vec::new();
                    for fy in 0..self.filter.0 {
                        for fx in 0..self.filter.1 {
                            let y = (oy * self.stride.0 + fy) as i64 - pad_top as i64;
                            let x = (ox * self.stride.1 + fx) as i64 - pad_left as i64;
                            if (0..self.height as i64).contains(&y)
                                && (0..self.width as i64).contains(&x)
                            {
                                let index = (y as usize * self.width + x as usize) * self.channels
                                    + channel;
                                window.push(i32::from(self.input[index]));
                            }
                        }
                    }
                    let value = match self.kind {
                        // f64::round rounds half away from zero; every tie
                        // sum / count is exact in f64.
                        PoolKind::Average => (f64::from(window.iter().sum::<i32>())
                            / window.len() as f64)
                            .round() as i32,
                        PoolKind::Max => *window.iter().max().unwrap(),
                    };
                    output.push(value.clamp(low, high) as i8);
                }
            }
        }
        output
    }

    fn run(&self) -> Vec<i8> {
        let input_shape = [1, self.height, self.width, self.channels];
        let attrs = Pool2dAttrs {
            padding: self.padding,
            stride: Hw {
                h: self.stride.0,
                w: self.stride.1,
            },
            filter: Hw {
                h: self.filter.0,
                w: self.filter.1,
            },
            activation: self.activation,
        };
        let kind = match self.kind {
            PoolKind::Average => OpKind::AveragePool2d(attrs),
            PoolKind::Max => OpKind::MaxPool2d(attrs),
        };
        let zero_point = i64::from(self.zero_point);
        let tensors = vec![
            activation_tensor(
                "input",
                &input_shape,
                DataType::Int8,
                self.scale,
                zero_point,
            ),
            activation_tensor(
                "output",
                &self.output_shape(),
                DataType::Int8,
                self.scale,
                zero_point,
            ),
        ];
        i8_data(&run_one_op(
            kind,
            tensors,
            vec![0],
            1,
            &[i8_value(&input_shape, &self.input)],
        ))
    }
}

proptest! {
    #[test]
    fn pooling_matches_reference(problem in PoolProblem::strategy()) {
        prop_assert_eq!(problem.run(), problem.reference());
    }
}

/// Average pooling of a window summing to -10 over 4 valid elements: -2.5
/// rounds away from zero to -3 (SAME padding leaves 4 of 9 cells valid in
/// the corner).
#[test]
fn average_pool_negative_tie_rounds_away() {
    let problem = PoolProblem {
        kind: PoolKind::Average,
        height: 2,
        width: 2,
        channels: 1,
        filter: (3, 3),
        stride: (1, 1),
        padding: Padding::Same,
        activation: Activation::None,
        scale: 0.5,
        zero_point: 0,
        input: vec![-1, -2, -3, -4],
    };
    assert_eq!(problem.run(), vec![-3, -3, -3, -3]);
    assert_eq!(problem.reference(), vec![-3, -3, -3, -3]);
}

/// SAME padding with an odd total puts the extra row and column after. A
/// 2x2 filter at stride 2 on 3x3 pads one row at the bottom and one column
/// at the right, so the last window holds only the corner element.
#[test]
fn max_pool_same_odd_padding_goes_after() {
    let problem = PoolProblem {
        kind: PoolKind::Max,
        height: 3,
        width: 3,
        channels: 1,
        filter: (2, 2),
        stride: (2, 2),
        padding: Padding::Same,
        activation: Activation::None,
        scale: 1.0,
        zero_point: 0,
        input: vec![1, 2, 3, 4, 5, 6, 7, 8, -9],
    };
    assert_eq!(problem.run(), vec![5, 6, 8, -9]);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinaryKind {
    Add,
    Mul,
}

#[derive(Debug, Clone)]
struct BinaryProblem {
    kind: BinaryKind,
    shape1: Vec<usize>,
    shape2: Vec<usize>,
    output_shape: Vec<usize>,
    /// (scale, zero point) of input 1, input 2 and the output.
    quant: [(f32, i32); 3],
    activation: Activation,
    input1: Vec<i8>,
    input2: Vec<i8>,
}

impl BinaryProblem {
    /// Shapes of rank 1 to 4 where each dimension of either input may be 1
    /// and input 2 may drop leading dimensions.
    fn strategy() -> impl Strategy<Value = BinaryProblem> {
        let dims = proptest::collection::vec((1_usize..4, 0_u8..3), 1..5);
        let kind = prop_oneof![Just(BinaryKind::Add), Just(BinaryKind::Mul)];
        let quant = (scale_strategy(), -128_i32..128);
        (
            dims,
            0_usize..3,
            kind,
            [quant.clone(), quant.clone(), quant],
            activation_strategy(),
        )
            .prop_flat_map(|(dims, dropped, kind, quant, activation)| {
                let output_shape: Vec<usize> = dims.iter().map(|&(dim, _)| dim).collect();
                let dropped = dropped.min(dims.len() - 1);
                // Input 1 keeps the full extent where input 2 has no dimension.
                let shape1: Vec<usize> = dims
                    .iter()
                    .enumerate()
                    .map(|(axis, &(dim, which))| {
                        if which == 1 && axis >= dropped {
                            1
                        } else {
                            dim
                        }
                    })
                    .collect();
                let full2: Vec<usize> = dims
                    .iter()
                    .map(|&(dim, which)| if which == 2 { 1 } else { dim })
                    .collect();
                let shape2 = full2[dropped..].to_vec();
                let len1: usize = shape1.iter().product();
                let len2: usize = shape2.iter().product();
                (
                    proptest::collection::vec(any::<i8>(), len1),
                    proptest::collection::vec(any::<i8>(), len2),
                )
                    .prop_map(move |(input1, input2)| BinaryProblem {
                        kind,
                        shape1: shape1.clone(),
                        shape2: shape2.clone(),
                        output_shape: output_shape.clone(),
                        quant,
                        activation,
                        input1,
                        input2,
                    })
            })
            .prop_filter("ADD needs an output multiplier below 1", |problem| {
                let [(s1, _), (s2, _), (so, _)] = problem.quant;
                problem.kind == BinaryKind::Mul
                    || 2.0 * f64::from(s1.max(s2)) / (f64::from(1_u32 << 20) * f64::from(so)) < 1.0
            })
    }

    /// The element of `input` (of `shape`) that meets output position
    /// `coordinates` under broadcasting.
    fn broadcast_element(input: &[i8], shape: &[usize], coordinates: &[usize]) -> i32 {
        let skipped = coordinates.len() - shape.len();
        let own: Vec<usize> = coordinates[skipped..]
            .iter()
            .zip(shape)
            .map(|(&c, &dim)| if dim == 1 { 0 } else { c })
            .collect();
        i32::from(input[ravel(shape, &own)])
    }

    /// The exact TFLite integer recipe, written with i128 helpers.
    fn reference(&self) -> Vec<i8> {
        let [(s1, z1), (s2, z2), (so, zo)] = self.quant;
        let (low, high) = activation_bounds(self.activation, so, zo);
        let total: usize = self.output_shape.iter().product();
        (0..total)
            .map(|flat| {
                let coordinates = unravel(&self.output_shape, flat);
                let x = Self::broadcast_element(&self.input1, &self.shape1, &coordinates) - z1;
                let y = Self::broadcast_element(&self.input2, &self.shape2, &coordinates) - z2;
                let raw = match self.kind {
                    BinaryKind::Add => {
                        let twice_max = 2.0 * f64::from(s1.max(s2));
                        let scaled1 = scale_by(x << 20, f64::from(s1) / twice_max);
                        let scaled2 = scale_by(y << 20, f64::from(s2) / twice_max);
                        scale_by(
                            scaled1 + scaled2,
                            twice_max / (f64::from(1_u32 << 20) * f64::from(so)),
                        )
                    }
                    BinaryKind::Mul => {
                        scale_by(x * y, f64::from(s1) * f64::from(s2) / f64::from(so))
                    }
                };
                (raw + zo).clamp(low, high) as i8
            })
            .collect()
    }

    /// The real-valued result on the output grid, before clamping.
    fn real_output(&self, flat: usize) -> f64 {
        let [(s1, z1), (s2, z2), (so, zo)] = self.quant;
        let coordinates = unravel(&self.output_shape, flat);
        let x = f64::from(s1)
            * f64::from(Self::broadcast_element(&self.input1, &self.shape1, &coordinates) - z1);
        let y = f64::from(s2)
            * f64::from(Self::broadcast_element(&self.input2, &self.shape2, &coordinates) - z2);
        let real = match self.kind {
            BinaryKind::Add => x + y,
            BinaryKind::Mul => x * y,
        };
        real / f64::from(so) + f64::from(zo)
    }

    fn run(&self) -> Vec<i8> {
        let [(s1, z1), (s2, z2), (so, zo)] = self.quant;
        let tensors = vec![
            activation_tensor("input1", &self.shape1, DataType::Int8, s1, z1.into()),
            activation_tensor("input2", &self.shape2, DataType::Int8, s2, z2.into()),
            activation_tensor("output", &self.output_shape, DataType::Int8, so, zo.into()),
        ];
        let kind = match self.kind {
            BinaryKind::Add => OpKind::Add {
                activation: self.activation,
            },
            BinaryKind::Mul => OpKind::Mul {
                activation: self.activation,
            },
        };
        let inputs = [
            i8_value(&self.shape1, &self.input1),
            i8_value(&self.shape2, &self.input2),
        ];
        i8_data(&run_one_op(kind, tensors, vec![0, 1], 2, &inputs))
    }
}

proptest! {
    #[test]
    fn add_and_mul_match_reference(problem in BinaryProblem::strategy()) {
        let output = problem.run();
        prop_assert_eq!(&output, &problem.reference());

        // The integer recipe stays within one step of the real result.
        let (low, high) = activation_bounds(problem.activation, problem.quant[2].0, problem.quant[2].1);
        for (flat, &q) in output.iter().enumerate() {
            let real = problem.real_output(flat);
            let expected = real.clamp(f64::from(low), f64::from(high));
            prop_assert!((f64::from(q) - expected).abs() <= 1.0, "element {}: {} vs real {}", flat, q, real);
        }
    }
}

#[derive(Debug, Clone)]
struct TransposeProblem {
    shape: Vec<usize>,
    perm: Vec<usize>,
    input: Vec<i8>,
}

impl TransposeProblem {
    fn strategy() -> impl Strategy<Value = TransposeProblem> {
        proptest::collection::vec(1_usize..5, 1..6).prop_flat_map(|shape| {
            let rank = shape.len();
            let len: usize = shape.iter().product();
            (
                Just((0..rank).collect::<Vec<_>>()).prop_shuffle(),
                proptest::collection::vec(any::<i8>(), len),
            )
                .prop_map(move |(perm, input)| TransposeProblem {
                    shape: shape.clone(),
                    perm,
                    input,
                })
        })
    }

    fn output_shape(&self) -> Vec<usize> {
        self.perm.iter().map(|&axis| self.shape[axis]).collect()
    }

    fn reference(&self) -> Vec<i8> {
        let output_shape = self.output_shape();
        (0..self.input.len())
            .map(|flat| {
                let out = unravel(&output_shape, flat);
                let mut source = vec![0; self.shape.len()];
                for (position, &axis) in self.perm.iter().enumerate() {
                    source[axis] = out[position];
                }
                self.input[ravel(&self.shape, &source)]
            })
            .collect()
    }

    fn run(&self) -> Vec<i8> {
        let perm: Vec<i32> = self.perm.iter().map(|&axis| axis as i32).collect();
        let tensors = vec![
            activation_tensor("input", &self.shape, DataType::Int8, 0.1, 3),
            int32_constant("perm", &[perm.len()], &perm),
            activation_tensor("output", &self.output_shape(), DataType::Int8, 0.1, 3),
        ];
        i8_data(&run_one_op(
            OpKind::Transpose,
            tensors,
            vec![0, 1],
            2,
            &[i8_value(&self.shape, &self.input)],
        ))
    }
}

#[derive(Debug, Clone)]
struct PadProblem {
    shape: Vec<usize>,
    /// (before, after) per dimension.
    paddings: Vec<(usize, usize)>,
    zero_point: i32,
    input: Vec<i8>,
}

impl PadProblem {
    fn strategy() -> impl Strategy<Value = PadProblem> {
        (
            proptest::collection::vec((1_usize..4, 0_usize..3, 0_usize..3), 1..5),
            -128_i32..128,
        )
            .prop_flat_map(|(dims, zero_point)| {
                let shape: Vec<usize> = dims.iter().map(|&(dim, _, _)| dim).collect();
                let paddings: Vec<(usize, usize)> = dims
                    .iter()
                    .map(|&(_, before, after)| (before, after))
                    .collect();
                proptest::collection::vec(any::<i8>(), shape.iter().product::<usize>()).prop_map(
                    move |input| PadProblem {
                        shape: shape.clone(),
                        paddings: paddings.clone(),
                        zero_point,
                        input,
                    },
                )
            })
    }

    fn output_shape(&self) -> Vec<usize> {
        self.shape
            .iter()
            .zip(&self.paddings)
            .map(|(&dim, &(before, after))| before + dim + after)
            .collect()
    }

    fn reference(&self) -> Vec<i8> {
        let output_shape = self.output_shape();
        let total: usize = output_shape.iter().product();
        (0..total)
            .map(|flat| {
                let out = unravel(&output_shape, flat);
                let source: Option<Vec<usize>> = out
                    .iter()
                    .zip(&self.paddings)
                    .zip(&self.shape)
                    .map(|((&c, &(before, _)), &dim)| c.checked_sub(before).filter(|&s| s < dim))
                    .collect();
                source.map_or(self.zero_point as i8, |source| {
                    self.input[ravel(&self.shape, &source)]
                })
            })
            .collect()
    }

    fn run(&self) -> Vec<i8> {
        let paddings: Vec<i32> = self
            .paddings
            .iter()
            .flat_map(|&(before, after)| [before as i32, after as i32])
            .collect();
        let zero_point = i64::from(self.zero_point);
        let tensors = vec![
            activation_tensor("input", &self.shape, DataType::Int8, 0.05, zero_point),
            int32_constant("paddings", &[self.shape.len(), 2], &paddings),
            activation_tensor(
                "output",
                &self.output_shape(),
                DataType::Int8,
                0.05,
                zero_point,
            ),
        ];
        i8_data(&run_one_op(
            OpKind::Pad,
            tensors,
            vec![0, 1],
            2,
            &[i8_value(&self.shape, &self.input)],
        ))
    }
}

#[derive(Debug, Clone)]
struct ConcatProblem {
    /// Shape shared by every input except along `axis`.
    shape: Vec<usize>,
    axis: usize,
    /// Extent of each input along `axis`.
    extents: Vec<usize>,
    inputs: Vec<Vec<i8>>,
}

impl ConcatProblem {
    fn strategy() -> impl Strategy<Value = ConcatProblem> {
        (
            proptest::collection::vec(1_usize..4, 1..5),
            proptest::collection::vec(1_usize..4, 1..5),
            any::<prop::sample::Index>(),
        )
            .prop_flat_map(|(shape, extents, axis)| {
                let axis = axis.index(shape.len());
                let inputs: Vec<_> = extents
                    .iter()
                    .map(|&extent| {
                        let len = shape.iter().product::<usize>() / shape[axis] * extent;
                        proptest::collection::vec(any::<i8>(), len)
                    })
                    .collect();
                (Just(shape), Just(axis), Just(extents), inputs)
            })
            .prop_map(|(shape, axis, extents, inputs)| ConcatProblem {
                shape,
                axis,
                extents,
                inputs,
            })
    }

    fn input_shape(&self, input: usize) -> Vec<usize> {
        let mut shape = self.shape.clone();
        shape[self.axis] = self.extents[input];
        shape
    }

    fn output_shape(&self) -> Vec<usize> {
        let mut shape = self.shape.clone();
        shape[self.axis] = self.extents.iter().sum();
        shape
    }

    fn reference(&self) -> Vec<i8> {
        let output_shape = self.output_shape();
        let total: usize = output_shape.iter().product();
        (0..total)
            .map(|flat| {
                let mut coordinates = unravel(&output_shape, flat);
                let mut input = 0;
                while coordinates[self.axis] >= self.extents[input] {
                    coordinates[self.axis] -= self.extents[input];
                    input += 1;
                }
                self.inputs[input][ravel(&self.input_shape(input), &coordinates)]
            })
            .collect()
    }

    fn run(&self) -> Vec<i8> {
        let count = self.inputs.len();
        let mut tensors: Vec<Tensor> = (0..count)
            .map(|input| {
                activation_tensor(
                    &format!("input{input}"),
                    &self.input_shape(input),
                    DataType::Int8,
                    0.25,
                    -7,
                )
            })
            .collect();
        tensors.push(activation_tensor(
            "output",
            &self.output_shape(),
            DataType::Int8,
            0.25,
            -7,
        ));
        let values: Vec<TensorValue> = self
            .inputs
            .iter()
            .enumerate()
            .map(|(input, data)| i8_value(&self.input_shape(input), data))
            .collect();
        // A negative axis counts from the end; use it on every other case.
        let axis = if self.axis % 2 == 1 {
            self.axis as i32 - self.shape.len() as i32
        } else {
            self.axis as i32
        };
        let kind = OpKind::Concatenation {
            axis,
            activation: Activation::None,
        };
        i8_data(&run_one_op(
            kind,
            tensors,
            (0..count).collect(),
            count,
            &values,
        ))
    }
}

proptest! {
    #[test]
    fn transpose_matches_reference(problem in TransposeProblem::strategy()) {
        prop_assert_eq!(problem.run(), problem.reference());
    }

    #[test]
    fn pad_matches_reference(problem in PadProblem::strategy()) {
        prop_assert_eq!(problem.run(), problem.reference());
    }

    #[test]
    fn concatenation_matches_reference(problem in ConcatProblem::strategy()) {
        prop_assert_eq!(problem.run(), problem.reference());
    }
}

#[derive(Debug, Clone)]
struct MeanProblem {
    shape: Vec<usize>,
    /// Reduced axes, possibly negative and repeated.
    axes: Vec<i32>,
    keep_dims: bool,
    quant: [(f32, i32); 2],
    input: Vec<i8>,
}

impl MeanProblem {
    fn strategy() -> impl Strategy<Value = MeanProblem> {
        let quant = (scale_strategy(), -128_i32..128);
        (
            proptest::collection::vec(1_usize..6, 1..5),
            proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
            any::<bool>(),
            any::<bool>(),
            [quant.clone(), quant],
        )
            .prop_flat_map(|(shape, picks, negative, keep_dims, quant)| {
                let rank = shape.len() as i32;
                let axes: Vec<i32> = picks
                    .iter()
                    .map(|pick| {
                        let axis = pick.index(shape.len()) as i32;
                        if negative {
                            axis - rank
                        } else {
                            axis
                        }
                    })
                    .collect();
                let len: usize = shape.iter().product();
                proptest::collection::vec(any::<i8>(), len).prop_map(move |input| MeanProblem {
                    shape: shape.clone(),
                    axes: axes.clone(),
                    keep_dims,
                    quant,
                    input,
                })
            })
    }

    fn reduced(&self) -> Vec<bool> {
        let rank = self.shape.len() as i32;
        (0..rank)
            .map(|axis| self.axes.iter().any(|&a| a.rem_euclid(rank) == axis))
            .collect()
    }

    fn output_shape(&self) -> Vec<usize> {
        let reduced = self.reduced();
        let dims = self.shape.iter().zip(&reduced);
        if self.keep_dims {
            dims.map(|(&dim, &r)| if r { 1 } else { dim }).collect()
        } else {
            dims.filter(|(_, &r)| !r).map(|(&dim, _)| dim).collect()
        }
    }

    /// The real mean of each output, on the output grid, unclamped.
    fn real_outputs(&self) -> Vec<f64> {
        let [(si, zi), (so, zo)] = self.quant;
        let reduced = self.reduced();
        let kept: Vec<usize> = self
            .shape
            .iter()
            .zip(&reduced)
            .filter(|(_, &r)| !r)
            .map(|(&d, _)| d)
            .collect();
        let mut sums = vec![0.0; kept.iter().product()];
        let mut counts = vec![0_usize; sums.len()];
        for (flat, &q) in self.input.iter().enumerate() {
            let coordinates = unravel(&self.shape, flat);
            let own: Vec<usize> = coordinates
                .iter()
                .zip(&reduced)
                .filter(|(_, &r)| !r)
                .map(|(&c, _)| c)
                .collect();
            let out = ravel(&kept, &own);
            sums[out] += f64::from(si) * f64::from(i32::from(q) - zi);
            counts[out] += 1;
        }
        sums.iter()
            .zip(&counts)
            .map(|(sum, &count)| sum / count as f64 / f64::from(so) + f64::from(zo))
            .collect()
    }

    fn run(&self) -> Vec<i8> {
        let [(si, zi), (so, zo)] = self.quant;
        let tensors = vec![
            activation_tensor("input", &self.shape, DataType::Int8, si, zi.into()),
            int32_constant("axes", &[self.axes.len()], &self.axes),
            activation_tensor(
                "output",
                &self.output_shape(),
                DataType::Int8,
                so,
                zo.into(),
            ),
        ];
        let kind = OpKind::Mean {
            keep_dims: self.keep_dims,
        };
        i8_data(&run_one_op(
            kind,
            tensors,
            vec![0, 1],
            2,
            &[i8_value(&self.shape, &self.input)],
        ))
    }
}

proptest! {
    #[test]
    fn mean_is_within_one_step_of_real_mean(problem in MeanProblem::strategy()) {
        let output = problem.run();
        let real = problem.real_outputs();
        prop_assert_eq!(output.len(), real.len());
        for (index, (&q, &expected)) in output.iter().zip(&real).enumerate() {
            let expected = expected.clamp(-128.0, 127.0);
            prop_assert!((f64::from(q) - expected).abs() <= 1.0, "output {}: {} vs real {}", index, q, expected);
        }
    }

    #[test]
    fn logistic_is_within_one_step_of_sigmoid(scale in scale_strategy().prop_map(|s| s * 4.0), zero_point in -128_i32..128) {
        // Scales up to 4: from about 8 on the reference's input radius is 0
        // and every input saturates (pinned in the kernel's unit tests).
        let input: Vec<i8> = (-128..=127).collect();
        let tensors = vec![
            activation_tensor("input", &[256], DataType::Int8, scale, zero_point.into()),
            activation_tensor("output", &[256], DataType::Int8, 1.0 / 256.0, -128),
        ];
        let output = i8_data(&run_one_op(OpKind::Logistic, tensors, vec![0], 1, &[i8_value(&[256], &input)]));
        for (&x, &q) in input.iter().zip(&output) {
            let real = f64::from(scale) * f64::from(i32::from(x) - zero_point);
            let expected = (256.0 / (1.0 + (-real).exp()) - 128.0).clamp(-128.0, 127.0);
            prop_assert!((f64::from(q) - expected).abs() <= 1.0, "input {}: {} vs {}", x, q, expected);
        }
    }

    #[test]
    fn softmax_is_within_one_step_of_real(
        depth in 1_usize..20,
        scale in scale_strategy().prop_map(|s| s * 8.0),
        beta in prop_oneof![Just(1.0_f32), 0.5_f32..2.0],
        seed in proptest::collection::vec(any::<i8>(), 20),
    ) {
        let input = &seed[..depth];
        let tensors = vec![
            activation_tensor("input", &[1, depth], DataType::Int8, scale, 0),
            activation_tensor("output", &[1, depth], DataType::Int8, 1.0 / 256.0, -128),
        ];
        let output = i8_data(&run_one_op(OpKind::Softmax { beta }, tensors, vec![0], 1, &[i8_value(&[1, depth], input)]));
        let max = *input.iter().max().unwrap();
        let exps: Vec<f64> = input.iter().map(|&x| (f64::from(beta) * f64::from(scale) * f64::from(i32::from(x) - i32::from(max))).exp()).collect();
        let sum: f64 = exps.iter().sum();
        for (index, (&q, exp)) in output.iter().zip(&exps).enumerate() {
            let expected = (exp / sum * 256.0 - 128.0).clamp(-128.0, 127.0);
            prop_assert!((f64::from(q) - expected).abs() <= 1.0, "element {}: {} vs {}", index, q, expected);
        }
    }
}
