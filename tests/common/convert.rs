//! Conversions between the harness's `.npy` arrays and fxsim's tensor
//! values, for tests that feed the oracle's tensors to the executor.

use super::npy::{ElementType, NpyArray, NpyData};
use fxsim::exec::{TensorData, TensorValue};
use fxsim::model::DataType;

/// Converts a harness array to an executor value.
pub fn to_value(array: &NpyArray) -> TensorValue {
    let data = match &array.data {
        NpyData::I8(values) => TensorData::I8(values.clone()),
        NpyData::U8(values) => TensorData::U8(values.clone()),
        NpyData::I16(values) => TensorData::I16(values.clone()),
        NpyData::I32(values) => TensorData::I32(values.clone()),
        NpyData::I64(values) => TensorData::I64(values.clone()),
        NpyData::F32(values) => TensorData::F32(values.clone()),
        NpyData::Bool(values) => TensorData::Bool(values.clone()),
    };
    TensorValue {
        shape: array.shape.clone(),
        data,
    }
}

/// Converts an executor value to a harness array.
pub fn to_npy(value: &TensorValue) -> NpyArray {
    let data = match &value.data {
        TensorData::I8(values) => NpyData::I8(values.clone()),
        TensorData::U8(values) => NpyData::U8(values.clone()),
        TensorData::I16(values) => NpyData::I16(values.clone()),
        TensorData::I32(values) => NpyData::I32(values.clone()),
        TensorData::I64(values) => NpyData::I64(values.clone()),
        TensorData::F32(values) => NpyData::F32(values.clone()),
        TensorData::Bool(values) => NpyData::Bool(values.clone()),
    };
    NpyArray {
        shape: value.shape.clone(),
        data,
    }
}

/// Maps a graph tensor type to the harness's element type for random
/// inputs; panics on a type the harness cannot generate.
pub fn element_type(dtype: DataType) -> ElementType {
    match dtype {
        DataType::Int8 => ElementType::I8,
        DataType::UInt8 => ElementType::U8,
        DataType::Int16 => ElementType::I16,
        DataType::Int32 => ElementType::I32,
        DataType::Int64 => ElementType::I64,
        DataType::Float32 => ElementType::F32,
        DataType::Bool => ElementType::Bool,
        other => panic!("no random input for type {other}"),
    }
}
