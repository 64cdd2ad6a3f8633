//! `fxsim export --rtl` of `tflite` layers on accumulators wider than 32
//! bits, run under Verilator and checked by `fxsim verify`. The layers are
//! a 16x8 fully connected layer on 64- and 48-bit registers, whose int64
//! biases put its accumulators beyond 32 bits (TFLite's int64 overload,
//! `REQUANT_MODE` 4), and examples/tiny (int8) on a 40-bit register (the
//! int32 overload). Each export must cover every layer and write the mode that
//! the executor applies.
//!
//! Skips when `verilator` is missing unless `FXSIM_NO_SKIP=1`.
//! Limitation: one small layer per 16x8 datapath; tests/rtl_datapaths.rs
//! covers the requantiser's arithmetic on random GEMMs.

mod rtl;

use fxsim::exec::{TensorData, TensorValue};
use fxsim::export::{export, ExportOptions, ExportSources};
use fxsim::hw::HwConfig;
use fxsim::model::{
    Activation, DataType, FullyConnectedAttrs, Graph, Op, OpKind, Quantization, Tensor,
};
use fxsim::verify::{verify, VerifyRequest};
use rtl::{run_plusargs, RtlBuilds};
use std::path::{Path, PathBuf};

/// Builds a 16x8 FULLY_CONNECTED layer: int16 activations with zero point
/// 0, int8 per-channel weights and int64 biases of up to about 2^40, so
/// that the accumulators leave the i32 range.
fn sixteen_by_eight_graph() -> (Graph, TensorValue) {
    let (depth, units) = (45, 6);
    let activation = |name: &str, dims: Vec<usize>, scale: f32| Tensor {
        name: name.into(),
        shape: dims,
        dtype: DataType::Int16,
        quantization: Some(Quantization::per_tensor(scale, 0)),
        data: None,
        is_variable: false,
    };
    let biases: Vec<i64> = (0..units as i64)
        .map(|unit| (unit - 3) * (5 << 37) + unit * 70_001)
        .collect();
    let weight_scales: Vec<f32> = (0..units)
        .map(|unit| 0.002 + 0.0007 * unit as f32)
        .collect();
    let graph = Graph {
        name: String::new(),
        description: "16x8 layer with int64 biases".into(),
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
            activation("output", vec![1, units], 0.05),
            Tensor {
                name: "bias".into(),
                shape: vec![units],
                dtype: DataType::Int64,
                quantization: Some(Quantization {
                    scales: weight_scales.iter().map(|w| w * 0.0004).collect(),
                    zero_points: vec![0; units],
                    axis: Some(0),
                }),
                data: Some(biases.iter().flat_map(|b| b.to_le_bytes()).collect()),
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

fn hw(datapath: &str) -> HwConfig {
    let toml = format!(
        "[device]\npart = \"xc7z020\"\n[array]\nrows = 4\ncols = 4\n[datapath]\n{datapath}\n"
    );
    HwConfig::from_toml_str(&toml, "test").expect("a valid hardware description")
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Exports `graph` with the RTL into `dir`, checks that every MAC layer is
/// covered with `requant_mode` and `acc_bits`, runs each under Verilator
/// and checks the dumps with `verify`. Returns how many accumulators of
/// the export's golden files lie beyond 32 bits.
fn check_export(
    builds: &RtlBuilds,
    name: &str,
    graph: &Graph,
    hw: &HwConfig,
    input: &TensorValue,
    dir: &Path,
    (requant_mode, acc_bits): (u32, u32),
) -> usize {
    let sources = ExportSources {
        model: name.to_string(),
        hw: hw.origin.clone(),
        input: "input".to_string(),
    };
    let options = ExportOptions {
        accumulators: true,
        rtl: true,
    };
    let progress = fxsim::analysis::accum::NoProgress;
    export(dir, graph, hw, input.clone(), sources, options, &progress)
        .unwrap_or_else(|error| panic!("{name}: export failed: {error}"));

    let uncovered = std::fs::read_to_string(dir.join("rtl/uncovered.txt")).expect("uncovered.txt");
    assert_eq!(uncovered, "", "{name}: layers left uncovered");
    let mut params: Vec<PathBuf> = std::fs::read_dir(dir.join("rtl"))
        .expect("the export has rtl/")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "params")
        })
        .collect();
    params.sort();
    let mac_layers = std::fs::read_dir(dir)
        .expect("the export directory")
        .filter(|entry| {
            let name = entry.as_ref().expect("a directory entry").file_name();
            name.to_string_lossy().ends_with("_weights.mem")
        })
        .count();
    assert_eq!(params.len(), mac_layers, "{name}: layers with a run");

    std::fs::create_dir_all(dir.join("rtl_out")).expect("rtl_out");
    for path in &params {
        let overrides = read_lines(path);
        for (parameter, value) in [("REQUANT_MODE", requant_mode), ("ACC_BITS", acc_bits)] {
            let expected = format!("-G{parameter}={value}");
            assert!(
                overrides.contains(&expected),
                "{name}: {} lacks {expected}: {overrides:?}",
                path.display()
            );
        }
        let plusargs = read_lines(&path.with_extension("plusargs"));
        run_plusargs(&builds.binary(&overrides), dir, &plusargs);
    }

    let report = verify(dir, &dir.join("rtl_out"), &VerifyRequest::default()).expect("verify runs");
    assert_eq!(
        report.files.len(),
        2 * params.len(),
        "{name}: verify compared {} files",
        report.files.len()
    );
    assert!(
        report.matches(),
        "{name}: rtl differs:\n{}",
        report.to_text()
    );
    beyond_32_bits(dir, acc_bits)
}

/// Counts the accumulators in the export's `layerNNN_acc.mem` files that
/// do not fit i32.
fn beyond_32_bits(dir: &Path, acc_bits: u32) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("the export directory") {
        let path = entry.expect("a directory entry").path();
        let is_acc = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with("_acc.mem"));
        if !is_acc {
            continue;
        }
        for word in rtl::read_dump(&path, 4, acc_bits) {
            count += word
                .iter()
                .filter(|&&value| i32::try_from(value).is_err())
                .count();
        }
    }
    count
}

