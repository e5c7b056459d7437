//! Independent WebSocket servers in other languages, run as child processes: Python
//! `websockets` (tests/integration/python/server.py) and Node `ws` 8
//! (tests/integration/node/server.js). Each prints its URL on its first line.
//!
//! When a runtime or its library is missing, the helpers return None and say so
//! on stderr with a `SKIP` line; `.ci/run` installs both.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

/// A server process, killed when dropped.
pub struct PeerServer {
    pub url: String,
    _child: tokio::process::Child,
}

/// Python `websockets`, or None (with a note) when it cannot be imported.
pub async fn python_server() -> Option<PeerServer> {
    python_server_with(&[]).await
}

/// [`python_server`] started with these arguments (`--tls CERT KEY CA`).
pub async fn python_server_with(args: &[&str]) -> Option<PeerServer> {
    let available = std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!("SKIP: python3 websockets not importable (pip install websockets)");
        return None;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/python/server.py"
    );
    start(
        tokio::process::Command::new("python3")
            .arg(script)
            .args(args),
    )
    .await
}

/// Where `.ci/run` installs Node's `ws` (`npm install ws@8` there).
pub fn node_modules() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/node-ws/node_modules")
}

/// Node `ws` 8, or None (with a note) when node or the module is missing.
pub async fn node_server() -> Option<PeerServer> {
    let modules = node_modules();
    let available = std::process::Command::new("node")
        .args(["-e", "require('ws')"])
        .env("NODE_PATH", &modules)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        eprintln!(
            "SKIP: node with ws@8 not available (npm install --prefix target/node-ws ws@8); Node interop test skipped"
        );
        return None;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/node/server.js"
    );
    start(
        tokio::process::Command::new("node")
            .arg(script)
            .env("NODE_PATH", &modules),
    )
    .await
}

async fn start(command: &mut tokio::process::Command) -> Option<PeerServer> {
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let url = tokio::time::timeout(super::TEST_DEADLINE, lines.next_line())
        .await
        .ok()?
        .ok()??;
    Some(PeerServer { url, _child: child })
}
