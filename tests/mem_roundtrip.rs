//! Memory images written by the exporter parse back to the same values,
//! for element widths 1 to 64 and any depth, in every form the `$readmemh`
//! grammar allows (comments, underscores, `@address` markers, any
//! whitespace, no final newline). The reference is the element list
//! itself and a word hash computed here with u128 arithmetic.

use fxsim::export::mem::{extract_bits, ImageSpec, MemWriter};
use fxsim::export::Role;
use fxsim::verify::parse::parse_hex_dump;
use proptest::prelude::*;

/// An image: element width, elements per word and the words.
#[derive(Debug, Clone)]
struct ImageProblem {
    element_bits: u32,
    signed: bool,
    words: Vec<Vec<i64>>,
}

impl ImageProblem {
    fn strategy() -> impl Strategy<Value = ImageProblem> {
        (1_u32..=64, any::<bool>(), 1_usize..=4, 0_usize..40).prop_flat_map(
            |(element_bits, signed, per_word, depth)| {
                let element = element_strategy(element_bits, signed);
                let words = prop::collection::vec(prop::collection::vec(element, per_word), depth);
                words.prop_map(move |words| ImageProblem {
                    element_bits,
                    signed,
                    words,
                })
            },
        )
    }

    fn per_word(&self) -> usize {
        self.words.first().map_or(1, Vec::len)
    }

    fn spec(&self) -> ImageSpec {
        ImageSpec {
            name: "test.mem".to_string(),
            role: Role::Output,
            layer: Some(0),
            element_bits: self.element_bits,
            elements_per_word: self.per_word() as u32,
            depth: self.words.len() as u64,
            signed: self.signed,
            element_order: "test".to_string(),
            tensor: None,
        }
    }

    fn write(&self) -> (String, u32) {
        let mut bytes = Vec::new();
        let mut writer = MemWriter::new(&mut bytes, self.spec()).unwrap();
        for word in &self.words {
            writer.push(word).unwrap();
        }
        let entry = writer.finish().unwrap();
        (String::from_utf8(bytes).unwrap(), entry.checksum.word_hash)
    }

    /// Computes the word hash from its definition, bit by bit.
    fn reference_hash(&self) -> u32 {
        let bits = self.element_bits as usize;
        let word_bits = bits * self.per_word();
        let mut hash = 0_u32;
        for word in &self.words {
            let mut chunks = vec![0_u32; word_bits.div_ceil(32)];
            for (j, &value) in word.iter().enumerate() {
                for bit in 0..bits {
                    if (value as u64 >> bit) & 1 == 1 {
                        let position = j * bits + bit;
                        chunks[position / 32] |= 1 << (position % 32);
                    }
                }
            }
            for chunk in chunks {
                hash = hash.wrapping_mul(31).wrapping_add(chunk);
            }
        }
        hash
    }

    fn parse(&self, text: &str) -> Vec<(u64, Vec<i64>)> {
        let bits = self.element_bits;
        parse_hex_dump(text)
            .unwrap()
            .into_iter()
            .map(|(address, word)| {
                let elements = (0..self.per_word())
                    .map(|j| {
                        extract_bits(&word.value, j as u64 * u64::from(bits), bits, self.signed)
                    })
                    .collect();
                (address, elements)
            })
            .collect()
    }

    fn expected(&self) -> Vec<(u64, Vec<i64>)> {
        self.words
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, w)| (i as u64, w))
            .collect()
    }
}

fn element_strategy(bits: u32, signed: bool) -> BoxedStrategy<i64> {
    match (signed, bits) {
        (true, 64) => any::<i64>().boxed(),
        (true, bits) => (-(1_i64 << (bits - 1))..(1_i64 << (bits - 1))).boxed(),
        (false, 63 | 64) => (0_i64..=i64::MAX).boxed(),
        (false, bits) => (0_i64..(1_i64 << bits)).boxed(),
    }
}

/// Rewrites the word lines of an image in another legal form: an
/// `@address` before each word, underscores every 4 digits, block and
/// line comments, tabs and CRLF, and no final newline.
fn reformat(text: &str) -> String {
    let mut out = String::from("/* reformatted\n dump */");
    let words = text.lines().filter(|l| !l.starts_with("//"));
    for (address, line) in words.enumerate() {
        let digits: Vec<char> = line.chars().collect();
        let grouped: Vec<String> = digits.chunks(4).map(|c| c.iter().collect()).collect();
        out.push_str(&format!(
            "@{address:x}\t{} // word\r\n",
            grouped.join("_").to_uppercase()
        ));
    }
    out.trim_end().to_string()
}

proptest! {
    #[test]
    fn written_images_parse_back(problem in ImageProblem::strategy()) {
        let (text, hash) = problem.write();
        prop_assert!(text.ends_with('\n'));
        let word_lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("//")).collect();
        let digits = (problem.element_bits as usize * problem.per_word()).div_ceil(4);
        prop_assert!(word_lines.iter().all(|l| l.len() == digits));
        prop_assert_eq!(problem.parse(&text), problem.expected());
        prop_assert_eq!(hash, problem.reference_hash());
    }

    #[test]
    fn reformatted_images_parse_back(problem in ImageProblem::strategy()) {
        let (text, _) = problem.write();
        prop_assert_eq!(problem.parse(&reformat(&text)), problem.expected());
    }
}
