//! int8 matrix multiplication for CONV_2D without groups and for
//! FULLY_CONNECTED on the reference arithmetic, with `vpdpbusd` (u8 x i8 ->
//! i32, four products per lane) on AVX-512 VNNI.
//!
//! Each output element is `requant(start + sum(u * w))` over K, where `u =
//! x ^ 0x80 = x + 128` is the int8 operand read as u8 and `start = bias -
//! (zx + 128) * sum(w)` (see [`folded_starts`]). Modulo 2^32 that is the
//! reference's `bias + sum(w * (x - zx))`, and the reference's int32
//! accumulator wraps, so the result is bit-exact. A 1x1 convolution reads
//! its input pixels in place; other kernels first gather each output pixel's
//! patch (im2col). Limitation: grouped convolutions, int16 activations and
//! 64-bit accumulators stay on the generic kernels.

use super::mac_layer::{Activations, Bias, LayerActivations, Register, Weights};
use super::mac_simd::{folded_starts, is_reference_arithmetic, ChannelRequant, DotIsa, LANES};
use super::mac_window::Window;
use crate::exec::{Datapath, OperandConversion, OperandMapping};
use crate::numeric::QuantizedMultiplier;
use rayon::prelude::*;
use std::ops::Range;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// K elements summed per i32 lane by one `vpdpbusd`.
const DOT_WIDTH: usize = 4;

/// Output pixels per register tile.
const TILE_PIXELS: usize = 6;

/// Channel vectors per register tile. 6 x 4 accumulators take 24 of the 32
/// vector registers, leaving 4 for weights and one for the broadcast input.
const TILE_BLOCKS: usize = 4;

/// Channel vectors per task when a single output pixel is split across
/// threads (a FULLY_CONNECTED layer with one batch).
const BLOCKS_PER_TASK: usize = 4;

/// The tensors and parameters a MAC layer's prepare step read, as the fast
/// paths take them.
pub(crate) struct FastLayer<'a> {
    pub datapath: &'a Datapath,
    pub layer: &'a LayerActivations,
    pub register: Register,
    pub weights: &'a Weights,
    pub bias: Option<&'a Bias>,
    pub scales: &'a [QuantizedMultiplier],
    pub output_range: (i32, i32),
    /// The instruction set, or `None` when the CPU has no fast path.
    pub isa: Option<DotIsa>,
}

impl FastLayer<'_> {
    /// Returns the instruction set and the requantiser when the layer is an
    /// int8 layer on the reference arithmetic that the fast paths cover,
    /// with its operands used as the model gives them.
    pub fn qualify(&self) -> Option<(DotIsa, ChannelRequant)> {
        let isa = self.isa?;
        let unchanged =
            |mapping: &OperandMapping| mapping.conversion == OperandConversion::Unchanged;
        let covered = self.layer.activations == Activations::Int8
            && unchanged(&self.layer.input_mapping)
            && unchanged(&self.weights.mapping)
            && self.register == Register::Bits32
            && is_reference_arithmetic(self.datapath);
        if !covered {
            return None;
        }
        let requant =
            ChannelRequant::new(self.scales, self.layer.output.zero_point, self.output_range)?;
        Some((isa, requant))
    }

    fn biases(&self) -> Option<&[i64]> {
        self.bias.map(|bias| bias.values.as_slice())
    }
}

/// Constant int8 weights `[channels][depth]` prepared for the product with
/// rows of int8 operands.
#[derive(Debug)]
pub(crate) struct Int8Gemm {
    depth: usize,
    /// `depth` rounded up to a multiple of [`DOT_WIDTH`]; operand rows must
    /// have this many readable bytes.
    depth_padded: usize,
    channels: usize,
    /// The weights as given, for the portable path.
    weights: Vec<i8>,
    /// `[channel / 16][k / 4][channel % 16][k % 4]`, zero past the last
    /// channel and past `depth`: one 64-byte vector contains 4 consecutive K
    /// elements of 16 channels, the operand layout of `vpdpbusd`.
    packed: Vec<i8>,
    /// Accumulator start per channel, padded to whole vectors.
    starts: Vec<i32>,
    requant: ChannelRequant,
    isa: DotIsa,
}

