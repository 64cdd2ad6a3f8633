//! int8 DEPTHWISE_CONV_2D with depth multiplier 1 on the reference
//! arithmetic, 16 channels per vector with `vpdpwssd` on AVX-512 VNNI.
//!
//! Each output element is `requant(start + sum(w * x))` over the kernel's
//! taps, with a padded tap read as the input zero point `zx` and `start =
//! bias - zx * sum(w)` (see [`folded_starts`]). Modulo 2^32 that is the
//! reference's `bias + sum(w * (x - zx))` over the taps inside the image.
//! Limitation: depth multipliers above 1 stay on the generic kernel.

use super::mac_gemm::FastLayer;
use super::mac_simd::{folded_starts, ChannelRequant, DotIsa, LANES};
use super::mac_window::Window;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Returns the output columns `start..end` whose `kernel_w` taps all read
/// input columns (none in the padding).
fn interior_columns(window: &Window, kernel_w: usize) -> (usize, usize) {
    let out_w = window.output[2];
    let start = (0..out_w)
        .find(|&ox| window.input_column(ox, 0).is_some())
        .unwrap_or(out_w);
    let end = (start..out_w)
        .find(|&ox| {
            window
                .input_column(ox, kernel_w.saturating_sub(1))
                .is_none()
        })
        .unwrap_or(out_w);
    (start, end.max(start))
}

/// The fast path of an int8 DEPTHWISE_CONV_2D with depth multiplier 1.
#[derive(Debug)]
pub(crate) struct DepthwiseSimd {
    window: Window,
    /// Weights `[tap][channel]` as given, for the portable path.
    weights: Vec<i8>,
    /// Weights `[tap][channel]` padded to whole vectors, each an i32 lane
    /// with the weight in its low 16 bits and zero above, the operand
    /// layout of `vpdpwssd`.
    lanes: Vec<i32>,
    /// Accumulator start per channel, padded to whole vectors.
    starts: Vec<i32>,
    /// The raw operand of a padded tap: the input zero point.
    pad_value: i8,
    requant: ChannelRequant,
    isa: DotIsa,
}

impl DepthwiseSimd {
    /// Prepares the fast path of weights `[ky][kx][channel]`, or returns
    /// `None` when the layer or the CPU is not covered.
    pub fn new(fast: &FastLayer, window: Window, depth_multiplier: usize) -> Option<DepthwiseSimd> {
        if depth_multiplier != 1 {
            return None;
        }
        let (isa, requant) = fast.qualify()?;
        let channels = window.output[3];
        let padded = channels.div_ceil(LANES) * LANES;
        let weights = fast.weights.values.clone();
        assert_eq!(
            weights.len(),
            window.taps() * channels,
            "weights are [tap][channel]"
        );

        let mut lanes = vec![0_i32; window.taps() * padded];
        for (row, taps) in lanes
            .chunks_exact_mut(padded)
            .zip(weights.chunks_exact(channels))
        {
            for (lane, &weight) in row.iter_mut().zip(taps) {
                *lane = i32::from(i16::from(weight) as u16);
            }
        }
        let mut weight_sums = vec![0_i64; channels];
        for taps in weights.chunks_exact(channels) {
            for (sum, &weight) in weight_sums.iter_mut().zip(taps) {
                *sum += i64::from(weight);
            }
        }
        let starts = folded_starts(
            fast.bias.map(|bias| bias.values.as_slice()),
            &weight_sums,
            fast.layer.input.zero_point,
            0,
            padded,
        );
        Some(DepthwiseSimd {
            window,
            weights,
            lanes,
            starts,
            // read_activations keeps an int8 zero point in -128..=127.
            pad_value: fast.layer.input.zero_point as i8,
            requant,
            isa,
        })
    }

    /// Computes the output of `input`, which has the window's input shape,
    /// in parallel over output rows.
    pub fn run(&self, input: &[i8]) -> Vec<i8> {
        assert_eq!(input.len(), self.window.input.iter().product::<usize>());
        let [batch, out_h, out_w, channels] = self.window.output;
        let mut output = vec![0_i8; batch * out_h * out_w * channels];
        let rows = batch * out_h;
        let rows_per_task = rows.div_ceil(rayon::current_num_threads() * 8).max(1);
        output
            .par_chunks_mut(rows_per_task * out_w * channels)
            .enumerate()
            .for_each(|(task, output)| {
                for (index, output_row) in output.chunks_exact_mut(out_w * channels).enumerate() {
                    let row = task * rows_per_task + index;
                    match self.isa {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `isa` is Avx512Vnni only when the CPU
                        // reported the features; the input length was
                        // checked above and the output row has the window's
                        // width.
                        DotIsa::Avx512Vnni => unsafe { self.row_avx512(input, row, output_row) },
                        _ => self.row_portable(input, row, output_row),
                    }
                }
            });
        output
    }

