//! The files of a sweep: `points.csv`, `points.json` and
//! `latency_dsp.svg`, written atomically into one directory, and the merge
//! of shard directories into the output of the whole grid.
//!
//! `points.json` carries every figure of every point, so `merge` rebuilds
//! the whole output from the shards' JSON alone and recomputes the Pareto
//! front over all points. The shards' own Pareto column is the front of the
//! shard only. Floats are written by `serde_json` (shortest text that reads
//! back to the same `f64`) and by Rust's `Display` in the CSV, so equal
//! points give equal bytes.
//!
//! Limitation: merged shards must come from the same command line: model,
//! hardware and grid paths as given, and the same data set. Shards run with
//! other paths to the same files are rejected as different sweeps.

use super::{mark_front, pareto_front, DatasetSummary, DesignPoint, Shard, SweepError};
use crate::io::{check_output_dir, write_dir_atomically, OutputDir};
use crate::report::svg::{Axis, Color, ColorScale, ScatterPlot, ScatterPoint, Series};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// Name of the points table.
pub const CSV_FILE: &str = "points.csv";
/// Name of the JSON file that `merge` reads.
pub const JSON_FILE: &str = "points.json";
/// Name of the scatter plot.
pub const SVG_FILE: &str = "latency_dsp.svg";

const SWEEP_DIR: OutputDir = OutputDir {
    marker: ".fxsim-sweep",
    marker_text: "written by fxsim sweep\n",
    kind: "sweep output",
};

/// Identifies the output format in `points.json`.
const FORMAT: &str = "fxsim-sweep-1";

/// One varied field in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisSummary {
    pub path: String,
    pub values: Vec<serde_json::Value>,
}

/// Everything a sweep writes: what was swept, and every point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepOutput {
    pub format: String,
    pub model: String,
    pub hardware: String,
    pub grid: String,
    pub axes: Vec<AxisSummary>,
    /// Points of the whole grid, over all shards.
    pub grid_points: u64,
    /// The objectives the Pareto front minimises, in order.
    pub objectives: Vec<String>,
    pub dataset: Option<DatasetSummary>,
    /// The shard these points are; `None` for a whole grid.
    pub shard: Option<Shard>,
    pub points: Vec<DesignPoint>,
}

impl SweepOutput {
    /// Checks that `dir` is new or an earlier sweep output, before a sweep
    /// spends time on points it could not write.
    pub fn check_target(dir: &Path) -> Result<(), SweepError> {
        Ok(check_output_dir(dir, SWEEP_DIR)?)
    }

    /// Assembles the output of a run and marks its Pareto front.
    pub fn new(
        model: String,
        hardware: String,
        grid_path: String,
        grid: &super::Grid,
        dataset: Option<DatasetSummary>,
        shard: Option<Shard>,
        mut points: Vec<DesignPoint>,
    ) -> SweepOutput {
        let with_accuracy = dataset.is_some();
        mark_front(&mut points, with_accuracy);
        let axes = grid
            .axes
            .iter()
            .map(|axis| AxisSummary {
                path: axis.path.clone(),
                values: axis
                    .values
                    .iter()
                    .map(|value| serde_json::to_value(value).unwrap_or(serde_json::Value::Null))
                    .collect(),
            })
            .collect();
        SweepOutput {
            format: FORMAT.to_string(),
            model,
            hardware,
            grid: grid_path,
            axes,
            grid_points: grid.point_count(),
            objectives: objective_names(with_accuracy, &dataset),
            dataset,
            shard,
            points,
        }
    }

    /// Fails when every point is invalid, naming the first.
    pub fn check_some_valid(&self) -> Result<(), SweepError> {
        if self.points.iter().any(|point| point.invalid.is_none()) {
            return Ok(());
        }
        match self.points.first() {
            Some(first) => Err(SweepError::AllInvalid {
                points: self.points.len() as u64,
                index: first.index,
                reason: first.invalid.clone().unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }

    /// Writes the three files into `dir`, replacing an earlier sweep output
    /// there; nothing is left at `dir` when writing fails.
    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let json = self.to_json()?;
        let csv = self.to_csv();
        let svg = self.to_svg()?;
        write_dir_atomically(dir, SWEEP_DIR, |staging| {
            std::fs::write(staging.join(CSV_FILE), &csv)?;
            std::fs::write(staging.join(JSON_FILE), &json)?;
            std::fs::write(staging.join(SVG_FILE), &svg)
        })?;
        Ok(())
    }

    /// Returns `points.json`.
    pub fn to_json(&self) -> Result<String, SweepError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|error| SweepError::Json(error.to_string()))?;
        text.push('\n');
        Ok(text)
    }

