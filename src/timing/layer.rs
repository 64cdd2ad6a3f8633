//! Timing of one layer: a MAC layer through its tiling, any other operator
//! as chunks streamed through the PPU lanes, RESHAPE for free.
//!
//! Limitation: every layer reads its inputs from DRAM and writes its output
//! back, so fusing layers on chip is not modelled, and a streamed operator's
//! chunks ignore pooling halos and the scattered reads of TRANSPOSE.

use super::array::{ppu_cycles, vector_lanes};
use super::memory::{pipeline_cycles, transfer_cycles, TileStages};
use super::shape::{layer_work, LayerWork, MacKind, MacShape, VectorWork};
use super::tiling::{ElementBits, TilingFailure, TilingProblem};
use super::{Bound, BufferKind, ComputeUnit, Gemm, LayerTiming, TimingError};
use crate::hw::{DepthwiseUnit, HwConfig};
use crate::model::{cost, Graph, Op};

/// Estimates operator `index` of `graph` on `hw`.
pub(crate) fn estimate_layer(
    graph: &Graph,
    index: usize,
    op: &Op,
    hw: &HwConfig,
) -> Result<LayerTiming, TimingError> {
    let name = op
        .output()
        .and_then(|id| graph.get_tensor(id))
        .map(|tensor| tensor.name.clone())
        .unwrap_or_default();
    let layer = LayerTiming {
        index,
        op: op.kind.name().to_string(),
        name,
        gemm: None,
        channel_groups: 0,
        macs: 0,
        unit: None,
        compute_cycles: 0,
        memory_cycles: 0,
        ppu_cycles: 0,
        total_cycles: 0,
        bound: Bound::Compute,
        utilisation: 0.0,
        dram_bytes: 0,
        tiles: 0,
        tiling: None,
        limited_by: None,
    };

    match layer_work(graph, index, op)? {
        LayerWork::Mac(shape) => {
            let macs = cost::macs(graph, op);
            mac_layer(layer, shape, macs, hw)
        }
        LayerWork::Vector(work) => vector_layer(layer, &work, hw),
        LayerWork::Free => Ok(layer),
    }
}

fn overflow(layer: &LayerTiming, quantity: &'static str) -> TimingError {
    TimingError::Overflow {
        index: layer.index,
        op: layer.op.clone(),
        quantity,
    }
}

fn mac_layer(
    mut layer: LayerTiming,
    shape: MacShape,
    macs: u64,
    hw: &HwConfig,
) -> Result<LayerTiming, TimingError> {
    let datapath = hw.datapath_for(layer.index, &layer.name);
    let bits = ElementBits {
        activation: u64::from(datapath.activation.bits()),
        weight: u64::from(datapath.weight.bits()),
        accumulator: u64::from(datapath.accumulator.bits),
    };
    let on_vector_unit =
        shape.kind == MacKind::Depthwise && hw.array.depthwise == DepthwiseUnit::Vector;
    let (unit, mac_slots) = if on_vector_unit {
        (ComputeUnit::VectorUnit, vector_lanes(&hw.array))
    } else {
        (
            ComputeUnit::Array,
            u64::from(hw.array.rows) * u64::from(hw.array.cols),
        )
    };
    layer.gemm = Some(Gemm {
        m: shape.m,
        k: shape.k,
        n: shape.n,
    });
    layer.channel_groups = shape.groups;
    layer.macs = macs;
    layer.unit = Some(unit);
    if shape.m == 0 || shape.k == 0 || shape.n == 0 {
        return Ok(layer);
    }

    let problem = TilingProblem {
        shape,
        bits,
        array: &hw.array,
        buffers: &hw.buffers,
        dram: &hw.dram,
    };
    let schedule = problem.schedule().map_err(|failure| match failure {
        TilingFailure::DoesNotFit(tile) => TimingError::TileDoesNotFit {
            index: layer.index,
            op: layer.op.clone(),
            name: layer.name.clone(),
            buffer: tile.buffer,
            key: tile.buffer.key(),
            needed_bytes: tile.needed_bytes,
            available_bytes: tile.available_bytes,
        },
        TilingFailure::Overflow => overflow(&layer, "a tile's cycle or byte count"),
    })?;

    layer.limited_by = problem.limited_by();
    layer.dram_bytes = schedule.dram_bytes;
    layer.tiles = schedule.stages.len() as u64;
    layer.tiling = Some(schedule.tiling);
    fill_cycles(&mut layer, &schedule.stages, hw)?;
    let slot_cycles = (layer.total_cycles as f64) * (mac_slots as f64);
    if slot_cycles > 0.0 {
        layer.utilisation = macs as f64 / slot_cycles;
    }
    Ok(layer)
}

