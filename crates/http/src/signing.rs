//! Signed URLs in the client: tokens from the API ([`DownloadsApi::create_token`]) or signed
//! offline ([`sign_locally`], RS256 with a [`LocalSigningKey`]), the signing-key operations,
//! [`signed_url`], and the per-video token cache `fetch` reuses.
//!
//! A token is a bearer credential for a video's files: it is held in a
//! [`SignedToken`](cfstream_types::SignedToken) and never written to an error, a log line or a
//! span.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use cfstream_types::signed::{AccessRule, SigningKeysEnvelope, TokenFlags};
use cfstream_types::{
    AccountId, DeletedEnvelope, Envelope, Secret, SignedToken, SigningEndpoint, SigningKey,
    SigningKeyId, SigningOperation, TokenRequest, TokenResult, Url, VideoId, decode,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::client::{Call, RawResponse, Tag};
use crate::downloads::{DownloadsApi, finish};
use crate::error::{Error, ErrorKind};
use crate::redact::without_secrets;

/// The environment variable holding a local signing key's id.
pub const ENV_SIGNING_KEY_ID: &str = "CFSTREAM_SIGNING_KEY_ID";
/// The environment variable holding a local signing key's private key: base64 of its PEM, as
/// the API's `pem` field returns it.
pub const ENV_SIGNING_KEY_PEM: &str = "CFSTREAM_SIGNING_KEY_PEM";

/// A token's lifetime when none is asked for (the token endpoint's own default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// How long before its `exp` a cached token stops being reused, so that a request sent with
/// it does not arrive after it expired.
pub(crate) const TOKEN_REUSE_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The time now in unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    /// The server's default (one hour); locally, [`DEFAULT_TOKEN_LIFETIME`].
    Default,
    /// This long after the token is issued.
    In(Duration),
    /// At this unix time.
    At(i64),
}

/// What a token allows: by default a `downloadable` token that expires in one hour.
///
/// Its `Debug` never shows a signing key's private key ([`TokenOptions::signing_key`]): the
/// key is a [`Secret`].
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOptions {
    downloadable: bool,
    expiry: Expiry,
    nbf: Option<i64>,
    access_rules: Option<Vec<AccessRule>>,
    original: Option<bool>,
    signing_key: Option<(SigningKeyId, Secret)>,
}

impl Default for TokenOptions {
    /// `downloadable: true`, expiring one hour after it is issued.
    fn default() -> Self {
        Self {
            downloadable: true,
            expiry: Expiry::Default,
            nbf: None,
            access_rules: None,
            original: None,
            signing_key: None,
        }
    }
}

impl TokenOptions {
    /// Whether the token reaches the download links (default `true`).
    #[must_use]
    pub fn downloadable(mut self, yes: bool) -> Self {
        self.downloadable = yes;
        self
    }

