//! The report of `fxsim run` on a data set: accuracy and agreement with the
//! reference datapath, the per-layer latency table, resources against the
//! part, and each MAC layer's accumulator safety. As text of at most
//! [`TEXT_WIDTH`](super::estimate::TEXT_WIDTH) columns, or as Markdown that links the SVG charts of
//! [`super::run_charts`].
//!
//! Limitation: a renderer only. Every figure comes from
//! [`crate::analysis::run_summary`], and the cycles and resources are
//! estimates, as the report states.

use super::estimate::{
    bound_name, escape_markdown, format_mhz, format_percent, format_resource, push_wrapped,
    resources_markdown, timing_markdown, truncate, unit_name,
};
use super::inspect::group_digits;
use crate::analysis::accum::LayerAccum;
use crate::analysis::accum_sweep::WidthSweep;
use crate::analysis::run_summary::{AccumSafety, DatasetResults, DesignSummary, RunSummary};
use crate::resources::ResourceReport;
use crate::timing::TimingReport;
use std::fmt::Write;

/// Width of the bars drawn in the text tables, in characters.
const BAR_WIDTH: usize = 20;
/// Longest tensor name in the Markdown accumulator table; converter names
/// of folded layers run to hundreds of characters.
const MARKDOWN_NAME_WIDTH: usize = 48;

/// File names of the charts a Markdown report links, relative to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChartLinks {
    pub cycles: Option<String>,
    pub resources: Option<String>,
    pub accuracy: Option<String>,
}

/// Renders the summary as text of at most 100 columns.
pub fn run_text(summary: &RunSummary) -> String {
    let mut out = String::new();
    header_text(&mut out, summary);
    out.push('\n');
    accuracy_text(&mut out, &summary.results, summary.hw.is_some());
    if let Some(design) = &summary.design {
        out.push('\n');
        latency_text(&mut out, &design.timing);
        out.push('\n');
        resources_text(&mut out, &design.resources);
        out.push('\n');
        accumulators_text(&mut out, design);
    } else {
        out.push('\n');
        let _ = writeln!(
            out,
            "give --hw HW.toml for latency, resources and accumulator safety on that hardware"
        );
    }
    out
}

fn header_text(out: &mut String, summary: &RunSummary) {
    let _ = writeln!(out, "model:    {}", summary.model);
    match (&summary.hw, &summary.design) {
        (Some(hw), Some(design)) => {
            let _ = writeln!(
                out,
                "hardware: {hw} ({} at {} MHz, {} x {} array)",
                design.part,
                format_mhz(design.clock_mhz),
                design.rows,
                design.cols
            );
        }
        (Some(hw), None) => {
            let _ = writeln!(out, "hardware: {hw}");
        }
        (None, _) => {
            let _ = writeln!(out, "hardware: none, reference datapath only");
        }
    }
    let _ = writeln!(
        out,
        "data set: {} ({})",
        summary.dataset,
        plural(summary.results.inputs, "input")
    );
    if let Some(labels) = &summary.labels {
        let _ = writeln!(out, "labels:   {labels}");
    }
}

fn accuracy_text(out: &mut String, results: &DatasetResults, has_hw: bool) {
    let total = results.inputs;
    match results.correct {
        Some(correct) => {
            let _ = writeln!(out, "accuracy (top-1 against the labels):");
            let name = if has_hw {
                "hardware datapath"
            } else {
                "reference datapath"
            };
            let _ = writeln!(out, "  {}", accuracy_row(name, correct, total));
            if let Some(reference) = results.reference_correct {
                let _ = writeln!(
                    out,
                    "  {}",
                    accuracy_row("reference datapath", reference, total)
                );
            }
        }
        None if results.agreeing.is_some() => {
            let _ = writeln!(
                out,
                "accuracy: no labels given (add --labels Y.npy); agreement with the reference:"
            );
        }
        None => class_counts_text(out, results),
    }
    if let (Some(identical), Some(agreeing)) = (results.identical, results.agreeing) {
        let line = format!(
            "hardware output equal to the reference, bit for bit, on {identical} of {total} \
             inputs (top-1 equal on {agreeing})"
        );
        push_wrapped(out, "  ", "  ", &line);
    }
}

/// Lists how many inputs each top-1 class got: without labels and without
/// a hardware description there is nothing to compare the outputs with.
fn class_counts_text(out: &mut String, results: &DatasetResults) {
    let total = results.inputs;
    let _ = writeln!(
        out,
        "top-1 classes on the reference datapath (no labels given; add --labels Y.npy for \
         accuracy):"
    );
    let _ = writeln!(out, "  {:>6} {:>9} {:>7}", "class", "inputs", "share");
    for (class, count) in class_counts(&results.top1) {
        let share = percent(count, total);
        let _ = writeln!(
            out,
            "  {:>6} {:>9} {:>6.1}%  {}",
            class.map_or_else(|| "none".to_string(), |class| class.to_string()),
            group_digits(count as u64),
            share,
            bar(share)
        );
    }
}

