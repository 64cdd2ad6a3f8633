//! `fxsim export --rtl`: the reference RTL of the modelled core, its
//! Verilator testbench and, per MAC layer, the testbench's Verilog
//! parameters and plusargs, in `rtl/` of the export directory.
//!
//! The RTL sources are askama templates in `hdl_templates/rtl` that take no
//! values, so a rendered file equals its template. Each layer gets
//! `rtl/layerNNN.params` (one `-GNAME=VALUE` per line, the layer's datapath
//! with overrides applied) and `rtl/layerNNN.plusargs` (one `+name=value`
//! per line, paths relative to the export directory), and `rtl/run.sh`
//! builds and runs every covered layer. A depthwise or grouped layer runs
//! as its channel groups one after another, one GEMM each, on the array, or
//! in one run on the vector unit under `array.depthwise = "vector"`. The
//! PPU takes every requantisation mode on accumulators of up to 64 bits,
//! `tflite` with TFLite's int32 overload (`REQUANT_MODE` 0) or, for 16x8
//! layers, its int64 overload (4). Limitation: `rtl/uncovered.txt` lists
//! the layers too large for the testbench's memories, and a layer whose
//! `layers.mem` record contains a mode or accumulator width outside those,
//! which the export does not write today.

use super::params::{LayerRecord, LAYER_FIELDS};
use super::{ExportError, FileEntry};
use crate::hw::{Dataflow, DepthwiseUnit, HwConfig};
use crate::numeric::lfsr::{rounding_word, Lfsr, STEPS_PER_EVENT};
use askama::Template;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

macro_rules! rtl_sources {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[derive(Template)]
            #[template(path = $file, escape = "none")]
            struct $name;
        )*

        /// Renders every RTL source; returns `(file name, text)` pairs.
        fn render_sources() -> Result<Vec<(&'static str, String)>, ExportError> {
            let mut sources = Vec::new();
            $(
                let mut text = $name.render().map_err(|error| ExportError::Template {
                    file: $file.to_string(),
                    message: error.to_string(),
                })?;
                // askama drops the template's final newline.
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                let name = $file.rsplit('/').next().unwrap_or($file);
                sources.push((name, text));
            )*
            Ok(sources)
        }
    };
}

rtl_sources! {
    Overflow => "rtl/fx_overflow.v",
    Pe => "rtl/fx_pe.v",
    Array => "rtl/fx_array.v",
    AccumulatorBuffer => "rtl/fx_accumulator_buffer.v",
    LfsrJump => "rtl/fx_lfsr.v",
    Ppu => "rtl/fx_ppu.v",
    Core => "rtl/fx_core.v",
    FoldAccumulator => "rtl/fx_fold_accumulator.v",
    OsPe => "rtl/fx_os_pe.v",
    OsArray => "rtl/fx_os_array.v",
    OsCore => "rtl/fx_os_core.v",
    VectorLane => "rtl/fx_vector_lane.v",
    VectorCore => "rtl/fx_vector_core.v",
    Buffer => "rtl/fx_buffer.v",
    Testbench => "rtl/fx_tb.sv",
}

/// The testbench's memory sizes, the same for every layer of an export so
/// that one build per datapath runs them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestbenchSize {
    /// Words of each testbench memory, a power of two.
    pub depth: u64,
    /// Address bits of the weight-stationary accumulator buffer, which
    /// stores one accumulator per pixel of a layer.
    pub pixel_bits: u32,
    /// Width of the core's memory addresses.
    pub address_bits: u32,
}

/// The smallest sizes, which the testbench's defaults also use.
const MIN_DEPTH: u64 = 1 << 18;
const MIN_PIXEL_BITS: u32 = 14;
const MIN_ADDRESS_BITS: u32 = 20;

/// The largest testbench memory: 2^22 words. The testbench has seven
/// memories, and with words of 16 accumulators of 32 bits they take up to
/// 1.75 GiB in the simulator, so a layer that needs more is left out.
pub const MAX_DEPTH: u64 = 1 << 22;

/// True when `record` is a depthwise layer that runs on the vector unit.
fn on_vector_unit(hw: &HwConfig, record: &LayerRecord) -> bool {
    field(record, "KIND") == 1 && hw.array.depthwise == DepthwiseUnit::Vector
}

