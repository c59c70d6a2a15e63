//! The HTTP server: the accept loop on hyper (graceful shutdown, per-connection control for the
//! `connection_reset` fault), and the connection wrapper that turns hyper's own bare answers to
//! unparsable requests into the failure envelope. Requests go to the router (`router.rs`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use cfstream_types::{ApiMessage, Envelope, ErrorCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::conn::{ClientAddr, ConnControl, Tracked};
use crate::input::{MAX_HEADERS, MAX_URI};
use crate::router::SERVER;
use crate::shared::Shared;

/// hyper's read buffer limit: big enough that a 1 MB path is parsed (and answered 414 by
/// hyper, which we rewrite) rather than cut.
const MAX_BUF: usize = 4 * 1024 * 1024;

/// Serves `listener` until `shutdown` turns true, then lets open connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match shared.conns.admit(Instant::now()) {
                    Some((id, control)) => {
                        let _ = stream.set_nodelay(true);
                        let client = ClientAddr(peer.ip());
                        let admitted = Admitted { shared: shared.clone(), id, control, client };
                        conns.spawn(connection(stream, app.clone(), admitted, shutdown.clone()));
                    }
                    None => refuse(&stream, &shared),
                },
                Err(e) => {
                    // Out of file descriptors or the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Answers a connection over the cap, when no open connection is idle enough to make room:
/// 503 with `retry-after`, then the connection closes. A client that sends nothing keeps
/// nothing open: the answer is written without waiting.
fn refuse(stream: &TcpStream, shared: &Shared) {
    let max = shared.conns.max();
    let message = format!("too many open connections (at most {max}): retry later");
    tracing::warn!(max, "connection refused: every open connection is answering a request");
    let body = serde_json::to_vec(&Envelope::<()>::failure(vec![ApiMessage::new(
        ErrorCode::from(10503),
        message,
    )]))
    .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\nserver: {SERVER}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    // A fresh socket's send buffer takes this at once; if not, the client sees the close.
    let _ = stream.try_write(&out);
    shared.record_unparsed(503);
}

/// An admitted connection: forgotten by the registry when its task ends, however it ends.
struct Admitted {
    shared: Arc<Shared>,
    id: u64,
    control: Arc<ConnControl>,
    client: ClientAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.conns.remove(self.id);
    }
}

async fn connection(
    stream: TcpStream,
    app: Router,
    admitted: Admitted,
    mut shutdown: watch::Receiver<bool>,
) {
    let control = admitted.control.clone();
    let timeouts = admitted.shared.timeouts;
    let io = TokioIo::new(GuardedIo::new(stream, control.clone(), admitted.shared.clone()));
    // One `Arc` per connection: a request clones only it, never a refcount that every
    // connection shares (on two busy cores, such a shared counter bounces between them on
    // every request).
    let ctx = Arc::new(crate::router::ConnCtx {
        shared: admitted.shared.clone(),
        admin_app: app,
        control: control.clone(),
        client: admitted.client,
    });
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = ctx.control.begin();
        let answer = answer_now_or_later(crate::router::handle(ctx.clone(), req.map(Body::new)));
        async move {
            let res = answer.await;
            // The body as it is, not boxed again: one allocation less per answer.
            Ok::<_, std::convert::Infallible>(res.map(|b| Tracked::new(b, busy)))
        }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().max_buf_size(MAX_BUF).serve_connection(io, svc);
    tokio::pin!(conn);
    let mut shutting_down = *shutdown.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let check_at = control.check_at(timeouts, Instant::now());
        tokio::select! {
            // The connection first (it is what wakes this task nearly every time), and no
            // random draw per wake-up.
            biased;
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = control.asked() => {
                // Dropping the connection drops the socket; GuardedIo sets SO_LINGER 0 first
                // for a reset.
                if control.reset_asked() {
                    tracing::info!("injected fault: connection reset");
                } else {
                    tracing::debug!("connection closed by the server");
                }
                return;
            }
            () = tokio::time::sleep_until(check_at) => {
                if control.expired(timeouts, Instant::now()) {
                    tracing::debug!("connection timed out (idle, or too slow to send a request)");
                    return;
                }
            }
            changed = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                } else {
                    return;
                }
            }
        }
    }
}

/// Polls `answer` once, at once: most answers (a list, a create, an error) need nothing to
/// wait for, and are then ready before hyper looks at the socket again.
///
/// This matters because hyper, between taking a request and first polling its answer, reads
/// ahead on the connection (to notice a client that hangs up); while the request is alive
/// (the answer's future holds it), its head pins the connection's read buffer, and that read
/// has to allocate a new buffer and copy what is left into it, on every request. Polling
/// here, with a no-op waker, ends the request first. An answer that is not ready is polled
/// again by hyper, with the connection's own waker, before the connection waits for anything
/// (hyper polls the answer in the same pass that called the service), so no wake-up is lost.
/// The future is boxed to be polled in place, which also spares hyper moving a large future
/// into place per request.
fn answer_now_or_later<F>(
    answer: F,
) -> futures::future::Either<std::future::Ready<F::Output>, Pin<Box<F>>>
where
    F: Future,
{
    let mut answer = Box::pin(answer);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match answer.as_mut().poll(&mut cx) {
        Poll::Ready(res) => futures::future::Either::Left(std::future::ready(res)),
        Poll::Pending => futures::future::Either::Right(answer),
    }
}

