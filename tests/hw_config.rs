//! Hardware descriptions end to end: rejected files and their messages, the
//! example descriptions, serialisation round trips, per-layer overrides and
//! dotted-path overrides.
//!
//! Limitation: message checks look for fragments (key, value, allowed
//! values), not whole strings, so rewording a message keeps them passing as
//! long as it still names all three.

use fxsim::hw::{
    apply_override, parse_override, BiasMode, Dataflow, DatapathConfig, DspType, HwConfig, HwError,
    Part, Requant,
};
use fxsim::numeric::{IntFormat, Overflow, Rounding};
use std::path::{Path, PathBuf};

const ORIGIN: &str = "bad.toml";

/// A description that must be rejected, and fragments its message must
/// contain besides the origin.
struct BadCase {
    name: &'static str,
    text: &'static str,
    fragments: &'static [&'static str],
}

const BAD_CASES: &[BadCase] = &[
    BadCase {
        name: "zero rows",
        text: "[array]\nrows = 0\n",
        fragments: &["array.rows", "= 0", "1..=256"],
    },
    BadCase {
        name: "negative cols",
        text: "[array]\ncols = -4\n",
        fragments: &["array.cols", "-4", "1..=256"],
    },
    BadCase {
        name: "65-bit accumulator",
        text: "[datapath]\naccumulator = { bits = 65 }\n",
        fragments: &["datapath.accumulator.bits", "65", "8..=64"],
    },
    BadCase {
        name: "0-bit weights",
        text: "[datapath]\nweight = \"int0\"\n",
        fragments: &["datapath.weight", "int0", "int1..int16", "uint1..uint16"],
    },
    BadCase {
        name: "17-bit activations",
        text: "[datapath]\nactivation = \"uint17\"\n",
        fragments: &["datapath.activation", "uint17", "int1..int16"],
    },
    BadCase {
        name: "float activations",
        text: "[datapath]\nactivation = \"float32\"\n",
        fragments: &["datapath.activation", "float32", "int1..int16"],
    },
    BadCase {
        name: "unknown part",
        text: "[device]\npart = \"xc7z045\"\n",
        fragments: &["device.part", "xc7z045", "xc7z010", "xczu9eg", "xcvu9p", "inline table"],
    },
    BadCase {
        name: "unknown rounding mode",
        text: "[datapath]\nrequant = { mode = \"single\", rounding = \"banker\" }\n",
        fragments: &["datapath.requant.rounding", "banker", "half-away", "half-even", "stochastic"],
    },
    BadCase {
        name: "unknown requant mode",
        text: "[datapath]\nrequant = { mode = \"float\" }\n",
        fragments: &["datapath.requant.mode", "float", "tflite", "shift"],
    },
    BadCase {
        name: "unknown key in table",
        text: "[array]\nrows = 8\nrowz = 8\n",
        fragments: &["array.rowz", "rowz", "rows", "line 3, column 1"],
    },
    BadCase {
        name: "unknown top-level table",
        text: "[arrays]\nrows = 8\n",
        fragments: &["arrays", "array", "datapath"],
    },
    BadCase {
        name: "unknown key in layer entry",
        text: "[[layer]]\nmatch = \"1\"\n[[layer]]\nmatch = \"2\"\nactivations = \"int4\"\n",
        fragments: &["layer[1].activations", "activation"],
    },
    BadCase {
        name: "multiplier bits out of range",
        text: "[datapath]\nrequant = { mode = \"fixed\", multiplier_bits = 40 }\n",
        fragments: &["datapath.requant.multiplier_bits", "40", "2..=32"],
    },
    BadCase {
        name: "multiplier bits with single mode",
        text: "[datapath]\nrequant = { mode = \"single\", multiplier_bits = 12 }\n",
        fragments: &["datapath.requant.multiplier_bits", "12", "\"single\"", "\"fixed\""],
    },
    BadCase {
        name: "multiplier bits with default mode",
        text: "[datapath]\nrequant = { multiplier_bits = 12 }\n",
        fragments: &["datapath.requant.multiplier_bits", "12", "\"tflite\"", "\"fixed\""],
    },
    BadCase {
        name: "tflite mode with rounding",
        text: "[datapath]\nrequant = { mode = \"tflite\", rounding = \"half-up\" }\n",
        fragments: &["datapath.requant.rounding", "half-up", "\"tflite\"", "fixes its own rounding"],
    },
    BadCase {
        name: "layer tflite mode with rounding",
        text: "[[layer]]\nmatch = \"0\"\nrequant = { mode = \"tflite\", rounding = \"truncate\" }\n",
        fragments: &["layer[0].requant.rounding", "truncate", "layer[0].requant.mode"],
    },
    BadCase {
        name: "zero clock",
        text: "[device]\nclock_mhz = 0\n",
        fragments: &["device.clock_mhz", "= 0", "from 1 to 1000"],
    },
    BadCase {
        name: "accumulator not a table",
        text: "[datapath]\naccumulator = 32\n",
        fragments: &["datapath.accumulator", "integer `32`", "expected a table"],
    },
    BadCase {
        name: "float rows",
        text: "[array]\nrows = 16.0\n",
        fragments: &["array.rows", "16.0", "expected an integer"],
    },
    BadCase {
        name: "layer as a single table",
        text: "[layer]\nmatch = \"1\"\n",
        fragments: &["layer", "[[layer]]"],
    },
    BadCase {
        name: "clock below 1 MHz",
        text: "[device]\nclock_mhz = 1e-300\n",
        fragments: &["device.clock_mhz", "from 1 to 1000"],
    },
    BadCase {
        name: "huge DRAM port",
        text: "[dram]\nbytes_per_cycle = 4294967295\n",
        fragments: &["dram.bytes_per_cycle", "4294967295", "4096"],
    },
    BadCase {
        name: "clock given in hertz",
        text: "[device]\nclock_mhz = 200e6\n",
        fragments: &["device.clock_mhz", "200000000", "1000"],
    },
    BadCase {
        name: "malformed toml",
        text: "[array]\nrows = = 8\n",
        fragments: &["invalid TOML", "line 2, column"],
    },
    BadCase {
        name: "wrong value type",
        text: "[array]\nrows = \"sixteen\"\n",
        fragments: &["array.rows", "sixteen", "expected an integer"],
    },
    BadCase {
        name: "zero seed",
        text: "[datapath]\nseed = 0\n",
        fragments: &["datapath.seed", "= 0", "1..=4294967295"],
    },
    BadCase {
        name: "zero buffer",
        text: "[buffers]\noutput_kib = 0\n",
        fragments: &["buffers.output_kib", "= 0", "1..="],
    },
    BadCase {
        name: "zero dram width",
        text: "[dram]\nbytes_per_cycle = 0\n",
        fragments: &["dram.bytes_per_cycle", "= 0", "1..="],
    },
    BadCase {
        name: "weight buffer smaller than one tile",
        text: "[array]\nrows = 256\ncols = 256\n[datapath]\nweight = \"int16\"\n[buffers]\nweight_kib = 64\n",
        fragments: &["buffers.weight_kib", "= 64", "at least 128", "131072 bytes"],
    },
    BadCase {
        name: "layer accumulator too wide",
        text: "[[layer]]\nmatch = \"1\"\n[[layer]]\nmatch = \"conv\"\naccumulator = { bits = 70 }\n",
        fragments: &["layer[1].accumulator.bits", "70", "8..=64"],
    },
    BadCase {
        name: "layer entry without match",
        text: "[[layer]]\nweight = \"int4\"\n",
        fragments: &["layer[0]", "match"],
    },
    BadCase {
        name: "empty match",
        text: "[[layer]]\nmatch = \"\"\n",
        fragments: &["layer[0].match", "layer index"],
    },
    BadCase {
        name: "unknown dataflow",
        text: "[array]\ndataflow = \"row-stationary\"\n",
        fragments: &["array.dataflow", "row-stationary", "weight-stationary", "output-stationary"],
    },
    BadCase {
        name: "inline part missing field",
        text: "[device]\npart = { name = \"board\", dsp = 10, dsp_type = \"dsp48e1\", bram36 = 4, lut = 100 }\n",
        fragments: &["device.part", "missing field `ff`"],
    },
    BadCase {
        name: "inline part unknown slice",
        text: "[device]\npart = { name = \"b\", dsp = 1, dsp_type = \"dsp58\", bram36 = 1, lut = 1, ff = 1 }\n",
        fragments: &["device.part.dsp_type", "dsp58", "dsp48e1", "dsp48e2"],
    },
    BadCase {
        name: "lut multiplier threshold too wide",
        text: "[array]\nlut_multiplier_max_bits = 17\n",
        fragments: &["array.lut_multiplier_max_bits", "17", "0..=16"],
    },
    BadCase {
        name: "huge clock in short form",
        text: "[device]\nclock_mhz = 1e300\n",
        fragments: &["device.clock_mhz = 1e300 ", "from 1 to 1000"],
    },
    BadCase {
        name: "inline part without LUTs",
        text: "[device]\npart = { name = \"b\", dsp = 0, dsp_type = \"dsp48e1\", bram36 = 0, lut = 0, ff = 1 }\n",
        fragments: &["device.part.lut = 0", "every FPGA has LUTs", "dsp, bram36 and uram may be 0"],
    },
];