/// Returns the bits that hold every value below `limit`.
fn bits_below(limit: u64) -> u32 {
    u64::BITS - limit.saturating_sub(1).leading_zeros()
}

impl TestbenchSize {
    /// Returns the words that `record`'s largest image or dump takes in
    /// the testbench on `hw`, and the largest address the core forms
    /// inside one channel group. Saturates rather than wraps.
    fn needs(hw: &HwConfig, record: &LayerRecord) -> (u64, u64) {
        let value = |name: &str| field(record, name).unsigned_abs();
        let (rows, cols) = (u64::from(hw.array.rows), u64::from(hw.array.cols));
        let (groups, m, k, n) = (value("GROUPS"), value("M"), value("K"), value("N"));
        let (folds, tiles) = (value("F"), value("T"));
        let row_tiles = m.div_ceil(rows);
        let product = |factors: &[u64]| {
            factors
                .iter()
                .fold(1_u64, |total, &factor| total.saturating_mul(factor))
        };
        let streamed = match (on_vector_unit(hw, record), hw.array.dataflow) {
            (true, _) => product(&[tiles, m, k]),
            (false, Dataflow::WeightStationary) => product(&[folds, m]),
            (false, Dataflow::OutputStationary) => product(&[row_tiles, k]),
        };
        let words = [
            product(&[groups, tiles, folds, rows]),
            product(&[groups, streamed]),
            product(&[groups, tiles, m]),
            product(&[groups, n]).div_ceil(cols).saturating_mul(m),
        ];
        let addresses = [
            product(&[tiles, folds, rows]),
            streamed,
            product(&[tiles, m]),
        ];
        (
            words.into_iter().max().unwrap_or(0),
            addresses.into_iter().max().unwrap_or(0),
        )
    }

    /// Returns the sizes that every record in `records` fits, or the
    /// defaults when there is none. Records that need more than
    /// [`MAX_DEPTH`] words are left for [`layer_run`] to reject.
    pub fn for_layers(hw: &HwConfig, records: &[LayerRecord]) -> TestbenchSize {
        let mut size = TestbenchSize {
            depth: MIN_DEPTH,
            pixel_bits: MIN_PIXEL_BITS,
            address_bits: MIN_ADDRESS_BITS,
        };
        for record in records {
            let (words, address) = TestbenchSize::needs(hw, record);
            if words > MAX_DEPTH {
                continue;
            }
            let m = field(record, "M").unsigned_abs();
            size.depth = size.depth.max(words.next_power_of_two());
            size.pixel_bits = size.pixel_bits.max(bits_below(m.saturating_add(1)));
            size.address_bits = size.address_bits.max(bits_below(address.saturating_add(1)));
        }
        size
    }
}

/// One layer's testbench run: its Verilog parameters and its plusargs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlRun {
    pub index: usize,
    /// `(name, value)` for `-G`, in a fixed order.
    pub parameters: Vec<(&'static str, i64)>,
    /// `+name=value` arguments, paths relative to the export directory.
    pub plusargs: Vec<String>,
}

/// True when `name` is a file that `--rtl` writes into `rtl/`: a source
/// (`fx_*.v`, `fx_*.sv`), a layer's `layerNNN.params` or `layerNNN.plusargs`,
/// `uncovered.txt` or `run.sh`.
pub fn is_rtl_file(name: &str) -> bool {
    let source = name.starts_with("fx_") && (name.ends_with(".v") || name.ends_with(".sv"));
    let layer = name.strip_prefix("layer").is_some_and(|rest| {
        let stem = rest
            .strip_suffix(".params")
            .or_else(|| rest.strip_suffix(".plusargs"));
        stem.is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    });
    source || layer || name == "uncovered.txt" || name == "run.sh"
}

/// Returns field `name` of a `layers.mem` record.
fn field(record: &LayerRecord, name: &str) -> i64 {
    LAYER_FIELDS
        .iter()
        .position(|(field, _, _)| *field == name)
        .and_then(|position| record.values.get(position).copied())
        .unwrap_or(0)
}

