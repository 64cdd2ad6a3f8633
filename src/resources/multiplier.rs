//! Multiplier implementations of a compute unit: LUTs below a width
//! threshold, two products per DSP48E2 where neighbouring processing
//! elements share an operand, or one or more DSP slices per product.
//!
//! Limitation: an estimate from port widths and an adder-per-partial-product
//! model. It does not know what synthesis would infer (Yosys and Vivado may
//! build a narrow product in LUTs on their own), so `lut_multiplier_max_bits`
//! has to say it. DSP counts, and the LUTs of 4 x 4 bit LUT multipliers,
//! agree with Yosys 0.23 in `tests/rtl_yosys.rs`. Packing is not checked.

use super::widths::MultiplierOperand;
use crate::hw::{ArrayConfig, DspType};
use serde::Serialize;

/// Width of the DSP48E2 pre-adder output that feeds the multiplier's wide
/// port. Packing places two operands in it.
const PACKED_PORT_BITS: u32 = 27;
/// Width of the narrow multiplier port of both DSP slice types. Packing
/// places the shared operand in it.
const SHARED_PORT_BITS: u32 = 18;

/// The operand two packed products have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedOperand {
    /// The activation, shared by neighbouring processing elements (PEs) of
    /// one row; the two weights are packed.
    Activation,
    /// The weight, shared by neighbouring PEs of one column; the two
    /// activations are packed.
    Weight,
}

/// Implementation of each product of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MultiplierKind {
    /// In LUT fabric, no DSP.
    Lut,
    /// `dsps_per_product` DSP slices per product: 1 when the operands fit
    /// the ports, more when a wide product is tiled.
    Dsp { dsps_per_product: u32 },
    /// Two products per DSP48E2, with `shared` the operand they have in
    /// common.
    PackedDsp { shared: SharedOperand },
}

/// The multipliers of one unit and what they cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultiplierPlan {
    /// The first operand (the activation in a processing element, the
    /// accumulator in the PPU).
    pub first: MultiplierOperand,
    /// The second operand (the weight in a processing element, the
    /// requantisation multiplier in the PPU).
    pub second: MultiplierOperand,
    pub kind: MultiplierKind,
    /// Products computed in parallel.
    pub products: u64,
    pub dsps: u64,
    /// LUTs of LUT multipliers on their own (see [`lut_multiplier_luts`]),
    /// or of the correction logic of packed pairs.
    pub luts: u64,
    /// Reasons packing or LUT multipliers were not used where configured.
    pub notes: Vec<String>,
}

/// Two neighbouring products that can share one DSP48E2: the shared
/// operand, and how many DSPs the unit needs when every pair is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pairing {
    pub shared: SharedOperand,
    pub dsps: u64,
}

/// Returns the ways a `rows x cols` array can pair its products for
/// packing, in order of preference.
///
/// Weight-stationary: each PE keeps its weight, and the activation of a
/// row passes from PE to PE along the row, so two neighbouring PEs of a row
/// share the activation: `rows * ceil(cols / 2)` DSPs.
/// Output-stationary: activations pass along rows and weights down
/// columns, so either pairing works; the row pairing comes first.
pub fn array_pairings(array: &ArrayConfig) -> Vec<Pairing> {
    let rows = u64::from(array.rows);
    let cols = u64::from(array.cols);
    let along_rows = Pairing {
        shared: SharedOperand::Activation,
        dsps: rows * cols.div_ceil(2),
    };
    let along_columns = Pairing {
        shared: SharedOperand::Weight,
        dsps: cols * rows.div_ceil(2),
    };
    match array.dataflow {
        crate::hw::Dataflow::WeightStationary => vec![along_rows],
        crate::hw::Dataflow::OutputStationary => vec![along_rows, along_columns],
    }
}

/// The settings that choose a multiplier implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiplierOptions {
    pub dsp_type: DspType,
    /// Both operands at most this wide build a LUT multiplier; 0 never.
    pub lut_max_bits: u8,
    pub dsp_packing: bool,
}

/// Plans `products` multipliers of `first x second`, choosing in order:
/// LUT multipliers when both operands are at most `lut_max_bits` wide,
/// packed DSP48E2 pairs when packing is on and a pairing fits
/// ([`packing_fits`]), else [`dsps_per_product`] slices each.
pub fn plan(
    first: MultiplierOperand,
    second: MultiplierOperand,
    products: u64,
    pairings: &[Pairing],
    options: MultiplierOptions,
) -> MultiplierPlan {
    let mut plan = MultiplierPlan {
        first,
        second,
        kind: MultiplierKind::Lut,
        products,
        dsps: 0,
        luts: 0,
        notes: Vec::new(),
    };

    let threshold = options.lut_max_bits;
    let in_luts = threshold > 0 && first.bits <= threshold && second.bits <= threshold;
    if in_luts {
        plan.luts = products * lut_multiplier_luts(first, second);
        return plan;
    }
    if threshold > 0 {
        plan.notes.push(format!(
            "{} x {} bit products exceed lut_multiplier_max_bits = {threshold}, so they use DSPs",
            first.bits, second.bits
        ));
    }

    if options.dsp_packing {
        match packed_pairing(first, second, pairings, options.dsp_type) {
            Ok(pairing) => {
                let (packed, shared) = split(first, second, pairing.shared);
                plan.kind = MultiplierKind::PackedDsp {
                    shared: pairing.shared,
                };
                plan.dsps = pairing.dsps;
                plan.luts = pairing.dsps * u64::from(packed.port_bits() + shared.port_bits());
                return plan;
            }
            Err(reason) => plan.notes.push(reason),
        }
    }

    let per_product = dsps_per_product(first.port_bits(), second.port_bits(), options.dsp_type);
    plan.kind = MultiplierKind::Dsp {
        dsps_per_product: per_product,
    };
    plan.dsps = products * u64::from(per_product);
    plan
}

