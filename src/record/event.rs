//! Received events and where they go: the [`EventSink`] a connection reports to,
//! and the batches [`EventTx`] hands to an output writer.

use std::future::Future;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// Something that happened on a connection, in the order it happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// The handshake completed (emitted by the caller, not the pump).
    Open {
        url: String,
        protocol: Option<String>,
        peer: Option<String>,
    },
    Text(Utf8Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// The peer's Close frame (None: a Close without a status code).
    Close(Option<CloseFrame>),
    /// Something went wrong (emitted by the caller, for `-o events`).
    Error(String),
}

/// Where received events go. Returns false when the consumer is gone (stdout closed).
pub trait EventSink: Send {
    fn emit(&mut self, event: Event) -> impl Future<Output = bool> + Send;

    /// The socket has nothing more to read right now: a sink that batches passes on
    /// what it holds. Returns false when the consumer is gone.
    fn idle(&mut self) -> impl Future<Output = bool> + Send {
        async { true }
    }

    /// A status line for a person (connected, reconnecting, warnings). Stderr by
    /// default; the REPL prints it above its prompt, pipe mode above its progress bar.
    fn notice(&mut self, line: String) -> impl Future<Output = ()> + Send {
        async move { eprintln!("{line}") }
    }
}

/// Received events of one sink, in order, as the output writer gets them, with
/// the client they came from (`listen` numbers its clients). Small payloads are
/// copied out of tungstenite's read buffer, back to back: a message held there
/// keeps that buffer shared, and tungstenite then reads into a fresh few-KiB buffer
/// each time, one small read per few messages.
#[derive(Debug, Default)]
pub struct Batch {
    pub client: Option<u64>,
    held: Vec<Held>,
    text: String,
    binary: Vec<u8>,
}

#[derive(Debug)]
enum Held {
    /// A text message ending at this offset of `text` (starting where the one
    /// before ended).
    Text(usize),
    /// The same in `binary`.
    Binary(usize),
    /// Anything else, big data messages included (boxed: a batch is mostly data).
    Other(Box<Event>),
}

/// One event of a [`Batch`].
#[derive(Debug, Clone, Copy)]
pub enum Received<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Other(&'a Event),
}

impl Batch {
    /// An empty batch sized like `like`.
    fn like(client: Option<u64>, like: &Batch) -> Batch {
        Batch {
            client,
            held: Vec::with_capacity(like.held.len()),
            text: String::with_capacity(like.text.len()),
            binary: Vec::with_capacity(like.binary.len()),
        }
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// A batch of one event.
    pub fn of(client: Option<u64>, event: Event) -> Batch {
        let mut batch = Batch {
            client,
            ..Batch::default()
        };
        batch.push(event);
        batch
    }

    /// Adds an event; returns the size of its data.
    fn push(&mut self, event: Event) -> usize {
        let (held, size) = match event {
            Event::Text(text) if text.len() <= COPY_MAX => {
                self.text.push_str(&text);
                (Held::Text(self.text.len()), text.len())
            }
            Event::Binary(bytes) if bytes.len() <= COPY_MAX => {
                self.binary.extend_from_slice(&bytes);
                (Held::Binary(self.binary.len()), bytes.len())
            }
            other => {
                let size = match &other {
                    Event::Text(text) => text.len(),
                    Event::Binary(bytes) => bytes.len(),
                    _ => 0,
                };
                (Held::Other(Box::new(other)), size)
            }
        };
        self.held.push(held);
        size
    }

    /// The events in order.
    pub fn iter(&self) -> impl Iterator<Item = Received<'_>> {
        let (mut text_at, mut binary_at) = (0, 0);
        self.held.iter().map(move |held| match held {
            Held::Text(end) => {
                let text = &self.text[text_at..*end];
                text_at = *end;
                Received::Text(text)
            }
            Held::Binary(end) => {
                let bytes = &self.binary[binary_at..*end];
                binary_at = *end;
                Received::Binary(bytes)
            }
            Held::Other(event) => Received::Other(event),
        })
    }
}