/// Returns the testbench run of `record`, or why the RTL does not cover it.
pub fn layer_run(
    hw: &HwConfig,
    record: &LayerRecord,
    output_bits: u32,
    files: &[FileEntry],
    size: TestbenchSize,
) -> Result<RtlRun, String> {
    let index = record.index;
    let groups = field(record, "GROUPS");
    let requant_mode = field(record, "REQUANT_MODE");
    let acc_bits = field(record, "ACC_BITS");
    if !(0..=4).contains(&requant_mode) {
        return Err(format!(
            "layer {index}: REQUANT_MODE {requant_mode} is not a mode of the RTL PPU, which implements 0 to 4"
        ));
    }
    if !(1..=64).contains(&acc_bits) {
        return Err(format!(
            "layer {index}: a {acc_bits}-bit accumulator; the RTL takes 1 to 64 bits"
        ));
    }
    let (words, _) = TestbenchSize::needs(hw, record);
    if words > size.depth {
        return Err(format!(
            "layer {index}: the testbench would need memories of {words} words; it holds at most {MAX_DEPTH}"
        ));
    }
    let as_parameter = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let parameters = vec![
        ("ROWS", i64::from(hw.array.rows)),
        ("COLS", i64::from(hw.array.cols)),
        (
            "DATAFLOW",
            i64::from(super::params::dataflow_code(hw.array.dataflow)),
        ),
        ("VECTOR_UNIT", i64::from(on_vector_unit(hw, record))),
        ("A_BITS", field(record, "ACT_BITS")),
        ("A_SIGNED", field(record, "ACT_SIGNED")),
        ("W_BITS", field(record, "WEIGHT_BITS")),
        ("W_SIGNED", field(record, "WEIGHT_SIGNED")),
        ("ACC_BITS", acc_bits),
        ("ACC_SATURATE", field(record, "ACC_SATURATE")),
        ("BIAS_POST", field(record, "BIAS_POST")),
        ("REQUANT_MODE", requant_mode),
        ("REQUANT_MULT_BITS", field(record, "MULT_BITS")),
        ("ROUNDING", field(record, "ROUNDING")),
        ("OUT_BITS", i64::from(output_bits)),
        ("DEPTH", as_parameter(size.depth)),
        ("PIXEL_BITS", i64::from(size.pixel_bits)),
        ("ADDRESS_BITS", i64::from(size.address_bits)),
    ];

    let n = field(record, "N");
    let seed = u32::try_from(field(record, "LFSR_SEED"))
        .unwrap_or(1)
        .max(1);
    let lfsr_start = rounding_word(seed, index, 0).unwrap_or(1);
    // x^(32 * channels) modulo the LFSR polynomial jumps from one pixel's
    // rounding event to the next pixel's in the same channel, and
    // x^(32 * n) from one group's first channel to the next group's.
    let power = |events: u64| -> Result<u32, String> {
        let mut lfsr = Lfsr::new(1).ok_or_else(|| "the LFSR rejects seed 1".to_string())?;
        lfsr.advance(STEPS_PER_EVENT.saturating_mul(events));
        Ok(lfsr.state())
    };
    let channels = n.unsigned_abs().saturating_mul(groups.unsigned_abs());
    let jump = power(channels)?;
    let group_jump = power(n.unsigned_abs())?;

    let name = |role: &str| format!("layer{index:03}_{role}.mem");
    let has = |file: &str| files.iter().any(|entry| entry.name == file);
    let mut plusargs = vec![
        format!("+m={}", field(record, "M")),
        format!("+k={}", field(record, "K")),
        format!("+n={n}"),
        format!("+zero_point={}", field(record, "OUTPUT_ZERO_POINT")),
        format!("+out_min={}", field(record, "OUTPUT_MIN")),
        format!("+out_max={}", field(record, "OUTPUT_MAX")),
        format!("+lfsr_start={lfsr_start:08x}"),
        format!("+lfsr_jump={jump:08x}"),
        format!("+lfsr_group_jump={group_jump:08x}"),
        format!("+groups={groups}"),
        format!("+weights={}", name("weights")),
        format!("+activations={}", name("activations")),
        format!("+bias={}", name("bias")),
        format!("+requant={}", name("requant")),
        format!("+output=rtl_out/{}", name("output")),
        format!("+accumulators=rtl_out/{}", name("acc")),
    ];
    if has(&name("bias_post")) {
        plusargs.push(format!("+bias_post={}", name("bias_post")));
    }
    Ok(RtlRun {
        index,
        parameters,
        plusargs,
    })
}

