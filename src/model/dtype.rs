//! Element types of tensors, as the TFLite schema names them.
//!
//! Only the integer and float types that networks compute with have an
//! element width; `String`, `Resource` and `Variant` tensors are carried
//! through import but have no fixed size and cannot be executed.

use serde::Serialize;
use std::fmt;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int4,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Bool,
    Complex64,
    Complex128,
    String,
    Resource,
    Variant,
}

impl DataType {
    /// Width of one element in bits, or `None` for types without a fixed
    /// size (strings, resources, variants).
    pub fn bits(self) -> Option<u32> {
        use DataType::*;
        match self {
            Int4 => Some(4),
            Int8 | UInt8 | Bool => Some(8),
            Int16 | UInt16 | Float16 | BFloat16 => Some(16),
            Int32 | UInt32 | Float32 => Some(32),
            Int64 | UInt64 | Float64 | Complex64 => Some(64),
            Complex128 => Some(128),
            String | Resource | Variant => None,
        }
    }

    /// Bytes taken by `count` packed elements (int4 packs two per byte),
    /// or `None` when the type has no fixed size or the count overflows.
    pub fn byte_len(self, count: usize) -> Option<usize> {
        let bits = self.bits()? as usize;
        let total_bits = count.checked_mul(bits)?;
        Some(total_bits.div_ceil(8))
    }

    /// Integer range `[min, max]` of the type, for integer types up to 32
    /// bits; `None` for floats, 64-bit and non-numeric types.
    pub fn int_range(self) -> Option<(i64, i64)> {
        use DataType::*;
        match self {
            Int4 => Some((-8, 7)),
            Int8 => Some((i8::MIN as i64, i8::MAX as i64)),
            Int16 => Some((i16::MIN as i64, i16::MAX as i64)),
            Int32 => Some((i32::MIN as i64, i32::MAX as i64)),
            UInt8 => Some((0, u8::MAX as i64)),
            UInt16 => Some((0, u16::MAX as i64)),
            UInt32 => Some((0, u32::MAX as i64)),
            _ => None,
        }
    }

    /// Name as the TFLite schema spells it, lowercase (`int8`, `float32`).
    pub fn name(self) -> &'static str {
        use DataType::*;
        match self {
            Float32 => "float32",
            Float16 => "float16",
            BFloat16 => "bfloat16",
            Float64 => "float64",
            Int4 => "int4",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            UInt8 => "uint8",
            UInt16 => "uint16",
            UInt32 => "uint32",
            UInt64 => "uint64",
            Bool => "bool",
            Complex64 => "complex64",
            Complex128 => "complex128",
            String => "string",
            Resource => "resource",
            Variant => "variant",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_len_packs_int4_and_rejects_overflow() {
        assert_eq!(DataType::Int4.byte_len(3), Some(2));
        assert_eq!(DataType::Int8.byte_len(3), Some(3));
        assert_eq!(DataType::Float32.byte_len(3), Some(12));
        assert_eq!(DataType::Int32.byte_len(usize::MAX / 2), None);
        assert_eq!(DataType::String.byte_len(1), None);
    }
}
