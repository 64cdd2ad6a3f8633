//! `params.vh` and `layers.mem`: the array and base datapath as Verilog
//! `localparam`s, and one word of fixed fields per MAC layer with that
//! layer's own datapath (overrides applied).
//!
//! The field table [`LAYER_FIELDS`] is the single definition: the
//! localparams, the manifest's `layer_fields` and the packing all read it.
//! Limitation: a field value that does not fit its width is an error, so
//! layers with more than 2^32 - 1 pixels or K terms cannot be exported.

use super::layer::{multiplier_bits, MacLayer};
use super::mem::{fits, ImageSpec, MemWriter};
use super::{ExportError, FileEntry, LayerField, Role};
use crate::exec::{Datapath, MacKind, RequantMode, TfliteOverload, ZeroPointMode};
use crate::hw::{Dataflow, HwConfig};
use crate::numeric::{Overflow, Rounding};
use askama::Template;
use std::io::Write;

/// Name, width and signedness of each `layers.mem` field, from bit 0.
pub const LAYER_FIELDS: &[(&str, u32, bool)] = &[
    ("OP_INDEX", 16, false),
    ("KIND", 2, false),
    ("GROUPS", 16, false),
    ("M", 32, false),
    ("K", 32, false),
    ("N", 32, false),
    ("F", 32, false),
    ("T", 32, false),
    ("ACT_BITS", 5, false),
    ("ACT_SIGNED", 1, false),
    ("WEIGHT_BITS", 5, false),
    ("WEIGHT_SIGNED", 1, false),
    ("ACC_BITS", 7, false),
    ("ACC_SATURATE", 1, false),
    ("BIAS_POST", 1, false),
    ("ZERO_POINT_FOLD", 1, false),
    ("REQUANT_MODE", 3, false),
    ("MULT_BITS", 6, false),
    ("ROUNDING", 3, false),
    ("LFSR_SEED", 32, false),
    ("INPUT_ZERO_POINT", 16, true),
    ("OUTPUT_ZERO_POINT", 16, true),
    ("OUTPUT_MIN", 16, true),
    ("OUTPUT_MAX", 16, true),
];

/// Returns the fields with their bit offsets.
pub fn layer_fields() -> Vec<LayerField> {
    let mut lsb = 0;
    LAYER_FIELDS
        .iter()
        .map(|&(name, bits, signed)| {
            let field = LayerField {
                name: name.to_string(),
                lsb,
                bits,
                signed,
            };
            lsb += bits;
            field
        })
        .collect()
}

/// Width of one `layers.mem` word.
pub fn layer_word_bits() -> u32 {
    LAYER_FIELDS.iter().map(|&(_, bits, _)| bits).sum()
}

/// Returns the `DATAFLOW` code: 0 weight-stationary, 1 output-stationary.
pub fn dataflow_code(dataflow: Dataflow) -> u8 {
    match dataflow {
        Dataflow::WeightStationary => 0,
        Dataflow::OutputStationary => 1,
    }
}

/// Returns the `REQUANT_MODE` code and rounding of `mode`: 0 `tflite` with
/// TFLite's int32 overload, 4 `tflite` with its int64 overload (16x8 layers
/// the reference accumulates in 64 bits), 1 `single`, 2 `fixed`, 3 `shift`.
fn requant_code(mode: RequantMode, overload: TfliteOverload) -> (i64, Option<Rounding>) {
    match mode {
        RequantMode::Tflite => match overload {
            TfliteOverload::Int32 => (0, None),
            TfliteOverload::Int64 => (4, None),
        },
        RequantMode::Single { rounding } => (1, Some(rounding)),
        RequantMode::Fixed { rounding, .. } => (2, Some(rounding)),
        RequantMode::Shift { rounding } => (3, Some(rounding)),
    }
}

fn rounding_code(rounding: Option<Rounding>) -> i64 {
    match rounding {
        None | Some(Rounding::HalfAway) => 0,
        Some(Rounding::HalfUp) => 1,
        Some(Rounding::HalfEven) => 2,
        Some(Rounding::Truncate) => 3,
        Some(Rounding::Stochastic) => 4,
    }
}

/// One `layers.mem` word before packing: the operator index and the field
/// values in [`LAYER_FIELDS`] order.
#[derive(Debug, Clone)]
pub struct LayerRecord {
    pub index: usize,
    pub values: [i64; LAYER_FIELDS.len()],
}

/// Returns the `layers.mem` record of one layer.
pub fn layer_record(layer: &MacLayer) -> LayerRecord {
    LayerRecord {
        index: layer.index,
        values: layer_values(layer),
    }
}

