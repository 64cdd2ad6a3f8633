//! The inputs and labels of the accumulator analysis, read from `.npy`
//! files: one input per file, a stack of inputs in one file, or a
//! directory of files, and one integer class label per input.
//!
//! Limitation: every input is read into memory before the analysis runs,
//! so a data set must fit in memory as int8 (or int16) tensors.

use super::accum::AccumError;
use crate::exec::{TensorData, TensorValue};
use crate::io::read_npy;
use crate::model::{format_shape, DataType, Graph, Tensor};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One input of the model and where it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// The file, followed by `[i]` for the `i`-th input of a stack.
    pub source: String,
    pub value: TensorValue,
}

/// Reads the inputs at `path` for the single input of `graph`.
///
/// `path` is a `.npy` file or a directory whose `.npy` files are read in
/// name order (other files are ignored). Each file contains one input of the
/// model input's shape, or a stack `[N, ...]` of N inputs when the model
/// input has a batch dimension of 1: the stack's trailing dimensions equal
/// the input's after its batch dimension. The element type must be the
/// model input's.
pub fn load_inputs(path: &Path, graph: &Graph) -> Result<Vec<ModelInput>, AccumError> {
    let tensor = single_input(graph)?;
    let files = if path.is_dir() {
        npy_files(path)?
    } else {
        vec![path.to_path_buf()]
    };

    let mut inputs = Vec::new();
    for file in &files {
        let value = read_npy(file)?;
        inputs.extend(split_inputs(file, value, tensor)?);
    }
    if inputs.is_empty() {
        return Err(AccumError::NoInputs {
            path: path.to_path_buf(),
        });
    }
    Ok(inputs)
}

/// Reads `count` class labels from the integer `.npy` file at `path`, of
/// shape `[count]` or `[count, 1]`. Each label must be a class index below
/// `classes`.
pub fn load_labels(path: &Path, count: usize, classes: usize) -> Result<Vec<usize>, AccumError> {
    let value = read_npy(path)?;
    if !is_label_type(value.dtype()) {
        return Err(AccumError::LabelType {
            path: path.to_path_buf(),
            found: value.dtype(),
        });
    }
    let labels = value.to_i64_vec();
    let one_per_row = match value.shape.as_slice() {
        [_] => true,
        [_, columns] => *columns == 1,
        _ => false,
    };
    if !one_per_row {
        return Err(AccumError::LabelShape {
            path: path.to_path_buf(),
            found: format_shape(&value.shape),
        });
    }
    if labels.len() != count {
        return Err(AccumError::LabelCount {
            path: path.to_path_buf(),
            found: labels.len(),
            expected: count,
        });
    }
    labels
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            usize::try_from(label)
                .ok()
                .filter(|&label| label < classes)
                .ok_or_else(|| AccumError::LabelRange {
                    path: path.to_path_buf(),
                    index,
                    label,
                    classes,
                })
        })
        .collect()
}

/// Returns the model's only input tensor.
fn single_input(graph: &Graph) -> Result<&Tensor, AccumError> {
    match graph.inputs.as_slice() {
        [id] => Ok(graph.tensor(*id)),
        ids => Err(AccumError::ModelInputs { count: ids.len() }),
    }
}

/// Lists the `.npy` files of a directory, sorted by name.
fn npy_files(dir: &Path) -> Result<Vec<PathBuf>, AccumError> {
    let read_error = |source| AccumError::ReadDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_npy = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("npy"));
        if is_npy && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Splits the value read from `path` into model inputs: the value itself
/// when its shape is the input's, else the items of a stack.
fn split_inputs(
    path: &Path,
    value: TensorValue,
    tensor: &Tensor,
) -> Result<Vec<ModelInput>, AccumError> {
    if value.dtype() != tensor.dtype {
        return Err(AccumError::InputType {
            path: path.to_path_buf(),
            found: value.dtype(),
            expected: tensor.dtype,
        });
    }
    if value.shape == tensor.shape {
        return Ok(vec![ModelInput {
            source: path.display().to_string(),
            value,
        }]);
    }

    let stacks = tensor.shape.first() == Some(&1)
        && value.shape.len() == tensor.shape.len()
        && value.shape[1..] == tensor.shape[1..];
    if !stacks {
        let mut expected = format!("the model input's {}", format_shape(&tensor.shape));
        if tensor.shape.first() == Some(&1) {
            let mut stack = vec!["N".to_string()];
            stack.extend(tensor.shape.iter().skip(1).map(usize::to_string));
            expected.push_str(&format!(" or a stack [{}] of inputs", stack.join(", ")));
        }
        return Err(AccumError::InputShape {
            path: path.to_path_buf(),
            found: format_shape(&value.shape),
            expected,
        });
    }
    let item_len = tensor.element_count();
    let inputs = (0..value.shape[0])
        .map(|item| ModelInput {
            source: format!("{}[{item}]", path.display()),
            value: TensorValue {
                shape: tensor.shape.clone(),
                data: slice_data(&value.data, item * item_len..(item + 1) * item_len),
            },
        })
        .collect();
    Ok(inputs)
}

