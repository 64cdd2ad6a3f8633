//! Yosys `synth_xilinx` of the reference MAC array and of its buffers,
//! against `fxsim estimate`'s DSP and block RAM counts.
//!
//! For each configuration the test synthesizes `fx_array` with the
//! datapath's operand and accumulator widths, and one `fx_buffer` per
//! buffer bank with the word width and depth the estimate assumes. It
//! prints the table of docs/resources.md ("Check against synthesis") and
//! asserts that the array's DSPs and each buffer's block RAMs agree. Skips
//! when `yosys` is missing unless `FXSIM_NO_SKIP=1`. Limitation: the PPU,
//! the controller and the LUT and FF counts are not compared.

use fxsim::hw::HwConfig;
use fxsim::resources::estimate;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// One configuration: a hardware description and the array's Verilog
/// parameters that follow from its datapath.
struct Config {
    name: &'static str,
    family: &'static str,
    toml: &'static str,
    act_bits: u32,
    act_signed: bool,
    weight_bits: u32,
    acc_bits: u32,
    acc_saturate: bool,
}

const CONFIGS: [Config; 5] = [
    Config {
        name: "xc7z020, 4x4, int8, 32-bit wrap",
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
];

/// Counts from a synthesis or from the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    dsp: u64,
    bram36: u64,
    bram18: u64,
    /// LUTs and flip-flops: reported beside the estimate, not compared.
    lut: u64,
    ff: u64,
}

impl Counts {
    fn bram_sites(self) -> f64 {
        self.bram36 as f64 + self.bram18 as f64 / 2.0
    }
}

/// Returns the Verilog of a top module with the array and one RAM per
/// bank of every buffer `(word bits, depth, banks)`, each on its own ports
/// so that nothing is optimised away.
fn synthesis_top(config: &Config, rows: u32, cols: u32, buffers: &[(u32, u64, u32)]) -> String {
    let mut text = String::new();
    let mut ports = vec![
        "input clk".to_string(),
        "input enable".into(),
        "input load".into(),
    ];
    ports.push(format!(
        "input [{}:0] weight_top",
        cols * config.weight_bits - 1
    ));
    ports.push(format!(
        "input [{}:0] act_column",
        rows * config.act_bits - 1
    ));
    ports.push(format!("input [{}:0] act_valid", rows - 1));
    ports.push(format!(
        "output [{}:0] sum_bottom",
        cols * config.acc_bits - 1
    ));
    ports.push(format!("output [{}:0] sum_bottom_valid", cols - 1));
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
    writeln!(
        text,
        "  fx_array #(.ROWS({rows}), .COLS({cols}), .A_BITS({}), .A_SIGNED({}), .W_BITS({}), \
         .ACC_BITS({}), .ACC_SATURATE({})) array (.clk(clk), .enable(enable), .load(load), \
         .weight_top(weight_top), .act_column(act_column), .act_valid(act_valid), \
         .sum_bottom(sum_bottom), .sum_bottom_valid(sum_bottom_valid));",
        config.act_bits,
        u32::from(config.act_signed),
        config.weight_bits,
        config.acc_bits,
        u32::from(config.acc_saturate)
    )
    .unwrap();
    text.push_str(&instances);
    text.push_str("endmodule\n");
    text
}

/// Runs `synth_xilinx` on `top` and returns the DSP and block RAM cells of
/// the final statistics.
fn synthesize(dir: &Path, config: &Config, top: &str) -> Counts {
    let rtl = Path::new(env!("CARGO_MANIFEST_DIR")).join("hdl_templates/rtl");
    std::fs::write(dir.join("synth_top.v"), top).unwrap();
    let sources: Vec<String> = ["fx_overflow.v", "fx_pe.v", "fx_array.v", "fx_buffer.v"]
        .iter()
        .map(|name| rtl.join(name).display().to_string())
        .chain([dir.join("synth_top.v").display().to_string()])
        .collect();
    let script = format!(
        "read_verilog {}\nsynth_xilinx -family {} -top synth_top -flatten\ntee -o {} stat\n",
        sources.join(" "),
        config.family,
        dir.join("stat.txt").display()
    );
    std::fs::write(dir.join("synth.ys"), script).unwrap();
    let output = Command::new("yosys")
        .arg("-q")
        .arg(dir.join("synth.ys"))
        .output()
        .expect("yosys starts");
    assert!(
        output.status.success(),
        "{}: yosys failed:\n{}",
        config.name,
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
        } else if cell.starts_with("LUT") {
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
    let mut table = String::from(
        "| configuration | DSP estimate | DSP synthesis | error % | BRAM36 estimate | BRAM36 synthesis | error % | array LUT estimate | LUT synthesis (array and buffers) | array FF estimate | FF synthesis (array and buffers) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for (index, config) in CONFIGS.iter().enumerate() {
        let dir = root.join(format!("config{index}"));
        std::fs::create_dir_all(&dir).unwrap();
        let hw = HwConfig::from_toml_str(config.toml, config.name).expect("a valid description");
        let report = estimate(&hw, None);
        let array = report
            .components
            .iter()
            .find(|component| component.component == "array")
            .expect("the estimate has an array");
        let buffers: Vec<(u32, u64, u32)> = report
            .buffers
            .iter()
            .map(|buffer| (buffer.word_bits, buffer.depth, buffer.banks))
            .collect();
        let estimated = Counts {
            dsp: array.dsp,
            lut: array.lut,
            ff: array.ff,
            bram36: report.buffers.iter().map(|buffer| buffer.bram36).sum(),
            bram18: report.buffers.iter().map(|buffer| buffer.bram18).sum(),
        };

        let started = std::time::Instant::now();
        let top = synthesis_top(config, hw.array.rows, hw.array.cols, &buffers);
        let synthesized = synthesize(&dir, config, &top);
        eprintln!(
            "yosys: {} in {:.1} s",
            config.name,
            started.elapsed().as_secs_f64()
        );

        writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            config.name,
            estimated.dsp,
            synthesized.dsp,
            error_percent(estimated.dsp as f64, synthesized.dsp as f64),
            estimated.bram_sites(),
            synthesized.bram_sites(),
            error_percent(estimated.bram_sites(), synthesized.bram_sites()),
            estimated.lut,
            synthesized.lut,
            estimated.ff,
            synthesized.ff,
        )
        .unwrap();
        if estimated.dsp != synthesized.dsp || estimated.bram_sites() != synthesized.bram_sites() {
            failures.push(format!(
                "{}: estimate {estimated:?}, synthesis {synthesized:?}",
                config.name
            ));
        }
    }
    println!("{table}");
    std::fs::remove_dir_all(&root).ok();
    assert!(
        failures.is_empty(),
        "estimate and synthesis differ:\n{}",
        failures.join("\n")
    );
}