/// Counts the inputs per top-1 class, in class order, with the inputs
/// whose output is empty (`None`) last. Classes no input got are left out.
fn class_counts(top1: &[Option<usize>]) -> Vec<(Option<usize>, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for class in top1 {
        *counts.entry(*class).or_insert(0usize) += 1;
    }
    let mut rows: Vec<(Option<usize>, usize)> = counts.into_iter().collect();
    rows.sort_by_key(|(class, _)| (class.is_none(), *class));
    rows
}

/// Rewords the accumulator notes for `run`, whose table has a `narrowest`
/// column but no `observed` one.
fn run_note(note: &str) -> String {
    match note.strip_prefix(crate::analysis::accum::WIDENED_RUN_NOTE_SUBJECT) {
        Some(rest) => format!("narrowest comes{rest}"),
        None => note.to_string(),
    }
}

fn accuracy_row(name: &str, correct: usize, total: usize) -> String {
    format!(
        "{name:<20} {:>7} of {:<7} {:>6.2}%",
        group_digits(correct as u64),
        group_digits(total as u64),
        percent(correct, total)
    )
}

fn latency_text(out: &mut String, timing: &TimingReport) {
    let _ = writeln!(
        out,
        "latency per layer (estimate at {} MHz):",
        format_mhz(timing.clock_mhz)
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:<6} {:>10} {:>9}  {:<7} {:>6}  share of cycles",
        "#", "op", "unit", "cycles", "us", "bound", "util"
    );
    for layer in &timing.layers {
        let share = percent(layer.total_cycles as usize, timing.total_cycles as usize);
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:<6} {:>10} {:>9.2}  {:<7} {:>5.1}%  {} {:>5.1}%",
            layer.index,
            truncate(&layer.op, 18),
            unit_name(layer.unit),
            group_digits(layer.total_cycles),
            layer.total_cycles as f64 / timing.clock_mhz,
            bound_name(layer.bound),
            100.0 * layer.utilisation,
            bar(share),
            share
        );
    }
    let _ = writeln!(
        out,
        "  total: {} cycles, {:.1} us per inference, {} inferences per second, {} DRAM bytes",
        group_digits(timing.total_cycles),
        timing.latency_us,
        group_digits(timing.inferences_per_second.round() as u64),
        group_digits(timing.dram_bytes)
    );
}

fn resources_text(out: &mut String, resources: &ResourceReport) {
    let _ = writeln!(out, "resources on {} (estimate):", resources.part);
    for usage in shown_usage(resources) {
        let used_percent = usage.percent.unwrap_or(0.0);
        let marker = if usage.fits() { "" } else { "  over capacity" };
        let _ = writeln!(
            out,
            "  {:<9} {:>9} of {:>9} {:>7}  {}{marker}",
            usage.name,
            format_resource(usage.used),
            group_digits(usage.available),
            format_percent(usage.percent),
            bar(used_percent)
        );
    }
    push_wrapped(out, "  ", "  ", &resources.message);
}

/// Selects the usage rows to show, leaving out a resource that the part
/// lacks and the design does not use (URAM on most 7-series parts).
fn shown_usage(
    resources: &ResourceReport,
) -> impl Iterator<Item = &crate::resources::ResourceUsage> {
    resources
        .usage
        .iter()
        .filter(|usage| usage.available > 0 || usage.used > 0.0)
}

fn accumulators_text(out: &mut String, design: &DesignSummary) {
    let report = &design.accumulators;
    let _ = writeln!(
        out,
        "accumulators of the MAC layers ({}):",
        plural(report.inputs, "input")
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:>6}  {:<12} {:>5} {:>9} {:>10}  verdict",
        "#", "op", "K", "configured", "bound", "narrowest", "overflows"
    );
    for layer in &report.layers {
        let row = AccumRow::of(layer);
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:>6}  {:<12} {:>5} {:>9} {:>10}  {}",
            layer.index,
            truncate(&layer.op, 18),
            group_digits(layer.terms as u64),
            row.configured,
            row.bound,
            row.narrowest,
            row.overflows,
            row.safety.describe()
        );
    }
    for line in [
        "bound: bits that hold any value the weights allow for any input; narrowest: bits these",
        "inputs need; overflows: results that overflow reaches at the configured width",
    ] {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(sweep) = &report.sweep {
        for line in sweep_summary(sweep) {
            push_wrapped(out, "  ", "  ", &line);
        }
    }
    for note in &report.notes {
        push_wrapped(out, "  note: ", "    ", &run_note(note));
    }
}

