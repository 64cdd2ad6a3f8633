//! The reference RTL under Verilator on random GEMMs, one build per
//! datapath variant. The variants cover wrap and saturate, 16- to 64-bit
//! accumulators, bias in the accumulator or in the PPU, and `tflite`,
//! `single`, `fixed` and `shift` requantisation with every rounding mode.
//! They run on the weight-stationary and the output-stationary array and
//! on the depthwise vector unit. `tflite` runs TFLite's int32 overload and
//! the int64 overload of 16x8 layers.
//!
//! The accumulators come from a plain fold-ordered loop written here in
//! i128 (the accumulation contract of docs/arithmetic.md). The `tflite`
//! outputs come from the formulas of docs/arithmetic.md, written here in
//! i128 and checked against the library's requantisers. The other modes
//! use the library's single-rounding requantiser and LFSR words. The expected cycles come from
//! `timing::gemm_compute_cycles` and the cycle-stepped model. Skips when
//! `verilator` is missing unless `FXSIM_NO_SKIP=1`. Limitation: the GEMMs
//! are random, not layers of a model; tests/rtl_verilator.rs runs those.

mod rtl;
#[path = "rtl_datapaths/wide.rs"]
mod wide;

use fxsim::hw::{ArrayConfig, Dataflow};
use fxsim::numeric::lfsr::{rounding_word, Lfsr};
use fxsim::numeric::{
    multiply_by_integer_scale, multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_i64, multiply_by_quantized_multiplier_wide,
    nearest_power_of_two, quantize_multiplier, quantize_multiplier_to_bits, single_rounding_scale,
    IntegerScale, QuantizedMultiplier, Rounding,
};
use fxsim::timing::stepped::{run_gemm, GemmOperands};
use fxsim::timing::{depthwise_vector_cycles, gemm_compute_cycles, Gemm};
use rtl::{read_dump, run_layer, write_image, RtlBuilds, RtlLayer, RtlParameters};
use std::path::Path;
use wide::{
    assert_exercises_wide_tflite, make_wide_case, tflite_int32_requant, tflite_int64_requant,
    wide_variants,
};

/// A small xorshift generator, so that the cases need no extra crate.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Returns a value in `low..=high`.
    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }

    /// Returns a value in `0..2^bits`, `bits` in 1..=63.
    fn bits(&mut self, bits: u32) -> i128 {
        i128::from(self.next() >> (64 - bits))
    }

    /// Returns a value in `-2^bits < value < 2^bits`, `bits` in 1..=63.
    fn signed(&mut self, bits: u32) -> i128 {
        let magnitude = self.bits(bits);
        if self.next() & 1 == 0 {
            magnitude
        } else {
            -magnitude
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Requant {
    /// TFLite's int32 overload, `REQUANT_MODE` 0.
    Tflite,
    /// TFLite's int64 overload of 16x8 layers, `REQUANT_MODE` 4.
    TfliteInt64,
    Single,
    Fixed(u32),
    Shift,
}

/// The unit that runs a variant's GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Array(Dataflow),
    /// The depthwise vector unit, on a layer of one input channel whose
    /// depth multiplier is N, so that every lane reads the same activations.
    Vector,
}

/// One datapath variant and the GEMM it runs.
#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    rows: u32,
    cols: u32,
    unit: Unit,
    acc_bits: u32,
    saturate: bool,
    bias_post: bool,
    requant: Requant,
    rounding: Rounding,
    /// Largest product magnitude is about 2^(operand bits); a large value
    /// makes narrow accumulators overflow.
    act_bits: u32,
    weight_bits: u32,
    out_bits: u32,
    m: u64,
    k: u64,
    n: u64,
}