    /// Returns the input offset of tap `(ky, kx)` of output pixel `(oy, ox)`
    /// in batch `batch`, or `None` in the padding.
    #[inline(always)]
    fn tap_offset(
        &self,
        batch: usize,
        oy: usize,
        ox: usize,
        ky: usize,
        kx: usize,
    ) -> Option<usize> {
        let [_, in_h, in_w, channels] = self.window.input;
        let iy = self.window.input_row(oy, ky)?;
        let ix = self.window.input_column(ox, kx)?;
        Some(((batch * in_h + iy) * in_w + ix) * channels)
    }

    /// Computes output row `row` with scalar code, the specification of the
    /// vector path: per channel, a wrapping i32 sum over the taps, then the
    /// scalar requantiser.
    fn row_portable(&self, input: &[i8], row: usize, output_row: &mut [i8]) {
        let [_, out_h, _, channels] = self.window.output;
        let (batch, oy) = (row / out_h, row % out_h);
        let kernel = self.window.kernel;
        for (ox, outputs) in output_row.chunks_exact_mut(channels).enumerate() {
            for (channel, output) in outputs.iter_mut().enumerate() {
                let mut accumulator = self.starts[channel];
                for ky in 0..kernel.h {
                    for kx in 0..kernel.w {
                        let x = match self.tap_offset(batch, oy, ox, ky, kx) {
                            Some(offset) => input[offset + channel],
                            None => self.pad_value,
                        };
                        let w = self.weights[(ky * kernel.w + kx) * channels + channel];
                        accumulator = accumulator.wrapping_add(i32::from(x) * i32::from(w));
                    }
                }
                *output = self.requant.apply_scalar(channel, accumulator);
            }
        }
    }