/// Writes `rtl/` into the export staging directory `dir`: the sources, one
/// `.params` and `.plusargs` file per covered layer, `uncovered.txt` and
/// `run.sh`. `files` are the export's files so far; the element width of
/// each layer's golden output sets the testbench's `OUT_BITS`.
pub fn write_rtl(
    dir: &Path,
    hw: &HwConfig,
    records: &[LayerRecord],
    files: &[FileEntry],
) -> Result<Vec<RtlRun>, ExportError> {
    let rtl = dir.join("rtl");
    let write = |name: &str, text: &str| {
        let path = rtl.join(name);
        fs::write(&path, text).map_err(|source| ExportError::Io { path, source })
    };
    fs::create_dir_all(&rtl).map_err(|source| ExportError::Io {
        path: rtl.clone(),
        source,
    })?;
    for (name, text) in render_sources()? {
        write(name, &text)?;
    }

    let size = TestbenchSize::for_layers(hw, records);
    let mut runs = Vec::new();
    let mut uncovered = String::new();
    for record in records {
        let output = format!("layer{:03}_output.mem", record.index);
        let output_bits = files
            .iter()
            .find(|entry| entry.name == output)
            .map_or(8, |entry| entry.element_bits);
        match layer_run(hw, record, output_bits, files, size) {
            Ok(run) => {
                let params: String = run
                    .parameters
                    .iter()
                    .map(|(name, value)| format!("-G{name}={value}\n"))
                    .collect();
                write(&format!("layer{:03}.params", run.index), &params)?;
                let plusargs: String = run.plusargs.iter().map(|arg| format!("{arg}\n")).collect();
                write(&format!("layer{:03}.plusargs", run.index), &plusargs)?;
                runs.push(run);
            }
            Err(reason) => {
                let _ = writeln!(uncovered, "{reason}");
            }
        }
    }
    write("uncovered.txt", &uncovered)?;
    write("run.sh", &run_script(&runs))?;
    Ok(runs)
}

