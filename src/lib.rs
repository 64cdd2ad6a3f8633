//! fxsim: a bit-accurate, cycle-level simulator of an FPGA neural-network
//! accelerator.
//!
//! The library is the product; the `fxsim` binary is a thin front end.
//!
//! | module | contents |
//! |---|---|
//! | [`numeric`] | integer building blocks: rounding, saturation, fixed-point multiply |
//! | [`model`] | the graph IR: [`model::Graph`], [`model::Tensor`], [`model::Op`] |
//! | [`import`] | readers that build a graph from a file (TFLite) |
//! | [`report`] | summaries for people and machines (`inspect`) |
//! | [`export`] | `params.vh`, `$readmemh` images and golden vectors for RTL ([`export::export`]) |
//! | [`verify`] | parsers for RTL memory dumps and their comparison with golden vectors ([`verify::verify`]) |
//!
//! ```no_run
//! let graph = fxsim::import::tflite::read_file("model.tflite")?;
//! for op in &graph.ops {
//!     println!("{}", op.kind.name());
//! }
//! # Ok::<(), fxsim::import::ImportError>(())
//! ```

pub mod analysis;
pub mod exec;
pub mod export;
pub mod hw;
pub mod import;
pub mod io;
pub mod model;
pub mod numeric;
pub mod report;
pub mod resources;
pub mod timing;
pub mod verify;
