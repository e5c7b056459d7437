//! `wspipe chat` on a terminal: lines typed become chat messages, keystrokes become
//! typing indicators, received messages read `[10:00] bob: hello`, and who is typing
//! is shown on the prompt line (as a rustyline hint, so it never scrolls away and
//! never disturbs what is being typed).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ColorMode, ConditionalEventHandler, Context, Editor, EventContext, EventHandler, Helper,
    KeyCode, KeyEvent, Modifiers, RepeatCount,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::chat_wire::{Payload, TypingTracker, message_json, parse, time_now, typing_json};
use crate::conn::session::ClientSession;
use crate::record::event::Event;
use crate::record::feed::Input;
use crate::record::output::rfc3339_now;
use crate::record::sanitize;
use crate::ui::history::history_file;
use crate::ui::interactive::{
    self, EditorIo, Flow, LineHandler, Screen, Shown, TerminalOptions, close_description,
};
use crate::ui::style::Style;

/// How chat looks and behaves (from the `chat` flags).
pub struct ChatOptions {
    pub name: String,
    pub style: Style,
    /// Read and write the chat history file (false for `--no-history`).
    pub history: bool,
    pub quiet: bool,
}

const HELP: &str = "\
a line is sent to the room as a chat message; //text sends \"/text\"
/name NEW   change your name
/help       this help
/quit       leave (also Ctrl-D)
Ctrl-C clears the line; on an empty line it leaves (exit 130)";

const COMMANDS: [&str; 3] = ["/help", "/name", "/quit"];

/// Columns kept after the typed text for the typing indicator. rustyline lays the
/// line out with the hint's width, so the indicator is always exactly this wide.
const INDICATOR_WIDTH: usize = 32;

/// Who is typing in the room right now, in the order they started.
type Typists = Arc<Mutex<Vec<String>>>;

/// What the keyboard tells the task that sends typing indicators.
#[derive(Debug)]
enum TypingSignal {
    /// A keystroke that edits the message.
    Key,
    /// A message was sent.
    Sent,
    /// A connection opened (the first, or a reconnect).
    Opened,
}

/// Runs a chat session on the terminal until the user leaves or it fails.
pub async fn run(session: ClientSession, options: ChatOptions) -> anyhow::Result<()> {
    let name = Arc::new(Mutex::new(options.name));
    let typists = Typists::default();
    let (signals, signals_rx) = mpsc::unbounded_channel();
    let handler = ChatHandler {
        name: Arc::clone(&name),
        style: options.style,
        typists: Arc::clone(&typists),
        signals,
        signals_rx: Some(signals_rx),
    };
    let screen = ChatScreen {
        name,
        typists,
        style: options.style,
        signals: handler.signals.clone(),
    };
    let terminal_options = TerminalOptions {
        style: options.style,
        history: if options.history {
            history_file("chat_history")
        } else {
            None
        },
        quiet: options.quiet,
        input_name: "you entered",
    };
    interactive::run(session, handler, screen, terminal_options, None).await
}

/// The current name (changed by `/name`).
fn current(name: &Mutex<String>) -> String {
    name.lock().map(|name| name.clone()).unwrap_or_default()
}

/// What a typed line means in chat: a message, or a slash command.
struct ChatHandler {
    name: Arc<Mutex<String>>,
    style: Style,
    typists: Typists,
    signals: mpsc::UnboundedSender<TypingSignal>,
    /// Handed to the typing task in `attach`.
    signals_rx: Option<mpsc::UnboundedReceiver<TypingSignal>>,
}

impl LineHandler for ChatHandler {
    type Helper = ChatHelper;

    fn editor(&self) -> anyhow::Result<Editor<ChatHelper, FileHistory>> {
        let helper = ChatHelper {
            typists: Arc::clone(&self.typists),
            style: self.style,
        };
        // The typing indicator is drawn by the highlighter, which rustyline calls
        // only with colours on; whether it is coloured is our choice.
        let mut editor = interactive::line_editor(helper, ColorMode::Forced)?;
        editor.bind_sequence(
            rustyline::Event::Any,
            EventHandler::Conditional(Box::new(KeyWatcher {
                signals: self.signals.clone(),
            })),
        );
        Ok(editor)
    }