/// Returns `(packed, shared)` operands for a pairing that shares `shared`.
fn split(
    activation: MultiplierOperand,
    weight: MultiplierOperand,
    shared: SharedOperand,
) -> (MultiplierOperand, MultiplierOperand) {
    match shared {
        SharedOperand::Activation => (weight, activation),
        SharedOperand::Weight => (activation, weight),
    }
}

/// Returns the first pairing whose operands pack, or a note with the reason
/// none does.
fn packed_pairing(
    activation: MultiplierOperand,
    weight: MultiplierOperand,
    pairings: &[Pairing],
    dsp_type: DspType,
) -> Result<Pairing, String> {
    if dsp_type != DspType::Dsp48e2 {
        return Err(format!(
            "dsp_packing has no effect: packing needs DSP48E2 slices (27-bit pre-adder), the \
             part has {}",
            dsp_type.name().to_uppercase()
        ));
    }
    if pairings.is_empty() {
        return Err("dsp_packing does not apply: no two products share an operand".to_string());
    }
    let fitting = pairings.iter().find(|pairing| {
        let (packed, shared) = split(activation, weight, pairing.shared);
        packing_fits(packed, shared)
    });
    fitting.copied().ok_or_else(|| {
        let (packed, shared) = split(activation, weight, pairings[0].shared);
        format!(
            "dsp_packing has no effect: two {}-bit operands and a {}-bit shared operand need \
             {} bits, more than the {PACKED_PORT_BITS}-bit pre-adder",
            packed.port_bits(),
            shared.port_bits(),
            2 * packed.port_bits() + shared.port_bits()
        )
    })
}

/// Tests whether two products `packed_1 * shared` and `packed_2 * shared`
/// fit one DSP48E2.
///
/// The pre-adder forms `(packed_1 << k) + packed_2` on the 27-bit wide
/// port, and the shared operand enters the 18-bit port. The low product
/// `packed_2 * shared` needs `p + s` bits (port widths `p`, `s`), so the
/// offset `k` is at least `p + s`. The high operand needs `p` bits above
/// it. Hence `2p + s <= 27` and `s <= 18`: int8 weights and a 9-bit
/// activation (`x - zx`) need 25 bits and fit, 10-bit weights do not.
/// The low product's sign borrows one from the high field, which fabric
/// logic adds back (counted as `p + s` LUTs per DSP).
pub fn packing_fits(packed: MultiplierOperand, shared: MultiplierOperand) -> bool {
    let p = packed.port_bits();
    let s = shared.port_bits();
    2 * p + s <= PACKED_PORT_BITS && s <= SHARED_PORT_BITS
}

/// Returns the DSP slices one product of two's complement operands of `a` and
/// `b` bits needs on `dsp_type`, with either operand on either port.
///
/// A product that fits the ports takes one slice. A wider product is tiled:
/// each operand is cut into pieces of a port's width ([`pieces`]), every
/// pair of pieces takes one slice, and the partial products are summed,
/// shifted, through the slices' cascade adders. So a 32 x 32 product takes
/// 2 x 2 = 4 slices on both slice types.
pub fn dsps_per_product(a: u32, b: u32, dsp_type: DspType) -> u32 {
    let (wide, narrow) = dsp_type.multiplier_widths();
    let (wide, narrow) = (u32::from(wide), u32::from(narrow));
    let straight = pieces(a, wide) * pieces(b, narrow);
    let crossed = pieces(a, narrow) * pieces(b, wide);
    straight.min(crossed)
}

/// Returns the pieces an `n`-bit two's complement operand is cut into for a
/// `port`-bit two's complement port. The top piece keeps the sign and
/// takes `port` bits. Every lower piece is unsigned and takes `port - 1`
/// bits, because its top port bit must stay 0.
pub fn pieces(n: u32, port: u32) -> u32 {
    if n <= port {
        1
    } else {
        1 + (n - port).div_ceil(port - 1)
    }
}

