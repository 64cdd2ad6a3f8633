//! The weight-stationary array: K on the rows, N on the columns, the M
//! output pixels streaming through.
//!
//! A pass covers one fold of `rows` consecutive K terms for one tile of
//! `cols` output channels. It first shifts the weights in from the top, one
//! row per cycle, for `rows` cycles. Then row `r` receives activation
//! `a[m][k0 + r]` at stream cycle `m + r`. Each PE passes its activation
//! right and adds its product to the partial sum from above. The sum of
//! pixel `m` leaves the bottom of column `c` at cycle `m + rows - 1 + c`,
//! when the accumulator buffer adds it. Limitation: passes do not overlap, and a
//! pass takes the full `2 * rows + cols + m - 2` cycles even when the fold
//! or the column tile is partial.

use super::{Clocked, GemmOperands, SteppedRun};

/// A value travelling through the array with the output pixel it belongs
/// to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tagged {
    value: i64,
    pixel: usize,
}

/// The registers of one processing element.
#[derive(Debug, Clone, Copy, Default)]
struct Pe {
    weight: i64,
    activation: Option<Tagged>,
    partial_sum: Option<Tagged>,
}

/// The wires into one PE's registers, settled each cycle.
#[derive(Debug, Clone, Copy, Default)]
struct PeWires {
    weight: i64,
    activation: Option<Tagged>,
    partial_sum: Option<Tagged>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    LoadWeights { cycle: usize },
    Stream { cycle: usize },
    Done,
}

pub(super) struct WeightStationaryArray<'a> {
    rows: usize,
    cols: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &'a [i64],
    b: &'a [i64],
    pes: Vec<Pe>,
    wires: Vec<PeWires>,
    accumulators: Vec<i64>,
    folds: usize,
    column_tiles: usize,
    fold: usize,
    column_tile: usize,
    phase: Phase,
    passes: u64,
}

impl<'a> WeightStationaryArray<'a> {
    pub(super) fn new(operands: GemmOperands<'a>, rows: usize, cols: usize) -> Self {
        let (m, k, n) = (
            operands.gemm.m as usize,
            operands.gemm.k as usize,
            operands.gemm.n as usize,
        );
        let folds = k.div_ceil(rows);
        let column_tiles = n.div_ceil(cols);
        let phase = if folds == 0 || column_tiles == 0 || m == 0 {
            Phase::Done
        } else {
            Phase::LoadWeights { cycle: 0 }
        };
        WeightStationaryArray {
            rows,
            cols,
            m,
            k,
            n,
            a: operands.a,
            b: operands.b,
            pes: vec![Pe::default(); rows * cols],
            wires: vec![PeWires::default(); rows * cols],
            accumulators: vec![0; m * n],
            folds,
            column_tiles,
            fold: 0,
            column_tile: 0,
            phase,
            passes: 0,
        }
    }

    pub(super) fn finish(self, cycles: u64) -> SteppedRun {
        SteppedRun {
            accumulators: self.accumulators,
            cycles,
            passes: self.passes,
        }
    }

    /// Weight entering the top of column `col` at load cycle `cycle`: the
    /// bottom row's weight first, so that after `rows` shifts row `r` contains
    /// `b[k0 + r][n0 + col]`. Zero outside the GEMM.
    fn weight_feed(&self, col: usize, cycle: usize) -> i64 {
        let k = self.fold * self.rows + (self.rows - 1 - cycle);
        let n = self.column_tile * self.cols + col;
        if k < self.k && n < self.n {
            self.b[k * self.n + n]
        } else {
            0
        }
    }

    /// Activation entering the left of row `row` at stream cycle `cycle`,
    /// skewed by one cycle per row.
    fn activation_feed(&self, row: usize, cycle: usize) -> Option<Tagged> {
        let pixel = cycle.checked_sub(row)?;
        let k = self.fold * self.rows + row;
        (pixel < self.m && k < self.k).then(|| Tagged {
            value: self.a[pixel * self.k + k],
            pixel,
        })
    }

