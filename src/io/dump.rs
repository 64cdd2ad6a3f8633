//! Dump directories: every tensor of a run as `.npy`, with an index.
//!
//! The directory is written beside its target under a temporary name and
//! renamed into place when complete, so an error never leaves a partial dump;
//! an existing dump at the target is replaced.

use super::npy::write_npy;
use crate::exec::TensorValue;
use crate::model::{format_shape, Graph};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes `t<id>.npy` for every tensor with a value and `tensors.tsv`
/// (id, name, shape, dtype, producing op) into `dir`.
pub fn write_dump(
    dir: &Path,
    graph: &Graph,
    values: &[Option<TensorValue>],
) -> std::io::Result<()> {
    let staging = staging_dir(dir);
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;
    let result = write_files(&staging, graph, values).and_then(|()| replace_dir(&staging, dir));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn staging_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump".into());
    dir.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn write_files(
    staging: &Path,
    graph: &Graph,
    values: &[Option<TensorValue>],
) -> std::io::Result<()> {
    let mut index = BufWriter::new(fs::File::create(staging.join("tensors.tsv"))?);
    writeln!(index, "id\tname\tshape\tdtype\top")?;
    for (id, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let mut file = BufWriter::new(fs::File::create(staging.join(format!("t{id}.npy")))?);
        write_npy(&mut file, value)?;
        file.flush()?;
        let name = graph.get_tensor(id).map_or("", |t| t.name.as_str());
        let producer = graph
            .producer(id)
            .map_or("-".to_string(), |op| op.to_string());
        writeln!(
            index,
            "{id}\t{name}\t{}\t{}\t{producer}",
            format_shape(&value.shape),
            value.dtype()
        )?;
    }
    index.flush()
}

fn replace_dir(staging: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::rename(staging, dir)
}
