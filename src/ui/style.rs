//! Colour, decided once: `--color`, whether the stream is a terminal, and `NO_COLOR`.
//! Everything that colours output asks a [`Style`]; no ANSI code reaches a pipe.

use std::io::IsTerminal;

use crate::cli::ColorChoice;

/// Whether to colour a stream: `always`, `never`, or (auto) a terminal with
/// `NO_COLOR` unset or empty.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Paints text for one stream, or leaves it plain.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn for_stdout(choice: ColorChoice) -> Style {
        Style {
            color: use_color(choice, std::io::stdout().is_terminal()),
        }
    }

    pub fn for_stderr(choice: ColorChoice) -> Style {
        Style {
            color: use_color(choice, std::io::stderr().is_terminal()),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Messages we sent.
    pub fn sent(&self, text: &str) -> String {
        self.paint("32", text)
    }
    /// Messages we received.
    pub fn received(&self, text: &str) -> String {
        self.paint("36", text)
    }
    /// Connection status lines (connected, closed, reconnecting).
    pub fn status(&self, text: &str) -> String {
        self.paint("2;33", text)
    }
    /// Errors and warnings.
    pub fn error(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
    /// Secondary text (raw payloads, hints).
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    /// Names and emphasis.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_and_pipes_get_no_escapes() {
        assert!(!use_color(ColorChoice::Never, true));
        assert!(!use_color(ColorChoice::Auto, false));
        assert!(use_color(ColorChoice::Always, false));
        assert_eq!(Style { color: false }.error("x"), "x");
        assert_eq!(Style { color: true }.error("x"), "\x1b[1;31mx\x1b[0m");
    }
}
