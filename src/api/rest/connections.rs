//! What one REST client may cost: the open-connection cap (`rest.max_connections`, the
//! longest-idle keep-alive connection evicted first, like nginx, else the newcomer
//! refused with 503), the idle and request timeouts (`rest.idle_timeout_s`,
//! `rest.request_timeout_s`) and the shutdown drain (requests in flight finish, idle
//! connections close).
//!
//! # Implementation
//!
//! Every connection's stream is wrapped in a [`Guarded`] stream sharing one [`Conn`]: the
//! connection is *idle* until a byte of a request arrives, then *busy* until its reply is
//! written (the connection loop marks it idle again after each `accept_one`). Reads fail
//! past the phase's deadline, and a write that makes no progress for
//! `rest.request_timeout_s` fails too, so a silent, slow or non-reading client never
//! holds a descriptor for long. Only an idle connection is ever closed from outside (eviction, shutdown): the
//! switch from idle to busy and the decision to close happen under the same lock, so no
//! request that has started is cut off.

use crate::api::shutdown::{InFlight, Shutdown};
use futures_lite::io::{AsyncRead, AsyncWrite};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The bounds of `[rest]` that concern connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `rest.max_connections`.
    pub max_connections: usize,
    /// `rest.idle_timeout_s`.
    pub idle_timeout: Duration,
    /// `rest.request_timeout_s`.
    pub request_timeout: Duration,
}

/// Where a connection is in its life.
#[derive(Debug)]
enum Phase {
    /// Waiting for the first byte of a request, since then.
    Idle(Instant),
    /// A request is being read, run or answered.
    Busy,
    /// Closed from outside (evicted, shutdown): reads fail.
    Closing,
}

/// What a connection's stream clones and its loop share.
#[derive(Debug)]
struct State {
    phase: Phase,
    /// Reads fail from then on.
    deadline: Instant,
    /// Counts the busy connection's request for the shutdown drain.
    in_flight: Option<InFlight>,
}

/// One open connection.
#[derive(Debug)]
pub(super) struct Conn {
    state: Mutex<State>,
    closed: smol::channel::Sender<()>,
    closed_rx: smol::channel::Receiver<()>,
    limits: ConnectionLimits,
    shutdown: Shutdown,
}

impl Conn {
    fn new(limits: ConnectionLimits, shutdown: Shutdown) -> Self {
        let now = Instant::now();
        let (closed, closed_rx) = smol::channel::bounded(1);
        Self {
            state: Mutex::new(State {
                phase: Phase::Idle(now),
                deadline: now + limits.idle_timeout,
                in_flight: None,
            }),
            closed,
            closed_rx,
            limits,
            shutdown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection idle (its reply is out); `false` when it must close instead.
    pub(super) fn set_idle(&self) -> bool {
        let mut state = self.lock();
        state.in_flight = None;
        if matches!(state.phase, Phase::Closing) || self.shutdown.is_triggered() {
            state.phase = Phase::Closing;
            return false;
        }
        let now = Instant::now();
        state.phase = Phase::Idle(now);
        state.deadline = now + self.limits.idle_timeout;
        true
    }

    /// Closes the connection if it is idle; `true` when it did.
    fn close_if_idle(&self) -> bool {
        let mut state = self.lock();
        if !matches!(state.phase, Phase::Idle(_)) {
            return false;
        }
        state.phase = Phase::Closing;
        self.closed.close();
        true
    }

    /// Since when it is idle; `None` when it is not.
    fn idle_since(&self) -> Option<Instant> {
        match self.lock().phase {
            Phase::Idle(since) => Some(since),
            _ => None,
        }
    }

    /// Waits until the connection is closed from outside.
    pub(super) async fn closed(&self) {
        // Nothing is ever sent: only closing the channel ends the wait.
        let _ = self.closed_rx.recv().await;
    }

    /// The read deadline, or the error a read must fail with now.
    fn read_deadline(&self) -> io::Result<Instant> {
        let state = self.lock();
        if matches!(state.phase, Phase::Closing) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection closed by the agent",
            ));
        }
        if Instant::now() >= state.deadline {
            return Err(timed_out(&state.phase, &self.limits));
        }
        Ok(state.deadline)
    }

    /// Bytes of a request arrived: an idle connection becomes busy, with the request's
    /// deadline, and its request counts as in flight.
    fn received(&self) -> io::Result<()> {
        let mut state = self.lock();
        match state.phase {
            Phase::Idle(_) => {
                state.phase = Phase::Busy;
                state.deadline = Instant::now() + self.limits.request_timeout;
                state.in_flight = Some(self.shutdown.track());
                Ok(())
            }
            Phase::Busy => Ok(()),
            Phase::Closing => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection closed by the agent",
            )),
        }
    }
}

