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

/// The bar being drawn in pipe mode, if any (lines for stderr are printed above
/// it), and whether the connection has opened yet.
static SHOWN: Mutex<Shown> = Mutex::new(Shown {
    bar: None,
    opened: false,
});

struct Shown {
    bar: Option<ProgressBar>,
    opened: bool,
}

/// A bar of bytes with rate and time left (the caller checked that progress is on);
/// until [`finish_bar`], [`eprintln`] prints above it instead of through it.
///
/// Until the connection opens it is a spinner: the input is read ahead into a
/// bounded queue while dialing, and that is no transfer rate.
pub fn bytes_bar(total: u64, message: String) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_message(message);
    let Ok(mut shown) = SHOWN.lock() else {
        show_bytes(&bar);
        return bar;
    };
    if shown.opened {
        show_bytes(&bar);
    } else {
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: connecting") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    shown.bar = Some(bar.clone());
    bar
}

/// The connection is open: a bar from [`bytes_bar`] shows bytes from now on, its
/// rate and time left counted from this moment.
pub fn connection_opened() {
    let Ok(mut shown) = SHOWN.lock() else { return };
    if shown.opened {
        return;
    }
    shown.opened = true;
    if let Some(bar) = &shown.bar {
        bar.disable_steady_tick();
        bar.reset_elapsed();
        bar.reset_eta();
        show_bytes(bar);
    }
}

fn show_bytes(bar: &ProgressBar) {
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
}

/// Clears a bar from [`bytes_bar`] off the screen.
pub fn finish_bar(bar: ProgressBar) {
    bar.finish_and_clear();
    if let Ok(mut shown) = SHOWN.lock() {
        shown.bar = None;
    }
}

/// An input's progress as a byte bar on stderr (see [`bytes_bar`]).
#[derive(Debug, Default)]
pub struct InputBar(Mutex<Option<ProgressBar>>);

impl crate::record::input::ReadProgress for InputBar {
    fn start(
        &self,
        reader: Box<dyn std::io::Read + Send>,
        size: u64,
        name: &str,
    ) -> Box<dyn std::io::Read + Send> {
        let bar = bytes_bar(size, format!("sending {name}"));
        let wrapped = Box::new(bar.wrap_read(reader));
        if let Ok(mut shown) = self.0.lock() {
            *shown = Some(bar);
        }
        wrapped
    }

    fn finish(&self) {
        if let Some(bar) = self.0.lock().ok().and_then(|mut shown| shown.take()) {
            finish_bar(bar);
        }
    }
}

/// The connection's lines (`-v`, warnings) printed above the bar, if one is drawn.
#[derive(Debug)]
pub struct AboveBar;

impl crate::conn::notify::Notifier for AboveBar {
    fn line(&self, line: &str) {
        eprintln(line);
    }
}

/// A diagnostic line on stderr that leaves a bar being drawn intact (the bar is
/// hidden while the line is written, then drawn again below it).
pub fn eprintln(line: impl Display) {
    let shown = SHOWN.lock().ok().and_then(|shown| shown.bar.clone());
    match shown {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}