/// The usual sink: a bounded channel to an output writer, tagging each event.
/// Data messages go in batches, handed over when a batch is full or the socket
/// goes idle: one wake-up of the writer per burst instead of one per message.
pub struct EventTx {
    pub tx: mpsc::Sender<Batch>,
    pub client: Option<u64>,
    pending: Batch,
    pending_bytes: usize,
    /// Messages per batch at most (1 when stdout is a terminal: shown at once).
    batch: usize,
}

/// A clone shares the output, not what this one has batched.
impl Clone for EventTx {
    fn clone(&self) -> Self {
        EventTx::new(self.tx.clone(), self.client, self.batch)
    }
}

/// A batch is handed over once it holds this many bytes of data, whatever its count.
const BATCH_BYTES: usize = 256 << 10;
/// Payloads up to this size are copied into the batch; bigger ones have their own
/// buffer in tungstenite anyway, and copying them would cost more than it saves.
const COPY_MAX: usize = 16 << 10;

impl EventTx {
    pub fn new(tx: mpsc::Sender<Batch>, client: Option<u64>, batch: usize) -> EventTx {
        EventTx {
            tx,
            client,
            pending: Batch {
                client,
                ..Batch::default()
            },
            pending_bytes: 0,
            batch: batch.max(1),
        }
    }

    /// A sink to the same output for client `id` (`listen`).
    pub fn for_client(&self, id: u64) -> EventTx {
        EventTx::new(self.tx.clone(), Some(id), self.batch)
    }

    async fn hand_over(&mut self) -> bool {
        if self.pending.is_empty() {
            return !self.tx.is_closed();
        }
        self.pending_bytes = 0;
        let next = Batch::like(self.client, &self.pending);
        let batch = std::mem::replace(&mut self.pending, next);
        self.tx.send(batch).await.is_ok()
    }
}

impl EventSink for EventTx {
    async fn emit(&mut self, event: Event) -> bool {
        // Anything but data (open, close, errors) is handed over at once: it may
        // be the last thing said before the sink is dropped.
        let data = matches!(event, Event::Text(_) | Event::Binary(_));
        self.pending_bytes += self.pending.push(event);
        if !data || self.pending.len() >= self.batch || self.pending_bytes >= BATCH_BYTES {
            self.hand_over().await
        } else {
            true
        }
    }

    async fn idle(&mut self) -> bool {
        self.hand_over().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_keep_every_event_in_order() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut sink = EventTx::new(tx, Some(7), 4);
        let big = "b".repeat(COPY_MAX + 1);
        let sent = [
            Event::Text("one".into()),
            Event::Binary(Bytes::from_static(b"\x00two")),
            Event::Text(big.clone().into()),
            Event::Text("".into()),
            Event::Text("three".into()),
            Event::Binary(Bytes::from_static(b"four")),
            Event::Close(None),
        ];
        for event in sent.iter().cloned() {
            assert!(sink.emit(event).await);
        }
        assert!(sink.idle().await);
        drop(sink);
        let mut got = Vec::new();
        while let Some(batch) = rx.recv().await {
            assert_eq!(batch.client, Some(7));
            assert!(batch.len() <= 4);
            got.extend(batch.iter().map(|received| match received {
                Received::Text(text) => format!("text {text}"),
                Received::Binary(data) => format!("binary {data:?}"),
                Received::Other(Event::Text(text)) => format!("text {}", text.as_str()),
                Received::Other(event) => format!("{event:?}"),
            }));
        }
        assert_eq!(
            got,
            [
                "text one".to_string(),
                format!("binary {:?}", b"\x00two"),
                format!("text {big}"),
                "text ".to_string(),
                "text three".to_string(),
                format!("binary {:?}", b"four"),
                "Close(None)".to_string(),
            ]
        );
    }
}
