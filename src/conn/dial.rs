//! Dialing: the handshake request (headers, credentials, subprotocols), TCP, TLS,
//! and the mapping of every way it can fail to the contract's exit codes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{self, HeaderName, HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

use super::ending::describe_io;
use super::notify::{Notifier, Stderr};
use super::options::{ConnectOptions, ws_config};
use super::refusal::{Reclaimable, read_rest_of_body};
use super::tls::{CertificateAsked, TlsCache};
use crate::exit::{Exit, coded};

/// The client side of a connection.
pub type ClientStream = WebSocketStream<Reclaimable<MaybeTlsStream<TcpStream>>>;

/// Everything needed to dial one URL, again and again when reconnecting.
#[derive(Debug, Clone)]
pub struct DialOptions {
    pub url: Url,
    pub client: ConnectOptions,
    pub verbose: bool,
    /// `-q`: no warnings (such as the one for `-k`).
    pub quiet: bool,
    /// The TLS client configuration, built on the first `wss://` dial and shared
    /// by reconnects (clones share it too).
    pub tls: TlsCache,
    /// Where `-v`'s lines and warnings go (stderr unless the command says otherwise).
    pub notify: Arc<dyn Notifier>,
}

/// A connection that completed its handshake.
pub struct Connected {
    pub ws: ClientStream,
    /// The subprotocol the server picked, if any.
    pub protocol: Option<String>,
}

impl DialOptions {
    pub fn new(url: Url, mut client: ConnectOptions, verbose: bool, quiet: bool) -> DialOptions {
        // A retry limit only means something when reconnecting.
        client.reconnect |= client.max_retries.is_some();
        DialOptions {
            url,
            client,
            verbose,
            quiet,
            tls: TlsCache::default(),
            notify: Arc::new(Stderr),
        }
    }

    /// The host to reach and to verify the certificate for. IPv6 literals keep
    /// their brackets in `host_str`; sockets and TLS want them bare.
    pub fn host(&self) -> &str {
        self.url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
    }

    /// The message limits for tungstenite, shared by every connection of this run.
    pub fn ws_config(&self) -> WebSocketConfig {
        ws_config(self.client.max_message_size)
    }
}

