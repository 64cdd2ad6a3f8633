//! Per-layer overrides of the datapath (`[[layer]]` entries) for mixed
//! precision, and their resolution into one [`DatapathConfig`] per layer.
//!
//! Limitation: an entry selects one layer, by operator index or by name.
//! There is no pattern or range selector, so giving every convolution a
//! different width takes one entry per layer.

use super::datapath::{BiasMode, DatapathConfig, Requant, RequantKind, ZeroPointMode};
use super::raw::RoundingName;
use crate::numeric::{IntFormat, Overflow, Rounding};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The layer a `[[layer]]` entry applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayerSelector {
    /// Operator index in execution order. The TOML `match = "3"` and
    /// `match = 3` both select it, so a layer whose name is all digits can
    /// only be selected by index.
    Index(usize),
    /// Operator name. A TFLite operator has no name of its own, so this is
    /// the name of its first output tensor.
    Name(String),
}

impl LayerSelector {
    /// Parses a `match` value: all ASCII digits select an index, anything
    /// else non-empty a name. Returns `None` for an empty string or an index
    /// beyond `usize`.
    pub fn parse(text: &str) -> Option<LayerSelector> {
        if text.is_empty() {
            return None;
        }
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            return text.parse().ok().map(LayerSelector::Index);
        }
        Some(LayerSelector::Name(text.to_string()))
    }

    /// Tests whether this selects the layer with operator index `index` and
    /// name `name`.
    pub fn matches(&self, index: usize, name: &str) -> bool {
        match self {
            LayerSelector::Index(selected) => *selected == index,
            LayerSelector::Name(selected) => selected == name,
        }
    }
}

impl fmt::Display for LayerSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSelector::Index(index) => write!(f, "{index}"),
            LayerSelector::Name(name) => f.write_str(name),
        }
    }
}

impl Serialize for LayerSelector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LayerSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SelectorVisitor)
    }
}

struct SelectorVisitor;

impl de::Visitor<'_> for SelectorVisitor {
    type Value = LayerSelector;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a layer index (\"3\" or 3) or a non-empty operator name")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<LayerSelector, E> {
        LayerSelector::parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<LayerSelector, E> {
        usize::try_from(index)
            .map(LayerSelector::Index)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(index), &self))
    }

    fn visit_i64<E: de::Error>(self, index: i64) -> Result<LayerSelector, E> {
        u64::try_from(index)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(index), &self))
            .and_then(|index| self.visit_u64(index))
    }
}

/// One `[[layer]]` entry: the selected layer and the datapath fields it
/// sets. A field left `None` is inherited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerOverride {
    pub selector: LayerSelector,
    pub activation: Option<IntFormat>,
    pub weight: Option<IntFormat>,
    pub accumulator_bits: Option<u8>,
    pub accumulator_overflow: Option<Overflow>,
    pub bias: Option<BiasMode>,
    pub zero_point: Option<ZeroPointMode>,
    pub requant_mode: Option<RequantKind>,
    pub multiplier_bits: Option<u8>,
    pub rounding: Option<Rounding>,
    pub seed: Option<u32>,
}

impl LayerOverride {
    /// Builds an entry for `selector` that changes nothing.
    pub fn new(selector: LayerSelector) -> LayerOverride {
        LayerOverride {
            selector,
            activation: None,
            weight: None,
            accumulator_bits: None,
            accumulator_overflow: None,
            bias: None,
            zero_point: None,
            requant_mode: None,
            multiplier_bits: None,
            rounding: None,
            seed: None,
        }
    }
}

/// A `[[layer]]` field that the resolved layer does not use, because the
/// final requantisation mode takes no such parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IneffectiveField {
    /// Position of the entry among the `[[layer]]` entries.
    pub entry: usize,
    /// Key inside the entry (`requant.rounding`).
    pub key: &'static str,
    pub value: String,
    pub mode: RequantKind,
    /// The key that set `mode` (`layer[0].requant.mode`).
    pub mode_key: String,
}

/// Requantiser settings during resolution. Parameters the current mode does
/// not take are kept, so that a later entry switching the mode back finds
/// them.
struct RequantSettings {
    kind: RequantKind,
    kind_key: String,
    multiplier_bits: u8,
    rounding: Rounding,
    /// `(entry, key, value)` of every parameter an entry set explicitly.
    explicit: Vec<(usize, &'static str, String)>,
}

/// Resolves the datapath of the layer with operator index `index` and name
/// `name`: `base` with every matching entry of `overrides` applied in order.
/// Also returns the explicit entry fields the resolved mode does not use.
pub(crate) fn resolve(
    base: &DatapathConfig,
    overrides: &[LayerOverride],
    index: usize,
    name: &str,
) -> (DatapathConfig, Vec<IneffectiveField>) {
    let mut datapath = *base;
    let mut requant = RequantSettings {
        kind: base.requant.kind(),
        kind_key: "datapath.requant.mode".to_string(),
        multiplier_bits: base
            .requant
            .multiplier_bits()
            .unwrap_or(Requant::DEFAULT_MULTIPLIER_BITS),
        rounding: base.requant.rounding().unwrap_or(Requant::DEFAULT_ROUNDING),
        explicit: Vec::new(),
    };

    let matching = overrides
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.selector.matches(index, name));
    for (position, entry) in matching {
        apply_operands(entry, &mut datapath);
        apply_requant(position, entry, &mut requant);
    }

    datapath.requant = Requant::from_parts(requant.kind, requant.multiplier_bits, requant.rounding);
    let ineffective = ineffective_fields(&requant);
    (datapath, ineffective)
}

