//! Reaching the server's TCP port, directly or through an HTTP CONNECT proxy:
//! `--proxy URL`, or HTTPS_PROXY / HTTP_PROXY / ALL_PROXY minus NO_PROXY.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::notify::Notifier;
use crate::exit::{Exit, coded};
use crate::record::sanitize::for_terminal;

/// The most a proxy may send before the end of its CONNECT answer's headers.
const MAX_ANSWER: usize = 16 * 1024;

/// An HTTP proxy to tunnel through.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// `user:pass` from the proxy URL, sent as `Proxy-Authorization: Basic`.
    credentials: Option<String>,
    /// Where the setting came from: `--proxy` or the environment variable's name.
    pub source: String,
}

// Hand-written so that credentials never reach a log line or a panic message.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", authority(&self.host, self.port))
    }
}

impl Proxy {
    /// Parses `http://[user:pass@]host[:port]` (or a bare `host:port`). Only HTTP
    /// proxies are supported; anything else is a usage error naming `source`.
    pub fn parse(raw: &str, source: &str) -> anyhow::Result<Proxy> {
        let usage = |why: String| coded(Exit::Usage, format!("invalid proxy in {source}: {why}"));
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| usage(format!("{e}")))?;
        if url.scheme() != "http" {
            return Err(usage(format!(
                "'{}://' proxies are not supported (only http:// proxies, via CONNECT)",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| usage("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let credentials = (!url.username().is_empty()).then(|| {
            format!(
                "{}:{}",
                percent_decode(url.username()),
                percent_decode(url.password().unwrap_or(""))
            )
        });
        Ok(Proxy {
            host,
            port: url.port_or_known_default().unwrap_or(80),
            credentials,
            source: source.to_string(),
        })
    }
}

/// The proxy to reach `url` through: `--proxy` when given (an empty value means no
/// proxy at all), else the environment as curl reads it: HTTPS_PROXY for wss://,
/// HTTP_PROXY for ws://, then ALL_PROXY, unless NO_PROXY lists the host.
pub fn proxy_for(
    url: &Url,
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<Proxy>> {
    if let Some(flag) = flag {
        return if flag.trim().is_empty() {
            Ok(None)
        } else {
            Proxy::parse(flag.trim(), "--proxy").map(Some)
        };
    }
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let candidates: [&str; 4] = if url.scheme() == "wss" {
        ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let Some((name, value)) = candidates
        .iter()
        .find_map(|name| env(name).map(|value| (*name, value)))
    else {
        return Ok(None);
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let no_proxy = env("NO_PROXY")
        .or_else(|| env("no_proxy"))
        .unwrap_or_default();
    if no_proxy_matches(&no_proxy, host, port) {
        return Ok(None);
    }
    Proxy::parse(value.trim(), name).map(Some)
}

/// Whether a NO_PROXY list (commas or spaces) exempts `host`: `*` exempts all; a
/// name exempts itself and its subdomains (`example.com` and `.example.com` both
/// cover `api.example.com`); an IP address or CIDR range (`10.0.0.0/8`) covers the
/// addresses in it; an entry with `:PORT` only applies to that port.
pub fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (pattern, entry_port) = split_port(entry);
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
            if let Some(ip) = host_ip {
                return ip_matches(ip, &pattern);
            }
            let name = pattern.trim_start_matches("*.").trim_start_matches('.');
            !name.is_empty()
                && (host == name
                    || host
                        .strip_suffix(name)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

/// `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address (no port) or `host`.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((addr, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (addr, port);
        }
    }
    match entry.rsplit_once(':') {
        // More than one colon and no brackets: an IPv6 address (or range) alone.
        Some((head, _)) if head.contains(':') => (entry, None),
        Some((head, port)) => match port.parse() {
            Ok(port) => (head, Some(port)),
            Err(_) => (entry, None),
        },
        None => (entry, None),
    }
}

fn ip_matches(ip: IpAddr, pattern: &str) -> bool {
    let (addr, prefix) = match pattern.split_once('/') {
        Some((addr, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (addr, Some(bits)),
            Err(_) => return false,
        },
        None => (pattern, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = prefix.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = prefix.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Opens the TCP stream that the TLS and WebSocket handshakes will run over:
/// straight to `host:port`, or a CONNECT tunnel through `proxy`.
pub async fn connect_tcp(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    verbose: Option<&dyn Notifier>,
) -> anyhow::Result<TcpStream> {
    let Some(proxy) = proxy else {
        return TcpStream::connect((host, port)).await.map_err(|e| {
            coded(
                Exit::Connect,
                format!(
                    "{}: {}",
                    authority(host, port),
                    super::ending::describe_io(&e)
                ),
            )
        });
    };
    if let Some(notify) = verbose {
        notify.line(&format!("* proxy {proxy} (from {})", proxy.source));
    }
    let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| {
            coded(
                Exit::Connect,
                format!("proxy {proxy}: {}", super::ending::describe_io(&e)),
            )
        })?;
    tunnel(&mut tcp, proxy, host, port, verbose).await?;
    Ok(tcp)
}

/// Asks the proxy for a tunnel to `host:port` and reads its answer, up to and not
/// beyond the end of its headers: what follows belongs to the tunnelled protocol.
async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
    verbose: Option<&dyn Notifier>,
) -> anyhow::Result<()> {
    let target = authority(host, port);
    let user_agent = format!("wspipe/{}", env!("CARGO_PKG_VERSION"));
    let mut headers = vec![("Host", target.clone()), ("User-Agent", user_agent)];
    if let Some(credentials) = &proxy.credentials {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.push(("Proxy-Authorization", format!("Basic {encoded}")));
    }
    let mut request = format!("CONNECT {target} HTTP/1.1\r\n");
    let mut shown = format!("> CONNECT {target} HTTP/1.1\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
        let value = if *name == "Proxy-Authorization" {
            "<redacted>"
        } else {
            value
        };
        shown.push_str(&format!("> {name}: {value}\n"));
    }
    request.push_str("\r\n");
    if let Some(notify) = verbose {
        notify.line(&format!("{shown}>"));
    }
    let io_error = |e: std::io::Error| {
        coded(
            Exit::Connect,
            format!("proxy {proxy}: {}", super::ending::describe_io(&e)),
        )
    };
    tcp.write_all(request.as_bytes()).await.map_err(io_error)?;

    let mut answer = Vec::with_capacity(512);
    let header_end = loop {
        if let Some(end) = find(&answer, b"\r\n\r\n") {
            break end + 4;
        }
        if answer.len() >= MAX_ANSWER {
            return Err(coded(
                Exit::Connect,
                format!("proxy {proxy}: its answer to CONNECT has no end of headers"),
            ));
        }
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.map_err(io_error)?;
        if n == 0 {
            return Err(coded(
                Exit::Connect,
                format!("proxy {proxy} closed the connection without answering CONNECT"),
            ));
        }
        answer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&answer[..header_end]);
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next().unwrap_or_default().trim().to_string();
    if let Some(notify) = verbose {
        let mut out = String::new();
        for line in std::iter::once(status_line.as_str()).chain(lines) {
            out.push_str(&format!("< {}\n", for_terminal(line)));
        }
        notify.line(&format!("{out}<"));
    }
    let status_shown = for_terminal(&status_line).into_owned();
    let code = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok());
    match code {
        Some(200..=299) => {}
        Some(_) => {
            return Err(coded(
                Exit::Connect,
                format!("proxy {proxy} refused CONNECT to {target}: {status_shown}"),
            ));
        }
        None => {
            return Err(coded(
                Exit::Connect,
                format!("proxy {proxy} did not answer CONNECT with HTTP: '{status_shown}'"),
            ));
        }
    }
    // Neither TLS nor WebSocket servers speak first, so anything here is the
    // proxy's doing; passing it on would corrupt the handshake.
    if answer.len() > header_end {
        return Err(coded(
            Exit::Connect,
            format!("proxy {proxy} sent unexpected data after accepting CONNECT"),
        ));
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `host:port`, with brackets around an IPv6 address.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `%XX` sequences decoded; user names and passwords in URLs arrive encoded.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn proxy_url_with_credentials_is_parsed_and_decoded() {
        let p = Proxy::parse("http://al%40ice:p%3Ass@proxy.local:3128", "--proxy").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.local", 3128));
        assert_eq!(p.credentials.as_deref(), Some("al@ice:p:ss"));
        assert_eq!(p.to_string(), "proxy.local:3128");
        assert!(!format!("{p:?}").contains("p:ss"));
        let bare = Proxy::parse("[::1]:8080", "HTTP_PROXY").unwrap();
        assert_eq!(
            (bare.host.as_str(), bare.port, bare.credentials),
            ("::1", 8080, None)
        );
        assert_eq!(Proxy::parse("http://p", "x").unwrap().port, 80);
    }

    #[test]
    fn unsupported_proxy_schemes_are_usage_errors_naming_the_source() {
        let err = Proxy::parse("socks5://127.0.0.1:1080", "ALL_PROXY").unwrap_err();
        assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage);
        assert_eq!(
            err.to_string(),
            "invalid proxy in ALL_PROXY: 'socks5://' proxies are not supported \
             (only http:// proxies, via CONNECT)"
        );
    }

    #[test]
    fn environment_is_read_per_scheme_and_flag_wins() {
        let env = env_of(&[
            ("HTTPS_PROXY", "http://secure:1"),
            ("http_proxy", "http://plain:2"),
            ("ALL_PROXY", "http://all:3"),
        ]);
        let host = |u: &str, flag: Option<&str>| {
            proxy_for(&url(u), flag, &env)
                .unwrap()
                .map(|p| format!("{p} {}", p.source))
        };
        assert_eq!(
            host("wss://x/", None).as_deref(),
            Some("secure:1 HTTPS_PROXY")
        );
        assert_eq!(host("ws://x/", None).as_deref(), Some("plain:2 http_proxy"));
        assert_eq!(
            host("ws://x/", Some("flag:4")).as_deref(),
            Some("flag:4 --proxy")
        );
        assert_eq!(host("ws://x/", Some("")), None);
        let only_all = env_of(&[("ALL_PROXY", "http://all:3"), ("HTTP_PROXY", " ")]);
        let p = proxy_for(&url("ws://x/"), None, only_all).unwrap().unwrap();
        assert_eq!(p.to_string(), "all:3");
        assert_eq!(proxy_for(&url("ws://x/"), None, env_of(&[])).unwrap(), None);
    }

    #[test]
    fn no_proxy_exempts_hosts_from_the_environment_only() {
        let env = env_of(&[
            ("HTTP_PROXY", "http://p:1"),
            ("NO_PROXY", "example.com, 10.0.0.0/8"),
        ]);
        assert_eq!(
            proxy_for(&url("ws://api.example.com/"), None, &env).unwrap(),
            None
        );
        assert!(
            proxy_for(&url("ws://other.com/"), None, &env)
                .unwrap()
                .is_some()
        );
        assert!(
            proxy_for(&url("ws://api.example.com/"), Some("http://f:2"), &env)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn no_proxy_matching_follows_curl() {
        assert!(no_proxy_matches("*", "anything", 80));
        assert!(no_proxy_matches("example.com", "example.com", 80));
        assert!(no_proxy_matches("example.com", "a.b.example.com", 80));
        assert!(no_proxy_matches(".example.com", "example.com", 80));
        assert!(no_proxy_matches("*.example.com", "api.example.com", 80));
        assert!(!no_proxy_matches("example.com", "badexample.com", 80));
        assert!(no_proxy_matches("EXAMPLE.com.", "api.Example.COM", 80));
        assert!(no_proxy_matches("localhost 127.0.0.1", "127.0.0.1", 80));
        assert!(!no_proxy_matches("127.0.0.1", "127.0.0.2", 80));
        assert!(no_proxy_matches("127.0.0.0/8", "127.9.9.9", 80));
        assert!(!no_proxy_matches("10.0.0.0/8", "11.0.0.1", 80));
        assert!(no_proxy_matches("::1", "::1", 80));
        assert!(no_proxy_matches("[::1]:9000", "::1", 9000));
        assert!(no_proxy_matches("fd00::/8", "fd12::1", 80));
        assert!(no_proxy_matches("example.com:8080", "example.com", 8080));
        assert!(!no_proxy_matches("example.com:8080", "example.com", 443));
        assert!(!no_proxy_matches("", "example.com", 80));
        assert!(!no_proxy_matches(" , ", "example.com", 80));
    }

    #[test]
    fn percent_decoding_keeps_malformed_sequences() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
