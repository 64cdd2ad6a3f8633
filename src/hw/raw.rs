//! The hardware description exactly as the TOML file spells it: every key
//! optional, integers as i64, unknown keys rejected by serde. Validation
//! (in `validate.rs`) turns it into [`super::HwConfig`], and
//! [`to_raw`] turns a validated description back into this shape for
//! serialisation.
//!
//! Limitation: the structs mirror the schema by hand, so a new key needs a
//! field here, a check in `validate.rs` and a line in `to_raw`.

use super::config::{Dataflow, DepthwiseUnit, Part};
use super::datapath::{BiasMode, DatapathConfig, RequantKind, ZeroPointMode};
use super::devices::DspType;
use super::layers::{LayerOverride, LayerSelector};
use super::HwConfig;
use crate::numeric::{IntFormat, Overflow, Rounding};
use serde::{de, Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHwConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<RawDevice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array: Option<RawArray>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapath: Option<RawDatapath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffers: Option<RawBuffers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dram: Option<RawDram>,
    #[serde(default, rename = "layer", skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<RawLayer>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDevice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<RawPart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_mhz: Option<f64>,
}

/// `part = "xc7z020"` or `part = { name = "custom", dsp = 220, ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum RawPart {
    Name(String),
    Inline(RawInlinePart),
}

impl<'de> Deserialize<'de> for RawPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PartVisitor)
    }
}

struct PartVisitor;