/// Dials, upgrades, and reports what was negotiated. Errors carry exit code 3
/// (could not connect) or 4 (`--connect-timeout` passed); bad proxy settings and
/// unreadable certificate files are usage errors (2).
pub async fn dial(opts: &DialOptions) -> anyhow::Result<Connected> {
    let request = build_request(opts)?;
    let host = opts.host();
    let port = opts.url.port_or_known_default().unwrap_or(80);
    let proxy = super::proxy::proxy_for(&opts.url, opts.client.proxy.as_deref(), |name| {
        std::env::var(name).ok()
    })?;
    let tls = match opts.url.scheme() {
        "wss" => {
            let warn = (!opts.quiet).then_some(&*opts.notify);
            Some(opts.tls.get_or_build(&opts.client, warn)?)
        }
        _ => None,
    };
    let timeout = opts.client.connect_timeout;
    // What the request offered (only with -H: tungstenite implements none).
    let offered_extensions = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    let attempt = async {
        let verbose = opts.verbose.then_some(&*opts.notify);
        let tcp = super::proxy::connect_tcp(host, port, proxy.as_ref(), verbose).await?;
        // Small messages are the common case; do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        let has_certificate = opts.client.cert.is_some();
        let mut certificate_asked = None;
        let stream = match &tls {
            Some(config) => {
                let (config, asked) =
                    super::tls::watching_certificate_request(config, has_certificate);
                certificate_asked = Some(asked.clone());
                let stream = super::tls::handshake(tcp, host, config)
                    .await
                    .map_err(|err| match asked.get() {
                        true => CertificateAsked::error(host),
                        false => err,
                    })?;
                if opts.verbose {
                    opts.notify.line(&super::tls::session_summary(&stream));
                }
                MaybeTlsStream::Rustls(stream)
            }
            None => MaybeTlsStream::Plain(tcp),
        };
        if opts.verbose {
            print_request(&request, &*opts.notify);
        }
        let asked = certificate_asked.is_some_and(|asked| asked.get());
        let (stream, reclaim) = Reclaimable::new(stream);
        let upgraded =
            tokio_tungstenite::client_async_with_config(request, stream, Some(opts.ws_config()))
                .await;
        let error = match upgraded {
            Ok((mut ws, response)) => {
                ws.get_mut().keep();
                return Ok((ws, response));
            }
            Err(WsError::Http(mut response)) => {
                // tungstenite kept only the body that came with the head.
                if let Some(mut stream) = reclaim.take() {
                    read_rest_of_body(&mut response, &mut stream).await;
                }
                WsError::Http(response)
            }
            Err(other) => other,
        };
        Err(match error {
            WsError::Http(response) if opts.verbose => {
                print_response(&response, &*opts.notify);
                handshake_error(WsError::Http(response), host)
            }
            // The connection failed under the upgrade after the server asked
            // for a certificate we did not present: that is why.
            WsError::Io(_) if asked => CertificateAsked::error(host),
            e => handshake_error(e, host),
        })
    };
    let (ws, response) = match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result.with_context(|| format!("cannot connect to {}", opts.url))?,
        Err(_) => {
            let via = proxy
                .map(|p| format!(" through proxy {p}"))
                .unwrap_or_default();
            return Err(coded(
                Exit::Timeout,
                format!(
                    "timed out connecting to {}{via} after {}",
                    opts.url,
                    humantime::format_duration(timeout)
                ),
            ));
        }
    };
    if opts.verbose {
        print_response(&response, &*opts.notify);
    }
    // RFC 6455 4.1: a server that answers with an extension the client did not ask
    // for fails the connection (its frames would carry meanings we cannot read).
    let answered_extensions = response
        .headers()
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|e| e.split(';').next().unwrap_or_default().trim().to_string())
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>();
    if let Some(unasked) = answered_extensions.iter().find(|e| {
        !offered_extensions
            .split(',')
            .any(|o| o.split(';').next().unwrap_or_default().trim() == e.as_str())
    }) {
        return Err(coded(
            Exit::Connect,
            format!(
                "cannot connect to {}: the server answered with the extension {} in \
                 Sec-WebSocket-Extensions, which was not asked for",
                opts.url,
                crate::record::sanitize::for_terminal(unasked)
            ),
        ));
    }
    let protocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Connected { ws, protocol })
}

/// Builds the upgrade request from the URL and the header flags.
pub fn build_request(opts: &DialOptions) -> anyhow::Result<Request> {
    let args = &opts.client;
    let mut request = opts
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| coded(Exit::Usage, format!("invalid URL '{}': {e}", opts.url)))?;
    let headers = request.headers_mut();
    let usage = |msg: String| coded(Exit::Usage, msg);
    for raw in &args.headers {
        let (name, value) = raw
            .split_once(':')
            .ok_or_else(|| usage(format!("invalid header '{raw}': expected 'Name: value'")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| usage(format!("invalid header name in '{raw}'")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| usage(format!("invalid header value in '{raw}'")))?;
        headers.append(name, value);
    }
    let mut set = |name: HeaderName, value: &str, what: &str| -> anyhow::Result<()> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| usage(format!("invalid {what}: not a valid header value")))?;
        headers.insert(name, value);
        Ok(())
    };
    if let Some(origin) = &args.origin {
        set(header::ORIGIN, origin, "--origin")?;
    }
    let agent = args
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("wspipe/{}", env!("CARGO_PKG_VERSION")));
    set(header::USER_AGENT, &agent, "--user-agent")?;
    if !args.subprotocols.is_empty() {
        set(
            header::SEC_WEBSOCKET_PROTOCOL,
            &args.subprotocols.join(", "),
            "--subprotocol",
        )?;
    }
    if let Some(auth) = &args.auth {
        let encoded = base64::engine::general_purpose::STANDARD.encode(auth);
        set(header::AUTHORIZATION, &format!("Basic {encoded}"), "--auth")?;
    } else if let Some(token) = &args.bearer {
        set(
            header::AUTHORIZATION,
            &format!("Bearer {token}"),
            "--bearer",
        )?;
    }
    Ok(request)
}