    /// The token expires `d` after it is issued (at most 24 hours; more is refused with
    /// [`ErrorKind::InvalidTokenRequest`] before any request).
    #[must_use]
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.expiry = Expiry::In(d);
        self
    }

    /// The token expires at `exp` (unix seconds; at most 24 hours from now).
    #[must_use]
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.expiry = Expiry::At(exp);
        self
    }

    /// The token is refused before `nbf` (unix seconds). Locally signed tokens default to a
    /// minute before they are signed, so a server whose clock is a little behind accepts them.
    #[must_use]
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Who may use the token (`accessRules`).
    #[must_use]
    pub fn access_rules(mut self, rules: Vec<AccessRule>) -> Self {
        self.access_rules = Some(rules);
        self
    }

    /// Whether the token reaches the original upload (`flags.original`; token endpoint only).
    #[must_use]
    pub fn original(mut self, yes: bool) -> Self {
        self.original = Some(yes);
        self
    }

    /// The token endpoint signs the token with the signing key `id`, whose private key is `pem`
    /// (base64 of its PEM, as the create answer's `pem` holds it): the request's `id` and
    /// `pem`, which always go together (token endpoint only: [`LocalSigningKey::sign`] signs
    /// with its own key). The `pem` is sent in the request body and shown nowhere else.
    #[must_use]
    pub fn signing_key(mut self, id: SigningKeyId, pem: Secret) -> Self {
        self.signing_key = Some((id, pem));
        self
    }

    /// The `exp` of a token issued at `now`: explicit, or `None` for the server's default.
    fn exp(&self, now: i64) -> Option<i64> {
        match self.expiry {
            Expiry::Default => None,
            Expiry::In(d) => {
                Some(now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
            }
            Expiry::At(exp) => Some(exp),
        }
    }

    /// The `exp` of a token issued at `now`, the default made explicit.
    pub(crate) fn exp_or_default(&self, now: i64) -> i64 {
        self.exp(now).unwrap_or(now + DEFAULT_TOKEN_LIFETIME.as_secs() as i64)
    }

    /// The body sent to the token endpoint for a token issued at `now`.
    fn request(&self, now: i64) -> TokenRequest {
        let mut r = TokenRequest::default();
        r.downloadable = Some(self.downloadable);
        r.exp = self.exp(now);
        r.nbf = self.nbf;
        r.access_rules = self.access_rules.clone();
        r.flags = self.original.map(|o| {
            let mut f = TokenFlags::default();
            f.original = Some(o);
            f
        });
        if let Some((id, pem)) = &self.signing_key {
            r = r.signed_with(id.clone(), pem.clone());
        }
        r
    }
}

/// Checks `request` against the documented rules, before anything is sent or signed.
fn check(request: &TokenRequest, now: i64) -> Result<(), Error> {
    request.check(now).map_err(|e| Error::new(ErrorKind::InvalidTokenRequest, e.to_string()))
}

/// A signing key's id and private key, parsed and ready to sign tokens offline. Its `Debug`
/// shows the id only.
#[derive(Clone)]
pub struct LocalSigningKey {
    id: SigningKeyId,
    key: EncodingKey,
}

impl fmt::Debug for LocalSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigningKey").field("id", &self.id).field("pem", &"[redacted]").finish()
    }
}

impl LocalSigningKey {
    /// The key `id` with the private key `pem`: base64 of a PEM RSA private key (PKCS#1 or
    /// PKCS#8), as the API's `pem` field holds it; a PEM text itself is accepted too. A value
    /// that is neither fails with [`ErrorKind::Build`], naming the key id, never the value.
    pub fn new(id: SigningKeyId, pem: &Secret) -> Result<Self, Error> {
        let raw = pem.expose().trim();
        let bad = |why: &str| Error::build(format!("invalid signing key '{id}': {why}"));
        let text = if raw.starts_with("-----BEGIN") {
            raw.as_bytes().to_vec()
        } else {
            let compact: String = raw.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| bad("its pem is neither base64 nor a PEM text"))?
        };
        let key = EncodingKey::from_rsa_pem(&text)
            .map_err(|_| bad("its pem does not hold a PEM RSA private key"))?;
        Ok(Self { id, key })
    }

    /// The key from [`ENV_SIGNING_KEY_ID`] and [`ENV_SIGNING_KEY_PEM`] read through `lookup`:
    /// `None` when neither is set (empty counts as unset), an error naming the variables
    /// (never their values) when only one is set or the values are not a key.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        match (var(ENV_SIGNING_KEY_ID), var(ENV_SIGNING_KEY_PEM)) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::build(format!(
                "{ENV_SIGNING_KEY_ID} is set but {ENV_SIGNING_KEY_PEM} is not (the two go together)"
            ))),
            (None, Some(_)) => Err(Error::build(format!(
                "{ENV_SIGNING_KEY_PEM} is set but {ENV_SIGNING_KEY_ID} is not (the two go together)"
            ))),
            (Some(id), Some(pem)) => {
                let id: SigningKeyId =
                    id.trim().parse().map_err(|e: cfstream_types::IdError| {
                        Error::build(format!("invalid {ENV_SIGNING_KEY_ID}: {e}"))
                    })?;
                Self::new(id, &Secret::new(pem)).map(Some)
            }
        }
    }

    /// [`LocalSigningKey::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Option<Self>, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The key id (the `kid` of the tokens it signs).
    pub fn id(&self) -> &SigningKeyId {
        &self.id
    }

    /// Signs a token for `video`: see [`sign_locally`].
    pub fn sign(&self, video: &VideoId, opts: &TokenOptions) -> Result<SignedToken, Error> {
        self.sign_at(video, opts, unix_now())
    }

    /// Signs a token for `video` issued at `now` (unix seconds).
    pub(crate) fn sign_at(
        &self,
        video: &VideoId,
        opts: &TokenOptions,
        now: i64,
    ) -> Result<SignedToken, Error> {
        let exp = opts.exp_or_default(now);
        let mut request = opts.request(now);
        request.exp = Some(exp);
        check(&request, now)?;
        let claims = Claims {
            sub: video.as_str(),
            kid: self.id.as_str(),
            exp,
            nbf: opts.nbf.unwrap_or(now - 60),
            downloadable: opts.downloadable,
            access_rules: opts.access_rules.as_deref(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.id.as_str().to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key).map(SignedToken::new).map_err(|e| {
            Error::build(format!("cannot sign a token with key '{}'", self.id)).with_source(e)
        })
    }
}

