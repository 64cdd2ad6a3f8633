//! `$readmemh` memory images: packing elements into words, hex text, and
//! the checksums of the manifest, computed while the words are written.
//!
//! A word is a little-endian list of 64-bit limbs; element `j` of width `b`
//! occupies bits `j*b .. (j+1)*b`. Limitation: the whole word is formatted
//! nibble by nibble, which is fast enough for mobilenet-sized layers but
//! not tuned further.

use super::manifest::{Checksum, FileEntry, Role, TensorLayout};
use super::ExportError;
use askama::Template;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Shape of one image: word and element widths, depth and what it holds.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub name: String,
    pub role: Role,
    pub layer: Option<usize>,
    pub element_bits: u32,
    pub elements_per_word: u32,
    pub depth: u64,
    pub signed: bool,
    pub element_order: String,
    pub tensor: Option<TensorLayout>,
}

impl ImageSpec {
    /// Returns the word width, checked to fit in `u32`.
    pub fn word_bits(&self) -> Result<u32, ExportError> {
        self.element_bits
            .checked_mul(self.elements_per_word)
            .filter(|&bits| bits > 0)
            .ok_or_else(|| ExportError::WordWidth {
                file: self.name.clone(),
                element_bits: self.element_bits,
                elements: self.elements_per_word,
            })
    }
}

/// The comment header of a memory image.
#[derive(Template)]
#[template(path = "mem_header.txt", escape = "none")]
struct MemHeader<'a> {
    spec: &'a ImageSpec,
    word_bits: u32,
    layer: String,
}

/// Folds one word into the running word hash: for each 32-bit chunk from
/// the least significant, `h = h * 31 + chunk` modulo 2^32.
pub fn hash_word(hash: u32, limbs: &[u64], word_bits: u32) -> u32 {
    let chunks = word_bits.div_ceil(32) as usize;
    let mut hash = hash;
    for chunk in 0..chunks {
        let limb = limbs.get(chunk / 2).copied().unwrap_or(0);
        let value = (limb >> ((chunk % 2) * 32)) as u32;
        hash = hash.wrapping_mul(31).wrapping_add(value);
    }
    hash
}

/// Returns the word hash of a whole image given as words of limbs.
pub fn word_hash<'a>(words: impl IntoIterator<Item = &'a [u64]>, word_bits: u32) -> u32 {
    words
        .into_iter()
        .fold(0, |hash, word| hash_word(hash, word, word_bits))
}

/// Streams one image: the header, then words packed from elements, keeping
/// the word hash and the SHA-256 of every byte written.
pub struct MemWriter<W: Write> {
    out: W,
    spec: ImageSpec,
    word_bits: u32,
    digits: usize,
    limbs: Vec<u64>,
    line: Vec<u8>,
    written: u64,
    hash: u32,
    sha: Sha256,
}

impl<W: Write> MemWriter<W> {
    /// Writes the header of `spec` to `out`.
    pub fn new(out: W, spec: ImageSpec) -> Result<MemWriter<W>, ExportError> {
        let word_bits = spec.word_bits()?;
        let header = MemHeader {
            spec: &spec,
            word_bits,
            layer: spec.layer.map_or("network".to_string(), |l| l.to_string()),
        }
        .render()
        .map_err(|error| ExportError::Template {
            file: spec.name.clone(),
            message: error.to_string(),
        })?;
        // askama drops the template file's final newline.
        let mut header = header;
        if !header.ends_with('\n') {
            header.push('\n');
        }
        let mut writer = MemWriter {
            out,
            word_bits,
            digits: word_bits.div_ceil(4) as usize,
            limbs: vec![0; word_bits.div_ceil(64) as usize],
            line: Vec::new(),
            written: 0,
            hash: 0,
            sha: Sha256::new(),
            spec,
        };
        writer.write_bytes(header.as_bytes())?;
        Ok(writer)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.sha.update(bytes);
        self.out.write_all(bytes).map_err(|source| ExportError::Io {
            path: self.spec.name.clone().into(),
            source,
        })
    }

    /// Packs `elements` (at most `elements_per_word`, the rest 0) into the
    /// next word and writes it. Fails when an element does not fit its
    /// width or the image is already full.
    pub fn push(&mut self, elements: &[i64]) -> Result<(), ExportError> {
        if self.written >= self.spec.depth || elements.len() > self.spec.elements_per_word as usize
        {
            return Err(ExportError::ImageOverflow {
                file: self.spec.name.clone(),
                depth: self.spec.depth,
            });
        }
        self.limbs.fill(0);
        let bits = self.spec.element_bits;
        for (index, &value) in elements.iter().enumerate() {
            if !fits(value, bits, self.spec.signed) {
                return Err(ExportError::ElementRange {
                    file: self.spec.name.clone(),
                    word: self.written,
                    element: index,
                    value,
                    bits,
                    signed: self.spec.signed,
                });
            }
            insert_bits(&mut self.limbs, index as u64 * u64::from(bits), bits, value);
        }
        self.emit_word()
    }

    /// Writes the next word given as limbs, whose fields the caller has
    /// checked; bits above the word width must be 0.
    pub fn push_limbs(&mut self, limbs: &[u64]) -> Result<(), ExportError> {
        if self.written >= self.spec.depth || limbs.len() != self.limbs.len() {
            return Err(ExportError::ImageOverflow {
                file: self.spec.name.clone(),
                depth: self.spec.depth,
            });
        }
        self.limbs.copy_from_slice(limbs);
        self.emit_word()
    }

