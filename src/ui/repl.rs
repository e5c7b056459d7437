//! The interactive REPL of `wspipe connect` when stdin and stdout are terminals:
//! what a typed line means (messages, slash commands) and how received events look.
//! The terminal session itself (editor thread, printer, Ctrl-C, shutdown) is
//! [`crate::ui::interactive`], shared with chat.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::conn::pump::DoneWhen;
use crate::conn::session::ClientSession;
use crate::record::event::Event;
use crate::record::feed::Input;
use crate::record::formats::InputFormat;
use crate::record::input::{BASE64_LENIENT, parse_record};
use crate::record::output::{base64_of, rfc3339_now};
use crate::record::sanitize;
use crate::ui::history::history_path;
use crate::ui::interactive::{
    self, EditorIo, Flow, LineHandler, Screen, Shown, TerminalOptions, close_description,
};
use crate::ui::style::Style;

/// How the REPL looks and behaves (from the `connect` flags).
#[derive(Debug, Clone, Copy)]
pub struct ReplOptions {
    pub style: Style,
    /// `--pretty`: JSON messages shown indented.
    pub pretty: bool,
    /// `--timestamps`: each printed line starts with the UTC time.
    pub timestamps: bool,
    /// `-P`: show pings and pongs received (pongs answering `/ping` always show).
    pub show_control: bool,
    /// Read and write the history file (false for `--no-history`).
    pub history: bool,
    /// How a typed line becomes a message (`-i`).
    pub input: InputFormat,
    pub quiet: bool,
}

/// Binary messages are shown as base64 of at most this many bytes.
const BINARY_SHOWN: usize = 96;

const PROMPT: &str = "> ";
const CONTINUATION_INDENT: &str = "  ";
/// `HH:MM:SS.mmm`
const TIME_WIDTH: usize = 12;