impl Int8Gemm {
    fn new(
        fast: &FastLayer,
        isa: DotIsa,
        requant: ChannelRequant,
        channels: usize,
        depth: usize,
    ) -> Int8Gemm {
        let weights = fast.weights.values.clone();
        assert_eq!(
            weights.len(),
            channels * depth,
            "weights are [channels][depth]"
        );
        let blocks = channels.div_ceil(LANES);
        let depth_padded = depth.div_ceil(DOT_WIDTH) * DOT_WIDTH;
        let mut packed = vec![0_i8; blocks * depth_padded * LANES];
        for (channel, row) in weights.chunks_exact(depth).enumerate() {
            let (block, lane) = (channel / LANES, channel % LANES);
            for (k, &weight) in row.iter().enumerate() {
                let (step, within) = (k / DOT_WIDTH, k % DOT_WIDTH);
                let index =
                    ((block * depth_padded / DOT_WIDTH + step) * LANES + lane) * DOT_WIDTH + within;
                packed[index] = weight;
            }
        }
        let weight_sums: Vec<i64> = weights
            .chunks_exact(depth)
            .map(|row| row.iter().map(|&w| i64::from(w)).sum())
            .collect();
        let starts = folded_starts(
            fast.biases(),
            &weight_sums,
            fast.layer.input.zero_point,
            128,
            blocks * LANES,
        );
        Int8Gemm {
            depth,
            depth_padded,
            channels,
            weights,
            packed,
            starts,
            requant,
            isa,
        }
    }

    fn blocks(&self) -> usize {
        self.channels.div_ceil(LANES)
    }

