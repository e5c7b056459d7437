//! Test helpers: an in-process tokio-tungstenite server on 127.0.0.1:0 with
//! scripted behaviours, and a runner for the real wspipe binary.

#![allow(dead_code, clippy::result_large_err)]

pub mod certs;
pub mod peers;
pub mod proxy;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// A hung test is a failure, not a stall.
pub const TEST_DEADLINE: Duration = Duration::from_secs(60);

/// What the test server does with each connection.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Echo every data message, in order, then answer Close.
    Echo,
    /// Send `count` text messages `msg-<i>` as fast as possible, then Close 1000.
    Push { count: usize },
    /// Send these messages, then Close with this code and reason.
    SendThenClose {
        messages: Vec<Message>,
        code: u16,
        reason: &'static str,
    },
    /// Refuse the upgrade with this HTTP status and body.
    Reject { status: u16, body: &'static str },
    /// Complete the handshake, then read and never answer anything (not even pings).
    Silent,
    /// Send these messages and keep the connection open, recording what comes back.
    SendAndRecord { messages: Vec<Message> },
    /// Drop the TCP connection after the handshake without a Close.
    Drop,
    /// Wait for one data message, answer with `reply`, then Close with `code`.
    ReplyThenClose { reply: &'static str, code: u16 },
    /// Accept the subprotocol `chat.v1` when offered, then echo.
    EchoWithProtocol,
    /// Echo, and send every connection what the test passes to [`TestServer::push`].
    EchoAndPush,
    /// Send these messages while recording what comes in, concurrently: a client
    /// that stops reading cannot keep the server from seeing its Close.
    SendWhileRecording { messages: Vec<Message> },
    /// Complete the handshake, read nothing (not even pings) until `go` turns true,
    /// then record everything: a server that reads slowly.
    RecordWhenReleased {
        go: tokio::sync::watch::Receiver<bool>,
    },
    /// Record the first `after` data messages, then stop reading: what the client
    /// sends next piles up unread in the kernel ([`Observed::unread`] says how much).
    RecordThenStall { after: usize },
    /// Echo like [`Behaviour::Echo`], taking `delay` over each message: a server
    /// still working through a backlog when the client's Close arrives.
    SlowEcho { delay: Duration },
}

/// What the server observed, for assertions.
#[derive(Default, Debug)]
pub struct Observed {
    /// Data messages received from clients, in order.
    pub received: Vec<Message>,
    /// Close frames received from clients (code, reason).
    pub closes: Vec<(u16, String)>,
    /// Request headers of each handshake, lower-case names.
    pub headers: Vec<Vec<(String, String)>>,
    pub connections: usize,
    /// Messages [`Behaviour::Push`] has handed to its socket so far (in steps of 1024).
    pub pushed: usize,
    /// Bytes waiting unread in the socket of a [`Behaviour::RecordThenStall`] server.
    pub unread: usize,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub observed: Arc<Mutex<Observed>>,
    pushes: tokio::sync::broadcast::Sender<Message>,
    /// The accept loop; it owns the connections (see [`TestServer::stop`]).
    accept_task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(behaviour: Behaviour) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), behaviour).await
    }

    /// A server on this address: a test restarting a server binds the port the
    /// first one had (tokio sets SO_REUSEADDR, so the old connections do not block it).
    pub async fn start_on(addr: SocketAddr, behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let observed = Arc::new(Mutex::new(Observed::default()));
        let shared = Arc::clone(&observed);
        let (pushes, _) = tokio::sync::broadcast::channel(16);
        let push_tx = pushes.clone();
        let accept_task = tokio::spawn(async move {
            // Dropped with the accept loop, which aborts every connection.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let behaviour = behaviour.clone();
                let observed = Arc::clone(&shared);
                // Subscribed before the handshake: a client that is connected
                // gets every push sent after that.
                let push_rx = push_tx.subscribe();
                connections.spawn(serve(tcp, behaviour, observed, push_rx));
                while connections.try_join_next().is_some() {}
            }
        });
        TestServer {
            addr,
            observed,
            pushes,
            accept_task: Some(accept_task),
        }
    }

    /// Kills the server as a crash would: the listener and every connection are
    /// dropped at once, without a Close (unread data makes the kernel send a
    /// reset). Returns once the listening socket is closed, so the port can be
    /// bound again. What it observed stays readable.
    pub async fn stop(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Waits (bounded) until what the server observed satisfies `ready`.
    pub async fn wait_until(&self, what: &str, ready: impl Fn(&Observed) -> bool) {
        let deadline = tokio::time::Instant::now() + LINE_DEADLINE;
        while !ready(&self.observed.lock().unwrap()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never saw {what}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends a text message to every connection (with [`Behaviour::EchoAndPush`]).
    pub fn push(&self, text: &str) {
        self.pushes
            .send(Message::text(text.to_string()))
            .expect("no connection to push to");
    }

    /// The same server speaking TLS (`wss://`) with this rustls configuration.
    /// Connections whose TLS handshake fails are dropped.
    pub async fn start_tls(behaviour: Behaviour, config: Arc<rustls::ServerConfig>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let observed = Arc::new(Mutex::new(Observed::default()));
        let shared = Arc::clone(&observed);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (pushes, _) = tokio::sync::broadcast::channel(16);
        let push_tx = pushes.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let behaviour = behaviour.clone();
                let observed = Arc::clone(&shared);
                let acceptor = acceptor.clone();
                let push_rx = push_tx.subscribe();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, behaviour, observed, push_rx).await;
                    }
                });
            }
        });
        TestServer {
            addr,
            observed,
            pushes,
            accept_task: None,
        }
    }

    /// `wss://127.0.0.1:PORT/`.
    pub fn wss_url(&self) -> String {
        format!("wss://{}/", self.addr)
    }

    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    pub fn received_texts(&self) -> Vec<String> {
        self.observed
            .lock()
            .unwrap()
            .received
            .iter()
            .map(|m| match m {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => format!("binary:{}", String::from_utf8_lossy(b)),
                other => format!("{other:?}"),
            })
            .collect()
    }

    pub fn closes(&self) -> Vec<(u16, String)> {
        self.observed.lock().unwrap().closes.clone()
    }
}

