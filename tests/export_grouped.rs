//! Export of layers that run as several GEMMs: a DEPTHWISE_CONV_2D with
//! depth multiplier 2 and a CONV_2D with 2 groups, on a 4 x 3 array so
//! that folds and column tiles are partial. The accumulator and weight
//! images are checked against naive loops over the model's tensors, with
//! the group as the outermost word index.

mod common;

use fxsim::exec::{TensorData, TensorValue};
use fxsim::export::mem::extract_bits;
use fxsim::export::{read_manifest, ExportOptions, ExportSources, FileEntry, Manifest};
use fxsim::model::{
    Activation, Conv2dAttrs, DataType, DepthwiseConv2dAttrs, Graph, Hw, Op, OpKind, Padding,
    Quantization, Tensor,
};
use std::path::{Path, PathBuf};

const ROWS: usize = 4;
const COLS: usize = 3;
const INPUT_SHAPE: [usize; 4] = [1, 5, 6, 4];
const INPUT_ZERO_POINT: i64 = 17;

/// A layer with `groups` GEMMs: its filter shape, channel counts and kind.
struct GroupedLayer {
    depthwise: bool,
    cout: usize,
    /// Input channels each output channel reads.
    group_channels: usize,
}

impl GroupedLayer {
    fn groups(&self) -> usize {
        if self.depthwise {
            INPUT_SHAPE[3]
        } else {
            INPUT_SHAPE[3] / self.group_channels
        }
    }

    fn filter_shape(&self) -> Vec<usize> {
        if self.depthwise {
            vec![1, 3, 3, self.cout]
        } else {
            vec![self.cout, 3, 3, self.group_channels]
        }
    }

    fn weight(&self, weights: &[i64], oc: usize, ky: usize, kx: usize, ci: usize) -> i64 {
        if self.depthwise {
            weights[(ky * 3 + kx) * self.cout + oc]
        } else {
            weights[((oc * 3 + ky) * 3 + kx) * self.group_channels + ci]
        }
    }

