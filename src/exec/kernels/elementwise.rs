//! ADD (int8, and int16 for the 16x8 scheme) and MUL (int8, int16) with
//! NumPy-style broadcasting, bit for bit as the TFLite Micro reference
//! kernels compute them.
//!
//! Limitation: float32 and int32 ADD and MUL are not implemented, and the
//! int16 ADD is the general-scale variant only (the one TFLite Micro runs),
//! not LiteRT's power-of-two-scale shortcut.

use super::op_context::{check_value, operand, OpContext, OpLabel, TensorQuant};
use crate::exec::{ExecError, Kernel, TensorData, TensorValue};
use crate::model::{format_shape, Activation, DataType};
use crate::numeric::{
    multiply_by_quantized_multiplier, quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp, QuantizedMultiplier,
};
use rayon::prelude::*;

/// The per-element arithmetic, from one element of each input to the
/// unclamped output.
#[derive(Debug, Clone, Copy)]
enum Arithmetic {
    /// TFLite `AddFunc`: both inputs are offset, shifted left by
    /// `left_shift`, scaled to a common grid, summed and scaled to the
    /// output.
    Add {
        left_shift: u32,
        input1_offset: i32,
        input2_offset: i32,
        input1: QuantizedMultiplier,
        input2: QuantizedMultiplier,
        output: QuantizedMultiplier,
        output_offset: i32,
    },
    /// TFLite `MulElementwise`: the product of the offset inputs, scaled to
    /// the output.
    Mul {
        input1_offset: i32,
        input2_offset: i32,
        output: QuantizedMultiplier,
        output_offset: i32,
    },
}

impl Arithmetic {
    /// Computes the unclamped output value. Intermediate arithmetic wraps in
    /// i32, as the reference's int32 expressions do on two's complement
    /// targets. With valid quantisation nothing overflows.
    fn apply(&self, x: i32, y: i32) -> i32 {
        match *self {
            Arithmetic::Add {
                left_shift,
                input1_offset,
                input2_offset,
                input1,
                input2,
                output,
                output_offset,
            } => {
                let shifted1 = x.wrapping_add(input1_offset).wrapping_shl(left_shift);
                let shifted2 = y.wrapping_add(input2_offset).wrapping_shl(left_shift);
                let scaled1 =
                    multiply_by_quantized_multiplier(shifted1, input1.multiplier, input1.shift);
                let scaled2 =
                    multiply_by_quantized_multiplier(shifted2, input2.multiplier, input2.shift);
                let sum = scaled1.wrapping_add(scaled2);
                multiply_by_quantized_multiplier(sum, output.multiplier, output.shift)
                    .wrapping_add(output_offset)
            }
            Arithmetic::Mul {
                input1_offset,
                input2_offset,
                output,
                output_offset,
            } => {
                let product = x
                    .wrapping_add(input1_offset)
                    .wrapping_mul(y.wrapping_add(input2_offset));
                multiply_by_quantized_multiplier(product, output.multiplier, output.shift)
                    .wrapping_add(output_offset)
            }
        }
    }
}

/// A prepared ADD or MUL.
///
/// Matches TFLite Micro `reference_integer_ops::Add` / `BroadcastAdd6DSlow`
/// (int8), `reference_ops::AddElementwise` / `BroadcastAdd6DSlow` (int16)
/// and `reference_integer_ops::Mul` / `BroadcastMul6DSlow`, each followed by
/// the fused-activation clamp.
#[derive(Debug)]
struct Binary {
    label: OpLabel,
    dtype: DataType,
    arithmetic: Arithmetic,
    broadcast: Broadcast,
    clamp: (i32, i32),
    /// For int8 operands, every clamped result, indexed by
    /// [`int8_pair_index`]: one lookup per element instead of three
    /// requantisations.
    int8_table: Option<Box<[i8]>>,
}

/// Returns the position of the operand pair `(x, y)` in an int8 result
/// table: `x` in the high byte, `y` in the low byte.
#[inline(always)]
fn int8_pair_index(x: i8, y: i8) -> usize {
    usize::from(x as u8) << 8 | usize::from(y as u8)
}

