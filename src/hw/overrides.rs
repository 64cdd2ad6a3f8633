//! Dotted-path overrides (`array.rows = 32`,
//! `datapath.accumulator.bits = 20`, `layer[0].activation = "int4"`) applied
//! to a TOML document before it is validated, as a design-space sweep or a
//! command-line `--set` needs them.
//!
//! Limitation: a path can address an existing `[[layer]]` entry by position
//! but cannot append one, and a key containing a dot cannot be addressed.

use super::error::HwError;
use super::raw::{
    RawAccumulator, RawArray, RawBuffers, RawDatapath, RawDevice, RawDram, RawHwConfig,
    RawInlinePart, RawLayer, RawRequant,
};
use serde::de::{self, DeserializeOwned, Visitor};
use std::fmt;
use toml::Value;

/// Sets the field at dotted `path` in `document` to `value`, creating the
/// tables on the way.
///
/// The path is checked against the schema, not against the document, so a
/// field the document omits can be set, and a misspelt one is rejected
/// here with the fields allowed at that point. The value itself is checked
/// when the document is validated, for example by
/// [`super::HwConfig::from_toml_value`].
pub fn apply_override(document: &mut Value, path: &str, value: Value) -> Result<(), HwError> {
    let segments = parse_path(path)?;
    let error = |reason: String| HwError::Override {
        path: path.to_string(),
        reason,
    };

    let mut node = Node::Top;
    let mut current = document;
    for (position, segment) in segments.iter().enumerate() {
        let walked = segments[..position]
            .iter()
            .map(Segment::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let is_last = position + 1 == segments.len();

        let allowed = node.fields();
        if !allowed.contains(&segment.name) {
            let table = if walked.is_empty() {
                "the top level".to_string()
            } else {
                walked.clone()
            };
            return Err(error(format!(
                "no field `{}` in {table}; expected one of {}",
                segment.name,
                allowed.join(", ")
            )));
        }
        let child = node.child(segment.name);
        let type_name = current.type_str();
        let Some(table) = current.as_table_mut() else {
            return Err(error(format!("{walked} is a {type_name}, not a table")));
        };

        current = match (child, segment.index) {
            (Node::Layers, Some(index)) => {
                let entries = table.get_mut(segment.name).and_then(Value::as_array_mut);
                let count = entries.as_ref().map_or(0, |entries| entries.len());
                let Some(entry) = entries.and_then(|entries| entries.get_mut(index)) else {
                    return Err(error(format!(
                        "the description has {count} [[layer]] entries, so layer[{index}] does not exist"
                    )));
                };
                if is_last {
                    *entry = value;
                    return Ok(());
                }
                node = Node::LayerEntry;
                entry
            }
            (Node::Layers, None) => {
                return Err(error(
                    "layer needs an entry position, as in layer[0].activation".to_string(),
                ));
            }
            (_, Some(_)) => {
                return Err(error(format!(
                    "{} is not a list; only layer takes [N]",
                    segment.name
                )));
            }
            (child, None) => {
                if is_last {
                    table.insert(segment.name.to_string(), value);
                    return Ok(());
                }
                if child == Node::Leaf {
                    return Err(error(format!("{} is a value, not a table", segment)));
                }
                node = child;
                table
                    .entry(segment.name)
                    .or_insert_with(|| Value::Table(toml::Table::new()))
            }
        };
    }
    Ok(())
}

/// Splits `PATH = VALUE` into the path and a TOML value.
///
/// The value is read as TOML (`16`, `200.5`, `true`, `"int4"`,
/// `{ bits = 20 }`). Text that is not valid TOML and contains no quote or
/// bracket is taken as a bare string, so `datapath.weight=int4` works on a
/// command line.
pub fn parse_override(assignment: &str) -> Result<(String, Value), HwError> {
    let error = |reason: &str| HwError::Override {
        path: assignment.to_string(),
        reason: reason.to_string(),
    };
    let Some((path, text)) = assignment.split_once('=') else {
        return Err(error("expected PATH = VALUE, as in array.rows = 32"));
    };
    let path = path.trim().trim_matches('"').to_string();
    let text = text.trim();
    if path.is_empty() || text.is_empty() {
        return Err(error("expected PATH = VALUE, as in array.rows = 32"));
    }

    let parsed = toml::from_str::<toml::Table>(&format!("value = {text}"))
        .ok()
        .and_then(|mut table| table.remove("value"));
    let is_bare_word = !text.contains(['"', '\'', '[', ']', '{', '}']);
    match parsed {
        Some(value) => Ok((path, value)),
        None if is_bare_word => Ok((path, Value::String(text.to_string()))),
        None => Err(error("the value is not valid TOML")),
    }
}

/// One path segment: a field name, with a position for `layer[N]`.
struct Segment<'a> {
    name: &'a str,
    index: Option<usize>,
}

