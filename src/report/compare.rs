//! The per-layer comparison of `run --hw` as a text table.

use crate::analysis::compare::LayerComparison;
use crate::report::inspect::group_digits;
use std::fmt::Write;

/// Renders the comparison: one row per operator, then the notes of layers
/// whose arithmetic the datapath changed.
pub fn comparison_text(rows: &[LayerComparison]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "per layer against the reference datapath:");
    let _ = writeln!(
        out,
        "{:>4}  {:<18} {:>10} {:>10} {:>8} {:>10} {:>10} {:>9}",
        "#", "op", "elements", "differing", "max diff", "overflowed", "events", "scale err"
    );
    for row in rows {
        let (overflowed, events) = match &row.overflow {
            Some(counts) => (
                group_digits(counts.overflowed_results),
                group_digits(counts.events),
            ),
            None => ("-".into(), "-".into()),
        };
        let scale_error = row
            .max_scale_error
            .map_or("-".into(), |e| format!("{:.2}%", e * 100.0));
        let _ = writeln!(
            out,
            "{:>4}  {:<18} {:>10} {:>10} {:>8} {:>10} {:>10} {:>9}",
            row.index,
            row.op,
            group_digits(row.elements as u64),
            group_digits(row.differing as u64),
            row.max_abs_difference,
            overflowed,
            events,
            scale_error
        );
    }
    let differing_layers = rows.iter().filter(|r| r.differing > 0).count();
    let _ = writeln!(
        out,
        "layers whose output differs from the reference: {differing_layers} of {}",
        rows.len()
    );
    for row in rows.iter().filter(|r| !r.notes.is_empty()) {
        let _ = writeln!(
            out,
            "  layer {} ({}): {}",
            row.index,
            row.op,
            row.notes.join("; ")
        );
    }
    out
}
