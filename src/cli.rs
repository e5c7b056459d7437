//! The command line: clap definitions and the value parsers they use, nothing else.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::conn::options::ConnectOptions;

#[derive(Debug, Parser)]
#[command(
    name = "wspipe",
    version,
    about = "A command-line WebSocket tool: pipes, a REPL, a tiny server, chat and CI smoke tests",
    long_about = "wspipe talks WebSocket from the command line.\n\n\
        In a pipeline each stdin line (or JSON value, or base64 record) becomes one message and \
        each received message becomes one stdout record; on a terminal `connect` is an \
        interactive REPL. Diagnostics go to stderr only, and the exit code says how the \
        session ended.",
    after_help = "Exit codes: 0 done, 1 expectation failed or other error, 2 usage, 3 could not connect, \
        4 deadline passed, 5 peer closed abnormally, 65 invalid input record, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags every command understands.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// When to use colour on the terminal
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Print the handshake request and response headers on stderr (credentials redacted)
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and NO_COLOR is unset
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open one bidirectional session: a REPL on a terminal, records in and out in a pipe
    #[command(after_help = CONNECT_EXAMPLES)]
    Connect(ConnectArgs),
    /// Send messages, optionally wait for replies, close cleanly: a step for CI
    #[command(after_help = SEND_EXAMPLES)]
    Send(SendArgs),
    /// Run a WebSocket server: print what clients send, send them stdin, echo or broadcast
    #[command(after_help = LISTEN_EXAMPLES)]
    Listen(ListenArgs),
    /// Chat in a room: JSON chat messages, names, typing indicators, reconnection
    #[command(after_help = CHAT_EXAMPLES)]
    Chat(ChatArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

const CONNECT_EXAMPLES: &str = "Examples:
  printf 'a\\nb\\n' | wspipe connect ws://127.0.0.1:9001      # prints the echoes, closes cleanly
  jq -c '.[]' events.json | wspipe connect -i json -o json wss://api.example.com/stream
  wspipe connect -o events --timestamps ws://127.0.0.1:9001 < /dev/null
  wspipe connect ws://127.0.0.1:9001                          # on a terminal: the REPL";

const SEND_EXAMPLES: &str = "Examples:
  wspipe send ws://127.0.0.1:9001 hello                       # send, close, exit 0
  wspipe send ws://127.0.0.1:9001 '{\"op\":\"ping\"}' --expect-json /op='\"pong\"'
  wspipe send wss://api.example.com/ws --wait 1 --timeout 5s '{\"subscribe\":\"btc\"}'
  wspipe send ws://127.0.0.1:9001 -i binary --file image.png";

const LISTEN_EXAMPLES: &str = "Examples:
  wspipe listen 9001 --echo                                   # a throwaway echo server
  wspipe listen 0 --broadcast                                 # a chat hub, one room per path
  wspipe listen 127.0.0.1:9001 -o events                      # log every client event as JSON";

const CHAT_EXAMPLES: &str = "Examples:
  wspipe listen 9001 --broadcast                              # terminal 1: the server
  wspipe chat ws://127.0.0.1:9001 --room lobby --name alice    # terminal 2
  wspipe chat ws://127.0.0.1:9001 --room lobby --name bob      # terminal 3

  # A bot: stdin lines become messages, received messages come out as JSON Lines
  wspipe chat ws://127.0.0.1:9001 --room lobby --name bot -o json | jq -r .text

Chat always reconnects (with backoff and jitter; --max-retries N to give up):
lines entered while disconnected are sent, in order, once it is back.";

/// Flags shared by every client command (`connect`, `send`, `chat`): how to dial.
#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    /// Add a request header to the handshake, as 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,

    /// Set the Origin header
    #[arg(long, value_name = "URL")]
    pub origin: Option<String>,

    /// Set the User-Agent header
    #[arg(long, value_name = "STRING")]
    pub user_agent: Option<String>,

    /// Ask for a subprotocol (repeatable); the one the server picks is reported
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub subprotocols: Vec<String>,

    /// HTTP Basic credentials for the handshake
    #[arg(long, value_name = "USER:PASS")]
    pub auth: Option<String>,

    /// A bearer token for the handshake (Authorization: Bearer TOKEN)
    #[arg(long, value_name = "TOKEN")]
    pub bearer: Option<String>,

    /// Do not verify the server's TLS certificate (a warning is printed)
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Trust the CA certificates in this PEM file (in addition to the system roots)
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Present this client certificate (PEM); needs --key
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The private key (PEM) for --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Tunnel through this HTTP proxy (CONNECT); without it HTTPS_PROXY, HTTP_PROXY,
    /// ALL_PROXY and NO_PROXY are honoured
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Give up connecting (TCP, TLS and handshake) after this long
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Send a ping this often to keep the connection alive
    #[arg(long, value_name = "DUR", value_parser = parse_period)]
    pub ping_interval: Option<Duration>,

    /// End the run (exit 4) when a ping gets no pong within this long
    #[arg(long, value_name = "DUR", value_parser = parse_period)]
    pub ping_timeout: Option<Duration>,

    /// Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_message_size: usize,

    /// Reconnect with exponential backoff when the connection drops
    #[arg(long)]
    pub reconnect: bool,

    /// Give up reconnecting after this many failed attempts in a row (implies --reconnect)
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
}

