//! The server side of a connection: the listening address, TLS for `wss://`, and the
//! upgrade handshake (URL path, subprotocol choice, the client limit). What comes
//! after the handshake is the same pump the client side uses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};

use super::credentials::{Refused, Required};
use super::ending::describe_io;
use super::handshake_log;
use super::options::ws_config;
use crate::exit::{Exit, coded};

/// How the server accepts its clients.
pub struct ServerOptions {
    /// Subprotocols we accept; the first one a client offers that is here is picked.
    pub subprotocols: Vec<String>,
    pub max_message_size: usize,
    /// Serve `wss://` with this.
    pub tls: Option<TlsAcceptor>,
    /// One permit per connected client (`--max-clients`); none left means HTTP 503.
    pub slots: Option<Arc<Semaphore>>,
    /// A client that has not finished TLS and the upgrade by then is dropped, so
    /// idle sockets cannot hold the server's resources.
    pub handshake_timeout: Duration,
    /// `--allow-origin`: the browser origins accepted (empty or `*`: any).
    pub allow_origins: Vec<String>,
    /// `--auth` / `--bearer`: what a client must present (nothing, by default).
    pub credentials: Required,
    /// `-v`: keep each handshake's request and response heads for the log.
    pub log_handshakes: bool,
}

impl ServerOptions {
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "wss" } else { "ws" }
    }
}

/// A client that completed the handshake.
pub struct Accepted {
    pub ws: WebSocketStream<ServerStream>,
    pub peer: SocketAddr,
    /// The request's path and query: the room in `--broadcast`.
    pub path: String,
    /// The subprotocol we picked, if any.
    pub protocol: Option<String>,
    /// Held while the client is connected (`--max-clients`).
    pub slot: Option<OwnedSemaphorePermit>,
    /// With `log_handshakes`: the request (`> …`) and response (`< …`) lines.
    pub handshake: Vec<String>,
}

/// A connection that did not become a client: why, and with `log_handshakes` what
/// was said in its handshake, if it got that far.
#[derive(Debug)]
pub struct Refusal {
    pub error: anyhow::Error,
    pub handshake: Vec<String>,
}

impl From<anyhow::Error> for Refusal {
    fn from(error: anyhow::Error) -> Refusal {
        Refusal {
            error,
            handshake: Vec::new(),
        }
    }
}

/// `PORT` or `HOST:PORT` (`[v6]:PORT` too); the host defaults to 127.0.0.1 so a test
/// server is never on every interface unless asked. Errors are usage errors.
pub async fn resolve_listen_addr(addr: &str) -> anyhow::Result<SocketAddr> {
    let addr = addr.trim();
    let usage = |why: &str| {
        coded(
            Exit::Usage,
            format!("invalid address '{addr}': {why} (try 9001, 127.0.0.1:9001 or [::1]:9001)"),
        )
    };
    let (host, port) = match addr.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => ("", addr),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| usage("the port must be a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if host.contains(':') || host.contains('/') {
        return Err(usage("not a host name or IP address"));
    }
    let mut found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| usage("cannot resolve the host name"))?;
    found
        .next()
        .ok_or_else(|| usage("cannot resolve the host name"))
}

/// Binds the listening socket; a port in use or a privileged port is a one-line error.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    listen_socket(addr).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::AddrInUse => "the address is already in use".to_string(),
            io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need privileges)".to_string()
            }
            io::ErrorKind::AddrNotAvailable => "no such address on this machine".to_string(),
            _ => describe_io(&e),
        };
        coded(Exit::Failure, format!("cannot listen on {addr}: {why}"))
    })
}

/// Whether `origin` is one of `allowed` (none, or `*`, allows every origin).
/// Origins compare without case and without a trailing slash.
fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let norm = |o: &str| o.trim().trim_end_matches('/').to_ascii_lowercase();
    allowed.is_empty()
        || allowed
            .iter()
            .any(|a| a.trim() == "*" || norm(a) == norm(origin))
}

/// tungstenite reads into a buffer this size, zero-filled before each read, so
/// every connection keeps that much memory resident: 128 KiB by default, most of
/// an idle client's cost. A frame larger than this is still read whole (the
/// buffer grows to the frame); it takes more reads.
const SERVER_READ_BUFFER: usize = 16 << 10;

/// Connections the kernel queues for `accept` at most. mio's default of 128 makes
/// a burst of a few thousand clients lose their SYNs and retry a second later
/// (websocat uses 1024; 3,000 at once still overflowed that here now and then).
/// Linux caps it at net.core.somaxconn, 4096 by default.
const LISTEN_BACKLOG: u32 = 4096;

/// Raises the soft limit on open files to the hard one, as servers (and Go's
/// runtime) do: a soft limit of 1024, common on desktops, would refuse the
/// thousand-and-first client with "too many open files".
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            if soft < hard {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            }
        }
    }
}

/// A listening socket as `TcpListener::bind` makes it, with a deeper backlog.
fn listen_socket(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do on Unix: a restarted server can bind its port at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The TLS acceptor for `--tls-cert` / `--tls-key` (PEM files); see
/// [`server_config`](super::tls::server_config).
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    Ok(TlsAcceptor::from(super::tls::server_config(cert, key)?))
}

