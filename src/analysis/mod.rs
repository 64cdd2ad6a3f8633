//! Analyses of a network on a datapath: accumulator widths.

pub mod accum;
pub mod accum_bound;
pub mod accum_inputs;
pub mod accum_sweep;
pub mod compare;
