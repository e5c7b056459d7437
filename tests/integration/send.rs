//! `wspipe send`: messages from arguments, stdin or files; waiting and expectations.

use crate::common::{Behaviour, TestServer, run};

#[tokio::test]
async fn sends_arguments_and_closes_cleanly() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["send", &server.url(), "one", "two"], b"ignored\n").await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "one\ntwo\n".to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(server.received_texts(), vec!["one", "two"]);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test]
async fn dash_reads_stdin() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["send", &server.url(), "first", "-"], b"from stdin\n").await;
    assert_eq!(out.code, 0);
    assert_eq!(server.received_texts(), vec!["first", "from stdin"]);
}

#[tokio::test]
async fn wait_closes_after_n_replies() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["send", &server.url(), "a", "b", "c", "--wait", "2"], b"").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Exactly the replies that satisfied it: the echo of "c" is not shown.
    assert_eq!(out.stdout(), "a\nb\n");
}

#[tokio::test]
async fn wait_prints_exactly_n_of_a_flood_and_closes_at_once() {
    let server = TestServer::start(Behaviour::Push { count: 100_000 }).await;
    let out = run(&["send", &server.url(), "--wait", "3"], b"").await;
    assert_eq!(
        (out.code, out.stdout(), out.stderr.as_str()),
        (0, "msg-0\nmsg-1\nmsg-2\n".to_string(), "")
    );
}

#[tokio::test]
async fn expect_prints_up_to_the_matching_reply() {
    let server = TestServer::start(Behaviour::Push { count: 100_000 }).await;
    let out = run(&["send", &server.url(), "--expect", "^msg-4$"], b"").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout(), "msg-0\nmsg-1\nmsg-2\nmsg-3\nmsg-4\n");
}

#[tokio::test]
async fn expect_regex_match_exits_0() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &[
            "send",
            &server.url(),
            "hello",
            "status: ready",
            "--expect",
            "^status: (ready|ok)$",
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout(), "hello\nstatus: ready\n");
}

#[tokio::test]
async fn expect_json_match_exits_0() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &[
            "send",
            &server.url(),
            "-o",
            "json",
            r#"{"status":"ok","n":2}"#,
            "--expect-json",
            "/status=\"ok\"",
            "--expect-json",
            "/n=2",
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout(), "{\"status\":\"ok\",\"n\":2}\n");
}

#[tokio::test]
async fn expect_without_match_times_out_with_4() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &[
            "send",
            &server.url(),
            "nope",
            "--expect",
            "never",
            "--timeout",
            "500ms",
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_eq!(out.stdout(), "nope\n");
    assert_eq!(out.stderr, "error: timed out after 500ms (--timeout)\n");
}

#[tokio::test]
async fn expect_failing_when_the_peer_closes_exits_1() {
    let server = TestServer::start(Behaviour::ReplyThenClose {
        reply: "{\"status\":\"down\"}",
        code: 1000,
    })
    .await;
    let out = run(
        &["send", &server.url(), "x", "--expect-json", "/status=up"],
        b"",
    )
    .await;
    assert_eq!(out.stdout(), "{\"status\":\"down\"}\n");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: the connection closed before --expect-json '/status=up' was met\n"
    );
}

#[tokio::test]
async fn file_lines_and_binary_files_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("lines.txt");
    std::fs::write(&lines, "l1\nl2\n").unwrap();
    let blob = dir.path().join("blob.bin");
    std::fs::write(&blob, [0u8, 159, 146, 150]).unwrap();

    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &["send", &server.url(), "--file", lines.to_str().unwrap()],
        b"",
    )
    .await;
    assert_eq!((out.code, out.stdout()), (0, "l1\nl2\n".to_string()));

    let out = run(
        &[
            "send",
            &server.url(),
            "-i",
            "binary",
            "-o",
            "json",
            "--file",
            blob.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "{\"binary\":\"AJ+Slg==\"}\n".to_string())
    );
}

#[tokio::test]
async fn missing_file_is_named() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &["send", &server.url(), "--file", "/nonexistent/x.txt"],
        b"",
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: cannot open /nonexistent/x.txt: no such file\n"
    );
}

