//! HTTP CONNECT proxies: `--proxy`, the *_PROXY variables, NO_PROXY, credentials,
//! refusals and timeouts, for ws:// and wss://.

use base64::Engine;

use crate::common::certs::Pki;
use crate::common::proxy::{ProxyMode, TestProxy};
use crate::common::{Behaviour, TestServer, run, run_with_env};

fn connect_line(server: &TestServer) -> String {
    format!("CONNECT {} HTTP/1.1", server.addr)
}

#[tokio::test]
async fn ws_goes_through_the_proxy_flag() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::Open).await;
    let out = run(
        &["send", &server.url(), "hello", "--proxy", &proxy.url()],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, "hello\n"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr, "");
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].line, connect_line(&server));
    assert_eq!(requests[0].headers[0], format!("Host: {}", server.addr));
    assert_eq!(server.received_texts(), vec!["hello"]);
}

#[tokio::test]
async fn wss_goes_through_an_authenticating_proxy_with_credentials_redacted() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let proxy = TestProxy::start(ProxyMode::RequireAuth("alice:s3cret")).await;
    let proxy_url = format!("http://alice:s3cret@{}", proxy.addr);
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run(
        &[
            "send",
            &server.wss_url(),
            "hello",
            "--cacert",
            ca,
            "--proxy",
            &proxy_url,
            "-v",
        ],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, "hello\n"),
        "{}",
        out.stderr
    );
    let exchange = format!(
        "* proxy {proxy} (from --proxy)\n\
         > CONNECT {server} HTTP/1.1\n\
         > Host: {server}\n\
         > User-Agent: wspipe/{version}\n\
         > Proxy-Authorization: <redacted>\n\
         >\n\
         < HTTP/1.1 200 Connection established\n\
         <\n\
         * TLS 1.3, ",
        proxy = proxy.addr,
        server = server.addr,
        version = env!("CARGO_PKG_VERSION"),
    );
    assert!(out.stderr.starts_with(&exchange), "{}", out.stderr);
    let encoded = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
    assert!(!out.stderr.contains(&encoded), "{}", out.stderr);
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0]
            .headers
            .contains(&format!("Proxy-Authorization: Basic {encoded}"))
    );
}

#[tokio::test]
async fn proxy_answering_407_is_exit_3_with_its_status_line() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::RequireAuth("alice:s3cret")).await;
    let out = run(
        &["send", &server.url(), "hello", "--proxy", &proxy.url()],
        b"",
    )
    .await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {}: proxy {} refused CONNECT to {}: \
             HTTP/1.1 407 Proxy Authentication Required\n",
            server.url(),
            proxy.addr,
            server.addr
        )
    );
    assert!(server.received_texts().is_empty());
}

#[tokio::test]
async fn http_proxy_variable_is_honoured_for_ws() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::Open).await;
    // HTTPS_PROXY is for wss:// only: pointing it at nothing must not matter here.
    let env = [
        ("HTTP_PROXY", proxy.url()),
        ("HTTPS_PROXY", "http://127.0.0.1:1".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_with_env(&["send", &server.url(), "hello"], &env, b"").await;
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, "hello\n"),
        "{}",
        out.stderr
    );
    let lines: Vec<String> = proxy.requests().into_iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![connect_line(&server)]);
}

#[tokio::test]
async fn https_proxy_variable_is_honoured_for_wss() {
    let pki = Pki::new();
    let server = TestServer::start_tls(Behaviour::Echo, pki.server_leaf().server_config()).await;
    let proxy = TestProxy::start(ProxyMode::Open).await;
    let ca = pki.ca_pem.to_str().unwrap();
    let out = run_with_env(
        &["send", &server.wss_url(), "hello", "--cacert", ca],
        &[("https_proxy", &proxy.url())],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, "hello\n"),
        "{}",
        out.stderr
    );
    let lines: Vec<String> = proxy.requests().into_iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![connect_line(&server)]);
}

#[tokio::test]
async fn no_proxy_bypasses_the_proxy_from_the_environment() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::RequireAuth("nobody:never")).await;
    let proxy_url = proxy.url();
    for no_proxy in ["127.0.0.1", "example.com, 127.0.0.0/8", "*"] {
        let out = run_with_env(
            &["send", &server.url(), "hello"],
            &[("ALL_PROXY", &proxy_url), ("NO_PROXY", no_proxy)],
            b"",
        )
        .await;
        assert_eq!(
            (out.code, out.stdout().as_str()),
            (0, "hello\n"),
            "NO_PROXY={no_proxy}: {}",
            out.stderr
        );
    }
    assert_eq!(proxy.requests().len(), 0);
    // A list that does not name the host leaves the proxy in charge (here: 407).
    let out = run_with_env(
        &["send", &server.url(), "hello"],
        &[
            ("ALL_PROXY", &proxy_url),
            ("no_proxy", "localhost,.example.com"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(proxy.requests().len(), 1);
}

#[tokio::test]
async fn silent_proxy_is_bounded_by_connect_timeout() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::Mute).await;
    let out = run(
        &[
            "send",
            &server.url(),
            "hello",
            "--proxy",
            &proxy.url(),
            "--connect-timeout",
            "300ms",
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 4);
    assert_eq!(
        out.stderr,
        format!(
            "error: timed out connecting to {} through proxy {} after 300ms\n",
            server.url(),
            proxy.addr
        )
    );
}

#[tokio::test]
async fn unsupported_proxy_scheme_is_a_usage_error_naming_the_variable() {
    let server = TestServer::start(Behaviour::Echo).await;
    let out = run_with_env(
        &["send", &server.url(), "hello"],
        &[("ALL_PROXY", "socks5://127.0.0.1:1080")],
        b"",
    )
    .await;
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: invalid proxy in ALL_PROXY: 'socks5://' proxies are not supported \
         (only http:// proxies, via CONNECT)\n"
    );
}

#[tokio::test]
async fn unreachable_proxy_is_exit_3_naming_the_proxy() {
    let server = TestServer::start(Behaviour::Echo).await;
    let port = crate::common::unused_port();
    let out = run(
        &[
            "send",
            &server.url(),
            "hello",
            "--proxy",
            &format!("127.0.0.1:{port}"),
        ],
        b"",
    )
    .await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to {}: proxy 127.0.0.1:{port}: connection refused\n",
            server.url()
        )
    );
}

#[tokio::test]
async fn empty_proxy_flag_disables_environment_proxies() {
    let server = TestServer::start(Behaviour::Echo).await;
    let proxy = TestProxy::start(ProxyMode::Open).await;
    let out = run_with_env(
        &["send", &server.url(), "hello", "--proxy", ""],
        &[("HTTP_PROXY", &proxy.url())],
        b"",
    )
    .await;
    assert_eq!(
        (out.code, out.stdout().as_str()),
        (0, "hello\n"),
        "{}",
        out.stderr
    );
    assert_eq!(proxy.requests().len(), 0);
}
