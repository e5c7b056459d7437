//! Server-side benchmark: `wspipe listen` vs websocat (when installed) vs a bare
//! tokio-tungstenite server written for this bench (the floor), all driven by the
//! same in-process tokio-tungstenite clients over 127.0.0.1.
//!
//! `cargo bench --bench listen` starts a fresh server process for every run, runs
//! each scenario with the servers alternating, and prints medians of the wall time,
//! the server's CPU time (user + system, from /proc) and its peak RSS (VmHWM).
//! Every run is checked: each client counts every message it expects, in order, and
//! a run that misses one is reported as INCOMPLETE, never as fast.
//! `BENCH_REPS=N` sets the repetitions (default 3).

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A run that takes longer than this is reported as INCOMPLETE.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--floor-server") {
        floor_server(args[pos + 1] == "broadcast");
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    raise_fd_limit();
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let servers = servers();
    println!(
        "servers: {}",
        servers
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("repetitions: {reps} (alternating), medians shown; one driver for all\n");
    println!(
        "{:<40} {:<9} {:>9} {:>9} {:>9} {:>10} {:>9}  check",
        "scenario", "server", "time", "vs floor", "srv CPU", "peak RSS", "vs floor"
    );
    for scenario in scenarios() {
        let mut results: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
        for _ in 0..reps {
            for (i, server) in servers.iter().enumerate() {
                results[i].push(runtime.block_on(run_once(server, &scenario)));
            }
        }
        let floor = servers.iter().position(|s| s.name == "floor").unwrap();
        let floor_time = median(results[floor].iter().map(|s| s.secs).collect());
        let floor_rss = median(results[floor].iter().map(|s| s.rss_kib as f64).collect());
        for (i, server) in servers.iter().enumerate() {
            let time = median(results[i].iter().map(|s| s.secs).collect());
            let cpu = median(results[i].iter().map(|s| s.cpu_secs).collect());
            let rss = median(results[i].iter().map(|s| s.rss_kib as f64).collect());
            let failed = results[i].iter().find_map(|s| s.failure.clone());
            println!(
                "{:<40} {:<9} {:>8.3}s {:>8.2}x {:>8.3}s {:>7.1}MiB {:>8.2}x  {}",
                scenario.name,
                server.name,
                time,
                time / floor_time,
                cpu,
                rss / 1024.0,
                rss / floor_rss,
                failed.map_or("ok".to_string(), |why| format!("INCOMPLETE ({why})"))
            );
        }
    }
}

/// A server under test: how to start it for an echo or a broadcast scenario.
struct Server {
    name: &'static str,
    start: fn(broadcast: bool) -> (Child, String),
}

fn servers() -> Vec<Server> {
    let mut servers = vec![
        Server {
            name: "wspipe",
            start: |broadcast| {
                let mut c = Command::new(env!("CARGO_BIN_EXE_wspipe"));
                c.args(["listen", "127.0.0.1:0", "-q"]);
                c.arg(if broadcast { "--broadcast" } else { "--echo" });
                spawn_reporting_url(c)
            },
        },
        Server {
            name: "floor",
            start: |broadcast| {
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.args([
                    "--floor-server",
                    if broadcast { "broadcast" } else { "echo" },
                ]);
                spawn_reporting_url(c)
            },
        },
    ];
    if Command::new("websocat")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        servers.push(Server {
            name: "websocat",
            start: |broadcast| {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                let mut c = Command::new("websocat");
                c.args(["-t", "-q", "-B", "2100000"]);
                c.arg(format!("ws-l:127.0.0.1:{port}"));
                c.arg(if broadcast {
                    "broadcast:mirror:"
                } else {
                    "mirror:"
                });
                let child = c
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let url = format!("ws://127.0.0.1:{port}");
                // No line says it is listening: wait until it accepts.
                for _ in 0..200 {
                    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                (child, url)
            },
        });
    }
    servers
}

/// Starts a server that prints `... ws://HOST:PORT` on stderr (wspipe) or stdout
/// (the floor) and returns it with that URL.
fn spawn_reporting_url(mut command: Command) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let find = |line: &str| line.find("ws://").map(|at| line[at..].trim().to_string());
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    for lines in [
        Box::new(stderr.lines()) as Box<dyn Iterator<Item = std::io::Result<String>> + Send>,
        Box::new(stdout.lines()),
    ] {
        let tx = tx.clone();
        // Read on until the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(url) = find(&line) {
                    let _ = tx.send(url);
                }
            }
        });
    }
    let url = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server's address");
    (child, url)
}

#[derive(Clone, Copy)]
enum Kind {
    /// `clients` clients at once, each sending `messages` of `size` bytes and
    /// checking every echo in order.
    Echo {
        clients: usize,
        messages: usize,
        size: usize,
    },
    /// `receivers` clients in one room, then one more sends `messages` of 100 B;
    /// done when every receiver has all of them, in order.
    Broadcast { receivers: usize, messages: usize },
    /// `clients` connect at once (the listen backlog); each then sends one message
    /// and waits for its echo.
    Connect { clients: usize },
}

struct Scenario {
    name: &'static str,
    kind: Kind,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "echo 100k x 57 B, one client",
            kind: Kind::Echo {
                clients: 1,
                messages: 100_000,
                size: 57,
            },
        },
        Scenario {
            name: "echo 100 x 1 MiB, one client",
            kind: Kind::Echo {
                clients: 1,
                messages: 100,
                size: 1 << 20,
            },
        },
        Scenario {
            name: "echo 200 clients x 1,000 x 57 B",
            kind: Kind::Echo {
                clients: 200,
                messages: 1000,
                size: 57,
            },
        },
        Scenario {
            name: "broadcast 1 to 1,000, 100 x 100 B",
            kind: Kind::Broadcast {
                receivers: 1000,
                messages: 100,
            },
        },
        Scenario {
            name: "3,000 clients connect at once",
            kind: Kind::Connect { clients: 3000 },
        },
    ]
}

