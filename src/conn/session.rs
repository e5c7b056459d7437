//! A client session: dial, pump, and (with `--reconnect`) dial again with backoff,
//! carrying unsent messages over, until the session is over. Every client command
//! runs through here.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::dial::{Connected, DialOptions, backoff_delay, dial};
use super::pump::{Deadline, DoneWhen, PumpConfig, pump};
use crate::conn::queue::InputQueue;
use crate::exit::{Exit, coded, exit_code_of};
use crate::record::event::{Event, EventSink};

/// Everything a client session needs besides its input and output.
pub struct ClientSession {
    pub dial: DialOptions,
    pub pump: PumpConfig,
    /// A deadline for the whole session (`--timeout`).
    pub timeout: Option<Duration>,
    pub quiet: bool,
}

/// Runs the session to its end and maps the ending to the contract's exit codes.
/// `input_name` says where the input comes from, for the warning about messages not
/// sent: "read from stdin", "given on the command line", "you typed".
pub async fn run_client<E: EventSink>(
    session: &ClientSession,
    input_name: &str,
    queue: &mut InputQueue,
    sink: &mut E,
    done_when: Option<DoneWhen>,
    shutdown: watch::Receiver<Option<u16>>,
) -> anyhow::Result<()> {
    // A connection that dies must not take what it was sending with it.
    if session.dial.client.reconnect {
        queue.confirm_delivery();
    }
    // Whether any connection opened: when none did, the "cannot connect" error
    // already says nothing was sent, and a warning about unsent input is noise.
    let mut connected = false;
    let mut interrupt = shutdown.clone();
    // `--timeout`: the pump closes cleanly when it passes (Close 1000 "timeout",
    // what already arrived written); dialing and backoff simply stop.
    let deadline = session.timeout.map(Deadline::after);
    let run = run_until_closed(
        session,
        deadline,
        queue,
        sink,
        done_when,
        shutdown,
        &mut connected,
    );
    let run = async {
        match deadline {
            // A last resort, for a sink that stopped taking events (stdout not
            // read) and so keeps the pump from seeing its close through.
            Some(deadline) => match tokio::time::timeout_at(deadline.hard_stop(), run).await {
                Ok(result) => result,
                Err(_) => Err(deadline.error()),
            },
            None => run.await,
        }
    };
    // Ctrl-C sends Close at once; the close handshake then gets a moment, not the
    // whole --close-timeout: a reader blocked on a stdout nobody reads would
    // otherwise keep the run alive.
    let interrupted = async {
        if interrupt.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(INTERRUPT_GRACE).await;
    };
    let result = tokio::select! {
        result = run => result,
        () = interrupted => Err(coded(Exit::Interrupted, "interrupted")),
    };
    let (unsent, input_ended) = queue.count_unsent();
    if unsent > 0 && connected && !session.quiet {
        let (s, were) = if unsent == 1 {
            ("", "was")
        } else {
            ("s", "were")
        };
        // Counted are the messages read and held back; after them, the input may
        // not even have been read to its end.
        let rest = if input_ended {
            ""
        } else {
            ", nor anything after them"
        };
        sink.notice(format!(
            "warning: {unsent} message{s} {} {were} not sent{rest}",
            input_name
        ))
        .await;
    }
    result
}

/// Where a session is. It starts by dialing; a dial that fails, or a connection
/// the peer ends, goes to backing off (with `--reconnect`) and from there to dialing
/// again; everything else ends the session.
enum State {
    Dialing,
    BackingOff(Duration),
    /// Boxed: a connection is large, and a state is moved every turn.
    Open(Box<Connected>),
}

/// The session's one count of attempts that failed in a row: refused dials, and
/// connections that dropped before they carried anything.
struct Attempts {
    failed: u32,
    /// `--max-retries`.
    max: Option<u32>,
}

impl Attempts {
    /// One more failed attempt: the wait before the next, or None when
    /// `--max-retries` is used up.
    fn failed(&mut self) -> Option<Duration> {
        if self.max.is_some_and(|max| self.failed >= max) {
            return None;
        }
        let delay = backoff_delay(self.failed);
        self.failed += 1;
        Some(delay)
    }

    /// A connection worked: the count starts again, and so does the backoff.
    fn succeeded(&mut self) -> Duration {
        self.failed = 0;
        backoff_delay(0)
    }
}

