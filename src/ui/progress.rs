//! Progress on stderr (indicatif): only when stderr is a terminal and not `-q`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether progress may be drawn at all.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A spinner with a message (connecting, reconnecting); None when progress is off.
pub fn spinner(quiet: bool, message: String) -> Option<ProgressBar> {
    if !enabled(quiet) {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

/// A bar of bytes with rate and time left (the caller checked that progress is on).
pub fn bytes_bar(total: u64, message: String) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}
