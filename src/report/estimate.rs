//! The report of `fxsim estimate`: per-layer timing and totals, then the
//! resource estimate against the part, as a text table (at most 100
//! columns), Markdown tables or one JSON object.
//!
//! Limitation: the renderer adds nothing to what the timing and resource
//! models return. Both are estimates, and the report states that at its top.

use crate::report::inspect::group_digits;
use crate::resources::memory::BufferEstimate;
use crate::resources::multiplier::{MultiplierKind, MultiplierPlan, SharedOperand};
use crate::resources::{format_count, ResourceReport, ResourceUsage, UnitEstimate};
use crate::timing::{Bound, ComputeUnit, LayerTiming, TimingReport};
use serde::Serialize;
use std::fmt::Write;

/// Widest line of the text report.
pub const TEXT_WIDTH: usize = 100;

/// The estimate of one model on one hardware description.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateReport {
    /// The model, usually its file path.
    pub model: String,
    /// The hardware description, usually its file path.
    pub hardware: String,
    pub timing: TimingReport,
    pub resources: ResourceReport,
}

impl EstimateReport {
    /// Renders the report as JSON, one object with `timing` and `resources`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }

    /// Renders the report as text tables of at most [`TEXT_WIDTH`] columns.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "model: {}", self.model);
        let _ = writeln!(out, "hardware: {}", self.hardware);
        let _ = writeln!(
            out,
            "part: {}, clock {} MHz",
            self.resources.part,
            format_mhz(self.timing.clock_mhz)
        );
        let _ = writeln!(
            out,
            "every figure is an estimate from fxsim's timing and resource models"
        );
        out.push('\n');
        timing_text(&mut out, &self.timing);
        out.push('\n');
        resources_text(&mut out, &self.resources);
        out
    }

    /// Renders the report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Estimate of `{}` on `{}`\n",
            self.model, self.hardware
        );
        let _ = writeln!(
            out,
            "Part {}, clock {} MHz. Every figure is an estimate from fxsim's timing and \
             resource models.\n",
            self.resources.part,
            format_mhz(self.timing.clock_mhz)
        );
        timing_markdown(&mut out, &self.timing);
        resources_markdown(&mut out, &self.resources);
        out
    }
}

pub(crate) fn format_mhz(clock_mhz: f64) -> String {
    if clock_mhz.fract() == 0.0 {
        format!("{clock_mhz:.0}")
    } else {
        format!("{clock_mhz}")
    }
}

pub(crate) fn format_percent(percent: Option<f64>) -> String {
    percent.map_or("-".to_string(), |percent| format!("{percent:.1}%"))
}

/// Formats a whole or half resource count with thousands separators.
pub(crate) fn format_resource(value: f64) -> String {
    if value.fract() == 0.0 && value >= 0.0 && value < u64::MAX as f64 {
        group_digits(value as u64)
    } else {
        format_count(value)
    }
}

pub(crate) fn bound_name(bound: Bound) -> &'static str {
    match bound {
        Bound::Compute => "compute",
        Bound::Memory => "memory",
    }
}

pub(crate) fn unit_name(unit: Option<ComputeUnit>) -> &'static str {
    match unit {
        Some(ComputeUnit::Array) => "array",
        Some(ComputeUnit::VectorUnit) => "vector",
        Some(ComputeUnit::Ppu) => "ppu",
        None => "-",
    }
}

/// Returns a layer's time at the clock, in microseconds.
fn layer_microseconds(layer: &LayerTiming, clock_mhz: f64) -> f64 {
    layer.total_cycles as f64 / clock_mhz
}

fn limited_by(layer: &LayerTiming) -> String {
    layer
        .limited_by
        .map_or("-".to_string(), |buffer| buffer.to_string())
}

fn count_bound(timing: &TimingReport, bound: Bound) -> usize {
    timing
        .layers
        .iter()
        .filter(|layer| layer.bound == bound)
        .count()
}

/// Returns the whole-model totals as `(label, value)` pairs.
fn totals(timing: &TimingReport) -> Vec<(&'static str, String)> {
    vec![
        ("cycles", group_digits(timing.total_cycles)),
        (
            "latency",
            format!(
                "{:.1} us at {} MHz",
                timing.latency_us,
                format_mhz(timing.clock_mhz)
            ),
        ),
        (
            "inferences per second",
            group_digits(timing.inferences_per_second.round() as u64),
        ),
        ("DRAM bytes", group_digits(timing.dram_bytes)),
        ("MACs", group_digits(timing.macs)),
        (
            "layers",
            format!(
                "{} compute-bound, {} memory-bound",
                count_bound(timing, Bound::Compute),
                count_bound(timing, Bound::Memory)
            ),
        ),
    ]
}

