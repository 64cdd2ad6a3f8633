//! Golden tensor images: the network input and every operator's outputs,
//! one word per `cols` channels of one row (`docs/formats.md`).
//!
//! Limitation: only integer and bool tensors are written; a float tensor
//! is an error that names it.

use super::mem::{ImageSpec, MemWriter};
use super::{ExportError, FileEntry, Role, TensorLayout};
use crate::exec::TensorValue;
use crate::model::DataType;
use std::io::Write;

/// Element width and signedness of a tensor type, `None` for types a
/// memory image cannot hold.
pub fn element_format(dtype: DataType) -> Option<(u32, bool)> {
    use DataType::*;
    match dtype {
        Int4 | Int8 | Int16 | Int32 | Int64 => dtype.bits().map(|bits| (bits, true)),
        UInt8 | UInt16 | UInt32 => dtype.bits().map(|bits| (bits, false)),
        Bool => Some((1, false)),
        _ => None,
    }
}

/// A tensor to be written as a golden image.
pub struct GoldenTensor<'a> {
    pub name: String,
    pub role: Role,
    pub layer: Option<usize>,
    /// Tensor id and name, for errors.
    pub id: usize,
    pub tensor_name: &'a str,
    pub value: &'a TensorValue,
}

impl GoldenTensor<'_> {
    /// Writes the tensor with `cols` channels per word.
    pub fn write<W: Write>(&self, out: W, cols: usize) -> Result<FileEntry, ExportError> {
        let dtype = self.value.dtype();
        let (element_bits, signed) = element_format(dtype).ok_or_else(|| ExportError::Tensor {
            id: self.id,
            name: self.tensor_name.to_string(),
            message: format!("has type {dtype}; golden images hold integer and bool tensors only"),
        })?;
        let values = self.value.to_i64_vec();
        let channels = self.value.shape.last().copied().unwrap_or(1);
        let rows = values.len().checked_div(channels).unwrap_or(0);
        let tiles = channels.div_ceil(cols);
        let spec = ImageSpec {
            name: self.name.clone(),
            role: self.role,
            layer: self.layer,
            element_bits,
            elements_per_word: cols as u32,
            depth: (tiles * rows) as u64,
            signed,
            element_order: format!(
                "word = t*M + m; element j = channel t*C + j of row m (shape {:?}, C = {cols}, M = {rows}, N = {channels}, T = {tiles})",
                self.value.shape
            ),
            tensor: Some(TensorLayout {
                shape: self.value.shape.clone(),
                groups: 1,
                group_channels: channels,
                rows,
            }),
        };
        let mut writer = MemWriter::new(out, spec)?;
        let mut word = vec![0_i64; cols];
        for tile in 0..tiles {
            for row in values.chunks_exact(channels.max(1)) {
                for (j, element) in word.iter_mut().enumerate() {
                    *element = row.get(tile * cols + j).copied().unwrap_or(0);
                }
                writer.push(&word)?;
            }
        }
        writer.finish()
    }
}
