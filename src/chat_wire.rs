//! The chat protocol: the JSON text messages `wspipe chat` sends and understands,
//! how a received one reads as a line, and when typing indicators are due.
//!
//! ```text
//! {"type":"message","text":"hello","user":"alice","timestamp":"2026-11-24T10:00:00.000Z"}
//! {"type":"typing","isTyping":true,"user":"alice"}
//! ```

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// While typing, `typing: true` is repeated at most this often.
pub const TYPING_REPEAT: Duration = Duration::from_secs(2);
/// After this long without a keystroke, `typing: false` goes out.
pub const TYPING_IDLE: Duration = Duration::from_secs(3);

/// The wire form of a chat message.
pub fn message_json(text: &str, user: &str, timestamp: &str) -> String {
    json!({"type": "message", "text": text, "user": user, "timestamp": timestamp}).to_string()
}

/// The wire form of a typing indicator.
pub fn typing_json(is_typing: bool, user: &str) -> String {
    json!({"type": "typing", "isTyping": is_typing, "user": user}).to_string()
}

/// A received text message, as chat understands it.
#[derive(Debug, PartialEq)]
pub enum Payload {
    Message {
        user: String,
        text: String,
        /// `HH:MM` from the sender's timestamp, when it has one.
        time: Option<String>,
    },
    Typing {
        user: String,
        is_typing: bool,
    },
    /// Anything else: shown raw, never dropped.
    Other,
}

/// The name shown for a message without a `user`.
const NOBODY: &str = "?";

pub fn parse(text: &str) -> Payload {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Payload::Other;
    };
    let user = || {
        object
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or(NOBODY)
            .to_string()
    };
    match object.get("type").and_then(Value::as_str) {
        Some("message") => match object.get("text").and_then(Value::as_str) {
            Some(body) => Payload::Message {
                user: user(),
                text: body.to_string(),
                time: object
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(time_of_day),
            },
            None => Payload::Other,
        },
        Some("typing") => match object.get("isTyping").and_then(Value::as_bool) {
            Some(is_typing) => Payload::Typing {
                user: user(),
                is_typing,
            },
            None => Payload::Other,
        },
        _ => Payload::Other,
    }
}

/// `HH:MM` of an ISO 8601 / RFC 3339 timestamp, as the sender wrote it.
fn time_of_day(timestamp: &str) -> Option<String> {
    let time = timestamp.get(11..16)?;
    let bytes = time.as_bytes();
    let looks_right = matches!(timestamp.as_bytes().get(10), Some(b'T' | b't' | b' '))
        && bytes[2] == b':'
        && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
    looks_right.then(|| time.to_string())
}

/// `HH:MM` now, in UTC (the timestamps chat sends are UTC too).
pub fn time_now() -> String {
    let now = crate::record::output::rfc3339_now();
    time_of_day(&now).unwrap_or_default()
}

/// When this user's typing indicators are due. Pure state: the caller owns the clock
/// and the sending.
#[derive(Debug, Default)]
pub struct TypingTracker {
    /// `typing: true` was the last indicator sent.
    typing: bool,
    last_true_sent: Option<Instant>,
    last_key: Option<Instant>,
}

impl TypingTracker {
    /// A keystroke that edits the message: `Some(true)` when an indicator is due.
    pub fn key(&mut self, now: Instant) -> Option<bool> {
        self.last_key = Some(now);
        let due = !self.typing
            || self
                .last_true_sent
                .is_none_or(|at| now.duration_since(at) >= TYPING_REPEAT);
        if due {
            self.typing = true;
            self.last_true_sent = Some(now);
            Some(true)
        } else {
            None
        }
    }

    /// The message was sent: `Some(false)` if the others think we are typing.
    pub fn sent(&mut self) -> Option<bool> {
        self.stop()
    }

    /// Whether `typing: true` was the last indicator sent.
    pub fn typing(&self) -> bool {
        self.typing
    }

    /// When to check for idleness next, if we are typing.
    pub fn idle_at(&self) -> Option<Instant> {
        if self.typing {
            self.last_key.map(|at| at + TYPING_IDLE)
        } else {
            None
        }
    }

    /// The idle deadline passed: `Some(false)` if it really did.
    pub fn idle(&mut self, now: Instant) -> Option<bool> {
        match self.idle_at() {
            Some(at) if now >= at => self.stop(),
            _ => None,
        }
    }

    fn stop(&mut self) -> Option<bool> {
        if self.typing {
            self.typing = false;
            self.last_true_sent = None;
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_matches_the_contract() {
        assert_eq!(
            message_json("hello", "alice", "2026-11-24T10:00:00.000Z"),
            r#"{"type":"message","text":"hello","user":"alice","timestamp":"2026-11-24T10:00:00.000Z"}"#
        );
        assert_eq!(
            typing_json(true, "alice"),
            r#"{"type":"typing","isTyping":true,"user":"alice"}"#
        );
    }

    #[test]
    fn received_payloads_are_understood_or_left_raw() {
        assert_eq!(
            parse(
                r#"{"type":"message","text":"hi","user":"bob","timestamp":"2026-11-24T10:07:00.000Z"}"#
            ),
            Payload::Message {
                user: "bob".into(),
                text: "hi".into(),
                time: Some("10:07".into())
            }
        );
        assert_eq!(
            parse(r#"{"type":"message","text":"hi"}"#),
            Payload::Message {
                user: "?".into(),
                text: "hi".into(),
                time: None
            }
        );
        assert_eq!(
            parse(r#"{"type":"typing","isTyping":false,"user":"bob"}"#),
            Payload::Typing {
                user: "bob".into(),
                is_typing: false
            }
        );
        assert_eq!(parse(r#"{"type":"message"}"#), Payload::Other);
        assert_eq!(parse(r#"{"type":"join","user":"bob"}"#), Payload::Other);
        assert_eq!(parse("plain words"), Payload::Other);
        assert_eq!(parse("[1,2]"), Payload::Other);
    }

    #[test]
    fn odd_timestamps_have_no_time() {
        assert_eq!(time_of_day("yesterday"), None);
        assert_eq!(time_of_day("2026-11-24 09:30:00"), Some("09:30".into()));
        assert_eq!(time_of_day("2026-11-24T9:3"), None);
        assert_eq!(time_now().len(), 5);
    }

    #[test]
    fn typing_starts_repeats_every_two_seconds_and_stops_when_idle_or_sent() {
        let t0 = Instant::now();
        let mut tracker = TypingTracker::default();
        assert_eq!(tracker.idle_at(), None);
        assert_eq!(tracker.key(t0), Some(true));
        assert_eq!(tracker.key(t0 + Duration::from_millis(500)), None);
        assert_eq!(tracker.key(t0 + Duration::from_millis(1900)), None);
        assert_eq!(tracker.key(t0 + Duration::from_millis(2100)), Some(true));
        let last = t0 + Duration::from_millis(2500);
        assert_eq!(tracker.key(last), None);
        assert_eq!(tracker.idle_at(), Some(last + TYPING_IDLE));
        assert_eq!(tracker.idle(last + Duration::from_secs(2)), None);
        assert_eq!(tracker.idle(last + TYPING_IDLE), Some(false));
        assert_eq!(tracker.idle(last + Duration::from_secs(9)), None);
        assert_eq!(tracker.sent(), None);
        // Typing again, then sending: one false, and a new start after it.
        assert_eq!(tracker.key(last + Duration::from_secs(10)), Some(true));
        assert_eq!(tracker.sent(), Some(false));
        assert_eq!(tracker.idle_at(), None);
        assert_eq!(tracker.key(last + Duration::from_secs(11)), Some(true));
    }
}
