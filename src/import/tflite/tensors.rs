//! Tensors of subgraph 0: element type, shape, quantisation and constant data.
//!
//! Lenient cases, both seen in real files: one scale with a
//! `quantized_dimension` other than 0 is read as per-tensor, and a rank-1
//! tensor with per-channel scales is quantised along its only dimension
//! whatever `quantized_dimension` states (person_detect.tflite writes 3 on its
//! biases; TFLite Micro accepts the file, the LiteRT interpreter rejects it).

use super::schema;
use crate::import::{ImportErrorKind, ImportOptions, Location};
use crate::model::{DataType, Quantization, Tensor};

pub(super) fn read_tensors(
    subgraph: &schema::SubGraph,
    buffers: &[schema::Buffer],
    file: &[u8],
    options: &ImportOptions,
) -> Result<Vec<Tensor>, ImportErrorKind> {
    let Some(tensors) = subgraph.tensors() else {
        return Ok(Vec::new());
    };
    let mut budget = SizeBudget {
        options,
        total_bytes: 0,
    };
    tensors
        .iter()
        .enumerate()
        .map(|(index, tensor)| read_tensor(index, &tensor, buffers, file, &mut budget))
        .collect()
}

/// The [`ImportOptions`] limits and the bytes declared by the tensors read
/// so far.
struct SizeBudget<'a> {
    options: &'a ImportOptions,
    total_bytes: u64,
}

impl SizeBudget<'_> {
    /// Adds a tensor of `shape` and `dtype`, or fails when it, or the sum of
    /// all tensors so far, is over its limit. Types without a fixed size
    /// (strings, resources) count as empty.
    fn add(
        &mut self,
        shape: &[usize],
        dtype: DataType,
        count: usize,
        location: &Location,
    ) -> Result<(), ImportErrorKind> {
        let Some(bits) = dtype.bits() else {
            return Ok(());
        };
        // u64 arithmetic in u128, so the product cannot overflow.
        let bytes = (count as u128 * u128::from(bits)).div_ceil(8);
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if bytes > self.options.max_tensor_bytes {
            return Err(ImportErrorKind::TensorTooLarge {
                location: location.clone(),
                shape: shape.to_vec(),
                dtype,
                bytes,
                limit: self.options.max_tensor_bytes,
            });
        }
        self.total_bytes = self.total_bytes.saturating_add(bytes);
        if self.total_bytes > self.options.max_total_bytes {
            return Err(ImportErrorKind::ModelTooLarge {
                location: location.clone(),
                bytes: self.total_bytes,
                limit: self.options.max_total_bytes,
            });
        }
        Ok(())
    }
}

fn read_tensor(
    index: usize,
    tensor: &schema::Tensor,
    buffers: &[schema::Buffer],
    file: &[u8],
    budget: &mut SizeBudget,
) -> Result<Tensor, ImportErrorKind> {
    let name = tensor.name();
    let location = Location::Tensor {
        index,
        name: name.clone(),
    };

    let dtype =
        data_type(tensor.tensor_type()).ok_or_else(|| ImportErrorKind::UnknownTensorType {
            location: location.clone(),
            code: tensor.tensor_type(),
        })?;
    let raw_shape: Vec<i32> = tensor
        .shape()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let shape = checked_shape(&raw_shape, &location)?;
    let count = element_count(&shape).ok_or_else(|| ImportErrorKind::ShapeOverflow {
        location: location.clone(),
        shape: raw_shape.clone(),
    })?;
    budget.add(&shape, dtype, count, &location)?;
    let data = read_data(tensor.buffer(), buffers, file, &location)?;
    if let (Some(bytes), Some(expected)) = (&data, dtype.bits().map(|_| dtype.byte_len(count))) {
        let expected = expected.ok_or_else(|| ImportErrorKind::ShapeOverflow {
            location: location.clone(),
            shape: raw_shape.clone(),
        })?;
        if bytes.len() != expected {
            return Err(ImportErrorKind::DataLength {
                location,
                shape,
                dtype,
                expected,
                found: bytes.len(),
            });
        }
    }
    let quantization = read_quantization(tensor, &shape, dtype, data.is_some(), &location)?;

    Ok(Tensor {
        name,
        shape,
        dtype,
        quantization,
        data,
        is_variable: tensor.is_variable(),
    })
}

