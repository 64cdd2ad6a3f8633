//! Malformed inputs through the `fxsim` binary: every command that reads
//! the input exits with status 2, names the file and what is wrong in its
//! message, prints nothing on standard output and leaves no output
//! directory (`run --dump`, `export --out`) behind.
//!
//! Models are built with `support/tflite_builder.rs` from one valid
//! CONV_2D model (input int8 [1, 8, 8, 2]), broken one field at a time.

#[path = "support/tflite_builder.rs"]
mod tflite_builder;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tflite_builder::{build, conv_model, ModelSpec};

/// A hardware description with every default, which fits the valid model.
const DEFAULT_HW: &str = "[array]\nrows = 16\ncols = 16\n";

/// Creates an empty scratch directory for one case.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("malformed_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory can be created");
    dir
}

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("fxsim starts")
}

/// Writes an int8 `.npy` of `shape`, all zeros.
fn write_int8_npy(path: &Path, shape: &[usize]) {
    let count: usize = shape.iter().product();
    let value = fxsim::exec::TensorValue {
        shape: shape.to_vec(),
        data: fxsim::exec::TensorData::I8(vec![0; count]),
    };
    let file = std::fs::File::create(path).expect("input file can be created");
    fxsim::io::write_npy(file, &value).expect("input file can be written");
}

/// The files of one case: a model, a hardware description and an input.
struct Case {
    dir: PathBuf,
    model: PathBuf,
    hw: PathBuf,
    input: PathBuf,
}

impl Case {
    /// Writes `model_bytes`, `hw_text` and a valid input for the conv model.
    fn new(name: &str, model_bytes: &[u8], hw_text: &str) -> Case {
        let dir = scratch(name);
        let case = Case {
            model: dir.join("model.tflite"),
            hw: dir.join("hw.toml"),
            input: dir.join("input.npy"),
            dir,
        };
        std::fs::write(&case.model, model_bytes).expect("model can be written");
        std::fs::write(&case.hw, hw_text).expect("hw can be written");
        write_int8_npy(&case.input, &[1, 8, 8, 2]);
        case
    }

    fn from_spec(name: &str, spec: &ModelSpec) -> Case {
        Case::new(name, &build(spec), DEFAULT_HW)
    }

    fn dump_dir(&self) -> PathBuf {
        self.dir.join("dump")
    }

    fn text(path: &Path) -> String {
        path.display().to_string()
    }

    /// Runs `inspect`, `run --dump`, `accum`, `estimate` and `export --out`
    /// (those listed in `commands`) and checks each for a clean failure
    /// whose message contains every fragment.
    fn assert_rejected(&self, commands: &[&str], fragments: &[&str]) {
        let model = Case::text(&self.model);
        let hw = Case::text(&self.hw);
        let input = Case::text(&self.input);
        let dump = Case::text(&self.dump_dir());
        for &command in commands {
            let args: Vec<&str> = match command {
                "inspect" => vec!["inspect", &model],
                "run" => vec!["run", &model, "--input", &input, "--dump", &dump],
                "run-hw" => vec![
                    "run", &model, "--input", &input, "--dump", &dump, "--hw", &hw,
                ],
                "accum" => vec!["accum", &model, "--hw", &hw, "--inputs", &input],
                "estimate" => vec!["estimate", &model, "--hw", &hw],
                "export" => vec![
                    "export", &model, "--hw", &hw, "--input", &input, "--out", &dump,
                ],
                other => panic!("unknown command {other}"),
            };
            let output = fxsim(&args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command}: exit status; stderr: {stderr}"
            );
            assert!(stderr.starts_with("error: "), "{command}: stderr: {stderr}");
            assert!(!stderr.contains("panicked"), "{command}: {stderr}");
            for fragment in fragments {
                assert!(
                    stderr.contains(fragment),
                    "{command}: message lacks {fragment:?}: {stderr}"
                );
            }
            assert!(stdout.is_empty(), "{command}: printed {stdout}");
            assert!(
                !self.dump_dir().exists(),
                "{command}: left a dump directory"
            );
            let leftovers = std::fs::read_dir(&self.dir)
                .expect("scratch directory lists")
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| {
                    !["model.tflite", "hw.toml", "input.npy", "other.npy"].contains(&name.as_str())
                })
                .collect::<Vec<_>>();
            assert!(leftovers.is_empty(), "{command}: left {leftovers:?}");
        }
    }
}

