//! Tensors of the graph: shape, element type, quantisation and constant data.
//!
//! Constant data is kept as the file stores it (little-endian bytes); typed
//! views decode it on request, so import never reinterprets memory.

use super::{DataType, Quantization};
use serde::Serialize;

/// Index of a tensor in [`Graph::tensors`](super::Graph::tensors).
pub type TensorId = usize;

/// One tensor of the graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tensor {
    /// Name from the model file (may be empty).
    pub name: String,
    /// Dimensions, outermost first (TFLite activations are NHWC).
    pub shape: Vec<usize>,
    pub dtype: DataType,
    /// Quantisation parameters; `None` for float and unquantised tensors.
    pub quantization: Option<Quantization>,
    /// Constant contents in little-endian bytes; `None` for activations.
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
    /// True for tensors the model updates in place (recurrent state).
    pub is_variable: bool,
}

impl Tensor {
    /// Number of elements: the product of the shape (1 for a scalar).
    ///
    /// Import has already checked that this product does not overflow.
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has constant data in the model file.
    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }

    /// Bytes of constant data (0 for activations).
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Vec::len)
    }

    /// Decodes constant int8 data, or `None` if the tensor has none or is
    /// of another type.
    pub fn data_i8(&self) -> Option<Vec<i8>> {
        self.typed_data(DataType::Int8, |b| b[0] as i8)
    }

    /// Decodes constant int16 data.
    pub fn data_i16(&self) -> Option<Vec<i16>> {
        self.typed_data(DataType::Int16, |b| i16::from_le_bytes([b[0], b[1]]))
    }

    /// Decodes constant int32 data.
    pub fn data_i32(&self) -> Option<Vec<i32>> {
        self.typed_data(DataType::Int32, |b| {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// Decodes constant int64 data.
    pub fn data_i64(&self) -> Option<Vec<i64>> {
        self.typed_data(DataType::Int64, |b| {
            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        })
    }

    /// Decodes constant float32 data.
    pub fn data_f32(&self) -> Option<Vec<f32>> {
        self.typed_data(DataType::Float32, |b| {
            f32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// Decodes constant integer data of any integer type up to 64 bits,
    /// widened to i64 (used for shape and axis operands).
    pub fn data_as_i64(&self) -> Option<Vec<i64>> {
        match self.dtype {
            DataType::Int8 => self
                .data_i8()
                .map(|v| v.into_iter().map(i64::from).collect()),
            DataType::UInt8 => self
                .typed_data(DataType::UInt8, |b| b[0])
                .map(|v| v.into_iter().map(i64::from).collect()),
            DataType::Int16 => self
                .data_i16()
                .map(|v| v.into_iter().map(i64::from).collect()),
            DataType::Int32 => self
                .data_i32()
                .map(|v| v.into_iter().map(i64::from).collect()),
            DataType::Int64 => self.data_i64(),
            _ => None,
        }
    }

    fn typed_data<T>(&self, dtype: DataType, decode: impl Fn(&[u8]) -> T) -> Option<Vec<T>> {
        if self.dtype != dtype {
            return None;
        }
        let bytes = self.data.as_ref()?;
        let width = (dtype.bits()? / 8) as usize;
        Some(bytes.chunks_exact(width).map(decode).collect())
    }
}

/// Formats a shape as `[1, 96, 96, 1]`.
pub fn format_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(", "))
}
