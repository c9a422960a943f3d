//! A live progress display of a run, fed by the platform's start/finish events.

use std::sync::Arc;

use faasml_core::{Event, Observer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over the expected number of invocations of a run.
pub(crate) struct RunProgress {
    bar: ProgressBar,
}

impl RunProgress {
    /// A bar expecting `total` invocations (a counter when the total is not known); hidden when
    /// `quiet` or stderr is not a terminal.
    pub(crate) fn new(total: Option<u64>, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} invocations  {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {pos} invocations  {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Self { bar }
    }

    /// An observer that advances the bar.
    pub(crate) fn observer(&self) -> Observer {
        let bar = self.bar.clone();
        Arc::new(move |event: &Event<'_>| match event {
            Event::Started { function, .. } => bar.set_message(format!("running {function}")),
            Event::Finished(record) => {
                if record.is_ok() {
                    bar.inc(1);
                } else {
                    bar.set_message(format!("{} failed, retrying", record.function));
                }
            }
            _ => {}
        })
    }

    /// Removes the bar from the terminal.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
