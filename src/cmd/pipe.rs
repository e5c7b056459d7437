//! Pipe mode, shared by `connect` and `send`: records from stdin, files or arguments
//! in, records out on stdout, one client session in between.

use std::io::{self, IsTerminal};
use std::sync::Arc;

use crate::cli::{FormatArgs, InputFormat, OutputFormat};
use tokio::sync::mpsc;

use crate::conn::pump::{DoneWhen, shutdown_channel};
use crate::conn::queue::InputQueue;
use crate::conn::session::{ClientSession, close_on_ctrl_c, run_client};
use crate::exit::Exit;
use crate::record::event::{Event, EventSink, EventTx};
use crate::record::feed::{Input, InputBudget};
use crate::record::input::spawn_reader_with_progress;
use crate::record::{OutputOptions, OutputWriter, RecordFormat, Source};

/// Input batches queued between the reader thread and the socket at most (each up
/// to 256 records): a fast stdin waits for the network beyond this.
pub const INPUT_QUEUE: usize = 16;

/// After Ctrl-C, how long what was received may take to reach stdout.
const OUTPUT_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

pub fn output_options(format: &FormatArgs) -> OutputOptions {
    OutputOptions {
        format: format.output,
        timestamps: format.timestamps,
        terminal: io::stdout().is_terminal(),
    }
}

/// Runs one client session between `sources` and stdout.
pub async fn run_pipe(
    mut session: ClientSession,
    sources: Vec<Source>,
    input: InputFormat,
    output: OutputOptions,
    done_when: Option<DoneWhen>,
) -> anyhow::Result<()> {
    let input_name = Source::describe_all(&sources);
    session.dial.notify = Arc::new(crate::ui::progress::AboveBar);
    let progress = crate::ui::progress::enabled(session.quiet);
    let format = RecordFormat {
        format: input,
        max_message_size: session.pump.max_message_size,
    };
    let start_input = |input_tx, budget| {
        let bar = progress.then(|| {
            Box::new(crate::ui::progress::InputBar::default())
                as Box<dyn crate::record::input::ReadProgress>
        });
        spawn_reader_with_progress(sources, format, input_tx, Some(budget), bar);
    };
    run_session(
        session,
        &input_name,
        output,
        done_when,
        start_input,
        ProgressAware,
    )
    .await
}

/// Passes events on; the connection's opening starts the input's progress bar
/// (until then it is a spinner), and notices are printed above the bar.
struct ProgressAware<E>(E);

impl<E: EventSink> EventSink for ProgressAware<E> {
    async fn emit(&mut self, event: Event) -> bool {
        if matches!(event, Event::Open { .. }) {
            crate::ui::progress::connection_opened();
        }
        self.0.emit(event).await
    }

    async fn idle(&mut self) -> bool {
        self.0.idle().await
    }

    /// Above the progress bar, if one is drawn.
    async fn notice(&mut self, line: String) {
        crate::ui::progress::eprintln(line);
    }
}

/// Runs one client session whose input `start_input` starts feeding, with received
/// events written to stdout through the sink `wrap_sink` makes of the writer's.
pub async fn run_session<S: EventSink>(
    session: ClientSession,
    input_name: &str,
    output: OutputOptions,
    done_when: Option<DoneWhen>,
    start_input: impl FnOnce(mpsc::Sender<Input>, Arc<InputBudget>),
    wrap_sink: impl FnOnce(EventTx) -> S,
) -> anyhow::Result<()> {
    let (input_tx, mut queue) = InputQueue::new(INPUT_QUEUE);
    start_input(input_tx, queue.budget());
    let (sink, writer) = OutputWriter::spawn_stdout(output);
    let mut sink = wrap_sink(sink);
    let (shutdown_tx, shutdown_rx) = shutdown_channel();
    close_on_ctrl_c(shutdown_tx);

    let result = run_client(
        &session,
        input_name,
        &mut queue,
        &mut sink,
        done_when,
        shutdown_rx,
    )
    .await;
    if output.format == OutputFormat::Events {
        if let Err(err) = &result {
            if crate::exit::exit_code_of(err) != Exit::Interrupted {
                sink.emit(Event::Error(format!("{err:#}"))).await;
            }
        }
    }
    drop(sink);
    // Everything received is written before the exit code is decided.
    // Ctrl-C still ends the run while stdout is not being read (exit 130; what
    // could not be written is lost): after an interrupted run the output gets a
    // moment to drain, and another Ctrl-C ends the wait at once.
    let interrupted =
        matches!(&result, Err(err) if crate::exit::exit_code_of(err) == Exit::Interrupted);
    let finished = tokio::select! {
        finished = writer.finish() => finished,
        _ = tokio::signal::ctrl_c() => return Err(crate::exit::coded(Exit::Interrupted, "interrupted")),
        () = tokio::time::sleep(OUTPUT_GRACE), if interrupted => return result,
    };
    match finished {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context("writing to stdout")),
        Ok(()) => result,
    }
}
