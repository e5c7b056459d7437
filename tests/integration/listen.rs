//! `wspipe listen`: echo, broadcast rooms, stdin to clients, `--once`, limits, TLS,
//! Ctrl-C, slow clients; with tokio-tungstenite clients, the wspipe binary itself
//! and (when installed) Python's `websockets` as the peers.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{LINE_DEADLINE, Listener, close_frame, run, wspipe_command};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(url: &str) -> Client {
    let (ws, _) = tokio::time::timeout(LINE_DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake in time")
        .expect("handshake");
    ws
}

/// The next data message or Close (pings and pongs skipped), bounded in time.
async fn next_message(ws: &mut Client) -> Message {
    next_message_of(ws).await
}

/// [`next_message`] of any stream of messages (the read half of a split client).
async fn next_message_of<S>(ws: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(LINE_DEADLINE, ws.next())
            .await
            .expect("a message in time")
            .expect("the stream ended")
            .expect("a read error");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

async fn next_text(ws: &mut Client) -> String {
    match next_message(ws).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Closes with 1000 and reads until the server's Close.
async fn close_cleanly(ws: &mut Client) -> Option<CloseFrame> {
    ws.close(Some(close_frame(1000, ""))).await.unwrap();
    loop {
        match next_message(ws).await {
            Message::Close(frame) => return frame,
            _ => continue,
        }
    }
}

fn local_port(ws: &Client) -> u16 {
    match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap().port(),
        _ => unreachable!("plain connections only"),
    }
}

#[tokio::test]
async fn echo_returns_text_and_binary_unchanged() {
    let mut server = Listener::start(&["0", "--echo"]).await;
    let mut ws = connect(&server.url).await;
    let sent = vec![
        Message::text("héllo wörld"),
        Message::binary(vec![0u8, 159, 255, 10, 13]),
        Message::text(""),
        Message::binary(Vec::new()),
    ];
    for message in &sent {
        ws.send(message.clone()).await.unwrap();
    }
    for message in &sent {
        assert_eq!(&next_message(&mut ws).await, message);
    }
    assert_eq!(
        close_cleanly(&mut ws).await.map(|f| u16::from(f.code)),
        Some(1000)
    );
    server.stderr_until("client 1 disconnected (1000)").await;
    server.interrupt();
    let (code, stdout, rest) = server.finish().await;
    // An echo server keeps stdout for -o events; what clients send goes back to them.
    assert_eq!(stdout, "");
    assert_eq!(rest, Vec::<String>::new());
    assert_eq!(code, 130);
}

#[tokio::test]
async fn once_echo_serves_a_wspipe_client_then_exits_0() {
    // The README's quick start, on port 0.
    let mut server = Listener::start(&["0", "--echo", "--once"]).await;
    server.close_stdin();
    let client = run(&["connect", &server.url], b"hello\n").await;
    assert_eq!(client.stdout(), "hello\n", "stderr: {}", client.stderr);
    assert_eq!(client.code, 0);
    let connected = server.stderr_line().await;
    assert!(
        connected.starts_with("client 1 connected from 127.0.0.1:") && connected.ends_with(" to /"),
        "{connected}"
    );
    let (code, stdout, rest) = server.finish().await;
    assert_eq!(rest, vec!["client 1 disconnected (1000)"]);
    assert_eq!(stdout, "");
    assert_eq!(code, 0);
}

#[tokio::test]
async fn once_exits_with_the_status_of_its_connection() {
    let server = Listener::start(&["0", "--once"]).await;
    let mut ws = connect(&server.url).await;
    ws.send(Message::text("last words")).await.unwrap();
    ws.close(Some(close_frame(4000, "bye"))).await.unwrap();
    assert!(matches!(next_message(&mut ws).await, Message::Close(_)));
    // Nobody else is served.
    assert!(tokio_tungstenite::connect_async(&server.url).await.is_err());
    let (code, stdout, rest) = server.finish().await;
    assert_eq!(stdout, "last words\n");
    assert_eq!(
        rest[1..],
        [
            "client 1 disconnected (4000: bye)",
            "error: the peer closed the connection with code 4000: bye"
        ]
    );
    assert_eq!(code, 5);
}

#[tokio::test]
async fn prints_what_clients_send_as_records() {
    let mut server = Listener::start(&["0", "-o", "json"]).await;
    let client = run(&["send", &server.url, "plain", "{ \"n\" : 1 }"], b"").await;
    assert_eq!(client.code, 0, "stderr: {}", client.stderr);
    server.stderr_until("client 1 disconnected (1000)").await;
    server.interrupt();
    let (code, stdout, _) = server.finish().await;
    assert_eq!(stdout, "\"plain\"\n{\"n\":1}\n");
    assert_eq!(code, 130);
}

#[tokio::test]
async fn events_carry_client_ids_and_the_peer() {
    let mut server = Listener::start(&["0", "-o", "events"]).await;
    let mut first = connect(&format!("{}/a?x=1", server.url)).await;
    let first_port = local_port(&first);
    let open = server.stdout_line().await;
    let mut second = connect(&format!("{}/b", server.url)).await;
    let second_port = local_port(&second);
    let open2 = server.stdout_line().await;
    first.send(Message::text("one")).await.unwrap();
    assert_eq!(
        server.stdout_line().await,
        r#"{"event":"text","client":1,"data":"one"}"#
    );
    second.send(Message::binary(vec![0xffu8])).await.unwrap();
    assert_eq!(
        server.stdout_line().await,
        r#"{"event":"binary","client":2,"data":"/w=="}"#
    );
    close_cleanly(&mut first).await;
    assert_eq!(
        server.stdout_line().await,
        r#"{"event":"close","client":1,"code":1000,"reason":""}"#
    );
    drop(second);
    assert_eq!(
        server.stdout_line().await,
        r#"{"event":"error","client":2,"message":"the connection ended without a close frame"}"#
    );
    let url = &server.url;
    assert_eq!(
        open,
        format!(
            r#"{{"event":"open","client":1,"url":"{url}/a?x=1","protocol":null,"peer":"127.0.0.1:{first_port}"}}"#
        )
    );
    assert_eq!(
        open2,
        format!(
            r#"{{"event":"open","client":2,"url":"{url}/b","protocol":null,"peer":"127.0.0.1:{second_port}"}}"#
        )
    );
    server.interrupt();
    let seen = server.stderr_seen.len();
    let (code, stdout, rest) = server.finish().await;
    // With -o events, connects and disconnects are events, not stderr lines.
    assert_eq!((seen, stdout.as_str(), rest), (1, "", vec![]));
    assert_eq!(code, 130);
}

#[tokio::test]
async fn stdin_records_reach_every_client() {
    let mut server = Listener::start(&["0"]).await;
    let mut a = connect(&server.url).await;
    let mut b = connect(&format!("{}/elsewhere", server.url)).await;
    server.stderr_until("client 1 connected").await;
    server.stderr_until("client 2 connected").await;
    server.write_stdin(b"one\ntwo\n").await;
    for ws in [&mut a, &mut b] {
        assert_eq!(next_text(ws).await, "one");
        assert_eq!(next_text(ws).await, "two");
    }
    // The end of stdin closes nobody.
    server.close_stdin();
    a.send(Message::text("still here")).await.unwrap();
    assert_eq!(server.stdout_line().await, "still here");
    for ws in [&mut a, &mut b] {
        close_cleanly(ws).await;
    }
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn ctrl_c_closes_every_client_with_1001_then_exits_130() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let mut clients = Vec::new();
    for path in ["/room/a", "/room/a", "/room/b"] {
        clients.push(connect(&format!("{}{path}", server.url)).await);
    }
    for id in 1..=3 {
        server.stderr_until(&format!("client {id} connected")).await;
    }
    server.interrupt();
    for ws in &mut clients {
        match next_message(ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1001);
                assert_eq!(frame.reason.as_str(), "server shutting down");
            }
            other => panic!("expected Close 1001, got {other:?}"),
        }
    }
    let (code, stdout, mut rest) = server.finish().await;
    rest.sort();
    assert_eq!(
        rest,
        [
            "client 1 closed (1001)",
            "client 2 closed (1001)",
            "client 3 closed (1001)"
        ]
    );
    assert_eq!(stdout, "");
    assert_eq!(code, 130);
}

