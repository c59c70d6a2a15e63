//! Well-known error codes of the envelope's `errors[].code`.
//!
//! Two provenances, kept apart on purpose: codes **seen in Cloudflare's documentation or
//! spec** (a client may rely on them against the real API), and codes **the emulator
//! chose** where Cloudflare documents none (rely on them only against `cfstream-emulator`).
//! The emulator's codes are `10000 +` the HTTP status they come with (10404, 10409, 10429...;
//! also 10416 for an unsatisfiable range and 10500/10502/10503 for injected server errors).
//!
//! Codes are `u64`: the spec bounds them below (at least 1000) but not above.

use std::fmt;

/// A well-known error code, or [`ErrorCode::Other`] for any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 10000 "Authentication error": bad credentials. Seen in Cloudflare docs.
    Authentication,
    /// 7003 "No route for the URI". Seen in Cloudflare's spec (the failure example).
    NoRoute,
    /// 9106 "Missing X-Auth-Key, X-Auth-Email or Authorization headers". Seen in Cloudflare's
    /// API answers to requests without credentials.
    MissingAuthHeaders,
    /// 10400 a path parameter or body is invalid. Emulator-only.
    InvalidRequest,
    /// 10404 the video does not exist in the account. Emulator-only.
    VideoNotFound,
    /// 10405 the route does not allow the method. Emulator-only.
    MethodNotAllowed,
    /// 10409 the video is not ready to view, so no download can be made yet. Emulator-only.
    VideoNotReady,
    /// 10429 too many requests (HTTP 429). Emulator-only: against the real API, detect rate
    /// limiting by the HTTP status, not the code.
    RateLimited,
    /// Any other code.
    Other(u64),
}

impl ErrorCode {
    /// The numeric code.
    pub fn code(self) -> u64 {
        match self {
            ErrorCode::Authentication => 10000,
            ErrorCode::NoRoute => 7003,
            ErrorCode::MissingAuthHeaders => 9106,
            ErrorCode::InvalidRequest => 10400,
            ErrorCode::VideoNotFound => 10404,
            ErrorCode::MethodNotAllowed => 10405,
            ErrorCode::VideoNotReady => 10409,
            ErrorCode::RateLimited => 10429,
            ErrorCode::Other(c) => c,
        }
    }

    /// Whether Cloudflare documents this code (as opposed to the emulator choosing it).
    pub fn is_documented_by_cloudflare(self) -> bool {
        matches!(
            self,
            ErrorCode::Authentication | ErrorCode::NoRoute | ErrorCode::MissingAuthHeaders
        )
    }
}

impl From<u64> for ErrorCode {
    fn from(c: u64) -> Self {
        match c {
            10000 => ErrorCode::Authentication,
            7003 => ErrorCode::NoRoute,
            9106 => ErrorCode::MissingAuthHeaders,
            10400 => ErrorCode::InvalidRequest,
            10404 => ErrorCode::VideoNotFound,
            10405 => ErrorCode::MethodNotAllowed,
            10409 => ErrorCode::VideoNotReady,
            10429 => ErrorCode::RateLimited,
            other => ErrorCode::Other(other),
        }
    }
}

impl From<ErrorCode> for u64 {
    fn from(c: ErrorCode) -> u64 {
        c.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in [7003, 9106, 10000, 10400, 10404, 10405, 10409, 10429, 1234] {
            assert_eq!(ErrorCode::from(c).code(), c);
        }
        assert_eq!(ErrorCode::from(1234), ErrorCode::Other(1234));
        assert!(ErrorCode::Authentication.is_documented_by_cloudflare());
        assert!(!ErrorCode::VideoNotReady.is_documented_by_cloudflare());
    }
}
