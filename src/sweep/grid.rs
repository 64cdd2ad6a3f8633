//! The grid of a design-space sweep: dotted `HwConfig` field paths, each
//! with a list of values, read from TOML; the points are their cross
//! product. Also the shard of the grid that one job evaluates.
//!
//! Points are numbered in grid order: the cross product in the order the
//! keys appear in the file, the last key varying fastest. A key may be
//! written quoted (`"array.rows" = [8, 16]`) or as nested tables
//! (`[array]` then `rows = [8, 16]`).
//!
//! Limitation: a value is checked against the schema when the grid is read,
//! alone on the base description. Combinations of values (a requantiser
//! parameter with a mode that does not take it) are checked per point, and
//! such a point is reported invalid rather than rejected here.

use super::SweepError;
use crate::hw::{apply_override, HwConfig, HwError, Position};
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Value;

/// The largest grid a sweep accepts, over all shards.
pub const MAX_POINTS: u64 = 1_000_000;

/// One varied field and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridAxis {
    /// Dotted path, as `apply_override` takes it (`array.rows`).
    pub path: String,
    pub values: Vec<Value>,
}

/// The axes of a sweep in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub axes: Vec<GridAxis>,
}

/// Lists the dotted path of every value that is not a table, in the
/// order its key appears in the file. The toml crate's tables sort their
/// keys, so the order comes from the keys' positions in the text.
fn keys_in_file_order(
    table: &DeTable<'_>,
    prefix: &[String],
    keys: &mut Vec<(usize, Vec<String>)>,
) {
    for (key, value) in table.iter() {
        let mut path = prefix.to_vec();
        path.push(key.get_ref().to_string());
        match value.get_ref() {
            DeValue::Table(inner) => keys_in_file_order(inner, &path, keys),
            _ => keys.push((key.span().start, path)),
        }
    }
}

/// Rejects two keys that name the same field: a quoted dotted key
/// (`"array.rows"`) and the same path through a table (`[array]` then
/// `rows`). Both would become one column twice, and the later value would
/// silently replace the earlier at every point.
fn reject_repeated_paths(keys: &[(usize, Vec<String>)], origin: &str) -> Result<(), SweepError> {
    for (position, (_, segments)) in keys.iter().enumerate() {
        let path = segments.join(".");
        let earlier = keys[..position]
            .iter()
            .find(|(_, other)| other.join(".") == path);
        if let Some((_, other)) = earlier {
            return Err(SweepError::GridKey {
                origin: origin.to_string(),
                path,
                message: format!(
                    "the field is given twice, as {} and as {}; give each field once",
                    spelling(other),
                    spelling(segments)
                ),
            });
        }
    }
    Ok(())
}

/// Describes how a key path is written in the grid file.
fn spelling(segments: &[String]) -> String {
    match segments {
        [key] => format!("\"{key}\" at the top level"),
        [tables @ .., key] => format!("{key} in table [{}]", tables.join(".")),
        [] => String::new(),
    }
}

impl Grid {
    /// Parses a grid file and checks each path and each value against the
    /// base description `base` (the output of `HwConfig::to_toml_value`).
    pub fn from_toml_str(text: &str, origin: &str, base: &Value) -> Result<Grid, SweepError> {
        let syntax_error = |message: &str, span: Option<Range<usize>>| {
            let at = span.map_or_else(String::new, |span| {
                format!(" (at {})", Position::of(text, span.start))
            });
            SweepError::Grid {
                origin: origin.to_string(),
                message: format!("invalid TOML{at}: {}", message.trim_end()),
            }
        };
        let table: toml::Table =
            toml::from_str(text).map_err(|error| syntax_error(error.message(), error.span()))?;
        let spanned =
            DeTable::parse(text).map_err(|error| syntax_error(error.message(), error.span()))?;
        let mut keys = Vec::new();
        keys_in_file_order(spanned.get_ref(), &[], &mut keys);
        keys.sort_by_key(|(start, _)| *start);
        reject_repeated_paths(&keys, origin)?;

        let mut axes = Vec::new();
        for (_, segments) in keys {
            let value = lookup(&table, &segments).cloned();
            axes.push(axis(segments.join("."), value, origin)?);
        }
        if axes.is_empty() {
            return Err(SweepError::Grid {
                origin: origin.to_string(),
                message: "the grid has no keys; expected lines such as \"array.rows\" = [8, 16]"
                    .to_string(),
            });
        }
        let grid = Grid { axes };
        grid.check_size(origin)?;
        for axis in &grid.axes {
            for value in &axis.values {
                check_value(base, axis, value, origin)?;
            }
        }
        Ok(grid)
    }

