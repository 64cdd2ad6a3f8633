//! The accumulator-width report of `fxsim accum` as a text table of at
//! most 100 columns, as JSON, or as CSV.
//!
//! The CSV form is one table of layers and, when the width sweep ran, a
//! second table after an empty line, each with its own header row.

use crate::analysis::accum::{AccumReport, LayerAccum};
use crate::analysis::accum_sweep::{SweepPoint, WidthSweep};
use crate::report::inspect::group_digits;
use std::fmt::Write;

/// Renders the report as text: the per-layer table, a summary, the sweep
/// table when there is one, and the notes.
pub fn accum_text(report: &AccumReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "accumulator widths");
    let _ = writeln!(out, "  model:    {}", report.model);
    let _ = writeln!(out, "  hardware: {}", report.hw);
    let _ = writeln!(out, "  inputs:   {}", report.inputs);
    let _ = writeln!(out);
    write_layer_table(&mut out, &report.layers);
    let _ = writeln!(out);
    write_legend(&mut out);
    write_summary(&mut out, &report.layers);
    if let Some(sweep) = &report.sweep {
        let _ = writeln!(out);
        write_sweep_table(&mut out, sweep);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "notes:");
        for note in &report.notes {
            write_wrapped(&mut out, note, "- ", "  ", 98);
        }
    }
    out
}

/// Renders the report as pretty-printed JSON with a final newline.
pub fn accum_json(report: &AccumReport) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// Renders the report as CSV: the layer table, then the sweep table.
pub fn accum_csv(report: &AccumReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "index,op,name,terms,rows,folds,bits,overflow,bound_bits,bound_max,\
         observed_min,observed_max,observed_magnitude,observed_bits,narrowest_bits,\
         results,corrupted_results,overflowed_results,events,post_bias_events"
    );
    for layer in &report.layers {
        let bound = layer.bound.as_ref();
        let observed = layer.observed.as_ref();
        let counts = layer.overflows.as_ref();
        let fields = [
            layer.index.to_string(),
            layer.op.clone(),
            csv_field(&layer.name),
            layer.terms.to_string(),
            layer.rows.to_string(),
            layer.folds.to_string(),
            layer.bits.to_string(),
            layer.overflow.name().to_string(),
            optional(bound.map(|b| b.bits)),
            optional(bound.map(|b| b.max)),
            optional(observed.map(|o| o.min)),
            optional(observed.map(|o| o.max)),
            optional(observed.map(|o| o.max_magnitude)),
            optional(observed.map(|o| o.bits)),
            optional(observed.map(|o| o.narrowest_bits)),
            optional(counts.map(|c| c.results)),
            optional(counts.map(|c| c.corrupted_results)),
            optional(counts.map(|c| c.overflowed_results)),
            optional(counts.map(|c| c.events)),
            optional(counts.map(|c| c.post_bias_events)),
        ];
        let _ = writeln!(out, "{}", fields.join(","));
    }

    if let Some(sweep) = &report.sweep {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "bits,wrap_accuracy,wrap_agreement,wrap_corrupted_results,wrap_overflowing_layers,\
             saturate_accuracy,saturate_agreement,saturate_corrupted_results,\
             saturate_overflowing_layers"
        );
        for row in &sweep.rows {
            let point = |point: &SweepPoint| {
                [
                    optional(point.accuracy),
                    point.agreement.to_string(),
                    point.corrupted_results.to_string(),
                    point.overflowing_layers.to_string(),
                ]
                .join(",")
            };
            let _ = writeln!(
                out,
                "{},{},{}",
                row.bits,
                point(&row.wrap),
                point(&row.saturate)
            );
        }
    }
    out
}

/// Writes one row per MAC layer; every row is at most 95 columns wide.
fn write_layer_table(out: &mut String, layers: &[LayerAccum]) {
    let _ = writeln!(
        out,
        "{:>4}  {:<17}  {:>6}  {:<11}  {:>5}  {:>13}  {:>4}  {:>10}  {:>9}",
        "#", "op", "K", "configured", "bound", "observed", "bits", "overflows", "narrowest"
    );
    for layer in layers {
        let configured = format!("{} {}", layer.bits, layer.overflow.name());
        let bound = layer
            .bound
            .as_ref()
            .map_or_else(|| "-".to_string(), |b| b.bits.to_string());
        let (observed, bits, narrowest) = match &layer.observed {
            Some(o) => (
                group_digits(o.max_magnitude),
                o.bits.to_string(),
                o.narrowest_bits.to_string(),
            ),
            None => ("-".to_string(), "-".to_string(), "-".to_string()),
        };
        let overflows = layer
            .overflows
            .as_ref()
            .map_or_else(|| "-".to_string(), |c| group_digits(c.corrupted_results));
        let _ = writeln!(
            out,
            "{:>4}  {:<17}  {:>6}  {:<11}  {:>5}  {:>13}  {:>4}  {:>10}  {:>9}",
            layer.index,
            layer.op,
            layer.terms,
            configured,
            bound,
            observed,
            bits,
            overflows,
            narrowest
        );
    }
}

