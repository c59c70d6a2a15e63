//! Counting every answer of the in-process emulator by HTTP status, from its tracing events.
//!
//! The emulator's request log keeps only the latest 4096 requests, far fewer than a soak sends,
//! so the soak counts the `answered` event the emulator emits for each request (target
//! `cfstream_emulator::*`, field `status`) instead. The count is checked against
//! `Admin::request_count` at the end, so a renamed event cannot make the 5XX check pass by
//! counting nothing.
//!
//! The collector is installed as the thread-default dispatcher of the soak's own runtime
//! threads (not globally), so two soaks in one process (tests) never count each other.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// Answers by HTTP status, shared with the layer that fills it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answers {
    counts: Arc<Mutex<BTreeMap<u16, u64>>>,
}

impl Answers {
    /// A dispatcher that counts the emulator's answers into `self` (and records nothing else).
    pub(crate) fn dispatch(&self) -> Dispatch {
        let layer = Counter { answers: self.clone() }
            .with_filter(Targets::new().with_target("cfstream_emulator", Level::INFO));
        Dispatch::new(tracing_subscriber::registry().with(layer))
    }

    /// Answers so far, by status.
    pub(crate) fn by_status(&self) -> BTreeMap<u16, u64> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// All answers so far.
    pub(crate) fn total(&self) -> u64 {
        self.by_status().values().sum()
    }

    fn add(&self, status: u16) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()).entry(status).or_default() += 1;
    }
}

struct Counter {
    answers: Answers,
}

impl<S: Subscriber> Layer<S> for Counter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = Fields::default();
        event.record(&mut v);
        // `answered` for every routed request; the rewritten answers to unparsable requests
        // have their own message. Both are what `Admin::request_count` counts.
        let answer =
            v.message == "answered" || v.message.starts_with("request could not be parsed");
        if let (true, Some(status)) = (answer, v.status) {
            self.answers.add(status);
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    status: Option<u16>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "status" {
            self.status = u16::try_from(value).ok();
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "status" {
            self.status = u16::try_from(value).ok();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_answered_events_of_the_emulator_only() {
        let answers = Answers::default();
        tracing::dispatcher::with_default(&answers.dispatch(), || {
            tracing::info!(target: "cfstream_emulator::server", status = 503u16, latency_ms = 1.0, "answered");
            tracing::info!(target: "cfstream_emulator::server", status = 200u16, "answered");
            tracing::info!(target: "cfstream_emulator::server", status = 400u16, "request could not be parsed: x");
            tracing::info!(target: "cfstream_emulator::server", status = 200u16, "something else");
            tracing::info!(target: "other", status = 500u16, "answered");
        });
        assert_eq!(answers.by_status(), BTreeMap::from([(200, 1), (400, 1), (503, 1)]));
        assert_eq!(answers.total(), 3);
    }
}
