//! The input side of a session: what the input produced and no connection has
//! sent yet. It outlives connections, so a reconnect sends what the last one could
//! not (and, with delivery confirmation, what the peer did not confirm reading).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::delivery::Unconfirmed;
use crate::record::feed::{Input, InputBudget};

/// The sending side of the pump's input. Outlives connections: what one connection
/// could not send is carried over to the next.
pub struct InputQueue {
    pub(super) rx: mpsc::Receiver<Input>,
    /// Messages taken from `rx` but not handed to the socket, oldest first.
    pub(super) carry: VecDeque<Message>,
    /// `Input::End` was seen (stdin is exhausted).
    pub(super) ended: bool,
    /// With delivery confirmation: sent on this connection, not yet confirmed.
    pub(super) unconfirmed: Option<Unconfirmed>,
    /// How many messages at the front of `carry` were sent on the last connection
    /// but not confirmed (the rest of it was never sent).
    pub(super) unconfirmed_in_carry: usize,
    /// The bytes a reader thread may have queued (see [`InputBudget`]).
    pub(super) budget: Arc<InputBudget>,
    /// When the current (or last) connection opened: older transients are stale.
    pub(super) opened_at: Option<Instant>,
}

impl InputQueue {
    /// A queue and the sender that feeds it; `capacity` bounds the batches in flight,
    /// so a fast producer waits for the socket instead of filling memory.
    pub fn new(capacity: usize) -> (mpsc::Sender<Input>, InputQueue) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            tx,
            InputQueue {
                rx,
                carry: VecDeque::new(),
                ended: false,
                unconfirmed: None,
                unconfirmed_in_carry: 0,
                budget: Arc::default(),
                opened_at: None,
            },
        )
    }

    /// A connection has just opened: transient messages made before this are stale.
    pub fn connection_opened(&mut self) {
        self.opened_at = Some(Instant::now());
    }

    /// The byte budget for a reader thread that feeds this queue.
    pub fn budget(&self) -> Arc<InputBudget> {
        Arc::clone(&self.budget)
    }

    /// Keeps what was sent until the peer confirms it read it, and sends again on
    /// the next connection what the last one did not confirm (see
    /// [`delivery`](super::delivery)).
    /// For sessions that reconnect.
    pub fn confirm_delivery(&mut self) {
        self.unconfirmed.get_or_insert_with(Unconfirmed::default);
    }

    /// Puts what the connection that just ended did not confirm in front of the
    /// carry, unless the close handshake showed the peer read everything.
    pub(super) fn settle_unconfirmed(&mut self, confirmed: u64, everything_read: bool) {
        let Some(unconfirmed) = self.unconfirmed.as_mut() else {
            return;
        };
        unconfirmed.confirm(confirmed);
        let mut again = unconfirmed.take_all();
        if everything_read {
            return;
        }
        self.unconfirmed_in_carry = again.len();
        again.append(&mut self.carry);
        self.carry = again;
    }

    /// The input ended and all of it went out on the connection that just ended,
    /// though maybe not all of it was confirmed.
    pub fn all_sent(&self) -> bool {
        self.ended && self.carry.len() == self.unconfirmed_in_carry
    }

    /// Gives up sending again what the last connection sent but did not get
    /// confirmed: the peer ended the session normally after it.
    pub fn forget_unconfirmed(&mut self) {
        self.carry.drain(..self.unconfirmed_in_carry);
        self.unconfirmed_in_carry = 0;
    }

    /// Messages taken but not sent, plus whatever is waiting in the channel now;
    /// and whether the input had ended (when not, more was never even read).
    pub fn count_unsent(&mut self) -> (usize, bool) {
        let mut n = self.carry.len();
        let mut ended = self.ended;
        while let Ok(input) = self.rx.try_recv() {
            match input {
                Input::Batch(batch) => n += batch.len(),
                Input::End | Input::Invalid(_) => ended = true,
                Input::Close(_) | Input::Transient { .. } => {}
            }
        }
        (n, ended)
    }
}
