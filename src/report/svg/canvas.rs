//! Drawing primitives shared by the charts: axes resolved against their
//! data, the plot frame, and the SVG writer with its axes, rules and legends.
//!
//! Limitation: element ids derive from a hash of the chart title, so two
//! charts with the same title inlined into one HTML page share ids.

use super::*;
use std::fmt::Write;

const RULE_COLOR: &str = "#c0392b";

/// An axis resolved against its data: the drawn domain and its ticks.
#[derive(Debug, Clone)]
pub(super) struct ResolvedAxis {
    pub(super) scale: Scale,
    pub(super) low: f64,
    pub(super) high: f64,
    pub(super) ticks: Vec<f64>,
    pub(super) step: f64,
}

impl ResolvedAxis {
    /// Resolves `axis` for `values`, which the caller has checked are finite.
    /// `include_zero` keeps 0 in a linear domain (bar charts).
    pub(super) fn new(
        chart: &str,
        name: &'static str,
        axis: &Axis,
        values: &[f64],
        include_zero: bool,
    ) -> Result<ResolvedAxis, ChartError> {
        let data_min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let data_max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut min = axis.min.unwrap_or(data_min);
        let mut max = axis.max.unwrap_or(data_max);
        for (item, bound) in [("min", axis.min), ("max", axis.max)] {
            if let Some(value) = bound {
                check_finite(chart, &format!("{name} axis {item}"), value)?;
            }
        }
        if let (Some(low), Some(high)) = (axis.min, axis.max) {
            if low >= high {
                return Err(ChartError::EmptyRange {
                    chart: chart.to_string(),
                    axis: format!("{name} axis"),
                    min: low,
                    max: high,
                });
            }
        }
        match axis.scale {
            Scale::Linear => {
                if !min.is_finite() || !max.is_finite() {
                    (min, max) = (0.0, 1.0);
                }
                if include_zero {
                    min = min.min(0.0);
                    max = max.max(0.0);
                }
                let (ticks, step) = linear_ticks(min, max, TICK_TARGET);
                let (low, high) = match (axis.min, axis.max) {
                    (Some(low), Some(high)) => (low, high),
                    _ => widen_if_flat(
                        axis.min.unwrap_or(ticks[0]),
                        axis.max.unwrap_or(ticks[ticks.len() - 1]),
                    ),
                };
                let inside = |ticks: Vec<f64>, step: f64| -> Vec<f64> {
                    ticks
                        .into_iter()
                        .filter(|t| *t >= low - step * 1e-6 && *t <= high + step * 1e-6)
                        .collect()
                };
                let mut ticks = inside(ticks, step);
                let mut step = step;
                // A fixed range that cuts the round ticks (8 to 21 at a step
                // of 5 keeps only 10, 15 and 20) gets a finer step.
                let fixed = axis.min.is_some() && axis.max.is_some();
                if fixed && ticks.len() < MIN_FIXED_RANGE_TICKS {
                    let (finer, finer_step) = linear_ticks(min, max, 2 * TICK_TARGET);
                    ticks = inside(finer, finer_step);
                    step = finer_step;
                }
                Ok(ResolvedAxis {
                    scale: Scale::Linear,
                    low,
                    high,
                    ticks,
                    step,
                })
            }
            Scale::Log10 => {
                for (item, value) in [("min", min), ("max", max)] {
                    if value.is_finite() && value <= 0.0 {
                        return Err(ChartError::NotPositive {
                            chart: chart.to_string(),
                            item: format!("{name} {item}"),
                            axis: name,
                            value,
                        });
                    }
                }
                if !min.is_finite() || !max.is_finite() {
                    (min, max) = (1.0, 10.0);
                }
                let ticks = log_ticks(min, max);
                let low = axis.min.unwrap_or(ticks[0]);
                let high = axis.max.unwrap_or(ticks[ticks.len() - 1]);
                let ticks = ticks
                    .into_iter()
                    .filter(|t| *t >= low * (1.0 - 1e-9) && *t <= high * (1.0 + 1e-9))
                    .collect();
                Ok(ResolvedAxis {
                    scale: Scale::Log10,
                    low,
                    high,
                    ticks,
                    step: 0.0,
                })
            }
        }
    }