/// One MAC layer's accumulator figures as table cells.
struct AccumRow {
    configured: String,
    bound: String,
    narrowest: String,
    overflows: String,
    safety: AccumSafety,
}

impl AccumRow {
    fn of(layer: &LayerAccum) -> AccumRow {
        let dash = || "-".to_string();
        AccumRow {
            configured: format!("{} {}", layer.bits, layer.overflow.name()),
            bound: layer
                .bound
                .as_ref()
                .map_or_else(dash, |bound| bound.bits.to_string()),
            narrowest: layer
                .observed
                .map_or_else(dash, |observed| observed.narrowest_bits.to_string()),
            overflows: layer
                .overflows
                .map_or_else(dash, |counts| group_digits(counts.corrupted_results)),
            safety: AccumSafety::of(layer),
        }
    }
}

/// Sentences on the accuracy sweep: for each overflow mode, the narrowest
/// width from which every wider width in the sweep keeps the reference
/// datapath's top-1 on every input.
fn sweep_summary(sweep: &WidthSweep) -> Vec<String> {
    let first = sweep.rows.first().map(|row| row.bits);
    let last = sweep.rows.last().map(|row| row.bits);
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    let narrowest = |agreement: &dyn Fn(usize) -> f64| {
        let mut width = None;
        for (position, row) in sweep.rows.iter().enumerate().rev() {
            if agreement(position) < 1.0 {
                break;
            }
            width = Some(row.bits);
        }
        width.map_or_else(
            || "none in the sweep".to_string(),
            |bits| format!("{bits} bits"),
        )
    };
    let wrap = narrowest(&|position| sweep.rows[position].wrap.agreement);
    let saturate = narrowest(&|position| sweep.rows[position].saturate.agreement);
    vec![format!(
        "every MAC layer at one width ({first} to {last} bits swept): the narrowest that keeps the \
         reference top-1 on every input is {wrap} wrapping, {saturate} saturating"
    )]
}

/// Renders the summary as Markdown, linking the charts named in `charts`.
pub fn run_markdown(summary: &RunSummary, charts: &ChartLinks) -> String {
    let mut out = String::new();
    let title = match &summary.hw {
        Some(hw) => format!("`{}` on `{hw}`", summary.model),
        None => format!("`{}` on the reference datapath", summary.model),
    };
    let _ = writeln!(out, "# fxsim run: {title}\n");
    let _ = write!(
        out,
        "Data set `{}`, {}",
        summary.dataset,
        plural(summary.results.inputs, "input")
    );
    match &summary.labels {
        Some(labels) => {
            let _ = writeln!(out, ", labels `{labels}`.\n");
        }
        None => {
            let _ = writeln!(out, ", no labels.\n");
        }
    }
    accuracy_markdown(&mut out, &summary.results, summary.hw.is_some());
    if let Some(design) = &summary.design {
        let _ = writeln!(
            out,
            "Cycles and resources below are estimates from fxsim's timing and resource models.\n"
        );
        timing_markdown(&mut out, &design.timing);
        image_markdown(&mut out, "Cycles per layer", charts.cycles.as_deref());
        resources_markdown(&mut out, &design.resources);
        out.push('\n');
        image_markdown(
            &mut out,
            "Resources against capacity",
            charts.resources.as_deref(),
        );
        accumulators_markdown(&mut out, design, charts.accuracy.as_deref());
    }
    out
}

fn image_markdown(out: &mut String, alt: &str, file: Option<&str>) {
    if let Some(file) = file {
        let _ = writeln!(out, "![{alt}]({file})\n");
    }
}

fn accuracy_markdown(out: &mut String, results: &DatasetResults, has_hw: bool) {
    let _ = writeln!(out, "## Accuracy\n");
    let total = results.inputs;
    if let Some(correct) = results.correct {
        let _ = writeln!(out, "| datapath | correct | top-1 accuracy |");
        let _ = writeln!(out, "|---|---:|---:|");
        let name = if has_hw { "hardware" } else { "reference" };
        let _ = writeln!(
            out,
            "| {name} | {correct} of {total} | {:.2}% |",
            percent(correct, total)
        );
        if let Some(reference) = results.reference_correct {
            let _ = writeln!(
                out,
                "| reference | {reference} of {total} | {:.2}% |",
                percent(reference, total)
            );
        }
        out.push('\n');
    } else {
        let _ = writeln!(out, "No labels were given, so only agreement is shown.\n");
    }
    if let (Some(identical), Some(agreeing)) = (results.identical, results.agreeing) {
        let _ = writeln!(
            out,
            "The hardware datapath's output equals the reference datapath's bit for bit on \
             {identical} of {total} inputs; its top-1 class agrees on {agreeing}.\n"
        );
    }
}