fn timing_text(out: &mut String, timing: &TimingReport) {
    let _ = writeln!(out, "per layer:");
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:<6} {:>12} {:>10}  {:<7} {:>6} {:>12}  limited by",
        "#", "op", "unit", "cycles", "us", "bound", "util", "DRAM bytes"
    );
    for layer in &timing.layers {
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:<6} {:>12} {:>10.2}  {:<7} {:>5.1}% {:>12}  {}",
            layer.index,
            truncate(&layer.op, 18),
            unit_name(layer.unit),
            group_digits(layer.total_cycles),
            layer_microseconds(layer, timing.clock_mhz),
            bound_name(layer.bound),
            100.0 * layer.utilisation,
            group_digits(layer.dram_bytes),
            limited_by(layer)
        );
    }
    out.push('\n');
    let _ = writeln!(out, "total:");
    for (label, value) in totals(timing) {
        let _ = writeln!(out, "  {:<22} {value}", format!("{label}:"));
    }
}

/// Shortens `text` to at most `width` characters, marking a cut with `~`.
pub(crate) fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('~');
    short
}

fn resources_text(out: &mut String, resources: &ResourceReport) {
    let _ = writeln!(out, "resources on {}:", resources.part);
    let _ = writeln!(
        out,
        "  {:<10} {:>12} {:>12} {:>8}",
        "resource", "used", "available", "used %"
    );
    for usage in &resources.usage {
        let _ = writeln!(
            out,
            "  {:<10} {:>12} {:>12} {:>8}",
            usage.name,
            format_resource(usage.used),
            group_digits(usage.available),
            format_percent(usage.percent)
        );
    }
    push_wrapped(out, "", "  ", &resources.message);
    out.push('\n');

    let _ = writeln!(out, "by component:");
    let _ = writeln!(
        out,
        "  {:<12} {:>8} {:>8} {:>8} {:>6} {:>11} {:>11}",
        "component", "DSP", "BRAM36", "BRAM18", "URAM", "LUT", "FF"
    );
    for row in &resources.components {
        let _ = writeln!(
            out,
            "  {:<12} {:>8} {:>8} {:>8} {:>6} {:>11} {:>11}",
            row.component,
            group_digits(row.dsp),
            group_digits(row.bram36),
            group_digits(row.bram18),
            group_digits(row.uram),
            group_digits(row.lut),
            group_digits(row.ff)
        );
    }
    out.push('\n');

    for line in unit_lines(resources) {
        push_wrapped(out, "", "  ", &line);
    }
    out.push('\n');

    let _ = writeln!(out, "buffers:");
    let _ = writeln!(
        out,
        "  {:<12} {:>9} {:>5} {:>9} {:>11} {:>7} {:>7} {:>5}",
        "buffer", "KiB/bank", "banks", "word bits", "depth", "BRAM36", "BRAM18", "URAM"
    );
    for buffer in &resources.buffers {
        let _ = writeln!(
            out,
            "  {:<12} {:>9} {:>5} {:>9} {:>11} {:>7} {:>7} {:>5}",
            buffer.buffer.name(),
            group_digits(u64::from(buffer.kib)),
            buffer.banks,
            group_digits(u64::from(buffer.word_bits)),
            group_digits(buffer.depth),
            group_digits(buffer.bram36),
            group_digits(buffer.bram18),
            group_digits(buffer.uram)
        );
    }

    if !resources.notes.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "notes:");
        for note in &resources.notes {
            push_wrapped(out, "  - ", "    ", note);
        }
    }
}

/// Appends `text` wrapped to [`TEXT_WIDTH`] columns, the first line led by
/// `first_lead` and the others by `lead`.
pub(crate) fn push_wrapped(out: &mut String, first_lead: &str, lead: &str, text: &str) {
    let width = TEXT_WIDTH - first_lead.len().max(lead.len());
    for (position, line) in wrap(text, width).iter().enumerate() {
        let prefix = if position == 0 { first_lead } else { lead };
        let _ = writeln!(out, "{prefix}{line}");
    }
}

/// Splits `text` into lines of at most `width` characters at spaces; a
/// word longer than `width` gets a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = if line.is_empty() {
            word.len()
        } else {
            line.len() + 1 + word.len()
        };
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Returns one line per compute unit: its size and how it builds its
/// multipliers.
fn unit_lines(resources: &ResourceReport) -> Vec<String> {
    let dsp = resources.dsp_type.name().to_uppercase();
    let mut lines = vec![format!(
        "array: {} processing elements, {}; {}-bit accumulators",
        resources.array.cells,
        describe_multiplier(&resources.array.multiplier, &dsp),
        resources.array.widths.accumulator_bits
    )];
    if let Some(vector) = &resources.vector_unit {
        lines.push(vector_line(vector, &dsp));
    }
    let ppu = &resources.ppu;
    let requant = match &ppu.multiplier {
        Some(plan) => describe_multiplier(plan, &dsp),
        None => "shift-only requantisation, no multiplier".to_string(),
    };
    lines.push(format!("PPU: {} lanes, {requant}", ppu.lanes));
    lines
}

fn vector_line(vector: &UnitEstimate, dsp: &str) -> String {
    format!(
        "vector unit: {} lanes, {}; {}-bit accumulators",
        vector.cells,
        describe_multiplier(&vector.multiplier, dsp),
        vector.widths.accumulator_bits
    )
}

