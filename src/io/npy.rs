//! `.npy` files (NumPy format 1.0 to 3.0) through the npyz crate, and raw
//! little-endian tensors.
//!
//! Only C-order arrays of the element types the executor computes with are
//! read (int8, uint8, int16, int32, int64, float32, bool). The element count
//! declared in the header is checked against the file's length before any
//! element is decoded, so a forged header cannot make the reader allocate.

use crate::exec::{TensorData, TensorValue};
use crate::model::{format_shape, DataType};
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A tensor file could not be read or written.
#[derive(Debug, Error)]
pub enum TensorIoError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: not a valid .npy file: {reason}", path.display())]
    Format { path: PathBuf, reason: String },

    #[error("{}: element type {found} is not supported; expected one of int8, uint8, int16, int32, int64, float32, bool (convert with numpy's astype)", path.display())]
    UnsupportedType { path: PathBuf, found: String },

    #[error("{}: {found} bytes of data, but shape {shape} of {dtype} needs {expected}", path.display())]
    Size {
        path: PathBuf,
        shape: String,
        dtype: DataType,
        expected: u64,
        found: u64,
    },

    #[error("{}: the element count of shape {shape} overflows", path.display())]
    CountOverflow { path: PathBuf, shape: String },

    #[error("{}: file is larger than the {limit}-byte limit", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
}

/// Largest tensor file read, in bytes.
pub const MAX_TENSOR_FILE_BYTES: u64 = 4 << 30;

