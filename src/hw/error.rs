//! Errors of reading, validating and overriding a hardware description, and
//! the helpers that turn a TOML byte span into a line, a column and a dotted
//! key path.
//!
//! Limitation: a key path is found from the span the toml crate reports. An
//! error without a span (rare: a missing field of the top-level table) is
//! reported against the whole document.

use super::datapath::RequantKind;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use thiserror::Error;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A hardware description could not be read, is invalid, or does not fit
/// the model it is used with.
///
/// Every message starts with the origin (the file path, or the name given
/// for an in-memory description) and names the TOML key it concerns.
#[derive(Debug, Error)]
pub enum HwError {
    #[error("{}: cannot read hardware description: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: hardware description is larger than the {limit}-byte limit", path.display())]
    TooLarge { path: PathBuf, limit: u64 },

    #[error("{origin}: invalid TOML at {position}: {message}")]
    Syntax {
        origin: String,
        position: Position,
        message: String,
    },

    /// Rejected by the schema: unknown key, unknown variant, wrong type or
    /// missing field. `message` is the deserializer's, and names the value
    /// and what was expected.
    #[error("{origin}: {key}: {message}{}", at_position(position))]
    Schema {
        origin: String,
        key: String,
        message: String,
        position: Option<Position>,
    },

    #[error("{origin}: {key} = {value} is out of range; expected {allowed}")]
    OutOfRange {
        origin: String,
        key: String,
        value: String,
        allowed: String,
    },

    #[error(
        "{origin}: {key} = \"{name}\" is not a known part; expected one of {known}, \
         or an inline table {{ name, dsp, dsp_type, bram36, uram, lut, ff }}"
    )]
    UnknownPart {
        origin: String,
        key: String,
        name: String,
        known: String,
    },

    /// A requantiser parameter given with a mode that does not take it.
    /// `mode_source` names where the mode came from (`set by
    /// datapath.requant.mode`).
    #[error(
        "{origin}: {key} = {value} is not allowed with requant mode \"{mode}\" ({mode_source}); {}",
        requant_hint(key)
    )]
    RequantConflict {
        origin: String,
        key: String,
        value: String,
        mode: RequantKind,
        mode_source: String,
    },

    #[error(
        "{origin}: {key} = {value} has no effect on layer {layer}, whose requant mode is \
         \"{mode}\" (from {mode_key}); {}",
        requant_hint(key)
    )]
    IneffectiveOverride {
        origin: String,
        key: String,
        value: String,
        layer: String,
        mode: RequantKind,
        mode_key: String,
    },

    #[error("{origin}: layer[{entry}].match = \"{selector}\" matches no layer of the model; expected {expected}")]
    UnmatchedLayer {
        origin: String,
        entry: usize,
        selector: String,
        expected: String,
    },

    #[error(
        "{origin}: {key} = {kib} is too small for one tile; expected at least {min_kib} \
         because {tile} need {needed_bytes} bytes"
    )]
    BufferTooSmall {
        origin: String,
        key: String,
        kib: u32,
        min_kib: u64,
        tile: String,
        needed_bytes: u64,
    },

    #[error("{origin}: {what} overflows 64 bits")]
    ArithmeticOverflow { origin: String, what: String },

    #[error("{origin}: cannot write as TOML: {message}")]
    Serialize { origin: String, message: String },

    #[error("override {path:?}: {reason}")]
    Override { path: String, reason: String },
}

/// Returns what to do about a requantiser parameter that the mode does not
/// take. `key` ends in `rounding` or `multiplier_bits`.
fn requant_hint(key: &str) -> &'static str {
    if key.ends_with("rounding") {
        "mode \"tflite\" fixes its own rounding (half away from zero in the doubling high \
         multiply and in the shift); remove rounding or choose mode \"single\", \"fixed\" or \"shift\""
    } else {
        "multiplier_bits applies only to mode \"fixed\""
    }
}

/// A 1-based line and column (in characters) in a TOML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// Returns the position of byte `offset` in `text`. An offset past the end or
    /// inside a character is moved back to the previous character boundary.
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

