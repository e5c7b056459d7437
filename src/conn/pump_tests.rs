//! The pump over `tokio::io::duplex`, no sockets: the close handshake both ways, a
//! Close while the sink holds a message, ping/pong order, backpressure, and the
//! `--count` and `--timeout` ends. The peer is a tungstenite server on the other
//! end, driven by the test.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Bytes, Message};

use super::ending::{CloseCause, Finished};
use super::pump::{Deadline, DoneWhen, PumpConfig, pump};
use super::queue::InputQueue;
use crate::exit::{Exit, exit_code_of};
use crate::record::event::{Event, EventSink};
use crate::record::feed::Input;

type Peer = WebSocketStream<DuplexStream>;

/// A connected pair: the pump's end and the peer's. The pipe holds `buffer` bytes.
async fn pair(buffer: usize) -> (WebSocketStream<DuplexStream>, Peer) {
    let (ours, theirs) = tokio::io::duplex(buffer);
    let ours = WebSocketStream::from_raw_socket(ours, Role::Client, None).await;
    let theirs = WebSocketStream::from_raw_socket(theirs, Role::Server, None).await;
    (ours, theirs)
}

/// Keeps every event; with a gate, each `emit` first waits for a permit, so the
/// test decides when the sink takes the next event.
#[derive(Default)]
struct Collect {
    events: Vec<Event>,
    gate: Option<Arc<Semaphore>>,
}

impl EventSink for Collect {
    async fn emit(&mut self, event: Event) -> bool {
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        self.events.push(event);
        true
    }
}

impl Collect {
    fn texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    }
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

/// The next message the peer reads (bounded in time).
async fn next(peer: &mut Peer) -> Message {
    tokio::time::timeout(Duration::from_secs(5), peer.next())
        .await
        .expect("a message in time")
        .expect("the stream went on")
        .expect("no read error")
}

/// A pump run with a queue fed by the test.
struct Run {
    input: mpsc::Sender<Input>,
    queue: InputQueue,
    shutdown: watch::Receiver<Option<u16>>,
    _shutdown_tx: watch::Sender<Option<u16>>,
}

impl Run {
    /// The pump on `ours`, fed by this run's queue.
    fn pump<'a>(
        &'a mut self,
        ours: WebSocketStream<DuplexStream>,
        sink: &'a mut Collect,
        cfg: &'a PumpConfig,
        done: Option<&'a mut DoneWhen>,
    ) -> impl Future<Output = Finished> + 'a {
        pump(ours, &mut self.queue, sink, cfg, done, &mut self.shutdown)
    }

    fn new() -> Run {
        let (input, queue) = InputQueue::new(16);
        let (shutdown_tx, shutdown) = watch::channel(None);
        Run {
            input,
            queue,
            shutdown,
            _shutdown_tx: shutdown_tx,
        }
    }
}

#[tokio::test]
async fn our_close_when_the_input_ends_is_answered_and_ends_cleanly() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    run.input
        .send(Input::Batch(vec![Message::text("hello")]))
        .await
        .unwrap();
    run.input.send(Input::End).await.unwrap();
    let mut sink = Collect::default();
    let cfg = PumpConfig::default();
    let peer_side = async {
        assert_eq!(next(&mut peer).await, Message::text("hello"));
        // Its Close comes next; tungstenite answers it on the next flush.
        assert!(
            matches!(next(&mut peer).await, Message::Close(Some(f)) if f.code == CloseCode::Normal)
        );
        peer.flush().await.unwrap();
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    assert!(matches!(finished.initiated, Some(CloseCause::InputEnded)));
    assert!(finished.peer_close.is_some(), "the peer's answer was read");
    assert!(finished.into_result().is_ok());
}

#[tokio::test]
async fn the_peers_close_is_answered_and_its_code_decides_the_exit() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    let mut sink = Collect::default();
    let cfg = PumpConfig::default();
    let peer_side = async {
        peer.send(Message::text("last words")).await.unwrap();
        peer.send(Message::Close(Some(close(4001, "policy"))))
            .await
            .unwrap();
        // The pump answers with the same code.
        assert!(
            matches!(next(&mut peer).await, Message::Close(Some(f)) if u16::from(f.code) == 4001)
        );
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    assert_eq!(sink.texts(), ["last words"]);
    assert!(matches!(sink.events.last(), Some(Event::Close(Some(f))) if u16::from(f.code) == 4001));
    assert!(finished.initiated.is_none());
    let err = finished.into_result().unwrap_err();
    assert_eq!(exit_code_of(&err), Exit::AbnormalClose);
    assert_eq!(
        err.to_string(),
        "the peer closed the connection with code 4001: policy"
    );
}