    fn prompt(&self) -> (String, String) {
        let prompt = format!("{}> ", sanitize::for_terminal(&current(&self.name)));
        let styled = self.style.sent(&prompt);
        (prompt, styled)
    }

    fn handle(&mut self, line: &str, io: &EditorIo) -> Flow {
        if line.trim().is_empty() {
            return Flow::Continue;
        }
        let text = match line.strip_prefix('/') {
            Some(rest) if rest.starts_with('/') => rest,
            Some(command) => return self.command(command, io),
            None => line,
        };
        let message = message_json(text, &current(&self.name), &rfc3339_now());
        let flow = io.send(Message::text(message));
        let _ = self.signals.send(TypingSignal::Sent);
        flow
    }

    fn attach(&mut self, input: &mpsc::Sender<Input>) {
        if let Some(signals) = self.signals_rx.take() {
            tokio::spawn(send_typing_indicators(
                signals,
                input.clone(),
                Arc::clone(&self.name),
            ));
        }
    }
}

impl ChatHandler {
    fn command(&mut self, command: &str, io: &EditorIo) -> Flow {
        let (verb, arg) = match command.split_once(' ') {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (command.trim_end(), ""),
        };
        match verb {
            "name" if arg.is_empty() => {
                io.error("usage: /name NEW");
                Flow::Continue
            }
            "name" => {
                if let Ok(mut name) = self.name.lock() {
                    *name = arg.to_string();
                }
                io.say(&format!("you are now {}", sanitize::for_terminal(arg)));
                Flow::Continue
            }
            "help" => {
                io.say(HELP);
                Flow::Continue
            }
            "quit" | "exit" => {
                let _ = io.send_input(Input::End);
                Flow::Stop
            }
            _ => {
                io.error(&format!(
                    "unknown command /{verb} (try /help; //text sends \"/text\")"
                ));
                Flow::Continue
            }
        }
    }
}

