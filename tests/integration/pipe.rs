//! `wspipe connect` in pipe mode: formats, lifecycle, exit codes, nothing lost.

use tokio_tungstenite::tungstenite::Message;

use crate::common::{Behaviour, TestServer, numbered_lines, run, wspipe_command};

#[tokio::test]
async fn eof_flushes_then_waits_for_close() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["connect", &server.url()], b"a\nb\n").await;
    assert_eq!(out.stdout(), "a\nb\n", "stderr: {}", out.stderr);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test]
async fn crlf_and_missing_final_newline_are_records() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["connect", &server.url()], b"one\r\n\ntwo").await;
    assert_eq!(out.stdout(), "one\n\ntwo\n");
    assert_eq!(server.received_texts(), vec!["one", "", "two"]);
    assert_eq!(out.code, 0);
}

#[tokio::test]
async fn json_input_is_compacted_and_blank_lines_skipped() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &["connect", "-i", "json", "-o", "json", &server.url()],
        b"{ \"b\" : 1, \"a\": [1, 2.50] }\n\n  \n\"str\"\n",
    )
    .await;
    assert_eq!(out.stdout(), "{\"b\":1,\"a\":[1,2.50]}\n\"str\"\n");
    assert_eq!(
        server.received_texts(),
        vec![r#"{"b":1,"a":[1,2.50]}"#, r#""str""#]
    );
    assert_eq!(out.code, 0);
}

#[tokio::test]
async fn json_output_wraps_text_and_binary() {
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![
            Message::text("not json"),
            Message::text("{\"ok\": true}"),
            Message::binary(vec![0u8, 1, 2]),
        ],
        code: 1000,
        reason: "",
    })
    .await;
    let out = run(&["connect", "-o", "json", &server.url()], b"").await;
    assert_eq!(
        out.stdout(),
        "\"not json\"\n{\"ok\":true}\n{\"binary\":\"AAEC\"}\n"
    );
    assert_eq!(out.code, 0);
}

#[tokio::test]
async fn events_report_open_messages_and_close_code() {
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("hi"), Message::binary(b"\xff".to_vec())],
        code: 1001,
        reason: "going",
    })
    .await;
    let out = run(&["connect", "-n", "-o", "events", &server.url()], b"").await;
    let url = server.url();
    assert_eq!(
        out.stdout(),
        format!(
            "{{\"event\":\"open\",\"url\":\"{url}\",\"protocol\":null}}\n\
             {{\"event\":\"text\",\"data\":\"hi\"}}\n\
             {{\"event\":\"binary\",\"data\":\"/w==\"}}\n\
             {{\"event\":\"close\",\"code\":1001,\"reason\":\"going\"}}\n"
        )
    );
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
}

#[tokio::test]
async fn events_with_timestamps_carry_ts() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &["connect", "-o", "events", "--timestamps", &server.url()],
        b"x\n",
    )
    .await;
    let lines: Vec<serde_json::Value> = out
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout());
    for line in &lines {
        let ts = line["ts"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
    }
    assert_eq!(lines[1]["data"], "x");
}

#[tokio::test]
async fn peer_close_4001_exits_5_with_reason() {
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("before")],
        code: 4001,
        reason: "policy says no",
    })
    .await;
    let out = run(&["connect", "-n", &server.url()], b"").await;
    assert_eq!(out.stdout(), "before\n");
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: the peer closed the connection with code 4001: policy says no\n"
    );
}