#[tokio::test]
async fn stdin_piped_before_the_first_client_waits_for_it() {
    let mut server = Listener::start(&["0", "-i", "json"]).await;
    server.write_stdin(b"{ \"early\" : true }\n").await;
    server.close_stdin();
    let mut ws = connect(&server.url).await;
    assert_eq!(next_text(&mut ws).await, r#"{"early":true}"#);
    close_cleanly(&mut ws).await;
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

/// As the README says: a record read while nobody is connected goes to the first
/// client only; once clients are there, each record goes to all of them.
#[tokio::test]
async fn a_record_read_with_no_client_goes_to_the_first_client_only() {
    let mut server = Listener::start(&["0"]).await;
    server.write_stdin(b"early\n").await;
    let mut first = connect(&server.url).await;
    assert_eq!(next_text(&mut first).await, "early");
    let mut second = connect(&server.url).await;
    server.stderr_until("client 2 connected").await;
    server.write_stdin(b"later\n").await;
    assert_eq!(next_text(&mut first).await, "later");
    // "early" is not replayed to the second client: its first message is "later".
    assert_eq!(next_text(&mut second).await, "later");
    close_cleanly(&mut first).await;
    close_cleanly(&mut second).await;
    server.interrupt();
}

#[tokio::test]
async fn invalid_stdin_record_closes_clients_after_what_came_before_and_exits_65() {
    let mut server = Listener::start(&["0", "-i", "json"]).await;
    let mut ws = connect(&server.url).await;
    server.stderr_until("client 1 connected").await;
    server.write_stdin(b"[1, 2]\nnot json\n\"never\"\n").await;
    assert_eq!(next_text(&mut ws).await, "[1,2]");
    match next_message(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected Close 1000, got {other:?}"),
    }
    let (code, _, rest) = server.finish().await;
    assert_eq!(
        rest,
        [
            "client 1 closed (1000) after an invalid stdin record",
            "error: stdin line 2: not valid JSON (expected ident at column 2); nothing from here on was sent"
        ]
    );
    assert_eq!(code, 65);
}

#[tokio::test]
async fn broadcast_reaches_every_other_client_in_the_room_and_no_other_room() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let lobby = format!("{}/room/lobby", server.url);
    let mut a = connect(&lobby).await;
    let mut b = connect(&lobby).await;
    let mut c = connect(&lobby).await;
    let mut other = connect(&format!("{}/room/other", server.url)).await;
    for id in 1..=4 {
        server.stderr_until(&format!("client {id} connected")).await;
    }
    a.send(Message::text("from a")).await.unwrap();
    a.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    for ws in [&mut b, &mut c] {
        assert_eq!(next_text(ws).await, "from a");
        assert_eq!(next_message(ws).await, Message::binary(vec![1u8, 2, 3]));
    }
    other.send(Message::text("from other")).await.unwrap();
    assert_eq!(server.stdout_line().await, "from a");
    // stdout: "from a", the binary's raw bytes then "from other" on the same line.
    let rest = server.stdout_line().await;
    assert_eq!(rest, "\u{1}\u{2}\u{3}from other");
    // Everything is queued per client in order: had the sender or the other room
    // been sent "from a" (or b and c "from other"), it would come before this.
    server.write_stdin(b"marker\n").await;
    for ws in [&mut a, &mut b, &mut c, &mut other] {
        assert_eq!(next_text(ws).await, "marker");
    }
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn wspipe_clients_chat_through_a_broadcast_room() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let room = format!("{}/room/x", server.url);
    let mut listener_client = wspipe_command(&["connect", "-n", "--count", "1", &room])
        .spawn()
        .unwrap();
    server.stderr_until("client 1 connected").await;
    let sender = run(&["send", &room, "hi from wspipe"], b"").await;
    assert_eq!(sender.code, 0, "{}", sender.stderr);
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(listener_client.stdout.as_mut().unwrap(), &mut out)
        .await
        .unwrap();
    let status = tokio::time::timeout(LINE_DEADLINE, listener_client.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, "hi from wspipe\n");
    assert_eq!(status.code(), Some(0));
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn stalled_client_is_closed_with_1008_without_delaying_a_healthy_one() {
    let mut server = Listener::start(&["0"]).await;
    // A client that completes the handshake and then never reads; a small receive
    // buffer so the kernel does not absorb megabytes for it.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (stalled, _) = tokio_tungstenite::client_async(server.url.as_str(), tcp)
        .await
        .unwrap();
    let mut healthy = connect(&server.url).await;
    server.stderr_until("client 1 connected").await;
    server.stderr_until("client 2 connected").await;

    const LINES: usize = 20_000;
    let line = "x".repeat(1000);
    let mut input = String::with_capacity(LINES * 1001);
    for _ in 0..LINES {
        input.push_str(&line);
        input.push('\n');
    }
    let started = Instant::now();
    let writer = {
        let mut stdin = server.take_stdin();
        tokio::spawn(async move {
            tokio::io::AsyncWriteExt::write_all(&mut stdin, input.as_bytes())
                .await
                .unwrap();
        })
    };
    for i in 0..LINES {
        let text = next_text(&mut healthy).await;
        assert_eq!(text.len(), 1000, "message {i}");
    }
    let elapsed = started.elapsed();
    writer.await.unwrap();
    let line = server.stderr_until("client 1 ").await;
    assert_eq!(
        line,
        "client 1 too slow: more than 4096 messages or 8 MiB waiting; closed with 1008"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "the healthy client took {elapsed:?}"
    );
    eprintln!("healthy client: {LINES} messages of 1000 bytes in {elapsed:?} beside a stalled one");
    drop(stalled);
    close_cleanly(&mut healthy).await;
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn hundred_clients_each_echo_a_thousand_messages_none_lost() {
    const CLIENTS: usize = 100;
    const MESSAGES: usize = 1000;
    let server = Listener::start(&["0", "--echo", "-q"]).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let url = format!("{}/c{c}", server.url);
        tasks.push(tokio::spawn(async move {
            let ws = connect(&url).await;
            let (mut tx, mut rx) = ws.split();
            let sender = tokio::spawn(async move {
                for i in 0..MESSAGES {
                    tx.feed(Message::text(format!("{c}:{i}"))).await.unwrap();
                }
                tx.flush().await.unwrap();
                tx
            });
            for i in 0..MESSAGES {
                let message = tokio::time::timeout(LINE_DEADLINE, rx.next())
                    .await
                    .expect("an echo in time")
                    .unwrap()
                    .unwrap();
                assert_eq!(message, Message::text(format!("{c}:{i}")));
            }
            let mut tx = sender.await.unwrap();
            tx.send(Message::Close(None)).await.unwrap();
            while let Some(Ok(message)) = rx.next().await {
                if message.is_close() {
                    break;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let rss = server.peak_rss_kib();
    eprintln!(
        "{CLIENTS} clients x {MESSAGES} echoed messages: {elapsed:?}, server peak RSS {} KiB",
        rss.map_or("?".to_string(), |k| k.to_string())
    );
    server.interrupt();
    let (code, stdout, _) = server.finish().await;
    assert_eq!(stdout, "");
    assert_eq!(code, 130);
}

#[tokio::test]
async fn max_clients_refuses_the_next_one_with_503() {
    let mut server = Listener::start(&["0", "--max-clients", "1"]).await;
    let mut first = connect(&server.url).await;
    server.stderr_until("client 1 connected").await;
    match tokio_tungstenite::connect_async(&server.url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    let refused = server.stderr_until("connection from").await;
    assert!(
        refused.ends_with(": refused with HTTP 503: too many clients (--max-clients)"),
        "{refused}"
    );
    close_cleanly(&mut first).await;
    server.stderr_until("client 1 disconnected").await;
    // The slot is free again.
    let mut third = connect(&server.url).await;
    server.stderr_until("client 2 connected").await;
    close_cleanly(&mut third).await;
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn subprotocol_is_picked_from_the_accepted_list() {
    let mut server =
        Listener::start(&["0", "--subprotocol", "chat.v2", "--subprotocol", "chat.v1"]).await;
    let client = run(
        &[
            "connect",
            "-o",
            "events",
            "--subprotocol",
            "nope",
            "--subprotocol",
            "chat.v1",
            &server.url,
        ],
        b"",
    )
    .await;
    assert_eq!(client.code, 0, "{}", client.stderr);
    let open = client.stdout().lines().next().unwrap().to_string();
    assert_eq!(
        open,
        format!(
            r#"{{"event":"open","url":"{}/","protocol":"chat.v1"}}"#,
            server.url
        )
    );
    let connected = server.stderr_until("client 1 connected").await;
    assert!(
        connected.ends_with(" to / (subprotocol: chat.v1)"),
        "{connected}"
    );
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn message_over_max_message_size_closes_with_1009() {
    let mut server = Listener::start(&["0", "--max-message-size", "10"]).await;
    let mut ws = connect(&server.url).await;
    ws.send(Message::text("0123456789")).await.unwrap();
    ws.send(Message::text("0123456789a")).await.unwrap();
    match next_message(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected Close 1009, got {other:?}"),
    }
    assert_eq!(server.stdout_line().await, "0123456789");
    let line = server.stderr_until("client 1 disconnected").await;
    assert_eq!(
        line,
        "client 1 disconnected: received a message of 11 bytes, larger than --max-message-size (10 bytes); closed with 1009"
    );
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn bad_addr_is_a_usage_error() {
    let out = run(&["listen", "nine"], b"").await;
    assert_eq!(
        out.stderr,
        "error: invalid address 'nine': the port must be a number from 0 to 65535 (try 9001, 127.0.0.1:9001 or [::1]:9001)\n"
    );
    assert_eq!(out.code, 2);
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["listen", &addr], b"").await;
    assert_eq!(
        out.stderr,
        format!("error: cannot listen on {addr}: the address is already in use\n")
    );
    assert_eq!(out.code, 1);
}

#[tokio::test]
async fn tls_serves_wss_with_the_given_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut server = Listener::start(&[
        "0",
        "--echo",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ])
    .await;
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let url = format!("wss://localhost:{}/secure", server.addr.port());
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(
            config,
        ))),
    )
    .await
    .unwrap();
    ws.send(Message::text("over tls")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "over tls");
    close_cleanly(&mut ws).await;
    server.stderr_until("client 1 disconnected (1000)").await;
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn unusable_tls_files_are_usage_errors() {
    let out = run(
        &[
            "listen",
            "0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.pem",
        ],
        b"",
    )
    .await;
    assert_eq!(
        out.stderr,
        "error: cannot use /nonexistent.pem: no such file\n"
    );
    assert_eq!(out.code, 2);
}

/// Python's `websockets` as an independent client. Skipped (with a note) when it
/// is not importable.
#[tokio::test]
async fn interop_python_websockets_client_gets_echoes_and_stdin() {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import websockets.sync.client"])
        .output()
        .await;
    if !probe.is_ok_and(|p| p.status.success()) {
        eprintln!("note: skipped: python3 with `websockets` (>= 11) is not available");
        return;
    }
    let mut server = Listener::start(&["0", "--echo"]).await;
    let script = r#"
import sys
from websockets.sync.client import connect
with connect(sys.argv[1] + "/py", open_timeout=10) as ws:
    print(ws.recv(timeout=10), flush=True)
    ws.send("text from python")
    print(ws.recv(timeout=10))
    ws.send(b"\x00\xffbytes")
    print(repr(ws.recv(timeout=10)))
"#;
    let python = tokio::process::Command::new("python3")
        .args(["-c", script, &server.url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    server.stderr_until("client 1 connected").await;
    server.write_stdin(b"from wspipe stdin\n").await;
    let output = tokio::time::timeout(LINE_DEADLINE, python.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "from wspipe stdin\ntext from python\nb'\\x00\\xffbytes'\n",
        "python stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success());
    assert_eq!(
        server.stderr_until("client 1 disconnected").await,
        "client 1 disconnected (1000)"
    );
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_two_thousand_connections_is_served() {
    const CLIENTS: usize = 2000;
    crate::common::raise_fd_limit(2 * CLIENTS as u64 + 256);
    let server = Listener::start(&["0", "--echo", "-q"]).await;
    // All at once: more SYNs than mio's default backlog of 128 could hold.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let url = format!("{}/burst", server.url);
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let started = Instant::now();
            let mut ws = connect(&url).await;
            let took = started.elapsed();
            ws.send(Message::text(format!("client {c}"))).await.unwrap();
            let echo = next_message(&mut ws).await;
            let _ = ws.close(None).await;
            (echo == Message::text(format!("client {c}")), took)
        }));
    }
    let (mut served, mut slowest) = (0, Duration::ZERO);
    for task in tasks {
        let (echoed, took) = task.await.unwrap();
        served += usize::from(echoed);
        slowest = slowest.max(took);
    }
    assert_eq!(served, CLIENTS);
    // Not asserted (timing): a backlog too short shows as a slowest handshake of
    // over a second, the SYN retransmission delay.
    eprintln!("{CLIENTS} connections at once: slowest handshake {slowest:?}");
    server.interrupt();
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_of_a_hundred_thousand_messages_in_order() {
    const MESSAGES: usize = 100_000;
    let server = Listener::start(&["0", "--echo", "-q"]).await;
    let ws = connect(&server.url).await;
    let (mut tx, mut rx) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            tx.feed(Message::text(format!("{{\"id\":{i}}}")))
                .await
                .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    let mut counted = 0;
    while counted < MESSAGES {
        let message = next_message_of(&mut rx).await;
        assert_eq!(message, Message::text(format!("{{\"id\":{counted}}}")));
        counted += 1;
    }
    let mut tx = sender.await.unwrap();
    tx.send(Message::Close(None)).await.unwrap();
    assert!(next_message_of(&mut rx).await.is_close());
    server.interrupt();
}

#[tokio::test(flavor = "multi_thread")]
async fn broadcast_of_a_hundred_thousand_reaches_everyone_but_a_stalled_client() {
    const MESSAGES: usize = 100_000;
    // 100 bytes each: 10 MB in all, more than the kernel buffers of the stalled
    // client's socket can absorb, so its backlog grows on the server.
    let message = |i: usize| format!("m-{i:0>98}");
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let room = format!("{}/room/big", server.url);
    // The server prints every message it relays: count them as they come.
    let mut stdout = server.take_stdout();
    let printed = tokio::spawn(async move {
        let mut n = 0;
        while let Ok(Some(line)) = stdout.next_line().await {
            assert_eq!(line, message(n));
            n += 1;
        }
        n
    });
    // Joins the room and never reads, with a small receive buffer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (stalled, _) = tokio_tungstenite::client_async(room.as_str(), tcp)
        .await
        .unwrap();
    let receivers: Vec<_> = [connect(&room).await, connect(&room).await]
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                for i in 0..MESSAGES {
                    assert_eq!(next_text(&mut ws).await, message(i));
                }
                close_cleanly(&mut ws).await;
            })
        })
        .collect();
    let mut sender = connect(&room).await;
    for n in 1..=4 {
        server.stderr_until(&format!("client {n} connected")).await;
    }
    for i in 0..MESSAGES {
        sender.feed(Message::text(message(i))).await.unwrap();
    }
    sender.flush().await.unwrap();
    for receiver in receivers {
        receiver.await.unwrap();
    }
    let line = server.stderr_until("client 1 ").await;
    assert_eq!(
        line,
        "client 1 too slow: more than 4096 messages or 8 MiB waiting; closed with 1008"
    );
    close_cleanly(&mut sender).await;
    drop(stalled);
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
    assert_eq!(printed.await.unwrap(), MESSAGES);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_20_mib_echo_reaches_a_client_that_takes_frames_of_16_mib_at_most() {
    // tungstenite's default limit on one frame is 16 MiB: wspipe sends large
    // messages in fragments (which also keeps its own write buffer small).
    let server = Listener::start(&["0", "--echo", "-q"]).await;
    let mut ws = connect(&server.url).await;
    let payload: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(payload.clone())).await.unwrap();
    match next_message(&mut ws).await {
        Message::Binary(data) => assert!(data == payload, "the echo differs"),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    close_cleanly(&mut ws).await;
    server.interrupt();
}

#[tokio::test]
async fn allow_origin_refuses_other_browser_origins_with_403() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut server =
        Listener::start(&["0", "--echo", "--allow-origin", "https://app.example"]).await;
    let with_origin = |origin: &str| {
        let mut request = server.url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    // The allowed origin (case and a trailing slash aside) gets in and is echoed.
    let (mut ws, _) = tokio_tungstenite::connect_async(with_origin("https://APP.example/"))
        .await
        .unwrap();
    ws.send(Message::text("ok")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "ok");
    close_cleanly(&mut ws).await;
    // Another page's origin: HTTP 403, and the log says why.
    match tokio_tungstenite::connect_async(with_origin("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    let line = server.stderr_until("evil").await;
    assert!(
        line.ends_with(
            "refused with HTTP 403: origin https://evil.example is not allowed (--allow-origin)"
        ),
        "{line}"
    );
    // A client that sends no Origin (not a browser) is let in.
    let mut ws = connect(&server.url).await;
    ws.send(Message::text("cli")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "cli");
    close_cleanly(&mut ws).await;
    server.interrupt();
}

#[tokio::test]
async fn auth_and_bearer_let_in_only_clients_with_the_secret() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut server =
        Listener::start(&["0", "--echo", "--auth", "alice:s3cret", "--bearer", "t0ken"]).await;
    let url = server.url.clone();
    let with_authorization = |value: Option<&str>| {
        let mut request = url.as_str().into_client_request().unwrap();
        if let Some(value) = value {
            request
                .headers_mut()
                .insert("authorization", value.parse().unwrap());
        }
        request
    };
    // No credentials, then wrong ones: HTTP 401 with both challenges, and a log line.
    for (value, why) in [
        (None, "no credentials (--auth or --bearer required)"),
        (
            Some("Bearer t0ke"),
            "wrong credentials (--auth or --bearer)",
        ),
        // alice:wrong
        (
            Some("Basic YWxpY2U6d3Jvbmc="),
            "wrong credentials (--auth or --bearer)",
        ),
    ] {
        match tokio_tungstenite::connect_async(with_authorization(value)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{value:?}");
                let challenges: Vec<_> = response
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .map(|v| v.to_str().unwrap().to_string())
                    .collect();
                assert_eq!(
                    challenges,
                    [
                        "Basic realm=\"wspipe\", charset=\"UTF-8\"",
                        "Bearer realm=\"wspipe\""
                    ]
                );
            }
            other => panic!("expected HTTP 401 for {value:?}, got {other:?}"),
        }
        let line = server.stderr_until("refused").await;
        assert!(
            line.ends_with(&format!("refused with HTTP 401: {why}")),
            "{line}"
        );
    }
    // The token lets in.
    let (mut ws, _) = tokio_tungstenite::connect_async(with_authorization(Some("Bearer t0ken")))
        .await
        .unwrap();
    ws.send(Message::text("with a token")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "with a token");
    close_cleanly(&mut ws).await;
    // So does wspipe's own --auth, and a wrong one is exit 3 naming the status.
    let out = run(
        &[
            "send",
            &server.url,
            "basic",
            "--wait",
            "1",
            "--auth",
            "alice:s3cret",
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "basic\n".to_string()),
        "{}",
        out.stderr
    );
    let out = run(&["send", &server.url, "basic", "--auth", "alice:nope"], b"").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    server.interrupt();
}

/// An independent client: Python `websockets` sends Basic credentials from the
/// URL's user info.
#[tokio::test]
async fn python_client_with_credentials_in_the_url_is_let_in() {
    let available = std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!("SKIP: python3 websockets not importable (pip install websockets)");
        return;
    }
    let mut server = Listener::start(&["0", "--echo", "--auth", "bob:pa:ss"]).await;
    let script = r#"
import sys
from websockets.sync.client import connect
from websockets.exceptions import InvalidStatus
host = sys.argv[1]
for userinfo in ["bob:pa:ss@", "bob:wrong@", ""]:
    try:
        with connect(f"ws://{userinfo}{host}/") as ws:
            ws.send("from python")
            print("echo:", ws.recv(timeout=10))
    except InvalidStatus as e:
        print("status:", e.response.status_code)
"#;
    let host = server.url.trim_start_matches("ws://").to_string();
    let out = tokio::time::timeout(
        LINE_DEADLINE,
        tokio::process::Command::new("python3")
            .args(["-c", script, &host])
            .output(),
    )
    .await
    .expect("python finished in time")
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "echo: from python\nstatus: 401\nstatus: 401\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stderr_until("wrong credentials (--auth)").await;
    server
        .stderr_until("no credentials (--auth required)")
        .await;
    server.interrupt();
}

/// `listen -v` shows each handshake on stderr, marked with the client number (or
/// the peer, for a refused one), credentials redacted.
#[tokio::test]
async fn verbose_listen_shows_each_handshake_marked_with_its_client() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut server =
        Listener::start(&["0", "-v", "--echo", "--allow-origin", "https://ok.example"]).await;
    let request = |path: &str, origin: &str| {
        let mut request = format!("{}{path}", server.url)
            .into_client_request()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        headers.insert("origin", origin.parse().unwrap());
        request
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(request("/room?x=1", "https://ok.example"))
        .await
        .unwrap();
    let refused = request("/", "https://evil.example");
    let mut lines = Vec::new();
    loop {
        let line = server.stderr_line().await;
        let done = line.starts_with("client 1 connected");
        lines.push(line);
        if done {
            break;
        }
    }
    assert_eq!(lines[0], "client 1 > GET /room?x=1 HTTP/1.1");
    for expected in [
        "client 1 > authorization: <redacted>",
        "client 1 > origin: https://ok.example",
        "client 1 < HTTP/1.1 101 Switching Protocols",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} in {lines:#?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("s3cret")), "{lines:#?}");
    close_cleanly(&mut ws).await;

    assert!(tokio_tungstenite::connect_async(refused).await.is_err());
    let line = server.stderr_until("< HTTP/1.1 403 Forbidden").await;
    assert!(line.starts_with("connection from 127.0.0.1:"), "{line}");
    assert!(line.ends_with(" < HTTP/1.1 403 Forbidden"), "{line}");
    server.interrupt();
}
