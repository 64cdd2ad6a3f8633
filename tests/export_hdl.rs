//! `fxsim export` images checked against independent references. Golden
//! outputs are compared with `fxsim run --hw --dump`. Weights, activations,
//! biases and accumulators are compared with the timing model's GEMM
//! lowering and a naive depthwise loop. Icarus Verilog and Verilator load
//! every `.mem` and recompute the manifest's word hash.

mod common;

use fxsim::exec::TensorValue;
use fxsim::export::mem::extract_bits;
use fxsim::export::{read_manifest, FileEntry, Manifest};
use fxsim::model::{Graph, OpKind, Padding};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MODEL: &str = "examples/tiny/model.tflite";
const INPUT: &str = "examples/tiny/input.npy";
const HW: &str = "examples/hw/zynq7020.toml";

/// A model, an input and a hardware description to export.
struct Example {
    model: String,
    input: String,
    hw: String,
}

fn tiny() -> Example {
    Example {
        model: repo(MODEL),
        input: repo(INPUT),
        hw: repo(HW),
    }
}

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("cannot start fxsim")
}

fn repo(path: &str) -> String {
    common::repo_dir().join(path).display().to_string()
}

/// Creates an empty scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Exports the tiny example with accumulators into a fresh directory.
fn export_example(name: &str) -> PathBuf {
    export_with(name, &tiny())
}

/// Exports `example` with accumulators into a fresh directory.
fn export_with(name: &str, example: &Example) -> PathBuf {
    let out = scratch(name).join("export");
    let output = fxsim(&[
        "export",
        &example.model,
        "--hw",
        &example.hw,
        "--input",
        &example.input,
        "--out",
        out.to_str().unwrap(),
        "--accumulators",
    ]);
    assert!(
        output.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Reads an exported image as words of elements.
fn read_image(dir: &Path, entry: &FileEntry) -> Vec<Vec<i64>> {
    let text = std::fs::read_to_string(dir.join(&entry.name)).unwrap();
    let words = fxsim::verify::parse::parse_hex_dump(&text).unwrap();
    assert_eq!(words.len() as u64, entry.depth, "{}", entry.name);
    words
        .iter()
        .map(|(_, word)| {
            (0..entry.elements_per_word)
                .map(|j| {
                    let offset = u64::from(j) * u64::from(entry.element_bits);
                    extract_bits(&word.value, offset, entry.element_bits, entry.signed)
                })
                .collect()
        })
        .collect()
}

fn entry<'m>(manifest: &'m Manifest, name: &str) -> &'m FileEntry {
    manifest
        .file(name)
        .unwrap_or_else(|| panic!("{name} missing from the manifest"))
}

/// Flattens a golden tensor image back to row-major tensor order.
fn golden_tensor(dir: &Path, entry: &FileEntry, cols: usize) -> Vec<i64> {
    let words = read_image(dir, entry);
    let layout = entry.tensor.as_ref().unwrap();
    let channels = *layout.shape.last().unwrap();
    let rows = layout.rows;
    let mut values = vec![0; rows * channels];
    for (index, word) in words.iter().enumerate() {
        let (tile, row) = (index / rows, index % rows);
        for (j, &element) in word.iter().enumerate() {
            let channel = tile * cols + j;
            if channel < channels {
                values[row * channels + channel] = element;
            } else {
                assert_eq!(
                    element, 0,
                    "{} word {index}: padding element {j}",
                    entry.name
                );
            }
        }
    }
    values
}

