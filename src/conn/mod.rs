//! The connection module every command shares: URLs, dialing (headers, TLS,
//! proxies, timeouts), the server side (accept, the hub of clients), the message
//! pump, close handling, keepalive, reconnection and delivery confirmation.

pub mod accept;
pub mod credentials;
pub mod delivery;
pub mod dial;
pub mod ending;
pub mod handshake_log;
pub mod hub;
mod keepalive;
pub mod notify;
pub mod options;
pub mod proxy;
pub mod pump;
#[cfg(test)]
mod pump_tests;
pub mod queue;
pub mod reader;
pub mod refusal;
pub mod session;
pub mod tls;
pub mod url;
pub mod writer;
