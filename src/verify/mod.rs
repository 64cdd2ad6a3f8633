//! `fxsim verify`: compares RTL memory dumps with the golden images of an
//! export and reports the first elements that differ, with their layer and
//! tensor coordinates.
//!
//! A dump is a `$readmemh`/`$writememh` hex file or a decimal file with one
//! element per line ([`parse`] has both grammars). Each dump is paired with
//! a golden file of the export's manifest by name; two dumps that pair with
//! one golden file are an error. Limitation: a dump whose name matches no
//! golden file needs `--file` to say which one it is, and `--file` takes a
//! single dump file, not a directory.

pub mod compare;
pub mod parse;

use crate::export::{read_manifest, ExportError, FileEntry, Manifest, Role};
use compare::{compare_decimal, compare_hex, FileComparison, Golden, Got, Mismatch};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// A verification that could not run; the binary exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Manifest(#[from] ExportError),

    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}:{line}:{column}: not a valid {format} dump here: {excerpt:?}", path.display())]
    Parse {
        path: PathBuf,
        format: &'static str,
        line: usize,
        column: usize,
        excerpt: String,
    },

    #[error("{}: {words} words, but the manifest gives depth {depth} (element width {element_bits}); export it again", path.display())]
    GoldenMismatch {
        path: PathBuf,
        words: usize,
        depth: u64,
        element_bits: u32,
    },

    #[error("{}: no golden file of the export matches this name; pass --file NAME with one of the manifest's files", path.display())]
    NoGolden { path: PathBuf },

    #[error("{}: {name} is not a file of this export", dir.display())]
    UnknownGolden { dir: PathBuf, name: String },

    #[error("{}: no dump to compare{}", path.display(), layer.map_or(String::new(), |l| format!(" for layer {l}")))]
    NothingToCompare { path: PathBuf, layer: Option<usize> },

    #[error("{}: {} and {} both pair with golden file {golden}; remove or rename one of them", dir.display(), first.display(), second.display())]
    AmbiguousDumps {
        dir: PathBuf,
        first: PathBuf,
        second: PathBuf,
        golden: String,
    },

    #[error("{}: is a directory; --file {name} applies to a single dump file only, so pass the dump file itself", path.display())]
    FileWithDirectory { path: PathBuf, name: String },

    #[error("{}: the export has no layer {layer}; its layers are {layers}", dir.display())]
    NoSuchLayer {
        dir: PathBuf,
        layer: usize,
        layers: String,
    },
}

/// The text form of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// `$readmemh` / `$writememh` text.
    Hex,
    /// One decimal element per line.
    Decimal,
}

impl DumpFormat {
    /// Picks the format from a file name: `.dec`, `.txt` and `.csv` are
    /// decimal, anything else hex.
    pub fn from_path(path: &Path) -> DumpFormat {
        let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase());
        match extension.as_deref() {
            Some("dec" | "txt" | "csv") => DumpFormat::Decimal,
            _ => DumpFormat::Hex,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DumpFormat::Hex => "$readmemh",
            DumpFormat::Decimal => "decimal",
        }
    }
}

/// A verification request: which files to compare and how many mismatches to list.
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// Only golden files of this operator.
    pub layer: Option<usize>,
    /// The golden file a single dump is compared with, by name.
    pub file: Option<String>,
    /// The dumps' format; by extension when `None`.
    pub format: Option<DumpFormat>,
    /// Mismatches to list over all files.
    pub max: usize,
}

/// The comparisons of every paired dump, in the manifest's order.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub files: Vec<FileComparison>,
    /// Files of a dump directory that pair with no golden file that verify
    /// compares, in name order.
    pub skipped: Vec<PathBuf>,
    pub max: usize,
}

impl VerifyReport {
    /// True when every element of every compared file matched.
    pub fn matches(&self) -> bool {
        self.files.iter().all(FileComparison::matches)
    }

    /// Lists the first mismatches over all files (earliest stage first),
    /// then one summary line per file and a total.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let mismatches = self.files.iter().flat_map(|file| &file.first);
        for mismatch in mismatches.take(self.max) {
            let _ = writeln!(text, "{}", describe(mismatch));
        }
        if !self.matches() && self.max > 0 {
            text.push('\n');
        }
        let (mut elements, mut mismatched) = (0, 0);
        for file in &self.files {
            elements += file.elements;
            mismatched += file.mismatched;
            let status = if file.matches() { "ok" } else { "MISMATCH" };
            let _ = write!(
                text,
                "{} against {}: {status}, {} of {} differ",
                file.dump,
                file.file,
                file.mismatched,
                count(file.elements, "element"),
            );
            if file.padding_mismatched > 0 {
                let _ = write!(
                    text,
                    ", {} not 0",
                    count(file.padding_mismatched, "padding element")
                );
            }
            if file.extra_words > 0 {
                let _ = write!(
                    text,
                    ", {} beyond the golden depth",
                    count(file.extra_words, "word")
                );
            }
            text.push('\n');
        }
        let _ = writeln!(
            text,
            "{}, {} compared, {mismatched} differ",
            count(self.files.len() as u64, "file"),
            count(elements, "element"),
        );
        text
    }

    /// Returns one note per skipped dump file, for standard error.
    pub fn skipped_notes(&self) -> String {
        self.skipped
            .iter()
            .map(|path| {
                format!(
                    "note: {}: skipped, it matches no golden file that verify compares\n",
                    path.display()
                )
            })
            .collect()
    }
}

