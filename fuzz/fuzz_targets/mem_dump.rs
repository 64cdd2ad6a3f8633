//! Fuzz target: any text through both RTL dump parsers (`$readmemh` and
//! decimal), and every dump they accept compared with a golden image of
//! the committed example export, as `fxsim verify` compares it.
//!
//! Limitation: one golden file (layer 0's output of `testvectors/example`)
//! is compared against; other files differ only in widths and depths.

#![no_main]

use fxsim::export::{FileEntry, Manifest};
use fxsim::verify::compare::{compare_decimal, compare_hex, Golden};
use fxsim::verify::parse::{parse_decimal_dump, parse_hex_dump, HexWord};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

/// The golden file every accepted dump is compared with.
const GOLDEN_FILE: &str = "layer000_output.mem";

/// Mismatches a comparison reports in detail, as `verify --max` sets.
const MAX_REPORTED: usize = 10;

/// Reads the example export's manifest and the golden file's words, in
/// address order, once.
fn golden() -> &'static (Manifest, Vec<HexWord>) {
    static GOLDEN: OnceLock<(Manifest, Vec<HexWord>)> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors/example");
        let manifest = fxsim::export::read_manifest(&dir).expect("the example manifest reads");
        let text = std::fs::read_to_string(dir.join(GOLDEN_FILE)).expect("the golden file reads");
        let words = parse_hex_dump(&text)
            .expect("the golden file parses")
            .into_iter()
            .map(|(_, word)| word)
            .collect();
        (manifest, words)
    })
}

fn golden_entry(manifest: &Manifest) -> &FileEntry {
    manifest
        .files
        .iter()
        .find(|entry| entry.name == GOLDEN_FILE)
        .expect("the manifest lists the golden file")
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let (manifest, words) = golden();
    let golden = Golden {
        entry: golden_entry(manifest),
        words: words.clone(),
    };
    if let Ok(dump) = parse_hex_dump(text) {
        let _ = compare_hex(&golden, dump, MAX_REPORTED);
    }
    if let Ok(values) = parse_decimal_dump(text) {
        let _ = compare_decimal(&golden, &values, MAX_REPORTED);
    }
});
