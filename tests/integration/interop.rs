//! Interop with an independent implementation: Python's `websockets` as the server.
//! Skipped, with a note, when `python3 -c 'import websockets'` fails.

use crate::common::peers::python_server;
use crate::common::run;

#[tokio::test]
async fn python_server_echoes_text_and_binary() {
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/echo", server.url);
    // The Python server answers Close before echoing what it has not processed
    // yet, so wait for the replies instead of closing at the end of input.
    let out = run(&["send", &url, "one", "{\"two\":2}", "--wait", "2"], b"").await;
    assert_eq!(
        (out.code, out.stdout()),
        (0, "one\n{\"two\":2}\n".to_string()),
        "{}",
        out.stderr
    );

    let out = run(
        &[
            "connect", "-n", "--count", "2", "-i", "base64", "-o", "json", &url,
        ],
        b"AAEC\n/w==\n",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout(),
        "{\"binary\":\"AAEC\"}\n{\"binary\":\"/w==\"}\n"
    );
}

#[tokio::test]
async fn python_server_close_code_maps_to_exit_5() {
    let Some(server) = python_server().await else {
        return;
    };
    let out = run(
        &["connect", "-n", &format!("{}/close4001", server.url)],
        b"",
    )
    .await;
    assert_eq!(out.stdout(), "bye\n");
    assert_eq!(out.code, 5);
    assert_eq!(
        out.stderr,
        "error: the peer closed the connection with code 4001: policy\n"
    );
}

#[tokio::test]
async fn python_server_negotiates_the_subprotocol() {
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/proto", server.url);
    let out = run(
        &[
            "connect",
            "-n",
            "--count",
            "1",
            "--subprotocol",
            "chat.v1",
            "-o",
            "events",
            &url,
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stdout = out.stdout();
    assert!(stdout.lines().count() >= 2, "{stdout}");
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let second: serde_json::Value = serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(first["protocol"], "chat.v1");
    assert_eq!(second["data"], "protocol=chat.v1");
}

/// In a plain pipe (stderr not a terminal) the subprotocol the server picked is
/// said on stderr, as `--help` promises; `-q` keeps stderr quiet; without a
/// subprotocol, a pipe's stderr stays empty.
#[tokio::test]
async fn the_picked_subprotocol_is_said_on_stderr_in_a_pipe() {
    let Some(server) = python_server().await else {
        return;
    };
    let url = format!("{}/proto", server.url);
    let args = ["send", &url, "--wait", "1", "--subprotocol", "chat.v1"];
    let out = run(&args, b"").await;
    assert_eq!(
        (out.code, out.stdout(), out.stderr.as_str()),
        (
            0,
            "protocol=chat.v1\n".to_string(),
            format!("connected to {url} (subprotocol: chat.v1)\n").as_str()
        )
    );
    let quiet = [&args[..], &["-q"]].concat();
    let out = run(&quiet, b"").await;
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let out = run(&["send", &url, "--wait", "1"], b"").await;
    assert_eq!(
        (out.code, out.stdout(), out.stderr.as_str()),
        (0, "protocol=None\n".to_string(), "")
    );
}
