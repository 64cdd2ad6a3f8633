//! The fold-ordered accumulator of a configurable datapath: a signed
//! register of 8 to 64 bits that saturates or wraps at every addition, fed
//! in the order the MAC array adds, with every overflow counted.
//!
//! Order (the contract the RTL follows): K is ordered as the weight layout
//! `(ky, kx, cin)` and cut into folds of `rows` consecutive terms. In a
//! fold the column's partial sum starts at 0 and each PE in row order adds
//! its product. At the bottom the fold sum is added to the register. Both
//! sums live in `bits` bits, and every addition saturates or wraps there.
//!
//! Speed: an accumulator whose bias plus the sum of its products' magnitudes
//! stays inside the register's range cannot overflow in any order, so
//! [`Accumulation::dot`] then adds the exact sum at once and walks the folds
//! only otherwise. Limitation: [`Accumulation::mac_lanes`] (depthwise layers)
//! always walks term by term.

use std::sync::atomic::{AtomicU64, Ordering};

use super::mac::Accumulation;
use super::mac_layer::OutputElement;
use super::mac_ppu::Ppu;
use crate::exec::arithmetic::OverflowCounts;
use crate::numeric::{int_range, wrap, Overflow, Signedness};

/// Width, overflow and fold length of a configured accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoldConfig {
    /// Register width, 8..=64.
    pub bits: u32,
    pub overflow: Overflow,
    /// Terms per fold (the array's rows), at least 1.
    pub rows: usize,
}

/// A fold-ordered accumulator for one run of one layer; it counts the
/// overflow events of that run.
#[derive(Debug)]
pub(crate) struct FoldAccumulation {
    config: FoldConfig,
    min: i64,
    max: i64,
    /// Results with an event before the PPU.
    overflowed_results: AtomicU64,
    /// Events before the PPU.
    events: AtomicU64,
    /// Post-bias additions in the PPU that overflowed.
    post_bias_events: AtomicU64,
}

/// The state of one accumulator: the register, the partial sum of the fold
/// in progress, and the events so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoldRegister {
    accumulator: i64,
    partial: i64,
    events: u32,
}

impl FoldAccumulation {
    pub fn new(config: FoldConfig) -> FoldAccumulation {
        let bits = config.bits.clamp(8, 64);
        let (min, max) = int_range(bits, Signedness::Signed);
        FoldAccumulation {
            config: FoldConfig {
                bits,
                rows: config.rows.max(1),
                ..config
            },
            min,
            max,
            overflowed_results: AtomicU64::new(0),
            events: AtomicU64::new(0),
            post_bias_events: AtomicU64::new(0),
        }
    }

    /// Returns the counts of this run for a layer of `results` accumulators.
    pub fn counts(&self, results: usize) -> OverflowCounts {
        OverflowCounts {
            results: results as u64,
            overflowed_results: self.overflowed_results.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            post_bias_events: self.post_bias_events.load(Ordering::Relaxed),
        }
    }

    /// Adds `a + b` in the register: `a` is in range, `b` a product or an
    /// in-range sum. Returns the sum saturated or wrapped to `bits`, and
    /// counts an event in `events` when the exact sum was out of range.
    #[inline(always)]
    fn add(&self, a: i64, b: i64, events: &mut u32) -> i64 {
        let (sum, carried) = a.overflowing_add(b);
        if !carried && sum >= self.min && sum <= self.max {
            return sum;
        }
        *events += 1;
        match self.config.overflow {
            // Only a 64-bit register can carry out of i64, and then `sum`
            // is already the wrapped value.
            Overflow::Wrap => wrap(sum, self.config.bits, Signedness::Signed),
            Overflow::Saturate if carried => {
                if b < 0 {
                    self.min
                } else {
                    self.max
                }
            }
            Overflow::Saturate => sum.clamp(self.min, self.max),
        }
    }

    /// Adds the PPU's post bias to a finished accumulator with the
    /// register's width and overflow. A bias outside the range is first
    /// brought into it the same way. Either overflow counts one post-bias
    /// event.
    #[inline(always)]
    pub fn add_post_bias(&self, accumulator: i64, bias: i64) -> i64 {
        let (bias, overflowed) = self.load(bias);
        let mut events = u32::from(overflowed);
        let sum = self.add(accumulator, bias, &mut events);
        if events != 0 {
            self.post_bias_events.fetch_add(1, Ordering::Relaxed);
        }
        sum
    }

