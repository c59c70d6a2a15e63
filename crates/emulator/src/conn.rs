//! Connections: per-connection control, reachable from a request's extensions (the
//! `connection_reset` fault, the socket wrapper), the activity that its timeouts are measured
//! from, and the registry that caps open connections by closing the longest-idle one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::shared::lock;

/// The client's address, in each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// How long a connection may take to send a request's head (from its first byte, or from the
/// connection's start), and how long it may sit idle between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

#[derive(Debug)]
struct Activity {
    /// Requests being answered (from their head to the end of their answer's body).
    busy: usize,
    /// When the last answer ended (or the connection started).
    last_active: Instant,
    /// When the head of the next request began to arrive, if it has.
    head_started: Option<Instant>,
}

/// What a request (or the server) may ask of one connection, and how active it is.
#[derive(Debug)]
pub(crate) struct ConnControl {
    reset: AtomicBool,
    evicting: AtomicBool,
    notify: Notify,
    activity: Mutex<Activity>,
    /// This connection's copy of the last list answer it read from the store.
    listed: Mutex<Option<Listed>>,
}

/// A list answer, as read at one store generation for one path's (raw) ids.
#[derive(Debug)]
struct Listed {
    generation: u64,
    account: String,
    video: String,
    /// A copy of the store's: its refcount is this connection's alone.
    body: Bytes,
}

impl ConnControl {
    /// A connection accepted at `now`: its first request's head is due within the header
    /// timeout.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            reset: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            notify: Notify::new(),
            activity: Mutex::new(Activity { busy: 0, last_active: now, head_started: Some(now) }),
            listed: Mutex::new(None),
        }
    }

    /// Asks the connection task to drop the connection with a TCP reset, without answering.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Asks the connection task to drop the connection (its answer is already sent).
    pub(crate) fn close(&self) {
        self.notify.notify_one();
    }

    /// Whether a reset was asked for.
    pub(crate) fn reset_asked(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }

    /// Resolves once a reset or a close is asked for.
    pub(crate) async fn asked(&self) {
        self.notify.notified().await;
    }

    /// Bytes arrived from the client.
    pub(crate) fn on_read(&self) {
        let mut a = lock(&self.activity);
        if a.busy == 0 && a.head_started.is_none() {
            a.head_started = Some(Instant::now());
        }
    }

    /// A request's head was read: it is being answered until the returned guard drops (with
    /// the answer's body).
    /// The list answer kept by [`ConnControl::keep_listed`] for these raw ids, if it was read
    /// at `generation`.
    pub(crate) fn listed(&self, generation: u64, account: &str, video: &str) -> Option<Bytes> {
        let kept = lock(&self.listed);
        let l = kept.as_ref()?;
        (l.generation == generation && l.account == account && l.video == video)
            .then(|| l.body.clone())
    }

    /// Keeps a copy of `body`, the list answer for these raw ids read at `generation`.
    pub(crate) fn keep_listed(&self, generation: u64, account: &str, video: &str, body: &Bytes) {
        let body = Bytes::copy_from_slice(body);
        let listed =
            Listed { generation, account: account.to_owned(), video: video.to_owned(), body };
        *lock(&self.listed) = Some(listed);
    }

    pub(crate) fn begin(self: &Arc<Self>) -> BusyGuard {
        let mut a = lock(&self.activity);
        a.busy += 1;
        a.head_started = None;
        BusyGuard { control: self.clone() }
    }

    /// Whether the connection has timed out at `now`.
    pub(crate) fn expired(&self, t: Timeouts, now: Instant) -> bool {
        self.deadline(t).is_some_and(|d| d <= now)
    }

    /// When to look again at whether the connection has timed out: no later than any deadline
    /// that the activity from `now` on can set, so that no request needs to wake the
    /// connection's task (it wakes at most once per timeout, not once per request).
    pub(crate) fn check_at(&self, t: Timeouts, now: Instant) -> Instant {
        // At least a millisecond, so zero timeouts cannot make the task spin while busy.
        let shortest = t.idle.min(t.header_read).max(Duration::from_millis(1));
        let a = lock(&self.activity);
        if a.busy > 0 {
            // After the answer: idle from then, or a head from then.
            now + shortest
        } else if let Some(started) = a.head_started {
            started + t.header_read
        } else {
            // Still idle, or a head that starts from now on.
            (a.last_active + t.idle).min(now + t.header_read)
        }
    }

    /// When the connection times out if nothing happens, or `None` while it is answering.
    pub(crate) fn deadline(&self, t: Timeouts) -> Option<Instant> {
        let a = lock(&self.activity);
        if a.busy > 0 {
            None
        } else if let Some(started) = a.head_started {
            Some(started + t.header_read)
        } else {
            Some(a.last_active + t.idle)
        }
    }

    /// Since when the connection has been idle (answering nothing), if it is.
    fn idle_since(&self) -> Option<Instant> {
        let a = lock(&self.activity);
        (a.busy == 0).then(|| a.head_started.map_or(a.last_active, |h| h.min(a.last_active)))
    }
}

/// Marks a request answered when dropped.
#[derive(Debug)]
pub(crate) struct BusyGuard {
    control: Arc<ConnControl>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let mut a = lock(&self.control.activity);
        a.busy = a.busy.saturating_sub(1);
        a.last_active = Instant::now();
    }
}

