//! Writing a set of files that belong together (a report and its charts)
//! so that no file is left half-written.
//!
//! Each file is first written in full to a temporary file beside its
//! target, then the temporary files are renamed into place in the order
//! given. A failure while writing removes every temporary file and leaves
//! the targets as they were.
//!
//! Limitation: each rename is atomic, but the set is not: a failure between
//! two renames (a full disk cannot cause one, a removed directory can)
//! leaves the earlier files new and the later ones old. Callers put the
//! file that links the others last.

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

/// Writes every `(path, contents)` pair, each file complete or not at all.
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
    for (position, (temporary, path)) in staged.iter().enumerate() {
        if let Err(source) = fs::rename(temporary, path) {
            remove_staged(&staged[position..]);
            return Err(WriteFilesError {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    Ok(())
}

/// Writes `contents` to a temporary file beside `path` and returns its path.
fn stage(path: &Path, contents: &[u8]) -> Result<PathBuf, WriteFilesError> {
    let error = |source| WriteFilesError {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| error(std::io::Error::other("the path names no file")))?;
    let temporary = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
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
}
