//! The interactive terminal session shared by the REPL and chat.
//!
//! rustyline runs its blocking loop on a thread of its own and feeds the same
//! [`InputQueue`] and client session as pipe mode. Received events go to a sink that
//! asks a [`Screen`] how to show them and hands the lines to a printer thread, which
//! prints them above the prompt through rustyline's external printer, so a
//! half-typed line survives. What a typed line means is a [`LineHandler`]'s business.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::ProgressBar;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{
    Cmd, ConditionalEventHandler, Editor, EventContext, ExternalPrinter, Helper, Movement,
    RepeatCount,
};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::conn::ending::close_words;
use crate::conn::pump::{DoneWhen, shutdown_channel};
use crate::conn::queue::InputQueue;
use crate::conn::session::{ClientSession, run_client};
use crate::exit::{Exit, coded, exit_code_of};
use crate::record::event::{Event, EventSink};
use crate::record::feed::Input;
use crate::ui::history::create_parent;
use crate::ui::progress;
use crate::ui::style::Style;

/// Entered lines queued for the socket at most (one message each): beyond this the
/// editor waits for the network, it never drops a line.
const INPUT_QUEUE: usize = 16;
/// Printed lines queued for the terminal at most; a flood of messages waits for the
/// terminal instead of filling memory.
const LINE_QUEUE: usize = 256;

/// What the printer thread is asked to do. Everything that appears on the terminal
/// between prompts goes through it, in this one order: a status line queued before
/// the connection opened is on the screen before the first prompt.
enum PrintItem {
    /// Lines to print above the prompt.
    Lines(String),
    /// Everything queued so far is printed: the editor may show its first prompt.
    Ready(std_mpsc::Sender<()>),
    /// A dumb terminal only: show this prompt (the editor reads with an empty one,
    /// so that the prompt and incoming lines are written by one thread in order).
    Prompt(String),
    /// A dumb terminal only: the user entered a line; no prompt is up any more.
    Entered,
}

/// Cursor up, then newline: moves nothing, whether rustyline prints it (after
/// clearing the prompt, then redrawing it) or it is written directly. Printed, it
/// makes rustyline redraw the prompt line.
const REDRAW: &str = "\x1b[A";

/// What to show for one event.
#[derive(Debug, PartialEq)]
pub enum Shown {
    Nothing,
    /// Lines printed above the prompt.
    Lines(String),
    /// Nothing new to print, but the prompt line must be drawn again (chat's typing
    /// indicator lives there).
    Redraw,
}

/// Turns received events into screen lines (runs on the async side).
pub trait Screen: Send {
    fn render(&mut self, event: &Event) -> Shown;
    /// A connection status line (connected, reconnecting, closed, warnings).
    fn status(&self, text: &str) -> String;
}

/// What the editor thread can do with an entered line.
pub struct EditorIo {
    input: mpsc::Sender<Input>,
    style: Style,
}

/// Whether to keep reading lines.
pub enum Flow {
    Continue,
    Stop,
}

impl EditorIo {
    /// Queues a message; Stop when the session is over.
    pub fn send(&self, message: Message) -> Flow {
        self.send_batch(vec![message])
    }

    pub fn send_batch(&self, batch: Vec<Message>) -> Flow {
        self.send_input(Input::Batch(batch))
    }

    pub fn send_input(&self, input: Input) -> Flow {
        match self.input.blocking_send(input) {
            Ok(()) => Flow::Continue,
            // The session is over; the main thread reports how it ended.
            Err(_) => Flow::Stop,
        }
    }

    /// A dim note for the user. Between two prompts readline is not drawing, so
    /// plain writes are safe.
    pub fn say(&self, text: &str) {
        let mut out = io::stdout().lock();
        for line in text.lines() {
            let _ = writeln!(out, "{}", self.style.dim(line));
        }
        let _ = out.flush();
    }

    pub fn error(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{}", self.style.error(text));
    }
}

/// What one interactive front end (the REPL, chat) does with entered lines.
pub trait LineHandler: Send + 'static {
    type Helper: Helper + Send + 'static;

    /// The line editor, with this front end's helper and key bindings.
    fn editor(&self) -> anyhow::Result<Editor<Self::Helper, FileHistory>>;

    /// The prompt: plain, and styled with the same width. Asked before every line.
    fn prompt(&self) -> (String, String);

    /// Handles one entered line on the editor thread.
    fn handle(&mut self, line: &str, io: &EditorIo) -> Flow;

    /// Called once on the async side before the editor starts, with the session's
    /// input: for messages that do not come from an entered line (chat's typing
    /// indicators).
    fn attach(&mut self, _input: &mpsc::Sender<Input>) {}
}

