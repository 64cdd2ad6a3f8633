//! Timing: the fast model's formulas, the cycle-stepped array against a
//! plain GEMM and against the executor, and the monotonic properties the
//! estimate must keep on real networks and the example hardware files.

mod common;

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::hw::{ArrayConfig, Dataflow, DepthwiseUnit, HwConfig};
use fxsim::import::tflite::read_file;
use fxsim::model::{
    Activation, DataType, FullyConnectedAttrs, Graph, Op, OpKind, Quantization, Tensor,
};
use fxsim::numeric::{multiply_by_quantized_multiplier, quantize_multiplier};
use fxsim::timing::stepped::{lower_layer, reference_gemm, run_gemm, GemmOperands};
use fxsim::timing::{estimate, gemm_compute_cycles, gemm_passes, BufferKind, Gemm, TimingError};

const DATAFLOWS: [Dataflow; 2] = [Dataflow::WeightStationary, Dataflow::OutputStationary];

/// Deterministic values in `low..=high` from a xorshift64 stream.
fn random_values(count: usize, low: i64, high: i64, seed: u64) -> Vec<i64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let span = (high - low + 1) as u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            low + ((state >> 11) % span) as i64
        })
        .collect()
}

fn random_int8(shape: &[usize], seed: u64) -> TensorValue {
    let count = shape.iter().product();
    let data = random_values(count, -128, 127, seed)
        .into_iter()
        .map(|v| v as i8)
        .collect();
    TensorValue {
        shape: shape.to_vec(),
        data: TensorData::I8(data),
    }
}

fn array(rows: u32, cols: u32, dataflow: Dataflow) -> ArrayConfig {
    ArrayConfig {
        rows,
        cols,
        dataflow,
        ..ArrayConfig::default()
    }
}

fn example_hw(name: &str) -> HwConfig {
    HwConfig::load(common::repo_dir().join("examples/hw").join(name)).unwrap()
}

const EXAMPLE_HW: [&str; 3] = ["zynq7020.toml", "zcu102.toml", "aggressive.toml"];

/// Reads the shared real-world models, or prints why not and returns
/// `None` when the shared directory is absent.
fn shared_models() -> Option<Vec<(&'static str, Graph)>> {
    let Some(dir) = common::shared_models_dir() else {
        common::note_skip(&format!(
            "shared models directory {} not found",
            common::shared_dir().join("models").display()
        ));
        return None;
    };
    let names = [
        "person_detect.tflite",
        "mobilenet_v2_quantized_1x3x224x224.tflite",
    ];
    Some(
        names
            .into_iter()
            .map(|name| (name, read_file(dir.join(name)).unwrap()))
            .collect(),
    )
}

/// 16 x 16 weight-stationary array, M = 100, K = 64, N = 32: 4 folds times
/// 2 column tiles, each pass 2 * 16 + 16 + 100 - 2 = 146 cycles.
#[test]
fn worked_example_agrees_in_both_models() {
    let gemm = Gemm {
        m: 100,
        k: 64,
        n: 32,
    };
    let array = array(16, 16, Dataflow::WeightStationary);
    assert_eq!(gemm_passes(gemm, &array), Some(8));
    assert_eq!(gemm_compute_cycles(gemm, &array), Some(1168));

    let a = random_values(100 * 64, -128, 127, 1);
    let b = random_values(64 * 32, -127, 127, 2);
    let operands = GemmOperands { gemm, a: &a, b: &b };
    let run = run_gemm(operands, &array).unwrap();
    assert_eq!(run.cycles, 1168);
    assert_eq!(run.passes, 8);
    assert_eq!(run.accumulators, reference_gemm(operands).unwrap());
}