    /// Brings `value` into the register's range with its overflow
    /// behaviour; the flag is true when it was out of range.
    #[inline(always)]
    fn load(&self, value: i64) -> (i64, bool) {
        if value >= self.min && value <= self.max {
            return (value, false);
        }
        let loaded = match self.config.overflow {
            Overflow::Wrap => wrap(value, self.config.bits, Signedness::Signed),
            Overflow::Saturate => value.clamp(self.min, self.max),
        };
        (loaded, true)
    }

    /// Walks the folds of one K vector term by term.
    fn dot_in_order(&self, register: FoldRegister, patch: &[i16], weights: &[i16]) -> FoldRegister {
        let mut events = register.events;
        let mut accumulator = self.add(register.accumulator, register.partial, &mut events);
        let rows = self.config.rows;
        for (operands, weights) in patch.chunks(rows).zip(weights.chunks(rows)) {
            let mut partial = 0;
            for (&x, &w) in operands.iter().zip(weights) {
                let product = i64::from(i32::from(x) * i32::from(w));
                partial = self.add(partial, product, &mut events);
            }
            accumulator = self.add(accumulator, partial, &mut events);
        }
        FoldRegister {
            accumulator,
            partial: 0,
            events,
        }
    }
}

impl Accumulation for FoldAccumulation {
    type Register = FoldRegister;
    type Output = i64;

    /// Loads the initial value (the bias when it enters here) into the
    /// register; a value out of range is an event.
    #[inline(always)]
    fn start(&self, start: i64) -> FoldRegister {
        let (accumulator, overflowed) = self.load(start);
        FoldRegister {
            accumulator,
            partial: 0,
            events: u32::from(overflowed),
        }
    }

    /// Adds a whole K vector in fold order, starting a fold at term 0.
    #[inline(always)]
    fn dot(&self, register: FoldRegister, patch: &[i16], weights: &[i16]) -> FoldRegister {
        let (sum, magnitude) = sum_and_magnitude(patch, weights);
        // Every intermediate value, in any order, is bounded in magnitude by
        // |start| + sum |p|; within max it never leaves the range.
        let bound = register.accumulator.unsigned_abs().checked_add(magnitude);
        if register.partial == 0 && bound.is_some_and(|bound| bound <= self.max as u64) {
            return FoldRegister {
                accumulator: register.accumulator + sum,
                ..register
            };
        }
        self.dot_in_order(register, patch, weights)
    }

    /// Adds term `k` to each lane; term `k` closes a fold when `k + 1` is a
    /// multiple of `rows`, and [`FoldAccumulation::finish`] closes the last
    /// one.
    #[inline(always)]
    fn mac_lanes(&self, registers: &mut [FoldRegister], k: usize, inputs: &[i16], weights: &[i16]) {
        let closes_fold = (k + 1).is_multiple_of(self.config.rows);
        for ((register, &x), &w) in registers.iter_mut().zip(inputs).zip(weights) {
            let product = i64::from(i32::from(x) * i32::from(w));
            register.partial = self.add(register.partial, product, &mut register.events);
            if closes_fold {
                register.accumulator =
                    self.add(register.accumulator, register.partial, &mut register.events);
                register.partial = 0;
            }
        }
    }

    /// Adds the pending fold, if any, and records the accumulator's events.
    #[inline(always)]
    fn finish(&self, register: FoldRegister) -> i64 {
        let mut events = register.events;
        let accumulator = self.add(register.accumulator, register.partial, &mut events);
        if events != 0 {
            self.overflowed_results.fetch_add(1, Ordering::Relaxed);
            self.events.fetch_add(u64::from(events), Ordering::Relaxed);
        }
        accumulator
    }

    #[inline(always)]
    fn post_process<T: OutputElement>(
        &self,
        ppu: &Ppu,
        first_channel: usize,
        first_element: usize,
        accumulators: &[i64],
        outputs: &mut [T],
    ) {
        ppu.apply_configured(self, first_channel, first_element, accumulators, outputs);
    }
}

