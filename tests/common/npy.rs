//! Typed n-dimensional arrays read from and written to `.npy` files.
//!
//! Only the element types that TFLite models compute with are handled:
//! `i8`, `u8`, `i16`, `i32`, `i64`, `f32` and `bool`. Other dtypes are
//! rejected with an error that names the file and the dtype.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use npyz::{DType, TypeChar, WriterBuilder};

/// Element type of an [`NpyArray`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    I8,
    U8,
    I16,
    I32,
    I64,
    F32,
    Bool,
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ElementType::I8 => "int8",
            ElementType::U8 => "uint8",
            ElementType::I16 => "int16",
            ElementType::I32 => "int32",
            ElementType::I64 => "int64",
            ElementType::F32 => "float32",
            ElementType::Bool => "bool",
        };
        f.write_str(name)
    }
}

/// Elements of an array in row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
}

impl NpyData {
    pub fn element_type(&self) -> ElementType {
        match self {
            NpyData::I8(_) => ElementType::I8,
            NpyData::U8(_) => ElementType::U8,
            NpyData::I16(_) => ElementType::I16,
            NpyData::I32(_) => ElementType::I32,
            NpyData::I64(_) => ElementType::I64,
            NpyData::F32(_) => ElementType::F32,
            NpyData::Bool(_) => ElementType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            NpyData::I8(values) => values.len(),
            NpyData::U8(values) => values.len(),
            NpyData::I16(values) => values.len(),
            NpyData::I32(values) => values.len(),
            NpyData::I64(values) => values.len(),
            NpyData::F32(values) => values.len(),
            NpyData::Bool(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Formats element `index` for a message, or `"<missing>"` when the
    /// index is out of range.
    pub fn format_element(&self, index: usize) -> String {
        let formatted = match self {
            NpyData::I8(values) => values.get(index).map(|v| v.to_string()),
            NpyData::U8(values) => values.get(index).map(|v| v.to_string()),
            NpyData::I16(values) => values.get(index).map(|v| v.to_string()),
            NpyData::I32(values) => values.get(index).map(|v| v.to_string()),
            NpyData::I64(values) => values.get(index).map(|v| v.to_string()),
            NpyData::F32(values) => values.get(index).map(|v| format!("{v:?}")),
            NpyData::Bool(values) => values.get(index).map(|v| v.to_string()),
        };
        formatted.unwrap_or_else(|| "<missing>".to_string())
    }
}

/// A shaped array, as stored in one `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

impl NpyArray {
    /// Creates an array, checking that the shape's element count matches
    /// the data length. An empty shape is a scalar with one element.
    pub fn new(shape: Vec<usize>, data: NpyData) -> Result<NpyArray, String> {
        let count: usize = shape.iter().product();
        if count != data.len() {
            return Err(format!(
                "shape {shape:?} has {count} elements but the data has {}",
                data.len()
            ));
        }
        Ok(NpyArray { shape, data })
    }

    pub fn element_type(&self) -> ElementType {
        self.data.element_type()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Reads a `.npy` file of one of the supported element types.
///
/// Fortran-order files are reordered to row-major.
pub fn read_npy(path: &Path) -> Result<NpyArray, String> {
    let context = |e: std::io::Error| format!("failed to read {}: {e}", path.display());
    let file = File::open(path).map_err(context)?;
    let npy = npyz::NpyFile::new(BufReader::new(file)).map_err(context)?;

    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let fortran_order = npy.order() == npyz::Order::Fortran;
    let element_type = match npy.dtype() {
        DType::Plain(type_str) => match (type_str.type_char(), type_str.size_field()) {
            (TypeChar::Int, 1) => ElementType::I8,
            (TypeChar::Uint, 1) => ElementType::U8,
            (TypeChar::Int, 2) => ElementType::I16,
            (TypeChar::Int, 4) => ElementType::I32,
            (TypeChar::Int, 8) => ElementType::I64,
            (TypeChar::Float, 4) => ElementType::F32,
            (TypeChar::Bool, 1) => ElementType::Bool,
            _ => return Err(unsupported_dtype(path, &type_str.to_string())),
        },
        other => return Err(unsupported_dtype(path, &other.descr())),
    };

    let data = match element_type {
        ElementType::I8 => NpyData::I8(npy.into_vec().map_err(context)?),
        ElementType::U8 => NpyData::U8(npy.into_vec().map_err(context)?),
        ElementType::I16 => NpyData::I16(npy.into_vec().map_err(context)?),
        ElementType::I32 => NpyData::I32(npy.into_vec().map_err(context)?),
        ElementType::I64 => NpyData::I64(npy.into_vec().map_err(context)?),
        ElementType::F32 => NpyData::F32(npy.into_vec().map_err(context)?),
        ElementType::Bool => NpyData::Bool(npy.into_vec().map_err(context)?),
    };
    let array = NpyArray::new(shape, data).map_err(|e| format!("{}: {e}", path.display()))?;
    if fortran_order && array.shape.len() > 1 {
        return Ok(fortran_to_row_major(array));
    }
    Ok(array)
}

fn unsupported_dtype(path: &Path, dtype: &str) -> String {
    format!(
        "{}: unsupported dtype {dtype}; expected int8, uint8, int16, int32, int64, float32 or bool",
        path.display()
    )
}

/// Writes an array as a row-major `.npy` file with numpy's default
/// little-endian dtype for its element type.
pub fn write_npy(path: &Path, array: &NpyArray) -> Result<(), String> {
    let context = |e: std::io::Error| format!("failed to write {}: {e}", path.display());
    let file = File::create(path).map_err(context)?;
    let writer = BufWriter::new(file);
    let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
    match &array.data {
        NpyData::I8(values) => write_values(writer, &shape, values),
        NpyData::U8(values) => write_values(writer, &shape, values),
        NpyData::I16(values) => write_values(writer, &shape, values),
        NpyData::I32(values) => write_values(writer, &shape, values),
        NpyData::I64(values) => write_values(writer, &shape, values),
        NpyData::F32(values) => write_values(writer, &shape, values),
        NpyData::Bool(values) => write_values(writer, &shape, values),
    }
    .map_err(context)
}

fn write_values<T, W>(writer: W, shape: &[u64], values: &[T]) -> std::io::Result<()>
where
    T: npyz::AutoSerialize + Copy,
    W: std::io::Write,
{
    let mut npy = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(writer)
        .begin_nd()?;
    npy.extend(values.iter().copied())?;
    npy.finish()
}

/// Reorders a column-major array to row-major.
fn fortran_to_row_major(array: NpyArray) -> NpyArray {
    let shape = array.shape.clone();
    let permutation: Vec<usize> = (0..array.len())
        .map(|row_major_index| fortran_index(&shape, row_major_index))
        .collect();
    let data = match array.data {
        NpyData::I8(values) => NpyData::I8(gather(&values, &permutation)),
        NpyData::U8(values) => NpyData::U8(gather(&values, &permutation)),
        NpyData::I16(values) => NpyData::I16(gather(&values, &permutation)),
        NpyData::I32(values) => NpyData::I32(gather(&values, &permutation)),
        NpyData::I64(values) => NpyData::I64(gather(&values, &permutation)),
        NpyData::F32(values) => NpyData::F32(gather(&values, &permutation)),
        NpyData::Bool(values) => NpyData::Bool(gather(&values, &permutation)),
    };
    NpyArray { shape, data }
}

fn gather<T: Copy>(values: &[T], indices: &[usize]) -> Vec<T> {
    indices.iter().map(|&index| values[index]).collect()
}

/// Maps a row-major flat index to the flat index of the same element in
/// column-major order.
fn fortran_index(shape: &[usize], row_major_index: usize) -> usize {
    let coordinates = unravel_index(shape, row_major_index);
    let mut index = 0;
    let mut stride = 1;
    for (&coordinate, &extent) in coordinates.iter().zip(shape) {
        index += coordinate * stride;
        stride *= extent;
    }
    index
}

/// Converts a row-major flat index into coordinates of `shape`.
pub fn unravel_index(shape: &[usize], flat_index: usize) -> Vec<usize> {
    let mut coordinates = vec![0; shape.len()];
    let mut remainder = flat_index;
    for (coordinate, &extent) in coordinates.iter_mut().zip(shape).rev() {
        if extent == 0 {
            continue;
        }
        *coordinate = remainder % extent;
        remainder /= extent;
    }
    coordinates
}
