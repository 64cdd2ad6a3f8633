//! LUTs and flip-flops of the processing elements, the post-processing unit
//! (PPU), the buffers' bank multiplexers, the DRAM port and the control.
//!
//! Limitation: a first-order estimate from register and adder bit counts:
//! one LUT per adder or multiplexer bit, one flip-flop per register bit,
//! and constants for the control. The arrays' and the vector lanes' parts
//! follow the reference RTL and agree with Yosys within 25 %
//! (`tests/rtl_yosys.rs`). Routing,
//! retiming, replication for fanout and what synthesis trims are not
//! modelled, and the PPU formulas and the control constants have not been
//! calibrated against synthesis.

use super::multiplier::{lut_multiplier_luts, MultiplierKind, MultiplierPlan};
use super::widths::{PpuNeeds, UnitWidths};
use crate::hw::Dataflow;
use serde::Serialize;

/// Width of the DSP48 accumulator (P register and post-adder) on both slice
/// types. A wider accumulator is built in fabric.
pub const DSP_ACCUMULATOR_BITS: u8 = 48;

/// LUTs of the controller: the layer sequencer, tile loop counters, the
/// address generators of the four buffers and the configuration registers.
/// A placeholder to be calibrated against synthesis.
pub const CONTROL_LUTS: u64 = 1_500;
/// Flip-flops of the controller (see [`CONTROL_LUTS`]).
pub const CONTROL_FFS: u64 = 2_000;
/// LUTs of the DRAM port besides its data path: AXI address channels,
/// burst counters and handshakes.
pub const DRAM_PORT_LUTS: u64 = 400;
/// Flip-flops of the DRAM port besides its data path (see
/// [`DRAM_PORT_LUTS`]).
pub const DRAM_PORT_FFS: u64 = 500;
/// Fold flags that travel with an output-stationary array's activations:
/// first term of a fold, last term of a fold, first fold.
const FOLD_FLAGS: u64 = 3;
/// Width of the LFSR behind stochastic rounding.
const LFSR_BITS: u64 = 32;
/// Bits of a per-channel shift amount in the PPU (shifts up to 63).
const SHIFT_AMOUNT_BITS: u64 = 6;
/// Shortest delay chain that synthesis maps to LUT shift registers
/// (Yosys 0.23 `synth_xilinx` keeps one- and two-stage chains in
/// flip-flops).
pub const SHIFT_REGISTER_MIN_STAGES: u64 = 3;
/// Stages of one LUT shift register (SRLC32E).
pub const SHIFT_REGISTER_LUT_STAGES: u64 = 32;

/// LUTs and flip-flops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Logic {
    pub luts: u64,
    pub ffs: u64,
}

impl std::ops::Add for Logic {
    type Output = Logic;
    fn add(self, other: Logic) -> Logic {
        Logic {
            luts: self.luts + other.luts,
            ffs: self.ffs + other.ffs,
        }
    }
}

/// The parts a DSP slice takes over from the fabric when a product has a
/// slice of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DspInference {
    /// The multiplier, the weight register (B register), the partial-sum
    /// adder (post-adder, fed through PCIN or C) and, when the sum wraps,
    /// the partial-sum register (P register). Yosys 0.23
    /// `synth_xilinx -family xc7` maps DSP48E1 this way, and Vivado's
    /// synthesis guide (UG901, "Multiply-Add and Multiply-Accumulate
    /// Implementation") describes the same for Vivado.
    /// [`estimate`](super::estimate) assumes it.
    MultiplyAccumulate,
    /// The multiplier alone, every register and adder in fabric. Yosys 0.23
    /// `synth_xilinx -family xcup` maps DSP48E2 slices this way (all of
    /// AREG, BREG, MREG and PREG 0 in `tests/rtl_yosys.rs`).
    MultiplierOnly,
}