/// Streams an operator through the PPU lanes in chunks: as many as the
/// input buffer needs to hold all data inputs, or the output buffer the
/// output, one chunk at a time.
fn vector_layer(
    mut layer: LayerTiming,
    work: &VectorWork,
    hw: &HwConfig,
) -> Result<LayerTiming, TimingError> {
    let input_total = work
        .input_bytes
        .iter()
        .try_fold(0u64, |sum, &bytes| sum.checked_add(bytes))
        .ok_or_else(|| overflow(&layer, "the input byte count"))?;
    let input_chunks = input_total.div_ceil(hw.buffers.input_bytes().max(1));
    let output_chunks = work.output_bytes.div_ceil(hw.buffers.output_bytes().max(1));
    let chunks = input_chunks.max(output_chunks).max(1);
    if chunks > 1 {
        layer.limited_by = Some(if input_chunks >= output_chunks {
            BufferKind::Input
        } else {
            BufferKind::Output
        });
    }

    let mut stages = Vec::new();
    for chunk in 0..chunks {
        let mut load = 0u64;
        for &bytes in &work.input_bytes {
            load = transfer_cycles(share(bytes, chunks, chunk), &hw.dram)
                .and_then(|cycles| load.checked_add(cycles))
                .ok_or_else(|| overflow(&layer, "the load cycle count"))?;
        }
        let store = transfer_cycles(share(work.output_bytes, chunks, chunk), &hw.dram)
            .ok_or_else(|| overflow(&layer, "the store cycle count"))?;
        stages.push(TileStages {
            load,
            compute: 0,
            ppu: ppu_cycles(share(work.operations, chunks, chunk), &hw.array),
            store,
        });
    }

    layer.unit = Some(ComputeUnit::Ppu);
    layer.dram_bytes = input_total
        .checked_add(work.output_bytes)
        .ok_or_else(|| overflow(&layer, "the DRAM byte count"))?;
    layer.tiles = chunks;
    fill_cycles(&mut layer, &stages, hw)?;
    Ok(layer)
}

/// Part `index` of `total` split into `parts` nearly equal parts, the
/// larger ones first.
fn share(total: u64, parts: u64, index: u64) -> u64 {
    total / parts + u64::from(index < total % parts)
}

/// Sums the stages into the layer's cycle counts and decides its bound.
fn fill_cycles(
    layer: &mut LayerTiming,
    stages: &[TileStages],
    hw: &HwConfig,
) -> Result<(), TimingError> {
    let mut sums = [0u64; 3];
    for tile in stages {
        let memory = tile.load.checked_add(tile.store);
        for (sum, part) in sums
            .iter_mut()
            .zip([Some(tile.compute), memory, Some(tile.ppu)])
        {
            *sum = part
                .and_then(|cycles| sum.checked_add(cycles))
                .ok_or_else(|| overflow(layer, "the layer's cycle count"))?;
        }
    }
    let [compute, memory, ppu] = sums;
    layer.compute_cycles = compute;
    layer.memory_cycles = memory;
    layer.ppu_cycles = ppu;
    layer.total_cycles = pipeline_cycles(stages, hw.buffers.double_buffered)
        .ok_or_else(|| overflow(layer, "the layer's cycle count"))?;
    layer.bound = if memory > compute.max(ppu) {
        Bound::Memory
    } else {
        Bound::Compute
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn share_splits_exactly() {
        let parts: Vec<u64> = (0..4).map(|index| share(10, 4, index)).collect();
        assert_eq!(parts, vec![3, 3, 2, 2]);
        assert_eq!(parts.iter().sum::<u64>(), 10);
    }
}