/// How the terminal session looks and behaves.
pub struct TerminalOptions {
    pub style: Style,
    /// The history file, or None (`--no-history`).
    pub history: Option<PathBuf>,
    pub quiet: bool,
    /// What the lines typed are called in the warning about unsent ones.
    pub input_name: &'static str,
}

/// Shared between the session and the editor thread, so the session can tell whether
/// the editor must be woken from `readline` when it ends.
#[derive(Debug, Default)]
struct EditorState {
    reading: bool,
    over: bool,
}

/// Runs an interactive session to its end; the result maps to the exit code like
/// pipe mode.
pub async fn run<H: LineHandler, S: Screen>(
    session: ClientSession,
    mut handler: H,
    screen: S,
    options: TerminalOptions,
    done_when: Option<DoneWhen>,
) -> anyhow::Result<()> {
    let terminal = SavedTerminal::save();
    let mut editor = handler.editor()?;
    if let Some(path) = &options.history {
        match editor.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(err)) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) if !options.quiet => {
                eprintln!(
                    "warning: cannot read the history file {}: {err}",
                    path.display()
                );
            }
            Err(_) => {}
        }
    }
    // Fails on terminals rustyline does not drive (TERM=dumb): lines are then
    // simply written to stdout.
    let printer = editor
        .create_external_printer()
        .ok()
        .map(|printer| Box::new(printer) as Box<dyn ExternalPrinter + Send>);
    let smart_terminal = printer.is_some();

    let (input_tx, mut queue) = InputQueue::new(INPUT_QUEUE);
    handler.attach(&input_tx);
    let (shutdown_tx, shutdown_rx) = shutdown_channel();
    // While connecting (no raw mode yet) Ctrl-C is a signal; later it is a key.
    let ctrl_c = tokio::spawn(close_on_every_ctrl_c(Arc::clone(&shutdown_tx)));
    let (lines_tx, lines_rx) = mpsc::channel(LINE_QUEUE);
    let printer_thread = spawn_printer(printer, lines_rx);
    // Weak: an editor left blocked in a cooked-mode read must not keep the printer
    // thread (which the session joins) alive.
    let prompts = (!smart_terminal).then(|| lines_tx.downgrade());
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let state = Arc::new(Mutex::new(EditorState::default()));
    let (editor_alive_tx, editor_alive_rx) = std_mpsc::channel::<()>();
    let line_editor = LineEditor {
        handler,
        io: EditorIo {
            input: input_tx,
            style: options.style,
        },
        shutdown: shutdown_tx,
        ready: ready_rx,
        state: Arc::clone(&state),
        history: options.history,
        prompts,
        _alive: editor_alive_tx,
    };
    let editor_thread = std::thread::Builder::new()
        .name("wspipe-editor".into())
        .spawn(move || line_editor.run(editor))?;

    let mut sink = TerminalSink {
        lines: lines_tx,
        spinner: progress::spinner(options.quiet, format!("connecting to {}", session.dial.url)),
        ready: Some(ready_tx),
        screen,
        smart_terminal,
        notices_on_terminal: io::stderr().is_terminal(),
    };
    let input_name = options.input_name;
    let result = run_client(
        &session,
        input_name,
        &mut queue,
        &mut sink,
        done_when,
        shutdown_rx,
    )
    .await;
    ctrl_c.abort();
    if let Some(bar) = sink.spinner.take() {
        bar.finish_and_clear();
    }
    drop(sink);
    // A send blocked in the editor thread fails now instead of waiting.
    drop(queue);
    // Everything received is on the screen before the session's end is reported.
    // Joined off the runtime's thread and raced against Ctrl-C: a terminal that
    // stopped taking output must not make the session impossible to end (a dumb
    // terminal's Ctrl-C, or `kill -INT`, is a signal; in raw mode the editor turns
    // it into a close, which ends the session above). After an interrupted session
    // the output gets a moment, not forever.
    let interrupted = matches!(&result, Err(err) if exit_code_of(err) == Exit::Interrupted);
    let joined = tokio::task::spawn_blocking(move || printer_thread.join().ok().flatten());
    let printer = tokio::select! {
        joined = joined => Some(joined.ok().flatten()),
        _ = tokio::signal::ctrl_c() => None,
        () = tokio::time::sleep(OUTPUT_GRACE), if interrupted => None,
    };
    let Some(printer) = printer else {
        if smart_terminal {
            // The editor may still hold the terminal in raw mode.
            terminal.restore();
        }
        return result.and(Err(coded(Exit::Interrupted, "interrupted")));
    };
    match stop_editor(&state, printer, &editor_alive_rx) {
        EditorEnd::Ended => {
            let _ = editor_thread.join();
        }
        EditorEnd::LeftRunning => {}
        EditorEnd::Stuck => terminal.restore(),
    }
    result
}