    fn graph(&self) -> Graph {
        let activation = |name: &str, shape: Vec<usize>, scale: f32, zero_point: i64| Tensor {
            name: name.into(),
            shape,
            dtype: DataType::Int8,
            quantization: Some(Quantization::per_tensor(scale, zero_point)),
            data: None,
            is_variable: false,
        };
        let shape = self.filter_shape();
        let count: usize = shape.iter().product();
        let weights = Tensor {
            name: "weights".into(),
            shape,
            dtype: DataType::Int8,
            quantization: Some(Quantization {
                scales: (0..self.cout).map(|c| 0.01 + 0.003 * c as f32).collect(),
                zero_points: vec![0; self.cout],
                axis: Some(if self.depthwise { 3 } else { 0 }),
            }),
            data: Some((0..count).map(|i| ((i * 71 + 5) % 256) as u8).collect()),
            is_variable: false,
        };
        let bias = Tensor {
            name: "bias".into(),
            shape: vec![self.cout],
            dtype: DataType::Int32,
            quantization: None,
            data: Some(
                (0..self.cout as i32)
                    .flat_map(|c| (c * 997 - 1500).to_le_bytes())
                    .collect(),
            ),
            is_variable: false,
        };
        let (padding, stride, dilation) = (Padding::Same, Hw { h: 1, w: 2 }, Hw { h: 1, w: 1 });
        let kind = if self.depthwise {
            OpKind::DepthwiseConv2d(DepthwiseConv2dAttrs {
                padding,
                stride,
                dilation,
                depth_multiplier: self.cout / INPUT_SHAPE[3],
                activation: Activation::None,
            })
        } else {
            OpKind::Conv2d(Conv2dAttrs {
                padding,
                stride,
                dilation,
                activation: Activation::None,
            })
        };
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: vec![
                activation("input", INPUT_SHAPE.to_vec(), 0.04, INPUT_ZERO_POINT),
                weights,
                activation("output", vec![1, 5, 3, self.cout], 0.05, -9),
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
}

fn input() -> TensorValue {
    let count: usize = INPUT_SHAPE.iter().product();
    TensorValue {
        shape: INPUT_SHAPE.to_vec(),
        data: TensorData::I8(
            (0..count)
                .map(|i| ((i * 37 + 11) % 256) as u8 as i8)
                .collect(),
        ),
    }
}

fn export(name: &str, graph: &Graph) -> PathBuf {
    let hw_text = std::fs::read_to_string(common::repo_dir().join("examples/hw/zynq7020.toml"))
        .unwrap()
        .replace("rows = 8 ", &format!("rows = {ROWS} "))
        .replace("cols = 8 ", &format!("cols = {COLS} "));
    let hw = fxsim::hw::HwConfig::from_toml_str(&hw_text, "grouped.toml").unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    fxsim::export::export(
        &dir,
        graph,
        &hw,
        input(),
        ExportSources::default(),
        ExportOptions { accumulators: true },
        &fxsim::analysis::accum::NoProgress,
    )
    .unwrap();
    dir
}

fn read_image(dir: &Path, manifest: &Manifest, name: &str) -> (FileEntry, Vec<Vec<i64>>) {
    let entry = manifest.file(name).unwrap().clone();
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let words = fxsim::verify::parse::parse_hex_dump(&text).unwrap();
    let words = words
        .iter()
        .map(|(_, word)| {
            (0..entry.elements_per_word)
                .map(|j| {
                    let offset = u64::from(j) * u64::from(entry.element_bits);
                    extract_bits(&word.value, offset, entry.element_bits, entry.signed)
                })
                .collect()
        })
        .collect();
    (entry, words)
}

/// Checks the weight, activation and accumulator images of `layer`
/// against naive loops.
// The index loops spell out the word-index formulas of docs/formats.md.
#[allow(clippy::needless_range_loop)]
fn check_grouped(layer: &GroupedLayer, name: &str) {
    let graph = layer.graph();
    let dir = export(name, &graph);
    let manifest = read_manifest(&dir).unwrap();
    let weights = graph.tensors[1].data_as_i64().unwrap();
    let bias = graph.tensors[3].data_as_i64().unwrap();
    let x = input().to_i64_vec();
    let [_, in_h, in_w, cin] = INPUT_SHAPE;
    let (out_h, out_w) = (5, 3);
    let groups = layer.groups();
    let n = layer.cout / groups;
    let taps = 9 * layer.group_channels;
    let (folds, tiles, m) = (taps.div_ceil(ROWS), n.div_ceil(COLS), out_h * out_w);

    let (entry, image) = read_image(&dir, &manifest, "layer000_weights.mem");
    assert_eq!(entry.depth as usize, groups * tiles * folds * ROWS);
    for g in 0..groups {
        for t in 0..tiles {
            for f in 0..folds {
                for r in 0..ROWS {
                    for j in 0..COLS {
                        let (k, column) = (f * ROWS + r, t * COLS + j);
                        let expected = if k < taps && column < n {
                            let (ky, kx, ci) = (
                                k / (3 * layer.group_channels),
                                k / layer.group_channels % 3,
                                k % layer.group_channels,
                            );
                            layer.weight(&weights, g * n + column, ky, kx, ci)
                        } else {
                            0
                        };
                        let word = ((g * tiles + t) * folds + f) * ROWS + r;
                        assert_eq!(image[word][j], expected, "weight word {word} element {j}");
                    }
                }
            }
        }
    }

    let (entry, image) = read_image(&dir, &manifest, "layer000_activations.mem");
    assert_eq!(entry.depth as usize, groups * folds * m);
    for g in 0..groups {
        for f in 0..folds {
            for (pixel_index, (oy, ox)) in (0..out_h)
                .flat_map(|oy| (0..out_w).map(move |ox| (oy, ox)))
                .enumerate()
            {
                for r in 0..ROWS {
                    let k = f * ROWS + r;
                    let expected = if k < taps {
                        let (ky, kx, ci) = (
                            k / (3 * layer.group_channels),
                            k / layer.group_channels % 3,
                            k % layer.group_channels,
                        );
                        let iy = oy as isize + ky as isize - 1;
                        let ix = (ox * 2 + kx) as isize;
                        if iy < 0 || iy >= in_h as isize || ix >= in_w as isize {
                            0
                        } else {
                            let channel = g * layer.group_channels + ci;
                            x[((iy as usize) * in_w + ix as usize) * cin + channel]
                                - INPUT_ZERO_POINT
                        }
                    } else {
                        0
                    };
                    let word = (g * folds + f) * m + pixel_index;
                    assert_eq!(
                        image[word][r], expected,
                        "activation word {word} element {r}"
                    );
                }
            }
        }
    }

    let (entry, image) = read_image(&dir, &manifest, "layer000_acc.mem");
    assert_eq!(entry.depth as usize, groups * tiles * m);
    // SAME padding: 1 row above (total 2); for width 6 to 3 at stride 2 the
    // total is 1, which TensorFlow puts on the right.
    let (pad_top, pad_left) = (1_isize, 0_isize);
    for oc in 0..layer.cout {
        let (g, column) = (oc / n, oc % n);
        let (t, j) = (column / COLS, column % COLS);
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut sum = bias[oc];
                for ky in 0..3 {
                    for kx in 0..3 {
                        let iy = oy as isize + ky as isize - pad_top;
                        let ix = (ox * 2) as isize + kx as isize - pad_left;
                        if iy < 0 || ix < 0 || iy >= in_h as isize || ix >= in_w as isize {
                            continue;
                        }
                        let pixel = ((iy as usize) * in_w + ix as usize) * cin;
                        for ci in 0..layer.group_channels {
                            let channel = if layer.depthwise {
                                g
                            } else {
                                g * layer.group_channels + ci
                            };
                            sum += layer.weight(&weights, oc, ky, kx, ci)
                                * (x[pixel + channel] - INPUT_ZERO_POINT);
                        }
                    }
                }
                let word = (g * tiles + t) * m + oy * out_w + ox;
                assert_eq!(image[word][j], sum, "channel {oc} pixel ({oy}, {ox})");
            }
        }
    }
}

#[test]
fn depthwise_multiplier_two_images() {
    let layer = GroupedLayer {
        depthwise: true,
        cout: 8,
        group_channels: 1,
    };
    check_grouped(&layer, "depthwise_multiplier_two_images");
}

#[test]
fn grouped_conv_images() {
    let layer = GroupedLayer {
        depthwise: false,
        cout: 8,
        group_channels: 2,
    };
    check_grouped(&layer, "grouped_conv_images");
}
