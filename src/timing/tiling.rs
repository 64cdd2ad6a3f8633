//! The tiling of a MAC layer: how its GEMM is cut into tiles that fit the
//! four on-chip buffers, in which order the tiles run, and what each tile
//! costs in DRAM bytes, compute and PPU cycles.
//!
//! A tile is a block of output pixels (whole output rows, or part of one
//! row), a block of the reduction K and a block of output channels. K runs
//! innermost, so a tile's accumulators stay in the accumulator buffer until
//! its last K block, and then the PPU writes them to the output buffer. The
//! tiler tries output-channel blocks of `cols` times a power of two, K
//! blocks of `rows` times a power of two (only when all of K fits nowhere),
//! the largest pixel block that fits, and both loop orders. It keeps the
//! tiling with the fewest compute cycles, then the fewest PPU cycles, then
//! the fewest DRAM bytes. None of these depends on the DRAM port or on
//! double buffering, so neither changes the tiling. The candidates depend
//! on the row count only when K has to be split.
//!
//! Limitation: this is a heuristic search over a small family, not an
//! optimal schedule, and it may move many more bytes to save a few compute
//! cycles, which costs time on a memory-bound layer. The input of a K block
//! smaller than the whole of K is approximated.

use super::array::{
    depthwise_array_cycles, depthwise_vector_cycles, gemm_compute_cycles, ppu_cycles,
};
use super::memory::{transfer_cycles, TileStages};
use super::shape::{MacKind, MacShape};
use super::{BufferKind, Gemm};
use crate::hw::{ArrayConfig, BufferConfig, DepthwiseUnit, DramConfig};
use serde::Serialize;

/// Nesting of the pixel and output-channel tile loops; the K loop is always
/// innermost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoopOrder {
    /// Pixel blocks outermost. Unless K is split, an input tile stays in the
    /// input buffer while every output-channel block runs over it.
    PixelsOuter,
    /// Output-channel blocks outermost. Unless K is split, a weight tile
    /// stays in the weight buffer while every pixel block runs under it.
    ChannelsOuter,
}

/// The tiling the fast model chose for a MAC layer.
///
/// For DEPTHWISE_CONV_2D, `k_tile` is `kh * kw` and `n_tile` counts output
/// channels, whole channel groups at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tiling {
    /// Output pixels in the largest pixel block.
    pub m_tile: u64,
    /// Output rows and columns of the largest pixel block: whole rows, or
    /// one row and fewer columns than the output has.
    pub m_tile_rows: u64,
    pub m_tile_cols: u64,
    pub k_tile: u64,
    pub n_tile: u64,
    pub m_tiles: u64,
    pub k_tiles: u64,
    pub n_tiles: u64,
    pub order: LoopOrder,
    /// Bytes the largest tile needs in one bank of each buffer.
    pub input_bytes: u64,
    pub weight_bytes: u64,
    pub accumulator_bytes: u64,
    pub output_bytes: u64,
}

/// Element widths of one MAC layer in bits, from its datapath: activations
/// (input and output), weights, and accumulators (also the bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElementBits {
    pub activation: u64,
    pub weight: u64,
    pub accumulator: u64,
}

/// A tiling decision together with the per-tile stages it produces.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub tiling: Tiling,
    pub stages: Vec<TileStages>,
    pub dram_bytes: u64,
}

/// The tile that no candidate could fit: which buffer, and how many bytes
/// of one bank the smallest tile needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DoesNotFit {
    pub buffer: BufferKind,
    pub needed_bytes: u64,
    pub available_bytes: u64,
}

/// A tiling failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TilingFailure {
    DoesNotFit(DoesNotFit),
    Overflow,
}

/// A MAC layer and the hardware it is tiled for.
pub(crate) struct TilingProblem<'a> {
    pub shape: MacShape,
    pub bits: ElementBits,
    pub array: &'a ArrayConfig,
    pub buffers: &'a BufferConfig,
    pub dram: &'a DramConfig,
}

