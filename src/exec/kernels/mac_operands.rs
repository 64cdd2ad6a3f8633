//! Operand formats of the MAC layers: fitting a model's int8 or int16
//! tensor onto the datapath's activation or weight format. A tensor whose
//! grid fits the format is used as is, or moved by an exact offset onto an
//! unsigned format. A wider one is requantised onto the format's coarser
//! grid over the same real range.
//!
//! Limitation: weights keep zero point 0 (symmetric grids), so an unsigned
//! weight format accepts only non-negative weights; and every operand must
//! fit the executor's 16-bit signed operands.

use super::op_context::OpContext;
use crate::exec::arithmetic::{OperandConversion, OperandMapping};
use crate::exec::{ExecError, TensorData, TensorValue, ZeroPointMode};
use crate::numeric::IntFormat;

/// Maps the input activations, of type `tensor` with zero point
/// `zero_point`, onto `format`, and checks that the operands the datapath
/// forms with `zero_point_mode` fit in i16.
///
/// When the format spans at least as many steps as the type, the grid is
/// kept: values are unchanged if the type's range lies inside the
/// format's, else every value and the zero point move by `format_min -
/// type_min` (exact). Otherwise each value `x` becomes
/// `format_min + round((x - type_min) * new_span / old_span)`, rounded half
/// away from zero, and the zero point the same way; the scale becomes
/// `scale * old_span / new_span` (spans are `max - min`).
pub(crate) fn map_input(
    context: &OpContext,
    name: &str,
    tensor: IntFormat,
    zero_point: i32,
    format: IntFormat,
    zero_point_mode: ZeroPointMode,
) -> Result<OperandMapping, ExecError> {
    let (tensor_min, tensor_max) = tensor.range();
    let (format_min, format_max) = format.range();
    let conversion = if format.span() >= tensor.span() {
        if tensor_min >= format_min && tensor_max <= format_max {
            OperandConversion::Unchanged
        } else {
            OperandConversion::Offset {
                offset: format_min - tensor_min,
            }
        }
    } else {
        let steps = (i64::from(zero_point) - tensor_min) * format.span();
        OperandConversion::Requantized {
            old_steps: tensor.span(),
            new_steps: format.span(),
            zero_point: format_min + divide_round_half_away(steps, tensor.span()),
        }
    };
    let mapping = OperandMapping {
        tensor,
        format,
        conversion,
    };

    let operand_zero_point = mapped_zero_point(&mapping, zero_point);
    let subtracted = match zero_point_mode {
        ZeroPointMode::Subtract => operand_zero_point,
        ZeroPointMode::Fold => 0,
    };
    let lowest = grid_value(&mapping, tensor_min) - subtracted;
    let highest = grid_value(&mapping, tensor_max) - subtracted;
    let pad = operand_zero_point - subtracted;
    let operand_range = i64::from(i16::MIN)..=i64::from(i16::MAX);
    if [lowest, highest, pad]
        .iter()
        .any(|operand| !operand_range.contains(operand))
    {
        let mode = match zero_point_mode {
            ZeroPointMode::Subtract => "subtract",
            ZeroPointMode::Fold => "fold",
        };
        return Err(context.invalid(format!(
            "input ({name}) of type {tensor} on activation format {format} with zero_point = {mode} gives operands from {lowest} to {highest}, outside the executor's 16-bit signed operands; use zero_point = subtract or a signed activation format"
        )));
    }
    Ok(mapping)
}

/// Returns the zero point of the operand grid.
pub(crate) fn mapped_zero_point(mapping: &OperandMapping, zero_point: i32) -> i64 {
    match mapping.conversion {
        OperandConversion::Unchanged => i64::from(zero_point),
        OperandConversion::Offset { offset } => i64::from(zero_point) + offset,
        OperandConversion::Requantized { zero_point, .. } => zero_point,
    }
}

/// Returns tensor value `value` on the format's grid.
pub(crate) fn grid_value(mapping: &OperandMapping, value: i64) -> i64 {
    match mapping.conversion {
        OperandConversion::Unchanged => value,
        OperandConversion::Offset { offset } => value + offset,
        OperandConversion::Requantized {
            old_steps,
            new_steps,
            ..
        } => {
            let (tensor_min, _) = mapping.tensor.range();
            let (format_min, _) = mapping.format.range();
            format_min + divide_round_half_away((value - tensor_min) * new_steps, old_steps)
        }
    }
}

/// Builds the operand of every tensor value for a requantised input:
/// entry `x - type_min` contains `grid_value(x) + offset`. Returns `None` when
/// the grid is kept, because then the operand is `x` plus a constant.
pub(crate) fn operand_table(mapping: &OperandMapping, offset: i64) -> Option<Vec<i16>> {
    if !matches!(mapping.conversion, OperandConversion::Requantized { .. }) {
        return None;
    }
    let (tensor_min, tensor_max) = mapping.tensor.range();
    // map_input checked that every operand fits in i16.
    let table = (tensor_min..=tensor_max)
        .map(|value| (grid_value(mapping, value) + offset) as i16)
        .collect();
    Some(table)
}

