//! The catalogue of checks: the typed [`Check`] names, and each one's stable name, one-line
//! description, needs and source ([`CheckInfo`]).

use serde::Serialize;

/// Whether a check judges each response on its own or drives a scenario of several requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckKind {
    /// Applied to every response of the five operations seen during a run.
    Response,
    /// A scenario: requests made for this check, judged together.
    Scenario,
}

/// One check of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CheckInfo {
    /// The typed name.
    #[serde(skip)]
    pub check: Check,
    /// The stable snake_case name, as given to `--checks` and `--skip`.
    pub name: &'static str,
    /// One line saying what the check asserts.
    pub description: &'static str,
    /// Where the rule comes from: the OpenAPI spec, Cloudflare's documentation, or HTTP.
    pub source: &'static str,
    /// Per-response rule or scenario.
    pub kind: CheckKind,
    /// Whether it needs credentials (skipped without them).
    pub needs_credentials: bool,
    /// Whether it needs an account id (skipped without one).
    pub needs_account: bool,
    /// Whether it needs a video that is ready to stream (skipped without one).
    pub needs_video: bool,
    /// Whether it creates or deletes downloads (skipped on a live account without
    /// `allow_writes`).
    pub writes: bool,
    /// Whether it needs a video that requires signed URLs (`RunOptions::signed_videos`;
    /// skipped without one).
    pub needs_signed_video: bool,
}

