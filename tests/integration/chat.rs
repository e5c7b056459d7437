//! `wspipe chat` end to end: clients through `wspipe listen --broadcast`, rooms, the
//! wire format, typing indicators in a pty, and reconnection across a server restart.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{
    LINE_DEADLINE, Listener, TEST_DEADLINE, pty_command, pty_exit_code, run, spawn_pty,
    wspipe_command,
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A plain WebSocket client in a room: sees exactly what goes over the wire.
async fn plain_client(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(LINE_DEADLINE, ws.next())
            .await
            .expect("no message in time")
            .expect("stream ended")
            .unwrap();
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Asserts a chat message's exact wire form and returns its timestamp.
fn assert_message_json(json: &str, text: &str, user: &str) -> String {
    let pattern = format!(
        r#"^\{{"type":"message","text":"{text}","user":"{user}","timestamp":"(\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z)"\}}$"#
    );
    let captures = regex::Regex::new(&pattern)
        .unwrap()
        .captures(json)
        .unwrap_or_else(|| panic!("not the contract's message form: {json}"));
    captures[1].to_string()
}

#[tokio::test]
async fn message_reaches_the_room_rendered_with_the_senders_name_and_no_other_room() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let lobby = format!("{}/room/lobby", server.url);
    let mut bob = wspipe_command(&["chat", &server.url, "--room", "lobby", "--name", "bob"])
        .spawn()
        .unwrap();
    let mut wire = plain_client(&lobby).await;
    let mut elsewhere = plain_client(&format!("{}/room/other", server.url)).await;
    for n in 1..=3 {
        server.stderr_until(&format!("client {n} connected")).await;
    }

    let alice = run(
        &["chat", &server.url, "--room", "lobby", "--name", "alice"],
        b"hello bob\n\n",
    )
    .await;
    assert_eq!(alice.code, 0, "{}", alice.stderr);
    assert_eq!(alice.stdout(), "");

    let json = next_text(&mut wire).await;
    let timestamp = assert_message_json(&json, "hello bob", "alice");
    let mut bob_out = BufReader::new(bob.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(LINE_DEADLINE, bob_out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(line, format!("[{}] alice: hello bob", &timestamp[11..16]));

    // The other room hears its own traffic, and alice's message never came first.
    let carol = run(
        &["chat", &server.url, "--room", "other", "--name", "carol"],
        b"only here\n",
    )
    .await;
    assert_eq!(carol.code, 0, "{}", carol.stderr);
    assert_message_json(&next_text(&mut elsewhere).await, "only here", "carol");

    // Bob leaves cleanly when his input ends.
    drop(bob.stdin.take());
    let status = tokio::time::timeout(LINE_DEADLINE, bob.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        tokio::time::timeout(LINE_DEADLINE, bob_out.next_line())
            .await
            .unwrap()
            .unwrap(),
        None,
        "bob printed nothing else (carol was in another room)"
    );
    server.interrupt();
    assert_eq!(server.finish().await.0, 130);
}

#[tokio::test]
async fn json_output_is_the_wire_messages_and_typing_is_left_out_of_text() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let room = format!("{}/room/r", server.url);
    let mut reader_json = wspipe_command(&["chat", &room, "-o", "json"])
        .spawn()
        .unwrap();
    let mut reader_text = wspipe_command(&["chat", &room]).spawn().unwrap();
    let mut wire = plain_client(&room).await;
    for n in 1..=3 {
        server.stderr_until(&format!("client {n} connected")).await;
    }
    let typing = r#"{"type":"typing","isTyping":true,"user":"dan"}"#;
    let message =
        r#"{"type":"message","text":"hi","user":"dan","timestamp":"2026-11-24T10:00:00.000Z"}"#;
    for text in [typing, "not chat at all", message] {
        wire.send(Message::text(text)).await.unwrap();
    }
    wire.close(None).await.unwrap();

    let mut json_out = BufReader::new(reader_json.stdout.take().unwrap()).lines();
    let mut text_out = BufReader::new(reader_text.stdout.take().unwrap()).lines();
    for expected in [typing, "\"not chat at all\"", message] {
        let line = tokio::time::timeout(LINE_DEADLINE, json_out.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line.as_deref(), Some(expected));
    }
    for expected in ["not chat at all", "[10:00] dan: hi"] {
        let line = tokio::time::timeout(LINE_DEADLINE, text_out.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line.as_deref(), Some(expected));
    }
    for child in [&mut reader_json, &mut reader_text] {
        drop(child.stdin.take());
        let status = tokio::time::timeout(LINE_DEADLINE, child.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
    server.interrupt();
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_in_a_pty_is_sent_and_typing_from_others_is_shown() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let room = format!("{}/room/lobby", server.url);
    let mut wire = plain_client(&room).await;
    server.stderr_until("client 1 connected").await;

    let home = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    let home_path = home.path().to_path_buf();
    let (typed_tx, typed_rx) = std::sync::mpsc::channel::<()>();
    let (shown_tx, mut shown_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let pty = tokio::task::spawn_blocking(move || {
        let cmd = pty_command(
            &["chat", &url, "--room", "lobby", "--name", "alice"],
            &home_path,
        );
        let mut chat = spawn_pty(cmd);
        chat.exp_string("alice> ").unwrap();
        shown_tx.send("prompt").unwrap();
        // bob starts typing: shown on alice's prompt line.
        // (rexpect reads bytes as Latin-1: the `…` does not match as text.)
        chat.exp_string("bob is typing").unwrap();
        shown_tx.send("typing shown").unwrap();
        // bob stops: the prompt is drawn again without it.
        chat.exp_string(&format!("alice> {}", " ".repeat(32)))
            .unwrap();
        shown_tx.send("typing cleared").unwrap();
        typed_rx.recv().unwrap();
        chat.send("hi").unwrap();
        chat.flush().unwrap();
        typed_rx.recv().unwrap();
        chat.send_line(" bob").unwrap();
        typed_rx.recv().unwrap();
        chat.send_control('d').unwrap();
        pty_exit_code(&mut chat)
    });
    let mut expect_shown = async |what: &str| {
        let got = tokio::time::timeout(TEST_DEADLINE, shown_rx.recv()).await;
        assert_eq!(got.ok().flatten(), Some(what), "waiting for {what}");
    };

    expect_shown("prompt").await;
    server.stderr_until("client 2 connected").await;
    let bob_typing = |on: bool| format!(r#"{{"type":"typing","isTyping":{on},"user":"bob"}}"#);
    wire.send(Message::text(bob_typing(true))).await.unwrap();
    expect_shown("typing shown").await;
    wire.send(Message::text(bob_typing(false))).await.unwrap();
    expect_shown("typing cleared").await;

    // alice types: one typing:true, then on Enter the message and typing:false.
    typed_tx.send(()).unwrap();
    assert_eq!(
        next_text(&mut wire).await,
        r#"{"type":"typing","isTyping":true,"user":"alice"}"#
    );
    typed_tx.send(()).unwrap();
    assert_message_json(&next_text(&mut wire).await, "hi bob", "alice");
    assert_eq!(
        next_text(&mut wire).await,
        r#"{"type":"typing","isTyping":false,"user":"alice"}"#
    );
    typed_tx.send(()).unwrap();
    let code = tokio::time::timeout(TEST_DEADLINE, pty)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    server.interrupt();
    server.finish().await;
}

#[tokio::test]
async fn lines_entered_while_the_server_is_down_arrive_after_it_restarts() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let port = server.addr.port().to_string();
    let mut alice = wspipe_command(&["chat", &server.url, "--room", "r", "--name", "alice"])
        .spawn()
        .unwrap();
    let mut stdin = alice.stdin.take().unwrap();
    let mut stderr = BufReader::new(alice.stderr.take().unwrap()).lines();
    server.stderr_until("client 1 connected").await;
    stdin.write_all(b"before\n").await.unwrap();
    stdin.flush().await.unwrap();
    assert_message_json(&server.stdout_line().await, "before", "alice");

    // The server dies without a Close; alice notices and starts reconnecting.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let reconnecting = tokio::time::timeout(LINE_DEADLINE, async {
        loop {
            let line = stderr
                .next_line()
                .await
                .unwrap()
                .expect("alice's stderr ended");
            if line.contains("reconnecting in") {
                return line;
            }
        }
    })
    .await
    .expect("no reconnecting line");
    assert!(
        reconnecting.starts_with("connection lost") || reconnecting.contains("without a close"),
        "{reconnecting}"
    );

    const DURING: usize = 50;
    for i in 0..DURING {
        stdin
            .write_all(format!("during-{i}\n").as_bytes())
            .await
            .unwrap();
    }
    stdin.flush().await.unwrap();

    let mut restarted = Listener::start(&[&port, "--broadcast"]).await;
    restarted.stderr_until("client 1 connected").await;
    for i in 0..DURING {
        let json = restarted.stdout_line().await;
        assert_message_json(&json, &format!("during-{i}"), "alice");
    }
    drop(stdin);
    let status = tokio::time::timeout(LINE_DEADLINE, alice.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    restarted.interrupt();
    let (_, rest, _) = restarted.finish().await;
    assert_eq!(rest, "", "nothing but the lines, once each");
}

#[tokio::test]
async fn empty_name_is_a_usage_error() {
    let out = run(&["chat", "ws://127.0.0.1:9", "--name", " "], b"").await;
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr, "error: --name must not be empty\n");
}

/// Typing indicators made while disconnected are stale by the time the
/// connection is back: after the reconnect the queued message goes first, then the
/// current typing state once, never the old starts and stops.
#[tokio::test(flavor = "multi_thread")]
async fn after_a_reconnect_only_the_current_typing_state_is_sent() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let port = server.addr.port().to_string();
    let home = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    let home_path = home.path().to_path_buf();
    let (step_tx, step_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let pty = tokio::task::spawn_blocking(move || {
        let cmd = pty_command(
            &["chat", &url, "--room", "r", "--name", "alice"],
            &home_path,
        );
        let mut chat = spawn_pty(cmd);
        chat.exp_string("alice> ").unwrap();
        done_tx.send("prompt").unwrap();
        step_rx.recv().unwrap();
        chat.exp_string("reconnecting in").unwrap();
        // While disconnected: start typing, send, start typing again.
        chat.send("hel").unwrap();
        chat.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        chat.send_line("lo").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        chat.send("wor").unwrap();
        chat.flush().unwrap();
        done_tx.send("typed").unwrap();
        step_rx.recv().unwrap();
        chat.send_control('c').unwrap();
        chat.send_control('d').unwrap();
        pty_exit_code(&mut chat)
    });
    let expect = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>, what| {
        let got = tokio::time::timeout(TEST_DEADLINE, rx.recv()).await;
        assert_eq!(got.ok().flatten(), Some(what));
    };
    expect(&mut done_rx, "prompt").await;
    server.stderr_until("client 1 connected").await;
    // The server dies without a Close; alice starts reconnecting.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    step_tx.send(()).unwrap();
    expect(&mut done_rx, "typed").await;

    let mut restarted = Listener::start(&[&port, "--broadcast"]).await;
    restarted.stderr_until("client 1 connected").await;
    assert_message_json(&restarted.stdout_line().await, "hello", "alice");
    let state = restarted.stdout_line().await;
    assert!(
        state == r#"{"type":"typing","isTyping":true,"user":"alice"}"#
            || state == r#"{"type":"typing","isTyping":false,"user":"alice"}"#,
        "{state}"
    );
    step_tx.send(()).unwrap();
    let code = tokio::time::timeout(TEST_DEADLINE, pty)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    restarted.interrupt();
    let (_, rest, _) = restarted.finish().await;
    // Ctrl-C cleared the typed text; at most the idle stop follows.
    assert!(
        rest.is_empty() || rest == "{\"type\":\"typing\",\"isTyping\":false,\"user\":\"alice\"}\n",
        "{rest}"
    );
}
