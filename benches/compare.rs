//! Side-by-side benchmark: wspipe vs websocat (when installed) vs a minimal
//! tokio-tungstenite client (the floor: what the stack itself can do).
//!
//! `cargo bench --bench compare` starts an echo/push server on 127.0.0.1, runs every
//! scenario with the clients alternating, and prints medians and ratios to the floor.
//! wspipe runs twice: as a user runs it (lingering after EOF for late replies,
//! which costs a one-shot run the linger) and with `--linger 0` (closing at EOF as
//! the other clients do: the cost of the pipe itself).
//! Every run is checked: a client that did not deliver every message is reported as
//! INCOMPLETE, never as fast. `BENCH_REPS=N` sets the repetitions (default 5).

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--floor") {
        floor_client(&args[pos + 1], args.iter().any(|a| a == "-n"));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if args.iter().any(|a| a == "--serve") {
        // For profiling by hand: serve until killed.
        println!("ws://{}", start_server());
        loop {
            std::thread::park();
        }
    }
    // `cargo bench` passes `--bench`; a filter is not supported, every scenario runs.
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let addr = start_server();
    let work = tempfile::tempdir().expect("tempdir");
    let clients = clients();
    println!(
        "clients: {}",
        clients
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("repetitions: {reps} (alternating), medians shown\n");
    println!(
        "{:<34} {:<9} {:>10} {:>9} {:>10} {:>9}  check",
        "scenario", "client", "time", "vs floor", "peak RSS", "vs floor"
    );
    for scenario in scenarios(work.path()) {
        let mut results: Vec<Vec<Sample>> = vec![Vec::new(); clients.len()];
        for _ in 0..reps {
            for (i, client) in clients.iter().enumerate() {
                results[i].push(run_once(client, &scenario, addr, work.path()));
            }
        }
        let floor = clients.iter().position(|c| c.name == "floor").unwrap();
        let floor_time = median(results[floor].iter().map(|s| s.secs).collect());
        let floor_rss = median(results[floor].iter().map(|s| s.rss_kib as f64).collect());
        for (i, client) in clients.iter().enumerate() {
            let time = median(results[i].iter().map(|s| s.secs).collect());
            let rss = median(results[i].iter().map(|s| s.rss_kib as f64).collect());
            let complete = results[i].iter().all(|s| s.complete);
            println!(
                "{:<34} {:<9} {:>9.3}s {:>8.2}x {:>7.1}MiB {:>8.2}x  {}",
                scenario.name,
                client.name,
                time,
                time / floor_time,
                rss / 1024.0,
                rss / floor_rss,
                if complete {
                    "ok".to_string()
                } else {
                    format!(
                        "INCOMPLETE ({})",
                        results[i].iter().find(|s| !s.complete).unwrap().detail
                    )
                }
            );
        }
    }
}

struct Client {
    name: &'static str,
    /// Builds the command line for a URL; `receive_only` for the push scenario.
    command: fn(url: &str, scenario: &Scenario) -> Command,
}

fn clients() -> Vec<Client> {
    let mut clients = vec![
        // As a user runs it: after EOF it lingers (1 s by default) for late replies.
        Client {
            name: "wspipe",
            command: |url, s| wspipe(url, s, &[]),
        },
        // Closing at EOF like the others: the cost of the pipe itself.
        Client {
            name: "wspipe-l0",
            command: |url, s| wspipe(url, s, &["--linger", "0"]),
        },
        Client {
            name: "floor",
            command: |url, s| {
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.args(["--floor", url]);
                if s.receive_only {
                    c.arg("-n");
                }
                c
            },
        },
    ];
    if Command::new("websocat")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        clients.push(Client {
            name: "websocat",
            command: |url, s| {
                let mut c = Command::new("websocat");
                // Text lines both ways, a buffer big enough for 1 MiB messages.
                c.args(["-t", "-B", "2100000"]);
                if s.receive_only {
                    c.arg("-n");
                }
                c.arg(url);
                c
            },
        });
    }
    clients
}

fn wspipe(url: &str, scenario: &Scenario, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wspipe"));
    c.arg("connect").args(extra);
    if scenario.receive_only {
        c.arg("-n");
    }
    c.arg(url);
    c
}

struct Scenario {
    name: &'static str,
    path: String,
    input: PathBuf,
    expected_lines: usize,
    expected_bytes: u64,
    receive_only: bool,
}

