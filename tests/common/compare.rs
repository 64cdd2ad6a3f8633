//! Element-exact comparison of a computed tensor against the oracle's, with
//! a failure message that points at the first differing element.
//!
//! Integers must be equal. Floats must be equal as values (so `-0.0`
//! equals `0.0`), and NaN equals NaN. There is no tolerance, because the
//! simulator's contract is bit-exact.

use std::fmt;
use std::path::{Path, PathBuf};

use super::npy::{unravel_index, ElementType, NpyArray, NpyData};

/// The first difference between an expected and a computed tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorMismatch {
    pub model: PathBuf,
    pub tensor_index: usize,
    pub tensor_name: String,
    pub difference: Difference,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    Shape {
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    ElementType {
        expected: ElementType,
        got: ElementType,
    },
    Values {
        /// Number of differing elements.
        count: usize,
        /// Number of elements in the tensor.
        total: usize,
        first_flat_index: usize,
        first_coordinates: Vec<usize>,
        expected: String,
        got: String,
    },
}

impl fmt::Display for TensorMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: tensor {} \"{}\": ",
            self.model.display(),
            self.tensor_index,
            self.tensor_name
        )?;
        match &self.difference {
            Difference::Shape { expected, got } => {
                write!(f, "shape differs: expected {expected:?}, got {got:?}")
            }
            Difference::ElementType { expected, got } => {
                write!(f, "element type differs: expected {expected}, got {got}")
            }
            Difference::Values {
                count,
                total,
                first_flat_index,
                first_coordinates,
                expected,
                got,
            } => write!(
                f,
                "{count} of {total} elements differ; first at flat index \
                 {first_flat_index} {first_coordinates:?}: expected {expected}, got {got}"
            ),
        }
    }
}

/// Compares a computed tensor with the expected one.
///
/// `model`, `tensor_index` and `tensor_name` only label the mismatch.
pub fn compare_tensor(
    model: &Path,
    tensor_index: usize,
    tensor_name: &str,
    expected: &NpyArray,
    got: &NpyArray,
) -> Result<(), Box<TensorMismatch>> {
    let mismatch = |difference| {
        Box::new(TensorMismatch {
            model: model.to_path_buf(),
            tensor_index,
            tensor_name: tensor_name.to_string(),
            difference,
        })
    };

    if expected.element_type() != got.element_type() {
        return Err(mismatch(Difference::ElementType {
            expected: expected.element_type(),
            got: got.element_type(),
        }));
    }
    if expected.shape != got.shape || expected.len() != got.len() {
        return Err(mismatch(Difference::Shape {
            expected: expected.shape.clone(),
            got: got.shape.clone(),
        }));
    }

    let differing = differing_indices(&expected.data, &got.data);
    let Some(&first_flat_index) = differing.first() else {
        return Ok(());
    };
    Err(mismatch(Difference::Values {
        count: differing.len(),
        total: expected.len(),
        first_flat_index,
        first_coordinates: unravel_index(&expected.shape, first_flat_index),
        expected: expected.data.format_element(first_flat_index),
        got: got.data.format_element(first_flat_index),
    }))
}

/// Compares like [`compare_tensor`] and panics with the mismatch message.
#[track_caller]
pub fn assert_tensor_eq(
    model: &Path,
    tensor_index: usize,
    tensor_name: &str,
    expected: &NpyArray,
    got: &NpyArray,
) {
    if let Err(mismatch) = compare_tensor(model, tensor_index, tensor_name, expected, got) {
        panic!("{mismatch}");
    }
}

/// Panics listing every mismatch, one per line, when there is any.
#[track_caller]
pub fn assert_no_mismatches(mismatches: &[TensorMismatch]) {
    if mismatches.is_empty() {
        return;
    }
    let lines: Vec<String> = mismatches.iter().map(|m| format!("  {m}")).collect();
    panic!(
        "{} tensor(s) differ from the oracle:\n{}",
        mismatches.len(),
        lines.join("\n")
    );
}

/// Flat indices where two arrays of the same element type and length
/// differ. Arrays of different element types count as differing everywhere.
fn differing_indices(expected: &NpyData, got: &NpyData) -> Vec<usize> {
    fn exact<T: PartialEq>(a: &[T], b: &[T]) -> Vec<usize> {
        let pairs = a.iter().zip(b).enumerate();
        pairs.filter(|(_, (x, y))| x != y).map(|(i, _)| i).collect()
    }

    match (expected, got) {
        (NpyData::I8(a), NpyData::I8(b)) => exact(a, b),
        (NpyData::U8(a), NpyData::U8(b)) => exact(a, b),
        (NpyData::I16(a), NpyData::I16(b)) => exact(a, b),
        (NpyData::I32(a), NpyData::I32(b)) => exact(a, b),
        (NpyData::I64(a), NpyData::I64(b)) => exact(a, b),
        (NpyData::Bool(a), NpyData::Bool(b)) => exact(a, b),
        (NpyData::F32(a), NpyData::F32(b)) => {
            let pairs = a.iter().zip(b).enumerate();
            let same = |x: &f32, y: &f32| x == y || (x.is_nan() && y.is_nan());
            pairs
                .filter(|(_, (x, y))| !same(x, y))
                .map(|(i, _)| i)
                .collect()
        }
        _ => (0..expected.len()).collect(),
    }
}
