//! `wspipe connect`: one bidirectional session; the REPL when stdin and stdout are
//! terminals, records in and out otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use crate::cli::{ConnectArgs, GlobalArgs};
use crate::conn::dial::DialOptions;
use crate::conn::pump::{DoneWhen, PumpConfig};
use crate::conn::session::ClientSession;
use crate::conn::url::parse_ws_url;
use crate::record::Source;
use crate::ui::repl::{self, ReplOptions};
use crate::ui::style::Style;

pub async fn run(args: ConnectArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let url = parse_ws_url(&args.url)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let session = ClientSession {
        dial: DialOptions::new(url, (&args.client).into(), global.verbose, global.quiet),
        pump: PumpConfig {
            // stdin EOF ends a plain pipe (after the linger); a mirror or a
            // `--count` is ended by the peer, the count or the deadline instead.
            // In the REPL, Ctrl-D always means "close now".
            close_on_input_end: !args.no_close
                && (interactive || (!args.echo && args.lifecycle.count.is_none())),
            close_timeout: args.lifecycle.close_timeout,
            echo: args.echo,
            // The REPL shows the pongs of its /ping whatever -P says.
            show_control: args.format.show_control || interactive,
            ping_interval: args.client.ping_interval,
            ping_timeout: args.client.ping_timeout,
            max_message_size: args.client.max_message_size,
            // The REPL closes when asked to; lingering is for pipes.
            linger: if interactive {
                Duration::ZERO
            } else {
                args.lifecycle.linger
            },
            deadline: None,
        },
        timeout: args.lifecycle.timeout,
        quiet: global.quiet,
    };
    let done_when = args.lifecycle.count.map(|count| {
        let mut seen = 0u64;
        Box::new(move |_: &_| {
            seen += 1;
            seen >= count
        }) as DoneWhen
    });
    if interactive {
        let options = ReplOptions {
            style: Style::for_stdout(global.color),
            pretty: args.pretty,
            timestamps: args.format.timestamps,
            show_control: args.format.show_control,
            history: !args.no_history,
            input: args.format.input,
            quiet: global.quiet,
        };
        return repl::run(session, options, done_when).await;
    }
    let output = super::pipe::output_options(&args.format);
    super::pipe::run_pipe(
        session,
        vec![Source::Stdin],
        args.format.input,
        output,
        done_when,
    )
    .await
}