impl<'de> de::Visitor<'de> for PartVisitor {
    type Value = RawPart;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a catalogue part name or an inline table { name, dsp, dsp_type, bram36, uram, lut, ff }")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<RawPart, E> {
        Ok(RawPart::Name(name.to_string()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawPart, A::Error> {
        let inline = RawInlinePart::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawPart::Inline(inline))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInlinePart {
    pub name: String,
    pub dsp: i64,
    pub dsp_type: DspType,
    pub bram36: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uram: Option<i64>,
    pub lut: i64,
    pub ff: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArray {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cols: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataflow: Option<Dataflow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depthwise: Option<DepthwiseUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsp_packing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lut_multiplier_max_bits: Option<i64>,
}

/// The `[datapath]` table; a `[[layer]]` entry has the same keys plus
/// `match`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatapath {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<IntFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<IntFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accumulator: Option<RawAccumulator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<BiasMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_point: Option<ZeroPointMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requant: Option<RawRequant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

/// A `[[layer]]` entry. The datapath keys are repeated instead of
/// flattened, because serde's `flatten` disables `deny_unknown_fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLayer {
    #[serde(rename = "match")]
    pub selector: LayerSelector,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<IntFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<IntFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accumulator: Option<RawAccumulator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<BiasMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_point: Option<ZeroPointMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requant: Option<RawRequant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccumulator {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overflow: Option<OverflowName>,
}

/// The serde spelling of [`Overflow`], which lives in `numeric` without
/// serde support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OverflowName {
    Wrap,
    Saturate,
}

impl From<OverflowName> for Overflow {
    fn from(name: OverflowName) -> Overflow {
        match name {
            OverflowName::Wrap => Overflow::Wrap,
            OverflowName::Saturate => Overflow::Saturate,
        }
    }
}

impl From<Overflow> for OverflowName {
    fn from(overflow: Overflow) -> OverflowName {
        match overflow {
            Overflow::Wrap => OverflowName::Wrap,
            Overflow::Saturate => OverflowName::Saturate,
        }
    }
}

/// The serde spelling of [`Rounding`], which lives in `numeric` without
/// serde support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RoundingName {
    HalfAway,
    HalfUp,
    HalfEven,
    Truncate,
    Stochastic,
}

impl RoundingName {
    /// Returns the name as written in a hardware description (`half-away`).
    pub fn name(self) -> &'static str {
        match self {
            RoundingName::HalfAway => "half-away",
            RoundingName::HalfUp => "half-up",
            RoundingName::HalfEven => "half-even",
            RoundingName::Truncate => "truncate",
            RoundingName::Stochastic => "stochastic",
        }
    }
}

impl From<RoundingName> for Rounding {
    fn from(name: RoundingName) -> Rounding {
        match name {
            RoundingName::HalfAway => Rounding::HalfAway,
            RoundingName::HalfUp => Rounding::HalfUp,
            RoundingName::HalfEven => Rounding::HalfEven,
            RoundingName::Truncate => Rounding::Truncate,
            RoundingName::Stochastic => Rounding::Stochastic,
        }
    }
}

impl From<Rounding> for RoundingName {
    fn from(rounding: Rounding) -> RoundingName {
        match rounding {
            Rounding::HalfAway => RoundingName::HalfAway,
            Rounding::HalfUp => RoundingName::HalfUp,
            Rounding::HalfEven => RoundingName::HalfEven,
            Rounding::Truncate => RoundingName::Truncate,
            Rounding::Stochastic => RoundingName::Stochastic,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequant {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<RequantKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiplier_bits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounding: Option<RoundingName>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBuffers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_kib: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_kib: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accumulator_kib: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_kib: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub double_buffered: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uram: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDram {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_cycle: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_cycles: Option<i64>,
}

/// Spells a validated description in the file's shape, every field given,
/// so that reading the result back yields an equal [`HwConfig`].
pub(crate) fn to_raw(config: &HwConfig) -> RawHwConfig {
    RawHwConfig {
        device: Some(RawDevice {
            part: Some(part_to_raw(&config.device.part)),
            clock_mhz: Some(config.device.clock_mhz),
        }),
        array: Some(RawArray {
            rows: Some(config.array.rows.into()),
            cols: Some(config.array.cols.into()),
            dataflow: Some(config.array.dataflow),
            depthwise: Some(config.array.depthwise),
            dsp_packing: Some(config.array.dsp_packing),
            lut_multiplier_max_bits: Some(config.array.lut_multiplier_max_bits.into()),
        }),
        datapath: Some(datapath_to_raw(&config.datapath)),
        buffers: Some(RawBuffers {
            input_kib: Some(config.buffers.input_kib.into()),
            weight_kib: Some(config.buffers.weight_kib.into()),
            accumulator_kib: Some(config.buffers.accumulator_kib.into()),
            output_kib: Some(config.buffers.output_kib.into()),
            double_buffered: Some(config.buffers.double_buffered),
            uram: Some(config.buffers.uram),
        }),
        dram: Some(RawDram {
            bytes_per_cycle: Some(config.dram.bytes_per_cycle.into()),
            latency_cycles: Some(config.dram.latency_cycles.into()),
        }),
        layers: config.layers.iter().map(layer_to_raw).collect(),
    }
}

fn part_to_raw(part: &Part) -> RawPart {
    match part {
        Part::Catalogue(entry) => RawPart::Name(entry.device.name.to_string()),
        Part::Inline(device) => RawPart::Inline(RawInlinePart {
            name: device.name.to_string(),
            dsp: device.dsp.into(),
            dsp_type: device.dsp_type,
            bram36: device.bram36.into(),
            uram: Some(device.uram.into()),
            lut: device.lut.into(),
            ff: device.ff.into(),
        }),
    }
}

fn datapath_to_raw(datapath: &DatapathConfig) -> RawDatapath {
    RawDatapath {
        activation: Some(datapath.activation),
        weight: Some(datapath.weight),
        accumulator: Some(RawAccumulator {
            bits: Some(datapath.accumulator.bits.into()),
            overflow: Some(datapath.accumulator.overflow.into()),
        }),
        bias: Some(datapath.bias),
        zero_point: Some(datapath.zero_point),
        requant: Some(RawRequant {
            mode: Some(datapath.requant.kind()),
            multiplier_bits: datapath.requant.multiplier_bits().map(i64::from),
            rounding: datapath.requant.rounding().map(RoundingName::from),
        }),
        seed: Some(datapath.seed.into()),
    }
}

fn layer_to_raw(entry: &LayerOverride) -> RawLayer {
    let accumulator = (entry.accumulator_bits.is_some() || entry.accumulator_overflow.is_some())
        .then(|| RawAccumulator {
            bits: entry.accumulator_bits.map(i64::from),
            overflow: entry.accumulator_overflow.map(OverflowName::from),
        });
    let requant = (entry.requant_mode.is_some()
        || entry.multiplier_bits.is_some()
        || entry.rounding.is_some())
    .then(|| RawRequant {
        mode: entry.requant_mode,
        multiplier_bits: entry.multiplier_bits.map(i64::from),
        rounding: entry.rounding.map(RoundingName::from),
    });
    RawLayer {
        selector: entry.selector.clone(),
        activation: entry.activation,
        weight: entry.weight,
        accumulator,
        bias: entry.bias,
        zero_point: entry.zero_point,
        requant,
        seed: entry.seed.map(i64::from),
    }
}