#[test]
fn bad_configs_name_key_value_and_allowed() {
    for case in BAD_CASES {
        let result = HwConfig::from_toml_str(case.text, ORIGIN);
        let Err(error) = result else {
            panic!("case {:?} was accepted", case.name);
        };
        let message = error.to_string();
        assert!(
            message.starts_with(ORIGIN),
            "case {:?}: no origin in {message:?}",
            case.name
        );
        for fragment in case.fragments {
            assert!(
                message.contains(fragment),
                "case {:?}: {fragment:?} missing from {message:?}",
                case.name
            );
        }
        assert!(
            !message.ends_with('.'),
            "case {:?}: trailing period in {message:?}",
            case.name
        );
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/hw")
        .join(name)
}

#[test]
fn unreadable_file_names_path() {
    let path = example("no-such-file.toml");
    let error = HwConfig::load(&path).unwrap_err();
    assert!(matches!(error, HwError::Read { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("no-such-file.toml"), "{message}");
    assert!(message.contains("cannot read"), "{message}");
}

#[test]
fn error_from_file_names_file_path() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hw_config_bad_rows.toml");
    std::fs::write(&path, "[array]\nrows = 300\n").unwrap();
    let message = HwConfig::load(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(message.contains("array.rows = 300"), "{message}");
}

#[test]
fn example_zynq7020_loads() {
    let config = HwConfig::load(example("zynq7020.toml")).unwrap();
    assert_eq!(config.device.part.device().name, "xc7z020");
    assert_eq!(config.device.part.device().dsp_type, DspType::Dsp48e1);
    assert_eq!((config.array.rows, config.array.cols), (8, 8));
    assert_eq!(config.datapath, DatapathConfig::default());
}

#[test]
fn example_zcu102_loads() {
    let config = HwConfig::load(example("zcu102.toml")).unwrap();
    let device = config.device.part.device();
    assert_eq!(device.name, "xczu9eg");
    assert_eq!(device.dsp, 2520);
    assert_eq!(device.dsp_type.multiplier_widths(), (27, 18));
    assert_eq!((config.array.rows, config.array.cols), (32, 32));
    assert!(config.array.dsp_packing);
}

#[test]
fn example_aggressive_loads() {
    let config = HwConfig::load(example("aggressive.toml")).unwrap();
    let base = config.datapath;
    assert_eq!(base.weight, IntFormat::signed(4).unwrap());
    assert_eq!(base.accumulator.bits, 16);
    assert_eq!(base.accumulator.overflow, Overflow::Saturate);
    assert_eq!(
        base.requant,
        Requant::Shift {
            rounding: Rounding::HalfEven
        }
    );

    let first = config.datapath_for(0, "");
    assert_eq!(first.weight, IntFormat::INT8);
    assert_eq!(first.accumulator.bits, 24);
    assert_eq!(first.accumulator.overflow, Overflow::Saturate);
    assert_eq!(first.requant, Requant::Tflite);
}

#[test]
fn example_aggressive_matches_tiny_model() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny/model.tflite");
    let graph = fxsim::import::tflite::read_file(&model).unwrap();
    let config = HwConfig::load(example("aggressive.toml")).unwrap();
    config.check_graph(&graph).unwrap();
}

#[test]
fn defaults_round_trip_through_toml() {
    let defaults = HwConfig::default();
    let text = defaults.to_toml_string().unwrap();
    let back = HwConfig::from_toml_str(&text, &defaults.origin).unwrap();
    assert_eq!(back, defaults);
    assert_eq!(
        HwConfig::from_toml_str("", &defaults.origin).unwrap(),
        defaults
    );
}

#[test]
fn serde_round_trip_keeps_overrides_and_inline_part() {
    let text = r#"
        [device]
        part = { name = "board", dsp = 90, dsp_type = "dsp48e2", bram36 = 50, lut = 30000, ff = 60000 }
        clock_mhz = 187.5
        [datapath]
        requant = { mode = "fixed", multiplier_bits = 12, rounding = "stochastic" }
        seed = 12345
        [[layer]]
        match = "conv"
        accumulator = { overflow = "saturate" }
        [[layer]]
        match = 4
        requant = { rounding = "truncate" }
    "#;
    let config = HwConfig::from_toml_str(text, "inline.toml").unwrap();
    assert!(matches!(config.device.part, Part::Inline(_)));

    let written = config.to_toml_string().unwrap();
    let back = HwConfig::from_toml_str(&written, "inline.toml").unwrap();
    assert_eq!(back, config, "written:\n{written}");

    let json = serde_json::to_string(&config).unwrap();
    let mut from_json: HwConfig = serde_json::from_str(&json).unwrap();
    from_json.origin = config.origin.clone();
    assert_eq!(from_json, config);
}

#[test]
fn same_text_gives_same_config() {
    let text = std::fs::read_to_string(example("aggressive.toml")).unwrap();
    let first = HwConfig::from_toml_str(&text, "a.toml").unwrap();
    let second = HwConfig::from_toml_str(&text, "a.toml").unwrap();
    assert_eq!(first, second);
    assert_eq!(
        first.to_toml_string().unwrap(),
        second.to_toml_string().unwrap()
    );
}

const LAYERED: &str = r#"
    [datapath]
    activation = "int8"
    requant = { mode = "fixed", multiplier_bits = 16, rounding = "half-up" }

    [[layer]]
    match = "3"
    activation = "int4"
    accumulator = { bits = 20, overflow = "saturate" }

    [[layer]]
    match = "conv_b"
    weight = "int6"
    bias = "post"

    [[layer]]
    match = "3"
    activation = "int6"
    requant = { multiplier_bits = 10 }
"#;

#[test]
fn layer_override_by_index_later_wins() {
    let config = HwConfig::from_toml_str(LAYERED, "layered.toml").unwrap();
    let layer = config.datapath_for(3, "conv_a");
    assert_eq!(layer.activation, IntFormat::signed(6).unwrap());
    assert_eq!(layer.accumulator.bits, 20);
    assert_eq!(layer.accumulator.overflow, Overflow::Saturate);
    assert_eq!(
        layer.requant,
        Requant::Fixed {
            multiplier_bits: 10,
            rounding: Rounding::HalfUp
        }
    );
    assert_eq!(layer.weight, IntFormat::INT8);
}

#[test]
fn layer_override_by_name() {
    let config = HwConfig::from_toml_str(LAYERED, "layered.toml").unwrap();
    let layer = config.datapath_for(5, "conv_b");
    assert_eq!(layer.weight, IntFormat::signed(6).unwrap());
    assert_eq!(layer.bias, BiasMode::Post);
    assert_eq!(layer.activation, IntFormat::INT8);
    assert_eq!(config.datapath_for(7, "other"), config.datapath);
}

#[test]
fn layer_override_accepts_integer_match() {
    let text = "[[layer]]\nmatch = 2\nweight = \"uint4\"\n";
    let config = HwConfig::from_toml_str(text, "m.toml").unwrap();
    assert_eq!(
        config.datapath_for(2, "x").weight,
        IntFormat::unsigned(4).unwrap()
    );
}

fn layer_list(names: &[&str]) -> Vec<(usize, String)> {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| (index, name.to_string()))
        .collect()
}

#[test]
fn check_layers_accepts_matching_overrides() {
    let config = HwConfig::from_toml_str(LAYERED, "layered.toml").unwrap();
    let layers = layer_list(&["in", "a", "b", "conv_a", "d", "conv_b"]);
    config.check_layers(&layers).unwrap();
}

#[test]
fn check_layers_rejects_unmatched_override() {
    let config = HwConfig::from_toml_str(LAYERED, "layered.toml").unwrap();
    let layers = layer_list(&["in", "a", "b", "conv_a"]);
    let message = config.check_layers(&layers).unwrap_err().to_string();
    assert!(message.starts_with("layered.toml"), "{message}");
    assert!(message.contains("layer[1].match = \"conv_b\""), "{message}");
    assert!(message.contains("matches no layer"), "{message}");
    assert!(message.contains("0..=3"), "{message}");
    assert!(message.contains("\"conv_a\""), "{message}");
}

#[test]
fn check_layers_rejects_rounding_under_inherited_tflite() {
    let text = "[[layer]]\nmatch = \"1\"\nrequant = { rounding = \"truncate\" }\n";
    let config = HwConfig::from_toml_str(text, "r.toml").unwrap();
    assert_eq!(config.datapath_for(1, "b").requant, Requant::Tflite);

    let message = config
        .check_layers(&layer_list(&["a", "b"]))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("layer[0].requant.rounding = \"truncate\""),
        "{message}"
    );
    assert!(message.contains("layer 1 (b)"), "{message}");
    assert!(message.contains("datapath.requant.mode"), "{message}");
}

