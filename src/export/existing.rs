//! The check that exporting again into an earlier export directory deletes
//! nothing but what fxsim export wrote there.
//!
//! An export replaces its directory wholesale, so any other entry (the
//! `rtl_out/` and `rtl_build/` of a hand-run testbench, a user's notes)
//! would be lost. Limitation: entries are recognised by name only. A user
//! file that reuses the name of an export file, such as an edited
//! `layer003_output.mem`, is still replaced.

use super::{read_manifest, rtl, ExportError, EXPORT_MARKER};
use std::collections::HashSet;
use std::fs;
use std::path::Path;

/// Entries listed in the error before it shortens the list.
const LISTED: usize = 8;

/// Rejects an existing export directory `dir` that contains entries the earlier
/// export did not write: names its manifest does not list at the top level,
/// and files of `rtl/` that `--rtl` does not write. A missing directory
/// passes.
pub fn check_no_foreign_entries(dir: &Path) -> Result<(), ExportError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut expected: HashSet<String> = [EXPORT_MARKER, "manifest.json", "rtl"]
        .iter()
        .map(|name| name.to_string())
        .collect();
    // An unreadable manifest leaves only the fixed names expected, so every
    // other entry is reported instead of deleted.
    if let Ok(manifest) = read_manifest(dir) {
        expected.extend(manifest.files.into_iter().map(|entry| entry.name));
    }

    let mut foreign = Vec::new();
    for (name, is_dir) in entries(dir)? {
        if !expected.contains(&name) {
            foreign.push(if is_dir { format!("{name}/") } else { name });
        } else if name == "rtl" && is_dir {
            let rtl_dir = dir.join("rtl");
            for (inner, inner_is_dir) in entries(&rtl_dir)? {
                if inner_is_dir || !rtl::is_rtl_file(&inner) {
                    let slash = if inner_is_dir { "/" } else { "" };
                    foreign.push(format!("rtl/{inner}{slash}"));
                }
            }
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let mut listed: Vec<String> = foreign.iter().take(LISTED).cloned().collect();
    if foreign.len() > LISTED {
        listed.push(format!("and {} more", foreign.len() - LISTED));
    }
    Err(ExportError::ForeignEntries {
        path: dir.to_path_buf(),
        entries: listed.join(", "),
    })
}

/// Returns the names of the entries of `dir` and whether each is a directory.
fn entries(dir: &Path) -> Result<Vec<(String, bool)>, ExportError> {
    let read_error = |source| ExportError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let is_dir = entry.file_type().map_err(read_error)?.is_dir();
        names.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    Ok(names)
}
