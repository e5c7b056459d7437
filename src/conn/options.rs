//! What dialing and a connection are configured with: the client options (built
//! from the flags by `cli`) and tungstenite's limits, shared by both ends.

use std::path::PathBuf;
use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How to dial and keep a connection, from the client flags (`cli` builds it;
/// conn knows nothing of clap).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Add a request header to the handshake, as 'Name: value' (repeatable)
    pub headers: Vec<String>,
    /// Set the Origin header
    pub origin: Option<String>,
    /// Set the User-Agent header
    pub user_agent: Option<String>,
    /// Ask for a subprotocol (repeatable); the one the server picks is reported
    pub subprotocols: Vec<String>,
    /// HTTP Basic credentials for the handshake
    pub auth: Option<String>,
    /// A bearer token for the handshake (Authorization: Bearer TOKEN)
    pub bearer: Option<String>,
    /// Do not verify the server's TLS certificate (a warning is printed)
    pub insecure: bool,
    /// Trust the CA certificates in this PEM file (in addition to the system roots)
    pub cacert: Option<PathBuf>,
    /// Present this client certificate (PEM); needs --key
    pub cert: Option<PathBuf>,
    /// The private key (PEM) for --cert
    pub key: Option<PathBuf>,
    /// Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY,
    /// ALL_PROXY and NO_PROXY are honoured
    pub proxy: Option<String>,
    /// Give up connecting (TCP, TLS and handshake) after this long
    pub connect_timeout: Duration,
    /// Send a ping this often to keep the connection alive
    pub ping_interval: Option<Duration>,
    /// End the run (exit 4) when a ping gets no pong within this long
    pub ping_timeout: Option<Duration>,
    /// Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)
    pub max_message_size: usize,
    /// Reconnect with exponential backoff when the connection drops
    pub reconnect: bool,
    /// Give up reconnecting after this many failed attempts in a row (implies --reconnect)
    pub max_retries: Option<u32>,
}

/// The tungstenite configuration for a message size limit.
pub fn ws_config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}
