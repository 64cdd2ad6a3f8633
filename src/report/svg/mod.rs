//! SVG charts for reports: bar charts, line charts and scatter plots with a
//! colour scale, each with a title, axes, ticks, axis labels and a legend.
//!
//! Output is deterministic text (fixed decimal places, no timestamps), so the
//! same chart always renders to the same bytes. Non-finite values are errors,
//! not silently dropped points.
//!
//! Limitation: text widths are estimated from the character count (there are
//! no font metrics), so a long label may still touch its neighbour. Labels
//! longer than [`MAX_LABEL_CHARS`] are cut with an ellipsis, and when bars
//! are too narrow for their labels only every n-th label is drawn.

/// Width of a chart in SVG user units (pixels).
pub const WIDTH: f64 = 720.0;
/// Height of a chart in SVG user units (pixels).
pub const HEIGHT: f64 = 420.0;
/// Maximum label length drawn in full; longer labels end in an ellipsis.
pub const MAX_LABEL_CHARS: usize = 28;

const FONT_SIZE: f64 = 11.0;
/// Estimated width of one character at [`FONT_SIZE`] in a sans-serif font.
const CHAR_WIDTH: f64 = 6.2;
const TITLE_SIZE: f64 = 15.0;
const MARGIN_TOP: f64 = 44.0;
const MARGIN_LEFT: f64 = 76.0;
const MARGIN_RIGHT: f64 = 24.0;
const MARGIN_BOTTOM: f64 = 52.0;
const TICK_TARGET: usize = 6;
/// Fewest ticks a linear axis with a fixed range shows before its step is
/// made finer.
const MIN_FIXED_RANGE_TICKS: usize = 4;
const AXIS_COLOR: &str = "#333333";
const GRID_COLOR: &str = "#e3e3e3";

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Color {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b }
    }

    /// Returns the `index`-th colour of a ten-colour categorical palette,
    /// starting again after the tenth.
    pub fn palette(index: usize) -> Color {
        PALETTE[index % PALETTE.len()]
    }

    /// Formats the colour as `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// Interpolates linearly between `self` (t = 0) and `other` (t = 1),
    /// channel by channel, rounding to the nearest integer.
    fn mix(self, other: Color, t: f64) -> Color {
        let channel =
            |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Color::rgb(
            channel(self.r, other.r),
            channel(self.g, other.g),
            channel(self.b, other.b),
        )
    }
}

/// The Tableau 10 categorical palette.
const PALETTE: [Color; 10] = [
    Color::rgb(0x4e, 0x79, 0xa7),
    Color::rgb(0xf2, 0x8e, 0x2b),
    Color::rgb(0xe1, 0x57, 0x59),
    Color::rgb(0x76, 0xb7, 0xb2),
    Color::rgb(0x59, 0xa1, 0x4f),
    Color::rgb(0xed, 0xc9, 0x48),
    Color::rgb(0xb0, 0x7a, 0xa1),
    Color::rgb(0xff, 0x9d, 0xa7),
    Color::rgb(0x9c, 0x75, 0x5f),
    Color::rgb(0xba, 0xb0, 0xac),
];

/// Stops of the viridis colour map at 0, 0.25, 0.5, 0.75 and 1: dark purple
/// for low values to yellow for high ones, readable in grey scale too.
const VIRIDIS: [Color; 5] = [
    Color::rgb(0x44, 0x01, 0x54),
    Color::rgb(0x3b, 0x52, 0x8b),
    Color::rgb(0x21, 0x91, 0x8c),
    Color::rgb(0x5e, 0xc9, 0x62),
    Color::rgb(0xfd, 0xe7, 0x25),
];

/// Mapping of values to positions along an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Base-10 logarithmic; every value on the axis must be positive.
    Log10,
}

/// One numeric axis: its label, scale and optional fixed range. Without a
/// fixed range the axis spans the data, widened to round tick values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Axis {
    /// Creates a linear axis that spans the data.
    pub fn new(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            min: None,
            max: None,
        }
    }

    /// Switches the axis to a base-10 logarithmic scale.
    pub fn log10(mut self) -> Axis {
        self.scale = Scale::Log10;
        self
    }

    /// Fixes the axis range. Data outside it is clipped at the plot edge.
    pub fn range(mut self, min: f64, max: f64) -> Axis {
        self.min = Some(min);
        self.max = Some(max);
        self
    }
}

/// A horizontal reference line, such as a capacity limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub value: f64,
    pub label: String,
}

/// A coloured square and its meaning in a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    pub label: String,
    pub color: Color,
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub color: Color,
}

/// Bars over categories, one per entry in `bars`, left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y: Axis,
    pub bars: Vec<Bar>,
    /// Writes each bar's value above it, formatted like the tick labels.
    pub show_values: bool,
    pub legend: Vec<LegendEntry>,
    pub rules: Vec<Rule>,
}

