//! Interop with an independent implementation: Python's `websockets` as the server.
//! Skipped, with a note, when `python3 -c 'import websockets'` fails.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::run;

/// A Python server process, killed when dropped.
struct PythonServer {
    url: String,
    _child: tokio::process::Child,
}

async fn python_server() -> Option<PythonServer> {
    let available = std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!("note: python3 websockets not importable; interop test skipped");
        return None;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/python/server.py"
    );
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let url = tokio::time::timeout(crate::common::TEST_DEADLINE, lines.next_line())
        .await
        .ok()?
        .ok()??;
    Some(PythonServer { url, _child: child })
}

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
