//! The message pump: one connection, driven in both directions at once, with the
//! close handshake, keepalive, echo and the stop conditions of every command.
//!
//! The socket is split in two halves driven by two futures joined in one task: the
//! reader forwards received messages to an [`EventSink`], the writer takes [`Input`]
//! from an [`InputQueue`] and feeds it in bursts with one flush each. They talk over
//! small channels. Every message taken from the queue is either passed to tungstenite
//! or put back in the queue's carry, so a caller that reconnects loses nothing and a
//! caller that gives up can say exactly how many were not sent. A caller that
//! reconnects also asks for [`delivery`] confirmation: what was passed to tungstenite
//! but not confirmed by the peer when the connection ended goes back in the carry.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, Sink, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::delivery::{self, Unconfirmed};
use super::queue::InputQueue;
use crate::exit::{Exit, coded};
use crate::record::event::{Event, EventSink};
use crate::record::feed::Input;

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
            Some(Some(frame)) => {
                let code = u16::from(frame.code);
                if code == 1000 || code == 1001 {
                    Ok(())
                } else if frame.reason.is_empty() {
                    Err(coded(
                        Exit::AbnormalClose,
                        format!("the peer closed the connection with code {code}"),
                    ))
                } else {
                    Err(coded(
                        Exit::AbnormalClose,
                        format!(
                            "the peer closed the connection with code {code}: {}",
                            crate::record::sanitize::for_terminal(frame.reason.as_str())
                        ),
                    ))
                }
            }
            None => Err(coded(
                Exit::AbnormalClose,
                "the connection ended without a close frame",
            )),
        }
    }
}

/// Asked of the writer by the reader.
enum WriterCmd {
    Close(CloseFrame, CloseCause),
}

/// The sending half, shared: the writer sends input, pings and the Close; the
/// reader feeds echoes itself (both run in one task, so the lock is never
/// contended; it only orders their turns at the socket).
type SharedSink<S> = tokio::sync::Mutex<SplitSink<WebSocketStream<S>, Message>>;

/// What the writer tells the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    CloseSent,
    /// Close sent because `--timeout` passed: the close wait is not extended by
    /// what still arrives, so a peer that keeps pushing cannot hold the run open.
    CloseSentAtDeadline,
    Failed,
}

/// The close wait after `--timeout` at most.
const HARD_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The longest wait anything here is asked for: "forever", in a form every timer
/// can add to the current time without overflowing. Longer flags saturate to it.
pub const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `wait` from now, saturating (an absurd `--timeout` means "never", not a panic).
fn later(wait: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait).unwrap_or_else(|| now + LONGEST_WAIT)
}

/// Messages fed per flush at most; bounds how much a failed flush puts back.
const BURST: usize = 512;
/// Messages read in a row before the reader looks at the writer's state again.
const DRAIN: usize = 64;

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

    let reader = read_half(
        &mut rx,
        sink,
        cfg,
        &mut done_when,
        &tx,
        cmd_tx,
        state_rx,
        Clocks {
            heard: &last_heard,
            data: &last_data,
            lingering: &lingering,
            started,
        },
        confirming.then_some(&confirmed_tx),
    );
    let writer = write_half(
        &tx,
        queue,
        cfg,
        cmd_rx,
        state_tx,
        reader_done_rx,
        shutdown,
        Clocks {
            heard: &last_heard,
            data: &last_data,
            lingering: &lingering,
            started,
        },
        confirmed_rx,
    );
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
struct Clocks<'a> {
    heard: &'a AtomicU64,
    data: &'a AtomicU64,
    /// Set by the writer when the linger starts: only then is `data` kept (a
    /// clock read per message costs more than a small message).
    lingering: &'a AtomicBool,
    started: Instant,
}

impl Clocks<'_> {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

struct ReadEnd {
    peer_close: Option<Option<CloseFrame>>,
    failure: Option<anyhow::Error>,
    close_timed_out: bool,
    received: u64,
    not_echoed: u64,
}

