//! Times fxsim's reference datapath on mobilenet_v2 (about 300M MACs)
//! against the TFLite Micro reference kernels on the same input, and prints
//! the ratio of the medians (the target is at most 0.25).
//!
//! Run with `cargo bench --bench mobilenet`. fxsim is timed with rayon's
//! default pool (all cores) and with one thread. The TFLite Micro
//! interpreter runs single-threaded in a Python subprocess that times
//! `invoke()` alone, so Python start-up and model loading are not counted.
//! The benchmark also checks that both produce the same output. When
//! `FXSIM_LITERT_PYTHON` names a Python with TensorFlow, the LiteRT
//! interpreter (reference and default kernels) is timed too, through
//! `scripts/bench_litert.py`.
//!
//! Settings come from the environment: `FXSIM_BENCH_RUNS` (timed runs per
//! engine, default 10) and `FXSIM_ORACLE_PYTHON` (the oracle environment's
//! Python; default `<repo>/.venv-oracle/bin/python`). The model is read from
//! `../shared/models` beside the repository. When the model or a Python is
//! missing the benchmark prints why, skips that part and exits successfully.
//!
//! Limitation: wall-clock medians on whatever machine runs it, with no
//! isolation from other load; compare ratios from one run, not times across
//! machines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::model::{DataType, Graph};

const MODEL_FILE: &str = "mobilenet_v2_quantized_1x3x224x224.tflite";

/// fxsim may take at most this fraction of the reference interpreter's time.
const TARGET_RATIO: f64 = 0.25;

/// Seed of the benchmark input.
const INPUT_SEED: u64 = 0x6D6F_6269;

/// Times the TFLite Micro interpreter. Arguments: `MODEL INPUT.npy RUNS`.
/// Prints one line of per-run seconds and one line of the first run's
/// output values.
const TFLM_SCRIPT: &str = r#"
import sys, time
import numpy as np
from tflite_micro import runtime

model, input_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
interpreter = runtime.Interpreter.from_bytes(open(model, 'rb').read())
x = np.load(input_path)
interpreter.set_input(x, 0)
interpreter.invoke()
output = interpreter.get_output(0).flatten().copy()
times = []
for _ in range(runs):
    # The arena reuses the input's memory for activations, so every run
    # needs the input again.
    interpreter.set_input(x, 0)
    start = time.perf_counter()
    interpreter.invoke()
    times.append(time.perf_counter() - start)
print(' '.join(repr(t) for t in times))
print(' '.join(str(int(v)) for v in output))
"#;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = repo
        .parent()
        .unwrap_or(repo)
        .join("shared")
        .join("models")
        .join(MODEL_FILE);
    if !model.is_file() {
        println!(
            "mobilenet benchmark skipped: model {} not found",
            model.display()
        );
        return;
    }
    let runs = std::env::var("FXSIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10);

    let graph = fxsim::import::tflite::read_file(&model).unwrap_or_else(|error| panic!("{error}"));
    let input = random_int8_input(&graph);
    let fxsim = time_fxsim(&graph, &input, runs);

    let input_path =
        std::env::temp_dir().join(format!("fxsim-bench-input-{}.npy", std::process::id()));
    let file = std::fs::File::create(&input_path)
        .unwrap_or_else(|error| panic!("failed to create {}: {error}", input_path.display()));
    fxsim::io::write_npy(std::io::BufWriter::new(file), &input)
        .unwrap_or_else(|error| panic!("failed to write {}: {error}", input_path.display()));

    compare_with_tflm(repo, &model, &input_path, runs, &fxsim);
    compare_with_litert(repo, &model, &input_path, runs, &fxsim);
    let _ = std::fs::remove_file(&input_path);
}

/// fxsim's timings and output.
struct FxsimTimes {
    all_threads: Vec<Duration>,
    one_thread: Vec<Duration>,
    output: Vec<i64>,
}

fn time_fxsim(graph: &Graph, input: &TensorValue, runs: usize) -> FxsimTimes {
    let start = Instant::now();
    let executor =
        Executor::new(graph, &Datapath::reference()).unwrap_or_else(|error| panic!("{error}"));
    println!("fxsim: prepare {}", format_ms(start.elapsed()));

    let run_once = || {
        let start = Instant::now();
        let execution = executor
            .run(std::slice::from_ref(input))
            .unwrap_or_else(|error| panic!("{error}"));
        (start.elapsed(), execution)
    };
    let (_, execution) = run_once();
    let output = graph
        .outputs
        .first()
        .and_then(|&id| execution.values[id].as_ref())
        .map(TensorValue::to_i64_vec)
        .unwrap_or_default();
    let all_threads: Vec<Duration> = (0..runs).map(|_| run_once().0).collect();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let one_thread: Vec<Duration> = pool.install(|| (0..runs).map(|_| run_once().0).collect());

    let threads = rayon::current_num_threads();
    println!(
        "fxsim, {threads} threads: median {} over {runs} runs",
        format_ms(median(&all_threads))
    );
    println!(
        "fxsim, 1 thread: median {} over {runs} runs",
        format_ms(median(&one_thread))
    );
    FxsimTimes {
        all_threads,
        one_thread,
        output,
    }
}

