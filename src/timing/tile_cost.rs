//! The ranking cost of a tiling candidate, summed over groups of equal
//! tiles instead of tile by tile.
//!
//! A candidate's tiles take at most two pixel counts, two K block sizes and
//! two output-channel block sizes: the full block and the remainder.
//! Whether a tile reloads its input or weights depends only on the loop
//! order and the tile counts. So compute cycles, PPU cycles and DRAM bytes
//! are sums over a few classes times their counts, plus one pass over the
//! pixel blocks for the input footprints. The result equals the tile-by-tile
//! sum of [`TilingProblem::stages`], which a test checks on random shapes;
//! a design-space sweep evaluates thousands of hardware descriptions and
//! needs this to be fast.
//!
//! Limitation: the reuse rules here restate those of the tile loop in
//! `tiling.rs`; a change to one needs the same change to the other, and
//! the test compares them.

use super::array::ppu_cycles;
use super::shape::MacKind;
use super::tiling::{Candidate, Cost, LoopOrder, Tile, TilingProblem};

/// A block size of one dimension and how many blocks have it.
#[derive(Debug, Clone, Copy)]
struct SizeClass {
    size: u64,
    count: u64,
}

/// Splits `total` into blocks of `block`: the full blocks and the last one.
fn size_classes(total: u64, block: u64) -> Vec<SizeClass> {
    let blocks = total.div_ceil(block);
    if blocks == 0 {
        return Vec::new();
    }
    let last = total - (blocks - 1) * block;
    if last == block {
        return vec![SizeClass {
            size: block,
            count: blocks,
        }];
    }
    let mut classes = Vec::with_capacity(2);
    if blocks > 1 {
        classes.push(SizeClass {
            size: block,
            count: blocks - 1,
        });
    }
    classes.push(SizeClass {
        size: last,
        count: 1,
    });
    classes
}

/// Adds `count * value` to `total`, `None` on overflow.
fn add_times(total: &mut u64, count: u64, value: u64) -> Option<()> {
    *total = total.checked_add(count.checked_mul(value)?)?;
    Some(())
}