#[allow(clippy::too_many_arguments)]
async fn read_half<S, E>(
    rx: &mut SplitStream<WebSocketStream<S>>,
    sink: &mut E,
    cfg: &PumpConfig,
    done_when: &mut Option<&mut DoneWhen>,
    ws_tx: &SharedSink<S>,
    cmds: mpsc::Sender<WriterCmd>,
    mut writer_state: mpsc::Receiver<WriterState>,
    clocks: Clocks<'_>,
    confirmed: Option<&watch::Sender<u64>>,
) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    E: EventSink,
{
    let mut end = ReadEnd {
        peer_close: None,
        failure: None,
        close_timed_out: false,
        received: 0,
        not_echoed: 0,
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut hard_deadline = false;
    let mut writer_alive = true;
    let mut output_open = true;
    let mut done = false;
    // Events were emitted since the sink was last told the socket is idle.
    let mut unflushed = false;
    // Echoes handed to tungstenite since the last flush.
    let mut echoes_unflushed = 0u64;
    // One timer for the whole run, armed when our Close goes out: a timer made
    // per received message costs more than the message.
    let close_wait = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(close_wait);
    // Only a keepalive needs to know when we last heard from the peer, and only
    // the linger when the last data message came.
    let keepalive = cfg.ping_interval.is_some() || cfg.ping_timeout.is_some();
    // Messages taken in a row straight from the stream, without the select.
    let mut streak = 0;
    loop {
        // While messages are ready they are taken straight from the stream: the
        // select, polling the writer's state every time, costs more than a small
        // message. Every DRAIN messages, and whenever the stream has nothing
        // ready, the select below runs (and registers the real waker).
        let ready = if streak < DRAIN {
            rx.next().now_or_never()
        } else {
            None
        };
        let next = match ready {
            Some(next) => {
                streak += 1;
                next
            }
            None => {
                streak = 0;
                tokio::select! {
                    biased;
                    state = writer_state.recv(), if writer_alive => {
                        match state {
                            None => writer_alive = false,
                            Some(WriterState::CloseSent) if deadline.is_none() => {
                                let at = later(cfg.close_timeout);
                                deadline = Some(at);
                                close_wait.as_mut().reset(at);
                            }
                            Some(WriterState::CloseSentAtDeadline) if deadline.is_none() => {
                                // Bounded: --timeout is a promise about when we exit.
                                let at = later(cfg.close_timeout.min(HARD_CLOSE_WAIT));
                                deadline = Some(at);
                                hard_deadline = true;
                                close_wait.as_mut().reset(at);
                            }
                            Some(WriterState::Failed) => break,
                            Some(_) => {}
                        }
                        continue;
                    }
                    () = &mut close_wait, if deadline.is_some() => {
                        end.close_timed_out = true;
                        break;
                    }
                    next = rx.next() => next,
                    // Polled only when every branch above is pending: nothing more
                    // to read for now, so the sink hands over what it batched.
                    () = std::future::ready(()), if unflushed => {
                        unflushed = false;
                        if echoes_unflushed > 0 {
                            let count = std::mem::take(&mut echoes_unflushed);
                            if ws_tx.lock().await.flush().await.is_err() {
                                end.not_echoed += count;
                            }
                        }
                        if output_open && !sink.idle().await {
                            output_open = false;
                            let _ = cmds.send(WriterCmd::Close(normal_close(), CloseCause::OutputClosed)).await;
                        }
                        continue;
                    }
                }
            }
        };
        unflushed = true;
        let Some(next) = next else { break };
        if let Some(at) = deadline.as_mut().filter(|_| !hard_deadline) {
            // The close wait counts the peer's silence: a peer still answering a
            // backlog is not cut off in mid-answer.
            *at = later(cfg.close_timeout);
            close_wait.as_mut().reset(*at);
        }
        let message = match next {
            Ok(message) => message,
            Err(err) => {
                end.failure = Some(read_failure(err, cfg, &cmds).await);
                break;
            }
        };
        if keepalive {
            clocks.heard.store(clocks.now_ms(), Ordering::Relaxed);
        }
        let message = match message {
            Message::Text(_) | Message::Binary(_) => {
                if clocks.lingering.load(Ordering::Relaxed) {
                    clocks.data.store(clocks.now_ms(), Ordering::Relaxed);
                }
                message
            }
            Message::Ping(data) => {
                if cfg.show_control && output_open {
                    output_open = sink.emit(Event::Ping(data)).await;
                }
                continue;
            }
            Message::Pong(data) => {
                // Answers to our own confirmation requests are bookkeeping,
                // not something the peer said.
                if let Some(confirmed) = confirmed {
                    if let Some(count) = delivery::confirmed_by(&data) {
                        confirmed.send_if_modified(|c| {
                            let newer = count > *c;
                            *c = (*c).max(count);
                            newer
                        });
                        continue;
                    }
                }
                if cfg.show_control && output_open {
                    output_open = sink.emit(Event::Pong(data)).await;
                }
                continue;
            }
            Message::Close(frame) => {
                if output_open {
                    sink.emit(Event::Close(frame.clone())).await;
                }
                end.peer_close = Some(frame);
                break;
            }
            Message::Frame(_) => continue,
        };
        if done {
            // Already closing: `--count 3` means 3, like `head -n 3`; what the
            // peer sent before it read our Close is dropped.
            continue;
        }
        end.received += 1;
        let finished = done_when.as_mut().is_some_and(|check| check(&message));
        let event = if cfg.echo {
            let event = data_event(message.clone());
            // The echo goes into tungstenite before the next message is read:
            // once tungstenite has read the peer's Close it refuses to send
            // anything else, so reading ahead would lose the echoes of the last
            // messages. It also slows a peer that sends faster than it reads.
            // Flushed when the socket has nothing more to read (or every
            // BURST): one write per burst of echoes. After our own Close,
            // tungstenite refuses it at once.
            let mut tx = ws_tx.lock().await;
            // What cannot go out is counted, for the caller to report.
            if feed_into_tungstenite(&mut tx, message).await.is_err() {
                end.not_echoed += 1;
            } else {
                echoes_unflushed += 1;
            }
            if echoes_unflushed >= BURST as u64 {
                let count = std::mem::take(&mut echoes_unflushed);
                if tx.flush().await.is_err() {
                    end.not_echoed += count;
                }
            }
            event
        } else {
            data_event(message)
        };
        if output_open && !sink.emit(event).await {
            output_open = false;
            let _ = cmds
                .send(WriterCmd::Close(normal_close(), CloseCause::OutputClosed))
                .await;
        }
        if finished {
            done = true;
            let _ = cmds
                .send(WriterCmd::Close(normal_close(), CloseCause::Done))
                .await;
        }
    }
    if output_open {
        sink.idle().await;
    }
    end
}

/// The event of a received text or binary message.
fn data_event(message: Message) -> Event {
    match message {
        Message::Text(text) => Event::Text(text),
        other => Event::Binary(other.into_data()),
    }
}

/// Turns a read error into the error the user sees; a too-large message also gets
/// a 1009 Close sent.
async fn read_failure(
    err: WsError,
    cfg: &PumpConfig,
    cmds: &mpsc::Sender<WriterCmd>,
) -> anyhow::Error {
    use tokio_tungstenite::tungstenite::error::CapacityError;
    match err {
        WsError::Capacity(CapacityError::MessageTooLong { size, .. }) => {
            close_because(cmds, CloseCode::Size, "message too big", CloseCause::TooBig).await;
            coded(
                Exit::AbnormalClose,
                format!(
                    "received a message of {size} bytes, larger than --max-message-size ({} bytes); closed with 1009",
                    cfg.max_message_size
                ),
            )
        }
        WsError::Io(e) => coded(
            Exit::AbnormalClose,
            format!("connection lost: {}", super::dial::describe_io(&e)),
        ),
        // The TCP stream ended (EOF) before any Close: tungstenite's wording for
        // that ("Connection reset without closing handshake") suggests a reset.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => coded(
            Exit::AbnormalClose,
            "the connection ended without a close frame",
        ),
        // RFC 6455 7.4.1: 1007 for data that does not fit its type, 1002 for any
        // other protocol error. tungstenite stops reading but can still write, so
        // the peer is told why instead of getting a Close without a code.
        WsError::Utf8(_) => {
            let cause = CloseCause::PeerBrokeProtocol;
            close_because(cmds, CloseCode::Invalid, "invalid UTF-8", cause).await;
            coded(
                Exit::AbnormalClose,
                "the peer sent a text message that is not valid UTF-8; closed with 1007",
            )
        }
        WsError::Protocol(e) => {
            let cause = CloseCause::PeerBrokeProtocol;
            close_because(cmds, CloseCode::Protocol, "protocol error", cause).await;
            coded(
                Exit::AbnormalClose,
                format!(
                    "the peer broke the protocol ({}); closed with 1002",
                    protocol_error(&e)
                ),
            )
        }
        other => coded(Exit::AbnormalClose, format!("connection lost: {other}")),
    }
}

