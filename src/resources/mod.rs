//! Resource estimate of the accelerator on its FPGA part: DSP slices, block
//! RAM, UltraRAM, LUTs and flip-flops, and whether the design fits.
//!
//! [`estimate`] builds a [`ResourceReport`] from a hardware description and,
//! optionally, the model it runs (whose per-layer overrides may widen the
//! hardware). The model, its formulas and its assumptions are in
//! docs/resources.md.
//!
//! | part | file |
//! |---|---|
//! | widths each unit must support | [`widths`] |
//! | multipliers: LUT, packed DSP48E2 pairs, tiled DSPs | [`multiplier`] |
//! | buffers on BRAM36, BRAM18 and UltraRAM | [`memory`] |
//! | LUTs and flip-flops | [`logic`] |
//!
//! Limitation: every figure is an estimate from a first-order model of the
//! hardware template, not a synthesis result. `tests/rtl_yosys.rs` checks
//! the DSPs, LUTs and flip-flops of both arrays and of the vector unit's
//! lanes, and the buffers' block RAM, against Yosys 0.23 `synth_xilinx` of
//! the reference RTL (LUTs and flip-flops within 25 %). The PPU, the control and Vivado are not checked, so treat
//! a design near a resource limit as uncertain.
//!
//! ```
//! use fxsim::hw::HwConfig;
//!
//! let hw = HwConfig::from_toml_str("[array]\nrows = 8\ncols = 8\n", "example.toml")?;
//! let report = fxsim::resources::estimate(&hw, None);
//! assert!(report.fits, "{}", report.message);
//! // 64 processing elements with one DSP48E1 each, plus the PPU's
//! // requantisation multipliers.
//! assert_eq!(report.array.multiplier.dsps, 64);
//! # Ok::<(), fxsim::hw::HwError>(())
//! ```

pub mod logic;
pub mod memory;
pub mod multiplier;
pub mod widths;

use crate::hw::{Dataflow, DepthwiseUnit, Device, DspType, HwConfig};
use crate::model::Graph;
use logic::{DspInference, Logic, MacShape};
use memory::{Buffer, BufferEstimate};
use multiplier::{MultiplierKind, MultiplierOptions, MultiplierPlan};
use serde::Serialize;
use widths::{MultiplierOperand, PpuNeeds, UnitDatapaths, UnitWidths};

/// Use above this fraction of a resource is flagged in the notes: placement
/// and timing closure get hard on a nearly full part.
const CROWDED_FRACTION: f64 = 0.8;

/// The resource estimate of one hardware description.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceReport {
    /// The part's name (`xc7z020`).
    pub part: String,
    pub dsp_type: DspType,
    /// The MAC array: `rows x cols` processing elements.
    pub array: UnitEstimate,
    /// The depthwise vector unit, present when `depthwise = "vector"`.
    pub vector_unit: Option<UnitEstimate>,
    /// The post-processing unit.
    pub ppu: PpuEstimate,
    /// The four buffers, in the order input, weight, accumulator, output.
    pub buffers: Vec<BufferEstimate>,
    /// Resources by part of the design.
    pub components: Vec<ComponentUsage>,
    /// Resources of the whole design.
    pub totals: ResourceTotals,
    /// Each resource against what the part has.
    pub usage: Vec<ResourceUsage>,
    /// True when every resource is within the part's.
    pub fits: bool,
    /// `fits xc7z020 ...` or `does not fit: needs 300 DSP48E1, xc7z020 has
    /// 220`.
    pub message: String,
    /// Settings that had no effect or a surprising one, and crowded
    /// resources.
    pub notes: Vec<String>,
}

/// A multiply-accumulate unit: the MAC array or the depthwise vector unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitEstimate {
    /// Processing elements (array) or lanes (vector unit).
    pub cells: u64,
    pub widths: UnitWidths,
    pub multiplier: MultiplierPlan,
    /// Fabric logic, the multipliers' included.
    pub logic: Logic,
}