    /// Returns `points.csv`: one row per point in grid order.
    pub fn to_csv(&self) -> String {
        let mut header: Vec<String> = vec!["index".to_string()];
        header.extend(self.axes.iter().map(|axis| csv_field(&axis.path)));
        header.extend(
            [
                "valid",
                "fits",
                "pareto",
                "total_cycles",
                "latency_us",
                "dsp",
                "bram36",
                "uram",
                "lut",
                "ff",
                "accuracy",
                "agreement",
                "reason",
            ]
            .map(String::from),
        );
        let mut text = header.join(",");
        text.push('\n');
        for point in &self.points {
            let mut row: Vec<String> = vec![point.index.to_string()];
            row.extend(
                point
                    .values
                    .iter()
                    .map(|value| csv_field(&value_text(value))),
            );
            let estimate = point.estimate.as_ref();
            let number = |value: Option<String>| value.unwrap_or_default();
            row.push(point.invalid.is_none().to_string());
            row.push(number(estimate.map(|e| e.fits.to_string())));
            row.push(point.pareto.to_string());
            row.push(number(estimate.map(|e| e.total_cycles.to_string())));
            row.push(number(estimate.map(|e| e.latency_us.to_string())));
            row.push(number(estimate.map(|e| e.dsp.to_string())));
            row.push(number(estimate.map(|e| e.bram36.to_string())));
            row.push(number(estimate.map(|e| e.uram.to_string())));
            row.push(number(estimate.map(|e| e.lut.to_string())));
            row.push(number(estimate.map(|e| e.ff.to_string())));
            let accuracy = point.accuracy;
            row.push(number(
                accuracy.and_then(|a| a.accuracy).map(|a| a.to_string()),
            ));
            row.push(number(accuracy.map(|a| a.agreement.to_string())));
            row.push(csv_field(point.invalid.as_deref().unwrap_or("")));
            let _ = writeln!(text, "{}", row.join(","));
        }
        text
    }

    /// Returns the scatter plot of latency against DSP over the valid
    /// points, coloured by accuracy (agreement without labels, BRAM without
    /// a data set).
    pub fn to_svg(&self) -> Result<String, SweepError> {
        let (color_label, color_of): (&str, fn(&DesignPoint) -> Option<f64>) = match &self.dataset {
            Some(dataset) if dataset.labels => ("top-1 accuracy", |point| {
                point.accuracy.and_then(|a| a.accuracy)
            }),
            Some(_) => ("agreement with the reference", |point| {
                point.accuracy.map(|a| a.agreement)
            }),
            None => ("BRAM36", |point| point.estimate.as_ref().map(|e| e.bram36)),
        };
        let higher_is_better = self.dataset.is_some();
        let mut points: Vec<ScatterPoint> = self
            .points
            .iter()
            .filter(|point| point.invalid.is_none())
            .filter_map(|point| {
                let estimate = point.estimate.as_ref()?;
                let mut label = format!("point {}", point.index);
                if point.pareto {
                    label.push_str(", Pareto front");
                }
                if !estimate.fits {
                    label.push_str(", does not fit");
                }
                Some(ScatterPoint {
                    x: estimate.latency_us,
                    y: estimate.dsp as f64,
                    value: color_of(point)?,
                    label: Some(label),
                })
            })
            .collect();
        // Points at the same latency and DSP overlap, and the one drawn last
        // is the one seen. Drawing the worst colour value last keeps a bad
        // point from hiding under a good one. The sort is stable, so ties
        // stay in grid order and the SVG is the same on every run.
        points.sort_by(|a, b| {
            let order = a.value.total_cmp(&b.value);
            if higher_is_better {
                order.reverse()
            } else {
                order
            }
        });
        let plot = ScatterPlot {
            title: format!("{}: latency against DSP", file_name(&self.model)),
            x: Axis::new("latency (µs)"),
            y: Axis::new("DSP slices"),
            color: ColorScale {
                label: color_label.to_string(),
                min: None,
                max: None,
            },
            points,
            overlays: vec![self.latency_dsp_front()],
        };
        Ok(plot.to_svg()?)
    }