/// TLS (if configured) and the upgrade for one accepted TCP connection.
pub async fn accept(
    tcp: TcpStream,
    peer: SocketAddr,
    opts: &ServerOptions,
) -> Result<Accepted, Refusal> {
    let _ = tcp.set_nodelay(true);
    let handshake = async {
        let stream = match &opts.tls {
            Some(tls) => ServerStream::Tls(Box::new(
                tls.accept(tcp).await.context("TLS handshake failed")?,
            )),
            None => ServerStream::Plain(tcp),
        };
        upgrade(stream, peer, opts).await
    };
    match tokio::time::timeout(opts.handshake_timeout, handshake).await {
        Ok(result) => result,
        Err(_) => Err(Refusal::from(anyhow::anyhow!(
            "no handshake within {}",
            humantime::format_duration(opts.handshake_timeout)
        ))),
    }
}

async fn upgrade(
    stream: ServerStream,
    peer: SocketAddr,
    opts: &ServerOptions,
) -> Result<Accepted, Refusal> {
    let mut path = String::from("/");
    let mut protocol = None;
    let mut slot = None;
    // Why we refused the upgrade, for the log line.
    let mut refusal = None;
    let mut handshake = Vec::new();
    // tungstenite's callback signature returns its (large) ErrorResponse by value.
    #[allow(clippy::result_large_err)]
    let mut decide = |request: &Request, mut response: Response| {
        let mut refuse = |status: StatusCode, body: &str, why: String| {
            refusal = Some(format!("refused with HTTP {}: {why}", status.as_u16()));
            let mut error = ErrorResponse::new(Some(format!("{body}\n")));
            *error.status_mut() = status;
            error
        };
        // Browsers let any page open a WebSocket to 127.0.0.1; the Origin header
        // says which page. Clients that send none (not browsers) are let in.
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
            if !origin_allowed(&origin, &opts.allow_origins) {
                let why = format!(
                    "origin {} is not allowed (--allow-origin)",
                    crate::record::sanitize::for_terminal(&origin)
                );
                return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed", why));
            }
        }
        // Before a --max-clients slot is taken: a client without the secret
        // cannot crowd out those with it.
        if let Err(refused) = opts.credentials.check(request.headers()) {
            let flags = opts.credentials.flags();
            let why = match refused {
                Refused::Missing => format!("no credentials ({flags} required)"),
                Refused::Wrong => format!("wrong credentials ({flags})"),
            };
            let mut error = refuse(StatusCode::UNAUTHORIZED, "credentials required", why);
            for challenge in opts.credentials.challenges() {
                error
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, challenge);
            }
            return Err(error);
        }
        if let Some(slots) = &opts.slots {
            match Arc::clone(slots).try_acquire_owned() {
                Ok(permit) => slot = Some(permit),
                Err(_) => {
                    let why = "too many clients (--max-clients)".to_string();
                    return Err(refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "too many clients",
                        why,
                    ));
                }
            }
        }
        if let Some(pq) = request.uri().path_and_query() {
            path = pq.as_str().to_string();
        }
        protocol = pick_subprotocol(request, &opts.subprotocols);
        if let Some(picked) = &protocol {
            if let Ok(value) = HeaderValue::from_str(picked) {
                response
                    .headers_mut()
                    .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
            }
        }
        Ok(response)
    };
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let outcome = decide(request, response);
        if opts.log_handshakes {
            let heads = [
                (">", handshake_log::request_head(request)),
                (
                    "<",
                    match &outcome {
                        Ok(response) => handshake_log::response_head(response),
                        Err(refusal) => handshake_log::response_head(refusal),
                    },
                ),
            ];
            for (mark, lines) in heads {
                handshake.extend(lines.into_iter().map(|line| format!("{mark} {line}")));
            }
        }
        outcome
    };
    let result = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(ws_config(opts.max_message_size).read_buffer_size(SERVER_READ_BUFFER)),
    )
    .await;
    let ws = match (result, refusal) {
        (Ok(ws), _) => ws,
        (Err(_), Some(refusal)) => {
            let error = anyhow::anyhow!(refusal);
            return Err(Refusal { error, handshake });
        }
        (Err(err), None) => {
            let error = anyhow::Error::new(err).context("WebSocket handshake failed");
            return Err(Refusal { error, handshake });
        }
    };
    Ok(Accepted {
        ws,
        peer,
        path,
        protocol,
        slot,
        handshake,
    })
}

/// The client's first offered subprotocol that we accept (a client lists them in
/// order of preference).
fn pick_subprotocol(request: &Request, accepted: &[String]) -> Option<String> {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .find(|offered| accepted.iter().any(|a| a == offered))
        .map(str::to_string)
}

/// A server-side socket, plain or TLS, as one type so one pump serves both.
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Plain(s) => s.is_write_vectored(),
            ServerStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ServerStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listen_addr_is_port_or_host_port_on_loopback_by_default() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            resolve_listen_addr("9001").await.unwrap(),
            at("127.0.0.1:9001")
        );
        assert_eq!(resolve_listen_addr("0").await.unwrap(), at("127.0.0.1:0"));
        assert_eq!(
            resolve_listen_addr(":80").await.unwrap(),
            at("127.0.0.1:80")
        );
        assert_eq!(
            resolve_listen_addr("0.0.0.0:8080").await.unwrap(),
            at("0.0.0.0:8080")
        );
        assert_eq!(resolve_listen_addr("[::1]:9").await.unwrap(), at("[::1]:9"));
        for bad in ["", "port", "70000", "127.0.0.1", "1.2.3.4:x", "a/b:1"] {
            let err = resolve_listen_addr(bad).await.unwrap_err();
            assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage, "{bad}");
        }
    }
}