    /// Returns the number of points; at most [`MAX_POINTS`] after parsing.
    pub fn point_count(&self) -> u64 {
        self.axes
            .iter()
            .map(|axis| axis.values.len() as u64)
            .product()
    }

    fn check_size(&self, origin: &str) -> Result<(), SweepError> {
        let mut count: u64 = 1;
        for axis in &self.axes {
            count = count.saturating_mul(axis.values.len() as u64);
        }
        if count > MAX_POINTS {
            let sizes: Vec<String> = self
                .axes
                .iter()
                .map(|axis| format!("{} ({})", axis.path, axis.values.len()))
                .collect();
            return Err(SweepError::Grid {
                origin: origin.to_string(),
                message: format!(
                    "the grid has {count} points ({}), more than the limit of {MAX_POINTS}; \
                     remove values or split the grid into several files",
                    sizes.join(" x ")
                ),
            });
        }
        Ok(())
    }

    /// Returns the value of every axis at point `index` in grid order. An
    /// axis without values contributes none.
    pub fn point_values(&self, index: u64) -> Vec<&Value> {
        let mut remainder = index;
        let mut values = Vec::with_capacity(self.axes.len());
        for axis in self.axes.iter().rev() {
            let count = axis.values.len() as u64;
            let Some(position) = remainder.checked_rem(count) else {
                continue;
            };
            remainder /= count;
            values.extend(axis.values.get(position as usize));
        }
        values.reverse();
        values
    }

    /// Builds the description of point `index`: `base` with every axis
    /// value applied, then validated.
    pub fn point_config(
        &self,
        base: &Value,
        index: u64,
        origin: &str,
    ) -> Result<HwConfig, HwError> {
        let mut document = base.clone();
        for (axis, value) in self.axes.iter().zip(self.point_values(index)) {
            apply_override(&mut document, &axis.path, value.clone())?;
        }
        HwConfig::from_toml_value(&document, origin)
    }
}

/// Returns the value at `segments` in `table`.
fn lookup<'a>(table: &'a toml::Table, segments: &[String]) -> Option<&'a Value> {
    let (last, tables) = segments.split_last()?;
    let mut current = table;
    for segment in tables {
        current = current.get(segment)?.as_table()?;
    }
    current.get(last)
}

/// Checks that the value of grid key `path` is a list of values.
fn axis(path: String, value: Option<Value>, origin: &str) -> Result<GridAxis, SweepError> {
    let error = |path: String, message: String| SweepError::GridKey {
        origin: origin.to_string(),
        path,
        message,
    };
    match value {
        Some(Value::Array(values)) if values.is_empty() => Err(error(
            path,
            "the list of values is empty; expected at least one value".to_string(),
        )),
        Some(Value::Array(values)) => Ok(GridAxis { path, values }),
        Some(other) => {
            let message = format!(
                "expected a list of values, as in [8, 16], found the {} {other}",
                other.type_str()
            );
            Err(error(path, message))
        }
        None => Err(error(path, "the key has no value".to_string())),
    }
}

/// Applies one value alone to the base description and rejects a bad path
/// or a value the schema does not take. Errors that depend on other fields
/// are left to the points.
fn check_value(
    base: &Value,
    axis: &GridAxis,
    value: &Value,
    origin: &str,
) -> Result<(), SweepError> {
    let key_error = |message: String| SweepError::GridKey {
        origin: origin.to_string(),
        path: axis.path.clone(),
        message,
    };
    let mut document = base.clone();
    if let Err(error) = apply_override(&mut document, &axis.path, value.clone()) {
        let message = match error {
            HwError::Override { reason, .. } => reason,
            other => other.to_string(),
        };
        return Err(key_error(message));
    }
    match HwConfig::from_toml_value(&document, "grid value") {
        Ok(_) => Ok(()),
        Err(
            error @ (HwError::Schema { .. }
            | HwError::OutOfRange { .. }
            | HwError::UnknownPart { .. }),
        ) => Err(key_error(format!(
            "value {value} is not allowed: {}",
            error.to_string().trim_start_matches("grid value: ")
        ))),
        Err(_) => Ok(()),
    }
}

