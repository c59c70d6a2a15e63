//! The API described once, as data: the five [`Operation`]s (method, path template, operation
//! id, response kind) and the only place a request path is built ([`Endpoint::path`]).
//!
//! The client, the emulator and the conformance checks all read these tables, so they share a
//! single definition of the API (as cloudflare-rs's `EndpointSpec` does).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use url::Url;

use crate::download::{DownloadType, DownloadTypeError};
use crate::ids::{AccountId, VideoId};

/// An HTTP method used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the 200 body of an operation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseKind {
    /// `stream_downloads_response`: `result` is a [`crate::Downloads`].
    Downloads,
    /// `stream_deleted_response`: `result` is `"ok"`.
    Deleted,
}

/// One of the five operations of the downloads API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Operation {
    /// `GET .../downloads`: list a video's downloads.
    List,
    /// `POST .../downloads`: create the `default` download (the legacy form).
    Create,
    /// `DELETE .../downloads`: delete the `default` download (the legacy form).
    Delete,
    /// `POST .../downloads/{download_type}`: create a download of a type.
    CreateType,
    /// `DELETE .../downloads/{download_type}`: delete a download of a type.
    DeleteType,
}

/// The path template of the operations without a type, as in the spec (and as axum routes).
pub const DOWNLOADS_PATH: &str = "/accounts/{account_id}/stream/{identifier}/downloads";
/// The path template of the type-specific operations.
pub const DOWNLOADS_TYPE_PATH: &str =
    "/accounts/{account_id}/stream/{identifier}/downloads/{download_type}";
/// The API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

impl Operation {
    /// Every operation, in the spec's order.
    pub const ALL: [Operation; 5] = [
        Operation::List,
        Operation::Create,
        Operation::Delete,
        Operation::CreateType,
        Operation::DeleteType,
    ];

    /// The spec's `operationId`.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::List => "stream-m-p-4-downloads-list-downloads",
            Operation::Create => "stream-m-p-4-downloads-create-downloads",
            Operation::Delete => "stream-m-p-4-downloads-delete-downloads",
            Operation::CreateType => "stream-downloads-create-type-specific-downloads",
            Operation::DeleteType => "stream-downloads-delete-type-specific-downloads",
        }
    }

    /// A short name for logs and reports (`list`, `create`, `delete`, `create_type`,
    /// `delete_type`).
    pub fn name(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Create => "create",
            Operation::Delete => "delete",
            Operation::CreateType => "create_type",
            Operation::DeleteType => "delete_type",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Operation::List => Method::Get,
            Operation::Create | Operation::CreateType => Method::Post,
            Operation::Delete | Operation::DeleteType => Method::Delete,
        }
    }

    /// The path template, relative to the base URL.
    pub fn path_template(self) -> &'static str {
        if self.takes_download_type() { DOWNLOADS_TYPE_PATH } else { DOWNLOADS_PATH }
    }

    /// Whether the path has a `{download_type}` segment.
    pub fn takes_download_type(self) -> bool {
        matches!(self, Operation::CreateType | Operation::DeleteType)
    }

    /// What the 200 body holds.
    pub fn response(self) -> ResponseKind {
        match self {
            Operation::List | Operation::Create | Operation::CreateType => ResponseKind::Downloads,
            Operation::Delete | Operation::DeleteType => ResponseKind::Deleted,
        }
    }

    /// Whether the operation changes server state.
    pub fn is_write(self) -> bool {
        self != Operation::List
    }

    /// The operation for a method and whether the path has a type segment, if there is one.
    pub fn find(method: Method, typed: bool) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.method() == method && op.takes_download_type() == typed)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Characters that are escaped in a path segment: everything but unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(s: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(s, SEGMENT)
}

/// One call of an operation on one video: everything needed to build its path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    operation: Operation,
    account: AccountId,
    video: VideoId,
    download_type: Option<DownloadType>,
}

impl Endpoint {
    /// `GET` the downloads of `video`.
    pub fn list(account: &AccountId, video: &VideoId) -> Self {
        Self::untyped(Operation::List, account, video)
    }

    /// `POST` the `default` download (the legacy route).
    pub fn create(account: &AccountId, video: &VideoId) -> Self {
        Self::untyped(Operation::Create, account, video)
    }

    /// `DELETE` the `default` download (the legacy route).
    pub fn delete(account: &AccountId, video: &VideoId) -> Self {
        Self::untyped(Operation::Delete, account, video)
    }

    /// `POST` a download of type `t`; fails if `t` cannot stand as a path segment (see
    /// [`DownloadType::check_path_safe`]: an `Other("..")` would climb out of the route).
    pub fn create_type(
        account: &AccountId,
        video: &VideoId,
        t: DownloadType,
    ) -> Result<Self, DownloadTypeError> {
        Self::typed(Operation::CreateType, account, video, t)
    }

    /// `DELETE` the download of type `t`; fails as [`Endpoint::create_type`] does.
    pub fn delete_type(
        account: &AccountId,
        video: &VideoId,
        t: DownloadType,
    ) -> Result<Self, DownloadTypeError> {
        Self::typed(Operation::DeleteType, account, video, t)
    }

