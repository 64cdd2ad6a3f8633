//! The progress bar every long command shows on standard error: drawn only
//! when standard error is a terminal, so piped and redirected output stays
//! clean.
//!
//! Limitation: a command's stages each restart the bar, so it shows the
//! progress of the current stage, not of the whole command.

use fxsim::analysis::accum::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A progress bar over the stages of one command. Each call of
/// [`Progress::start`] begins the next stage: the count restarts at 0 and the
/// message becomes that stage's label (the last label is kept when there are
/// more stages than labels).
pub struct TerminalProgress {
    bar: ProgressBar,
    labels: &'static [&'static str],
    stage: AtomicUsize,
    on_terminal: bool,
}

impl TerminalProgress {
    /// Returns a bar whose stages are named by `labels` and whose count is in
    /// `unit` (`runs`, `points`, `operators`).
    pub fn new(labels: &'static [&'static str], unit: &str) -> TerminalProgress {
        // The bar is drawn from the first stage on, because a bar of length
        // 0 would show as full.
        let bar = ProgressBar::hidden();
        let template = format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        TerminalProgress {
            bar,
            labels,
            stage: AtomicUsize::new(0),
            on_terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl TerminalProgress {
    /// Removes the bar from the terminal once the work is done.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for TerminalProgress {
    fn start(&self, count: u64) {
        let stage = self.stage.fetch_add(1, Ordering::Relaxed);
        let label = self
            .labels
            .get(stage)
            .or(self.labels.last())
            .copied()
            .unwrap_or("");
        self.bar.set_message(label);
        self.bar.set_position(0);
        self.bar.set_length(count);
        if stage == 0 && self.on_terminal {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn advance(&self, count: u64) {
        self.bar.inc(count);
    }
}