fn at_position(position: &Option<Position>) -> String {
    match position {
        Some(position) => format!(" (at {position})"),
        None => String::new(),
    }
}

/// Converts an error of the toml crate on `text` into a [`HwError`]. With
/// `report_position` false (for text fxsim generated itself) the line and
/// column are left out.
pub(crate) fn from_toml_error(
    origin: &str,
    text: &str,
    error: &toml::de::Error,
    report_position: bool,
) -> HwError {
    let span = error.span();
    let position = span
        .as_ref()
        .filter(|_| report_position)
        .map(|span| Position::of(text, span.start));
    let message = plain_type_names(error.message().trim_end());

    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(_) => {
            return HwError::Syntax {
                origin: origin.to_string(),
                position: position.unwrap_or(Position { line: 1, column: 1 }),
                message,
            }
        }
    };
    let key = span
        .and_then(|span| key_path_in_table(document.get_ref(), &span, ""))
        .unwrap_or_else(|| "(top level)".to_string());
    HwError::Schema {
        origin: origin.to_string(),
        key,
        message,
        position,
    }
}

/// Replaces the Rust type names in serde's messages with the TOML words a
/// user writes: "expected struct RawArray" becomes "expected a table".
fn plain_type_names(message: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut tokens = message.split(' ').peekable();
    while let Some(token) = tokens.next() {
        if token == "struct" && tokens.peek().is_some_and(|next| next.starts_with("Raw")) {
            tokens.next();
            words.push("a table".to_string());
            continue;
        }
        let replaced = match token.trim_end_matches([',', '.']) {
            "i64" | "u64" | "i32" | "u32" | "u8" => Some("an integer"),
            "f64" | "f32" => Some("a number"),
            "sequence" => Some("sequence (an array, such as [[layer]] tables)"),
            _ => None,
        };
        match replaced {
            Some(text) => {
                let suffix: String = token
                    .chars()
                    .rev()
                    .take_while(|c| [',', '.'].contains(c))
                    .collect();
                words.push(format!("{text}{suffix}"));
            }
            None => words.push(token.to_string()),
        }
    }
    words.join(" ")
}

/// Finds the dotted path (`layer[1].accumulator.bits`) of the key or value
/// whose span contains `span`, searching depth first.
fn key_path_in_table(table: &DeTable<'_>, span: &Range<usize>, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        if contains(&key.span(), span) {
            return Some(path);
        }
        if let Some(found) = key_path_in_value(value, span, &path) {
            return Some(found);
        }
    }
    None
}

fn key_path_in_value(
    value: &Spanned<DeValue<'_>>,
    span: &Range<usize>,
    path: &str,
) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => {
            if let Some(found) = key_path_in_table(table, span, path) {
                return Some(found);
            }
        }
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                if let Some(found) = key_path_in_value(item, span, &item_path) {
                    return Some(found);
                }
            }
        }
        _ => {}
    }
    contains(&value.span(), span).then(|| path.to_string())
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(Position::of(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(text, 6), Position { line: 2, column: 1 });
        let after_accent = text.find(" = 2").unwrap();
        assert_eq!(
            Position::of(text, after_accent),
            Position { line: 2, column: 3 }
        );
        assert_eq!(Position::of(text, 1000), Position { line: 3, column: 1 });
    }

    #[test]
    fn key_path_of_nested_and_array_entries() {
        let text = "[array]\nrows = 3\n[[layer]]\nmatch = \"a\"\n[[layer]]\nmatch = \"b\"\nacc = { bits = 3 }\n";
        let document = DeTable::parse(text).unwrap();
        let bits = text.rfind("bits").unwrap();
        let span = bits..bits + 4;
        let path = key_path_in_table(document.get_ref(), &span, "");
        assert_eq!(path.as_deref(), Some("layer[1].acc.bits"));
        let three = text.find('3').unwrap();
        let path = key_path_in_table(document.get_ref(), &(three..three + 1), "");
        assert_eq!(path.as_deref(), Some("array.rows"));
    }
}
