//! The catalogue of checks: every check's stable name, one-line description and needs.

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
    /// The stable snake_case name, as given to `--checks` and `--skip`.
    pub name: &'static str,
    /// One line saying what the check asserts.
    pub description: &'static str,
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
}

macro_rules! names {
    ($($(#[$doc:meta])* $id:ident = $name:literal;)*) => {
        $($(#[$doc])* pub const $id: &str = $name;)*
    };
}

names! {
    /// The status is documented: `200` or a `4XX`.
    STATUS_DOCUMENTED = "status_documented";
    /// The content type is `application/json`.
    CONTENT_TYPE_JSON = "content_type_json";
    /// The body is JSON and matches the operation's 200 or 4XX schema.
    BODY_SCHEMA = "body_schema";
    /// `success` agrees with the status class.
    SUCCESS_MATCHES_STATUS = "success_matches_status";
    /// A failure carries at least one error.
    FAILURE_HAS_ERRORS = "failure_has_errors";
    /// Every error and message code is at least 1000.
    ERROR_CODE_RANGE = "error_code_range";
    /// `result` is present and `null` on failure.
    FAILURE_RESULT_NULL = "failure_result_null";
    /// A 429 says when to retry.
    RETRY_AFTER_ON_429 = "retry_after_on_429";
    /// cfstream-types decodes every 200 body the schema accepts.
    CLIENT_MODEL_DECODES = "client_model_decodes";
    /// Requests without credentials are refused with a failure envelope.
    AUTH_MISSING_REJECTED = "auth_missing_rejected";
    /// Requests with wrong credentials are refused with a failure envelope.
    AUTH_WRONG_REJECTED = "auth_wrong_rejected";
    /// Ids of 33 characters are refused with a 4XX failure envelope.
    ID_TOO_LONG_REJECTED = "id_too_long_rejected";
    /// Non-hex ids are refused with a 4XX failure envelope.
    ID_NOT_HEX_REJECTED = "id_not_hex_rejected";
    /// An unknown video answers a 4XX failure envelope.
    UNKNOWN_VIDEO_FAILURE = "unknown_video_failure";
    /// Unknown routes answer a 4XX failure envelope.
    UNKNOWN_ROUTE_FAILURE = "unknown_route_failure";
    /// An undocumented method on a documented path answers a 4XX failure envelope.
    METHOD_NOT_ALLOWED_FAILURE = "method_not_allowed_failure";
    /// An unknown `download_type` is refused with a 4XX failure envelope.
    DOWNLOAD_TYPE_UNKNOWN_REJECTED = "download_type_unknown_rejected";
    /// Create (legacy route) then list shows the `default` download.
    CREATE_THEN_LIST = "create_then_list";
    /// Create `audio` (typed route) then list shows it.
    CREATE_TYPE_THEN_LIST = "create_type_then_list";
    /// Progress never goes back.
    PROGRESS_MONOTONE = "progress_monotone";
    /// Every download ends `ready` or `error` within the deadline.
    PROGRESS_TERMINATES = "progress_terminates";
    /// A ready download's URL serves a body as long as its `Content-Length`.
    DOWNLOAD_URL_SERVES = "download_url_serves";
    /// A ready download's URL honours `Range`.
    DOWNLOAD_URL_RANGE = "download_url_range";
    /// Delete then list no longer shows the download.
    DELETE_THEN_LIST = "delete_then_list";
    /// Deleting again still succeeds.
    DELETE_REPEATABLE = "delete_repeatable";
}

const fn response(name: &'static str, description: &'static str) -> CheckInfo {
    CheckInfo {
        name,
        description,
        kind: CheckKind::Response,
        needs_credentials: false,
        needs_account: false,
        needs_video: false,
        writes: false,
    }
}

const fn scenario(
    name: &'static str,
    description: &'static str,
    needs: (bool, bool, bool),
    writes: bool,
) -> CheckInfo {
    CheckInfo {
        name,
        description,
        kind: CheckKind::Scenario,
        needs_credentials: needs.0,
        needs_account: needs.1,
        needs_video: needs.2,
        writes,
    }
}

/// (credentials, account, video)
const NOTHING: (bool, bool, bool) = (false, false, false);
const ACCOUNT: (bool, bool, bool) = (true, true, false);
const VIDEO: (bool, bool, bool) = (true, true, true);

/// Every check, in the order they are reported.
pub(crate) const CATALOGUE: &[CheckInfo] = &[
    response(
        STATUS_DOCUMENTED,
        "every answer of the five operations has a documented status: 200 or 4XX",
    ),
    response(CONTENT_TYPE_JSON, "every answer of the five operations is application/json"),
    response(BODY_SCHEMA, "every body is JSON matching the operation's 200 or 4XX schema"),
    response(SUCCESS_MATCHES_STATUS, "`success` is true on 2XX and false on 4XX/5XX"),
    response(FAILURE_HAS_ERRORS, "a failure carries at least one error"),
    response(ERROR_CODE_RANGE, "every code in `errors` and `messages` is an integer >= 1000"),
    response(FAILURE_RESULT_NULL, "`result` is present and null on failure"),
    response(RETRY_AFTER_ON_429, "a 429 carries `retry-after` (seconds or an HTTP date)"),
    response(CLIENT_MODEL_DECODES, "cfstream-types decodes every 200 body that the schema accepts"),
    scenario(
        AUTH_MISSING_REJECTED,
        "requests without credentials get a 4XX failure envelope, never a 2XX",
        NOTHING,
        false,
    ),
    scenario(
        AUTH_WRONG_REJECTED,
        "requests with wrong credentials get a 4XX failure envelope, never a 2XX",
        NOTHING,
        false,
    ),
    scenario(
        ID_TOO_LONG_REJECTED,
        "33-character account or video ids get a 4XX failure envelope, never a 5XX",
        ACCOUNT,
        false,
    ),
    scenario(
        ID_NOT_HEX_REJECTED,
        "non-hex video ids get a 4XX failure envelope, never a 5XX",
        ACCOUNT,
        false,
    ),
    scenario(
        UNKNOWN_VIDEO_FAILURE,
        "listing an unknown (well-formed) video gets a 4XX failure envelope",
        ACCOUNT,
        false,
    ),
    scenario(UNKNOWN_ROUTE_FAILURE, "unknown routes get a 4XX failure envelope", NOTHING, false),
    scenario(
        METHOD_NOT_ALLOWED_FAILURE,
        "PUT on the downloads path gets a 4XX failure envelope",
        ACCOUNT,
        false,
    ),
    scenario(
        DOWNLOAD_TYPE_UNKNOWN_REJECTED,
        "an unknown download_type gets a 4XX failure envelope, never a 5XX",
        VIDEO,
        true,
    ),
    scenario(
        CREATE_THEN_LIST,
        "POST .../downloads answers the default download and list then shows it",
        VIDEO,
        true,
    ),
    scenario(
        CREATE_TYPE_THEN_LIST,
        "POST .../downloads/audio answers the audio download and list then shows it",
        VIDEO,
        true,
    ),
    scenario(
        PROGRESS_MONOTONE,
        "while polled, percentComplete never decreases and a final status never changes",
        VIDEO,
        false,
    ),
    scenario(
        PROGRESS_TERMINATES,
        "every download ends ready or error within the deadline",
        VIDEO,
        false,
    ),
    scenario(
        DOWNLOAD_URL_SERVES,
        "a ready download has a url serving a body as long as its Content-Length",
        VIDEO,
        false,
    ),
    scenario(
        DOWNLOAD_URL_RANGE,
        "a ready download's url answers `Range: bytes=0-9` with 206 and those bytes",
        VIDEO,
        false,
    ),
    scenario(
        DELETE_THEN_LIST,
        "after DELETE (typed and legacy route) list no longer shows the download",
        VIDEO,
        true,
    ),
    scenario(DELETE_REPEATABLE, "deleting a download again still answers 200 success", VIDEO, true),
];

/// Every check with its one-line description, in report order (for `--list`).
pub fn catalogue() -> Vec<CheckInfo> {
    CATALOGUE.to_vec()
}

/// The catalogue entry named `name`.
pub(crate) fn find(name: &str) -> Option<&'static CheckInfo> {
    CATALOGUE.iter().find(|c| c.name == name)
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
}