    /// Returns the line through the candidates that no other candidate beats
    /// in both latency and DSP, in order of latency. It is the front of this
    /// plane only; the `pareto` column also weighs BRAM and accuracy.
    fn latency_dsp_front(&self) -> Series {
        let objectives: Vec<Option<Vec<f64>>> = self
            .points
            .iter()
            .map(|point| {
                let estimate = point.estimate.as_ref().filter(|estimate| estimate.fits)?;
                point
                    .invalid
                    .is_none()
                    .then(|| vec![estimate.latency_us, estimate.dsp as f64])
            })
            .collect();
        let mut corners: Vec<(f64, f64)> = pareto_front(&objectives)
            .iter()
            .zip(&objectives)
            .filter(|(on_front, _)| **on_front)
            .filter_map(|(_, objectives)| {
                Some((
                    *objectives.as_ref()?.first()?,
                    *objectives.as_ref()?.get(1)?,
                ))
            })
            .collect();
        corners.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        corners.dedup();
        Series {
            name: "latency-DSP front".to_string(),
            color: Color::palette(1),
            points: corners,
        }
    }

    /// Reads the `points.json` of a sweep output directory.
    pub fn read(dir: &Path) -> Result<SweepOutput, SweepError> {
        let path = dir.join(JSON_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| SweepError::Read {
            path: path.clone(),
            source,
        })?;
        let output: SweepOutput =
            serde_json::from_str(&text).map_err(|error| SweepError::Merge {
                path: path.clone(),
                message: format!("not a sweep's points.json: {error}"),
            })?;
        if output.format != FORMAT {
            return Err(SweepError::Merge {
                path,
                message: format!("format \"{}\", expected \"{FORMAT}\"", output.format),
            });
        }
        Ok(output)
    }

    /// Joins shard outputs into the output of the whole grid: the points in
    /// grid order, each exactly once, and the Pareto front recomputed.
    pub fn merge(
        shards: Vec<(std::path::PathBuf, SweepOutput)>,
    ) -> Result<SweepOutput, SweepError> {
        let mut shards = shards.into_iter();
        let Some((first_path, first)) = shards.next() else {
            return Err(SweepError::Merge {
                path: ".".into(),
                message: "no shard directories given".to_string(),
            });
        };
        let header = |output: &SweepOutput| SweepOutput {
            shard: None,
            points: Vec::new(),
            ..output.clone()
        };
        let expected = header(&first);
        let mut points = first.points;
        for (path, shard) in shards {
            let found = header(&shard);
            if found != expected {
                return Err(SweepError::Merge {
                    path,
                    message: format!(
                        "is from another sweep than {}: {}",
                        first_path.display(),
                        first_difference(&expected, &found)
                    ),
                });
            }
            points.extend(shard.points);
        }

        if let Some(point) = points
            .iter()
            .find(|point| point.values.len() != expected.axes.len())
        {
            return Err(SweepError::Merge {
                path: first_path,
                message: format!(
                    "point {} has {} values for {} grid keys",
                    point.index,
                    point.values.len(),
                    expected.axes.len()
                ),
            });
        }
        points.sort_by_key(|point| point.index);
        for (position, point) in points.iter().enumerate() {
            if point.index != position as u64 {
                let message = if point.index < position as u64 {
                    format!("point {} appears in two shards", point.index)
                } else {
                    format!("point {position} is in no shard; is a shard missing?")
                };
                return Err(SweepError::Merge {
                    path: first_path,
                    message,
                });
            }
        }
        if points.len() as u64 != expected.grid_points {
            return Err(SweepError::Merge {
                path: first_path,
                message: format!(
                    "the shards hold {} of the grid's {} points; is a shard missing?",
                    points.len(),
                    expected.grid_points
                ),
            });
        }

        let with_accuracy = expected.dataset.is_some();
        mark_front(&mut points, with_accuracy);
        Ok(SweepOutput { points, ..expected })
    }
}

/// Names the first header field in which two shards differ, with both
/// values where they are short. The model, hardware and grid are compared
/// by the path the sweep recorded, because the merged `points.json` records
/// that path too. The grid's content (its axes) is compared first, so a
/// renamed copy of the same grid is reported as a path difference.
fn first_difference(expected: &SweepOutput, found: &SweepOutput) -> String {
    let paths = [
        ("model", &expected.model, &found.model),
        ("hardware", &expected.hardware, &found.hardware),
        ("grid", &expected.grid, &found.grid),
    ];
    if expected.axes != found.axes {
        return "grid content differs (other keys or values)".to_string();
    }
    if let Some((field, a, b)) = paths.iter().find(|(_, a, b)| a != b) {
        return format!(
            "{field} path differs: {a} vs {b}; run every shard with the same {field} path, \
             which the output records"
        );
    }
    if expected.grid_points != found.grid_points {
        return format!(
            "grid_points differs: {} vs {}",
            expected.grid_points, found.grid_points
        );
    }
    if expected.dataset != found.dataset {
        return "dataset differs".to_string();
    }
    "the headers differ".to_string()
}