impl Variant {
    fn parameters(&self) -> RtlParameters {
        let rounding = match self.rounding {
            Rounding::HalfAway => 0,
            Rounding::HalfUp => 1,
            Rounding::HalfEven => 2,
            Rounding::Truncate => 3,
            Rounding::Stochastic => 4,
        };
        let (requant_mode, requant_mult_bits) = match self.requant {
            Requant::Tflite => (0, 32),
            Requant::TfliteInt64 => (4, 32),
            Requant::Single => (1, 32),
            Requant::Fixed(bits) => (2, bits),
            Requant::Shift => (3, 0),
        };
        RtlParameters {
            rows: self.rows,
            cols: self.cols,
            dataflow: match self.unit {
                Unit::Array(Dataflow::OutputStationary) => 1,
                _ => 0,
            },
            vector_unit: u32::from(self.unit == Unit::Vector),
            act_bits: self.act_bits,
            act_signed: true,
            weight_bits: self.weight_bits,
            weight_signed: true,
            acc_bits: self.acc_bits,
            acc_saturate: self.saturate,
            bias_post: self.bias_post,
            requant_mode,
            requant_mult_bits,
            rounding,
            out_bits: self.out_bits,
        }
    }

    /// Brings `value` into the signed `acc_bits` register: two's complement
    /// wrap or saturation.
    fn overflow(&self, value: i128) -> i64 {
        let min = -(1_i128 << (self.acc_bits - 1));
        let max = -min - 1;
        let in_range = if self.saturate {
            value.clamp(min, max)
        } else {
            (value - min).rem_euclid(1_i128 << self.acc_bits) + min
        };
        in_range as i64
    }

    fn is_tflite(&self) -> bool {
        matches!(self.requant, Requant::Tflite | Requant::TfliteInt64)
    }
}

/// A random GEMM with its per-channel PPU parameters.
struct Case {
    a: Vec<i64>,
    b: Vec<i64>,
    bias: Vec<i64>,
    scales: Vec<QuantizedMultiplier>,
    zero_point: i64,
    out_min: i64,
    out_max: i64,
    seed: u32,
    layer: usize,
}

fn make_case(variant: &Variant, random: &mut Random) -> Case {
    if variant.acc_bits > 32 {
        return make_wide_case(variant, random);
    }
    let (m, k, n) = (variant.m as usize, variant.k as usize, variant.n as usize);
    let act_limit = (1i64 << (variant.act_bits - 1)) - 1;
    let a = (0..m * k)
        .map(|_| random.range(-act_limit - 1, act_limit))
        .collect();
    let b = (0..k * n).map(|_| random.range(-127, 127)).collect();
    // Narrow accumulators take biases over their whole range so that they
    // overflow; a 32-bit one keeps them small enough not to clamp every
    // output.
    let bias_limit = if variant.acc_bits < 32 {
        (1i64 << (variant.acc_bits - 1)) - 1
    } else {
        1 << 20
    };
    let bias = (0..n)
        .map(|_| variant.overflow(random.range(-bias_limit, bias_limit).into()))
        .collect();
    // Scales that bring a sum of K products of about 2^15 into int8, with
    // some left shifts (scales above 1) to exercise that path.
    let scales = (0..n)
        .map(|channel| {
            let exponent = if channel % 7 == 3 {
                1
            } else {
                random.range(-16, -6)
            };
            let mantissa = 1.0 + (random.next() % 1000) as f64 / 1000.0;
            quantize_multiplier(mantissa * 2f64.powi(exponent as i32))
        })
        .collect();
    let mut case = Case {
        a,
        b,
        bias,
        scales,
        zero_point: random.range(-20, 20),
        out_min: -128 + random.range(0, 1) * 128,
        out_max: 127,
        seed: 0x1234_5678,
        layer: 5,
    };
    if variant.requant == Requant::Shift && !variant.bias_post {
        add_ties(variant, &mut case, random);
    }
    case
}

/// Makes pixel 0 a rounding tie in every channel: its activations become 0,
/// so its accumulator is the bias, and each bias becomes an odd multiple of
/// half the channel's power-of-two step, with alternating signs.
fn add_ties(variant: &Variant, case: &mut Case, random: &mut Random) {
    let k = variant.k as usize;
    case.a[..k].fill(0);
    // Negative ties must not be clamped away.
    case.out_min = -128;
    for (channel, bias) in case.bias.iter_mut().enumerate() {
        let right_shift = nearest_power_of_two(case.scales[channel]).right_shift;
        if (1..variant.acc_bits as i32 - 5).contains(&right_shift) {
            let odd = 2 * random.range(0, 3) + 1;
            let sign = if channel % 2 == 0 { 1 } else { -1 };
            *bias = sign * (odd << (right_shift - 1));
        }
    }
}

