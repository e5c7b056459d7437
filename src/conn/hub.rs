//! The server's clients: one room per URL path, a bounded mailbox per client fed by
//! the stdin fan-out and the broadcast relay, and the rule that a client too far
//! behind is closed (1008) instead of slowing the others down.
//!
//! Offering a message to a mailbox never waits: it queues it or, when the client is
//! already too far behind, closes that client. Each client's own task moves its
//! mailbox into the pump's input queue at the pace its socket allows. Producers (the
//! stdin fan-out, a broadcasting client) go at the pace of the *fastest* of their
//! recipients: they wait until one of them has caught up, so a fast stdin does not
//! overrun a lone healthy client, and a stalled client only falls further behind.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::ending::ClientEnd;
use super::pump::{PumpConfig, pump};
use crate::conn::queue::InputQueue;
use crate::exit::{coded, exit_code_of};
use crate::record::event::{Event, EventSink, EventTx};
use crate::record::feed::Input;

/// A client with more than this many messages waiting for it is too slow.
pub const MAX_BEHIND_MESSAGES: usize = 4096;
/// … or with more than this many bytes waiting.
pub const MAX_BEHIND_BYTES: usize = 8 << 20;
/// A recipient at or below both of these has caught up: producers go on.
const CAUGHT_UP_MESSAGES: usize = MAX_BEHIND_MESSAGES / 4;
const CAUGHT_UP_BYTES: usize = MAX_BEHIND_BYTES / 4;
/// The close code for a client that fell too far behind (policy violation).
pub const TOO_SLOW: u16 = 1008;
/// After a client is told to close, how long its connection may take to finish the
/// close handshake before it is dropped (a client that does not read never will).
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Messages (or bytes) moved from a mailbox to the pump in one batch at most: what
/// the pump holds is not counted as backlog, so keep it small.
const COALESCE: usize = 512;
const COALESCE_BYTES: usize = 256 << 10;

/// Every connected client, shared by the accept loop, the stdin fan-out and each
/// client's relay.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<HubState>>,
    connected: Arc<watch::Sender<usize>>,
    /// Signalled whenever a backlog shrinks or a client leaves.
    drained: Arc<Notify>,
}

struct HubState {
    clients: BTreeMap<u64, ClientEntry>,
    next_id: u64,
    /// Set once the server shuts down: clients that arrive late are closed at once.
    closing: Option<u16>,
}

struct ClientEntry {
    room: String,
    mailbox: mpsc::UnboundedSender<Input>,
    backlog: Arc<Backlog>,
    kill: Arc<watch::Sender<Option<u16>>>,
}

/// What waits in a mailbox (and in the pump's small queue behind it).
#[derive(Default)]
struct Backlog {
    messages: AtomicUsize,
    bytes: AtomicUsize,
}

impl Backlog {
    fn caught_up(&self) -> bool {
        self.messages.load(Ordering::Relaxed) <= CAUGHT_UP_MESSAGES
            && self.bytes.load(Ordering::Relaxed) <= CAUGHT_UP_BYTES
    }
}

/// One registered client, for [`Hub::serve`].
pub struct Client {
    pub id: u64,
    pub room: String,
    mailbox: mpsc::UnboundedReceiver<Input>,
    backlog: Arc<Backlog>,
    kill: watch::Receiver<Option<u16>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            state: Arc::new(Mutex::new(HubState {
                clients: BTreeMap::new(),
                next_id: 1,
                closing: None,
            })),
            connected: Arc::new(watch::channel(0).0),
            drained: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic elsewhere must not take every client down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a client in the room `room` (its URL path) and numbers it.
    pub fn register(&self, room: &str) -> Client {
        let (mailbox_tx, mailbox) = mpsc::unbounded_channel();
        let (kill_tx, kill) = watch::channel(None);
        let backlog = Arc::new(Backlog::default());
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        if let Some(code) = state.closing {
            let _ = kill_tx.send(Some(code));
        }
        state.clients.insert(
            id,
            ClientEntry {
                room: room.to_string(),
                mailbox: mailbox_tx,
                backlog: Arc::clone(&backlog),
                kill: Arc::new(kill_tx),
            },
        );
        self.connected.send_replace(state.clients.len());
        Client {
            id,
            room: room.to_string(),
            mailbox,
            backlog,
            kill,
        }
    }

    fn unregister(&self, id: u64) {
        let mut state = self.lock();
        state.clients.remove(&id);
        self.connected.send_replace(state.clients.len());
        self.drained.notify_waiters();
    }

    /// Asks every client, present and future, to close with `code`.
    pub fn close_all(&self, code: u16) {
        let mut state = self.lock();
        state.closing = Some(code);
        for entry in state.clients.values() {
            entry.kill.send_if_modified(|current| {
                let fresh = current.is_none();
                current.get_or_insert(code);
                fresh
            });
        }
    }

