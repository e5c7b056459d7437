//! What `listen --auth` / `--bearer` require of a client's handshake: an
//! `Authorization` header with the right secret, compared in constant time.

use base64::Engine;
use subtle::ConstantTimeEq;
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue, header};

/// The secrets a client may present; either one lets it in.
#[derive(Debug, Clone, Default)]
pub struct Required {
    /// `USER:PASS` for HTTP Basic.
    pub basic: Option<String>,
    /// The token for `Authorization: Bearer`.
    pub bearer: Option<String>,
}

/// Why a handshake was refused for its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Missing,
    Wrong,
}

impl Required {
    pub fn any(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some()
    }

    /// The flags that set these, for log lines and warnings.
    pub fn flags(&self) -> &'static str {
        match (self.basic.is_some(), self.bearer.is_some()) {
            (true, true) => "--auth or --bearer",
            (true, false) => "--auth",
            _ => "--bearer",
        }
    }

    /// Whether `headers` carry one of the secrets (always, when none is required).
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refused> {
        if !self.any() {
            return Ok(());
        }
        let mut offered = false;
        for value in headers.get_all(header::AUTHORIZATION) {
            offered = true;
            let Some((scheme, secret)) = value.to_str().ok().and_then(|v| v.trim().split_once(' '))
            else {
                continue;
            };
            let secret = secret.trim();
            // Scheme names are case-insensitive (RFC 9110 11.1).
            let matched = if scheme.eq_ignore_ascii_case("basic") {
                let decoded = crate::record::input::BASE64_LENIENT.decode(secret);
                matches!((&self.basic, decoded), (Some(want), Ok(got)) if same(want.as_bytes(), &got))
            } else if scheme.eq_ignore_ascii_case("bearer") {
                matches!(&self.bearer, Some(want) if same(want.as_bytes(), secret.as_bytes()))
            } else {
                false
            };
            if matched {
                return Ok(());
            }
        }
        Err(if offered {
            Refused::Wrong
        } else {
            Refused::Missing
        })
    }

    /// The `WWW-Authenticate` challenges a 401 carries (RFC 9110 11.6.1).
    pub fn challenges(&self) -> Vec<HeaderValue> {
        let mut challenges = Vec::new();
        if self.basic.is_some() {
            challenges.push(HeaderValue::from_static(
                "Basic realm=\"wspipe\", charset=\"UTF-8\"",
            ));
        }
        if self.bearer.is_some() {
            challenges.push(HeaderValue::from_static("Bearer realm=\"wspipe\""));
        }
        challenges
    }
}

/// Compares secrets in time independent of where they differ (only a different
/// length returns early, which tells an attacker the length at most).
fn same(want: &[u8], got: &[u8]) -> bool {
    want.ct_eq(got).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(header::AUTHORIZATION, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn basic_and_bearer_each_let_in_with_the_right_secret_only() {
        let required = Required {
            basic: Some("alice:s3cret".into()),
            bearer: Some("tok".into()),
        };
        // "alice:s3cret"
        assert_eq!(
            required.check(&headers(&["Basic YWxpY2U6czNjcmV0"])),
            Ok(())
        );
        assert_eq!(
            required.check(&headers(&["basic  YWxpY2U6czNjcmV0 "])),
            Ok(())
        );
        assert_eq!(required.check(&headers(&["Bearer tok"])), Ok(()));
        // "alice:wrong", a wrong token, an unknown scheme, no scheme.
        for wrong in ["Basic YWxpY2U6d3Jvbmc=", "Bearer to", "Digest tok", "tok"] {
            assert_eq!(
                required.check(&headers(&[wrong])),
                Err(Refused::Wrong),
                "{wrong}"
            );
        }
        assert_eq!(required.check(&headers(&[])), Err(Refused::Missing));
    }

    #[test]
    fn a_scheme_not_required_does_not_let_in() {
        let required = Required {
            basic: None,
            bearer: Some("dG9r".into()),
        };
        // Basic credentials that happen to decode to anything are no bearer token.
        assert_eq!(
            required.check(&headers(&["Basic dG9r"])),
            Err(Refused::Wrong)
        );
        assert_eq!(required.flags(), "--bearer");
        assert!(Required::default().check(&headers(&[])).is_ok());
    }
}