/// Reads a whole file, stopping with an error past `MAX_TENSOR_FILE_BYTES`
/// (devices and pipes report no size, so the limit is on the bytes read).
fn read_limited(path: &Path) -> Result<Vec<u8>, TensorIoError> {
    use std::io::Read;
    let io_error = |source| TensorIoError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(TensorIoError::Format {
            path: path.to_path_buf(),
            reason: "is a directory, not a file".into(),
        });
    }
    let file = std::fs::File::open(path).map_err(io_error)?;
    if file
        .metadata()
        .is_ok_and(|meta| meta.is_file() && meta.len() > MAX_TENSOR_FILE_BYTES)
    {
        return Err(TensorIoError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_TENSOR_FILE_BYTES,
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_TENSOR_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_TENSOR_FILE_BYTES {
        return Err(TensorIoError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_TENSOR_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<TensorValue, TensorIoError> {
    let bytes = read_limited(path)?;
    if !bytes.starts_with(NPY_MAGIC) {
        return Err(TensorIoError::Format {
            path: path.to_path_buf(),
            reason: "not a .npy file (no magic string); for raw little-endian data, `fxsim run` takes --shape".into(),
        });
    }
    read_npy_bytes(&bytes, path)
}

/// The first bytes of every `.npy` file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads `.npy` content from memory; `path` names it in errors.
pub fn read_npy_bytes(bytes: &[u8], path: &Path) -> Result<TensorValue, TensorIoError> {
    let format_error = |reason: String| TensorIoError::Format {
        path: path.to_path_buf(),
        reason,
    };
    check_header(bytes).map_err(format_error)?;
    let mut data_bytes: &[u8] = bytes;
    let header =
        npyz::NpyHeader::from_reader(&mut data_bytes).map_err(|e| format_error(e.to_string()))?;
    let available = data_bytes.len() as u64;
    let file = npyz::NpyFile::with_header(header, data_bytes);
    if file.order() != npyz::Order::C {
        return Err(format_error(
            "Fortran-order arrays are not supported; save with order 'C'".into(),
        ));
    }
    let descr = match file.dtype() {
        npyz::DType::Plain(type_str) => type_str.to_string(),
        other => {
            return Err(TensorIoError::UnsupportedType {
                path: path.to_path_buf(),
                found: other.descr(),
            })
        }
    };
    let dtype = dtype_of_descr(&descr).ok_or_else(|| TensorIoError::UnsupportedType {
        path: path.to_path_buf(),
        found: descr.clone(),
    })?;

    let shape: Vec<usize> = file
        .shape()
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<_>>()
        .ok_or_else(|| format_error(format!("shape {:?} is too large", file.shape())))?;
    let needed = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|c| dtype.byte_len(c))
        .map(|b| b as u64)
        .ok_or_else(|| TensorIoError::CountOverflow {
            path: path.to_path_buf(),
            shape: format_shape(&shape),
        })?;
    if needed != available {
        return Err(TensorIoError::Size {
            path: path.to_path_buf(),
            shape: format_shape(&shape),
            dtype,
            expected: needed,
            found: available,
        });
    }

    let decode_error = |e: std::io::Error| format_error(e.to_string());
    let data = match dtype {
        DataType::Int8 => TensorData::I8(file.into_vec().map_err(decode_error)?),
        DataType::UInt8 => TensorData::U8(file.into_vec().map_err(decode_error)?),
        DataType::Int16 => TensorData::I16(file.into_vec().map_err(decode_error)?),
        DataType::Int32 => TensorData::I32(file.into_vec().map_err(decode_error)?),
        DataType::Int64 => TensorData::I64(file.into_vec().map_err(decode_error)?),
        DataType::Float32 => TensorData::F32(file.into_vec().map_err(decode_error)?),
        DataType::Bool => TensorData::Bool(file.into_vec().map_err(decode_error)?),
        _ => {
            return Err(TensorIoError::UnsupportedType {
                path: path.to_path_buf(),
                found: descr,
            })
        }
    };
    Ok(TensorValue { shape, data })
}

/// Deepest bracket nesting accepted in a header. A plain array's header
/// nests two deep: the dictionary and the shape tuple. Structured types,
/// which fxsim does not read, nest a few levels more.
const MAX_HEADER_NESTING: usize = 8;

/// Checks the header's length and bracket nesting before npyz parses it.
///
/// npyz's parser of the header dictionary backtracks, and takes time
/// exponential in the nesting depth: sixty unclosed braces hang it. A
/// header length past the end of the file is rejected here too, before
/// anything of that length is allocated.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    let Some(&[major, _minor]) = bytes.get(6..8) else {
        return Err(format!(
            "file is {} bytes, too short for a .npy header",
            bytes.len()
        ));
    };
    let (length_bytes, text_start): (usize, usize) = match major {
        1 => (2, 10),
        2 | 3 => (4, 12),
        other => return Err(format!("format version {other} is not 1, 2 or 3")),
    };
    let Some(length) = bytes.get(8..8 + length_bytes) else {
        return Err("file ends inside the header length".into());
    };
    let length = length
        .iter()
        .rev()
        .fold(0usize, |value, &byte| (value << 8) | usize::from(byte));
    let text = text_start
        .checked_add(length)
        .and_then(|end| bytes.get(text_start..end))
        .ok_or_else(|| {
            format!(
                "header length {length} runs past the end of the {}-byte file",
                bytes.len()
            )
        })?;

    let mut depth = 0usize;
    for &byte in text {
        match byte {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => continue,
        }
        if depth > MAX_HEADER_NESTING {
            return Err(format!(
                "header nests brackets more than {MAX_HEADER_NESTING} deep; a plain array's header nests 2 deep"
            ));
        }
    }
    check_shape_tuples(&String::from_utf8_lossy(text))
}

/// Rejects a header with a tuple of integers (the shape, or a field's
/// subarray shape) whose product overflows 64 bits in either order. npyz
/// multiplies the dimensions front to back for the element count and back
/// to front for the strides, without checking for overflow.
fn check_shape_tuples(text: &str) -> Result<(), String> {
    for (open, _) in text.match_indices('(') {
        let rest = &text[open + 1..];
        let Some(close) = rest.find(')') else {
            continue;
        };
        let items: Vec<&str> = rest[..close]
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        let all_digits = |item: &&str| item.bytes().all(|byte| byte.is_ascii_digit());
        if items.is_empty() || !items.iter().all(all_digits) {
            continue;
        }
        let overflow = || {
            format!(
                "shape ({}) overflows 64 bits: more elements than any file can hold",
                items.join(", ")
            )
        };
        let dims = items
            .iter()
            .map(|item| item.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| overflow())?;
        let forward = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let backward = dims
            .iter()
            .rev()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        if forward.is_none() || backward.is_none() {
            return Err(overflow());
        }
    }
    Ok(())
}

fn dtype_of_descr(descr: &str) -> Option<DataType> {
    // The first character is the byte order ('<', '>', '|' or '='); npyz
    // converts big-endian data while decoding.
    let code = descr.get(1..)?;
    Some(match code {
        "i1" => DataType::Int8,
        "u1" => DataType::UInt8,
        "i2" => DataType::Int16,
        "i4" => DataType::Int32,
        "i8" => DataType::Int64,
        "f4" => DataType::Float32,
        "b1" => DataType::Bool,
        _ => return None,
    })
}

/// Reads raw little-endian elements of `dtype` with the given `shape`.
pub fn read_raw(
    path: &Path,
    shape: &[usize],
    dtype: DataType,
) -> Result<TensorValue, TensorIoError> {
    let expected = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|c| dtype.byte_len(c))
        .ok_or_else(|| TensorIoError::CountOverflow {
            path: path.to_path_buf(),
            shape: format_shape(shape),
        })?;
    let bytes = read_limited(path)?;
    if bytes.starts_with(NPY_MAGIC) {
        return Err(TensorIoError::Format {
            path: path.to_path_buf(),
            reason: "this is a .npy file; drop --shape to read it as one".into(),
        });
    }
    if expected != bytes.len() {
        return Err(TensorIoError::Size {
            path: path.to_path_buf(),
            shape: format_shape(shape),
            dtype,
            expected: expected as u64,
            found: bytes.len() as u64,
        });
    }
    let data = match dtype {
        DataType::Int8 => TensorData::I8(bytes.iter().map(|&b| b as i8).collect()),
        DataType::UInt8 => TensorData::U8(bytes),
        DataType::Int16 => TensorData::I16(
            bytes
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        DataType::Int32 => TensorData::I32(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        DataType::Float32 => TensorData::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        other => {
            return Err(TensorIoError::UnsupportedType {
                path: path.to_path_buf(),
                found: other.name().to_string(),
            })
        }
    };
    Ok(TensorValue {
        shape: shape.to_vec(),
        data,
    })
}

/// Writes `value` as a little-endian, C-order `.npy` to `writer`.
pub fn write_npy(writer: impl Write, value: &TensorValue) -> std::io::Result<()> {
    use npyz::WriterBuilder;
    let shape: Vec<u64> = value.shape.iter().map(|&d| d as u64).collect();
    macro_rules! write_all {
        ($values:expr) => {{
            let mut out = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&shape)
                .writer(writer)
                .begin_nd()?;
            out.extend($values.iter().copied())?;
            out.finish()
        }};
    }
    match &value.data {
        TensorData::I8(v) => write_all!(v),
        TensorData::U8(v) => write_all!(v),
        TensorData::I16(v) => write_all!(v),
        TensorData::I32(v) => write_all!(v),
        TensorData::I64(v) => write_all!(v),
        TensorData::F32(v) => write_all!(v),
        TensorData::Bool(v) => write_all!(v),
    }
}
