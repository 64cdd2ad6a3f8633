//! Fuzz target: any bytes through the TFLite reader, then everything that
//! reads a graph without input data (the `inspect` summary, the timing and
//! resource estimates, the executor's preparation), and runs on zero
//! inputs when the graph is small: on the reference datapath and on a
//! narrow one (4-bit operands, a saturating 12-bit accumulator, stochastic
//! rounding).
//!
//! Limitation: the tensor limits are far below the defaults, so that every
//! accepted graph runs in milliseconds. A run is tried only when the model
//! has one input of a type the executor takes and few MACs.

#![no_main]

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::hw::HwConfig;
use fxsim::import::ImportOptions;
use fxsim::model::{DataType, Graph};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Limits small enough that no accepted graph allocates more than a few MiB.
const LIMITS: ImportOptions = ImportOptions {
    max_tensor_bytes: 1 << 20,
    max_total_bytes: 8 << 20,
};

/// Most multiply-accumulates a fuzzed graph may take to be run.
const MAX_RUN_MACS: u64 = 1 << 20;

fuzz_target!(|bytes: &[u8]| {
    let Ok(graph) = fxsim::import::tflite::read_bytes_with(bytes, "fuzz.tflite", &LIMITS) else {
        return;
    };
    let _ = fxsim::report::inspect::inspect(&graph, "fuzz.tflite");
    let hw = HwConfig::default();
    let _ = fxsim::timing::estimate(&graph, &hw);
    let _ = fxsim::resources::estimate(&hw, Some(&graph));
    let Ok(executor) = Executor::new(&graph, &Datapath::reference()) else {
        return;
    };
    let Some(input) = zero_input(&graph) else {
        return;
    };
    let inputs = [input];
    let _ = executor.run(&inputs);

    let datapaths = narrow_hw().datapaths(&graph);
    if let Ok(narrow) = Executor::with_datapaths(&graph, |index| datapaths[index].clone()) {
        let _ = narrow.run(&inputs);
    }
});

/// Returns a datapath far from the reference, which reaches the
/// narrow-format paths of the kernels.
fn narrow_hw() -> &'static HwConfig {
    static NARROW: OnceLock<HwConfig> = OnceLock::new();
    NARROW.get_or_init(|| {
        let text = r#"
            [array]
            rows = 4
            cols = 4
            [datapath]
            activation = "uint4"
            weight = "int4"
            accumulator = { bits = 12, overflow = "saturate" }
            bias = "post"
            zero_point = "fold"
            requant = { mode = "fixed", multiplier_bits = 8, rounding = "stochastic" }
            seed = 99
        "#;
        HwConfig::from_toml_str(text, "narrow.toml").expect("the narrow description is valid")
    })
}

/// Builds an all-zero value for the graph's only input, or `None` when the
/// graph is too costly to run or its input has another type.
fn zero_input(graph: &Graph) -> Option<TensorValue> {
    let macs = graph
        .ops
        .iter()
        .map(|op| fxsim::model::cost::macs(graph, op))
        .fold(0u64, u64::saturating_add);
    if macs > MAX_RUN_MACS {
        return None;
    }
    let [id] = graph.inputs.as_slice() else {
        return None;
    };
    let tensor = graph.get_tensor(*id)?;
    let count = tensor.element_count();
    let data = match tensor.dtype {
        DataType::Int8 => TensorData::I8(vec![0; count]),
        DataType::UInt8 => TensorData::U8(vec![0; count]),
        DataType::Int16 => TensorData::I16(vec![0; count]),
        DataType::Int32 => TensorData::I32(vec![0; count]),
        DataType::Float32 => TensorData::F32(vec![0.0; count]),
        _ => return None,
    };
    Some(TensorValue {
        shape: tensor.shape.clone(),
        data,
    })
}