#[test]
fn golden_outputs_equal_run_dump() {
    let dir = export_example("golden_outputs_equal_run_dump");
    let dump = dir.with_file_name("dump");
    let output = fxsim(&[
        "run",
        &repo(MODEL),
        "--input",
        &repo(INPUT),
        "--hw",
        &repo(HW),
        "--dump",
        dump.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let manifest = read_manifest(&dir).unwrap();
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();

    let input = common::read_npy(&dump.join(format!("t{}.npy", graph.inputs[0]))).unwrap();
    let input = common::convert::to_value(&input).to_i64_vec();
    assert_eq!(
        golden_tensor(&dir, entry(&manifest, "input.mem"), manifest.cols),
        input
    );
    for (index, op) in graph.ops.iter().enumerate() {
        let id = op.outputs[0];
        let dumped = common::read_npy(&dump.join(format!("t{id}.npy"))).unwrap();
        let dumped = common::convert::to_value(&dumped);
        let golden = entry(&manifest, &format!("layer{index:03}_output.mem"));
        assert_eq!(golden.tensor.as_ref().unwrap().shape, dumped.shape);
        assert_eq!(
            golden_tensor(&dir, golden, manifest.cols),
            dumped.to_i64_vec(),
            "layer {index} output"
        );
    }
}

/// Runs an example on its configured datapath, for the layer inputs.
fn run_example(graph: &Graph, example: &Example) -> Vec<Option<TensorValue>> {
    let hw = fxsim::hw::HwConfig::load(&example.hw).unwrap();
    let datapaths = hw.datapaths(graph);
    let executor = fxsim::exec::Executor::with_datapaths(graph, |i| datapaths[i].clone()).unwrap();
    let input = fxsim::io::read_npy(Path::new(&example.input)).unwrap();
    executor.run(&[input]).unwrap().values
}

/// Wraps to the 32-bit accumulator of the example hardware.
fn wrap32(value: i64) -> i64 {
    i64::from(value as i32)
}

#[test]
fn gemm_layer_images_match_lowering() {
    let dir = export_example("gemm_layer_images_match_lowering");
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();
    let values = run_example(&graph, &tiny());
    let checked = check_gemm_layers(&dir, &graph, &values, Mode::default());
    assert_eq!(
        checked, 3,
        "the example has two CONV_2D and one FULLY_CONNECTED"
    );
}

/// Checks the weight, activation, bias and accumulator images of every
/// CONV_2D and FULLY_CONNECTED layer against the timing model's lowering
/// (`x - zx` operands, 32-bit wrapping accumulators); returns the count.
// The index loops spell out the word-index formulas of docs/formats.md.
#[allow(clippy::needless_range_loop)]
fn check_gemm_layers(
    dir: &Path,
    graph: &Graph,
    values: &[Option<TensorValue>],
    mode: Mode,
) -> usize {
    let manifest = read_manifest(dir).unwrap();
    let dir = dir.to_path_buf();
    let (rows, cols) = (manifest.rows, manifest.cols);
    let mut checked = 0;

    for (index, op) in graph.ops.iter().enumerate() {
        if !matches!(op.kind, OpKind::Conv2d(_) | OpKind::FullyConnected(_)) {
            continue;
        }
        let input = values[op.inputs[0].unwrap()].as_ref().unwrap();
        let lowered = fxsim::timing::stepped::lower_layer(graph, index, input).unwrap();
        let (m, k, n) = (
            lowered.gemm.m as usize,
            lowered.gemm.k as usize,
            lowered.gemm.n as usize,
        );
        let (folds, tiles) = (k.div_ceil(rows), n.div_ceil(cols));
        let name = |suffix: &str| format!("layer{index:03}_{suffix}.mem");
        let input_quant = graph
            .tensor(op.inputs[0].unwrap())
            .quantization
            .clone()
            .unwrap();
        let zero_point = input_quant.zero_point(0);
        // With `fold` the multiplier sees the raw x (a padded tap reads zx),
        // and -zx * sum(w) joins the bias.
        let operand_offset = if mode.fold { zero_point } else { 0 };
        let effective_bias: Vec<i64> = (0..n)
            .map(|nn| {
                let weight_sum: i64 = (0..k).map(|kk| lowered.b[kk * n + nn]).sum();
                lowered.bias[nn] - operand_offset * weight_sum
            })
            .collect();
        let start = |nn: usize| if mode.post { 0 } else { effective_bias[nn] };

        let weights = read_image(&dir, entry(&manifest, &name("weights")));
        let activations = read_image(&dir, entry(&manifest, &name("activations")));
        let bias = read_image(&dir, entry(&manifest, &name("bias")));
        let accumulators = read_image(&dir, entry(&manifest, &name("acc")));
        let bias_post = mode
            .post
            .then(|| read_image(&dir, entry(&manifest, &name("bias_post"))));
        check_requant(
            &read_image(&dir, entry(&manifest, &name("requant"))),
            graph,
            op,
            cols,
        );
        for t in 0..tiles {
            for f in 0..folds {
                for r in 0..rows {
                    for j in 0..cols {
                        let (kk, nn) = (f * rows + r, t * cols + j);
                        let expected = if kk < k && nn < n {
                            lowered.b[kk * n + nn]
                        } else {
                            0
                        };
                        let word = (t * folds + f) * rows + r;
                        assert_eq!(
                            weights[word][j], expected,
                            "layer {index} weight word {word} element {j}"
                        );
                    }
                }
            }
        }
        if mode.output_stationary {
            assert_eq!(activations.len(), m.div_ceil(rows) * k, "layer {index}");
            for p in 0..m.div_ceil(rows) {
                for kk in 0..k {
                    for r in 0..rows {
                        let mm = p * rows + r;
                        let expected = if mm < m {
                            lowered.a[mm * k + kk] + operand_offset
                        } else {
                            0
                        };
                        let word = p * k + kk;
                        assert_eq!(
                            activations[word][r], expected,
                            "layer {index} activation word {word} element {r}"
                        );
                    }
                }
            }
        } else {
            assert_eq!(activations.len(), folds * m, "layer {index}");
            for f in 0..folds {
                for mm in 0..m {
                    for r in 0..rows {
                        let kk = f * rows + r;
                        let expected = if kk < k {
                            lowered.a[mm * k + kk] + operand_offset
                        } else {
                            0
                        };
                        let word = f * m + mm;
                        assert_eq!(
                            activations[word][r], expected,
                            "layer {index} activation word {word} element {r}"
                        );
                    }
                }
            }
        }
        for t in 0..tiles {
            for j in 0..cols {
                let nn = t * cols + j;
                let expected = if nn < n { start(nn) } else { 0 };
                assert_eq!(
                    bias[t][j], expected,
                    "layer {index} bias tile {t} element {j}"
                );
                if let Some(bias_post) = &bias_post {
                    let expected = if nn < n { effective_bias[nn] } else { 0 };
                    assert_eq!(bias_post[t][j], expected, "layer {index} post bias {nn}");
                }
                for mm in 0..m {
                    let expected = if nn < n {
                        let dot: i64 = (0..k)
                            .map(|kk| {
                                (lowered.a[mm * k + kk] + operand_offset) * lowered.b[kk * n + nn]
                            })
                            .sum();
                        wrap32(start(nn) + dot)
                    } else {
                        0
                    };
                    assert_eq!(
                        accumulators[t * m + mm][j],
                        expected,
                        "layer {index} accumulator pixel {mm} channel {nn}"
                    );
                }
            }
        }
        checked += 1;
    }
    checked
}

/// The datapath modes of an export, for the expected images.
#[derive(Debug, Clone, Copy, Default)]
struct Mode {
    /// `zero_point = "fold"`.
    fold: bool,
    /// `bias = "post"`.
    post: bool,
    /// `array.dataflow = "output-stationary"`.
    output_stationary: bool,
}

/// Checks each channel's `{shift, multiplier}` of a `tflite` requant image
/// against the real scale `input_scale * weight_scale / output_scale`:
/// `multiplier * 2^(-31 - shift)` within 2^-30 relative. As in TFLite, a
/// FULLY_CONNECTED layer with one weight scale multiplies the two scales in
/// float32 first.
fn check_requant(requant: &[Vec<i64>], graph: &Graph, op: &fxsim::model::Op, cols: usize) {
    let scale = |id: usize| graph.tensor(id).quantization.clone().unwrap().scales;
    let input_scale = scale(op.inputs[0].unwrap())[0];
    let output_scale = f64::from(scale(op.outputs[0])[0]);
    let weight_scales = scale(op.inputs[1].unwrap());
    let float_product = matches!(op.kind, OpKind::FullyConnected(_)) && weight_scales.len() == 1;
    let channels = graph.tensor(op.outputs[0]).shape.last().copied().unwrap();
    for channel in 0..channels {
        let weight_scale = weight_scales[if weight_scales.len() == 1 { 0 } else { channel }];
        let product = if float_product {
            f64::from(input_scale * weight_scale)
        } else {
            f64::from(input_scale) * f64::from(weight_scale)
        };
        let expected = product / output_scale;
        let element = requant[channel / cols][channel % cols];
        let multiplier = element as u64 as u32 as i32;
        let shift = (element >> 32) as u8 as i8;
        let value = f64::from(multiplier) * 2f64.powi(-31 - i32::from(shift));
        assert!(
            (value - expected).abs() <= expected * 2f64.powi(-30),
            "channel {channel}: multiplier {multiplier}, shift {shift} give {value}; scale {expected}"
        );
    }
}

/// Under the output-stationary dataflow only the activation image changes
/// (one K term of `rows` pixels per word); the golden files stay the same.
#[test]
fn output_stationary_images_match_lowering() {
    let work = scratch("output_stationary_images_match_lowering");
    let hw = std::fs::read_to_string(repo(HW)).unwrap().replace(
        "dataflow = \"weight-stationary\"",
        "dataflow = \"output-stationary\"",
    );
    assert!(hw.contains("dataflow = \"output-stationary\""));
    std::fs::write(work.join("hw.toml"), hw).unwrap();
    let example = Example {
        hw: work.join("hw.toml").display().to_string(),
        ..tiny()
    };
    let dir = export_with("output_stationary_images_match_lowering/run", &example);
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();
    let values = run_example(&graph, &example);
    let mode = Mode {
        output_stationary: true,
        ..Mode::default()
    };
    assert_eq!(check_gemm_layers(&dir, &graph, &values, mode), 3);
    let params = std::fs::read_to_string(dir.join("params.vh")).unwrap();
    assert!(
        params.contains("localparam integer DATAFLOW = 1;"),
        "{params}"
    );

    let reference = export_example("output_stationary_images_match_lowering/reference");
    let manifest = read_manifest(&dir).unwrap();
    for file in &manifest.files {
        let old = std::fs::read(reference.join(&file.name)).unwrap();
        let new = std::fs::read(dir.join(&file.name)).unwrap();
        let changes = file.name.ends_with("_activations.mem") || file.name == "params.vh";
        assert_eq!(
            old != new,
            changes,
            "{}: changed {} under output-stationary",
            file.name,
            old != new
        );
    }
}

#[test]
fn fold_and_post_bias_images_match_lowering() {
    let work = scratch("fold_and_post_bias_images_match_lowering");
    let hw = std::fs::read_to_string(repo(HW))
        .unwrap()
        .replace("bias = \"init\"", "bias = \"post\"")
        .replace("zero_point = \"subtract\"", "zero_point = \"fold\"");
    assert!(hw.contains("zero_point = \"fold\""));
    assert!(hw.contains("bias = \"post\""));
    std::fs::write(work.join("hw.toml"), hw).unwrap();
    let example = Example {
        hw: work.join("hw.toml").display().to_string(),
        ..tiny()
    };
    let dir = export_with("fold_and_post_bias_images_match_lowering/run", &example);
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();
    let values = run_example(&graph, &example);
    let mode = Mode {
        fold: true,
        post: true,
        ..Mode::default()
    };
    assert_eq!(check_gemm_layers(&dir, &graph, &values, mode), 3);

    let manifest = read_manifest(&dir).unwrap();
    let activations = entry(&manifest, "layer000_activations.mem");
    assert_eq!(
        activations.element_bits, 8,
        "fold keeps the activation width"
    );
    // Under wrapping the outputs equal those of the subtract, init datapath.
    let reference = export_example("fold_and_post_bias_images_match_lowering/reference");
    for file in manifest
        .files
        .iter()
        .filter(|f| f.role == fxsim::export::Role::Output)
    {
        let old = std::fs::read(reference.join(&file.name)).unwrap();
        let new = std::fs::read(dir.join(&file.name)).unwrap();
        assert!(
            old == new,
            "{} differs from the subtract/init export",
            file.name
        );
    }
}

#[test]
fn layers_image_fields_match_lowering() {
    let dir = export_example("layers_image_fields_match_lowering");
    let manifest = read_manifest(&dir).unwrap();
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();
    let values = run_example(&graph, &tiny());
    let layers_entry = entry(&manifest, "layers.mem");
    let text = std::fs::read_to_string(dir.join("layers.mem")).unwrap();
    let words = fxsim::verify::parse::parse_hex_dump(&text).unwrap();
    let field = |word: &[u64], name: &str| {
        let field = manifest
            .layer_fields
            .iter()
            .find(|f| f.name == name)
            .unwrap();
        extract_bits(word, u64::from(field.lsb), field.bits, field.signed)
    };
    let total: u32 = manifest.layer_fields.iter().map(|f| f.bits).sum();
    assert_eq!(layers_entry.word_bits, total);

    let mac_layers: Vec<usize> = graph
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            matches!(
                op.kind,
                OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected(_)
            )
        })
        .map(|(index, _)| index)
        .collect();
    assert_eq!(words.len(), mac_layers.len());
    for ((_, word), &index) in words.iter().zip(&mac_layers) {
        let word = &word.value;
        let op = &graph.ops[index];
        assert_eq!(field(word, "OP_INDEX"), index as i64);
        let output = graph.tensor(op.outputs[0]);
        let zero_point = output.quantization.as_ref().unwrap().zero_point(0);
        assert_eq!(
            field(word, "OUTPUT_ZERO_POINT"),
            zero_point,
            "layer {index}"
        );
        assert_eq!(field(word, "ACC_BITS"), 32);
        assert_eq!(field(word, "ACT_BITS"), 9, "subtract: 8 + 1 bits");
        if let OpKind::DepthwiseConv2d(_) = op.kind {
            assert_eq!(field(word, "KIND"), 1);
            assert_eq!(field(word, "GROUPS"), *output.shape.last().unwrap() as i64);
            assert_eq!(field(word, "N"), 1);
            continue;
        }
        let input = values[op.inputs[0].unwrap()].as_ref().unwrap();
        let gemm = fxsim::timing::stepped::lower_layer(&graph, index, input)
            .unwrap()
            .gemm;
        assert_eq!(field(word, "GROUPS"), 1);
        assert_eq!(field(word, "M"), gemm.m as i64, "layer {index}");
        assert_eq!(field(word, "K"), gemm.k as i64, "layer {index}");
        assert_eq!(field(word, "N"), gemm.n as i64, "layer {index}");
        assert_eq!(field(word, "F"), gemm.k.div_ceil(8) as i64, "layer {index}");
        assert_eq!(field(word, "T"), gemm.n.div_ceil(8) as i64, "layer {index}");
    }
}