/// Describes a multiplier plan: `9 x 8 bit products, one DSP48E1 each`.
pub fn describe_multiplier(plan: &MultiplierPlan, dsp: &str) -> String {
    let product = format!("{} x {} bit products", plan.first.bits, plan.second.bits);
    match plan.kind {
        MultiplierKind::Lut => format!(
            "{product} in LUTs ({} LUTs each)",
            u64::from(plan.first.bits) * u64::from(plan.second.bits)
        ),
        MultiplierKind::Dsp {
            dsps_per_product: 1,
        } => format!("{product}, one {dsp} each"),
        MultiplierKind::Dsp { dsps_per_product } => {
            format!("{product}, {dsps_per_product} {dsp} each (tiled)")
        }
        MultiplierKind::PackedDsp { shared } => {
            let operand = match shared {
                SharedOperand::Activation => "activation",
                SharedOperand::Weight => "weight",
            };
            format!("{product}, two per {dsp} sharing the {operand}")
        }
    }
}

pub(crate) fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|")
}

pub(crate) fn timing_markdown(out: &mut String, timing: &TimingReport) {
    let _ = writeln!(out, "## Timing\n");
    let _ = writeln!(
        out,
        "| # | op | name | unit | cycles | us | bound | utilisation | DRAM bytes | limited by |"
    );
    let _ = writeln!(out, "|---:|---|---|---|---:|---:|---|---:|---:|---|");
    for layer in &timing.layers {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {} | {:.1}% | {} | {} |",
            layer.index,
            escape_markdown(&layer.op),
            escape_markdown(&layer.name),
            unit_name(layer.unit),
            group_digits(layer.total_cycles),
            layer_microseconds(layer, timing.clock_mhz),
            bound_name(layer.bound),
            100.0 * layer.utilisation,
            group_digits(layer.dram_bytes),
            limited_by(layer)
        );
    }
    let _ = writeln!(out, "\n| total | value |\n|---|---:|");
    for (label, value) in totals(timing) {
        let _ = writeln!(out, "| {label} | {value} |");
    }
    out.push('\n');
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn usage_row_markdown(usage: &ResourceUsage) -> String {
    format!(
        "| {} | {} | {} | {} |",
        usage.name,
        format_resource(usage.used),
        group_digits(usage.available),
        format_percent(usage.percent)
    )
}

fn buffer_row_markdown(buffer: &BufferEstimate) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |",
        buffer.buffer.name(),
        group_digits(u64::from(buffer.kib)),
        buffer.banks,
        group_digits(u64::from(buffer.word_bits)),
        group_digits(buffer.depth),
        group_digits(buffer.bram36),
        group_digits(buffer.bram18),
        group_digits(buffer.uram)
    )
}

pub(crate) fn resources_markdown(out: &mut String, resources: &ResourceReport) {
    let _ = writeln!(out, "## Resources on {}\n", resources.part);
    let _ = writeln!(out, "| resource | used | available | used % |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for usage in &resources.usage {
        let _ = writeln!(out, "{}", usage_row_markdown(usage));
    }
    let _ = writeln!(out, "\n**{}**\n", capitalise(&resources.message));

    let _ = writeln!(out, "### By component\n");
    let _ = writeln!(
        out,
        "| component | DSP | BRAM36 | BRAM18 | URAM | LUT | FF |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for row in &resources.components {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.component,
            group_digits(row.dsp),
            group_digits(row.bram36),
            group_digits(row.bram18),
            group_digits(row.uram),
            group_digits(row.lut),
            group_digits(row.ff)
        );
    }
    out.push('\n');
    for line in unit_lines(resources) {
        let _ = writeln!(out, "- {}", capitalise(&line));
    }

    let _ = writeln!(out, "\n### Buffers\n");
    let _ = writeln!(
        out,
        "| buffer | KiB per bank | banks | word bits | depth | BRAM36 | BRAM18 | URAM |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for buffer in &resources.buffers {
        let _ = writeln!(out, "{}", buffer_row_markdown(buffer));
    }

    if !resources.notes.is_empty() {
        let _ = writeln!(out, "\n### Notes\n");
        for note in &resources.notes {
            let _ = writeln!(out, "- {}", escape_markdown(note));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_marks_cut() {
        assert_eq!(truncate("CONV_2D", 18), "CONV_2D");
        assert_eq!(truncate("ABCDEFGHIJ", 5), "ABCD~");
    }

    #[test]
    fn wrap_splits_at_spaces() {
        let lines = wrap("one two three four", 9);
        assert_eq!(lines, vec!["one two", "three", "four"]);
        let long = wrap("abcdefghijkl x", 5);
        assert_eq!(long, vec!["abcdefghijkl", "x"]);
    }

    #[test]
    fn format_resource_halves_and_thousands() {
        assert_eq!(format_resource(12_345.0), "12,345");
        assert_eq!(format_resource(10.5), "10.5");
    }
}
