//! The API described once, as data: the five [`Operation`]s (method, path template, operation
//! id, response kind), the one renderer of a request path ([`Operation::render`], behind
//! [`Endpoint::path`]) and the one matcher of a request path ([`match_path`],
//! [`Operation::match_request`]).
//!
//! The client, the emulator and the conformance checks all read these tables, so they share a
//! single definition of the API (as cloudflare-rs's `EndpointSpec` does).

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

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

impl Method {
    /// The API method that a request method stands for: `HEAD` is answered as `GET`; other
    /// methods (and any other spelling than upper case) are none of the API's.
    pub fn from_request(method: &str) -> Option<Method> {
        match method {
            "GET" | "HEAD" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "DELETE" => Some(Method::Delete),
            _ => None,
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
    pub const fn operation_id(self) -> &'static str {
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

    /// The operations served at a path with (`typed`) or without a `{download_type}` segment:
    /// what a 405's `Allow` header lists.
    pub fn allowed(typed: bool) -> impl Iterator<Item = Operation> {
        Operation::ALL.into_iter().filter(move |op| op.takes_download_type() == typed)
    }

    /// The operation a request stands for (`method` as sent, `path` relative to the base URL,
    /// without its query), with the path's raw segments. `None` when the path is none of the
    /// API's routes, or the method is not served there (tell the two apart with
    /// [`match_path`]).
    pub fn match_request<'a>(method: &str, path: &'a str) -> Option<(Operation, PathParams<'a>)> {
        let params = match_path(path)?;
        let op = Operation::find(Method::from_request(method)?, params.typed())?;
        Some((op, params))
    }

    /// Renders the path template with `account_id`, `identifier` and `download_type`, each
    /// percent-encoded as a path segment: the one path renderer ([`Endpoint::path`] calls it
    /// with validated values; hostile probes call it with raw strings). `download_type` is
    /// ignored by the operations without a type segment.
    pub fn render(self, account_id: &str, identifier: &str, download_type: Option<&str>) -> String {
        let mut path = String::with_capacity(96);
        // Every template starts with `/`: each part after the first split is one segment.
        for part in self.path_template().split('/').skip(1) {
            path.push('/');
            match part {
                "{account_id}" => path.push_str(&segment(account_id).to_string()),
                "{identifier}" => path.push_str(&segment(identifier).to_string()),
                "{download_type}" => {
                    path.push_str(&segment(download_type.unwrap_or_default()).to_string());
                }
                literal => path.push_str(literal),
            }
        }
        path
    }
}

/// The raw (still percent-encoded) path parameters of a request path that matched one of the
/// API's routes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathParams<'a> {
    /// `{account_id}`, as sent.
    pub account_id: &'a str,
    /// `{identifier}` (the video), as sent.
    pub identifier: &'a str,
    /// `{download_type}`, as sent, on the typed routes.
    pub download_type: Option<&'a str>,
}

impl<'a> PathParams<'a> {
    /// Whether the path has a `{download_type}` segment.
    pub fn typed(&self) -> bool {
        self.download_type.is_some()
    }

