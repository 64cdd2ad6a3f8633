//! The charts of the `fxsim run` report (cycles per layer, resources
//! against the part's capacity, accuracy against accumulator width) and
//! the writing of the Markdown report with its charts beside it.
//!
//! Limitation: the accuracy chart needs the width sweep, which the summary
//! runs only when asked ([`crate::analysis::run_summary::SummarySettings`]).
//! Without it the report has two charts.

use super::run::{run_markdown, ChartLinks};
use super::svg::{Axis, Bar, BarChart, ChartError, Color, LegendEntry, LineChart, Rule, Series};
use crate::analysis::accum_sweep::WidthSweep;
use crate::analysis::run_summary::{DesignSummary, RunSummary};
use crate::io::{write_files, WriteFilesError};
use crate::resources::ResourceReport;
use crate::timing::{Bound, TimingReport};
use std::path::{Path, PathBuf};

/// Failure to write the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: the report path names no file", path.display())]
    Path { path: PathBuf },

    #[error(transparent)]
    Chart(#[from] ChartError),

    #[error(transparent)]
    Write(#[from] WriteFilesError),
}

/// Builds the bar chart of cycles per layer, coloured by what bounds each
/// layer.
pub fn cycles_chart(timing: &TimingReport, part: &str) -> BarChart {
    let color = |bound: Bound| match bound {
        Bound::Compute => Color::palette(0),
        Bound::Memory => Color::palette(1),
    };
    let bars = timing
        .layers
        .iter()
        .map(|layer| Bar {
            label: format!("{} {}", layer.index, layer.op),
            value: layer.total_cycles as f64,
            color: color(layer.bound),
        })
        .collect();
    BarChart {
        title: format!(
            "Cycles per layer on {part} at {} MHz (estimate)",
            super::estimate::format_mhz(timing.clock_mhz)
        ),
        x_label: "layer".to_string(),
        y: Axis::new("cycles"),
        bars,
        show_values: timing.layers.len() <= 16,
        legend: vec![
            LegendEntry {
                label: "compute-bound".to_string(),
                color: color(Bound::Compute),
            },
            LegendEntry {
                label: "memory-bound".to_string(),
                color: color(Bound::Memory),
            },
        ],
        rules: Vec::new(),
    }
}

/// Builds the bar chart of each resource's use in percent of the part's
/// capacity, with the capacity drawn as a line at 100 %.
pub fn resources_chart(resources: &ResourceReport) -> BarChart {
    let bars = resources
        .usage
        .iter()
        .filter_map(|usage| {
            let percent = usage.percent?;
            let color = if usage.fits() {
                Color::palette(0)
            } else {
                Color::palette(2)
            };
            Some(Bar {
                label: usage.name.clone(),
                value: percent,
                color,
            })
        })
        .collect();
    BarChart {
        title: format!(
            "Resources against the capacity of the {} (estimate)",
            resources.part
        ),
        x_label: "resource".to_string(),
        y: Axis::new("used (% of the part)"),
        bars,
        show_values: true,
        legend: Vec::new(),
        rules: vec![Rule {
            value: 100.0,
            label: format!("{} capacity", resources.part),
        }],
    }
}

/// Builds the line chart of top-1 accuracy (agreement with the reference
/// datapath when there are no labels) against accumulator width, one line
/// per overflow mode.
pub fn accuracy_chart(sweep: &WidthSweep) -> LineChart {
    let labelled = sweep.reference_accuracy.is_some();
    let percent = |value: Option<f64>, agreement: f64| 100.0 * value.unwrap_or(agreement);
    let series = |name: &str, color: Color, wrap: bool| Series {
        name: name.to_string(),
        color,
        points: sweep
            .rows
            .iter()
            .map(|row| {
                let point = if wrap { &row.wrap } else { &row.saturate };
                let value = if labelled { point.accuracy } else { None };
                (f64::from(row.bits), percent(value, point.agreement))
            })
            .collect(),
    };
    let (title, y_label) = if labelled {
        (
            "Top-1 accuracy against accumulator width",
            "top-1 accuracy (%)",
        )
    } else {
        (
            "Top-1 agreement with the reference against accumulator width",
            "top-1 agreement (%)",
        )
    };
    let rules = sweep
        .reference_accuracy
        .map(|accuracy| Rule {
            value: 100.0 * accuracy,
            label: format!("reference datapath {:.1}%", 100.0 * accuracy),
        })
        .into_iter()
        .collect();
    // The axis spans the swept widths exactly, so that nice ticks around
    // them do not add empty bits at both ends (8 to 21 would become 5 to 25).
    let widths = sweep.rows.iter().map(|row| f64::from(row.bits));
    let narrowest = widths.clone().fold(f64::INFINITY, f64::min);
    let widest = widths.fold(f64::NEG_INFINITY, f64::max);
    let mut x = Axis::new("accumulator bits, every MAC layer");
    if narrowest < widest {
        x = x.range(narrowest, widest);
    }
    LineChart {
        title: title.to_string(),
        x,
        y: Axis::new(y_label).range(0.0, 100.0),
        series: vec![
            series("wrap", Color::palette(0), true),
            series("saturate", Color::palette(1), false),
        ],
        rules,
    }
}

/// Writes the Markdown report to `path` and its charts beside it, named
/// after it (`report.md` gives `report-cycles.svg`, `report-resources.svg`
/// and `report-accuracy.svg`). Returns every path written, the report
/// last. Nothing is written when a chart cannot be drawn.
pub fn write_run_report(path: &Path, summary: &RunSummary) -> Result<Vec<PathBuf>, ReportError> {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .filter(|stem| !stem.is_empty())
        .ok_or_else(|| ReportError::Path {
            path: path.to_path_buf(),
        })?;

    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut links = ChartLinks::default();
    if let Some(design) = &summary.design {
        for (kind, svg) in design_charts(design)? {
            let name = format!("{stem}-{kind}.svg");
            match kind {
                "cycles" => links.cycles = Some(name.clone()),
                "resources" => links.resources = Some(name.clone()),
                _ => links.accuracy = Some(name.clone()),
            }
            files.push((path.with_file_name(name), svg.into_bytes()));
        }
    }
    files.push((
        path.to_path_buf(),
        run_markdown(summary, &links).into_bytes(),
    ));

    write_files(&files)?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Renders the design's charts as `(kind, svg)` pairs.
fn design_charts(design: &DesignSummary) -> Result<Vec<(&'static str, String)>, ChartError> {
    let mut charts = vec![
        (
            "cycles",
            cycles_chart(&design.timing, &design.part).to_svg()?,
        ),
        ("resources", resources_chart(&design.resources).to_svg()?),
    ];
    if let Some(sweep) = &design.accumulators.sweep {
        charts.push(("accuracy", accuracy_chart(sweep).to_svg()?));
    }
    Ok(charts)
}
