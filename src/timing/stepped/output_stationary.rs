//! The output-stationary array: M on the rows, N on the columns, K
//! streaming through.
//!
//! A pass covers a tile of `rows` output pixels by `cols` output channels.
//! Row `r` receives `a[m0 + r][k]` from the left and column `c` receives
//! `b[k][n0 + c]` from the top, both at stream cycle `k + r` or `k + c`, so
//! they meet in PE `(r, c)` at cycle `k + r + c`, where the PE adds their
//! product to its accumulator. After the last product, `rows` drain cycles
//! shift the accumulators down and out of the bottom into the accumulator
//! buffer. Limitation: the drain does not overlap the next pass, and a pass
//! takes the full `2 * rows + cols + k - 2` cycles even when the tile is
//! partial.

use super::{Clocked, GemmOperands, SteppedRun};

/// An operand with its K index and its pixel (activations) or output
/// channel (weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operand {
    value: i64,
    k: usize,
    lane: usize,
}

/// An accumulator with the output element it holds, if any product reached
/// it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Accumulator {
    value: i64,
    element: Option<(usize, usize)>,
}

/// The registers of one processing element.
#[derive(Debug, Clone, Copy, Default)]
struct Pe {
    activation: Option<Operand>,
    weight: Option<Operand>,
    accumulator: Accumulator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stream { cycle: usize },
    Drain { cycle: usize },
    Done,
}

pub(super) struct OutputStationaryArray<'a> {
    rows: usize,
    cols: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &'a [i64],
    b: &'a [i64],
    pes: Vec<Pe>,
    /// Next register values, settled each cycle.
    wires: Vec<Pe>,
    accumulators: Vec<i64>,
    row_tiles: usize,
    column_tiles: usize,
    row_tile: usize,
    column_tile: usize,
    phase: Phase,
    passes: u64,
}

impl<'a> OutputStationaryArray<'a> {
    pub(super) fn new(operands: GemmOperands<'a>, rows: usize, cols: usize) -> Self {
        let (m, k, n) = (
            operands.gemm.m as usize,
            operands.gemm.k as usize,
            operands.gemm.n as usize,
        );
        let row_tiles = m.div_ceil(rows);
        let column_tiles = n.div_ceil(cols);
        let phase = if row_tiles == 0 || column_tiles == 0 || k == 0 {
            Phase::Done
        } else {
            Phase::Stream { cycle: 0 }
        };
        OutputStationaryArray {
            rows,
            cols,
            m,
            k,
            n,
            a: operands.a,
            b: operands.b,
            pes: vec![Pe::default(); rows * cols],
            wires: vec![Pe::default(); rows * cols],
            accumulators: vec![0; m * n],
            row_tiles,
            column_tiles,
            row_tile: 0,
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

    /// Activation entering the left of row `row` at stream cycle `cycle`.
    fn activation_feed(&self, row: usize, cycle: usize) -> Option<Operand> {
        let k = cycle.checked_sub(row)?;
        let pixel = self.row_tile * self.rows + row;
        (k < self.k && pixel < self.m).then(|| Operand {
            value: self.a[pixel * self.k + k],
            k,
            lane: pixel,
        })
    }

    /// Weight entering the top of column `col` at stream cycle `cycle`.
    fn weight_feed(&self, col: usize, cycle: usize) -> Option<Operand> {
        let k = cycle.checked_sub(col)?;
        let channel = self.column_tile * self.cols + col;
        (k < self.k && channel < self.n).then(|| Operand {
            value: self.b[k * self.n + channel],
            k,
            lane: channel,
        })
    }

    fn stream_cycles(&self) -> usize {
        self.k + self.rows + self.cols - 2
    }

    fn settle_stream(&mut self, cycle: usize) {
        for row in 0..self.rows {
            for col in 0..self.cols {
                let index = row * self.cols + col;
                let activation = if col == 0 {
                    self.activation_feed(row, cycle)
                } else {
                    self.pes[index - 1].activation
                };
                let weight = if row == 0 {
                    self.weight_feed(col, cycle)
                } else {
                    self.pes[index - self.cols].weight
                };
                let mut accumulator = self.pes[index].accumulator;
                if let (Some(x), Some(w)) = (activation, weight) {
                    debug_assert_eq!(x.k, w.k, "operands out of step at PE ({row}, {col})");
                    accumulator.value = accumulator
                        .value
                        .wrapping_add(x.value.wrapping_mul(w.value));
                    accumulator.element = Some((x.lane, w.lane));
                }
                self.wires[index] = Pe {
                    activation,
                    weight,
                    accumulator,
                };
            }
        }
    }

    /// Shifts every column's accumulators down by one PE; the top row takes
    /// a cleared accumulator for the next pass.
    fn settle_drain(&mut self) {
        for row in 0..self.rows {
            for col in 0..self.cols {
                let index = row * self.cols + col;
                let accumulator = if row == 0 {
                    Accumulator::default()
                } else {
                    self.pes[index - self.cols].accumulator
                };
                self.wires[index] = Pe {
                    activation: None,
                    weight: None,
                    accumulator,
                };
            }
        }
    }

    /// Writes the accumulators leaving the bottom row to the accumulator
    /// buffer.
    fn commit_drain_exit(&mut self) {
        let bottom = (self.rows - 1) * self.cols;
        for col in 0..self.cols {
            let leaving = self.pes[bottom + col].accumulator;
            if let Some((pixel, channel)) = leaving.element {
                let slot = &mut self.accumulators[pixel * self.n + channel];
                *slot = slot.wrapping_add(leaving.value);
            }
        }
    }

    fn next_pass(&mut self) {
        self.passes += 1;
        self.column_tile += 1;
        if self.column_tile == self.column_tiles {
            self.column_tile = 0;
            self.row_tile += 1;
        }
        self.phase = if self.row_tile == self.row_tiles {
            Phase::Done
        } else {
            Phase::Stream { cycle: 0 }
        };
    }
}

impl Clocked for OutputStationaryArray<'_> {
    fn settle(&mut self) {
        match self.phase {
            Phase::Stream { cycle } => self.settle_stream(cycle),
            Phase::Drain { .. } => self.settle_drain(),
            Phase::Done => {}
        }
    }

    fn commit(&mut self) {
        if let Phase::Drain { .. } = self.phase {
            self.commit_drain_exit();
        }
        self.pes.copy_from_slice(&self.wires);
    }

    fn advance(&mut self) {
        self.phase = match self.phase {
            Phase::Stream { cycle } if cycle + 1 < self.stream_cycles() => {
                Phase::Stream { cycle: cycle + 1 }
            }
            Phase::Stream { .. } => Phase::Drain { cycle: 0 },
            Phase::Drain { cycle } if cycle + 1 < self.rows => Phase::Drain { cycle: cycle + 1 },
            Phase::Drain { .. } => {
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
