//! Keepalive: when a ping is due and when a missing pong ends the run
//! (`--ping-interval`, `--ping-timeout`). Pure state over the writer's clock; the
//! writer owns the timer and the socket.

use std::time::Duration;

/// What the keepalive wants done at a tick.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    Nothing,
    Ping,
    /// No pong (nor anything else) within `--ping-timeout` of a ping.
    TimedOut(Duration),
}

#[derive(Debug)]
pub(super) struct Keepalive {
    /// Pings go out this often (`--ping-interval`, or `--ping-timeout` alone).
    every: Option<Duration>,
    timeout: Option<Duration>,
    /// When the oldest unanswered ping went out, and when the last one did (ms on
    /// the writer's clock).
    outstanding_since: Option<u64>,
    last_ping_at: u64,
}

impl Keepalive {
    pub(super) fn new(interval: Option<Duration>, timeout: Option<Duration>) -> Keepalive {
        Keepalive {
            every: interval.or(timeout),
            timeout,
            outstanding_since: None,
            last_ping_at: 0,
        }
    }

    /// How often the writer's timer should tick: the shorter of the two, so a
    /// missing pong is noticed on time. None: no keepalive at all.
    pub(super) fn tick_every(&self) -> Option<Duration> {
        match (self.every, self.timeout) {
            (Some(every), Some(limit)) => Some(every.min(limit)),
            (every, _) => every,
        }
    }

    /// At a tick: `now` and when the peer was last heard from (ms).
    pub(super) fn tick(&mut self, now: u64, heard: u64) -> Due {
        if let Some(since) = self.outstanding_since {
            if heard >= since {
                self.outstanding_since = None;
            } else if let Some(limit) = self.timeout {
                if now.saturating_sub(since) >= millis(limit) {
                    return Due::TimedOut(limit);
                }
            }
        }
        let every = self.every.map_or(u64::MAX, millis);
        if now.saturating_sub(self.last_ping_at) >= every {
            self.last_ping_at = now;
            self.outstanding_since.get_or_insert(now);
            return Due::Ping;
        }
        Due::Nothing
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_every_interval_and_forgives_a_peer_that_answers() {
        let mut k = Keepalive::new(Some(Duration::from_secs(1)), Some(Duration::from_secs(3)));
        assert_eq!(k.tick_every(), Some(Duration::from_secs(1)));
        assert_eq!(k.tick(1000, 0), Due::Ping);
        assert_eq!(k.tick(1500, 0), Due::Nothing);
        // Heard from at 1200: the ping at 1000 is answered.
        assert_eq!(k.tick(2000, 1200), Due::Ping);
        assert_eq!(k.tick(3000, 2100), Due::Ping);
    }

    #[test]
    fn a_ping_unanswered_for_the_timeout_ends_the_run() {
        let mut k = Keepalive::new(Some(Duration::from_secs(10)), Some(Duration::from_secs(2)));
        assert_eq!(k.tick_every(), Some(Duration::from_secs(2)));
        assert_eq!(k.tick(10_000, 0), Due::Ping);
        assert_eq!(k.tick(11_000, 0), Due::Nothing);
        assert_eq!(k.tick(12_000, 0), Due::TimedOut(Duration::from_secs(2)));
    }

    #[test]
    fn no_flags_no_keepalive() {
        assert_eq!(Keepalive::new(None, None).tick_every(), None);
    }
}
