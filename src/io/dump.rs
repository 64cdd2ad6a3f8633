//! Dump directories: every tensor of a run as `.npy`, with an index.
//!
//! The directory is written beside its target under a temporary name and
//! renamed into place when complete, so an error never leaves a partial dump.
//! An existing directory is replaced only when it is an earlier dump (it
//! contains the marker file `.fxsim-dump`); anything else at the target is an
//! error, so a mistyped path cannot delete a user's files. Limitation: a
//! process killed while writing leaves its hidden staging directory; the next
//! dump to the same target removes it.

use super::npy::write_npy;
use crate::exec::TensorValue;
use crate::model::{format_shape, Graph};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// Name of the marker file that identifies a dump directory.
pub const DUMP_MARKER: &str = ".fxsim-dump";

/// A dump could not be written.
#[derive(Debug, Error)]
pub enum DumpError {
    #[error("{}: dump target must name a new or earlier dump directory, not `.` or `..`", path.display())]
    InvalidTarget { path: PathBuf },

    #[error("{}: exists and is not an fxsim dump (no {DUMP_MARKER} inside); choose another directory or remove it", path.display())]
    NotADump { path: PathBuf },

    #[error("{}: cannot write the dump: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `t<id>.npy` for every tensor with a value and `tensors.tsv`
/// (id, name, shape, dtype, producing op) into `dir`.
pub fn write_dump(
    dir: &Path,
    graph: &Graph,
    values: &[Option<TensorValue>],
) -> Result<(), DumpError> {
    check_target(dir, DUMP_MARKER)?;
    let staging = staging_dir(dir, std::process::id());
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DumpError::Io { path, source }
    };
    remove_stale_staging(dir);
    fs::create_dir_all(&staging).map_err(io_error(&staging))?;

    let result = write_files(&staging, graph, values)
        .map_err(io_error(&staging))
        .and_then(|()| {
            replace_dir(&staging, dir).map_err(|source| DumpError::Io {
                path: dir.to_path_buf(),
                source,
            })
        });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Rejects `.`, `..` and paths ending in them, and existing paths that are
/// not earlier outputs of the same kind (containing `marker`).
pub(crate) fn check_target(dir: &Path, marker: &str) -> Result<(), DumpError> {
    let ends_in_dots = matches!(
        dir.components().next_back(),
        Some(Component::CurDir | Component::ParentDir) | None
    ) || dir.as_os_str().to_string_lossy().ends_with("/.");
    if ends_in_dots {
        return Err(DumpError::InvalidTarget {
            path: dir.to_path_buf(),
        });
    }
    if dir.exists() && !(dir.is_dir() && dir.join(marker).is_file()) {
        return Err(DumpError::NotADump {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

pub(crate) fn staging_dir(dir: &Path, pid: u32) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump".into());
    dir.with_file_name(format!(".{name}.partial-{pid}"))
}

/// Removes staging directories for `dir` left by processes that no longer
/// run. Only Linux can tell whether a process runs (`/proc/PID`); elsewhere
/// nothing is removed.
pub(crate) fn remove_stale_staging(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.partial-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let proc_dir = Path::new("/proc");
        if proc_dir.is_dir() && !proc_dir.join(pid.to_string()).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn write_files(
    staging: &Path,
    graph: &Graph,
    values: &[Option<TensorValue>],
) -> std::io::Result<()> {
    fs::write(staging.join(DUMP_MARKER), b"written by fxsim run --dump\n")?;
    let mut index = BufWriter::new(fs::File::create(staging.join("tensors.tsv"))?);
    writeln!(index, "id\tname\tshape\tdtype\top")?;
    for (id, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let mut file = BufWriter::new(fs::File::create(staging.join(format!("t{id}.npy")))?);
        write_npy(&mut file, value)?;
        file.flush()?;
        let name = graph
            .get_tensor(id)
            .map_or(String::new(), |t| escape_field(&t.name));
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

/// Escapes backslashes and control characters so that a name from a model
/// file cannot break a tab-separated line.
pub fn escape_field(text: &str) -> String {
    text.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}

/// Moves the finished staging directory into place. An earlier dump is
/// first renamed aside, so that at every moment either it or the new dump is
/// complete at the target.
pub(crate) fn replace_dir(staging: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        let old = staging.with_file_name(format!(
            ".{}.old-{}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        fs::rename(dir, &old)?;
        fs::rename(staging, dir)?;
        let _ = fs::remove_dir_all(&old);
        return Ok(());
    }
    fs::rename(staging, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_targets_are_rejected() {
        for target in [".", "..", "a/..", "a/.", "/tmp/x/."] {
            assert!(
                matches!(
                    check_target(Path::new(target), DUMP_MARKER),
                    Err(DumpError::InvalidTarget { .. })
                ),
                "{target}"
            );
        }
    }

    #[test]
    fn escape_field_keeps_text_and_escapes_controls() {
        assert_eq!(escape_field("conv/Relu6;1"), "conv/Relu6;1");
        assert_eq!(escape_field("a\tb\nc"), "a\\tb\\nc");
        assert_eq!(escape_field("\u{1b}[31m"), "\\u{1b}[31m");
    }
}