#[tokio::test]
async fn tcp_end_without_close_exits_5() {
    let server = TestServer::start(Behaviour::Drop).await;
    let out = run(&["connect", "-n", &server.url()], b"").await;
    assert_eq!(out.code, 5, "stderr: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[tokio::test]
async fn connection_refused_exits_3() {
    let port = crate::common::unused_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let out = run(&["connect", &url], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!("error: cannot connect to {url}: 127.0.0.1:{port}: connection refused\n")
    );
    assert_eq!(out.stdout(), "");
}

#[tokio::test]
async fn refused_upgrade_exits_3_showing_status_and_body() {
    let server = TestServer::start(Behaviour::Reject {
        status: 401,
        body: "missing token",
    })
    .await;
    let out = run(&["connect", &server.url()], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {}: server refused the upgrade: HTTP 401 Unauthorized: missing token\n",
            server.url()
        )
    );
}

#[tokio::test]
async fn bad_url_is_a_usage_error() {
    for url in ["ftp://example.com/", "ws://", "http://[::1"] {
        let out = run(&["connect", url], b"").await;
        assert_eq!(out.code, 2, "{url}: {}", out.stderr);
        assert!(
            out.stderr
                .starts_with(&format!("error: invalid URL '{url}'")),
            "{}",
            out.stderr
        );
    }
    let out = run(&["connect"], b"").await;
    assert_eq!(out.code, 2);
}

#[tokio::test]
async fn invalid_json_on_line_2_exits_65_after_delivering_line_1() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(
        &["connect", "-i", "json", &server.url()],
        b"{\"n\":1}\n{oops\n{\"n\":3}\n",
    )
    .await;
    assert_eq!(out.stdout(), "{\"n\":1}\n");
    assert_eq!(out.code, 65);
    assert_eq!(
        out.stderr,
        "error: stdin line 2: not valid JSON (key must be a string at column 2); nothing from here on was sent\n"
    );
    assert_eq!(server.received_texts(), vec![r#"{"n":1}"#]);
    assert_eq!(server.closes(), vec![(1000, String::new())]);
}

#[tokio::test]
async fn invalid_utf8_and_base64_are_named_by_line() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["connect", &server.url()], b"ok\n\xff\xfe\n").await;
    assert_eq!((out.code, out.stdout()), (65, "ok\n".to_string()));
    assert!(
        out.stderr
            .starts_with("error: stdin line 2: not valid UTF-8"),
        "{}",
        out.stderr
    );

    let out = run(
        &["connect", "-i", "base64", "-o", "json", &server.url()],
        b"aGk=\n!!\n",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout()),
        (65, "{\"binary\":\"aGk=\"}\n".to_string())
    );
    assert!(
        out.stderr
            .starts_with("error: stdin line 2: not valid base64"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn binary_input_is_one_message() {
    let server = TestServer::start(Behaviour::Echo).await;
    let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let out = run(&["connect", "-i", "binary", &server.url()], &payload).await;
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, payload);
    assert_eq!(server.observed.lock().unwrap().received.len(), 1);
}

#[tokio::test]
async fn count_closes_after_n_messages() {
    let server = TestServer::start(Behaviour::Push { count: 1000 }).await;
    let out = run(&["connect", "-n", "--count", "3", &server.url()], b"").await;
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    // Exactly 3, like head -n 3: what the server pushed meanwhile is not shown.
    assert_eq!(out.stdout(), "msg-0\nmsg-1\nmsg-2\n");
}

#[tokio::test]
async fn timeout_passes_exits_4() {
    let server = TestServer::start(Behaviour::SendAndRecord { messages: vec![] }).await;
    let out = run(&["connect", "-n", "--timeout", "300ms", &server.url()], b"").await;
    assert_eq!(out.code, 4);
    assert_eq!(out.stderr, "error: timed out after 300ms (--timeout)\n");
}

#[tokio::test]
async fn close_wait_lasts_while_the_peer_is_still_answering() {
    // 30 echoes at 40ms each: the last arrives about 1.2s after our Close, far past
    // a 300ms --close-timeout, but the peer never goes 300ms without a word.
    let server = TestServer::start(Behaviour::SlowEcho {
        delay: std::time::Duration::from_millis(40),
    })
    .await;
    let input = numbered_lines(30);
    let out = run(
        &["connect", "--close-timeout", "300ms", &server.url()],
        &input,
    )
    .await;
    assert_eq!(
        out.stdout(),
        String::from_utf8(input).unwrap(),
        "stderr: {}",
        out.stderr
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}

#[tokio::test]
async fn close_wait_ends_when_the_peer_goes_silent() {
    // Silent never reads, so our Close is never answered.
    let server = TestServer::start(Behaviour::Silent).await;
    let started = std::time::Instant::now();
    let out = run(
        &["connect", "--close-timeout", "300ms", &server.url()],
        b"a\n",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "warning: the peer went 300ms without a word after our Close (--close-timeout)\n"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn no_close_keeps_reading_after_eof() {
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("late")],
        code: 1000,
        reason: "",
    })
    .await;
    let out = run(&["connect", "--no-close", &server.url()], b"").await;
    assert_eq!((out.code, out.stdout()), (0, "late\n".to_string()));
}

#[tokio::test]
async fn echo_mode_mirrors_text_and_binary() {
    let server = TestServer::start(Behaviour::SendAndRecord {
        messages: vec![Message::text("ping-1"), Message::binary(vec![9u8, 8, 7])],
    })
    .await;
    let out = run(
        &[
            "connect",
            "-n",
            "--echo",
            "--count",
            "2",
            "-o",
            "json",
            &server.url(),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stdout(), "\"ping-1\"\n{\"binary\":\"CQgH\"}\n");
    // Both echoes went out before the client's Close (after --count 2).
    let received = server.observed.lock().unwrap().received.clone();
    assert_eq!(
        received,
        vec![Message::text("ping-1"), Message::binary(vec![9u8, 8, 7])]
    );
}

#[tokio::test]
async fn headers_credentials_and_subprotocol_reach_the_server() {
    let server = TestServer::start(Behaviour::EchoWithProtocol).await;
    let out = run(
        &[
            "connect",
            "-o",
            "events",
            "-H",
            "X-Trace: 42",
            "--origin",
            "http://example.test",
            "--user-agent",
            "probe/1",
            "--bearer",
            "s3cret",
            "--subprotocol",
            "chat.v1",
            &server.url(),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = out.stdout().lines().next().unwrap().to_string();
    assert!(first.contains("\"protocol\":\"chat.v1\""), "{first}");
    let headers = server.observed.lock().unwrap().headers[0].clone();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("x-trace").as_deref(), Some("42"));
    assert_eq!(get("origin").as_deref(), Some("http://example.test"));
    assert_eq!(get("user-agent").as_deref(), Some("probe/1"));
    assert_eq!(get("authorization").as_deref(), Some("Bearer s3cret"));
}

#[tokio::test]
async fn verbose_prints_headers_with_credentials_redacted() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["connect", "-v", "--auth", "user:pw", &server.url()], b"").await;
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("> authorization: <redacted>"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("< HTTP/1.1 101 Switching Protocols"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("dXNlcjpwdw"),
        "credentials leaked: {}",
        out.stderr
    );
}

#[tokio::test]
async fn closed_stdout_exits_quietly() {
    let server = TestServer::start(Behaviour::Push { count: 200_000 }).await;
    // `wspipe … | head -1`, with the shell's pipe.
    let script = format!(
        "'{}' connect -n '{}' | head -1",
        crate::common::bin(),
        server.url()
    );
    let out = tokio::time::timeout(
        crate::common::TEST_DEADLINE,
        tokio::process::Command::new("bash")
            .args(["-o", "pipefail", "-c", &script])
            .env_remove("NO_COLOR")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "msg-0\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_lines_through_echo_none_lost() {
    let server = TestServer::start(Behaviour::Echo).await;
    let input = numbered_lines(100_000);
    for round in 0..3 {
        let out = run(&["connect", &server.url()], &input).await;
        assert_eq!(out.code, 0, "round {round}: {}", out.stderr);
        assert_eq!(out.stdout.len(), input.len(), "round {round}");
        assert!(
            out.stdout == input,
            "round {round}: output differs from input"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_pushed_messages_none_lost() {
    let server = TestServer::start(Behaviour::Push { count: 200_000 }).await;
    let out = run(&["connect", "-n", &server.url()], b"").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 200_000);
    assert_eq!(lines[0], "msg-0");
    assert_eq!(lines[199_999], "msg-199999");
}

#[tokio::test]
async fn stdin_idle_sends_each_line_at_once() {
    // Interactive-style input: a line written, its echo read, before the next.
    let server = TestServer::start(Behaviour::Echo).await;
    let mut child = wspipe_command(&["connect", &server.url()]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout);
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    for word in ["first", "second"] {
        stdin
            .write_all(format!("{word}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(crate::common::TEST_DEADLINE, lines.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, format!("{word}\n"));
    }
    drop(stdin);
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn cannot_connect_with_queued_input_is_one_error_line() {
    let port = crate::common::unused_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let out = run(&["send", &url, "queued", "--connect-timeout", "5s"], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!("error: cannot connect to {url}: 127.0.0.1:{port}: connection refused\n")
    );
}

/// `-v` prints the request as it goes on the wire (origin-form, Host), and the
/// status line and headers of a refused upgrade, secrets redacted.
#[tokio::test]
async fn verbose_shows_the_request_as_sent_and_the_headers_of_a_refusal() {
    let mut server = crate::common::Listener::start(&["0", "--echo"]).await;
    let url = format!("{}/some/path?q=1", server.url);
    let out = run(&["send", "-v", &url, "hi", "--wait", "1"], b"").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let host = server.url.trim_start_matches("ws://").to_string();
    assert!(
        out.stderr
            .starts_with(&format!("> GET /some/path?q=1 HTTP/1.1\n> Host: {host}\n")),
        "{}",
        out.stderr
    );
    // What the server saw.
    server.stderr_until("to /some/path?q=1").await;
    server.interrupt();

    let server = crate::common::Listener::start(&["0", "--bearer", "s3cret"]).await;
    let out = run(&["send", "-v", &server.url, "hi", "--bearer", "wrong"], b"").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "< HTTP/1.1 401 Unauthorized\n< www-authenticate: Bearer realm=\"wspipe\"\n<\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("> authorization: <redacted>\n"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong"), "{}", out.stderr);
    server.interrupt();
}

/// A server that writes a refusal's head and body separately (uvicorn with wsproto
/// does): the body, on the wire 200 ms after the head, is still shown.
#[tokio::test]
async fn a_refusal_body_that_comes_after_the_head_is_shown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        for _ in 0..3 {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                tcp.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            tcp.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 28\r\n\r\n")
                .await
                .unwrap();
            tcp.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            tcp.write_all(b"forbidden: no entry for you\n")
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    for _ in 0..3 {
        let out = run(&["send", &url, "hi"], b"").await;
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                3,
                format!(
                    "error: cannot connect to {url}: server refused the upgrade: HTTP 403 \
                     Forbidden: forbidden: no entry for you\n"
                )
                .as_str()
            )
        );
    }
    server.await.unwrap();
}
