//! Analyses of a network on a datapath: accumulator widths.

pub mod accum_bound;
pub mod compare;