const HELP: &str = "\
a line is sent as a text message (-i json: checked and compacted; -i base64: binary);
an unbalanced JSON value ({ or [ not closed) continues on the next line;
//text sends \"/text\"
/ping [data]             send a ping; its pong is shown with the round-trip time
/pong [data]             send an unsolicited pong
/close [code [reason]]   close the connection (default 1000) and exit
/binary <base64>         send a binary message
/file PATH               send a file: text if it is UTF-8, binary otherwise
/help                    this help
/quit                    close with 1000 and exit 0 (also Ctrl-D)
Ctrl-C clears the line; on an empty line it closes with 1000 and exits 130";

const COMMANDS: [&str; 7] = [
    "/binary", "/close", "/file", "/help", "/ping", "/pong", "/quit",
];

/// Pings sent with `/ping` and not answered yet: payload and when it went out.
type PendingPings = Arc<Mutex<VecDeque<(Bytes, Instant)>>>;

/// Runs the REPL session to its end; the result maps to the exit code like pipe mode.
pub async fn run(
    session: ClientSession,
    options: ReplOptions,
    done_when: Option<DoneWhen>,
) -> anyhow::Result<()> {
    let pings = PendingPings::default();
    let view = View {
        style: options.style,
        pretty: options.pretty,
        timestamps: options.timestamps,
        show_control: options.show_control,
    };
    let handler = ReplHandler {
        pings: Arc::clone(&pings),
        input_format: options.input,
        style: options.style,
        max_message_size: session.pump.max_message_size,
    };
    let screen = ReplScreen { view, pings };
    let terminal_options = TerminalOptions {
        style: options.style,
        history: if options.history {
            history_path()
        } else {
            None
        },
        quiet: options.quiet,
        input_name: "you typed",
    };
    interactive::run(session, handler, screen, terminal_options, done_when).await
}

/// How received events look in the REPL; pongs are matched with their `/ping`.
struct ReplScreen {
    view: View,
    pings: PendingPings,
}

impl Screen for ReplScreen {
    fn render(&mut self, event: &Event) -> Shown {
        let rtt = match event {
            Event::Pong(data) => take_round_trip(&self.pings, data),
            _ => None,
        };
        match self.view.render(event, rtt) {
            Some(lines) => Shown::Lines(lines),
            None => Shown::Nothing,
        }
    }

    fn status(&self, text: &str) -> String {
        self.view.status(text)
    }
}

/// The round-trip time of the `/ping` this pong answers, if it answers one.
fn take_round_trip(pings: &PendingPings, data: &Bytes) -> Option<Duration> {
    let mut pending = pings.lock().ok()?;
    let index = pending.iter().position(|(sent, _)| sent == data)?;
    let (_, at) = pending.remove(index)?;
    Some(at.elapsed())
}

/// How events and status lines look.
#[derive(Debug, Clone, Copy)]
struct View {
    style: Style,
    pretty: bool,
    timestamps: bool,
    show_control: bool,
}

impl View {
    /// The screen line(s) for an event, or None when it is not shown.
    fn render(&self, event: &Event, rtt: Option<Duration>) -> Option<String> {
        let line = match event {
            Event::Open { .. } => return None,
            Event::Text(text) => self.received(&self.text_body(text.as_str())),
            Event::Binary(data) => self.received(&binary_body(data)),
            Event::Ping(data) if self.show_control => {
                self.received(&format!("ping{}", control_payload(data)))
            }
            Event::Ping(_) => return None,
            Event::Pong(data) => match rtt {
                Some(rtt) => self.received(&format!(
                    "pong{} ({})",
                    control_payload(data),
                    format_rtt(rtt)
                )),
                None if self.show_control => {
                    self.received(&format!("pong{}", control_payload(data)))
                }
                None => return None,
            },
            Event::Close(frame) => self.status(&close_description(frame.as_ref())),
            Event::Error(message) => self.status(&format!("error: {message}")),
        };
        Some(line)
    }

    fn text_body(&self, text: &str) -> String {
        if self.pretty {
            if let Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) =
                serde_json::from_str::<serde_json::Value>(text)
            {
                if let Ok(pretty) = serde_json::to_string_pretty(&value) {
                    // serde_json escapes control characters; bidi and zero-width
                    // ones are escaped here, newlines between values stay.
                    return sanitize::json_for_terminal(&pretty).into_owned();
                }
            }
        }
        // Line breaks become continuation lines; every other control character
        // is shown escaped.
        text.split('\n')
            .map(sanitize::for_terminal)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `< body`, continuation lines indented, in the received colour.
    fn received(&self, body: &str) -> String {
        let mut out = String::new();
        for (i, line) in body.split('\n').enumerate() {
            if i == 0 {
                out.push_str(&self.time_prefix());
                out.push_str(&self.style.received(&format!("< {line}")));
            } else {
                // Continuation lines line up under the first, without a time.
                out.push('\n');
                if self.timestamps {
                    out.push_str(&" ".repeat(TIME_WIDTH + 1));
                }
                out.push_str(&self.style.received(&format!("{CONTINUATION_INDENT}{line}")));
            }
        }
        out
    }

    /// A connection status line (connected, closed, reconnecting, warnings).
    fn status(&self, text: &str) -> String {
        let painted = if text.starts_with("error") || text.starts_with("warning") {
            self.style.error(text)
        } else {
            self.style.status(text)
        };
        format!("{}{painted}", self.time_prefix())
    }

    fn time_prefix(&self) -> String {
        if !self.timestamps {
            return String::new();
        }
        // RFC 3339 UTC: keep HH:MM:SS.mmm.
        let now = rfc3339_now();
        let time = now.get(11..11 + TIME_WIDTH).unwrap_or(&now);
        format!("{} ", self.style.dim(time))
    }
}

fn binary_body(data: &[u8]) -> String {
    let shown = &data[..data.len().min(BINARY_SHOWN)];
    let more = if data.len() > BINARY_SHOWN { "…" } else { "" };
    format!(
        "binary, {} byte{}: {}{more}",
        data.len(),
        if data.len() == 1 { "" } else { "s" },
        base64_of(shown)
    )
}

/// ` payload` for a ping or pong, or nothing when it is empty.
fn control_payload(data: &[u8]) -> String {
    if data.is_empty() {
        String::new()
    } else {
        format!(
            " {}",
            sanitize::for_terminal(&String::from_utf8_lossy(data))
        )
    }
}

fn format_rtt(rtt: Duration) -> String {
    format!("{:.1} ms", rtt.as_secs_f64() * 1000.0)
}

/// What one entered line asks for.
#[derive(Debug, PartialEq)]
enum Request {
    Send(Message),
    /// `/ping`: sent as a ping, its pong timed.
    Ping(Bytes),
    Close(CloseFrame),
    /// `/file PATH`: read in the editor thread.
    File(PathBuf),
    Help,
    Quit,
    /// An empty line.
    Nothing,
}

/// Control frame payloads are at most 125 bytes (RFC 6455 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// Parses one entered line (possibly several lines of a JSON value).
fn parse_line(line: &str, input: InputFormat) -> Result<Request, String> {
    if line.trim().is_empty() {
        return Ok(Request::Nothing);
    }
    if let Some(rest) = line.strip_prefix("//") {
        return Ok(Request::Send(Message::Text(format!("/{rest}").into())));
    }
    let Some(command) = line.strip_prefix('/') else {
        return parse_message(line, input).map(Request::Send);
    };
    let (name, arg) = match command.split_once(' ') {
        Some((name, arg)) => (name, arg.trim()),
        None => (command.trim_end(), ""),
    };
    match name {
        "ping" => control_data(arg).map(Request::Ping),
        "pong" => control_data(arg).map(|data| Request::Send(Message::Pong(data))),
        "close" => parse_close(arg).map(Request::Close),
        "binary" => BASE64_LENIENT
            .decode(arg.as_bytes())
            .map(|data| Request::Send(Message::Binary(data.into())))
            .map_err(|err| format!("not valid base64 ({err})")),
        "file" if arg.is_empty() => Err("usage: /file PATH".into()),
        "file" => Ok(Request::File(PathBuf::from(arg))),
        "help" => Ok(Request::Help),
        "quit" | "exit" => Ok(Request::Quit),
        _ => Err(format!(
            "unknown command /{name} (try /help; //text sends \"/text\")"
        )),
    }
}

/// A typed line as a message in the input format. A value typed over several lines
/// is sent compact, as `-i json` would.
fn parse_message(line: &str, input: InputFormat) -> Result<Message, String> {
    match input {
        InputFormat::Json | InputFormat::Base64 => {
            parse_record(line.as_bytes(), input)?.ok_or_else(|| "nothing to send".to_string())
        }
        InputFormat::Text | InputFormat::Binary => {
            if line.contains('\n') {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                    return Ok(Message::Text(value.to_string().into()));
                }
            }
            Ok(Message::Text(line.into()))
        }
    }
}

fn control_data(arg: &str) -> Result<Bytes, String> {
    if arg.len() > MAX_CONTROL_PAYLOAD {
        return Err(format!(
            "ping and pong data is at most {MAX_CONTROL_PAYLOAD} bytes"
        ));
    }
    Ok(Bytes::copy_from_slice(arg.as_bytes()))
}

/// `[code [reason]]`, default 1000; only codes a client may send.
fn parse_close(arg: &str) -> Result<CloseFrame, String> {
    let (code, reason) = match arg.split_once(' ') {
        Some((code, reason)) => (code, reason.trim()),
        None => (arg, ""),
    };
    let code: u16 = if code.is_empty() {
        1000
    } else {
        code.parse()
            .map_err(|_| format!("'{code}' is not a close code (try 1000 or 4000)"))?
    };
    if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        return Err(format!(
            "{code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"
        ));
    }
    // 125 bytes of payload, 2 of them the code.
    if reason.len() > 123 {
        return Err("the close reason is at most 123 bytes".into());
    }
    Ok(CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from(reason),
    })
}