/// Prepares ADD.
///
/// Multipliers follow TFLite Micro `CalculateOpDataAdd`: with
/// `twice_max = 2 * max(scale1, scale2)` (the max taken in float32), input
/// `i` is scaled by `scale_i / twice_max` and the sum by
/// `twice_max / (2^left_shift * output_scale)`, left shift 20 for int8 and
/// 15 for int16. Each must be in `(0, 1)`.
pub(crate) fn prepare_add(
    context: &OpContext,
    activation: Activation,
) -> Result<Box<dyn Kernel>, ExecError> {
    let operands = Operands::read(context)?;
    let left_shift: u32 = if operands.dtype == DataType::Int16 {
        15
    } else {
        20
    };
    let twice_max = 2.0 * f64::from(operands.input1.scale.max(operands.input2.scale));
    let output_real =
        twice_max / (f64::from(1_u32 << left_shift) * f64::from(operands.output.scale));
    let arithmetic = Arithmetic::Add {
        left_shift,
        input1_offset: operands.input1.zero_point.wrapping_neg(),
        input2_offset: operands.input2.zero_point.wrapping_neg(),
        input1: smaller_than_one(
            context,
            "input 1 multiplier",
            f64::from(operands.input1.scale) / twice_max,
        )?,
        input2: smaller_than_one(
            context,
            "input 2 multiplier",
            f64::from(operands.input2.scale) / twice_max,
        )?,
        output: smaller_than_one(context, "output multiplier", output_real)?,
        output_offset: operands.output.zero_point,
    };
    operands.into_kernel(context, activation, arithmetic)
}

/// Prepares MUL. The multiplier is `scale1 * scale2 / output_scale` in
/// double (TFLite Micro `CalculateOpDataMul`); int16 operands must have zero
/// point 0.
pub(crate) fn prepare_mul(
    context: &OpContext,
    activation: Activation,
) -> Result<Box<dyn Kernel>, ExecError> {
    let operands = Operands::read(context)?;
    if operands.dtype == DataType::Int16 {
        for (what, quant) in [
            ("input 1", operands.input1),
            ("input 2", operands.input2),
            ("output", operands.output),
        ] {
            if quant.zero_point != 0 {
                return Err(context.invalid(format!(
                    "int16 {what} has zero point {}; int16 MUL requires zero point 0",
                    quant.zero_point
                )));
            }
        }
    }
    let real = f64::from(operands.input1.scale) * f64::from(operands.input2.scale)
        / f64::from(operands.output.scale);
    let arithmetic = Arithmetic::Mul {
        input1_offset: operands.input1.zero_point.wrapping_neg(),
        input2_offset: operands.input2.zero_point.wrapping_neg(),
        output: quantize_multiplier(real),
        output_offset: operands.output.zero_point,
    };
    operands.into_kernel(context, activation, arithmetic)
}

/// Quantises a multiplier that TFLite's `QuantizeMultiplierSmallerThanOneExp`
/// accepts only in `(0, 1)`.
fn smaller_than_one(
    context: &OpContext,
    what: &str,
    real: f64,
) -> Result<QuantizedMultiplier, ExecError> {
    quantize_multiplier_smaller_than_one_exp(real).ok_or_else(|| {
        context.invalid(format!(
            "{what} is {real}; the quantization parameters must make it greater than 0 and less than 1"
        ))
    })
}

/// The validated operands shared by ADD and MUL.
struct Operands {
    dtype: DataType,
    input1: TensorQuant,
    input2: TensorQuant,
    output: TensorQuant,
    broadcast: Broadcast,
}

impl Operands {
    fn read(context: &OpContext) -> Result<Operands, ExecError> {
        context.expect_arity(2, 2)?;
        let input1 = context.input(0)?;
        let input2 = context.input(1)?;
        let output = context.output(0)?;
        let dtype = context.expect_dtype("input 1", input1, &[DataType::Int8, DataType::Int16])?;
        for (what, tensor) in [("input 2", input2), ("output", output)] {
            if tensor.dtype != dtype {
                return Err(context.unsupported_type(what, tensor.dtype, dtype.name()));
            }
        }

        let broadcast = Broadcast::new(&input1.shape, &input2.shape).ok_or_else(|| {
            context.invalid(format!(
                "input shapes {} and {} cannot be broadcast together",
                format_shape(&input1.shape),
                format_shape(&input2.shape)
            ))
        })?;
        if broadcast.output_shape != output.shape {
            return Err(context.invalid(format!(
                "output shape is {}; broadcasting {} with {} gives {}",
                format_shape(&output.shape),
                format_shape(&input1.shape),
                format_shape(&input2.shape),
                format_shape(&broadcast.output_shape)
            )));
        }

        Ok(Operands {
            dtype,
            input1: context.positive_quant("input 1", input1)?,
            input2: context.positive_quant("input 2", input2)?,
            output: context.positive_quant("output", output)?,
            broadcast,
        })
    }

