//! Helpers that build the reference RTL in `hdl_templates/rtl` with
//! `verilator --binary`, run its testbench `fx_tb` and read what it writes.
//!
//! One build serves every layer of one datapath: the datapath is set by
//! Verilog parameters (`-G`), the layer by plusargs. Limitation: each build
//! takes tens of seconds, so the tests share builds through [`RtlBuilds`].

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The Verilog parameters of `fx_tb`, one datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RtlParameters {
    pub rows: u32,
    pub cols: u32,
    /// 0 weight-stationary, 1 output-stationary.
    pub dataflow: u32,
    /// 1 for a depthwise layer on the vector unit.
    pub vector_unit: u32,
    pub act_bits: u32,
    pub act_signed: bool,
    pub weight_bits: u32,
    pub weight_signed: bool,
    pub acc_bits: u32,
    pub acc_saturate: bool,
    pub bias_post: bool,
    /// 0 tflite (int32 overload), 1 single, 2 fixed, 3 shift, 4 tflite
    /// (int64 overload of 16x8 layers).
    pub requant_mode: u32,
    /// Multiplier bits of a requant element in the image (0 in shift mode).
    pub requant_mult_bits: u32,
    /// 0 half-away, 1 half-up, 2 half-even, 3 truncate, 4 stochastic.
    pub rounding: u32,
    pub out_bits: u32,
}

impl RtlParameters {
    /// Returns the `-GNAME=VALUE` arguments of these parameters.
    pub fn overrides(&self) -> Vec<String> {
        let flag = |value: bool| u32::from(value);
        [
            ("ROWS", self.rows),
            ("COLS", self.cols),
            ("DATAFLOW", self.dataflow),
            ("VECTOR_UNIT", self.vector_unit),
            ("A_BITS", self.act_bits),
            ("A_SIGNED", flag(self.act_signed)),
            ("W_BITS", self.weight_bits),
            ("W_SIGNED", flag(self.weight_signed)),
            ("ACC_BITS", self.acc_bits),
            ("ACC_SATURATE", flag(self.acc_saturate)),
            ("BIAS_POST", flag(self.bias_post)),
            ("REQUANT_MODE", self.requant_mode),
            ("REQUANT_MULT_BITS", self.requant_mult_bits),
            ("ROUNDING", self.rounding),
            ("OUT_BITS", self.out_bits),
        ]
        .iter()
        .map(|(name, value)| format!("-G{name}={value}"))
        .collect()
    }
}

/// The layer values and files of one testbench run.
#[derive(Debug, Clone, Default)]
pub struct RtlLayer {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub zero_point: i64,
    pub out_min: i64,
    pub out_max: i64,
    pub lfsr_start: u32,
    pub lfsr_jump: u32,
    pub weights: PathBuf,
    pub activations: PathBuf,
    pub bias: Option<PathBuf>,
    pub bias_post: Option<PathBuf>,
    pub requant: PathBuf,
    pub output: PathBuf,
    pub accumulators: Option<PathBuf>,
}

/// What one testbench run printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtlCycles {
    pub compute: u64,
    /// The printed `ppu_latency_cycles`: PPU pipeline cycles after the last pass.
    pub ppu: u64,
}

/// Returns the directory of the reference RTL sources.
pub fn rtl_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hdl_templates/rtl")
}

