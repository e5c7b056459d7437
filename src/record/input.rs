//! Input records: reading stdin, files or arguments in one of the input formats and
//! turning each record into one message, on a thread of its own so a blocking read
//! never stalls the socket.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::exit::{Exit, coded};
use crate::record::feed::{Input, InputBudget};
use crate::record::formats::InputFormat;

/// Where records come from.
#[derive(Debug, Clone)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// Command-line arguments, one record each.
    Args(Vec<String>),
}

impl Source {
    /// Where messages from `sources` came from, as a warning says it: "given on
    /// the command line", "read from stdin", "read from the arguments and
    /// requests.txt".
    pub fn describe_all(sources: &[Source]) -> String {
        if sources.iter().all(|s| matches!(s, Source::Args(_))) {
            return "given on the command line".to_string();
        }
        let mut names: Vec<String> = Vec::new();
        for source in sources {
            let name = match source {
                Source::Args(_) => "the arguments".to_string(),
                other => other.describe(),
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let names = match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => "the input".to_string(),
        };
        format!("read from {names}")
    }

    fn describe(&self) -> String {
        match self {
            Source::Stdin => "stdin".to_string(),
            Source::File(path) => path.display().to_string(),
            Source::Args(_) => "argument".to_string(),
        }
    }
}

/// Records per batch handed to the pump at most.
const BATCH: usize = 256;
/// A batch is handed over once it holds this many bytes, whatever its count: the
/// input queue holds a bounded number of batches, so this bounds it in bytes too
/// (a few MiB, or one message per batch when messages are larger than this).
const BATCH_BYTES: usize = 256 << 10;

/// How records are read: their format, and the largest message one may make
/// (`--max-message-size`; a larger record is an error, read no further than that).
#[derive(Debug, Clone, Copy)]
pub struct RecordFormat {
    pub format: InputFormat,
    pub max_message_size: usize,
}

/// Reads every source in order on a new thread and feeds the pump. Ends with
/// `Input::End`, or `Input::Invalid` at the first bad record (nothing after it is read).
pub fn spawn_reader(sources: Vec<Source>, format: RecordFormat, tx: mpsc::Sender<Input>) {
    spawn_reader_with_progress(sources, format, tx, None, None);
}

/// As [`spawn_reader`]; with `progress`, a file (or a stdin redirected from a file)
/// of 1 MiB or more shows a bar with bytes and rate on stderr while it is read, and
/// reading is paced by the socket (the input queue is bounded), so the bar follows
/// what has been sent.
pub fn spawn_reader_with_progress(
    sources: Vec<Source>,
    format: RecordFormat,
    tx: mpsc::Sender<Input>,
    budget: Option<Arc<InputBudget>>,
    progress: Option<Box<dyn ReadProgress>>,
) {
    std::thread::Builder::new()
        .name("wspipe-input".into())
        .spawn(move || {
            let mut feeder = Feeder {
                tx,
                budget,
                batch: Vec::new(),
                bytes: 0,
            };
            let end = read_all(&sources, format, &mut feeder, progress.as_deref());
            let last = match end {
                Ok(()) => Input::End,
                Err(err) => Input::Invalid(err),
            };
            // What was read before the bad record goes first.
            if feeder.flush() {
                let _ = feeder.tx.blocking_send(last);
            }
        })
        .expect("spawning the input thread");
}

struct Feeder {
    tx: mpsc::Sender<Input>,
    /// Bounds what is queued in bytes, where the queue has one.
    budget: Option<Arc<InputBudget>>,
    batch: Vec<Message>,
    /// Bytes of data in `batch`.
    bytes: usize,
}

impl Feeder {
    /// Queues a record; sends the batch when it is full or when `idle` says the
    /// reader would block next (so interactive input goes out at once).
    /// Returns false when the pump is gone.
    fn push(&mut self, message: Message, idle: bool) -> bool {
        self.bytes += message.len();
        self.batch.push(message);
        if idle || self.batch.len() >= BATCH || self.bytes >= BATCH_BYTES {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.batch);
        if let Some(budget) = &self.budget {
            budget.take(self.bytes);
        }
        self.bytes = 0;
        self.tx.blocking_send(Input::Batch(batch)).is_ok()
    }
}

fn read_all(
    sources: &[Source],
    format: RecordFormat,
    feeder: &mut Feeder,
    progress: Option<&dyn ReadProgress>,
) -> anyhow::Result<()> {
    for source in sources {
        let name = source.describe();
        match source {
            Source::Args(args) => {
                for (index, arg) in args.iter().enumerate() {
                    let message = parse_record(arg.as_bytes(), format.format)
                        .and_then(|message| within(message, format.max_message_size))
                        .map_err(|why| invalid(&format!("argument {}", index + 1), &why))?;
                    if let Some(message) = message {
                        if !feeder.push(message, false) {
                            return Ok(());
                        }
                    }
                }
                feeder.flush();
            }
            Source::Stdin => {
                let (stdin, size) = raw_stdin();
                let (reader, shown) = with_progress(stdin, size, &name, progress);
                let more = read_stream(
                    BufReader::with_capacity(64 * 1024, reader),
                    &name,
                    format,
                    feeder,
                );
                finish_progress(shown);
                if !more? {
                    return Ok(());
                }
            }
            Source::File(path) => {
                let file = File::open(path).map_err(|e| {
                    coded(
                        Exit::Usage,
                        format!("cannot open {}: {}", path.display(), io_reason(&e)),
                    )
                })?;
                let size = file.metadata().ok().map(|m| m.len());
                let (reader, shown) = with_progress(Box::new(file), size, &name, progress);
                let more = read_stream(
                    BufReader::with_capacity(64 * 1024, reader),
                    &name,
                    format,
                    feeder,
                );
                finish_progress(shown);
                if !more? {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Reads one stream; Ok(false) when the pump went away.
fn read_stream<R: Read>(
    mut reader: BufReader<R>,
    name: &str,
    RecordFormat {
        format,
        max_message_size: limit,
    }: RecordFormat,
    feeder: &mut Feeder,
) -> anyhow::Result<bool> {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if format == InputFormat::Binary {
        let mut all = Vec::new();
        // One byte past the limit is enough to know it is too big.
        (&mut reader)
            .take(limit_u64.saturating_add(1))
            .read_to_end(&mut all)
            .map_err(|e| anyhow::anyhow!("reading {name}: {}", io_reason(&e)))?;
        if all.len() > limit {
            return Err(invalid(name, &too_big(limit)));
        }
        return Ok(feeder.push(Message::Binary(all.into()), true));
    }
    // A line is read no further than this: its line ending, and room for what
    // parsing removes (JSON spaces, base64's 4 characters per 3 bytes); the
    // message it makes is then checked exactly.
    let line_limit = match format {
        InputFormat::Text => limit_u64.saturating_add(2),
        _ => limit_u64.saturating_mul(2).saturating_add(2),
    };
    let mut line_no = 0u64;
    loop {
        let mut line = Vec::with_capacity(64);
        let n = (&mut reader)
            .take(line_limit)
            .read_until(b'\n', &mut line)
            .map_err(|e| anyhow::anyhow!("reading {name}: {}", io_reason(&e)))?;
        if n == 0 {
            return Ok(feeder.flush());
        }
        line_no += 1;
        if n as u64 == line_limit && line.last() != Some(&b'\n') {
            return Err(invalid(&format!("{name} line {line_no}"), &too_big(limit)));
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let message = match format {
            // The common case moves the line's buffer into the message, no copy.
            InputFormat::Text => match String::from_utf8(line) {
                Ok(text) => Some(Message::Text(text.into())),
                Err(_) => {
                    return Err(invalid(
                        &format!("{name} line {line_no}"),
                        "not valid UTF-8",
                    ));
                }
            },
            _ => parse_record(&line, format)
                .map_err(|why| invalid(&format!("{name} line {line_no}"), &why))?,
        };
        let message = within(message, limit)
            .map_err(|why| invalid(&format!("{name} line {line_no}"), &why))?;
        if let Some(message) = message {
            // Nothing more buffered means the next read may block: send now.
            let idle = reader.buffer().is_empty();
            if !feeder.push(message, idle) {
                return Ok(false);
            }
        }
    }
}

/// stdin without std's own 8 KiB buffer in front, so our buffer is the only one and
/// can tell whether the next read would block; with its size when it is a file.
#[cfg(unix)]
fn raw_stdin() -> (Box<dyn Read + Send>, Option<u64>) {
    use std::os::fd::AsFd;
    match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => {
            let file = File::from(fd);
            let size = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (Box::new(file), size)
        }
        Err(_) => (Box::new(io::stdin()), None),
    }
}

#[cfg(not(unix))]
fn raw_stdin() -> (Box<dyn Read + Send>, Option<u64>) {
    (Box::new(io::stdin()), None)
}

/// Inputs smaller than this finish too fast for a bar to help.
const PROGRESS_MIN_BYTES: u64 = 1 << 20;

/// Shows how far a large input has been read; how is the command's business (a
/// bar on a terminal).
pub trait ReadProgress: Send {
    /// Wraps `reader`, `size` bytes called `name`, so that what is read is counted.
    fn start(&self, reader: Box<dyn Read + Send>, size: u64, name: &str) -> Box<dyn Read + Send>;
    /// The input was read to its end, or failed: the display goes away.
    fn finish(&self);
}

/// Wraps a reader for `progress` when its size is known and large enough; says
/// whether it did.
fn with_progress<'a>(
    reader: Box<dyn Read + Send>,
    size: Option<u64>,
    name: &str,
    progress: Option<&'a dyn ReadProgress>,
) -> (Box<dyn Read + Send>, Option<&'a dyn ReadProgress>) {
    match (size, progress) {
        (Some(size), Some(progress)) if size >= PROGRESS_MIN_BYTES => {
            (progress.start(reader, size, name), Some(progress))
        }
        _ => (reader, None),
    }
}

fn finish_progress(shown: Option<&dyn ReadProgress>) {
    if let Some(progress) = shown {
        progress.finish();
    }
}

/// One record (without its line ending) as a message; `Ok(None)` for a record that
/// is skipped (a blank line in JSON). The error is the reason, for the caller to
/// prefix with where the record was.
pub fn parse_record(record: &[u8], format: InputFormat) -> Result<Option<Message>, String> {
    match format {
        InputFormat::Text => std::str::from_utf8(record)
            .map(|s| Some(Message::Text(s.into())))
            .map_err(|_| "not valid UTF-8".to_string()),
        InputFormat::Json => {
            if record.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            let value: serde_json::Value = serde_json::from_slice(record)
                .map_err(|e| format!("not valid JSON ({})", json_reason(&e)))?;
            Ok(Some(Message::Text(value.to_string().into())))
        }
        InputFormat::Base64 => {
            let trimmed = record.trim_ascii();
            BASE64_LENIENT
                .decode(trimmed)
                .map(|bytes| Some(Message::Binary(bytes.into())))
                .map_err(|e| format!("not valid base64 ({e})"))
        }
        InputFormat::Binary => Ok(Some(Message::Binary(record.to_vec().into()))),
    }
}

/// `message` if it is at most `limit` bytes (`--max-message-size`).
fn within(message: Option<Message>, limit: usize) -> Result<Option<Message>, String> {
    match message {
        Some(message) if message.len() > limit => Err(too_big(limit)),
        fine => Ok(fine),
    }
}

/// The reason given for a record over `--max-message-size`.
pub fn too_big(limit: usize) -> String {
    // Exact, as the flag is written (64MiB), not rounded.
    let size = match limit {
        0 => "0 bytes".to_string(),
        _ if limit % (1 << 20) == 0 => format!("{} MiB", limit >> 20),
        _ if limit % (1 << 10) == 0 => format!("{} KiB", limit >> 10),
        _ => format!("{limit} bytes"),
    };
    format!("larger than --max-message-size ({size})")
}

/// Standard base64, padding optional.
pub const BASE64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn invalid(place: &str, why: &str) -> anyhow::Error {
    coded(
        Exit::InvalidInput,
        format!("{place}: {why}; nothing from here on was sent"),
    )
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json's message ends with " at line 1 column N"; the line is always 1
    // here, so say only the column.
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((reason, _)) => format!("{reason} at column {}", e.column()),
        None => text,
    }
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(m: Option<Message>) -> String {
        match m {
            Some(Message::Text(t)) => t.to_string(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn json_is_compacted_keeping_key_order_and_numbers() {
        let m = parse_record(
            br#"{ "b": 1, "a": [1.50, 2] , "n": 12345678901234567890123 }"#,
            InputFormat::Json,
        );
        assert_eq!(
            text_of(m.unwrap()),
            r#"{"b":1,"a":[1.50,2],"n":12345678901234567890123}"#
        );
    }

    #[test]
    fn blank_json_lines_are_skipped() {
        assert!(parse_record(b"  \t", InputFormat::Json).unwrap().is_none());
    }

    #[test]
    fn bad_json_names_the_column() {
        let err = parse_record(b"{\"a\":}", InputFormat::Json).unwrap_err();
        assert_eq!(err, "not valid JSON (expected value at column 6)");
    }

    #[test]
    fn base64_decodes_with_or_without_padding() {
        for line in [&b"aGk="[..], b"aGk", b" aGk= "] {
            assert_eq!(
                parse_record(line, InputFormat::Base64).unwrap(),
                Some(Message::Binary(b"hi".to_vec().into()))
            );
        }
        assert!(parse_record(b"not base64!", InputFormat::Base64).is_err());
    }

    #[test]
    fn sources_are_named_as_a_warning_says_them() {
        let args = || Source::Args(vec!["a".into()]);
        let file = || Source::File("requests.txt".into());
        assert_eq!(Source::describe_all(&[args()]), "given on the command line");
        assert_eq!(Source::describe_all(&[Source::Stdin]), "read from stdin");
        assert_eq!(
            Source::describe_all(&[args(), Source::Stdin, args(), file()]),
            "read from the arguments, stdin and requests.txt"
        );
    }

    #[test]
    fn text_must_be_utf8() {
        assert!(parse_record(&[0xff, 0xfe], InputFormat::Text).is_err());
        assert_eq!(
            text_of(parse_record("héllo".as_bytes(), InputFormat::Text).unwrap()),
            "héllo"
        );
    }
}
