//! The HTTP side of a handshake as `-v` shows it, on either end: request and
//! response heads, line by line, with credentials redacted.

use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, Request, Response};

/// Headers whose values are secrets.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// A header's value as shown: `<redacted>` for secrets.
pub fn redacted(name: &str, value: &HeaderValue) -> String {
    if SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
        "<redacted>".to_string()
    } else {
        crate::record::sanitize::for_terminal(&String::from_utf8_lossy(value.as_bytes()))
            .into_owned()
    }
}

/// A request as a server received it: `GET /path?q HTTP/1.1` and its headers.
pub fn request_head<B>(request: &Request<B>) -> Vec<String> {
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let mut lines = vec![format!(
        "GET {} {:?}",
        crate::record::sanitize::for_terminal(target).into_owned(),
        request.version()
    )];
    lines.extend(header_lines(request.headers()));
    lines
}

/// A response's status line and headers.
pub fn response_head<B>(response: &Response<B>) -> Vec<String> {
    let mut lines = vec![format!("{:?} {}", response.version(), response.status())];
    lines.extend(header_lines(response.headers()));
    lines
}

fn header_lines(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", redacted(name.as_str(), value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_shown() {
        let request = Request::get("ws://h/p?q=1")
            .header("Authorization", "Bearer t0ken")
            .header("Cookie", "id=1")
            .header("Origin", "https://app.example")
            .body(())
            .unwrap();
        assert_eq!(
            request_head(&request),
            [
                "GET /p?q=1 HTTP/1.1",
                "authorization: <redacted>",
                "cookie: <redacted>",
                "origin: https://app.example"
            ]
        );
        let response = Response::builder()
            .status(401)
            .header("Set-Cookie", "s=2")
            .body(())
            .unwrap();
        assert_eq!(
            response_head(&response),
            ["HTTP/1.1 401 Unauthorized", "set-cookie: <redacted>"]
        );
    }
}
