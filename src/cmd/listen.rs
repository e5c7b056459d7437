//! `wspipe listen`: a WebSocket server. Each accepted client runs through the same
//! pump as the client commands; the hub adds rooms, the stdin fan-out and the
//! broadcast relay. This file only wires the flags to them and reports on stderr.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::cli::{GlobalArgs, ListenArgs, OutputFormat};
use crate::conn::accept::{
    Accepted, Refusal, ServerOptions, accept, bind, raise_fd_limit, resolve_listen_addr,
    tls_acceptor,
};
use crate::conn::credentials::Required;
use crate::conn::ending::Finished;
use crate::conn::hub::{ClientSink, Hub};
use crate::conn::pump::{PumpConfig, shutdown_channel};
use crate::conn::session::close_on_ctrl_c_with;
use crate::exit::{Exit, coded};
use crate::record::event::{Event, EventSink, EventTx};
use crate::record::{OutputWriter, RecordFormat, Source, spawn_reader};

/// Ctrl-C closes every client with this ("going away").
const SHUTDOWN_CODE: u16 = 1001;
/// Input batches queued between the stdin reader and the fan-out at most.
const STDIN_QUEUE: usize = 16;

/// What every client's task needs.
struct Server {
    opts: ServerOptions,
    pump: PumpConfig,
    hub: Hub,
    /// `ws://HOST:PORT`, the prefix of every client's URL.
    base_url: String,
    broadcast: bool,
    /// Data messages go to stdout (not for `--echo`, unless `-o events`).
    print_data: bool,
    /// Connects and disconnects as lines on stderr (not with -q or `-o events`).
    report: bool,
    /// Errors as events on stdout (`-o events`).
    events: bool,
    quiet: bool,
}

pub async fn run(args: ListenArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let addr = resolve_listen_addr(&args.addr).await?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    raise_fd_limit();
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .with_context(|| format!("reading the address bound for {addr}"))?;
    let events = args.format.output == OutputFormat::Events;
    let opts = ServerOptions {
        subprotocols: args.subprotocols.clone(),
        max_message_size: args.max_message_size,
        tls,
        slots: args.max_clients.map(|n| Arc::new(Semaphore::new(n))),
        handshake_timeout: Duration::from_secs(10),
        allow_origins: args.allow_origins.clone(),
        credentials: Required {
            basic: args.auth.clone(),
            bearer: args.bearer.clone(),
        },
        log_handshakes: global.verbose && !global.quiet,
    };
    let server = Arc::new(Server {
        base_url: format!("{}://{local}", opts.scheme()),
        opts,
        pump: PumpConfig {
            // stdin ending says nothing about a client's session.
            close_on_input_end: false,
            close_timeout: Duration::from_secs(2),
            echo: args.echo,
            show_control: args.format.show_control,
            ping_interval: args.ping_interval,
            ping_timeout: None,
            linger: std::time::Duration::ZERO,
            deadline: None,
            max_message_size: args.max_message_size,
        },
        hub: Hub::new(),
        broadcast: args.broadcast,
        print_data: !args.echo || events,
        report: !global.quiet && !events,
        events,
        quiet: global.quiet,
    });
    // Always, even with -q: scripts and tests read the port from this line.
    eprintln!("listening on {}", server.base_url);
    if let Some(warning) = exposure_warning(local, &server.opts.credentials, &server.base_url) {
        if !global.quiet {
            eprintln!("{warning}");
        }
    }

    let (out, writer) = OutputWriter::spawn_stdout(super::pipe::output_options(&args.format));
    let (shutdown_tx, shutdown) = shutdown_channel();
    close_on_ctrl_c_with(shutdown_tx, SHUTDOWN_CODE);
    let hub = server.hub.clone();
    let mut on_shutdown = shutdown.clone();
    tokio::spawn(async move {
        if let Ok(code) = on_shutdown.wait_for(Option::is_some).await.map(|c| *c) {
            hub.close_all(code.unwrap_or(SHUTDOWN_CODE));
        }
    });
    let (stdin_tx, stdin_rx) = mpsc::channel(STDIN_QUEUE);
    let format = RecordFormat {
        format: args.format.input,
        max_message_size: args.max_message_size,
    };
    spawn_reader(vec![Source::Stdin], format, stdin_tx);
    let fan_out = tokio::spawn(server.hub.clone().fan_out(stdin_rx));

    let result = if args.once {
        serve_once(&server, listener, &out, shutdown).await
    } else {
        serve_all(&server, listener, &out, shutdown, fan_out).await
    };
    drop(out);
    // Ctrl-C still ends the run while stdout is not being read (exit 130; what
    // could not be written is lost).
    let finished = tokio::select! {
        finished = writer.finish() => finished,
        _ = tokio::signal::ctrl_c() => return Err(crate::exit::coded(crate::exit::Exit::Interrupted, "interrupted")),
    };
    match finished {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context("writing to stdout")),
        Ok(()) => result,
    }
}

