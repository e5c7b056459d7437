//! `wss://`: certificate verification, `--cacert`, `-k`, client certificates, and
//! the one-line errors (exit 3, or 2 for bad files) when TLS cannot be set up.

use regex::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::certs::{Pki, Use};
use crate::common::{Behaviour, Listener, Run, TestServer, run, run_with_env};

fn assert_ok(out: &Run, stdout: &str) {
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, stdout),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn cacert_makes_a_private_ca_trusted_for_names_and_addresses() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let by_name = format!("wss://localhost:{}/", server.addr.port());
    let out = run(&["send", &by_name, "hello", "--cacert", ca], b"").await;
    assert_ok(&out, "hello\n");
    assert_eq!(out.stderr, "");
    let out = run(&["connect", &server.wss_url(), "--cacert", ca], b"a\nb\n").await;
    assert_ok(&out, "a\nb\n");
    assert_eq!(server.received_texts(), vec!["hello", "a", "b"]);
    assert_eq!(server.closes().len(), 2);
}

#[tokio::test]
async fn unknown_issuer_is_refused_with_exit_3() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let out = run(&["send", &server.wss_url(), "hello"], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout(), "");
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {}: TLS: the certificate of 127.0.0.1 is not trusted \
             (unknown issuer); trust its CA with --cacert FILE, or skip verification with -k\n",
            server.wss_url()
        )
    );
    assert!(server.received_texts().is_empty());
}

#[tokio::test]
async fn ssl_cert_file_is_honoured_as_the_system_roots() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run_with_env(
        &["send", &server.wss_url(), "hi"],
        &[("SSL_CERT_FILE", ca)],
        b"",
    )
    .await;
    assert_ok(&out, "hi\n");
}

#[tokio::test]
async fn insecure_accepts_an_untrusted_certificate_with_a_warning() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let out = run(&["send", &server.wss_url(), "hello", "-k"], b"").await;
    assert_ok(&out, "hello\n");
    assert_eq!(
        out.stderr,
        "warning: -k/--insecure: the server's TLS certificate is not verified\n"
    );
    let quiet = run(
        &["send", &server.wss_url(), "again", "--insecure", "-q"],
        b"",
    )
    .await;
    assert_ok(&quiet, "again\n");
    assert_eq!(quiet.stderr, "");
}

#[tokio::test]
async fn insecure_on_plain_ws_warns_about_nothing() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run(&["send", &server.url(), "hello", "-k"], b"").await;
    assert_ok(&out, "hello\n");
    assert_eq!(out.stderr, "");
}

#[tokio::test]
async fn client_certificate_is_presented_with_cert_and_key() {
    let pki = Pki::new();
    let config = pki.server_config_requiring_client_cert(&pki.server_leaf());
    let server = TestServer::start_tls(Behaviour::Echo, config).await;
    let client = pki.leaf("client", &["client.test"], Use::Client, |_| {});
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "hello",
            "--cacert",
            ca,
            "--cert",
            client.cert_str(),
            "--key",
            client.key_str(),
        ],
        b"",
    )
    .await;
    assert_ok(&out, "hello\n");
    assert_eq!(server.received_texts(), vec!["hello"]);
}

#[tokio::test]
async fn missing_client_certificate_is_refused_with_exit_3() {
    let pki = Pki::new();
    let config = pki.server_config_requiring_client_cert(&pki.server_leaf());
    let server = TestServer::start_tls(Behaviour::Echo, config).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(&["send", &server.wss_url(), "hello", "--cacert", ca], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {}: TLS: 127.0.0.1 requires a client certificate \
             (use --cert FILE --key FILE)\n",
            server.wss_url()
        )
    );
    assert!(server.received_texts().is_empty());
}

#[tokio::test]
async fn expired_certificate_is_refused_with_exit_3_and_its_date() {
    let pki = Pki::new();
    let leaf = pki.leaf("old", &["127.0.0.1"], Use::Server, |params| {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let server = TestServer::start_tls(Behaviour::Echo, leaf.server_config()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(&["send", &server.wss_url(), "hello", "--cacert", ca], b"").await;
    assert_eq!(out.code, 3);
    let expected = Regex::new(&format!(
        r"^error: cannot connect to {}: TLS: the certificate of 127\.0\.0\.1 expired on {}$",
        regex::escape(&server.wss_url()),
        r"2001-01-01 \(it is now \d{4}-\d{2}-\d{2}\)\n",
    ))
    .unwrap();
    assert!(expected.is_match(&out.stderr), "{}", out.stderr);
}

#[tokio::test]
async fn certificate_for_another_name_is_refused_with_exit_3() {
    let pki = Pki::new();
    let leaf = pki.leaf("other", &["other.test", "10.9.8.7"], Use::Server, |_| {});
    let server = TestServer::start_tls(Behaviour::Echo, leaf.server_config()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let by_name = format!("wss://localhost:{}/", server.addr.port());
    let out = run(&["send", &by_name, "hello", "--cacert", ca], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {by_name}: TLS: the certificate is not valid for \
             localhost (it is for other.test, 10.9.8.7)\n"
        )
    );
}

#[tokio::test]
async fn wss_to_a_plain_http_server_says_it_did_not_answer_in_tls() {
    // What nginx and most HTTP servers do with a ClientHello: answer 400 in clear.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut hello = [0u8; 64];
            let _ = tcp.read(&mut hello).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let url = format!("wss://{addr}/");
    let out = run(&["send", &url, "hello"], b"").await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {url}: TLS: 127.0.0.1 did not answer in TLS \
             (is it a plain ws:// server?)\n"
        )
    );
}

#[tokio::test]
async fn unreadable_or_invalid_pem_files_are_usage_errors_naming_them() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let missing = pki.path("missing.pem");
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "x",
            "--cacert",
            missing.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            format!("error: --cacert {}: no such file\n", missing.display()).as_str()
        )
    );

    let junk = pki.path("junk.pem");
    std::fs::write(&junk, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "x",
            "--cacert",
            junk.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: --cacert {}: not a valid PEM file (",
            junk.display()
        )),
        "{}",
        out.stderr
    );

    let client = pki.leaf("client", &["client.test"], Use::Client, |_| {});
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "x",
            "--cert",
            client.cert_str(),
            "--key",
            client.cert_str(),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            format!(
                "error: --key {}: no PEM private key (BEGIN PRIVATE KEY) in the file\n",
                client.cert.display()
            )
            .as_str()
        )
    );
    assert!(server.received_texts().is_empty());
}

