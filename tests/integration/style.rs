//! Colour and escapes: none reach a pipe, NO_COLOR and --color are obeyed on a terminal.

use std::path::Path;

use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    Behaviour, Listener, PTY_EXPECT_MS, Run, TEST_DEADLINE, TestServer, pty_command, run_with_env,
};

const ESC: u8 = 0x1b;

/// A terminal-looking environment: nothing may be decided from TERM alone.
const XTERM: &[(&str, &str)] = &[("TERM", "xterm-256color")];

fn assert_no_escapes(what: &str, out: &Run) {
    assert!(
        !out.stdout.contains(&ESC),
        "{what}: escape in stdout: {:?}",
        out.stdout()
    );
    assert!(
        !out.stderr.as_bytes().contains(&ESC),
        "{what}: escape in stderr: {:?}",
        out.stderr
    );
}

#[tokio::test]
async fn pipe_records_and_diagnostics_of_connect_and_send_carry_no_escapes() {
    let echo = TestServer::start(Behaviour::Echo).await;
    let url = echo.url();
    let out = run_with_env(&["connect", "-v", &url], XTERM, b"a\nb\n").await;
    assert_eq!(out.stdout(), "a\nb\n");
    assert!(out.stderr.contains("HTTP/1.1 101"), "{}", out.stderr);
    assert_no_escapes("connect -v", &out);

    let out = run_with_env(&["connect", "-o", "json", &url], XTERM, b"{\"n\":1}\n").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_escapes("connect -o json", &out);

    let closing = TestServer::start(Behaviour::SendThenClose {
        messages: vec![Message::text("bye soon")],
        code: 4000,
        reason: "going",
    })
    .await;
    let out = run_with_env(
        &["connect", "-n", "-o", "events", &closing.url()],
        XTERM,
        b"",
    )
    .await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert_no_escapes("connect -o events, abnormal close", &out);

    let out = run_with_env(
        &[
            "send",
            &url,
            "nope",
            "--expect",
            "never",
            "--timeout",
            "300ms",
        ],
        XTERM,
        b"",
    )
    .await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert_no_escapes("send --expect timing out", &out);

    let out = run_with_env(
        &["connect", "-i", "json", &url],
        XTERM,
        b"{\"ok\":1}\n{oops\n",
    )
    .await;
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(out.stderr.contains("line 2"), "{}", out.stderr);
    assert_no_escapes("invalid input record", &out);
}

#[tokio::test]
async fn errors_usage_and_help_in_a_pipe_carry_no_escapes() {
    let port = crate::common::unused_port();
    let out = run_with_env(&["connect", &format!("ws://127.0.0.1:{port}")], XTERM, b"").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_no_escapes("connection refused", &out);

    let out = run_with_env(&["connect"], XTERM, b"").await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert_no_escapes("usage error", &out);

    for command in ["connect", "send", "listen", "chat", "completions"] {
        let out = run_with_env(&[command, "--help"], XTERM, b"").await;
        assert_eq!(out.code, 0, "{command} --help: {}", out.stderr);
        assert!(out.stdout().contains("Usage: wspipe"), "{command} --help");
        assert_no_escapes(&format!("{command} --help"), &out);
    }
}

#[tokio::test]
async fn listen_in_a_pipe_carries_no_escapes() {
    let mut server = Listener::start(&["0", "--echo", "--once"]).await;
    server.close_stdin();
    let client = run_with_env(&["connect", &server.url], XTERM, b"hello\n").await;
    assert_eq!(client.stdout(), "hello\n", "{}", client.stderr);
    assert_no_escapes("client of listen", &client);
    let (code, stdout, stderr) = server.finish().await;
    assert_eq!(code, 0);
    assert!(!stdout.as_bytes().contains(&ESC), "{stdout:?}");
    for line in stderr {
        assert!(!line.as_bytes().contains(&ESC), "{line:?}");
    }
}

#[tokio::test]
async fn chat_in_a_pipe_carries_no_escapes() {
    let mut server = Listener::start(&["0", "--broadcast"]).await;
    let out = run_with_env(
        &["chat", &server.url, "--name", "bot", "-o", "text"],
        XTERM,
        b"beep\n",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_escapes("chat pipe mode", &out);
    server.stderr_until("client 1 disconnected").await;
    server.interrupt();
    server.finish().await;
}

/// A session in a pty read raw, escapes and all, keeping everything it showed.
struct RawPty {
    session: rexpect::session::PtySession,
    shown: String,
}

impl RawPty {
    /// Waits for `needle`, keeping what came before it.
    fn expect(&mut self, needle: &str) {
        let before = self.session.exp_string(needle).unwrap();
        self.shown.push_str(&before);
        self.shown.push_str(needle);
    }
}

/// Runs `args` in a pty with `env` added, lets `converse` drive it, and returns
/// everything shown up to the exit, with the exit code.
fn raw_pty_transcript(
    args: &[&str],
    env: &[(&str, &str)],
    home: &Path,
    converse: impl FnOnce(&mut RawPty),
) -> (String, i32) {
    let mut cmd = pty_command(args, home);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(PTY_EXPECT_MS))
        .strip_ansi_escape_codes(false);
    let session = rexpect::session::spawn_with_options(cmd, options).unwrap();
    let mut pty = RawPty {
        session,
        shown: String::new(),
    };
    converse(&mut pty);
    let rest = pty.session.exp_eof().unwrap();
    pty.shown.push_str(&rest);
    let code = match pty.session.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("wspipe ended with {other:?}"),
    };
    (pty.shown, code)
}

