//! Output records: each received event written in the chosen output format, on a
//! thread of its own with a buffered stdout that is flushed when input goes idle.

use std::io::{self, Write};
use std::time::SystemTime;

use base64::Engine;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::record::event::{Batch, Event, EventTx, Received};
use crate::record::formats::OutputFormat;
use crate::record::sanitize;

/// How events become bytes.
#[derive(Debug, Clone, Copy)]
pub struct OutputOptions {
    pub format: OutputFormat,
    pub timestamps: bool,
    /// stdout is a terminal: escape what could drive it, flush every message.
    pub terminal: bool,
}

/// Received event batches buffered between the socket and stdout at most; when
/// stdout is slow the pump stops reading the socket instead of growing this.
const EVENT_QUEUE: usize = 4;
/// Received messages per batch into that queue at most (fewer when they are big):
/// so at most 4 x 1024 messages, or 4 x 256 KiB plus one message, wait for stdout.
/// Big batches: each hand-over may have to wake the writer thread.
const EVENT_BATCH: usize = 1024;

/// The output thread: join it to be sure everything was written.
pub struct OutputWriter {
    handle: std::thread::JoinHandle<io::Result<()>>,
}

impl OutputWriter {
    /// Starts writing events to stdout; returns the sink for the pump.
    pub fn spawn_stdout(options: OutputOptions) -> (EventTx, OutputWriter) {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let handle = std::thread::Builder::new()
            .name("wspipe-output".into())
            .spawn(move || write_events(rx, options, &mut io::stdout().lock()))
            .expect("spawning the output thread");
        // A terminal shows each message as it comes.
        let batch = if options.terminal { 1 } else { EVENT_BATCH };
        (EventTx::new(tx, None, batch), OutputWriter { handle })
    }

    /// Waits until every event sent before the sinks were dropped is written.
    /// A closed stdout comes back as a `BrokenPipe` error, for a quiet exit.
    pub async fn finish(self) -> io::Result<()> {
        // Joined on a blocking thread: a stdout nobody reads would otherwise block
        // the runtime's only thread, and with it the Ctrl-C handler.
        let handle = self.handle;
        tokio::task::spawn_blocking(move || handle.join())
            .await
            .map_err(|_| io::Error::other("output thread lost"))?
            .unwrap_or_else(|_| Err(io::Error::other("output thread panicked")))
    }
}

fn write_events<W: Write>(
    mut rx: mpsc::Receiver<Batch>,
    options: OutputOptions,
    out: &mut W,
) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(64 * 1024, out);
    let mut scratch = Vec::with_capacity(256);
    while let Some(first) = rx.blocking_recv() {
        write_batch(&first, options, &mut out, &mut scratch)?;
        // Write whatever else is already waiting; flush when nothing is.
        while let Ok(next) = rx.try_recv() {
            write_batch(&next, options, &mut out, &mut scratch)?;
        }
        out.flush()?;
    }
    out.flush()
}

/// Writes a batch of events in the output format.
pub fn write_batch<W: Write>(
    batch: &Batch,
    options: OutputOptions,
    out: &mut W,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    for received in batch.iter() {
        match received {
            Received::Text(text) => write_text(batch.client, text, options, out, scratch)?,
            Received::Binary(data) => write_binary(batch.client, data, options, out, scratch)?,
            Received::Other(event) => write_event(batch.client, event, options, out, scratch)?,
        }
    }
    Ok(())
}

/// Writes one event in the output format (some events have no record in some formats).
pub fn write_event<W: Write>(
    client: Option<u64>,
    event: &Event,
    options: OutputOptions,
    out: &mut W,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    match event {
        Event::Text(text) => write_text(client, text.as_str(), options, out, scratch),
        Event::Binary(data) => write_binary(client, data, options, out, scratch),
        _ => match options.format {
            OutputFormat::Text | OutputFormat::Json => Ok(()),
            OutputFormat::Events => {
                let value = event_json(client, event, options.timestamps);
                write_json_line(&value, options.terminal, out, scratch)
            }
        },
    }
}

fn write_text<W: Write>(
    client: Option<u64>,
    text: &str,
    options: OutputOptions,
    out: &mut W,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    match options.format {
        OutputFormat::Text => {
            if options.terminal {
                out.write_all(sanitize::for_terminal(text).as_bytes())?;
            } else {
                out.write_all(text.as_bytes())?;
            }
            out.write_all(b"\n")
        }
        OutputFormat::Json => write_json_line(&json_of_text(text), options.terminal, out, scratch),
        OutputFormat::Events => {
            let value = data_json(client, "text", json!(text), options.timestamps);
            write_json_line(&value, options.terminal, out, scratch)
        }
    }
}

fn write_binary<W: Write>(
    client: Option<u64>,
    data: &[u8],
    options: OutputOptions,
    out: &mut W,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    match options.format {
        OutputFormat::Text => out.write_all(data),
        OutputFormat::Json => {
            let value = json!({ "binary": base64_of(data) });
            write_json_line(&value, options.terminal, out, scratch)
        }
        OutputFormat::Events => {
            let value = data_json(client, "binary", json!(base64_of(data)), options.timestamps);
            write_json_line(&value, options.terminal, out, scratch)
        }
    }
}

fn write_json_line<W: Write>(
    value: &Value,
    terminal: bool,
    out: &mut W,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    scratch.clear();
    serde_json::to_writer(&mut *scratch, value).map_err(io::Error::other)?;
    if terminal {
        // serde_json already escapes control characters; bidi and zero-width ones
        // it leaves raw, and they can only sit inside strings, so \u-escaping keeps
        // the line valid JSON.
        let text = String::from_utf8_lossy(scratch);
        out.write_all(sanitize::json_for_terminal(&text).as_bytes())?;
    } else {
        out.write_all(scratch)?;
    }
    out.write_all(b"\n")
}