#[tokio::test]
async fn key_of_another_certificate_is_a_usage_error() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let one = pki.leaf("one", &["one.test"], Use::Client, |_| {});
    let two = pki.leaf("two", &["two.test"], Use::Client, |_| {});
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "x",
            "--cert",
            one.cert_str(),
            "--key",
            two.key_str(),
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            format!(
                "error: --cert {} / --key {}: the key does not belong to the certificate\n",
                one.cert.display(),
                two.key.display()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn verbose_reports_the_negotiated_tls_session() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(
        &["send", &server.wss_url(), "hello", "--cacert", ca, "-v"],
        b"",
    )
    .await;
    assert_ok(&out, "hello\n");
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("* TLS 1.3, TLS13_"), "{}", out.stderr);
    // The request line as sent (origin-form), then the Host header.
    let host = server
        .wss_url()
        .trim_start_matches("wss://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        out.stderr
            .contains(&format!("\n> GET / HTTP/1.1\n> Host: {host}\n")),
        "{}",
        out.stderr
    );
}

/// A self-signed certificate made the usual way (`openssl req -x509 ... -addext
/// subjectAltName=DNS:localhost`): CA:TRUE, its own issuer, for localhost.
fn self_signed_ca_true(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("self.pem"), dir.join("self.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[tokio::test]
async fn a_self_signed_ca_true_certificate_given_with_cacert_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_ca_true(dir.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server =
        Listener::start(&["0", "--echo", "-q", "--tls-cert", cert, "--tls-key", key]).await;
    let port = server.addr.port();
    let url = format!("wss://localhost:{port}/");
    let out = run(&["send", &url, "hi", "--wait", "1", "--cacert", cert], b"").await;
    assert_eq!(
        (out.code, out.stdout(), out.stderr.as_str()),
        (0, "hi\n".to_string(), "")
    );

    // Pinned, but for localhost only: another name is still refused.
    let other_name = format!("wss://127.0.0.1:{port}/");
    let out = run(
        &["send", &other_name, "hi", "--wait", "1", "--cacert", cert],
        b"",
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.stderr);

    // Without --cacert, the error says what to do.
    let out = run(&["send", &url, "hi", "--wait", "1"], b"").await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("--cacert FILE"), "{}", out.stderr);
}

/// OpenSSL's TLS 1.3 server (Python `websockets`) checks the client certificate
/// after the client's side of the handshake is done: its refusal arrives as an
/// alert, an EOF or a reset while wspipe reads the upgrade's answer. Each way, the
/// user is told to pass a certificate, with no library URL.
#[tokio::test]
async fn a_server_requiring_a_client_certificate_says_so_whatever_way_it_refuses() {
    let pki = Pki::new();
    let leaf = pki.server_leaf();
    let ca = pki.ca_pem.to_str().unwrap();
    let Some(server) = crate::common::peers::python_server_with(&[
        "--tls",
        leaf.cert.to_str().unwrap(),
        leaf.key.to_str().unwrap(),
        ca,
    ])
    .await
    else {
        return;
    };
    let url = format!("{}/echo", server.url);
    for _ in 0..5 {
        let out = run(&["send", &url, "hello", "--cacert", ca], b"").await;
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (
                3,
                format!(
                    "error: cannot connect to {url}: TLS: 127.0.0.1 requires a client \
                     certificate (use --cert FILE --key FILE)\n"
                )
                .as_str()
            )
        );
    }
    let client = pki.leaf("client", &["client.test"], Use::Client, |_| {});
    let out = run(
        &[
            "send",
            &url,
            "hello",
            "--wait",
            "1",
            "--cacert",
            ca,
            "--cert",
            client.cert_str(),
            "--key",
            client.key_str(),
        ],
        b"",
    )
    .await;
    assert_ok(&out, "hello\n");
}