fn objective_names(with_accuracy: bool, dataset: &Option<DatasetSummary>) -> Vec<String> {
    let mut names = vec![
        "min total_cycles".to_string(),
        "min dsp".to_string(),
        "min bram36".to_string(),
    ];
    if with_accuracy {
        let labelled = dataset.as_ref().is_some_and(|dataset| dataset.labels);
        names.push(
            if labelled {
                "max accuracy"
            } else {
                "max agreement"
            }
            .to_string(),
        );
    }
    names
}

/// Renders an axis value for the CSV: a string as itself, anything else
/// as JSON.
fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Quotes a CSV field that contains a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or(path.to_string(), |name| name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{PointAccuracy, PointEstimate};

    #[test]
    fn csv_field_quotes_separators() {
        assert_eq!(csv_field("int8"), "int8");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }

    #[test]
    fn value_text_keeps_strings_bare() {
        assert_eq!(value_text(&serde_json::json!("int4")), "int4");
        assert_eq!(value_text(&serde_json::json!(16)), "16");
        assert_eq!(
            value_text(&serde_json::json!({"bits": 20})),
            "{\"bits\":20}"
        );
    }

    fn output_with_accuracies(accuracies: &[(f64, u64, f64)]) -> SweepOutput {
        let points = accuracies
            .iter()
            .enumerate()
            .map(|(index, &(latency_us, dsp, accuracy))| DesignPoint {
                index: index as u64,
                values: vec![serde_json::json!(index)],
                invalid: None,
                estimate: Some(PointEstimate {
                    total_cycles: (latency_us * 100.0) as u64,
                    latency_us,
                    dsp,
                    bram36: 1.0,
                    uram: 0,
                    lut: 1,
                    ff: 1,
                    fits: true,
                }),
                accuracy: Some(PointAccuracy {
                    accuracy: Some(accuracy),
                    agreement: accuracy,
                }),
                pareto: false,
            })
            .collect();
        SweepOutput {
            format: FORMAT.to_string(),
            model: "model.tflite".to_string(),
            hardware: "base.toml".to_string(),
            grid: "a.toml".to_string(),
            axes: vec![AxisSummary {
                path: "array.rows".to_string(),
                values: vec![serde_json::json!(8)],
            }],
            grid_points: accuracies.len() as u64,
            objectives: Vec::new(),
            dataset: Some(DatasetSummary {
                inputs: 2,
                labels: true,
                reference_accuracy: Some(1.0),
                datapath_sets: 1,
            }),
            shard: None,
            points,
        }
    }

    /// Two points at the same latency and DSP overlap in the scatter plot:
    /// the one with the lower accuracy is drawn later, on top, whatever its
    /// grid index.
    #[test]
    fn scatter_draws_worst_accuracy_last() {
        let output = output_with_accuracies(&[(10.0, 40, 0.5), (10.0, 40, 1.0), (20.0, 8, 0.75)]);
        let svg = output.to_svg().unwrap();
        let position = |label: &str| {
            svg.find(label)
                .unwrap_or_else(|| panic!("{label} missing from {svg}"))
        };
        assert!(position("point 1") < position("point 2"), "{svg}");
        assert!(position("point 2") < position("point 0"), "{svg}");
    }

    /// Shards whose grids have the same content under different file names
    /// differ in the grid path, and the message names both paths.
    #[test]
    fn renamed_grid_is_a_path_difference() {
        let first = output_with_accuracies(&[(10.0, 40, 0.5)]);
        let mut renamed = first.clone();
        renamed.grid = "b.toml".to_string();
        assert_eq!(
            first_difference(&first, &renamed),
            "grid path differs: a.toml vs b.toml; run every shard with the same grid path, \
             which the output records"
        );
        let mut other_values = first.clone();
        other_values.axes[0].values = vec![serde_json::json!(16)];
        assert!(first_difference(&first, &other_values).starts_with("grid content differs"));
    }
}
