//! Yosys `synth_xilinx` of the reference MAC units and of their buffers,
//! against `fxsim estimate`'s DSP, block RAM, LUT and flip-flop counts.
//!
//! For each configuration the test synthesizes one unit with the
//! datapath's operand and accumulator widths: the weight-stationary array
//! (`fx_array`), the output-stationary array (`fx_os_array`), or one
//! `fx_vector_lane` per array column (the vector unit's lanes), each with
//! all its ports. Beside it go one `fx_buffer` per buffer bank with the word
//! width and depth the estimate assumes. It prints the table of
//! docs/resources.md ("Check against synthesis"). It asserts that the
//! unit's DSPs and the buffers' block RAMs agree exactly. The buffer banks
//! synthesize to block RAM alone, so the LUTs and flip-flops are the
//! unit's, and they must be within [`LOGIC_TOLERANCE`] of its estimate. Skips when `yosys` is
//! missing unless `FXSIM_NO_SKIP=1`. Limitation: the PPU, the controllers,
//! the zero-point subtractors and Vivado are not checked.

use fxsim::hw::{Dataflow, HwConfig};
use fxsim::resources::logic::{self, DspInference, Logic, MacShape};
use fxsim::resources::{estimate, ResourceReport, UnitEstimate};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The reference RTL a configuration synthesizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// `fx_array`: the weight-stationary array.
    WeightStationary,
    /// `fx_os_array`: the output-stationary array.
    OutputStationary,
    /// `cols` instances of `fx_vector_lane`: the depthwise vector unit's
    /// multiply-accumulate lanes.
    VectorLanes,
}

/// One configuration: a hardware description, the unit it synthesizes and
/// the unit's Verilog parameters that follow from its datapath.
struct Config {
    name: &'static str,
    unit: Unit,
    family: &'static str,
    toml: &'static str,
    act_bits: u32,
    act_signed: bool,
    weight_bits: u32,
    acc_bits: u32,
    acc_saturate: bool,
}

/// Largest relative difference allowed between the estimated and the
/// synthesized LUTs, and flip-flops, of each configuration. The model
/// counts register, adder, clamp and shift-register bits. What it leaves to
/// synthesis made up to 21 % in the configurations below. It leaves out
/// partial sums trimmed to the bits they can reach, registers duplicated
/// into DSP input stages, registers with equal contents merged, and
/// Yosys's own LUT mapping of adders, multiplexers and clamps.
const LOGIC_TOLERANCE: f64 = 0.25;

const CONFIGS: [Config; 10] = [
    Config {
        name: "xc7z020, 4x4, int8, 32-bit wrap",
        unit: Unit::WeightStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 32, overflow = "wrap" }
[buffers]
input_kib = 4
weight_kib = 4
accumulator_kib = 4
output_kib = 2
double_buffered = false
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 32,
        acc_saturate: false,
    },
    Config {
        name: "xc7z020, 8x8, int8, 20-bit saturate",
        unit: Unit::WeightStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 8
cols = 8
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 20, overflow = "saturate" }
[buffers]
input_kib = 8
weight_kib = 8
accumulator_kib = 8
output_kib = 4
double_buffered = true
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 20,
        acc_saturate: true,
    },
    Config {
        name: "xczu9eg, 4x4, int16 x int8, 32-bit wrap",
        unit: Unit::WeightStationary,
        family: "xcup",
        toml: r#"
[device]
part = "xczu9eg"
[array]
rows = 4
cols = 4
[datapath]
activation = "int16"
weight = "int8"
accumulator = { bits = 32, overflow = "wrap" }
[buffers]
input_kib = 8
weight_kib = 4
accumulator_kib = 8
output_kib = 4
double_buffered = false
"#,
        act_bits: 17,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 32,
        acc_saturate: false,
    },
    Config {
        name: "xczu9eg, 8x4, uint8 fold, 24-bit wrap",
        unit: Unit::WeightStationary,
        family: "xcup",
        toml: r#"
[device]
part = "xczu9eg"
[array]
rows = 8
cols = 4
[datapath]
activation = "uint8"
weight = "int8"
zero_point = "fold"
accumulator = { bits = 24, overflow = "wrap" }
[buffers]
input_kib = 16
weight_kib = 4
accumulator_kib = 4
output_kib = 4
double_buffered = true
"#,
        act_bits: 8,
        act_signed: false,
        weight_bits: 8,
        acc_bits: 24,
        acc_saturate: false,
    },
    // Yosys builds these 4 x 4-bit products from LUTs; the description
    // says so with lut_multiplier_max_bits (with 0 the estimate counts 16
    // DSPs that synthesis does not use).
    Config {
        name: "xc7z020, 4x4, int4 fold, LUT multipliers",
        unit: Unit::WeightStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
lut_multiplier_max_bits = 4
[datapath]
activation = "int4"
weight = "int4"
zero_point = "fold"
accumulator = { bits = 16, overflow = "wrap" }
[buffers]
input_kib = 2
weight_kib = 2
accumulator_kib = 2
output_kib = 2
double_buffered = false
"#,
        act_bits: 4,
        act_signed: true,
        weight_bits: 4,
        acc_bits: 16,
        acc_saturate: false,
    },
    // The first configuration with a saturating accumulator: the clamp
    // between the DSP's adder and the partial-sum register moves the
    // register to fabric.
    Config {
        name: "xc7z020, 4x4, int8, 32-bit saturate",
        unit: Unit::WeightStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 32, overflow = "saturate" }