/// The pixel block of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PixelBlock {
    /// This many whole output rows.
    Rows(u64),
    /// This many output columns of one row.
    Columns(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Candidate {
    pub(super) pixels: PixelBlock,
    pub(super) k_tile: u64,
    pub(super) n_tile: u64,
    pub(super) order: LoopOrder,
}

/// One tile as the loops visit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tile {
    pub(super) pixels: u64,
    pub(super) k_size: u64,
    pub(super) n_size: u64,
    /// Bytes read for the input and the weights; 0 when the tile reuses
    /// what the previous tile left in the buffer.
    pub(super) input_load: u64,
    pub(super) weight_load: u64,
    /// True for the last K block: the PPU runs and the outputs are stored.
    pub(super) last_k: bool,
}

/// Totals that rank candidates, compared field by field in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Cost {
    pub(super) compute_cycles: u64,
    pub(super) ppu_cycles: u64,
    pub(super) dram_bytes: u64,
    pub(super) tiles: u64,
}

/// Bytes of `count` elements of `bits` bits packed end to end.
fn packed_bytes(count: u64, bits: u64) -> Option<u64> {
    Some(count.checked_mul(bits)?.div_ceil(8))
}

/// Block sizes to try for a dimension of `total`: all of it, then `granule`
/// times descending powers of two, then powers of two below `granule` for
/// buffers too small for one granule.
fn block_sizes(total: u64, granule: u64) -> Vec<u64> {
    let mut sizes = vec![total];
    let mut size = granule;
    let mut larger = Vec::new();
    while size < total {
        larger.push(size);
        size = match size.checked_mul(2) {
            Some(next) => next,
            None => break,
        };
    }
    sizes.extend(larger.into_iter().rev());
    let mut smaller = granule.min(total) / 2;
    while smaller >= 1 {
        sizes.push(smaller);
        smaller /= 2;
    }
    sizes.dedup();
    sizes
}