#[test]
fn depthwise_accumulators_match_naive_loop() {
    let dir = export_example("depthwise_accumulators_match_naive_loop");
    let graph = fxsim::import::tflite::read_file(repo(MODEL)).unwrap();
    let values = run_example(&graph, &tiny());
    assert_eq!(check_depthwise_layers(&dir, &graph, &values), 1);
}

/// Checks the accumulator image of every DEPTHWISE_CONV_2D layer with
/// depth multiplier 1 against a naive loop over the model's tensors;
/// returns the count.
fn check_depthwise_layers(dir: &Path, graph: &Graph, values: &[Option<TensorValue>]) -> usize {
    let manifest = read_manifest(dir).unwrap();
    let mut checked = 0;
    for (index, op) in graph.ops.iter().enumerate() {
        let OpKind::DepthwiseConv2d(attrs) = &op.kind else {
            continue;
        };
        let input = values[op.inputs[0].unwrap()].as_ref().unwrap();
        let x = input.to_i64_vec();
        let input_tensor = graph.tensor(op.inputs[0].unwrap());
        let zero_point = input_tensor.quantization.as_ref().unwrap().zero_point(0);
        let filter = graph.tensor(op.inputs[1].unwrap());
        let w = filter.data_as_i64().unwrap();
        let bias = graph.tensor(op.inputs[2].unwrap()).data_as_i64().unwrap();
        let [_, in_h, in_w, channels] = input.shape[..] else {
            panic!()
        };
        let [_, kh, kw, cout] = filter.shape[..] else {
            panic!()
        };
        let output_shape = &graph.tensor(op.outputs[0]).shape;
        let [_, out_h, out_w, _] = output_shape[..] else {
            panic!()
        };
        assert_eq!(cout, channels, "depth multiplier 1");
        let pad = |input: usize, kernel: usize, stride: usize, out: usize| match attrs.padding {
            Padding::Same => ((out - 1) * stride + kernel).saturating_sub(input) / 2,
            Padding::Valid => 0,
        };
        let (pad_h, pad_w) = (
            pad(in_h, kh, attrs.stride.h, out_h),
            pad(in_w, kw, attrs.stride.w, out_w),
        );

        let accumulators = read_image(dir, entry(&manifest, &format!("layer{index:03}_acc.mem")));
        let m = out_h * out_w;
        // One group per channel and N = 1, so word g*M + m has the channel in element 0.
        assert_eq!(accumulators.len(), channels * m);
        for c in 0..channels {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let mut sum = bias[c];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * attrs.stride.h + ky) as isize - pad_h as isize;
                            let ix = (ox * attrs.stride.w + kx) as isize - pad_w as isize;
                            if iy < 0 || ix < 0 || iy >= in_h as isize || ix >= in_w as isize {
                                continue;
                            }
                            let xv = x[((iy as usize) * in_w + ix as usize) * channels + c];
                            sum += w[(ky * kw + kx) * cout + c] * (xv - zero_point);
                        }
                    }
                    let word = &accumulators[c * m + oy * out_w + ox];
                    assert_eq!(
                        word[0],
                        wrap32(sum),
                        "layer {index} channel {c} pixel ({oy}, {ox})"
                    );
                    assert!(word[1..].iter().all(|&e| e == 0), "padding columns are 0");
                }
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn mobilenet_images_match_references() {
    let models = require_shared_models!();
    let work = scratch("mobilenet_images_match_references");
    // A 16 x 16 array with the TFLite arithmetic.
    let hw = std::fs::read_to_string(repo(HW))
        .unwrap()
        .replace("rows = 8 ", "rows = 16 ")
        .replace("cols = 8 ", "cols = 16 ");
    std::fs::write(work.join("hw.toml"), &hw).unwrap();
    let model = models.join("mobilenet_v2_quantized_1x3x224x224.tflite");
    let graph = fxsim::import::tflite::read_file(&model).unwrap();
    let input_tensor = graph.tensor(graph.inputs[0]);
    let input = common::random_input(&input_tensor.shape, common::ElementType::I8, 7);
    common::write_npy(&work.join("input.npy"), &input).unwrap();
    let example = Example {
        model: model.display().to_string(),
        input: work.join("input.npy").display().to_string(),
        hw: work.join("hw.toml").display().to_string(),
    };
    let dir = export_with("mobilenet_images_match_references/run", &example);
    let values = run_example(&graph, &example);

    assert_eq!(
        check_gemm_layers(&dir, &graph, &values, Mode::default()),
        36
    );
    assert_eq!(check_depthwise_layers(&dir, &graph, &values), 17);

    // The golden outputs equal the reference datapath's (its int8 fast kernels).
    let manifest = read_manifest(&dir).unwrap();
    let reference = fxsim::exec::run(
        &graph,
        &fxsim::exec::Datapath::reference(),
        &[common::convert::to_value(&input)],
    )
    .unwrap();
    for (index, op) in graph.ops.iter().enumerate() {
        let golden = entry(&manifest, &format!("layer{index:03}_output.mem"));
        let expected = reference.values[op.outputs[0]].as_ref().unwrap();
        assert_eq!(
            golden_tensor(&dir, golden, manifest.cols),
            expected.to_i64_vec(),
            "layer {index} output"
        );
    }
    // The export with accumulators takes about 450 MB.
    let _ = std::fs::remove_dir_all(&work);
}