/// An answer's body that holds its request's [`BusyGuard`] until it is sent (or dropped).
#[derive(Debug)]
pub(crate) struct Tracked<B> {
    inner: B,
    _guard: BusyGuard,
}

impl<B> Tracked<B> {
    pub(crate) fn new(inner: B, guard: BusyGuard) -> Self {
        Self { inner, _guard: guard }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections, at most `max` of them.
#[derive(Debug)]
pub(crate) struct Registry {
    max: usize,
    next: Mutex<u64>,
    conns: Mutex<HashMap<u64, Arc<ConnControl>>>,
}

impl Registry {
    pub(crate) fn new(max: usize) -> Self {
        Self { max: max.max(1), next: Mutex::new(0), conns: Mutex::new(HashMap::new()) }
    }

    /// The cap on open connections.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Admits a new connection. At the cap, the connection idle the longest is asked to close
    /// to make room; if every connection is answering a request, the new one is refused
    /// (`None`).
    pub(crate) fn admit(&self, now: Instant) -> Option<(u64, Arc<ConnControl>)> {
        let mut conns = lock(&self.conns);
        let live = conns.values().filter(|c| !c.evicting.load(Ordering::Relaxed)).count();
        if live >= self.max {
            let victim = conns
                .values()
                .filter(|c| !c.evicting.load(Ordering::Relaxed))
                .filter_map(|c| c.idle_since().map(|t| (t, c)))
                .min_by_key(|(t, _)| *t)
                .map(|(_, c)| c.clone())?;
            victim.evicting.store(true, Ordering::Relaxed);
            victim.close();
        }
        let id = {
            let mut next = lock(&self.next);
            *next += 1;
            *next
        };
        let control = Arc::new(ConnControl::new(now));
        conns.insert(id, control.clone());
        Some((id, control))
    }

    /// Forgets a closed connection.
    pub(crate) fn remove(&self, id: u64) {
        lock(&self.conns).remove(&id);
    }

    /// How many connections are open (including those asked to close that have not yet).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.conns).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts =
        Timeouts { header_read: Duration::from_secs(30), idle: Duration::from_secs(60) };

    #[test]
    fn a_kept_list_answer_is_for_its_generation_and_ids_only() {
        let c = ConnControl::new(Instant::now());
        assert_eq!(c.listed(0, "a", "v"), None, "nothing kept yet");
        let body = Bytes::from_static(b"{\"result\":{}}");
        c.keep_listed(7, "a", "v", &body);
        assert_eq!(c.listed(7, "a", "v"), Some(body));
        assert_eq!(c.listed(8, "a", "v"), None, "the store moved on");
        assert_eq!(c.listed(7, "b", "v"), None, "another account");
        assert_eq!(c.listed(7, "a", "w"), None, "another video");
        c.keep_listed(8, "a", "w", &Bytes::from_static(b"2"));
        assert_eq!(c.listed(7, "a", "v"), None, "one answer kept at a time");
        assert_eq!(c.listed(8, "a", "w"), Some(Bytes::from_static(b"2")));
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_activity() {
        let t0 = Instant::now();
        let c = Arc::new(ConnControl::new(t0));
        assert_eq!(c.deadline(T), Some(t0 + T.header_read), "a new connection owes a head");
        let guard = c.begin();
        assert_eq!(c.deadline(T), None, "no timeout while answering");
        tokio::time::advance(Duration::from_secs(100)).await;
        c.on_read(); // a request body's bytes: not a new head
        drop(guard);
        let t1 = Instant::now();
        assert_eq!(c.deadline(T), Some(t1 + T.idle), "idle between requests");
        tokio::time::advance(Duration::from_secs(5)).await;
        c.on_read();
        assert_eq!(c.deadline(T), Some(t1 + Duration::from_secs(5) + T.header_read));
    }

    #[tokio::test(start_paused = true)]
    async fn checks_come_no_later_than_any_deadline() {
        let t0 = Instant::now();
        let c = Arc::new(ConnControl::new(t0));
        assert_eq!(c.check_at(T, t0), t0 + T.header_read);
        let guard = c.begin();
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(c.check_at(T, t1), t1 + T.header_read, "busy: the earliest after it ends");
        assert!(!c.expired(T, t1 + Duration::from_secs(1000)), "never while busy");
        drop(guard);
        // Idle from a: a head may start any moment, so no later than now + header timeout.
        let a = Instant::now();
        assert_eq!(c.check_at(T, a), a + T.header_read);
        assert_eq!(c.check_at(T, a + Duration::from_secs(45)), a + T.idle);
        assert!(!c.expired(T, a + Duration::from_secs(59)));
        assert!(c.expired(T, a + T.idle));
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let r = Registry::new(2);
        let (_, first) = r.admit(Instant::now()).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (_, second) = r.admit(Instant::now()).unwrap();
        let _busy = second.begin();
        let (id, third) = r.admit(Instant::now()).unwrap();
        assert!(first.evicting.load(Ordering::Relaxed), "the idle one goes");
        assert!(!second.evicting.load(Ordering::Relaxed), "the busy one stays");
        assert_eq!(r.len(), 3, "until the evicted one has closed");
        let _busy3 = third.begin();
        assert!(r.admit(Instant::now()).is_none(), "every connection busy: refused");
        r.remove(id);
        assert_eq!(r.len(), 2);
        assert_eq!(r.max(), 2);
    }
}