impl fmt::Display for Segment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "{}[{index}]", self.name),
            None => f.write_str(self.name),
        }
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment<'_>>, HwError> {
    let error = |reason: String| HwError::Override {
        path: path.to_string(),
        reason,
    };
    path.split('.')
        .map(|text| {
            let (name, index) = match text.split_once('[') {
                None => (text, None),
                Some((name, rest)) => {
                    let digits = rest.strip_suffix(']').unwrap_or("");
                    let index = digits.parse().map_err(|_| {
                        error(format!("`{text}` is not name[N] with a non-negative N"))
                    })?;
                    (name, Some(index))
                }
            };
            if name.is_empty() {
                return Err(error(
                    "empty segment; expected names separated by single dots".to_string(),
                ));
            }
            Ok(Segment { name, index })
        })
        .collect()
}

/// A table of the schema, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Top,
    Device,
    InlinePart,
    Array,
    Datapath,
    Layers,
    LayerEntry,
    Accumulator,
    Requant,
    Buffers,
    Dram,
    Leaf,
}

impl Node {
    /// Returns the keys the table accepts, read from the serde derive so they cannot
    /// drift from what deserialisation accepts.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Node::Top => struct_fields::<RawHwConfig>(),
            Node::Device => struct_fields::<RawDevice>(),
            Node::InlinePart => struct_fields::<RawInlinePart>(),
            Node::Array => struct_fields::<RawArray>(),
            Node::Datapath => struct_fields::<RawDatapath>(),
            Node::LayerEntry => struct_fields::<RawLayer>(),
            Node::Accumulator => struct_fields::<RawAccumulator>(),
            Node::Requant => struct_fields::<RawRequant>(),
            Node::Buffers => struct_fields::<RawBuffers>(),
            Node::Dram => struct_fields::<RawDram>(),
            Node::Layers | Node::Leaf => &[],
        }
    }

    fn child(self, field: &str) -> Node {
        match (self, field) {
            (Node::Top, "device") => Node::Device,
            (Node::Top, "array") => Node::Array,
            (Node::Top, "datapath") => Node::Datapath,
            (Node::Top, "buffers") => Node::Buffers,
            (Node::Top, "dram") => Node::Dram,
            (Node::Top, "layer") => Node::Layers,
            (Node::Device, "part") => Node::InlinePart,
            (Node::Datapath | Node::LayerEntry, "accumulator") => Node::Accumulator,
            (Node::Datapath | Node::LayerEntry, "requant") => Node::Requant,
            _ => Node::Leaf,
        }
    }
}

/// Returns the field names serde's derive passes to `deserialize_struct`
/// for `T`.
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut probe = FieldProbe { fields: &[] };
    // The probe always fails after recording the fields; the error carries
    // nothing.
    let _ = T::deserialize(&mut probe);
    probe.fields
}

/// A deserializer that records the field list of the struct asked for and
/// then stops.
struct FieldProbe {
    fields: &'static [&'static str],
}

#[derive(Debug)]
struct ProbeStopped;

impl fmt::Display for ProbeStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe stopped")
    }
}

impl std::error::Error for ProbeStopped {}