/// Asks the writer to close with `code` and a short reason, for what the reader saw.
async fn close_because(
    cmds: &mpsc::Sender<WriterCmd>,
    code: CloseCode,
    reason: &'static str,
    cause: CloseCause,
) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = cmds.send(WriterCmd::Close(frame, cause)).await;
}

/// What the peer did wrong, in the log's words.
fn protocol_error(error: &ProtocolError) -> String {
    match error {
        ProtocolError::NonZeroReservedBits => "reserved bits set without an extension".into(),
        ProtocolError::UnmaskedFrameFromClient => "an unmasked frame from a client".into(),
        ProtocolError::MaskedFrameFromServer => "a masked frame from a server".into(),
        ProtocolError::FragmentedControlFrame => "a fragmented control frame".into(),
        ProtocolError::ControlFrameTooBig => "a control frame over 125 bytes".into(),
        ProtocolError::UnknownControlFrameType(op) => format!("a reserved control opcode {op}"),
        ProtocolError::UnknownDataFrameType(op) => format!("a reserved data opcode {op}"),
        ProtocolError::UnexpectedContinueFrame => {
            "a continuation frame with no message to continue".into()
        }
        ProtocolError::ExpectedFragment(_) => {
            "a new message before the fragmented one ended".into()
        }
        other => other.to_string(),
    }
}

