//! Replays outputs recorded from the TFLite Micro Python interpreter
//! (`tflite-micro` 0.dev20261023182759, reference kernels) through the
//! integer building blocks of this module: int8 FULLY_CONNECTED
//! requantisation, LOGISTIC, TANH and SOFTMAX. The recordings come from
//! `testdata/gen_tflm_oracle.py`; they cover a few dozen parameter sets, not
//! the whole parameter space.

use super::fixedpoint::{
    exp_on_negative_values, get_reciprocal, logistic, tanh, Q12_19, Q4_27, Q5_26,
};
use super::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    quantize_multiplier, rounding_divide_by_pot, LogisticParams, SoftmaxParams,
    SOFTMAX_ACCUMULATION_INTEGER_BITS,
};

const RECORDINGS: &str = include_str!("testdata/tflm_oracle.txt");

/// One recorded operator run: the header words and the value lines after it.
struct Recording<'a> {
    header: Vec<&'a str>,
    lines: Vec<Vec<i32>>,
}

fn recordings(op: &str) -> Vec<Recording<'static>> {
    let value_lines = match op {
        "softmax" => 2,
        _ => 1,
    };
    let mut lines = RECORDINGS.lines();
    let mut found = Vec::new();
    while let Some(header) = lines.next() {
        let header: Vec<&str> = header.split_whitespace().collect();
        let count = if header[0] == "softmax" { 2 } else { 1 };
        let values: Vec<Vec<i32>> = (0..count)
            .map(|_| {
                let line = lines.next().expect("recording header without values");
                line.split_whitespace()
                    .map(|word| word.parse().expect("recorded value is not an integer"))
                    .collect()
            })
            .collect();
        if header[0] == op {
            assert_eq!(values.len(), value_lines);
            found.push(Recording {
                header,
                lines: values,
            });
        }
    }
    assert!(!found.is_empty(), "no recordings of {op}");
    found
}

fn parse_f32_bits(word: &str) -> f32 {
    let hex = word
        .strip_prefix("0x")
        .expect("f32 bits are written as 0x...");
    f32::from_bits(u32::from_str_radix(hex, 16).expect("invalid f32 bits"))
}

fn parse_i32(word: &str) -> i32 {
    word.parse().expect("invalid integer in header")
}

fn int8_inputs() -> impl Iterator<Item = i32> {
    -128..=127
}

/// Int8 FULLY_CONNECTED with one input channel, weight 1 at scale 1, output
/// scale 1: `clamp(requantise(x + bias) + output_zero_point)`.
fn fully_connected_one_weight(x: i32, input_scale: f32, bias: i32, output_zero_point: i32) -> i32 {
    let quantized = quantize_multiplier(f64::from(input_scale));
    let requantized =
        multiply_by_quantized_multiplier(x + bias, quantized.multiplier, quantized.shift);
    (requantized + output_zero_point).clamp(-128, 127)
}

/// Computes one element as the int8 LOGISTIC reference kernel does.
fn logistic_int8(x: i32, params: &LogisticParams) -> i32 {
    let input = x - params.input_zero_point;
    if input <= -params.input_range_radius {
        return -128;
    }
    if input >= params.input_range_radius {
        return 127;
    }
    let input_q4 =
        multiply_by_quantized_multiplier(input, params.input_multiplier, params.input_left_shift);
    let output_q0 = logistic(Q4_27::from_raw(input_q4)).raw();
    (rounding_divide_by_pot(output_q0, 31 - 8) - 128).clamp(-128, 127)
}

/// Computes one element as the int8 TANH reference kernel does. Its prepare
/// step is the same as LOGISTIC's.
fn tanh_int8(x: i32, params: &LogisticParams) -> i32 {
    let input = x - params.input_zero_point;
    if input <= -params.input_range_radius {
        return -128;
    }
    if input >= params.input_range_radius {
        return 127;
    }
    let input_q4 =
        multiply_by_quantized_multiplier(input, params.input_multiplier, params.input_left_shift);
    let output_q0 = tanh(Q4_27::from_raw(input_q4)).raw();
    rounding_divide_by_pot(output_q0, 31 - 7).clamp(-128, 127)
}