/// The same GEMM as a FULLY_CONNECTED layer of 100 rows fits the default
/// buffers as one tile, so the estimate's compute cycles are the example's.
#[test]
fn worked_example_as_a_layer() {
    let graph = fully_connected_graph(100, 64, 32, 3);
    let hw = HwConfig::default();
    let report = estimate(&graph, &hw).unwrap();
    let layer = &report.layers[0];
    assert_eq!(
        layer.gemm,
        Some(Gemm {
            m: 100,
            k: 64,
            n: 32
        })
    );
    assert_eq!(layer.tiles, 1);
    assert_eq!(layer.limited_by, None);
    assert_eq!(layer.compute_cycles, 1168);
    // One tile: its load, compute, PPU and store cannot overlap.
    assert_eq!(
        layer.total_cycles,
        layer.compute_cycles + layer.memory_cycles + layer.ppu_cycles
    );
    // PPU: 3200 outputs at 16 per cycle.
    assert_eq!(layer.ppu_cycles, 200);
    // Bursts of 40 cycles' latency at 8 bytes per cycle: 6400 input bytes,
    // 2048 weight and 128 bias bytes, 3200 output bytes.
    assert_eq!(layer.memory_cycles, 840 + 312 + 440);
    assert_eq!(layer.total_cycles, 2960);
}

#[test]
fn stepped_array_matches_reference_gemm() {
    // (rows, cols, m, k, n), with dimensions that are and are not
    // multiples of the array.
    let cases = [
        (1, 1, 3, 4, 2),
        (2, 3, 5, 7, 4),
        (4, 4, 4, 8, 8),
        (4, 4, 1, 1, 1),
        (3, 5, 10, 9, 11),
        (8, 2, 7, 20, 3),
        (5, 8, 13, 5, 8),
        (16, 16, 17, 33, 18),
        (7, 3, 2, 50, 9),
    ];
    for dataflow in DATAFLOWS {
        for (seed, &(rows, cols, m, k, n)) in cases.iter().enumerate() {
            let gemm = Gemm { m, k, n };
            let array = array(rows, cols, dataflow);
            let a = random_values((m * k) as usize, -128, 127, seed as u64);
            let b = random_values((k * n) as usize, -127, 127, 100 + seed as u64);
            let operands = GemmOperands { gemm, a: &a, b: &b };
            let run = run_gemm(operands, &array).unwrap();
            let label = format!("{dataflow} {rows}x{cols} array, GEMM {m}x{k}x{n}");
            assert_eq!(
                run.accumulators,
                reference_gemm(operands).unwrap(),
                "{label}: accumulators"
            );
            assert_eq!(
                Some(run.cycles),
                gemm_compute_cycles(gemm, &array),
                "{label}: cycles"
            );
            assert_eq!(
                Some(run.passes),
                gemm_passes(gemm, &array),
                "{label}: passes"
            );
        }
    }
}

#[test]
fn stepped_array_of_empty_gemm_takes_no_cycles() {
    for dataflow in DATAFLOWS {
        let gemm = Gemm { m: 0, k: 3, n: 2 };
        let b = vec![1; 6];
        let run = run_gemm(
            GemmOperands {
                gemm,
                a: &[],
                b: &b,
            },
            &array(2, 2, dataflow),
        )
        .unwrap();
        assert_eq!(run.cycles, 0);
        assert!(run.accumulators.is_empty());
    }
}

#[test]
fn stepped_array_rejects_mismatched_operands() {
    let gemm = Gemm { m: 2, k: 3, n: 2 };
    let error = run_gemm(
        GemmOperands {
            gemm,
            a: &[1; 5],
            b: &[1; 6],
        },
        &array(2, 2, Dataflow::WeightStationary),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid GEMM operands: a has 5 elements; expected 2 x 3 for a GEMM of 2 x 3 x 2"
    );
}

/// Applies the PPU of the TFLite reference datapath to one accumulator:
/// bias, the per-channel multiplier and shift (double rounding), the output
/// zero point, and the clamp of the fused activation.
struct ReferencePpu {
    multipliers: Vec<(i32, i32)>,
    output_zero_point: i64,
    clamp: (i64, i64),
}