/// Maps tungstenite's handshake errors onto exit code 3, with what a user needs to
/// see: the HTTP status and the start of the body, or the socket error.
fn handshake_error(err: WsError, host: &str) -> anyhow::Error {
    match err {
        WsError::Http(response) => {
            let status = response.status();
            let mut message = format!(
                "server refused the upgrade: HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string();
            if let Some(body) = response.body().as_deref() {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                // The server's words, shown on a terminal: no escape sequences.
                let text = crate::record::sanitize::for_terminal(&text);
                if !text.is_empty() {
                    message.push_str(&format!(": {text}"));
                }
            }
            coded(Exit::Connect, message)
        }
        // A TLS 1.3 server checks the client certificate after the client has
        // finished its side of the handshake: its refusal arrives here.
        WsError::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            coded(Exit::Connect, super::tls::describe_tls_io_error(host, &e))
        }
        WsError::Io(e) => coded(Exit::Connect, describe_io(&e)),
        other => coded(Exit::Connect, format!("handshake failed: {other}")),
    }
}

/// The request as tungstenite writes it on the wire (origin-form request line,
/// Host first), secrets redacted.
fn print_request(request: &Request, notify: &dyn Notifier) {
    use tokio_tungstenite::tungstenite::handshake::client::generate_request;
    let Ok((wire, _key)) = generate_request(request.clone()) else {
        // tungstenite will refuse it too, and say why.
        return;
    };
    let mut out = String::new();
    for line in String::from_utf8_lossy(&wire)
        .lines()
        .filter(|l| !l.is_empty())
    {
        let shown = match line.split_once(": ") {
            Some((name, value)) => match HeaderValue::from_str(value) {
                Ok(value) => format!("{name}: {}", super::handshake_log::redacted(name, &value)),
                Err(_) => line.to_string(),
            },
            None => line.to_string(),
        };
        out.push_str(&format!("> {shown}\n"));
    }
    notify.line(&format!("{out}>"));
}

/// The response's status line and headers, secrets redacted (also for a refusal,
/// whose body the error shows).
fn print_response<B>(response: &http::Response<B>, notify: &dyn Notifier) {
    let mut out = String::new();
    for line in super::handshake_log::response_head(response) {
        out.push_str(&format!("< {line}\n"));
    }
    notify.line(&format!("{out}<"));
}

/// How long to wait before reconnect attempt `attempt` (0-based): exponential from
/// 250ms, capped at 30s, with up to 25% jitter so a fleet of clients does not
/// reconnect in lock-step.
pub fn backoff_delay(attempt: u32) -> Duration {
    let base_ms = 250u64.saturating_mul(1u64 << attempt.min(16)).min(30_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter_ms = base_ms / 4 * u64::from(nanos % 1000) / 1000;
    Duration::from_millis(base_ms + jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn opts(args: &[&str]) -> DialOptions {
        let mut argv = vec!["wspipe", "connect", "ws://h:1/p"];
        argv.extend_from_slice(args);
        let cli = Cli::parse_from(argv);
        let crate::cli::Command::Connect(c) = cli.command else {
            unreachable!()
        };
        DialOptions::new(
            crate::conn::url::parse_ws_url(&c.url).unwrap(),
            (&c.client).into(),
            cli.global.verbose,
            cli.global.quiet,
        )
    }

    #[test]
    fn request_carries_headers_and_credentials() {
        let req = build_request(&opts(&[
            "-H",
            "X-Trace: 42",
            "--origin",
            "http://o",
            "--subprotocol",
            "a",
            "--subprotocol",
            "b",
            "--auth",
            "u:p",
        ]))
        .unwrap();
        let h = req.headers();
        assert_eq!(h["x-trace"], "42");
        assert_eq!(h["origin"], "http://o");
        assert_eq!(h["sec-websocket-protocol"], "a, b");
        assert_eq!(h["authorization"], "Basic dTpw");
        assert_eq!(
            super::super::handshake_log::redacted("Authorization", &h["authorization"]),
            "<redacted>"
        );
    }

    #[test]
    fn malformed_header_is_a_usage_error() {
        let err = build_request(&opts(&["-H", "no colon"])).unwrap_err();
        assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage);
        assert!(err.to_string().contains("'no colon'"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff_delay(0) >= Duration::from_millis(250));
        assert!(backoff_delay(0) < Duration::from_millis(320));
        assert!(backoff_delay(3) >= Duration::from_millis(2000));
        assert!(backoff_delay(40) <= Duration::from_millis(37_500));
    }
}