impl TryFrom<&SigningKey> for LocalSigningKey {
    type Error = Error;

    /// A created key (listed keys carry no `pem`: [`ErrorKind::Build`]).
    fn try_from(key: &SigningKey) -> Result<Self, Error> {
        let Some(pem) = &key.pem else {
            return Err(Error::build(format!(
                "signing key '{}' has no pem: only the answer that created it holds one",
                key.id
            )));
        };
        Self::new(key.id.clone(), pem)
    }
}

/// The claims of a locally signed token.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    kid: &'a str,
    exp: i64,
    nbf: i64,
    downloadable: bool,
    #[serde(rename = "accessRules", skip_serializing_if = "Option::is_none")]
    access_rules: Option<&'a [AccessRule]>,
}

/// Signs an RS256 token for `video` offline with `key`: header `{"alg":"RS256","kid":ID}`;
/// claims `sub` (the video), `kid`, `exp` (default one hour from now), `nbf` (default a minute
/// ago), `downloadable` and, if set, `accessRules`. `exp` more than 24 hours ahead fails with
/// [`ErrorKind::InvalidTokenRequest`].
pub fn sign_locally(
    video: &VideoId,
    key: &LocalSigningKey,
    opts: &TokenOptions,
) -> Result<SignedToken, Error> {
    key.sign(video, opts)
}

/// The signed form of a download URL: the video id segment
/// (`.../<VIDEO>/downloads/<FILE>`) replaced by `token`, everything else (scheme, host, the
/// rest of the path, `?filename=`) kept. A URL of another shape fails with
/// [`ErrorKind::Build`].
pub fn signed_url(download_url: &Url, token: &SignedToken) -> Result<Url, Error> {
    let bad = || {
        Error::build(format!(
            "cannot sign the url of '{}': its path is not .../VIDEO/downloads/FILE",
            download_url.host_str().unwrap_or("")
        ))
    };
    let segs: Vec<&str> = download_url.path_segments().ok_or_else(bad)?.collect();
    let n = segs.len();
    if n < 3 || segs[n - 2] != "downloads" || segs[n - 3].is_empty() || segs[n - 1].is_empty() {
        return Err(bad());
    }
    let mut out = download_url.clone();
    let mut new_segs: Vec<&str> = segs.clone();
    new_segs[n - 3] = token.expose();
    out.path_segments_mut().map_err(|()| bad())?.clear().extend(new_segs);
    Ok(out)
}