/// Returns `count` and `noun`, with an `s` unless `count` is 1.
pub fn count(count: u64, noun: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{plural}")
}

/// Formats one mismatch: layer, file, word and element, tensor
/// coordinates, expected and got.
pub fn describe(mismatch: &Mismatch) -> String {
    let layer = mismatch
        .layer
        .map_or("network".to_string(), |l| format!("layer {l}"));
    let place = match (&mismatch.coordinates, &mismatch.shape) {
        (Some(coordinates), Some(shape)) => {
            let axes = if shape.len() == 4 {
                "(n, h, w, c) = "
            } else {
                ""
            };
            let list: Vec<String> = coordinates.iter().map(usize::to_string).collect();
            format!(" at {axes}({})", list.join(", "))
        }
        (None, Some(_)) => " (padding element)".to_string(),
        _ => String::new(),
    };
    let got = match mismatch.got {
        Got::Value(value) => value.to_string(),
        Got::OutOfRange(value) => format!("{value} (out of range)"),
        Got::Unknown => "x/z".to_string(),
        Got::Missing => "nothing (missing)".to_string(),
    };
    format!(
        "{layer} {} {}: word {} element {}{place}: expected {}, got {got}",
        mismatch.role.name(),
        mismatch.file,
        mismatch.word,
        mismatch.element,
        mismatch.expected,
    )
}

/// Compares `dump` (a file, or a directory of dumps named after golden
/// files) with the export in `golden_dir`.
pub fn verify(
    golden_dir: &Path,
    dump: &Path,
    request: &VerifyRequest,
) -> Result<VerifyReport, VerifyError> {
    let manifest = read_manifest(golden_dir)?;
    if let Some(layer) = request.layer {
        check_layer(golden_dir, &manifest, layer)?;
    }
    let (pairs, skipped) = pair_dumps(golden_dir, &manifest, dump, request)?;
    if pairs.is_empty() {
        return Err(VerifyError::NothingToCompare {
            path: dump.to_path_buf(),
            layer: request.layer,
        });
    }
    let mut files = Vec::new();
    for (entry, dump_path) in pairs {
        files.push(compare_file(golden_dir, entry, &dump_path, request)?);
    }
    Ok(VerifyReport {
        files,
        skipped,
        max: request.max,
    })
}

/// Rejects `--layer` for an operator index the export has no files for.
fn check_layer(golden_dir: &Path, manifest: &Manifest, layer: usize) -> Result<(), VerifyError> {
    let mut layers: Vec<usize> = manifest.files.iter().filter_map(|e| e.layer).collect();
    layers.sort_unstable();
    layers.dedup();
    if layers.contains(&layer) {
        return Ok(());
    }
    const LISTED: usize = 12;
    let mut list: Vec<String> = layers.iter().take(LISTED).map(usize::to_string).collect();
    if layers.len() > LISTED {
        list.push(format!(
            "… ({} in all, up to {})",
            layers.len(),
            layers[layers.len() - 1]
        ));
    }
    Err(VerifyError::NoSuchLayer {
        dir: golden_dir.to_path_buf(),
        layer,
        layers: if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        },
    })
}

/// Dumps paired with their golden manifest entries, in manifest order, and
/// the files of a dump directory that pair with none.
type Pairing<'m> = (Vec<(&'m FileEntry, PathBuf)>, Vec<PathBuf>);

/// Pairs each dump with its golden manifest entry, in manifest order.
fn pair_dumps<'m>(
    golden_dir: &Path,
    manifest: &'m Manifest,
    dump: &Path,
    request: &VerifyRequest,
) -> Result<Pairing<'m>, VerifyError> {
    // `layers.mem` packs fields wider than one comparable element.
    let comparable = |entry: &&FileEntry| !matches!(entry.role, Role::Params | Role::Layers);
    let selected = |entry: &&FileEntry| {
        comparable(entry) && request.layer.is_none_or(|layer| entry.layer == Some(layer))
    };
    let metadata = fs::metadata(dump).map_err(|source| VerifyError::Io {
        path: dump.to_path_buf(),
        source,
    })?;
    if metadata.is_dir() {
        if let Some(name) = &request.file {
            return Err(VerifyError::FileWithDirectory {
                path: dump.to_path_buf(),
                name: name.clone(),
            });
        }
        return pair_directory(manifest, dump, comparable, selected);
    }
    let entry = match &request.file {
        Some(name) => manifest
            .file(name)
            .ok_or_else(|| VerifyError::UnknownGolden {
                dir: golden_dir.to_path_buf(),
                name: name.clone(),
            })?,
        None => match manifest
            .files
            .iter()
            .filter(selected)
            .find(|entry| names_match(dump, &entry.name))
        {
            Some(entry) => entry,
            None => {
                let layer_output = request
                    .layer
                    .and_then(|layer| manifest.file(&format!("layer{layer:03}_output.mem")));
                layer_output.ok_or_else(|| VerifyError::NoGolden {
                    path: dump.to_path_buf(),
                })?
            }
        },
    };
    Ok((vec![(entry, dump.to_path_buf())], Vec::new()))
}

