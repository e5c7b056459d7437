//! The writing half of a connection: the input queue's batches in bursts with one
//! flush each, keepalive pings, the linger after the input ends, and our Close.
//! Large messages go out in fragments sliced from the message.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{Sink, SinkExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::delivery::Unconfirmed;
use super::ending::{CloseCause, shutdown_frame};
use super::keepalive::{Due, Keepalive};
use super::pump::{BURST, Clocks, PumpConfig, SharedSink, WriterCmd, WriterState, later};
use super::queue::InputQueue;
use crate::exit::{Exit, coded};
use crate::record::feed::Input;

pub(super) struct WriteEnd {
    pub(super) initiated: Option<CloseCause>,
    pub(super) failure: Option<anyhow::Error>,
}

/// The writer's ends of what the two halves share.
pub(super) struct WriterLink<'a, S> {
    pub(super) ws_tx: &'a SharedSink<S>,
    /// The reader's requests to close.
    pub(super) cmds: mpsc::Receiver<WriterCmd>,
    /// Tells the reader that our Close went out, or that writing failed.
    pub(super) state: mpsc::Sender<WriterState>,
    /// Turns true when the reader is done: nothing more to write for.
    pub(super) reader_done: watch::Receiver<bool>,
    pub(super) clocks: Clocks<'a>,
    /// How many messages the peer confirmed (delivery confirmation).
    pub(super) confirmed: watch::Receiver<u64>,
}

pub(super) async fn write_half<S>(
    queue: &mut InputQueue,
    cfg: &PumpConfig,
    shutdown: &mut watch::Receiver<Option<u16>>,
    link: WriterLink<'_, S>,
) -> WriteEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let WriterLink {
        ws_tx,
        mut cmds,
        state,
        mut reader_done,
        clocks,
        mut confirmed,
    } = link;
    let mut end = WriteEnd {
        initiated: None,
        failure: None,
    };
    let mut pings = Keepalive::new(cfg.ping_interval, cfg.ping_timeout);
    let mut keepalive = pings.tick_every().map(|every| {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    });
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
                match pings.tick(clocks.now_ms(), clocks.heard.load(Ordering::Relaxed)) {
                    Due::Nothing => {}
                    Due::TimedOut(limit) => {
                        end.failure = Some(coded(
                            Exit::Timeout,
                            format!("no pong within {} (--ping-timeout)", humantime::format_duration(limit)),
                        ));
                        let _ = state.try_send(WriterState::Failed);
                        return end;
                    }
                    Due::Ping => {
                        let ping = Message::Ping(Bytes::from_static(b"wspipe"));
                        // A ping refused because a Close is under way says nothing;
                        // a socket that failed under it ends the run, with the reason.
                        if let Err(WsError::Io(err)) = ws_tx.lock().await.send(ping).await {
                            end.failure = Some(coded(
                                Exit::AbnormalClose,
                                format!("connection lost: a keepalive ping could not be sent: {}", super::ending::describe_io(&err)),
                            ));
                            let _ = state.try_send(WriterState::Failed);
                            return end;
                        }
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
pub(super) async fn feed_into_tungstenite<S>(
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
