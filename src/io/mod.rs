//! Tensor files: `.npy` in and out, raw little-endian bytes in, and dump
//! directories written atomically.

mod dump;
mod npy;

pub use dump::{
    check_output_dir, escape_field, write_dir_atomically, write_dump, DumpError, OutputDir,
    DUMP_MARKER,
};
pub use npy::{
    read_npy, read_npy_bytes, read_raw, write_npy, TensorIoError, MAX_TENSOR_FILE_BYTES,
};
