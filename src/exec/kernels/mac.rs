//! Accumulation strategies of the MAC kernels: how the products of one
//! output element are summed into an accumulator register.
//!
//! A kernel lowers its layer to operand vectors in the accumulation order
//! (K ordered `(ky, kx, cin)`, padded taps included) and hands them to an
//! [`Accumulation`]; the [`Ppu`](super::mac_ppu::Ppu) then turns each
//! finished register into an output value. Operands arrive as i16: an
//! activation on the datapath's grid (minus its zero point, or raw when the
//! datapath folds the zero point into the bias), or a weight. The reference
//! registers (32-bit wrapping and 64-bit) live here; the configurable
//! register with folds of `rows` terms is
//! [`FoldAccumulation`](super::mac_fold::FoldAccumulation). Limitation:
//! [`Accumulation::dot`] must receive a whole K vector from term 0, because
//! fold boundaries count from the start of the slice, so a kernel cannot
//! split K across calls.

use super::mac_layer::OutputElement;
use super::mac_ppu::{Ppu, Requantize};

/// One way of summing products into an accumulator register.
///
/// Kernels are generic over it, so the reference strategies compile to
/// plain vectorisable loops.
pub(crate) trait Accumulation: Sync {
    /// The accumulator register (and any state a strategy keeps per output
    /// element, such as a partial fold sum).
    type Register: Copy + Send + Sync;

    /// The finished accumulator handed to the PPU.
    type Output: Requantize;

    /// Creates a register holding `start`: the bias when it enters at
    /// initialisation, otherwise 0.
    fn start(&self, start: i64) -> Self::Register;

    /// Adds `sum(patch[k] * weights[k])` over a whole K vector, in order
    /// from term 0. The slices have the same length; kernels may extend both with zero
    /// terms at the end to reach a multiple of [`K_BLOCK`].
    fn dot(&self, register: Self::Register, patch: &[i16], weights: &[i16]) -> Self::Register;

    /// Adds term `k` (its position in K order) to many independent output
    /// elements at once: `registers[c] += inputs[c] * weights[c]`. The
    /// slices have the same length.
    fn mac_lanes(
        &self,
        registers: &mut [Self::Register],
        k: usize,
        inputs: &[i16],
        weights: &[i16],
    );

    /// Returns the finished accumulator.
    fn finish(&self, register: Self::Register) -> Self::Output;

    /// Turns the finished accumulators of channels `first_channel..` into
    /// `outputs`; `first_element` is the flat index of `outputs[0]` in the
    /// output tensor. The reference strategies use
    /// [`Ppu::apply_lanes`], which ignores the element index.
    #[inline(always)]
    fn post_process<T: OutputElement>(
        &self,
        ppu: &Ppu,
        first_channel: usize,
        first_element: usize,
        accumulators: &[Self::Output],
        outputs: &mut [T],
    ) {
        let _ = first_element;
        ppu.apply_lanes(first_channel, accumulators, outputs);
    }
}

/// Kernels pad K vectors with zero terms to a multiple of this length, so
/// that [`Accumulation::dot`] runs on whole vector registers.
pub(crate) const K_BLOCK: usize = 16;

/// Rounds `k` up to a multiple of [`K_BLOCK`].
pub(crate) fn padded_k(k: usize) -> usize {
    k.div_ceil(K_BLOCK) * K_BLOCK
}

/// The 32-bit register of the TFLite Micro int8 kernels (and of its 16x8
/// kernels with an int32 bias): every addition wraps in two's complement.
///
/// NOTE: C++ leaves the overflow of the reference's `int32_t` sum undefined.
/// Wrapping is what its compiled code does on common targets, and what a
/// hardware adder does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reference32;

/// The 64-bit register of the TFLite Micro 16x8 kernels with an int64 bias.
/// Sums of int16 x int8 products cannot overflow it for any K below 2^40.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reference64;

impl Accumulation for Reference32 {
    type Register = i32;
    type Output = i32;

    #[inline(always)]
    fn start(&self, start: i64) -> i32 {
        // Truncation keeps the low 32 bits: the bias wraps like every sum.
        start as i32
    }

    #[inline(always)]
    fn dot(&self, register: i32, patch: &[i16], weights: &[i16]) -> i32 {
        register.wrapping_add(dot_i32(patch, weights))
    }