    /// Position of `value` as a fraction of the axis length, 0 at `low`.
    pub(super) fn fraction(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Linear => (value - self.low) / (self.high - self.low),
            Scale::Log10 => {
                (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
            }
        }
    }

    pub(super) fn tick_label(&self, tick: f64) -> String {
        match self.scale {
            Scale::Linear => format_number(tick, self.step),
            Scale::Log10 => format_number(tick, tick),
        }
    }
}

pub(super) fn check_finite(chart: &str, item: &str, value: f64) -> Result<(), ChartError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ChartError::NotFinite {
            chart: chart.to_string(),
            item: item.to_string(),
            value,
        })
    }
}

pub(super) fn check_log(
    chart: &str,
    axis: &Axis,
    name: &'static str,
    item: &str,
    value: f64,
) -> Result<(), ChartError> {
    if axis.scale == Scale::Log10 && value <= 0.0 {
        return Err(ChartError::NotPositive {
            chart: chart.to_string(),
            item: item.to_string(),
            axis: name,
            value,
        });
    }
    Ok(())
}

/// The plot rectangle inside the canvas and the two axes mapped onto it.
pub(super) struct Frame {
    pub(super) left: f64,
    pub(super) top: f64,
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) x: Option<ResolvedAxis>,
    pub(super) y: ResolvedAxis,
}

impl Frame {
    pub(super) fn x_position(&self, value: f64) -> f64 {
        match &self.x {
            Some(axis) => self.left + axis.fraction(value) * self.width,
            None => self.left,
        }
    }

    pub(super) fn y_position(&self, value: f64) -> f64 {
        self.top + (1.0 - self.y.fraction(value)) * self.height
    }

    pub(super) fn bottom(&self) -> f64 {
        self.top + self.height
    }

    pub(super) fn right(&self) -> f64 {
        self.left + self.width
    }
}

/// An SVG document being written.
pub(super) struct Canvas {
    pub(super) out: String,
    /// Suffix that keeps the document's element ids apart from those of
    /// other charts inlined into the same page.
    pub(super) id: String,
}