/// Kind of multiply-accumulate cell, which decides how it sums its
/// products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellKind {
    /// A PE of a weight-stationary array (`fx_pe.v`): it adds its product
    /// to the partial sum from the PE above and passes the sum down.
    WeightStationaryPe,
    /// A PE of an output-stationary array (`fx_os_pe.v`): it keeps a fold
    /// sum and an accumulator, zeroes an invalid activation, and shifts its
    /// accumulator down while the array drains.
    OutputStationaryPe,
    /// A lane of the depthwise vector unit (`fx_vector_lane.v`): a fold sum
    /// and an accumulator whose result leaves combinationally, operands
    /// straight from the buffers' read ports.
    VectorLane,
}

/// Counts of a unit's multiply-accumulate cells: all of them, those with a
/// partial-sum adder and those with a partial-sum register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MacShape {
    pub kind: CellKind,
    /// Processing elements (array) or lanes (vector unit).
    pub cells: u64,
    /// Adders of `W` bits: all but the first row of a weight-stationary
    /// array, whose sum starts at 0, and two per cell that accumulates its
    /// own sum (fold sum and accumulator).
    pub adders: u64,
    /// Sum registers of `W` bits: all but the bottom row of a
    /// weight-stationary array, whose sum leaves the array
    /// combinationally, and two per cell that accumulates its own sum.
    pub sum_registers: u64,
}

impl MacShape {
    /// Returns the shape of a `rows x cols` weight-stationary array, whose
    /// partial sums flow down the columns.
    pub fn weight_stationary(rows: u32, cols: u32) -> MacShape {
        let cells = u64::from(rows) * u64::from(cols);
        let below_first_row = u64::from(rows.saturating_sub(1)) * u64::from(cols);
        MacShape {
            kind: CellKind::WeightStationaryPe,
            cells,
            adders: below_first_row,
            sum_registers: below_first_row,
        }
    }

    /// Returns the shape of a `rows x cols` output-stationary array.
    pub fn output_stationary(rows: u32, cols: u32) -> MacShape {
        MacShape::accumulating(
            CellKind::OutputStationaryPe,
            u64::from(rows) * u64::from(cols),
        )
    }

    /// Returns the shape of `lanes` lanes of the vector unit.
    pub fn vector_lanes(lanes: u64) -> MacShape {
        MacShape::accumulating(CellKind::VectorLane, lanes)
    }

    fn accumulating(kind: CellKind, cells: u64) -> MacShape {
        MacShape {
            kind,
            cells,
            adders: 2 * cells,
            sum_registers: 2 * cells,
        }
    }
}

