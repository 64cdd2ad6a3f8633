//! Times a design-space sweep of timing and resources (no execution) on
//! mobilenet_v2: a grid of 10,000 hardware descriptions around
//! examples/hw/zcu102.toml, evaluated on a 2-thread rayon pool, and prints
//! points per second. The target is 10,000 points in under 10 seconds on 2
//! cores.
//!
//! Run with `cargo bench --bench sweep`. `FXSIM_BENCH_THREADS` sets the
//! thread count (default 2). The model is read from `../shared/models`
//! beside the repository; when it is missing the benchmark prints that
//! and exits successfully.
//!
//! Limitation: wall-clock time on whatever machine runs it, with no
//! isolation from other load.

use fxsim::analysis::accum::NoProgress;
use fxsim::hw::HwConfig;
use fxsim::sweep::{evaluate, Grid};
use std::path::Path;
use std::time::Instant;

const MODEL: &str = "../shared/models/mobilenet_v2_quantized_1x3x224x224.tflite";

/// 5 x 5 x 4 x 2 x 5 x 5 x 2 = 10,000 points.
const GRID: &str = r#"
"array.rows" = [4, 8, 16, 32, 64]
"array.cols" = [4, 8, 16, 32, 64]
"datapath.accumulator.bits" = [16, 20, 24, 32]
"datapath.accumulator.overflow" = ["wrap", "saturate"]
"buffers.weight_kib" = [16, 32, 64, 128, 256]
"buffers.input_kib" = [16, 32, 64, 128, 256]
"dram.bytes_per_cycle" = [8, 16]
"#;

/// The bar: points per second on 2 cores.
const TARGET_POINTS_PER_SECOND: f64 = 1000.0;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = repo.join(MODEL);
    if !model.exists() {
        println!("skipped: {} not found", model.display());
        return;
    }
    let threads: usize = std::env::var("FXSIM_BENCH_THREADS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(2);

    let graph = fxsim::import::tflite::read_file(&model).expect("mobilenet_v2 reads");
    let hw = HwConfig::load(repo.join("examples/hw/zcu102.toml")).expect("zcu102.toml reads");
    let base = hw.to_toml_value().expect("the description serialises");
    let grid = Grid::from_toml_str(GRID, "bench grid", &base).expect("the grid parses");
    let points = grid.point_count();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");

    let started = Instant::now();
    let (evaluated, _) = pool
        .install(|| {
            evaluate(
                &graph,
                &base,
                &hw.origin,
                &grid,
                0..points,
                None,
                &NoProgress,
            )
        })
        .expect("the sweep runs");
    let seconds = started.elapsed().as_secs_f64();

    let valid = evaluated
        .iter()
        .filter(|point| point.invalid.is_none())
        .count();
    let rate = points as f64 / seconds;
    println!(
        "sweep: mobilenet_v2, {points} points ({valid} valid), {threads} threads: \
         {seconds:.2} s, {rate:.0} points/s (target {TARGET_POINTS_PER_SECOND:.0} on 2 threads)"
    );
}
