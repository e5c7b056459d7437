//! Progress on stderr (indicatif): only when stderr is a terminal and not `-q`.

use std::fmt::Display;
use std::io::IsTerminal;
use std::sync::Mutex;
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

/// The bar being drawn in pipe mode, if any: lines for stderr are printed above it.
static SHOWN_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// A bar of bytes with rate and time left (the caller checked that progress is on);
/// until [`finish_bar`], [`eprintln`] prints above it instead of through it.
pub fn bytes_bar(total: u64, message: String) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(message);
    if let Ok(mut shown) = SHOWN_BAR.lock() {
        *shown = Some(bar.clone());
    }
    bar
}

/// Clears a bar from [`bytes_bar`] off the screen.
pub fn finish_bar(bar: ProgressBar) {
    bar.finish_and_clear();
    if let Ok(mut shown) = SHOWN_BAR.lock() {
        *shown = None;
    }
}

/// A diagnostic line on stderr that leaves a bar being drawn intact (the bar is
/// hidden while the line is written, then drawn again below it).
pub fn eprintln(line: impl Display) {
    let shown = SHOWN_BAR.lock().ok().and_then(|shown| shown.clone());
    match shown {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}
