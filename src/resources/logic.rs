//! LUTs and flip-flops of the processing elements, the post-processing unit
//! (PPU), the buffers' bank multiplexers, the DRAM port and the control.
//!
//! Limitation: a first-order estimate from register and adder bit counts:
//! one LUT per adder or multiplexer bit, one flip-flop per register bit,
//! and constants for the control. Routing, retiming, replication for fanout
//! and what synthesis optimises away are not modelled, and the constants
//! have not been calibrated against synthesis yet.

use super::multiplier::{MultiplierKind, MultiplierPlan};
use super::widths::{PpuNeeds, UnitWidths};
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
/// Width of the LFSR behind stochastic rounding.
const LFSR_BITS: u64 = 32;
/// Bits of a per-channel shift amount in the PPU (shifts up to 63).
const SHIFT_AMOUNT_BITS: u64 = 6;

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

/// Returns the logic of `pes` multiply-accumulate cells (processing elements of
/// the array or lanes of the vector unit) built as `multiplier` plans.
///
/// Each cell registers its activation and weight operands. Its partial-sum
/// adder and register, `accumulator_bits` wide, are the DSP's post-adder and
/// P register when the product has its own DSP and the accumulator is at
/// most 48 bits. Otherwise they are fabric, one LUT and one flip-flop per
/// bit. Packed pairs add in fabric, because one DSP cannot keep two
/// independent sums. Saturation adds a clamp of one LUT per accumulator bit
/// after each adder.
pub fn mac_cells(widths: &UnitWidths, multiplier: &MultiplierPlan, pes: u64) -> Logic {
    let accumulator = u64::from(widths.accumulator_bits);
    let sum_in_dsp = matches!(multiplier.kind, MultiplierKind::Dsp { .. })
        && widths.accumulator_bits <= DSP_ACCUMULATOR_BITS;

    let operand_ffs = u64::from(widths.activation.bits) + u64::from(widths.weight.bits);
    let sum_bits = if sum_in_dsp { 0 } else { accumulator };
    let clamp_luts = if widths.saturates { accumulator } else { 0 };

    let per_cell = Logic {
        luts: sum_bits + clamp_luts,
        ffs: operand_ffs + sum_bits,
    };
    Logic {
        luts: pes * per_cell.luts + multiplier.luts,
        ffs: pes * per_cell.ffs + multiplier.ffs,
    }
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
        ffs: plan.ffs,
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