/// A text message that is JSON, compacted; any other text, a JSON string.
pub fn json_of_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

pub fn base64_of(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The `-o events` object for one event.
pub fn event_json(client: Option<u64>, event: &Event, timestamps: bool) -> Value {
    let (name, fields): (&str, Vec<(&str, Value)>) = match event {
        Event::Open {
            url,
            protocol,
            peer,
        } => {
            let mut fields = vec![("url", json!(url)), ("protocol", json!(protocol))];
            if let Some(peer) = peer {
                fields.push(("peer", json!(peer)));
            }
            ("open", fields)
        }
        Event::Text(text) => ("text", vec![("data", json!(text.as_str()))]),
        Event::Binary(data) => ("binary", vec![("data", json!(base64_of(data)))]),
        Event::Ping(data) => ("ping", vec![("data", json!(String::from_utf8_lossy(data)))]),
        Event::Pong(data) => ("pong", vec![("data", json!(String::from_utf8_lossy(data)))]),
        Event::Close(frame) => ("close", close_fields(frame.as_ref())),
        Event::Error(message) => ("error", vec![("message", json!(message))]),
    };
    object_json(name, client, fields, timestamps)
}

/// The `-o events` object for a text or binary message.
fn data_json(client: Option<u64>, name: &str, data: Value, timestamps: bool) -> Value {
    object_json(name, client, vec![("data", data)], timestamps)
}

fn object_json(
    name: &str,
    client: Option<u64>,
    fields: Vec<(&str, Value)>,
    timestamps: bool,
) -> Value {
    let mut object = Map::new();
    object.insert("event".into(), json!(name));
    if let Some(client) = client {
        object.insert("client".into(), json!(client));
    }
    for (key, value) in fields {
        object.insert(key.into(), value);
    }
    if timestamps {
        object.insert("ts".into(), json!(rfc3339_now()));
    }
    Value::Object(object)
}

fn close_fields(frame: Option<&CloseFrame>) -> Vec<(&'static str, Value)> {
    match frame {
        Some(frame) => vec![
            ("code", json!(u16::from(frame.code))),
            ("reason", json!(frame.reason.as_str())),
        ],
        // A Close without a status code is reported as 1005, as RFC 6455 says.
        None => vec![("code", json!(1005)), ("reason", json!(""))],
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn render(event: Event, format: OutputFormat, terminal: bool) -> String {
        let mut out = Vec::new();
        let options = OutputOptions {
            format,
            timestamps: false,
            terminal,
        };
        // Through a batch, as the output thread gets it, and directly: the same.
        write_batch(
            &Batch::of(None, event.clone()),
            options,
            &mut out,
            &mut Vec::new(),
        )
        .unwrap();
        let mut direct = Vec::new();
        write_event(None, &event, options, &mut direct, &mut Vec::new()).unwrap();
        assert_eq!(out, direct);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_output_is_always_json_lines() {
        let f = OutputFormat::Json;
        assert_eq!(
            render(Event::Text("{ \"a\" : 1 }".into()), f, false),
            "{\"a\":1}\n"
        );
        assert_eq!(
            render(Event::Text("plain words".into()), f, false),
            "\"plain words\"\n"
        );
        assert_eq!(
            render(Event::Text("line\nbreak".into()), f, false),
            "\"line\\nbreak\"\n"
        );
        assert_eq!(
            render(Event::Binary(Bytes::from_static(b"\x00\x01")), f, false),
            "{\"binary\":\"AAE=\"}\n"
        );
        assert_eq!(render(Event::Ping(Bytes::new()), f, false), "");
    }

    #[test]
    fn events_carry_close_codes_and_clients() {
        let frame = CloseFrame {
            code: 4001.into(),
            reason: "bye".into(),
        };
        assert_eq!(
            render(Event::Close(Some(frame)), OutputFormat::Events, false),
            "{\"event\":\"close\",\"code\":4001,\"reason\":\"bye\"}\n"
        );
        assert_eq!(
            event_json(Some(3), &Event::Text("hi".into()), false).to_string(),
            "{\"event\":\"text\",\"client\":3,\"data\":\"hi\"}"
        );
        let options = OutputOptions {
            format: OutputFormat::Events,
            timestamps: false,
            terminal: false,
        };
        let mut out = Vec::new();
        let batch = Batch::of(Some(3), Event::Text("hi".into()));
        write_batch(&batch, options, &mut out, &mut Vec::new()).unwrap();
        assert_eq!(out, b"{\"event\":\"text\",\"client\":3,\"data\":\"hi\"}\n");
    }

    #[test]
    fn text_is_raw_in_pipes_and_escaped_on_terminals() {
        let evil = "red\u{1b}[31m\u{202e}";
        assert_eq!(
            render(Event::Text(evil.into()), OutputFormat::Text, false),
            format!("{evil}\n")
        );
        assert_eq!(
            render(Event::Text(evil.into()), OutputFormat::Text, true),
            "red\\x1b[31m\\u{202e}\n"
        );
        assert_eq!(
            render(Event::Text(evil.into()), OutputFormat::Json, true),
            "\"red\\u001b[31m\\u202e\"\n"
        );
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let ts = rfc3339_now();
        assert_eq!(ts.len(), "2026-11-24T10:00:00.000Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
    }
}