/// A stream that can tell how many bytes wait unread in it.
pub trait Peek {
    /// Bytes readable now (waits until there is at least one).
    fn unread(&self, buf: &mut [u8]) -> impl std::future::Future<Output = usize>;
}

impl Peek for tokio::net::TcpStream {
    async fn unread(&self, buf: &mut [u8]) -> usize {
        self.peek(buf).await.unwrap_or(0)
    }
}

impl<S> Peek for tokio_rustls::server::TlsStream<S> {
    async fn unread(&self, _: &mut [u8]) -> usize {
        std::future::pending().await
    }
}

async fn serve<S>(
    tcp: S,
    behaviour: Behaviour,
    observed: Arc<Mutex<Observed>>,
    mut pushes: tokio::sync::broadcast::Receiver<Message>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Peek,
{
    let headers_seen = Arc::clone(&observed);
    let reject = behaviour.clone();
    let callback =
        move |req: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            {
                let mut o = headers_seen.lock().unwrap();
                o.headers.push(headers);
                o.connections += 1;
            }
            match reject {
                Behaviour::Reject { status, body } => {
                    let mut error = ErrorResponse::new(Some(body.to_string()));
                    *error.status_mut() = StatusCode::from_u16(status).unwrap();
                    Err(error)
                }
                Behaviour::EchoWithProtocol => {
                    let offered = req
                        .headers()
                        .get("sec-websocket-protocol")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if offered.split(',').any(|p| p.trim() == "chat.v1") {
                        response.headers_mut().insert(
                            "sec-websocket-protocol",
                            HeaderValue::from_static("chat.v1"),
                        );
                    }
                    Ok(response)
                }
                _ => Ok(response),
            }
        };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let record = |message: Message| match message {
        Message::Close(frame) => {
            let (code, reason) = frame
                .map(|f| (u16::from(f.code), f.reason.to_string()))
                .unwrap_or((1005, String::new()));
            observed.lock().unwrap().closes.push((code, reason));
        }
        Message::Text(_) | Message::Binary(_) => observed.lock().unwrap().received.push(message),
        _ => {}
    };
    match behaviour {
        Behaviour::Echo | Behaviour::EchoWithProtocol => {
            // Sequential: every echo is flushed before the next read, so nothing
            // can be left unsent when the client's Close is read.
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    record(message.clone());
                    if ws.send(message).await.is_err() {
                        break;
                    }
                } else {
                    record(message);
                }
            }
        }
        Behaviour::SlowEcho { delay } => {
            while let Some(Ok(message)) = ws.next().await {
                let data = message.is_text() || message.is_binary();
                record(message.clone());
                if data {
                    tokio::time::sleep(delay).await;
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
        Behaviour::EchoAndPush => loop {
            tokio::select! {
                next = ws.next() => {
                    let Some(Ok(message)) = next else { break };
                    let data = message.is_text() || message.is_binary();
                    record(message.clone());
                    if data && ws.send(message).await.is_err() {
                        break;
                    }
                }
                Ok(message) = pushes.recv() => {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            }
        },
        Behaviour::Push { count } => {
            for i in 0..count {
                if ws.feed(Message::text(format!("msg-{i}"))).await.is_err() {
                    return;
                }
                if i % 1024 == 1023 {
                    observed.lock().unwrap().pushed = i + 1;
                }
            }
            observed.lock().unwrap().pushed = count;
            let _ = ws.flush().await;
            let _ = ws.close(Some(close_frame(1000, ""))).await;
            while let Some(Ok(message)) = ws.next().await {
                record(message);
            }
        }
        Behaviour::SendThenClose {
            messages,
            code,
            reason,
        } => {
            for m in messages {
                let _ = ws.feed(m).await;
            }
            let _ = ws.flush().await;
            let _ = ws.close(Some(close_frame(code, reason))).await;
            while let Some(Ok(message)) = ws.next().await {
                record(message);
            }
        }
        Behaviour::SendAndRecord { messages } => {
            for m in messages {
                let _ = ws.feed(m).await;
            }
            let _ = ws.flush().await;
            while let Some(Ok(message)) = ws.next().await {
                record(message);
            }
        }
        Behaviour::ReplyThenClose { reply, code } => {
            while let Some(Ok(message)) = ws.next().await {
                let data = message.is_text() || message.is_binary();
                record(message);
                if data {
                    let _ = ws.send(Message::text(reply)).await;
                    let _ = ws.close(Some(close_frame(code, ""))).await;
                }
            }
        }
        Behaviour::Silent => {
            // Never poll the WebSocket again: pings go unanswered. Keep the
            // socket open for a while, then let it drop.
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(ws);
        }
        Behaviour::SendWhileRecording { messages } => {
            let (mut tx, mut rx) = ws.split();
            let sending = async move {
                for m in messages {
                    if tx.feed(m).await.is_err() {
                        return;
                    }
                }
                let _ = tx.flush().await;
            };
            let reading = async {
                while let Some(Ok(message)) = rx.next().await {
                    record(message);
                }
            };
            tokio::pin!(sending, reading);
            tokio::select! {
                () = &mut reading => {}
                () = &mut sending => reading.await,
            }
        }
        Behaviour::RecordWhenReleased { mut go } => {
            let _ = go.wait_for(|go| *go).await;
            while let Some(Ok(message)) = ws.next().await {
                record(message);
            }
        }
        Behaviour::RecordThenStall { after } => {
            let mut seen = 0;
            while seen < after {
                let Some(Ok(message)) = ws.next().await else {
                    return;
                };
                seen += usize::from(message.is_text() || message.is_binary());
                record(message);
            }
            // Peeking reads nothing: the bytes stay where a crash would find them.
            let mut buf = vec![0u8; 4 << 20];
            loop {
                let unread = ws.get_ref().unread(&mut buf).await;
                observed.lock().unwrap().unread = unread;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Behaviour::Drop => drop(ws),
        Behaviour::Reject { .. } => {}
    }
}

pub fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wspipe")
}

/// A command for the binary with a hermetic environment: no colour or proxy
/// settings from the developer's shell, an empty HOME.
pub fn wspipe_command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir().join("wspipe-test-home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs the binary with `stdin` as its input and waits (bounded) for it to end.
pub async fn run(args: &[&str], stdin: &[u8]) -> Run {
    run_with_env(args, &[], stdin).await
}

/// [`run`] with these environment variables set for the child only (the test
/// process's own environment is never touched: tests run in parallel).
pub async fn run_with_env(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Run {
    let mut cmd = wspipe_command(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let child = cmd.spawn().expect("spawning wspipe");
    finish(child, stdin.to_vec()).await
}

pub async fn finish(mut child: tokio::process::Child, stdin: Vec<u8>) -> Run {
    let mut input = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
        drop(input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf).await;
        buf
    });
    let err = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        buf
    });
    let status = tokio::time::timeout(TEST_DEADLINE, child.wait())
        .await
        .expect("wspipe did not finish in time")
        .unwrap();
    let _ = writer.await;
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.await.unwrap(),
        stderr: String::from_utf8_lossy(&err.await.unwrap()).into_owned(),
    }
}

/// Raises this process's soft limit on open files to at least `wanted` (within the
/// hard limit), for tests that open thousands of connections.
pub fn raise_fd_limit(wanted: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < wanted {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, wanted.min(hard), hard);
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, noted, let go).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` numbered lines, `line-0\n` … .
pub fn numbered_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 12);
    for i in 0..n {
        out.extend_from_slice(format!("line-{i}\n").as_bytes());
    }
    out
}

/// A `wspipe listen` process under test: started on port 0, with its address read
/// from the `listening on` line, and its stderr and stdout readable line by line.
pub struct Listener {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    /// `ws://HOST:PORT` (or `wss://`), as reported.
    pub url: String,
    stdin: Option<tokio::process::ChildStdin>,
    stderr: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>,
    stdout: Option<tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>>,
    /// Every stderr line read so far.
    pub stderr_seen: Vec<String>,
}

