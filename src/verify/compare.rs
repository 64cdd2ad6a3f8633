//! Element-by-element comparison of an RTL dump with one golden memory
//! image, and the mapping of a mismatch back to tensor coordinates.
//!
//! Limitation: words are compared element by element at the golden file's
//! element width. A dump word wider than the golden word is truncated to
//! it, as `$readmemh` truncates.

use super::parse::{DecimalValue, HexDump, HexWord};
use crate::export::mem::extract_bits;
use crate::export::{FileEntry, Role, TensorLayout};
use std::collections::HashMap;

/// The dump's value at a golden element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    Value(i64),
    /// A value that does not fit the element width at all.
    OutOfRange(i128),
    /// x or z bits.
    Unknown,
    /// The dump has no word or element there.
    Missing,
}

/// One element that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub file: String,
    pub role: Role,
    pub layer: Option<usize>,
    pub word: u64,
    pub element: u32,
    /// Coordinates in the tensor of a golden tensor file; `None` for the
    /// parameter images and for padding elements.
    pub coordinates: Option<Vec<usize>>,
    pub shape: Option<Vec<usize>>,
    pub expected: i64,
    pub got: Got,
}

/// The result of comparing one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileComparison {
    pub file: String,
    /// The dump compared with `file`, as given or found in the dump
    /// directory; empty until the caller sets it.
    pub dump: String,
    /// Tensor elements compared: the tensor's element count for a golden
    /// tensor file, every element of the image otherwise. Padding elements
    /// of a partial last column tile are not counted here.
    pub elements: u64,
    /// Tensor elements that differ, x or z included.
    pub mismatched: u64,
    /// Padding elements (past the last channel of a column tile) that are
    /// not 0 in the dump; `docs/formats.md` requires them to be 0.
    pub padding_mismatched: u64,
    /// Words in the dump beyond the golden depth.
    pub extra_words: u64,
    /// The first mismatches, at most the requested count, in word order.
    pub first: Vec<Mismatch>,
}

impl FileComparison {
    /// True when every element matched, padding included, and nothing
    /// extra was dumped.
    pub fn matches(&self) -> bool {
        self.mismatched == 0 && self.padding_mismatched == 0 && self.extra_words == 0
    }
}

/// The golden file's words, indexed by address.
pub struct Golden<'a> {
    pub entry: &'a FileEntry,
    pub words: Vec<HexWord>,
}

impl Golden<'_> {
    fn expected(&self, word: u64, element: u32) -> i64 {
        let bits = self.entry.element_bits;
        self.words.get(word as usize).map_or(0, |w| {
            extract_bits(
                &w.value,
                u64::from(element) * u64::from(bits),
                bits,
                self.entry.signed,
            )
        })
    }

    /// Returns the count of every element of the image, padding included.
    fn image_elements(&self) -> u64 {
        self.entry.depth * u64::from(self.entry.elements_per_word)
    }

    /// Returns the count of elements that contain tensor values: the
    /// tensor's element count for a tensor file, every element of the image
    /// otherwise.
    fn tensor_elements(&self) -> u64 {
        self.entry.tensor.as_ref().map_or_else(
            || self.image_elements(),
            |layout| layout.shape.iter().product::<usize>() as u64,
        )
    }

    /// True when element `element` of word `word` is padding past the
    /// last channel of a column tile.
    fn is_padding(&self, word: u64, element: u32) -> bool {
        self.entry.tensor.as_ref().is_some_and(|layout| {
            coordinates(layout, self.entry.elements_per_word as usize, word, element).is_none()
        })
    }

    fn mismatch(&self, word: u64, element: u32, got: Got) -> Mismatch {
        let layout = self.entry.tensor.as_ref();
        Mismatch {
            file: self.entry.name.clone(),
            role: self.entry.role,
            layer: self.entry.layer,
            word,
            element,
            coordinates: layout.and_then(|layout| {
                coordinates(layout, self.entry.elements_per_word as usize, word, element)
            }),
            shape: layout.map(|layout| layout.shape.clone()),
            expected: self.expected(word, element),
            got,
        }
    }
}

