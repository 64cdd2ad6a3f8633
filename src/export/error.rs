//! Errors of `fxsim export`.

use std::path::PathBuf;

/// An export could not be produced; nothing is left at the target.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{file}: {elements} elements of {element_bits} bits make no valid word width")]
    WordWidth {
        file: String,
        element_bits: u32,
        elements: u32,
    },

    #[error("{file}: word {word} element {element} is {value}, which does not fit {bits} bits ({}); the layer's datapath cannot hold it", if *signed { "two's complement" } else { "unsigned" })]
    ElementRange {
        file: String,
        word: u64,
        element: usize,
        value: i64,
        bits: u32,
        signed: bool,
    },

    #[error("{file}: more words than its depth {depth}")]
    ImageOverflow { file: String, depth: u64 },

    #[error("{file}: {written} words written; its depth is {depth}")]
    ImageShort {
        file: String,
        written: u64,
        depth: u64,
    },

    #[error("{file}: cannot render template: {message}")]
    Template { file: String, message: String },

    #[error("layer {index} ({op}): {message}")]
    Layer {
        index: usize,
        op: String,
        message: String,
    },

    #[error("tensor {id} ({name}): {message}")]
    Tensor {
        id: usize,
        name: String,
        message: String,
    },

    #[error("{}: export target must name a new or earlier export directory, not `.` or `..`", path.display())]
    InvalidTarget { path: PathBuf },

    #[error("{}: exists and is not an fxsim export (no {} inside); choose another directory or remove it", path.display(), super::EXPORT_MARKER)]
    NotAnExport { path: PathBuf },

    #[error("{}: cannot write: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: export directory does not exist", path.display())]
    MissingDir { path: PathBuf },

    #[error("{}: contains {entries}, which fxsim export did not write; exporting again would delete them, so move them out of the directory or choose another --out", path.display())]
    ForeignEntries { path: PathBuf, entries: String },

    #[error("{}: invalid manifest: {message}", path.display())]
    Manifest { path: PathBuf, message: String },

    #[error("unsupported: {message}")]
    Unsupported { message: String },

    #[error(transparent)]
    Hw(Box<crate::hw::HwError>),

    #[error("execution failed: {0}")]
    Exec(#[from] crate::exec::ExecError),
}

impl From<crate::io::DumpError> for ExportError {
    fn from(error: crate::io::DumpError) -> Self {
        use crate::io::DumpError;
        match error {
            DumpError::InvalidTarget { path } => ExportError::InvalidTarget { path },
            DumpError::NotADump { path, .. } => ExportError::NotAnExport { path },
            DumpError::Io { path, source, .. } => ExportError::Io { path, source },
        }
    }
}