/// On a terminal, a large `--file` shows a spinner while connecting, then the
/// bar: bytes read ahead into the queue while dialing are not a transfer rate.
/// The server here takes 1.5 s to answer the upgrade.
#[tokio::test(flavor = "multi_thread")]
async fn progress_is_a_spinner_until_the_connection_opens() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    const SIZE: usize = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    std::fs::write(&file, vec![7u8; SIZE]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let mut received = 0;
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Binary(data) = message {
                received += data.len();
            }
        }
        received
    });
    let home = dir.path().to_path_buf();
    let before_open = tokio::task::spawn_blocking(move || {
        let file = file.to_str().unwrap().to_string();
        let cmd = crate::common::pty_command(
            &[
                "send", &url, "-i", "binary", "--file", &file, "--linger", "0",
            ],
            &home,
        );
        let mut pty = crate::common::spawn_pty(cmd);
        pty.exp_string("big.bin: connecting").unwrap();
        let before_open = pty.exp_string("connected to").unwrap();
        assert_eq!(crate::common::pty_exit_code(&mut pty), 0);
        before_open
    })
    .await
    .unwrap();
    assert!(
        !before_open.contains("B/s") && !before_open.contains("MiB/"),
        "a rate or a byte count before the connection opened: {before_open:?}"
    );
    assert_eq!(server.await.unwrap(), SIZE);
}

/// The warning about unsent messages names where they came from, and counts only
/// what never left: here a server that reads one message and then nothing, so
/// most of a 60 MiB file is still queued when `--timeout` ends the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsent_messages_are_counted_and_named_by_their_source() {
    // 60 MiB: more than the input queue and both kernel buffers can hold.
    const LINES: usize = 60_000;
    let server = TestServer::start(Behaviour::RecordThenStall { after: 1 }).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("requests.txt");
    let line = "r".repeat(1023);
    std::fs::write(&file, format!("{line}\n").repeat(LINES)).unwrap();
    let file = file.to_str().unwrap();
    let out = run(
        &["send", &server.url(), "--file", file, "--timeout", "1s"],
        b"",
    )
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning: {}", out.stderr));
    let unsent: usize = warning
        .strip_prefix("warning: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{warning}"));
    // The file was not read to its end either: the warning says so.
    assert!(
        warning.ends_with(&format!(
            " messages read from {file} were not sent, nor anything after them"
        )),
        "{warning}"
    );
    // The server read one; the kernel's buffers hold some; the rest never left.
    assert!(unsent > 0 && unsent < LINES, "{warning}");
}

/// Against a Node `ws` server that says hello and closes at once, the one message
/// given on the command line sometimes goes out before its Close is read and
/// sometimes not; the warning appears exactly when the server did not get it.
#[tokio::test]
async fn the_unsent_warning_agrees_with_what_the_server_received() {
    use tokio::io::AsyncBufReadExt;
    let modules = crate::common::peers::node_modules();
    // Each connection logs how many messages it got once it is closed.
    let script = r#"
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () =>
  console.log(`ws://127.0.0.1:${wss.address().port}`));
let n = 0;
wss.on('connection', ws => {
  const id = ++n;
  let got = 0;
  ws.on('message', () => { got += 1; });
  ws.on('close', () => console.log(`${id} got ${got}`));
  ws.send('hello');
  ws.close();
});
"#;
    let Ok(mut node) = tokio::process::Command::new("node")
        .args(["-e", script])
        .env("NODE_PATH", &modules)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    else {
        eprintln!("SKIP: node not available");
        return;
    };
    let mut lines = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let Ok(Ok(Some(url))) =
        tokio::time::timeout(crate::common::TEST_DEADLINE, lines.next_line()).await
    else {
        eprintln!("SKIP: node with ws@8 not available");
        return;
    };
    for run_no in 1..=30usize {
        let out = run(&["send", &url, "x", "--expect", "nomatch"], b"").await;
        assert_eq!(out.code, 1, "{}", out.stderr);
        let warned = out
            .stderr
            .contains("warning: 1 message given on the command line was not sent");
        let line = tokio::time::timeout(crate::common::TEST_DEADLINE, lines.next_line())
            .await
            .expect("the server's count in time")
            .unwrap()
            .expect("the server's output went on");
        let received = match line.strip_prefix(&format!("{run_no} got ")) {
            Some("1") => true,
            Some("0") => false,
            _ => panic!("run {run_no}: unexpected server line {line:?}"),
        };
        assert_ne!(warned, received, "run {run_no}: {}", out.stderr);
    }
}