/// Sends `typing` indicators as the keyboard and the clock make them due.
///
/// They are transient: one made while disconnected is not sent after the
/// reconnect (the others would see a stale start and stop); instead the current
/// state is sent once, if any indicator went out before.
async fn send_typing_indicators(
    mut signals: mpsc::UnboundedReceiver<TypingSignal>,
    input: mpsc::Sender<Input>,
    name: Arc<Mutex<String>>,
) {
    let mut tracker = TypingTracker::default();
    let mut opened_before = false;
    let mut indicated = false;
    loop {
        let idle_at = tracker.idle_at();
        let idle = async {
            match idle_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let change = tokio::select! {
            signal = signals.recv() => match signal {
                Some(TypingSignal::Key) => tracker.key(Instant::now()),
                Some(TypingSignal::Sent) => tracker.sent(),
                Some(TypingSignal::Opened) => {
                    let again = opened_before && indicated;
                    opened_before = true;
                    again.then(|| tracker.typing())
                }
                None => return,
            },
            () = idle => tracker.idle(Instant::now()),
        };
        if let Some(is_typing) = change {
            indicated = true;
            let indicator = Input::Transient {
                message: Message::text(typing_json(is_typing, &current(&name))),
                made: Instant::now(),
            };
            if input.send(indicator).await.is_err() {
                return;
            }
        }
    }
}

/// Tells the typing task about keystrokes that edit a message (not slash commands,
/// not cursor movement). Runs inside rustyline for every key; never changes what
/// the key does.
struct KeyWatcher {
    signals: mpsc::UnboundedSender<TypingSignal>,
}

impl ConditionalEventHandler for KeyWatcher {
    fn handle(
        &self,
        event: &rustyline::Event,
        _count: RepeatCount,
        _positive: bool,
        ctx: &EventContext,
    ) -> Option<Cmd> {
        let line = ctx.line();
        let edits = match event.get(0) {
            Some(KeyEvent(KeyCode::Char(c), mods)) => {
                let modified = mods.intersects(Modifiers::CTRL | Modifiers::ALT);
                // A `/` on an empty line starts a command, not a message.
                let starts_command = line.is_empty() && *c == '/';
                !modified && !starts_command
            }
            Some(KeyEvent(KeyCode::Backspace | KeyCode::Delete, _)) => !line.is_empty(),
            _ => false,
        };
        if edits && !line.starts_with('/') {
            let _ = self.signals.send(TypingSignal::Key);
        }
        None
    }
}

/// How received events look in chat.
struct ChatScreen {
    name: Arc<Mutex<String>>,
    typists: Typists,
    style: Style,
    /// Tells the typing task when a connection opens.
    signals: mpsc::UnboundedSender<TypingSignal>,
}

impl Screen for ChatScreen {
    fn render(&mut self, event: &Event) -> Shown {
        match event {
            Event::Text(text) => self.text(text.as_str()),
            Event::Binary(data) => Shown::Lines(self.style.dim(&format!(
                "(a binary message of {} byte{})",
                data.len(),
                if data.len() == 1 { "" } else { "s" }
            ))),
            Event::Close(frame) => Shown::Lines(self.status(&close_description(frame.as_ref()))),
            Event::Error(message) => Shown::Lines(self.status(&format!("error: {message}"))),
            Event::Open { .. } => {
                let _ = self.signals.send(TypingSignal::Opened);
                Shown::Nothing
            }
            Event::Ping(_) | Event::Pong(_) => Shown::Nothing,
        }
    }

    fn status(&self, text: &str) -> String {
        if text.starts_with("error") || text.starts_with("warning") {
            self.style.error(text)
        } else {
            self.style.status(text)
        }
    }
}

impl ChatScreen {
    fn text(&mut self, text: &str) -> Shown {
        match parse(text) {
            Payload::Message { user, text, time } => {
                self.set_typing(&user, false);
                Shown::Lines(self.message_line(&user, &text, time))
            }
            Payload::Typing { user, is_typing } => {
                if user == current(&self.name) {
                    // Our own indicator, relayed back by the server.
                    return Shown::Nothing;
                }
                self.set_typing(&user, is_typing);
                Shown::Redraw
            }
            Payload::Other => Shown::Lines(self.style.dim(&multi_line(text))),
        }
    }

    /// `[10:00] alice: hello`, continuation lines indented under the text.
    fn message_line(&self, user: &str, text: &str, time: Option<String>) -> String {
        let time = time.unwrap_or_else(time_now);
        let shown_user = sanitize::for_terminal(user);
        let painted_user = if user == current(&self.name) {
            self.style.sent(&shown_user)
        } else {
            self.style.bold(&shown_user)
        };
        let indent = " ".repeat(time.len() + 3 + shown_user.width() + 2);
        let body = multi_line(text).replace('\n', &format!("\n{indent}"));
        format!(
            "{} {painted_user}: {body}",
            self.style.dim(&format!("[{time}]"))
        )
    }

    fn set_typing(&self, user: &str, is_typing: bool) {
        let Ok(mut typists) = self.typists.lock() else {
            return;
        };
        let known = typists.iter().position(|name| name == user);
        match (is_typing, known) {
            (true, None) => typists.push(user.to_string()),
            (false, Some(at)) => {
                typists.remove(at);
            }
            _ => {}
        }
    }
}

/// Text shown on a terminal: line breaks kept, everything else escaped.
fn multi_line(text: &str) -> String {
    text.split('\n')
        .map(sanitize::for_terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `bob is typing…`, `bob and carol are typing…`, `4 people are typing…`.
fn typing_text(typists: &[String]) -> String {
    let names: Vec<Cow<'_, str>> = typists
        .iter()
        .map(|name| sanitize::for_terminal(name))
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        many => format!("{} people are typing…", many.len()),
    }
}

/// Exactly `width` columns: cut with `…` or padded with spaces.
fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    if text.width() > width {
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w + 1 > width {
                break;
            }
            out.push(c);
            used += w;
        }
        out.push('…');
        used += 1;
    } else {
        out.push_str(text);
        used = text.width();
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// The line editor's helper: slash-command completion and the typing indicator.
struct ChatHelper {
    typists: Typists,
    style: Style,
}

/// A hint that only reserves the indicator's columns; the highlighter fills them in
/// each time the line is drawn, so a change needs a redraw, not a keystroke.
struct IndicatorSpace(String);

impl Hint for IndicatorSpace {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        // Right-arrow must not type "bob is typing…" into the message.
        None
    }
}

impl Hinter for ChatHelper {
    type Hint = IndicatorSpace;

    fn hint(&self, _line: &str, _pos: usize, _ctx: &Context<'_>) -> Option<IndicatorSpace> {
        Some(IndicatorSpace(" ".repeat(INDICATOR_WIDTH)))
    }
}

impl Highlighter for ChatHelper {
    fn highlight_hint<'h>(&self, _hint: &'h str) -> Cow<'h, str> {
        let text = self
            .typists
            .lock()
            .map(|typists| typing_text(&typists))
            .unwrap_or_default();
        if text.is_empty() {
            return Cow::Owned(" ".repeat(INDICATOR_WIDTH));
        }
        let fitted = fit(&format!("  {text}"), INDICATOR_WIDTH);
        Cow::Owned(self.style.dim(&fitted))
    }
}