[buffers]
input_kib = 4
weight_kib = 4
accumulator_kib = 4
output_kib = 2
double_buffered = false
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 32,
        acc_saturate: true,
    },
    // LUT multipliers whose adder trees include the partial sum, with a
    // clamp after each, on an array deep enough for SRL skew chains.
    Config {
        name: "xc7z020, 8x8, int4 fold, LUT multipliers, 16-bit saturate",
        unit: Unit::WeightStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 8
cols = 8
lut_multiplier_max_bits = 4
[datapath]
activation = "int4"
weight = "int4"
zero_point = "fold"
accumulator = { bits = 16, overflow = "saturate" }
[buffers]
input_kib = 2
weight_kib = 2
accumulator_kib = 2
output_kib = 2
double_buffered = false
"#,
        act_bits: 4,
        act_signed: true,
        weight_bits: 4,
        acc_bits: 16,
        acc_saturate: true,
    },
    // The output-stationary array (`fx_os_array`): two sums per PE, the
    // weight passed down every cycle, the fold flags travelling with the
    // activation, the drain multiplexer.
    Config {
        name: "xc7z020, 4x4 output-stationary, int8, 32-bit wrap",
        unit: Unit::OutputStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 4
dataflow = "output-stationary"
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 32, overflow = "wrap" }
[buffers]
input_kib = 4
weight_kib = 4
accumulator_kib = 4
output_kib = 2
double_buffered = false
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 32,
        acc_saturate: false,
    },
    Config {
        name: "xc7z020, 8x4 output-stationary, int8, 20-bit saturate",
        unit: Unit::OutputStationary,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 8
cols = 4
dataflow = "output-stationary"
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 20, overflow = "saturate" }
[buffers]
input_kib = 8
weight_kib = 8
accumulator_kib = 8
output_kib = 4
double_buffered = true
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 20,
        acc_saturate: true,
    },
    // The vector unit's lanes (`fx_vector_lane`, one per column), checked
    // against the estimate's vector unit, with the buffers sized for both
    // units.
    Config {
        name: "xc7z020, 8 vector lanes, int8, 32-bit wrap",
        unit: Unit::VectorLanes,
        family: "xc7",
        toml: r#"
[device]
part = "xc7z020"
[array]
rows = 4
cols = 8
depthwise = "vector"
[datapath]
activation = "int8"
weight = "int8"
accumulator = { bits = 32, overflow = "wrap" }
[buffers]
input_kib = 4
weight_kib = 4
accumulator_kib = 4
output_kib = 2
double_buffered = false
"#,
        act_bits: 9,
        act_signed: true,
        weight_bits: 8,
        acc_bits: 32,
        acc_saturate: false,
    },
];

/// Counts from a synthesis or from the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    dsp: u64,
    bram36: u64,
    bram18: u64,
    /// LUTs, shift-register LUTs (SRL16E, SRLC32E) and inverters (a LUT1
    /// in Vivado) included.
    lut: u64,
    ff: u64,
}

impl Counts {
    fn bram_sites(self) -> f64 {
        self.bram36 as f64 + self.bram18 as f64 / 2.0
    }
}

