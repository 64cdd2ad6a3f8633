//! Analyses of a network on a datapath: accumulator widths, and the
//! summary of a run over a data set.

pub mod accum;
pub mod accum_bound;
pub mod accum_inputs;
pub mod accum_sweep;
pub mod compare;
pub mod run_summary;