impl ReferencePpu {
    fn for_layer(graph: &Graph, index: usize, activation: Activation) -> ReferencePpu {
        let op = &graph.ops[index];
        let quant = |id: usize| graph.tensor(id).quantization.clone().unwrap();
        let input = quant(op.input(0).unwrap());
        let weights = quant(op.input(1).unwrap());
        let output = quant(op.output().unwrap());
        let (input_scale, output_scale) = (input.scales[0], output.scales[0]);
        let multipliers = weights
            .scales
            .iter()
            .map(|&weight_scale| {
                let real =
                    f64::from(input_scale) * f64::from(weight_scale) / f64::from(output_scale);
                let quantized = quantize_multiplier(real);
                (quantized.multiplier, quantized.shift)
            })
            .collect();
        let zero_point = output.zero_points[0];
        let bound = |real: f32| zero_point + (real / output_scale).round() as i64;
        let clamp = match activation {
            Activation::None => (-128, 127),
            Activation::Relu => (bound(0.0).max(-128), 127),
            Activation::Relu6 => (bound(0.0).max(-128), bound(6.0).min(127)),
            other => panic!("activation {other} is not used by these tests"),
        };
        ReferencePpu {
            multipliers,
            output_zero_point: zero_point,
            clamp,
        }
    }

    fn apply(&self, accumulator: i64, bias: i64, channel: usize) -> i64 {
        let (multiplier, shift) = self.multipliers[channel.min(self.multipliers.len() - 1)];
        let sum = (accumulator as i32).wrapping_add(bias as i32);
        let scaled = i64::from(multiply_by_quantized_multiplier(sum, multiplier, shift));
        (scaled + self.output_zero_point).clamp(self.clamp.0, self.clamp.1)
    }
}

/// Runs layer `index` of `graph` on the stepped array and checks its
/// requantised accumulators against the executor's output, and its cycles
/// against the fast model.
fn check_layer_against_executor(
    graph: &Graph,
    index: usize,
    input: &TensorValue,
    expected: &TensorValue,
    activation: Activation,
    label: &str,
) {
    let lowered = lower_layer(graph, index, input).unwrap();
    let ppu = ReferencePpu::for_layer(graph, index, activation);
    let n = lowered.gemm.n as usize;
    let expected = expected.to_i64_vec();
    for dataflow in DATAFLOWS {
        for (rows, cols) in [(1, 1), (3, 2), (4, 4), (5, 3), (16, 8)] {
            let array = array(rows, cols, dataflow);
            let run = run_gemm(lowered.operands(), &array).unwrap();
            let case = format!("{label}, {dataflow} {rows}x{cols}");
            assert_eq!(
                run.accumulators,
                reference_gemm(lowered.operands()).unwrap(),
                "{case}: accumulators"
            );
            assert_eq!(
                Some(run.cycles),
                gemm_compute_cycles(lowered.gemm, &array),
                "{case}: cycles"
            );
            // The layer fits the default buffers as one tile, so the whole
            // estimate's compute cycles are the stepped array's too.
            let hw = HwConfig {
                array,
                ..HwConfig::default()
            };
            let layer = estimate(graph, &hw).unwrap().layers.swap_remove(index);
            assert_eq!(layer.tiles, 1, "{case}: tiles");
            assert_eq!(layer.compute_cycles, run.cycles, "{case}: estimate");
            let outputs: Vec<i64> = run
                .accumulators
                .iter()
                .enumerate()
                .map(|(i, &acc)| ppu.apply(acc, lowered.bias[i % n], i % n))
                .collect();
            if let Some(position) = outputs.iter().zip(&expected).position(|(a, b)| a != b) {
                panic!(
                    "{case}: output element {position} (pixel {}, channel {}) is {}, the executor gives {}",
                    position / n,
                    position % n,
                    outputs[position],
                    expected[position]
                );
            }
            assert_eq!(outputs.len(), expected.len(), "{case}: output length");
        }
    }
}

#[test]
fn stepped_convolution_matches_executor() {
    let path = common::test_models_dir().join("conv_same_stride2.tflite");
    let graph = read_file(&path).unwrap();
    let input = random_int8(&graph.tensor(graph.inputs[0]).shape, 7);
    let execution = Executor::new(&graph, &Datapath::reference())
        .unwrap()
        .run(std::slice::from_ref(&input))
        .unwrap();

    let mut layer_input = input;
    for index in 0..graph.ops.len() {
        let op = &graph.ops[index];
        let OpKind::Conv2d(attrs) = &op.kind else {
            panic!("layer {index} of {} is not CONV_2D", path.display());
        };
        let output = execution.values[op.output().unwrap()].clone().unwrap();
        let label = format!("conv_same_stride2 layer {index}");
        check_layer_against_executor(
            &graph,
            index,
            &layer_input,
            &output,
            attrs.activation,
            &label,
        );
        layer_input = output;
    }
}

