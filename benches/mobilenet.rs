//! Times fxsim's reference datapath on mobilenet_v2 (about 300M MACs)
//! against the TFLite Micro reference kernels on the same input, and prints
//! the ratio of the medians (the target is at most 0.25).
//!
//! Run with `cargo bench --bench mobilenet`. fxsim is timed with rayon's
//! default pool (all cores) and with one thread; the TFLite Micro
//! interpreter runs single-threaded in a Python subprocess that times
//! `invoke()` alone, so Python start-up and model loading are not counted.
//! The benchmark also checks that both produce the same output.
//!
//! Settings come from the environment: `FXSIM_BENCH_RUNS` (timed runs per
//! engine, default 10) and `FXSIM_ORACLE_PYTHON` (the oracle environment's
//! Python; default `<repo>/.venv-oracle/bin/python`). The model is read from
//! `../shared/models` beside the repository. When the model or the Python is
//! missing the benchmark prints why and exits successfully.
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

/// A timed engine that runs outside this process: the reference interpreter
/// today; the LiteRT default (optimised) kernels are the next entry.
struct Baseline {
    name: &'static str,
    /// A Python program taking `MODEL INPUT_BYTES RUNS`; it prints one line
    /// of per-run seconds and one line of the output's int8 values.
    script: &'static str,
}

/// The engines fxsim is compared with.
///
/// Hook: a LiteRT entry (the default kernels, via `ai_edge_litert`'s
/// `Interpreter`) goes here with the same script contract; it is reported
/// like the others but is not expected to produce the same output, because
/// the optimised kernels are not bit-exact with the reference.
fn baselines() -> Vec<Baseline> {
    vec![Baseline { name: "TFLite Micro reference kernels", script: TFLM_SCRIPT }]
}

const TFLM_SCRIPT: &str = r#"
import sys, time
import numpy as np
from tflite_micro import runtime

model, input_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
interpreter = runtime.Interpreter.from_bytes(open(model, 'rb').read())
details = interpreter.get_input_details(0)
x = np.fromfile(input_path, dtype=np.int8).reshape(details['shape'])
x = x.astype(details['dtype'])
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
    let model = repo.parent().unwrap_or(repo).join("shared").join("models").join(MODEL_FILE);
    if !model.is_file() {
        println!("mobilenet benchmark skipped: model {} not found", model.display());
        return;
    }
    let runs = std::env::var("FXSIM_BENCH_RUNS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0).unwrap_or(10);

    let graph = fxsim::import::tflite::read_file(&model).unwrap_or_else(|error| panic!("{error}"));
    let input = random_int8_input(&graph);
    let fxsim = time_fxsim(&graph, &input, runs);

    let Some(python) = oracle_python(repo) else {
        println!("reference comparison skipped: oracle Python not found (set FXSIM_ORACLE_PYTHON or create .venv-oracle)");
        return;
    };
    let input_path = std::env::temp_dir().join(format!("fxsim-bench-input-{}.bin", std::process::id()));
    let TensorData::I8(bytes) = &input.data else { unreachable!("random_int8_input builds int8 data") };
    std::fs::write(&input_path, bytes.iter().map(|&b| b as u8).collect::<Vec<u8>>())
        .unwrap_or_else(|error| panic!("failed to write {}: {error}", input_path.display()));

    for baseline in baselines() {
        match time_baseline(&baseline, &python, &model, &input_path, runs) {
            Ok((times, output)) => report_baseline(&baseline, &times, &output, &fxsim),
            Err(error) => println!("{}: skipped: {error}", baseline.name),
        }
    }
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
    let executor = Executor::new(graph, &Datapath::reference()).unwrap_or_else(|error| panic!("{error}"));
    println!("fxsim: prepare {:.1} ms", start.elapsed().as_secs_f64() * 1e3);

    let run_once = || {
        let start = Instant::now();
        let execution = executor.run(std::slice::from_ref(input)).unwrap_or_else(|error| panic!("{error}"));
        (start.elapsed(), execution)
    };
    let (_, execution) = run_once();
    let output = graph.outputs.first().and_then(|&id| execution.values[id].as_ref()).map(TensorValue::to_i64_vec).unwrap_or_default();
    let all_threads: Vec<Duration> = (0..runs).map(|_| run_once().0).collect();

    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap_or_else(|error| panic!("{error}"));
    let one_thread: Vec<Duration> = pool.install(|| (0..runs).map(|_| run_once().0).collect());

    let threads = rayon::current_num_threads();
    println!("fxsim, {threads} threads: median {} over {runs} runs", format_ms(median(&all_threads)));
    println!("fxsim, 1 thread: median {} over {runs} runs", format_ms(median(&one_thread)));
    FxsimTimes { all_threads, one_thread, output }
}

fn time_baseline(
    baseline: &Baseline,
    python: &Path,
    model: &Path,
    input_path: &Path,
    runs: usize,
) -> Result<(Vec<Duration>, Vec<i64>), String> {
    let output = Command::new(python)
        .arg("-c")
        .arg(baseline.script)
        .arg(model)
        .arg(input_path)
        .arg(runs.to_string())
        .output()
        .map_err(|error| format!("failed to start {}: {error}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!("{} exited with {}: {}", python.display(), output.status, tail.into_iter().rev().collect::<Vec<_>>().join(" / ")));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let times = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|t| t.parse::<f64>().map(Duration::from_secs_f64))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("invalid timing line: {error}"))?;
    let values = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(|v| v.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("invalid output line: {error}"))?;
    if times.is_empty() {
        return Err("no timings printed".to_string());
    }
    Ok((times, values))
}

fn report_baseline(baseline: &Baseline, times: &[Duration], output: &[i64], fxsim: &FxsimTimes) {
    let reference = median(times);
    println!("{}: median {} over {} runs", baseline.name, format_ms(reference), times.len());
    let ratio = median(&fxsim.all_threads).as_secs_f64() / reference.as_secs_f64();
    let ratio_one = median(&fxsim.one_thread).as_secs_f64() / reference.as_secs_f64();
    let verdict = if ratio <= TARGET_RATIO { "within" } else { "above" };
    println!("ratio fxsim / {}: {ratio:.3} ({verdict} the target {TARGET_RATIO}); with 1 thread: {ratio_one:.3}", baseline.name);
    let same = if output == fxsim.output { "equal" } else { "DIFFERENT" };
    println!("outputs of fxsim and {}: {same}", baseline.name);
}

/// A seeded int8 tensor for the graph's single input (splitmix64 bytes).
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
    TensorValue { shape: tensor.shape.clone(), data: TensorData::I8(data) }
}

fn oracle_python(repo: &Path) -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("FXSIM_ORACLE_PYTHON").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(python));
    }
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