/// Returns the LUTs of one LUT multiplier on its own: a shift-and-add
/// array.
///
/// An `a x b` product has `m = min(a, b)` partial products, each a row of
/// AND gates. `m - 1` carry-chain adders of `a + b` bits sum them, and each
/// adder cell's LUT also forms its partial-product bit, so the cost is
/// `(m - 1) * (a + b)`. One partial product (`m = 1`) is `max(a, b)` AND
/// gates. Yosys 0.23 builds a 4 x 4 product with its operand gating in about
/// 30 LUTs (this formula: 24). A product that feeds an adder costs more,
/// because its adders widen to the sum (see
/// [`mac_cells`](super::logic::mac_cells)).
pub fn lut_multiplier_luts(first: MultiplierOperand, second: MultiplierOperand) -> u64 {
    let (a, b) = (u64::from(first.bits), u64::from(second.bits));
    let partial_products = a.min(b);
    if partial_products <= 1 {
        a.max(b)
    } else {
        (partial_products - 1) * (a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operand(bits: u8, signed: bool) -> MultiplierOperand {
        MultiplierOperand { bits, signed }
    }

    fn options(dsp_type: DspType, lut_max_bits: u8, dsp_packing: bool) -> MultiplierOptions {
        MultiplierOptions {
            dsp_type,
            lut_max_bits,
            dsp_packing,
        }
    }

    #[test]
    fn dsps_per_product_table() {
        let cases = [
            (9, 8, DspType::Dsp48e1, 1),
            (25, 18, DspType::Dsp48e1, 1),
            (18, 25, DspType::Dsp48e1, 1),
            (26, 18, DspType::Dsp48e1, 2),
            (26, 18, DspType::Dsp48e2, 1),
            (27, 18, DspType::Dsp48e2, 1),
            (19, 19, DspType::Dsp48e2, 2),
            (32, 32, DspType::Dsp48e1, 4),
            (32, 32, DspType::Dsp48e2, 4),
            (32, 16, DspType::Dsp48e1, 2),
            (24, 32, DspType::Dsp48e1, 2),
            (64, 32, DspType::Dsp48e1, 6),
        ];
        for (a, b, dsp_type, expected) in cases {
            assert_eq!(
                dsps_per_product(a, b, dsp_type),
                expected,
                "{a} x {b} on {dsp_type}"
            );
        }
    }

    #[test]
    fn lut_multiplier_luts_table() {
        let cases = [
            (1, 8, 8),
            (8, 1, 8),
            (2, 2, 4),
            (4, 4, 24),
            (4, 8, 36),
            (8, 8, 112),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                lut_multiplier_luts(operand(a, true), operand(b, true)),
                expected,
                "{a} x {b}"
            );
        }
    }

    #[test]
    fn pieces_keep_one_port_bit_for_lower_sign() {
        assert_eq!(pieces(18, 18), 1);
        assert_eq!(pieces(19, 18), 2);
        assert_eq!(pieces(35, 18), 2);
        assert_eq!(pieces(36, 18), 3);
    }

    #[test]
    fn packing_condition_table() {
        let int8 = operand(8, true);
        let nine = operand(9, true);
        assert!(packing_fits(int8, nine));
        assert!(packing_fits(int8, int8));
        assert!(packing_fits(operand(9, true), nine));
        assert!(!packing_fits(operand(10, true), int8));
        assert!(!packing_fits(operand(8, false), operand(10, true)));
        assert!(!packing_fits(operand(4, true), operand(19, true)));
    }

    #[test]
    fn plan_prefers_luts_then_packing_then_dsps() {
        let pairings = [Pairing {
            shared: SharedOperand::Activation,
            dsps: 8,
        }];
        let a = operand(4, true);
        let w = operand(4, true);
        let lut = plan(a, w, 16, &pairings, options(DspType::Dsp48e2, 4, true));
        assert_eq!(lut.kind, MultiplierKind::Lut);
        // Three 8-bit adders sum the four partial products of each product.
        assert_eq!((lut.dsps, lut.luts), (0, 16 * 3 * 8));

        let packed = plan(a, w, 16, &pairings, options(DspType::Dsp48e2, 3, true));
        assert_eq!(packed.dsps, 8);
        assert_eq!(packed.luts, 8 * 8);

        let plain = plan(a, w, 16, &pairings, options(DspType::Dsp48e1, 0, true));
        assert_eq!(plain.dsps, 16);
        assert_eq!(plain.notes.len(), 1, "{:?}", plain.notes);
        assert!(plain.notes[0].contains("DSP48E1"), "{:?}", plain.notes);
    }

    #[test]
    fn output_stationary_falls_back_to_columns() {
        let pairings = [
            Pairing {
                shared: SharedOperand::Activation,
                dsps: 1,
            },
            Pairing {
                shared: SharedOperand::Weight,
                dsps: 2,
            },
        ];
        let wide_weight = operand(12, true);
        let narrow_activation = operand(4, true);
        let result = plan(
            narrow_activation,
            wide_weight,
            4,
            &pairings,
            options(DspType::Dsp48e2, 0, true),
        );
        assert_eq!(
            result.kind,
            MultiplierKind::PackedDsp {
                shared: SharedOperand::Weight
            }
        );
        assert_eq!(result.dsps, 2);
    }
}
