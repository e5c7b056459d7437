//! A minimal HTTP CONNECT proxy on 127.0.0.1:0 for tests: parses CONNECT,
//! optionally demands Proxy-Authorization, then splices bytes both ways.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the proxy answers a CONNECT.
#[derive(Clone, Copy, Debug)]
pub enum ProxyMode {
    /// Tunnel every CONNECT.
    Open,
    /// Tunnel only with `Proxy-Authorization: Basic` for this `user:pass`;
    /// otherwise answer 407.
    RequireAuth(&'static str),
    /// Accept the TCP connection, read the request, never answer.
    Mute,
}

/// One CONNECT request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// `CONNECT host:port HTTP/1.1`
    pub line: String,
    /// Header lines as sent, `Name: value`.
    pub headers: Vec<String>,
}

pub struct TestProxy {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl TestProxy {
    pub async fn start(mode: ProxyMode) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(handle(client, mode, Arc::clone(&shared)));
            }
        });
        TestProxy { addr, seen }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handle(mut client: TcpStream, mode: ProxyMode, seen: Arc<Mutex<Vec<SeenRequest>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte: nothing after the blank line may be swallowed.
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<String> = lines.map(str::to_string).collect();
    seen.lock().unwrap().push(SeenRequest {
        line: line.clone(),
        headers: headers.clone(),
    });
    let mut parts = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    match mode {
        ProxyMode::Open => {}
        ProxyMode::RequireAuth(credentials) => {
            let token = base64::engine::general_purpose::STANDARD.encode(credentials);
            let authorised = headers.iter().any(|h| {
                h.split_once(':').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("proxy-authorization")
                        && value.trim().split_once(' ').is_some_and(|(scheme, given)| {
                            scheme.eq_ignore_ascii_case("basic") && given.trim() == token
                        })
                })
            });
            if !authorised {
                let _ = client
                    .write_all(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                          Proxy-Authenticate: Basic realm=\"test\"\r\n\
                          Content-Length: 13\r\n\r\nauth required",
                    )
                    .await;
                return;
            }
        }
        ProxyMode::Mute => {
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
            return;
        }
    }
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