/// Returns the Verilog of a top module with the configuration's unit and
/// one RAM per bank of every buffer `(word bits, depth, banks)`, each on
/// its own ports so that nothing is optimised away.
fn synthesis_top(config: &Config, rows: u32, cols: u32, buffers: &[(u32, u64, u32)]) -> String {
    let mut text = String::new();
    let (mut ports, unit) = unit_ports_and_instance(config, rows, cols);
    let mut instances = String::new();
    let mut index = 0;
    for &(width, depth, banks) in buffers {
        let address_bits = 64 - (depth - 1).leading_zeros();
        for _ in 0..banks {
            for (direction, name, bits) in [
                ("input", "we", 1),
                ("input", "wa", address_bits),
                ("input", "wd", width),
                ("input", "ra", address_bits),
                ("output", "rd", width),
            ] {
                ports.push(format!("{direction} [{}:0] {name}{index}", bits - 1));
            }
            writeln!(
                instances,
                "  fx_buffer #(.WIDTH({width}), .DEPTH({depth}), .ADDRESS_BITS({address_bits})) \
                 buffer{index} (.clk(clk), .write_enable(we{index}), .write_address(wa{index}), \
                 .write_data(wd{index}), .read_address(ra{index}), .read_data(rd{index}));"
            )
            .unwrap();
            index += 1;
        }
    }
    writeln!(text, "module synth_top ({});", ports.join(", ")).unwrap();
    text.push_str(&unit);
    text.push_str(&instances);
    text.push_str("endmodule\n");
    text
}

/// Returns the top module's ports of the configuration's unit, every port
/// of the reference module, and the Verilog that instantiates it.
fn unit_ports_and_instance(config: &Config, rows: u32, cols: u32) -> (Vec<String>, String) {
    let (a, w, acc) = (config.act_bits, config.weight_bits, config.acc_bits);
    let parameters = format!(
        ".A_BITS({a}), .A_SIGNED({}), .W_BITS({w}), .ACC_BITS({acc}), .ACC_SATURATE({})",
        u32::from(config.act_signed),
        u32::from(config.acc_saturate)
    );
    let bus =
        |direction: &str, name: &str, bits: u32| format!("{direction} [{}:0] {name}", bits - 1);
    let mut ports = vec!["input clk".to_string()];
    let instance = match config.unit {
        Unit::WeightStationary => {
            ports.extend([
                "input enable".to_string(),
                "input load".into(),
                bus("input", "weight_top", cols * w),
                bus("input", "act_column", rows * a),
                bus("input", "act_valid", rows),
                bus("output", "sum_bottom", cols * acc),
                bus("output", "sum_bottom_valid", cols),
            ]);
            format!(
                "  fx_array #(.ROWS({rows}), .COLS({cols}), {parameters}) array (.clk(clk), \
                 .enable(enable), .load(load), .weight_top(weight_top), .act_column(act_column), \
                 .act_valid(act_valid), .sum_bottom(sum_bottom), \
                 .sum_bottom_valid(sum_bottom_valid));\n"
            )
        }
        Unit::OutputStationary => {
            ports.extend([
                "input enable".to_string(),
                "input drain".into(),
                bus("input", "act_column", rows * a),
                bus("input", "act_valid", rows),
                "input fold_first".into(),
                "input fold_last".into(),
                "input first_fold".into(),
                bus("input", "weight_row", cols * w),
                bus("input", "bias", cols * acc),
                bus("output", "acc_bottom", cols * acc),
            ]);
            format!(
                "  fx_os_array #(.ROWS({rows}), .COLS({cols}), {parameters}) array (.clk(clk), \
                 .enable(enable), .drain(drain), .act_column(act_column), .act_valid(act_valid), \
                 .fold_first(fold_first), .fold_last(fold_last), .first_fold(first_fold), \
                 .weight_row(weight_row), .bias(bias), .acc_bottom(acc_bottom));\n"
            )
        }
        Unit::VectorLanes => {
            ports.extend([
                "input valid".to_string(),
                "input fold_first".into(),
                "input fold_last".into(),
                "input first_fold".into(),
                "input last_tap".into(),
                bus("input", "act", cols * a),
                bus("input", "weight", cols * w),
                bus("input", "bias", cols * acc),
                bus("output", "result", cols * acc),
                bus("output", "result_valid", cols),
            ]);
            let mut lanes = String::new();
            for lane in 0..cols {
                writeln!(
                    lanes,
                    "  fx_vector_lane #({parameters}) lane{lane} (.clk(clk), .valid(valid), \
                     .fold_first(fold_first), .fold_last(fold_last), .first_fold(first_fold), \
                     .last_tap(last_tap), .act(act[{lane} * {a} +: {a}]), \
                     .weight(weight[{lane} * {w} +: {w}]), .bias(bias[{lane} * {acc} +: {acc}]), \
                     .result(result[{lane} * {acc} +: {acc}]), .result_valid(result_valid[{lane}]));"
                )
                .unwrap();
            }
            lanes
        }
    };
    (ports, instance)
}

