//! Inputs the fuzz targets in fuzz/ found to crash, hang or exhaust
//! memory, each pinned as a test named after the fault.

#[path = "support/tflite_builder.rs"]
mod tflite_builder;

use std::path::Path;
use std::time::{Duration, Instant};

/// Builds a version 1.0 `.npy` file with the given header text and data.
fn npy_v1(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let length = u16::try_from(header.len()).expect("header fits a version 1.0 length");
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// A header with sixty unclosed braces made npyz's header parser, which
/// backtracks, run for minutes. The reader now rejects the nesting before
/// npyz parses the header.
#[test]
fn npy_header_nesting_hang() {
    let header = format!(
        "{{'descr': '<i8',{} 'fortran_order': False, 'shape': (2,), }}\n",
        "{".repeat(60)
    );
    let bytes = npy_v1(&header, &[0; 16]);

    let started = Instant::now();
    let result = fxsim::io::read_npy_bytes(&bytes, Path::new("nested.npy"));
    let elapsed = started.elapsed();

    let message = result
        .expect_err("a header nested 61 deep is rejected")
        .to_string();
    assert!(message.starts_with("nested.npy: "), "{message}");
    assert!(message.contains("nests brackets"), "{message}");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

/// A shape whose element count overflows 64 bits, with a 0 first, made
/// npyz multiply its dimensions with overflow while it parsed the header
/// (a panic where overflow checks are on). The reader now checks every
/// integer tuple of the header before npyz parses it.
#[test]
fn npy_shape_product_overflow() {
    let header = "{'descr': '|i1', 'fortran_order': False, \
                  'shape': (0, 3000000080000000000, 000000000000000000238252739), }\n";
    let result = fxsim::io::read_npy_bytes(&npy_v1(header, &[]), Path::new("huge.npy"));

    let message = result
        .expect_err("a shape of more than 2^64 elements is rejected")
        .to_string();
    assert!(message.starts_with("huge.npy: "), "{message}");
    assert!(message.contains("overflows"), "{message}");
}

/// A shape with a 0 dimension and small other dimensions still reads: the
/// overflow check only rejects products past 64 bits.
#[test]
fn npy_empty_shape_still_reads() {
    let header = "{'descr': '|i1', 'fortran_order': False, 'shape': (0, 3), }\n";
    let value = fxsim::io::read_npy_bytes(&npy_v1(header, &[]), Path::new("empty.npy"))
        .expect("an empty array reads");
    assert_eq!(value.shape, vec![0, 3]);
}

/// A plain header nests two deep and still reads after the nesting check.
#[test]
fn npy_plain_header_still_reads() {
    let header = "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 2), }\n";
    let value = fxsim::io::read_npy_bytes(&npy_v1(header, &[1, 0, 0xff, 0xff]), Path::new("a.npy"))
        .expect("a plain header reads");
    assert_eq!(value.shape, vec![1, 2]);
    assert_eq!(value.data, fxsim::exec::TensorData::I16(vec![1, -1]));
}

/// A header length past the end of the file is rejected before anything of
/// that length is allocated.
#[test]
fn npy_header_length_past_end() {
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(b"{'descr': '<i1'");
    let message = fxsim::io::read_npy_bytes(&bytes, Path::new("long.npy"))
        .expect_err("a header longer than the file is rejected")
        .to_string();
    assert!(
        message.contains("header length 4294967295 runs past the end"),
        "{message}"
    );
}

/// A CONV_2D whose input has 0 channels divided the output channels by
/// 0 groups (0 channels / 2 filter channels) and panicked. The importer
/// now rejects an input without channels.
#[test]
fn conv_input_without_channels() {
    let mut spec = tflite_builder::conv_model();
    spec.tensors[0].shape = vec![1, 8, 8, 0];
    let bytes = tflite_builder::build(&spec);
    let message = fxsim::import::tflite::read_bytes(&bytes, "conv.tflite")
        .expect_err("an input without channels is rejected")
        .to_string();
    assert!(message.contains("op 0 (CONV_2D)"), "{message}");
    assert!(message.contains("has 0 channels"), "{message}");
}