impl TilingProblem<'_> {
    /// Chooses the tiling and lists every tile's stages in execution order.
    pub fn schedule(&self) -> Result<Schedule, TilingFailure> {
        let mut best: Option<(Cost, Candidate)> = None;
        let mut smallest_failure = None;
        for k_tile in self.k_blocks() {
            for n_tile in self.n_blocks() {
                let pixels = match self.fit(k_tile, n_tile) {
                    Ok(pixels) => pixels,
                    Err(failure) => {
                        smallest_failure = Some(failure);
                        continue;
                    }
                };
                for order in [LoopOrder::PixelsOuter, LoopOrder::ChannelsOuter] {
                    let candidate = Candidate {
                        pixels,
                        k_tile,
                        n_tile,
                        order,
                    };
                    let cost = self
                        .grouped_cost(&candidate)
                        .ok_or(TilingFailure::Overflow)?;
                    if best.is_none_or(|(best_cost, _)| cost < best_cost) {
                        best = Some((cost, candidate));
                    }
                }
            }
            // A smaller K block only adds traffic, so it is tried only when
            // no tile with the whole of K fits.
            if best.is_some() {
                break;
            }
        }

        match best {
            Some((_, candidate)) => self.build(&candidate).ok_or(TilingFailure::Overflow),
            None => {
                Err(smallest_failure.map_or(TilingFailure::Overflow, TilingFailure::DoesNotFit))
            }
        }
    }

    /// Returns the buffer the whole layer as one tile overflows the most, or
    /// `None` when it fits every buffer.
    pub fn limited_by(&self) -> Option<BufferKind> {
        let shape = &self.shape;
        let needs = [
            (
                BufferKind::Input,
                self.input_bytes(
                    shape
                        .input_rows(0, shape.out_rows)
                        .saturating_mul(shape.in_cols),
                    shape.k,
                    shape.n,
                ),
            ),
            (BufferKind::Weight, self.weight_bytes(shape.k, shape.n)),
            (
                BufferKind::Accumulator,
                self.accumulator_bytes(shape.m, shape.n),
            ),
            (BufferKind::Output, self.output_bytes(shape.m, shape.n)),
        ];
        let mut worst = None;
        let mut worst_ratio = 1.0;
        for (buffer, need) in needs {
            let ratio = need.map_or(f64::INFINITY, |bytes| {
                bytes as f64 / self.available(buffer) as f64
            });
            if ratio > worst_ratio {
                worst_ratio = ratio;
                worst = Some(buffer);
            }
        }
        worst
    }

    fn available(&self, buffer: BufferKind) -> u64 {
        match buffer {
            BufferKind::Input => self.buffers.input_bytes(),
            BufferKind::Weight => self.buffers.weight_bytes(),
            BufferKind::Accumulator => self.buffers.accumulator_bytes(),
            BufferKind::Output => self.buffers.output_bytes(),
        }
    }

    pub(super) fn k_blocks(&self) -> Vec<u64> {
        match self.shape.kind {
            // The kernel taps of one channel are never split.
            MacKind::Depthwise => vec![self.shape.k],
            // Blocks of whole folds keep the accumulation order of the
            // datapath contract.
            _ => {
                let rows = u64::from(self.array.rows);
                block_sizes(self.shape.k, rows)
                    .into_iter()
                    .filter(|&size| size == self.shape.k || size.is_multiple_of(rows))
                    .collect()
            }
        }
    }

    pub(super) fn n_blocks(&self) -> Vec<u64> {
        let shape = &self.shape;
        match shape.kind {
            // Whole channel groups; the vector unit works on `cols` output
            // channels at a time, the array on one group at a time.
            MacKind::Depthwise => {
                let granule = match self.array.depthwise {
                    DepthwiseUnit::Vector => {
                        u64::from(self.array.cols).div_ceil(shape.group_outputs)
                    }
                    DepthwiseUnit::Array => 1,
                };
                block_sizes(shape.groups, granule.max(1))
                    .into_iter()
                    .map(|groups| groups * shape.group_outputs)
                    .collect()
            }
            _ => block_sizes(shape.n, u64::from(self.array.cols)),
        }
    }

    /// Input bytes of a tile reading `footprint` input pixels for a K block
    /// of `k_size` and an output-channel block of `n_size`.
    pub(super) fn input_bytes(&self, footprint: u64, k_size: u64, n_size: u64) -> Option<u64> {
        let shape = &self.shape;
        let elements = match shape.kind {
            MacKind::Depthwise => footprint.checked_mul(n_size / shape.group_outputs.max(1))?,
            _ if k_size == shape.k => footprint.checked_mul(shape.group_inputs)?,
            // NOTE: a K block covers a share of the kernel taps and channels;
            // its footprint is taken as that share of the whole footprint.
            _ => footprint
                .checked_mul(shape.group_inputs)?
                .checked_mul(k_size)?
                .div_ceil(shape.k),
        };
        packed_bytes(elements, self.bits.activation)
    }

    /// Returns the bytes of `k_size x n_size` weights and the bias of their
    /// output channels.
    pub(super) fn weight_bytes(&self, k_size: u64, n_size: u64) -> Option<u64> {
        let weights = packed_bytes(k_size.checked_mul(n_size)?, self.bits.weight)?;
        weights.checked_add(packed_bytes(n_size, self.bits.accumulator)?)
    }

    fn accumulator_bytes(&self, pixels: u64, n_size: u64) -> Option<u64> {
        packed_bytes(pixels.checked_mul(n_size)?, self.bits.accumulator)
    }

    pub(super) fn output_bytes(&self, pixels: u64, n_size: u64) -> Option<u64> {
        packed_bytes(pixels.checked_mul(n_size)?, self.bits.activation)
    }

    fn fits(&self, buffer: BufferKind, bytes: Option<u64>) -> Result<(), DoesNotFit> {
        let available_bytes = self.available(buffer);
        match bytes {
            Some(needed_bytes) if needed_bytes <= available_bytes => Ok(()),
            needed => Err(DoesNotFit {
                buffer,
                needed_bytes: needed.unwrap_or(u64::MAX),
                available_bytes,
            }),
        }
    }

    /// Finds the largest pixel block that fits with these K and
    /// output-channel blocks: as many whole output rows as possible, else as
    /// many columns of one row.
    pub(super) fn fit(&self, k_tile: u64, n_tile: u64) -> Result<PixelBlock, DoesNotFit> {
        let shape = &self.shape;
        self.fits(BufferKind::Weight, self.weight_bytes(k_tile, n_tile))?;

        self.fits(BufferKind::Accumulator, self.accumulator_bytes(1, n_tile))?;
        self.fits(BufferKind::Output, self.output_bytes(1, n_tile))?;

        // Largest pixel count the accumulator and output buffers hold; at
        // least 1 after the checks above.
        let per_buffer = |buffer: BufferKind, bits: u64| {
            let bits_per_pixel = n_tile.saturating_mul(bits).max(1);
            self.available(buffer).saturating_mul(8) / bits_per_pixel
        };
        let pixel_cap = per_buffer(BufferKind::Accumulator, self.bits.accumulator)
            .min(per_buffer(BufferKind::Output, self.bits.activation));

        let input_fits = |footprint: u64| {
            self.fits(
                BufferKind::Input,
                self.input_bytes(footprint, k_tile, n_tile),
            )
        };
        let row_cap = (pixel_cap / shape.out_cols.max(1)).min(shape.out_rows);
        if let Some(rows) = largest_passing(row_cap, |rows| {
            input_fits(shape.max_rows_footprint(rows)).is_ok()
        }) {
            return Ok(PixelBlock::Rows(rows));
        }
        let column_cap = pixel_cap.min(shape.out_cols);
        if let Some(cols) = largest_passing(column_cap, |cols| {
            input_fits(shape.max_columns_footprint(cols)).is_ok()
        }) {
            return Ok(PixelBlock::Columns(cols));
        }
        input_fits(shape.max_columns_footprint(1))?;
        // Only an empty output leaves no block at all.
        Ok(PixelBlock::Rows(1))
    }

    pub(super) fn pixel_tiles(&self, block: PixelBlock) -> u64 {
        let shape = &self.shape;
        match block {
            PixelBlock::Rows(rows) => shape.out_rows.div_ceil(rows),
            PixelBlock::Columns(cols) => {
                shape.out_rows.saturating_mul(shape.out_cols.div_ceil(cols))
            }
        }
    }

    /// Pixels and input footprint (input pixels read) of pixel tile
    /// `index`.
    pub(super) fn pixel_part(&self, block: PixelBlock, index: u64) -> (u64, u64) {
        let shape = &self.shape;
        match block {
            PixelBlock::Rows(rows) => {
                let first = index * rows;
                let count = rows.min(shape.out_rows - first);
                let footprint = shape.input_rows(first, count).saturating_mul(shape.in_cols);
                (count * shape.out_cols, footprint)
            }
            PixelBlock::Columns(cols) => {
                let per_row = shape.out_cols.div_ceil(cols);
                let row = index / per_row;
                let first = (index % per_row) * cols;
                let count = cols.min(shape.out_cols - first);
                let footprint = shape
                    .input_rows(row, 1)
                    .saturating_mul(shape.input_cols(first, count));
                (count, footprint)
            }
        }
    }

    /// Visits every tile of `candidate` in execution order.
    fn for_each_tile(
        &self,
        candidate: &Candidate,
        mut visit: impl FnMut(Tile) -> Option<()>,
    ) -> Option<()> {
        let shape = &self.shape;
        let m_tiles = self.pixel_tiles(candidate.pixels);
        let k_tiles = shape.k.div_ceil(candidate.k_tile);
        let n_tiles = shape.n.div_ceil(candidate.n_tile);
        let (outer, middle) = match candidate.order {
            LoopOrder::PixelsOuter => (m_tiles, n_tiles),
            LoopOrder::ChannelsOuter => (n_tiles, m_tiles),
        };

        // Every pixel block is visited once per output-channel block, so its
        // size and footprint are worked out once.
        let parts: Vec<(u64, u64)> = (0..m_tiles)
            .map(|m| self.pixel_part(candidate.pixels, m))
            .collect();
        let mut previous_input = None;
        let mut previous_weights = None;
        for outer_index in 0..outer {
            for middle_index in 0..middle {
                let (m, n) = match candidate.order {
                    LoopOrder::PixelsOuter => (outer_index, middle_index),
                    LoopOrder::ChannelsOuter => (middle_index, outer_index),
                };
                let (pixels, footprint) = *parts.get(usize::try_from(m).ok()?)?;
                let n_size = candidate.n_tile.min(shape.n - n * candidate.n_tile);
                for k in 0..k_tiles {
                    let k_size = candidate.k_tile.min(shape.k - k * candidate.k_tile);
                    // A depthwise input tile contains the channels of its
                    // output block, and any other contains its K block.
                    let input_id = match shape.kind {
                        MacKind::Depthwise => (m, n),
                        _ => (m, k),
                    };
                    let input_load = if previous_input == Some(input_id) {
                        0
                    } else {
                        self.input_bytes(footprint, k_size, n_size)?
                    };
                    let weight_load = if previous_weights == Some((n, k)) {
                        0
                    } else {
                        self.weight_bytes(k_size, n_size)?
                    };
                    previous_input = Some(input_id);
                    previous_weights = Some((n, k));
                    visit(Tile {
                        pixels,
                        k_size,
                        n_size,
                        input_load,
                        weight_load,
                        last_k: k + 1 == k_tiles,
                    })?;
                }
            }
        }
        Some(())
    }

    pub(super) fn compute_cycles(&self, tile: &Tile) -> Option<u64> {
        let shape = &self.shape;
        match (shape.kind, self.array.depthwise) {
            (MacKind::Depthwise, DepthwiseUnit::Array) => {
                let group = Gemm {
                    m: tile.pixels,
                    k: shape.k,
                    n: shape.group_outputs,
                };
                depthwise_array_cycles(tile.n_size / shape.group_outputs.max(1), group, self.array)
            }
            (MacKind::Depthwise, DepthwiseUnit::Vector) => {
                depthwise_vector_cycles(tile.pixels, tile.n_size, shape.k, self.array)
            }
            _ => {
                let gemm = Gemm {
                    m: tile.pixels,
                    k: tile.k_size,
                    n: tile.n_size,
                };
                gemm_compute_cycles(gemm, self.array)
            }
        }
    }

    fn stages(&self, tile: &Tile) -> Option<(TileStages, u64)> {
        let load = transfer_cycles(tile.input_load, self.dram)?
            .checked_add(transfer_cycles(tile.weight_load, self.dram)?)?;
        let mut bytes = tile.input_load.checked_add(tile.weight_load)?;
        let (ppu, store) = if tile.last_k {
            let outputs = tile.pixels.checked_mul(tile.n_size)?;
            let output_bytes = self.output_bytes(tile.pixels, tile.n_size)?;
            bytes = bytes.checked_add(output_bytes)?;
            (
                ppu_cycles(outputs, self.array),
                transfer_cycles(output_bytes, self.dram)?,
            )
        } else {
            (0, 0)
        };
        let stages = TileStages {
            load,
            compute: self.compute_cycles(tile)?,
            ppu,
            store,
        };
        Some((stages, bytes))
    }

    /// Sums the stages of every tile in loop order: the definition that
    /// [`Self::grouped_cost`] must equal.
    #[cfg(test)]
    pub(super) fn cost(&self, candidate: &Candidate) -> Option<Cost> {
        let mut cost = Cost {
            compute_cycles: 0,
            ppu_cycles: 0,
            dram_bytes: 0,
            tiles: 0,
        };
        let mut memo = StageMemo::default();
        self.for_each_tile(candidate, |tile| {
            let (stages, bytes) = memo.stages(self, tile)?;
            cost.compute_cycles = cost.compute_cycles.checked_add(stages.compute)?;
            cost.ppu_cycles = cost.ppu_cycles.checked_add(stages.ppu)?;
            cost.dram_bytes = cost.dram_bytes.checked_add(bytes)?;
            cost.tiles += 1;
            Some(())
        })?;
        Some(cost)
    }

    fn build(&self, candidate: &Candidate) -> Option<Schedule> {
        let shape = &self.shape;
        let mut stages = Vec::new();
        let mut dram_bytes = 0u64;
        let mut memo = StageMemo::default();
        self.for_each_tile(candidate, |tile| {
            let (tile_stages, bytes) = memo.stages(self, tile)?;
            stages.push(tile_stages);
            dram_bytes = dram_bytes.checked_add(bytes)?;
            Some(())
        })?;

        let (m_tile_rows, m_tile_cols, footprint) = match candidate.pixels {
            PixelBlock::Rows(rows) => {
                let rows = rows.min(shape.out_rows);
                (rows, shape.out_cols, shape.max_rows_footprint(rows))
            }
            PixelBlock::Columns(cols) => {
                let cols = cols.min(shape.out_cols);
                (1, cols, shape.max_columns_footprint(cols))
            }
        };
        let m_tile = m_tile_rows * m_tile_cols;
        let k_tile = candidate.k_tile.min(shape.k);
        let n_tile = candidate.n_tile.min(shape.n);
        let tiling = Tiling {
            m_tile,
            m_tile_rows,
            m_tile_cols,
            k_tile,
            n_tile,
            m_tiles: self.pixel_tiles(candidate.pixels),
            k_tiles: shape.k.div_ceil(candidate.k_tile),
            n_tiles: shape.n.div_ceil(candidate.n_tile),
            order: candidate.order,
            input_bytes: self.input_bytes(footprint, k_tile, n_tile)?,
            weight_bytes: self.weight_bytes(k_tile, n_tile)?,
            accumulator_bytes: self.accumulator_bytes(m_tile, n_tile)?,
            output_bytes: self.output_bytes(m_tile, n_tile)?,
        };
        Some(Schedule {
            tiling,
            stages,
            dram_bytes,
        })
    }
}