impl Canvas {
    pub(super) fn new(title: &str) -> Canvas {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"{FONT_SIZE}\">"
        );
        let _ = writeln!(out, "<title>{}</title>", escape(title));
        let _ = writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>"
        );
        let mut canvas = Canvas {
            out,
            id: format!("{:016x}", fnv1a(title.as_bytes())),
        };
        canvas.text(
            WIDTH / 2.0,
            26.0,
            title,
            "middle",
            &format!("font-size=\"{TITLE_SIZE}\" font-weight=\"bold\""),
        );
        canvas
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }

    pub(super) fn text(&mut self, x: f64, y: f64, content: &str, anchor: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" {extra}>{}</text>",
            escape(content)
        );
    }

    pub(super) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" \
             stroke=\"{stroke}\" {extra}/>"
        );
    }

    pub(super) fn rect(
        &mut self,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        fill: &str,
        tooltip: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"",
            width.max(0.0),
            height.max(0.0)
        );
        self.close_with_tooltip("rect", tooltip);
    }

    pub(super) fn circle(
        &mut self,
        x: f64,
        y: f64,
        radius: f64,
        fill: &str,
        tooltip: Option<&str>,
    ) {
        let _ = write!(
            self.out,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{radius:.1}\" fill=\"{fill}\" \
             stroke=\"#333333\" stroke-width=\"0.6\""
        );
        self.close_with_tooltip("circle", tooltip);
    }

    pub(super) fn close_with_tooltip(&mut self, element: &str, tooltip: Option<&str>) {
        match tooltip {
            Some(text) => {
                let _ = writeln!(self.out, "><title>{}</title></{element}>", escape(text));
            }
            None => self.out.push_str("/>\n"),
        }
    }

    pub(super) fn polyline(&mut self, points: &[(f64, f64)], stroke: &str) {
        let mut coordinates = String::new();
        for (x, y) in points {
            let _ = write!(coordinates, "{x:.1},{y:.1} ");
        }
        let _ = writeln!(
            self.out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"2\"/>",
            coordinates.trim_end()
        );
    }

    pub(super) fn open_clip(&mut self, frame: &Frame) {
        let _ = writeln!(
            self.out,
            "<clipPath id=\"plot-area-{id}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
             height=\"{:.1}\"/></clipPath>\n<g clip-path=\"url(#plot-area-{id})\">",
            frame.left - 5.0,
            frame.top - 5.0,
            frame.width + 10.0,
            frame.height + 10.0,
            id = self.id
        );
    }

    pub(super) fn close_group(&mut self) {
        self.out.push_str("</g>\n");
    }

    /// Draws the y grid, ticks and labels, the y axis label and the frame's
    /// left and bottom edges.
    pub(super) fn y_axis(&mut self, frame: &Frame, label: &str) {
        for tick in &frame.y.ticks {
            let y = frame.y_position(*tick);
            self.line(frame.left, y, frame.right(), y, GRID_COLOR, "");
            self.line(frame.left - 5.0, y, frame.left, y, AXIS_COLOR, "");
            self.text(
                frame.left - 8.0,
                y + 4.0,
                &frame.y.tick_label(*tick),
                "end",
                "",
            );
        }
        let middle = frame.top + frame.height / 2.0;
        self.text(
            18.0,
            middle,
            label,
            "middle",
            &format!("transform=\"rotate(-90 18 {middle:.1})\""),
        );
        self.line(
            frame.left,
            frame.top,
            frame.left,
            frame.bottom(),
            AXIS_COLOR,
            "",
        );
        self.line(
            frame.left,
            frame.bottom(),
            frame.right(),
            frame.bottom(),
            AXIS_COLOR,
            "",
        );
    }

    /// Draws the x grid, ticks, tick labels and the x axis label.
    pub(super) fn x_axis(&mut self, frame: &Frame, label: &str) {
        if let Some(axis) = &frame.x {
            for tick in &axis.ticks {
                let x = frame.x_position(*tick);
                self.line(x, frame.top, x, frame.bottom(), GRID_COLOR, "");
                self.line(x, frame.bottom(), x, frame.bottom() + 5.0, AXIS_COLOR, "");
                self.text(
                    x,
                    frame.bottom() + 18.0,
                    &axis.tick_label(*tick),
                    "middle",
                    "",
                );
            }
        }
        self.text(
            frame.left + frame.width / 2.0,
            HEIGHT - 10.0,
            label,
            "middle",
            "",
        );
    }

    /// Draws each rule as a dashed line across the frame. Its label goes in
    /// the legend, where it cannot cover the data.
    pub(super) fn rules(&mut self, frame: &Frame, rules: &[Rule]) {
        for rule in rules {
            let y = frame.y_position(rule.value);
            self.line(
                frame.left,
                y,
                frame.right(),
                y,
                RULE_COLOR,
                "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"",
            );
        }
    }

    /// Draws a legend as a column from (`x`, `y`): a square swatch per
    /// entry, then a dashed line per rule.
    pub(super) fn legend(&mut self, x: f64, y: f64, entries: &[LegendEntry], rules: &[Rule]) {
        for (i, entry) in entries.iter().enumerate() {
            let row = y + i as f64 * 18.0;
            self.rect(x, row - 9.0, 12.0, 12.0, &entry.color.hex(), None);
            self.text(x + 17.0, row + 1.0, &shorten(&entry.label), "start", "");
        }
        for (i, rule) in rules.iter().enumerate() {
            let row = y + (entries.len() + i) as f64 * 18.0;
            self.line(
                x - 2.0,
                row - 3.0,
                x + 14.0,
                row - 3.0,
                RULE_COLOR,
                "stroke-width=\"1.5\" stroke-dasharray=\"4 2\"",
            );
            self.text(x + 17.0, row + 1.0, &shorten(&rule.label), "start", "");
        }
    }
}