fn layer_values(layer: &MacLayer) -> [i64; LAYER_FIELDS.len()] {
    let g = layer.geometry;
    let widths = layer.widths;
    let datapath = &layer.arithmetic.datapath;
    let image = layer.image;
    let (requant, rounding) = requant_code(datapath.requant, layer.arithmetic.tflite_overload);
    let kind = match image.kind {
        MacKind::Conv2d => 0,
        MacKind::DepthwiseConv2d => 1,
        MacKind::FullyConnected => 2,
    };
    let flag = |value: bool| i64::from(value);
    [
        layer.index as i64,
        kind,
        g.groups as i64,
        g.m as i64,
        g.k as i64,
        g.n as i64,
        g.folds as i64,
        g.tiles as i64,
        i64::from(widths.activation_bits),
        flag(widths.activation_signed),
        i64::from(widths.weight_bits),
        flag(widths.weight_signed),
        i64::from(widths.accumulator_bits),
        flag(layer.arithmetic.overflow == Overflow::Saturate),
        flag(datapath.bias == crate::exec::BiasMode::Post),
        flag(datapath.zero_point == ZeroPointMode::Fold),
        requant,
        i64::from(widths.multiplier_bits),
        rounding_code(rounding),
        i64::from(datapath.seed),
        image.input_zero_point,
        i64::from(image.output_zero_point),
        i64::from(image.output_min),
        i64::from(image.output_max),
    ]
}

/// Writes `layers.mem`, one word per MAC layer.
pub fn write_layers<W: Write>(out: W, layers: &[LayerRecord]) -> Result<FileEntry, ExportError> {
    let fields = layer_fields();
    let spec = ImageSpec {
        name: "layers.mem".to_string(),
        role: Role::Layers,
        layer: None,
        element_bits: layer_word_bits(),
        elements_per_word: 1,
        depth: layers.len() as u64,
        signed: false,
        element_order: "word = MAC layer in operator order; fields from bit 0 as LAYER_<FIELD>_LSB/BITS in params.vh".to_string(),
        tensor: None,
    };
    let mut writer = MemWriter::new(out, spec)?;
    let mut limbs = vec![0_u64; layer_word_bits().div_ceil(64) as usize];
    for layer in layers {
        limbs.fill(0);
        for (field, &value) in fields.iter().zip(&layer.values) {
            if !fits(value, field.bits, field.signed) {
                return Err(ExportError::Layer {
                    index: layer.index,
                    op: "MAC layer".to_string(),
                    message: format!(
                        "{} = {value} does not fit the {}-bit field of layers.mem",
                        field.name, field.bits
                    ),
                });
            }
            super::mem::insert_bits(&mut limbs, u64::from(field.lsb), field.bits, value);
        }
        writer.push_limbs(&limbs)?;
    }
    writer.finish()
}

/// The `params.vh` template's values.
#[derive(Template)]
#[template(path = "params.vh", escape = "none")]
struct ParamsHeader {
    model: String,
    rows: u32,
    cols: u32,
    dataflow: u8,
    act_bits: u8,
    act_signed: u8,
    weight_bits: u8,
    weight_signed: u8,
    acc_bits: u8,
    acc_saturate: u8,
    bias_post: u8,
    zero_point_fold: u8,
    requant_mode: i64,
    mult_bits: u32,
    rounding: i64,
    lfsr_seed: u32,
    num_layers: usize,
    layer_word_bits: u32,
    fields: Vec<LayerField>,
}

/// Renders `params.vh` for `hw`'s base datapath and `layers` MAC layers.
pub fn render_params(model: &str, hw: &HwConfig, layers: usize) -> Result<String, ExportError> {
    let base = hw.datapath;
    let datapath: Datapath = base.to_datapath(hw.array.rows as usize);
    // The int64 overload follows a layer's tensor types, so only a layer's
    // record in layers.mem can carry code 4.
    let (requant_mode, rounding) = requant_code(datapath.requant, TfliteOverload::Int32);
    ParamsHeader {
        model: model.to_string(),
        rows: hw.array.rows,
        cols: hw.array.cols,
        dataflow: dataflow_code(hw.array.dataflow),
        act_bits: base.activation.bits(),
        act_signed: u8::from(base.activation.is_signed()),
        weight_bits: base.weight.bits(),
        weight_signed: u8::from(base.weight.is_signed()),
        acc_bits: base.accumulator.bits,
        acc_saturate: u8::from(base.accumulator.overflow == Overflow::Saturate),
        bias_post: u8::from(base.bias == crate::exec::BiasMode::Post),
        zero_point_fold: u8::from(base.zero_point == ZeroPointMode::Fold),
        requant_mode,
        mult_bits: multiplier_bits(datapath.requant),
        rounding: rounding_code(rounding),
        lfsr_seed: base.seed,
        num_layers: layers,
        layer_word_bits: layer_word_bits(),
        fields: layer_fields(),
    }
    .render()
    .map_err(|error| ExportError::Template {
        file: "params.vh".to_string(),
        message: error.to_string(),
    })
}