/// The stages of the previous tile, reused when the next tile is equal:
/// most tiles of a layer repeat the one before, and [`TilingProblem::stages`]
/// depends on nothing but the tile.
#[derive(Default)]
struct StageMemo {
    previous: Option<(Tile, TileStages, u64)>,
}

impl StageMemo {
    fn stages(&mut self, problem: &TilingProblem<'_>, tile: Tile) -> Option<(TileStages, u64)> {
        if let Some((previous, stages, bytes)) = self.previous {
            if previous == tile {
                return Some((stages, bytes));
            }
        }
        let (stages, bytes) = problem.stages(&tile)?;
        self.previous = Some((tile, stages, bytes));
        Some((stages, bytes))
    }
}

/// Returns the largest `x` in `1..=max` for which `passes(x)` is true,
/// given that `passes` is true below every value where it is true.
fn largest_passing(max: u64, passes: impl Fn(u64) -> bool) -> Option<u64> {
    if max == 0 || !passes(1) {
        return None;
    }
    let (mut low, mut high) = (1, max);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if passes(middle) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    Some(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a 3 x 3 SAME convolution, stride 1, of an 8 x 8 x 4 input to
    /// 8 channels: M = 64, K = 36, N = 8.
    fn conv_shape() -> MacShape {
        MacShape {
            kind: MacKind::Conv,
            out_rows: 8,
            out_cols: 8,
            image_rows: 8,
            in_rows: 8,
            in_cols: 8,
            pad_rows: 1,
            pad_cols: 1,
            span_rows: 3,
            span_cols: 3,
            stride_rows: 1,
            stride_cols: 1,
            groups: 1,
            group_inputs: 4,
            group_outputs: 8,
            m: 64,
            k: 36,
            n: 8,
        }
    }

    const INT8: ElementBits = ElementBits {
        activation: 8,
        weight: 8,
        accumulator: 32,
    };

    fn schedule(shape: MacShape, buffers: BufferConfig) -> (Schedule, Option<BufferKind>) {
        let array = ArrayConfig::default();
        let dram = DramConfig::default();
        let problem = TilingProblem {
            shape,
            bits: INT8,
            array: &array,
            buffers: &buffers,
            dram: &dram,
        };
        (problem.schedule().unwrap(), problem.limited_by())
    }

    #[test]
    fn whole_layer_fits_as_one_tile() {
        let (schedule, limited_by) = schedule(conv_shape(), BufferConfig::default());
        assert_eq!(limited_by, None);
        assert_eq!(schedule.stages.len(), 1);
        // Input, weights, 32-bit bias, output.
        assert_eq!(schedule.dram_bytes, 256 + 288 + 32 + 512);
        // 3 folds of 16 over K = 36, each pass 2 * 16 + 16 + 64 - 2.
        assert_eq!(schedule.stages[0].compute, 3 * 110);
        assert_eq!(schedule.stages[0].ppu, 512 / 16);
    }

    #[test]
    fn small_accumulator_buffer_splits_pixels() {
        let buffers = BufferConfig {
            accumulator_kib: 1,
            ..BufferConfig::default()
        };
        let (schedule, limited_by) = schedule(conv_shape(), buffers);
        assert_eq!(limited_by, Some(BufferKind::Accumulator));
        // 1024 bytes hold 32 pixels of 8 accumulators: 4 output rows.
        assert_eq!(schedule.tiling.m_tile, 32);
        assert_eq!(schedule.tiling.m_tile_rows, 4);
        assert_eq!(schedule.stages.len(), 2);
        let compute: u64 = schedule.stages.iter().map(|t| t.compute).sum();
        assert_eq!(compute, 2 * 3 * (32 + 16 + 32 - 2));
        // Each half reads 5 input rows (one halo row beyond its 4), and
        // the weights stay for the second half.
        assert_eq!(schedule.dram_bytes, 2 * 5 * 8 * 4 + 288 + 32 + 512);
    }

    #[test]
    fn pixels_outer_reuses_input_tile() {
        // 16 output channels of 36 weights and a 32-bit bias: 640 bytes,
        // more than the 512-byte budget forced below, so N is split.
        let shape = MacShape {
            group_outputs: 64,
            n: 64,
            ..conv_shape()
        };
        let buffers = BufferConfig {
            weight_kib: 1,
            ..BufferConfig::default()
        };
        let (schedule, limited_by) = schedule(shape, buffers);
        assert_eq!(limited_by, Some(BufferKind::Weight));
        assert_eq!(schedule.tiling.n_tile, 16);
        assert_eq!(schedule.tiling.n_tiles, 4);
        assert_eq!(schedule.tiling.m_tiles, 1);
        // Input once, every weight and bias once, output once.
        assert_eq!(schedule.dram_bytes, 256 + 64 * 36 + 64 * 4 + 64 * 64);
    }

    #[test]
    fn block_sizes_descend_from_the_whole() {
        assert_eq!(block_sizes(100, 16), vec![100, 64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(block_sizes(64, 16), vec![64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(block_sizes(5, 16), vec![5, 2, 1]);
        assert_eq!(block_sizes(1, 1), vec![1]);
    }

    #[test]
    fn largest_passing_finds_the_boundary() {
        assert_eq!(largest_passing(100, |x| x <= 37), Some(37));
        assert_eq!(largest_passing(100, |x| x <= 1000), Some(100));
        assert_eq!(largest_passing(100, |_| false), None);
        assert_eq!(largest_passing(0, |_| true), None);
    }
}
