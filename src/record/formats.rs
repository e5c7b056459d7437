//! The record formats of `-i` and `-o`. Defined here, with the records; `cli`
//! offers them as flag values (their doc comments are the `--help` texts).

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One line is one text message, verbatim
    Text,
    /// One line holds one JSON value, sent compact (blank lines skipped)
    Json,
    /// One line of base64 is one binary message
    Base64,
    /// All of stdin (or each --file) is one binary message
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text messages verbatim plus a newline; binary messages as raw bytes
    Text,
    /// One compact JSON value per message (always valid JSON Lines)
    Json,
    /// One JSON object per event: open, text, binary, ping, pong, close, error
    Events,
}