/// Returns the logic of the multiply-accumulate cells of one unit, built as
/// `multiplier` plans, when the DSP slices take over `inference`.
///
/// With `A` activation operand bits, `B` weight bits and `W` accumulator
/// bits:
///
/// | part | LUTs | flip-flops |
/// |---|---|---|
/// | zeroing an invalid activation (DSP multipliers) | `A` per cell | |
/// | weight register | | `B` per cell, none in the DSP's B register |
/// | LUT multiplier, first array row | [`lut_multiplier_luts`] | |
/// | LUT multiplier with a partial sum | `m * W` (`m` = narrower operand) | |
/// | partial-sum adder in a DSP | none (post-adder) | |
/// | partial-sum adder otherwise | `W` per adder | |
/// | partial-sum register | | `W` per register, none in the P register |
/// | clamp, when some layer saturates | `W + 2 * ceil(W / 4)` per cell | |
///
/// The adder is in the DSP when the product has a slice of its own, `W` is
/// at most 48 and the inference is [`DspInference::MultiplyAccumulate`].
/// Its register is in the DSP too unless the sum saturates, because the
/// clamp sits between the adder and the register. A LUT multiplier's `m`
/// partial products are summed into the partial sum, so each of its adders
/// is as wide as the sum. Packed pairs add the correction of
/// [`MultiplierPlan::luts`] and keep both sums in fabric, because one DSP
/// cannot hold two independent sums. The clamp is a multiplexer per bit and
/// two comparisons against the constant bounds, each about `W / 4` LUTs on
/// the carry chain.
///
/// Yosys 0.23 finds these parts in the reference array (`fx_array.v`), and
/// `tests/rtl_yosys.rs` checks the sum against its LUT and flip-flop counts.
/// Cells that accumulate their own sum follow [`accumulating_cells`].
///
/// [`lut_multiplier_luts`]: super::multiplier::lut_multiplier_luts
pub fn mac_cells(
    widths: &UnitWidths,
    multiplier: &MultiplierPlan,
    shape: MacShape,
    inference: DspInference,
) -> Logic {
    if shape.kind != CellKind::WeightStationaryPe {
        return accumulating_cells(widths, multiplier, shape);
    }
    let activation = u64::from(widths.activation.bits);
    let weight = u64::from(widths.weight.bits);
    let accumulator = u64::from(widths.accumulator_bits);
    let in_luts = multiplier.kind == MultiplierKind::Lut;
    let takes_registers = !in_luts && inference == DspInference::MultiplyAccumulate;
    let adder_in_dsp = matches!(multiplier.kind, MultiplierKind::Dsp { .. })
        && widths.accumulator_bits <= DSP_ACCUMULATOR_BITS
        && inference == DspInference::MultiplyAccumulate;
    let register_in_dsp = adder_in_dsp && !widths.saturates;

    let operand_zeroing = if in_luts { 0 } else { shape.cells * activation };
    let weight_registers = if takes_registers {
        0
    } else {
        shape.cells * weight
    };
    let adders = if in_luts {
        let partial_products = u64::from(widths.activation.bits.min(widths.weight.bits));
        let first_row = shape.cells - shape.adders;
        first_row * lut_multiplier_luts(widths.activation, widths.weight)
            + shape.adders * partial_products * accumulator
    } else if adder_in_dsp {
        multiplier.luts
    } else {
        multiplier.luts + shape.adders * accumulator
    };
    let sum_registers = if register_in_dsp {
        0
    } else {
        shape.sum_registers * accumulator
    };
    let clamps = if widths.saturates {
        shape.cells * clamp_luts(accumulator)
    } else {
        0
    };

    Logic {
        luts: operand_zeroing + adders + clamps,
        ffs: weight_registers + sum_registers,
    }
}

/// Returns the logic of cells that keep a fold sum and an accumulator:
/// output-stationary PEs and vector-unit lanes.
///
/// Per cell, with `A` activation operand bits and `W` accumulator bits:
///
/// | part | LUTs | flip-flops |
/// |---|---|---|
/// | zeroing an invalid activation (PE, DSP multipliers) | `A` | |
/// | fold sum: restart multiplexer, or adder with it | `W`; `m * W` with a LUT multiplier | `W` |
/// | accumulator adder, bias multiplexer included | `W` | `W` |
/// | drain multiplexer (PE) | `W` | |
/// | fold-sum clamp, when some layer saturates | `W + 2 * ceil(W / 4)` | |
/// | accumulator clamp | `W + 2 * ceil(W / 4)` (lane), `2 * ceil(W / 4)` (PE) | |
///
/// With its own DSP slice and `W <= 48`, the product and the fold sum are
/// added in the slice (post-adder, the restarted fold sum entering
/// through C), leaving the restart multiplexer (an AND with the fold flag)
/// in fabric. In fabric the adder takes that multiplexer into its LUTs, so
/// the count is `W` either way, and the DSP inference does not matter.
/// Neither sum register is the DSP's P register: the accumulator adder
/// needs the new fold sum in the same cycle. The accumulator adder takes
/// its choice between bias and accumulator into its LUTs, as the
/// accumulator buffer's does. The PE's drain multiplexer also takes the
/// accumulator clamp's bounds (a 4:1 choice per bit, one LUT6), so that
/// clamp adds only its comparisons. The fabric part of packed pairs
/// ([`MultiplierPlan::luts`]) is added to the fold sums. A LUT
/// multiplier's `m` partial products are summed into the fold sum, as in
/// [`mac_cells`]. The operand registers of a PE are part of
/// [`array_operand_paths`]. A lane has none.
///
/// `tests/rtl_yosys.rs` checks these counts against Yosys 0.23 of
/// `fx_os_array.v` and `fx_vector_lane.v`.
fn accumulating_cells(widths: &UnitWidths, multiplier: &MultiplierPlan, shape: MacShape) -> Logic {
    let activation = u64::from(widths.activation.bits);
    let accumulator = u64::from(widths.accumulator_bits);
    let cells = shape.cells;
    let in_luts = multiplier.kind == MultiplierKind::Lut;
    let is_pe = shape.kind == CellKind::OutputStationaryPe;

    let operand_zeroing = if is_pe && !in_luts {
        cells * activation
    } else {
        0
    };
    let fold_sums = if in_luts {
        let partial_products = u64::from(widths.activation.bits.min(widths.weight.bits));
        cells * partial_products * accumulator
    } else {
        multiplier.luts + cells * accumulator
    };
    let accumulator_adders = cells * accumulator;
    let drain_multiplexers = if is_pe { cells * accumulator } else { 0 };
    let clamps = match (widths.saturates, is_pe) {
        (false, _) => 0,
        (true, true) => cells * (clamp_luts(accumulator) + clamp_luts(accumulator) - accumulator),
        (true, false) => cells * 2 * clamp_luts(accumulator),
    };

    Logic {
        luts: operand_zeroing + fold_sums + accumulator_adders + drain_multiplexers + clamps,
        ffs: shape.sum_registers * accumulator,
    }
}