#[test]
fn dotted_override_changes_field() {
    let mut document = HwConfig::default().to_toml_value().unwrap();
    apply_override(&mut document, "array.rows", toml::Value::Integer(32)).unwrap();
    let (path, value) = parse_override("datapath.accumulator.bits = 20").unwrap();
    apply_override(&mut document, &path, value).unwrap();
    let (path, value) = parse_override("array.dataflow=output-stationary").unwrap();
    apply_override(&mut document, &path, value).unwrap();

    let config = HwConfig::from_toml_value(&document, "sweep point 1").unwrap();
    assert_eq!(config.array.rows, 32);
    assert_eq!(config.array.cols, 16);
    assert_eq!(config.array.dataflow, Dataflow::OutputStationary);
    assert_eq!(config.datapath.accumulator.bits, 20);
}

#[test]
fn dotted_override_on_empty_document() {
    let mut document = toml::Value::Table(toml::Table::new());
    apply_override(&mut document, "device.part", "xcvu9p".into()).unwrap();
    let config = HwConfig::from_toml_value(&document, "sweep").unwrap();
    assert_eq!(config.device.part.device().uram, 960);
}

#[test]
fn dotted_override_rejects_unknown_path() {
    let mut document = HwConfig::default().to_toml_value().unwrap();
    let error = apply_override(&mut document, "datapath.accumulator.width", 20.into()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("datapath.accumulator.width"), "{message}");
    assert!(message.contains("bits, overflow"), "{message}");
}

