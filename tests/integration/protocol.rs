//! Protocol errors (RFC 6455 7.4.1): frames that break the protocol, written byte by
//! byte over a raw socket after a valid handshake, to `listen` and (from a raw
//! server) to `connect`. The Close that comes back names what went wrong: 1007 for a
//! text message that is not UTF-8, 1002 for every other violation.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::common::{LINE_DEADLINE, Listener, wspipe_command};

/// The bad frames and the code each must get. Payloads are masked with a zero key
/// when `masked` (a client's frames), so the bytes read as written.
fn bad_frames(masked: bool) -> Vec<(&'static str, Vec<u8>, u16)> {
    let frame = |first: u8, payload: &[u8]| {
        let mut bytes = vec![first];
        let mask_bit = if masked { 0x80 } else { 0 };
        if payload.len() < 126 {
            bytes.push(mask_bit | payload.len() as u8);
        } else {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        if masked {
            bytes.extend_from_slice(&[0, 0, 0, 0]);
        }
        bytes.extend_from_slice(payload);
        bytes
    };
    vec![
        (
            "text that is not UTF-8",
            frame(0x81, &[0xff, 0xfe, 0xfd]),
            1007,
        ),
        ("a reserved data opcode", frame(0x83, b"hi"), 1002),
        ("a reserved control opcode", frame(0x8b, b"hi"), 1002),
        ("RSV1 without an extension", frame(0xc1, b"hi"), 1002),
        ("a fragmented ping", frame(0x09, b"hi"), 1002),
        ("a ping of 126 bytes", frame(0x89, &[b'p'; 126]), 1002),
        (
            "a continuation with nothing to continue",
            frame(0x80, b"hi"),
            1002,
        ),
    ]
}

/// Reads frames until a Close; returns its code (None: a Close without one, or the
/// connection ended first).
async fn close_code_from(tcp: &mut TcpStream) -> Option<u16> {
    let read = async {
        loop {
            let mut head = [0u8; 2];
            tcp.read_exact(&mut head).await.ok()?;
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                tcp.read_exact(&mut ext).await.ok()?;
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                tcp.read_exact(&mut ext).await.ok()?;
                len = u64::from_be_bytes(ext);
            }
            let mut mask = [0u8; 4];
            if head[1] & 0x80 != 0 {
                tcp.read_exact(&mut mask).await.ok()?;
            }
            let mut payload = vec![0u8; len as usize];
            tcp.read_exact(&mut payload).await.ok()?;
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[i % 4];
            }
            if head[0] & 0x0f == 0x8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    };
    tokio::time::timeout(LINE_DEADLINE, read)
        .await
        .expect("a Close in time")
}

/// Reads an HTTP head (up to the blank line).
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("an HTTP head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn listen_answers_each_protocol_error_with_the_rfc_close_code() {
    let mut server = Listener::start(&["0", "--echo"]).await;
    for (n, (what, bytes, code)) in bad_frames(true).into_iter().enumerate() {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 101"));
        tcp.write_all(&bytes).await.unwrap();
        assert_eq!(close_code_from(&mut tcp).await, Some(code), "{what}");
        // The log says what the client did wrong.
        let line = server
            .stderr_until(&format!("client {} disconnected", n + 1))
            .await;
        let expected = if code == 1007 {
            "not valid UTF-8; closed with 1007"
        } else {
            "broke the protocol"
        };
        assert!(line.contains(expected), "{what}: {line}");
    }
    server.interrupt();
}

#[tokio::test]
async fn connect_answers_each_protocol_error_with_the_rfc_close_code() {
    let mut cases = bad_frames(false);
    // From a server, a masked frame is the violation (RFC 6455 5.1).
    cases.push((
        "a masked frame from the server",
        vec![0x81, 0x82, 0, 0, 0, 0, b'h', b'i'],
        1002,
    ));
    for (what, bytes, code) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let child = wspipe_command(&["connect", "-n", "-o", "events", &url])
            .spawn()
            .unwrap();
        let mut tcp = accept_upgrade(&listener).await;
        tcp.write_all(&bytes).await.unwrap();
        assert_eq!(close_code_from(&mut tcp).await, Some(code), "{what}");
        drop(tcp);
        let out = crate::common::finish(child, Vec::new()).await;
        assert_eq!(out.code, 5, "{what}: {}", out.stderr);
        let expected = if code == 1007 {
            "error: the peer sent a text message that is not valid UTF-8; closed with 1007\n"
        } else {
            "error: the peer broke the protocol ("
        };
        assert!(out.stderr.starts_with(expected), "{what}: {}", out.stderr);
        // -o events says so too.
        let last = out.stdout().lines().last().unwrap_or_default().to_string();
        assert!(
            last.contains("\"event\":\"error\"") && last.contains(&code.to_string()),
            "{what}: {last}"
        );
    }
}

#[tokio::test]
async fn connect_refuses_an_extension_it_did_not_ask_for() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let child = wspipe_command(&["connect", &url]).spawn().unwrap();
    let (mut tcp, _) = listener.accept().await.unwrap();
    let request = read_head(&mut tcp).await;
    assert!(
        !request
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{request}"
    );
    let accept = derive_accept_key(websocket_key(&request).as_bytes());
    tcp.write_all(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let out = crate::common::finish(child, Vec::new()).await;
    drop(tcp);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            3,
            format!(
                "error: cannot connect to {url}: the server answered with the extension \
                 permessage-deflate in Sec-WebSocket-Extensions, which was not asked for\n"
            )
            .as_str()
        )
    );
}

/// Accepts one client on `listener` and completes its upgrade by hand (a raw
/// server, to write frames byte by byte).
async fn accept_upgrade(listener: &TcpListener) -> TcpStream {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let request = read_head(&mut tcp).await;
    let accept = derive_accept_key(websocket_key(&request).as_bytes());
    tcp.write_all(
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tcp
}

/// The Sec-WebSocket-Key of a request head (header names are case-insensitive).
fn websocket_key(request: &str) -> String {
    request
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .expect("a Sec-WebSocket-Key")
}

/// A peer that goes on sending after it read our Close (allowed until it sends its
/// own): `connect --echo` cannot echo those (RFC 6455 5.5.1), and says how many it
/// did not echo instead of dropping them without a word.
#[tokio::test]
async fn echoes_that_cannot_go_out_after_our_close_are_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let child = wspipe_command(&["connect", "--echo", "--timeout", "300ms", &url])
        .spawn()
        .unwrap();
    let mut tcp = accept_upgrade(&listener).await;
    // One message echoed as usual, then our Close (the --timeout) is awaited.
    tcp.write_all(&[0x81, 5, b'e', b'a', b'r', b'l', b'y'])
        .await
        .unwrap();
    assert_eq!(close_code_from(&mut tcp).await, Some(1000));
    for late in [&b"late1"[..], b"late2"] {
        tcp.write_all(&[0x81, 5]).await.unwrap();
        tcp.write_all(late).await.unwrap();
    }
    tcp.write_all(&[0x88, 2, 0x03, 0xe8]).await.unwrap();
    let out = crate::common::finish(child, Vec::new()).await;
    drop(tcp);
    assert_eq!(out.stdout(), "early\nlate1\nlate2\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: 2 received messages were not echoed back"),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
}