/// `endpoint`'s URL under the client's parsed base.
fn url_under(endpoint: &SigningEndpoint, base: &Url) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), endpoint.path()));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The secrets a signed-URL answer may hold, wherever its envelope is broken: the `token`, `pem`
/// and `jwk` strings of its `result` (or of each listed key).
fn secrets_in(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let items = match value.get("result") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    items
        .into_iter()
        .flat_map(|item| {
            ["token", "pem", "jwk"]
                .into_iter()
                .filter_map(|field| item.get(field).and_then(serde_json::Value::as_str))
        })
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A success whose envelope must carry a `result`.
fn required_result<T>(
    raw: &RawResponse,
    decoded: Result<Envelope<Option<T>>, cfstream_types::DecodeError>,
) -> Result<T, Error> {
    finish(raw, decoded)?.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidResponse,
            format!("http {}: the envelope has no result", raw.status),
        )
        .with_response(raw.status, raw.content_type().map(str::to_owned), &raw.body)
        .with_json_path("result")
    })
}

impl DownloadsApi<'_> {
    fn call(&self, endpoint: &SigningEndpoint, body: Option<Bytes>) -> Call {
        Call {
            tag: Tag::Signing(endpoint.operation()),
            method: endpoint.method(),
            url: url_under(endpoint, &self.client.inner.base),
            body,
        }
    }

    /// Creates a signed URL token for `video` through the API
    /// (`POST .../stream/{video}/token`). A request that breaks a documented rule (`exp` more
    /// than 24 hours ahead) fails with [`ErrorKind::InvalidTokenRequest`] before any request.
    pub async fn create_token(
        &self,
        video: &VideoId,
        opts: TokenOptions,
    ) -> Result<SignedToken, Error> {
        let now = unix_now();
        let request = opts.request(now);
        check(&request, now)
            .map_err(|e| e.with_signing_operation(SigningOperation::CreateToken))?;
        let body = serde_json::to_vec(&request)
            .map_err(|e| Error::build("cannot encode the token request").with_source(e))?;
        let call =
            self.call(&SigningEndpoint::create_token(self.account, video), Some(body.into()));
        let request_pem: Vec<String> = request.pem.iter().map(|p| p.expose().to_owned()).collect();
        let result: TokenResult = self
            .client
            .execute_call(&call, self.deadline, |raw| {
                required_result(raw, decode::<Envelope<Option<TokenResult>>>(&raw.body))
                    .map_err(|e| without_secrets(e, &secrets_in(&raw.body)))
            })
            .await
            .map_err(|e| without_secrets(e, &request_pem))?;
        Ok(result.token)
    }

    /// Creates a signing key (`POST .../stream/keys`). The answer holds its private key
    /// (`pem`, `jwk`): the only time the API shows it.
    pub async fn create_signing_key(&self) -> Result<SigningKey, Error> {
        let call = self.call(&SigningEndpoint::create_key(self.account), None);
        self.client
            .execute_call(&call, self.deadline, |raw| {
                required_result(raw, decode::<Envelope<Option<SigningKey>>>(&raw.body))
                    .map_err(|e| without_secrets(e, &secrets_in(&raw.body)))
            })
            .await
    }

    /// Lists the signing keys (`GET .../stream/keys`): ids and creation times.
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKey>, Error> {
        let call = self.call(&SigningEndpoint::list_keys(self.account), None);
        self.client
            .execute_call(&call, self.deadline, |raw| {
                finish(raw, decode::<SigningKeysEnvelope>(&raw.body))
                    .map_err(|e| without_secrets(e, &secrets_in(&raw.body)))
            })
            .await
    }

    /// Deletes the signing key `key` (`DELETE .../stream/keys/{key}`).
    pub async fn delete_signing_key(&self, key: &SigningKeyId) -> Result<(), Error> {
        let call = self.call(&SigningEndpoint::delete_key(self.account, key), None);
        self.client
            .execute_call(&call, self.deadline, |raw| {
                finish(raw, decode::<DeletedEnvelope>(&raw.body)).map(drop)
            })
            .await
    }
}

