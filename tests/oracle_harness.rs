//! Self-test of the oracle harness in `tests/common`: .npy reading and
//! writing, seeded inputs, BMP decoding, comparison messages, and oracle
//! runs on the shared and generated models.
//!
//! Tests that need `../shared` or the oracle Python print `skipped: ...`
//! and pass when those are absent.

mod common;

use std::path::Path;

use common::{
    bmp_to_int8, compare_tensor, random_input, read_npy, run_oracle, unravel_index, write_npy,
    Difference, ElementType, NpyArray, NpyData,
};

fn scratch_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fxsim-harness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn array(shape: &[usize], data: NpyData) -> NpyArray {
    NpyArray::new(shape.to_vec(), data).unwrap()
}

#[test]
fn npy_round_trip_every_type() {
    let cases = [
        array(&[2, 3], NpyData::I8(vec![-128, -1, 0, 1, 2, 127])),
        array(&[3], NpyData::U8(vec![0, 128, 255])),
        array(&[1, 2], NpyData::I16(vec![i16::MIN, i16::MAX])),
        array(&[2], NpyData::I32(vec![i32::MIN, 7])),
        array(&[2, 1], NpyData::I64(vec![i64::MIN, i64::MAX])),
        array(&[2], NpyData::F32(vec![-0.5, 1.0e-30])),
        array(&[2, 2], NpyData::Bool(vec![true, false, false, true])),
        array(&[], NpyData::I32(vec![42])),
        array(&[0, 4], NpyData::I8(vec![])),
    ];
    for (case, expected) in cases.iter().enumerate() {
        let path = scratch_path(&format!("round_trip_{case}.npy"));
        write_npy(&path, expected).unwrap();
        let got = read_npy(&path).unwrap();
        assert_eq!(&got, expected, "case {case}");
    }
}