fn apply_operands(entry: &LayerOverride, datapath: &mut DatapathConfig) {
    if let Some(activation) = entry.activation {
        datapath.activation = activation;
    }
    if let Some(weight) = entry.weight {
        datapath.weight = weight;
    }
    if let Some(bits) = entry.accumulator_bits {
        datapath.accumulator.bits = bits;
    }
    if let Some(overflow) = entry.accumulator_overflow {
        datapath.accumulator.overflow = overflow;
    }
    if let Some(bias) = entry.bias {
        datapath.bias = bias;
    }
    if let Some(zero_point) = entry.zero_point {
        datapath.zero_point = zero_point;
    }
    if let Some(seed) = entry.seed {
        datapath.seed = seed;
    }
}

fn apply_requant(position: usize, entry: &LayerOverride, requant: &mut RequantSettings) {
    if let Some(kind) = entry.requant_mode {
        requant.kind = kind;
        requant.kind_key = format!("layer[{position}].requant.mode");
    }
    if let Some(bits) = entry.multiplier_bits {
        requant.multiplier_bits = bits;
        let value = bits.to_string();
        requant
            .explicit
            .push((position, "requant.multiplier_bits", value));
    }
    if let Some(rounding) = entry.rounding {
        requant.rounding = rounding;
        let value = format!("\"{}\"", RoundingName::from(rounding).name());
        requant.explicit.push((position, "requant.rounding", value));
    }
}

fn ineffective_fields(requant: &RequantSettings) -> Vec<IneffectiveField> {
    let applies = |key: &str| match key {
        "requant.multiplier_bits" => requant.kind == RequantKind::Fixed,
        _ => requant.kind != RequantKind::Tflite,
    };
    requant
        .explicit
        .iter()
        .filter(|(_, key, _)| !applies(key))
        .map(|(entry, key, value)| IneffectiveField {
            entry: *entry,
            key,
            value: value.clone(),
            mode: requant.kind,
            mode_key: requant.kind_key.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_index(index: usize) -> LayerOverride {
        LayerOverride::new(LayerSelector::Index(index))
    }

    #[test]
    fn selector_parse_index_and_name() {
        assert_eq!(LayerSelector::parse("3"), Some(LayerSelector::Index(3)));
        assert_eq!(LayerSelector::parse("007"), Some(LayerSelector::Index(7)));
        assert_eq!(
            LayerSelector::parse("conv_1/Relu"),
            Some(LayerSelector::Name("conv_1/Relu".to_string()))
        );
        assert_eq!(
            LayerSelector::parse("-1"),
            Some(LayerSelector::Name("-1".to_string()))
        );
        assert_eq!(LayerSelector::parse(""), None);
        assert_eq!(LayerSelector::parse("99999999999999999999999"), None);
    }

    #[test]
    fn resolve_later_entry_wins() {
        let base = DatapathConfig::default();
        let mut first = by_index(2);
        first.activation = IntFormat::signed(4);
        first.accumulator_bits = Some(20);
        let mut second = by_index(2);
        second.activation = IntFormat::signed(6);
        let (datapath, ineffective) = resolve(&base, &[first, second], 2, "conv");
        assert_eq!(datapath.activation, IntFormat::signed(6).unwrap());
        assert_eq!(datapath.accumulator.bits, 20);
        assert_eq!(datapath.weight, base.weight);
        assert!(ineffective.is_empty());
    }

    #[test]
    fn resolve_leaves_other_layers_alone() {
        let base = DatapathConfig::default();
        let mut entry = LayerOverride::new(LayerSelector::Name("conv".to_string()));
        entry.accumulator_overflow = Some(Overflow::Saturate);
        let (other, _) = resolve(&base, std::slice::from_ref(&entry), 0, "dense");
        assert_eq!(other, base);
        let (selected, _) = resolve(&base, &[entry], 5, "conv");
        assert_eq!(selected.accumulator.overflow, Overflow::Saturate);
    }

    #[test]
    fn resolve_keeps_parameters_across_mode_switches() {
        let base = DatapathConfig {
            requant: Requant::Fixed {
                multiplier_bits: 12,
                rounding: Rounding::HalfUp,
            },
            ..DatapathConfig::default()
        };
        let mut to_shift = by_index(0);
        to_shift.requant_mode = Some(RequantKind::Shift);
        let mut back_to_fixed = by_index(0);
        back_to_fixed.requant_mode = Some(RequantKind::Fixed);
        let (datapath, _) = resolve(&base, &[to_shift, back_to_fixed], 0, "");
        assert_eq!(datapath.requant, base.requant);
    }

    #[test]
    fn resolve_reports_rounding_under_inherited_tflite() {
        let mut entry = by_index(1);
        entry.rounding = Some(Rounding::Truncate);
        let (datapath, ineffective) = resolve(&DatapathConfig::default(), &[entry], 1, "");
        assert_eq!(datapath.requant, Requant::Tflite);
        assert_eq!(ineffective.len(), 1);
        assert_eq!(ineffective[0].key, "requant.rounding");
        assert_eq!(ineffective[0].value, "\"truncate\"");
        assert_eq!(ineffective[0].mode_key, "datapath.requant.mode");
    }

    #[test]
    fn resolve_reports_multiplier_bits_after_later_mode_switch() {
        let mut fixed = by_index(0);
        fixed.requant_mode = Some(RequantKind::Fixed);
        fixed.multiplier_bits = Some(10);
        let mut single = by_index(0);
        single.requant_mode = Some(RequantKind::Single);
        let (_, ineffective) = resolve(&DatapathConfig::default(), &[fixed, single], 0, "");
        assert_eq!(ineffective.len(), 1);
        assert_eq!(ineffective[0].entry, 0);
        assert_eq!(ineffective[0].mode, RequantKind::Single);
        assert_eq!(ineffective[0].mode_key, "layer[1].requant.mode");
    }
}