/// The socket as hyper sees it. It passes everything through, except that it rewrites the bare
/// answers hyper gives on its own to requests it cannot parse (400, 414, 431, empty body,
/// no `server` header) into the failure envelope, and resets the connection on drop when the
/// `connection_reset` fault asked for it.
struct GuardedIo {
    stream: TcpStream,
    control: Arc<ConnControl>,
    shared: Arc<Shared>,
    /// A replacement answer still to be written, and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
    /// After a rewrite, hyper's remaining bytes are swallowed.
    rewritten: bool,
}

impl GuardedIo {
    fn new(stream: TcpStream, control: Arc<ConnControl>, shared: Arc<Shared>) -> Self {
        Self { stream, control, shared, pending: None, rewritten: false }
    }

    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((buf, done)) = &mut self.pending {
            if *done >= buf.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &buf[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for GuardedIo {
    fn drop(&mut self) {
        if self.control.reset_asked() {
            let _ = self.stream.set_zero_linger();
        }
    }
}

/// If `buf` is hyper's own answer to an unparsable request, the envelope answer to send
/// instead.
fn rewrite(buf: &[u8]) -> Option<(u16, Vec<u8>)> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ").or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    // Every answer passes here: the status decides before anything is searched or allocated.
    let (reason, message) = match rest.get(..4)? {
        b"400 " => ("Bad Request", "the request is not valid HTTP/1.1".to_owned()),
        b"414 " => ("URI Too Long", format!("request path too long: at most {MAX_URI} bytes")),
        b"431 " => (
            "Request Header Fields Too Large",
            format!("request headers too large: at most {MAX_HEADERS} bytes"),
        ),
        _ => return None,
    };
    let status: u16 = std::str::from_utf8(&rest[..3]).ok()?.parse().ok()?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\nserver:") {
        return None;
    }
    let body = serde_json::to_vec(&Envelope::<()>::failure(vec![ApiMessage::new(
        ErrorCode::InvalidRequest,
        message,
    )]))
    .ok()?;
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nserver: {SERVER}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some((status, out))
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.control.on_read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        if this.rewritten {
            return Poll::Ready(Ok(buf.len()));
        }
        if let Some((status, answer)) = rewrite(buf) {
            tracing::info!(
                status,
                "request could not be parsed: answered with the failure envelope"
            );
            this.shared.record_unparsed(status);
            this.pending = Some((answer, 0));
            this.rewritten = true;
            ready!(this.drain(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    // Vectored, so that hyper writes an answer's head and its body's `Bytes` without first
    // copying the body into its own buffer.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_some() || this.rewritten {
            // Rare: the plain path handles the rewritten answer, one slice at a time.
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
            return Pin::new(this).poll_write(cx, first);
        }
        if let Some(first) = bufs.iter().find(|b| !b.is_empty())
            && rewrite(first).is_some()
        {
            return Pin::new(this).poll_write(cx, first);
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        if self.rewritten {
            // The rewritten answer says `connection: close`, but after some parse errors hyper
            // leaves the connection open (and idle forever): end it here.
            ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
            self.control.close();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;
    use futures::future::Either;

    #[test]
    fn a_ready_answer_is_taken_at_once_and_what_it_held_is_dropped() {
        let request = Arc::new(());
        let held = request.clone();
        let answer = answer_now_or_later(async move {
            let _request = held;
            5
        });
        assert!(matches!(answer, Either::Left(_)), "ready on the first poll");
        assert_eq!(Arc::strong_count(&request), 1, "the request is gone before hyper reads on");
        assert_eq!(answer.now_or_never(), Some(5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_must_wait_is_woken_when_its_wait_ends() {
        let (tx, rx) = tokio::sync::oneshot::channel::<u8>();
        let answer = answer_now_or_later(async move { rx.await.unwrap_or(0) + 1 });
        assert!(matches!(answer, Either::Right(_)), "pending on the first poll");
        let task = tokio::spawn(answer);
        // The task polls it with its own waker; then the wait ends.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        tx.send(7).unwrap();
        assert_eq!(task.await.unwrap(), 8);
    }

    #[test]
    fn rewrites_only_hypers_bare_answers() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let (status, out) = rewrite(bare).unwrap();
        assert_eq!(status, 431);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
        assert!(text.ends_with(r#""messages":[],"result":null}"#), "{text}");
        assert!(rewrite(b"HTTP/1.1 414 URI Too Long\r\n\r\n").is_some());
        assert!(
            rewrite(b"HTTP/1.1 400 Bad Request\r\nserver: cfstream-emulator\r\n\r\n{}").is_none()
        );
        assert!(rewrite(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(rewrite(b"{\"success\":true}").is_none());
        assert!(rewrite(b"HTTP/1.1 4").is_none());
    }
}