async fn run_until_closed<E: EventSink>(
    session: &ClientSession,
    deadline: Option<Deadline>,
    queue: &mut InputQueue,
    sink: &mut E,
    mut done_when: Option<DoneWhen>,
    mut shutdown: watch::Receiver<Option<u16>>,
    connected_before: &mut bool,
) -> anyhow::Result<()> {
    let reconnect = session.dial.client.reconnect;
    let max_retries = session.dial.client.max_retries;
    let show_status = !session.quiet && (session.dial.verbose || std::io::stderr().is_terminal());
    let mut attempts = Attempts {
        failed: 0,
        max: max_retries,
    };
    let pump_config = PumpConfig {
        deadline,
        ..session.pump.clone()
    };
    let mut state = State::Dialing;
    loop {
        state = match state {
            State::Dialing => {
                let attempt = tokio::select! {
                    biased;
                    stop = stopped(&mut shutdown, deadline) => return Err(stop),
                    attempt = dial(&session.dial) => attempt,
                };
                match attempt {
                    Ok(connected) => State::Open(Box::new(connected)),
                    Err(err) => {
                        let retryable = matches!(exit_code_of(&err), Exit::Connect | Exit::Timeout);
                        let Some(delay) = attempts.failed().filter(|_| reconnect && retryable)
                        else {
                            return Err(err);
                        };
                        if !session.quiet {
                            sink.notice(format!(
                                "{err:#}; reconnecting in {:.1}s",
                                delay.as_secs_f64()
                            ))
                            .await;
                        }
                        State::BackingOff(delay)
                    }
                }
            }
            State::BackingOff(delay) => tokio::select! {
                biased;
                stop = stopped(&mut shutdown, deadline) => return Err(stop),
                () = tokio::time::sleep(delay) => State::Dialing,
            },
            State::Open(connected) => {
                let connected = *connected;
                let opened_at = tokio::time::Instant::now();
                queue.connection_opened();
                // The subprotocol the server picked is always said (unless -q): a
                // script that asked for one needs to know which it got.
                let picked = connected.protocol.is_some() && !session.quiet;
                if show_status || picked || (*connected_before && !session.quiet) {
                    let line = match &connected.protocol {
                        Some(p) => format!("connected to {} (subprotocol: {p})", session.dial.url),
                        None => format!("connected to {}", session.dial.url),
                    };
                    sink.notice(line).await;
                }
                *connected_before = true;
                sink.emit(Event::Open {
                    url: session.dial.url.to_string(),
                    protocol: connected.protocol.clone(),
                    peer: None,
                })
                .await;
                let finished = pump(
                    connected.ws,
                    queue,
                    sink,
                    &pump_config,
                    done_when.as_mut(),
                    &mut shutdown,
                )
                .await;
                if let Some(warning) = finished.not_echoed_warning().filter(|_| !session.quiet) {
                    sink.notice(format!("warning: {warning}")).await;
                }
                // In a pipe whose input ended and went out in full, a normal Close
                // from the peer (typically while we lingered for its replies) ends
                // the session: it is not a dropped connection to redo. What it did
                // not confirm is not sent again: a peer that answers and closes does
                // not answer our confirmation pings, and sending again would repeat
                // requests it served. (With -n, or while waiting for replies, the
                // peer's Close is reconnected as before: those runs are about what
                // the peer sends next.)
                let session_over = session.pump.close_on_input_end
                    && queue.all_sent()
                    && finished.peer_closed_normally();
                if session_over {
                    queue.forget_unconfirmed();
                }
                let again = reconnect
                    && finished.ended_by_peer()
                    && !session_over
                    && shutdown.borrow().is_none();
                if !again {
                    if finished.close_timed_out && !session.quiet {
                        sink.notice(format!(
                            "warning: the peer went {} without a word after our Close (--close-timeout)",
                            humantime::format_duration(session.pump.close_timeout)
                        ))
                        .await;
                    }
                    return finished.into_result();
                }
                let received = finished.received;
                let why = match finished.into_result() {
                    Ok(()) => "the connection closed".to_string(),
                    Err(err) => format!("{err:#}"),
                };
                // A connection that carried something, or lived a while, was a
                // success. One that dropped at once (a server that accepts and
                // closes) is a failed attempt like a refused dial, so backoff grows
                // and --max-retries ends it.
                let worked = received > 0 || opened_at.elapsed() >= STABLE_CONNECTION;
                let delay = if worked {
                    attempts.succeeded()
                } else if let Some(delay) = attempts.failed() {
                    delay
                } else {
                    return Err(coded(
                        Exit::Connect,
                        format!(
                            "{why}; giving up after {} attempts in a row that failed (--max-retries {})",
                            attempts.failed + 1,
                            max_retries.unwrap_or_default()
                        ),
                    ));
                };
                if !session.quiet {
                    sink.notice(format!(
                        "{why}; reconnecting in {:.1}s",
                        delay.as_secs_f64()
                    ))
                    .await;
                }
                State::BackingOff(delay)
            }
        };
    }
}

/// Resolves, with the error to end on, when Ctrl-C is pressed or the session's
/// deadline passes: the one place a waiting session stops.
async fn stopped(
    shutdown: &mut watch::Receiver<Option<u16>>,
    deadline: Option<Deadline>,
) -> anyhow::Error {
    let out_of_time = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = interrupted(shutdown) => coded(Exit::Interrupted, "interrupted"),
        () = out_of_time => deadline.expect("armed").error(),
    }
}

/// How long the close handshake may take after Ctrl-C.
const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

/// A connection that lasted this long counts as a success for `--max-retries`,
/// even if nothing came over it.
const STABLE_CONNECTION: Duration = Duration::from_secs(5);

/// Resolves when a shutdown code has been set.
async fn interrupted(shutdown: &mut watch::Receiver<Option<u16>>) {
    if shutdown.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Ctrl-C asks the session to close with 1000 (exit 130); a second Ctrl-C exits at
/// once, for a peer that never answers.
pub fn close_on_ctrl_c(shutdown: Arc<watch::Sender<Option<u16>>>) {
    close_on_ctrl_c_with(shutdown, 1000);
}

/// Ctrl-C asks for a close with `code` (a server says 1001, going away); a second
/// Ctrl-C exits at once.
pub fn close_on_ctrl_c_with(shutdown: Arc<watch::Sender<Option<u16>>>, code: u16) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        let _ = shutdown.send(Some(code));
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(Exit::Interrupted as i32);
        }
    });
}