/// Returns the operand paths of a `rows x cols` array: the skew at the
/// array's edge that delays lane `i` by `i` cycles, and the registers in
/// each PE that pass the operands on.
///
/// An activation stage stores the operand and its valid flag (`A + 1`
/// bits). The last column passes nothing on, so `rows * (cols - 1)` PEs
/// register it. An output-stationary array also:
/// - skews the weights entering the top edge (`B` bits per stage) and
///   passes each weight down, in `(rows - 1) * cols` PEs (the bottom row
///   passes nothing on);
/// - sends three fold flags with the activation. They are the same for
///   every row, so the registers that delay them by equal amounts are
///   equal and synthesis merges them: 3 flip-flops for each delay from 1
///   to `rows + cols - 2` cycles.
pub fn array_operand_paths(widths: &UnitWidths, rows: u32, cols: u32, dataflow: Dataflow) -> Logic {
    let activation_stage = u64::from(widths.activation.bits) + 1;
    let passing_pes = u64::from(rows) * u64::from(cols.saturating_sub(1));
    let pass_registers = Logic {
        luts: 0,
        ffs: passing_pes * activation_stage,
    };
    let weight_paths = match dataflow {
        Dataflow::WeightStationary => Logic::default(),
        Dataflow::OutputStationary => {
            let weight = u64::from(widths.weight.bits);
            let passing_down = u64::from(rows.saturating_sub(1)) * u64::from(cols);
            let delays = (u64::from(rows) + u64::from(cols)).saturating_sub(2);
            skew(weight, cols)
                + Logic {
                    luts: 0,
                    ffs: passing_down * weight + FOLD_FLAGS * delays,
                }
        }
    };
    pass_registers + skew(activation_stage, rows) + weight_paths
}

/// Returns the skew of `lanes` inputs of `stage_bits` bits each, lane `i`
/// delayed by `i` cycles.
///
/// A chain of at least [`SHIFT_REGISTER_MIN_STAGES`] stages is a shift
/// register in LUTs: one SRL16E or SRLC32E per bit for every
/// [`SHIFT_REGISTER_LUT_STAGES`] stages. Yosys 0.23 maps these chains to
/// SRL16E. Vivado's mapping is not checked.
/// Shorter chains are flip-flops.
fn skew(stage_bits: u64, lanes: u32) -> Logic {
    let mut logic = Logic::default();
    for delay in 1..u64::from(lanes) {
        if delay >= SHIFT_REGISTER_MIN_STAGES {
            logic.luts += stage_bits * delay.div_ceil(SHIFT_REGISTER_LUT_STAGES);
        } else {
            logic.ffs += stage_bits * delay;
        }
    }
    logic
}

