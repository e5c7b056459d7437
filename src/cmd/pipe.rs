//! Pipe mode, shared by `connect` and `send`: records from stdin, files or arguments
//! in, records out on stdout, one client session in between.

use std::io::{self, IsTerminal};

use crate::cli::{FormatArgs, InputFormat, OutputFormat};
use crate::conn::pump::{DoneWhen, Event, EventSink, InputQueue, shutdown_channel};
use crate::conn::session::{ClientSession, close_on_ctrl_c, run_client};
use crate::exit::Exit;
use crate::record::input::spawn_reader_with_progress;
use crate::record::{OutputOptions, OutputWriter, Source};

/// Input batches queued between the reader thread and the socket at most (each up
/// to 256 records): a fast stdin waits for the network beyond this.
const INPUT_QUEUE: usize = 16;

pub fn output_options(format: &FormatArgs) -> OutputOptions {
    OutputOptions {
        format: format.output,
        timestamps: format.timestamps,
        terminal: io::stdout().is_terminal(),
    }
}

/// Runs one client session between `sources` and stdout.
pub async fn run_pipe(
    session: ClientSession,
    sources: Vec<Source>,
    input: InputFormat,
    output: OutputOptions,
    done_when: Option<DoneWhen>,
) -> anyhow::Result<()> {
    let (input_tx, mut queue) = InputQueue::new(INPUT_QUEUE);
    let progress = crate::ui::progress::enabled(session.quiet);
    spawn_reader_with_progress(sources, input, input_tx, progress);
    let (mut sink, writer) = OutputWriter::spawn_stdout(output);
    let (shutdown_tx, shutdown_rx) = shutdown_channel();
    close_on_ctrl_c(shutdown_tx);

    let result = run_client(&session, &mut queue, &mut sink, done_when, shutdown_rx).await;
    if output.format == OutputFormat::Events {
        if let Err(err) = &result {
            if crate::exit::exit_code_of(err) != Exit::Interrupted {
                sink.emit(Event::Error(format!("{err:#}"))).await;
            }
        }
    }
    drop(sink);
    // Everything received is written before the exit code is decided.
    match writer.finish() {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context("writing to stdout")),
        Ok(()) => result,
    }
}
