//! The TFLite flatbuffer reader: subgraph 0 of a `.tflite` file into a
//! [`Graph`].
//!
//! The file is verified with the flatbuffers verifier before any field is
//! read; then every tensor, buffer and opcode index, every shape (with
//! checked element counts, before any data is copied), every constant's
//! length and every attribute of the operators fxsim executes is checked.
//! Only subgraph 0 is read: control-flow operators that call other subgraphs
//! are listed as unsupported.

mod builtin;
mod ops;
mod schema;
mod tensors;

pub use builtin::builtin_name;

use crate::import::{ImportError, ImportErrorKind, ImportOptions, Location};
use crate::model::{Graph, Op, OpKind, TensorId};
use flatbuffers::{Vector, VerifierOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest model file read, in bytes. TFLite flatbuffers cannot exceed
/// 2 GiB; larger files carry their weights after the flatbuffer.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// Reads the model file at `path` with the default [`ImportOptions`].
pub fn read_file(path: impl AsRef<Path>) -> Result<Graph, ImportError> {
    read_file_with(path, &ImportOptions::default())
}

/// Reads the model file at `path`, rejecting tensors over the limits of
/// `options`.
pub fn read_file_with(
    path: impl AsRef<Path>,
    options: &ImportOptions,
) -> Result<Graph, ImportError> {
    let path = path.as_ref();
    let fail = |kind| ImportError {
        path: path.to_path_buf(),
        kind: Box::new(kind),
    };
    if path.is_dir() {
        return Err(fail(ImportErrorKind::Io(std::io::Error::other(
            "is a directory, not a file",
        ))));
    }
    // Devices and pipes report no size, so the limit is on the bytes read.
    let file = std::fs::File::open(path).map_err(|e| fail(ImportErrorKind::Io(e)))?;
    if file
        .metadata()
        .is_ok_and(|meta| meta.is_file() && meta.len() > MAX_FILE_BYTES)
    {
        return Err(fail(ImportErrorKind::TooLarge {
            limit: MAX_FILE_BYTES,
        }));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(ImportErrorKind::Io(e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(ImportErrorKind::TooLarge {
            limit: MAX_FILE_BYTES,
        }));
    }
    read_bytes_with(&bytes, path, options)
}

/// Reads a model from memory with the default [`ImportOptions`]; `path`
/// names it in error messages.
pub fn read_bytes(bytes: &[u8], path: impl Into<PathBuf>) -> Result<Graph, ImportError> {
    read_bytes_with(bytes, path, &ImportOptions::default())
}

/// Reads a model from memory, rejecting tensors over the limits of
/// `options`; `path` names it in error messages.
pub fn read_bytes_with(
    bytes: &[u8],
    path: impl Into<PathBuf>,
    options: &ImportOptions,
) -> Result<Graph, ImportError> {
    read_graph(bytes, options).map_err(|kind| ImportError {
        path: path.into(),
        kind: Box::new(kind),
    })
}

fn read_graph(bytes: &[u8], limits: &ImportOptions) -> Result<Graph, ImportErrorKind> {
    // The verifier does not check the file identifier; TFLite does.
    if let Some(identifier) = bytes.get(4..8).filter(|identifier| identifier != b"TFL3") {
        return Err(ImportErrorKind::Flatbuffer(format!(
            "not a TFLite model: no TFL3 file identifier at bytes 4 to 7 (found {:?})",
            String::from_utf8_lossy(identifier)
        )));
    }
    let options = VerifierOptions {
        ignore_missing_null_terminator: true,
        ..VerifierOptions::default()
    };
    let model = flatbuffers::root_with_opts::<schema::Model>(&options, bytes)
        .map_err(|e| invalid_flatbuffer(bytes, &e))?;

    let subgraph = model
        .subgraphs()
        .filter(|s| !s.is_empty())
        .map(|s| s.get(0))
        .ok_or(ImportErrorKind::Missing {
            location: Location::Model,
            field: "subgraphs",
        })?;
    let buffers: Vec<schema::Buffer> = model
        .buffers()
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    let opcodes = read_opcodes(&model);

    let tensors = tensors::read_tensors(&subgraph, &buffers, bytes, limits)?;
    let tensor_count = tensors.len();
    let inputs = graph_tensor_list(subgraph.inputs(), "inputs", tensor_count)?;
    let outputs = graph_tensor_list(subgraph.outputs(), "outputs", tensor_count)?;

    let mut graph = Graph {
        name: subgraph.name(),
        description: model.description(),
        tensors,
        ops: Vec::new(),
        inputs,
        outputs,
    };
    if let Some(operators) = subgraph.operators() {
        for (index, operator) in operators.iter().enumerate() {
            let op = read_op(&graph, index, &operator, &opcodes)?;
            graph.ops.push(op);
        }
    }
    Ok(graph)
}

/// Resolved operator codes: the builtin code, or a custom operator's name.
enum Opcode {
    Builtin(i32),
    Custom(String),
}

const CUSTOM_CODE: i32 = 32;

fn read_opcodes(model: &schema::Model) -> Vec<Opcode> {
    let Some(codes) = model.operator_codes() else {
        return Vec::new();
    };
    codes
        .iter()
        .map(|code| {
            // Files written before schema 2.4 store the code only in the
            // one-byte field; newer files store both, with the byte capped at
            // 127. The larger of the two is the code.
            let builtin = code
                .builtin_code()
                .max(i32::from(code.deprecated_builtin_code()));
            if builtin == CUSTOM_CODE {
                Opcode::Custom(code.custom_code())
            } else {
                Opcode::Builtin(builtin)
            }
        })
        .collect()
}

fn graph_tensor_list(
    list: Option<Vector<i32>>,
    field: &'static str,
    tensor_count: usize,
) -> Result<Vec<TensorId>, ImportErrorKind> {
    list.map(|v| v.iter().collect::<Vec<i32>>())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(position, index)| {
            checked_tensor_index(index, tensor_count).ok_or_else(|| {
                ImportErrorKind::IndexOutOfRange {
                    location: Location::Subgraph,
                    field: format!("{field}[{position}]"),
                    index: i64::from(index),
                    count: tensor_count,
                    what: "tensors",
                }
            })
        })
        .collect()
}

fn checked_tensor_index(index: i32, count: usize) -> Option<TensorId> {
    usize::try_from(index).ok().filter(|&i| i < count)
}

fn read_op(
    graph: &Graph,
    index: usize,
    operator: &schema::Operator,
    opcodes: &[Opcode],
) -> Result<Op, ImportErrorKind> {
    let opcode_index = operator.opcode_index();
    let opcode =
        opcodes
            .get(opcode_index as usize)
            .ok_or_else(|| ImportErrorKind::IndexOutOfRange {
                location: Location::Op {
                    index,
                    name: "?".into(),
                },
                field: "opcode_index".into(),
                index: i64::from(opcode_index),
                count: opcodes.len(),
                what: "operator codes",
            })?;
    let name = match opcode {
        Opcode::Builtin(code) => match builtin_name(*code) {
            Some(name) => name.to_string(),
            None => format!("BUILTIN_{code}"),
        },
        Opcode::Custom(name) => format!("CUSTOM({name})"),
    };
    let location = Location::Op {
        index,
        name: name.clone(),
    };
    let count = graph.tensors.len();

    let inputs = operand_ids(operator.inputs(), "inputs", &location, count, true)?;
    let outputs: Vec<TensorId> =
        operand_ids(operator.outputs(), "outputs", &location, count, false)?
            .into_iter()
            .flatten()
            .collect();

    let kind = match opcode {
        Opcode::Builtin(code) => match ops::importer(*code) {
            Some(import) => {
                let context = ops::OpContext {
                    graph,
                    location,
                    operator,
                    inputs: &inputs,
                    outputs: &outputs,
                };
                import(&context)?
            }
            None => OpKind::Unsupported { name },
        },
        Opcode::Custom(_) => OpKind::Unsupported { name },
    };
    Ok(Op {
        kind,
        inputs,
        outputs,
    })
}

/// Checks an operator's input or output tensor list; `-1` (an omitted
/// optional operand) is accepted only where `optional_allowed`.
fn operand_ids(
    list: Option<Vector<i32>>,
    field: &str,
    location: &Location,
    count: usize,
    optional_allowed: bool,
) -> Result<Vec<Option<TensorId>>, ImportErrorKind> {
    let mut ids = Vec::new();
    for (position, tensor) in list
        .map(|v| v.iter().collect::<Vec<i32>>())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if tensor == -1 && optional_allowed {
            ids.push(None);
            continue;
        }
        let id = checked_tensor_index(tensor, count).ok_or_else(|| {
            ImportErrorKind::IndexOutOfRange {
                location: location.clone(),
                field: format!("{field}[{position}]"),
                index: i64::from(tensor),
                count,
                what: "tensors",
            }
        })?;
        ids.push(Some(id));
    }
    Ok(ids)
}

/// Describes why `bytes` failed verification in terms a user can act on:
/// empty, too short, not a TFLite file at all, or damaged.
fn invalid_flatbuffer(bytes: &[u8], error: &flatbuffers::InvalidFlatbuffer) -> ImportErrorKind {
    // The verifier's trace spans several lines; one line reads better.
    let detail = error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let reason = match bytes.len() {
        0 => "file is empty".to_string(),
        1..=7 => format!(
            "file is {} bytes, too short for a TFLite model",
            bytes.len()
        ),
        _ if &bytes[4..8] != b"TFL3" => {
            format!("not a TFLite model: no TFL3 file identifier at bytes 4 to 7 ({detail})")
        }
        n => format!("damaged or truncated TFLite model ({n} bytes): {detail}"),
    };
    ImportErrorKind::Flatbuffer(reason)
}
