//! The request log behind [`crate::Admin::requests`]: every answered request, the latest
//! [`LOG_CAPACITY`] kept, oldest first.
//!
//! Written once per request by whichever worker thread answers it, so it is sharded: a thread
//! writes to its own shard, under its own lock, into slots whose path buffers are reused; the
//! one thing all threads share per request is the request counter, which also orders the
//! entries. A single lock and queue cost a cache-line transfer between the cores on nearly
//! every request (and an allocation and a free), which showed in the emulator's throughput
//! beside a bare server's.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::shared::lock;

/// How many requests the log keeps (the oldest go first).
pub(crate) const LOG_CAPACITY: usize = 4096;

/// Shards (threads beyond this many share them).
const SHARDS: usize = 4;

/// One answered request, as [`crate::Admin::requests`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The method (`-` when the request could not be parsed).
    pub method: String,
    /// The path and query, cut to 256 characters (`-` when the request could not be parsed).
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// One entry, as kept.
#[derive(Debug)]
struct Slot {
    /// Its place in the order of all requests (from the request counter).
    seq: u64,
    /// `None`: the request could not be parsed (`-`).
    method: Option<http::Method>,
    /// Reused from entry to entry: no allocation once it has grown to fit.
    path: String,
    status: u16,
}

/// One shard: a ring of at most [`LOG_CAPACITY`] slots.
#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Slot>,
    /// The next slot to overwrite once `slots` is full.
    next: usize,
}

impl Shard {
    fn push(&mut self, seq: u64, method: Option<http::Method>, path: &str, status: u16) {
        if self.slots.len() < LOG_CAPACITY {
            let path = path.to_owned();
            self.slots.push(Slot { seq, method, path, status });
            return;
        }
        let slot = &mut self.slots[self.next];
        self.next = (self.next + 1) % LOG_CAPACITY;
        slot.seq = seq;
        slot.method = method;
        slot.path.clear();
        slot.path.push_str(path);
        slot.status = status;
    }
}

/// A shard on a cache line of its own, so two threads' shards never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// The log and the request counter.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    /// Requests answered since the start or the last reset; each entry's `seq` is taken from
    /// it.
    count: AtomicU64,
    shards: [Padded; SHARDS],
}

/// Which shard this thread writes to: threads take the shards in turn, at first use.
fn shard_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl RequestLog {
    /// Counts and logs one request (`method` `None`: it could not be parsed).
    pub(crate) fn record(&self, method: Option<http::Method>, path: &str, status: u16) {
        let seq = self.count.fetch_add(1, Ordering::Relaxed);
        lock(&self.shards[shard_of_thread()].0).push(seq, method, path, status);
    }

    /// How many requests were recorded since the start or the last [`RequestLog::clear`].
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The latest [`LOG_CAPACITY`] entries, oldest first.
    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        let mut all: Vec<(u64, RequestRecord)> = Vec::new();
        for shard in &self.shards {
            let shard = lock(&shard.0);
            all.extend(shard.slots.iter().map(|s| {
                let method = s.method.as_ref().map_or("-", http::Method::as_str).to_owned();
                (s.seq, RequestRecord { method, path: s.path.clone(), status: s.status })
            }));
        }
        all.sort_unstable_by_key(|(seq, _)| *seq);
        let skip = all.len().saturating_sub(LOG_CAPACITY);
        all.into_iter().skip(skip).map(|(_, r)| r).collect()
    }

    /// Empties the log and zeroes the count.
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            *lock(&shard.0) = Shard::default();
        }
        self.count.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(log: &RequestLog) -> Vec<String> {
        log.records().into_iter().map(|r| r.path).collect()
    }

    #[test]
    fn entries_from_many_threads_come_back_in_the_order_they_were_counted() {
        let log = RequestLog::default();
        log.record(Some(http::Method::GET), "/a", 200);
        std::thread::scope(|s| {
            s.spawn(|| log.record(Some(http::Method::POST), "/b", 201));
        });
        std::thread::scope(|s| {
            s.spawn(|| log.record(None, "-", 400));
        });
        log.record(Some(http::Method::DELETE), "/d", 404);
        log.record(http::Method::from_bytes(b"PURGE").ok(), "/a?b", 405);
        let records = log.records();
        let shown: Vec<_> =
            records.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.status)).collect();
        assert_eq!(
            shown,
            [
                ("GET", "/a", 200),
                ("POST", "/b", 201),
                ("-", "-", 400),
                ("DELETE", "/d", 404),
                ("PURGE", "/a?b", 405)
            ]
        );
        assert_eq!(log.count(), 5);
    }

    #[test]
    fn only_the_latest_entries_are_kept_however_the_threads_took_turns() {
        let log = RequestLog::default();
        let total = LOG_CAPACITY * 2 + 7;
        // Interleaved across two threads, then a long run on this one: the log must hold the
        // last LOG_CAPACITY in order, from whichever shards they are in.
        for i in 0..LOG_CAPACITY {
            if i % 2 == 0 {
                log.record(Some(http::Method::GET), &i.to_string(), 200);
            } else {
                std::thread::scope(|s| {
                    s.spawn(|| log.record(Some(http::Method::GET), &i.to_string(), 200));
                });
            }
        }
        for i in LOG_CAPACITY..total {
            log.record(Some(http::Method::GET), &i.to_string(), 200);
        }
        let want: Vec<String> = (total - LOG_CAPACITY..total).map(|i| i.to_string()).collect();
        assert_eq!(paths(&log), want);
        assert_eq!(log.count(), total as u64);
    }

    #[test]
    fn a_reused_slot_holds_only_its_new_path() {
        let mut shard = Shard::default();
        shard.push(0, None, "a-long-first-path", 200);
        for seq in 1..LOG_CAPACITY as u64 {
            shard.push(seq, None, "x", 200);
        }
        shard.push(LOG_CAPACITY as u64, Some(http::Method::GET), "/b", 404);
        let first = &shard.slots[0];
        assert_eq!(
            (first.seq, first.path.as_str(), first.status, first.method.clone()),
            (LOG_CAPACITY as u64, "/b", 404, Some(http::Method::GET))
        );
        assert_eq!(shard.next, 1);
    }

    #[test]
    fn clear_empties_every_shard_and_the_count() {
        let log = RequestLog::default();
        log.record(None, "-", 400);
        std::thread::scope(|s| {
            s.spawn(|| log.record(None, "-", 503));
        });
        log.clear();
        assert!(log.records().is_empty());
        assert_eq!(log.count(), 0);
        log.record(Some(http::Method::GET), "/after", 200);
        assert_eq!(paths(&log), ["/after"]);
    }
}