#[derive(Clone)]
struct Sample {
    secs: f64,
    cpu_secs: f64,
    rss_kib: u64,
    failure: Option<String>,
}

async fn run_once(server: &Server, scenario: &Scenario) -> Sample {
    let broadcast = matches!(scenario.kind, Kind::Broadcast { .. });
    let (mut child, url) = (server.start)(broadcast);
    let pid = child.id();
    let started = Instant::now();
    let outcome = tokio::time::timeout(RUN_LIMIT, drive(&url, scenario.kind)).await;
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = cpu_secs_of(pid);
    let rss_kib = peak_rss_kib_of(pid);
    let _ = child.kill();
    let _ = child.wait();
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(why)) => Some(why),
        Err(_) => Some(format!("not done in {RUN_LIMIT:?}")),
    };
    Sample {
        secs,
        cpu_secs,
        rss_kib,
        failure,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Result<Ws, String> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    Ok(ws)
}

/// Runs one scenario against `url`; Err says what was missing.
async fn drive(url: &str, kind: Kind) -> Result<(), String> {
    match kind {
        Kind::Echo {
            clients,
            messages,
            size,
        } => {
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let url = format!("{url}/c{c}");
                    tokio::spawn(async move { echo_client(&url, c, messages, size).await })
                })
                .collect();
            for task in tasks {
                task.await.map_err(|e| e.to_string())??;
            }
            Ok(())
        }
        Kind::Broadcast {
            receivers,
            messages,
        } => broadcast(url, receivers, messages).await,
        Kind::Connect { clients } => {
            let barrier = Arc::new(tokio::sync::Barrier::new(clients));
            let tasks: Vec<_> = (0..clients)
                .map(|c| {
                    let url = format!("{url}/c{c}");
                    let barrier = Arc::clone(&barrier);
                    tokio::spawn(async move {
                        barrier.wait().await;
                        echo_client(&url, c, 1, 57).await
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(|e| e.to_string())??;
            }
            Ok(())
        }
    }
}

/// A payload of `size` bytes naming client `c` and message `i`.
fn payload(c: usize, i: usize, size: usize) -> String {
    let head = format!("{{\"c\":{c},\"i\":{i},\"pad\":\"");
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

async fn echo_client(url: &str, c: usize, messages: usize, size: usize) -> Result<(), String> {
    let ws = connect(url).await?;
    let (mut tx, mut rx) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..messages {
            tx.feed(Message::text(payload(c, i, size)))
                .await
                .map_err(|e| e.to_string())?;
        }
        tx.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(tx)
    });
    for i in 0..messages {
        match rx.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == payload(c, i, size) => {}
            other => return Err(format!("client {c}, echo {i}: got {other:?}")),
        }
    }
    let mut tx = sender.await.map_err(|e| e.to_string())??;
    let _ = tx.send(Message::Close(None)).await;
    Ok(())
}

async fn broadcast(url: &str, receivers: usize, messages: usize) -> Result<(), String> {
    let room = format!("{url}/room/bench");
    let mut listening = Vec::new();
    for _ in 0..receivers {
        listening.push(connect(&room).await?);
    }
    // A moment for the last ones to join the room on the server's side.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tasks: Vec<_> = listening
        .into_iter()
        .enumerate()
        .map(|(r, mut ws)| {
            tokio::spawn(async move {
                for i in 0..messages {
                    loop {
                        match ws.next().await {
                            Some(Ok(Message::Text(text)))
                                if text.as_str() == payload(0, i, 100) =>
                            {
                                break;
                            }
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                            other => {
                                return Err(format!("receiver {r}, message {i}: got {other:?}"));
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut sender = connect(&room).await?;
    for i in 0..messages {
        sender
            .feed(Message::text(payload(0, i, 100)))
            .await
            .map_err(|e| e.to_string())?;
    }
    sender.flush().await.map_err(|e| e.to_string())?;
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

/// The floor: echo (each echo fed as its message is read, flushed once per
/// readable burst) or one broadcast room, as little as tokio-tungstenite needs.
fn floor_server(broadcast: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener: TcpListener = socket.listen(1024).unwrap();
        println!("ws://{}", listener.local_addr().unwrap());
        let (room, _) = tokio::sync::broadcast::channel::<(u64, Message)>(4096);
        let mut next_id = 0u64;
        while let Ok((tcp, _)) = listener.accept().await {
            next_id += 1;
            let room = room.clone();
            tokio::spawn(floor_connection(tcp, next_id, broadcast.then_some(room)));
        }
    });
}

async fn floor_connection(
    tcp: tokio::net::TcpStream,
    id: u64,
    room: Option<tokio::sync::broadcast::Sender<(u64, Message)>>,
) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config())).await else {
        return;
    };
    let Some(room) = room else {
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
        return;
    };
    let mut heard = room.subscribe();
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(m)) if m.is_text() || m.is_binary() => {
                    let _ = room.send((id, m));
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            relayed = heard.recv() => match relayed {
                Ok((from, m)) if from != id => {
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            },
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// User + system CPU seconds of a running process (Linux /proc; 0 elsewhere).
fn cpu_secs_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime: fields 14 and 15 of proc(5), counted from 1; the 12th and
    // 13th after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
