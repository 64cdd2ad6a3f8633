//! Integer operand formats (`int8`, `uint4`, ...): the width and signedness
//! of the activation and weight operands a datapath multiplies.
//!
//! Limitation: plain integers of 1 to 16 bits only. A fixed-point Q format
//! (integer plus fraction bits) has no spelling here, because the operands
//! carry their real scale in the model, not in the format.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::overflow::{int_range, Signedness};

/// A two's complement signed or an unsigned integer of 1 to 16 bits.
///
/// The fields are private, so every value has a width in
/// [`IntFormat::MIN_BITS`]`..=`[`IntFormat::MAX_BITS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntFormat {
    bits: u8,
    signedness: Signedness,
}

/// A string that is not `int<N>` or `uint<N>` with N in 1..=16.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid integer format `{text}`; expected int1..int16 or uint1..uint16")]
pub struct ParseIntFormatError {
    /// The rejected text, as given.
    pub text: String,
}

impl IntFormat {
    /// The narrowest format, in bits.
    pub const MIN_BITS: u8 = 1;
    /// The widest format, in bits.
    pub const MAX_BITS: u8 = 16;

    /// Signed 8-bit: TFLite int8 activations and weights.
    pub const INT8: IntFormat = IntFormat {
        bits: 8,
        signedness: Signedness::Signed,
    };
    /// Signed 16-bit: the activations of TFLite 16x8 layers.
    pub const INT16: IntFormat = IntFormat {
        bits: 16,
        signedness: Signedness::Signed,
    };
    /// Unsigned 8-bit.
    pub const UINT8: IntFormat = IntFormat {
        bits: 8,
        signedness: Signedness::Unsigned,
    };

    /// Builds a format, or returns `None` when `bits` is outside
    /// `MIN_BITS..=MAX_BITS`.
    pub const fn new(bits: u8, signedness: Signedness) -> Option<IntFormat> {
        if bits >= Self::MIN_BITS && bits <= Self::MAX_BITS {
            Some(IntFormat { bits, signedness })
        } else {
            None
        }
    }

    /// Builds a signed format; see [`IntFormat::new`].
    pub const fn signed(bits: u8) -> Option<IntFormat> {
        Self::new(bits, Signedness::Signed)
    }

    /// Builds an unsigned format; see [`IntFormat::new`].
    pub const fn unsigned(bits: u8) -> Option<IntFormat> {
        Self::new(bits, Signedness::Unsigned)
    }

    pub const fn bits(self) -> u8 {
        self.bits
    }

    pub const fn signedness(self) -> Signedness {
        self.signedness
    }

    pub fn is_signed(self) -> bool {
        self.signedness == Signedness::Signed
    }

    /// Returns the inclusive range `(min, max)` of values in this format.
    pub fn range(self) -> (i64, i64) {
        int_range(u32::from(self.bits), self.signedness)
    }

    /// Returns `max - min`: one less than the number of values.
    pub fn span(self) -> i64 {
        let (min, max) = self.range();
        max - min
    }

    /// Returns the largest magnitude of a symmetric grid in this format (the
    /// grid of symmetric weights): `2^(bits-1) - 1` signed, `2^bits - 1`
    /// unsigned (whose grid is only the non-negative half). Signed 1-bit
    /// gives 0: it has no symmetric grid.
    pub fn max_magnitude(self) -> i64 {
        match self.signedness {
            Signedness::Signed => (1_i64 << (self.bits - 1)) - 1,
            Signedness::Unsigned => (1_i64 << self.bits) - 1,
        }
    }

    /// Returns true when `value` lies in this format's range.
    pub fn contains(self, value: i64) -> bool {
        let (min, max) = self.range();
        (min..=max).contains(&value)
    }
}

impl fmt::Display for IntFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.signedness {
            Signedness::Signed => "int",
            Signedness::Unsigned => "uint",
        };
        write!(f, "{prefix}{}", self.bits)
    }
}

impl FromStr for IntFormat {
    type Err = ParseIntFormatError;

    /// Parses `int<N>` or `uint<N>`: lowercase, N in decimal without a sign
    /// or leading zeros.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseIntFormatError {
            text: text.to_string(),
        };
        let (signedness, digits) = match text.strip_prefix("uint") {
            Some(digits) => (Signedness::Unsigned, digits),
            None => match text.strip_prefix("int") {
                Some(digits) => (Signedness::Signed, digits),
                None => return Err(invalid()),
            },
        };
        let plain_decimal = !digits.is_empty()
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && !digits.starts_with('0');
        if !plain_decimal {
            return Err(invalid());
        }
        let bits: u8 = digits.parse().map_err(|_| invalid())?;
        IntFormat::new(bits, signedness).ok_or_else(invalid)
    }
}

impl Serialize for IntFormat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IntFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for text in ["int1", "int2", "int8", "int16", "uint1", "uint4", "uint16"] {
            let format: IntFormat = text.parse().unwrap();
            assert_eq!(format.to_string(), text);
        }
    }

    #[test]
    fn parse_rejects_other_spellings() {
        let cases = [
            "int0", "int17", "uint0", "uint17", "int", "uint", "int08", "int+8", "Int8", "i8",
            " int8", "int8 ", "", "float32", "int-1", "int256", "uint08",
        ];
        for text in cases {
            let error = text.parse::<IntFormat>().unwrap_err();
            assert_eq!(error.text, text);
        }
    }

    #[test]
    fn range_span_and_magnitude_table() {
        // (format, range, span, max magnitude)
        let cases = [
            ("int1", (-1, 0), 1, 0),
            ("uint1", (0, 1), 1, 1),
            ("int2", (-2, 1), 3, 1),
            ("int4", (-8, 7), 15, 7),
            ("uint4", (0, 15), 15, 15),
            ("int8", (-128, 127), 255, 127),
            ("uint8", (0, 255), 255, 255),
            ("int16", (-32768, 32767), 65535, 32767),
            ("uint16", (0, 65535), 65535, 65535),
        ];
        for (text, range, span, magnitude) in cases {
            let format: IntFormat = text.parse().unwrap();
            assert_eq!(format.range(), range, "{text}");
            assert_eq!(format.span(), span, "{text}");
            assert_eq!(format.max_magnitude(), magnitude, "{text}");
        }
    }

    #[test]
    fn new_checks_width() {
        assert_eq!(IntFormat::signed(0), None);
        assert_eq!(IntFormat::unsigned(17), None);
        assert_eq!(IntFormat::signed(8), Some(IntFormat::INT8));
        assert_eq!(IntFormat::signed(16), Some(IntFormat::INT16));
        assert_eq!(IntFormat::unsigned(8), Some(IntFormat::UINT8));
    }

    #[test]
    fn contains_checks_range() {
        let format = IntFormat::unsigned(4).unwrap();
        assert!(format.contains(0));
        assert!(format.contains(15));
        assert!(!format.contains(16));
        assert!(!format.contains(-1));
    }
}
