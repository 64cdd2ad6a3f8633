//! Summaries for people and machines: text tables and JSON.

pub mod compare;
pub mod inspect;
pub mod output;