/// Converts an input value to operands through `table` (indexed by the
/// value minus the type's minimum). Rows of `channels` elements are laid
/// out `row_stride` apart, with zeros after each row. Returns `None` when
/// the value is not int8 or int16.
pub(crate) fn table_operands(
    value: &TensorValue,
    table: &[i16],
    channels: usize,
    row_stride: usize,
) -> Option<Vec<i16>> {
    fn convert<T: Copy + Into<i32>>(
        values: &[T],
        table: &[i16],
        base: i32,
        channels: usize,
        row_stride: usize,
    ) -> Vec<i16> {
        let operand = |&x: &T| table[(x.into() - base) as usize];
        if channels == row_stride || channels == 0 {
            return values.iter().map(operand).collect();
        }
        let mut operands = vec![0_i16; values.len() / channels * row_stride];
        for (row, values) in operands
            .chunks_exact_mut(row_stride)
            .zip(values.chunks_exact(channels))
        {
            for (slot, value) in row.iter_mut().zip(values) {
                *slot = operand(value);
            }
        }
        operands
    }
    match &value.data {
        TensorData::I8(values) => Some(convert(
            values,
            table,
            i32::from(i8::MIN),
            channels,
            row_stride,
        )),
        TensorData::I16(values) => Some(convert(
            values,
            table,
            i32::from(i16::MIN),
            channels,
            row_stride,
        )),
        _ => None,
    }
}

/// Int8 weights on `format`, with their mapping.
pub(crate) struct MappedWeights {
    pub values: Vec<i8>,
    pub mapping: OperandMapping,
}

/// Maps symmetric int8 weights onto `format`.
///
/// The grids run from 0 to the largest magnitude `m` of a symmetric grid
/// (127 for int8, `2^(bits-1) - 1` signed, `2^bits - 1` unsigned). When the
/// format's `m` is at least 127 the values are kept. Otherwise each weight
/// becomes `round(w * m_new / 127)`, half away from zero, clamped to
/// `[-m_new, m_new]` (`[0, m_new]` unsigned), and every channel's scale is
/// multiplied by `127 / m_new`. Fails for an unsigned format with a
/// negative weight and for signed 1-bit, which has no symmetric grid.
pub(crate) fn map_weights(
    context: &OpContext,
    name: &str,
    values: Vec<i8>,
    format: IntFormat,
) -> Result<MappedWeights, ExecError> {
    let tensor = IntFormat::INT8;
    if !format.is_signed() {
        if let Some(negative) = values.iter().find(|&&w| w < 0) {
            return Err(context.invalid(format!(
                "weights ({name}) hold {negative}, but weight format {format} is unsigned; weights are symmetric (zero point 0), so use a signed weight format"
            )));
        }
    }
    let new_magnitude = format.max_magnitude();
    if new_magnitude == 0 {
        return Err(context.invalid(format!(
            "weight format {format} has no symmetric grid (its largest magnitude is 0); use int2 or wider"
        )));
    }

    let old_magnitude = tensor.max_magnitude();
    if new_magnitude >= old_magnitude {
        return Ok(MappedWeights {
            values,
            mapping: OperandMapping {
                tensor,
                format,
                conversion: OperandConversion::Unchanged,
            },
        });
    }
    let lowest = if format.is_signed() {
        -new_magnitude
    } else {
        0
    };
    let values = values
        .iter()
        .map(|&w| {
            let scaled = divide_round_half_away(i64::from(w) * new_magnitude, old_magnitude);
            scaled.clamp(lowest, new_magnitude) as i8
        })
        .collect();
    Ok(MappedWeights {
        values,
        mapping: OperandMapping {
            tensor,
            format,
            conversion: OperandConversion::Requantized {
                old_steps: old_magnitude,
                new_steps: new_magnitude,
                zero_point: 0,
            },
        },
    })
}