/// Width of the legend of `entries` and `rules`; 0 when both are empty.
pub(super) fn legend_width(entries: &[LegendEntry], rules: &[Rule]) -> f64 {
    let labels = entries
        .iter()
        .map(|entry| entry.label.as_str())
        .chain(rules.iter().map(|rule| rule.label.as_str()));
    labels
        .map(|label| text_width(&shorten(label)) + 30.0)
        .fold(0.0, f64::max)
}

pub(super) fn series_legend(series: &[Series]) -> Vec<LegendEntry> {
    series
        .iter()
        .map(|s| LegendEntry {
            label: s.name.clone(),
            color: s.color,
        })
        .collect()
}

pub(super) const COLOR_BAR_SPACE: f64 = 96.0;
pub(super) const COLOR_BAR_HEIGHT: f64 = 150.0;

/// Draws the colour bar of a scatter plot right of the frame: a vertical
/// viridis gradient, its ticks and its label above it.
pub(super) fn color_bar(canvas: &mut Canvas, frame: &Frame, colors: &ResolvedAxis, label: &str) {
    let x = frame.right() + 16.0;
    let top = frame.top + 22.0;
    let _ = write!(
        canvas.out,
        "<defs><linearGradient id=\"color-scale-{}\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">",
        canvas.id
    );
    for (i, stop) in VIRIDIS.iter().enumerate() {
        let offset = i as f64 / (VIRIDIS.len() - 1) as f64;
        let _ = write!(
            canvas.out,
            "<stop offset=\"{offset:.2}\" stop-color=\"{}\"/>",
            stop.hex()
        );
    }
    canvas.out.push_str("</linearGradient></defs>\n");
    let _ = writeln!(
        canvas.out,
        "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"14\" height=\"{COLOR_BAR_HEIGHT:.1}\" \
         fill=\"url(#color-scale-{})\" stroke=\"{AXIS_COLOR}\" stroke-width=\"0.6\"/>",
        canvas.id
    );
    for tick in &colors.ticks {
        let y = top + (1.0 - colors.fraction(*tick)) * COLOR_BAR_HEIGHT;
        canvas.line(x + 14.0, y, x + 18.0, y, AXIS_COLOR, "");
        canvas.text(x + 21.0, y + 4.0, &colors.tick_label(*tick), "start", "");
    }
    canvas.text(x - 4.0, top - 10.0, &shorten(label), "start", "");
}

pub(super) fn draw_series(canvas: &mut Canvas, frame: &Frame, series: &Series, markers: bool) {
    let points: Vec<(f64, f64)> = series
        .points
        .iter()
        .map(|(x, y)| (frame.x_position(*x), frame.y_position(*y)))
        .collect();
    let color = series.color.hex();
    if points.len() > 1 {
        canvas.polyline(&points, &color);
    }
    if markers || points.len() == 1 {
        for ((x, y), (px, py)) in series.points.iter().zip(&points) {
            let tooltip = format!(
                "{}: ({}, {})",
                series.name,
                format_number(*x, 0.001),
                format_number(*y, 0.001)
            );
            canvas.circle(*px, *py, 3.5, &color, Some(&tooltip));
        }
    }
}

/// Builds the frame of a chart with two numeric axes, leaving `side` pixels
/// right of the plot for a legend or colour bar.
pub(super) fn numeric_frame(
    chart: &str,
    x: &Axis,
    y: &Axis,
    xs: &[f64],
    ys: &[f64],
    side: f64,
) -> Result<Frame, ChartError> {
    let x_axis = ResolvedAxis::new(chart, "x", x, xs, false)?;
    let y_axis = ResolvedAxis::new(chart, "y", y, ys, false)?;
    let side = if side > 0.0 { side + 12.0 } else { 0.0 };
    Ok(Frame {
        left: MARGIN_LEFT,
        top: MARGIN_TOP,
        width: WIDTH - MARGIN_LEFT - MARGIN_RIGHT - side,
        height: HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
        x: Some(x_axis),
        y: y_axis,
    })
}

/// 64-bit FNV-1a hash: stable across runs and platforms, unlike the
/// standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
