//! Delivery confirmation for sessions that reconnect: what was sent stays in a
//! bounded window until the peer has read it, so a connection that dies takes
//! nothing with it.
//!
//! A message written to the socket is not delivered: it may wait in either kernel's
//! buffers, or sit read but unprocessed, when the peer dies, and then it is gone.
//! WebSocket has no acknowledgements, but a peer answers a Ping when it reads it
//! (RFC 6455, 5.5.2), and it reads frames in order: a Pong carrying our count of
//! messages sent confirms every one of them. Each burst goes out with such a Ping
//! in the same flush; what no Pong confirmed when the connection ended is sent
//! again on the next one. Delivery is at least once: a message the peer read just
//! before it died, whose Pong never came back, arrives twice.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Message;

/// What a confirmation Ping carries before the count, so its Pong is recognised.
const PREFIX: &str = "wspipe-ack ";

/// Unconfirmed messages kept at most, by count and by bytes: a full window stops
/// taking input until the peer catches up, as full socket buffers would.
const WINDOW_MESSAGES: usize = 4096;
const WINDOW_BYTES: usize = 4 << 20;

/// Messages sent on the current connection that no Pong has confirmed yet.
#[derive(Debug, Default)]
pub struct Unconfirmed {
    messages: VecDeque<Message>,
    bytes: usize,
    /// The number (counted from 0 on this connection) of `messages[0]`.
    first: u64,
}

impl Unconfirmed {
    /// Messages sent on this connection so far, confirmed or not.
    pub fn sent(&self) -> u64 {
        self.first + self.messages.len() as u64
    }

    /// Keeps a message that has been written, until it is confirmed.
    pub fn push(&mut self, message: Message) {
        self.bytes += message.len();
        self.messages.push_back(message);
    }

    /// The Ping asking the peer to confirm the first `sent` messages.
    pub fn request(sent: u64) -> Message {
        Message::Ping(Bytes::from(format!("{PREFIX}{sent}")))
    }

    /// The peer has read the first `count` messages of this connection.
    pub fn confirm(&mut self, count: u64) {
        while self.first < count {
            let Some(message) = self.messages.pop_front() else {
                break;
            };
            self.bytes -= message.len();
            self.first += 1;
        }
    }

    /// The window is full: take no more input until something is confirmed.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= WINDOW_MESSAGES || self.bytes >= WINDOW_BYTES
    }

    /// Everything unconfirmed, oldest first, to be sent again; counting starts
    /// over for the next connection.
    pub fn take_all(&mut self) -> VecDeque<Message> {
        self.bytes = 0;
        self.first = 0;
        std::mem::take(&mut self.messages)
    }
}

/// The count a Pong confirms, if it answers one of our requests.
pub fn confirmed_by(pong: &[u8]) -> Option<u64> {
    std::str::from_utf8(pong.strip_prefix(PREFIX.as_bytes())?)
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pong_confirms_the_count_its_ping_carried() {
        let mut window = Unconfirmed::default();
        for text in ["a", "bb", "ccc"] {
            window.push(Message::text(text));
        }
        let Message::Ping(payload) = Unconfirmed::request(2) else {
            unreachable!()
        };
        assert_eq!(confirmed_by(&payload), Some(2));
        window.confirm(2);
        assert_eq!(window.sent(), 3);
        assert_eq!(window.bytes, 3);
        // Pongs may come out of date or repeated: confirming less changes nothing.
        window.confirm(1);
        assert_eq!(window.take_all(), [Message::text("ccc")]);
        assert_eq!(window.sent(), 0);
    }

    #[test]
    fn other_pongs_confirm_nothing() {
        assert_eq!(confirmed_by(b"wspipe"), None);
        assert_eq!(confirmed_by(b"wspipe-ack x"), None);
        assert_eq!(confirmed_by(b""), None);
    }

    #[test]
    fn the_window_is_bounded_by_count_and_bytes() {
        let mut window = Unconfirmed::default();
        window.push(Message::binary(vec![0u8; WINDOW_BYTES]));
        assert!(window.is_full());
        window.confirm(1);
        assert!(!window.is_full());
        for _ in 0..WINDOW_MESSAGES {
            window.push(Message::text(""));
        }
        assert!(window.is_full());
    }
}