/// Computes one row as the int8-in, int8-out SOFTMAX reference kernel does.
fn softmax_int8_row(row: &[i32], params: &SoftmaxParams) -> Vec<i32> {
    let max_in_row = row.iter().copied().max().unwrap_or(-128);
    let scaled_exp = |x: i32| {
        let diff = x - max_in_row;
        (diff >= params.diff_min).then(|| {
            let rescaled = multiply_by_quantized_multiplier_greater_than_one(
                diff,
                params.input_multiplier,
                params.input_left_shift,
            );
            exp_on_negative_values(Q5_26::from_raw(rescaled))
        })
    };

    let mut sum_of_exps = Q12_19::zero();
    for &x in row {
        if let Some(exp) = scaled_exp(x) {
            sum_of_exps = sum_of_exps + exp.rescale::<12>();
        }
    }

    let (shifted_scale, num_bits_over_unit) =
        get_reciprocal(sum_of_exps.raw(), SOFTMAX_ACCUMULATION_INTEGER_BITS as i32);
    let exponent = num_bits_over_unit + 31 - 8;
    row.iter()
        .map(|&x| match scaled_exp(x) {
            Some(exp) => {
                let unsaturated = rounding_divide_by_pot((shifted_scale * exp).raw(), exponent);
                (unsaturated - 128).clamp(-128, 127)
            }
            None => -128,
        })
        .collect()
}

/// Prints the first differing element, so a failure names one input.
fn assert_same(name: &str, inputs: &[i32], actual: &[i32], expected: &[i32]) {
    assert_eq!(actual.len(), expected.len(), "{name}: output length");
    for (index, ((input, got), want)) in inputs.iter().zip(actual).zip(expected).enumerate() {
        assert_eq!(got, want, "{name}: element {index} (input {input})");
    }
}

#[test]
fn fully_connected_requantisation_matches_oracle() {
    for recording in recordings("fully_connected") {
        let input_scale = parse_f32_bits(recording.header[1]);
        let bias = parse_i32(recording.header[2]);
        let output_zero_point = parse_i32(recording.header[3]);
        let inputs: Vec<i32> = int8_inputs().collect();
        let actual: Vec<i32> = inputs
            .iter()
            .map(|&x| fully_connected_one_weight(x, input_scale, bias, output_zero_point))
            .collect();
        let name = format!("fully_connected scale {input_scale} bias {bias}");
        assert_same(&name, &inputs, &actual, &recording.lines[0]);
    }
}

#[test]
fn logistic_int8_matches_oracle() {
    for recording in recordings("logistic") {
        let input_scale = parse_f32_bits(recording.header[1]);
        let zero_point = parse_i32(recording.header[2]);
        let params = LogisticParams::int8(input_scale, zero_point).expect("finite scale");
        let inputs: Vec<i32> = int8_inputs().collect();
        let actual: Vec<i32> = inputs.iter().map(|&x| logistic_int8(x, &params)).collect();
        let name = format!("logistic scale {input_scale} zero point {zero_point}");
        assert_same(&name, &inputs, &actual, &recording.lines[0]);
    }
}

#[test]
fn tanh_int8_matches_oracle() {
    for recording in recordings("tanh") {
        let input_scale = parse_f32_bits(recording.header[1]);
        let zero_point = parse_i32(recording.header[2]);
        let params = LogisticParams::int8(input_scale, zero_point).expect("finite scale");
        let inputs: Vec<i32> = int8_inputs().collect();
        let actual: Vec<i32> = inputs.iter().map(|&x| tanh_int8(x, &params)).collect();
        let name = format!("tanh scale {input_scale} zero point {zero_point}");
        assert_same(&name, &inputs, &actual, &recording.lines[0]);
    }
}