/// Returns the logic of the zero-point subtractors at the array edge: one
/// registered subtractor of `activation bits + 1` per row that feeds
/// activations, when some layer subtracts the zero point. Under `fold` the
/// correction is part of the bias and costs nothing here.
pub fn zero_point_subtractors(widths: &UnitWidths, inputs: u64) -> Logic {
    if !widths.subtracts_zero_point {
        return Logic::default();
    }
    let bits = inputs * (u64::from(widths.activation_storage_bits) + 1);
    Logic {
        luts: bits,
        ffs: bits,
    }
}

/// Returns the fabric logic of `lanes` PPU lanes; `multiplier` is the plan of
/// their requantisation multipliers (none under `shift`).
///
/// Per lane, with `W` accumulator bits, `M` multiplier bits and `O` output
/// bits: the value after the multiplier is `P = W + M` bits (`W` under
/// `shift`), and the value that is rounded and shifted is `S = W` for
/// `tflite` (the high half of the doubling multiply) and `S = P` otherwise.
///
/// | part | LUTs | flip-flops |
/// |---|---|---|
/// | bias adder (`bias = "post"`) | `W` | `W` (the channel's bias) |
/// | multiplier (fabric part) | from the plan | `P` (product register) |
/// | rounding adders | `S` per rounding stage (2 for `tflite`) | `S` |
/// | barrel shifter | `S * ceil(ceil(log2 S) / 2)` (a LUT6 is a 4:1 mux) | |
/// | output zero point adder | `O + 1` | |
/// | clamp | `S` (range compare) + `O` (mux) | `O` (output register) |
/// | channel parameters | | `M + 6` (multiplier and shift) |
/// | stochastic rounding LFSR | 2 | 32 |
pub fn ppu_lanes(needs: &PpuNeeds, multiplier: Option<&MultiplierPlan>, lanes: u64) -> Logic {
    let accumulator = u64::from(needs.accumulator_bits);
    let multiplier_bits = u64::from(needs.multiplier_bits);
    let output = u64::from(needs.output_bits);
    let product = accumulator + multiplier_bits;
    let shifted = if needs.rounding_stages == 2 {
        accumulator
    } else {
        product
    };

    let mut luts = u64::from(needs.rounding_stages) * shifted
        + shifted * barrel_shifter_levels(shifted)
        + (output + 1)
        + shifted
        + output;
    let mut ffs = shifted + output + multiplier_bits + SHIFT_AMOUNT_BITS;
    if multiplier_bits > 0 {
        ffs += product;
    }
    if needs.adds_bias {
        luts += accumulator;
        ffs += accumulator;
    }
    if needs.stochastic {
        luts += 2;
        ffs += LFSR_BITS;
    }

    let fabric_multiplier = multiplier.map_or(Logic::default(), |plan| Logic {
        luts: plan.luts,
        ffs: 0,
    });
    Logic {
        luts: lanes * luts,
        ffs: lanes * ffs,
    } + fabric_multiplier
}

/// Returns the LUT levels of a barrel shifter on `bits` bits:
/// `ceil(log2 bits)` stages of 2:1 multiplexers, two stages per 6-input
/// LUT.
fn barrel_shifter_levels(bits: u64) -> u64 {
    let stages = u64::from(bits.max(2).next_power_of_two().trailing_zeros());
    stages.div_ceil(2)
}