    fn stream_cycles(&self) -> usize {
        self.m + self.rows + self.cols - 2
    }

    fn settle_load(&mut self, cycle: usize) {
        for row in 0..self.rows {
            for col in 0..self.cols {
                let weight = if row == 0 {
                    self.weight_feed(col, cycle)
                } else {
                    self.pes[(row - 1) * self.cols + col].weight
                };
                self.wires[row * self.cols + col] = PeWires {
                    weight,
                    activation: None,
                    partial_sum: None,
                };
            }
        }
    }

    fn settle_stream(&mut self, cycle: usize) {
        for row in 0..self.rows {
            for col in 0..self.cols {
                let pe = self.pes[row * self.cols + col];
                let activation = if col == 0 {
                    self.activation_feed(row, cycle)
                } else {
                    self.pes[row * self.cols + col - 1].activation
                };
                let product = activation.map(|x| Tagged {
                    value: x.value.wrapping_mul(pe.weight),
                    pixel: x.pixel,
                });
                // Row 0 starts the fold's partial sum at 0; a row past the
                // end of K has no activation and passes the sum on.
                let partial_sum = if row == 0 {
                    product
                } else {
                    let above = self.pes[(row - 1) * self.cols + col].partial_sum;
                    debug_assert!(
                        product.is_none_or(|p| above.is_some_and(|s| s.pixel == p.pixel)),
                        "activation and partial sum out of step at PE ({row}, {col})"
                    );
                    above.map(|sum| Tagged {
                        value: sum.value.wrapping_add(product.map_or(0, |p| p.value)),
                        pixel: sum.pixel,
                    })
                };
                self.wires[row * self.cols + col] = PeWires {
                    weight: pe.weight,
                    activation,
                    partial_sum,
                };
            }
        }
    }

    /// Adds the fold sums leaving the bottom row to the accumulator buffer.
    fn commit_bottom_row(&mut self) {
        let bottom = (self.rows - 1) * self.cols;
        for col in 0..self.cols {
            let n = self.column_tile * self.cols + col;
            if let Some(sum) = self.wires[bottom + col].partial_sum {
                if n < self.n {
                    let slot = &mut self.accumulators[sum.pixel * self.n + n];
                    *slot = slot.wrapping_add(sum.value);
                }
            }
        }
    }

    fn next_pass(&mut self) {
        self.passes += 1;
        self.fold += 1;
        if self.fold == self.folds {
            self.fold = 0;
            self.column_tile += 1;
        }
        self.phase = if self.column_tile == self.column_tiles {
            Phase::Done
        } else {
            Phase::LoadWeights { cycle: 0 }
        };
    }
}

impl Clocked for WeightStationaryArray<'_> {
    fn settle(&mut self) {
        match self.phase {
            Phase::LoadWeights { cycle } => self.settle_load(cycle),
            Phase::Stream { cycle } => self.settle_stream(cycle),
            Phase::Done => {}
        }
    }

    fn commit(&mut self) {
        if let Phase::Stream { .. } = self.phase {
            self.commit_bottom_row();
        }
        for (pe, wires) in self.pes.iter_mut().zip(&self.wires) {
            pe.weight = wires.weight;
            pe.activation = wires.activation;
            pe.partial_sum = wires.partial_sum;
        }
    }

    fn advance(&mut self) {
        self.phase = match self.phase {
            Phase::LoadWeights { cycle } if cycle + 1 < self.rows => {
                Phase::LoadWeights { cycle: cycle + 1 }
            }
            Phase::LoadWeights { .. } => Phase::Stream { cycle: 0 },
            Phase::Stream { cycle } if cycle + 1 < self.stream_cycles() => {
                Phase::Stream { cycle: cycle + 1 }
            }
            Phase::Stream { .. } => {
                self.next_pass();
                return;
            }
            Phase::Done => Phase::Done,
        };
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}
