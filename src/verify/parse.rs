//! nom parsers for RTL memory dumps, one function per grammar rule.
//!
//! `$readmemh` / `$writememh` text (IEEE 1800-2017 section 21.4):
//!
//! ```text
//! memory        = { separator | address | word } end
//! separator     = whitespace | line_comment | block_comment
//! whitespace    = { space | tab | line end | vertical tab | form feed }+
//! line_comment  = "//" { any character but a line end }
//! block_comment = "/*" { any character } "*/"
//! address       = "@" hex_digit { hex_digit | "_" }
//! word          = word_digit { word_digit | "_" }
//! word_digit    = hex_digit | "x" | "X" | "z" | "Z"
//! ```
//!
//! Decimal dumps, one element per line:
//!
//! ```text
//! decimal_dump  = { decimal_line } end
//! decimal_line  = [ blanks ] [ decimal_value ] [ blanks ] [ line_comment ] line_end
//! decimal_value = [ "-" | "+" ] digit { digit | "_" } | "x" | "X" | "z" | "Z"
//! ```
//!
//! A final line end is optional in both. Limitation: x and z digits are
//! kept only as "unknown" bits; the parsers do not tell x from z.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_until, take_while, take_while1};
use nom::character::complete::{char, line_ending, not_line_ending, one_of, space0};
use nom::combinator::{eof, map, map_res, opt, recognize, value};
use nom::multi::many0;
use nom::sequence::{delimited, pair, preceded, terminated};
use nom::{IResult, Parser};

/// One word of a hex dump: the known bits and the bits given as x or z,
/// each as little-endian 64-bit limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexWord {
    pub value: Vec<u64>,
    pub unknown: Vec<u64>,
}

impl HexWord {
    /// True when any bit in `offset .. offset + bits` is x or z.
    pub fn has_unknown(&self, offset: u64, bits: u32) -> bool {
        if self.unknown.iter().all(|&limb| limb == 0) {
            return false;
        }
        crate::export::mem::extract_bits(&self.unknown, offset, bits, false) != 0
    }
}

/// One item of a `$readmemh` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexItem {
    Address(u64),
    Word(HexWord),
}

/// One line's value in a decimal dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalValue {
    Known(i128),
    /// `x` or `z`.
    Unknown,
}

/// A hex dump as address-tagged words, in file order.
pub type HexDump = Vec<(u64, HexWord)>;

/// Parses a whole `$readmemh` text into address-tagged words: words
/// follow each other from address 0 or from the last `@address`.
///
/// Returns the byte offset of the first text the grammar rejects on error.
pub fn parse_hex_dump(text: &str) -> Result<HexDump, usize> {
    let (_, items) = memory(text).map_err(|error| error_offset(text, error))?;
    let mut address = 0_u64;
    let mut words = Vec::new();
    for item in items {
        match item {
            HexItem::Address(next) => address = next,
            HexItem::Word(word) => {
                words.push((address, word));
                address = address.saturating_add(1);
            }
        }
    }
    Ok(words)
}

/// Parses a whole decimal dump; blank and comment-only lines carry no
/// value and are skipped.
pub fn parse_decimal_dump(text: &str) -> Result<Vec<DecimalValue>, usize> {
    let (_, lines) = decimal_dump(text).map_err(|error| error_offset(text, error))?;
    Ok(lines.into_iter().flatten().collect())
}

fn error_offset(text: &str, error: nom::Err<nom::error::Error<&str>>) -> usize {
    match error {
        nom::Err::Error(error) | nom::Err::Failure(error) => text.len() - error.input.len(),
        nom::Err::Incomplete(_) => text.len(),
    }
}

/// `memory = { separator | address | word } end`
pub fn memory(input: &str) -> IResult<&str, Vec<HexItem>> {
    let item = alt((
        map(separator, |()| None),
        map(address, |address| Some(HexItem::Address(address))),
        map(word, |word| Some(HexItem::Word(word))),
    ));
    map(terminated(many0(item), eof), |items| {
        items.into_iter().flatten().collect()
    })
    .parse(input)
}

/// `separator = whitespace | line_comment | block_comment`
pub fn separator(input: &str) -> IResult<&str, ()> {
    alt((whitespace, line_comment, block_comment)).parse(input)
}

/// `whitespace = { space | tab | line end | vertical tab | form feed }+`
pub fn whitespace(input: &str) -> IResult<&str, ()> {
    value(
        (),
        take_while1(|c: char| c.is_ascii_whitespace() || c == '\x0b'),
    )
    .parse(input)
}

/// `line_comment = "//" { any character but a line end }`
pub fn line_comment(input: &str) -> IResult<&str, ()> {
    value((), pair(tag("//"), not_line_ending)).parse(input)
}

/// `block_comment = "/*" { any character } "*/"`
pub fn block_comment(input: &str) -> IResult<&str, ()> {
    value((), delimited(tag("/*"), take_until("*/"), tag("*/"))).parse(input)
}

/// `address = "@" hex_digit { hex_digit | "_" }`
pub fn address(input: &str) -> IResult<&str, u64> {
    let digits = recognize(pair(
        take_while1(|c: char| c.is_ascii_hexdigit()),
        take_while(|c: char| c.is_ascii_hexdigit() || c == '_'),
    ));
    map_res(preceded(char('@'), digits), |digits: &str| {
        u64::from_str_radix(&digits.replace('_', ""), 16)
    })
    .parse(input)
}

