//! The exit codes of the contract, and the one place errors are mapped to them.

use std::fmt;
use std::io;

/// Every way a run can end, as a script sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Clean close, or `--count` / `--wait` / `--expect` satisfied.
    Success = 0,
    /// An expectation failed, or any error without a more precise code.
    Failure = 1,
    /// A bad flag or a bad URL.
    Usage = 2,
    /// DNS, TCP, TLS, or the server refused the upgrade.
    Connect = 3,
    /// `--connect-timeout`, `--timeout` or `--ping-timeout` passed.
    Timeout = 4,
    /// The peer closed with a code other than 1000/1001, or without a Close at all.
    AbnormalClose = 5,
    /// An input record did not fit its format.
    InvalidInput = 65,
    /// Ctrl-C.
    Interrupted = 130,
}

/// An error that knows its exit code. Wrap it in `anyhow::Error`; context added on
/// top does not hide the code, because [`exit_code_of`] walks the whole chain.
#[derive(Debug)]
pub struct Coded {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Builds an `anyhow::Error` carrying `exit`.
pub fn coded(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        exit,
        message: message.into(),
    })
}

/// The exit code for an error: the first `Coded` in the chain, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> Exit {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Coded>().map(|c| c.exit))
        .unwrap_or(Exit::Failure)
}

/// A closed stdout (`wspipe … | head -1`) ends the run quietly, as in ripgrep.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_survives_added_context() {
        let err = coded(Exit::Connect, "connection refused").context("connecting to ws://x");
        assert_eq!(exit_code_of(&err), Exit::Connect);
        assert_eq!(
            format!("{err:#}"),
            "connecting to ws://x: connection refused"
        );
    }

    #[test]
    fn plain_errors_are_failures() {
        assert_eq!(exit_code_of(&anyhow::anyhow!("boom")), Exit::Failure);
    }

    #[test]
    fn broken_pipe_is_recognised_under_context() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&err));
    }
}
