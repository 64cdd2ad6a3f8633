//! The verification loop on real models: `fxsim export --rtl`, the
//! exported reference RTL under Verilator for every covered layer,
//! `fxsim verify` on its dumps and the cycle counts against the timing
//! model.
//!
//! Models: person_detect, the digits example and examples/tiny, on the base int8 datapath and
//! on datapath variants given as hardware descriptions. Every MAC layer
//! runs, a depthwise layer as its channel groups one after another. The
//! expected cycles are the groups times `timing::gemm_compute_cycles`, and
//! for CONV_2D and FULLY_CONNECTED layers up to 100,000 cycles also the
//! cycle-stepped model. Skips when `verilator` is missing unless
//! `FXSIM_NO_SKIP=1`.

mod common;
mod rtl;

use fxsim::exec::TensorValue;
use fxsim::export::{export, ExportOptions, ExportSources};
use fxsim::hw::HwConfig;
use fxsim::model::Graph;
use fxsim::timing::stepped::{lower_layer, run_gemm};
use fxsim::timing::{depthwise_vector_cycles, gemm_compute_cycles, Gemm};
use fxsim::verify::{verify, VerifyRequest};
use rtl::{run_plusargs, RtlBuilds};
use std::path::Path;
use std::sync::OnceLock;

/// A layer's testbench files, read back from the export.
struct ExportedLayer {
    index: usize,
    overrides: Vec<String>,
    plusargs: Vec<String>,
}

impl ExportedLayer {
    /// Returns the numeric plusarg `name`, or `default` when absent.
    fn plusarg_or(&self, name: &str, default: u64) -> u64 {
        let prefix = format!("+{name}=");
        match self
            .plusargs
            .iter()
            .find_map(|arg| arg.strip_prefix(&prefix))
        {
            Some(value) => value.parse().unwrap_or_else(|_| {
                panic!("layer {}: +{name}={value} is not a number", self.index)
            }),
            None => default,
        }
    }

    fn plusarg(&self, name: &str) -> u64 {
        let prefix = format!("+{name}=");
        self.plusargs
            .iter()
            .find_map(|arg| arg.strip_prefix(&prefix))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("layer {}: no numeric +{name}=", self.index))
    }
}

impl ExportedLayer {
    /// True when the layer runs on the depthwise vector unit.
    fn on_vector_unit(&self) -> bool {
        self.overrides.iter().any(|flag| flag == "-GVECTOR_UNIT=1")
    }