/// The file's bytes, or None when it holds more than `limit` (only one byte past
/// the limit is read: `/file /dev/zero` ends at once).
fn read_at_most(path: &std::path::Path, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut data = Vec::new();
    let past = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    std::fs::File::open(path)?
        .take(past)
        .read_to_end(&mut data)?;
    Ok((data.len() <= limit).then_some(data))
}

/// What a typed line means in the REPL: a message, or a slash command.
struct ReplHandler {
    pings: PendingPings,
    input_format: InputFormat,
    style: Style,
    /// `--max-message-size`: a larger line or `/file` is refused, not sent.
    max_message_size: usize,
}

impl LineHandler for ReplHandler {
    type Helper = ReplHelper;

    fn editor(&self) -> anyhow::Result<Editor<ReplHelper, FileHistory>> {
        interactive::line_editor(ReplHelper, rustyline::ColorMode::Enabled)
    }

    fn prompt(&self) -> (String, String) {
        (PROMPT.to_string(), self.style.sent(PROMPT))
    }

    fn handle(&mut self, line: &str, io: &EditorIo) -> Flow {
        let request = match parse_line(line, self.input_format) {
            Ok(request) => request,
            Err(err) => {
                io.error(&format!("error: {err}"));
                return Flow::Continue;
            }
        };
        match request {
            Request::Nothing => Flow::Continue,
            Request::Send(message) if message.len() > self.max_message_size => {
                let why = crate::record::input::too_big(self.max_message_size);
                io.error(&format!("error: not sent: the message is {why}"));
                Flow::Continue
            }
            Request::Send(message) => io.send(message),
            Request::Ping(data) => {
                // Recorded first: the pong can come back before the send returns.
                if let Ok(mut pending) = self.pings.lock() {
                    pending.push_back((data.clone(), Instant::now()));
                }
                io.send(Message::Ping(data))
            }
            Request::File(path) => match read_at_most(&path, self.max_message_size) {
                Ok(None) => {
                    let why = crate::record::input::too_big(self.max_message_size);
                    io.error(&format!("error: not sent: {} is {why}", path.display()));
                    Flow::Continue
                }
                Ok(Some(data)) => {
                    let size = data.len();
                    let (message, kind) = match String::from_utf8(data) {
                        Ok(text) => (Message::Text(text.into()), "text"),
                        Err(err) => (Message::Binary(err.into_bytes().into()), "binary"),
                    };
                    io.say(&format!(
                        "sending {} ({size} bytes, {kind})",
                        path.display()
                    ));
                    io.send(message)
                }
                Err(err) => {
                    io.error(&format!("error: cannot read {}: {err}", path.display()));
                    Flow::Continue
                }
            },
            Request::Close(frame) => {
                let _ = io.send_input(Input::Close(Some(frame)));
                Flow::Stop
            }
            Request::Quit => {
                let _ = io.send_input(Input::End);
                Flow::Stop
            }
            Request::Help => {
                io.say(HELP);
                Flow::Continue
            }
        }
    }
}