impl TilingProblem<'_> {
    /// Returns the cost of `candidate`, equal to summing [`Self::stages`]
    /// over every tile in loop order; `None` when a sum overflows.
    pub(super) fn grouped_cost(&self, candidate: &Candidate) -> Option<Cost> {
        let shape = &self.shape;
        let m_tiles = self.pixel_tiles(candidate.pixels);
        let parts: Vec<(u64, u64)> = (0..m_tiles)
            .map(|m| self.pixel_part(candidate.pixels, m))
            .collect();
        let k_classes = size_classes(shape.k, candidate.k_tile);
        let n_classes = size_classes(shape.n, candidate.n_tile);
        let k_tiles = shape.k.div_ceil(candidate.k_tile);
        let n_tiles = shape.n.div_ceil(candidate.n_tile);

        let mut pixel_classes: Vec<SizeClass> = Vec::new();
        for &(pixels, _) in &parts {
            match pixel_classes.iter_mut().find(|class| class.size == pixels) {
                Some(class) => class.count += 1,
                None => pixel_classes.push(SizeClass {
                    size: pixels,
                    count: 1,
                }),
            }
        }

        let mut cost = Cost {
            compute_cycles: 0,
            ppu_cycles: 0,
            dram_bytes: 0,
            tiles: m_tiles.checked_mul(n_tiles)?.checked_mul(k_tiles)?,
        };
        for pixels in &pixel_classes {
            for n in &n_classes {
                let pairs = pixels.count.checked_mul(n.count)?;
                for k in &k_classes {
                    let tile = Tile {
                        pixels: pixels.size,
                        k_size: k.size,
                        n_size: n.size,
                        input_load: 0,
                        weight_load: 0,
                        last_k: false,
                    };
                    let compute = self.compute_cycles(&tile)?;
                    add_times(
                        &mut cost.compute_cycles,
                        pairs.checked_mul(k.count)?,
                        compute,
                    )?;
                }
                let outputs = pixels.size.checked_mul(n.size)?;
                add_times(&mut cost.ppu_cycles, pairs, ppu_cycles(outputs, self.array))?;
                let output_bytes = self.output_bytes(pixels.size, n.size)?;
                add_times(&mut cost.dram_bytes, pairs, output_bytes)?;
            }
        }

        let input_bytes = self.grouped_input_bytes(candidate, &parts, &k_classes, &n_classes)?;
        cost.dram_bytes = cost.dram_bytes.checked_add(input_bytes)?;
        if m_tiles > 0 {
            // A weight block is loaded once when the tiles that use it run
            // back to back, else once per pixel block.
            let once = match candidate.order {
                LoopOrder::PixelsOuter => n_tiles == 1 && k_tiles == 1,
                LoopOrder::ChannelsOuter => k_tiles == 1,
            };
            let loads_per_block = if once { 1 } else { m_tiles };
            for n in &n_classes {
                for k in &k_classes {
                    let blocks = n.count.checked_mul(k.count)?;
                    let bytes = self.weight_bytes(k.size, n.size)?;
                    add_times(
                        &mut cost.dram_bytes,
                        blocks.checked_mul(loads_per_block)?,
                        bytes,
                    )?;
                }
            }
        }
        Some(cost)
    }

    /// Returns the input bytes loaded over every tile of `candidate`.
    fn grouped_input_bytes(
        &self,
        candidate: &Candidate,
        parts: &[(u64, u64)],
        k_classes: &[SizeClass],
        n_classes: &[SizeClass],
    ) -> Option<u64> {
        let shape = &self.shape;
        let m_tiles = parts.len() as u64;
        let k_tiles = shape.k.div_ceil(candidate.k_tile);
        let mut total = 0u64;
        match shape.kind {
            // A depthwise input tile is the channels of one output block, so
            // it is loaded once per pixel block and output-channel block; K
            // is never split. The first K block's size decides its bytes.
            MacKind::Depthwise => {
                let first_k = k_classes.first().map_or(0, |class| class.size);
                for &(_, footprint) in parts {
                    for n in n_classes {
                        let bytes = self.input_bytes(footprint, first_k, n.size)?;
                        add_times(&mut total, n.count, bytes)?;
                    }
                }
            }
            // Any other input tile is one K block of one pixel block. It
            // stays for the next tile only when K is not split and the next
            // tile reads the same pixels.
            _ => {
                let once =
                    k_tiles == 1 && (candidate.order == LoopOrder::PixelsOuter || m_tiles == 1);
                let n_tiles = shape.n.div_ceil(candidate.n_tile);
                let loads_per_block = if once { 1 } else { n_tiles };
                for &(_, footprint) in parts {
                    for k in k_classes {
                        // The input of a K block does not depend on the
                        // output channels.
                        let n_size = n_classes.first().map_or(0, |class| class.size);
                        let bytes = self.input_bytes(footprint, k.size, n_size)?;
                        add_times(&mut total, k.count.checked_mul(loads_per_block)?, bytes)?;
                    }
                }
            }
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::{ArrayConfig, BufferConfig, Dataflow, DepthwiseUnit, DramConfig};
    use crate::timing::shape::MacShape;
    use crate::timing::tiling::ElementBits;
    use proptest::prelude::*;

    /// A MAC layer, an array and small buffers that force tiling.
    #[derive(Debug, Clone)]
    struct CostProblem {
        shape: MacShape,
        bits: ElementBits,
        array: ArrayConfig,
        buffers: BufferConfig,
    }

    fn cost_problem() -> impl Strategy<Value = CostProblem> {
        let kinds = prop_oneof![
            Just(MacKind::Conv),
            Just(MacKind::Depthwise),
            Just(MacKind::FullyConnected)
        ];
        (
            (
                kinds,
                1u64..3,
                1u64..20,
                1u64..20,
                1u64..4,
                1u64..3,
                0u64..2,
            ),
            (1u64..40, 1u64..3, 1u64..70),
            (1u32..20, 1u32..20, any::<bool>(), any::<bool>()),
            (1u32..6, 1u32..6, 1u32..4, 1u32..4, any::<bool>()),
            (
                prop_oneof![Just(4u64), Just(8)],
                prop_oneof![Just(16u64), Just(32)],
            ),
        )
            .prop_map(
                |(
                    (kind, images, image_rows, out_cols, span, stride, pad),
                    (group_inputs, group_outputs, groups),
                    (rows, cols, output_stationary, vector),
                    (input_kib, weight_kib, accumulator_kib, output_kib, double_buffered),
                    (activation, accumulator),
                )| {
                    let (groups, group_inputs, group_outputs) = match kind {
                        MacKind::Depthwise => (groups, 1, group_outputs),
                        _ => (1, group_inputs, group_outputs * groups),
                    };
                    let k = match kind {
                        MacKind::Depthwise => span * span,
                        _ => span * span * group_inputs,
                    };
                    let shape = MacShape {
                        kind,
                        out_rows: images * image_rows,
                        out_cols,
                        image_rows,
                        in_rows: image_rows * stride,
                        in_cols: out_cols * stride,
                        pad_rows: pad,
                        pad_cols: pad,
                        span_rows: span,
                        span_cols: span,
                        stride_rows: stride,
                        stride_cols: stride,
                        groups,
                        group_inputs,
                        group_outputs,
                        m: images * image_rows * out_cols,
                        k,
                        n: groups * group_outputs,
                    };
                    let array = ArrayConfig {
                        rows,
                        cols,
                        dataflow: if output_stationary {
                            Dataflow::OutputStationary
                        } else {
                            Dataflow::WeightStationary
                        },
                        depthwise: if vector {
                            DepthwiseUnit::Vector
                        } else {
                            DepthwiseUnit::Array
                        },
                        ..ArrayConfig::default()
                    };
                    let buffers = BufferConfig {
                        input_kib,
                        weight_kib,
                        accumulator_kib,
                        output_kib,
                        double_buffered,
                        ..BufferConfig::default()
                    };
                    let bits = ElementBits {
                        activation,
                        weight: activation,
                        accumulator,
                    };
                    CostProblem {
                        shape,
                        bits,
                        array,
                        buffers,
                    }
                },
            )
    }

    #[test]
    fn size_classes_split_full_and_last_blocks() {
        let sizes = |total, block| -> Vec<(u64, u64)> {
            size_classes(total, block)
                .iter()
                .map(|class| (class.size, class.count))
                .collect()
        };
        assert_eq!(sizes(10, 4), vec![(4, 2), (2, 1)]);
        assert_eq!(sizes(8, 4), vec![(4, 2)]);
        assert_eq!(sizes(3, 4), vec![(3, 1)]);
        assert_eq!(sizes(0, 4), vec![]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn grouped_cost_equals_tile_by_tile(problem in cost_problem()) {
            let dram = DramConfig::default();
            let tiling = TilingProblem {
                shape: problem.shape,
                bits: problem.bits,
                array: &problem.array,
                buffers: &problem.buffers,
                dram: &dram,
            };
            for k_tile in tiling.k_blocks() {
                for n_tile in tiling.n_blocks() {
                    let Ok(pixels) = tiling.fit(k_tile, n_tile) else {
                        continue;
                    };
                    for order in [LoopOrder::PixelsOuter, LoopOrder::ChannelsOuter] {
                        let candidate = Candidate { pixels, k_tile, n_tile, order };
                        prop_assert_eq!(
                            tiling.grouped_cost(&candidate),
                            tiling.cost(&candidate),
                            "{:?}",
                            candidate
                        );
                    }
                }
            }
        }
    }
}