/// Builds a graph of one FULLY_CONNECTED layer of `rows x depth` int8
/// inputs and `units` per-channel int8 weights, with an int32 bias.
fn fully_connected_graph(rows: usize, depth: usize, units: usize, seed: u64) -> Graph {
    let int8_bytes = |values: Vec<i64>| values.into_iter().map(|v| v as i8 as u8).collect();
    let weights = random_values(units * depth, -127, 127, seed);
    let bias: Vec<u8> = random_values(units, -5000, 5000, seed + 1)
        .into_iter()
        .flat_map(|v| (v as i32).to_le_bytes())
        .collect();
    let weight_scales: Vec<f32> = (0..units).map(|c| 0.004 + 0.0005 * c as f32).collect();
    let tensor = |name: &str, shape: Vec<usize>, dtype, quantization, data| Tensor {
        name: name.to_string(),
        shape,
        dtype,
        quantization: Some(quantization),
        data,
        is_variable: false,
    };
    let tensors = vec![
        tensor(
            "input",
            vec![rows, depth],
            DataType::Int8,
            Quantization::per_tensor(0.05, 3),
            None,
        ),
        tensor(
            "weights",
            vec![units, depth],
            DataType::Int8,
            Quantization {
                scales: weight_scales.clone(),
                zero_points: vec![0; units],
                axis: Some(0),
            },
            Some(int8_bytes(weights)),
        ),
        tensor(
            "bias",
            vec![units],
            DataType::Int32,
            Quantization {
                scales: weight_scales.iter().map(|s| s * 0.05).collect(),
                zero_points: vec![0; units],
                axis: Some(0),
            },
            Some(bias),
        ),
        tensor(
            "output",
            vec![rows, units],
            DataType::Int8,
            Quantization::per_tensor(0.2, -7),
            None,
        ),
    ];
    Graph {
        name: "fully_connected".to_string(),
        description: String::new(),
        tensors,
        ops: vec![Op {
            kind: OpKind::FullyConnected(FullyConnectedAttrs {
                activation: Activation::None,
                keep_num_dims: false,
            }),
            inputs: vec![Some(0), Some(1), Some(2)],
            outputs: vec![3],
        }],
        inputs: vec![0],
        outputs: vec![3],
    }
}

#[test]
fn stepped_fully_connected_matches_executor() {
    for (rows, depth, units) in [(1, 20, 7), (5, 33, 9), (12, 16, 16)] {
        let graph = fully_connected_graph(rows, depth, units, rows as u64);
        let input = random_int8(&[rows, depth], 11);
        let execution = Executor::new(&graph, &Datapath::reference())
            .unwrap()
            .run(std::slice::from_ref(&input))
            .unwrap();
        let output = execution.values[3].clone().unwrap();
        let label = format!("fully connected {rows}x{depth}x{units}");
        check_layer_against_executor(&graph, 0, &input, &output, Activation::None, &label);
    }
}