/// The post-processing unit: one lane per array column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PpuEstimate {
    pub lanes: u64,
    pub needs: PpuNeeds,
    /// The requantisation multipliers; `None` when every layer requantises
    /// with a shift only.
    pub multiplier: Option<MultiplierPlan>,
    /// Fabric logic, the multipliers' included.
    pub logic: Logic,
}

/// Resources of one part of the design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentUsage {
    /// `array`, `vector unit`, `ppu`, `buffers` or `control`.
    pub component: &'static str,
    pub dsp: u64,
    pub bram36: u64,
    pub bram18: u64,
    pub uram: u64,
    pub lut: u64,
    pub ff: u64,
}

/// Resources of the whole design.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResourceTotals {
    pub dsp: u64,
    pub bram36: u64,
    pub bram18: u64,
    pub uram: u64,
    pub lut: u64,
    pub ff: u64,
}

impl ResourceTotals {
    /// Returns the block RAM in BRAM36 sites, a BRAM18 counting half, as
    /// Vivado reports "Block RAM Tile".
    pub fn bram36_sites(&self) -> f64 {
        self.bram36 as f64 + self.bram18 as f64 / 2.0
    }
}

/// A kind of FPGA resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Dsp,
    /// Block RAM in BRAM36 sites.
    Bram36,
    Uram,
    Lut,
    Ff,
}

/// One resource against the part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceUsage {
    pub resource: Resource,
    /// Name for people: `DSP48E1`, `BRAM36`, `URAM`, `LUT`, `FF`.
    pub name: String,
    /// Used; block RAM counts a BRAM18 as half a BRAM36.
    pub used: f64,
    /// On the part.
    pub available: u64,
    /// `100 * used / available`; `None` when the part has none.
    pub percent: Option<f64>,
}

impl ResourceUsage {
    /// Tests whether the use is within the part's.
    pub fn fits(&self) -> bool {
        self.used <= self.available as f64
    }
}

impl ResourceReport {
    /// Returns the row of `resource` in [`ResourceReport::usage`].
    pub fn usage_of(&self, resource: Resource) -> Option<&ResourceUsage> {
        self.usage.iter().find(|usage| usage.resource == resource)
    }
}

/// Estimates the resources of the accelerator `hw` describes.
///
/// With `graph`, the array is sized for the widest operands and
/// accumulator of the layers that run on it, per-layer overrides applied.
/// Without it, for `[datapath]` and every `[[layer]]` entry. Every figure is
/// an estimate (see the module documentation).
pub fn estimate(hw: &HwConfig, graph: Option<&Graph>) -> ResourceReport {
    let device = hw.device.part.device();
    let units = UnitDatapaths::collect(hw, graph);
    let options = MultiplierOptions {
        dsp_type: device.dsp_type,
        lut_max_bits: hw.array.lut_multiplier_max_bits,
        dsp_packing: hw.array.dsp_packing,
    };

    let array = estimate_array(hw, units.array_widths(), options);
    let vector_unit = match hw.array.depthwise {
        DepthwiseUnit::Vector => Some(estimate_vector_unit(hw, units.vector_widths(), options)),
        DepthwiseUnit::Array => None,
    };
    let ppu = estimate_ppu(hw, units.ppu_needs(), options);

    let buffer_widths = match &vector_unit {
        Some(vector) => array.widths.join(vector.widths),
        None => array.widths,
    };
    let (rows, cols) = (hw.array.rows, hw.array.cols);
    let word_bits = |buffer: Buffer| memory::word_bits(buffer, rows, cols, &buffer_widths);
    let uram_available = if hw.buffers.uram {
        u64::from(device.uram)
    } else {
        0
    };
    let buffers = memory::estimate_buffers(&hw.buffers, word_bits, uram_available);

    let components = components(hw, &array, vector_unit.as_ref(), &ppu, &buffers);
    let totals = sum_components(&components);
    let usage = usage_rows(device, &totals);
    let (fits, message) = fit_message(device, &usage);
    let notes = notes(hw, device, &array, vector_unit.as_ref(), &ppu, &usage);

    ResourceReport {
        part: device.name.to_string(),
        dsp_type: device.dsp_type,
        array,
        vector_unit,
        ppu,
        buffers,
        components,
        totals,
        usage,
        fits,
        message,
        notes,
    }
}