/// After an interrupted session, how long the printer may take to show what is left.
const OUTPUT_GRACE: Duration = Duration::from_millis(300);

/// What became of the editor thread when the session ended.
#[derive(Debug, PartialEq)]
enum EditorEnd {
    /// It returned: join it.
    Ended,
    /// It is blocked somewhere harmless (a cooked-mode read on a dumb terminal);
    /// the process ends without it.
    LeftRunning,
    /// It may still hold the terminal in raw mode: restore it by hand.
    Stuck,
}

/// Ends the editor thread if it is waiting in `readline` (the peer closed, or a
/// deadline passed, while the user was typing).
fn stop_editor(
    state: &Mutex<EditorState>,
    printer: Option<Box<dyn ExternalPrinter + Send>>,
    alive: &std_mpsc::Receiver<()>,
) -> EditorEnd {
    let ended = |wait: Duration| {
        matches!(
            alive.recv_timeout(wait),
            Err(std_mpsc::RecvTimeoutError::Disconnected)
        )
    };
    let reading = match state.lock() {
        Ok(mut state) => {
            state.over = true;
            state.reading
        }
        Err(_) => true,
    };
    if !reading {
        // Not in readline, and it will not enter it again.
        return if ended(Duration::from_secs(1)) {
            EditorEnd::Ended
        } else {
            EditorEnd::LeftRunning
        };
    }
    let Some(mut printer) = printer else {
        // A dumb terminal: readline is a plain cooked-mode read that nothing can
        // interrupt, and nothing needs restoring.
        return EditorEnd::LeftRunning;
    };
    // The external printer hands over one line at a time: this barrier is taken
    // only after the last real line was, so the wake-up below cannot overtake it.
    let _ = printer.print(format!("{REDRAW}\n"));
    // rustyline turns SIGINT during readline into `Interrupted`, restoring the
    // terminal on its way out. Repeated, because the editor may be just about to
    // install its handler.
    for _ in 0..40 {
        interrupt_self();
        if ended(Duration::from_millis(50)) {
            return EditorEnd::Ended;
        }
    }
    EditorEnd::Stuck
}

#[cfg(unix)]
fn interrupt_self() {
    use nix::sys::signal::{Signal, kill};
    let _ = kill(nix::unistd::Pid::this(), Signal::SIGINT);
}

#[cfg(not(unix))]
fn interrupt_self() {}

/// The terminal mode at start, restored if the editor thread cannot be stopped
/// (a process must not leave the user's terminal in raw mode).
struct SavedTerminal {
    #[cfg(unix)]
    termios: Option<nix::sys::termios::Termios>,
}

impl SavedTerminal {
    fn save() -> SavedTerminal {
        SavedTerminal {
            #[cfg(unix)]
            termios: nix::sys::termios::tcgetattr(io::stdin()).ok(),
        }
    }

    fn restore(&self) {
        #[cfg(unix)]
        if let Some(termios) = &self.termios {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                termios,
            );
            let mut out = io::stdout();
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
    }
}

/// Ctrl-C before the prompt is up (while connecting) closes with 1000, exit 130.
async fn close_on_every_ctrl_c(shutdown: Arc<watch::Sender<Option<u16>>>) {
    while tokio::signal::ctrl_c().await.is_ok() {
        let _ = shutdown.send(Some(1000));
    }
}

/// Writes the formatted lines, above the prompt when the terminal allows it.
/// Returns the printer for the final hand-over in [`stop_editor`].
fn spawn_printer(
    printer: Option<Box<dyn ExternalPrinter + Send>>,
    mut items: mpsc::Receiver<PrintItem>,
) -> JoinHandle<Option<Box<dyn ExternalPrinter + Send>>> {
    std::thread::spawn(move || {
        let mut printer = printer;
        // A dumb terminal: the prompt this thread drew and nothing has ended yet.
        let mut prompt_up: Option<String> = None;
        while let Some(item) = items.blocking_recv() {
            match item {
                PrintItem::Lines(mut line) => {
                    line.push('\n');
                    let printed = printer
                        .as_mut()
                        .is_some_and(|printer| printer.print(line.clone()).is_ok());
                    if !printed {
                        write_plain(&line, prompt_up.as_deref());
                    }
                }
                PrintItem::Ready(ready) => {
                    let _ = ready.send(());
                }
                PrintItem::Prompt(prompt) => {
                    write_plain(&prompt, None);
                    prompt_up = Some(prompt);
                }
                PrintItem::Entered => prompt_up = None,
            }
        }
        if prompt_up.is_some() {
            // The session's end is reported on a line of its own.
            write_plain("\n", None);
        }
        printer
    })
}

