//! A cycle-stepped model of the MAC array: every processing element's
//! registers, every cycle, for one GEMM tile.
//!
//! Each clock cycle runs three phases, each its own function. `settle`
//! computes every combinational wire (operands passed on, products, partial
//! sums) from the registers and this cycle's edge inputs. `commit` latches
//! the registers and the accumulator buffer. `advance` moves the controller
//! through its passes. The array runs the schedule whose length
//! [`super::gemm_compute_cycles`] gives, so the two must agree exactly.
//! Operands carry their GEMM indices as tags, and the accumulator buffer
//! adds each result at the indices it arrives with, so a scheduling error
//! shows up as a wrong value.
//!
//! Limitation: accumulators are i64 and wrap on overflow, which operands of
//! up to 17 bits cannot reach with fewer than 2^30 K terms. The bit-exact
//! accumulator widths, the fold order under saturation and the PPU live in
//! the executor. The model is for small tiles: it costs
//! `rows * cols` PE updates per cycle.

mod lowering;
mod output_stationary;
mod weight_stationary;

pub use lowering::{im2col, lower_layer, Im2col, LoweredGemm};

use super::{Gemm, TimingError};
use crate::hw::{ArrayConfig, Dataflow};

/// The result of one GEMM tile on the stepped array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SteppedRun {
    /// `m x n` accumulators, row-major: `accumulators[m * n_total + n]`.
    pub accumulators: Vec<i64>,
    /// Clock cycles from the first weight load or operand to the last
    /// result written to the accumulator buffer.
    pub cycles: u64,
    /// Passes the controller ran.
    pub passes: u64,
}

/// One GEMM tile's operands: `a` is `m x k` and `b` is `k x n`, both
/// row-major.
#[derive(Debug, Clone, Copy)]
pub struct GemmOperands<'a> {
    pub gemm: Gemm,
    pub a: &'a [i64],
    pub b: &'a [i64],
}

/// A synchronous circuit stepped one clock cycle at a time.
trait Clocked {
    /// Computes every combinational wire of this cycle from the registers
    /// and the edge inputs, without changing a register.
    fn settle(&mut self);
    /// Latches every register from the settled wires.
    fn commit(&mut self);
    /// Moves the controller to the next cycle's state.
    fn advance(&mut self);
    /// True once the controller has finished its last pass.
    fn is_done(&self) -> bool;
}

/// Steps `circuit` until its controller is done; returns the cycle count.
fn run_to_completion(circuit: &mut impl Clocked) -> u64 {
    let mut cycles = 0;
    while !circuit.is_done() {
        circuit.settle();
        circuit.commit();
        circuit.advance();
        cycles += 1;
    }
    cycles
}

/// Runs one GEMM tile on a stepped array of `array.rows x array.cols` PEs
/// with `array.dataflow`, returning the accumulators and the cycle count.
///
/// Fails when the operand lengths do not match the GEMM.
pub fn run_gemm(
    operands: GemmOperands<'_>,
    array: &ArrayConfig,
) -> Result<SteppedRun, TimingError> {
    check_operands(&operands)?;
    let rows = array.rows as usize;
    let cols = array.cols as usize;
    if rows == 0 || cols == 0 {
        return Err(TimingError::InvalidGemm {
            message: format!("array is {rows} x {cols}; expected at least 1 x 1"),
        });
    }
    let run = match array.dataflow {
        Dataflow::WeightStationary => {
            let mut circuit = weight_stationary::WeightStationaryArray::new(operands, rows, cols);
            let cycles = run_to_completion(&mut circuit);
            circuit.finish(cycles)
        }
        Dataflow::OutputStationary => {
            let mut circuit = output_stationary::OutputStationaryArray::new(operands, rows, cols);
            let cycles = run_to_completion(&mut circuit);
            circuit.finish(cycles)
        }
    };
    Ok(run)
}

fn check_operands(operands: &GemmOperands<'_>) -> Result<(), TimingError> {
    let Gemm { m, k, n } = operands.gemm;
    let expected = |rows: u64, cols: u64| {
        rows.checked_mul(cols)
            .and_then(|len| usize::try_from(len).ok())
    };
    for (name, len, shape) in [
        ("a", operands.a.len(), (m, k)),
        ("b", operands.b.len(), (k, n)),
    ] {
        if expected(shape.0, shape.1) != Some(len) {
            return Err(TimingError::InvalidGemm {
                message: format!(
                    "{name} has {len} elements; expected {} x {} for a GEMM of {m} x {k} x {n}",
                    shape.0, shape.1
                ),
            });
        }
    }
    Ok(())
}

/// A plain triple loop: the reference the stepped array must match.
pub fn reference_gemm(operands: GemmOperands<'_>) -> Result<Vec<i64>, TimingError> {
    check_operands(&operands)?;
    let Gemm { m, k, n } = operands.gemm;
    let (m, k, n) = (m as usize, k as usize, n as usize);
    let mut out = vec![0i64; m * n];
    for row in 0..m {
        for col in 0..n {
            out[row * n + col] = (0..k)
                .map(|i| operands.a[row * k + i] * operands.b[i * n + col])
                .sum();
        }
    }
    Ok(out)
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
    fn weight_stationary_pass_is_load_then_stream() {
        // One fold, one column tile: 2 load cycles, then the last of 3
        // pixels leaves column 1 after 3 + 2 + 2 - 2 stream cycles.
        let gemm = Gemm { m: 3, k: 2, n: 2 };
        let a = [1, 2, 3, 4, 5, 6];
        let b = [1, -1, 2, 10];
        let operands = GemmOperands { gemm, a: &a, b: &b };
        let run = run_gemm(operands, &array(2, 2, Dataflow::WeightStationary)).unwrap();
        assert_eq!(run.cycles, 2 + 5);
        assert_eq!(run.passes, 1);
        assert_eq!(run.accumulators, vec![5, 19, 11, 37, 17, 55]);
    }

    #[test]
    fn output_stationary_pass_is_stream_then_drain() {
        // The last product forms in PE (1, 1) at stream cycle 2 + 1 + 1;
        // then 2 drain cycles.
        let gemm = Gemm { m: 2, k: 3, n: 2 };
        let a = [1, 2, 3, -1, 0, 1];
        let b = [1, 0, 0, 1, 2, 2];
        let operands = GemmOperands { gemm, a: &a, b: &b };
        let run = run_gemm(operands, &array(2, 2, Dataflow::OutputStationary)).unwrap();
        assert_eq!(run.cycles, 5 + 2);
        assert_eq!(run.passes, 1);
        assert_eq!(run.accumulators, vec![7, 8, 1, 2]);
        assert_eq!(run.accumulators, reference_gemm(operands).unwrap());
    }

    #[test]
    fn partial_folds_and_tiles_take_full_passes() {
        // K = 3 on 2 rows is 2 folds; N = 3 on 2 columns is 2 tiles.
        let gemm = Gemm { m: 1, k: 3, n: 3 };
        let a = [1, 2, 3];
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let operands = GemmOperands { gemm, a: &a, b: &b };
        let run = run_gemm(operands, &array(2, 2, Dataflow::WeightStationary)).unwrap();
        assert_eq!(run.passes, 4);
        assert_eq!(run.cycles, 4 * (2 * 2 + 2 + 1 - 2));
        assert_eq!(run.accumulators, vec![30, 36, 42]);
    }
}