/// An SGR (colour/attribute) sequence: `ESC [ … m`.
fn has_colour(transcript: &str) -> bool {
    regex::Regex::new(r"\x1b\[[0-9;]*m")
        .unwrap()
        .is_match(transcript)
}

/// The REPL against a server that answers one line and closes: typed, shown, exited.
async fn repl_transcript(
    extra_args: &[&str],
    env: &'static [(&'static str, &'static str)],
) -> String {
    let server = TestServer::start(Behaviour::ReplyThenClose {
        reply: "reply from the server",
        code: 1000,
    })
    .await;
    let url = server.url();
    let mut args = vec!["connect".to_string(), url];
    args.extend(extra_args.iter().map(|a| a.to_string()));
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let (transcript, code) = tokio::time::timeout(
        TEST_DEADLINE,
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            raw_pty_transcript(&args, env, &home_path, |repl| {
                repl.expect("connected to");
                repl.expect("> ");
                repl.session.send_line("hello").unwrap();
            })
        }),
    )
    .await
    .expect("the pty conversation did not finish in time")
    .unwrap();
    assert_eq!(code, 0, "{transcript:?}");
    assert!(
        transcript.contains("reply from the server"),
        "{transcript:?}"
    );
    assert_eq!(server.received_texts(), vec!["hello"]);
    transcript
}

#[tokio::test(flavor = "multi_thread")]
async fn repl_is_coloured_on_a_terminal_by_default() {
    let transcript = repl_transcript(&[], &[]).await;
    // The received line in the "received" colour.
    assert!(
        transcript.contains("\x1b[36m< reply from the server"),
        "{transcript:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_color_disables_colour_in_the_repl() {
    let transcript = repl_transcript(&[], &[("NO_COLOR", "1")]).await;
    assert!(!has_colour(&transcript), "{transcript:?}");
    assert!(
        transcript.contains("< reply from the server"),
        "{transcript:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn color_never_disables_and_color_always_beats_no_color() {
    let transcript = repl_transcript(&["--color", "never"], &[]).await;
    assert!(!has_colour(&transcript), "{transcript:?}");
    let transcript = repl_transcript(&["--color", "always"], &[("NO_COLOR", "1")]).await;
    assert!(has_colour(&transcript), "{transcript:?}");
    // An empty NO_COLOR counts as unset (no-color.org).
    let transcript = repl_transcript(&[], &[("NO_COLOR", "")]).await;
    assert!(has_colour(&transcript), "{transcript:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_color_disables_colour_in_chat() {
    let server = Listener::start(&["0", "--broadcast"]).await;
    let url = server.url.clone();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_path_buf();
    let chat = |env: &'static [(&'static str, &'static str)]| {
        let url = url.clone();
        let home_path = home_path.clone();
        tokio::task::spawn_blocking(move || {
            raw_pty_transcript(
                &["chat", &url, "--name", "alice"],
                env,
                &home_path,
                |chat| {
                    chat.expect("alice> ");
                    chat.session.send_line("hello room").unwrap();
                    chat.session.send_control('d').unwrap();
                },
            )
        })
    };
    let (coloured, code) = tokio::time::timeout(TEST_DEADLINE, chat(&[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0, "{coloured:?}");
    assert!(has_colour(&coloured), "{coloured:?}");
    let (plain, code) = tokio::time::timeout(TEST_DEADLINE, chat(&[("NO_COLOR", "1")]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0, "{plain:?}");
    assert!(!has_colour(&plain), "{plain:?}");
    server.interrupt();
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_on_a_terminal_follow_no_color_and_color() {
    let port = crate::common::unused_port();
    let refused = format!("ws://127.0.0.1:{port}");
    let home = tempfile::tempdir().unwrap();
    let shown = async |env: &'static [(&'static str, &'static str)], args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let home_path = home.path().to_path_buf();
        tokio::time::timeout(
            TEST_DEADLINE,
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                raw_pty_transcript(&args, env, &home_path, |_| {})
            }),
        )
        .await
        .unwrap()
        .unwrap()
    };
    let (coloured, code) = shown(&[], &["connect", &refused]).await;
    assert_eq!(code, 3, "{coloured:?}");
    assert!(coloured.contains("\x1b[1;31merror:"), "{coloured:?}");
    let (plain, code) = shown(&[("NO_COLOR", "1")], &["connect", &refused]).await;
    assert_eq!(code, 3, "{plain:?}");
    assert!(plain.contains("error: cannot connect"), "{plain:?}");
    assert!(!has_colour(&plain), "{plain:?}");
    // clap's usage errors and help follow them too.
    let (usage, code) = shown(&[], &["connect"]).await;
    assert_eq!(code, 2, "{usage:?}");
    assert!(has_colour(&usage), "{usage:?}");
    for (env, args) in [
        (&[("NO_COLOR", "1")][..], &["connect"][..]),
        (&[], &["--color", "never", "connect"]),
        (&[], &["connect", "--color=never", "--help"]),
    ] {
        let (usage, _) = shown(env, args).await;
        assert!(usage.contains("Usage:"), "{args:?}: {usage:?}");
        assert!(!has_colour(&usage), "{args:?}: {usage:?}");
    }
}
