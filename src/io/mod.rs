//! Tensor files: `.npy` in and out, raw little-endian bytes in, and dump
//! directories written atomically.

mod dump;
mod npy;

pub(crate) use dump::{check_target, remove_stale_staging, replace_dir, staging_dir};
pub use dump::{escape_field, write_dump, DumpError, DUMP_MARKER};
pub use npy::{
    read_npy, read_npy_bytes, read_raw, write_npy, TensorIoError, MAX_TENSOR_FILE_BYTES,
};