/// A named sequence of points joined by straight lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Color,
    pub points: Vec<(f64, f64)>,
}

/// One or more [`Series`] over two numeric axes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
}

/// One point of a [`ScatterPlot`]; `value` picks its colour on the scale.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub x: f64,
    pub y: f64,
    pub value: f64,
    /// Shown as the point's tooltip in viewers that support `<title>`.
    pub label: Option<String>,
}

/// The mapping from a point's value to a colour, drawn as a colour bar.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorScale {
    pub label: String,
    /// Value drawn in the darkest colour; the smallest value if `None`.
    pub min: Option<f64>,
    /// Value drawn in the brightest colour; the largest value if `None`.
    pub max: Option<f64>,
}

/// Points over two numeric axes, coloured by a third value, with optional
/// lines drawn beneath them (for example a Pareto front).
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPlot {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub color: ColorScale,
    pub points: Vec<ScatterPoint>,
    pub overlays: Vec<Series>,
}

/// Error raised when a chart cannot be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChartError {
    #[error("chart '{chart}': {item} is {value}, expected a finite number")]
    NotFinite {
        chart: String,
        item: String,
        value: f64,
    },
    #[error(
        "chart '{chart}': {item} is {value}, but the {axis} axis is logarithmic and takes \
         only positive values"
    )]
    NotPositive {
        chart: String,
        item: String,
        axis: &'static str,
        value: f64,
    },
    #[error("chart '{chart}': {axis} range {min}..{max} is empty; min must be below max")]
    EmptyRange {
        chart: String,
        axis: String,
        min: f64,
        max: f64,
    },
}

/// Escapes `&`, `<`, `>`, `"` and `'` for SVG text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Maps `t` in 0..=1 (clamped) onto the viridis colour map.
pub fn viridis(t: f64) -> Color {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let scaled = t * (VIRIDIS.len() - 1) as f64;
    let index = (scaled.floor() as usize).min(VIRIDIS.len() - 2);
    VIRIDIS[index].mix(VIRIDIS[index + 1], scaled - index as f64)
}

/// Round tick values covering `min..=max` on a linear scale, about
/// `target` of them, at steps of 1, 2 or 5 times a power of ten. The first
/// and last ticks enclose the range. Returns the ticks and the step.
pub fn linear_ticks(min: f64, max: f64, target: usize) -> (Vec<f64>, f64) {
    let (min, max) = widen_if_flat(min, max);
    let raw_step = (max - min) / target.max(2).saturating_sub(1) as f64;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw_step * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let first = (min / step + 1e-9).floor() as i64;
    let last = (max / step - 1e-9).ceil() as i64;
    let ticks = (first..=last)
        .map(|k| clean_zero(k as f64 * step))
        .collect();
    (ticks, step)
}

/// Tick values covering `min..=max` (both positive) on a log scale: every
/// power of ten from below `min` to above `max`, plus 2x and 5x multiples
/// when the range spans at most two decades.
pub fn log_ticks(min: f64, max: f64) -> Vec<f64> {
    let low = min.log10().floor() as i32;
    let mut high = max.log10().ceil() as i32;
    if high <= low {
        high = low + 1;
    }
    let fine = high - low <= 2;
    let mut ticks = Vec::new();
    for exponent in low..=high {
        let decade = 10f64.powi(exponent);
        ticks.push(decade);
        if fine && exponent < high {
            ticks.push(2.0 * decade);
            ticks.push(5.0 * decade);
        }
    }
    ticks
}

/// Formats a tick or value label: as many decimals as `step` needs, and a
/// k, M or G suffix from 10,000 up. Zero is always `0`.
pub fn format_number(value: f64, step: f64) -> String {
    let value = clean_zero(value);
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().max(step.abs());
    let (divisor, suffix) = if magnitude >= 1e9 {
        (1e9, "G")
    } else if magnitude >= 1e6 {
        (1e6, "M")
    } else if magnitude >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let decimals = decimals_for(step / divisor);
    format!("{:.*}{}", decimals, value / divisor, suffix)
}

fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (-(step.log10() + 1e-9).floor()).clamp(0.0, 6.0) as usize
}

fn clean_zero(value: f64) -> f64 {
    if value.abs() < 1e-12 {
        0.0
    } else {
        value
    }
}

fn widen_if_flat(min: f64, max: f64) -> (f64, f64) {
    if max > min {
        (min, max)
    } else if min == 0.0 {
        (0.0, 1.0)
    } else {
        let pad = min.abs() * 0.1;
        (min - pad, max + pad)
    }
}

/// Cuts `label` to [`MAX_LABEL_CHARS`] characters, ending in an ellipsis.
fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_string();
    }
    let mut cut: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

mod canvas;
mod charts;
#[cfg(test)]
mod tests;
