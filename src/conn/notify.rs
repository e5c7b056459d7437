//! Lines the connection code has for a person (the handshake with `-v`, the TLS
//! session, the `-k` warning). Where they go is the command's business: pipe mode
//! prints them above its progress bar; conn itself knows nothing of the terminal.

use std::fmt;

/// Takes a line for stderr.
pub trait Notifier: Send + Sync + fmt::Debug {
    fn line(&self, line: &str);
}

/// Plain stderr (a closed stderr is ignored, as everywhere).
#[derive(Debug, Default)]
pub struct Stderr;

impl Notifier for Stderr {
    fn line(&self, line: &str) {
        eprintln!("{line}");
    }
}