/// Returns a shell script that builds the testbench once per distinct parameter
/// set and runs every covered layer from the export directory. It writes
/// nothing into the export directory: the dumps and builds go to `OUT`
/// (the first argument, by default `NAME.rtl_out` beside the export
/// directory `NAME`), so exporting again cannot delete them.
fn run_script(runs: &[RtlRun]) -> String {
    let mut script = String::from(
        "#!/bin/sh\n\
         # Usage, from the export directory: sh rtl/run.sh [OUT]\n\
         # Builds fx_tb with Verilator into OUT/build, one build per parameter\n\
         # set and RTL source text, and runs every covered layer. The dumps go\n\
         # to OUT, which `fxsim verify . OUT` compares, and each layer's\n\
         # testbench output to OUT/build/layerNNN.log. It stops with status 1\n\
         # at the first layer whose build or run fails, after deleting that\n\
         # layer's dumps, so that no earlier dump can pass for it.\n\
         # OUT defaults to NAME.rtl_out beside this export directory NAME and\n\
         # must not contain a space or a | character.\n\
         set -e\n\
         if [ ! -f manifest.json ] || [ ! -d rtl ]; then\n\
         \x20   echo \"run.sh: run it from the export directory: cd DIR && sh rtl/run.sh [OUT]\" >&2\n\
         \x20   exit 2\n\
         fi\n\
         out=${1:-../$(basename \"$PWD\").rtl_out}\n\
         case \"$out\" in\n\
         *\\ * | *\\|*)\n\
         \x20   echo \"run.sh: OUT must not contain a space or a |: $out\" >&2\n\
         \x20   exit 2 ;;\n\
         esac\n\
         mkdir -p \"$out/build\"\n",
    );
    for run in runs {
        let _ = write!(
            script,
            "params=$(cat rtl/layer{index:03}.params | tr '\\n' ' ')\n\
             build=\"$out/build/$( (echo \"$params\"; cat rtl/*.v rtl/fx_tb.sv) | cksum | cut -d' ' -f1)\"\n\
             [ -x \"$build/Vfx_tb\" ] || verilator --binary -Wno-fatal -Wno-lint -Wno-style \
             --top-module fx_tb -Mdir \"$build\" $params rtl/*.v rtl/fx_tb.sv > \"$build.log\" 2>&1 \
             || {{ cat \"$build.log\"; echo \"layer {index}: the Verilator build failed\" >&2; exit 1; }}\n\
             rm -f \"$out/layer{index:03}_output.mem\" \"$out/layer{index:03}_acc.mem\"\n\
             log=\"$out/build/layer{index:03}.log\"\n\
             if ! \"$build/Vfx_tb\" $(sed \"s|=rtl_out/|=$out/|\" rtl/layer{index:03}.plusargs) > \"$log\" 2>&1 \
             || ! grep -q '^fxsim-rtl:' \"$log\"; then\n\
             \x20   cat \"$log\" >&2\n\
             \x20   rm -f \"$out/layer{index:03}_output.mem\" \"$out/layer{index:03}_acc.mem\"\n\
             \x20   echo \"layer {index}: the testbench failed; its output is above\" >&2\n\
             \x20   exit 1\n\
             fi\n\
             grep -v -e '^fxsim-rtl:' -e ': Verilog \\$finish$' \"$log\" >&2 || true\n\
             echo \"layer {index}: $(grep '^fxsim-rtl:' \"$log\")\"\n",
            index = run.index
        );
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::lfsr::POLYNOMIAL;

    #[test]
    fn is_rtl_file_accepts_written_names_only() {
        for name in [
            "fx_core.v",
            "fx_tb.sv",
            "layer003.params",
            "layer12.plusargs",
            "run.sh",
            "uncovered.txt",
        ] {
            assert!(is_rtl_file(name), "{name}");
        }
        for name in [
            "notes.txt",
            "layer.params",
            "layer003x.params",
            "fx_core.v.bak",
            "Vfx_tb",
        ] {
            assert!(!is_rtl_file(name), "{name}");
        }
    }

    fn record(index: usize, values: &[(&str, i64)]) -> LayerRecord {
        let mut record = LayerRecord {
            index,
            values: [0; LAYER_FIELDS.len()],
        };
        for &(name, value) in values {
            let position = LAYER_FIELDS
                .iter()
                .position(|(field, _, _)| *field == name)
                .expect("a layers.mem field");
            record.values[position] = value;
        }
        record
    }

    fn hw() -> HwConfig {
        HwConfig::from_toml_str(
            "[device]\npart = \"xc7z020\"\n[array]\nrows = 4\ncols = 2\n",
            "t",
        )
        .expect("a valid description")
    }

    fn size() -> TestbenchSize {
        TestbenchSize::for_layers(&hw(), &[])
    }

    fn base_fields() -> Vec<(&'static str, i64)> {
        vec![
            ("GROUPS", 1),
            ("M", 5),
            ("K", 9),
            ("N", 3),
            ("ACT_BITS", 9),
            ("ACT_SIGNED", 1),
            ("WEIGHT_BITS", 8),
            ("WEIGHT_SIGNED", 1),
            ("ACC_BITS", 32),
            ("LFSR_SEED", 7),
            ("OUTPUT_ZERO_POINT", -3),
            ("OUTPUT_MIN", -128),
            ("OUTPUT_MAX", 127),
        ]
    }

    #[test]
    fn rendered_sources_equal_templates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hdl_templates/rtl");
        let sources = render_sources().expect("the templates render");
        assert_eq!(sources.len(), 15);
        for (name, text) in sources {
            let template = fs::read_to_string(dir.join(name)).expect("the template exists");
            assert!(text == template, "{name}: rendering changed the source");
        }
    }

    #[test]
    fn layer_run_gives_parameters_and_plusargs() {
        let run = layer_run(&hw(), &record(7, &base_fields()), 8, &[], size()).expect("covered");
        assert_eq!(run.index, 7);
        assert!(run.parameters.contains(&("ROWS", 4)));
        assert!(run.parameters.contains(&("COLS", 2)));
        assert!(run.parameters.contains(&("A_BITS", 9)));
        assert!(run.parameters.contains(&("OUT_BITS", 8)));
        assert!(run.plusargs.contains(&"+m=5".to_string()));
        assert!(run.plusargs.contains(&"+zero_point=-3".to_string()));
        assert!(run
            .plusargs
            .contains(&"+weights=layer007_weights.mem".to_string()));
        assert!(run
            .plusargs
            .contains(&"+output=rtl_out/layer007_output.mem".to_string()));
        assert!(!run
            .plusargs
            .iter()
            .any(|arg| arg.starts_with("+bias_post=")));
    }

    #[test]
    fn layer_run_lfsr_words_follow_the_event_rule() {
        let run = layer_run(&hw(), &record(7, &base_fields()), 8, &[], size()).expect("covered");
        let start = rounding_word(7, 7, 0).expect("nonzero seed");
        assert!(run.plusargs.contains(&format!("+lfsr_start={start:08x}")));
        // x^(32 * 3) by stepping the LFSR one step at a time from 1.
        let mut state = 1u32;
        for _ in 0..32 * 3 {
            state = (state << 1) ^ if state >> 31 == 1 { POLYNOMIAL } else { 0 };
        }
        assert!(run.plusargs.contains(&format!("+lfsr_jump={state:08x}")));
    }

    #[test]
    fn layer_run_jumps_over_groups() {
        let mut fields = base_fields();
        fields[0] = ("GROUPS", 8);
        let run = layer_run(&hw(), &record(1, &fields), 8, &[], size()).expect("covered");
        assert!(run.plusargs.contains(&"+groups=8".to_string()));
        let power = |steps: u32| {
            let mut state = 1u32;
            for _ in 0..steps {
                state = (state << 1) ^ if state >> 31 == 1 { POLYNOMIAL } else { 0 };
            }
            state
        };
        assert!(run
            .plusargs
            .contains(&format!("+lfsr_jump={:08x}", power(32 * 24))));
        assert!(run
            .plusargs
            .contains(&format!("+lfsr_group_jump={:08x}", power(32 * 3))));
    }

    #[test]
    fn layer_run_covers_wide_tflite_accumulators() {
        for (acc_bits, requant_mode) in [(40, 0), (48, 0), (64, 0), (64, 4), (40, 4)] {
            let mut fields = base_fields();
            fields.push(("ACC_BITS", acc_bits));
            fields.push(("REQUANT_MODE", requant_mode));
            let run = layer_run(&hw(), &record(2, &fields), 16, &[], size())
                .unwrap_or_else(|reason| panic!("{acc_bits}-bit, mode {requant_mode}: {reason}"));
            assert!(run.parameters.contains(&("ACC_BITS", acc_bits)));
            assert!(run.parameters.contains(&("REQUANT_MODE", requant_mode)));
            assert!(run.parameters.contains(&("OUT_BITS", 16)));
        }
    }

    #[test]
    fn layer_run_rejects_unknown_requant_mode() {
        let mut fields = base_fields();
        fields.push(("REQUANT_MODE", 5));
        let reason = layer_run(&hw(), &record(2, &fields), 8, &[], size()).unwrap_err();
        assert!(reason.contains("layer 2"), "{reason}");
        assert!(reason.contains("REQUANT_MODE 5"), "{reason}");
    }

    #[test]
    fn layer_run_rejects_accumulator_over_64_bits() {
        let mut fields = base_fields();
        fields.push(("ACC_BITS", 65));
        let reason = layer_run(&hw(), &record(3, &fields), 8, &[], size()).unwrap_err();
        assert!(reason.contains("65-bit"), "{reason}");
    }

    #[test]
    fn testbench_size_defaults_without_layers() {
        assert_eq!(
            size(),
            TestbenchSize {
                depth: 1 << 18,
                pixel_bits: 14,
                address_bits: 20,
            }
        );
    }

    #[test]
    fn testbench_size_grows_to_the_largest_layer() {
        // 20,000 pixels of 3 channels on a 4 x 2 array: T = 2 tiles, so
        // the accumulator dump takes 40,000 words, the activations
        // F * M = 3 * 20,000 = 60,000 and the output 2 * 20,000.
        let mut fields = base_fields();
        fields.extend([("M", 20_000), ("K", 9), ("F", 3), ("T", 2), ("GROUPS", 8)]);
        let layer = record(3, &fields);
        let size = TestbenchSize::for_layers(&hw(), std::slice::from_ref(&layer));
        // 8 groups of 60,000 activation words: 480,000 < 2^19.
        assert_eq!(size.depth, 1 << 19);
        assert_eq!(size.pixel_bits, 15);
        assert_eq!(size.address_bits, 20);
        let run = layer_run(&hw(), &layer, 8, &[], size).expect("covered");
        assert!(run.parameters.contains(&("DEPTH", 1 << 19)));
        assert!(run.parameters.contains(&("PIXEL_BITS", 15)));
        assert!(run.parameters.contains(&("DATAFLOW", 0)));
    }

    #[test]
    fn testbench_size_follows_the_dataflow() {
        let hw = HwConfig::from_toml_str(
            "[device]\npart = \"xc7z020\"\n[array]\nrows = 4\ncols = 2\ndataflow = \"output-stationary\"\n",
            "t",
        )
        .expect("a valid description");
        // Output-stationary activations: ceil(M / 4) * K = 100 * 3,000
        // words; weight-stationary ones would be F * M = 750 * 400.
        let mut fields = base_fields();
        fields.extend([
            ("M", 400),
            ("K", 3_000),
            ("F", 750),
            ("T", 1),
            ("GROUPS", 1),
        ]);
        let layer = record(3, &fields);
        let (words, _) = TestbenchSize::needs(&hw, &layer);
        assert_eq!(words, 300_000);
        let run = layer_run(
            &hw,
            &layer,
            8,
            &[],
            TestbenchSize::for_layers(&hw, std::slice::from_ref(&layer)),
        )
        .expect("covered");
        assert!(run.parameters.contains(&("DATAFLOW", 1)));
        assert!(run.parameters.contains(&("DEPTH", 1 << 19)));
    }

    #[test]
    fn layer_run_rejects_layer_beyond_max_depth() {
        let mut fields = base_fields();
        fields.extend([("M", 1 << 22), ("K", 9), ("F", 3), ("T", 2)]);
        let layer = record(4, &fields);
        let size = TestbenchSize::for_layers(&hw(), std::slice::from_ref(&layer));
        assert_eq!(size.depth, 1 << 18, "a layer beyond the limit sets no size");
        let reason = layer_run(&hw(), &layer, 8, &[], size).unwrap_err();
        assert!(reason.contains("layer 4"), "{reason}");
        assert!(reason.contains("4194304"), "{reason}");
    }

    #[test]
    fn layer_run_sets_vector_unit_for_depthwise() {
        let vector = HwConfig::from_toml_str(
            "[device]\npart = \"xc7z020\"\n[array]\nrows = 4\ncols = 2\ndepthwise = \"vector\"\n",
            "t",
        )
        .expect("a valid description");
        let mut fields = base_fields();
        fields.extend([("KIND", 1), ("T", 2), ("F", 3)]);
        let unit = |hw: &HwConfig, fields: &[(&str, i64)]| {
            let run = layer_run(hw, &record(5, fields), 8, &[], size()).expect("covered");
            run.parameters
                .iter()
                .find(|(name, _)| *name == "VECTOR_UNIT")
                .map(|&(_, value)| value)
        };
        assert_eq!(unit(&vector, &fields), Some(1));
        // The same layer on the array, and a convolution on either.
        assert_eq!(unit(&hw(), &fields), Some(0));
        fields.push(("KIND", 0));
        assert_eq!(unit(&vector, &fields), Some(0));
        // The vector unit streams T * M * K activation words: 2 * 5 * 9.
        fields.push(("KIND", 1));
        let (words, _) = TestbenchSize::needs(&vector, &record(5, &fields));
        assert_eq!(words, 90);
    }
}
