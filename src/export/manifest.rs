//! `manifest.json`: what every exported file holds, how its words are laid
//! out, and checksums a testbench can recompute after `$readmemh`.
//!
//! `docs/formats.md` defines each field. Limitation: the word hash is a
//! plain polynomial hash, good for catching a misloaded word, not for
//! integrity against tampering (`sha256` covers that).

use serde::{Deserialize, Serialize};

/// The format tag every manifest carries; bumped when a layout changes.
pub const MANIFEST_FORMAT: &str = "fxsim-export 1";

/// The description of one export directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// File name of the model the export ran.
    pub model: String,
    /// File name of the hardware description.
    pub hw: String,
    /// File name of the input tensor.
    pub input: String,
    pub rows: usize,
    pub cols: usize,
    /// Fields of each `layers.mem` word, from bit 0 upward.
    pub layer_fields: Vec<LayerField>,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Returns the entry of the file called `name`.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|file| file.name == name)
    }
}

/// One field of a `layers.mem` word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerField {
    /// Upper-case name, as in the `LAYER_<NAME>_LSB` localparams.
    pub name: String,
    pub lsb: u32,
    pub bits: u32,
    /// True when the field is two's complement.
    pub signed: bool,
}

/// The purpose of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Params,
    Layers,
    Input,
    Weights,
    Activations,
    Bias,
    BiasPost,
    Requant,
    Accumulators,
    Output,
}

impl Role {
    /// Returns the name used in file headers and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Role::Params => "params",
            Role::Layers => "layers",
            Role::Input => "input",
            Role::Weights => "weights",
            Role::Activations => "activations",
            Role::Bias => "bias",
            Role::BiasPost => "bias_post",
            Role::Requant => "requant",
            Role::Accumulators => "accumulators",
            Role::Output => "output",
        }
    }

    /// True for the files an RTL run is compared against.
    pub fn is_golden(self) -> bool {
        matches!(self, Role::Input | Role::Accumulators | Role::Output)
    }
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub role: Role,
    /// Operator index, `None` for files of the whole network.
    pub layer: Option<usize>,
    /// Width of one memory word; 0 for `params.vh`.
    pub word_bits: u32,
    /// Number of words.
    pub depth: u64,
    pub element_bits: u32,
    pub elements_per_word: u32,
    /// True when elements are two's complement, false when unsigned.
    pub signed: bool,
    /// The placement of elements in words, as text.
    pub element_order: String,
    /// For golden files: the tensor and its layout in words.
    pub tensor: Option<TensorLayout>,
    pub checksum: Checksum,
}

/// How the words of a golden file map to the elements of a tensor.
///
/// Word `w`, element `j`: `g = w / (tiles * rows)`, `t = (w / rows) %
/// tiles`, `m = w % rows`; the column `t * cols + j` of group `g` is
/// channel `g * group_channels + t * cols + j` of row `m` when it is below
/// `group_channels`, and a padding element otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorLayout {
    /// The tensor's shape (NHWC for images).
    pub shape: Vec<usize>,
    pub groups: usize,
    /// Channels per group (N of one GEMM).
    pub group_channels: usize,
    /// M: the product of every dimension but the last.
    pub rows: usize,
}

/// Checksums of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `h = h * 31 + chunk mod 2^32` over the words in address order and
    /// each word's 32-bit chunks from the least significant; see
    /// [`word_hash`](super::mem::word_hash).
    pub word_hash: u32,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}