    #[inline(always)]
    fn mac_lanes(&self, registers: &mut [i32], _k: usize, inputs: &[i16], weights: &[i16]) {
        for ((register, &x), &w) in registers.iter_mut().zip(inputs).zip(weights) {
            *register = register.wrapping_add(i32::from(x) * i32::from(w));
        }
    }

    #[inline(always)]
    fn finish(&self, register: i32) -> i32 {
        register
    }
}

impl Accumulation for Reference64 {
    type Register = i64;
    type Output = i64;

    #[inline(always)]
    fn start(&self, start: i64) -> i64 {
        start
    }

    #[inline(always)]
    fn dot(&self, register: i64, patch: &[i16], weights: &[i16]) -> i64 {
        register.wrapping_add(dot_i64(patch, weights))
    }

    #[inline(always)]
    fn mac_lanes(&self, registers: &mut [i64], _k: usize, inputs: &[i16], weights: &[i16]) {
        for ((register, &x), &w) in registers.iter_mut().zip(inputs).zip(weights) {
            *register = register.wrapping_add(i64::from(i32::from(x) * i32::from(w)));
        }
    }

    #[inline(always)]
    fn finish(&self, register: i64) -> i64 {
        register
    }
}

/// `sum(a[k] * b[k])`, wrapping at 32 bits.
///
/// Each product of two i16 fits in i32, so only the sum can wrap. Written as
/// a plain reduction so that the compiler turns it into multiply-add-pairs
/// vector instructions.
#[inline(always)]
fn dot_i32(a: &[i16], b: &[i16]) -> i32 {
    let mut sum = 0_i32;
    for (&x, &w) in a.iter().zip(b) {
        sum = sum.wrapping_add(i32::from(x) * i32::from(w));
    }
    sum
}

/// `sum(a[k] * b[k])` in 64 bits; exact for any K below 2^33, because each
/// product of two i16 is at most 2^30 in magnitude.
#[inline(always)]
fn dot_i64(a: &[i16], b: &[i16]) -> i64 {
    let mut sum = 0_i64;
    for (&x, &w) in a.iter().zip(b) {
        sum = sum.wrapping_add(i64::from(i32::from(x) * i32::from(w)));
    }
    sum
}

/// The vector extension the MAC kernels' hot loops are compiled for,
/// chosen once per process from what the CPU reports. Every variant gives
/// the same results; only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorIsa {
    /// x86-64 AVX2 (256-bit integer vectors).
    Avx2,
    /// Whatever the compilation target guarantees (SSE2 on x86-64).
    Baseline,
}

impl VectorIsa {
    /// Detects the best extension this CPU supports.
    pub fn detect() -> VectorIsa {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return VectorIsa::Avx2;
        }
        VectorIsa::Baseline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference32_wraps_on_overflow() {
        let patch = [i16::MAX; 4];
        let weights = [i16::MAX; 4];
        let register = Reference32.start(i64::from(i32::MAX));
        let register = Reference32.dot(register, &patch, &weights);
        let exact = i64::from(i32::MAX) + 4 * i64::from(i16::MAX) * i64::from(i16::MAX);
        assert_eq!(Reference32.finish(register), exact as i32);
    }

    #[test]
    fn reference32_start_truncates_bias() {
        assert_eq!(Reference32.finish(Reference32.start(1 << 32)), 0);
        assert_eq!(Reference32.finish(Reference32.start(-1)), -1);
    }

    #[test]
    fn reference64_dot_is_exact() {
        let patch: Vec<i16> = (0..1000)
            .map(|i| if i % 2 == 0 { -32768 } else { 32767 })
            .collect();
        let weights: Vec<i16> = (0..1000)
            .map(|i| if i % 3 == 0 { -128 } else { 127 })
            .collect();
        let expected: i64 = patch
            .iter()
            .zip(&weights)
            .map(|(&x, &w)| i64::from(x) * i64::from(w))
            .sum();
        assert_eq!(
            Reference64.finish(Reference64.dot(Reference64.start(5), &patch, &weights)),
            expected + 5
        );
    }

    #[test]
    fn mac_lanes_adds_one_term_per_lane() {
        let mut registers = [1_i32, 2, 3];
        Reference32.mac_lanes(&mut registers, 0, &[10, -10, 0], &[3, 4, 5]);
        assert_eq!(registers, [31, -38, 3]);
        let mut wide = [1_i64, 2, 3];
        Reference64.mac_lanes(&mut wide, 0, &[-32768, 32767, 1], &[-128, 127, -1]);
        assert_eq!(wide, [1 + 4_194_304, 2 + 4_161_409, 2]);
    }
}