/// What conn needs of the client flags.
impl From<&ClientArgs> for ConnectOptions {
    fn from(args: &ClientArgs) -> ConnectOptions {
        ConnectOptions {
            headers: args.headers.clone(),
            origin: args.origin.clone(),
            user_agent: args.user_agent.clone(),
            subprotocols: args.subprotocols.clone(),
            auth: args.auth.clone(),
            bearer: args.bearer.clone(),
            insecure: args.insecure,
            cacert: args.cacert.clone(),
            cert: args.cert.clone(),
            key: args.key.clone(),
            proxy: args.proxy.clone(),
            connect_timeout: args.connect_timeout,
            ping_interval: args.ping_interval,
            ping_timeout: args.ping_timeout,
            max_message_size: args.max_message_size,
            reconnect: args.reconnect,
            max_retries: args.max_retries,
        }
    }
}

/// How records are read and written.
#[derive(Debug, Args, Clone)]
pub struct FormatArgs {
    /// What one input record is
    #[arg(short, long, value_enum, default_value_t = InputFormat::Text)]
    pub input: InputFormat,

    /// How each received message is written
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Add an RFC 3339 "ts" to each event (-o events) or a time prefix on a terminal
    #[arg(long)]
    pub timestamps: bool,

    /// Report pings and pongs received (-o events)
    #[arg(short = 'P', long)]
    pub show_control: bool,
}

// The record formats are record's; clap reads them as they are.
pub use crate::record::formats::{InputFormat, OutputFormat};

/// How long a pipe waits, after its input ended, for the peer to stop sending.
/// Servers answer asynchronously and stop sending once they read our Close; a
/// second covers a server that answers within about a second (see the README's
/// lifecycle section for what it costs a one-shot run).
pub const DEFAULT_LINGER: &str = "1s";

/// When a client session ends.
#[derive(Debug, Args, Clone)]
pub struct LifecycleArgs {
    /// After sending Close, wait for the peer's Close until it has been silent this long
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub close_timeout: Duration,

    /// After stdin ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)
    #[arg(long, value_name = "DUR", default_value = DEFAULT_LINGER, value_parser = parse_duration)]
    pub linger: Duration,

    /// Print exactly this many received messages, then close at once (stdin EOF does not close)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// A deadline for the whole run (exit 4 when it passes)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// ws://, wss://, http(s):// (mapped to ws(s)://) or a bare host:port/path
    pub url: String,

    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    #[command(flatten)]
    pub lifecycle: LifecycleArgs,

    /// Do not close at the end of stdin; wait for the peer or Ctrl-C
    #[arg(short = 'n', long)]
    pub no_close: bool,

    /// Mirror mode: send every received message back unchanged
    #[arg(long)]
    pub echo: bool,

    /// REPL: do not read or write the history file
    #[arg(long)]
    pub no_history: bool,

    /// REPL: pretty-print JSON messages
    #[arg(long)]
    pub pretty: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// ws://, wss://, http(s):// (mapped to ws(s)://) or a bare host:port/path
    pub url: String,

    /// Messages to send, one message each; none or `-` reads stdin records
    pub messages: Vec<String>,

    /// Send the records of this file (repeatable; with -i binary each file is one message)
    #[arg(short, long, value_name = "PATH")]
    pub file: Vec<PathBuf>,

    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub format: FormatArgs,

    /// After sending Close, wait for the peer's Close until it has been silent this long
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub close_timeout: Duration,

    /// Without --wait/--expect: after the input ends, keep printing replies until the peer has sent nothing for this long, then close (0: close at once)
    #[arg(long, value_name = "DUR", default_value = DEFAULT_LINGER, value_parser = parse_duration)]
    pub linger: Duration,

    /// Close after this many replies
    #[arg(long, value_name = "N")]
    pub wait: Option<u64>,

    /// Close as soon as a reply matches this regular expression (repeatable: all must match)
    #[arg(long, value_name = "REGEX")]
    pub expect: Vec<regex::Regex>,

    /// Close as soon as a reply's JSON value at POINTER equals VALUE, e.g. /status="ok"
    /// (repeatable: all must match)
    #[arg(long, value_name = "POINTER=VALUE")]
    pub expect_json: Vec<String>,

    /// A deadline for the whole run (default 10s when waiting for replies)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// PORT or HOST:PORT; the host defaults to 127.0.0.1 and port 0 takes a free port
    #[arg(default_value = "0")]
    pub addr: String,

    #[command(flatten)]
    pub format: FormatArgs,

    /// Echo every message back to its sender
    #[arg(long, conflicts_with = "broadcast")]
    pub echo: bool,

    /// Relay every message to the other clients on the same URL path (one room per path)
    #[arg(long)]
    pub broadcast: bool,

