//! The hardware description: which FPGA part, the MAC array, the datapath
//! arithmetic (with per-layer overrides for mixed precision), the on-chip
//! buffers and the DRAM port, read from TOML and validated.
//!
//! | type | contents |
//! |---|---|
//! | [`HwConfig`] | a validated description; [`HwConfig::load`] reads one |
//! | [`DatapathConfig`] | one layer's resolved arithmetic, from [`HwConfig::datapath_for`] |
//! | [`LayerOverride`] | one `[[layer]]` entry |
//! | [`Device`], [`CATALOGUE`] | FPGA parts and their resources |
//! | [`HwError`] | every failure, naming the file and the TOML key |
//!
//! docs/hardware-config.md documents every key with unit, default and
//! range. Limitation: the description is checked on its own and against
//! the model's layer list. Whether a layer's tiles fit the buffers, and
//! whether the design fits the part, is left to the timing and resource
//! models.
//!
//! ```
//! use fxsim::hw::HwConfig;
//!
//! let text = r#"
//!     [array]
//!     rows = 8
//!     cols = 8
//!
//!     [[layer]]
//!     match = "2"
//!     accumulator = { bits = 20, overflow = "saturate" }
//! "#;
//! let config = HwConfig::from_toml_str(text, "example.toml")?;
//! assert_eq!(config.datapath_for(2, "conv2").accumulator.bits, 20);
//! assert_eq!(config.datapath_for(3, "conv3").accumulator.bits, 32);
//! # Ok::<(), fxsim::hw::HwError>(())
//! ```

mod config;
mod datapath;
pub mod devices;
mod error;
mod layers;
mod overrides;
mod raw;
mod validate;

pub use config::{
    ArrayConfig, BufferConfig, Dataflow, DepthwiseUnit, DeviceConfig, DramConfig, Part,
};
pub use datapath::{
    AccumulatorConfig, BiasMode, DatapathConfig, Requant, RequantKind, ZeroPointMode,
};
pub use devices::{find_part, CatalogueEntry, Device, DspType, CATALOGUE};
pub use error::{HwError, Position};
pub use layers::{LayerOverride, LayerSelector};
pub use overrides::{apply_override, parse_override};

use crate::model::{Graph, OpKind};
use error::from_toml_error;
use raw::RawHwConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;

/// A validated hardware description.
///
/// Equal inputs give equal values, and [`HwConfig::to_toml_string`] writes
/// a file that reads back to an equal value (given the same origin).
#[derive(Debug, Clone, PartialEq)]
pub struct HwConfig {
    /// Source of the description: a file path, or the name given to
    /// [`HwConfig::from_toml_str`]. Every error message starts with it.
    pub origin: String,
    pub device: DeviceConfig,
    pub array: ArrayConfig,
    /// The arithmetic of every layer without a `[[layer]]` override.
    pub datapath: DatapathConfig,
    pub buffers: BufferConfig,
    pub dram: DramConfig,
    /// `[[layer]]` entries in file order; a later entry wins.
    pub layers: Vec<LayerOverride>,
}

impl Default for HwConfig {
    /// Returns the description of an empty file: an xc7z020 at 200 MHz with a
    /// 16 x 16 weight-stationary int8 array.
    fn default() -> Self {
        HwConfig {
            origin: "built-in defaults".to_string(),
            device: DeviceConfig::default(),
            array: ArrayConfig::default(),
            datapath: DatapathConfig::default(),
            buffers: BufferConfig::default(),
            dram: DramConfig::default(),
            layers: Vec::new(),
        }
    }
}