/// How long a test waits for one expected line.
pub const LINE_DEADLINE: Duration = Duration::from_secs(20);

impl Listener {
    /// Runs `wspipe listen ARGS...` and waits for its address.
    pub async fn start(args: &[&str]) -> Listener {
        let mut all = vec!["listen"];
        all.extend_from_slice(args);
        let mut child = wspipe_command(&all)
            .spawn()
            .expect("spawning wspipe listen");
        let stdin = child.stdin.take();
        let stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let stdout = Some(tokio::io::BufReader::new(child.stdout.take().unwrap()).lines());
        let mut listener = Listener {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            url: String::new(),
            stdin,
            stderr,
            stdout,
            stderr_seen: Vec::new(),
        };
        let line = listener.stderr_line().await;
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("expected the address, got {line:?}"));
        let authority = url.split("://").nth(1).unwrap();
        listener.addr = authority.parse().unwrap();
        listener.url = url.to_string();
        listener
    }

    /// The next stderr line (bounded in time).
    pub async fn stderr_line(&mut self) -> String {
        let line = tokio::time::timeout(LINE_DEADLINE, self.stderr.next_line())
            .await
            .unwrap_or_else(|_| panic!("no stderr line in time; so far: {:?}", self.stderr_seen))
            .unwrap()
            .unwrap_or_else(|| panic!("stderr ended; so far: {:?}", self.stderr_seen));
        self.stderr_seen.push(line.clone());
        line
    }

    /// Reads stderr until a line contains `needle`; returns that line.
    pub async fn stderr_until(&mut self, needle: &str) -> String {
        loop {
            let line = self.stderr_line().await;
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The next stdout line (bounded in time).
    pub async fn stdout_line(&mut self) -> String {
        let stdout = self.stdout.as_mut().expect("stdout already taken");
        tokio::time::timeout(LINE_DEADLINE, stdout.next_line())
            .await
            .expect("no stdout line in time")
            .unwrap()
            .expect("stdout ended")
    }

    pub async fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// stdout's lines, for a test that reads them from a task of its own.
    pub fn take_stdout(
        &mut self,
    ) -> tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>> {
        self.stdout.take().expect("stdout already taken")
    }

    /// stdin, for a test that writes it from a task of its own.
    pub fn take_stdin(&mut self) -> tokio::process::ChildStdin {
        self.stdin.take().expect("stdin already taken")
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The peak resident set size so far, in KiB (Linux), for reports.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Waits (bounded) for the process to end; returns its exit code, what is left
    /// of stdout, and the stderr lines not read yet.
    pub async fn finish(mut self) -> (i32, String, Vec<String>) {
        self.stdin.take();
        let status = tokio::time::timeout(LINE_DEADLINE, self.child.wait())
            .await
            .expect("wspipe listen did not exit in time")
            .unwrap();
        let mut stdout = String::new();
        if let Some(mut lines) = self.stdout.take() {
            while let Ok(Some(line)) = lines.next_line().await {
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
        let mut rest = Vec::new();
        while let Ok(Some(line)) = self.stderr.next_line().await {
            rest.push(line);
        }
        (status.code().unwrap_or(-1), stdout, rest)
    }
}

/// The peak resident set size so far of process `pid`, in KiB (Linux `VmHWM`);
/// None once the process is gone.
pub fn peak_rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Watches the peak RSS of a running process: polls [`peak_rss_kib_of`] every 10 ms
/// until the process is gone. `VmHWM` only grows, so the last reading before the
/// exit is the peak, give or take what the last few milliseconds added.
pub struct RssWatch {
    peak: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            while let Some(kib) = peak_rss_kib_of(pid) {
                seen.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        RssWatch { peak, task }
    }

    /// The highest reading so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops watching; the peak seen, in KiB.
    pub fn stop(self) -> u64 {
        self.task.abort();
        self.peak_kib()
    }
}

/// A command for the binary in a pseudo-terminal (rexpect), hermetic: HOME and
/// XDG_DATA_HOME in `home`, TERM=xterm, no colour or proxy settings inherited.
pub fn pty_command(args: &[&str], home: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TERM", "xterm");
    cmd
}

/// Every expectation in a pty test waits at most this long.
pub const PTY_EXPECT_MS: u64 = 10_000;

/// Spawns `cmd` in a pty; escape sequences are stripped from what is read, so
/// expectations match the text a user sees.
pub fn spawn_pty(cmd: std::process::Command) -> rexpect::session::PtySession {
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(PTY_EXPECT_MS))
        .strip_ansi_escape_codes(true);
    rexpect::session::spawn_with_options(cmd, options).expect("spawning wspipe in a pty")
}

/// Waits (bounded) for the process in `session` to exit and returns its code.
pub fn pty_exit_code(session: &mut rexpect::session::PtySession) -> i32 {
    use rexpect::process::WaitStatus;
    session.exp_eof().expect("wspipe did not exit");
    match session.process().wait().expect("waiting for wspipe") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("wspipe ended with {other:?}"),
    }
}