    /// Serve one connection, then exit with its status
    #[arg(long)]
    pub once: bool,

    /// Refuse connections beyond this many at once (HTTP 503)
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,

    /// Accept this subprotocol when a client asks for it (repeatable)
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub subprotocols: Vec<String>,

    /// Accept browsers only from this Origin, e.g. https://app.example (repeatable; * for any);
    /// others get HTTP 403. Clients that send no Origin (not browsers) are let in
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// Require these HTTP Basic credentials of every client (HTTP 401 otherwise)
    #[arg(long, value_name = "USER:PASS", env = "WSPIPE_LISTEN_AUTH", hide_env_values = true, value_parser = parse_user_pass)]
    pub auth: Option<String>,

    /// Require this bearer token of every client (Authorization: Bearer TOKEN; HTTP 401
    /// otherwise). With --auth too, either one lets a client in
    #[arg(long, value_name = "TOKEN", env = "WSPIPE_LISTEN_BEARER", hide_env_values = true, value_parser = parse_secret)]
    pub bearer: Option<String>,

    /// Serve wss:// with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) for --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse messages larger than this: incoming (closes with 1009) or read from the input (exit 65)
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_message_size: usize,

    /// Send each client a ping this often
    #[arg(long, value_name = "DUR", value_parser = parse_period)]
    pub ping_interval: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// ws://, wss://, http(s):// (mapped to ws(s)://) or a bare host:port/path
    pub url: String,

    /// Join this room: appends /room/ID to the URL path
    #[arg(long, value_name = "ID")]
    pub room: Option<String>,

    /// Your name in the room (default: the login user)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Without a terminal: how received chat lines are written
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Do not read or write the history file
    #[arg(long)]
    pub no_history: bool,

    /// Without a terminal: after stdin ends, keep printing until the room has been quiet this long, then close (0: close at once)
    #[arg(long, value_name = "DUR", default_value = DEFAULT_LINGER, value_parser = parse_duration)]
    pub linger: Duration,

    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses the process's command line, exiting with clap's message (code 2) on a usage
/// error. `--color` also governs clap's own help and error output, which is otherwise
/// decided before any argument is parsed.
pub fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = match color_in_args(&args) {
        Some(ColorChoice::Always) => clap::ColorChoice::Always,
        Some(ColorChoice::Never) => clap::ColorChoice::Never,
        Some(ColorChoice::Auto) | None => clap::ColorChoice::Auto,
    };
    let matches = Cli::command().color(color).get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// The last `--color X` / `--color=X` before `--`, if it names a valid choice.
fn color_in_args(args: &[std::ffi::OsString]) -> Option<ColorChoice> {
    let mut choice = None;
    let mut args = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "--color" => args.next(),
            _ => arg.strip_prefix("--color="),
        };
        if let Some(parsed) = value.and_then(|v| ColorChoice::from_str(v, false).ok()) {
            choice = Some(parsed);
        }
    }
    choice
}

/// Longer durations are taken as this ("forever").
const LONGEST: Duration = crate::conn::pump::LONGEST_WAIT;

/// Parses `250ms`, `10s`, `2m`, `1h 30m`; a bare number means seconds. Longer than
/// [`LONGEST`] saturates.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::try_from_secs_f64(secs).map_or(LONGEST, |d| d.min(LONGEST)));
        }
    }
    humantime::parse_duration(s)
        .map(|d| d.min(LONGEST))
        .map_err(|e| format!("{e} (try 250ms, 10s or 2m)"))
}

/// `USER:PASS` for `listen --auth` (the password may hold more colons).
pub fn parse_user_pass(s: &str) -> Result<String, String> {
    match s.split_once(':') {
        Some((user, _)) if !user.is_empty() => Ok(s.to_string()),
        _ => Err("expected USER:PASS".to_string()),
    }
}

/// A secret a client must present: never empty, which would let in anyone
/// who sends the scheme alone.
pub fn parse_secret(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(s.to_string())
}

/// A duration that sets how often something repeats (pings): zero is refused.
pub fn parse_period(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be more than zero".to_string()),
        d => Ok(d),
    }
}

/// Parses `512KiB`, `64MiB`, `1GB`, `100k`, or a plain byte count.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size (try 512KiB or 64MiB)"))?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit '{other}' (try KiB, MiB or GiB)")),
    };
    Ok((number * multiplier) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn color_is_found_before_clap_parses() {
        let args = |list: &[&str]| list.iter().map(Into::into).collect::<Vec<_>>();
        assert_eq!(color_in_args(&args(&["wspipe", "connect"])), None);
        assert_eq!(
            color_in_args(&args(&["wspipe", "--color", "never", "connect"])),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            color_in_args(&args(&[
                "wspipe",
                "connect",
                "--color=always",
                "--color=never"
            ])),
            Some(ColorChoice::Never)
        );
        assert_eq!(
            color_in_args(&args(&["wspipe", "send", "--", "--color=never"])),
            None
        );
    }

    #[test]
    fn durations_read_like_the_contract() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sizes_read_like_the_contract() {
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
