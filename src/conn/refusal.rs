//! The body of a refused upgrade, read to its end.
//!
//! tungstenite reports a refusal (`HTTP 403`) with whatever body came in the same
//! read as the head, then drops the stream: a server that writes the head and the
//! body separately (uvicorn with wsproto does) has its explanation lost. The stream
//! goes to tungstenite inside a [`Reclaimable`], which hands it back when dropped,
//! so the rest of the body can still be read.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::http::{Response, header};

/// A stream that returns to its [`Reclaim`] when dropped, unless told to [`keep`](Reclaimable::keep) it.
pub struct Reclaimable<S> {
    stream: Option<S>,
    slot: Option<Arc<Mutex<Option<S>>>>,
}

/// Where a dropped [`Reclaimable`]'s stream ends up.
pub struct Reclaim<S>(Arc<Mutex<Option<S>>>);

impl<S> Reclaimable<S> {
    pub fn new(stream: S) -> (Reclaimable<S>, Reclaim<S>) {
        let slot = Arc::new(Mutex::new(None));
        let reclaimable = Reclaimable {
            stream: Some(stream),
            slot: Some(Arc::clone(&slot)),
        };
        (reclaimable, Reclaim(slot))
    }

    /// The handshake succeeded: the stream stays where it is.
    pub fn keep(&mut self) {
        self.slot = None;
    }

    fn stream(&mut self) -> io::Result<&mut S> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl<S> Reclaim<S> {
    /// The stream, if its wrapper was dropped.
    pub fn take(&self) -> Option<S> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

impl<S> Drop for Reclaimable<S> {
    fn drop(&mut self) {
        if let (Some(slot), Some(stream)) = (self.slot.take(), self.stream.take()) {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(stream);
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Reclaimable<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Reclaimable<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_shutdown(cx),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

/// Only the start of a refusal's body is shown; this much is read at most.
const BODY_SHOWN: usize = 1024;
/// How long the rest of the body may take.
const BODY_WAIT: Duration = Duration::from_millis(500);

/// Reads the rest of a refusal's body from `stream`: up to its `Content-Length`
/// (or the end of the stream without one), [`BODY_SHOWN`] bytes and [`BODY_WAIT`]
/// at most. What arrived in time is kept; a failure only ends the reading.
pub async fn read_rest_of_body<S: AsyncRead + Unpin>(
    response: &mut Response<Option<Vec<u8>>>,
    stream: &mut S,
) {
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let want = length.unwrap_or(usize::MAX).min(BODY_SHOWN);
    let body = response.body_mut().get_or_insert_with(Vec::new);
    let read = async {
        let mut chunk = [0u8; 512];
        while body.len() < want {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(BODY_WAIT, read).await;
}