impl Completer for ChatHelper {
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

impl Validator for ChatHelper {}

impl Helper for ChatHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(name: &str) -> ChatScreen {
        ChatScreen {
            name: Arc::new(Mutex::new(name.into())),
            typists: Typists::default(),
            style: Style { color: false },
            signals: mpsc::unbounded_channel().0,
        }
    }

    #[test]
    fn messages_read_as_time_name_text() {
        let mut screen = screen("alice");
        let shown = screen.render(&Event::Text(
            r#"{"type":"message","text":"hi\nthere","user":"bob","timestamp":"2026-11-24T10:00:00.000Z"}"#.into(),
        ));
        assert_eq!(
            shown,
            Shown::Lines("[10:00] bob: hi\n             there".into())
        );
        assert_eq!(
            screen.render(&Event::Text("not chat \u{1b}[2J".into())),
            Shown::Lines("not chat \\x1b[2J".into())
        );
    }

    #[test]
    fn typing_shows_until_the_typist_stops_or_sends() {
        let mut screen = screen("alice");
        let typing = |user: &str, on: bool| {
            Event::Text(format!(r#"{{"type":"typing","isTyping":{on},"user":"{user}"}}"#).into())
        };
        assert_eq!(screen.render(&typing("bob", true)), Shown::Redraw);
        assert_eq!(screen.render(&typing("carol", true)), Shown::Redraw);
        assert_eq!(screen.render(&typing("alice", true)), Shown::Nothing);
        assert_eq!(
            typing_text(&screen.typists.lock().unwrap()),
            "bob and carol are typing…"
        );
        assert_eq!(screen.render(&typing("carol", false)), Shown::Redraw);
        assert_eq!(
            typing_text(&screen.typists.lock().unwrap()),
            "bob is typing…"
        );
        screen.render(&Event::Text(
            r#"{"type":"message","text":"done","user":"bob"}"#.into(),
        ));
        assert!(screen.typists.lock().unwrap().is_empty());
    }

    #[test]
    fn the_indicator_is_always_exactly_as_wide_as_its_space() {
        assert_eq!(fit("  bob is typing…", 20).width(), 20);
        let long = fit(
            "  someone-with-a-very-long-name is typing…",
            INDICATOR_WIDTH,
        );
        assert_eq!(long.width(), INDICATOR_WIDTH);
        assert!(long.ends_with('…'));
        assert_eq!(fit("  名前 is typing…", 10).width(), 10);
        assert_eq!(
            typing_text(&["a".into(), "b".into(), "c".into()]),
            "3 people are typing…"
        );
    }
}