/// One slice of a grid: shard `index` of `count`, numbered from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, SweepError> {
        let invalid = || SweepError::Shard {
            text: text.to_string(),
        };
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let index: u64 = index.trim().parse().map_err(|_| invalid())?;
        let count: u64 = count.trim().parse().map_err(|_| invalid())?;
        if count == 0 || index >= count {
            return Err(invalid());
        }
        Ok(Shard { index, count })
    }

    /// Returns the points of this shard of a grid of `points`: a contiguous
    /// range, the shards in order covering `0..points` once.
    pub fn range(self, points: u64) -> Range<u64> {
        let bound =
            |shard: u64| (u128::from(points) * u128::from(shard) / u128::from(self.count)) as u64;
        bound(self.index)..bound(self.index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        HwConfig::default().to_toml_value().unwrap()
    }

    #[test]
    fn keys_keep_file_order_and_last_varies_fastest() {
        let text = "\"datapath.accumulator.bits\" = [16, 32]\n\
                    [array]\n\
                    rows = [8, 16, 32]\n";
        let grid = Grid::from_toml_str(text, "grid.toml", &base()).unwrap();
        let paths: Vec<&str> = grid.axes.iter().map(|axis| axis.path.as_str()).collect();
        assert_eq!(paths, ["datapath.accumulator.bits", "array.rows"]);
        assert_eq!(grid.point_count(), 6);
        let values = |index| -> Vec<i64> {
            grid.point_values(index)
                .iter()
                .map(|value| value.as_integer().unwrap())
                .collect()
        };
        assert_eq!(values(0), [16, 8]);
        assert_eq!(values(1), [16, 16]);
        assert_eq!(values(3), [32, 8]);
        assert_eq!(values(5), [32, 32]);
        let config = grid.point_config(&base(), 4, "base").unwrap();
        assert_eq!(config.array.rows, 16);
        assert_eq!(config.datapath.accumulator.bits, 32);
    }

    #[test]
    fn shards_cover_the_grid_once_in_order() {
        for points in [0u64, 1, 7, 1000, 1001] {
            for count in [1u64, 3, 4, 8] {
                let mut next = 0;
                for index in 0..count {
                    let range = Shard { index, count }.range(points);
                    assert_eq!(range.start, next, "{points} points, shard {index}/{count}");
                    next = range.end;
                }
                assert_eq!(next, points);
            }
        }
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for text in ["4/4", "1/0", "a/4", "3", "-1/4"] {
            assert!(Shard::parse(text).is_err(), "{text}");
        }
    }

    /// `"array.rows" = [4]` at the top level and `rows = [8]` under
    /// `[array]` name one field: the grid is rejected, naming the path and
    /// both spellings, instead of keeping only the later list.
    #[test]
    fn repeated_path_is_rejected() {
        let text = "\"array.rows\" = [4]\n[array]\nrows = [8]\n";
        let message = Grid::from_toml_str(text, "grid.toml", &base())
            .unwrap_err()
            .to_string();
        assert!(message.contains("key \"array.rows\""), "{message}");
        assert!(message.contains("given twice"), "{message}");
        assert!(
            message.contains("\"array.rows\" at the top level"),
            "{message}"
        );
        assert!(message.contains("rows in table [array]"), "{message}");
    }

    /// A TOML syntax error in the grid names its line and column, as the
    /// hardware description's errors do.
    #[test]
    fn syntax_error_has_line_and_column() {
        let text = "\"array.rows\" = [4, 8]\n\"array.cols\" = [4,, 8]\n";
        let message = Grid::from_toml_str(text, "grid.toml", &base())
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("grid.toml: invalid TOML (at line 2, column "),
            "{message}"
        );
    }
}
