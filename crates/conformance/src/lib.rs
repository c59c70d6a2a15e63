//! The referee for servers claiming to be Cloudflare Stream's MP4 downloads API.
//!
//! [`run`] drives every check of the [`catalogue()`] against a [`Target`] (the real API, the
//! emulator, or a user's own mock) and returns a [`Report`] that renders as text, JSON, JUnit
//! XML or Markdown. [`Validator`] judges one answer against the spec's JSON Schemas and rules,
//! naming the operation, check, JSON pointer, rule and value of each [`Violation`]. [`proxy()`]
//! validates real traffic on the fly. [`generate`] holds the proptest strategies of valid and
//! invalid envelopes that prove the validator and the types agree.
//!
//! # Example
//!
//! ```
//! use cfstream_conformance::{Validator, catalogue};
//! use cfstream_types::Operation;
//!
//! let validator = Validator::new()?;
//! let body = br#"{"success":true,"errors":[],"messages":[],
//!   "result":{"audio":{"status":"inprogress","percentComplete":140}}}"#;
//! let violations = validator.check_response(Operation::List, 200, Some("application/json"), body);
//! assert_eq!(violations.len(), 1);
//! assert_eq!(violations[0].check, "body_schema");
//! assert_eq!(violations[0].pointer, "/result/audio/percentComplete");
//! assert_eq!(violations[0].value, "140");
//!
//! assert!(catalogue().iter().any(|c| c.name == "progress_monotone"));
//! # Ok::<(), cfstream_conformance::Error>(())
//! ```
//!
//! Running the whole suite is `run(&target, &RunOptions::default()).await`; see [`run`].
//!
//! # Crate features
//!
//! None. The schemas under `schemas/` are embedded at build time and compiled once per
//! process. The crate talks HTTP with reqwest directly and never through cfstream-http: one
//! shared client bug must not let the client and the referee agree.
#![deny(missing_docs)]

pub mod catalogue;
mod error;
pub mod generate;
pub mod proxy;
mod record;
mod report;
mod runner;
mod scenarios;
mod transport;
mod validate;

pub use catalogue::{Check, CheckInfo, CheckKind, catalogue};
pub use error::{Error, ErrorKind};
pub use proxy::{ProxyOptions, ProxySummary, RunningProxy, proxy};
pub use report::{CheckResult, Counts, Outcome, Report, ReportFile, ReportFormat};
pub use runner::{Reporter, RunOptions, Target, run};
pub use validate::{Validator, Violation};
