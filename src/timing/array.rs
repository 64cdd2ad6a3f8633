//! Compute-cycle formulas of the fast model: the MAC array under each
//! dataflow, the vector unit for depthwise layers, and the lanes of the
//! post-processing unit (PPU).
//!
//! The array runs a fixed schedule of passes. A pass puts one block of
//! `rows x cols` operands on the array, streams the third GEMM dimension
//! through it and drains the results. Passes run back to back, and a pass
//! takes the same cycles however much of the array it uses. The cycle-stepped
//! model in [`super::stepped`] simulates exactly this schedule and must agree
//! with these formulas. Limitation: these are the cycles of that schedule,
//! an estimate of a real design, which may overlap consecutive passes.

use super::Gemm;
use crate::hw::{ArrayConfig, Dataflow};

/// Cycles of one pass that streams `streamed` elements through the array:
/// `2 * rows + cols + streamed - 2`, or `None` on overflow.
///
/// Weight-stationary: `rows` cycles shift the weights in from the top, then
/// M activations enter the rows with a skew of one cycle per row. The last
/// fold sum leaves the bottom of the last column `streamed + rows + cols - 2`
/// cycles after the first activation enters.
///
/// Output-stationary: the K activations and weights enter from the left
/// and the top with the same skew. The last product is formed
/// `streamed + rows + cols - 2` cycles after the first, and then `rows`
/// cycles shift the accumulators out of the bottom.
pub fn pass_cycles(array: &ArrayConfig, streamed: u64) -> Option<u64> {
    let rows = u64::from(array.rows);
    let cols = u64::from(array.cols);
    (2 * rows + cols).checked_add(streamed).map(|sum| sum - 2)
}

/// Passes the array needs for `gemm`: the folds of `rows` over K times the
/// `ceil(N / cols)` column tiles (weight-stationary), or the `ceil(M / rows)`
/// row tiles times the column tiles (output-stationary).
pub fn gemm_passes(gemm: Gemm, array: &ArrayConfig) -> Option<u64> {
    let rows = u64::from(array.rows);
    let cols = u64::from(array.cols);
    let column_tiles = gemm.n.div_ceil(cols);
    match array.dataflow {
        Dataflow::WeightStationary => gemm.k.div_ceil(rows).checked_mul(column_tiles),
        Dataflow::OutputStationary => gemm.m.div_ceil(rows).checked_mul(column_tiles),
    }
}

/// Compute cycles of `gemm` run on the array as one tile: passes times the
/// cycles of a pass. `None` when the count overflows u64.
///
/// A GEMM with an empty dimension takes 0 cycles.
pub fn gemm_compute_cycles(gemm: Gemm, array: &ArrayConfig) -> Option<u64> {
    let streamed = match array.dataflow {
        Dataflow::WeightStationary => gemm.m,
        Dataflow::OutputStationary => gemm.k,
    };
    let passes = gemm_passes(gemm, array)?;
    if passes == 0 || streamed == 0 {
        return Some(0);
    }
    passes.checked_mul(pass_cycles(array, streamed)?)
}

/// Compute cycles of a depthwise tile on the array: `groups` channel groups
/// one after another, each an `M x kh*kw x depth_multiplier` GEMM. A group
/// has its own input channel, which the activations broadcast along a row
/// cannot share, so a pass contains one group and uses `depth_multiplier` of
/// the columns.
pub fn depthwise_array_cycles(groups: u64, group_gemm: Gemm, array: &ArrayConfig) -> Option<u64> {
    groups.checked_mul(gemm_compute_cycles(group_gemm, array)?)
}

/// Lanes of the depthwise vector unit: one per array column.
pub fn vector_lanes(array: &ArrayConfig) -> u64 {
    u64::from(array.cols)
}

/// Compute cycles of a depthwise tile on the vector unit.
///
/// Each of the [`vector_lanes`] lanes computes one output channel and takes
/// one kernel tap per cycle, so a block of lanes finishes an output pixel in
/// `taps` cycles: `pixels * ceil(outputs / lanes) * taps`. The lanes are
/// taken as fully pipelined, with no fill or drain.
pub fn depthwise_vector_cycles(
    pixels: u64,
    outputs: u64,
    taps: u64,
    array: &ArrayConfig,
) -> Option<u64> {
    let lane_blocks = outputs.div_ceil(vector_lanes(array));
    pixels.checked_mul(lane_blocks)?.checked_mul(taps)
}

/// Cycles the PPU, or any operator on its lanes, takes for `elements`
/// element operations: `cols` per cycle, rounded up.
pub fn ppu_cycles(elements: u64, array: &ArrayConfig) -> u64 {
    elements.div_ceil(u64::from(array.cols))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(rows: u32, cols: u32, dataflow: Dataflow) -> ArrayConfig {
        ArrayConfig {
            rows,
            cols,
            dataflow,
            ..ArrayConfig::default()
        }
    }

    #[test]
    fn weight_stationary_worked_example() {
        // 4 folds of 16 over K = 64, 2 column tiles over N = 32, and each
        // pass 2 * 16 + 16 + 100 - 2 = 146 cycles.
        let gemm = Gemm {
            m: 100,
            k: 64,
            n: 32,
        };
        let array = array(16, 16, Dataflow::WeightStationary);
        assert_eq!(gemm_passes(gemm, &array), Some(8));
        assert_eq!(gemm_compute_cycles(gemm, &array), Some(1168));
    }

    #[test]
    fn output_stationary_streams_k() {
        // ceil(100 / 16) = 7 row tiles, 2 column tiles, pass 32 + 16 + 64 - 2.
        let gemm = Gemm {
            m: 100,
            k: 64,
            n: 32,
        };
        let array = array(16, 16, Dataflow::OutputStationary);
        assert_eq!(gemm_passes(gemm, &array), Some(14));
        assert_eq!(gemm_compute_cycles(gemm, &array), Some(14 * 110));
    }

    #[test]
    fn one_by_one_array_pass_cycles() {
        let gemm = Gemm { m: 5, k: 3, n: 2 };
        let array = array(1, 1, Dataflow::WeightStationary);
        assert_eq!(gemm_compute_cycles(gemm, &array), Some(6 * 6));
    }

    #[test]
    fn empty_gemm_takes_no_cycles() {
        for dataflow in [Dataflow::WeightStationary, Dataflow::OutputStationary] {
            let array = array(8, 8, dataflow);
            for gemm in [
                Gemm { m: 0, k: 9, n: 9 },
                Gemm { m: 9, k: 0, n: 9 },
                Gemm { m: 9, k: 9, n: 0 },
            ] {
                assert_eq!(gemm_compute_cycles(gemm, &array), Some(0), "{gemm:?}");
            }
        }
    }

    #[test]
    fn overflow_is_none() {
        let gemm = Gemm {
            m: u64::MAX,
            k: u64::MAX,
            n: u64::MAX,
        };
        let array = array(1, 1, Dataflow::WeightStationary);
        assert_eq!(gemm_compute_cycles(gemm, &array), None);
    }

    #[test]
    fn vector_unit_and_ppu_rates() {
        let array = array(8, 16, Dataflow::WeightStationary);
        // 17 output channels need two blocks of 16 lanes.
        assert_eq!(depthwise_vector_cycles(10, 17, 9, &array), Some(10 * 2 * 9));
        assert_eq!(ppu_cycles(33, &array), 3);
        assert_eq!(ppu_cycles(0, &array), 0);
    }
}