/// The PPU scale of `variant`'s requantisation mode.
fn integer_scale(variant: &Variant, scale: QuantizedMultiplier) -> IntegerScale {
    match variant.requant {
        Requant::Tflite | Requant::TfliteInt64 | Requant::Single => single_rounding_scale(scale),
        Requant::Fixed(bits) => quantize_multiplier_to_bits(scale, bits),
        Requant::Shift => nearest_power_of_two(scale),
    }
}

/// Applies `variant`'s `tflite` overload to `x` by the formulas above and
/// checks the result against the library's requantiser that the executor
/// runs for it.
fn tflite_requant(variant: &Variant, x: i64, scale: QuantizedMultiplier) -> i32 {
    let (expected, library) = if variant.requant == Requant::TfliteInt64 {
        (
            tflite_int64_requant(x, scale),
            multiply_by_quantized_multiplier_i64(x, scale.multiplier, scale.shift),
        )
    } else {
        let library = match i32::try_from(x) {
            Ok(value) => multiply_by_quantized_multiplier(value, scale.multiplier, scale.shift),
            Err(_) => multiply_by_quantized_multiplier_wide(x, scale.multiplier, scale.shift),
        };
        (tflite_int32_requant(x, scale), library)
    };
    assert_eq!(
        expected, library,
        "{}: the library requantises {x} by {scale:?} otherwise",
        variant.name
    );
    expected
}

/// The reference values of one case, each indexed `pixel * n + channel`.
struct Expected {
    accumulators: Vec<i64>,
    /// The values entering the requantiser (after any post bias).
    requantised: Vec<i64>,
    /// Bias plus the sum of the products, with no overflow.
    exact: Vec<i128>,
    outputs: Vec<i64>,
}

/// Accumulators and outputs by the fold-ordered loop and the PPU order of
/// docs/arithmetic.md: the reference the RTL must match.
fn reference(variant: &Variant, case: &Case) -> Expected {
    let (m, k, n) = (variant.m as usize, variant.k as usize, variant.n as usize);
    let rows = variant.rows as usize;
    let mut expected = Expected {
        accumulators: vec![0; m * n],
        requantised: vec![0; m * n],
        exact: vec![0; m * n],
        outputs: vec![0; m * n],
    };
    for pixel in 0..m {
        for channel in 0..n {
            let index = pixel * n + channel;
            let bias = case.bias[channel];
            let mut acc = if variant.bias_post { 0 } else { bias };
            let mut exact = i128::from(bias);
            for fold_start in (0..k).step_by(rows) {
                let mut partial = 0;
                for term in fold_start..(fold_start + rows).min(k) {
                    let product = i128::from(case.a[pixel * k + term])
                        * i128::from(case.b[term * n + channel]);
                    partial = variant.overflow(i128::from(partial) + product);
                    exact += product;
                }
                acc = variant.overflow(i128::from(acc) + i128::from(partial));
            }
            expected.accumulators[index] = acc;
            expected.exact[index] = exact;

            let biased = if variant.bias_post {
                variant.overflow(i128::from(acc) + i128::from(bias))
            } else {
                acc
            };
            expected.requantised[index] = biased;
            let scale = case.scales[channel];
            let offset = if variant.is_tflite() {
                let scaled = tflite_requant(variant, biased, scale);
                i64::from(scaled.wrapping_add(case.zero_point as i32))
            } else {
                let event = index as u64;
                let word = rounding_word(case.seed, case.layer, event).expect("nonzero seed");
                let scaled = multiply_by_integer_scale(
                    biased,
                    integer_scale(variant, scale),
                    variant.rounding,
                    word,
                );
                scaled.saturating_add(case.zero_point)
            };
            expected.outputs[index] = offset.max(case.out_min).min(case.out_max);
        }
    }
    expected
}

