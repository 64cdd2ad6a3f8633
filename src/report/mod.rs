//! Summaries for people and machines: text tables and JSON.

pub mod accum;
pub mod compare;
pub mod estimate;
pub mod inspect;
pub mod output;
