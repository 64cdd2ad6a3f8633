//! Tensor files: `.npy` in and out, raw little-endian bytes in, and dump
//! directories written atomically.

mod dump;
mod npy;

pub use dump::write_dump;
pub use npy::{read_npy, read_npy_bytes, read_raw, write_npy, TensorIoError};
