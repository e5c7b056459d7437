//! The message pump: one connection, driven in both directions at once, with the
//! close handshake, keepalive, echo and the stop conditions of every command.
//!
//! The socket is split in two halves driven by two futures joined in one task: the
//! [`reader`](super::reader) forwards received messages to an [`EventSink`], the
//! [`writer`](super::writer) takes [`Input`](crate::record::feed::Input) from an
//! [`InputQueue`] and feeds it in bursts with one flush each. They talk over small
//! channels. Every message taken from the queue is either passed to tungstenite or
//! put back in the queue's carry, so a caller that reconnects loses nothing and a
//! caller that gives up can say exactly how many were not sent. A caller that
//! reconnects also asks for [`delivery`](super::delivery) confirmation: what was
//! passed to tungstenite but not confirmed by the peer when the connection ended goes
//! back in the carry. How the run ended is [`ending`](super::ending)'s to say.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::ending::{CloseCause, Finished};
use super::queue::InputQueue;
use super::reader::{ReaderLink, read_half};
use super::writer::{WriterLink, write_half};
use crate::exit::{Exit, coded};
use crate::record::event::EventSink;

/// Decides, for each received data message, whether the session is done
/// (`--count`, `--wait`, `--expect`).
pub type DoneWhen = Box<dyn FnMut(&Message) -> bool + Send>;

/// How one pump run behaves.
#[derive(Debug, Clone)]
pub struct PumpConfig {
    /// Send Close (1000) when the input ends, after the linger (false for
    /// `--no-close`, `connect --echo` and `--count`, and while `send` waits).
    pub close_on_input_end: bool,
    /// How long to wait for the peer's Close after sending ours.
    pub close_timeout: Duration,
    /// Send every received data message back (mirror mode, `listen --echo`).
    pub echo: bool,
    /// Forward pings and pongs to the sink.
    pub show_control: bool,
    pub ping_interval: Option<Duration>,
    pub ping_timeout: Option<Duration>,
    /// For the error message when a message is too large.
    pub max_message_size: usize,
    /// After the input ends, keep reading until the peer has been silent this
    /// long before sending Close: servers that answer asynchronously stop sending
    /// once they read our Close, so closing at once would lose their last replies.
    /// Zero closes at once.
    pub linger: Duration,
    /// `--timeout`: when it passes, send Close (1000), keep what already arrived,
    /// and end with exit 4. Set by the session, shared by all its connections.
    pub deadline: Option<Deadline>,
}

/// The session's deadline and the limit it came from (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: tokio::time::Instant,
    pub limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: later(limit),
            limit,
        }
    }

    /// When to give up on a clean end: the close wait after the deadline, plus
    /// a second for the output.
    pub fn hard_stop(&self) -> tokio::time::Instant {
        self.at
            .checked_add(HARD_CLOSE_WAIT + Duration::from_secs(1))
            .unwrap_or(self.at)
    }

    /// The error of a session that ran out of time.
    pub fn error(&self) -> anyhow::Error {
        coded(
            Exit::Timeout,
            format!(
                "timed out after {} (--timeout)",
                humantime::format_duration(self.limit)
            ),
        )
    }
}

impl Default for PumpConfig {
    fn default() -> Self {
        PumpConfig {
            close_on_input_end: true,
            close_timeout: Duration::from_secs(5),
            echo: false,
            show_control: false,
            ping_interval: None,
            ping_timeout: None,
            max_message_size: 64 << 20,
            linger: Duration::ZERO,
            deadline: None,
        }
    }
}

/// Asked of the writer by the reader.
pub(super) enum WriterCmd {
    Close(CloseFrame, CloseCause),
}

/// The sending half, shared: the writer sends input, pings and the Close; the
/// reader feeds echoes itself (both run in one task, so the lock is never
/// contended; it only orders their turns at the socket).
pub(super) type SharedSink<S> = tokio::sync::Mutex<SplitSink<WebSocketStream<S>, Message>>;

/// What the writer tells the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriterState {
    CloseSent,
    /// Close sent because `--timeout` passed: the close wait is not extended by
    /// what still arrives, so a peer that keeps pushing cannot hold the run open.
    CloseSentAtDeadline,
    Failed,
}

