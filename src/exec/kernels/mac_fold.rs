//! The fold-ordered accumulator of a configurable datapath: a signed
//! register of 8 to 64 bits that saturates or wraps at every addition, fed
//! in the order the MAC array adds. It counts every overflow and observes
//! the range of the exact values.
//!
//! Order (the contract the RTL follows): K is ordered as the weight layout
//! `(ky, kx, cin)` and cut into folds of `rows` consecutive terms. In a
//! fold the column's partial sum starts at 0 and each PE in row order adds
//! its product. At the bottom the fold sum is added to the register. Both
//! sums live in `bits` bits, and every addition saturates or wraps there.
//!
//! Observation: beside the register, each accumulator carries the exact
//! sums of the same additions, and the layer keeps the range of the exact
//! values that decide overflow ([`OverflowCounts::observed_max`] says which
//! values count in each mode). The counts are taken when the PPU receives
//! an accumulator, so that the post bias is part of them.
//!
//! Speed: an accumulator whose bias plus the sum of its products' magnitudes
//! stays inside the register's range cannot overflow in any order, so
//! [`Accumulation::dot`] then adds the exact sum at once instead of walking
//! the folds term by term. Under saturation, where every partial sum is
//! observed, it still sums each fold to observe the register values, and
//! walks a fold's terms only when the fold's magnitude exceeds the range
//! observed so far: otherwise no partial sum of that fold can widen the
//! range, so the range stays exact. Limitation:
//! [`Accumulation::mac_lanes`] (depthwise layers) always walks term by term.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use super::mac::Accumulation;
use super::mac_layer::OutputElement;
use super::mac_ppu::{Ppu, Requantize};
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
/// overflow events of that run and observes its exact values.
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
    /// Results whose overflow reaches the requantiser.
    corrupted_results: AtomicU64,
    /// Smallest exact value observed, or 0 when every value was positive.
    observed_min: AtomicI64,
    /// Largest exact value observed, or 0 when every value was negative.
    observed_max: AtomicI64,
}

/// The state of one accumulator: the register and the partial sum of the
/// fold in progress, their exact counterparts, the events so far and the
/// range of the exact values so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoldRegister {
    accumulator: i64,
    partial: i64,
    events: u32,
    exact_accumulator: i64,
    exact_partial: i64,
    low: i64,
    high: i64,
}

impl FoldRegister {
    /// Widens the range of exact values to cover `exact`.
    #[inline(always)]
    fn observe(&mut self, exact: i64) {
        self.low = self.low.min(exact);
        self.high = self.high.max(exact);
    }
}

/// A finished accumulator as the PPU receives it: the register's value,
/// the exact sum (bias included when it entered at the start), the events
/// before the PPU and the range of the exact values that led to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FoldResult {
    value: i64,
    exact: i64,
    events: u32,
    low: i64,
    high: i64,
}

impl Requantize for FoldResult {
    /// Requantises the register's value with the int64 overload. The kernels
    /// never call it: [`FoldAccumulation`] post-processes through
    /// [`Ppu::apply_configured`], which also adds the post bias in the
    /// register's width.
    #[inline(always)]
    fn requantize(self, bias: i64, multiplier: i32, shift: i32) -> i32 {
        self.value.requantize(bias, multiplier, shift)
    }

