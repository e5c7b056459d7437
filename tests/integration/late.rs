//! Replies after stdin EOF, against servers nobody here wrote that answer late:
//! Python `websockets` handlers that await before replying and Node `ws` replying
//! from a `setTimeout`. Such servers stop sending once they read our Close, so
//! wspipe lingers after EOF until the peer has been quiet (`--linger`), and
//! `--linger 0` shows what closing at once loses.

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::Message;

use crate::common::peers::{node_server, python_server};
use crate::common::{Behaviour, TestServer, numbered_lines, run};

#[tokio::test]
async fn one_shot_gets_the_reply_of_a_python_handler_that_awaits_first() {
    let Some(server) = python_server().await else {
        return;
    };
    // sleep(0): one turn of the event loop, enough for the Close to win.
    for path in ["late/0", "late/300"] {
        let url = format!("{}/{path}", server.url);
        let out = run(&["connect", &url], b"hi\n").await;
        assert_eq!(
            (out.code, out.stdout(), out.stderr.as_str()),
            (0, "hi\n".to_string(), ""),
            "{path}"
        );
    }
}

#[tokio::test]
async fn ten_thousand_lines_all_answered_in_order_by_python() {
    let Some(server) = python_server().await else {
        return;
    };
    let input = numbered_lines(10_000);
    let out = run(&["connect", &format!("{}/late/0", server.url)], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.len(), input.len(), "{}", out.stderr);
    assert!(out.stdout == input, "replies out of order");
}

#[tokio::test]
async fn linger_restarts_with_every_reply() {
    let Some(server) = python_server().await else {
        return;
    };
    // Replies at 400 ms, 800 ms, ... 2 s after EOF: each comes within the 1 s
    // linger of the one before, though the last comes long after the first linger.
    let out = run(
        &[
            "connect",
            "--linger",
            "1s",
            &format!("{}/late/400", server.url),
        ],
        b"1\n2\n3\n4\n5\n",
    )
    .await;
    assert_eq!((out.code, out.stdout()), (0, "1\n2\n3\n4\n5\n".to_string()));
}

#[tokio::test]
async fn send_without_wait_prints_the_late_replies() {
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/late/100", server.url);
    let out = run(&["send", &url, "one", "{\"two\":2}"], b"").await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "one\n{\"two\":2}\n".to_string()),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn linger_0_closes_at_eof_and_a_late_reply_is_lost() {
    let Some(server) = python_server().await else {
        return;
    };
    // The documented immediate close: our Close follows "hi" at once, the handler
    // is still sleeping when it is read, and its reply can no longer be sent.
    let url = format!("{}/late/300", server.url);
    let started = Instant::now();
    let out = run(&["connect", "--linger", "0", &url], b"hi\n").await;
    assert_eq!(
        (out.code, out.stdout(), out.stderr.as_str()),
        (0, String::new(), "")
    );
    // Not a speed target: closing at once means not waiting for the handler.
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn node_ws_replies_from_set_timeout_all_arrive() {
    let Some(server) = node_server().await else {
        return;
    };
    let input = numbered_lines(100);
    let url = format!("{}/late/50", server.url);
    let out = run(&["connect", &url], &input).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout == input, "got {}", out.stdout());

    // The same with --linger 0: nothing comes back, the documented behaviour.
    let out = run(&["connect", "--linger", "0", &url], &input).await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, String::new()),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn echo_mirror_outlives_stdin_eof() {
    let Some(server) = python_server().await else {
        return;
    };
    // The server speaks first, after longer than the linger, then checks that each
    // message came back and closes saying how many did.
    let url = format!("{}/push-late/1500/3", server.url);
    let out = run(&["connect", "--echo", "-o", "events", &url], b"").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events: Vec<serde_json::Value> = out
        .stdout()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let texts: Vec<_> = events.iter().filter(|e| e["event"] == "text").collect();
    assert_eq!(texts.len(), 3, "{events:?}");
    let close = events.last().unwrap();
    assert_eq!(
        (close["event"].as_str(), close["code"].as_u64()),
        (Some("close"), Some(1000))
    );
    assert_eq!(close["reason"], "echoed 3");
}

#[tokio::test]
async fn chat_without_a_terminal_waits_for_the_room_after_eof() {
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/late/0", server.url);
    let out = run(&["chat", "--name", "bot", "-o", "json", &url], b"hello\n").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stdout()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["user"].as_str(), lines[0]["text"].as_str()),
        (Some("bot"), Some("hello"))
    );
}

#[tokio::test]
async fn reconnect_does_not_dial_again_once_the_input_is_done() {
    // The peer closes after its reply, while wspipe lingers: the input is sent and
    // answered, so the session is over, not a dropped connection to redo.
    let server = TestServer::start(Behaviour::ReplyThenClose {
        reply: "done",
        code: 1000,
    })
    .await;
    let out = run(&["connect", "--reconnect", &server.url()], b"hi\n").await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "done\n".to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(server.observed.lock().unwrap().connections, 1);
}

#[tokio::test]
async fn count_prints_exactly_n_and_closes_at_once() {
    let server = TestServer::start(Behaviour::Push { count: 100_000 }).await;
    let out = run(&["connect", "--count", "3", &server.url()], b"").await;
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout(), "msg-0\nmsg-1\nmsg-2\n");
}

#[tokio::test]
async fn count_is_not_cut_short_by_stdin_eof() {
    // The server speaks only after longer than the linger.
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/push-late/1500/3", server.url);
    let out = run(&["connect", "--count", "2", &url], b"").await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "late-0\nlate-1\n".to_string()),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn timeout_writes_what_arrived_sends_close_timeout_and_exits_4() {
    let server = TestServer::start(Behaviour::SendAndRecord {
        messages: vec![Message::text("a"), Message::text("b")],
    })
    .await;
    let out = run(&["connect", "-n", "--timeout", "500ms", &server.url()], b"").await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.stdout(), "a\nb\n");
    assert_eq!(out.stderr, "error: timed out after 500ms (--timeout)\n");
    server
        .wait_until("the client's Close", |o| !o.closes.is_empty())
        .await;
    assert_eq!(server.closes(), vec![(1000, "timeout".to_string())]);
}

#[tokio::test]
async fn timeout_bounds_the_linger_of_a_chatty_peer() {
    // A peer that never stops sending keeps the linger going; --timeout still ends
    // the run, with a Close, and everything received before it is written.
    let server = TestServer::start(Behaviour::Push { count: 100_000_000 }).await;
    let started = Instant::now();
    let out = run(&["connect", "--timeout", "1s", &server.url()], b"").await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(5));
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("msg-{i}"));
    }
}

#[tokio::test]
async fn no_close_with_reconnect_still_redials_after_a_normal_close() {
    // -n is about what the peer sends next: a server that says goodbye normally
    // (a restart) is dialled again, stdin EOF or not.
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("x")],
        code: 1000,
        reason: "",
    })
    .await;
    let out = run(
        &[
            "connect",
            "-n",
            "--reconnect",
            "--count",
            "2",
            &server.url(),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "x\nx\n".to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(server.observed.lock().unwrap().connections, 2);
}
