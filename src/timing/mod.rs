//! Timing: how many cycles each layer of a network takes on the configured
//! accelerator, and a cycle-stepped model of the MAC array that checks the
//! compute part.
//!
//! | item | what it is |
//! |---|---|
//! | [`estimate`] | the fast model: a [`TimingReport`] for a whole graph |
//! | [`LayerTiming`] | one layer: compute, memory and PPU cycles, tiling, bound |
//! | [`gemm_compute_cycles`] | the array's cycles for one GEMM tile |
//! | [`stepped`] | every PE register, every cycle, for small GEMM tiles |
//!
//! The fast model maps CONV_2D and FULLY_CONNECTED to a GEMM of `M x K x N`
//! (M output pixels, `K = kh * kw * cin`, N output channels) and
//! DEPTHWISE_CONV_2D to one small GEMM per channel group on the array or the
//! vector unit. It tiles the GEMM to fit the four buffers, counts the
//! array's passes with their fill, drain and weight loads, the DRAM bursts
//! of every tile, and the PPU, and overlaps them when the buffers are double
//! buffered. Other operators run on the PPU lanes at `cols` element
//! operations per cycle. Layers run one after another and every layer reads
//! its inputs from DRAM and writes its output back. docs/timing.md states
//! every formula.
//!
//! Limitation: this is an estimate of one fixed accelerator schedule, not a
//! measurement. Only the compute cycles of the array are checked cycle by
//! cycle (by [`stepped`]); memory cycles come from a simple DRAM model.
//!
//! ```
//! use fxsim::hw::HwConfig;
//! use fxsim::timing::{gemm_compute_cycles, Gemm};
//!
//! // The default array is 16 x 16 and weight-stationary.
//! let hw = HwConfig::default();
//! let gemm = Gemm { m: 100, k: 64, n: 32 };
//! assert_eq!(gemm_compute_cycles(gemm, &hw.array), Some(1168));
//! ```

mod array;
mod error;
mod footprint;
mod layer;
mod memory;
mod shape;
pub mod stepped;
mod tile_cost;
mod tiling;

pub use array::{
    depthwise_array_cycles, depthwise_vector_cycles, gemm_compute_cycles, gemm_passes, pass_cycles,
    ppu_cycles, vector_lanes,
};
pub use error::TimingError;
pub use memory::transfer_cycles;
pub use tiling::{LoopOrder, Tiling};

use crate::hw::{Dataflow, HwConfig};
use crate::model::Graph;
use serde::Serialize;
use std::fmt;

/// A GEMM of `m x k x n`: M output pixels, a reduction of K, N output
/// channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Gemm {
    pub m: u64,
    pub k: u64,
    pub n: u64,
}

/// Whether a layer's time is set by its compute units or by the DRAM port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// The array, the vector unit or the PPU is busier than the DRAM port.
    Compute,
    /// The DRAM port is busier than every compute unit.
    Memory,
}

/// One of the four on-chip buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BufferKind {
    Input,
    Weight,
    Accumulator,
    Output,
}

impl BufferKind {
    /// Returns the `[buffers]` key that sizes this buffer.
    pub fn key(self) -> &'static str {
        match self {
            BufferKind::Input => "input_kib",
            BufferKind::Weight => "weight_kib",
            BufferKind::Accumulator => "accumulator_kib",
            BufferKind::Output => "output_kib",
        }
    }
}

impl fmt::Display for BufferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BufferKind::Input => "input",
            BufferKind::Weight => "weight",
            BufferKind::Accumulator => "accumulator",
            BufferKind::Output => "output",
        })
    }
}

/// The unit that computes a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComputeUnit {
    /// The `rows x cols` MAC array.
    Array,
    /// The depthwise vector unit of [`vector_lanes`] MAC lanes.
    VectorUnit,
    /// The `cols` lanes of the post-processing unit.
    Ppu,
}