fn estimate_array(hw: &HwConfig, widths: UnitWidths, options: MultiplierOptions) -> UnitEstimate {
    let cells = u64::from(hw.array.rows) * u64::from(hw.array.cols);
    let pairings = multiplier::array_pairings(&hw.array);
    let plan = multiplier::plan(widths.activation, widths.weight, cells, &pairings, options);
    let (rows, cols) = (hw.array.rows, hw.array.cols);
    let shape = match hw.array.dataflow {
        Dataflow::WeightStationary => MacShape::weight_stationary(rows, cols),
        Dataflow::OutputStationary => MacShape::output_stationary(rows, cols),
    };
    let logic = logic::mac_cells(&widths, &plan, shape, DspInference::MultiplyAccumulate)
        + logic::array_operand_paths(&widths, rows, cols, hw.array.dataflow)
        + logic::zero_point_subtractors(&widths, u64::from(hw.array.rows));
    UnitEstimate {
        cells,
        widths,
        multiplier: plan,
        logic,
    }
}

/// Estimates the vector unit: one lane per array column, as the timing
/// model assumes. Each lane has its own activation and weight, so no two
/// lanes share an operand and none pack. The operands come straight from
/// the buffers' read ports, as in `fx_vector_core.v`, so the lanes have no
/// operand registers.
// NOTE: the hardware description has no key for the lane count yet.
fn estimate_vector_unit(
    hw: &HwConfig,
    widths: UnitWidths,
    options: MultiplierOptions,
) -> UnitEstimate {
    let lanes = u64::from(hw.array.cols);
    let plan = multiplier::plan(widths.activation, widths.weight, lanes, &[], options);
    let shape = MacShape::vector_lanes(lanes);
    let logic = logic::mac_cells(&widths, &plan, shape, DspInference::MultiplyAccumulate)
        + logic::zero_point_subtractors(&widths, lanes);
    UnitEstimate {
        cells: lanes,
        widths,
        multiplier: plan,
        logic,
    }
}

/// Estimates the PPU: one lane per array column, because both dataflows
/// deliver one row of `cols` accumulators per cycle. Each lane multiplies a
/// signed accumulator by the channel's requantisation multiplier.
fn estimate_ppu(hw: &HwConfig, needs: PpuNeeds, options: MultiplierOptions) -> PpuEstimate {
    let lanes = u64::from(hw.array.cols);
    let multiplier = (needs.multiplier_bits > 0).then(|| {
        let accumulator = MultiplierOperand {
            bits: needs.accumulator_bits,
            signed: true,
        };
        let scale = MultiplierOperand {
            bits: needs.multiplier_bits,
            signed: true,
        };
        let no_packing = MultiplierOptions {
            dsp_packing: false,
            ..options
        };
        multiplier::plan(accumulator, scale, lanes, &[], no_packing)
    });
    let logic = logic::ppu_lanes(&needs, multiplier.as_ref(), lanes);
    PpuEstimate {
        lanes,
        needs,
        multiplier,
        logic,
    }
}

