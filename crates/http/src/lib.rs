//! An async client for Cloudflare Stream's MP4 downloads API that is safe to run in production:
//! typed answers, retries with backoff, a client-side rate limit, waiting for a download to be
//! ready, and fetching its file to disk with resume and an atomic rename.
//!
//! - [`Client`] holds the configuration ([`ClientBuilder`]): credentials, base URL, timeouts
//!   (connect, per attempt, per operation), [`RetryConfig`], [`RateLimit`], user agent.
//! - [`Client::downloads`] gives a [`DownloadsApi`] for one account: `list`, `create`,
//!   `create_type`, `delete`, `delete_type`, `wait_ready`, `fetch`, and `raw`.
//! - Every failure is an [`Error`] whose [`ErrorKind`] is the stage that failed: building the
//!   request, timeout, dispatch, invalid response (with status, content type, the first KiB of
//!   the body and the JSON path at fault) or API error (with every `{code, message}`).
//! - Progress and retries are reported through a [`Reporter`].
//! - Signed URLs: [`DownloadsApi::create_token`] (the API) or [`sign_locally`] (RS256 with a
//!   [`LocalSigningKey`]), the signing-key operations, [`signed_url`]; `fetch` signs by itself
//!   when the file host answers 401 or 403 ([`Signing`]).
//!
//! Credentials and signed tokens never appear in `Debug`, `Display`, errors or tracing output,
//! and API credentials are never sent to the host that serves the files.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use cfstream_http::{Client, RateLimit, RetryConfig};
//! use cfstream_types::{AccountId, Credentials, DownloadType, VideoId};
//! # use wiremock::{Mock, MockServer, ResponseTemplate, matchers::{method, path}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = MockServer::start().await;
//! # Mock::given(method("POST"))
//! #     .and(path("/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/stream/ea95132c15732412d22c1476fa83f27a/downloads/audio"))
//! #     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//! #         "success": true, "errors": [], "messages": [],
//! #         "result": {"audio": {"status": "inprogress", "percentComplete": 0}}})))
//! #     .mount(&server).await;
//! # let base = format!("{}/client/v4", server.uri());
//! // `base` is an emulator or a test server here; it defaults to Cloudflare's API.
//! let client = Client::builder()
//!     .credentials(Credentials::token("my-api-token"))
//!     .base_url(&base)
//!     .attempt_timeout(Duration::from_secs(10))
//!     .retry(RetryConfig::default().max_attempts(3))
//!     .rate_limit(RateLimit::per(1200, Duration::from_secs(300)))
//!     .build()?;
//! assert!(!format!("{client:?}").contains("my-api-token"));
//!
//! let account: AccountId = "023e105f4ecef8ad9ca31a8372d0c353".parse()?;
//! let video: VideoId = "ea95132c15732412d22c1476fa83f27a".parse()?;
//! let downloads = client.downloads(&account).create_type(&video, DownloadType::Audio).await?;
//! assert_eq!(downloads.audio.unwrap().percent_complete.get(), 0.0);
//!
//! // Bad input fails before any request is made.
//! let bad = Client::builder().credentials(Credentials::token("t")).base_url("ftp://example.com").build();
//! assert_eq!(bad.unwrap_err().kind(), cfstream_http::ErrorKind::Build);
//! # Ok(())
//! # }
//! ```
//!
//! # Time
//!
//! Backoff, rate limiting, polling and timeouts use `tokio::time`, so tests run them in virtual
//! time with `tokio::time::pause`; the rate limiter's clock reads `tokio::time::Instant` too.
//! Jitter can be replaced with [`RetryConfig::jitter`].
//!
//! # Crate features
//!
//! None. TLS is rustls (through reqwest).
#![deny(missing_docs)]

/// The crate README's Rust examples (the workspace README's too: `xtask`'s tidy test checks
/// they are the same), compiled and where possible run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod builder;
mod client;
mod downloads;
mod error;
mod fetch;
mod policy;
mod redact;
mod reporter;
mod signing;
mod wait;

pub use builder::ClientBuilder;
pub use client::{Client, ENV_VARS, RawResponse};
pub use downloads::DownloadsApi;
pub use error::{Error, ErrorKind};
pub use fetch::{FetchOptions, FetchOutcome};
pub use policy::{RateLimit, RetryConfig};
pub use reporter::{NoopReporter, Reporter};
pub use signing::{
    DEFAULT_TOKEN_LIFETIME, ENV_SIGNING_KEY_ID, ENV_SIGNING_KEY_PEM, LocalSigningKey, Signing,
    TokenOptions, sign_locally, signed_url,
};
pub use wait::WaitOptions;

pub use cfstream_types::{Credentials, Endpoint, Operation};
pub use reqwest;