/// Copies the elements `range` of `data`.
fn slice_data(data: &TensorData, range: Range<usize>) -> TensorData {
    match data {
        TensorData::I8(values) => TensorData::I8(values[range].to_vec()),
        TensorData::U8(values) => TensorData::U8(values[range].to_vec()),
        TensorData::I16(values) => TensorData::I16(values[range].to_vec()),
        TensorData::I32(values) => TensorData::I32(values[range].to_vec()),
        TensorData::I64(values) => TensorData::I64(values[range].to_vec()),
        TensorData::F32(values) => TensorData::F32(values[range].to_vec()),
        TensorData::Bool(values) => TensorData::Bool(values[range].to_vec()),
    }
}

/// Returns true for the element types class labels may have.
fn is_label_type(dtype: DataType) -> bool {
    matches!(
        dtype,
        DataType::Int8 | DataType::UInt8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, OpKind};

    fn graph(shape: &[usize]) -> Graph {
        Graph {
            name: String::new(),
            description: String::new(),
            tensors: vec![
                Tensor {
                    name: "x".into(),
                    shape: shape.to_vec(),
                    dtype: DataType::Int8,
                    quantization: None,
                    data: None,
                    is_variable: false,
                },
                Tensor {
                    name: "y".into(),
                    shape: shape.to_vec(),
                    dtype: DataType::Int8,
                    quantization: None,
                    data: None,
                    is_variable: false,
                },
            ],
            ops: vec![Op {
                kind: OpKind::Reshape,
                inputs: vec![Some(0)],
                outputs: vec![1],
            }],
            inputs: vec![0],
            outputs: vec![1],
        }
    }

    fn value(shape: &[usize]) -> TensorValue {
        let count: usize = shape.iter().product();
        TensorValue {
            shape: shape.to_vec(),
            data: TensorData::I8((0..count).map(|i| i as i8).collect()),
        }
    }

    #[test]
    fn split_inputs_takes_one_input_or_a_stack() {
        let graph = graph(&[1, 2, 3]);
        let tensor = graph.tensor(0);
        let path = Path::new("x.npy");

        let one = split_inputs(path, value(&[1, 2, 3]), tensor).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].source, "x.npy");

        let stack = split_inputs(path, value(&[3, 2, 3]), tensor).unwrap();
        assert_eq!(stack.len(), 3);
        assert_eq!(stack[2].source, "x.npy[2]");
        assert_eq!(stack[2].value.shape, vec![1, 2, 3]);
        assert_eq!(stack[2].value.data, TensorData::I8((12..18).collect()));
    }

    #[test]
    fn split_inputs_rejects_other_shapes_and_types() {
        let graph = graph(&[1, 2, 3]);
        let tensor = graph.tensor(0);
        let path = Path::new("x.npy");
        let error = split_inputs(path, value(&[3, 3, 2]), tensor).unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.npy: shape [3, 3, 2] does not fit; expected the model input's [1, 2, 3] or a stack [N, 2, 3] of inputs"
        );
        let floats = TensorValue {
            shape: vec![1, 2, 3],
            data: TensorData::F32(vec![0.0; 6]),
        };
        let error = split_inputs(path, floats, tensor).unwrap_err();
        assert!(matches!(error, AccumError::InputType { .. }), "{error}");
    }

    #[test]
    fn input_without_batch_dimension_takes_no_stack() {
        let graph = graph(&[2, 3]);
        let error = split_inputs(Path::new("x.npy"), value(&[4, 3]), graph.tensor(0));
        assert!(matches!(error, Err(AccumError::InputShape { .. })));
    }

    #[test]
    fn label_types_are_integers() {
        assert!(is_label_type(DataType::Int64));
        assert!(is_label_type(DataType::UInt8));
        assert!(!is_label_type(DataType::Float32));
        assert!(!is_label_type(DataType::Bool));
    }
}