    fn into_kernel(
        self,
        context: &OpContext,
        activation: Activation,
        arithmetic: Arithmetic,
    ) -> Result<Box<dyn Kernel>, ExecError> {
        let clamp = context.activation_range(activation, self.dtype, self.output)?;
        let (low, high) = clamp;
        let int8_table = (self.dtype == DataType::Int8).then(|| {
            let mut table = vec![0_i8; 1 << 16].into_boxed_slice();
            for x in i8::MIN..=i8::MAX {
                for y in i8::MIN..=i8::MAX {
                    let result = arithmetic.apply(x.into(), y.into()).clamp(low, high);
                    // The clamp keeps int8 results within the type.
                    table[int8_pair_index(x, y)] = result as i8;
                }
            }
            table
        });
        Ok(Box::new(Binary {
            label: context.label(),
            dtype: self.dtype,
            arithmetic,
            broadcast: self.broadcast,
            clamp,
            int8_table,
        }))
    }
}

impl Kernel for Binary {
    fn eval(&self, inputs: &[Option<&TensorValue>]) -> Result<Vec<TensorValue>, ExecError> {
        let input1 = operand(&self.label, inputs, 0)?;
        let input2 = operand(&self.label, inputs, 1)?;
        check_value(
            &self.label,
            "input 1",
            input1,
            self.dtype,
            self.broadcast.input1_len,
        )?;
        check_value(
            &self.label,
            "input 2",
            input2,
            self.dtype,
            self.broadcast.input2_len,
        )?;

        let (low, high) = self.clamp;
        let compute = |x: i32, y: i32| self.arithmetic.apply(x, y).clamp(low, high);
        // Clamped values are within the element type, so the casts are exact.
        let data = match (&input1.data, &input2.data, &self.int8_table) {
            (TensorData::I8(a), TensorData::I8(b), Some(table)) => {
                TensorData::I8(self.broadcast.lookup_int8(a, b, table))
            }
            (TensorData::I16(a), TensorData::I16(b), _) => TensorData::I16(self.broadcast.map(
                a,
                b,
                |x, y| compute(x.into(), y.into()) as i16,
            )),
            _ => return Err(self.label.invalid("input types changed after prepare")),
        };
        Ok(vec![TensorValue {
            shape: self.broadcast.output_shape.clone(),
            data,
        }])
    }
}

/// NumPy broadcasting of two shapes, as TFLite's `BroadcastBinaryOpSimple`
/// does it: shapes are aligned at the last dimension, and a dimension of 1
/// repeats along the other operand's extent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Broadcast {
    pub output_shape: Vec<usize>,
    /// Element strides of each input per output dimension; 0 where the input
    /// repeats.
    input1_strides: Vec<usize>,
    input2_strides: Vec<usize>,
    input1_len: usize,
    input2_len: usize,
}

impl Broadcast {
    /// Builds the broadcast of `shape1` and `shape2`, or returns `None` when
    /// a dimension pair is neither equal nor has a 1.
    pub fn new(shape1: &[usize], shape2: &[usize]) -> Option<Broadcast> {
        let rank = shape1.len().max(shape2.len());
        let extend = |shape: &[usize]| {
            let mut extended = vec![1; rank - shape.len()];
            extended.extend_from_slice(shape);
            extended
        };
        let (dims1, dims2) = (extend(shape1), extend(shape2));

        let mut output_shape = Vec::with_capacity(rank);
        for (&a, &b) in dims1.iter().zip(&dims2) {
            let dim = match (a, b) {
                _ if a == b => a,
                (1, _) => b,
                (_, 1) => a,
                _ => return None,
            };
            output_shape.push(dim);
        }
        Some(Broadcast {
            input1_strides: broadcast_strides(&dims1, &output_shape),
            input2_strides: broadcast_strides(&dims2, &output_shape),
            input1_len: shape1.iter().product(),
            input2_len: shape2.iter().product(),
            output_shape,
        })
    }

    /// Applies `f` to every pair of input elements that meet at an output
    /// position, in row-major output order.
    pub fn map<A: Copy, B: Copy, T>(
        &self,
        input1: &[A],
        input2: &[B],
        f: impl Fn(A, B) -> T,
    ) -> Vec<T> {
        if self.input1_len == self.input2_len
            && input1.len() == input2.len()
            && self.output_shape.iter().product::<usize>() == input1.len()
        {
            return input1.iter().zip(input2).map(|(&a, &b)| f(a, b)).collect();
        }

        let total: usize = self.output_shape.iter().product();
        let mut output = Vec::with_capacity(total);
        let mut index = vec![0_usize; self.output_shape.len()];
        let (mut offset1, mut offset2) = (0_usize, 0_usize);
        for _ in 0..total {
            output.push(f(input1[offset1], input2[offset2]));
            // Advance the row-major odometer and the two input offsets.
            for dim in (0..index.len()).rev() {
                index[dim] += 1;
                offset1 += self.input1_strides[dim];
                offset2 += self.input2_strides[dim];
                if index[dim] < self.output_shape[dim] {
                    break;
                }
                offset1 -= self.input1_strides[dim] * index[dim];
                offset2 -= self.input2_strides[dim] * index[dim];
                index[dim] = 0;
            }
        }
        output
    }
}