#[test]
fn softmax_int8_matches_oracle() {
    for recording in recordings("softmax") {
        let beta = parse_f32_bits(recording.header[1]);
        let input_scale = parse_f32_bits(recording.header[2]);
        let depth: usize = recording.header[3].parse().expect("invalid depth");
        let params = SoftmaxParams::int8(beta, input_scale).expect("softmax scaling above 1");
        let inputs = &recording.lines[0];
        let actual: Vec<i32> = inputs
            .chunks(depth)
            .flat_map(|row| softmax_int8_row(row, &params))
            .collect();
        let name = format!("softmax beta {beta} scale {input_scale} depth {depth}");
        assert_same(&name, inputs, &actual, &recording.lines[1]);
    }
}

/// Evaluates one gemmlowp vector line `function int_bits input output...`
/// and returns the computed outputs next to the recorded ones.
fn evaluate_gemmlowp_vector(words: &[&str]) -> (Vec<i32>, Vec<i32>) {
    use super::fixedpoint::{
        exp_on_interval_between_negative_one_quarter_and_0_excl,
        one_minus_x_over_one_plus_x_for_x_in_0_1, one_over_one_plus_x_for_x_in_0_1, FixedPoint,
        Q0_31,
    };
    use super::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul};

    let numbers: Vec<i32> = words[1..].iter().map(|word| parse_i32(word)).collect();
    let (int_bits, input) = (numbers[0], numbers[1]);
    macro_rules! by_int_bits {
        ($function:ident, $($bits:literal),*) => {
            match int_bits {
                $($bits => $function(FixedPoint::<$bits>::from_raw(input)).raw(),)*
                other => panic!("no instance for {other} integer bits"),
            }
        };
    }
    let computed = match words[0] {
        "exp_on_interval" => {
            vec![
                exp_on_interval_between_negative_one_quarter_and_0_excl(Q0_31::from_raw(input))
                    .raw(),
            ]
        }
        "exp_on_negative_values" => {
            vec![by_int_bits!(
                exp_on_negative_values,
                0,
                1,
                2,
                4,
                5,
                6,
                12,
                20,
                29
            )]
        }
        "one_over_one_plus_x" => {
            vec![one_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(input)).raw()]
        }
        "one_minus_x_over_one_plus_x" => {
            vec![one_minus_x_over_one_plus_x_for_x_in_0_1(Q0_31::from_raw(input)).raw()]
        }
        "logistic" => vec![by_int_bits!(logistic, 0, 4, 5, 12, 29)],
        "tanh" => vec![by_int_bits!(tanh, 0, 4, 12, 28)],
        "get_reciprocal" => {
            let (fraction, bits_over_unit) = get_reciprocal(input, int_bits);
            vec![fraction.raw(), bits_over_unit]
        }
        "srdhm" => vec![saturating_rounding_doubling_high_mul(
            numbers[0], numbers[1],
        )],
        "rdbpot" => vec![rounding_divide_by_pot(numbers[1], numbers[0])],
        other => panic!("unknown function {other}"),
    };
    let recorded = numbers[2..].to_vec();
    (computed, recorded)
}

/// Compares against vectors printed by `testdata/gemmlowp_vectors.cc`
/// (compiled against gemmlowp `fixedpoint.h`). Ignored because it needs that
/// file, about 480,000 lines; generate it and run with
/// `FXSIM_GEMMLOWP_VECTORS=PATH cargo test --lib gemmlowp_vectors -- --ignored`.
#[test]
#[ignore]
fn gemmlowp_vectors_match() {
    let path = std::env::var("FXSIM_GEMMLOWP_VECTORS").expect("set FXSIM_GEMMLOWP_VECTORS");
    let text = std::fs::read_to_string(&path).expect("cannot read the vectors file");
    let mut checked = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (computed, recorded) = evaluate_gemmlowp_vector(&words);
        assert_eq!(computed, recorded, "{line}");
        checked += 1;
    }
    assert!(checked > 0, "{path} holds no vectors");
}