/// Returns `sum(a[k] * b[k])` and `sum(|a[k] * b[k]|)`, exact for any K
/// below 2^33 (each product of two i16 is at most 2^30 in magnitude).
#[inline(always)]
fn sum_and_magnitude(a: &[i16], b: &[i16]) -> (i64, u64) {
    let mut sum = 0_i64;
    let mut magnitude = 0_u64;
    for (&x, &w) in a.iter().zip(b) {
        let product = i32::from(x) * i32::from(w);
        sum += i64::from(product);
        magnitude += u64::from(product.unsigned_abs());
    }
    (sum, magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fold(bits: u32, overflow: Overflow, rows: usize) -> FoldAccumulation {
        FoldAccumulation::new(FoldConfig {
            bits,
            overflow,
            rows,
        })
    }

    /// Sequential model: folds of `rows` terms, an i128 running sum clamped
    /// or wrapped at each addition, events counted.
    fn model(
        bits: u32,
        overflow: Overflow,
        rows: usize,
        start: i64,
        products: &[i64],
    ) -> (i64, u64) {
        let min = -(1_i128 << (bits - 1));
        let max = (1_i128 << (bits - 1)) - 1;
        let mut events = 0;
        let mut apply = |value: i128| -> i128 {
            if (min..=max).contains(&value) {
                return value;
            }
            events += 1;
            match overflow {
                Overflow::Saturate => value.clamp(min, max),
                Overflow::Wrap => (value - min).rem_euclid(1_i128 << bits) + min,
            }
        };
        let mut accumulator = apply(i128::from(start));
        for fold in products.chunks(rows) {
            let mut partial = 0_i128;
            for &product in fold {
                partial = apply(partial + i128::from(product));
            }
            accumulator = apply(accumulator + partial);
        }
        (accumulator as i64, events)
    }

    fn run_dot(accumulation: &FoldAccumulation, start: i64, x: &[i16], w: &[i16]) -> i64 {
        accumulation.finish(accumulation.dot(accumulation.start(start), x, w))
    }

    #[test]
    fn saturates_inside_a_fold() {
        // 8 bits, folds of 2: [100 + 100 -> 127] + [-100 + 0] -> 127 - 100 = 27.
        let accumulation = fold(8, Overflow::Saturate, 2);
        let result = run_dot(&accumulation, 0, &[10, 10, -10, 0], &[10, 10, 10, 0]);
        assert_eq!(result, 27);
        let counts = accumulation.counts(1);
        assert_eq!(counts.events, 1);
        assert_eq!(counts.overflowed_results, 1);
    }

    #[test]
    fn fold_boundaries_change_saturation() {
        // Products 100, 100, -100, -100 at 8 bits (range -128..=127).
        // Folds of 1 or 4 clamp the running sum at 127, then 27 and -73.
        // Folds of 2 clamp both partials: 127 and -128, then 127 - 128.
        let x = [10, 10, -10, -10];
        let w = [10; 4];
        assert_eq!(run_dot(&fold(8, Overflow::Saturate, 1), 0, &x, &w), -73);
        assert_eq!(run_dot(&fold(8, Overflow::Saturate, 2), 0, &x, &w), -1);
        assert_eq!(run_dot(&fold(8, Overflow::Saturate, 4), 0, &x, &w), -73);
        assert_eq!(run_dot(&fold(8, Overflow::Wrap, 1), 0, &x, &w), 0);
    }

    #[test]
    fn start_saturates_bias() {
        let accumulation = fold(8, Overflow::Saturate, 4);
        assert_eq!(run_dot(&accumulation, 1000, &[0], &[0]), 127);
        assert_eq!(run_dot(&accumulation, -1000, &[1], &[1]), -127);
        assert_eq!(accumulation.counts(2).events, 2);
        let wrapping = fold(8, Overflow::Wrap, 4);
        assert_eq!(run_dot(&wrapping, 300, &[0], &[0]), 44);
    }

    #[test]
    fn sixty_four_bits_saturate_at_i64() {
        let accumulation = fold(64, Overflow::Saturate, 1);
        let register = accumulation.start(i64::MAX - 5);
        let register = accumulation.dot(register, &[100], &[100]);
        assert_eq!(accumulation.finish(register), i64::MAX);
        let wrapping = fold(64, Overflow::Wrap, 1);
        let register = wrapping.dot(wrapping.start(i64::MAX), &[1], &[1]);
        assert_eq!(wrapping.finish(register), i64::MIN);
        assert_eq!(wrapping.counts(1).events, 1);
    }

    #[test]
    fn post_bias_counts_separately() {
        let accumulation = fold(8, Overflow::Saturate, 4);
        assert_eq!(accumulation.add_post_bias(100, 100), 127);
        // The bias is brought into range first: -1000 -> -128, then 100 - 128.
        assert_eq!(accumulation.add_post_bias(100, -1000), -28);
        assert_eq!(accumulation.add_post_bias(1, 2), 3);
        let counts = accumulation.counts(3);
        assert_eq!(counts.post_bias_events, 2);
        assert_eq!(counts.events, 0);
    }

    fn any_overflow() -> impl Strategy<Value = Overflow> {
        prop_oneof![Just(Overflow::Wrap), Just(Overflow::Saturate)]
    }

    fn terms() -> impl Strategy<Value = (Vec<i16>, Vec<i16>)> {
        (0_usize..40).prop_flat_map(|len| {
            (
                prop::collection::vec(-300_i16..300, len),
                prop::collection::vec(-128_i16..128, len),
            )
        })
    }

    proptest! {
        #[test]
        fn dot_matches_sequential_model(
            bits in 8_u32..=24,
            overflow in any_overflow(),
            rows in 1_usize..=12,
            start in -(1_i64 << 25)..(1 << 25),
            (x, w) in terms(),
        ) {
            let accumulation = fold(bits, overflow, rows);
            let products: Vec<i64> =
                x.iter().zip(&w).map(|(&x, &w)| i64::from(x) * i64::from(w)).collect();
            let (expected, events) = model(bits, overflow, rows, start, &products);
            prop_assert_eq!(run_dot(&accumulation, start, &x, &w), expected);
            prop_assert_eq!(accumulation.counts(1).events, events);
        }

        #[test]
        fn mac_lanes_matches_sequential_model(
            bits in 8_u32..=24,
            overflow in any_overflow(),
            rows in 1_usize..=12,
            start in -(1_i64 << 25)..(1 << 25),
            (x, w) in terms(),
        ) {
            let accumulation = fold(bits, overflow, rows);
            let mut registers = [accumulation.start(start)];
            for (k, (&x, &w)) in x.iter().zip(&w).enumerate() {
                accumulation.mac_lanes(&mut registers, k, &[x], &[w]);
            }
            let products: Vec<i64> =
                x.iter().zip(&w).map(|(&x, &w)| i64::from(x) * i64::from(w)).collect();
            let (expected, events) = model(bits, overflow, rows, start, &products);
            prop_assert_eq!(accumulation.finish(registers[0]), expected);
            prop_assert_eq!(accumulation.counts(1).events, events);
        }

        /// Under wrap the result is the exact sum modulo 2^bits, whatever
        /// the fold length and the order of the terms.
        #[test]
        fn wrap_equals_exact_sum_in_any_order(
            bits in 8_u32..=64,
            rows in 1_usize..=12,
            start: i64,
            (x, w) in terms(),
            rotation in 0_usize..40,
        ) {
            let exact = x.iter().zip(&w).fold(i128::from(start), |sum, (&x, &w)| {
                sum + i128::from(x) * i128::from(w)
            });
            let modulus = 1_i128 << bits;
            let half = modulus / 2;
            let expected = ((exact + half).rem_euclid(modulus) - half) as i64;
            let rotation = rotation % x.len().max(1);
            let (mut x, mut w) = (x, w);
            x.rotate_left(rotation);
            w.rotate_left(rotation);
            let accumulation = fold(bits, Overflow::Wrap, rows);
            prop_assert_eq!(run_dot(&accumulation, start, &x, &w), expected);
        }
    }
}
