//! Fuzz target: any text through the hardware-description reader; a
//! description it accepts must survive a round trip through TOML, and is
//! then checked against the example model, estimated on it, and run on it.
//! Each line of the text is also tried as a dotted-path override
//! (`array.rows = 32`) on the default description.
//!
//! Limitation: only the example model (examples/tiny) is used, so layer
//! selectors by name reach only its few layer names.

#![no_main]

use fxsim::exec::{Executor, TensorValue};
use fxsim::hw::HwConfig;
use fxsim::model::Graph;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const MODEL: &[u8] = include_bytes!("../../examples/tiny/model.tflite");
const INPUT: &[u8] = include_bytes!("../../examples/tiny/input.npy");

fn example() -> &'static (Graph, TensorValue) {
    static EXAMPLE: OnceLock<(Graph, TensorValue)> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let graph = fxsim::import::tflite::read_bytes(MODEL, "model.tflite")
            .expect("the example model reads");
        let input = fxsim::io::read_npy_bytes(INPUT, std::path::Path::new("input.npy"))
            .expect("the example input reads");
        (graph, input)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    for line in text.lines().take(4) {
        apply_line_as_override(line);
    }
    let Ok(config) = HwConfig::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    let written = config.to_toml_string().expect("a valid description serialises");
    let read_back = HwConfig::from_toml_str(&written, "fuzz.toml")
        .unwrap_or_else(|error| panic!("a written description reads back: {error}\n{written}"));
    assert_eq!(read_back, config, "a description changes in a TOML round trip");

    let (graph, input) = example();
    if config.check_graph(graph).is_err() {
        return;
    }
    let _ = config.ineffective_overrides(graph);
    let _ = fxsim::timing::estimate(graph, &config);
    let _ = fxsim::resources::estimate(&config, Some(graph));
    let datapaths = config.datapaths(graph);
    let Ok(executor) = Executor::with_datapaths(graph, |index| datapaths[index].clone()) else {
        return;
    };
    let _ = executor.run(std::slice::from_ref(input));
});

/// Applies `line` as a `PATH = VALUE` override to the default description
/// and validates the result, as a sweep or `--set` does.
fn apply_line_as_override(line: &str) {
    let Ok((path, value)) = fxsim::hw::parse_override(line) else {
        return;
    };
    let mut document = HwConfig::default()
        .to_toml_value()
        .expect("the default description serialises");
    if fxsim::hw::apply_override(&mut document, &path, value).is_ok() {
        let _ = HwConfig::from_toml_value(&document, "override");
    }
}