/// Maps a schema `TensorType` code to a data type.
fn data_type(code: i8) -> Option<DataType> {
    use DataType::*;
    Some(match code {
        0 => Float32,
        1 => Float16,
        2 => Int32,
        3 => UInt8,
        4 => Int64,
        5 => String,
        6 => Bool,
        7 => Int16,
        8 => Complex64,
        9 => Int8,
        10 => Float64,
        11 => Complex128,
        12 => UInt64,
        13 => Resource,
        14 => Variant,
        15 => UInt32,
        16 => UInt16,
        17 => Int4,
        18 => BFloat16,
        _ => return None,
    })
}

fn checked_shape(raw: &[i32], location: &Location) -> Result<Vec<usize>, ImportErrorKind> {
    raw.iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| ImportErrorKind::NegativeDimension {
            location: location.clone(),
            shape: raw.to_vec(),
        })
}

/// Product of the dimensions, or `None` when it overflows.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Copies a tensor's constant data: the buffer's inline vector, or the
/// region after the flatbuffer that the buffer's `offset` and `size` name.
/// Buffer 0 and empty buffers mean "no constant data".
fn read_data(
    buffer_index: u32,
    buffers: &[schema::Buffer],
    file: &[u8],
    location: &Location,
) -> Result<Option<Vec<u8>>, ImportErrorKind> {
    let Some(buffer) = buffers.get(buffer_index as usize) else {
        // Buffer 0 is the conventional empty buffer; a file with no buffer
        // vector at all has no constants.
        if buffer_index == 0 {
            return Ok(None);
        }
        return Err(ImportErrorKind::IndexOutOfRange {
            location: location.clone(),
            field: "buffer".into(),
            index: i64::from(buffer_index),
            count: buffers.len(),
            what: "buffers",
        });
    };
    if let Some(data) = buffer.data().filter(|d| !d.is_empty()) {
        return Ok(Some(data.bytes().to_vec()));
    }
    // Offsets 0 and 1 are the schema's "not used" markers.
    let (offset, size) = (buffer.offset(), buffer.size());
    if offset <= 1 || size == 0 {
        return Ok(None);
    }
    let out_of_file = || ImportErrorKind::ExternalDataOutOfFile {
        location: location.clone(),
        offset,
        size,
        file_len: file.len(),
    };
    let start = usize::try_from(offset).map_err(|_| out_of_file())?;
    let end = usize::try_from(size)
        .ok()
        .and_then(|s| start.checked_add(s))
        .ok_or_else(out_of_file)?;
    file.get(start..end)
        .map(|d| Some(d.to_vec()))
        .ok_or_else(out_of_file)
}

fn read_quantization(
    tensor: &schema::Tensor,
    shape: &[usize],
    dtype: DataType,
    is_constant: bool,
    location: &Location,
) -> Result<Option<Quantization>, ImportErrorKind> {
    let Some(params) = tensor.quantization() else {
        return Ok(None);
    };
    let scales: Vec<f32> = params
        .scale()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    if scales.is_empty() {
        return Ok(None);
    }
    let mut zero_points: Vec<i64> = params
        .zero_point()
        .map(|z| z.iter().collect())
        .unwrap_or_default();
    let invalid = |reason: String| ImportErrorKind::Quantization {
        location: location.clone(),
        reason,
    };
    // Some converters omit zero points for symmetric tensors.
    if zero_points.is_empty() {
        zero_points = vec![0; scales.len()];
    }
    let dimension = params.quantized_dimension();
    let axis = if scales.len() == 1 {
        None
    } else {
        let axis = usize::try_from(dimension)
            .map_err(|_| invalid(format!("quantized_dimension {dimension} is negative")))?;
        // A rank-1 tensor has only one dimension to quantise along; some
        // converters copy the filter's dimension onto the bias instead
        // (person_detect.tflite writes 3).
        if shape.len() == 1 {
            Some(0)
        } else {
            Some(axis)
        }
    };
    let quantization = Quantization {
        scales,
        zero_points,
        axis,
    };
    quantization.check(shape).map_err(invalid)?;
    // The operator that produces an activation divides by its scale. A
    // constant may have a zero scale: a channel of weights that are all
    // zero, whose multiplier is then zero.
    if !is_constant && quantization.scales.contains(&0.0) {
        return Err(invalid(
            "scale 0 on a tensor without constant data; expected a finite value > 0".into(),
        ));
    }
    if let Some((min, max)) = dtype.int_range() {
        if let Some(bad) = quantization
            .zero_points
            .iter()
            .find(|&&z| z < min || z > max)
        {
            return Err(invalid(format!(
                "zero point {bad} is outside the {dtype} range [{min}, {max}]"
            )));
        }
    }
    Ok(Some(quantization))
}
