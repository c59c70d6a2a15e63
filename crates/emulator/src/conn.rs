//! Per-connection control, reachable from a request's extensions: lets a handler (the
//! `connection_reset` fault) or the socket wrapper end the connection it arrived on.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// What a request may ask of the connection it arrived on.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    reset: AtomicBool,
    notify: Notify,
}

impl ConnControl {
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
}
