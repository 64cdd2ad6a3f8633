//! Summaries for people and machines: text tables, JSON, Markdown and SVG
//! charts.

pub mod accum;
pub mod compare;
pub mod estimate;
pub mod inspect;
pub mod output;
pub mod svg;