/// Timing of one layer (one operator of the graph).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerTiming {
    /// Operator index in execution order.
    pub index: usize,
    /// TFLite op name (`CONV_2D`).
    pub op: String,
    /// Name of the operator's first output tensor.
    pub name: String,
    /// The layer's GEMM for MAC layers. For DEPTHWISE_CONV_2D, `k` is
    /// `kh * kw` and `n` counts all output channels, which form
    /// [`LayerTiming::channel_groups`] groups.
    pub gemm: Option<Gemm>,
    /// Channel groups of a depthwise layer (its input channels); 1 for the
    /// other MAC layers and 0 for the rest.
    pub channel_groups: u64,
    /// Multiply-accumulates, padding taps included.
    pub macs: u64,
    /// `None` for RESHAPE, which moves no data.
    pub unit: Option<ComputeUnit>,
    /// Cycles of the array or vector unit, summed over tiles.
    pub compute_cycles: u64,
    /// Cycles of the DRAM port (every burst, loads and stores), summed over
    /// tiles.
    pub memory_cycles: u64,
    /// Cycles of the PPU (requantisation of MAC layers, or the whole work of
    /// other operators), summed over tiles.
    pub ppu_cycles: u64,
    /// Cycles of the layer with transfers overlapped when double buffered.
    pub total_cycles: u64,
    pub bound: Bound,
    /// Useful MACs over the MAC slots of the compute unit during
    /// `total_cycles`; 0 for layers without MACs.
    pub utilisation: f64,
    /// Bytes read from and written to DRAM.
    pub dram_bytes: u64,
    /// Tiles the layer was cut into (0 for RESHAPE).
    pub tiles: u64,
    /// The tiling of a MAC layer.
    pub tiling: Option<Tiling>,
    /// The buffer the whole layer overflows the most, which forced the
    /// tiling; `None` when the layer fits as one tile.
    pub limited_by: Option<BufferKind>,
}

/// Timing of a whole graph on one hardware description.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimingReport {
    pub layers: Vec<LayerTiming>,
    /// Sum of the layers' total cycles: layers run one after another.
    pub total_cycles: u64,
    pub compute_cycles: u64,
    pub memory_cycles: u64,
    pub ppu_cycles: u64,
    pub macs: u64,
    pub clock_mhz: f64,
    /// `total_cycles / clock_mhz`.
    pub latency_us: f64,
    /// `1e6 / latency_us`, one inference at a time; 0 for an empty graph.
    pub inferences_per_second: f64,
    pub dram_bytes: u64,
    pub rows: u32,
    pub cols: u32,
    pub dataflow: Dataflow,
    pub double_buffered: bool,
}

/// Estimates the cycles of every layer of `graph` on `hw`.
///
/// Fails on the first layer that is unsupported, malformed, or whose
/// smallest tile does not fit a buffer.
pub fn estimate(graph: &Graph, hw: &HwConfig) -> Result<TimingReport, TimingError> {
    let layers = graph
        .ops
        .iter()
        .enumerate()
        .map(|(index, op)| layer::estimate_layer(graph, index, op, hw))
        .collect::<Result<Vec<_>, _>>()?;

    let sum = |field: fn(&LayerTiming) -> u64, quantity: &'static str| {
        layers
            .iter()
            .try_fold(0u64, |total, layer| total.checked_add(field(layer)))
            .ok_or(TimingError::TotalOverflow { quantity })
    };
    let total_cycles = sum(|layer| layer.total_cycles, "the total cycle count")?;
    let clock_mhz = hw.device.clock_mhz;
    let latency_us = total_cycles as f64 / clock_mhz;
    let inferences_per_second = if total_cycles == 0 {
        0.0
    } else {
        1e6 / latency_us
    };

    Ok(TimingReport {
        total_cycles,
        compute_cycles: sum(|layer| layer.compute_cycles, "the compute cycle count")?,
        memory_cycles: sum(|layer| layer.memory_cycles, "the memory cycle count")?,
        ppu_cycles: sum(|layer| layer.ppu_cycles, "the PPU cycle count")?,
        macs: sum(|layer| layer.macs, "the MAC count")?,
        dram_bytes: sum(|layer| layer.dram_bytes, "the DRAM byte count")?,
        clock_mhz,
        latency_us,
        inferences_per_second,
        rows: hw.array.rows,
        cols: hw.array.cols,
        dataflow: hw.array.dataflow,
        double_buffered: hw.buffers.double_buffered,
        layers,
    })
}