/// Runs `synth_xilinx` on `top` and returns the DSP and block RAM cells of
/// the final statistics.
fn synthesize(dir: &Path, config: &Config, top: &str) -> Counts {
    std::fs::write(dir.join("synth_top.v"), top).unwrap();
    let script = format!(
        "read_verilog {}\nsynth_xilinx -family {} -top synth_top -flatten\ntee -o {} stat\n",
        rtl_sources(&[
            "fx_overflow.v",
            "fx_pe.v",
            "fx_array.v",
            "fx_fold_accumulator.v",
            "fx_os_pe.v",
            "fx_os_array.v",
            "fx_vector_lane.v",
            "fx_buffer.v",
        ])
        .chain([dir.join("synth_top.v").display().to_string()])
        .collect::<Vec<_>>()
        .join(" "),
        config.family,
        dir.join("stat.txt").display()
    );
    run_yosys(dir, config.name, &script)
}

fn rtl_sources<'a>(names: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    let rtl = Path::new(env!("CARGO_MANIFEST_DIR")).join("hdl_templates/rtl");
    names
        .iter()
        .map(move |name| rtl.join(name).display().to_string())
}

/// Runs a Yosys script that writes its statistics to `dir/stat.txt` and
/// returns the counted cells.
fn run_yosys(dir: &Path, name: &str, script: &str) -> Counts {
    std::fs::write(dir.join("synth.ys"), script).unwrap();
    let output = Command::new("yosys")
        .arg("-q")
        .arg(dir.join("synth.ys"))
        .output()
        .expect("yosys starts");
    assert!(
        output.status.success(),
        "{name}: yosys failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stat = std::fs::read_to_string(dir.join("stat.txt")).unwrap();
    let mut counts = Counts::default();
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let (Some(cell), Some(count)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else {
            continue;
        };
        if cell.starts_with("DSP48E") {
            counts.dsp += count;
        } else if cell.starts_with("RAMB36E") {
            counts.bram36 += count;
        } else if cell.starts_with("RAMB18E") {
            counts.bram18 += count;
        } else if cell.starts_with("LUT") || cell.starts_with("SRL") || cell == "INV" {
            counts.lut += count;
        } else if ["FDRE", "FDSE", "FDCE", "FDPE"].contains(&cell) {
            counts.ff += count;
        }
    }
    counts
}

fn error_percent(estimate: f64, synthesis: f64) -> String {
    if synthesis == 0.0 {
        return if estimate == 0.0 {
            "0".into()
        } else {
            "n/a".into()
        };
    }
    format!("{:+.1}", 100.0 * (estimate - synthesis) / synthesis)
}

/// Returns the estimate of the synthesized unit (the array, or the vector
/// unit under `Unit::VectorLanes`) and its estimated LUTs and flip-flops,
/// without the zero-point subtractors, which the reference units leave
/// outside (they receive `x - zx`).
///
/// Yosys 0.23 maps DSP48E2 slices as multipliers alone (`-family xcup`), so
/// for those the test takes the model's own figures for a slice that
/// absorbs no register or adder, and checks the estimate's assumption
/// (Vivado's multiply-accumulate inference) on DSP48E1 only.
fn synthesized_unit_logic<'a>(
    config: &Config,
    hw: &HwConfig,
    report: &'a ResourceReport,
) -> (&'a UnitEstimate, Logic) {
    let (rows, cols) = (hw.array.rows, hw.array.cols);
    let inference = match config.family {
        "xcup" => DspInference::MultiplierOnly,
        _ => DspInference::MultiplyAccumulate,
    };
    let (unit, model, edge_inputs) = match config.unit {
        Unit::WeightStationary | Unit::OutputStationary => {
            let (shape, dataflow) = match config.unit {
                Unit::OutputStationary => (
                    MacShape::output_stationary(rows, cols),
                    Dataflow::OutputStationary,
                ),
                _ => (
                    MacShape::weight_stationary(rows, cols),
                    Dataflow::WeightStationary,
                ),
            };
            assert_eq!(hw.array.dataflow, dataflow, "{}", config.name);
            let array = &report.array;
            let model = logic::mac_cells(&array.widths, &array.multiplier, shape, inference)
                + logic::array_operand_paths(&array.widths, rows, cols, dataflow);
            (array, model, u64::from(rows))
        }
        Unit::VectorLanes => {
            let vector = report
                .vector_unit
                .as_ref()
                .expect("depthwise = \"vector\" estimates a vector unit");
            let shape = MacShape::vector_lanes(vector.cells);
            let model = logic::mac_cells(&vector.widths, &vector.multiplier, shape, inference);
            (vector, model, vector.cells)
        }
    };

    if inference == DspInference::MultiplyAccumulate {
        let subtractors = logic::zero_point_subtractors(&unit.widths, edge_inputs);
        let estimated = Logic {
            luts: unit.logic.luts - subtractors.luts,
            ffs: unit.logic.ffs - subtractors.ffs,
        };
        assert_eq!(
            estimated, model,
            "{}: the estimate's unit differs from the model it is checked by",
            config.name
        );
    }
    (unit, model)
}