/// Pairs the files of the dump directory `dir` with the selected golden
/// files. Two files that pair with one golden file are an error, because
/// comparing only one of them could hide a mismatch in the other.
fn pair_directory<'m>(
    manifest: &'m Manifest,
    dir: &Path,
    comparable: impl Fn(&&FileEntry) -> bool,
    selected: impl Fn(&&FileEntry) -> bool,
) -> Result<Pairing<'m>, VerifyError> {
    let listing = fs::read_dir(dir).map_err(|source| VerifyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<PathBuf> = listing
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    names.sort();

    let mut pairs = Vec::new();
    for entry in manifest.files.iter().filter(&selected) {
        let mut matching = names.iter().filter(|path| names_match(path, &entry.name));
        let Some(first) = matching.next() else {
            continue;
        };
        if let Some(second) = matching.next() {
            return Err(VerifyError::AmbiguousDumps {
                dir: dir.to_path_buf(),
                first: first.clone(),
                second: second.clone(),
                golden: entry.name.clone(),
            });
        }
        pairs.push((entry, first.clone()));
    }
    let skipped = names
        .into_iter()
        .filter(|path| {
            !manifest
                .files
                .iter()
                .filter(&comparable)
                .any(|entry| names_match(path, &entry.name))
        })
        .collect();
    Ok((pairs, skipped))
}

/// True when `path` is named `golden` or has its stem (`layer003_output`)
/// with any extension.
fn names_match(path: &Path, golden: &str) -> bool {
    let golden_stem = golden.strip_suffix(".mem").unwrap_or(golden);
    match (path.file_name(), path.file_stem()) {
        (Some(name), Some(stem)) => name == golden || stem == golden_stem,
        _ => false,
    }
}

fn compare_file(
    golden_dir: &Path,
    entry: &FileEntry,
    dump_path: &Path,
    request: &VerifyRequest,
) -> Result<FileComparison, VerifyError> {
    let golden_path = golden_dir.join(&entry.name);
    let golden_text = read_text(&golden_path)?;
    let golden_words = parse_hex(&golden_path, &golden_text)?;
    let contiguous = golden_words
        .iter()
        .enumerate()
        .all(|(index, (address, _))| *address == index as u64);
    if golden_words.len() as u64 != entry.depth
        || !contiguous
        || entry.elements_per_word == 0
        || !(1..=64).contains(&entry.element_bits)
    {
        return Err(VerifyError::GoldenMismatch {
            path: golden_path,
            words: golden_words.len(),
            depth: entry.depth,
            element_bits: entry.element_bits,
        });
    }
    let golden = Golden {
        entry,
        words: golden_words.into_iter().map(|(_, word)| word).collect(),
    };

    let text = read_text(dump_path)?;
    let format = request
        .format
        .unwrap_or_else(|| DumpFormat::from_path(dump_path));
    let max = request.max;
    let mut comparison = match format {
        DumpFormat::Hex => compare_hex(&golden, parse_hex(dump_path, &text)?, max),
        DumpFormat::Decimal => {
            let values = parse::parse_decimal_dump(&text)
                .map_err(|offset| parse_error(dump_path, DumpFormat::Decimal, &text, offset))?;
            compare_decimal(&golden, &values, max)
        }
    };
    comparison.dump = dump_path.display().to_string();
    Ok(comparison)
}

fn read_text(path: &Path) -> Result<String, VerifyError> {
    fs::read_to_string(path).map_err(|source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_hex(path: &Path, text: &str) -> Result<parse::HexDump, VerifyError> {
    parse::parse_hex_dump(text).map_err(|offset| parse_error(path, DumpFormat::Hex, text, offset))
}

fn parse_error(path: &Path, format: DumpFormat, text: &str, offset: usize) -> VerifyError {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let excerpt: String = text[offset.min(text.len())..]
        .chars()
        .take_while(|&c| c != '\n')
        .take(20)
        .collect();
    VerifyError::Parse {
        path: path.to_path_buf(),
        format: format.name(),
        line,
        column,
        excerpt,
    }
}