struct WriteEnd {
    initiated: Option<CloseCause>,
    failure: Option<anyhow::Error>,
}

#[allow(clippy::too_many_arguments)]
async fn write_half<S>(
    ws_tx: &SharedSink<S>,
    queue: &mut InputQueue,
    cfg: &PumpConfig,
    mut cmds: mpsc::Receiver<WriterCmd>,
    state: mpsc::Sender<WriterState>,
    mut reader_done: watch::Receiver<bool>,
    shutdown: &mut watch::Receiver<Option<u16>>,
    clocks: Clocks<'_>,
    mut confirmed: watch::Receiver<u64>,
) -> WriteEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut end = WriteEnd {
        initiated: None,
        failure: None,
    };
    // Pings go out every `ping_interval` (or `ping_timeout` alone); the timer ticks
    // at the shorter of the two so a missing pong is noticed on time.
    let ping_every = cfg.ping_interval.or(cfg.ping_timeout);
    let tick_every = match (ping_every, cfg.ping_timeout) {
        (Some(every), Some(limit)) => Some(every.min(limit)),
        (every, _) => every,
    };
    let mut keepalive = tick_every.map(|every| {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    });
    // When the oldest unanswered ping went out, and when the last one did (ms since `started`).
    let mut ping_outstanding_since: Option<u64> = None;
    let mut last_ping_at: u64 = 0;
    let mut input_open = !queue.ended;
    let mut shutdown_alive = true;
    // After the input ended: close once the peer has sent no data message for the
    // linger. (ms since `started` when lingering began; the timer is re-armed from
    // the last data message.)
    let linger_ms = u64::try_from(cfg.linger.as_millis()).unwrap_or(u64::MAX);
    let lingers = cfg.close_on_input_end && linger_ms > 0;
    // A connection after a reconnect whose input had already ended: what it
    // carries over is sent below, then it lingers like the first.
    let mut lingering_since: Option<u64> = (queue.ended && lingers).then_some(0);
    clocks
        .lingering
        .store(lingering_since.is_some(), Ordering::Relaxed);
    let linger_timer = tokio::time::sleep(cfg.linger.min(Duration::from_secs(86_400 * 365)));
    tokio::pin!(linger_timer);
    let timeout_timer = tokio::time::sleep_until(
        cfg.deadline
            .map_or_else(|| later(Duration::MAX), |deadline| deadline.at),
    );
    tokio::pin!(timeout_timer);

    // What a previous connection could not send goes first.
    queue.unconfirmed_in_carry = 0;
    if !queue.carry.is_empty() {
        let carried: Vec<Message> = queue.carry.drain(..).collect();
        let mut tx = ws_tx.lock().await;
        if let Err(err) = send_burst(
            &mut tx,
            carried,
            &mut queue.carry,
            queue.unconfirmed.as_mut(),
        )
        .await
        {
            end.failure = Some(err);
            let _ = state.try_send(WriterState::Failed);
            return end;
        }
    }

    let close_with = |code: CloseCode| CloseFrame {
        code,
        reason: Utf8Bytes::default(),
    };
    loop {
        let tick = async {
            match keepalive.as_mut() {
                Some(timer) => {
                    timer.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        let (frame, cause) = tokio::select! {
            biased;
            Some(WriterCmd::Close(frame, cause)) = cmds.recv() => (Some(frame), cause),
            _ = reader_done.changed() => return end,
            () = &mut timeout_timer, if cfg.deadline.is_some() => {
                let frame = CloseFrame { code: CloseCode::Normal, reason: Utf8Bytes::from_static("timeout") };
                (Some(frame), CloseCause::TimedOut(cfg.deadline.expect("checked")))
            }
            () = &mut linger_timer, if lingering_since.is_some() => {
                let since = lingering_since.unwrap_or(0);
                let quiet_from = since.max(clocks.data.load(Ordering::Relaxed));
                let now = clocks.now_ms();
                if now.saturating_sub(quiet_from) < linger_ms {
                    // Data came meanwhile: silence counts from the last message.
                    let wake = clocks.started + Duration::from_millis(quiet_from.saturating_add(linger_ms));
                    linger_timer.as_mut().reset(tokio::time::Instant::from_std(wake));
                    continue;
                }
                (Some(close_with(CloseCode::Normal)), CloseCause::InputEnded)
            }
            changed = shutdown.changed(), if shutdown_alive => {
                if changed.is_err() {
                    shutdown_alive = false;
                    continue;
                }
                let Some(code) = *shutdown.borrow_and_update() else { continue };
                (Some(shutdown_frame(code)), CloseCause::Shutdown(code))
            }
            () = tick => {
                let now = clocks.now_ms();
                let heard = clocks.heard.load(Ordering::Relaxed);
                if let Some(since) = ping_outstanding_since {
                    if heard >= since {
                        ping_outstanding_since = None;
                    } else if let Some(limit) = cfg.ping_timeout {
                        if now.saturating_sub(since) >= limit.as_millis() as u64 {
                            end.failure = Some(coded(
                                Exit::Timeout,
                                format!("no pong within {} (--ping-timeout)", humantime::format_duration(limit)),
                            ));
                            let _ = state.try_send(WriterState::Failed);
                            return end;
                        }
                    }
                }
                let every = ping_every.map_or(u64::MAX, |d| d.as_millis() as u64);
                if now.saturating_sub(last_ping_at) >= every {
                    last_ping_at = now;
                    ping_outstanding_since.get_or_insert(now);
                    let ping = Message::Ping(Bytes::from_static(b"wspipe"));
                    // A ping refused because a Close is under way says nothing;
                    // a socket that failed under it ends the run, with the reason.
                    if let Err(WsError::Io(err)) = ws_tx.lock().await.send(ping).await {
                        end.failure = Some(coded(
                            Exit::AbnormalClose,
                            format!("connection lost: a keepalive ping could not be sent: {}", super::dial::describe_io(&err)),
                        ));
                        let _ = state.try_send(WriterState::Failed);
                        return end;
                    }
                }
                continue;
            }
            // The sender is the pump's, alive as long as this writer.
            Ok(()) = confirmed.changed() => {
                if let Some(unconfirmed) = queue.unconfirmed.as_mut() {
                    unconfirmed.confirm(*confirmed.borrow_and_update());
                }
                continue;
            }
            // A full confirmation window waits for the peer, as full socket
            // buffers would.
            input = queue.rx.recv(), if input_open && !queue.unconfirmed.as_ref().is_some_and(Unconfirmed::is_full) => match input {
                Some(Input::Batch(batch)) => {
                    queue.budget.give(batch.iter().map(Message::len).sum());
                    let sent = send_burst(&mut *ws_tx.lock().await, batch, &mut queue.carry, queue.unconfirmed.as_mut()).await;
                    if sent.is_err() {
                        // The peer closed, or the socket failed: the reader will
                        // see why; what was not sent waits in the carry.
                        input_open = false;
                    }
                    continue;
                }
                Some(Input::Transient { message, made }) => {
                    if queue.opened_at.is_none_or(|opened| made >= opened) {
                        // Never carried: on failure it is simply gone.
                        let mut dropped = VecDeque::new();
                        let sent = send_burst(&mut *ws_tx.lock().await, vec![message], &mut dropped, None).await;
                        if sent.is_err() {
                            input_open = false;
                        }
                    }
                    continue;
                }
                Some(Input::Close(frame)) => (frame, CloseCause::Requested),
                Some(Input::Invalid(err)) => (Some(close_with(CloseCode::Normal)), CloseCause::InvalidInput(err)),
                Some(Input::End) | None => {
                    queue.ended = true;
                    input_open = false;
                    if !cfg.close_on_input_end {
                        continue;
                    }
                    if lingers {
                        // Everything queued is out (each batch was flushed); now
                        // give the peer time to answer the last of it.
                        lingering_since = Some(clocks.now_ms());
                        clocks.lingering.store(true, Ordering::Relaxed);
                        linger_timer.as_mut().reset(later(cfg.linger));
                        continue;
                    }
                    (Some(close_with(CloseCode::Normal)), CloseCause::InputEnded)
                }
            },
        };
        let _ = ws_tx.lock().await.send(Message::Close(frame)).await;
        let at_deadline = matches!(cause, CloseCause::TimedOut(_));
        end.initiated = Some(cause);
        let _ = state.try_send(if at_deadline {
            WriterState::CloseSentAtDeadline
        } else {
            WriterState::CloseSent
        });
        // Nothing more to do for the reader: let its requests fail at once.
        drop(cmds);
        // Keep the state sender alive until the reader is done, so it does not
        // mistake the writer's return for a failure.
        let _ = reader_done.wait_for(|done| *done).await;
        return end;
    }
}

/// Data messages larger than this go out in fragments of this size.
///
/// tungstenite copies a frame whole into its write buffer, and keeps that buffer's
/// capacity afterwards: a 60 MiB message sent as one frame costs a second 60 MiB
/// for as long as the connection lives. Fragments are slices of the message (no
/// copy), and the sink waits for the socket between them, so the buffer stays
/// the size of a fragment. It also keeps frames under the 16 MiB many peers accept.
/// (At 256 KiB, echoes of 1 MiB messages took 1.6 times as long.)
const FRAGMENT: usize = 1 << 20;

/// `message` as the frames to feed, in order: itself, or a fragmented message.
fn fragments(message: Message) -> Fragments {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let (data, opcode) = match message {
        Message::Text(text) if text.len() > FRAGMENT => (Bytes::from(text), Data::Text),
        Message::Binary(data) if data.len() > FRAGMENT => (data, Data::Binary),
        small => return Fragments::One(Some(small)),
    };
    let count = data.len().div_ceil(FRAGMENT);
    Fragments::Many(Box::new((0..count).map(move |i| {
        let chunk = data.slice(i * FRAGMENT..data.len().min((i + 1) * FRAGMENT));
        let opcode = if i == 0 { opcode } else { Data::Continue };
        Message::Frame(Frame::message(chunk, OpCode::Data(opcode), i + 1 == count))
    })))
}

enum Fragments {
    One(Option<Message>),
    Many(Box<dyn Iterator<Item = Message> + Send>),
}

impl Iterator for Fragments {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        match self {
            Fragments::One(message) => message.take(),
            Fragments::Many(frames) => frames.next(),
        }
    }
}

/// Hands one frame to the sink: waits until it can take one (the previous one
/// has moved on into tungstenite, which writes out a full buffer), then feeds it.
async fn feed_frame<S>(
    tx: &mut SplitSink<WebSocketStream<S>, Message>,
    frame: Message,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut tx = std::pin::Pin::new(tx);
    futures_util::future::poll_fn(|cx| tx.as_mut().poll_ready(cx)).await?;
    tx.as_mut().start_send(frame)
}

/// Hands one message to tungstenite without flushing: the split sink keeps a fed
/// message in a slot of its own until the next `poll_ready`, so poll it once more.
async fn feed_into_tungstenite<S>(
    tx: &mut SplitSink<WebSocketStream<S>, Message>,
    message: Message,
) -> Result<(), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    for frame in fragments(message) {
        feed_frame(tx, frame).await?;
    }
    let mut tx = std::pin::Pin::new(tx);
    futures_util::future::poll_fn(|cx| tx.as_mut().poll_ready(cx)).await
}