/// Renders one testbench that loads every `.mem` of `manifest` into a
/// memory of its declared width and depth and prints `name hash` lines.
fn hash_testbench(manifest: &Manifest) -> String {
    let mut declarations = String::new();
    let mut body = String::new();
    for (index, file) in manifest.files.iter().filter(|f| f.depth > 0).enumerate() {
        declarations.push_str(&format!(
            "  reg [{}:0] m{index} [0:{}];\n",
            file.word_bits - 1,
            file.depth - 1
        ));
        body.push_str(&format!(
            "    $readmemh(\"{name}\", m{index});\n    h = 0;\n    for (i = 0; i < {depth}; i = i + 1)\n      for (c = 0; c < {chunks}; c = c + 1) begin\n        chunk = m{index}[i] >> (32 * c);\n        h = h * 31 + chunk;\n      end\n    $display(\"hash %s %0d\", \"{name}\", h);\n",
            name = file.name,
            depth = file.depth,
            chunks = file.word_bits.div_ceil(32),
        ));
    }
    format!(
        "module tb;\n  reg [31:0] h;\n  reg [31:0] chunk;\n  integer i, c;\n{declarations}  initial begin\n{body}    $finish;\n  end\nendmodule\n"
    )
}

/// Checks the `hash NAME VALUE` lines a simulator printed against the
/// manifest.
fn check_hashes(simulator: &str, stdout: &str, manifest: &Manifest) {
    let mut seen = 0;
    for line in stdout.lines() {
        let Some(rest) = line.trim().strip_prefix("hash ") else {
            continue;
        };
        let (name, value) = rest.split_once(' ').unwrap();
        let file = entry(manifest, name.trim());
        let value: u32 = value.trim().parse().unwrap();
        assert_eq!(value, file.checksum.word_hash, "{simulator}: {name}");
        seen += 1;
    }
    let expected = manifest.files.iter().filter(|f| f.depth > 0).count();
    assert_eq!(
        seen, expected,
        "{simulator} printed {seen} hashes:\n{stdout}"
    );
}

