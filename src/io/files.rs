//! Writing a set of files that belong together (a report and its charts)
//! so that no file is left half-written.
//!
//! Each file is first written in full to a temporary file beside its
//! target. Every target is then checked: it must be absent or a regular
//! file (a directory cannot be replaced). Only then are the existing
//! targets moved aside to backup names and the temporary files renamed
//! into place. A failure at any step removes the temporary files and moves
//! the backups back, so the targets stay as they were.
//!
//! Limitation: the set is not one atomic step. A process killed between
//! two renames leaves some files new, some old, and backup files named
//! `.NAME.old-PID` beside them. Callers put the file that links the others
//! last.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Failure to write one of the files.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot write: {source}", path.display())]
pub struct WriteFilesError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes every `(path, contents)` pair: all files are replaced, or on an
/// error none of them changes.
pub fn write_files(files: &[(PathBuf, Vec<u8>)]) -> Result<(), WriteFilesError> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    for (path, contents) in files {
        match stage(path, contents) {
            Ok(temporary) => staged.push((temporary, path)),
            Err(error) => {
                remove_staged(&staged);
                return Err(error);
            }
        }
    }
    for (_, path) in &staged {
        if let Err(error) = check_replaceable(path) {
            remove_staged(&staged);
            return Err(error);
        }
    }

    let mut replaced: Vec<Replaced> = Vec::with_capacity(staged.len());
    for (position, (temporary, path)) in staged.iter().enumerate() {
        if let Err(error) = replace(temporary, path, &mut replaced) {
            remove_staged(&staged[position..]);
            restore(&replaced);
            return Err(error);
        }
    }
    for done in &replaced {
        if let Some(backup) = &done.backup {
            let _ = fs::remove_file(backup);
        }
    }
    Ok(())
}

/// A target already renamed into place, with the backup of its old file.
struct Replaced {
    path: PathBuf,
    backup: Option<PathBuf>,
}

/// Rejects a target that exists and is not a regular file.
fn check_replaceable(path: &Path) -> Result<(), WriteFilesError> {
    match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(WriteFilesError {
            path: path.to_path_buf(),
            source: std::io::Error::other("the path exists and is not a regular file"),
        }),
        _ => Ok(()),
    }
}

/// Moves an existing `path` to a backup name, then renames `temporary` to
/// `path`, recording what it did in `replaced`.
fn replace(
    temporary: &Path,
    path: &Path,
    replaced: &mut Vec<Replaced>,
) -> Result<(), WriteFilesError> {
    let error = |source| WriteFilesError {
        path: path.to_path_buf(),
        source,
    };
    let backup = if fs::symlink_metadata(path).is_ok() {
        let backup = sibling(path, "old").map_err(error)?;
        fs::rename(path, &backup).map_err(error)?;
        Some(backup)
    } else {
        None
    };
    if let Err(source) = fs::rename(temporary, path) {
        if let Some(backup) = &backup {
            let _ = fs::rename(backup, path);
        }
        return Err(error(source));
    }
    replaced.push(Replaced {
        path: path.to_path_buf(),
        backup,
    });
    Ok(())
}

/// Undoes `replace` in reverse order: the old files come back, new files
/// without an old one are removed.
fn restore(replaced: &[Replaced]) {
    for done in replaced.iter().rev() {
        match &done.backup {
            Some(backup) => {
                let _ = fs::rename(backup, &done.path);
            }
            None => {
                let _ = fs::remove_file(&done.path);
            }
        }
    }
}

/// `.NAME.KIND-PID` beside `path`.
fn sibling(path: &Path, kind: &str) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    Ok(path.with_file_name(format!(
        ".{}.{kind}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Writes `contents` to a temporary file beside `path` and returns its path.
fn stage(path: &Path, contents: &[u8]) -> Result<PathBuf, WriteFilesError> {
    let error = |source| WriteFilesError {
        path: path.to_path_buf(),
        source,
    };
    let temporary = sibling(path, "tmp").map_err(error)?;
    let written = fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temporary),
        Err(source) => {
            let _ = fs::remove_file(&temporary);
            Err(error(source))
        }
    }
}

fn remove_staged(staged: &[(PathBuf, &Path)]) {
    for (temporary, _) in staged {
        let _ = fs::remove_file(temporary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fxsim-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_every_file() {
        let dir = scratch("all");
        let files = vec![
            (dir.join("a.svg"), b"<svg/>".to_vec()),
            (dir.join("report.md"), b"# report\n".to_vec()),
        ];
        write_files(&files).unwrap();
        assert_eq!(listing(&dir), vec!["a.svg", "report.md"]);
        assert_eq!(fs::read(dir.join("report.md")).unwrap(), b"# report\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn failure_leaves_old_files_and_no_temporaries() {
        let dir = scratch("failure");
        fs::write(dir.join("report.md"), b"old").unwrap();
        let files = vec![
            (dir.join("report.md"), b"new".to_vec()),
            (dir.join("missing").join("chart.svg"), b"<svg/>".to_vec()),
        ];
        let error = write_files(&files).unwrap_err();
        assert!(error.path.ends_with("missing/chart.svg"), "{error}");
        assert_eq!(fs::read(dir.join("report.md")).unwrap(), b"old");
        assert_eq!(listing(&dir), vec!["report.md"]);
        let _ = fs::remove_dir_all(&dir);
    }

    /// A report whose Markdown target is a directory: the charts staged
    /// before it must not replace the old charts, and no temporary file or
    /// backup may remain.
    #[test]
    fn directory_target_leaves_every_file_unchanged() {
        let dir = scratch("directory");
        fs::write(dir.join("out-cycles.svg"), b"old chart").unwrap();
        fs::create_dir(dir.join("out.md")).unwrap();
        let files = vec![
            (dir.join("out-cycles.svg"), b"<svg/>".to_vec()),
            (dir.join("out-new.svg"), b"<svg/>".to_vec()),
            (dir.join("out.md"), b"# report\n".to_vec()),
        ];
        let error = write_files(&files).unwrap_err();
        assert!(error.path.ends_with("out.md"), "{error}");
        assert_eq!(fs::read(dir.join("out-cycles.svg")).unwrap(), b"old chart");
        assert_eq!(listing(&dir), vec!["out-cycles.svg", "out.md"]);
        let _ = fs::remove_dir_all(&dir);
    }

    /// A rename that fails after earlier ones succeeded puts the old files
    /// back and removes the new ones that had no old file.
    #[test]
    fn failed_rename_restores_earlier_targets() {
        let dir = scratch("restore");
        fs::write(dir.join("a.svg"), b"old a").unwrap();
        let mut replaced = Vec::new();
        let temporary = dir.join(".a.svg.tmp");
        fs::write(&temporary, b"new a").unwrap();
        replace(&temporary, &dir.join("a.svg"), &mut replaced).unwrap();
        let temporary = dir.join(".b.svg.tmp");
        fs::write(&temporary, b"new b").unwrap();
        replace(&temporary, &dir.join("b.svg"), &mut replaced).unwrap();
        assert_eq!(fs::read(dir.join("a.svg")).unwrap(), b"new a");
        restore(&replaced);
        assert_eq!(fs::read(dir.join("a.svg")).unwrap(), b"old a");
        assert_eq!(listing(&dir), vec!["a.svg"]);
        let _ = fs::remove_dir_all(&dir);
    }
}