macro_rules! checks {
    ($($(#[$doc:meta])* $id:ident = $name:literal;)*) => {
        /// Every check, by type; the declaration order is the report order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Check {
            $($(#[$doc])* $id,)*
        }

        impl Check {
            /// Every check, in report order.
            pub const ALL: &'static [Check] = &[$(Check::$id,)*];

            /// The stable snake_case name, as given to `--checks` and `--skip`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Check::$id => $name,)*
                }
            }
        }
    };
}

checks! {
    /// The status is documented: `200` or a `4XX`.
    StatusDocumented = "status_documented";
    /// The content type is `application/json`.
    ContentTypeJson = "content_type_json";
    /// The body is JSON and matches the operation's 200 or 4XX schema.
    BodySchema = "body_schema";
    /// `success` agrees with the status class.
    SuccessMatchesStatus = "success_matches_status";
    /// A failure carries at least one error.
    FailureHasErrors = "failure_has_errors";
    /// Every error and message code is at least 1000.
    ErrorCodeRange = "error_code_range";
    /// `result` is present and `null` on failure.
    FailureResultNull = "failure_result_null";
    /// A 429 says when to retry.
    RetryAfterOn429 = "retry_after_on_429";
    /// cfstream-types decodes every 200 body the schema accepts.
    ClientModelDecodes = "client_model_decodes";
    /// Requests without credentials are refused with a failure envelope.
    AuthMissingRejected = "auth_missing_rejected";
    /// Requests with wrong credentials are refused with a failure envelope.
    AuthWrongRejected = "auth_wrong_rejected";
    /// Ids of 33 characters are refused with a 4XX failure envelope.
    IdTooLongRejected = "id_too_long_rejected";
    /// Non-hex ids are refused with a 4XX failure envelope.
    IdNotHexRejected = "id_not_hex_rejected";
    /// An unknown video answers a 4XX failure envelope.
    UnknownVideoFailure = "unknown_video_failure";
    /// Unknown routes answer a 4XX failure envelope.
    UnknownRouteFailure = "unknown_route_failure";
    /// An undocumented method on a documented path answers a 4XX failure envelope.
    MethodNotAllowedFailure = "method_not_allowed_failure";
    /// An unknown `download_type` is refused with a 4XX failure envelope.
    DownloadTypeUnknownRejected = "download_type_unknown_rejected";
    /// Create (legacy route) then list shows the `default` download.
    CreateThenList = "create_then_list";
    /// Create `audio` (typed route) then list shows it.
    CreateTypeThenList = "create_type_then_list";
    /// Progress never goes back.
    ProgressMonotone = "progress_monotone";
    /// Every download ends `ready` or `error` within the deadline.
    ProgressTerminates = "progress_terminates";
    /// A ready download's URL serves a body as long as its `Content-Length`.
    DownloadUrlServes = "download_url_serves";
    /// A ready download's URL honours `Range`.
    DownloadUrlRange = "download_url_range";
    /// The file is the file: ranges, HEAD and the full GET agree; audio is not the MP4.
    DownloadFileConsistent = "download_file_consistent";
    /// `?filename=` names the attachment; a bad name is refused.
    DownloadUrlFilename = "download_url_filename";
    /// A second create answers the same download, never restarting it.
    CreateIdempotent = "create_idempotent";
    /// Delete then list no longer shows the download.
    DeleteThenList = "delete_then_list";
    /// Deleting one type leaves the others.
    DeleteScoped = "delete_scoped";
    /// Deleting again still succeeds.
    DeleteRepeatable = "delete_repeatable";
    /// The token endpoint's answer matches the token-response schema.
    SignedTokenSchema = "signed_token_schema";
    /// A signed video's plain file URL is refused.
    SignedUnsignedRefused = "signed_unsigned_refused";
    /// A token without `downloadable: true` is refused.
    SignedNotDownloadableRefused = "signed_not_downloadable_refused";
    /// An expired token is refused.
    SignedExpiredRefused = "signed_expired_refused";
    /// A token for another video is refused.
    SignedOtherVideoRefused = "signed_other_video_refused";
    /// A valid token serves the file and its ranges.
    SignedUrlServes = "signed_url_serves";
}

impl Check {
    /// The catalogue entry of this check.
    pub fn info(self) -> &'static CheckInfo {
        // CATALOGUE is declared in the enum's order (checked by a test).
        &CATALOGUE[self as usize]
    }

    /// The check named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.iter().copied().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The OpenAPI document's responses (schemas, statuses, the failure envelope).
const SPEC: &str = "spec";
/// Cloudflare's documentation (auth, rate limits, ids, downloads' lifecycle and files).
const DOCS: &str = "docs";
/// HTTP semantics (RFC 9110): methods, `Range`, `Content-Length`, `Retry-After`.
const HTTP: &str = "http";
/// The project's own promise that the typed model reads what the spec allows.
const TYPES: &str = "cfstream-types";

const fn response(check: Check, source: &'static str, description: &'static str) -> CheckInfo {
    CheckInfo {
        check,
        name: check.name(),
        description,
        source,
        kind: CheckKind::Response,
        needs_credentials: false,
        needs_account: false,
        needs_video: false,
        writes: false,
        needs_signed_video: false,
    }
}

const fn scenario(
    check: Check,
    source: &'static str,
    description: &'static str,
    needs: (bool, bool, bool),
    writes: bool,
) -> CheckInfo {
    CheckInfo {
        check,
        name: check.name(),
        description,
        source,
        kind: CheckKind::Scenario,
        needs_credentials: needs.0,
        needs_account: needs.1,
        needs_video: needs.2,
        writes,
        needs_signed_video: false,
    }
}

/// A scenario on the videos that require signed URLs: it needs credentials, an account and
/// a signed video, and creates a download only where writes are allowed.
const fn signed(check: Check, source: &'static str, description: &'static str) -> CheckInfo {
    CheckInfo { needs_signed_video: true, ..scenario(check, source, description, ACCOUNT, false) }
}

/// (credentials, account, video)
const NOTHING: (bool, bool, bool) = (false, false, false);
const ACCOUNT: (bool, bool, bool) = (true, true, false);
const VIDEO: (bool, bool, bool) = (true, true, true);

/// Every check, in the order of [`Check`] (the order they are reported).
pub(crate) const CATALOGUE: &[CheckInfo] = &[
    response(
        Check::StatusDocumented,
        SPEC,
        "every answer of the five operations has a documented status: 200 or 4XX",
    ),
    response(
        Check::ContentTypeJson,
        SPEC,
        "every answer of the five operations is application/json",
    ),
    response(
        Check::BodySchema,
        SPEC,
        "every body is JSON matching the operation's 200 or 4XX schema",
    ),
    response(Check::SuccessMatchesStatus, SPEC, "`success` is true on 2XX and false on 4XX/5XX"),
    response(Check::FailureHasErrors, SPEC, "a failure carries at least one error"),
    response(
        Check::ErrorCodeRange,
        SPEC,
        "every code in `errors` and `messages` is an integer >= 1000",
    ),
    response(Check::FailureResultNull, SPEC, "`result` is present and null on failure"),
    response(Check::RetryAfterOn429, DOCS, "a 429 carries `retry-after` (seconds or an HTTP date)"),
    response(
        Check::ClientModelDecodes,
        TYPES,
        "cfstream-types decodes every 200 body that the schema accepts",
    ),
    scenario(
        Check::AuthMissingRejected,
        DOCS,
        "requests without credentials get a 4XX failure envelope, never a 2XX",
        NOTHING,
        false,
    ),
    scenario(
        Check::AuthWrongRejected,
        DOCS,
        "requests with wrong credentials get a 4XX failure envelope, never a 2XX",
        NOTHING,
        false,
    ),
    scenario(
        Check::IdTooLongRejected,
        SPEC,
        "33-character account or video ids get a 4XX failure envelope, never a 5XX",
        ACCOUNT,
        false,
    ),
    scenario(
        Check::IdNotHexRejected,
        DOCS,
        "non-hex video ids get a 4XX failure envelope, never a 5XX",
        ACCOUNT,
        false,
    ),
    scenario(
        Check::UnknownVideoFailure,
        SPEC,
        "every operation on an unknown (well-formed) video gets a 4XX failure envelope (only \
         list on a live account without --allow-writes)",
        ACCOUNT,
        false,
    ),
    scenario(
        Check::UnknownRouteFailure,
        SPEC,
        "unknown routes get a 4XX failure envelope",
        NOTHING,
        false,
    ),
    scenario(
        Check::MethodNotAllowedFailure,
        HTTP,
        "PUT on the downloads path gets a 4XX failure envelope",
        ACCOUNT,
        false,
    ),
    scenario(
        Check::DownloadTypeUnknownRejected,
        SPEC,
        "an unknown download_type gets a 4XX failure envelope, never a 5XX",
        VIDEO,
        true,
    ),
    scenario(
        Check::CreateThenList,
        SPEC,
        "POST .../downloads answers the default download and list then shows it",
        VIDEO,
        true,
    ),
    scenario(
        Check::CreateTypeThenList,
        SPEC,
        "POST .../downloads/audio answers the audio download and list then shows it",
        VIDEO,
        true,
    ),
    scenario(
        Check::ProgressMonotone,
        DOCS,
        "while polled, percentComplete never decreases and a final status never changes",
        VIDEO,
        false,
    ),
    scenario(
        Check::ProgressTerminates,
        DOCS,
        "every download ends ready or error within the deadline",
        VIDEO,
        false,
    ),
    scenario(
        Check::DownloadUrlServes,
        DOCS,
        "a ready download has a url serving a body as long as its Content-Length",
        VIDEO,
        false,
    ),
    scenario(
        Check::DownloadUrlRange,
        HTTP,
        "a ready download's url answers `Range: bytes=0-9` with 206 and those bytes",
        VIDEO,
        false,
    ),
    scenario(
        Check::DownloadFileConsistent,
        HTTP,
        "first, middle, last, open-ended and suffix ranges are the full GET's bytes, with its \
         length in Content-Range; HEAD's length is GET's; the audio file is not the MP4 file",
        VIDEO,
        false,
    ),
    scenario(
        Check::DownloadUrlFilename,
        DOCS,
        "`?filename=conformance` answers `attachment` as conformance.mp4 / .m4a; a name over \
         120 characters or outside [A-Za-z0-9-_] gets a 4XX",
        VIDEO,
        false,
    ),
    scenario(
        Check::CreateIdempotent,
        DOCS,
        "a second create answers the same download: same url, percentComplete not lower, \
         ready stays ready",
        VIDEO,
        true,
    ),
    scenario(
        Check::DeleteThenList,
        SPEC,
        "after DELETE (typed and legacy route) list no longer shows the download",
        VIDEO,
        true,
    ),
    scenario(
        Check::DeleteScoped,
        SPEC,
        "deleting audio leaves default as it was, and DELETE .../downloads (no type) removes \
         default only",
        VIDEO,
        true,
    ),
    scenario(
        Check::DeleteRepeatable,
        SPEC,
        "deleting a download again still answers 200 success",
        VIDEO,
        true,
    ),
    signed(
        Check::SignedTokenSchema,
        DOCS,
        "POST .../token with {\"downloadable\": true} answers 200 with the token-response schema \
         (result.token a string) and cfstream-types decodes it",
    ),
    signed(
        Check::SignedUnsignedRefused,
        DOCS,
        "a signed video's ready download url without a token is refused (401; 403 accepted)",
    ),
    signed(
        Check::SignedNotDownloadableRefused,
        DOCS,
        "a token asked for without downloadable (body {}) is refused on the file (401 or 403)",
    ),
    signed(
        Check::SignedExpiredRefused,
        DOCS,
        "a token whose exp passed an hour ago is refused on the file (401 or 403)",
    ),
    signed(
        Check::SignedOtherVideoRefused,
        DOCS,
        "a downloadable token for another video is refused on this video's file (401 or 403)",
    ),
    signed(
        Check::SignedUrlServes,
        HTTP,
        "a downloadable token in place of the video id serves the file: 200 with its \
         Content-Length, and first, middle, last, open-ended and suffix ranges are the full \
         GET's bytes; HEAD's length is GET's",
    ),
];

/// Every check with its one-line description, in report order (for `--list`).
pub fn catalogue() -> Vec<CheckInfo> {
    CATALOGUE.to_vec()
}

/// The catalogue as `--list` prints it: one line per check, name then description.
pub fn render_list() -> String {
    let width = CATALOGUE.iter().map(|c| c.name.len()).max().unwrap_or(0);
    CATALOGUE.iter().map(|c| format!("{:width$}  {}\n", c.name, c.description)).collect()
}

/// The catalogue entry named `name`.
pub(crate) fn find(name: &str) -> Option<&'static CheckInfo> {
    Check::from_name(name).map(Check::info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in CATALOGUE {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(
                c.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{}",
                c.name
            );
            assert!(!c.description.is_empty());
            assert!(find(c.name).is_some());
        }
        assert!(CATALOGUE.len() >= 20);
    }

    #[test]
    fn the_rules_table_in_the_crate_docs_names_every_check_once() {
        // The workspace README's copy is checked by tests/it/reports.rs (a packaged crate
        // has only its own files).
        let docs = include_str!("lib.rs");
        for c in Check::ALL {
            let row = format!("| `{}` |", c.name());
            assert_eq!(docs.matches(&row).count(), 1, "{} in the rules table", c.name());
        }
    }

    #[test]
    fn the_catalogue_follows_the_enum() {
        assert_eq!(CATALOGUE.len(), Check::ALL.len());
        for (i, check) in Check::ALL.iter().enumerate() {
            assert_eq!(CATALOGUE[i].check, *check);
            assert_eq!(check.info().name, check.name());
            assert_eq!(Check::from_name(check.name()), Some(*check));
        }
        assert_eq!(Check::from_name("no_such_check"), None);
        let list = render_list();
        assert_eq!(list.lines().count(), CATALOGUE.len());
        assert!(list.starts_with("status_documented  "), "{list}");
    }
}