/// Doubling the rows halves the folds of a weight-stationary layer whose K
/// is at least twice the new row count, which outweighs the longer fill.
#[test]
fn doubling_rows_never_costs_weight_stationary() {
    let gemms = [
        Gemm {
            m: 100,
            k: 64,
            n: 32,
        },
        Gemm {
            m: 49,
            k: 960,
            n: 320,
        },
        Gemm {
            m: 3136,
            k: 27,
            n: 32,
        },
        Gemm { m: 7, k: 300, n: 5 },
        Gemm {
            m: 1,
            k: 1280,
            n: 1000,
        },
    ];
    for gemm in gemms {
        for cols in [4, 8, 16] {
            for rows in [1u32, 2, 4, 8, 16, 32] {
                if gemm.k < 4 * u64::from(rows) {
                    continue;
                }
                let fewer =
                    gemm_compute_cycles(gemm, &array(rows, cols, Dataflow::WeightStationary));
                let more =
                    gemm_compute_cycles(gemm, &array(2 * rows, cols, Dataflow::WeightStationary));
                assert!(
                    more <= fewer,
                    "{gemm:?} on {cols} columns: {rows} rows {fewer:?}, {} rows {more:?}",
                    2 * rows
                );
            }
        }
    }

    let Some(models) = shared_models() else {
        return;
    };
    for (name, graph) in &models {
        for rows in [2u32, 4, 8, 16] {
            let mut fewer = HwConfig::default();
            fewer.array.rows = rows;
            let mut more = fewer.clone();
            more.array.rows = 2 * rows;
            let fewer = estimate(graph, &fewer).unwrap();
            let more = estimate(graph, &more).unwrap();
            for (a, b) in fewer.layers.iter().zip(&more.layers) {
                let Some(gemm) = a.gemm else { continue };
                if a.op == "DEPTHWISE_CONV_2D" || gemm.k < 4 * u64::from(rows) {
                    continue;
                }
                assert!(
                    b.compute_cycles <= a.compute_cycles,
                    "{name} layer {} ({}): {rows} rows {} cycles, {} rows {} cycles",
                    a.index,
                    a.op,
                    a.compute_cycles,
                    2 * rows,
                    b.compute_cycles
                );
            }
        }
    }
}

/// On an output-stationary array the rows hold pixels, so the same holds
/// for M.
#[test]
fn doubling_rows_never_costs_output_stationary() {
    for gemm in [
        Gemm {
            m: 100,
            k: 64,
            n: 32,
        },
        Gemm {
            m: 3136,
            k: 27,
            n: 32,
        },
        Gemm {
            m: 49,
            k: 960,
            n: 320,
        },
    ] {
        for rows in [1u32, 2, 4, 8, 16] {
            if gemm.m < 4 * u64::from(rows) {
                continue;
            }
            let fewer = gemm_compute_cycles(gemm, &array(rows, 8, Dataflow::OutputStationary));
            let more = gemm_compute_cycles(gemm, &array(2 * rows, 8, Dataflow::OutputStationary));
            assert!(
                more <= fewer,
                "{gemm:?}: {rows} rows {fewer:?}, {} rows {more:?}",
                2 * rows
            );
        }
    }
}

/// A layer of one pixel is bound by its weight loads, so a taller array
/// costs it cycles: K = 40 takes 5 folds on 8 rows and 3 folds on 16, and
/// with one pixel the longer passes outweigh the saved folds.
#[test]
fn more_rows_cost_single_pixel_layer() {
    let gemm = Gemm { m: 1, k: 40, n: 8 };
    let eight = gemm_compute_cycles(gemm, &array(8, 8, Dataflow::WeightStationary));
    let sixteen = gemm_compute_cycles(gemm, &array(16, 8, Dataflow::WeightStationary));
    assert_eq!(eight, Some(5 * (16 + 8 + 1 - 2)));
    assert_eq!(sixteen, Some(3 * (32 + 8 + 1 - 2)));
}

#[test]
fn slower_dram_never_reduces_memory_cycles() {
    let Some(models) = shared_models() else {
        return;
    };
    for (name, graph) in &models {
        for hw_name in EXAMPLE_HW {
            let mut hw = example_hw(hw_name);
            let mut previous: Option<Vec<u64>> = None;
            for bytes_per_cycle in [64, 16, 8, 3, 1] {
                hw.dram.bytes_per_cycle = bytes_per_cycle;
                let report = estimate(graph, &hw).unwrap();
                let memory: Vec<u64> = report.layers.iter().map(|l| l.memory_cycles).collect();
                if let Some(faster) = &previous {
                    for (index, (slow, fast)) in memory.iter().zip(faster).enumerate() {
                        assert!(
                            slow >= fast,
                            "{name} on {hw_name}, layer {index}: {bytes_per_cycle} bytes per cycle gives {slow} memory cycles, a faster port {fast}"
                        );
                    }
                }
                previous = Some(memory);
            }
        }
    }
}

