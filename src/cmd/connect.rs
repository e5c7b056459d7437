//! `wspipe connect`: one bidirectional session, records in and out.

use crate::cli::{ConnectArgs, GlobalArgs};
use crate::conn::dial::DialOptions;
use crate::conn::pump::{DoneWhen, PumpConfig};
use crate::conn::session::ClientSession;
use crate::conn::url::parse_ws_url;
use crate::record::Source;

pub async fn run(args: ConnectArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let url = parse_ws_url(&args.url)?;
    let session = ClientSession {
        dial: DialOptions::new(url, args.client.clone(), global),
        pump: PumpConfig {
            close_on_input_end: !args.no_close,
            close_timeout: args.lifecycle.close_timeout,
            echo: args.echo,
            show_control: args.format.show_control,
            ping_interval: args.client.ping_interval,
            ping_timeout: args.client.ping_timeout,
            max_message_size: args.client.max_message_size,
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
