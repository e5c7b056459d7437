//! The REPL of `wspipe connect` in a real pseudo-terminal, against a real server.
//! Each test runs its blocking pty conversation on a blocking thread, bounded by
//! the expectation timeouts and the test deadline.

use std::path::Path;

use rexpect::session::PtySession;

use crate::common::{Behaviour, TEST_DEADLINE, TestServer, pty_command, pty_exit_code, spawn_pty};
use tokio_tungstenite::tungstenite::Message;

/// Starts the REPL on `url` and waits for its first prompt.
fn start_repl(url: &str, home: &Path, extra: &[&str]) -> PtySession {
    let mut args = vec!["connect", url];
    args.extend_from_slice(extra);
    let mut repl = spawn_pty(pty_command(&args, home));
    repl.exp_string(&format!("connected to {url}")).unwrap();
    repl.exp_string("> ").unwrap();
    repl
}

/// Runs a blocking pty conversation without stalling the server's runtime.
async fn in_pty<T: Send + 'static>(conversation: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(TEST_DEADLINE, tokio::task::spawn_blocking(conversation))
        .await
        .expect("the pty conversation did not finish in time")
        .expect("the pty conversation panicked")
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_line_is_sent_and_its_echo_shown_as_received() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send_line("hello there").unwrap();
        repl.exp_string("< hello there").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["hello there"]);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn message_pushed_while_typing_leaves_the_typed_text_intact() {
    let server = std::sync::Arc::new(TestServer::start(Behaviour::EchoAndPush).await);
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let pusher = std::sync::Arc::clone(&server);
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send("hal").unwrap();
        repl.flush().unwrap();
        // The editor has drawn the half-typed line.
        repl.exp_string("hal").unwrap();
        pusher.push("pushed while typing");
        repl.exp_string("< pushed while typing").unwrap();
        // The prompt is drawn again below it, with what was typed.
        repl.exp_string("> hal").unwrap();
        repl.send_line("f").unwrap();
        repl.exp_string("< half").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["half"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_command_shows_the_pong_and_its_round_trip_time() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send_line("/ping are you there").unwrap();
        repl.exp_regex(r"< pong are you there \(\d+\.\d ms\)")
            .unwrap();
        repl.send_line("/quit").unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    // Control frames are not data messages.
    assert!(server.received_texts().is_empty());
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_command_sends_its_code_and_reason() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send_line("/close 4000 bye").unwrap();
        // The server answers with the same frame.
        repl.exp_string("connection closed: 4000 bye").unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.closes(), vec![(4000, "bye".to_string())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_survives_a_restart() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let codes = in_pty(move || {
        let mut first = start_repl(&url, &home_path, &[]);
        first.send_line("remember me").unwrap();
        first.exp_string("< remember me").unwrap();
        first.send_control('d').unwrap();
        let first_code = pty_exit_code(&mut first);

        let mut second = start_repl(&url, &home_path, &[]);
        // Up arrow recalls the line typed in the first session; Enter sends it.
        second.send("\x1b[A").unwrap();
        second.flush().unwrap();
        second.exp_string("remember me").unwrap();
        second.send_line("").unwrap();
        second.exp_string("< remember me").unwrap();
        second.send_control('d').unwrap();
        (first_code, pty_exit_code(&mut second))
    })
    .await;
    assert_eq!(codes, (0, 0));
    assert_eq!(server.received_texts(), vec!["remember me", "remember me"]);
    let history = std::fs::read_to_string(home.path().join("data/wspipe/history")).unwrap();
    assert!(
        history.lines().any(|line| line == "remember me"),
        "{history}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_history_writes_no_history_file() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &["--no-history"]);
        repl.send_line("secret").unwrap();
        repl.exp_string("< secret").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert!(!home.path().join("data/wspipe/history").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_on_an_empty_line_closes_with_1000_and_exits_130() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        // On a non-empty line Ctrl-C only clears it.
        repl.send("discarded").unwrap();
        repl.flush().unwrap();
        repl.exp_string("discarded").unwrap();
        repl.send_control('c').unwrap();
        repl.send_line("kept").unwrap();
        repl.exp_string("< kept").unwrap();
        repl.send_control('c').unwrap();
        repl.exp_string("connection closed: 1000").unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 130);
    assert_eq!(server.received_texts(), vec!["kept"]);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_close_ends_the_repl_with_the_contract_exit_code() {
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("{\"bye\":[1,2]}")],
        code: 4001,
        reason: "maintenance",
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = spawn_pty(pty_command(&["connect", &url, "--pretty"], &home_path));
        repl.exp_string("< {").unwrap();
        repl.exp_string("    \"bye\": [").unwrap();
        repl.exp_string("connection closed: 4001 maintenance")
            .unwrap();
        repl.exp_string("error: the peer closed the connection with code 4001: maintenance")
            .unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_and_file_commands_send_their_payloads() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("payload.txt");
    std::fs::write(&file, "from a file").unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send_line("/binary aGk=").unwrap();
        repl.exp_string("< binary, 2 bytes: aGk=").unwrap();
        repl.send_line(&format!("/file {}", file.display()))
            .unwrap();
        repl.exp_string("< from a file").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["binary:hi", "from a file"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tab_completes_slash_commands() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &[]);
        repl.send("/qu\t").unwrap();
        repl.flush().unwrap();
        repl.exp_string("/quit").unwrap();
        repl.send_line("").unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert!(server.received_texts().is_empty());
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dumb_terminal_prints_plainly_and_ends_when_the_peer_closes() {
    let server = TestServer::start(Behaviour::ReplyThenClose {
        reply: "last words",
        code: 1000,
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut cmd = pty_command(&["connect", &url], &home_path);
        cmd.env("TERM", "dumb");
        let mut repl = spawn_pty(cmd);
        repl.exp_string(&format!("connected to {url}")).unwrap();
        repl.exp_string("> ").unwrap();
        repl.send_line("hi").unwrap();
        repl.exp_string("< last words").unwrap();
        repl.exp_string("connection closed: 1000").unwrap();
        // The editor is still blocked reading the terminal: the REPL must not wait for it.
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["hi"]);
}

/// On a dumb terminal nothing can be drawn above the prompt: a reply that arrives
/// while the prompt is up goes on a line of its own, and the prompt is shown again
/// below it (it used to be printed after the prompt: `> < one`).
#[tokio::test(flavor = "multi_thread")]
async fn dumb_terminal_prints_a_late_reply_on_its_own_line_then_the_prompt() {
    let server = TestServer::start(Behaviour::SlowEcho {
        delay: std::time::Duration::from_millis(300),
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut cmd = pty_command(&["connect", &url], &home_path);
        cmd.env("TERM", "dumb");
        let mut repl = spawn_pty(cmd);
        let before_prompt = repl.exp_string("> ").unwrap();
        assert!(
            before_prompt.contains(&format!("connected to {url}")),
            "the status line comes before the first prompt: {before_prompt:?}"
        );
        repl.send_line("one").unwrap();
        let before_reply = repl.exp_string("< one").unwrap();
        assert!(
            before_reply.ends_with('\n'),
            "the reply starts a line of its own: {before_reply:?}"
        );
        assert!(!before_reply.contains("> <"), "{before_reply:?}");
        // The prompt again, under the reply, and it still takes a line.
        repl.exp_string("> ").unwrap();
        repl.send_line("two").unwrap();
        repl.exp_string("< two").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["one", "two"]);
}

/// `--count` keeps a pipe open past stdin EOF; in the REPL, Ctrl-D still closes.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_d_closes_the_repl_even_with_count() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &["--count", "5"]);
        repl.send_line("one").unwrap();
        repl.exp_string("< one").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn file_over_max_message_size_is_refused_and_the_session_goes_on() {
    let server = TestServer::start(Behaviour::Echo).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("big.txt");
    std::fs::write(&file, "z".repeat(2000)).unwrap();
    let url = server.url();
    let home_path = home.path().to_path_buf();
    let code = in_pty(move || {
        let mut repl = start_repl(&url, &home_path, &["--max-message-size", "1KiB"]);
        repl.send_line(&format!("/file {}", file.display()))
            .unwrap();
        repl.exp_string(&format!(
            "error: not sent: {} is larger than --max-message-size (1 KiB)",
            file.display()
        ))
        .unwrap();
        // Only a byte past the limit is read: an endless file is no different.
        repl.send_line("/file /dev/zero").unwrap();
        repl.exp_string("error: not sent: /dev/zero is larger than --max-message-size")
            .unwrap();
        repl.send_line("still here").unwrap();
        repl.exp_string("< still here").unwrap();
        repl.send_control('d').unwrap();
        pty_exit_code(&mut repl)
    })
    .await;
    assert_eq!(code, 0);
    assert_eq!(server.received_texts(), vec!["still here"]);
}

/// Ctrl-C (SIGINT: a dumb terminal is in cooked mode) ends the session within a
/// second even when the terminal has stopped taking output: the peer pushed far
/// more than the pty holds, then closed, and nobody reads the pty.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_ends_a_session_whose_terminal_stopped_reading() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    use nix::sys::signal::Signal;
    use rexpect::process::{PtyProcess, WaitStatus};

    const COUNT: usize = 300_000;
    let server = TestServer::start(Behaviour::Push { count: COUNT }).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pty_command(&["connect", "-n", &server.url()], home.path());
    cmd.env("TERM", "dumb");
    let mut process = PtyProcess::new(cmd).unwrap();
    process.set_kill_timeout(Some(1000));
    // Read until the session is up (a little output), then never again.
    let mut pty = process.get_file_handle().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("connected to") {
        let n = pty.read(&mut buf).unwrap();
        assert!(n > 0, "the pty closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    server
        .wait_until("every message pushed", |o| o.pushed == COUNT)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let interrupted = Instant::now();
    process.signal(Signal::SIGINT).unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match process.status() {
                Some(WaitStatus::StillAlive) | None if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    })
    .await
    .unwrap();
    match status {
        Some(WaitStatus::Exited(_, code)) => assert_eq!(code, 130),
        other => panic!("Ctrl-C did not end the session in 5 s: {other:?}"),
    }
    eprintln!(
        "Ctrl-C with the terminal stalled: ended in {:?}",
        interrupted.elapsed()
    );
}