    /// Sends stdin records to every client connected at the time. Records wait
    /// (stdin is not read) while no client is connected, so data piped in before
    /// the first client arrives is not lost. Returns the invalid-record error, if
    /// stdin had one; every client then gets it too and closes cleanly after what
    /// came before.
    pub async fn fan_out(self, mut stdin: mpsc::Receiver<Input>) -> Option<anyhow::Error> {
        let mut connected = self.connected.subscribe();
        loop {
            if connected.wait_for(|n| *n > 0).await.is_err() {
                return None;
            }
            self.until_one_caught_up(|_, _| true).await;
            match stdin.recv().await {
                None | Some(Input::End) => return None,
                Some(Input::Batch(batch)) => {
                    let mut state = self.lock();
                    let ids: Vec<u64> = state.clients.keys().copied().collect();
                    for id in ids {
                        offer(&mut state, id, &batch);
                    }
                    self.connected.send_replace(state.clients.len());
                }
                // stdin makes neither.
                Some(Input::Close(_) | Input::Transient { .. }) => {}
                Some(Input::Invalid(err)) => {
                    let state = self.lock();
                    let exit = exit_code_of(&err);
                    let message = format!("{err:#}");
                    for entry in state.clients.values() {
                        let _ = entry
                            .mailbox
                            .send(Input::Invalid(coded(exit, message.clone())));
                    }
                    return Some(err);
                }
            }
        }
    }

    /// Waits until one of the clients `recipient` picks has caught up, or none of
    /// them is connected.
    async fn until_one_caught_up(&self, recipient: impl Fn(u64, &ClientEntry) -> bool) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Registered before looking, so a drain in between is not missed.
            drained.as_mut().enable();
            {
                let state = self.lock();
                let mut recipients = state
                    .clients
                    .iter()
                    .filter(|(id, entry)| recipient(**id, entry))
                    .peekable();
                if recipients.peek().is_none() {
                    return;
                }
                if recipients.any(|(_, entry)| entry.backlog.caught_up()) {
                    return;
                }
            }
            drained.await;
        }
    }

    /// Relays a message to the other clients in `room` (`--broadcast`), then waits
    /// until one of them has caught up.
    async fn relay(&self, from: u64, room: &str, message: &Message) {
        self.offer_to_room(from, room, message);
        self.until_one_caught_up(|id, entry| id != from && entry.room == room)
            .await;
    }

    fn offer_to_room(&self, from: u64, room: &str, message: &Message) {
        let mut state = self.lock();
        let ids: Vec<u64> = state
            .clients
            .iter()
            .filter(|(id, entry)| **id != from && entry.room == room)
            .map(|(id, _)| *id)
            .collect();
        let batch = [message.clone()];
        for id in ids {
            offer(&mut state, id, &batch);
        }
        self.connected.send_replace(state.clients.len());
    }

    /// Drives one client's connection with the shared pump until it ends, moving
    /// its mailbox into the pump at the socket's pace. A client told to close
    /// (too slow, shutdown) gets [`CLOSE_GRACE`] to finish the close handshake.
    pub async fn serve<S, E>(
        &self,
        ws: WebSocketStream<S>,
        client: Client,
        sink: &mut E,
        cfg: &PumpConfig,
    ) -> ClientEnd
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
        E: EventSink,
    {
        let Client {
            id,
            mailbox,
            backlog,
            kill,
            ..
        } = client;
        // Small: the mailbox is where a client's backlog is counted.
        let (input_tx, mut queue) = InputQueue::new(2);
        let mut pump_kill = kill.clone();
        let mut kill_seen = kill;
        let relay = async {
            relay_mailbox(mailbox, &backlog, &self.drained, input_tx).await;
            std::future::pending::<()>().await
        };
        let connection = pump(ws, &mut queue, sink, cfg, None, &mut pump_kill);
        tokio::pin!(connection);
        let end = tokio::select! {
            biased;
            finished = &mut connection => ClientEnd {
                finished: Some(finished),
                closed_by_server: *kill_seen.borrow(),
            },
            Ok(code) = async { kill_seen.wait_for(Option::is_some).await.map(|code| *code) } => {
                // The pump saw the same code and is sending Close; a client whose
                // socket is full never lets it through.
                let finished = tokio::time::timeout(CLOSE_GRACE, &mut connection).await.ok();
                ClientEnd { finished, closed_by_server: code }
            }
            () = relay => unreachable!("the relay never ends on its own"),
        };
        self.unregister(id);
        end
    }
}