    fn untyped(operation: Operation, account: &AccountId, video: &VideoId) -> Self {
        Self { operation, account: account.clone(), video: video.clone(), download_type: None }
    }

    fn typed(
        operation: Operation,
        account: &AccountId,
        video: &VideoId,
        t: DownloadType,
    ) -> Result<Self, DownloadTypeError> {
        t.check_path_safe()?;
        Ok(Self {
            operation,
            account: account.clone(),
            video: video.clone(),
            download_type: Some(t),
        })
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.operation.method()
    }

    /// The account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The video.
    pub fn video(&self) -> &VideoId {
        &self.video
    }

    /// The download type in the path, for the typed operations.
    pub fn download_type(&self) -> Option<&DownloadType> {
        self.download_type.as_ref()
    }

    /// The path relative to the base URL. Every segment is validated on construction (hex ids,
    /// path-safe type names) and percent-encoded anyway, so that a future bug in validation
    /// still cannot reach the wire.
    pub fn path(&self) -> String {
        let mut p = format!(
            "/accounts/{}/stream/{}/downloads",
            segment(self.account.as_str()),
            segment(self.video.as_str())
        );
        if let Some(t) = &self.download_type {
            p.push('/');
            p.push_str(&segment(t.as_str()).to_string());
        }
        p
    }

    /// The full URL under `base` (for example [`DEFAULT_BASE_URL`]); a trailing `/` on `base`
    /// is ignored.
    pub fn url(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path())
    }

    /// [`Endpoint::url`] as a parsed [`Url`], built from an already parsed `base` (its query
    /// and fragment dropped) without parsing the whole URL again: only the path is set.
    pub fn url_under(&self, base: &Url) -> Url {
        let mut url = base.clone();
        url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), self.path()));
        url.set_query(None);
        url.set_fragment(None);
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (AccountId, VideoId) {
        (
            "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap(),
            "ea95132c15732412d22c1476fa83f27a".parse().unwrap(),
        )
    }

    #[test]
    fn paths_match_the_templates() {
        let (a, v) = ids();
        for op in Operation::ALL {
            let e = match op {
                Operation::List => Endpoint::list(&a, &v),
                Operation::Create => Endpoint::create(&a, &v),
                Operation::Delete => Endpoint::delete(&a, &v),
                Operation::CreateType => {
                    Endpoint::create_type(&a, &v, DownloadType::Audio).unwrap()
                }
                Operation::DeleteType => {
                    Endpoint::delete_type(&a, &v, DownloadType::Audio).unwrap()
                }
            };
            let expected = op
                .path_template()
                .replace("{account_id}", a.as_str())
                .replace("{identifier}", v.as_str())
                .replace("{download_type}", "audio");
            assert_eq!(e.path(), expected);
            assert_eq!(e.operation(), op);
            assert_eq!(Operation::find(op.method(), op.takes_download_type()), Some(op));
        }
    }

    #[test]
    fn type_names_that_are_not_path_safe_are_refused() {
        let (a, v) = ids();
        for bad in ["..", ".", "../x?y", "%2e%2e", "a/b", "", "A", "x#y"] {
            let t = DownloadType::Other(bad.into());
            let e = Endpoint::create_type(&a, &v, t.clone()).unwrap_err();
            assert!(e.to_string().contains("invalid download type"), "{e}");
            assert!(Endpoint::delete_type(&a, &v, t).is_err());
        }
        let e = Endpoint::create_type(&a, &v, DownloadType::Other("hdr_10".into())).unwrap();
        assert!(e.path().ends_with("/downloads/hdr_10"), "{}", e.path());
        assert_eq!(
            Endpoint::list(&a, &v).url("http://127.0.0.1:1/client/v4/"),
            format!("http://127.0.0.1:1/client/v4/accounts/{a}/stream/{v}/downloads")
        );
    }

    #[test]
    fn url_under_a_parsed_base_is_the_url_under_its_text() {
        let (a, v) = ids();
        let bases = [
            DEFAULT_BASE_URL,
            "http://127.0.0.1:8080/client/v4/",
            "https://api.example.com",
            "https://api.example.com/",
            "http://[::1]:9/a%20b/v4",
        ];
        for base in bases {
            let parsed = Url::parse(base).unwrap();
            for e in [
                Endpoint::list(&a, &v),
                Endpoint::delete_type(&a, &v, DownloadType::Other("hdr_10".into())).unwrap(),
            ] {
                let expected = Url::parse(&e.url(parsed.as_str())).unwrap();
                assert_eq!(e.url_under(&parsed), expected, "{base}");
            }
        }
        let with_query = Url::parse("https://api.example.com/v4?x=1#f").unwrap();
        let url = Endpoint::list(&a, &v).url_under(&with_query);
        assert_eq!(
            url.as_str(),
            format!("https://api.example.com/v4/accounts/{a}/stream/{v}/downloads")
        );
    }
}
