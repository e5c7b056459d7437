//! Connection hardening end to end: keepalive, reconnection, size limits, signals
//! and memory bounds, each against a real peer on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    Behaviour, LINE_DEADLINE, Listener, RssWatch, TEST_DEADLINE, TestServer, run, wspipe_command,
};

/// The next line of a child's output, bounded in time.
async fn next_line<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut tokio::io::Lines<BufReader<R>>,
    what: &str,
) -> String {
    tokio::time::timeout(LINE_DEADLINE, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no {what} line in time"))
        .unwrap()
        .unwrap_or_else(|| panic!("{what} ended"))
}

/// Waits (bounded) for a child to exit and returns its code.
async fn exit_code(child: &mut tokio::process::Child) -> i32 {
    tokio::time::timeout(TEST_DEADLINE, child.wait())
        .await
        .expect("wspipe did not exit in time")
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[tokio::test]
async fn unanswered_pings_end_the_run_with_exit_4_naming_ping_timeout() {
    // Silent never polls its socket after the handshake, so tungstenite there never
    // reads our pings and never answers them; the TCP connection stays open.
    let server = TestServer::start(Behaviour::Silent).await;
    let started = Instant::now();
    let out = run(
        &[
            "connect",
            "-n",
            "--ping-interval",
            "200ms",
            "--ping-timeout",
            "500ms",
            &server.url(),
        ],
        b"",
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(out.stderr, "error: no pong within 500ms (--ping-timeout)\n");
    assert_eq!(out.code, 4);
    assert_eq!(out.stdout(), "");
    // The first ping goes out at 200ms; its pong is overdue from 700ms on.
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn answered_pings_keep_the_connection_open_past_the_ping_timeout() {
    let server = TestServer::start(Behaviour::Echo).await;
    let mut child = wspipe_command(&[
        "connect",
        "-o",
        "events",
        "--show-control",
        "--ping-interval",
        "100ms",
        "--ping-timeout",
        "300ms",
        &server.url(),
    ])
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let open = next_line(&mut stdout, "stdout").await;
    assert!(open.starts_with(r#"{"event":"open""#), "{open}");
    // Six pongs take 600ms, twice the ping timeout.
    for _ in 0..6 {
        assert_eq!(
            next_line(&mut stdout, "stdout").await,
            r#"{"event":"pong","data":"wspipe"}"#
        );
    }
    stdin.write_all(b"still here\n").await.unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    loop {
        let line = next_line(&mut stdout, "stdout").await;
        let last = line.starts_with(r#"{"event":"close""#);
        if line != r#"{"event":"pong","data":"wspipe"}"# {
            rest.push(line);
        }
        if last {
            break;
        }
    }
    assert_eq!(
        rest,
        [
            r#"{"event":"text","data":"still here"}"#,
            r#"{"event":"close","code":1000,"reason":""}"#
        ]
    );
    assert_eq!(exit_code(&mut child).await, 0);
    assert_eq!(server.received_texts(), ["still here"]);
}

#[tokio::test]
async fn incoming_message_over_max_message_size_is_closed_with_1009_and_exit_5() {
    let big = vec![7u8; 2 << 20];
    let server = TestServer::start(Behaviour::SendWhileRecording {
        messages: vec![Message::text("small first"), Message::binary(big)],
    })
    .await;
    let out = run(
        &["connect", "-n", "--max-message-size", "1MiB", &server.url()],
        b"",
    )
    .await;
    assert_eq!(
        out.stderr,
        "error: received a message of 2097152 bytes, larger than --max-message-size (1048576 bytes); closed with 1009\n"
    );
    assert_eq!(out.code, 5);
    assert_eq!(out.stdout(), "small first\n");
    assert_eq!(server.closes(), [(1009, "message too big".to_string())]);
}

#[tokio::test]
async fn ctrl_c_in_pipe_mode_sends_close_1000_and_exits_130() {
    let server = TestServer::start(Behaviour::SendAndRecord {
        messages: vec![Message::text("hello")],
    })
    .await;
    let mut child = wspipe_command(&["connect", "-n", &server.url()])
        .spawn()
        .unwrap();
    // stdin stays open: the thread blocked reading it must not keep wspipe alive.
    let _stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    // A received message means the session, and so its Ctrl-C handler, is running.
    assert_eq!(next_line(&mut stdout, "stdout").await, "hello");

    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());

    assert_eq!(exit_code(&mut child).await, 130);
    assert_eq!(server.closes(), [(1000, String::new())]);
    assert_eq!(stdout.next_line().await.unwrap(), None);
    let mut err = String::new();
    stderr.read_to_string(&mut err).await.unwrap();
    assert_eq!(err, "");
}

/// Input line `i` of [`restart_mid_stream`]: `line-<i>`, then `pad` dots.
fn numbered_line(i: usize, pad: usize) -> String {
    format!("line-{i}{}", ".".repeat(pad))
}

/// Checks that `got` is lines `from` … `to`, in order, nothing else; the error
/// names the first difference (a full dump of thousands of lines helps nobody).
fn check_run(got: &[String], from: usize, to: usize, pad: usize) -> Result<(), String> {
    for (i, line) in (from..).zip(got) {
        if *line != numbered_line(i, pad) {
            return Err(format!("line {i} is {line:?}"));
        }
    }
    let want = (to + 1).saturating_sub(from);
    match got.len() == want {
        true => Ok(()),
        false => Err(format!("{} lines, not {want}", got.len())),
    }
}

/// How the input of [`restart_mid_stream`] is written.
#[derive(Clone, Copy)]
enum Pace {
    /// Five lines, then a millisecond's pause.
    Steady,
    /// As fast as wspipe takes them.
    Flood,
}

/// `connect --reconnect` fed `lines` numbered lines ([`numbered_line`]) while the server
/// it talks to is killed (when what it observed satisfies `kill_when`) and
/// started again on the same port; stdin ends once the second server is up.
/// Checks the exit code and every stderr line, and that every line arrived, in
/// order, across the two servers; returns how many the first server got and the
/// line the second one started at.
async fn restart_mid_stream(
    first: Behaviour,
    pace: Pace,
    lines: usize,
    pad: usize,
    kill_when: impl Fn(&crate::common::Observed) -> bool,
) -> (usize, usize) {
    let mut first = TestServer::start(first).await;
    let addr = first.addr;
    let url = first.url();
    let mut child = wspipe_command(&["connect", "--reconnect", &url])
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stdout = child.stdout.take().unwrap();
    let drained = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out).await;
        out
    });
    let writer = tokio::spawn(async move {
        for i in 1..=lines {
            let line = numbered_line(i, pad) + "\n";
            stdin.write_all(line.as_bytes()).await.unwrap();
            if matches!(pace, Pace::Steady) && i % 5 == 0 {
                stdin.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        stdin.flush().await.unwrap();
        stdin
    });

    // The server dies: listener and connection dropped at once, no Close.
    first.wait_until("the moment to die", kill_when).await;
    first.stop().await;
    let lost_notice = next_line(&mut stderr, "stderr").await;
    let mut second =
        TestServer::start_on(addr, Behaviour::SendAndRecord { messages: vec![] }).await;

    // The whole input goes out; then EOF closes the session cleanly.
    let stdin = tokio::time::timeout(TEST_DEADLINE, writer)
        .await
        .expect("stdin was not taken in time")
        .unwrap();
    drop(stdin);
    assert_eq!(exit_code(&mut child).await, 0);
    let mut notices = vec![lost_notice];
    while let Some(line) = stderr.next_line().await.unwrap() {
        notices.push(line);
    }
    assert_eq!(drained.await.unwrap(), b"");
    assert_eq!(second.closes(), [(1000, String::new())]);
    second.stop().await;

    // One notice for the lost connection (a reset when the server died with
    // unread data), one per refused attempt while it was down (usually none),
    // then the reconnection; nothing else.
    let lost = regex::Regex::new(
        r"^(the connection ended without a close frame|connection lost: connection reset by peer); reconnecting in 0\.[23]s$",
    )
    .unwrap();
    assert!(lost.is_match(&notices[0]), "{notices:?}");
    let refused = regex::Regex::new(&format!(
        r"^cannot connect to {url}: {addr}: connection refused; reconnecting in \d+\.\ds$"
    ))
    .unwrap();
    let (last, between) = notices[1..].split_last().expect("no reconnection notice");
    assert!(
        between.iter().all(|line| refused.is_match(line)),
        "{notices:?}"
    );
    assert_eq!(*last, format!("connected to {url}"), "{notices:?}");

    // The first server got a prefix, the second the rest. The second may start a
    // little before where the first stopped: lines whose delivery no pong had
    // confirmed when the connection died are sent again (at least once, never lost).
    let before = first.received_texts();
    let after = second.received_texts();
    if let Err(why) = check_run(&before, 1, before.len(), pad) {
        panic!("first server: {why}");
    }
    let resumed_at = match after.first() {
        Some(line) => line
            .trim_start_matches("line-")
            .trim_end_matches('.')
            .parse()
            .unwrap_or_else(|_| panic!("second server: first line {line:?}")),
        None => lines + 1,
    };
    assert!(
        resumed_at <= before.len() + 1,
        "lines {} to {} were lost",
        before.len() + 1,
        resumed_at - 1
    );
    if let Err(why) = check_run(&after, resumed_at, lines, pad) {
        panic!("second server, from line {resumed_at}: {why}");
    }
    (before.len(), resumed_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_across_a_server_restart_delivers_every_line_in_order() {
    const LINES: usize = 3000;
    // Killed halfway through a steady stream: some lines are in flight at that
    // moment, in wspipe's queue, in the kernel's buffers, or read and not recorded.
    let (first_got, resumed_at) = restart_mid_stream(
        Behaviour::SendAndRecord { messages: vec![] },
        Pace::Steady,
        LINES,
        0,
        |o| o.received.len() >= LINES / 2,
    )
    .await;
    eprintln!(
        "steady restart: the first server got {first_got} of {LINES} lines; \
         the second started at line {resumed_at} ({} sent twice)",
        first_got + 1 - resumed_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_sends_again_what_a_dead_server_had_not_read() {
    const LINES: usize = 3000;
    // The server reads 1000 lines, then nothing: what wspipe wrote after those
    // is in the server's socket, unread, when it dies; the kernel discards it.
    // Lines of 1 KB, so that is more than the server's WebSocket library
    // buffered for itself (it reads up to 128 KiB at a time).
    let (first_got, resumed_at) = restart_mid_stream(
        Behaviour::RecordThenStall { after: 1000 },
        Pace::Flood,
        LINES,
        1000,
        |o| o.unread >= 100_000,
    )
    .await;
    assert_eq!(first_got, 1000);
    eprintln!(
        "flood restart: the first server got {first_got} of {LINES} lines; \
         the second started at line {resumed_at} ({} sent twice)",
        first_got + 1 - resumed_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn million_pushed_messages_into_a_stalled_stdout_stay_under_64_mib() {
    const COUNT: usize = 1_000_000;
    let server = TestServer::start(Behaviour::Push { count: COUNT }).await;
    let started = Instant::now();
    let mut child = wspipe_command(&["connect", "-n", &format!("{}push", server.url())])
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let rss = RssWatch::start(child.id().unwrap());
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();

    // `| (sleep 3; wc -l)`: nobody reads stdout for three seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pushed_while_stalled = server.observed.lock().unwrap().pushed;
    let peak_while_stalled = rss.peak_kib();

    let mut lines = BufReader::with_capacity(64 << 10, stdout).lines();
    let mut count = 0usize;
    let reading = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            assert_eq!(line, format!("msg-{count}"));
            count += 1;
        }
    };
    tokio::time::timeout(TEST_DEADLINE, reading)
        .await
        .expect("stdout did not end in time");
    let code = exit_code(&mut child).await;
    let elapsed = started.elapsed();
    let peak = rss.stop();
    let mut err = String::new();
    stderr.read_to_string(&mut err).await.unwrap();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(count, COUNT);
    eprintln!(
        "push {COUNT}: {elapsed:?} including the 3s stall; peak RSS {peak} KiB \
         ({peak_while_stalled} KiB during the stall); the server had pushed \
         {pushed_while_stalled} when the stall ended"
    );
    assert!(peak > 0, "no RSS reading");
    assert!(peak < 64 << 10, "peak RSS {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_stdin_into_a_slow_server_waits_for_it_and_delivers_every_line() {
    const LINES: usize = 200_000;
    // 100-byte lines: 20 MB, far more than the kernel buffers between the two
    // processes hold, so wspipe must stop reading stdin while the server stalls.
    let line = |i: usize| format!("{i:0>8}{}", "x".repeat(91));
    let (go, released) = tokio::sync::watch::channel(false);
    let server = TestServer::start(Behaviour::RecordWhenReleased { go: released }).await;
    let mut child = wspipe_command(&["connect", &server.url()]).spawn().unwrap();
    let rss = RssWatch::start(child.id().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let all_written = Arc::new(AtomicBool::new(false));
    let writer = {
        let (written, all_written) = (Arc::clone(&written), Arc::clone(&all_written));
        tokio::spawn(async move {
            let mut chunk = String::with_capacity(64 << 10);
            for i in 0..LINES {
                chunk.push_str(&line(i));
                chunk.push('\n');
                if chunk.len() >= 60 << 10 || i == LINES - 1 {
                    stdin.write_all(chunk.as_bytes()).await.unwrap();
                    written.fetch_add(chunk.len(), Ordering::Relaxed);
                    chunk.clear();
                }
            }
            all_written.store(true, Ordering::Relaxed);
        })
    };
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let drained = tokio::spawn(async move {
        let (mut out, mut err) = (Vec::new(), String::new());
        let _ = stdout.read_to_end(&mut out).await;
        let _ = stderr.read_to_string(&mut err).await;
        (out, err)
    });

    // The server reads nothing for three seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let taken_while_stalled = written.load(Ordering::Relaxed);
    let peak_while_stalled = rss.peak_kib();
    assert!(
        !all_written.load(Ordering::Relaxed),
        "wspipe took all of stdin ({taken_while_stalled} bytes) from a server reading nothing"
    );
    go.send(true).unwrap();

    tokio::time::timeout(TEST_DEADLINE, writer)
        .await
        .expect("stdin was not taken in time")
        .unwrap();
    let code = exit_code(&mut child).await;
    let peak = rss.stop();
    let (out, err) = drained.await.unwrap();
    assert_eq!((code, err.as_str(), out.as_slice()), (0, "", &b""[..]));
    let received = server.received_texts();
    assert_eq!(received.len(), LINES);
    for (i, text) in received.iter().enumerate() {
        assert_eq!(*text, line(i), "message {i}");
    }
    assert_eq!(server.closes(), [(1000, String::new())]);
    eprintln!(
        "slow server: {LINES} lines of 100 bytes; {taken_while_stalled} bytes taken from \
         stdin during the 3s stall; peak RSS {peak} KiB ({peak_while_stalled} KiB during the stall)"
    );
    assert!(peak > 0, "no RSS reading");
    assert!(peak < 64 << 10, "peak RSS {peak} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_lines_of_1_mib_echoed_stay_under_48_mib() {
    // The input queue is bounded in bytes, not only in batches: 100 MiB of input
    // used to sit in memory whole (peak RSS about 116 MiB).
    const LINES: usize = 100;
    let server = TestServer::start(Behaviour::Echo).await;
    let line = "x".repeat(1 << 20);
    let mut input = Vec::with_capacity(LINES * ((1 << 20) + 1));
    for _ in 0..LINES {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let mut child = wspipe_command(&["connect", "--linger", "0", &server.url()])
        .spawn()
        .unwrap();
    let rss = RssWatch::start(child.id().unwrap());
    let expected = input.clone();
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(TEST_DEADLINE, stdout.read_to_end(&mut out))
        .await
        .expect("stdout did not end in time")
        .unwrap();
    writer.await.unwrap();
    assert_eq!(exit_code(&mut child).await, 0);
    let peak = rss.stop();
    assert!(
        out == expected,
        "{} of {} bytes echoed",
        out.len(),
        expected.len()
    );
    eprintln!("100 x 1 MiB echoed: peak RSS {peak} KiB");
    assert!(peak > 0, "no RSS reading");
    assert!(peak < 48 << 10, "peak RSS {peak} KiB");
}

#[tokio::test]
async fn max_retries_counts_connections_that_drop_at_once() {
    // A server that accepts the handshake and drops the connection at once: each
    // connection is a failed attempt, so --max-retries 2 gives up after 3.
    let server = TestServer::start(Behaviour::Drop).await;
    let started = Instant::now();
    let out = run(&["connect", "-n", "--max-retries", "2", &server.url()], b"").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(server.observed.lock().unwrap().connections, 3);
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: the connection ended without a close frame; giving up after 3 attempts"
        ),
        "{}",
        out.stderr
    );
    // Backoff grew: 250 ms, then 500 ms (plus jitter), not three times the first step.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_closed_stderr_is_not_a_panic() {
    // `wspipe send URL hi -v 2>&1 >/dev/null | head -1`: -v writes the handshake to
    // stderr, whose reader is gone. The run ends with its own exit code, like a
    // closed stdout, not 101.
    let server = TestServer::start(Behaviour::Echo).await;
    let mut child = wspipe_command(&["send", &server.url(), "hi", "-v"])
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    drop(child.stdin.take());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert_eq!((exit_code(&mut child).await, out.as_str()), (0, "hi\n"));
    assert_eq!(server.received_texts(), vec!["hi"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_flag_value_makes_a_panic() {
    // Every duration and size flag with huge, zero, negative and garbage values:
    // each is refused as a usage error (exit 2) or taken (saturated), never a panic.
    let server = Listener::start(&["0", "--echo", "-q"]).await;
    let durations = [
        "--timeout",
        "--close-timeout",
        "--connect-timeout",
        "--ping-interval",
        "--ping-timeout",
        "--linger",
    ];
    let duration_values = ["1e300", "1e19", "99999999999y", "0", "-1", "abc", ""];
    let size_values = ["1e300", "99999999999999999999GiB", "0", "-1", "abc", ""];
    let mut runs = Vec::new();
    for command in ["connect", "send"] {
        for flag in durations {
            for value in duration_values {
                runs.push((command, format!("{flag}={value}")));
            }
        }
        for value in size_values {
            runs.push((command, format!("--max-message-size={value}")));
        }
    }
    let tasks: Vec<_> = runs
        .into_iter()
        .map(|(command, flag)| {
            let url = server.url.clone();
            tokio::spawn(async move {
                let mut args = vec![command, url.as_str(), flag.as_str(), "--close-timeout=1s"];
                // A bound on the run, unless that is the flag under test.
                if !flag.starts_with("--timeout") {
                    args.push("--timeout=3s");
                }
                if !flag.starts_with("--linger") {
                    args.push("--linger=0");
                }
                let out = run(&args, b"hi\n").await;
                (flag, out)
            })
        })
        .collect();
    for task in tasks {
        let (flag, out) = task.await.unwrap();
        assert!(
            [0, 2, 4, 5].contains(&out.code) && !out.stderr.contains("panicked"),
            "{flag}: exit {}, {}",
            out.code,
            out.stderr
        );
    }
    // The ping flags take no zero; nor does listen's.
    for args in [
        vec!["connect", "ws://127.0.0.1:1/", "--ping-interval=0"],
        vec!["connect", "ws://127.0.0.1:1/", "--ping-timeout=0"],
        vec!["listen", "0", "--ping-interval=0"],
    ] {
        let out = run(&args, b"").await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("must be more than zero"),
            "{}",
            out.stderr
        );
    }
    server.interrupt();
}

#[tokio::test]
async fn peer_text_on_stderr_cannot_drive_the_terminal() {
    // A close reason and an HTTP refusal body carrying "clear screen" and an OSC
    // window title: shown escaped, never as raw escape sequences.
    let hostile = "\u{1b}[2J\u{1b}]0;owned\u{7}bye";
    let server = TestServer::start(Behaviour::SendThenClose {
        messages: vec![],
        code: 4000,
        reason: hostile,
    })
    .await;
    let out = run(&["connect", "-n", &server.url()], b"").await;
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: the peer closed the connection with code 4000: \\x1b[2J\\x1b]0;owned\\x07bye\n"
    );

    let server = TestServer::start(Behaviour::Reject {
        status: 403,
        body: hostile,
    })
    .await;
    let out = run(&["connect", &server.url()], b"").await;
    assert_eq!(out.code, 3);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(
        out.stderr.contains("\\x1b[2J\\x1b]0;owned\\x07bye"),
        "{:?}",
        out.stderr
    );

    // And listen's log of a client's close reason.
    let mut listener = Listener::start(&["0"]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(listener.url.as_str())
        .await
        .unwrap();
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 4000.into(),
        reason: hostile.into(),
    }))
    .await
    .unwrap();
    let line = listener.stderr_until("client 1 disconnected").await;
    assert_eq!(
        line,
        "client 1 disconnected (4000: \\x1b[2J\\x1b]0;owned\\x07bye)"
    );
    listener.interrupt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_the_run_while_stdout_is_not_read() {
    // The peer has pushed everything and closed; wspipe is left writing to a stdout
    // nobody reads. One Ctrl-C ends it (exit 130), losing what could not be written.
    const COUNT: usize = 300_000;
    let server = TestServer::start(Behaviour::Push { count: COUNT }).await;
    let mut child = wspipe_command(&["connect", "-n", &server.url()])
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let _stdout = child.stdout.take(); // held open, never read
    server
        .wait_until("every message pushed", |o| o.pushed == COUNT)
        .await;
    // Time for the close handshake, so that only the output is left.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let interrupted = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let code = tokio::time::timeout(Duration::from_secs(5), exit_code(&mut child))
        .await
        .expect("Ctrl-C did not end the run");
    assert_eq!(code, 130);
    eprintln!(
        "Ctrl-C with stdout stalled: ended in {:?}",
        interrupted.elapsed()
    );
}

/// A record over `--max-message-size` is invalid input: what came before it is
/// delivered, it is not sent, and the error names it (text, JSON, arguments).
#[tokio::test]
async fn a_record_over_max_message_size_is_refused_after_what_came_before() {
    let server = TestServer::start(Behaviour::Echo).await;
    let long = "x".repeat(2000);
    let limit = ["--max-message-size", "1KiB"];
    let input = format!("ok\n{long}\nnever\n");
    let url = server.url();
    let mut args = vec!["connect", url.as_str()];
    args.extend(limit);
    let out = run(&args, input.as_bytes()).await;
    assert_eq!(
        (out.code, out.stdout()),
        (65, "ok\n".to_string()),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr,
        "error: stdin line 2: larger than --max-message-size (1 KiB); nothing from here on was sent\n"
    );

    // JSON is measured as sent (compacted): 1,100 bytes of spaces around a short
    // value pass, a 1,100-byte string does not.
    let json = format!(
        "{}1{}\n\"{}\"\n",
        " ".repeat(550),
        " ".repeat(550),
        "y".repeat(1100)
    );
    let mut args = vec!["connect", "-i", "json", url.as_str()];
    args.extend(limit);
    let out = run(&args, json.as_bytes()).await;
    assert_eq!(
        (out.code, out.stdout()),
        (65, "1\n".to_string()),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .starts_with("error: stdin line 2: larger than --max-message-size (1 KiB)"),
        "{}",
        out.stderr
    );

    let mut args = vec!["send", url.as_str(), "short", &long];
    args.extend(limit);
    let out = run(&args, b"").await;
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: argument 2: larger than --max-message-size (1 KiB)"),
        "{}",
        out.stderr
    );
    assert_eq!(server.received_texts(), vec!["ok", "1", "short"]);
}

/// Input without an end (a line that never ends, `-i binary` of an endless stream)
/// is read no further than `--max-message-size`: a clear error, not all of memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_input_stops_at_max_message_size_with_a_clear_error() {
    let server = TestServer::start(Behaviour::Echo).await;
    let url = server.url();
    for format in ["text", "binary", "base64"] {
        let mut cmd =
            wspipe_command(&["connect", "-i", format, "--max-message-size", "4MiB", &url]);
        cmd.stdin(std::process::Stdio::from(
            std::fs::File::open("/dev/zero").unwrap(),
        ));
        let child = cmd.spawn().unwrap();
        let out = tokio::time::timeout(TEST_DEADLINE, child.wait_with_output())
            .await
            .expect("wspipe stopped reading /dev/zero in time")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "-i {format}: {stderr}");
        let place = if format == "binary" {
            "stdin"
        } else {
            "stdin line 1"
        };
        assert_eq!(
            stderr,
            format!(
                "error: {place}: larger than --max-message-size (4 MiB); nothing from here on was sent\n"
            ),
            "-i {format}"
        );
    }
    assert!(server.received_texts().is_empty());
}