/// Where `fetch` gets a token for a video that requires signed URLs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Signing {
    /// The default: a signing key from [`ENV_SIGNING_KEY_ID`] and [`ENV_SIGNING_KEY_PEM`] when
    /// both are set (signed offline), else the token endpoint.
    #[default]
    Auto,
    /// Never: a file host that refuses the plain URL (401 or 403) fails the fetch with
    /// [`ErrorKind::SignedUrlRequired`].
    Never,
    /// Sign offline with this key.
    Key(LocalSigningKey),
    /// Always ask the token endpoint, whatever the environment holds.
    TokenEndpoint,
}

/// A token kept for reuse, and until when (`tokio::time`, so tests run in paused time).
struct Cached {
    token: SignedToken,
    fresh_until: tokio::time::Instant,
}

/// The tokens `fetch` obtained, by account and video, reused until [`TOKEN_REUSE_MARGIN`]
/// before they expire. Shared by the clones of a client.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<(AccountId, VideoId), Cached>>,
}

impl TokenCache {
    /// A still fresh token for `video`.
    pub(crate) fn get(&self, account: &AccountId, video: &VideoId) -> Option<SignedToken> {
        let map = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let c = map.get(&(account.clone(), video.clone()))?;
        (tokio::time::Instant::now() < c.fresh_until).then(|| c.token.clone())
    }

    /// Keeps `token`, which expires at `exp` (unix seconds), for `video`.
    pub(crate) fn put(&self, account: &AccountId, video: &VideoId, token: SignedToken, exp: i64) {
        let left = u64::try_from(exp.saturating_sub(unix_now())).unwrap_or(0);
        let fresh = Duration::from_secs(left).saturating_sub(TOKEN_REUSE_MARGIN);
        let fresh_until = tokio::time::Instant::now() + fresh;
        let mut map = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert((account.clone(), video.clone()), Cached { token, fresh_until });
    }

    /// Drops the token of `video` (the file host refused it).
    pub(crate) fn forget(&self, account: &AccountId, video: &VideoId) {
        let mut map = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&(account.clone(), video.clone()));
    }
}

