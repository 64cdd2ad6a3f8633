//! Fuzz target: any bytes through the `.npy` reader; an array it accepts
//! must survive a write and a second read unchanged, bit for bit.
//!
//! Limitation: only the in-memory reader is fuzzed; the file reader adds
//! the size limit and the magic-string check in front of it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.npy");
    let Ok(value) = fxsim::io::read_npy_bytes(bytes, path) else {
        return;
    };
    let written = npy_bytes(&value);
    let read_back = fxsim::io::read_npy_bytes(&written, path).expect("a written .npy reads back");
    // Bytes, not values, are compared, so that NaN payloads count too.
    assert_eq!(npy_bytes(&read_back), written, "a written .npy reads back to another array");
});

fn npy_bytes(value: &fxsim::exec::TensorValue) -> Vec<u8> {
    let mut bytes = Vec::new();
    fxsim::io::write_npy(&mut bytes, value).expect("writing to memory cannot fail");
    bytes
}