#[test]
fn wide_tflite_layers_export_and_match_rtl() {
    if !rtl::verilator_available() {
        assert!(
            std::env::var_os("FXSIM_NO_SKIP").is_none(),
            "verilator is not installed and FXSIM_NO_SKIP is set"
        );
        eprintln!("skipping: verilator is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("fxsim-rtl-wide-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("a temporary directory");
    let builds = RtlBuilds::new(&root.join("build"), &rtl::rtl_source_dir());

    let (graph, input) = sixteen_by_eight_graph();
    let sixteen_by_eight = [
        (
            "16x8, 64-bit wrap",
            "activation = \"int16\"\naccumulator = { bits = 64, overflow = \"wrap\" }",
            64,
        ),
        (
            "16x8, 48-bit saturate",
            "activation = \"int16\"\naccumulator = { bits = 48, overflow = \"saturate\" }",
            48,
        ),
    ];
    for (index, (name, datapath, acc_bits)) in sixteen_by_eight.into_iter().enumerate() {
        let dir = root.join(format!("sixteen{index}"));
        let beyond = check_export(
            &builds,
            name,
            &graph,
            &hw(datapath),
            &input,
            &dir,
            (4, acc_bits),
        );
        eprintln!("rtl: {name}: {beyond} accumulators beyond 32 bits");
        assert!(beyond >= 4, "{name}: {beyond} accumulators beyond 32 bits");
    }

    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny");
    let graph = fxsim::import::tflite::read_file(tiny.join("model.tflite")).expect("the model");
    let input = fxsim::io::read_npy(&tiny.join("input.npy")).expect("the input");
    let datapath = "accumulator = { bits = 40, overflow = \"saturate\" }";
    check_export(
        &builds,
        "tiny, 40-bit saturate",
        &graph,
        &hw(datapath),
        &input,
        &root.join("tiny"),
        (0, 40),
    );
    std::fs::remove_dir_all(&root).ok();
}