/// Returns the tensor coordinates of element `element` of word `word`, or
/// `None` for a padding element past the group's channels.
pub fn coordinates(
    layout: &TensorLayout,
    cols: usize,
    word: u64,
    element: u32,
) -> Option<Vec<usize>> {
    let rows = layout.rows.max(1) as u64;
    let tiles = layout.group_channels.div_ceil(cols.max(1)).max(1) as u64;
    let group = word / (tiles * rows);
    let tile = (word / rows) % tiles;
    let row = word % rows;
    let column = tile as usize * cols + element as usize;
    if column >= layout.group_channels || group as usize >= layout.groups {
        return None;
    }
    let channel = group as usize * layout.group_channels + column;
    let last = layout.shape.last().copied().unwrap_or(1).max(1);
    let mut flat = row as usize * last + channel;
    let mut coordinates = vec![0; layout.shape.len()];
    for (axis, &extent) in layout.shape.iter().enumerate().rev() {
        let extent = extent.max(1);
        coordinates[axis] = flat % extent;
        flat /= extent;
    }
    Some(coordinates)
}

/// Returns `(word, element)` of the element at `flat` in the tensor's
/// row-major order.
fn word_of_tensor_element(layout: &TensorLayout, cols: usize, flat: usize) -> (u64, u32) {
    let last = layout.shape.last().copied().unwrap_or(1).max(1);
    let (row, channel) = (flat / last, flat % last);
    let group_channels = layout.group_channels.max(1);
    let (group, column) = (channel / group_channels, channel % group_channels);
    let tiles = group_channels.div_ceil(cols.max(1));
    let (tile, element) = (column / cols.max(1), column % cols.max(1));
    let word = (group * tiles + tile) * layout.rows + row;
    (word as u64, element as u32)
}

/// Collects mismatches, keeping the first `max`.
struct Collector<'g, 'e> {
    golden: &'g Golden<'e>,
    max: usize,
    comparison: FileComparison,
}

impl Collector<'_, '_> {
    fn record(&mut self, word: u64, element: u32, got: Got) {
        if self.golden.is_padding(word, element) {
            self.comparison.padding_mismatched += 1;
        } else {
            self.comparison.mismatched += 1;
        }
        if self.comparison.first.len() < self.max {
            self.comparison
                .first
                .push(self.golden.mismatch(word, element, got));
        }
    }
}

/// Compares a hex dump word by word; the last word at an address wins.
pub fn compare_hex(golden: &Golden, dump: HexDump, max: usize) -> FileComparison {
    let entry = golden.entry;
    let mut in_range: Vec<Option<HexWord>> = vec![None; entry.depth as usize];
    let mut beyond: HashMap<u64, ()> = HashMap::new();
    for (address, word) in dump {
        match in_range.get_mut(address as usize) {
            Some(slot) if address < entry.depth => *slot = Some(word),
            _ => {
                beyond.insert(address, ());
            }
        }
    }
    let extra_words = beyond.len() as u64;
    let mut collector = Collector {
        golden,
        max,
        comparison: FileComparison {
            file: entry.name.clone(),
            dump: String::new(),
            elements: golden.tensor_elements(),
            mismatched: 0,
            padding_mismatched: 0,
            extra_words,
            first: Vec::new(),
        },
    };
    let bits = entry.element_bits;
    for word in 0..entry.depth {
        let dumped = in_range[word as usize].as_ref();
        for element in 0..entry.elements_per_word {
            let offset = u64::from(element) * u64::from(bits);
            let got = match dumped {
                None => Got::Missing,
                Some(dumped) if dumped.has_unknown(offset, bits) => Got::Unknown,
                Some(dumped) => Got::Value(extract_bits(&dumped.value, offset, bits, entry.signed)),
            };
            if got != Got::Value(golden.expected(word, element)) {
                collector.record(word, element, got);
            }
        }
    }
    collector.comparison
}