fn scenarios(dir: &Path) -> Vec<Scenario> {
    let write = |name: &str, lines: &mut dyn Iterator<Item = String>| {
        let path = dir.join(name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let (mut n, mut bytes) = (0usize, 0u64);
        for line in lines {
            file.write_all(line.as_bytes()).unwrap();
            file.write_all(b"\n").unwrap();
            n += 1;
            bytes += line.len() as u64 + 1;
        }
        file.flush().unwrap();
        (path, n, bytes)
    };
    let (small, small_n, small_b) = write(
        "small.jsonl",
        &mut (0..100_000).map(|i| format!(r#"{{"id":{i},"op":"update","value":"abcdefgh"}}"#)),
    );
    let big_line = "x".repeat(1 << 20);
    let (big, big_n, big_b) = write("big.txt", &mut (0..100).map(|_| big_line.clone()));
    let (one, one_n, one_b) = write("one.txt", &mut std::iter::once("hello".to_string()));
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    vec![
        Scenario {
            name: "100k small JSON lines via echo",
            path: "/echo".into(),
            input: small,
            expected_lines: small_n,
            expected_bytes: small_b,
            receive_only: false,
        },
        Scenario {
            name: "200k pushed 100-byte messages",
            path: "/push".into(),
            input: empty,
            expected_lines: 200_000,
            expected_bytes: 200_000 * 101,
            receive_only: true,
        },
        Scenario {
            name: "100 x 1 MiB via echo",
            path: "/echo".into(),
            input: big,
            expected_lines: big_n,
            expected_bytes: big_b,
            receive_only: false,
        },
        Scenario {
            name: "one-shot connect/send/recv/close",
            path: "/echo".into(),
            input: one,
            expected_lines: one_n,
            expected_bytes: one_b,
            receive_only: false,
        },
    ]
}

#[derive(Clone)]
struct Sample {
    secs: f64,
    rss_kib: u64,
    complete: bool,
    detail: String,
}

fn run_once(client: &Client, scenario: &Scenario, addr: SocketAddr, dir: &Path) -> Sample {
    let url = format!("ws://{addr}{}", scenario.path);
    let inner = (client.command)(&url, scenario);
    let out_path = dir.join("out");
    let rss_path = dir.join("rss");
    // /usr/bin/time reports the child's peak RSS; without it, RSS shows as 0.
    let mut cmd = if Path::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", "-o"]).arg(&rss_path);
        c.arg(inner.get_program()).args(inner.get_args());
        c
    } else {
        inner
    };
    let started = Instant::now();
    let status = cmd
        .stdin(std::fs::File::open(&scenario.input).unwrap())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("running a client");
    let secs = started.elapsed().as_secs_f64();
    let rss_kib = std::fs::read_to_string(&rss_path)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let bytes = std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
    let lines = std::io::BufReader::new(std::fs::File::open(&out_path).unwrap())
        .split(b'\n')
        .count();
    let complete =
        status.success() && lines == scenario.expected_lines && bytes == scenario.expected_bytes;
    Sample {
        secs,
        rss_kib,
        complete,
        detail: format!(
            "exit {:?}, {lines}/{} lines, {bytes}/{} bytes",
            status.code(),
            scenario.expected_lines,
            scenario.expected_bytes
        ),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// The server: `/echo` echoes in order (batched flushes), `/push` sends 200,000
/// messages of 100 bytes and closes.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp));
            }
        });
    });
    rx.recv().unwrap()
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

async fn serve(tcp: tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
    let mut path = String::new();
    let callback =
        |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
         resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
            path = req.uri().path().to_string();
            Ok(resp)
        };
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(config())).await
    else {
        return;
    };
    if path == "/push" {
        let payload = "p".repeat(100);
        for _ in 0..200_000 {
            if ws.feed(Message::text(payload.clone())).await.is_err() {
                return;
            }
        }
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
        return;
    }
    // Feed each echo as soon as its message is read (so nothing read before the
    // client's Close is lost), flush once per readable burst.
    while let Some(Ok(message)) = ws.next().await {
        let mut next = Some(message);
        while let Some(m) = next.take() {
            if (m.is_text() || m.is_binary()) && ws.feed(m).await.is_err() {
                return;
            }
            if let Some(Some(Ok(more))) = ws.next().now_or_never() {
                next = Some(more);
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
    }
}

/// The floor: stdin lines -> text messages, messages -> stdout lines, Close at EOF,
/// exit at the peer's Close. No formats, no checks, no features.
fn floor_client(url: &str, no_close: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
            .await
            .expect("floor: connect");
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<String>>(16);
        std::thread::spawn(move || {
            let stdin = std::io::stdin().lock();
            let mut batch = Vec::new();
            for line in stdin.lines() {
                batch.push(line.unwrap());
                if batch.len() == 256 {
                    tx.blocking_send(std::mem::take(&mut batch)).unwrap();
                }
            }
            let _ = tx.blocking_send(batch);
        });
        let writer = async move {
            while let Some(batch) = rx.recv().await {
                for line in batch {
                    sink.feed(Message::text(line)).await.unwrap();
                }
                sink.flush().await.unwrap();
            }
            if !no_close {
                let _ = sink.send(Message::Close(None)).await;
            }
            sink
        };
        let reader = async move {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            while let Some(Ok(message)) = stream.next().await {
                match message {
                    Message::Text(t) => {
                        out.write_all(t.as_bytes()).unwrap();
                        out.write_all(b"\n").unwrap();
                    }
                    Message::Binary(b) => out.write_all(&b).unwrap(),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            out.flush().unwrap();
        };
        let (_sink, ()) = tokio::join!(writer, reader);
        tokio::time::sleep(Duration::from_millis(0)).await;
    });
}
