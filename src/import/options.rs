//! Limits a reader applies to what a model file declares, checked before
//! anything of that size is allocated.
//!
//! Limitation: the limits bound the tensors a model declares. The executor
//! keeps every tensor of a run and its kernels allocate scratch space in
//! proportion to their outputs (up to eight bytes per element), so the
//! memory of a run can exceed `max_total_bytes` by that factor.

use serde::Serialize;

/// Limits on the tensors a model declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportOptions {
    /// Largest tensor accepted, in bytes of its element type times its
    /// element count (constant or not).
    pub max_tensor_bytes: u64,
    /// Largest sum of the sizes of every tensor of the graph, in bytes.
    pub max_total_bytes: u64,
}

impl ImportOptions {
    /// Default largest tensor: 256 MiB. The largest tensors of common int8
    /// networks are tens of MiB (VGG-16's first fully connected weights are
    /// 98 MiB), so a larger figure is far more often a damaged or forged
    /// shape than a real model.
    pub const DEFAULT_MAX_TENSOR_BYTES: u64 = 256 << 20;
    /// Default largest sum of all tensors: 2 GiB.
    pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 2 << 30;
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_tensor_bytes: Self::DEFAULT_MAX_TENSOR_BYTES,
            max_total_bytes: Self::DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}