/// A fresh `downloadable` token for `video` from `signing`'s source (not [`Signing::Never`]),
/// and its `exp`.
pub(crate) async fn obtain(
    api: &DownloadsApi<'_>,
    signing: &Signing,
    video: &VideoId,
) -> Result<(SignedToken, i64), Error> {
    let now = unix_now();
    let opts = TokenOptions::default().expires_at(now + DEFAULT_TOKEN_LIFETIME.as_secs() as i64);
    let exp = opts.exp_or_default(now);
    let local = match signing {
        Signing::Key(k) => Some(k.clone()),
        Signing::Auto => LocalSigningKey::from_env()?,
        Signing::TokenEndpoint | Signing::Never => None,
    };
    let token = match local {
        Some(key) => {
            tracing::debug!(key = %key.id(), "signing a token locally");
            key.sign_at(video, &opts, now)?
        }
        None => {
            tracing::debug!("asking the token endpoint for a token");
            api.create_token(video, opts).await?
        }
    };
    Ok((token, exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::redact_text;
    use proptest::prelude::*;

    fn token() -> SignedToken {
        SignedToken::new("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_")
    }

    proptest! {
        /// Only the video id segment changes; host, port, the rest of the path and the query
        /// are kept as they were.
        #[test]
        fn signing_changes_only_the_video_segment(
            host in "customer-[a-z0-9]{1,16}\\.cloudflarestream\\.com",
            prefix in proptest::collection::vec("[a-z0-9]{1,8}", 0..3),
            video in "[0-9a-f]{32}",
            file in prop_oneof!["default\\.mp4", "audio\\.m4a"],
            filename in proptest::option::of("[A-Za-z0-9_-]{1,20}"),
        ) {
            let mut s = format!("https://{host}/");
            for p in &prefix {
                s.push_str(p);
                s.push('/');
            }
            s.push_str(&format!("{video}/downloads/{file}"));
            if let Some(f) = &filename {
                s.push_str(&format!("?filename={f}"));
            }
            let url = Url::parse(&s).unwrap();
            let t = token();
            let signed = signed_url(&url, &t).unwrap();
            prop_assert_eq!(signed.scheme(), url.scheme());
            prop_assert_eq!(signed.host_str(), url.host_str());
            prop_assert_eq!(signed.port(), url.port());
            prop_assert_eq!(signed.query(), url.query());
            let before: Vec<&str> = url.path_segments().unwrap().collect();
            let after: Vec<&str> = signed.path_segments().unwrap().collect();
            prop_assert_eq!(before.len(), after.len());
            let n = before.len();
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                if i == n - 3 {
                    prop_assert_eq!(*b, video.as_str());
                    prop_assert_eq!(*a, t.expose());
                } else {
                    prop_assert_eq!(b, a);
                }
            }
        }
    }

    #[test]
    fn signed_url_is_the_documented_form() {
        let url = Url::parse(
            "https://customer-abc.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4?filename=clip",
        )
        .unwrap();
        assert_eq!(
            signed_url(&url, &SignedToken::new("a.b.c")).unwrap().as_str(),
            "https://customer-abc.cloudflarestream.com/a.b.c/downloads/default.mp4?filename=clip"
        );
        // An empty video or file segment is no download URL either.
        for bad in [
            "https://h/x/default.mp4",
            "https://h/v/uploads/default.mp4",
            "https://h/",
            "https://h//downloads/default.mp4",
            "https://h/ea95132c15732412d22c1476fa83f27a/downloads/",
        ] {
            let e = signed_url(&Url::parse(bad).unwrap(), &token()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Build);
            assert_eq!(
                e.to_string(),
                "cannot sign the url of 'h': its path is not .../VIDEO/downloads/FILE"
            );
        }
    }

    #[test]
    fn secrets_are_found_in_results_and_redacted_whole_or_cut() {
        let body = br#"{"result":[{"id":"k","pem":"UEVNLTEtc2VjcmV0","jwk":""},{"token":"t.o.k.e.n.1"}],"token":"not-in-result"}"#;
        let secrets = secrets_in(body);
        assert_eq!(secrets, ["UEVNLTEtc2VjcmV0", "t.o.k.e.n.1"]);
        assert_eq!(secrets_in(b"{\"result\":{\"token\":7}}"), Vec::<String>::new());
        assert_eq!(secrets_in(b"<html>"), Vec::<String>::new());
        assert_eq!(
            redact_text("a UEVNLTEtc2VjcmV0 b t.o.k.e.n.1", &secrets),
            "a [redacted] b [redacted]"
        );
        // A snippet that ends inside a secret: its start is replaced, down to 8 characters.
        assert_eq!(redact_text(r#"{"pem":"UEVNLTEtc2Vj"#, &secrets), r#"{"pem":"[redacted]"#);
        assert_eq!(redact_text(r#"{"pem":"UEVNLTE"#, &secrets), r#"{"pem":"UEVNLTE"#);
    }

    #[test]
    fn options_make_the_documented_request() {
        let now = 1_700_000_000;
        let r = TokenOptions::default().request(now);
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"downloadable":true}"#);
        let r = TokenOptions::default()
            .downloadable(false)
            .expires_in(Duration::from_secs(90))
            .not_before(now - 5)
            .original(true)
            .request(now);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"downloadable": false, "exp": now + 90, "nbf": now - 5, "flags": {"original": true}})
        );
        assert_eq!(TokenOptions::default().exp_or_default(now), now + 3600);
        assert_eq!(TokenOptions::default().expires_at(7).exp_or_default(now), 7);
        let key: SigningKeyId = "ab".parse().unwrap();
        let r = TokenOptions::default().signing_key(key, Secret::new("cGVt")).request(now);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"downloadable":true,"id":"ab","pem":"cGVt"}"#
        );
    }

    #[test]
    fn keys_never_print_and_bad_keys_name_only_the_id() {
        let id: SigningKeyId = "8f926b2b2b2e4b1db2ad6f9e4b1d6b8e".parse().unwrap();
        let e = LocalSigningKey::new(id.clone(), &Secret::new("!!not-base64-S3CRET")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Build);
        assert_eq!(
            e.to_string(),
            "invalid signing key '8f926b2b2b2e4b1db2ad6f9e4b1d6b8e': its pem is neither base64 nor a PEM text"
        );
        let not_rsa = base64::engine::general_purpose::STANDARD.encode("S3CRET but no key");
        let e = LocalSigningKey::new(id, &Secret::new(not_rsa)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid signing key '8f926b2b2b2e4b1db2ad6f9e4b1d6b8e': its pem does not hold a PEM RSA private key"
        );
        assert!(!format!("{e:?}").contains("S3CRET"));
    }

    #[test]
    fn env_keys_go_in_pairs_and_errors_name_variables_only() {
        let only = |name: &'static str| move |k: &str| (k == name).then(|| "S3CRET".to_owned());
        assert!(LocalSigningKey::from_lookup(|_| None).unwrap().is_none());
        assert!(LocalSigningKey::from_lookup(|_| Some(" ".into())).unwrap().is_none());
        let e = LocalSigningKey::from_lookup(only(ENV_SIGNING_KEY_ID)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CFSTREAM_SIGNING_KEY_ID is set but CFSTREAM_SIGNING_KEY_PEM is not (the two go together)"
        );
        let e = LocalSigningKey::from_lookup(only(ENV_SIGNING_KEY_PEM)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CFSTREAM_SIGNING_KEY_PEM is set but CFSTREAM_SIGNING_KEY_ID is not (the two go together)"
        );
        let e = LocalSigningKey::from_lookup(|k| {
            Some(if k == ENV_SIGNING_KEY_ID { "../x".into() } else { "S3CRET".into() })
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("invalid CFSTREAM_SIGNING_KEY_ID: "), "{e}");
        assert!(!format!("{e:?}").contains("S3CRET"));
    }

    #[test]
    fn the_signing_kinds_have_stable_names_and_never_retry() {
        for (kind, name) in [
            (ErrorKind::InvalidTokenRequest, "invalid_token_request"),
            (ErrorKind::SignedUrlRequired, "signed_url_required"),
        ] {
            assert_eq!(kind.as_str(), name);
            assert!(!Error::new(kind, "x").with_status(401).is_retryable());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_reuses_a_token_until_shortly_before_it_expires() {
        let cache = TokenCache::default();
        let a: AccountId = "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap();
        let v: VideoId = "ea95132c15732412d22c1476fa83f27a".parse().unwrap();
        assert_eq!(cache.get(&a, &v), None);
        cache.put(&a, &v, token(), unix_now() + 3600);
        assert_eq!(cache.get(&a, &v), Some(token()));
        // 54 minutes on: still fresh; past 55 (the 5-minute margin before exp): gone.
        tokio::time::advance(Duration::from_secs(54 * 60)).await;
        assert_eq!(cache.get(&a, &v), Some(token()));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get(&a, &v), None);
        cache.put(&a, &v, token(), unix_now() + 3600);
        cache.forget(&a, &v);
        assert_eq!(cache.get(&a, &v), None);
    }
}