/// Elements per parallel task of [`Broadcast::lookup_int8`].
const LOOKUP_CHUNK: usize = 1 << 14;

impl Broadcast {
    /// Maps every pair of int8 elements through a result table indexed by
    /// [`int8_pair_index`]. Operands of the output's shape are split into
    /// parallel tasks; broadcast ones take [`Broadcast::map`].
    fn lookup_int8(&self, input1: &[i8], input2: &[i8], table: &[i8]) -> Vec<i8> {
        let same_shape = input1.len() == input2.len()
            && self.output_shape.iter().product::<usize>() == input1.len();
        if !same_shape {
            return self.map(input1, input2, |x, y| table[int8_pair_index(x, y)]);
        }
        let mut output = vec![0_i8; input1.len()];
        output
            .par_chunks_mut(LOOKUP_CHUNK)
            .zip(input1.par_chunks(LOOKUP_CHUNK))
            .zip(input2.par_chunks(LOOKUP_CHUNK))
            .for_each(|((output, input1), input2)| {
                for ((output, &x), &y) in output.iter_mut().zip(input1).zip(input2) {
                    *output = table[int8_pair_index(x, y)];
                }
            });
        output
    }
}

/// Row-major strides of `dims`, with 0 for dimensions broadcast to a larger
/// output extent.
fn broadcast_strides(dims: &[usize], output: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; dims.len()];
    let mut stride = 1;
    for axis in (0..dims.len()).rev() {
        strides[axis] = if dims[axis] == 1 && output[axis] != 1 {
            0
        } else {
            stride
        };
        stride *= dims[axis];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes() {
        type Case = (&'static [usize], &'static [usize], Option<&'static [usize]>);
        let cases: &[Case] = &[
            (&[1, 4, 4, 3], &[3], Some(&[1, 4, 4, 3])),
            (&[2, 1, 3], &[1, 5, 1], Some(&[2, 5, 3])),
            (&[], &[2, 2], Some(&[2, 2])),
            (&[4], &[4], Some(&[4])),
            (&[2, 3], &[3, 2], None),
        ];
        for (a, b, expected) in cases {
            let broadcast = Broadcast::new(a, b);
            assert_eq!(
                broadcast.map(|plan| plan.output_shape),
                expected.map(<[usize]>::to_vec),
                "{a:?} with {b:?}"
            );
        }
    }

    #[test]
    fn broadcast_map_repeats_size_one_dimensions() {
        let broadcast = Broadcast::new(&[2, 1], &[1, 3]).unwrap();
        let sums = broadcast.map(&[10, 20], &[1, 2, 3], |a: i32, b: i32| a + b);
        assert_eq!(sums, vec![11, 12, 13, 21, 22, 23]);

        let broadcast = Broadcast::new(&[2, 3], &[]).unwrap();
        let sums = broadcast.map(&[1, 2, 3, 4, 5, 6], &[100], |a: i32, b: i32| a + b);
        assert_eq!(sums, vec![101, 102, 103, 104, 105, 106]);
    }

    #[test]
    fn add_of_equal_scales_is_exact_sum() {
        // Scales 0.5, 0.5 -> output 1.0: inputs q1=10 (5.0) and q2=-4 (-2.0)
        // sum to 3.0, q = 3 at zero point 0.
        let half = quantize_multiplier(0.5);
        let output = quantize_multiplier(1.0 / f64::from(1_u32 << 20));
        let add = Arithmetic::Add {
            left_shift: 20,
            input1_offset: 0,
            input2_offset: 0,
            input1: half,
            input2: half,
            output,
            output_offset: 0,
        };
        assert_eq!(add.apply(10, -4), 3);
        assert_eq!(add.apply(-128, -128), -128);
    }

    #[test]
    fn mul_rounds_twice() {
        // Real multiplier 1/4 is 2^30 with shift -1. 2 * 3 / 4 = 1.5: the
        // high multiply gives 3 exactly, the shift rounds 1.5 away to 2.
        let mul = Arithmetic::Mul {
            input1_offset: 0,
            input2_offset: 0,
            output: quantize_multiplier(0.25),
            output_offset: 0,
        };
        assert_eq!(mul.apply(2, 3), 2);
        assert_eq!(mul.apply(-2, 3), -2);
        // 1 / 4: the high multiply rounds 0.5 up to 1, then the shift rounds
        // 0.5 up again, so the reference returns 1, not 0.
        assert_eq!(mul.apply(1, 1), 1);
        assert_eq!(mul.apply(-1, 1), 0);
    }
}
