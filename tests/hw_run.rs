//! A hardware description with the reference arithmetic (int8 operands, a
//! wrapping accumulator of at least 32 bits, TFLite requantisation) runs
//! every tensor of every shared model exactly as the reference datapath
//! does, whatever the array's row count.

mod common;

use fxsim::exec::{Datapath, Executor, TensorData, TensorValue};
use fxsim::hw::{apply_override, HwConfig};
use fxsim::import::tflite::read_file;

fn random_value(shape: &[usize], seed: u64) -> TensorValue {
    let count: usize = shape.iter().product();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8 as i8
        })
        .collect();
    TensorValue {
        shape: shape.to_vec(),
        data: TensorData::I8(data),
    }
}

fn config_with(rows: i64, accumulator_bits: i64) -> HwConfig {
    let path = common::repo_dir().join("examples/hw/zynq7020.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut value: toml::Value = toml::from_str(&text).unwrap();
    apply_override(&mut value, "array.rows", toml::Value::Integer(rows)).unwrap();
    apply_override(
        &mut value,
        "datapath.accumulator.bits",
        toml::Value::Integer(accumulator_bits),
    )
    .unwrap();
    HwConfig::from_toml_value(&value, &path.display().to_string()).unwrap()
}

#[test]
fn reference_equivalent_hw_equals_reference_on_shared_models() {
    let models = require_shared_models!();
    for name in [
        "person_detect.tflite",
        "micro_speech_quantized.tflite",
        "hello_world_int8.tflite",
        "mobilenet_v2_quantized_1x3x224x224.tflite",
    ] {
        let graph = read_file(models.join(name)).unwrap();
        let shape = graph.tensor(graph.inputs[0]).shape.clone();
        let reference = Executor::new(&graph, &Datapath::reference()).unwrap();
        for (rows, bits) in [(1, 32), (8, 32), (27, 32), (8, 33), (16, 64)] {
            let config = config_with(rows, bits);
            config.check_graph(&graph).unwrap();
            let datapaths = config.datapaths(&graph);
            let configured = Executor::with_datapaths(&graph, |i| datapaths[i].clone()).unwrap();
            let input = [random_value(&shape, rows as u64)];
            let expected = reference.run(&input).unwrap();
            let got = configured.run(&input).unwrap();
            for (id, (e, g)) in expected.values.iter().zip(&got.values).enumerate() {
                assert_eq!(
                    e,
                    g,
                    "{name}, rows {rows}: tensor {id} ({}) differs",
                    graph.tensor(id).name
                );
            }
        }
    }
}