/// Compares a decimal dump: in file order (word by word, every element of
/// a word, padding included, so padding must be 0 as in a hex dump) or, when its length is the tensor's element
/// count instead, in the tensor's row-major order.
pub fn compare_decimal(golden: &Golden, values: &[DecimalValue], max: usize) -> FileComparison {
    let entry = golden.entry;
    let per_word = entry.elements_per_word as usize;
    let file_order = golden.image_elements();
    let tensor_elements = entry
        .tensor
        .as_ref()
        .map(|layout| layout.shape.iter().product::<usize>() as u64);
    let tensor_order = tensor_elements
        .filter(|&count| count == values.len() as u64 && count != file_order)
        .and(entry.tensor.as_ref());

    let mut collector = Collector {
        golden,
        max,
        comparison: FileComparison {
            file: entry.name.clone(),
            dump: String::new(),
            elements: golden.tensor_elements(),
            mismatched: 0,
            padding_mismatched: 0,
            extra_words: 0,
            first: Vec::new(),
        },
    };
    let normalise = |value: DecimalValue| match value {
        DecimalValue::Unknown => Got::Unknown,
        DecimalValue::Known(value) => element_value(value, entry.element_bits, entry.signed),
    };
    match tensor_order {
        Some(layout) => {
            for (flat, &value) in values.iter().enumerate() {
                let (word, element) = word_of_tensor_element(layout, per_word, flat);
                let got = normalise(value);
                if got != Got::Value(golden.expected(word, element)) {
                    collector.record(word, element, got);
                }
            }
        }
        None => {
            for index in 0..file_order {
                let (word, element) = (index / per_word as u64, (index % per_word as u64) as u32);
                let got = values
                    .get(index as usize)
                    .map_or(Got::Missing, |&value| normalise(value));
                if got != Got::Value(golden.expected(word, element)) {
                    collector.record(word, element, got);
                }
            }
            let extra = (values.len() as u64).saturating_sub(file_order);
            collector.comparison.extra_words = extra.div_ceil(per_word.max(1) as u64);
        }
    }
    collector.comparison
}

/// Reads a decimal value as an element of `bits` bits. A value in the
/// signed or the unsigned range of that width is taken modulo `2^bits`, so
/// `-56` and `200` are the same 8-bit element. Anything else is out of range.
fn element_value(value: i128, bits: u32, signed: bool) -> Got {
    let bits = bits.min(64);
    let low = -(1_i128 << (bits - 1).min(63));
    let high = (1_i128 << bits) - 1;
    if !(low..=high).contains(&value) {
        return Got::OutOfRange(value);
    }
    let raw = (value as u128 & ((1_u128 << bits) - 1)) as u64;
    Got::Value(extract_bits(&[raw], 0, bits, signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_of_grouped_layout() {
        // 2 groups of 3 channels, 4 columns, 2 rows: shape [1, 1, 2, 6].
        let layout = TensorLayout {
            shape: vec![1, 1, 2, 6],
            groups: 2,
            group_channels: 3,
            rows: 2,
        };
        assert_eq!(coordinates(&layout, 4, 0, 0), Some(vec![0, 0, 0, 0]));
        assert_eq!(coordinates(&layout, 4, 1, 2), Some(vec![0, 0, 1, 2]));
        assert_eq!(coordinates(&layout, 4, 3, 1), Some(vec![0, 0, 1, 4]));
        assert_eq!(coordinates(&layout, 4, 0, 3), None);
        assert_eq!(word_of_tensor_element(&layout, 4, 10), (3, 1));
    }

    #[test]
    fn element_value_accepts_signed_and_unsigned_spellings() {
        assert_eq!(element_value(-56, 8, true), Got::Value(-56));
        assert_eq!(element_value(200, 8, true), Got::Value(-56));
        assert_eq!(element_value(256, 8, true), Got::OutOfRange(256));
        assert_eq!(element_value(-1, 64, true), Got::Value(-1));
    }
}