    fn register_value(self) -> i64 {
        self.value
    }
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
            corrupted_results: AtomicU64::new(0),
            observed_min: AtomicI64::new(0),
            observed_max: AtomicI64::new(0),
        }
    }

    /// Returns the counts of this run for a layer of `results` accumulators.
    pub fn counts(&self, results: usize) -> OverflowCounts {
        OverflowCounts {
            results: results as u64,
            overflowed_results: self.overflowed_results.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            post_bias_events: self.post_bias_events.load(Ordering::Relaxed),
            corrupted_results: self.corrupted_results.load(Ordering::Relaxed),
            observed_min: self.observed_min.load(Ordering::Relaxed),
            observed_max: self.observed_max.load(Ordering::Relaxed),
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
    /// register's width and overflow, and records the accumulator in the
    /// counts and the observed range. A bias outside the range is first
    /// brought into it the same way. Either overflow counts one post-bias
    /// event. The PPU calls this once per accumulator, with a bias of 0
    /// when the bias entered at the start.
    #[inline(always)]
    pub fn add_post_bias(&self, result: FoldResult, bias: i64) -> i64 {
        let (loaded, overflowed) = self.load(bias);
        let mut post_events = u32::from(overflowed);
        let value = self.add(result.value, loaded, &mut post_events);
        let exact = result.exact.saturating_add(bias);

        if result.events != 0 {
            self.overflowed_results.fetch_add(1, Ordering::Relaxed);
            self.events
                .fetch_add(u64::from(result.events), Ordering::Relaxed);
        }
        if post_events != 0 {
            self.post_bias_events.fetch_add(1, Ordering::Relaxed);
        }
        let (low, high, corrupted) = match self.config.overflow {
            Overflow::Saturate => {
                let (mut low, mut high) = (result.low, result.high);
                if bias != 0 {
                    low = low.min(bias).min(exact);
                    high = high.max(bias).max(exact);
                }
                (low, high, result.events != 0 || post_events != 0)
            }
            Overflow::Wrap => (exact, exact, value != exact),
        };
        if corrupted {
            self.corrupted_results.fetch_add(1, Ordering::Relaxed);
        }
        self.observe(low, high);
        value
    }

    /// Widens the layer's observed range to cover `[low, high]`. The loads
    /// come first because the range soon stops growing, and a read-modify-
    /// write on every accumulator would make the threads contend for it.
    #[inline(always)]
    fn observe(&self, low: i64, high: i64) {
        if low < self.observed_min.load(Ordering::Relaxed) {
            self.observed_min.fetch_min(low, Ordering::Relaxed);
        }
        if high > self.observed_max.load(Ordering::Relaxed) {
            self.observed_max.fetch_max(high, Ordering::Relaxed);
        }
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

    /// Returns true when no addition of products whose magnitudes sum to
    /// `magnitude` to `register` can leave the register's range, in any
    /// order: every prefix of them, added to the start, is at most
    /// `|start| + magnitude` in magnitude.
    #[inline(always)]
    fn cannot_overflow(&self, register: &FoldRegister, magnitude: u64) -> bool {
        register.partial == 0
            && register.exact_partial == 0
            && register
                .accumulator
                .unsigned_abs()
                .checked_add(magnitude)
                .is_some_and(|bound| bound <= self.max as u64)
    }

    /// Observes the exact values of a K vector that cannot overflow the
    /// register, whose products' magnitudes sum to `magnitude`, and returns
    /// the register with its range widened and its sums unchanged.
    ///
    /// Values inside the range observed so far cannot widen it, so the work
    /// stops at the first bound that lies inside. Every value of the vector
    /// is at most `|start| + magnitude` in magnitude, and every partial sum
    /// of a fold at most the fold's magnitude. Otherwise the register value
    /// after each fold is observed exactly, and the partial sums of a fold
    /// are walked when the fold's magnitude exceeds the range.
    #[inline(always)]
    fn observe_folds(
        &self,
        register: FoldRegister,
        patch: &[i16],
        weights: &[i16],
        magnitude: u64,
    ) -> FoldRegister {
        // The observed range contains 0, so neither end is on the wrong side.
        let extent = self
            .observed_min
            .load(Ordering::Relaxed)
            .unsigned_abs()
            .min(self.observed_max.load(Ordering::Relaxed).unsigned_abs());
        let start = register.exact_accumulator;
        if start.unsigned_abs().saturating_add(magnitude) <= extent {
            return register;
        }
        let partials_inside = magnitude <= extent;

        let mut register = register;
        let mut exact = start;
        let rows = self.config.rows;
        for (operands, weights) in patch.chunks(rows).zip(weights.chunks(rows)) {
            let fold_sum = if partials_inside {
                dot(operands, weights)
            } else {
                let (fold_sum, fold_magnitude) = sum_and_magnitude(operands, weights);
                if fold_magnitude > extent {
                    let mut partial = 0_i64;
                    for (&x, &w) in operands.iter().zip(weights) {
                        partial += i64::from(i32::from(x) * i32::from(w));
                        register.observe(partial);
                    }
                }
                fold_sum
            };
            exact = exact.saturating_add(fold_sum);
            register.observe(exact);
        }
        register
    }

    /// Adds one product to the fold in progress.
    #[inline(always)]
    fn add_product(&self, register: &mut FoldRegister, product: i64) {
        register.partial = self.add(register.partial, product, &mut register.events);
        // A fold's exact partial sum cannot leave i64 (see partial_sums_range).
        register.exact_partial += product;
        register.observe(register.exact_partial);
    }

    /// Adds the fold in progress to the register and starts the next one.
    #[inline(always)]
    fn close_fold(&self, register: &mut FoldRegister) {
        register.accumulator =
            self.add(register.accumulator, register.partial, &mut register.events);
        register.exact_accumulator = register
            .exact_accumulator
            .saturating_add(register.exact_partial);
        register.observe(register.exact_accumulator);
        register.partial = 0;
        register.exact_partial = 0;
    }

    /// Walks the folds of one K vector. A fold whose exact partial sums all
    /// fit the register needs no overflow handling, so its terms are summed
    /// in a plain loop. Only the other folds go term by term through the
    /// register's overflow.
    fn dot_in_order(&self, register: FoldRegister, patch: &[i16], weights: &[i16]) -> FoldRegister {
        let mut register = register;
        self.close_fold(&mut register);
        let rows = self.config.rows;
        for (operands, weights) in patch.chunks(rows).zip(weights.chunks(rows)) {
            let (low, high, sum) = partial_sums_range(operands, weights);
            register.observe(low);
            register.observe(high);
            if low >= self.min && high <= self.max {
                register.partial = sum;
            } else {
                for (&x, &w) in operands.iter().zip(weights) {
                    let product = i64::from(i32::from(x) * i32::from(w));
                    register.partial = self.add(register.partial, product, &mut register.events);
                }
            }
            register.exact_partial = sum;
            self.close_fold(&mut register);
        }
        register
    }
}

impl Accumulation for FoldAccumulation {
    type Register = FoldRegister;
    type Output = FoldResult;

    /// Loads the initial value (the bias when it enters here) into the
    /// register; a value out of range is an event.
    #[inline(always)]
    fn start(&self, start: i64) -> FoldRegister {
        let (accumulator, overflowed) = self.load(start);
        FoldRegister {
            accumulator,
            partial: 0,
            events: u32::from(overflowed),
            exact_accumulator: start,
            exact_partial: 0,
            low: start,
            high: start,
        }
    }

    /// Adds a whole K vector in fold order, starting a fold at term 0.
    #[inline(always)]
    fn dot(&self, register: FoldRegister, patch: &[i16], weights: &[i16]) -> FoldRegister {
        let (sum, magnitude) = sum_and_magnitude(patch, weights);
        if !self.cannot_overflow(&register, magnitude) {
            return self.dot_in_order(register, patch, weights);
        }
        let register = match self.config.overflow {
            Overflow::Wrap => register,
            Overflow::Saturate => self.observe_folds(register, patch, weights, magnitude),
        };
        FoldRegister {
            accumulator: register.accumulator + sum,
            exact_accumulator: register.exact_accumulator.saturating_add(sum),
            ..register
        }
    }

    /// Adds term `k` to each lane; term `k` closes a fold when `k + 1` is a
    /// multiple of `rows`, and [`FoldAccumulation::finish`] closes the last
    /// one.
    #[inline(always)]
    fn mac_lanes(&self, registers: &mut [FoldRegister], k: usize, inputs: &[i16], weights: &[i16]) {
        let closes_fold = (k + 1).is_multiple_of(self.config.rows);
        for ((register, &x), &w) in registers.iter_mut().zip(inputs).zip(weights) {
            self.add_product(register, i64::from(i32::from(x) * i32::from(w)));
            if closes_fold {
                self.close_fold(register);
            }
        }
    }

    /// Adds the pending fold, if any. The PPU records the result, in
    /// [`FoldAccumulation::add_post_bias`].
    #[inline(always)]
    fn finish(&self, register: FoldRegister) -> FoldResult {
        let mut register = register;
        self.close_fold(&mut register);
        FoldResult {
            value: register.accumulator,
            exact: register.exact_accumulator,
            events: register.events,
            low: register.low,
            high: register.high,
        }
    }

    #[inline(always)]
    fn post_process<T: OutputElement>(
        &self,
        ppu: &Ppu,
        first_channel: usize,
        first_element: usize,
        accumulators: &[FoldResult],
        outputs: &mut [T],
    ) {
        ppu.apply_configured(self, first_channel, first_element, accumulators, outputs);
    }
}

/// Returns the smallest and largest running sum of `a[k] * b[k]`, 0
/// included, and the whole sum; exact for any K below 2^33.
#[inline(always)]
fn partial_sums_range(a: &[i16], b: &[i16]) -> (i64, i64, i64) {
    let (mut low, mut high, mut sum) = (0_i64, 0_i64, 0_i64);
    for (&x, &w) in a.iter().zip(b) {
        sum += i64::from(i32::from(x) * i32::from(w));
        low = low.min(sum);
        high = high.max(sum);
    }
    (low, high, sum)
}

/// Returns `sum(a[k] * b[k])`, exact for any K below 2^33.
#[inline(always)]
fn dot(a: &[i16], b: &[i16]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(&x, &w)| i64::from(i32::from(x) * i32::from(w)))
        .sum()
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

    /// Result of the sequential model for one accumulator.
    #[derive(Debug, PartialEq, Eq)]
    struct Modelled {
        result: i64,
        events: u64,
        /// The exact values that count for the overflow mode.
        low: i128,
        high: i128,
        corrupted: bool,
    }

    /// Sequential model: folds of `rows` terms, an i128 running sum clamped
    /// or wrapped at each addition, events counted, and beside it the exact
    /// running sum with the range of the values that count for the mode.
    fn model(bits: u32, overflow: Overflow, rows: usize, start: i64, products: &[i64]) -> Modelled {
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
        let mut seen = vec![i128::from(start)];
        let mut accumulator = apply(i128::from(start));
        let mut exact = i128::from(start);
        for fold in products.chunks(rows) {
            let mut partial = 0_i128;
            let mut exact_partial = 0_i128;
            for &product in fold {
                partial = apply(partial + i128::from(product));
                exact_partial += i128::from(product);
                seen.push(exact_partial);
            }
            accumulator = apply(accumulator + partial);
            exact += exact_partial;
            seen.push(exact);
        }
        // The observed range always contains 0, where partial sums start.
        let (low, high, corrupted) = match overflow {
            Overflow::Saturate => (
                seen.iter().copied().fold(0, i128::min),
                seen.iter().copied().fold(0, i128::max),
                events > 0,
            ),
            Overflow::Wrap => (exact.min(0), exact.max(0), accumulator != exact),
        };
        Modelled {
            result: accumulator as i64,
            events,
            low,
            high,
            corrupted,
        }
    }

    /// Runs one accumulator through `dot` and the PPU's bias step (with no
    /// post bias), as a kernel does.
    fn run_dot(accumulation: &FoldAccumulation, start: i64, x: &[i16], w: &[i16]) -> i64 {
        let register = accumulation.dot(accumulation.start(start), x, w);
        accumulation.add_post_bias(accumulation.finish(register), 0)
    }

    fn products(x: &[i16], w: &[i16]) -> Vec<i64> {
        x.iter()
            .zip(w)
            .map(|(&x, &w)| i64::from(x) * i64::from(w))
            .collect()
    }

    /// Checks one layer's counts and observed range against the model of
    /// each of its accumulators.
    fn check_counts(counts: OverflowCounts, modelled: &[Modelled]) -> Result<(), TestCaseError> {
        let events: u64 = modelled.iter().map(|m| m.events).sum();
        let corrupted = modelled.iter().filter(|m| m.corrupted).count() as u64;
        let low = modelled.iter().map(|m| m.low).min().unwrap();
        let high = modelled.iter().map(|m| m.high).max().unwrap();
        prop_assert_eq!(counts.events, events);
        prop_assert_eq!(counts.corrupted_results, corrupted);
        prop_assert_eq!(i128::from(counts.observed_min), low);
        prop_assert_eq!(i128::from(counts.observed_max), high);
        Ok(())
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
        assert_eq!(counts.corrupted_results, 1);
        // Exact values: partials 100, 200 and -100, -100, register 0, 200, 100.
        assert_eq!((counts.observed_min, counts.observed_max), (-100, 200));
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

    /// Products [100, 100, -300] in folds of 2 with no bias: the fold sums
    /// are 200 and -300, and the register takes 0, 200, then -100.
    #[test]
    fn observed_range_follows_fold_order() {
        let (x, w) = ([10, 10, -30], [10, 10, 10]);
        let saturating = fold(32, Overflow::Saturate, 2);
        assert_eq!(run_dot(&saturating, 0, &x, &w), -100);
        let counts = saturating.counts(1);
        assert_eq!((counts.observed_min, counts.observed_max), (-300, 200));
        assert_eq!(counts.max_magnitude(), 300);
        assert_eq!(counts.narrowest_bits(), 10);
        assert_eq!(counts.corrupted_results, 0);

        // Under wrapping only the final -100 counts.
        let wrapping = fold(32, Overflow::Wrap, 2);
        assert_eq!(run_dot(&wrapping, 0, &x, &w), -100);
        let counts = wrapping.counts(1);
        assert_eq!((counts.observed_min, counts.observed_max), (-100, 0));
        assert_eq!(counts.narrowest_bits(), 8);
    }

    /// At the narrowest width nothing is corrupted; one bit less corrupts.
    #[test]
    fn narrowest_width_is_tight() {
        // Products 60 * 4 = 240 in one fold, then -200: the partial reaches
        // 240, which needs 9 bits; the final 40 needs 7.
        let (x, w) = ([60, 60, 60, 60, -100], [1, 1, 1, 1, 2]);
        let wide = fold(32, Overflow::Saturate, 4);
        run_dot(&wide, 0, &x, &w);
        assert_eq!(wide.counts(1).narrowest_bits(), 9);
        let at_nine = fold(9, Overflow::Saturate, 4);
        run_dot(&at_nine, 0, &x, &w);
        assert_eq!(at_nine.counts(1).corrupted_results, 0);
        let at_eight = fold(8, Overflow::Saturate, 4);
        run_dot(&at_eight, 0, &x, &w);
        assert_eq!(at_eight.counts(1).corrupted_results, 1);

        // Under wrapping 8 bits hold the final 40: the intermediate wrap is
        // an event, but the result is exact.
        let wrapping = fold(8, Overflow::Wrap, 4);
        assert_eq!(run_dot(&wrapping, 0, &x, &w), 40);
        let counts = wrapping.counts(1);
        assert_eq!(counts.events, 2);
        assert_eq!(counts.corrupted_results, 0);
        assert_eq!(counts.narrowest_bits(), 7);
    }

    /// Once the observed range covers a fold's magnitude, its partial sums
    /// are not walked, and the range stays what the walk would give.
    #[test]
    fn folds_inside_observed_range_keep_it_exact() {
        let accumulation = fold(32, Overflow::Saturate, 2);
        let (positive, negative, w) = ([10, 10, 10], [-10, -10, -10], [10, 10, 10]);
        run_dot(&accumulation, 0, &positive, &w);
        run_dot(&accumulation, 0, &negative, &w);
        let counts = accumulation.counts(2);
        assert_eq!((counts.observed_min, counts.observed_max), (-300, 300));
        // Folds [100, -100] and [100]: both inside the range.
        assert_eq!(run_dot(&accumulation, 0, &[10, -10, 10], &w), 100);
        // A fold of magnitude 400 is walked: its partials reach -400.
        assert_eq!(run_dot(&accumulation, 5, &[-20, -20, 0], &w), -395);
        let counts = accumulation.counts(4);
        assert_eq!((counts.observed_min, counts.observed_max), (-400, 300));
    }

    #[test]
    fn start_saturates_bias() {
        let accumulation = fold(8, Overflow::Saturate, 4);
        assert_eq!(run_dot(&accumulation, 1000, &[0], &[0]), 127);
        assert_eq!(run_dot(&accumulation, -1000, &[1], &[1]), -127);
        let counts = accumulation.counts(2);
        assert_eq!(counts.events, 2);
        assert_eq!((counts.observed_min, counts.observed_max), (-1000, 1000));
        let wrapping = fold(8, Overflow::Wrap, 4);
        assert_eq!(run_dot(&wrapping, 300, &[0], &[0]), 44);
        assert_eq!(wrapping.counts(1).corrupted_results, 1);
    }

    #[test]
    fn sixty_four_bits_saturate_at_i64() {
        let accumulation = fold(64, Overflow::Saturate, 1);
        let register = accumulation.start(i64::MAX - 5);
        let register = accumulation.dot(register, &[100], &[100]);
        assert_eq!(
            accumulation.add_post_bias(accumulation.finish(register), 0),
            i64::MAX
        );
        let wrapping = fold(64, Overflow::Wrap, 1);
        let register = wrapping.dot(wrapping.start(i64::MAX), &[1], &[1]);
        assert_eq!(
            wrapping.add_post_bias(wrapping.finish(register), 0),
            i64::MIN
        );
        let counts = wrapping.counts(1);
        assert_eq!(counts.events, 1);
        // The exact sum saturates at i64::MAX, which the wrapped value is not.
        assert_eq!(counts.observed_max, i64::MAX);
        assert_eq!(counts.corrupted_results, 1);
    }

    #[test]
    fn post_bias_counts_separately() {
        let accumulation = fold(8, Overflow::Saturate, 4);
        let result = |value| accumulation.finish(accumulation.start(value));
        assert_eq!(accumulation.add_post_bias(result(100), 100), 127);
        // The bias is brought into range first: -1000 -> -128, then 100 - 128.
        assert_eq!(accumulation.add_post_bias(result(100), -1000), -28);
        assert_eq!(accumulation.add_post_bias(result(1), 2), 3);
        let counts = accumulation.counts(3);
        assert_eq!(counts.post_bias_events, 2);
        assert_eq!(counts.events, 0);
        assert_eq!(counts.corrupted_results, 2);
        // The post bias and its exact sums count: -1000 and -900, then 200.
        assert_eq!((counts.observed_min, counts.observed_max), (-1000, 200));
    }

    #[test]
    fn wrap_observes_final_value_after_post_bias() {
        let accumulation = fold(8, Overflow::Wrap, 4);
        let register = accumulation.dot(accumulation.start(0), &[10, 10], &[10, 10]);
        // 200 wraps to -56, and the post bias -150 brings the sum back to 50.
        assert_eq!(
            accumulation.add_post_bias(accumulation.finish(register), -150),
            50
        );
        let counts = accumulation.counts(1);
        assert_eq!(counts.overflowed_results, 1);
        assert_eq!(counts.post_bias_events, 1);
        assert_eq!(counts.corrupted_results, 0);
        assert_eq!((counts.observed_min, counts.observed_max), (0, 50));
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

    /// Generates a layer's worth of accumulators: a start value and K terms
    /// each, of one common K.
    fn accumulators() -> impl Strategy<Value = Vec<(i64, Vec<i16>, Vec<i16>)>> {
        (0_usize..30, 1_usize..6).prop_flat_map(|(len, count)| {
            prop::collection::vec(
                (
                    -(1_i64 << 20)..(1 << 20),
                    prop::collection::vec(-300_i16..300, len),
                    prop::collection::vec(-128_i16..128, len),
                ),
                count,
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
            let modelled = model(bits, overflow, rows, start, &products(&x, &w));
            prop_assert_eq!(run_dot(&accumulation, start, &x, &w), modelled.result);
            check_counts(accumulation.counts(1), &[modelled])?;
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
            let modelled = model(bits, overflow, rows, start, &products(&x, &w));
            let result = accumulation.add_post_bias(accumulation.finish(registers[0]), 0);
            prop_assert_eq!(result, modelled.result);
            check_counts(accumulation.counts(1), &[modelled])?;
        }

        /// Several accumulators share one layer's observed range, so later
        /// ones may skip their walk; the range must stay exact. Wide
        /// registers make skipping likely.
        #[test]
        fn layer_range_matches_sequential_model(
            bits in prop_oneof![8_u32..=24, 40_u32..=64],
            overflow in any_overflow(),
            rows in 1_usize..=12,
            layer in accumulators(),
        ) {
            let accumulation = fold(bits, overflow, rows);
            let mut modelled = Vec::new();
            for (start, x, w) in &layer {
                let expected = model(bits, overflow, rows, *start, &products(x, w));
                prop_assert_eq!(run_dot(&accumulation, *start, x, w), expected.result);
                modelled.push(expected);
            }
            check_counts(accumulation.counts(layer.len()), &modelled)?;
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
