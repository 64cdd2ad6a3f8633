//! Readers that build a [`Graph`](crate::model::Graph) from a model file.
//!
//! Only TFLite flatbuffers are read today. Readers are strict where a file is
//! broken (every index, length and attribute is checked before use) and
//! lenient where real converters are sloppy (documented per case). The
//! size of every tensor a file declares is checked against
//! [`ImportOptions`] before anything is allocated for it.

mod error;
mod options;
pub mod tflite;

pub use error::{ImportError, ImportErrorKind, Location};
pub use options::ImportOptions;