impl HwConfig {
    /// Reads and validates the hardware description at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<HwConfig, HwError> {
        let path = path.as_ref();
        let text = read_limited(path)?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates a description held in memory. `origin` names it
    /// in error messages, like a file path would.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<HwConfig, HwError> {
        let raw: RawHwConfig =
            toml::from_str(text).map_err(|error| from_toml_error(origin, text, &error, true))?;
        validate::validate(raw, origin)
    }

    /// Validates a description held as a TOML value, typically one that
    /// [`apply_override`] changed.
    ///
    /// Errors name the key but carry no line and column, because the value
    /// has no source text.
    pub fn from_toml_value(value: &toml::Value, origin: &str) -> Result<HwConfig, HwError> {
        let Some(table) = value.as_table() else {
            return Err(HwError::Schema {
                origin: origin.to_string(),
                key: "(top level)".to_string(),
                message: format!("expected a table, found a {}", value.type_str()),
                position: None,
            });
        };
        // Rendering the value as text lets the toml crate report spans, and
        // the spans give the key path of an error.
        let text = table.to_string();
        let raw: RawHwConfig =
            toml::from_str(&text).map_err(|error| from_toml_error(origin, &text, &error, false))?;
        validate::validate(raw, origin)
    }

    /// Writes the description as a TOML value with every field given, the
    /// starting point for [`apply_override`].
    pub fn to_toml_value(&self) -> Result<toml::Value, HwError> {
        toml::Value::try_from(raw::to_raw(self)).map_err(|error| self.serialize_error(error))
    }

    /// Writes the description as a TOML document with every field given.
    pub fn to_toml_string(&self) -> Result<String, HwError> {
        toml::to_string(&raw::to_raw(self)).map_err(|error| self.serialize_error(error))
    }

    fn serialize_error(&self, error: toml::ser::Error) -> HwError {
        HwError::Serialize {
            origin: self.origin.clone(),
            message: error.to_string(),
        }
    }

    /// Checks the description again, for a value changed after it was read.
    pub fn validate(&self) -> Result<(), HwError> {
        HwConfig::from_toml_value(&self.to_toml_value()?, &self.origin).map(|_| ())
    }

    /// Resolves the arithmetic of the layer with operator index `layer_index` and
    /// name `layer_name`: `[datapath]` with every matching `[[layer]]` entry
    /// applied in file order.
    ///
    /// An entry's `requant.rounding` or `requant.multiplier_bits` that the
    /// layer's final requant mode does not take is ignored here;
    /// [`HwConfig::check_layers`] reports it.
    pub fn datapath_for(&self, layer_index: usize, layer_name: &str) -> DatapathConfig {
        layers::resolve(&self.datapath, &self.layers, layer_index, layer_name).0
    }

    /// Checks the `[[layer]]` entries against a model's layers, given as
    /// `(operator index, name)`: every entry must select at least one
    /// layer, and every field an entry sets must take effect.
    pub fn check_layers(&self, layers: &[(usize, String)]) -> Result<(), HwError> {
        for (position, entry) in self.layers.iter().enumerate() {
            let selects_any = layers
                .iter()
                .any(|(index, name)| entry.selector.matches(*index, name));
            if !selects_any {
                return Err(HwError::UnmatchedLayer {
                    origin: self.origin.clone(),
                    entry: position,
                    selector: entry.selector.to_string(),
                    expected: describe_layers(layers),
                });
            }
        }

        for (index, name) in layers {
            let (_, ineffective) = layers::resolve(&self.datapath, &self.layers, *index, name);
            if let Some(field) = ineffective.into_iter().next() {
                return Err(HwError::IneffectiveOverride {
                    origin: self.origin.clone(),
                    key: format!("layer[{}].{}", field.entry, field.key),
                    value: field.value,
                    layer: describe_layer(*index, name),
                    mode: field.mode,
                    mode_key: field.mode_key,
                });
            }
        }
        Ok(())
    }

    /// Runs [`HwConfig::check_layers`] on the operators of `graph`, each named
    /// after its first output tensor.
    pub fn check_graph(&self, graph: &Graph) -> Result<(), HwError> {
        self.check_layers(&layer_names(graph))
    }

    /// Describes every `[[layer]]` entry that selects only operators without
    /// an accumulator (pooling, reshapes, ...) in `graph`, where its keys do
    /// nothing: an entry matched by index in one model often lands on
    /// another kind of operator in the next. Callers print these as
    /// warnings.
    pub fn ineffective_overrides(&self, graph: &Graph) -> Vec<String> {
        let names = layer_names(graph);
        let mut warnings = Vec::new();
        for (entry, layer) in self.layers.iter().enumerate() {
            let selected: Vec<usize> = names
                .iter()
                .filter(|(index, name)| layer.selector.matches(*index, name))
                .map(|(index, _)| *index)
                .collect();
            let has_mac = selected.iter().any(|&index| {
                matches!(
                    graph.ops[index].kind,
                    OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected(_)
                )
            });
            if !has_mac && !selected.is_empty() {
                let listed: Vec<String> = selected
                    .iter()
                    .take(3)
                    .map(|&index| format!("op {index} ({})", graph.ops[index].kind.name()))
                    .collect();
                warnings.push(format!(
                    "{}: layer[{entry}].match = \"{}\" selects only {}, which has no accumulator; its datapath keys have no effect",
                    self.origin,
                    layer.selector,
                    listed.join(", ")
                ));
            }
        }
        warnings
    }

    /// Builds the executor's datapath of every operator of `graph`, overrides
    /// applied, in operator order. Call [`HwConfig::check_graph`] first so
    /// that an override matching no layer is reported.
    pub fn datapaths(&self, graph: &Graph) -> Vec<crate::exec::Datapath> {
        layer_names(graph)
            .iter()
            .map(|(index, name)| {
                self.datapath_for(*index, name)
                    .to_datapath(self.array.rows as usize)
            })
            .collect()
    }
}