fn accumulators_markdown(out: &mut String, design: &DesignSummary, chart: Option<&str>) {
    let report = &design.accumulators;
    let _ = writeln!(out, "## Accumulators\n");
    let _ = writeln!(
        out,
        "| # | op | name | K | configured | bound | narrowest | overflows | verdict |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---|---:|---:|---:|---|");
    for layer in &report.layers {
        let row = AccumRow::of(layer);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            layer.index,
            escape_markdown(&layer.op),
            escape_markdown(&truncate(&layer.name, MARKDOWN_NAME_WIDTH)),
            layer.terms,
            row.configured,
            row.bound,
            row.narrowest,
            row.overflows,
            row.safety.describe()
        );
    }
    let _ = writeln!(
        out,
        "\n*bound*: bits that hold any value the weights allow for any input. *narrowest*: bits \
         the {} need. *overflows*: results that overflow reaches at the configured width.\n",
        plural(report.inputs, "input")
    );
    for note in &report.notes {
        let _ = writeln!(out, "- {}", escape_markdown(&run_note(note)));
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
    if let Some(sweep) = &report.sweep {
        sweep_markdown(out, sweep);
        image_markdown(out, "Accuracy against accumulator width", chart);
    }
}

fn sweep_markdown(out: &mut String, sweep: &WidthSweep) {
    let _ = writeln!(out, "### Accuracy by accumulator width\n");
    let _ = writeln!(
        out,
        "Every MAC layer at one width; *agree* counts top-1 classes equal to the reference \
         datapath's.\n"
    );
    let _ = writeln!(
        out,
        "| bits | wrap top-1 | wrap agree | saturate top-1 | saturate agree |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    let cell = |fraction: Option<f64>| {
        fraction.map_or_else(|| "-".to_string(), |f| format!("{:.1}%", f * 100.0))
    };
    for row in &sweep.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.bits,
            cell(row.wrap.accuracy),
            cell(Some(row.wrap.agreement)),
            cell(row.saturate.accuracy),
            cell(Some(row.saturate.agreement))
        );
    }
    out.push('\n');
    for line in sweep_summary(sweep) {
        let _ = writeln!(out, "{}.\n", capitalise(&line));
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `100 * count / total`, 0 when `total` is 0.
fn percent(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * count as f64 / total as f64
    }
}

/// Draws `percent` (clamped to 0..=100) as a bar of [`BAR_WIDTH`]
/// characters: `#` for the share, `.` for the rest.
fn bar(percent: f64) -> String {
    let filled = ((percent.clamp(0.0, 100.0) / 100.0) * BAR_WIDTH as f64).round() as usize;
    format!("{}{}", "#".repeat(filled), ".".repeat(BAR_WIDTH - filled))
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", group_digits(count as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::accum_sweep::{SweepPoint, SweepRow};

    #[test]
    fn bar_fills_share() {
        assert_eq!(bar(0.0), ".".repeat(BAR_WIDTH));
        assert_eq!(bar(50.0), format!("{}{}", "#".repeat(10), ".".repeat(10)));
        assert_eq!(bar(100.0), "#".repeat(BAR_WIDTH));
        assert_eq!(bar(250.0), "#".repeat(BAR_WIDTH));
        assert_eq!(bar(-3.0), ".".repeat(BAR_WIDTH));
    }

    fn point(agreement: f64) -> SweepPoint {
        SweepPoint {
            accuracy: None,
            agreement,
            corrupted_results: 0,
            overflowing_layers: 0,
        }
    }

    #[test]
    fn sweep_summary_finds_narrowest_full_agreement() {
        // Saturation recovers at 15 bits, dips at 16 and recovers for good
        // at 17; wrapping only at 18.
        let rows = [
            (14, 0.2, 0.9),
            (15, 0.5, 1.0),
            (16, 0.9, 0.99),
            (17, 0.99, 1.0),
            (18, 1.0, 1.0),
        ];
        let sweep = WidthSweep {
            inputs: 10,
            reference_accuracy: None,
            rows: rows
                .iter()
                .map(|&(bits, wrap, saturate)| SweepRow {
                    bits,
                    wrap: point(wrap),
                    saturate: point(saturate),
                })
                .collect(),
        };
        let lines = sweep_summary(&sweep);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("14 to 18 bits swept"), "{}", lines[0]);
        assert!(
            lines[0].contains("18 bits wrapping, 17 bits saturating"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn sweep_summary_without_full_agreement() {
        let sweep = WidthSweep {
            inputs: 1,
            reference_accuracy: None,
            rows: vec![SweepRow {
                bits: 12,
                wrap: point(0.5),
                saturate: point(1.0),
            }],
        };
        let lines = sweep_summary(&sweep);
        assert!(
            lines[0].contains("none in the sweep wrapping, 12 bits saturating"),
            "{}",
            lines[0]
        );
    }
}
