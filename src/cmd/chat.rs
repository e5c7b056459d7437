//! `wspipe chat`: a chat client. On a terminal, the chat screen; otherwise stdin
//! lines become chat messages and received chat lines go to stdout, so a bot is a
//! shell pipeline. Always reconnects: lines entered meanwhile are sent once back.

use std::io::IsTerminal;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::chat_wire::{Payload, message_json, parse};
use crate::cli::{ChatArgs, GlobalArgs, InputFormat, OutputFormat};
use crate::conn::dial::DialOptions;
use crate::conn::options::ConnectOptions;
use crate::conn::pump::PumpConfig;
use crate::conn::session::ClientSession;
use crate::conn::url::{parse_ws_url, with_room};
use crate::exit::{Exit, coded};
use crate::record::event::{Event, EventSink};
use crate::record::feed::Input;
use crate::record::output::rfc3339_now;
use crate::record::{RecordFormat, Source};
use crate::ui::chat_screen::ChatOptions;
use crate::ui::style::Style;

pub async fn run(args: ChatArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let mut url = parse_ws_url(&args.url)?;
    if let Some(room) = &args.room {
        url = with_room(&url, room);
    }
    let name = match &args.name {
        Some(name) if name.trim().is_empty() => {
            return Err(coded(Exit::Usage, "--name must not be empty"));
        }
        Some(name) => name.clone(),
        None => login_name(),
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut client = ConnectOptions::from(&args.client);
    // A chat outlives a server restart.
    client.reconnect = true;
    let session = ClientSession {
        dial: DialOptions::new(url, client, global.verbose, global.quiet),
        pump: PumpConfig {
            // Without a terminal, stdin EOF waits for the room's last replies.
            linger: if interactive {
                std::time::Duration::ZERO
            } else {
                args.linger
            },
            ping_interval: args.client.ping_interval,
            ping_timeout: args.client.ping_timeout,
            max_message_size: args.client.max_message_size,
            ..PumpConfig::default()
        },
        timeout: None,
        quiet: global.quiet,
    };
    if interactive {
        let options = ChatOptions {
            name,
            style: Style::for_stdout(global.color),
            history: !args.no_history,
            quiet: global.quiet,
        };
        return crate::ui::chat_screen::run(session, options).await;
    }
    let output = crate::record::OutputOptions {
        format: args.output,
        timestamps: false,
        terminal: std::io::stdout().is_terminal(),
    };
    // Lines typed into a pipe are small; the count bound is enough.
    let max_message_size = session.pump.max_message_size;
    let start_input = move |input_tx, _budget| {
        let (lines_tx, lines_rx) = mpsc::channel(super::pipe::INPUT_QUEUE);
        let format = RecordFormat {
            format: InputFormat::Text,
            max_message_size,
        };
        crate::record::spawn_reader(vec![Source::Stdin], format, lines_tx);
        tokio::spawn(lines_as_messages(lines_rx, input_tx, name));
    };
    let wrap_sink = |sink| ChatLines {
        inner: sink,
        format: args.output,
    };
    let input_name = "read from stdin";
    super::pipe::run_session(session, input_name, output, None, start_input, wrap_sink).await
}

/// The login name, for when `--name` is not given.
fn login_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "anonymous".to_string())
}

/// Wraps each stdin line in a chat message; blank lines are not sent.
async fn lines_as_messages(
    mut lines: mpsc::Receiver<Input>,
    input: mpsc::Sender<Input>,
    name: String,
) {
    while let Some(next) = lines.recv().await {
        let next = match next {
            Input::Batch(batch) => {
                let timestamp = rfc3339_now();
                let batch: Vec<Message> = batch
                    .into_iter()
                    .filter_map(|line| match line {
                        Message::Text(text) if !text.trim().is_empty() => Some(Message::text(
                            message_json(text.as_str(), &name, &timestamp),
                        )),
                        _ => None,
                    })
                    .collect();
                if batch.is_empty() {
                    continue;
                }
                Input::Batch(batch)
            }
            other => other,
        };
        if input.send(next).await.is_err() {
            return;
        }
    }
}

/// Received events for stdout: with `-o text`, chat messages as `[10:00] bob: hi`,
/// typing indicators left out, anything else raw; other formats unchanged.
struct ChatLines<E> {
    inner: E,
    format: OutputFormat,
}

impl<E: EventSink> EventSink for ChatLines<E> {
    async fn emit(&mut self, event: Event) -> bool {
        if self.format != OutputFormat::Text {
            return self.inner.emit(event).await;
        }
        let Event::Text(text) = &event else {
            return self.inner.emit(event).await;
        };
        match parse(text.as_str()) {
            Payload::Message { user, text, time } => {
                let time = time.unwrap_or_else(crate::chat_wire::time_now);
                let line = format!("[{time}] {user}: {text}");
                self.inner.emit(Event::Text(line.into())).await
            }
            Payload::Typing { .. } => true,
            Payload::Other => self.inner.emit(event).await,
        }
    }

    async fn idle(&mut self) -> bool {
        self.inner.idle().await
    }

    async fn notice(&mut self, line: String) {
        self.inner.notice(line).await;
    }
}