/// Returns the read-modify-write adders of a weight-stationary array's
/// accumulator buffer (an output-stationary array accumulates in its PEs).
///
/// Per array column, one adder of `W` bits adds the column's fold sum to
/// the stored accumulator, or to the bias in the first fold (the
/// multiplexer shares the adder's LUTs). A clamp of `W + 2 * ceil(W / 4)`
/// LUTs follows when some layer saturates. The pixel counter that
/// addresses the buffer is part of the control.
pub fn accumulator_adders(widths: &UnitWidths, cols: u64) -> Logic {
    let accumulator = u64::from(widths.accumulator_bits);
    let clamp = if widths.saturates {
        clamp_luts(accumulator)
    } else {
        0
    };
    Logic {
        luts: cols * (accumulator + clamp),
        ffs: 0,
    }
}

/// Returns the LUTs of a clamp that saturates a `bits + 1`-bit sum to
/// `bits` bits: a multiplexer per bit and two comparisons against the
/// constant bounds, each about `bits / 4` LUTs on the carry chain.
fn clamp_luts(bits: u64) -> u64 {
    bits + 2 * bits.div_ceil(4)
}

/// Returns the bank-select multiplexers of double-buffered buffers: one LUT
/// per bit of each buffer's word, on its read port. Single-buffered
/// buffers need none.
pub fn bank_multiplexers(word_bits: &[u32], double_buffered: bool) -> Logic {
    if !double_buffered {
        return Logic::default();
    }
    let bits: u64 = word_bits.iter().map(|&bits| u64::from(bits)).sum();
    Logic { luts: bits, ffs: 0 }
}