impl de::Error for ProbeStopped {
    fn custom<T: fmt::Display>(_message: T) -> Self {
        ProbeStopped
    }
}

impl<'de> de::Deserializer<'de> for &mut FieldProbe {
    type Error = ProbeStopped;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeStopped> {
        Err(ProbeStopped)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeStopped> {
        self.fields = fields;
        Err(ProbeStopped)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(text: &str) -> Value {
        Value::Table(toml::from_str(text).unwrap())
    }

    #[test]
    fn struct_fields_reads_serde_field_names() {
        assert_eq!(
            struct_fields::<RawArray>(),
            [
                "rows",
                "cols",
                "dataflow",
                "depthwise",
                "dsp_packing",
                "lut_multiplier_max_bits"
            ]
        );
        assert!(struct_fields::<RawHwConfig>().contains(&"layer"));
        assert!(struct_fields::<RawLayer>().contains(&"match"));
    }

    #[test]
    fn apply_creates_missing_tables() {
        let mut value = document("");
        apply_override(&mut value, "datapath.accumulator.bits", Value::Integer(20)).unwrap();
        assert_eq!(
            value["datapath"]["accumulator"]["bits"].as_integer(),
            Some(20)
        );
    }

    #[test]
    fn apply_replaces_existing_value() {
        let mut value = document("[array]\nrows = 8\ncols = 8\n");
        apply_override(&mut value, "array.rows", Value::Integer(32)).unwrap();
        assert_eq!(value["array"]["rows"].as_integer(), Some(32));
        assert_eq!(value["array"]["cols"].as_integer(), Some(8));
    }

    #[test]
    fn apply_rejects_unknown_field_with_allowed_list() {
        let mut value = document("");
        let error = apply_override(&mut value, "array.rowz", Value::Integer(1)).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"array.rowz\""), "{message}");
        assert!(message.contains("no field `rowz` in array"), "{message}");
        assert!(message.contains("rows, cols"), "{message}");
    }

    #[test]
    fn apply_rejects_path_through_value() {
        let mut value = document("[array]\nrows = 8\n");
        let error = apply_override(&mut value, "array.rows.low", Value::Integer(1)).unwrap_err();
        assert!(
            error.to_string().contains("rows is a value, not a table"),
            "{error}"
        );
    }

    #[test]
    fn apply_addresses_layer_entries_by_position() {
        let mut value = document("[[layer]]\nmatch = \"3\"\n[[layer]]\nmatch = \"conv\"\n");
        apply_override(
            &mut value,
            "layer[1].requant.rounding",
            Value::String("truncate".into()),
        )
        .unwrap();
        assert_eq!(
            value["layer"][1]["requant"]["rounding"].as_str(),
            Some("truncate")
        );

        let missing = apply_override(&mut value, "layer[2].weight", Value::String("int4".into()));
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("has 2 [[layer]] entries"));
        let no_index = apply_override(&mut value, "layer.weight", Value::String("int4".into()));
        assert!(no_index.unwrap_err().to_string().contains("layer[0]"));
    }

    #[test]
    fn apply_rejects_malformed_paths() {
        let mut value = document("");
        for path in [
            "",
            "array..rows",
            "layer[x].weight",
            "layer[1.weight",
            "array[0].rows",
        ] {
            assert!(
                apply_override(&mut value, path, Value::Integer(1)).is_err(),
                "{path}"
            );
        }
    }

    #[test]
    fn parse_override_reads_toml_and_bare_words() {
        let (path, value) = parse_override("array.rows = 32").unwrap();
        assert_eq!(path, "array.rows");
        assert_eq!(value, Value::Integer(32));
        let (_, value) = parse_override("datapath.weight=int4").unwrap();
        assert_eq!(value, Value::String("int4".into()));
        let (_, value) = parse_override("\"device.clock_mhz\" = 250.5").unwrap();
        assert_eq!(value, Value::Float(250.5));
        assert!(parse_override("array.rows").is_err());
        assert!(parse_override("array.rows = \"open").is_err());
    }
}