/// Completion of slash commands and multi-line JSON.
struct ReplHelper;

impl Completer for ReplHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok((0, interactive::complete_slash_command(line, pos, &COMMANDS)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        if json_incomplete(ctx.input()) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ReplHelper {}

/// The input starts a JSON object or array that is not closed yet.
fn json_incomplete(input: &str) -> bool {
    let trimmed = input.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return false;
    }
    let mut depth: i64 = 0;
    let mut in_string = false;
    let mut escaped = false;
    for c in trimmed.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || in_string
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(show_control: bool) -> View {
        View {
            style: Style { color: false },
            pretty: false,
            timestamps: false,
            show_control,
        }
    }

    #[test]
    fn lines_and_slash_commands_become_requests() {
        let text = InputFormat::Text;
        assert_eq!(
            parse_line("hello world", text),
            Ok(Request::Send(Message::text("hello world")))
        );
        assert_eq!(parse_line("  ", text), Ok(Request::Nothing));
        assert_eq!(
            parse_line("//etc", text),
            Ok(Request::Send(Message::text("/etc")))
        );
        assert_eq!(parse_line("/ping", text), Ok(Request::Ping(Bytes::new())));
        assert_eq!(
            parse_line("/ping are you there", text),
            Ok(Request::Ping(Bytes::from_static(b"are you there")))
        );
        assert_eq!(
            parse_line("/pong x", text),
            Ok(Request::Send(Message::Pong(Bytes::from_static(b"x"))))
        );
        assert_eq!(
            parse_line("/binary AAEC", text),
            Ok(Request::Send(Message::binary(vec![0u8, 1, 2])))
        );
        assert_eq!(
            parse_line("/file /tmp/x y", text),
            Ok(Request::File(PathBuf::from("/tmp/x y")))
        );
        assert_eq!(parse_line("/quit", text), Ok(Request::Quit));
        assert_eq!(parse_line("/help", text), Ok(Request::Help));
        assert!(parse_line("/binary !!", text).is_err());
        assert!(parse_line("/nope", text).unwrap_err().contains("/help"));
        assert!(parse_line(&format!("/ping {}", "x".repeat(126)), text).is_err());
    }

    #[test]
    fn close_takes_a_code_and_a_reason() {
        let close = |arg| match parse_line(arg, InputFormat::Text) {
            Ok(Request::Close(frame)) => Ok((u16::from(frame.code), frame.reason.to_string())),
            Ok(other) => panic!("{other:?}"),
            Err(err) => Err(err),
        };
        assert_eq!(close("/close"), Ok((1000, String::new())));
        assert_eq!(close("/close 4000 bye now"), Ok((4000, "bye now".into())));
        assert_eq!(close("/close 1001"), Ok((1001, String::new())));
        assert!(close("/close 1005").is_err());
        assert!(close("/close 999").is_err());
        assert!(close("/close soon").is_err());
    }

    #[test]
    fn multi_line_json_is_sent_compact_and_json_input_is_checked() {
        assert_eq!(
            parse_line("{\n  \"a\": [1,\n 2]\n}", InputFormat::Text),
            Ok(Request::Send(Message::text("{\"a\":[1,2]}")))
        );
        assert_eq!(
            parse_line("{ \"a\" : 1 }", InputFormat::Json),
            Ok(Request::Send(Message::text("{\"a\":1}")))
        );
        assert!(parse_line("{oops", InputFormat::Json).is_err());
        assert_eq!(
            parse_line("AAE=", InputFormat::Base64),
            Ok(Request::Send(Message::binary(vec![0u8, 1])))
        );
    }

    #[test]
    fn unbalanced_json_continues_on_the_next_line() {
        assert!(json_incomplete("{\"a\": ["));
        assert!(json_incomplete("  [1, {\"b\": \"}\""));
        assert!(json_incomplete("{\"s\": \"open string"));
        assert!(!json_incomplete("{\"a\": [1]}"));
        assert!(!json_incomplete("{\"a\": \"\\\"}\"}"));
        assert!(!json_incomplete("plain text with { brace"));
        assert!(!json_incomplete("[info] done"));
    }

    #[test]
    fn received_events_are_marked_and_sanitised() {
        let view = plain(false);
        assert_eq!(
            view.render(&Event::Text("hi\u{1b}[2J".into()), None),
            Some("< hi\\x1b[2J".to_string())
        );
        assert_eq!(
            view.render(&Event::Binary(Bytes::from_static(b"\x00\x01\x02")), None),
            Some("< binary, 3 bytes: AAEC".to_string())
        );
        assert_eq!(
            view.render(&Event::Text("two\nlines\r".into()), None),
            Some("< two\n  lines\\x0d".to_string())
        );
        assert_eq!(view.render(&Event::Ping(Bytes::new()), None), None);
        assert_eq!(view.render(&Event::Pong(Bytes::new()), None), None);
        assert_eq!(
            view.render(
                &Event::Pong(Bytes::from_static(b"x")),
                Some(Duration::from_micros(1500))
            ),
            Some("< pong x (1.5 ms)".to_string())
        );
        assert_eq!(
            plain(true).render(&Event::Ping(Bytes::from_static(b"k")), None),
            Some("< ping k".to_string())
        );
        let frame = CloseFrame {
            code: 4000.into(),
            reason: "bye".into(),
        };
        assert_eq!(
            view.render(&Event::Close(Some(frame)), None),
            Some("connection closed: 4000 bye".to_string())
        );
    }

    #[test]
    fn pretty_json_is_indented_under_the_marker() {
        let view = View {
            pretty: true,
            ..plain(false)
        };
        assert_eq!(
            view.render(&Event::Text("{\"a\":[1]}".into()), None),
            Some("< {\n    \"a\": [\n      1\n    ]\n  }".to_string())
        );
        assert_eq!(
            view.render(&Event::Text("42".into()), None),
            Some("< 42".to_string())
        );
    }

    #[test]
    fn timestamps_prefix_the_first_line_and_align_the_rest() {
        let view = View {
            pretty: true,
            timestamps: true,
            ..plain(false)
        };
        let shown = view.render(&Event::Text("[1]".into()), None).unwrap();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert_eq!(&lines[0][2..3], ":", "{shown}");
        assert_eq!(&lines[0][12..], " < [", "{shown}");
        assert_eq!(lines[1], format!("{}    1", " ".repeat(13)));
        assert_eq!(lines[2], format!("{}  ]", " ".repeat(13)));
    }

    #[test]
    fn colour_only_when_asked() {
        let view = View {
            style: Style { color: true },
            ..plain(false)
        };
        assert_eq!(
            view.render(&Event::Text("x".into()), None),
            Some("\x1b[36m< x\x1b[0m".to_string())
        );
    }

    #[test]
    fn pongs_match_their_pings() {
        let pings = PendingPings::default();
        pings
            .lock()
            .unwrap()
            .push_back((Bytes::from_static(b"a"), Instant::now()));
        assert!(take_round_trip(&pings, &Bytes::from_static(b"wspipe")).is_none());
        assert!(take_round_trip(&pings, &Bytes::from_static(b"a")).is_some());
        assert!(take_round_trip(&pings, &Bytes::from_static(b"a")).is_none());
    }
}