#[test]
fn double_buffering_never_costs_cycles() {
    let Some(models) = shared_models() else {
        return;
    };
    for (name, graph) in &models {
        for hw_name in EXAMPLE_HW {
            let mut hw = example_hw(hw_name);
            hw.buffers.double_buffered = true;
            let double = estimate(graph, &hw).unwrap();
            hw.buffers.double_buffered = false;
            let single = estimate(graph, &hw).unwrap();
            assert!(
                double.total_cycles <= single.total_cycles,
                "{name} on {hw_name}: double buffered {} cycles, single {}",
                double.total_cycles,
                single.total_cycles
            );
            for (d, s) in double.layers.iter().zip(&single.layers) {
                assert!(
                    d.total_cycles <= s.total_cycles,
                    "{name} on {hw_name}, layer {} ({}): double buffered {} cycles, single {}",
                    d.index,
                    d.op,
                    d.total_cycles,
                    s.total_cycles
                );
            }
        }
    }
}

#[test]
fn estimate_covers_every_layer_of_shared_models() {
    let Some(models) = shared_models() else {
        return;
    };
    for (name, graph) in &models {
        for hw_name in EXAMPLE_HW {
            let hw = example_hw(hw_name);
            let report = estimate(graph, &hw).unwrap();
            assert_eq!(report.layers.len(), graph.ops.len(), "{name} on {hw_name}");
            let sum: u64 = report.layers.iter().map(|l| l.total_cycles).sum();
            assert_eq!(report.total_cycles, sum, "{name} on {hw_name}: total");
            for layer in &report.layers {
                assert!(
                    (0.0..=1.0).contains(&layer.utilisation),
                    "{name} on {hw_name}, layer {}: utilisation {}",
                    layer.index,
                    layer.utilisation
                );
                let busiest = layer
                    .compute_cycles
                    .max(layer.memory_cycles)
                    .max(layer.ppu_cycles);
                assert!(
                    layer.total_cycles >= busiest,
                    "{name} on {hw_name}, layer {}: total {} below a stage's {busiest}",
                    layer.index,
                    layer.total_cycles
                );
            }
            eprintln!(
                "{name} on {hw_name}: {} cycles, {:.1} us, {:.1} inferences/s, {} DRAM bytes",
                report.total_cycles,
                report.latency_us,
                report.inferences_per_second,
                report.dram_bytes
            );
        }
    }
}

#[test]
fn depthwise_on_vector_unit_differs_from_array() {
    let Some(models) = shared_models() else {
        return;
    };
    let (_, graph) = &models[0];
    let mut hw = HwConfig::default();
    hw.array.depthwise = DepthwiseUnit::Array;
    let on_array = estimate(graph, &hw).unwrap();
    hw.array.depthwise = DepthwiseUnit::Vector;
    let on_vector = estimate(graph, &hw).unwrap();
    for (a, v) in on_array.layers.iter().zip(&on_vector.layers) {
        if a.op == "DEPTHWISE_CONV_2D" {
            assert_ne!(a.unit, v.unit, "layer {}", a.index);
        } else {
            assert_eq!(a.compute_cycles, v.compute_cycles, "layer {}", a.index);
        }
    }
}

/// Validation keeps every buffer at 1 KiB or more, enough for the smallest
/// tile of this layer, so the description is changed by hand.
#[test]
fn tile_that_fits_no_buffer_is_an_error() {
    let graph = fully_connected_graph(1, 64, 8, 5);
    let mut hw = HwConfig::default();
    hw.buffers.weight_kib = 0;
    let error = estimate(&graph, &hw).unwrap_err();
    assert!(
        matches!(
            error,
            TimingError::TileDoesNotFit {
                buffer: BufferKind::Weight,
                ..
            }
        ),
        "{error:?}"
    );
    // The smallest tile: one fold of 16 weights for one output channel and
    // its 4-byte bias.
    assert_eq!(
        error.to_string(),
        "layer 0 (FULLY_CONNECTED \"output\"): the smallest tile needs 20 bytes of the weight \
         buffer, but buffers.weight_kib gives 0 bytes per bank; increase buffers.weight_kib"
    );
}

#[test]
fn unsupported_op_is_an_error() {
    let mut graph = fully_connected_graph(1, 8, 2, 9);
    graph.ops[0].kind = OpKind::Unsupported {
        name: "DEPTH_TO_SPACE".to_string(),
    };
    let error = estimate(&graph, &HwConfig::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unsupported op DEPTH_TO_SPACE at index 0"
    );
}
