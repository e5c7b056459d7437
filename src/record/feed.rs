//! What the input side hands a connection: [`Input`] (batches of messages, the
//! end, a bad record), and the [`InputBudget`] that bounds in bytes what a reader
//! thread may have queued.

use std::time::Instant;

use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

/// What the writer is asked to do, in order.
#[derive(Debug)]
pub enum Input {
    /// Messages (data or control) to send, in order.
    Batch(Vec<Message>),
    /// Send this Close and stop taking input (the REPL's `/close`).
    Close(Option<CloseFrame>),
    /// The input is exhausted (stdin EOF).
    End,
    /// A record did not fit its format: deliver what came before, close cleanly,
    /// and end with this error (exit 65).
    Invalid(anyhow::Error),
    /// A message that only means something now (a typing indicator): sent if it was
    /// made on the connection that is open, never carried to the next one or sent
    /// again, and not counted as unsent.
    Transient { message: Message, made: Instant },
}

/// Bytes queued between a reader thread and the socket at most, whatever the
/// message size (one batch larger than this still goes, alone).
const INPUT_BUDGET: usize = 4 << 20;

/// The input queue's bound in bytes: the channel bounds batches by count, and a
/// batch of large messages can be large. A reader thread takes from the budget
/// before it queues a batch (and waits while it is spent); the pump gives back
/// when it takes the batch.
#[derive(Debug, Default)]
pub struct InputBudget {
    queued: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

impl InputBudget {
    /// Blocks the calling (non-async) thread until `bytes` fit, or nothing at all
    /// is queued.
    pub fn take(&self, bytes: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        while *queued > 0 && *queued + bytes > INPUT_BUDGET {
            queued = self.freed.wait(queued).unwrap_or_else(|e| e.into_inner());
        }
        *queued += bytes;
    }

    /// The pump took a batch of `bytes`.
    pub fn give(&self, bytes: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(|e| e.into_inner());
        *queued = queued.saturating_sub(bytes);
        self.freed.notify_all();
    }
}
