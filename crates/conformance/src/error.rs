//! The crate's one error type, [`Error`], and what went wrong, [`ErrorKind`].

use std::fmt;

/// What kind of failure an [`Error`] is.
///
/// A failing check is not an error: it is a [`crate::Outcome::Fail`] in the report. An error
/// means the harness could not do its job at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target could not be reached at all (connection refused, DNS, TLS, timeout on the
    /// first request).
    Unreachable,
    /// A check name given to `only` or `skip` is not in the catalogue.
    UnknownCheck,
    /// The embedded JSON Schemas did not compile (a build defect, not bad input).
    Schema,
    /// Setting up the harness failed (building the HTTP client, binding a socket, ...).
    Setup,
    /// The validating proxy failed while serving.
    Proxy,
    /// An argument does not parse (a report format or a `FORMAT=PATH` report file).
    InvalidArgument,
}

/// The error of every fallible function of this crate.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Self { kind, message: message.to_string(), source: None }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self { kind, message: message.to_string(), source: Some(Box::new(source)) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}