/// Writes to stdout on a terminal rustyline does not drive, where nothing can be
/// drawn above the prompt: lines that arrive while a prompt is up go below it (the
/// prompt line may hold typed-ahead characters, so it is never overwritten), and
/// the prompt is shown again under them.
fn write_plain(text: &str, prompt_up: Option<&str>) {
    let mut out = io::stdout().lock();
    if let Some(prompt) = prompt_up {
        let _ = out.write_all(b"\n");
        let _ = out.write_all(text.as_bytes());
        let _ = out.write_all(prompt.as_bytes());
    } else {
        let _ = out.write_all(text.as_bytes());
    }
    let _ = out.flush();
}

/// The event sink of an interactive session: asks the screen how events look and
/// queues the lines for the printer.
struct TerminalSink<S> {
    lines: mpsc::Sender<PrintItem>,
    spinner: Option<ProgressBar>,
    /// Tells the editor thread to show its first prompt (on the first Open).
    ready: Option<std_mpsc::Sender<()>>,
    screen: S,
    smart_terminal: bool,
    /// Status lines go above the prompt when stderr is the terminal too; otherwise
    /// they are diagnostics for wherever stderr goes.
    notices_on_terminal: bool,
}

impl<S: Screen> TerminalSink<S> {
    async fn print(&mut self, line: String) -> bool {
        self.lines.send(PrintItem::Lines(line)).await.is_ok()
    }
}

impl<S: Screen> EventSink for TerminalSink<S> {
    async fn emit(&mut self, event: Event) -> bool {
        if let Event::Open { .. } = event {
            if let Some(bar) = self.spinner.take() {
                bar.finish_and_clear();
            }
            if let Some(ready) = self.ready.take() {
                // Through the printer: the prompt comes after what is queued.
                let _ = self.lines.send(PrintItem::Ready(ready)).await;
            }
        }
        match self.screen.render(&event) {
            Shown::Lines(lines) => self.print(lines).await,
            Shown::Redraw if self.smart_terminal => self.print(REDRAW.to_string()).await,
            Shown::Redraw | Shown::Nothing => true,
        }
    }

    async fn notice(&mut self, line: String) {
        if !self.notices_on_terminal {
            eprintln!("{line}");
            return;
        }
        let line = self.screen.status(&line);
        match &self.spinner {
            // Above the spinner while it turns (a hidden one, on TERM=dumb,
            // would swallow the line).
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => {
                self.print(line).await;
            }
        }
    }
}

/// The editor thread: reads lines and hands them to the front end.
struct LineEditor<H> {
    handler: H,
    io: EditorIo,
    shutdown: Arc<watch::Sender<Option<u16>>>,
    ready: std_mpsc::Receiver<()>,
    state: Arc<Mutex<EditorState>>,
    history: Option<PathBuf>,
    /// On a terminal rustyline does not drive (TERM=dumb), the printer thread
    /// draws the prompt; None where rustyline draws it.
    prompts: Option<mpsc::WeakSender<PrintItem>>,
    /// Dropped when the thread ends, which the session waits for.
    _alive: std_mpsc::Sender<()>,
}

impl<H: LineHandler> LineEditor<H> {
    fn run(mut self, mut editor: Editor<H::Helper, FileHistory>) {
        // No prompt before the connection is up; none at all if it never is.
        if self.ready.recv().is_err() {
            return;
        }
        let mut history_warned = false;
        loop {
            match self.state.lock() {
                Ok(mut state) if !state.over => state.reading = true,
                _ => return,
            }
            let prompt = self.handler.prompt();
            let read = if self.tell_printer(PrintItem::Prompt(prompt.0.clone())) {
                let read = editor.readline("");
                self.tell_printer(PrintItem::Entered);
                read
            } else {
                editor.readline(&prompt)
            };
            let over = match self.state.lock() {
                Ok(mut state) => {
                    state.reading = false;
                    state.over
                }
                Err(_) => true,
            };
            if over {
                // Woken because the session ended; readline has moved past the
                // prompt line, which keeps what was typed.
                return;
            }
            let flow = match read {
                Ok(line) => {
                    self.remember(&mut editor, &line, &mut history_warned);
                    self.handler.handle(&line, &self.io)
                }
                Err(ReadlineError::Interrupted) => {
                    // Ctrl-C on an empty line (on a non-empty one it clears it).
                    self.end_prompt_line();
                    let _ = self.shutdown.send(Some(1000));
                    Flow::Stop
                }
                Err(ReadlineError::Eof) => {
                    self.end_prompt_line();
                    let _ = self.io.send_input(Input::End);
                    Flow::Stop
                }
                Err(err) => {
                    self.io.error(&format!("reading the terminal: {err}"));
                    let _ = self.io.send_input(Input::End);
                    Flow::Stop
                }
            };
            if let Flow::Stop = flow {
                return;
            }
        }
    }