    fn emit_word(&mut self) -> Result<(), ExportError> {
        self.hash = hash_word(self.hash, &self.limbs, self.word_bits);
        self.line.clear();
        format_hex(&self.limbs, self.digits, &mut self.line);
        self.line.push(b'\n');
        let line = std::mem::take(&mut self.line);
        let result = self.write_bytes(&line);
        self.line = line;
        self.written += 1;
        result
    }

    /// Checks that every word was written, flushes, and returns the
    /// manifest entry.
    pub fn finish(mut self) -> Result<FileEntry, ExportError> {
        if self.written != self.spec.depth {
            return Err(ExportError::ImageShort {
                file: self.spec.name.clone(),
                written: self.written,
                depth: self.spec.depth,
            });
        }
        self.out.flush().map_err(|source| ExportError::Io {
            path: self.spec.name.clone().into(),
            source,
        })?;
        let sha256 = hex_digest(&self.sha.finalize());
        let spec = self.spec;
        Ok(FileEntry {
            name: spec.name,
            role: spec.role,
            layer: spec.layer,
            word_bits: self.word_bits,
            depth: spec.depth,
            element_bits: spec.element_bits,
            elements_per_word: spec.elements_per_word,
            signed: spec.signed,
            element_order: spec.element_order,
            tensor: spec.tensor,
            checksum: Checksum {
                word_hash: self.hash,
                sha256,
            },
        })
    }
}

/// Returns the lowercase hex of a digest.
pub fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// True when `value` is representable in `bits` bits, two's complement
/// when `signed`.
pub fn fits(value: i64, bits: u32, signed: bool) -> bool {
    match (signed, bits) {
        (_, 0) => false,
        (true, 64..) => true,
        (true, bits) => {
            let half = 1_i64 << (bits - 1);
            (-half..half).contains(&value)
        }
        (false, 63..) => value >= 0,
        (false, bits) => (0..1_i64 << bits).contains(&value),
    }
}

/// Writes the low `bits` bits of `value` into `limbs` at bit `offset`.
pub fn insert_bits(limbs: &mut [u64], offset: u64, bits: u32, value: i64) {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1_u64 << bits) - 1
    };
    let value = value as u64 & mask;
    let limb = (offset / 64) as usize;
    let shift = (offset % 64) as u32;
    if let Some(low) = limbs.get_mut(limb) {
        *low |= value << shift;
    }
    if shift > 0 && shift + bits > 64 {
        if let Some(high) = limbs.get_mut(limb + 1) {
            *high |= value >> (64 - shift);
        }
    }
}

/// Reads `bits` bits at bit `offset` of `limbs`, sign-extended when
/// `signed`.
pub fn extract_bits(limbs: &[u64], offset: u64, bits: u32, signed: bool) -> i64 {
    let limb = (offset / 64) as usize;
    let shift = (offset % 64) as u32;
    let mut value = limbs.get(limb).copied().unwrap_or(0) >> shift;
    if shift > 0 && shift + bits > 64 {
        value |= limbs.get(limb + 1).copied().unwrap_or(0) << (64 - shift);
    }
    if bits >= 64 {
        return value as i64;
    }
    let value = value & ((1_u64 << bits) - 1);
    if signed && bits > 0 && value >> (bits - 1) == 1 {
        (value | !((1_u64 << bits) - 1)) as i64
    } else {
        value as i64
    }
}

/// Appends exactly `digits` lowercase hex digits of the word, most
/// significant first.
fn format_hex(limbs: &[u64], digits: usize, line: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for digit in (0..digits).rev() {
        let limb = limbs.get(digit / 16).copied().unwrap_or(0);
        let nibble = (limb >> ((digit % 16) * 4)) & 0xf;
        line.push(HEX[nibble as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_extract_cross_limbs() {
        let mut limbs = vec![0_u64; 2];
        insert_bits(&mut limbs, 60, 9, -3);
        assert_eq!(extract_bits(&limbs, 60, 9, true), -3);
        assert_eq!(extract_bits(&limbs, 60, 9, false), 509);
        assert_eq!(limbs[0] >> 60, 0xd);
        assert_eq!(limbs[1], 0x1f);
    }

    #[test]
    fn fits_checks_both_ends() {
        assert!(fits(-128, 8, true));
        assert!(!fits(128, 8, true));
        assert!(fits(255, 8, false));
        assert!(!fits(-1, 8, false));
        assert!(fits(i64::MIN, 64, true));
        assert!(fits(0, 1, false));
        assert!(fits(-1, 1, true));
        assert!(!fits(1, 1, true));
    }

    #[test]
    fn hex_has_exact_digit_count() {
        let mut line = Vec::new();
        format_hex(&[0x1ff], 3, &mut line);
        assert_eq!(line, b"1ff");
        line.clear();
        format_hex(&[0x1], 1, &mut line);
        assert_eq!(line, b"1");
    }

    #[test]
    fn word_hash_folds_chunks_low_first() {
        // One 40-bit word 0x12_0000_0005: chunks 5 then 0x12.
        let hash = word_hash([&[0x12_0000_0005_u64][..]], 40);
        assert_eq!(hash, 5_u32.wrapping_mul(31) + 0x12);
    }
}
