//! `send`'s stop conditions: `--wait N`, `--expect REGEX`, `--expect-json POINTER=VALUE`.

use regex::Regex;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::exit::{Exit, coded};

/// What `send` waits for. Done when every condition holds: N replies seen, and each
/// pattern matched by some reply.
#[derive(Debug, Default)]
pub struct Expectations {
    wait: Option<u64>,
    patterns: Vec<(Regex, bool)>,
    json: Vec<(JsonExpectation, bool)>,
    replies: u64,
}

#[derive(Debug)]
struct JsonExpectation {
    raw: String,
    pointer: String,
    value: Value,
}

impl Expectations {
    pub fn new(wait: Option<u64>, patterns: Vec<Regex>, json: &[String]) -> anyhow::Result<Self> {
        let json = json
            .iter()
            .map(|raw| parse_json_expectation(raw).map(|e| (e, false)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Expectations {
            wait,
            patterns: patterns.into_iter().map(|p| (p, false)).collect(),
            json,
            replies: 0,
        })
    }

    /// Anything to wait for at all.
    pub fn is_waiting(&self) -> bool {
        self.wait.is_some() || !self.patterns.is_empty() || !self.json.is_empty()
    }

    /// Records a reply; true once everything is satisfied.
    pub fn observe(&mut self, message: &Message) -> bool {
        self.replies += 1;
        let text = match message {
            Message::Text(text) => std::borrow::Cow::Borrowed(text.as_str()),
            Message::Binary(data) => String::from_utf8_lossy(data),
            _ => return self.satisfied(),
        };
        for (pattern, matched) in &mut self.patterns {
            *matched = *matched || pattern.is_match(&text);
        }
        if self.json.iter().any(|(_, matched)| !matched) {
            if let Ok(reply) = serde_json::from_str::<Value>(&text) {
                for (expectation, matched) in &mut self.json {
                    *matched = *matched
                        || reply
                            .pointer(&expectation.pointer)
                            .is_some_and(|found| json_equal(found, &expectation.value));
                }
            }
        }
        self.satisfied()
    }

    pub fn satisfied(&self) -> bool {
        self.wait.is_none_or(|n| self.replies >= n)
            && self.patterns.iter().all(|(_, m)| *m)
            && self.json.iter().all(|(_, m)| *m)
    }

    /// What is still missing, for the error message.
    pub fn unmet(&self) -> String {
        let mut missing = Vec::new();
        if let Some(n) = self.wait {
            if self.replies < n {
                missing.push(format!("--wait {n} (got {} replies)", self.replies));
            }
        }
        for (pattern, matched) in &self.patterns {
            if !matched {
                missing.push(format!("--expect '{}'", pattern.as_str()));
            }
        }
        for (expectation, matched) in &self.json {
            if !matched {
                missing.push(format!("--expect-json '{}'", expectation.raw));
            }
        }
        missing.join(", ")
    }
}

/// Numbers compare by value (1 == 1.0); everything else structurally.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_equal(x, y)))
        }
        _ => a == b,
    }
}

/// `POINTER=VALUE`: VALUE is JSON (`"ok"`, `200`, `true`), or else a plain string.
fn parse_json_expectation(raw: &str) -> anyhow::Result<JsonExpectation> {
    let usage = |why: &str| coded(Exit::Usage, format!("invalid --expect-json '{raw}': {why}"));
    let (pointer, value) = raw
        .split_once('=')
        .ok_or_else(|| usage("expected POINTER=VALUE, e.g. /status=\"ok\""))?;
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err(usage("a JSON Pointer starts with '/'"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok(JsonExpectation {
        raw: raw.to_string(),
        pointer: pointer.to_string(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Message {
        Message::Text(s.into())
    }

    #[test]
    fn all_expectations_must_hold() {
        let mut e = Expectations::new(
            None,
            vec![Regex::new("^pong").unwrap()],
            &["/status=\"ok\"".to_string(), "/n=2".to_string()],
        )
        .unwrap();
        assert!(!e.observe(&text("pong 1")));
        assert!(!e.observe(&text(r#"{"status":"ok","n":1}"#)));
        assert_eq!(e.unmet(), "--expect-json '/n=2'");
        assert!(e.observe(&text(r#"{"n":2.0}"#)));
    }

    #[test]
    fn bare_values_are_strings() {
        let mut e = Expectations::new(None, vec![], &["/a/0=x".to_string()]).unwrap();
        assert!(e.observe(&text(r#"{"a":["x"]}"#)));
    }

    #[test]
    fn wait_counts_replies() {
        let mut e = Expectations::new(Some(2), vec![], &[]).unwrap();
        assert!(e.is_waiting());
        assert!(!e.observe(&text("a")));
        assert!(e.observe(&text("b")));
    }

    #[test]
    fn malformed_expectation_is_a_usage_error() {
        let err = Expectations::new(None, vec![], &["status".to_string()]).unwrap_err();
        assert_eq!(crate::exit::exit_code_of(&err), Exit::Usage);
    }
}