    /// Computes output pixels `0..pixels` for the channels of vectors
    /// `blocks`. Pixel `p` reads `depth_padded` bytes of `operands` from
    /// `row_start(p)` and writes its channels to `output[p * output_stride
    /// ..]`, starting with channel `16 * blocks.start`.
    ///
    /// Panics if a row or an output position lies outside its slice.
    fn run(
        &self,
        operands: &[i8],
        row_start: &dyn Fn(usize) -> usize,
        pixels: usize,
        blocks: Range<usize>,
        output: &mut [i8],
        output_stride: usize,
    ) {
        assert!(blocks.end <= self.blocks(), "channel vectors out of range");
        if pixels == 0 || blocks.is_empty() {
            return;
        }
        let width = (blocks.end * LANES).min(self.channels) - blocks.start * LANES;
        assert!(
            (pixels - 1) * output_stride + width <= output.len(),
            "output rows out of range"
        );
        for pixel in 0..pixels {
            assert!(
                row_start(pixel) + self.depth_padded <= operands.len(),
                "operand row {pixel} out of range"
            );
        }
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa` is Avx512Vnni only when the CPU reported the
            // features at prepare (or a test checked them), and the
            // assertions above keep every row and output position in bounds.
            DotIsa::Avx512Vnni => unsafe {
                self.run_avx512(operands, row_start, pixels, blocks, output, output_stride)
            },
            _ => self.run_portable(operands, row_start, pixels, blocks, output, output_stride),
        }
    }

    /// Computes every output pixel in parallel: tasks of whole pixels, or
    /// of channel vectors when there is a single pixel.
    fn run_parallel(
        &self,
        operands: &[i8],
        row_start: &(dyn Fn(usize) -> usize + Sync),
        pixels: usize,
        output: &mut [i8],
    ) {
        let channels = self.channels;
        if pixels == 1 {
            let blocks = self.blocks();
            output
                .par_chunks_mut(BLOCKS_PER_TASK * LANES)
                .enumerate()
                .for_each(|(task, output)| {
                    let first = task * BLOCKS_PER_TASK;
                    let range = first..(first + BLOCKS_PER_TASK).min(blocks);
                    self.run(operands, row_start, 1, range, output, channels);
                });
            return;
        }
        let chunk = pixels_per_task(pixels);
        output
            .par_chunks_mut(chunk * channels)
            .enumerate()
            .for_each(|(task, output)| {
                let first = task * chunk;
                let shifted = |pixel: usize| row_start(first + pixel);
                let count = output.len() / channels;
                self.run(
                    operands,
                    &shifted,
                    count,
                    0..self.blocks(),
                    output,
                    channels,
                );
            });
    }

    /// Computes [`Int8Gemm::run`] with scalar code, the specification of the
    /// vector path: one wrapping i32 sum per output element, then the scalar
    /// requantiser.
    fn run_portable(
        &self,
        operands: &[i8],
        row_start: &dyn Fn(usize) -> usize,
        pixels: usize,
        blocks: Range<usize>,
        output: &mut [i8],
        output_stride: usize,
    ) {
        let first_channel = blocks.start * LANES;
        let end_channel = (blocks.end * LANES).min(self.channels);
        for pixel in 0..pixels {
            let row = &operands[row_start(pixel)..][..self.depth];
            let outputs = &mut output[pixel * output_stride..][..end_channel - first_channel];
            for (channel, output) in (first_channel..end_channel).zip(outputs) {
                let weights = &self.weights[channel * self.depth..][..self.depth];
                let mut accumulator = self.starts[channel];
                for (&x, &w) in row.iter().zip(weights) {
                    let operand = i32::from(x as u8 ^ 0x80);
                    accumulator = accumulator.wrapping_add(operand * i32::from(w));
                }
                *output = self.requant.apply_scalar(channel, accumulator);
            }
        }
    }

    /// Computes [`Int8Gemm::run`] in register tiles of up to
    /// [`TILE_PIXELS`] pixels by [`TILE_BLOCKS`] channel vectors.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW, VL and VNNI, and the arguments
    /// must pass the bounds checks of [`Int8Gemm::run`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn run_avx512(
        &self,
        operands: &[i8],
        row_start: &dyn Fn(usize) -> usize,
        pixels: usize,
        blocks: Range<usize>,
        output: &mut [i8],
        output_stride: usize,
    ) {
        let mut first_pixel = 0;
        while first_pixel < pixels {
            let tile_pixels = (pixels - first_pixel).min(TILE_PIXELS);
            let mut rows = [operands.as_ptr(); TILE_PIXELS];
            let mut outputs = [output.as_mut_ptr(); TILE_PIXELS];
            for i in 0..tile_pixels {
                // SAFETY: run checked each row start and output row.
                unsafe {
                    rows[i] = operands.as_ptr().add(row_start(first_pixel + i));
                    outputs[i] = output.as_mut_ptr().add((first_pixel + i) * output_stride);
                }
            }
            let mut block = blocks.start;
            while block < blocks.end {
                let tile_blocks = (blocks.end - block).min(TILE_BLOCKS);
                let offset = (block - blocks.start) * LANES;
                let tile = Tile {
                    rows: &rows,
                    outputs: &outputs,
                    first_block: block,
                    output_offset: offset,
                };
                macro_rules! dispatch {
                    ($(($p:literal, $v:literal)),*) => {
                        match (tile_pixels, tile_blocks) {
                            // SAFETY: the rows and outputs of this tile were
                            // checked by run, and the CPU features by the caller.
                            $(($p, $v) => unsafe { self.tile_avx512::<$p, $v>(&tile) },)*
                            _ => unreachable!("tiles have 1..=6 pixels and 1..=4 vectors"),
                        }
                    };
                }
                dispatch!(
                    (6, 4),
                    (6, 3),
                    (6, 2),
                    (6, 1),
                    (5, 4),
                    (5, 3),
                    (5, 2),
                    (5, 1),
                    (4, 4),
                    (4, 3),
                    (4, 2),
                    (4, 1),
                    (3, 4),
                    (3, 3),
                    (3, 2),
                    (3, 1),
                    (2, 4),
                    (2, 3),
                    (2, 2),
                    (2, 1),
                    (1, 4),
                    (1, 3),
                    (1, 2),
                    (1, 1)
                );
                block += tile_blocks;
            }
            first_pixel += tile_pixels;
        }
    }

    /// Computes one tile of `P` pixels by `V` channel vectors: `P * V`
    /// accumulators stay in registers over all of K, then each goes through
    /// the requantiser and a masked store of its valid channels.
    ///
    /// # Safety
    /// As [`Int8Gemm::run_avx512`]; the tile's first `P` rows and outputs
    /// must be valid for `depth_padded` bytes and its channels.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn tile_avx512<const P: usize, const V: usize>(&self, tile: &Tile) {
        let steps = self.depth_padded / DOT_WIDTH;
        let block_bytes = self.depth_padded * LANES;
        // SAFETY (whole function): `packed` contains `blocks * block_bytes`
        // bytes and the tile's vectors are below `blocks`. `starts` contains
        // `blocks * 16` values. Rows and outputs are valid per the contract.
        unsafe {
            let weights = self.packed.as_ptr().add(tile.first_block * block_bytes);
            let mut accumulators = [[_mm512_setzero_si512(); V]; P];
            for v in 0..V {
                let start = self.starts.as_ptr().add((tile.first_block + v) * LANES);
                let start = _mm512_loadu_si512(start.cast());
                for row in accumulators.iter_mut() {
                    row[v] = start;
                }
            }

            let flip = _mm512_set1_epi8(i8::MIN);
            for step in 0..steps {
                let mut vectors = [_mm512_setzero_si512(); V];
                for (v, vector) in vectors.iter_mut().enumerate() {
                    let address = weights.add(v * block_bytes + step * DOT_WIDTH * LANES);
                    *vector = _mm512_loadu_si512(address.cast());
                }
                for (row, accumulators) in tile.rows.iter().zip(accumulators.iter_mut()) {
                    let four = row.add(step * DOT_WIDTH).cast::<i32>().read_unaligned();
                    let operand = _mm512_xor_si512(_mm512_set1_epi32(four), flip);
                    for (accumulator, &vector) in accumulators.iter_mut().zip(&vectors) {
                        *accumulator = _mm512_dpbusd_epi32(*accumulator, operand, vector);
                    }
                }
            }

            for v in 0..V {
                let block = tile.first_block + v;
                let lanes = (self.channels - block * LANES).min(LANES);
                let mask = (u32::MAX >> (32 - lanes)) as __mmask16;
                for (accumulators, output) in accumulators.iter().zip(tile.outputs) {
                    let result = self.requant.apply_avx512(block, accumulators[v]);
                    let address = output.add(tile.output_offset + v * LANES);
                    _mm512_mask_cvtepi32_storeu_epi8(address, mask, result);
                }
            }
        }
    }

    /// Selects the instruction set, for the equality tests.
    #[cfg(test)]
    pub fn set_isa(&mut self, isa: DotIsa) {
        self.isa = isa;
    }
}

/// Row and output addresses of one register tile; entries past the tile's
/// pixel count are unused.
#[cfg(target_arch = "x86_64")]
struct Tile<'a> {
    rows: &'a [*const i8; TILE_PIXELS],
    outputs: &'a [*mut i8; TILE_PIXELS],
    first_block: usize,
    /// Offset of the first vector's channels in each output row.
    output_offset: usize,
}

/// Returns the pixels per parallel task: about eight tasks per thread for
/// load balance, in whole register tiles.
fn pixels_per_task(pixels: usize) -> usize {
    let tasks = rayon::current_num_threads() * 8;
    pixels.div_ceil(tasks).div_ceil(TILE_PIXELS).max(1) * TILE_PIXELS
}

/// The fast path of an int8 CONV_2D without groups.
#[derive(Debug)]
pub(crate) struct GemmConv {
    window: Window,
    gemm: Int8Gemm,
    /// The raw operand of a padded tap: the input zero point.
    pad_value: i8,
}

impl GemmConv {
    /// Prepares the fast path of a convolution with `groups` groups, or
    /// returns `None` when the layer or the CPU is not covered.
    pub fn new(fast: &FastLayer, window: Window, groups: usize) -> Option<GemmConv> {
        if groups != 1 {
            return None;
        }
        let (isa, requant) = fast.qualify()?;
        let channels = window.output[3];
        let depth = window.taps() * window.input[3];
        Some(GemmConv {
            window,
            gemm: Int8Gemm::new(fast, isa, requant, channels, depth),
            // read_activations keeps an int8 zero point in -128..=127.
            pad_value: fast.layer.input.zero_point as i8,
        })
    }

    /// True when each output pixel's patch is one input pixel, read in
    /// place: a 1x1 kernel with no padding and whole 4-byte groups.
    fn reads_in_place(&self) -> bool {
        let window = &self.window;
        window.taps() == 1
            && window.pad_top == 0
            && window.pad_left == 0
            && window.input[3].is_multiple_of(DOT_WIDTH)
    }

    /// Computes the output of `input`, which has the window's input shape.
    pub fn run(&self, input: &[i8]) -> Vec<i8> {
        assert_eq!(input.len(), self.window.input.iter().product::<usize>());
        let [batch, out_h, out_w, channels] = self.window.output;
        let pixels = batch * out_h * out_w;
        let mut output = vec![0_i8; pixels * channels];
        if self.reads_in_place() {
            let row_start = |pixel: usize| self.input_pixel(pixel);
            self.gemm
                .run_parallel(input, &row_start, pixels, &mut output);
            return output;
        }

        let chunk = pixels_per_task(pixels);
        let depth_padded = self.gemm.depth_padded;
        output
            .par_chunks_mut(chunk * channels)
            .enumerate()
            .for_each_init(Vec::new, |patches, (task, output)| {
                let count = output.len() / channels;
                patches.resize(count * depth_padded, 0);
                self.fill_patches(input, task * chunk, patches);
                let row_start = |pixel: usize| pixel * depth_padded;
                self.gemm.run(
                    patches,
                    &row_start,
                    count,
                    0..self.gemm.blocks(),
                    output,
                    channels,
                );
            });
        output
    }

    /// Returns the offset of the input pixel under output pixel `pixel` of
    /// a 1x1 kernel without padding.
    fn input_pixel(&self, pixel: usize) -> usize {
        let [_, in_h, in_w, cin] = self.window.input;
        let [_, out_h, out_w, _] = self.window.output;
        let (batch, within) = (pixel / (out_h * out_w), pixel % (out_h * out_w));
        let (oy, ox) = (within / out_w, within % out_w);
        let iy = oy * self.window.stride.h;
        let ix = ox * self.window.stride.w;
        ((batch * in_h + iy) * in_w + ix) * cin
    }

    /// Gathers the patches of output pixels `first..` into rows of
    /// `depth_padded` bytes, `[ky][kx][cin]`, padded taps set to the input
    /// zero point. A kernel row whose taps are adjacent input pixels inside
    /// the image is one copy.
    fn fill_patches(&self, input: &[i8], first: usize, patches: &mut [i8]) {
        let window = &self.window;
        let [_, in_h, in_w, cin] = window.input;
        let [_, out_h, out_w, _] = window.output;
        let kernel_w = window.kernel.w;
        let row_len = kernel_w * cin;
        for (index, patch) in patches.chunks_exact_mut(self.gemm.depth_padded).enumerate() {
            let pixel = first + index;
            let (batch, within) = (pixel / (out_h * out_w), pixel % (out_h * out_w));
            let (oy, ox) = (within / out_w, within % out_w);
            // The first input column of the window, when it lies inside.
            let left = (ox * window.stride.w)
                .checked_sub(window.pad_left)
                .filter(|&left| window.dilation.w == 1 && left + kernel_w <= in_w);
            for ky in 0..window.kernel.h {
                let patch_row = &mut patch[ky * row_len..][..row_len];
                let Some(iy) = window.input_row(oy, ky) else {
                    patch_row.fill(self.pad_value);
                    continue;
                };
                let input_row = (batch * in_h + iy) * in_w;
                if let Some(left) = left {
                    patch_row.copy_from_slice(&input[(input_row + left) * cin..][..row_len]);
                    continue;
                }
                for (kx, tap) in patch_row.chunks_exact_mut(cin).enumerate() {
                    match window.input_column(ox, kx) {
                        Some(ix) => tap.copy_from_slice(&input[(input_row + ix) * cin..][..cin]),
                        None => tap.fill(self.pad_value),
                    }
                }
            }
        }
    }

    /// Selects the instruction set, for the equality tests.
    #[cfg(test)]
    pub fn set_isa(&mut self, isa: DotIsa) {
        self.gemm.set_isa(isa);
    }
}

/// The fast path of an int8 FULLY_CONNECTED.
#[derive(Debug)]
pub(crate) struct GemmFullyConnected {
    gemm: Int8Gemm,
}

impl GemmFullyConnected {
    /// Prepares the fast path of weights `[units][depth]`, or returns
    /// `None` when the layer or the CPU is not covered.
    pub fn new(fast: &FastLayer, units: usize, depth: usize) -> Option<GemmFullyConnected> {
        let (isa, requant) = fast.qualify()?;
        Some(GemmFullyConnected {
            gemm: Int8Gemm::new(fast, isa, requant, units, depth),
        })
    }

    /// Computes the output of `input`, rows of `depth` elements.
    pub fn run(&self, input: &[i8]) -> Vec<i8> {
        let (depth, depth_padded) = (self.gemm.depth, self.gemm.depth_padded);
        let batches = input.len() / depth;
        let mut output = vec![0_i8; batches * self.gemm.channels];
        if depth == depth_padded {
            let row_start = |row: usize| row * depth;
            self.gemm
                .run_parallel(input, &row_start, batches, &mut output);
        } else {
            let mut rows = vec![0_i8; batches * depth_padded];
            for (row, values) in rows
                .chunks_exact_mut(depth_padded)
                .zip(input.chunks_exact(depth))
            {
                row[..depth].copy_from_slice(values);
            }
            let row_start = |row: usize| row * depth_padded;
            self.gemm
                .run_parallel(&rows, &row_start, batches, &mut output);
        }
        output
    }

    /// Selects the instruction set, for the equality tests.
    #[cfg(test)]
    pub fn set_isa(&mut self, isa: DotIsa) {
        self.gemm.set_isa(isa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::kernels::mac_simd::testing::{RandomLayer, WindowShape, XorShift};
    use crate::model::{Hw, Padding};

    fn fast_layer<'a>(
        datapath: &'a Datapath,
        random: &'a RandomLayer,
        isa: DotIsa,
    ) -> FastLayer<'a> {
        FastLayer {
            datapath,
            layer: &random.layer,
            register: Register::Bits32,
            weights: &random.weights,
            bias: Some(&random.bias),
            scales: &random.scales,
            output_range: random.output_range,
            isa: Some(isa),
        }
    }

    /// Returns the instruction sets to compare: the portable code, and the
    /// vector code when this CPU has it.
    fn isas() -> Vec<DotIsa> {
        let mut isas = vec![DotIsa::Portable];
        isas.extend(DotIsa::detect());
        isas
    }

    fn requant(random: &RandomLayer) -> ChannelRequant {
        ChannelRequant::new(
            &random.scales,
            random.layer.output.zero_point,
            random.output_range,
        )
        .unwrap()
    }

    /// Computes the reference's `bias + sum(w * (x - zx))` per output
    /// element in i64, wraps it to 32 bits and requantises it.
    fn reference_matrix(random: &RandomLayer, rows: &[Vec<i8>], depth: usize) -> Vec<i8> {
        let requant = requant(random);
        let zero_point = i64::from(random.layer.input.zero_point);
        let mut output = Vec::new();
        for row in rows {
            for (channel, weights) in random.weights.values.chunks_exact(depth).enumerate() {
                let sum: i64 = row
                    .iter()
                    .zip(weights)
                    .map(|(&x, &w)| i64::from(w) * (i64::from(x) - zero_point))
                    .sum();
                let accumulator = (random.bias.values[channel] + sum) as i32;
                output.push(requant.apply_scalar(channel, accumulator));
            }
        }
        output
    }

    #[test]
    fn gemm_matches_reference_for_odd_shapes() {
        let datapath = Datapath::reference();
        let mut random = XorShift(0x6E33_0001_F00D_BEEF);
        for channels in [1, 15, 16, 17, 33, 70] {
            for depth in [1, 3, 4, 5, 27, 64, 131] {
                for pixels in [1, 5, 6, 7, 13] {
                    let layer = RandomLayer::new(&mut random, channels, channels * depth);
                    let rows: Vec<Vec<i8>> = (0..pixels).map(|_| random.int8s(depth)).collect();
                    let expected = reference_matrix(&layer, &rows, depth);
                    // Operand rows padded to a multiple of 4 with arbitrary
                    // bytes, which meet zero weights.
                    let stride = depth.div_ceil(DOT_WIDTH) * DOT_WIDTH;
                    let mut operands = random.int8s(pixels * stride);
                    for (pixel, row) in rows.iter().enumerate() {
                        operands[pixel * stride..][..depth].copy_from_slice(row);
                    }
                    for isa in isas() {
                        let fast = fast_layer(&datapath, &layer, isa);
                        let gemm = Int8Gemm::new(&fast, isa, requant(&layer), channels, depth);
                        let mut output = vec![0_i8; pixels * channels];
                        let row_start = |pixel: usize| pixel * stride;
                        gemm.run(
                            &operands,
                            &row_start,
                            pixels,
                            0..gemm.blocks(),
                            &mut output,
                            channels,
                        );
                        assert_eq!(
                            output, expected,
                            "{isa:?}: {channels} channels, depth {depth}, {pixels} pixels"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_parallel_split_matches_reference() {
        let datapath = Datapath::reference();
        let mut random = XorShift(0x0DD5_EED5_0000_0042);
        // One pixel splits over channel vectors (FULLY_CONNECTED), more
        // pixels over pixels.
        for (pixels, channels, depth) in [(1, 1000, 40), (1, 65, 9), (3, 130, 12), (200, 24, 16)] {
            let layer = RandomLayer::new(&mut random, channels, channels * depth);
            let rows: Vec<Vec<i8>> = (0..pixels).map(|_| random.int8s(depth)).collect();
            let expected = reference_matrix(&layer, &rows, depth);
            let input: Vec<i8> = rows.concat();
            for isa in isas() {
                let fast = fast_layer(&datapath, &layer, isa);
                let fully_connected = GemmFullyConnected::new(&fast, channels, depth).unwrap();
                assert_eq!(
                    fully_connected.run(&input),
                    expected,
                    "{isa:?}: {pixels} pixels, {channels} channels, depth {depth}"
                );
            }
        }
    }

    /// Computes a convolution as the reference's loops do: per output
    /// element `bias + sum(w * (x - zx))` over the taps inside the image.
    fn reference_conv(random: &RandomLayer, window: &Window, input: &[i8]) -> Vec<i8> {
        let requant = requant(random);
        let [batches, in_h, in_w, cin] = window.input;
        let [_, out_h, out_w, cout] = window.output;
        let zero_point = i64::from(random.layer.input.zero_point);
        let mut output = Vec::new();
        for batch in 0..batches {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    for channel in 0..cout {
                        let mut sum = random.bias.values[channel];
                        for ky in 0..window.kernel.h {
                            for kx in 0..window.kernel.w {
                                let (Some(iy), Some(ix)) =
                                    (window.input_row(oy, ky), window.input_column(ox, kx))
                                else {
                                    continue;
                                };
                                for ci in 0..cin {
                                    let x = input[((batch * in_h + iy) * in_w + ix) * cin + ci];
                                    let w = random.weights.values[((channel * window.kernel.h
                                        + ky)
                                        * window.kernel.w
                                        + kx)
                                        * cin
                                        + ci];
                                    sum += i64::from(w) * (i64::from(x) - zero_point);
                                }
                            }
                        }
                        output.push(requant.apply_scalar(channel, sum as i32));
                    }
                }
            }
        }
        output
    }

    fn hw(h: usize, w: usize) -> Hw {
        Hw { h, w }
    }

    #[test]
    fn conv_matches_reference_in_place_and_gathered() {
        let shapes = [
            // 1x1 read in place, with and without stride.
            (
                1,
                hw(5, 7),
                [8, 20],
                hw(1, 1),
                hw(1, 1),
                hw(1, 1),
                Padding::Same,
            ),
            (
                2,
                hw(6, 5),
                [12, 17],
                hw(1, 1),
                hw(2, 2),
                hw(1, 1),
                Padding::Valid,
            ),
            // 1x1 with channels that are not whole 4-byte groups.
            (
                1,
                hw(4, 4),
                [3, 5],
                hw(1, 1),
                hw(1, 1),
                hw(1, 1),
                Padding::Same,
            ),
            // Patches with padding, stride and dilation.
            (
                1,
                hw(9, 11),
                [3, 32],
                hw(3, 3),
                hw(2, 2),
                hw(1, 1),
                Padding::Same,
            ),
            (
                1,
                hw(8, 7),
                [5, 9],
                hw(3, 3),
                hw(1, 1),
                hw(2, 2),
                Padding::Same,
            ),
            (
                2,
                hw(6, 9),
                [4, 16],
                hw(2, 3),
                hw(1, 2),
                hw(1, 1),
                Padding::Valid,
            ),
        ];
        let datapath = Datapath::reference();
        let mut random = XorShift(0xC04E_0000_1234);
        for (batch, input, channels, kernel, stride, dilation, padding) in shapes {
            let window = WindowShape {
                batch,
                input,
                channels,
                kernel,
                stride,
                dilation,
                padding,
            }
            .window();
            let [cin, cout] = channels;
            let layer = RandomLayer::new(&mut random, cout, cout * window.taps() * cin);
            let values = random.int8s(window.input.iter().product());
            let expected = reference_conv(&layer, &window, &values);
            for isa in isas() {
                let conv = GemmConv::new(&fast_layer(&datapath, &layer, isa), window, 1).unwrap();
                assert_eq!(conv.run(&values), expected, "{isa:?}: {window:?}");
            }
        }
    }

    #[test]
    fn grouped_conv_is_not_covered() {
        let datapath = Datapath::reference();
        let layer = RandomLayer::new(&mut XorShift(7), 4, 4 * 2);
        let window = WindowShape {
            batch: 1,
            input: hw(2, 2),
            channels: [4, 4],
            kernel: hw(1, 1),
            stride: hw(1, 1),
            dilation: hw(1, 1),
            padding: Padding::Valid,
        }
        .window();
        let fast = fast_layer(&datapath, &layer, DotIsa::Portable);
        assert!(GemmConv::new(&fast, window, 2).is_none());
    }
}