/// Feeds a burst and flushes once. On failure, every message not known to have
/// reached tungstenite is put back (in order) in `unsent`. With `confirm`, what
/// reached tungstenite is kept there, and each flush carries a Ping asking the peer
/// to confirm it.
async fn send_burst<S>(
    tx: &mut SplitSink<WebSocketStream<S>, Message>,
    batch: Vec<Message>,
    unsent: &mut VecDeque<Message>,
    mut confirm: Option<&mut Unconfirmed>,
) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut batch: VecDeque<Message> = batch.into();
    while !batch.is_empty() {
        // The split sink holds the last fed message in its own slot until the next
        // poll_ready or flush moves it into tungstenite: keep it until then.
        let mut fed = 0usize;
        let mut result = Ok(());
        'burst: for message in batch.iter().take(BURST) {
            // poll_ready moves the previous frame out of the slot first.
            for frame in fragments(message.clone()) {
                if let Err(err) = feed_frame(tx, frame).await {
                    result = Err(err);
                    break 'burst;
                }
            }
            fed += 1;
        }
        if let (Ok(()), Some(confirm)) = (&result, confirm.as_deref()) {
            // In the same flush, so a peer that reads the burst answers at once.
            result = tx
                .feed(Unconfirmed::request(confirm.sent() + fed as u64))
                .await;
        }
        if result.is_ok() {
            result = tx.flush().await;
        }
        match result {
            Ok(()) => {
                let sent = batch.drain(..fed);
                match confirm.as_deref_mut() {
                    Some(confirm) => sent.for_each(|message| confirm.push(message)),
                    None => drop(sent),
                }
            }
            Err(err) => {
                // Conservative: the whole burst may be unsent (an I/O error can
                // lose what tungstenite buffered). Resending may duplicate; it
                // never loses.
                let keep_from = match &err {
                    WsError::Io(_) => 0,
                    _ => fed.saturating_sub(1),
                };
                unsent.extend(batch.drain(keep_from..));
                if let Some(confirm) = confirm {
                    batch.into_iter().for_each(|message| confirm.push(message));
                }
                return Err(anyhow::Error::new(err));
            }
        }
    }
    Ok(())
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

