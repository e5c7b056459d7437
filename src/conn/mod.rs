//! The connection module every command shares: URLs, dialing (headers, TLS,
//! proxies, timeouts), the message pump, close handling, keepalive and reconnection.

pub mod dial;
pub mod proxy;
pub mod pump;
pub mod session;
pub mod tls;
pub mod url;
