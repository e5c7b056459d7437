//! How a connection ends: why we sent Close ([`CloseCause`]), what became of the
//! run ([`Finished`], and for `listen`'s clients [`ClientEnd`]), and the one place
//! an ending becomes words and an exit code.

use std::io;

use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::hub::{MAX_BEHIND_BYTES, MAX_BEHIND_MESSAGES, TOO_SLOW};
use super::pump::Deadline;
use crate::exit::{Exit, coded};

/// Why we sent a Close.
#[derive(Debug)]
pub enum CloseCause {
    /// The input ended.
    InputEnded,
    /// An input record was invalid.
    InvalidInput(anyhow::Error),
    /// Asked for by the input (`/close`).
    Requested,
    /// `--count` / `--wait` / `--expect` satisfied.
    Done,
    /// Ctrl-C or a server shutting down: the close code that was sent.
    Shutdown(#[allow(dead_code)] u16),
    /// The event sink is gone (stdout closed).
    OutputClosed,
    /// An incoming message was too large (1009 was sent).
    TooBig,
    /// The peer broke the protocol (1002 or 1007 was sent).
    PeerBrokeProtocol,
    /// `--timeout` passed.
    TimedOut(Deadline),
}

/// How a pump run ended.
#[derive(Debug)]
pub struct Finished {
    /// Why we sent Close, if we did.
    pub initiated: Option<CloseCause>,
    /// The peer's Close, if one arrived (the inner None: no status code).
    pub peer_close: Option<Option<CloseFrame>>,
    /// The error that ended the connection, if any (socket error, ping timeout).
    pub failure: Option<anyhow::Error>,
    /// We sent Close and the peer did not answer within the close timeout.
    pub close_timed_out: bool,
    /// Data messages received.
    /// (Also tells a connection that carried something from one that dropped at once.)
    pub received: u64,
    /// Received messages whose echo (`--echo`) could not go out: they came after
    /// our Close, when the protocol allows no more data, or the socket failed.
    pub not_echoed: u64,
}

impl Finished {
    /// What to say about echoes that could not go out, if any.
    pub fn not_echoed_warning(&self) -> Option<String> {
        let n = self.not_echoed;
        (n > 0).then(|| {
            let (s, were) = if n == 1 { ("", "was") } else { ("s", "were") };
            format!(
                "{n} received message{s} {were} not echoed back: the connection was already closing"
            )
        })
    }

    /// The peer went away without us asking (for reconnection decisions).
    pub fn ended_by_peer(&self) -> bool {
        self.initiated.is_none()
    }

    /// The peer's Close said 1000 (or gave no code): it is done, not going away.
    pub fn peer_closed_normally(&self) -> bool {
        match &self.peer_close {
            Some(Some(frame)) => frame.code == CloseCode::Normal,
            Some(None) => true,
            None => false,
        }
    }

    /// Maps the ending onto the contract's exit codes.
    pub fn into_result(self) -> anyhow::Result<()> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        match self.initiated {
            Some(CloseCause::InvalidInput(err)) => return Err(err),
            Some(CloseCause::Shutdown(_)) => return Err(coded(Exit::Interrupted, "interrupted")),
            Some(CloseCause::TimedOut(deadline)) => return Err(deadline.error()),
            Some(_) => return Ok(()),
            None => {}
        }
        match self.peer_close {
            Some(None) => Ok(()),
            Some(Some(frame)) => match close_words(&frame) {
                (1000 | 1001, _) => Ok(()),
                (code, None) => Err(coded(
                    Exit::AbnormalClose,
                    format!("the peer closed the connection with code {code}"),
                )),
                (code, Some(reason)) => Err(coded(
                    Exit::AbnormalClose,
                    format!("the peer closed the connection with code {code}: {reason}"),
                )),
            },
            None => Err(coded(
                Exit::AbnormalClose,
                "the connection ended without a close frame",
            )),
        }
    }
}

/// A Close frame's code and reason (None when empty) as every message shows them:
/// the reason is the peer's text, so it is escaped for a terminal here, once.
pub fn close_words(frame: &CloseFrame) -> (u16, Option<String>) {
    let reason = (!frame.reason.is_empty())
        .then(|| crate::record::sanitize::for_terminal(frame.reason.as_str()).into_owned());
    (u16::from(frame.code), reason)
}

/// The Close sent for a shutdown code. The codes a server sends on its own get a
/// reason, so the client's log says why (`listen`: Ctrl-C, a client too far behind).
pub fn shutdown_frame(code: u16) -> CloseFrame {
    let reason = match code {
        1001 => "server shutting down",
        1008 => "too slow",
        _ => "",
    };
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }
}

/// Close 1000 with no reason.
pub fn normal_close() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::default(),
    }
}

/// Error text for socket failures, lower-case and without the OS error number noise.
pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        _ => {
            // rustls errors arrive wrapped in io::Error; show the inner one.
            match e.get_ref() {
                Some(inner) => format!("{inner}"),
                None => e.to_string(),
            }
        }
    }
}

/// How a client's connection ended.
#[derive(Debug)]
pub struct ClientEnd {
    /// The pump's ending; None when the connection was dropped after the close grace.
    pub finished: Option<Finished>,
    /// The close code the server asked for: 1008 (too slow) or the shutdown code.
    pub closed_by_server: Option<u16>,
}

impl ClientEnd {
    /// How a client's end reads on stderr (after "client N "), and the error event it
    /// stands for, if it was not a clean close.
    pub fn describe(&self) -> (String, Option<String>) {
        if let Some(failure) = self.finished.as_ref().and_then(|f| f.failure.as_ref()) {
            let message = format!("{failure:#}");
            return (format!("disconnected: {message}"), Some(message));
        }
        match (self.closed_by_server, &self.finished) {
            (Some(TOO_SLOW), _) => {
                let message = too_slow_message();
                (message.clone(), Some(message))
            }
            (Some(code), _) => (format!("closed ({code})"), None),
            (None, None) => ("closed".to_string(), None),
            (None, Some(finished)) => match (&finished.initiated, &finished.peer_close) {
                (Some(CloseCause::InvalidInput(_)), _) => (
                    "closed (1000) after an invalid stdin record".to_string(),
                    None,
                ),
                (Some(_), _) => ("closed (1000)".to_string(), None),
                (None, Some(Some(frame))) => match close_words(frame) {
                    (code, None) => (format!("disconnected ({code})"), None),
                    (code, Some(reason)) => (format!("disconnected ({code}: {reason})"), None),
                },
                (None, Some(None)) => ("disconnected (no status code)".to_string(), None),
                (None, None) => {
                    let message = "the connection ended without a close frame".to_string();
                    (format!("disconnected: {message}"), Some(message))
                }
            },
        }
    }

    /// The exit status this connection stands for (`listen --once`).
    pub fn into_result(self) -> anyhow::Result<()> {
        match (self.closed_by_server, self.finished) {
            (_, Some(f)) if f.failure.is_some() => f.into_result(),
            (Some(TOO_SLOW), _) => Err(coded(Exit::Failure, too_slow_message())),
            (Some(_), _) | (None, None) => Err(coded(Exit::Interrupted, "interrupted")),
            (None, Some(f)) => f.into_result(),
        }
    }
}

/// Why a client too far behind was closed (1008).
pub fn too_slow_message() -> String {
    format!(
        "too slow: more than {MAX_BEHIND_MESSAGES} messages or {} MiB waiting; closed with {TOO_SLOW}",
        MAX_BEHIND_BYTES >> 20
    )
}