    /// Returns the compute cycles of the timing model for this layer: the
    /// vector unit's, or the groups' GEMMs on the array one after another.
    fn expected_cycles(&self, hw: &HwConfig) -> u64 {
        let gemm = Gemm {
            m: self.plusarg("m"),
            k: self.plusarg("k"),
            n: self.plusarg("n"),
        };
        if self.on_vector_unit() {
            return depthwise_vector_cycles(gemm.m, gemm.n, gemm.k, &hw.array)
                .expect("no overflow");
        }
        let groups = self.plusarg_or("groups", 1);
        gemm_compute_cycles(gemm, &hw.array).expect("no overflow") * groups
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Reads `rtl/layerNNN.params` and `.plusargs` of every covered layer.
fn exported_layers(dir: &Path) -> Vec<ExportedLayer> {
    let mut layers = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir.join("rtl"))
        .expect("the export has rtl/")
        .map(|entry| entry.expect("a directory entry").file_name())
        .collect();
    names.sort();
    for name in names {
        let name = name.to_string_lossy();
        let Some(stem) = name.strip_suffix(".params") else {
            continue;
        };
        let index = stem
            .strip_prefix("layer")
            .and_then(|digits| digits.parse().ok())
            .expect("layerNNN.params");
        layers.push(ExportedLayer {
            index,
            overrides: read_lines(&dir.join("rtl").join(&*name)),
            plusargs: read_lines(&dir.join("rtl").join(format!("{stem}.plusargs"))),
        });
    }
    layers
}

/// Exports `graph` on `hw` with the RTL, runs every covered layer under
/// Verilator, verifies the dumps and checks the cycle counts. Returns the
/// indices of the layers run.
fn check_model(
    builds: &RtlBuilds,
    name: &str,
    graph: &Graph,
    hw: &HwConfig,
    input: &TensorValue,
    dir: &Path,
) -> Vec<usize> {
    let options = ExportOptions {
        accumulators: true,
        rtl: true,
    };
    let sources = ExportSources {
        model: name.to_string(),
        hw: hw.origin.clone(),
        input: "input".to_string(),
    };
    let progress = fxsim::analysis::accum::NoProgress;
    export(dir, graph, hw, input.clone(), sources, options, &progress)
        .unwrap_or_else(|error| panic!("{name}: export failed: {error}"));
    std::fs::create_dir_all(dir.join("rtl_out")).unwrap();

    let layers = exported_layers(dir);
    assert!(!layers.is_empty(), "{name}: no layer is covered by the RTL");
    let execution = fxsim::exec::Executor::with_datapaths(graph, {
        let datapaths = hw.datapaths(graph);
        move |index| datapaths[index].clone()
    })
    .expect("the graph prepares")
    .run(std::slice::from_ref(input))
    .expect("the graph runs");
    let mut stepped_checks = 0;
    for layer in &layers {
        let binary = builds.binary(&layer.overrides);
        let started = std::time::Instant::now();
        let cycles = run_plusargs(&binary, dir, &layer.plusargs);
        let gemm = Gemm {
            m: layer.plusarg("m"),
            k: layer.plusarg("k"),
            n: layer.plusarg("n"),
        };
        let groups = layer.plusarg_or("groups", 1);
        let expected = layer.expected_cycles(hw);
        eprintln!(
            "{name}: layer {} ({} x {} x {}): {} cycles, run in {:.2} s",
            layer.index,
            gemm.m,
            gemm.k,
            gemm.n,
            cycles.compute,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(
            cycles.compute, expected,
            "{name}: layer {}: rtl compute cycles against the timing model",
            layer.index
        );
        assert_eq!(
            cycles.ppu,
            2 * groups,
            "{name}: layer {}: ppu cycles",
            layer.index
        );
        // lower_layer takes CONV_2D and FULLY_CONNECTED only, so depthwise
        // layers are checked against the fast model alone.
        let input_id = graph.ops[layer.index]
            .input(0)
            .expect("the layer has an input");
        let input_value = execution.values[input_id]
            .as_ref()
            .expect("the layer input has a value");
        let lowered = lower_layer(graph, layer.index, input_value);
        if let (true, Ok(lowered)) = (expected <= 100_000, lowered) {
            let stepped = run_gemm(lowered.operands(), &hw.array).expect("the stepped model runs");
            assert_eq!(
                cycles.compute, stepped.cycles,
                "{name}: layer {}: rtl compute cycles against the stepped model",
                layer.index
            );
            stepped_checks += 1;
        }
    }
    assert!(
        stepped_checks > 0,
        "{name}: no layer was checked against the stepped model"
    );

    let request = VerifyRequest {
        max: 5,
        ..VerifyRequest::default()
    };
    let report = verify(dir, &dir.join("rtl_out"), &request).expect("verify runs");
    assert_eq!(
        report.files.len(),
        2 * layers.len(),
        "{name}: verify compared {} files, expected output and acc of {} layers",
        report.files.len(),
        layers.len()
    );
    assert!(
        report.matches(),
        "{name}: rtl differs:\n{}",
        report.to_text()
    );
    layers.iter().map(|layer| layer.index).collect()
}

/// Runs the covered layers of the export in `dir` under Icarus Verilog,
/// from the same sources, parameters and plusargs, and verifies the dumps.
fn check_with_iverilog(name: &str, hw: &HwConfig, dir: &Path) {
    let out = dir.join("rtl_out_iverilog");
    std::fs::create_dir_all(&out).unwrap();
    let layers = exported_layers(dir);
    for layer in &layers {
        let program = dir.join(format!("layer{:03}.vvp", layer.index));
        rtl::iverilog_compile(&dir.join("rtl"), &layer.overrides, &program);
        let mut args = vec![program.display().to_string()];
        args.extend(
            layer
                .plusargs
                .iter()
                .map(|arg| arg.replace("=rtl_out/", "=rtl_out_iverilog/")),
        );
        let cycles = run_plusargs(Path::new("vvp"), dir, &args);
        assert_eq!(
            cycles.compute,
            layer.expected_cycles(hw),
            "{name}: layer {}: iverilog compute cycles",
            layer.index
        );
    }
    let request = VerifyRequest {
        max: 5,
        ..VerifyRequest::default()
    };
    let report = verify(dir, &out, &request).expect("verify runs");
    assert_eq!(
        report.files.len(),
        2 * layers.len(),
        "{name}: iverilog dumps"
    );
    assert!(
        report.matches(),
        "{name}: iverilog differs:\n{}",
        report.to_text()
    );
}

fn skip_without_verilator() -> bool {
    if rtl::verilator_available() {
        return false;
    }
    common::note_skip("verilator is not installed");
    true
}

/// Returns the Verilator builds shared by the tests of this file.
fn shared_builds() -> &'static RtlBuilds {
    static BUILDS: OnceLock<RtlBuilds> = OnceLock::new();
    BUILDS.get_or_init(|| RtlBuilds::new(&temporary("rtl-builds"), &rtl::rtl_source_dir()))
}

fn temporary(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fxsim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The base datapath of examples/hw/zynq7020.toml on a 4 x 4 array:
/// int8, 32-bit wrapping accumulator, `tflite` requantisation.
const BASE_HW: &str = r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
"#;

#[test]
fn person_detect_layers_match_rtl() {
    if skip_without_verilator() {
        return;
    }
    let models = require_shared_models!();
    let graph = fxsim::import::tflite::read_file(models.join("person_detect.tflite")).unwrap();
    let image = common::bmp_to_int8(&models.join("person.bmp")).unwrap();
    let input = common::convert::to_value(&image);
    let hw = HwConfig::from_toml_str(BASE_HW, "base.toml").unwrap();
    let root = temporary("rtl-person-detect");
    let layers = check_model(
        shared_builds(),
        "person_detect",
        &graph,
        &hw,
        &input,
        &root.join("export"),
    );
    assert!(layers.len() >= 28, "only layers {layers:?} ran");
    std::fs::remove_dir_all(&root).ok();
}

/// The example the README runs: the digits CNN on its first test image, on
/// the Zynq-7020 description of `examples/hw/`.
#[test]
fn digits_example_layers_match_rtl() {
    if skip_without_verilator() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let digits = repo.join("examples").join("digits");
    let graph = fxsim::import::tflite::read_file(digits.join("model.tflite")).unwrap();
    let input = fxsim::io::read_npy(&digits.join("input.npy")).unwrap();
    let hw = HwConfig::load(repo.join("examples").join("hw").join("zynq7020.toml")).unwrap();
    let root = temporary("rtl-digits");
    let layers = check_model(
        shared_builds(),
        "digits",
        &graph,
        &hw,
        &input,
        &root.join("export"),
    );
    // CONV_2D, DEPTHWISE_CONV_2D, CONV_2D and FULLY_CONNECTED.
    assert_eq!(layers, vec![0, 1, 3, 6], "layers that ran");
    std::fs::remove_dir_all(&root).ok();
}

/// Datapath variants of the tiny example, each a hardware description.
const VARIANTS: [(&str, &str); 4] = [
    ("base", ""),
    (
        "16-bit saturate, fixed 16 half-up",
        r#"
[datapath]
accumulator = { bits = 16, overflow = "saturate" }
requant = { mode = "fixed", multiplier_bits = 16, rounding = "half-up" }
"#,
    ),
    (
        "20-bit wrap, post bias, shift half-away",
        r#"
[datapath]
accumulator = { bits = 20, overflow = "wrap" }
bias = "post"
requant = { mode = "shift", rounding = "half-away" }
"#,
    ),
    (
        "32-bit saturate, fold, single stochastic, int4 weights",
        r#"
[datapath]
weight = "int4"
accumulator = { bits = 32, overflow = "saturate" }
zero_point = "fold"
requant = { mode = "single", rounding = "stochastic" }
seed = 12345
"#,
    ),
];

/// Runs every datapath variant of the tiny example on `base` (a hardware
/// description without `[datapath]`), under Verilator and Icarus.
fn check_tiny_variants(base: &str, root_name: &str) {
    let tiny = common::tiny_example_dir();
    let graph = fxsim::import::tflite::read_file(tiny.join("model.tflite")).unwrap();
    let input = fxsim::io::read_npy(&tiny.join("input.npy")).unwrap();
    let root = temporary(root_name);
    for (index, (name, datapath)) in VARIANTS.iter().enumerate() {
        let text = format!("{base}{datapath}");
        let hw = HwConfig::from_toml_str(&text, name).unwrap();
        let dir = root.join(format!("export{index}"));
        let layers = check_model(shared_builds(), name, &graph, &hw, &input, &dir);
        assert!(layers.len() >= 4, "{name}: only layers {layers:?} ran");
        if rtl::iverilog_available() {
            check_with_iverilog(name, &hw, &dir);
        } else {
            common::note_skip("iverilog is not installed");
        }
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn tiny_example_variants_match_rtl() {
    if skip_without_verilator() {
        return;
    }
    check_tiny_variants(BASE_HW, "rtl-tiny");
}

/// [`BASE_HW`] with the output-stationary dataflow.
const OUTPUT_STATIONARY_HW: &str = r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
dataflow = "output-stationary"
"#;

/// The datapath variants under the output-stationary dataflow. The
/// stochastic one checks that the lanes find each element's LFSR word while
/// the drain runs from the last pixel of a row tile to the first. The fold
/// order under saturation is checked by tests/rtl_datapaths.rs, whose cases
/// are built to saturate mid-fold.
#[test]
fn tiny_example_output_stationary_matches_rtl() {
    if skip_without_verilator() {
        return;
    }
    check_tiny_variants(OUTPUT_STATIONARY_HW, "rtl-tiny-os");
}

/// [`BASE_HW`] with depthwise layers on the vector unit.
const VECTOR_UNIT_HW: &str = r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
depthwise = "vector"
"#;

/// The datapath variants with the tiny example's depthwise layer on the
/// vector unit, whose lanes keep the fold order of the array.
#[test]
fn tiny_example_vector_unit_matches_rtl() {
    if skip_without_verilator() {
        return;
    }
    check_tiny_variants(VECTOR_UNIT_HW, "rtl-tiny-vector");
}

/// Runs person_detect (all its MAC layers) and the digits example on `hw`
/// under Verilator; returns the export directory of person_detect.
fn check_person_detect_and_digits(
    models: &Path,
    hw: &HwConfig,
    label: &str,
    root: &Path,
) -> std::path::PathBuf {
    let graph = fxsim::import::tflite::read_file(models.join("person_detect.tflite")).unwrap();
    let image = common::bmp_to_int8(&models.join("person.bmp")).unwrap();
    let input = common::convert::to_value(&image);
    let dir = root.join("person_detect");
    let name = format!("person_detect, {label}");
    let layers = check_model(shared_builds(), &name, &graph, hw, &input, &dir);
    assert!(layers.len() >= 28, "{name}: only layers {layers:?} ran");

    let digits = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("digits");
    let graph = fxsim::import::tflite::read_file(digits.join("model.tflite")).unwrap();
    let input = fxsim::io::read_npy(&digits.join("input.npy")).unwrap();
    let name = format!("digits, {label}");
    let layers = check_model(
        shared_builds(),
        &name,
        &graph,
        hw,
        &input,
        &root.join("digits"),
    );
    assert_eq!(layers, vec![0, 1, 3, 6], "{name}: layers that ran");
    dir
}

/// person_detect and the digits example with their depthwise layers on the
/// vector unit.
#[test]
fn models_vector_unit_match_rtl() {
    if skip_without_verilator() {
        return;
    }
    let models = require_shared_models!();
    let hw = HwConfig::from_toml_str(VECTOR_UNIT_HW, "vector.toml").unwrap();
    let root = temporary("rtl-models-vector");
    let person_detect = check_person_detect_and_digits(&models, &hw, "vector unit", &root);
    let on_vector = exported_layers(&person_detect)
        .iter()
        .filter(|layer| layer.on_vector_unit())
        .count();
    assert_eq!(on_vector, 14, "depthwise layers on the vector unit");
    std::fs::remove_dir_all(&root).ok();
}

/// person_detect and the digits example on the output-stationary array.
#[test]
fn models_output_stationary_match_rtl() {
    if skip_without_verilator() {
        return;
    }
    let models = require_shared_models!();
    let hw = HwConfig::from_toml_str(OUTPUT_STATIONARY_HW, "output-stationary.toml").unwrap();
    let root = temporary("rtl-models-os");
    check_person_detect_and_digits(&models, &hw, "output-stationary", &root);
    std::fs::remove_dir_all(&root).ok();
}

/// Lists the entry names of `dir`, sorted.
fn entry_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// `rtl/run.sh` as a user runs it on the digits example: it writes its
/// dumps and builds to `NAME.rtl_out` beside the export and nothing into
/// the export, so `fxsim verify` passes on the dumps and exporting again
/// succeeds and keeps them.
#[test]
fn run_script_writes_beside_export() {
    if skip_without_verilator() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let digits = repo.join("examples").join("digits");
    let graph = fxsim::import::tflite::read_file(digits.join("model.tflite")).unwrap();
    let input = fxsim::io::read_npy(&digits.join("input.npy")).unwrap();
    let hw = HwConfig::load(repo.join("examples").join("hw").join("zynq7020.toml")).unwrap();
    let root = temporary("rtl-run-script");
    let dir = root.join("vectors");
    let options = ExportOptions {
        accumulators: true,
        rtl: true,
    };
    let progress = fxsim::analysis::accum::NoProgress;
    let export_once = || {
        export(
            &dir,
            &graph,
            &hw,
            input.clone(),
            ExportSources::default(),
            options,
            &progress,
        )
    };
    export_once().expect("the export succeeds");
    let before = entry_names(&dir);

    let output = std::process::Command::new("sh")
        .arg("rtl/run.sh")
        .current_dir(&dir)
        .output()
        .expect("sh runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        printed
            .lines()
            .filter(|line| line.contains("ppu_latency_cycles="))
            .count(),
        4,
        "{printed}"
    );
    assert_eq!(entry_names(&dir), before, "run.sh wrote into the export");

    let dumps = root.join("vectors.rtl_out");
    let report = verify(&dir, &dumps, &VerifyRequest::default()).expect("verify runs");
    assert_eq!(report.files.len(), 8, "{}", report.to_text());
    assert!(report.matches(), "{}", report.to_text());
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);

    export_once().expect("exporting again succeeds");
    assert!(dumps.join("layer006_output.mem").is_file());
    std::fs::remove_dir_all(&root).ok();
}

/// A layer whose testbench stops makes `rtl/run.sh` fail and delete that
/// layer's dumps, so that `fxsim verify` cannot pass on the dumps of an
/// earlier run. Started outside the export directory, it stops at once.
#[test]
fn run_script_fails_when_a_layer_fails() {
    if skip_without_verilator() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let digits = repo.join("examples").join("digits");
    let graph = fxsim::import::tflite::read_file(digits.join("model.tflite")).unwrap();
    let input = fxsim::io::read_npy(&digits.join("input.npy")).unwrap();
    let hw = HwConfig::load(repo.join("examples").join("hw").join("zynq7020.toml")).unwrap();
    let root = temporary("rtl-run-script-fails");
    let dir = root.join("vectors");
    let options = ExportOptions {
        accumulators: true,
        rtl: true,
    };
    let progress = fxsim::analysis::accum::NoProgress;
    export(
        &dir,
        &graph,
        &hw,
        input,
        ExportSources::default(),
        options,
        &progress,
    )
    .expect("the export succeeds");
    let run_script = |cwd: &Path| {
        std::process::Command::new("sh")
            .arg(dir.join("rtl").join("run.sh"))
            .current_dir(cwd)
            .output()
            .expect("sh runs")
    };
    let first = run_script(&dir);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let dumps = root.join("vectors.rtl_out");
    assert!(dumps.join("layer003_output.mem").is_file());

    // Without +k= the testbench stops with $fatal.
    let plusargs = dir.join("rtl").join("layer003.plusargs");
    let without_k: String = read_lines(&plusargs)
        .into_iter()
        .filter(|line| !line.starts_with("+k="))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&plusargs, without_k).unwrap();
    let second = run_script(&dir);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing plusarg +k="), "{stderr}");
    assert!(stderr.contains("layer 3: the testbench failed"), "{stderr}");
    assert!(!dumps.join("layer003_output.mem").exists());
    assert!(!dumps.join("layer003_acc.mem").exists());

    let outside = run_script(&root);
    assert_eq!(outside.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&outside.stderr).contains("run it from the export directory"));
    std::fs::remove_dir_all(&root).ok();
}