/// Returns a failure message when `estimate` is further than
/// [`LOGIC_TOLERANCE`] from `synthesis`.
fn logic_failure(name: &str, resource: &str, estimate: u64, synthesis: u64) -> Option<String> {
    let difference = estimate.abs_diff(synthesis) as f64;
    (difference > LOGIC_TOLERANCE * synthesis as f64).then(|| {
        format!(
            "{name}: {resource} estimate {estimate}, synthesis {synthesis} ({} %), beyond {:.0} %",
            error_percent(estimate as f64, synthesis as f64),
            100.0 * LOGIC_TOLERANCE
        )
    })
}

fn bram_estimate(report: &ResourceReport) -> (u64, u64) {
    (
        report.buffers.iter().map(|buffer| buffer.bram36).sum(),
        report.buffers.iter().map(|buffer| buffer.bram18).sum(),
    )
}

/// Yosys runs at a time: CI has two cores, and each run is single-threaded.
const SYNTHESIS_JOBS: usize = 2;

/// Returns the estimate's and the synthesis's counts of one configuration,
/// working in `dir`.
fn estimate_and_synthesize(config: &Config, dir: &Path) -> (Counts, Counts) {
    std::fs::create_dir_all(dir).unwrap();
    let hw = HwConfig::from_toml_str(config.toml, config.name).expect("a valid description");
    let report = estimate(&hw, None);
    let buffers: Vec<(u32, u64, u32)> = report
        .buffers
        .iter()
        .map(|buffer| (buffer.word_bits, buffer.depth, buffer.banks))
        .collect();
    let (unit, unit_logic) = synthesized_unit_logic(config, &hw, &report);
    let (bram36, bram18) = bram_estimate(&report);
    let estimated = Counts {
        dsp: unit.multiplier.dsps,
        lut: unit_logic.luts,
        ff: unit_logic.ffs,
        bram36,
        bram18,
    };

    let started = std::time::Instant::now();
    let top = synthesis_top(config, hw.array.rows, hw.array.cols, &buffers);
    let synthesized = synthesize(dir, config, &top);
    eprintln!(
        "yosys: {} in {:.1} s",
        config.name,
        started.elapsed().as_secs_f64()
    );
    (estimated, synthesized)
}