/// Shared between a command and its Ctrl-C handler.
pub fn shutdown_channel() -> (
    Arc<watch::Sender<Option<u16>>>,
    watch::Receiver<Option<u16>>,
) {
    let (tx, rx) = watch::channel(None);
    (Arc::new(tx), rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_messages_are_cut_into_fragments_of_the_same_bytes() {
        let small = Message::text("x".repeat(FRAGMENT));
        assert_eq!(fragments(small.clone()).collect::<Vec<_>>(), [small]);

        let data: Vec<u8> = (0..FRAGMENT * 2 + 7).map(|i| i as u8).collect();
        let frames: Vec<_> = fragments(Message::binary(data.clone()))
            .map(|message| match message {
                Message::Frame(frame) => frame,
                other => panic!("expected a frame, got {other:?}"),
            })
            .collect();
        assert_eq!(frames.len(), 3);
        let opcodes: Vec<_> = frames
            .iter()
            .map(|f| (f.header().opcode, f.header().is_final))
            .collect();
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        assert_eq!(
            opcodes,
            [
                (OpCode::Data(Data::Binary), false),
                (OpCode::Data(Data::Continue), false),
                (OpCode::Data(Data::Continue), true),
            ]
        );
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload().to_vec()).collect();
        assert_eq!(joined, data);
    }
}