    /// A segment percent-decoded (invalid UTF-8 replaced), as a server reads it before
    /// validating it.
    pub fn decoded(segment: &'a str) -> Cow<'a, str> {
        percent_decode_str(segment).decode_utf8_lossy()
    }
}

/// Matches a request path (relative to the base URL, without its query) against the API's
/// routes, [`DOWNLOADS_PATH`] and [`DOWNLOADS_TYPE_PATH`], and returns its raw segments. An
/// empty segment never matches a parameter. Methods are not considered: see
/// [`Operation::match_request`].
pub fn match_path(path: &str) -> Option<PathParams<'_>> {
    // Written out rather than walking the template, so that the hot path allocates nothing;
    // `match_path_agrees_with_the_templates` checks it against the templates.
    let param = |s: &str| (!s.is_empty()).then_some(());
    let rest = path.strip_prefix("/accounts/")?;
    let (account_id, rest) = rest.split_once('/')?;
    let (identifier, rest) = rest.strip_prefix("stream/")?.split_once('/')?;
    param(account_id)?;
    param(identifier)?;
    let download_type = match rest.strip_prefix("downloads")? {
        "" => None,
        typed => {
            let t = typed.strip_prefix('/')?;
            param(t)?;
            if t.contains('/') {
                return None;
            }
            Some(t)
        }
    };
    Some(PathParams { account_id, identifier, download_type })
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Characters that are escaped in a path segment: everything but unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `s` percent-encoded as one path segment (all but unreserved characters escaped).
pub(crate) fn segment(s: &str) -> impl fmt::Display + '_ {
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
        self.operation.render(
            self.account.as_str(),
            self.video.as_str(),
            self.download_type.as_ref().map(DownloadType::as_str),
        )
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
    fn match_path_agrees_with_the_templates() {
        for op in Operation::ALL {
            let path = op.render("acc", "vid", Some("audio"));
            let template = op.path_template();
            let expected = template
                .replace("{account_id}", "acc")
                .replace("{identifier}", "vid")
                .replace("{download_type}", "audio");
            assert_eq!(path, expected);
            let want_type = op.takes_download_type().then_some("audio");
            assert_eq!(
                match_path(&path),
                Some(PathParams { account_id: "acc", identifier: "vid", download_type: want_type })
            );
            assert_eq!(
                Operation::match_request(op.method().as_str(), &path).map(|(o, _)| o),
                Some(op)
            );
            assert_eq!(match_path(template).map(|p| p.typed()), Some(op.takes_download_type()));
        }
        assert_eq!(
            Operation::match_request("HEAD", "/accounts/a/stream/v/downloads").unwrap().0,
            { Operation::List }
        );
        assert_eq!(Operation::match_request("PUT", "/accounts/a/stream/v/downloads"), None);
        assert_eq!(Operation::match_request("get", "/accounts/a/stream/v/downloads"), None);
        assert_eq!(Operation::match_request("GET", "/accounts/a/stream/v/downloads/audio"), None);
    }

    #[test]
    fn match_path_refuses_what_is_not_a_route() {
        for path in [
            "",
            "/",
            "accounts/a/stream/v/downloads",
            "/accounts//stream/v/downloads",
            "/accounts/a/stream//downloads",
            "/accounts/a/stream/v/downloads/",
            "/accounts/a/stream/v/downloads/audio/",
            "/accounts/a/stream/v/downloads/audio/x",
            "/accounts/a/stream/v/downloadsx",
            "/accounts/a/stream/v",
            "/accounts/a/streams/v/downloads",
            "/accounts/a/b/stream/v/downloads",
            "/Accounts/a/stream/v/downloads",
        ] {
            assert_eq!(match_path(path), None, "{path:?}");
        }
        let p = match_path("/accounts/%41/stream/%E2%98%83/downloads/a%2Fb").unwrap();
        assert_eq!(
            (p.account_id, p.identifier, p.download_type),
            ("%41", "%E2%98%83", Some("a%2Fb"))
        );
        assert_eq!(PathParams::decoded(p.identifier), "\u{2603}");
        assert_eq!(PathParams::decoded("%FF"), "\u{fffd}");
    }

    #[test]
    fn allowed_lists_the_methods_of_a_route() {
        let methods = |typed| Operation::allowed(typed).map(|o| o.method()).collect::<Vec<_>>();
        assert_eq!(methods(false), [Method::Get, Method::Post, Method::Delete]);
        assert_eq!(methods(true), [Method::Post, Method::Delete]);
    }

    #[test]
    fn render_percent_encodes_every_segment() {
        let path = Operation::DeleteType.render("a/b", "%2e", Some("../x?y#z"));
        assert_eq!(path, "/accounts/a%2Fb/stream/%252e/downloads/..%2Fx%3Fy%23z");
        assert_eq!(
            Operation::List.render("\u{2603}", "v", Some("ignored")),
            "/accounts/%E2%98%83/stream/v/downloads"
        );
    }

    /// The segment encoder escapes all but unreserved characters: `/` and `%` (which would add
    /// a segment or smuggle an encoded one), `\`, NUL, spaces and non-ASCII.
    #[test]
    fn segments_encode_all_but_unreserved_characters() {
        assert_eq!(
            Operation::List.render("é b", "a\\b\0", Some("ignored")),
            "/accounts/%C3%A9%20b/stream/a%5Cb%00/downloads"
        );
        // Unreserved characters are left as they are.
        assert_eq!(
            Operation::DeleteType.render("aZ09-_.~", "x", Some("hdr_10")),
            "/accounts/aZ09-_.~/stream/x/downloads/hdr_10"
        );
        assert_eq!(segment("/%").to_string(), "%2F%25");
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
