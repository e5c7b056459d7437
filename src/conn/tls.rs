//! TLS for `wss://`: the rustls client configuration from the TLS flags.

use tokio_tungstenite::Connector;
use url::Url;

use crate::cli::ClientArgs;

/// The connector for a URL: `None` lets tokio-tungstenite use its default rustls
/// configuration (system and webpki roots) for `wss://`; plain `ws://` needs none.
pub fn connector_for(url: &Url, _args: &ClientArgs) -> anyhow::Result<Option<Connector>> {
    if url.scheme() != "wss" {
        return Ok(Some(Connector::Plain));
    }
    Ok(None)
}

/// rustls needs a process-wide crypto provider before the first handshake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
