//! Reaching the server's TCP port, directly or through an HTTP CONNECT proxy.

use tokio::net::TcpStream;
use url::Url;

use crate::exit::{Exit, coded};

/// Opens the TCP stream that the WebSocket handshake will run over.
pub async fn connect_tcp(_url: &Url, host: &str, port: u16) -> anyhow::Result<TcpStream> {
    TcpStream::connect((host, port)).await.map_err(|e| {
        coded(
            Exit::Connect,
            format!("{host}:{port}: {}", super::dial::describe_io(&e)),
        )
    })
}