/// Serves clients until Ctrl-C (exit 130), a closed stdout (exit 0) or an invalid
/// stdin record (every client closes after what came before it; exit 65).
async fn serve_all(
    server: &Arc<Server>,
    listener: TcpListener,
    out: &EventTx,
    mut shutdown: watch::Receiver<Option<u16>>,
    mut fan_out: tokio::task::JoinHandle<Option<anyhow::Error>>,
) -> anyhow::Result<()> {
    let mut clients = JoinSet::new();
    let mut stdin_open = true;
    let outcome = loop {
        tokio::select! {
            biased;
            () = interrupted(&mut shutdown) => break Err(coded(Exit::Interrupted, "interrupted")),
            () = out.tx.closed() => {
                server.hub.close_all(SHUTDOWN_CODE);
                break Ok(());
            }
            joined = &mut fan_out, if stdin_open => {
                stdin_open = false;
                if let Ok(Some(invalid)) = joined {
                    break Err(invalid);
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    clients.spawn(handle_connection(Arc::clone(server), tcp, peer, out.clone()));
                }
                Err(err) => {
                    if !server.quiet {
                        eprintln!("warning: accepting a connection failed: {err}");
                    }
                    // Out of file descriptors, most likely: let some close.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = clients.join_next() => {}
        }
    };
    drop(listener);
    // Every client is closing now (shutdown) or will once it has what came before
    // an invalid record; handshakes still under way are not waited for long.
    let drain = async { while clients.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(5), drain)
        .await
        .is_err()
    {
        clients.shutdown().await;
    }
    outcome
}

/// Serves the first client that completes the handshake, then ends with its status.
async fn serve_once(
    server: &Arc<Server>,
    listener: TcpListener,
    out: &EventTx,
    mut shutdown: watch::Receiver<Option<u16>>,
) -> anyhow::Result<()> {
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = interrupted(&mut shutdown) => return Err(coded(Exit::Interrupted, "interrupted")),
            () = out.tx.closed() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    if !server.quiet {
                        eprintln!("warning: accepting a connection failed: {err}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let accepted = tokio::select! {
            biased;
            () = interrupted(&mut shutdown) => return Err(coded(Exit::Interrupted, "interrupted")),
            accepted = accept(tcp, peer, &server.opts) => accepted,
        };
        match accepted {
            Ok(accepted) => {
                // Nobody else is served: later connections are refused by the OS.
                drop(listener);
                return serve_client(server, accepted, out).await;
            }
            Err(refusal) => report_refused(server, peer, &refusal),
        }
    }
}

/// The warning for a server that anyone beyond this machine may use: bound to an
/// address other than loopback, with no credentials required.
fn exposure_warning(local: SocketAddr, credentials: &Required, url: &str) -> Option<String> {
    (!local.ip().is_loopback() && !credentials.any()).then(|| {
        format!(
            "warning: listening on {url} without credentials: anyone who can reach it may \
             connect (require them with --auth or --bearer)"
        )
    })
}

/// Handshake, then serve; `None` when the handshake failed (already reported).
async fn handle_connection(
    server: Arc<Server>,
    tcp: TcpStream,
    peer: SocketAddr,
    out: EventTx,
) -> Option<anyhow::Result<()>> {
    match accept(tcp, peer, &server.opts).await {
        Ok(accepted) => Some(serve_client(&server, accepted, &out).await),
        Err(refusal) => {
            report_refused(&server, peer, &refusal);
            None
        }
    }
}

fn report_refused(server: &Server, peer: SocketAddr, refusal: &Refusal) {
    if !server.quiet {
        print_handshake(&format!("connection from {peer}"), &refusal.handshake);
        eprintln!("connection from {peer}: {:#}", refusal.error);
    }
}

/// `-v`: a handshake's lines, each marked with whose they are.
fn print_handshake(whose: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let out: Vec<String> = lines.iter().map(|line| format!("{whose} {line}")).collect();
    // One write, so that two clients' handshakes do not interleave.
    eprintln!("{}", out.join("\n"));
}

/// One client from its handshake to its end, reported on stderr or as events.
async fn serve_client(server: &Server, accepted: Accepted, out: &EventTx) -> anyhow::Result<()> {
    let Accepted {
        ws,
        peer,
        path,
        protocol,
        slot,
        handshake,
    } = accepted;
    let client = server.hub.register(&path);
    let id = client.id;
    print_handshake(&format!("client {id}"), &handshake);
    if server.report {
        match &protocol {
            Some(p) => eprintln!("client {id} connected from {peer} to {path} (subprotocol: {p})"),
            None => eprintln!("client {id} connected from {peer} to {path}"),
        }
    }
    let mut sink = ClientSink {
        out: out.for_client(id),
        id,
        room: path.clone(),
        broadcast: server.broadcast.then(|| server.hub.clone()),
        print_data: server.print_data,
    };
    sink.out
        .emit(Event::Open {
            url: format!("{}{path}", server.base_url),
            protocol,
            peer: Some(peer.to_string()),
        })
        .await;
    let end = server.hub.serve(ws, client, &mut sink, &server.pump).await;
    drop(slot);
    let (line, error) = end.describe();
    if server.report {
        eprintln!("client {id} {line}");
        if let Some(warning) = end.finished.as_ref().and_then(Finished::not_echoed_warning) {
            eprintln!("client {id}: warning: {warning}");
        }
    }
    if let (true, Some(error)) = (server.events, error) {
        sink.out.emit(Event::Error(error)).await;
    }
    end.into_result()
}

/// Resolves when a shutdown code has been set (never, if the channel is gone).
async fn interrupted(shutdown: &mut watch::Receiver<Option<u16>>) {
    if shutdown.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_server_beyond_loopback_without_credentials_is_warned_about() {
        let open = Required::default();
        let guarded = Required {
            basic: None,
            bearer: Some("t".into()),
        };
        let everywhere: SocketAddr = "0.0.0.0:9001".parse().unwrap();
        let warning = exposure_warning(everywhere, &open, "ws://0.0.0.0:9001").unwrap();
        assert!(warning.starts_with("warning: listening on ws://0.0.0.0:9001 without credentials"));
        assert_eq!(
            exposure_warning(everywhere, &guarded, "ws://0.0.0.0:9001"),
            None
        );
        for local in ["127.0.0.1:9001", "[::1]:9001"] {
            assert_eq!(
                exposure_warning(local.parse().unwrap(), &open, "ws://x"),
                None
            );
        }
    }
}