/// Accumulators summed term by term in K order, each addition saturated or
/// wrapped: the order of an output-stationary PE that ignores the folds.
/// Under saturation it differs from the contract's fold order, so a case
/// where the two differ shows that the RTL keeps the folds.
fn sequential_accumulators(variant: &Variant, case: &Case) -> Vec<i64> {
    let (m, k, n) = (variant.m as usize, variant.k as usize, variant.n as usize);
    let mut accumulators = vec![0; m * n];
    for pixel in 0..m {
        for channel in 0..n {
            let mut acc = if variant.bias_post {
                0
            } else {
                case.bias[channel]
            };
            for term in 0..k {
                let product = case.a[pixel * k + term] * case.b[term * n + channel];
                acc = variant.overflow(i128::from(acc) + i128::from(product));
            }
            accumulators[pixel * n + channel] = acc;
        }
    }
    accumulators
}

/// Writes the images of `case` in the export layout and returns the
/// testbench run that reads them.
fn write_layer(variant: &Variant, case: &Case, dir: &Path) -> RtlLayer {
    let (m, k, n) = (variant.m as usize, variant.k as usize, variant.n as usize);
    let (rows, cols) = (variant.rows as usize, variant.cols as usize);
    let folds = k.div_ceil(rows);
    let tiles = n.div_ceil(cols);

    let mut weights = Vec::new();
    for tile in 0..tiles {
        for fold in 0..folds {
            for row in 0..rows {
                let term = fold * rows + row;
                weights.push(
                    (0..cols)
                        .map(|column| {
                            let channel = tile * cols + column;
                            if term < k && channel < n {
                                case.b[term * n + channel]
                            } else {
                                0
                            }
                        })
                        .collect(),
                );
            }
        }
    }
    let mut activations = Vec::new();
    match variant.unit {
        Unit::Array(Dataflow::WeightStationary) => {
            for fold in 0..folds {
                for pixel in 0..m {
                    activations.push(
                        (0..rows)
                            .map(|row| {
                                let term = fold * rows + row;
                                if term < k {
                                    case.a[pixel * k + term]
                                } else {
                                    0
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
        Unit::Vector => {
            for _tile in 0..tiles {
                for pixel in 0..m {
                    for term in 0..k {
                        activations.push(vec![case.a[pixel * k + term]; cols]);
                    }
                }
            }
        }
        Unit::Array(Dataflow::OutputStationary) => {
            for row_tile in 0..m.div_ceil(rows) {
                for term in 0..k {
                    activations.push(
                        (0..rows)
                            .map(|row| {
                                let pixel = row_tile * rows + row;
                                if pixel < m {
                                    case.a[pixel * k + term]
                                } else {
                                    0
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    let per_tile = |value: &dyn Fn(usize) -> i64| -> Vec<Vec<i64>> {
        (0..tiles)
            .map(|tile| {
                (0..cols)
                    .map(|column| {
                        let channel = tile * cols + column;
                        if channel < n {
                            value(channel)
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let parameters = variant.parameters();
    let mult_bits = parameters.requant_mult_bits;
    let requant = per_tile(&|channel| {
        let scale = case.scales[channel];
        let (multiplier, right_shift) = if variant.is_tflite() {
            (i64::from(scale.multiplier), -i64::from(scale.shift))
        } else {
            let integer = integer_scale(variant, scale);
            (
                i64::from(integer.multiplier),
                i64::from(integer.right_shift),
            )
        };
        let shift_field = (right_shift & 0xFF) << mult_bits;
        let multiplier_field = if mult_bits == 0 {
            0
        } else {
            multiplier & ((1i64 << mult_bits) - 1)
        };
        shift_field | multiplier_field
    });
    let bias = per_tile(&|channel| case.bias[channel]);
    let zero = per_tile(&|_| 0);

    write_image(&dir.join("weights.mem"), &weights, variant.weight_bits);
    write_image(&dir.join("activations.mem"), &activations, variant.act_bits);
    write_image(&dir.join("requant.mem"), &requant, mult_bits + 8);
    let (init, post) = if variant.bias_post {
        (&zero, &bias)
    } else {
        (&bias, &zero)
    };
    write_image(&dir.join("bias.mem"), init, variant.acc_bits);
    write_image(&dir.join("bias_post.mem"), post, variant.acc_bits);

    let jump = {
        let mut lfsr = Lfsr::new(1).expect("seed 1 is nonzero");
        lfsr.advance(32 * variant.n);
        lfsr.state()
    };
    RtlLayer {
        m: variant.m,
        k: variant.k,
        n: variant.n,
        zero_point: case.zero_point,
        out_min: case.out_min,
        out_max: case.out_max,
        lfsr_start: rounding_word(case.seed, case.layer, 0).expect("nonzero seed"),
        lfsr_jump: jump,
        weights: dir.join("weights.mem"),
        activations: dir.join("activations.mem"),
        bias: Some(dir.join("bias.mem")),
        bias_post: Some(dir.join("bias_post.mem")),
        requant: dir.join("requant.mem"),
        output: dir.join("output.mem"),
        accumulators: Some(dir.join("acc.mem")),
    }
}

/// Compares a dump (word `t*M + m`, element `j` = channel `t*C + j`) with
/// `expected[m * n + channel]`; padding elements must be 0.
fn assert_dump_eq(name: &str, variant: &Variant, dump: &[Vec<i64>], expected: &[i64]) {
    let (m, n, cols) = (
        variant.m as usize,
        variant.n as usize,
        variant.cols as usize,
    );
    let tiles = n.div_ceil(cols);
    assert_eq!(
        dump.len(),
        tiles * m,
        "{}: {name} dump has {} words",
        variant.name,
        dump.len()
    );
    for (address, word) in dump.iter().enumerate() {
        let (tile, pixel) = (address / m, address % m);
        for (column, &got) in word.iter().enumerate() {
            let channel = tile * cols + column;
            let want = if channel < n {
                expected[pixel * n + channel]
            } else {
                0
            };
            assert_eq!(
                got, want,
                "{}: {name} of pixel {pixel}, channel {channel}: rtl {got}, expected {want}",
                variant.name
            );
        }
    }
}

/// Checks that the case can tell the variant from its neighbours: its
/// outputs differ under the other deterministic rounding modes (all of them
/// for the shift variants, which carry ties; truncation or half-away for
/// the others) or, for `tflite`, under the other overload, and every
/// accumulator other than 32 bits overflows at least once. A register wider
/// than 32 bits must also feed the requantiser values beyond i32 and near
/// its own top; [`assert_exercises_wide_tflite`] checks the int32 overload's
/// two paths.
fn assert_case_discriminates(variant: &Variant, case: &Case, expected: &Expected) {
    let deterministic = [
        Rounding::HalfAway,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Truncate,
    ];
    if !variant.is_tflite() && deterministic.contains(&variant.rounding) {
        // Only the shift variants carry ties; the others must at least
        // tell a nearest mode from truncation.
        let others: Vec<Rounding> = if variant.requant == Requant::Shift {
            deterministic
                .into_iter()
                .filter(|&r| r != variant.rounding)
                .collect()
        } else if variant.rounding == Rounding::Truncate {
            vec![Rounding::HalfAway]
        } else {
            vec![Rounding::Truncate]
        };
        for other in others {
            let other_outputs = reference(
                &Variant {
                    rounding: other,
                    ..*variant
                },
                case,
            )
            .outputs;
            assert!(
                expected.outputs != other_outputs,
                "{}: the case gives the same outputs under {other:?}",
                variant.name
            );
        }
    }
    // A 16-bit register saturates mid-fold often enough for every seed; a
    // post bias leaves the sums too small to.
    if variant.saturate && variant.acc_bits <= 16 && !variant.bias_post {
        let sequential = sequential_accumulators(variant, case);
        assert!(
            expected.accumulators != sequential,
            "{}: summing term by term saturates the same as the fold order",
            variant.name
        );
    }
    if variant.acc_bits > 32 && variant.is_tflite() {
        let other = if variant.requant == Requant::Tflite {
            Requant::TfliteInt64
        } else {
            Requant::Tflite
        };
        let other_outputs = reference(
            &Variant {
                requant: other,
                ..*variant
            },
            case,
        )
        .outputs;
        assert!(
            expected.outputs != other_outputs,
            "{}: the case gives the same outputs under {other:?}",
            variant.name
        );
    }
    if variant.acc_bits != 32 {
        let overflowed = expected
            .requantised
            .iter()
            .zip(&expected.exact)
            .any(|(&value, &exact)| i128::from(value) != exact);
        assert!(overflowed, "{}: no accumulator overflows", variant.name);
    }
    if variant.acc_bits > 32 {
        let values = &expected.requantised;
        let beyond = values
            .iter()
            .filter(|&&value| i32::try_from(value).is_err())
            .count();
        let largest = values.iter().map(|value| value.unsigned_abs()).max();
        let largest_bits = 64 - largest.unwrap_or(0).leading_zeros();
        eprintln!(
            "rtl: {}: {beyond} of {} requantiser inputs beyond 32 bits, the largest of {largest_bits} bits",
            variant.name,
            values.len()
        );
        assert!(
            beyond * 4 >= values.len(),
            "{}: only {beyond} of {} requantiser inputs are beyond 32 bits",
            variant.name,
            values.len()
        );
        assert!(
            beyond < values.len(),
            "{}: no requantiser input fits 32 bits",
            variant.name
        );
        assert!(
            largest_bits >= variant.acc_bits - 1,
            "{}: the largest requantiser input has {largest_bits} bits",
            variant.name
        );
    }
    if variant.acc_bits > 32 && variant.requant == Requant::Tflite {
        assert_exercises_wide_tflite(variant, case, expected);
    }
}

fn check_variant(builds: &RtlBuilds, variant: &Variant, seed: u64, dir: &Path) {
    let mut random = Random(seed);
    let case = make_case(variant, &mut random);
    let layer = write_layer(variant, &case, dir);
    let binary = builds.binary(&variant.parameters().overrides());
    let cycles = run_layer(&binary, &layer);

    let expected = reference(variant, &case);
    assert_case_discriminates(variant, &case, &expected);
    let acc_dump = read_dump(
        &dir.join("acc.mem"),
        variant.cols as usize,
        variant.acc_bits,
    );
    assert_dump_eq("accumulator", variant, &acc_dump, &expected.accumulators);
    let output_dump = read_dump(
        &dir.join("output.mem"),
        variant.cols as usize,
        variant.out_bits,
    );
    assert_dump_eq("output", variant, &output_dump, &expected.outputs);

    let gemm = Gemm {
        m: variant.m,
        k: variant.k,
        n: variant.n,
    };
    let dataflow = match variant.unit {
        Unit::Array(dataflow) => dataflow,
        Unit::Vector => Dataflow::WeightStationary,
    };
    let array = ArrayConfig {
        rows: variant.rows,
        cols: variant.cols,
        dataflow,
        ..ArrayConfig::default()
    };
    assert_eq!(cycles.ppu, 2, "{}: ppu cycles", variant.name);
    if variant.unit == Unit::Vector {
        let cycles_expected =
            depthwise_vector_cycles(gemm.m, gemm.n, gemm.k, &array).expect("no overflow");
        assert_eq!(
            cycles.compute, cycles_expected,
            "{}: vector unit cycles",
            variant.name
        );
        return;
    }
    let cycles_expected = gemm_compute_cycles(gemm, &array).expect("no overflow");
    assert_eq!(
        cycles.compute, cycles_expected,
        "{}: compute cycles",
        variant.name
    );
    let stepped = run_gemm(
        GemmOperands {
            gemm,
            a: &case.a,
            b: &case.b,
        },
        &array,
    )
    .expect("valid operands");
    assert_eq!(
        cycles.compute, stepped.cycles,
        "{}: stepped cycles",
        variant.name
    );
}

fn variants() -> Vec<Variant> {
    let base = Variant {
        name: "",
        rows: 4,
        cols: 3,
        unit: Unit::Array(Dataflow::WeightStationary),
        acc_bits: 32,
        saturate: false,
        bias_post: false,
        requant: Requant::Tflite,
        rounding: Rounding::HalfAway,
        act_bits: 9,
        weight_bits: 8,
        out_bits: 8,
        m: 23,
        k: 22,
        n: 8,
    };
    let mut list = vec![
        Variant {
            name: "tflite, 32-bit wrap",
            ..base
        },
        Variant {
            name: "tflite, 20-bit saturate",
            acc_bits: 20,
            saturate: true,
            ..base
        },
        Variant {
            name: "tflite, 16-bit wrap, post bias",
            acc_bits: 16,
            bias_post: true,
            ..base
        },
        Variant {
            name: "single half-up, 16-bit saturate",
            acc_bits: 16,
            saturate: true,
            requant: Requant::Single,
            rounding: Rounding::HalfUp,
            ..base
        },
        Variant {
            name: "fixed 16 half-even, 20-bit wrap",
            acc_bits: 20,
            requant: Requant::Fixed(16),
            rounding: Rounding::HalfEven,
            ..base
        },
        Variant {
            name: "shift truncate, 32-bit saturate",
            saturate: true,
            requant: Requant::Shift,
            rounding: Rounding::Truncate,
            ..base
        },
        Variant {
            name: "single stochastic, 20-bit saturate, post bias",
            acc_bits: 20,
            saturate: true,
            bias_post: true,
            requant: Requant::Single,
            rounding: Rounding::Stochastic,
            ..base
        },
    ];
    let ties = [
        ("shift half-away with ties", Rounding::HalfAway),
        ("shift half-up with ties", Rounding::HalfUp),
        ("shift half-even with ties", Rounding::HalfEven),
    ];
    for (name, rounding) in ties {
        list.push(Variant {
            name,
            requant: Requant::Shift,
            rounding,
            ..base
        });
    }
    list.push(Variant {
        name: "fixed 12 half-away, 32-bit wrap",
        requant: Requant::Fixed(12),
        ..base
    });
    list.extend(wide_variants(base));
    // The output-stationary array: partial row and column tiles (23 pixels
    // on 4 rows, 8 channels on 3 columns), a saturating accumulator whose
    // fold order the case checks, and stochastic rounding, whose words the
    // lanes take in the drain order.
    let output_stationary = Variant {
        unit: Unit::Array(Dataflow::OutputStationary),
        ..base
    };
    // The vector unit: 8 channels on 3 lanes, so the last tile is partial,
    // the fold order of its lanes under saturation, and stochastic
    // rounding, whose words each lane steps one pixel at a time.
    let vector = Variant {
        unit: Unit::Vector,
        ..base
    };
    list.extend([
        Variant {
            name: "vector unit, fixed 16 half-up, 16-bit saturate",
            acc_bits: 16,
            saturate: true,
            requant: Requant::Fixed(16),
            rounding: Rounding::HalfUp,
            ..vector
        },
        Variant {
            name: "vector unit, single stochastic, 16-bit wrap",
            acc_bits: 16,
            requant: Requant::Single,
            rounding: Rounding::Stochastic,
            ..vector
        },
    ]);
    list.extend([
        Variant {
            name: "output-stationary, tflite, 20-bit saturate",
            acc_bits: 20,
            saturate: true,
            ..output_stationary
        },
        Variant {
            name: "output-stationary, fixed 16 half-up, 16-bit saturate",
            acc_bits: 16,
            saturate: true,
            requant: Requant::Fixed(16),
            rounding: Rounding::HalfUp,
            ..output_stationary
        },
        Variant {
            name: "output-stationary, single stochastic, 16-bit saturate, post bias",
            acc_bits: 16,
            saturate: true,
            bias_post: true,
            requant: Requant::Single,
            rounding: Rounding::Stochastic,
            ..output_stationary
        },
        Variant {
            name: "output-stationary, shift half-even with ties, 32-bit wrap",
            requant: Requant::Shift,
            rounding: Rounding::HalfEven,
            ..output_stationary
        },
    ]);
    list
}

#[test]
fn rtl_matches_reference_per_datapath() {
    if !rtl::verilator_available() {
        assert!(
            std::env::var_os("FXSIM_NO_SKIP").is_none(),
            "verilator is not installed and FXSIM_NO_SKIP is set"
        );
        eprintln!("skipping: verilator is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("fxsim-rtl-datapaths-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a temporary directory");
    let builds = RtlBuilds::new(&root, &rtl::rtl_source_dir());
    for (index, variant) in variants().iter().enumerate() {
        let dir = root.join(format!("case{index}"));
        std::fs::create_dir_all(&dir).expect("a case directory");
        check_variant(&builds, variant, 0x9E37_79B9_7F4A_7C15 ^ index as u64, &dir);
    }
    std::fs::remove_dir_all(&root).ok();
}