fn components(
    hw: &HwConfig,
    array: &UnitEstimate,
    vector_unit: Option<&UnitEstimate>,
    ppu: &PpuEstimate,
    buffers: &[BufferEstimate],
) -> Vec<ComponentUsage> {
    let logic_only = |component, dsp, logic: Logic| ComponentUsage {
        component,
        dsp,
        bram36: 0,
        bram18: 0,
        uram: 0,
        lut: logic.luts,
        ff: logic.ffs,
    };

    let mut rows = vec![logic_only("array", array.multiplier.dsps, array.logic)];
    if let Some(vector) = vector_unit {
        rows.push(logic_only(
            "vector unit",
            vector.multiplier.dsps,
            vector.logic,
        ));
    }
    let ppu_dsps = ppu.multiplier.as_ref().map_or(0, |plan| plan.dsps);
    rows.push(logic_only("ppu", ppu_dsps, ppu.logic));

    let word_bits: Vec<u32> = buffers.iter().map(|buffer| buffer.word_bits).collect();
    // An output-stationary PE adds each fold sum to its own accumulator, so
    // the accumulator buffer only stores finished sums (`fx_os_core.v`).
    let read_modify_write = match hw.array.dataflow {
        Dataflow::WeightStationary => {
            logic::accumulator_adders(&array.widths, u64::from(hw.array.cols))
        }
        Dataflow::OutputStationary => Logic::default(),
    };
    let buffer_logic =
        logic::bank_multiplexers(&word_bits, hw.buffers.double_buffered) + read_modify_write;
    rows.push(ComponentUsage {
        component: "buffers",
        dsp: 0,
        bram36: buffers.iter().map(|buffer| buffer.bram36).sum(),
        bram18: buffers.iter().map(|buffer| buffer.bram18).sum(),
        uram: buffers.iter().map(|buffer| buffer.uram).sum(),
        lut: buffer_logic.luts,
        ff: buffer_logic.ffs,
    });
    rows.push(logic_only(
        "control",
        0,
        logic::control_and_dram(hw.dram.bytes_per_cycle),
    ));
    rows
}

fn sum_components(components: &[ComponentUsage]) -> ResourceTotals {
    components
        .iter()
        .fold(ResourceTotals::default(), |total, row| ResourceTotals {
            dsp: total.dsp + row.dsp,
            bram36: total.bram36 + row.bram36,
            bram18: total.bram18 + row.bram18,
            uram: total.uram + row.uram,
            lut: total.lut + row.lut,
            ff: total.ff + row.ff,
        })
}

fn usage_rows(device: &Device, totals: &ResourceTotals) -> Vec<ResourceUsage> {
    let row = |resource, name: String, used: f64, available: u32| {
        let available = u64::from(available);
        let percent = (available > 0).then(|| 100.0 * used / available as f64);
        ResourceUsage {
            resource,
            name,
            used,
            available,
            percent,
        }
    };
    vec![
        row(
            Resource::Dsp,
            device.dsp_type.name().to_uppercase(),
            totals.dsp as f64,
            device.dsp,
        ),
        row(
            Resource::Bram36,
            "BRAM36".to_string(),
            totals.bram36_sites(),
            device.bram36,
        ),
        row(
            Resource::Uram,
            "URAM".to_string(),
            totals.uram as f64,
            device.uram,
        ),
        row(
            Resource::Lut,
            "LUT".to_string(),
            totals.lut as f64,
            device.lut,
        ),
        row(Resource::Ff, "FF".to_string(), totals.ff as f64, device.ff),
    ]
}