/// Largest hardware description read, in bytes. A description is a few
/// KiB; the limit keeps a mistyped path (a device, a model file) from being
/// read whole.
pub const MAX_HW_FILE_BYTES: u64 = 1 << 20;

/// Reads the text at `path`, failing past [`MAX_HW_FILE_BYTES`] before the
/// excess is read.
fn read_limited(path: &Path) -> Result<String, HwError> {
    use std::io::Read;
    let read_error = |source| HwError::Read {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || HwError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_HW_FILE_BYTES,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    if file
        .metadata()
        .is_ok_and(|meta| meta.is_file() && meta.len() > MAX_HW_FILE_BYTES)
    {
        return Err(too_large());
    }
    // Devices and pipes report no length, so the limit is also on the bytes
    // read.
    let mut text = String::new();
    file.take(MAX_HW_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_HW_FILE_BYTES {
        return Err(too_large());
    }
    Ok(text)
}

/// Lists `(operator index, name)` for every operator of `graph`, each
/// named after its first output tensor. An operator without outputs gets an
/// empty name.
pub fn layer_names(graph: &Graph) -> Vec<(usize, String)> {
    graph
        .ops
        .iter()
        .enumerate()
        .map(|(index, op)| {
            let name = op
                .output()
                .and_then(|id| graph.get_tensor(id))
                .map(|tensor| tensor.name.clone())
                .unwrap_or_default();
            (index, name)
        })
        .collect()
}

fn describe_layer(index: usize, name: &str) -> String {
    if name.is_empty() {
        index.to_string()
    } else {
        format!("{index} ({name})")
    }
}

/// Describes the `match` values this model allows, for an error message:
/// the index range and the first few names.
fn describe_layers(layers: &[(usize, String)]) -> String {
    const NAMES_SHOWN: usize = 5;
    let Some(last) = layers.iter().map(|(index, _)| *index).max() else {
        return "nothing: the model has no layers".to_string();
    };
    let names: Vec<String> = layers
        .iter()
        .filter(|(_, name)| !name.is_empty())
        .take(NAMES_SHOWN)
        .map(|(_, name)| format!("\"{name}\""))
        .collect();
    let mut text = format!("a layer index in 0..={last}");
    if !names.is_empty() {
        let more = if layers.len() > NAMES_SHOWN {
            ", ..."
        } else {
            ""
        };
        text.push_str(&format!(" or a layer name ({}{more})", names.join(", ")));
    }
    text
}

impl Serialize for HwConfig {
    /// Serialises in the file's shape with every field given (the origin is
    /// not part of it).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        raw::to_raw(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HwConfig {
    /// Deserialises the file's shape and validates it; the origin becomes
    /// "hardware description".
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawHwConfig::deserialize(deserializer)?;
        validate::validate(raw, "hardware description").map_err(serde::de::Error::custom)
    }
}