/// The close wait after `--timeout` at most.
pub(super) const HARD_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The longest wait anything here is asked for: "forever", in a form every timer
/// can add to the current time without overflowing. Longer flags saturate to it.
pub const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `wait` from now, saturating (an absurd `--timeout` means "never", not a panic).
pub(super) fn later(wait: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait).unwrap_or_else(|| now + LONGEST_WAIT)
}

/// Messages fed per flush at most; bounds how much a failed flush puts back.
pub(super) const BURST: usize = 512;
/// Messages read in a row before the reader looks at the writer's state again.
pub(super) const DRAIN: usize = 64;

/// Drives one connection until it closes. `shutdown` carries a close code to send
/// when it changes to `Some` (Ctrl-C: 1000, server shutdown: 1001).
pub async fn pump<S, E>(
    ws: WebSocketStream<S>,
    queue: &mut InputQueue,
    sink: &mut E,
    cfg: &PumpConfig,
    mut done_when: Option<&mut DoneWhen>,
    shutdown: &mut watch::Receiver<Option<u16>>,
) -> Finished
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    E: EventSink,
{
    let (tx, mut rx) = ws.split();
    let tx: SharedSink<S> = tokio::sync::Mutex::new(tx);
    let (cmd_tx, cmd_rx) = mpsc::channel::<WriterCmd>(64);
    // The writer tells the reader at most twice (close sent, failed); an mpsc
    // receiver is cheaper than a watch to poll once per message.
    let (state_tx, state_rx) = mpsc::channel(4);
    let (reader_done_tx, reader_done_rx) = watch::channel(false);
    let started = Instant::now();
    let last_heard = AtomicU64::new(0);
    // When the last data message arrived (ms since `started`), for the linger:
    // a server's keepalive pings are not replies and must not hold the run open.
    let last_data = AtomicU64::new(0);
    let lingering = AtomicBool::new(false);
    // How many messages of this connection the peer has confirmed reading.
    let (confirmed_tx, confirmed_rx) = watch::channel(0u64);
    let confirming = queue.unconfirmed.is_some();

    let clocks = Clocks {
        heard: &last_heard,
        data: &last_data,
        lingering: &lingering,
        started,
    };
    let reader_link = ReaderLink {
        ws_tx: &tx,
        cmds: cmd_tx,
        writer_state: state_rx,
        clocks,
        confirmed: confirming.then_some(&confirmed_tx),
    };
    let writer_link = WriterLink {
        ws_tx: &tx,
        cmds: cmd_rx,
        state: state_tx,
        reader_done: reader_done_rx,
        clocks,
        confirmed: confirmed_rx,
    };
    let reader = read_half(&mut rx, sink, cfg, &mut done_when, reader_link);
    let writer = write_half(queue, cfg, shutdown, writer_link);
    let reader = async {
        let end = reader.await;
        let _ = reader_done_tx.send(true);
        end
    };
    let (read_end, write_end) = tokio::join!(reader, writer);

    // Answer a Close the peer started (tungstenite queued the reply) and finish the
    // handshake; bounded, because a dead peer never reads it.
    let mut tx = tx.into_inner();
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;

    // The peer answered our Close: it read every frame before it.
    let everything_read = write_end.initiated.is_some() && read_end.peer_close.is_some();
    queue.settle_unconfirmed(*confirmed_tx.borrow(), everything_read);

    Finished {
        initiated: write_end.initiated,
        peer_close: read_end.peer_close,
        failure: read_end.failure.or(write_end.failure),
        close_timed_out: read_end.close_timed_out,
        received: read_end.received,
        not_echoed: read_end.not_echoed,
    }
}

/// When the reader last heard from the peer, shared with the writer (ms since
/// `started`): any frame, for the keepalive; data messages, for the linger.
#[derive(Clone, Copy)]
pub(super) struct Clocks<'a> {
    pub(super) heard: &'a AtomicU64,
    pub(super) data: &'a AtomicU64,
    /// Set by the writer when the linger starts: only then is `data` kept (a
    /// clock read per message costs more than a small message).
    pub(super) lingering: &'a AtomicBool,
    pub(super) started: Instant,
}

impl Clocks<'_> {
    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Shared between a command and its Ctrl-C handler.
pub fn shutdown_channel() -> (
    Arc<watch::Sender<Option<u16>>>,
    watch::Receiver<Option<u16>>,
) {
    let (tx, rx) = watch::channel(None);
    (Arc::new(tx), rx)
}