/// `word = word_digit { word_digit | "_" }`
pub fn word(input: &str) -> IResult<&str, HexWord> {
    let digits = recognize(pair(
        word_digit,
        take_while(|c: char| is_word_digit(c) || c == '_'),
    ));
    map(digits, hex_word).parse(input)
}

/// `word_digit = hex_digit | "x" | "X" | "z" | "Z"`
pub fn word_digit(input: &str) -> IResult<&str, char> {
    one_of("0123456789abcdefABCDEFxXzZ").parse(input)
}

fn is_word_digit(c: char) -> bool {
    c.is_ascii_hexdigit() || matches!(c, 'x' | 'X' | 'z' | 'Z')
}

/// Builds a word from its digits, the last digit in the lowest bits.
fn hex_word(digits: &str) -> HexWord {
    let nibbles: Vec<char> = digits.chars().filter(|&c| c != '_').collect();
    let limbs = (nibbles.len() * 4).div_ceil(64).max(1);
    let mut word = HexWord {
        value: vec![0; limbs],
        unknown: vec![0; limbs],
    };
    for (position, digit) in nibbles.iter().rev().enumerate() {
        let (limb, shift) = (position / 16, (position % 16) * 4);
        match digit.to_digit(16) {
            Some(nibble) => word.value[limb] |= u64::from(nibble) << shift,
            None => word.unknown[limb] |= 0xf << shift,
        }
    }
    word
}

/// `decimal_dump = { decimal_line } end`
pub fn decimal_dump(input: &str) -> IResult<&str, Vec<Option<DecimalValue>>> {
    terminated(many0(decimal_line), eof).parse(input)
}

/// `decimal_line = [ blanks ] [ decimal_value ] [ blanks ] [ line_comment ] line_end`,
/// where the line end may be missing on the last line. Fails on an empty
/// input so that [`many0`] stops.
pub fn decimal_line(input: &str) -> IResult<&str, Option<DecimalValue>> {
    if input.is_empty() {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )));
    }
    let (rest, (_, value, _, _, _)) = (
        space0,
        opt(decimal_value),
        space0,
        opt(line_comment),
        alt((line_ending, eof)),
    )
        .parse(input)?;
    Ok((rest, value))
}

/// `decimal_value = [ "-" | "+" ] digit { digit | "_" } | "x" | "X" | "z" | "Z"`
pub fn decimal_value(input: &str) -> IResult<&str, DecimalValue> {
    let number = recognize((
        opt(one_of("+-")),
        take_while1(|c: char| c.is_ascii_digit()),
        take_while(|c: char| c.is_ascii_digit() || c == '_'),
    ));
    let known = map_res(number, |text: &str| {
        text.replace('_', "")
            .parse::<i128>()
            .map(DecimalValue::Known)
    });
    let unknown = value(DecimalValue::Unknown, one_of("xXzZ"));
    alt((known, unknown)).parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(u64, u64)> {
        parse_hex_dump(text)
            .unwrap()
            .into_iter()
            .map(|(address, word)| (address, word.value[0]))
            .collect()
    }

    #[test]
    fn hex_plain_words_with_final_newline() {
        assert_eq!(words("0a\nff\n"), vec![(0, 0x0a), (1, 0xff)]);
    }

    #[test]
    fn hex_without_final_newline() {
        assert_eq!(words("0a\nff"), vec![(0, 0x0a), (1, 0xff)]);
    }

    #[test]
    fn hex_line_and_block_comments() {
        let text = "// header\n01 // trailing\n/* block\n spanning */02/*x*/03\n";
        assert_eq!(words(text), vec![(0, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn hex_underscores_inside_numbers() {
        assert_eq!(
            words("dead_beef\n@1_0\n1_2\n"),
            vec![(0, 0xdeadbeef), (0x10, 0x12)]
        );
    }

    #[test]
    fn hex_address_markers() {
        assert_eq!(words("@4 07 08\n@0\n09"), vec![(4, 7), (5, 8), (0, 9)]);
    }

    #[test]
    fn hex_any_whitespace() {
        assert_eq!(
            words(" \t01\r\n\r\n02 03\t04\x0b"),
            vec![(0, 1), (1, 2), (2, 3), (3, 4)]
        );
    }

    #[test]
    fn hex_x_and_z_digits() {
        let dump = parse_hex_dump("1x\nZ0\n").unwrap();
        assert_eq!(dump[0].1.value[0], 0x10);
        assert_eq!(dump[0].1.unknown[0], 0x0f);
        assert_eq!(dump[1].1.unknown[0], 0xf0);
        assert!(dump[0].1.has_unknown(0, 4));
        assert!(!dump[0].1.has_unknown(4, 4));
    }

    #[test]
    fn hex_wide_word_spans_limbs() {
        let dump = parse_hex_dump("1_0000000000000002\n").unwrap();
        assert_eq!(dump[0].1.value, vec![2, 1]);
    }

    #[test]
    fn hex_rejects_bad_token_at_its_offset() {
        assert_eq!(parse_hex_dump("01\n0g\n"), Err(4));
        assert_eq!(parse_hex_dump("01 /* open"), Err(3));
    }

    #[test]
    fn decimal_lines() {
        let values = parse_decimal_dump("1\n-128\n  +7 \n\n// note\nx\n1_000").unwrap();
        assert_eq!(
            values,
            vec![
                DecimalValue::Known(1),
                DecimalValue::Known(-128),
                DecimalValue::Known(7),
                DecimalValue::Unknown,
                DecimalValue::Known(1000),
            ]
        );
    }

    #[test]
    fn decimal_rejects_two_values_on_a_line() {
        assert_eq!(parse_decimal_dump("1\n2 3\n"), Err(2));
    }
}
