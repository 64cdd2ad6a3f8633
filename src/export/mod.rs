//! `fxsim export`: the files an RTL engineer needs to check a design
//! against the simulator, from the same configuration and input.
//!
//! `docs/formats.md` fixes every file's layout; [`manifest`] describes
//! them for tools. Limitation: only the weight-stationary layout is
//! written.

mod error;
pub mod manifest;
pub mod mem;

pub use error::ExportError;
pub use manifest::{Checksum, FileEntry, LayerField, Manifest, Role, TensorLayout};

/// Name of the marker file that identifies an export directory.
pub const EXPORT_MARKER: &str = ".fxsim-export";
