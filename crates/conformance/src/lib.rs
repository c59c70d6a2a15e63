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
//! # The rules
//!
//! Every check, the rule it holds a server to, where the rule comes from (`spec`: the OpenAPI
//! document; `docs`: Cloudflare's documentation, see `shared/spec/README.md`; `http`: HTTP
//! semantics, RFC 9110), and what it needs to run (credentials, an account, a `video` that is
//! ready to stream, `writes`: it creates or deletes downloads, so a live account needs
//! `allow_writes`; `signed video`: a video that requires signed URLs, from
//! [`RunOptions::signed_videos`], with credentials and an account; its ready `default`
//! download is created only where writes are allowed). A file refusal accepts 401 or 403. A check that could not judge anything is SKIP with the reason, never PASS.
//! Each is proven by a server that breaks it (the `mutants` feature), in `tests/it/mutants.rs`.
//!
//! | rule | source | check | needs |
//! | --- | --- | --- | --- |
//! | every answer of the five operations is `200` or a `4XX` | spec | `status_documented` | - |
//! | ... is `application/json` | spec | `content_type_json` | - |
//! | ... is JSON matching the operation's 200 or 4XX schema, at most 8 MiB | spec | `body_schema` | - |
//! | `success` is true on 2XX, false on 4XX/5XX | spec | `success_matches_status` | - |
//! | a failure carries at least one error | spec | `failure_has_errors` | - |
//! | every error and message code is an integer >= 1000 | spec | `error_code_range` | - |
//! | `result` is present and null on failure | spec | `failure_result_null` | - |
//! | a 429 carries `retry-after`: seconds or an HTTP date, not negative, not over an hour | docs | `retry_after_on_429` | - |
//! | cfstream-types decodes every 200 body the schema accepts | cfstream-types | `client_model_decodes` | - |
//! | no credentials: a 4XX failure envelope, never a 2XX | docs | `auth_missing_rejected` | - |
//! | wrong token, wrong email + key: a 4XX failure envelope | docs | `auth_wrong_rejected` | - |
//! | a 33-character account or video id: a 4XX failure envelope, never a 5XX | spec | `id_too_long_rejected` | credentials, account |
//! | a non-hex video id: a 4XX failure envelope (400 or 404 both accepted: the spec leaves it open) | docs | `id_not_hex_rejected` | credentials, account |
//! | an unknown well-formed video: a 4XX failure envelope from all five operations (list only on a live account without writes) | spec | `unknown_video_failure` | credentials, account |
//! | an unknown route: a 4XX failure envelope | spec | `unknown_route_failure` | - |
//! | an undocumented method (`PUT`): a 4XX failure envelope (405 or 404 both accepted) | http | `method_not_allowed_failure` | credentials, account |
//! | an unknown `download_type`: a 4XX failure envelope, never a 5XX | spec | `download_type_unknown_rejected` | video, writes |
//! | `POST .../downloads` answers `default`, and list then shows it | spec | `create_then_list` | video, writes |
//! | `POST .../downloads/audio` answers `audio`, and list then shows it | spec | `create_type_then_list` | video, writes |
//! | while polled, `percentComplete` never goes down, a final status never changes, no download vanishes | docs | `progress_monotone` | video |
//! | every download ends `ready` or `error` within the deadline | docs | `progress_terminates` | video |
//! | a ready download's url answers 200 with a body as long as its `Content-Length` | docs | `download_url_serves` | video |
//! | `Range: bytes=0-9` answers 206 with those bytes and `Content-Range` | http | `download_url_range` | video |
//! | first, middle, last, open-ended and suffix ranges are the full GET's bytes, `Content-Range`'s total is its length, HEAD's length is GET's, the audio file is not the MP4 file | http | `download_file_consistent` | video |
//! | `?filename=conformance` answers `Content-Disposition: attachment` as `conformance.mp4` / `.m4a`; a name over 120 characters or outside `[A-Za-z0-9-_]` gets a 4XX | docs | `download_url_filename` | video |
//! | a second create answers the same download: same url, `percentComplete` not lower, `ready` stays `ready` | docs | `create_idempotent` | video, writes |
//! | after a delete (typed and legacy routes), list no longer shows the download | spec | `delete_then_list` | video, writes |
//! | deleting `audio` leaves `default` as it was; `DELETE .../downloads` (no type) removes `default` only | spec | `delete_scoped` | video, writes |
//! | deleting again still answers 200 success | spec | `delete_repeatable` | video, writes |
//! | `POST .../token` with `{"downloadable": true}` answers 200, `application/json`, matching the token-response schema (`result.token` a non-empty string; derived by `cargo xtask schemas` from the transcription of the facts, `schemas/openapi/stream-signing.facts.openapi.json`), and cfstream-types decodes it | docs | `signed_token_schema` | signed video |
//! | a signed video's ready download url without a token is refused: 401 (what users see; 403 accepted) | docs | `signed_unsigned_refused` | signed video |
//! | a token asked for without `downloadable` (body `{}`: the default is false) is refused on the file (401 or 403) | docs | `signed_not_downloadable_refused` | signed video |
//! | a downloadable token whose `exp` passed an hour ago (asked of the token endpoint; SKIP if it will not issue one) is refused on the file (401 or 403) | docs | `signed_expired_refused` | signed video |
//! | a downloadable token for another video (a `--video` or a second `--signed-video`) never gets this video's file: the token names the video, so 401, 403 or 404 is a refusal, and a 2XX must not be this video's bytes | docs | `signed_other_video_refused` | signed video, another video |
//! | a downloadable token in place of the video id serves the file: 200 with its `Content-Length`; first, middle, last, open-ended and suffix ranges are the full GET's bytes; HEAD's length is GET's | http | `signed_url_serves` | signed video |
//!
//! Never fooled: API bodies are read up to 8 MiB (a larger one is a `body_schema` violation
//! and is not read further); a wait stops at the first answer that makes waiting pointless;
//! identical violations fold into one with a count, values are cut at 200 characters and a
//! check keeps at most 100 distinct violations; 429s are waited out (each wait at most 60 s;
//! one 1 s backoff for a 429 without a usable `retry-after`, none once one did not help)
//! within [`RunOptions::max_wait`], past which the scenarios still to run are SKIP "rate
//! limited"; a download body that sends nothing for [`RunOptions::stall_timeout`] ends there,
//! a violation; credentials a server echoes are redacted from every report and log line.
//!
//! # Crate features
//!
//! - `mutants` (off by default): the `mutants` module, test support: deliberately broken
//!   servers (each breaking one rule) that prove the checks catch what they must; for this
//!   crate's tests and `cargo xtask bench conformance`, never needed by users.
//!
//! The schemas under `schemas/` are embedded at build time and compiled once per
//! process. The crate talks HTTP with reqwest directly and never through cfstream-http: one
//! shared client bug must not let the client and the referee agree.
#![deny(missing_docs)]

pub mod catalogue;
mod error;
pub mod generate;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod proxy;
mod record;
mod redact;
mod report;
mod runner;
mod scenarios;
mod stream;
mod transport;
mod validate;

pub use catalogue::{Check, CheckInfo, CheckKind, catalogue};
pub use error::{Error, ErrorKind};
pub use proxy::{ProxyOptions, ProxySummary, RunningProxy, proxy};
pub use report::{CheckResult, Counts, Outcome, Report, ReportFile, ReportFormat};
pub use runner::{Reporter, RunOptions, Target, WaitProgress, run};
pub use stream::TextStream;
pub use validate::{Validator, Violation};