#[tokio::test]
async fn a_close_while_the_sink_holds_a_message_loses_nothing() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    let gate = Arc::new(Semaphore::new(0));
    let mut sink = Collect {
        gate: Some(Arc::clone(&gate)),
        ..Collect::default()
    };
    let cfg = PumpConfig::default();
    let peer_side = async {
        peer.send(Message::text("one")).await.unwrap();
        peer.send(Message::text("two")).await.unwrap();
        peer.send(Message::Close(Some(close(1000, ""))))
            .await
            .unwrap();
        // The sink is holding "one": nothing more is read meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
        gate.add_permits(3);
        assert!(
            matches!(next(&mut peer).await, Message::Close(Some(f)) if f.code == CloseCode::Normal)
        );
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    assert_eq!(sink.texts(), ["one", "two"]);
    assert!(matches!(sink.events.last(), Some(Event::Close(_))));
    assert!(finished.into_result().is_ok());
}

#[tokio::test]
async fn pings_are_answered_in_order_with_the_messages_around_them() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    let mut sink = Collect::default();
    let cfg = PumpConfig {
        show_control: true,
        ..PumpConfig::default()
    };
    let peer_side = async {
        peer.send(Message::text("before")).await.unwrap();
        peer.send(Message::Ping(Bytes::from_static(b"p1")))
            .await
            .unwrap();
        peer.send(Message::text("after")).await.unwrap();
        assert_eq!(
            next(&mut peer).await,
            Message::Pong(Bytes::from_static(b"p1"))
        );
        peer.send(Message::Close(None)).await.unwrap();
        assert!(matches!(next(&mut peer).await, Message::Close(_)));
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    let order: Vec<String> = sink
        .events
        .iter()
        .map(|e| match e {
            Event::Text(t) => t.to_string(),
            Event::Ping(p) => format!("ping {}", String::from_utf8_lossy(p)),
            Event::Close(_) => "close".to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(order, ["before", "ping p1", "after", "close"]);
    assert!(finished.into_result().is_ok());
}

#[tokio::test]
async fn a_stalled_sink_stops_reading_and_the_peer_waits_then_everything_arrives() {
    const COUNT: usize = 2_000;
    // A small pipe: what the pump does not read soon fills it.
    let (ours, mut peer) = pair(4 << 10).await;
    let mut run = Run::new();
    let gate = Arc::new(Semaphore::new(0));
    let mut sink = Collect {
        gate: Some(Arc::clone(&gate)),
        ..Collect::default()
    };
    let cfg = PumpConfig::default();
    let peer_side = async {
        {
            let sending = async {
                for i in 0..COUNT {
                    peer.feed(Message::text(format!("m{i}"))).await.unwrap();
                }
                peer.flush().await.unwrap();
            };
            tokio::pin!(sending);
            // While the sink takes nothing, the peer cannot get everything out.
            let stalled = tokio::time::timeout(Duration::from_millis(200), &mut sending).await;
            assert!(
                stalled.is_err(),
                "the peer sent {COUNT} messages into a stalled sink"
            );
            gate.add_permits(COUNT + 1);
            sending.await;
        }
        peer.send(Message::Close(None)).await.unwrap();
        assert!(matches!(next(&mut peer).await, Message::Close(_)));
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    let texts = sink.texts();
    assert_eq!(texts.len(), COUNT);
    assert!(texts.iter().enumerate().all(|(i, t)| *t == format!("m{i}")));
    assert!(finished.into_result().is_ok());
}

#[tokio::test]
async fn count_closes_after_exactly_n_messages() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    let mut sink = Collect::default();
    let cfg = PumpConfig {
        close_on_input_end: false,
        ..PumpConfig::default()
    };
    let mut seen = 0;
    let mut done: DoneWhen = Box::new(move |_| {
        seen += 1;
        seen >= 2
    });
    let peer_side = async {
        for i in 0..5 {
            peer.send(Message::text(format!("m{i}"))).await.unwrap();
        }
        // Our Close arrives; the peer answers it.
        loop {
            if let Message::Close(frame) = next(&mut peer).await {
                assert!(matches!(frame, Some(f) if f.code == CloseCode::Normal));
                break;
            }
        }
        peer.flush().await.unwrap();
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, Some(&mut done)), peer_side);
    assert_eq!(sink.texts(), ["m0", "m1"], "like head -n 2");
    assert!(matches!(finished.initiated, Some(CloseCause::Done)));
    assert!(finished.into_result().is_ok());
}

#[tokio::test]
async fn timeout_sends_close_with_the_reason_and_ends_with_exit_4() {
    let (ours, mut peer) = pair(64 << 10).await;
    let mut run = Run::new();
    let mut sink = Collect::default();
    let cfg = PumpConfig {
        close_on_input_end: false,
        deadline: Some(Deadline::after(Duration::from_millis(100))),
        ..PumpConfig::default()
    };
    let peer_side = async {
        peer.send(Message::text("early")).await.unwrap();
        match next(&mut peer).await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::Normal);
                assert_eq!(frame.reason.as_str(), "timeout");
            }
            other => panic!("expected our Close, got {other:?}"),
        }
        peer.flush().await.unwrap();
    };
    let (finished, ()) = tokio::join!(run.pump(ours, &mut sink, &cfg, None), peer_side);
    assert_eq!(sink.texts(), ["early"]);
    let err = finished.into_result().unwrap_err();
    assert_eq!(exit_code_of(&err), Exit::Timeout);
}