/// Returns `job(0..count)` in index order, run on `workers` threads.
fn run_in_parallel<T: Send>(
    count: usize,
    workers: usize,
    job: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= count {
                            return done;
                        }
                        done.push((index, job(index)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("a synthesis worker"))
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

#[test]
fn synthesis_agrees_with_estimate() {
    if Command::new("yosys").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("FXSIM_NO_SKIP").is_none(),
            "yosys is not installed and FXSIM_NO_SKIP is set"
        );
        eprintln!("skipping: yosys is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("fxsim-rtl-yosys-{}", std::process::id()));
    let mut memory_table = String::from(
        "| configuration | DSP estimate | DSP synthesis | error % | BRAM36 estimate | BRAM36 synthesis | error % |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut logic_table = String::from(
        "| configuration | LUT estimate | LUT synthesis | error % | FF estimate | FF synthesis | error % |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    let all_started = std::time::Instant::now();
    let results = run_in_parallel(CONFIGS.len(), SYNTHESIS_JOBS, |index| {
        estimate_and_synthesize(&CONFIGS[index], &root.join(format!("config{index}")))
    });
    for (config, (estimated, synthesized)) in CONFIGS.iter().zip(results) {
        writeln!(
            memory_table,
            "| {} | {} | {} | {} | {} | {} | {} |",
            config.name,
            estimated.dsp,
            synthesized.dsp,
            error_percent(estimated.dsp as f64, synthesized.dsp as f64),
            estimated.bram_sites(),
            synthesized.bram_sites(),
            error_percent(estimated.bram_sites(), synthesized.bram_sites()),
        )
        .unwrap();
        writeln!(
            logic_table,
            "| {} | {} | {} | {} | {} | {} | {} |",
            config.name,
            estimated.lut,
            synthesized.lut,
            error_percent(estimated.lut as f64, synthesized.lut as f64),
            estimated.ff,
            synthesized.ff,
            error_percent(estimated.ff as f64, synthesized.ff as f64),
        )
        .unwrap();

        if estimated.dsp != synthesized.dsp {
            failures.push(format!(
                "{}: DSP estimate {}, synthesis {}",
                config.name, estimated.dsp, synthesized.dsp
            ));
        }
        if estimated.bram_sites() != synthesized.bram_sites() {
            failures.push(format!(
                "{}: BRAM36 estimate {}, synthesis {}",
                config.name,
                estimated.bram_sites(),
                synthesized.bram_sites()
            ));
        }
        failures.extend(logic_failure(
            config.name,
            "LUT",
            estimated.lut,
            synthesized.lut,
        ));
        failures.extend(logic_failure(
            config.name,
            "FF",
            estimated.ff,
            synthesized.ff,
        ));
    }
    println!("{memory_table}\n{logic_table}");
    eprintln!(
        "yosys: {} configurations in {:.1} s",
        CONFIGS.len(),
        all_started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&root).ok();
    assert!(
        failures.is_empty(),
        "estimate and synthesis differ:\n{}",
        failures.join("\n")
    );
}

/// The accumulator buffer's read-modify-write adders (`fx_accumulator_buffer`,
/// 4 columns of 32 bits) against [`logic::accumulator_adders`], wrapping
/// and saturating. The reference module reads asynchronously, so Yosys puts
/// its 16-word storage in distributed RAM (RAM32M, not counted here: the
/// estimate puts the storage in block RAM). The synthesized LUTs include
/// the per-column pixel counters, which the estimate counts as control.
#[test]
fn accumulator_adders_agree_with_synthesis() {
    if Command::new("yosys").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("FXSIM_NO_SKIP").is_none(),
            "yosys is not installed and FXSIM_NO_SKIP is set"
        );
        eprintln!("skipping: yosys is not installed");
        return;
    }
    let root = std::env::temp_dir().join(format!("fxsim-rtl-yosys-acc-{}", std::process::id()));
    let config = &CONFIGS[0];
    let mut failures = Vec::new();
    for overflow in ["wrap", "saturate"] {
        let name = format!("accumulator buffer, 4 columns, 32-bit {overflow}");
        let dir = root.join(overflow);
        std::fs::create_dir_all(&dir).unwrap();
        let text = config.toml.replace(
            "accumulator = { bits = 32, overflow = \"wrap\" }",
            &format!("accumulator = {{ bits = 32, overflow = \"{overflow}\" }}"),
        );
        let hw = HwConfig::from_toml_str(&text, &name).expect("a valid description");
        let report = estimate(&hw, None);
        assert_eq!(report.array.widths.saturates, overflow == "saturate");
        let estimated = logic::accumulator_adders(&report.array.widths, u64::from(hw.array.cols));

        let script = format!(
            "read_verilog {}\n\
             chparam -set COLS {} -set ACC_BITS 32 -set ACC_SATURATE {} -set PIXEL_BITS 4 \
             fx_accumulator_buffer\n\
             synth_xilinx -family xc7 -top fx_accumulator_buffer -flatten\n\
             tee -o {} stat\n",
            rtl_sources(&["fx_overflow.v", "fx_accumulator_buffer.v"])
                .collect::<Vec<_>>()
                .join(" "),
            hw.array.cols,
            u32::from(overflow == "saturate"),
            dir.join("stat.txt").display()
        );
        let synthesized = run_yosys(&dir, &name, &script);
        println!(
            "{name}: LUT estimate {}, synthesis {} ({} %)",
            estimated.luts,
            synthesized.lut,
            error_percent(estimated.luts as f64, synthesized.lut as f64)
        );
        failures.extend(logic_failure(&name, "LUT", estimated.luts, synthesized.lut));
    }
    std::fs::remove_dir_all(&root).ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