/// The timeout error for a read in `phase`, naming the key to raise.
fn timed_out(phase: &Phase, limits: &ConnectionLimits) -> io::Error {
    let (what, limit, key) = match phase {
        Phase::Busy => (
            "request not received",
            limits.request_timeout,
            "rest.request_timeout_s",
        ),
        _ => ("no request", limits.idle_timeout, "rest.idle_timeout_s"),
    };
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} within {} s ({key})", limit.as_secs()),
    )
}

/// The open connections of one listener.
#[derive(Debug)]
pub struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    limits: ConnectionLimits,
    shutdown: Shutdown,
    evicted: AtomicU64,
    refused: AtomicU64,
}

/// Why a new connection was not admitted.
#[derive(Debug)]
pub(super) struct Full(pub usize);

impl Registry {
    /// An empty registry.
    pub(super) fn new(limits: ConnectionLimits, shutdown: Shutdown) -> Self {
        Self {
            conns: Mutex::default(),
            next: AtomicU64::new(0),
            limits,
            shutdown,
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new connection, evicting the longest-idle one when the cap is reached;
    /// `Err` when every open connection is busy.
    pub(super) fn admit(&self) -> Result<(u64, Arc<Conn>), Full> {
        let mut conns = self.lock();
        while conns.len() >= self.limits.max_connections {
            let oldest = conns
                .iter()
                .filter_map(|(id, c)| c.idle_since().map(|since| (since, *id)))
                .min();
            let Some((_, id)) = oldest else {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(Full(self.limits.max_connections));
            };
            if let Some(conn) = conns.remove(&id) {
                if conn.close_if_idle() {
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(self.limits, self.shutdown.clone()));
        conns.insert(id, conn.clone());
        Ok((id, conn))
    }

    /// Forgets a connection that ended.
    pub(super) fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes every idle connection (at shutdown; busy ones close after their reply).
    pub(super) fn close_idle(&self) {
        for conn in self.lock().values() {
            conn.close_if_idle();
        }
    }

    /// `(open, evicted so far, refused so far)`, for `/metrics`.
    pub(super) fn counts(&self) -> (usize, u64, u64) {
        (
            self.lock().len(),
            self.evicted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// A connection's stream with its phase's read deadline. Each clone (the HTTP library
/// reads the head and the body through clones) has its own timer.
#[derive(Debug)]
pub(super) struct Guarded<S> {
    inner: S,
    conn: Arc<Conn>,
    timer: Option<(Instant, async_io::Timer)>,
    /// Since a write is stalled (the client reads nothing), and its timer.
    write_stall: Option<async_io::Timer>,
}

impl<S: Clone> Clone for Guarded<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            conn: self.conn.clone(),
            timer: None,
            write_stall: None,
        }
    }
}

impl<S> Guarded<S> {
    /// Wraps the stream of `conn`.
    pub(super) fn new(inner: S, conn: Arc<Conn>) -> Self {
        Self {
            inner,
            conn,
            timer: None,
            write_stall: None,
        }
    }

    /// `Ready(Err)` once `deadline` has passed; registers the wake-up otherwise.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<io::Error> {
        let timer = match &mut self.timer {
            Some((at, timer)) if *at == deadline => timer,
            slot => &mut slot.insert((deadline, async_io::Timer::at(deadline))).1,
        };
        match Pin::new(timer).poll(cx) {
            Poll::Ready(_) => {
                let state = self.conn.lock();
                Poll::Ready(timed_out(&state.phase, &self.conn.limits))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let deadline = self.conn.read_deadline()?;
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.conn.received()?;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => self.poll_deadline(cx, deadline).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => {
                // A client that stops reading its reply is cut off after
                // rest.request_timeout_s, so it cannot hold a busy connection forever.
                let limit = self.conn.limits.request_timeout;
                let stall = self
                    .write_stall
                    .get_or_insert_with(|| async_io::Timer::after(limit));
                match Pin::new(stall).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the client read nothing of its reply for {} s (rest.request_timeout_s)",
                            limit.as_secs()
                        ),
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.write_stall = None;
                ready
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// The 503 a connection over `rest.max_connections` gets before it is closed.
pub(super) fn refusal(full: &Full) -> Vec<u8> {
    use crate::core::error::{ErrorBody, ErrorCode};
    let message = format!(
        "the agent has {} connections open, all busy (rest.max_connections); retry later",
        full.0
    );
    let reply = crate::core::reply::Reply::err(None, ErrorBody::new(ErrorCode::Internal, message));
    let body = crate::codec::json::encode_reply(&reply);
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_longest_idle_connection_makes_room() {
        let (_trigger, shutdown) = Shutdown::new();
        let registry = Registry::new(limits(2), shutdown);
        let (first, a) = registry.admit().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (_, b) = registry.admit().unwrap();
        let (_, _c) = registry.admit().unwrap();
        assert!(
            matches!(a.lock().phase, Phase::Closing),
            "the oldest idle one went"
        );
        assert!(a.read_deadline().is_err());
        assert!(b.idle_since().is_some());
        registry.remove(first);
        assert_eq!(registry.counts(), (2, 1, 0));
    }

    #[test]
    fn busy_connections_are_never_evicted() {
        let (_trigger, shutdown) = Shutdown::new();
        let registry = Registry::new(limits(1), shutdown.clone());
        let (_, a) = registry.admit().unwrap();
        a.received().unwrap();
        assert_eq!(shutdown.in_flight(), 1);
        let full = registry.admit().unwrap_err();
        assert!(String::from_utf8(refusal(&full))
            .unwrap()
            .starts_with("HTTP/1.1 503 "));
        assert!(a.set_idle());
        assert_eq!(shutdown.in_flight(), 0);
        assert!(registry.admit().is_ok());
        assert_eq!(registry.counts(), (1, 1, 1));
    }

    #[test]
    fn a_client_that_reads_nothing_is_cut_off() {
        use futures_lite::AsyncWriteExt;
        smol::block_on(async {
            let (_trigger, shutdown) = Shutdown::new();
            let mut l = limits(1);
            l.request_timeout = Duration::from_millis(300);
            let registry = Registry::new(l, shutdown);
            let (_, conn) = registry.admit().unwrap();
            let (agent_side, _client_side) = smol::net::unix::UnixStream::pair().unwrap();
            let mut stream = Guarded::new(agent_side, conn);
            let chunk = vec![0u8; 64 * 1024];
            let start = Instant::now();
            let err = loop {
                if let Err(e) = stream.write_all(&chunk).await {
                    break e;
                }
                assert!(start.elapsed() < Duration::from_secs(10), "never cut off");
            };
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
            assert!(err.to_string().contains("rest.request_timeout_s"), "{err}");
        });
    }

    #[test]
    fn shutdown_closes_idle_connections_and_lets_busy_ones_finish() {
        let (trigger, shutdown) = Shutdown::new();
        let registry = Registry::new(limits(4), shutdown);
        let (_, idle) = registry.admit().unwrap();
        let (_, busy) = registry.admit().unwrap();
        busy.received().unwrap();
        trigger.trigger();
        registry.close_idle();
        assert!(matches!(idle.lock().phase, Phase::Closing));
        assert!(busy.read_deadline().is_ok(), "the busy request still reads");
        assert!(!busy.set_idle(), "after its reply the busy one closes");
    }
}
