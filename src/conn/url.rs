//! Turning what the user typed into a `ws://` or `wss://` URL.

use url::Url;

use crate::exit::{Exit, coded};

/// Accepts `ws://` and `wss://`, maps `http(s)://` to `ws(s)://`, and reads a bare
/// `host:port/path` as `ws://`. Anything else is a usage error naming the URL.
pub fn parse_ws_url(input: &str) -> anyhow::Result<Url> {
    let bad = |why: &str| coded(Exit::Usage, format!("invalid URL '{input}': {why}"));
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("ws://{trimmed}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => {
            return Err(bad(&format!(
                "unsupported scheme '{other}' (use ws:// or wss://)"
            )));
        }
    };
    if url.scheme() != scheme {
        // `set_scheme` refuses special-to-special changes only between different
        // families; http->ws and https->wss are both "special" schemes, so it works.
        url.set_scheme(scheme)
            .map_err(|()| bad("cannot map the scheme"))?;
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(url)
}

/// Appends `/room/ID` to the URL's path (the chat layout).
pub fn with_room(url: &Url, room: &str) -> Url {
    let mut url = url.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("room").push(room);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        parse_ws_url(s).unwrap().to_string()
    }

    #[test]
    fn schemes_are_mapped() {
        assert_eq!(ok("ws://h:1/a"), "ws://h:1/a");
        assert_eq!(ok("wss://h/a?b=c"), "wss://h/a?b=c");
        assert_eq!(ok("http://h:8080/x"), "ws://h:8080/x");
        assert_eq!(ok("https://h/x"), "wss://h/x");
        assert_eq!(ok("localhost:9001/chat"), "ws://localhost:9001/chat");
        assert_eq!(ok("127.0.0.1:9001"), "ws://127.0.0.1:9001/");
    }

    #[test]
    fn bad_urls_are_usage_errors_naming_the_url() {
        for bad in ["", "ftp://h/", "ws://", "ws://:80/", "http://[::1"] {
            let err = parse_ws_url(bad).unwrap_err();
            assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage, "{bad}");
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn room_is_appended_to_the_path() {
        let base = parse_ws_url("ws://h:1").unwrap();
        assert_eq!(with_room(&base, "lobby").as_str(), "ws://h:1/room/lobby");
        let deep = parse_ws_url("ws://h:1/chat/").unwrap();
        assert_eq!(with_room(&deep, "a b").as_str(), "ws://h:1/chat/room/a%20b");
    }
}