/// Times the TFLite Micro reference kernels and prints the ratios and
/// whether the outputs agree.
fn compare_with_tflm(
    repo: &Path,
    model: &Path,
    input_path: &Path,
    runs: usize,
    fxsim: &FxsimTimes,
) {
    let name = "TFLite Micro reference kernels";
    let Some(python) = python_from_env("FXSIM_ORACLE_PYTHON").or_else(|| venv_python(repo)) else {
        println!("{name}: skipped, oracle Python not found (set FXSIM_ORACLE_PYTHON or create .venv-oracle)");
        return;
    };
    let runs = runs.to_string();
    let args = [model.as_os_str(), input_path.as_os_str(), runs.as_ref()];
    let stdout = match run_python(&python, &["-c".as_ref(), TFLM_SCRIPT.as_ref()], &args) {
        Ok(stdout) => stdout,
        Err(error) => {
            println!("{name}: skipped, {error}");
            return;
        }
    };

    let mut lines = stdout.lines();
    let times: Result<Vec<Duration>, _> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|t| t.parse::<f64>().map(Duration::from_secs_f64))
        .collect();
    let output: Result<Vec<i64>, _> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::parse)
        .collect();
    let (Ok(times), Ok(output)) = (times, output) else {
        println!("{name}: skipped, unreadable output from the timing script: {stdout}");
        return;
    };
    if times.is_empty() {
        println!("{name}: skipped, the timing script printed no times");
        return;
    }

    let reference = median(&times);
    println!(
        "{name}: median {} over {} runs",
        format_ms(reference),
        times.len()
    );
    report_ratio(name, reference, fxsim, true);
    let same = if output == fxsim.output {
        "equal"
    } else {
        "DIFFERENT"
    };
    println!("outputs of fxsim and {name}: {same}");
}

/// Times the LiteRT interpreter with `scripts/bench_litert.py` when
/// `FXSIM_LITERT_PYTHON` is set, and prints the ratios.
fn compare_with_litert(
    repo: &Path,
    model: &Path,
    input_path: &Path,
    runs: usize,
    fxsim: &FxsimTimes,
) {
    let Some(python) = python_from_env("FXSIM_LITERT_PYTHON") else {
        println!("LiteRT: skipped, set FXSIM_LITERT_PYTHON to a Python with TensorFlow to compare");
        return;
    };
    let script = repo.join("scripts").join("bench_litert.py");
    let runs = runs.to_string();
    let args = [
        model.as_os_str(),
        input_path.as_os_str(),
        "--repeat".as_ref(),
        runs.as_ref(),
    ];
    let stdout = match run_python(&python, &[script.as_os_str()], &args) {
        Ok(stdout) => stdout,
        Err(error) => {
            println!("LiteRT: skipped, {error}");
            return;
        }
    };
    // Lines `litert_<kernels>_seconds S`, one per op resolver.
    for line in stdout.lines() {
        let mut fields = line.split_whitespace();
        let (Some(label), Some(seconds)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some(kernels) = label
            .strip_prefix("litert_")
            .and_then(|l| l.strip_suffix("_seconds"))
        else {
            continue;
        };
        let Ok(seconds) = seconds.parse::<f64>() else {
            continue;
        };
        let name = format!("LiteRT {kernels} kernels");
        println!(
            "{name}: median {}",
            format_ms(Duration::from_secs_f64(seconds))
        );
        report_ratio(
            &name,
            Duration::from_secs_f64(seconds),
            fxsim,
            kernels == "reference",
        );
    }
}

/// Prints fxsim's median over `baseline`, with the target verdict for
/// reference-kernel baselines.
fn report_ratio(name: &str, baseline: Duration, fxsim: &FxsimTimes, with_target: bool) {
    let ratio = median(&fxsim.all_threads).as_secs_f64() / baseline.as_secs_f64();
    let ratio_one = median(&fxsim.one_thread).as_secs_f64() / baseline.as_secs_f64();
    let verdict = match (with_target, ratio <= TARGET_RATIO) {
        (false, _) => String::new(),
        (true, true) => format!(" (within the target {TARGET_RATIO})"),
        (true, false) => format!(" (ABOVE the target {TARGET_RATIO})"),
    };
    println!("ratio fxsim / {name}: {ratio:.3}{verdict}; with 1 thread: {ratio_one:.3}");
}

/// Runs `python` with `leading` then `args` and returns its stdout, or a
/// description of the failure with the end of its stderr.
fn run_python(
    python: &Path,
    leading: &[&std::ffi::OsStr],
    args: &[&std::ffi::OsStr],
) -> Result<String, String> {
    let output = Command::new(python)
        .args(leading)
        .args(args)
        .output()
        .map_err(|error| format!("failed to start {}: {error}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        tail.reverse();
        return Err(format!(
            "{} exited with {}: {}",
            python.display(),
            output.status,
            tail.join(" / ")
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Generates a seeded int8 tensor for the graph's single input (splitmix64
/// bytes).
fn random_int8_input(graph: &Graph) -> TensorValue {
    let tensor = graph.tensor(graph.inputs[0]);
    assert_eq!(tensor.dtype, DataType::Int8, "benchmark input must be int8");
    let mut state = INPUT_SEED;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u8 as i8
    };
    let data = (0..tensor.element_count()).map(|_| next()).collect();
    TensorValue {
        shape: tensor.shape.clone(),
        data: TensorData::I8(data),
    }
}

fn python_from_env(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn venv_python(repo: &Path) -> Option<PathBuf> {
    let venv = repo.join(".venv-oracle").join("bin").join("python");
    venv.exists().then_some(venv)
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn format_ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}
