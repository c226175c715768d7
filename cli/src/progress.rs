//! The producer's progress bar on stderr: records, bytes and rate, shown
//! only when stderr is a terminal and the input is a file of known size.

use std::cell::Cell;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the record count in the bar's message is rewritten.
const MESSAGE_EVERY: Duration = Duration::from_millis(100);

/// A progress bar over a known number of input bytes.
pub struct Progress {
    bar: ProgressBar,
    last_message: Cell<Option<Instant>>,
}

impl Progress {
    /// A bar for `total` input bytes, drawn on stderr.
    pub fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:20.cyan/blue} {binary_bytes}/{binary_total_bytes} {msg} {binary_bytes_per_sec}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message("0 records");
        Progress {
            bar,
            last_message: Cell::new(None),
        }
    }

    /// `records` sent so far, `bytes` read.
    pub fn update(&self, records: u64, bytes: u64) {
        self.bar.set_position(bytes);
        let now = Instant::now();
        if self
            .last_message
            .get()
            .is_none_or(|t| now.duration_since(t) >= MESSAGE_EVERY)
        {
            self.last_message.set(Some(now));
            self.bar.set_message(format!("{records} records"));
        }
    }

    /// The final state, left on screen.
    pub fn finish(self, delivered: u64, bytes: u64) {
        self.bar.set_position(bytes);
        self.bar
            .finish_with_message(format!("{delivered} records delivered"));
    }
}