/// Returns whether `verilator` runs.
pub fn verilator_available() -> bool {
    Command::new("verilator")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs the testbench `binary` in `dir` with `plusargs`; returns the cycle
/// counts it printed. Panics with the testbench's output when it fails.
pub fn run_plusargs(binary: &Path, dir: &Path, plusargs: &[String]) -> RtlCycles {
    let output = Command::new(binary)
        .current_dir(dir)
        .args(plusargs)
        .output()
        .expect("the testbench starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "testbench failed on {plusargs:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_cycles(&stdout).unwrap_or_else(|| panic!("no cycle line in:\n{stdout}"))
}

/// Returns whether `iverilog` runs.
pub fn iverilog_available() -> bool {
    Command::new("iverilog")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Compiles `fx_tb` from the sources in `sources_dir` with Icarus Verilog
/// into `output`, the `-G` arguments `overrides` turned into `-P`.
pub fn iverilog_compile(sources_dir: &Path, overrides: &[String], output: &Path) {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(sources_dir)
        .expect("the RTL source directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "v" || extension == "sv")
        })
        .collect();
    sources.sort();
    let parameters = overrides.iter().map(|flag| {
        let assignment = flag.strip_prefix("-G").unwrap_or(flag);
        format!("-Pfx_tb.{assignment}")
    });
    let result = Command::new("iverilog")
        .args(["-g2012", "-s", "fx_tb", "-o"])
        .arg(output)
        .args(parameters)
        .args(&sources)
        .output()
        .expect("iverilog starts");
    assert!(
        result.status.success(),
        "iverilog failed for {overrides:?}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// Builds of `fx_tb`, one per parameter set, made on first use.
pub struct RtlBuilds {
    root: PathBuf,
    sources: Vec<PathBuf>,
    built: Mutex<BTreeMap<Vec<String>, PathBuf>>,
}

impl RtlBuilds {
    /// Prepares builds of the RTL in `sources_dir` under `root`.
    pub fn new(root: &Path, sources_dir: &Path) -> RtlBuilds {
        let mut sources: Vec<PathBuf> = std::fs::read_dir(sources_dir)
            .expect("the RTL source directory is readable")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "v" || extension == "sv")
            })
            .collect();
        sources.sort();
        std::fs::create_dir_all(root).expect("the build directory can be created");
        RtlBuilds {
            root: root.to_path_buf(),
            sources,
            built: Mutex::new(BTreeMap::new()),
        }
    }

    /// Returns the testbench binary for the `-G` arguments `overrides`,
    /// building it first if needed.
    pub fn binary(&self, overrides: &[String]) -> PathBuf {
        let mut built = self.built.lock().expect("no test panicked while building");
        if let Some(binary) = built.get(overrides) {
            return binary.clone();
        }
        let dir = self.root.join(format!("build{}", built.len()));
        let started = std::time::Instant::now();
        let output = Command::new("verilator")
            .arg("--binary")
            .arg("-Wno-fatal")
            .arg("-Wno-lint")
            .arg("-Wno-style")
            .args(["--top-module", "fx_tb", "-Mdir"])
            .arg(&dir)
            .args(overrides)
            .args(&self.sources)
            .output()
            .expect("verilator starts");
        assert!(
            output.status.success(),
            "verilator failed for {overrides:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "rtl: built {} in {:.1} s",
            overrides.join(" "),
            started.elapsed().as_secs_f64()
        );
        let binary = dir.join("Vfx_tb");
        built.insert(overrides.to_vec(), binary.clone());
        binary
    }
}

/// Runs the testbench `binary` on `layer`; returns the cycle counts it
/// printed. Panics with the testbench's output when it fails.
pub fn run_layer(binary: &Path, layer: &RtlLayer) -> RtlCycles {
    let path = |name: &str, path: &Path| format!("+{name}={}", path.display());
    let mut args = vec![
        format!("+m={}", layer.m),
        format!("+k={}", layer.k),
        format!("+n={}", layer.n),
        format!("+zero_point={}", layer.zero_point),
        format!("+out_min={}", layer.out_min),
        format!("+out_max={}", layer.out_max),
        format!("+lfsr_start={:x}", layer.lfsr_start),
        format!("+lfsr_jump={:x}", layer.lfsr_jump),
        path("weights", &layer.weights),
        path("activations", &layer.activations),
        path("requant", &layer.requant),
        path("output", &layer.output),
    ];
    let optional = [
        ("bias", &layer.bias),
        ("bias_post", &layer.bias_post),
        ("accumulators", &layer.accumulators),
    ];
    for (name, file) in optional {
        if let Some(file) = file {
            args.push(path(name, file));
        }
    }
    run_plusargs(binary, Path::new("."), &args)
}

fn parse_cycles(stdout: &str) -> Option<RtlCycles> {
    let line = stdout.lines().find(|line| line.starts_with("fxsim-rtl:"))?;
    let value = |key: &str| -> Option<u64> {
        let start = line.find(key)? + key.len();
        line[start..].split_whitespace().next()?.parse().ok()
    };
    Some(RtlCycles {
        compute: value("compute_cycles=")?,
        ppu: value("ppu_latency_cycles=")?,
    })
}

/// Writes `words` (each a list of elements, little end first) as a
/// `$readmemh` image with `element_bits`-bit two's complement elements.
pub fn write_image(path: &Path, words: &[Vec<i64>], element_bits: u32) {
    let mut text = String::from("// test image\n");
    for word in words {
        text.push_str(&pack_word(word, element_bits));
        text.push('\n');
    }
    std::fs::write(path, text).expect("the test directory is writable");
}

/// Packs elements into one hex word, element 0 in the low bits.
pub fn pack_word(elements: &[i64], element_bits: u32) -> String {
    let total_bits = elements.len() as u32 * element_bits;
    let digits = total_bits.div_ceil(4) as usize;
    let mut nibbles = vec![0u8; digits];
    for (index, &element) in elements.iter().enumerate() {
        for bit in 0..element_bits {
            if (element >> bit.min(63)) & 1 == 1 {
                let position = index as u32 * element_bits + bit;
                nibbles[(position / 4) as usize] |= 1 << (position % 4);
            }
        }
    }
    nibbles
        .iter()
        .rev()
        .map(|nibble| format!("{nibble:x}"))
        .collect()
}

/// Reads a `$writememh` dump into words of `elements` sign-extended
/// `element_bits`-bit values.
pub fn read_dump(path: &Path, elements: usize, element_bits: u32) -> Vec<Vec<i64>> {
    let text = std::fs::read_to_string(path).expect("the testbench wrote its dump");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//") && !line.starts_with('@'))
        .map(|line| unpack_word(line, elements, element_bits))
        .collect()
}

fn unpack_word(hex: &str, elements: usize, element_bits: u32) -> Vec<i64> {
    let bits: Vec<bool> = hex
        .chars()
        .rev()
        .flat_map(|digit| {
            let nibble = digit.to_digit(16).expect("a hex digit in the dump");
            (0..4).map(move |bit| (nibble >> bit) & 1 == 1)
        })
        .collect();
    (0..elements)
        .map(|index| {
            let mut value = 0i64;
            for bit in 0..element_bits {
                let position = index * element_bits as usize + bit as usize;
                if bits.get(position).copied().unwrap_or(false) {
                    value |= 1 << bit;
                }
            }
            let shift = 64 - element_bits;
            (value << shift) >> shift
        })
        .collect()
}
