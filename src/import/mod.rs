//! Readers that build a [`Graph`](crate::model::Graph) from a model file.
//!
//! Only TFLite flatbuffers are read today. Readers are strict where a file is
//! broken (every index, length and attribute is checked before use) and
//! lenient where real converters are sloppy (documented per case).

mod error;
pub mod tflite;

pub use error::{ImportError, ImportErrorKind, Location};
