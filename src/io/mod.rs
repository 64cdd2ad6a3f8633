//! Tensor files: `.npy` in and out, raw little-endian bytes in, and dump
//! directories written atomically; sets of report files written without
//! half-written files.

mod dump;
mod files;
mod npy;

pub use dump::{
    check_output_dir, escape_field, write_dir_atomically, write_dir_atomically_with, write_dump,
    DumpError, OutputDir, DUMP_MARKER,
};
pub use files::{write_files, WriteFilesError};
pub use npy::{
    read_npy, read_npy_bytes, read_raw, write_npy, TensorIoError, MAX_TENSOR_FILE_BYTES,
};