/// Returns the controller and DRAM port: the constants [`CONTROL_LUTS`],
/// [`CONTROL_FFS`], [`DRAM_PORT_LUTS`] and [`DRAM_PORT_FFS`], plus a data path of
/// one LUT (multiplexer) and two flip-flops (read and write registers) per
/// bit of the port (`8 * bytes_per_cycle`).
pub fn control_and_dram(bytes_per_cycle: u32) -> Logic {
    let data_bits = 8 * u64::from(bytes_per_cycle);
    Logic {
        luts: CONTROL_LUTS + DRAM_PORT_LUTS + data_bits,
        ffs: CONTROL_FFS + DRAM_PORT_FFS + 2 * data_bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::multiplier::SharedOperand;
    use crate::resources::widths::MultiplierOperand;

    fn widths(activation: u8, weight: u8, accumulator: u8, saturates: bool) -> UnitWidths {
        UnitWidths {
            activation: MultiplierOperand {
                bits: activation,
                signed: true,
            },
            weight: MultiplierOperand {
                bits: weight,
                signed: true,
            },
            accumulator_bits: accumulator,
            activation_storage_bits: activation,
            weight_storage_bits: weight,
            subtracts_zero_point: false,
            saturates,
        }
    }

    fn plan(kind: MultiplierKind, products: u64, luts: u64) -> MultiplierPlan {
        MultiplierPlan {
            first: MultiplierOperand {
                bits: 9,
                signed: true,
            },
            second: MultiplierOperand {
                bits: 8,
                signed: true,
            },
            kind,
            products,
            dsps: products,
            luts,
            notes: Vec::new(),
        }
    }

    const ONE_DSP: MultiplierKind = MultiplierKind::Dsp {
        dsps_per_product: 1,
    };

    #[test]
    fn weight_stationary_shape_drops_first_and_bottom_rows() {
        let shape = MacShape::weight_stationary(4, 8);
        assert_eq!(
            (shape.cells, shape.adders, shape.sum_registers),
            (32, 24, 24)
        );
        let one_row = MacShape::weight_stationary(1, 8);
        assert_eq!((one_row.adders, one_row.sum_registers), (0, 0));
    }

    #[test]
    fn dsp_takes_adder_weight_and_wrapping_sum() {
        let shape = MacShape::weight_stationary(4, 4);
        let wrap = mac_cells(
            &widths(9, 8, 32, false),
            &plan(ONE_DSP, 16, 0),
            shape,
            DspInference::MultiplyAccumulate,
        );
        // Only the zeroing of invalid activations stays in fabric.
        assert_eq!(
            wrap,
            Logic {
                luts: 16 * 9,
                ffs: 0
            }
        );

        let saturate = mac_cells(
            &widths(9, 8, 32, true),
            &plan(ONE_DSP, 16, 0),
            shape,
            DspInference::MultiplyAccumulate,
        );
        assert_eq!(saturate.luts, 16 * 9 + 16 * (32 + 2 * 8));
        assert_eq!(saturate.ffs, 12 * 32, "the sum register leaves the DSP");
    }

    #[test]
    fn multiplier_only_dsp_keeps_fabric_sums() {
        let logic = mac_cells(
            &widths(9, 8, 24, false),
            &plan(ONE_DSP, 32, 0),
            MacShape::weight_stationary(8, 4),
            DspInference::MultiplierOnly,
        );
        assert_eq!(logic.luts, 32 * 9 + 28 * 24);
        assert_eq!(logic.ffs, 32 * 8 + 28 * 24);
    }

    #[test]
    fn wide_accumulator_adds_in_fabric() {
        let logic = mac_cells(
            &widths(9, 8, 64, false),
            &plan(ONE_DSP, 16, 0),
            MacShape::weight_stationary(4, 4),
            DspInference::MultiplyAccumulate,
        );
        assert_eq!(logic.luts, 16 * 9 + 12 * 64);
        assert_eq!(logic.ffs, 12 * 64, "weights stay in the B register");
    }

    #[test]
    fn lut_multiplier_adders_widen_to_the_sum() {
        let logic = mac_cells(
            &widths(4, 4, 16, false),
            &plan(MultiplierKind::Lut, 16, 16 * 24),
            MacShape::weight_stationary(4, 4),
            DspInference::MultiplyAccumulate,
        );
        // First row: the product alone, 3 adders of 8 bits. Other rows: 4
        // partial products summed into the 16-bit partial sum.
        assert_eq!(logic.luts, 4 * 3 * 8 + 12 * 4 * 16);
        assert_eq!(logic.ffs, 16 * 4 + 12 * 16);
    }

    #[test]
    fn packed_pairs_add_correction_and_sums_in_fabric() {
        let logic = mac_cells(
            &widths(9, 8, 32, false),
            &plan(
                MultiplierKind::PackedDsp {
                    shared: SharedOperand::Activation,
                },
                16,
                8 * 17,
            ),
            MacShape::output_stationary(4, 4),
            DspInference::MultiplyAccumulate,
        );
        // Zeroing, the pairs' correction, the fold sums, the accumulator
        // adders with their bias multiplexers, the drain multiplexers.
        assert_eq!(logic.luts, 16 * 9 + 8 * 17 + 3 * 16 * 32);
        assert_eq!(logic.ffs, 16 * 2 * 32);
    }

    #[test]
    fn output_stationary_pe_keeps_both_sums_in_fabric() {
        let shape = MacShape::output_stationary(4, 4);
        assert_eq!(
            (shape.cells, shape.adders, shape.sum_registers),
            (16, 32, 32)
        );
        for inference in [
            DspInference::MultiplyAccumulate,
            DspInference::MultiplierOnly,
        ] {
            let wrap = mac_cells(
                &widths(9, 8, 32, false),
                &plan(ONE_DSP, 16, 0),
                shape,
                inference,
            );
            assert_eq!(wrap.luts, 16 * (9 + 3 * 32), "{inference:?}");
            assert_eq!(wrap.ffs, 16 * 2 * 32, "{inference:?}: no P register");
        }

        let saturate = mac_cells(
            &widths(9, 8, 20, true),
            &plan(ONE_DSP, 16, 0),
            shape,
            DspInference::MultiplyAccumulate,
        );
        // Fold clamp 20 + 2 * 5; the accumulator clamp's multiplexer is
        // the drain multiplexer, so it adds its comparisons alone.
        assert_eq!(saturate.luts, 16 * (9 + 3 * 20 + 30 + 10));
    }

    #[test]
    fn vector_lane_has_no_zeroing_or_drain() {
        let shape = MacShape::vector_lanes(8);
        let wrap = mac_cells(
            &widths(9, 8, 32, false),
            &plan(ONE_DSP, 8, 0),
            shape,
            DspInference::MultiplyAccumulate,
        );
        assert_eq!(
            wrap,
            Logic {
                luts: 8 * 2 * 32,
                ffs: 8 * 2 * 32
            }
        );
        let saturate = mac_cells(
            &widths(9, 8, 20, true),
            &plan(ONE_DSP, 8, 0),
            shape,
            DspInference::MultiplyAccumulate,
        );
        assert_eq!(saturate.luts, 8 * (2 * 20 + 2 * 30));

        let lut_multipliers = mac_cells(
            &widths(4, 4, 16, false),
            &plan(MultiplierKind::Lut, 8, 8 * 24),
            shape,
            DspInference::MultiplyAccumulate,
        );
        // 4 partial products summed into the 16-bit fold sum, then the
        // accumulator adder.
        assert_eq!(lut_multipliers.luts, 8 * (4 * 16 + 16));
    }

    #[test]
    fn skew_uses_shift_registers_from_three_stages() {
        let stage_bits = 10;
        // Rows 1 and 2 delay by 1 and 2 stages in flip-flops, row 3 is one
        // SRL per bit.
        assert_eq!(skew(stage_bits, 4), Logic { luts: 10, ffs: 30 });
        assert_eq!(skew(stage_bits, 1), Logic::default());
        // Delays 3..=32 take one SRLC32E per bit, 33 and 34 take two.
        assert_eq!(
            skew(1, 35),
            Logic {
                luts: 30 + 2 * 2,
                ffs: 3
            }
        );
    }

    #[test]
    fn activation_passes_right_except_last_column() {
        let path = array_operand_paths(&widths(9, 8, 32, false), 4, 4, Dataflow::WeightStationary);
        assert_eq!(path.ffs, 4 * 3 * 10 + 30);
        assert_eq!(path.luts, 10);
        let output_stationary =
            array_operand_paths(&widths(9, 8, 32, false), 4, 4, Dataflow::OutputStationary);
        assert_eq!(
            output_stationary.ffs - path.ffs,
            3 * 8 + 3 * 4 * 8 + 3 * 6,
            "weight skew (columns 1 and 2), weights passed down (rows 0 to 2), \
             fold flags delayed by 1 to 6 cycles"
        );
        assert_eq!(
            output_stationary.luts - path.luts,
            8,
            "weight skew, column 3"
        );
    }

    #[test]
    fn barrel_shifter_levels_table() {
        assert_eq!(barrel_shifter_levels(2), 1);
        assert_eq!(barrel_shifter_levels(16), 2);
        assert_eq!(barrel_shifter_levels(32), 3);
        assert_eq!(barrel_shifter_levels(33), 3);
        assert_eq!(barrel_shifter_levels(48), 3);
        assert_eq!(barrel_shifter_levels(64), 3);
        assert_eq!(barrel_shifter_levels(65), 4);
    }

    #[test]
    fn accumulator_adders_per_column() {
        assert_eq!(
            accumulator_adders(&widths(9, 8, 32, false), 4),
            Logic {
                luts: 4 * 32,
                ffs: 0
            }
        );
        assert_eq!(
            accumulator_adders(&widths(9, 8, 32, true), 4).luts,
            4 * (32 + 32 + 2 * 8)
        );
        assert_eq!(clamp_luts(20), 30);
        assert_eq!(clamp_luts(17), 17 + 2 * 5);
    }

    #[test]
    fn bank_multiplexers_only_when_double_buffered() {
        assert_eq!(bank_multiplexers(&[64, 128], false), Logic::default());
        assert_eq!(bank_multiplexers(&[64, 128], true).luts, 192);
    }

    #[test]
    fn control_grows_with_port_width() {
        let narrow = control_and_dram(8);
        let wide = control_and_dram(16);
        assert_eq!(wide.luts - narrow.luts, 64);
        assert_eq!(wide.ffs - narrow.ffs, 128);
    }
}