/// Queues `batch` for client `id`, or closes the client when it is already too far
/// behind (it is then removed, so nothing more is queued for it). Judged before
/// adding, so one large stdin batch does not condemn a client that had caught up.
fn offer(state: &mut HubState, id: u64, batch: &[Message]) {
    let Some(entry) = state.clients.get(&id) else {
        return;
    };
    let bytes: usize = batch.iter().map(Message::len).sum();
    let messages = entry
        .backlog
        .messages
        .fetch_add(batch.len(), Ordering::Relaxed);
    let total_bytes = entry.backlog.bytes.fetch_add(bytes, Ordering::Relaxed);
    let behind = messages > MAX_BEHIND_MESSAGES || total_bytes > MAX_BEHIND_BYTES;
    if behind || entry.mailbox.send(Input::Batch(batch.to_vec())).is_err() {
        if behind {
            let _ = entry.kill.send(Some(TOO_SLOW));
        }
        state.clients.remove(&id);
    }
}

/// Moves what waits in the mailbox into the pump's queue, a burst at a time, and
/// counts it out of the backlog once the pump has taken it. Ends when the client
/// is unregistered or the pump is gone.
async fn relay_mailbox(
    mut mailbox: mpsc::UnboundedReceiver<Input>,
    backlog: &Backlog,
    drained: &Notify,
    input: mpsc::Sender<Input>,
) {
    while let Some(first) = mailbox.recv().await {
        let Input::Batch(mut batch) = first else {
            if input.send(first).await.is_err() {
                return;
            }
            continue;
        };
        let mut after = None;
        let mut size: usize = batch.iter().map(Message::len).sum();
        while batch.len() < COALESCE && size < COALESCE_BYTES {
            match mailbox.try_recv() {
                Ok(Input::Batch(more)) => {
                    size += more.iter().map(Message::len).sum::<usize>();
                    batch.extend(more);
                }
                Ok(other) => {
                    after = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let (messages, bytes) = (batch.len(), size);
        if input.send(Input::Batch(batch)).await.is_err() {
            return;
        }
        backlog.messages.fetch_sub(messages, Ordering::Relaxed);
        backlog.bytes.fetch_sub(bytes, Ordering::Relaxed);
        if backlog.caught_up() {
            drained.notify_waiters();
        }
        if let Some(other) = after {
            if input.send(other).await.is_err() {
                return;
            }
        }
    }
}

/// A client's event sink: events tagged with the client's number go to the shared
/// output; in `--broadcast` data messages are also relayed to the client's room.
pub struct ClientSink {
    pub out: EventTx,
    pub id: u64,
    pub room: String,
    /// Relay data messages to the room through this hub.
    pub broadcast: Option<Hub>,
    /// Write data messages to the output (an echo server keeps stdout for events).
    pub print_data: bool,
}

impl EventSink for ClientSink {
    async fn emit(&mut self, event: Event) -> bool {
        let data = match &event {
            Event::Text(text) => Some(Message::Text(text.clone())),
            Event::Binary(bytes) => Some(Message::Binary(bytes.clone())),
            _ => None,
        };
        if let (Some(hub), Some(message)) = (&self.broadcast, &data) {
            hub.relay(self.id, &self.room, message).await;
        }
        if data.is_some() && !self.print_data {
            return !self.out.tx.is_closed();
        }
        self.out.emit(event).await
    }

    async fn idle(&mut self) -> bool {
        self.out.idle().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: Input) -> Vec<String> {
        match input {
            Input::Batch(batch) => batch
                .into_iter()
                .map(|m| m.into_text().unwrap().to_string())
                .collect(),
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn relay_reaches_the_room_but_not_the_sender_or_other_rooms() {
        let hub = Hub::new();
        let mut a = hub.register("/room/a");
        let mut b = hub.register("/room/a");
        let mut c = hub.register("/room/c");
        hub.relay(a.id, "/room/a", &Message::text("hi")).await;
        assert_eq!(texts(b.mailbox.try_recv().unwrap()), ["hi"]);
        assert!(a.mailbox.try_recv().is_err());
        assert!(c.mailbox.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_client_too_far_behind_is_told_to_close_and_dropped() {
        let hub = Hub::new();
        let slow = hub.register("/");
        let mut fine = hub.register("/");
        let batch: Vec<Message> = (0..=MAX_BEHIND_MESSAGES)
            .map(|_| Message::text("x"))
            .collect();
        {
            let mut state = hub.lock();
            offer(&mut state, slow.id, &batch);
            offer(&mut state, slow.id, &[Message::text("one too many")]);
        }
        assert_eq!(*slow.kill.borrow(), Some(TOO_SLOW));
        assert_eq!(*fine.kill.borrow(), None);
        hub.relay(0, "/", &Message::text("still here")).await;
        assert_eq!(texts(fine.mailbox.try_recv().unwrap()), ["still here"]);
        assert_eq!(hub.lock().clients.len(), 1);
    }

    #[tokio::test]
    async fn clients_arriving_during_shutdown_are_closed_at_once() {
        let hub = Hub::new();
        let early = hub.register("/");
        hub.close_all(1001);
        let late = hub.register("/");
        assert_eq!(*early.kill.borrow(), Some(1001));
        assert_eq!(*late.kill.borrow(), Some(1001));
    }
}