/// `numerator / denominator` rounded to nearest, ties away from zero;
/// `denominator` must be positive.
pub(crate) fn divide_round_half_away(numerator: i64, denominator: i64) -> i64 {
    let magnitude =
        (2 * i128::from(numerator).abs() + i128::from(denominator)) / (2 * i128::from(denominator));
    (i128::from(numerator.signum()) * magnitude) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Graph, Op, OpKind};

    fn graph() -> Graph {
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: Vec::new(),
            ops: vec![Op {
                kind: OpKind::Logistic,
                inputs: Vec::new(),
                outputs: Vec::new(),
            }],
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn format(text: &str) -> IntFormat {
        text.parse().unwrap()
    }

    #[test]
    fn divide_round_half_away_table() {
        let cases = [
            (5, 2, 3),
            (-5, 2, -3),
            (7, 2, 4),
            (-7, 2, -4),
            (1, 3, 0),
            (-2, 3, -1),
            (0, 7, 0),
            (127 * 7, 127, 7),
        ];
        for (numerator, denominator, expected) in cases {
            assert_eq!(
                divide_round_half_away(numerator, denominator),
                expected,
                "{numerator} / {denominator}"
            );
        }
    }

    #[test]
    fn input_that_fits_is_unchanged_or_offset() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let cases = [
            (IntFormat::INT8, "int8", OperandConversion::Unchanged),
            (IntFormat::INT8, "int16", OperandConversion::Unchanged),
            (
                IntFormat::INT8,
                "uint8",
                OperandConversion::Offset { offset: 128 },
            ),
            (
                IntFormat::INT8,
                "uint12",
                OperandConversion::Offset { offset: 128 },
            ),
            (IntFormat::INT16, "int16", OperandConversion::Unchanged),
        ];
        for (tensor, text, expected) in cases {
            let mapping = map_input(
                &context,
                "x",
                tensor,
                0,
                format(text),
                ZeroPointMode::Subtract,
            )
            .unwrap();
            assert_eq!(mapping.conversion, expected, "{tensor} on {text}");
        }
    }

    #[test]
    fn narrow_input_is_requantised() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        // int8 onto int4: 255 steps become 15, x -> -8 + round((x + 128) * 15 / 255).
        let mapping = map_input(
            &context,
            "x",
            IntFormat::INT8,
            -3,
            format("int4"),
            ZeroPointMode::Subtract,
        )
        .unwrap();

        // Zero point -3: (125 * 15) / 255 = 7.35 -> 7, so -1.
        assert_eq!(
            mapping.conversion,
            OperandConversion::Requantized {
                old_steps: 255,
                new_steps: 15,
                zero_point: -1
            }
        );
        // 16: 144 * 15 / 255 = 8.47 -> 8; 17: 145 * 15 / 255 = 8.53 -> 9.
        let cases = [(-128, -8), (127, 7), (0, 0), (-9, -1), (16, 0), (17, 1)];
        for (value, expected) in cases {
            assert_eq!(grid_value(&mapping, value), expected, "x = {value}");
        }

        let table = operand_table(&mapping, 1).unwrap();
        assert_eq!(table.len(), 256);
        assert_eq!(table[0], -7);
        assert_eq!(table[255], 8);
    }

    #[test]
    fn unsigned_sixteen_bit_fold_is_rejected() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let error = map_input(
            &context,
            "x",
            IntFormat::INT16,
            0,
            format("uint16"),
            ZeroPointMode::Fold,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("uint16"), "{error}");
        assert!(error.contains("65535"), "{error}");
        // Subtracting the zero point keeps the operands in range.
        assert!(map_input(
            &context,
            "x",
            IntFormat::INT16,
            0,
            format("uint16"),
            ZeroPointMode::Subtract
        )
        .is_ok());
    }

    #[test]
    fn weights_onto_narrow_formats() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let weights = vec![-128, -127, -64, -9, 0, 9, 10, 127];
        // int4: m = 7, w -> round(w * 7 / 127), clamped to [-7, 7].
        let mapped = map_weights(&context, "w", weights.clone(), format("int4")).unwrap();
        assert_eq!(mapped.values, vec![-7, -7, -4, 0, 0, 0, 1, 7]);
        assert_eq!(mapped.mapping.conversion.scale_ratio(), 127.0 / 7.0);
        // int8 and int16 keep them.
        for text in ["int8", "int16"] {
            let unchanged = map_weights(&context, "w", weights.clone(), format(text)).unwrap();
            assert_eq!(unchanged.values, weights);
            assert_eq!(unchanged.mapping.conversion, OperandConversion::Unchanged);
        }
    }

    #[test]
    fn unsigned_weights_need_non_negative_values() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let error = map_weights(&context, "w", vec![3, -2], format("uint4"))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("uint4"), "{error}");
        assert!(error.contains("-2"), "{error}");
        let mapped = map_weights(&context, "w", vec![0, 64, 127], format("uint4")).unwrap();
        // m = 15: 64 * 15 / 127 = 7.56 -> 8.
        assert_eq!(mapped.values, vec![0, 8, 15]);
    }

    #[test]
    fn signed_one_bit_weights_are_rejected() {
        let graph = graph();
        let context = OpContext::new(&graph, 0, &graph.ops[0]);
        let error = map_weights(&context, "w", vec![1], format("int1"))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("int1"), "{error}");
    }
}
