//! Runtime tensor values: a shape and typed elements.

use crate::model::{DataType, Tensor};

/// Elements of a tensor value, one variant per element type the executor
/// computes with.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
}

/// A tensor's value during execution.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorValue {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl TensorData {
    /// Returns the element type.
    pub fn dtype(&self) -> DataType {
        match self {
            TensorData::I8(_) => DataType::Int8,
            TensorData::U8(_) => DataType::UInt8,
            TensorData::I16(_) => DataType::Int16,
            TensorData::I32(_) => DataType::Int32,
            TensorData::I64(_) => DataType::Int64,
            TensorData::F32(_) => DataType::Float32,
            TensorData::Bool(_) => DataType::Bool,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::I16(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::F32(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index` widened to i64 (floats truncated toward zero), or
    /// `None` when out of range.
    pub fn get_i64(&self, index: usize) -> Option<i64> {
        match self {
            TensorData::I8(v) => v.get(index).map(|&x| i64::from(x)),
            TensorData::U8(v) => v.get(index).map(|&x| i64::from(x)),
            TensorData::I16(v) => v.get(index).map(|&x| i64::from(x)),
            TensorData::I32(v) => v.get(index).map(|&x| i64::from(x)),
            TensorData::I64(v) => v.get(index).copied(),
            TensorData::F32(v) => v.get(index).map(|&x| x as i64),
            TensorData::Bool(v) => v.get(index).map(|&x| i64::from(x)),
        }
    }
}

impl TensorValue {
    /// Returns the element type.
    pub fn dtype(&self) -> DataType {
        self.data.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Returns all elements widened to i64 (floats truncated toward zero).
    pub fn to_i64_vec(&self) -> Vec<i64> {
        (0..self.len())
            .filter_map(|i| self.data.get_i64(i))
            .collect()
    }

    /// Decodes a graph tensor's constant data, or `None` when the tensor is
    /// not constant or its type is not one the executor computes with.
    pub fn from_constant(tensor: &Tensor) -> Option<TensorValue> {
        let data = match tensor.dtype {
            DataType::Int8 => TensorData::I8(tensor.data_i8()?),
            DataType::UInt8 => TensorData::U8(tensor.data.clone()?),
            DataType::Int16 => TensorData::I16(tensor.data_i16()?),
            DataType::Int32 => TensorData::I32(tensor.data_i32()?),
            DataType::Int64 => TensorData::I64(tensor.data_i64()?),
            DataType::Float32 => TensorData::F32(tensor.data_f32()?),
            DataType::Bool => {
                TensorData::Bool(tensor.data.as_ref()?.iter().map(|&b| b != 0).collect())
            }
            _ => return None,
        };
        Some(TensorValue {
            shape: tensor.shape.clone(),
            data,
        })
    }
}