fn tool_exists(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn icarus_loads_every_image() {
    if !tool_exists("iverilog") {
        skip!("iverilog not found on PATH");
    }
    let dir = export_example("icarus_loads_every_image");
    let manifest = read_manifest(&dir).unwrap();
    std::fs::write(dir.with_file_name("tb.v"), hash_testbench(&manifest)).unwrap();
    let build = Command::new("iverilog")
        .args(["-o", "../tb.vvp", "../tb.v"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new("vvp")
        .args(["-n", "../tb.vvp"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stderr}");
    assert!(
        !stdout.contains("WARNING") && !stderr.contains("WARNING"),
        "{stdout}{stderr}"
    );
    check_hashes("icarus", &stdout, &manifest);
}

#[test]
fn verilator_loads_every_image() {
    if !tool_exists("verilator") {
        skip!("verilator not found on PATH");
    }
    let dir = export_example("verilator_loads_every_image");
    let manifest = read_manifest(&dir).unwrap();
    let work = dir.parent().unwrap().to_path_buf();
    std::fs::write(work.join("tb.v"), hash_testbench(&manifest)).unwrap();
    let build = Command::new("verilator")
        .args([
            "--binary",
            "-Wno-fatal",
            "-Wno-WIDTH",
            "--top-module",
            "tb",
            "-j",
            "2",
        ])
        .args(["-CFLAGS", "-O0", "--Mdir", "obj_dir", "tb.v"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(work.join("obj_dir/Vtb"))
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stderr}");
    assert!(
        !stdout.contains("%Warning") && !stderr.contains("%Warning"),
        "{stdout}{stderr}"
    );
    check_hashes("verilator", &stdout, &manifest);
}