#[test]
fn dotted_override_invalid_value_names_key() {
    let mut document = HwConfig::default().to_toml_value().unwrap();
    apply_override(&mut document, "datapath.accumulator.bits", 65.into()).unwrap();
    let message = HwConfig::from_toml_value(&document, "sweep point 7")
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("sweep point 7"), "{message}");
    assert!(
        message.contains("datapath.accumulator.bits = 65"),
        "{message}"
    );

    let mut document = HwConfig::default().to_toml_value().unwrap();
    apply_override(&mut document, "array.dataflow", "diagonal".into()).unwrap();
    let message = HwConfig::from_toml_value(&document, "sweep point 8")
        .unwrap_err()
        .to_string();
    assert!(message.contains("array.dataflow"), "{message}");
    assert!(message.contains("diagonal"), "{message}");
    assert!(
        !message.contains("line"),
        "generated text has no useful line: {message}"
    );
}

#[test]
fn validate_rechecks_changed_values() {
    let mut config = HwConfig::default();
    config.validate().unwrap();
    config.array.rows = 0;
    let message = config.validate().unwrap_err().to_string();
    assert!(message.contains("array.rows = 0"), "{message}");
}

#[test]
fn full_vivado_part_name_resolves() {
    let config =
        HwConfig::from_toml_str("[device]\npart = \"xczu7ev-ffvc1156-2-e\"\n", "p.toml").unwrap();
    let device = config.device.part.device();
    assert_eq!(device.name, "xczu7ev");
    assert_eq!(device.uram, 96);
}

#[test]
fn documented_example_loads() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hardware-config.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let section = doc
        .split("## Example")
        .nth(1)
        .expect("docs have an Example section");
    let block = section
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Example section has a toml block");
    let config = HwConfig::from_toml_str(block, "docs/hardware-config.md").unwrap();
    assert_eq!(
        config.datapath_for(3, "").weight,
        IntFormat::signed(4).unwrap()
    );
}

#[test]
fn override_on_layer_without_accumulator_warns() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny/model.tflite");
    let graph = fxsim::import::tflite::read_file(&model).unwrap();
    assert_eq!(graph.ops[2].kind.name(), "MAX_POOL_2D");
    let config =
        HwConfig::from_toml_str("[[layer]]\nmatch = \"2\"\nweight = \"int4\"\n", "bad.toml")
            .unwrap();
    config.check_graph(&graph).unwrap();
    let warnings = config.ineffective_overrides(&graph);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let message = &warnings[0];
    assert!(message.contains("layer[0].match = \"2\""), "{message}");
    assert!(message.contains("op 2 (MAX_POOL_2D)"), "{message}");
    assert!(message.contains("no accumulator"), "{message}");
}