/// Builds a version 1.0 .npy file by hand, as numpy lays it out.
fn npy_bytes(descr: &str, fortran_order: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran_order { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    // Magic (6) + version (2) + header length (2) + header + newline is a
    // multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

#[test]
fn npy_fortran_order_becomes_row_major() {
    // Column-major storage of [[1, 2, 3], [4, 5, 6]].
    let path = scratch_path("fortran.npy");
    std::fs::write(&path, npy_bytes("|i1", true, "(2, 3)", &[1, 4, 2, 5, 3, 6])).unwrap();

    let got = read_npy(&path).unwrap();

    assert_eq!(got.shape, vec![2, 3]);
    assert_eq!(got.data, NpyData::I8(vec![1, 2, 3, 4, 5, 6]));
}

#[test]
fn npy_big_endian_int32() {
    let path = scratch_path("big_endian.npy");
    std::fs::write(
        &path,
        npy_bytes(">i4", false, "(2,)", &[0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe]),
    )
    .unwrap();

    let got = read_npy(&path).unwrap();

    assert_eq!(got.data, NpyData::I32(vec![256, -2]));
}

#[test]
fn npy_unsupported_dtype_is_error() {
    let path = scratch_path("float64.npy");
    std::fs::write(&path, npy_bytes("<f8", false, "(1,)", &[0; 8])).unwrap();

    let error = read_npy(&path).unwrap_err();

    assert!(error.contains("unsupported dtype"), "{error}");
    assert!(error.contains("float64.npy"), "{error}");
}

#[test]
fn random_input_is_deterministic() {
    let first = random_input(&[1, 4, 4, 3], ElementType::I8, 7);
    let again = random_input(&[1, 4, 4, 3], ElementType::I8, 7);
    let other_seed = random_input(&[1, 4, 4, 3], ElementType::I8, 8);

    assert_eq!(first, again);
    assert_ne!(first, other_seed);
    assert_eq!(first.shape, vec![1, 4, 4, 3]);
    assert_eq!(first.len(), 48);
}

/// Pins the generator's output so a change to it, which would silently
/// change what every oracle test checks, fails here first.
#[test]
fn random_input_pinned_values() {
    let got = random_input(&[6], ElementType::I8, 0);
    // Computed independently from splitmix64 and xorshift64* in Python.
    assert_eq!(got.data, NpyData::I8(vec![123, -34, -77, -32, 127, 110]));
}

#[test]
fn random_input_covers_type_range() {
    let NpyData::I8(values) = random_input(&[4096], ElementType::I8, 1).data else {
        panic!("expected int8 data");
    };
    assert!(values.contains(&i8::MIN));
    assert!(values.contains(&i8::MAX));

    let NpyData::F32(values) = random_input(&[4096], ElementType::F32, 1).data else {
        panic!("expected float32 data");
    };
    assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
    assert!(values.iter().any(|&v| v < -0.99));
    assert!(values.iter().any(|&v| v > 0.99));
}

#[test]
fn unravel_index_row_major() {
    assert_eq!(unravel_index(&[2, 3, 4], 0), vec![0, 0, 0]);
    assert_eq!(unravel_index(&[2, 3, 4], 5), vec![0, 1, 1]);
    assert_eq!(unravel_index(&[2, 3, 4], 23), vec![1, 2, 3]);
    assert_eq!(unravel_index(&[], 0), Vec::<usize>::new());
}

#[test]
fn compare_reports_first_difference() {
    let model = Path::new("model.tflite");
    let expected = array(&[1, 2, 2, 2], NpyData::I8(vec![0, 1, 2, 3, 4, 5, 6, 7]));
    let got = array(&[1, 2, 2, 2], NpyData::I8(vec![0, 1, 2, 3, 4, -5, 6, 8]));

    let mismatch = compare_tensor(model, 12, "conv/out", &expected, &got).unwrap_err();

    assert_eq!(
        mismatch.difference,
        Difference::Values {
            count: 2,
            total: 8,
            first_flat_index: 5,
            first_coordinates: vec![0, 1, 0, 1],
            expected: "5".to_string(),
            got: "-5".to_string(),
        }
    );
    assert_eq!(
        mismatch.to_string(),
        "model.tflite: tensor 12 \"conv/out\": 2 of 8 elements differ; \
         first at flat index 5 [0, 1, 0, 1]: expected 5, got -5"
    );
}

#[test]
fn compare_equal_tensors_pass() {
    let expected = array(&[2], NpyData::F32(vec![f32::NAN, -0.0]));
    let got = array(&[2], NpyData::F32(vec![f32::NAN, 0.0]));

    assert!(compare_tensor(Path::new("m"), 0, "t", &expected, &got).is_ok());
}

#[test]
fn compare_reports_shape_and_type() {
    let model = Path::new("m.tflite");
    let expected = array(&[1, 4], NpyData::I8(vec![0; 4]));
    let reshaped = array(&[4], NpyData::I8(vec![0; 4]));
    let widened = array(&[1, 4], NpyData::I32(vec![0; 4]));

    let shape = compare_tensor(model, 3, "t", &expected, &reshaped).unwrap_err();
    let element_type = compare_tensor(model, 3, "t", &expected, &widened).unwrap_err();

    assert_eq!(
        shape.to_string(),
        "m.tflite: tensor 3 \"t\": shape differs: expected [1, 4], got [4]"
    );
    assert_eq!(
        element_type.to_string(),
        "m.tflite: tensor 3 \"t\": element type differs: expected int8, got int32"
    );
}

#[test]
fn bmp_to_int8_matches_python_converter() {
    let models = require_shared_models!();
    require_oracle!();
    let python = common::oracle_python().unwrap();
    let converter = common::shared_dir().join("oracle").join("bmp_to_npy.py");

    for image in ["person.bmp", "no_person.bmp"] {
        let npy_path = scratch_path(&format!("{image}.npy"));
        let status = std::process::Command::new(&python)
            .arg(&converter)
            .arg(models.join(image))
            .arg(&npy_path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{} failed on {image}",
            converter.display()
        );

        let expected = read_npy(&npy_path).unwrap();
        let got = bmp_to_int8(&models.join(image)).unwrap();

        common::assert_tensor_eq(Path::new(image), 0, "input", &expected, &got);
    }
}

#[test]
fn bmp_to_int8_rejects_non_bmp() {
    let path = scratch_path("not_a_bmp.bmp");
    std::fs::write(&path, b"GIF89a").unwrap();

    let error = bmp_to_int8(&path).unwrap_err();

    assert!(error.contains("invalid BMP"), "{error}");
}

#[test]
fn person_detect_reference_outputs() {
    let models = require_shared_models!();
    require_oracle!();
    let model = models.join("person_detect.tflite");

    for (image, expected) in [("person.bmp", [-113, 113]), ("no_person.bmp", [57, -57])] {
        let input = bmp_to_int8(&models.join(image)).unwrap();
        let dump = run_oracle(&model, &input).unwrap();

        assert_eq!(
            dump.output,
            array(&[1, 2], NpyData::I8(expected.to_vec())),
            "{image}"
        );
        assert_eq!(dump.tensors.len(), 89);
        assert_eq!(
            dump.tensor(0).unwrap().value.shape,
            dump.tensor(0).unwrap().declared_shape
        );
    }
}

#[test]
fn oracle_dump_is_cached_and_identical() {
    let models = require_shared_models!();
    require_oracle!();
    let model = models.join("hello_world_int8.tflite");
    let input = array(&[1, 1], NpyData::I8(vec![17]));

    let first = run_oracle(&model, &input).unwrap();
    let second = run_oracle(&model, &input).unwrap();

    assert_eq!(first.output, second.output);
    for (a, b) in first.tensors.iter().zip(&second.tensors) {
        assert_eq!(a.value, b.value, "tensor {}", a.index);
    }
    let mismatches = second.compare_all(first.tensors.iter().map(|t| (t.index, &t.value)));
    common::assert_no_mismatches(&mismatches);
}

#[test]
fn oracle_error_names_missing_model() {
    require_oracle!();
    let model = scratch_path("missing.tflite");
    let input = array(&[1], NpyData::I8(vec![0]));

    let error = run_oracle(&model, &input).unwrap_err();

    assert!(error.contains("missing.tflite"), "{error}");
}

#[test]
fn oracle_error_carries_script_failure() {
    require_oracle!();
    let model = scratch_path("garbage.tflite");
    std::fs::write(&model, b"not a flatbuffer").unwrap();
    let input = array(&[1], NpyData::I8(vec![0]));

    let error = run_oracle(&model, &input).unwrap_err();

    assert!(error.starts_with("oracle failed on"), "{error}");
}

/// Input and output of a generated model, as its README lists them.
struct GeneratedModel {
    file: &'static str,
    input_shape: &'static [usize],
    input_type: ElementType,
    output_shape: &'static [usize],
    output_type: ElementType,
}

const fn model(
    file: &'static str,
    input: (&'static [usize], ElementType),
    output: (&'static [usize], ElementType),
) -> GeneratedModel {
    GeneratedModel {
        file,
        input_shape: input.0,
        input_type: input.1,
        output_shape: output.0,
        output_type: output.1,
    }
}

const GENERATED_MODELS: &[GeneratedModel] = &[
    model(
        "conv_dilated.tflite",
        (&[1, 12, 12, 3], ElementType::I8),
        (&[1, 8, 8, 4], ElementType::I8),
    ),
    model(
        "conv_same_stride2.tflite",
        (&[1, 9, 10, 2], ElementType::I8),
        (&[1, 3, 3, 4], ElementType::I8),
    ),
    model(
        "depthwise_multiplier2.tflite",
        (&[1, 8, 8, 3], ElementType::I8),
        (&[1, 3, 3, 12], ElementType::I8),
    ),
    model(
        "elementwise.tflite",
        (&[1, 6, 6, 4], ElementType::I8),
        (&[1, 6, 6, 24], ElementType::I8),
    ),
    model(
        "fully_connected.tflite",
        (&[1, 32], ElementType::I8),
        (&[1, 8], ElementType::I8),
    ),
    model(
        "pad_transpose.tflite",
        (&[1, 5, 6, 3], ElementType::I8),
        (&[1, 4, 6, 5], ElementType::I8),
    ),
    model(
        "pooling.tflite",
        (&[1, 9, 9, 4], ElementType::I8),
        (&[1, 1, 1, 8], ElementType::I8),
    ),
    model(
        "quantize_dequantize.tflite",
        (&[1, 6, 6, 2], ElementType::F32),
        (&[1, 5], ElementType::F32),
    ),
    model(
        "reduce_mean.tflite",
        (&[1, 5, 7, 6], ElementType::I8),
        (&[1, 41], ElementType::I8),
    ),
    model(
        "int16x8_add.tflite",
        (&[1, 4, 4, 3], ElementType::I16),
        (&[1, 4, 4, 3], ElementType::I16),
    ),
    model(
        "int16x8_conv.tflite",
        (&[1, 8, 8, 2], ElementType::I16),
        (&[1, 3, 3, 3], ElementType::I16),
    ),
    model(
        "int16x8_depthwise.tflite",
        (&[1, 8, 8, 3], ElementType::I16),
        (&[1, 3, 3, 6], ElementType::I16),
    ),
    model(
        "int16x8_fully_connected.tflite",
        (&[1, 24], ElementType::I16),
        (&[1, 6], ElementType::I16),
    ),
];

#[test]
fn generated_models_run_on_oracle() {
    require_oracle!();
    let dir = common::test_models_dir();

    for model in GENERATED_MODELS {
        let file = model.file;
        let input = random_input(model.input_shape, model.input_type, 1);
        let dump = run_oracle(&dir.join(file), &input).unwrap();

        assert_eq!(dump.output.shape, model.output_shape, "{file} output shape");
        assert_eq!(
            dump.output.element_type(),
            model.output_type,
            "{file} output type"
        );
        for tensor in &dump.tensors {
            assert_eq!(
                tensor.value.shape, tensor.declared_shape,
                "{file} tensor {}",
                tensor.index
            );
        }
    }
}

#[test]
fn generated_models_all_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(common::test_models_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tflite"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = GENERATED_MODELS
        .iter()
        .map(|m| m.file.to_string())
        .collect();
    listed.sort();

    assert_eq!(on_disk, listed);
}

#[test]
fn tiny_example_runs_on_oracle() {
    require_oracle!();
    let dir = common::tiny_example_dir();
    let input = read_npy(&dir.join("input.npy")).unwrap();

    let dump = run_oracle(&dir.join("model.tflite"), &input).unwrap();

    assert_eq!(input.shape, vec![1, 16, 16, 1]);
    assert_eq!(input.element_type(), ElementType::I8);
    assert_eq!(dump.output.shape, vec![1, 10]);
    assert_eq!(dump.output.element_type(), ElementType::I8);
}
