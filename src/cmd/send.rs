//! `wspipe send`: send messages, optionally wait for replies, close, exit with a
//! status a CI job can trust.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::{GlobalArgs, SendArgs};
use crate::conn::dial::DialOptions;
use crate::conn::pump::{DoneWhen, PumpConfig};
use crate::conn::session::ClientSession;
use crate::conn::url::parse_ws_url;
use crate::exit::{Exit, coded, exit_code_of};
use crate::expect::Expectations;
use crate::record::Source;

/// The deadline when waiting for replies and no `--timeout` was given.
const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(args: SendArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let url = parse_ws_url(&args.url)?;
    let expectations = Expectations::new(args.wait, args.expect.clone(), &args.expect_json)?;
    let waiting = expectations.is_waiting();
    let session = ClientSession {
        dial: DialOptions::new(url, (&args.client).into(), global.verbose, global.quiet),
        pump: PumpConfig {
            // When waiting, the expectations end the session, not the input.
            close_on_input_end: !waiting,
            close_timeout: args.close_timeout,
            echo: false,
            show_control: args.format.show_control,
            ping_interval: args.client.ping_interval,
            ping_timeout: args.client.ping_timeout,
            max_message_size: args.client.max_message_size,
            // --wait/--expect close the moment they are satisfied.
            linger: if waiting { Duration::ZERO } else { args.linger },
            deadline: None,
        },
        timeout: args.timeout.or(waiting.then_some(DEFAULT_WAIT_TIMEOUT)),
        quiet: global.quiet,
    };

    let expectations = Arc::new(Mutex::new(expectations));
    let done_when = waiting.then(|| {
        let expectations = Arc::clone(&expectations);
        Box::new(move |message: &_| {
            expectations
                .lock()
                .map(|mut e| e.observe(message))
                .unwrap_or(true)
        }) as DoneWhen
    });

    let output = super::pipe::output_options(&args.format);
    let result = super::pipe::run_pipe(
        session,
        sources(&args),
        args.format.input,
        output,
        done_when,
    )
    .await;

    let unmet = expectations
        .lock()
        .ok()
        .filter(|e| waiting && !e.satisfied())
        .map(|e| e.unmet());
    match (result, unmet) {
        // The connection ended cleanly, or abnormally, before the replies came.
        (Ok(()), Some(unmet)) => Err(coded(
            Exit::Failure,
            format!("the connection closed before {unmet} was met"),
        )),
        (Err(err), Some(unmet)) if exit_code_of(&err) == Exit::AbnormalClose => {
            Err(err.context(format!("{unmet} not met")))
        }
        (result, _) => result,
    }
}

/// Arguments first (a `-` among them stands for stdin), then files; stdin when
/// there are neither.
fn sources(args: &SendArgs) -> Vec<Source> {
    let mut sources = Vec::new();
    let mut pending = Vec::new();
    for message in &args.messages {
        if message == "-" {
            if !pending.is_empty() {
                sources.push(Source::Args(std::mem::take(&mut pending)));
            }
            sources.push(Source::Stdin);
        } else {
            pending.push(message.clone());
        }
    }
    if !pending.is_empty() {
        sources.push(Source::Args(pending));
    }
    sources.extend(args.file.iter().cloned().map(Source::File));
    if sources.is_empty() {
        sources.push(Source::Stdin);
    }
    sources
}