/// Returns whether every resource fits, and a message that names the
/// fullest resource or lists each resource over the part's limit.
fn fit_message(device: &Device, usage: &[ResourceUsage]) -> (bool, String) {
    let over: Vec<String> = usage
        .iter()
        .filter(|row| !row.fits())
        .map(|row| {
            format!(
                "needs {} {}, {} has {}",
                format_count(row.used),
                row.name,
                device.name,
                row.available
            )
        })
        .collect();
    if !over.is_empty() {
        return (false, format!("does not fit: {}", over.join("; ")));
    }

    let fullest = usage
        .iter()
        .filter_map(|row| row.percent.map(|percent| (percent, &row.name)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let message = match fullest {
        Some((percent, name)) => format!("fits {} (fullest: {name} at {percent:.1}%)", device.name),
        None => format!("fits {}", device.name),
    };
    (true, message)
}

/// Formats a resource count: whole numbers without a fraction, half BRAM36
/// sites with one decimal.
pub fn format_count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn notes(
    hw: &HwConfig,
    device: &Device,
    array: &UnitEstimate,
    vector_unit: Option<&UnitEstimate>,
    ppu: &PpuEstimate,
    usage: &[ResourceUsage],
) -> Vec<String> {
    let mut notes = Vec::new();
    let mut units = vec![("array", array)];
    if let Some(vector) = vector_unit {
        units.push(("vector unit", vector));
    }
    for (name, unit) in &units {
        if let Some(note) = widened_by_layers(hw, unit) {
            notes.push(format!("{name}: {note}"));
        }
        for note in &unit.multiplier.notes {
            notes.push(format!("{name}: {note}"));
        }
        if let Some(note) = subtract_blocks_lut_multipliers(hw, unit) {
            notes.push(format!("{name}: {note}"));
        }
    }
    if let Some(plan) = &ppu.multiplier {
        if let MultiplierKind::Dsp { dsps_per_product } = plan.kind {
            if dsps_per_product > 1 {
                notes.push(format!(
                    "ppu: each {} x {} bit requantisation product takes {dsps_per_product} {} \
                     slices; requant mode \"fixed\" with fewer multiplier_bits, or \"shift\", \
                     takes fewer",
                    plan.first.bits,
                    plan.second.bits,
                    device.dsp_type.name().to_uppercase()
                ));
            }
        }
    }
    if hw.buffers.uram && device.uram == 0 {
        notes.push(format!(
            "buffers.uram has no effect: {} has no UltraRAM",
            device.name
        ));
    }
    for row in usage.iter().filter(|row| row.fits()) {
        if let Some(percent) = row.percent {
            if percent > 100.0 * CROWDED_FRACTION {
                notes.push(format!(
                    "{} use is {percent:.1}% of the part; placement and timing closure get hard \
                     above {:.0}%",
                    row.name,
                    100.0 * CROWDED_FRACTION
                ));
            }
        }
    }
    notes
}

/// Returns a note on how `[[layer]]` overrides widened a unit beyond what `[datapath]`
/// alone needs, because a designer may not expect one layer to size the
/// whole unit.
fn widened_by_layers(hw: &HwConfig, unit: &UnitEstimate) -> Option<String> {
    let base = UnitWidths::of(&hw.datapath);
    let widths = &unit.widths;
    let mut changes = Vec::new();
    if (widths.activation.bits, widths.weight.bits) != (base.activation.bits, base.weight.bits) {
        changes.push(format!(
            "products of {} x {} bits instead of the {} x {} bits of [datapath]",
            widths.activation.bits, widths.weight.bits, base.activation.bits, base.weight.bits
        ));
    }
    if widths.accumulator_bits != base.accumulator_bits {
        changes.push(format!(
            "accumulators of {} bits instead of {}",
            widths.accumulator_bits, base.accumulator_bits
        ));
    }
    (!changes.is_empty()).then(|| {
        format!(
            "[[layer]] overrides size the unit for its widest layer: {}",
            changes.join(", ")
        )
    })
}

/// Returns a note for a unit that misses the LUT multiplier threshold only because
/// `zero_point = "subtract"` widened its activation operand by one bit.
fn subtract_blocks_lut_multipliers(hw: &HwConfig, unit: &UnitEstimate) -> Option<String> {
    let threshold = hw.array.lut_multiplier_max_bits;
    let widths = &unit.widths;
    let missed = threshold > 0 && unit.multiplier.kind != MultiplierKind::Lut;
    let fold_would_fit = widths.subtracts_zero_point
        && widths.activation_storage_bits <= threshold
        && widths.weight.bits <= threshold;
    (missed && fold_would_fit).then(|| {
        format!(
            "the activation operand is {} bits because zero_point = \"subtract\" feeds x - zx \
             to the multiplier; zero_point = \"fold\" keeps it at {} bits, within \
             lut_multiplier_max_bits = {threshold}",
            widths.activation.bits, widths.activation_storage_bits
        )
    })
}
