//! DRAM transfers and the overlap of transfers with compute.
//!
//! A transfer is one burst: `latency_cycles` before the first data, then
//! `ceil(bytes / bytes_per_cycle)` cycles of data. Each tile moves every
//! operand it needs as its own burst, and loads and stores share the one
//! DRAM port. Limitation: the port is modelled at its sustained rate with a
//! fixed latency per burst. Refresh, bank conflicts and the burst-length
//! limits of AXI are left out, so memory cycles are an estimate and tend low.

use crate::hw::DramConfig;

/// Cycles one tile spends in each stage of the tile pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TileStages {
    /// DRAM reads of the tile's inputs and weights.
    pub load: u64,
    /// The MAC array or the vector unit.
    pub compute: u64,
    /// The post-processing unit, after the tile's last pass.
    pub ppu: u64,
    /// The DRAM write of the tile's outputs.
    pub store: u64,
}

/// Cycles of one burst of `bytes`: `latency_cycles + ceil(bytes /
/// bytes_per_cycle)`, or 0 when there is nothing to move. `None` on
/// overflow.
pub fn transfer_cycles(bytes: u64, dram: &DramConfig) -> Option<u64> {
    if bytes == 0 {
        return Some(0);
    }
    // Validation keeps bytes_per_cycle above 0; a value set to 0 by hand
    // counts as 1 rather than dividing by zero.
    let rate = u64::from(dram.bytes_per_cycle.max(1));
    bytes
        .div_ceil(rate)
        .checked_add(u64::from(dram.latency_cycles))
}

/// Cycles of a layer whose tiles pass through load, compute, PPU and store
/// in `tiles` order.
///
/// Single-buffered, each stage waits for the previous one and the next tile
/// waits for the whole tile: the sum of every stage of every tile.
///
/// Double-buffered, the four stages form a pipeline: while tile `i`
/// computes, the PPU finishes tile `i - 1` and the DRAM port loads tile
/// `i + 1` and stores tile `i - 2`. Time advances in slots, and slot `j`
/// lasts as long as its slowest stage, `max(load[j] + store[j - 3],
/// compute[j - 1], ppu[j - 2])`. Loads and stores add because they share
/// the port. The first load and the last store are exposed.
pub(crate) fn pipeline_cycles(tiles: &[TileStages], double_buffered: bool) -> Option<u64> {
    if !double_buffered {
        return tiles.iter().try_fold(0u64, |total, tile| {
            total
                .checked_add(tile.load)?
                .checked_add(tile.compute)?
                .checked_add(tile.ppu)?
                .checked_add(tile.store)
        });
    }

    let stage = |index: Option<usize>, pick: fn(&TileStages) -> u64| -> u64 {
        index.and_then(|i| tiles.get(i)).map_or(0, pick)
    };
    let mut total = 0u64;
    for slot in 0..tiles.len() + 3 {
        let port =
            stage(Some(slot), |t| t.load).checked_add(stage(slot.checked_sub(3), |t| t.store))?;
        let compute = stage(slot.checked_sub(1), |t| t.compute);
        let ppu = stage(slot.checked_sub(2), |t| t.ppu);
        total = total.checked_add(port.max(compute).max(ppu))?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dram(bytes_per_cycle: u32, latency_cycles: u32) -> DramConfig {
        DramConfig {
            bytes_per_cycle,
            latency_cycles,
        }
    }

    fn tile(load: u64, compute: u64, ppu: u64, store: u64) -> TileStages {
        TileStages {
            load,
            compute,
            ppu,
            store,
        }
    }

    #[test]
    fn transfer_rounds_up_and_adds_latency() {
        assert_eq!(transfer_cycles(17, &dram(8, 40)), Some(43));
        assert_eq!(transfer_cycles(16, &dram(8, 40)), Some(42));
        assert_eq!(transfer_cycles(0, &dram(8, 40)), Some(0));
        assert_eq!(transfer_cycles(u64::MAX, &dram(1, 1)), None);
    }

    #[test]
    fn single_buffered_sums_every_stage() {
        let tiles = [tile(10, 100, 5, 7), tile(10, 100, 5, 7)];
        assert_eq!(pipeline_cycles(&tiles, false), Some(244));
    }

    #[test]
    fn double_buffered_hides_transfers_behind_compute() {
        let tiles = [
            tile(10, 100, 5, 7),
            tile(10, 100, 5, 7),
            tile(10, 100, 5, 7),
        ];
        // Slots: load 0 | compute 0 | compute 1 | compute 2 | store 1 beside
        // ppu 2 | store 2, each as long as its slowest stage.
        assert_eq!(
            pipeline_cycles(&tiles, true),
            Some(10 + 100 + 100 + 100 + 7 + 7)
        );
    }

    #[test]
    fn double_buffered_memory_bound_tiles_pay_the_port() {
        let tiles = [tile(50, 10, 1, 30), tile(50, 10, 1, 30)];
        // Slot 0 load 0, slot 1 load 1 (compute 0 is shorter), slot 2 ppu 0
        // and compute 1, slot 3 store 0 and ppu 1, slot 4 store 1.
        assert_eq!(pipeline_cycles(&tiles, true), Some(50 + 50 + 10 + 30 + 30));
    }

    #[test]
    fn double_buffering_never_costs_cycles() {
        let tiles = [tile(3, 9, 2, 8), tile(40, 1, 0, 0), tile(0, 30, 7, 1)];
        let single = pipeline_cycles(&tiles, false).unwrap();
        let double = pipeline_cycles(&tiles, true).unwrap();
        assert!(double <= single, "{double} > {single}");
    }
}