const EVERY_COMMAND: &[&str] = &["inspect", "run", "accum", "estimate", "export"];
/// Commands that read the input as well as the model.
const INPUT_COMMANDS: &[&str] = &["run", "accum", "export"];
/// Commands that read the hardware description.
const HW_COMMANDS: &[&str] = &["run-hw", "accum", "estimate", "export"];

#[test]
fn valid_case_succeeds() {
    let case = Case::from_spec("valid", &conv_model());
    let model = Case::text(&case.model);
    let hw = Case::text(&case.hw);
    let input = Case::text(&case.input);
    let out = Case::text(&case.dump_dir());
    for args in [
        vec!["inspect", model.as_str()],
        vec!["run", &model, "--input", &input],
        vec!["accum", &model, "--hw", &hw, "--inputs", &input],
        vec!["estimate", &model, "--hw", &hw],
        vec![
            "export", &model, "--hw", &hw, "--input", &input, "--out", &out,
        ],
    ] {
        let output = fxsim(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn truncated_model() {
    let bytes = build(&conv_model());
    let case = Case::new("truncated", &bytes[..bytes.len() / 2], DEFAULT_HW);
    case.assert_rejected(
        EVERY_COMMAND,
        &["model.tflite", "damaged or truncated TFLite model"],
    );
}

#[test]
fn model_with_flipped_identifier() {
    let mut bytes = build(&conv_model());
    bytes[5] ^= 0x01;
    let case = Case::new("flipped_identifier", &bytes, DEFAULT_HW);
    case.assert_rejected(EVERY_COMMAND, &["model.tflite", "no TFL3 file identifier"]);
}

#[test]
fn model_with_flipped_root_offset() {
    let mut bytes = build(&conv_model());
    bytes[2] ^= 0x40;
    let case = Case::new("flipped_root", &bytes, DEFAULT_HW);
    case.assert_rejected(EVERY_COMMAND, &["model.tflite", "damaged or truncated"]);
}

#[test]
fn nan_infinite_and_negative_scales() {
    for (name, scale, shown) in [
        ("nan_scale", f32::NAN, "scale NaN"),
        ("infinite_scale", f32::INFINITY, "scale inf"),
        ("negative_scale", -0.5, "scale -0.5"),
    ] {
        let mut spec = conv_model();
        spec.tensors[0].scales = vec![scale];
        let case = Case::from_spec(name, &spec);
        case.assert_rejected(EVERY_COMMAND, &["model.tflite", "tensor 0 (input)", shown]);
    }
}

#[test]
fn zero_output_scale() {
    let mut spec = conv_model();
    spec.tensors[3].scales = vec![0.0];
    let case = Case::from_spec("zero_scale", &spec);
    case.assert_rejected(
        EVERY_COMMAND,
        &[
            "model.tflite",
            "tensor 3 (output)",
            "scale 0 on a tensor without constant data",
        ],
    );
}

#[test]
fn zero_point_outside_int8() {
    let mut spec = conv_model();
    spec.tensors[3].zero_points = vec![-129];
    let case = Case::from_spec("zero_point", &spec);
    case.assert_rejected(
        EVERY_COMMAND,
        &[
            "model.tflite",
            "tensor 3 (output)",
            "zero point -129",
            "[-128, 127]",
        ],
    );
}

#[test]
fn element_count_overflow() {
    let mut spec = conv_model();
    spec.tensors[3].shape = vec![i32::MAX, i32::MAX, i32::MAX, 4];
    let case = Case::from_spec("count_overflow", &spec);
    case.assert_rejected(
        EVERY_COMMAND,
        &["model.tflite", "tensor 3 (output)", "more elements"],
    );
}

#[test]
fn tensor_of_many_gigabytes() {
    // 1 x 65536 x 65536 x 4 int8 is 16 GiB, declared by an activation
    // tensor with no data in the file.
    let mut spec = conv_model();
    spec.tensors[3].shape = vec![1, 65536, 65536, 4];
    let case = Case::from_spec("huge_tensor", &spec);
    case.assert_rejected(
        EVERY_COMMAND,
        &[
            "model.tflite",
            "tensor 3 (output)",
            "17179869184 bytes",
            "268435456-byte limit",
            "--max-tensor-bytes",
        ],
    );
}

#[test]
fn tensor_over_a_lowered_limit() {
    let case = Case::from_spec("lowered_limit", &conv_model());
    let output = fxsim(&[
        "inspect",
        &Case::text(&case.model),
        "--max-tensor-bytes",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    // The input [1, 8, 8, 2] is 128 bytes of int8.
    assert!(stderr.contains("tensor 0 (input)"), "{stderr}");
    assert!(
        stderr.contains("128 bytes, more than the 100-byte limit"),
        "{stderr}"
    );
}

#[test]
fn model_over_total_limit() {
    let case = Case::from_spec("total_limit", &conv_model());
    // Input 128, filter 72 and bias 16 bytes: the bias passes 200.
    let output = fxsim(&[
        "inspect",
        &Case::text(&case.model),
        "--max-total-bytes",
        "200",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tensor 2 (bias)"), "{stderr}");
    assert!(stderr.contains("216 bytes in all"), "{stderr}");
    assert!(stderr.contains("--max-total-bytes"), "{stderr}");
}

#[test]
fn input_of_wrong_shape() {
    let case = Case::from_spec("wrong_shape", &conv_model());
    write_int8_npy(&case.input, &[1, 8, 8, 3]);
    case.assert_rejected(
        INPUT_COMMANDS,
        &["input.npy", "[1, 8, 8, 3]", "[1, 8, 8, 2]"],
    );
}

#[test]
fn input_of_wrong_type() {
    let case = Case::from_spec("wrong_type", &conv_model());
    let value = fxsim::exec::TensorValue {
        shape: vec![1, 8, 8, 2],
        data: fxsim::exec::TensorData::F32(vec![0.0; 128]),
    };
    let file = std::fs::File::create(&case.input).expect("input can be created");
    fxsim::io::write_npy(file, &value).expect("input can be written");
    case.assert_rejected(INPUT_COMMANDS, &["input.npy", "float32", "int8"]);
}

#[test]
fn input_that_is_not_npy() {
    let case = Case::from_spec("not_npy", &conv_model());
    std::fs::write(&case.input, b"x,y\n1,2\n").expect("input can be written");
    case.assert_rejected(INPUT_COMMANDS, &["input.npy", "not a .npy file"]);
}

#[test]
fn truncated_npy_input() {
    let case = Case::from_spec("truncated_npy", &conv_model());
    let bytes = std::fs::read(&case.input).expect("input reads");
    std::fs::write(&case.input, &bytes[..bytes.len() - 10]).expect("input can be written");
    case.assert_rejected(
        INPUT_COMMANDS,
        &["input.npy", "118 bytes of data", "needs 128"],
    );
}

/// Hardware descriptions that contradict themselves or the model.
#[test]
fn contradictory_hardware_descriptions() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "rounding_with_tflite",
            "[datapath]\nrequant = { mode = \"tflite\", rounding = \"half-even\" }\n",
            &["datapath.requant.rounding", "tflite"],
        ),
        (
            "multiplier_bits_with_single",
            "[datapath]\nrequant = { mode = \"single\", multiplier_bits = 12 }\n",
            &["datapath.requant.multiplier_bits", "fixed"],
        ),
        (
            "override_of_missing_layer",
            "[[layer]]\nmatch = \"7\"\naccumulator = { bits = 20 }\n",
            &["layer[0].match = \"7\"", "matches no layer", "0..=0"],
        ),
        (
            "override_of_missing_name",
            "[[layer]]\nmatch = \"conv_9\"\naccumulator = { bits = 20 }\n",
            &[
                "layer[0].match = \"conv_9\"",
                "matches no layer",
                "\"output\"",
            ],
        ),
        (
            "rows_over_maximum",
            "[array]\nrows = 100000\n",
            &["array.rows = 100000", "1..=256"],
        ),
        (
            "zero_columns",
            "[array]\ncols = 0\n",
            &["array.cols = 0", "1..=256"],
        ),
        (
            "weight_buffer_too_small",
            "[array]\nrows = 256\ncols = 256\n[buffers]\nweight_kib = 1\n",
            &["buffers.weight_kib = 1", "too small for one tile"],
        ),
        (
            "accumulator_too_narrow",
            "[datapath]\naccumulator = { bits = 4 }\n",
            &["datapath.accumulator.bits = 4", "8..=64"],
        ),
        (
            "operand_too_wide",
            "[datapath]\nactivation = \"int65\"\n",
            &["datapath.activation", "int65"],
        ),
        (
            "zero_seed",
            "[datapath]\nrequant = { mode = \"single\", rounding = \"stochastic\" }\nseed = 0\n",
            &["datapath.seed = 0", "1..=4294967295"],
        ),
        (
            "clock_in_hertz",
            "[device]\nclock_mhz = 200000000\n",
            &["device.clock_mhz", "1 to 1000"],
        ),
        ("unknown_key", "[array]\nrowz = 4\n", &["array", "rowz"]),
        (
            "not_toml",
            "[array\nrows = 4\n",
            &["invalid TOML", "line 1"],
        ),
    ];
    for (name, hw, fragments) in cases {
        let case = Case::new(name, &build(&conv_model()), hw);
        let mut expected = vec!["hw.toml"];
        expected.extend_from_slice(fragments);
        case.assert_rejected(HW_COMMANDS, &expected);
    }
}

/// Files past a size limit are rejected from their length, before they are
/// read. The files are sparse, so they take no disk space.
#[test]
fn oversized_files() {
    let sparse = |path: &Path, bytes: u64| {
        let file = std::fs::File::create(path).expect("file can be created");
        file.set_len(bytes).expect("file can be extended");
    };

    let case = Case::from_spec("oversized_model", &conv_model());
    sparse(&case.model, 5 << 30);
    case.assert_rejected(
        EVERY_COMMAND,
        &["model.tflite", "larger than the 4294967296-byte limit"],
    );

    let case = Case::from_spec("oversized_input", &conv_model());
    sparse(&case.input, 5 << 30);
    case.assert_rejected(
        INPUT_COMMANDS,
        &["input.npy", "larger than the 4294967296-byte limit"],
    );

    let case = Case::from_spec("oversized_hw", &conv_model());
    sparse(&case.hw, 2 << 20);
    case.assert_rejected(
        HW_COMMANDS,
        &["hw.toml", "larger than the 1048576-byte limit"],
    );
}

/// A device that never ends is read only up to the limit.
#[test]
fn endless_hw_description() {
    let case = Case::from_spec("endless_hw", &conv_model());
    let output = fxsim(&["estimate", &Case::text(&case.model), "--hw", "/dev/zero"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/dev/zero"), "{stderr}");
    assert!(stderr.contains("1048576-byte limit"), "{stderr}");
}

/// `run`, `accum` and `export` reject a model whose multiply-accumulates per input
/// pass `--max-macs`; the conv model takes 16 pixels x 4 channels x 18
/// taps = 1152.
#[test]
fn model_over_mac_limit() {
    let case = Case::from_spec("mac_limit", &conv_model());
    let (model, hw, input) = (
        Case::text(&case.model),
        Case::text(&case.hw),
        Case::text(&case.input),
    );
    let out = Case::text(&case.dump_dir());
    for args in [
        vec!["run", &model, "--input", &input, "--max-macs", "1151"],
        vec![
            "accum",
            &model,
            "--hw",
            &hw,
            "--inputs",
            &input,
            "--max-macs",
            "1151",
        ],
        vec![
            "export",
            &model,
            "--hw",
            &hw,
            "--input",
            &input,
            "--out",
            &out,
            "--max-macs",
            "1151",
        ],
    ] {
        let output = fxsim(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("model.tflite"), "{stderr}");
        assert!(
            stderr.contains("takes 1152 multiply-accumulates per input"),
            "{stderr}"
        );
        assert!(stderr.contains("--max-macs"), "{stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed output");
        assert!(
            !case.dump_dir().exists(),
            "{args:?} left an output directory"
        );
    }
    let at_limit = fxsim(&["run", &model, "--input", &input, "--max-macs", "1152"]);
    assert_eq!(at_limit.status.code(), Some(0));
}

/// An unsigned weight format cannot hold a model's negative symmetric
/// weights; the commands that execute the model say so.
#[test]
fn unsigned_weight_format_for_signed_weights() {
    let mut spec = conv_model();
    spec.buffers[1] = vec![0xff; 72];
    let case = Case::new(
        "unsigned_weights",
        &build(&spec),
        "[datapath]\nweight = \"uint8\"\n",
    );
    case.assert_rejected(
        &["run-hw", "accum", "export"],
        &["op 0 (CONV_2D)", "filter", "hold -1", "uint8 is unsigned"],
    );
}