/// Explains the columns in a few lines.
fn write_legend(out: &mut String) {
    let lines = [
        "bound      bits that hold every value the weights allow for any input in range",
        "observed   largest |value| on these inputs and the bits it needs (saturate: every",
        "           partial sum and register value; wrap: the final accumulator)",
        "overflows  accumulators whose overflow reaches the requantiser at the configured width",
        "narrowest  narrowest width without overflow on these inputs",
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// Writes the widest bound and need and the layers that overflow.
fn write_summary(out: &mut String, layers: &[LayerAccum]) {
    let _ = writeln!(out);
    let widest_bound = layers
        .iter()
        .filter_map(|layer| Some((layer.bound.as_ref()?.bits, layer.index)))
        .max_by_key(|&(bits, index)| (bits, std::cmp::Reverse(index)));
    if let Some((bits, index)) = widest_bound {
        let _ = writeln!(out, "widest bound: {bits} bits (layer {index})");
    }
    let widest_need = layers
        .iter()
        .filter_map(|layer| Some((layer.observed.as_ref()?.narrowest_bits, layer.index)))
        .max_by_key(|&(bits, index)| (bits, std::cmp::Reverse(index)));
    if let Some((bits, index)) = widest_need {
        let _ = writeln!(
            out,
            "narrowest width for every layer on these inputs: {bits} bits (layer {index})"
        );
    }
    let counted: Vec<&LayerAccum> = layers.iter().filter(|l| l.overflows.is_some()).collect();
    let overflowing = counted
        .iter()
        .filter(|layer| layer.overflows.is_some_and(|c| c.corrupted_results > 0))
        .count();
    let _ = writeln!(
        out,
        "layers that overflow at the configured width: {overflowing} of {}",
        counted.len()
    );
}

/// Writes the accuracy of each width under both overflow modes.
fn write_sweep_table(out: &mut String, sweep: &WidthSweep) {
    let labelled = sweep.reference_accuracy.is_some();
    let _ = writeln!(
        out,
        "top-1 by accumulator width, every MAC layer at that width ({}{}):",
        plural(sweep.inputs, "input"),
        if labelled {
            ", labelled"
        } else {
            ", no labels"
        }
    );
    let _ = writeln!(
        out,
        "{:>6}  {:>10}  {:>7}  {:>11}    {:>14}  {:>7}  {:>11}",
        "bits", "wrap top-1", "agree", "overflowing", "saturate top-1", "agree", "overflowing"
    );
    for row in &sweep.rows {
        let _ = writeln!(
            out,
            "{:>6}  {:>10}  {:>7}  {:>11}    {:>14}  {:>7}  {:>11}",
            row.bits,
            percent(row.wrap.accuracy),
            percent(Some(row.wrap.agreement)),
            row.wrap.overflowing_layers,
            percent(row.saturate.accuracy),
            percent(Some(row.saturate.agreement)),
            row.saturate.overflowing_layers,
        );
    }
    let _ = writeln!(
        out,
        "agree: top-1 equal to the reference datapath's; overflowing: MAC layers with an overflow"
    );
    if let Some(accuracy) = sweep.reference_accuracy {
        let _ = writeln!(out, "reference datapath top-1: {}", percent(Some(accuracy)));
    }
}

/// Writes `text` in lines of at most `width` columns, breaking at spaces,
/// the first line after `first`, the others after `rest`. A word longer
/// than the width gets a line of its own.
fn write_wrapped(out: &mut String, text: &str, first: &str, rest: &str, width: usize) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{line}");
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    let _ = writeln!(out, "{line}");
}

fn percent(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| "-".to_string(), |f| format!("{:.1}%", f * 100.0))
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(String::new, |value| value.to_string())
}

/// Quotes a CSV field that contains a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_field_quotes_when_needed() {
        assert_eq!(csv_field("conv/Relu6"), "conv/Relu6");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }

    #[test]
    fn write_wrapped_breaks_at_spaces() {
        let mut out = String::new();
        write_wrapped(&mut out, "one two three four", "- ", "  ", 10);
        assert_eq!(out, "- one two\n  three\n  four\n");
    }

    #[test]
    fn percent_has_one_decimal() {
        assert_eq!(percent(Some(0.5)), "50.0%");
        assert_eq!(percent(Some(2.0 / 3.0)), "66.7%");
        assert_eq!(percent(None), "-");
    }
}