    /// Computes output row `row` (counted over batch and height), 16
    /// channels per vector, with the kernel size fixed at compile time for
    /// 3x3 kernels.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW, VL and VNNI; `input` must have
    /// the window's input shape and `output_row` one output row.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn row_avx512(&self, input: &[i8], row: usize, output_row: &mut [i8]) {
        let kernel = self.window.kernel;
        // SAFETY: forwarded from the caller.
        unsafe {
            if (kernel.h, kernel.w) == (3, 3) {
                self.row_avx512_sized::<3, 3>(input, row, output_row)
            } else {
                self.row_avx512_sized::<0, 0>(input, row, output_row)
            }
        }
    }

    /// Computes [`DepthwiseSimd::row_avx512`] for a `KH x KW` kernel, or the
    /// window's kernel when both are 0. Each tap's int8 inputs are
    /// sign-extended to i32 lanes, and `vpdpwssd` adds their products with
    /// the weights' low 16 bits (the high halves meet a zero weight half).
    /// Output pixels whose taps all lie inside the image columns go four at
    /// a time; the others take the padding-aware loop.
    ///
    /// # Safety
    /// As [`DepthwiseSimd::row_avx512`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
    unsafe fn row_avx512_sized<const KH: usize, const KW: usize>(
        &self,
        input: &[i8],
        row: usize,
        output_row: &mut [i8],
    ) {
        let window = &self.window;
        let [_, in_h, in_w, _] = window.input;
        let [_, out_h, out_w, channels] = window.output;
        let (kh, kw) = if KH == 0 {
            (window.kernel.h, window.kernel.w)
        } else {
            (KH, KW)
        };
        let (batch, oy) = (row / out_h, row % out_h);
        let padded = channels.div_ceil(LANES) * LANES;
        assert_eq!(output_row.len(), out_w * channels);
        let output_base = output_row.as_mut_ptr();

        // Input offset of each kernel row's first column, or None where the
        // kernel row lies in the padding.
        let row_bases: Vec<Option<usize>> = (0..kh)
            .map(|ky| {
                window
                    .input_row(oy, ky)
                    .map(|iy| (batch * in_h + iy) * in_w * channels)
            })
            .collect();
        let (interior_start, interior_end) = interior_columns(window, kw);
        let column_step = window.stride.w * channels;
        let tap_step = window.dilation.w * channels;

        for block in 0..padded / LANES {
            let first = block * LANES;
            let lanes = (channels - first).min(LANES);
            let mask = (u32::MAX >> (32 - lanes)) as __mmask16;
            // SAFETY (loop body): `starts` and `lanes` hold `padded` values
            // per row. An input offset names an input pixel of `channels`
            // values (row bases and interior columns were derived from the
            // window), and loads read lanes `first..first + lanes` of it,
            // masked unless the vector is full. Stores write inside output
            // pixel `ox`, which is below `out_w`.
            unsafe {
                let start = _mm512_loadu_si512(self.starts.as_ptr().add(first).cast());
                let weights = |tap: usize| {
                    _mm512_loadu_si512(self.lanes.as_ptr().add(tap * padded + first).cast())
                };
                let load = |offset: usize| {
                    let address = input.as_ptr().add(offset + first);
                    if lanes == LANES {
                        _mm512_cvtepi8_epi32(_mm_loadu_si128(address.cast()))
                    } else {
                        _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, address))
                    }
                };
                let store = |ox: usize, accumulator: __m512i| {
                    let result = self.requant.apply_avx512(block, accumulator);
                    let address = output_base.add(ox * channels + first);
                    _mm512_mask_cvtepi32_storeu_epi8(address, mask, result);
                };

                let mut ox = interior_start;
                while ox + 4 <= interior_end {
                    let mut accumulators = [start; 4];
                    let column = (ox * window.stride.w - window.pad_left) * channels;
                    for (ky, base) in row_bases.iter().enumerate() {
                        for kx in 0..kw {
                            let w = weights(ky * kw + kx);
                            for (i, accumulator) in accumulators.iter_mut().enumerate() {
                                let x = match base {
                                    Some(base) => {
                                        load(base + column + i * column_step + kx * tap_step)
                                    }
                                    None => _mm512_set1_epi32(i32::from(self.pad_value)),
                                };
                                *accumulator = _mm512_dpwssd_epi32(*accumulator, x, w);
                            }
                        }
                    }
                    for (i, &accumulator) in accumulators.iter().enumerate() {
                        store(ox + i, accumulator);
                    }
                    ox += 4;
                }

                let edges = (0..interior_start).chain(ox..out_w);
                for ox in edges {
                    let mut accumulator = start;
                    for (ky, base) in row_bases.iter().enumerate() {
                        for kx in 0..kw {
                            let x = match (base, window.input_column(ox, kx)) {
                                (Some(base), Some(ix)) => load(base + ix * channels),
                                _ => _mm512_set1_epi32(i32::from(self.pad_value)),
                            };
                            accumulator =
                                _mm512_dpwssd_epi32(accumulator, x, weights(ky * kw + kx));
                        }
                    }
                    store(ox, accumulator);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::kernels::mac_layer::Register;
    use crate::exec::kernels::mac_simd::testing::{RandomLayer, WindowShape, XorShift};
    use crate::exec::Datapath;
    use crate::model::{Hw, Padding};

    /// Computes a depthwise convolution as the reference's loops do: per
    /// output element `bias + sum(w * (x - zx))` over the taps inside the
    /// image.
    fn reference(random: &RandomLayer, window: &Window, input: &[i8]) -> Vec<i8> {
        let requant = ChannelRequant::new(
            &random.scales,
            random.layer.output.zero_point,
            random.output_range,
        )
        .unwrap();
        let [batches, in_h, in_w, channels] = window.input;
        let [_, out_h, out_w, _] = window.output;
        let zero_point = i64::from(random.layer.input.zero_point);
        let mut output = Vec::new();
        for batch in 0..batches {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    for channel in 0..channels {
                        let mut sum = random.bias.values[channel];
                        for ky in 0..window.kernel.h {
                            for kx in 0..window.kernel.w {
                                let (Some(iy), Some(ix)) =
                                    (window.input_row(oy, ky), window.input_column(ox, kx))
                                else {
                                    continue;
                                };
                                let x =
                                    input[((batch * in_h + iy) * in_w + ix) * channels + channel];
                                let w = random.weights.values
                                    [(ky * window.kernel.w + kx) * channels + channel];
                                sum += i64::from(w) * (i64::from(x) - zero_point);
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
    fn depthwise_matches_reference_for_odd_shapes() {
        let shapes = [
            // 3x3 kernels: the compile-time size, interior runs of four
            // pixels and the edges.
            (
                1,
                hw(9, 13),
                16,
                hw(3, 3),
                hw(1, 1),
                hw(1, 1),
                Padding::Same,
            ),
            (
                2,
                hw(8, 10),
                17,
                hw(3, 3),
                hw(2, 2),
                hw(1, 1),
                Padding::Same,
            ),
            (
                1,
                hw(10, 12),
                40,
                hw(3, 3),
                hw(1, 1),
                hw(1, 1),
                Padding::Valid,
            ),
            (1, hw(7, 6), 1, hw(3, 3), hw(2, 1), hw(2, 2), Padding::Same),
            // Other kernel sizes take the run-time size.
            (
                1,
                hw(11, 9),
                33,
                hw(5, 5),
                hw(1, 1),
                hw(1, 1),
                Padding::Same,
            ),
            (
                1,
                hw(6, 14),
                7,
                hw(2, 4),
                hw(1, 3),
                hw(1, 1),
                Padding::Valid,
            ),
        ];
        let datapath = Datapath::reference();
        let mut random = XorShift(0xDE97_4415_E000_0003);
        for (batch, input, channels, kernel, stride, dilation, padding) in shapes {
            let window = WindowShape {
                batch,
                input,
                channels: [channels, channels],
                kernel,
                stride,
                dilation,
                padding,
            }
            .window();
            let layer = RandomLayer::new(&mut random, channels, window.taps() * channels);
            let values = random.int8s(window.input.iter().product());
            let expected = reference(&layer, &window, &values);
            let mut isas = vec![DotIsa::Portable];
            isas.extend(DotIsa::detect());
            for isa in isas {
                let fast = FastLayer {
                    datapath: &datapath,
                    layer: &layer.layer,
                    register: Register::Bits32,
                    weights: &layer.weights,
                    bias: Some(&layer.bias),
                    scales: &layer.scales,
                    output_range: layer.output_range,
                    isa: Some(isa),
                };
                let depthwise = DepthwiseSimd::new(&fast, window, 1).unwrap();
                assert_eq!(depthwise.run(&values), expected, "{isa:?}: {window:?}");
            }
        }
    }
}
