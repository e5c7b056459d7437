//! The reading half of a connection: every frame the peer sends, to the event
//! sink in order; echoes fed back before the next read; the close wait after our
//! Close; read errors turned into the Close code the peer is owed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::stream::SplitStream;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::delivery;
use super::ending::{CloseCause, normal_close};
use super::pump::{
    BURST, Clocks, DRAIN, DoneWhen, HARD_CLOSE_WAIT, PumpConfig, SharedSink, WriterCmd,
    WriterState, later,
};
use super::writer::feed_into_tungstenite;
use crate::exit::{Exit, coded};
use crate::record::event::{Event, EventSink};

pub(super) struct ReadEnd {
    pub(super) peer_close: Option<Option<CloseFrame>>,
    pub(super) failure: Option<anyhow::Error>,
    pub(super) close_timed_out: bool,
    pub(super) received: u64,
    pub(super) not_echoed: u64,
}

/// The reader's ends of what the two halves share.
pub(super) struct ReaderLink<'a, S> {
    /// For echoes, fed by the reader itself.
    pub(super) ws_tx: &'a SharedSink<S>,
    /// Asks the writer to close (1002, 1007, 1009, done, output closed).
    pub(super) cmds: mpsc::Sender<WriterCmd>,
    /// What the writer did: Close sent, or failed.
    pub(super) writer_state: mpsc::Receiver<WriterState>,
    pub(super) clocks: Clocks<'a>,
    /// With delivery confirmation: how many messages the peer confirmed.
    pub(super) confirmed: Option<&'a watch::Sender<u64>>,
}

pub(super) async fn read_half<S, E>(
    rx: &mut SplitStream<WebSocketStream<S>>,
    sink: &mut E,
    cfg: &PumpConfig,
    done_when: &mut Option<&mut DoneWhen>,
    link: ReaderLink<'_, S>,
) -> ReadEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    E: EventSink,
{
    let ReaderLink {
        ws_tx,
        cmds,
        mut writer_state,
        clocks,
        confirmed,
    } = link;
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
            format!("connection lost: {}", super::ending::describe_io(&e)),
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