    fn remember(&self, editor: &mut Editor<H::Helper, FileHistory>, line: &str, warned: &mut bool) {
        if line.trim().is_empty() {
            return;
        }
        let _ = editor.add_history_entry(line);
        let Some(path) = &self.history else { return };
        // Appended per line: the session can end while a prompt is up, and what
        // was typed before must not be lost.
        let saved = create_parent(path)
            .map_err(|err| err.to_string())
            .and_then(|()| editor.append_history(path).map_err(|err| err.to_string()));
        if let Err(err) = saved {
            if !*warned {
                *warned = true;
                self.io.error(&format!(
                    "warning: cannot write the history file {}: {err}",
                    path.display()
                ));
            }
        }
    }

    /// On a dumb terminal, hands `item` to the printer thread; false where
    /// rustyline draws the prompt itself.
    fn tell_printer(&self, item: PrintItem) -> bool {
        let Some(prompts) = &self.prompts else {
            return false;
        };
        if let Some(printer) = prompts.upgrade() {
            let _ = printer.blocking_send(item);
        }
        true
    }

    /// rustyline ends the prompt line itself, except on a terminal it does not
    /// drive, where Ctrl-D leaves the cursor after the prompt.
    fn end_prompt_line(&self) {
        if self.prompts.is_some() {
            let mut out = io::stdout().lock();
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
    }
}

/// The line editor both the REPL and chat use: history (no duplicates, no lines
/// starting with a space, 1,000 at most, added by the runner), completion as a
/// list, `helper` for hints and colours, and [`CtrlC`].
pub fn line_editor<H: rustyline::Helper>(
    helper: H,
    color: rustyline::ColorMode,
) -> anyhow::Result<Editor<H, FileHistory>> {
    let config = rustyline::Config::builder()
        .history_ignore_dups(true)?
        .history_ignore_space(true)
        .max_history_size(1000)?
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .color_mode(color)
        .build();
    let mut editor = Editor::with_config(config)
        .map_err(|err| anyhow::anyhow!("cannot start the line editor: {err}"))?;
    editor.set_helper(Some(helper));
    editor.bind_sequence(
        rustyline::KeyEvent::ctrl('C'),
        rustyline::EventHandler::Conditional(Box::new(CtrlC)),
    );
    Ok(editor)
}

/// Ctrl-C clears a non-empty line (like a shell) and ends the session on an empty one.
pub struct CtrlC;

impl ConditionalEventHandler for CtrlC {
    fn handle(
        &self,
        _event: &rustyline::Event,
        _count: RepeatCount,
        _positive: bool,
        ctx: &EventContext,
    ) -> Option<Cmd> {
        if ctx.line().is_empty() {
            Some(Cmd::Interrupt)
        } else {
            Some(Cmd::Kill(Movement::WholeBuffer))
        }
    }
}

/// `connection closed: CODE REASON`, the reason escaped for the terminal.
pub fn close_description(frame: Option<&CloseFrame>) -> String {
    match frame.map(close_words) {
        Some((code, None)) => format!("connection closed: {code}"),
        Some((code, Some(reason))) => format!("connection closed: {code} {reason}"),
        None => "connection closed (no status code)".to_string(),
    }
}

/// Tab completion of slash commands: the commands that start with what is typed
/// before the cursor, while it is still one word starting with `/`.
pub fn complete_slash_command(line: &str, pos: usize, commands: &[&str]) -> Vec<String> {
    let typed = &line[..pos];
    if !typed.starts_with('/') || typed.contains(char::is_whitespace) {
        return Vec::new();
    }
    commands
        .iter()
        .filter(|command| command.starts_with(typed))
        .map(|command| command.to_string())
        .collect()
}
