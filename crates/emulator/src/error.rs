//! The crate's one error type: [`Error`] with its [`ErrorKind`].

use std::fmt;

/// What went wrong, broadly. Match on this rather than on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading or writing a file (seed, state) failed.
    Io,
    /// A seed file or seed value is invalid.
    InvalidSeed,
    /// A state file is unreadable or invalid: the emulator refuses to overwrite it.
    InvalidState,
    /// The state file is locked by another running emulator.
    StateInUse,
    /// The listening socket could not be bound.
    Bind,
    /// The account is not known to the emulator.
    UnknownAccount,
    /// The video is not known to the emulator.
    UnknownVideo,
    /// An argument is invalid (for example a download type the emulator does not serve).
    InvalidArgument,
}

/// The emulator's error: a [`kind`](Error::kind), a lowercase message naming the value at
/// fault, and maybe an underlying cause.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
