//! [`ClientBuilder`]: every setting of a [`Client`], checked once by [`ClientBuilder::build`],
//! and the base URL's rules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cfstream_types::auth::{CredentialsError, ENV_API_TOKEN};
use cfstream_types::{Credentials, DEFAULT_BASE_URL, Url};
use reqwest::header::{HeaderName, HeaderValue};

use crate::client::{Client, Inner};
use crate::error::Error;
use crate::policy::{Limiter, RateLimit, RetryConfig, TokenBucket};
use crate::redact::credential_secrets;
use crate::reporter::{NoopReporter, Reporter};
use crate::signing::TokenCache;

/// Configures a [`Client`]. Every setting is checked by [`ClientBuilder::build`].
#[derive(Default)]
pub struct ClientBuilder {
    credentials: Option<Credentials>,
    base_url: Option<String>,
    connect_timeout: Option<Option<Duration>>,
    attempt_timeout: Option<Option<Duration>>,
    operation_timeout: Option<Option<Duration>>,
    retry: Option<RetryConfig>,
    rate_limit: Option<RateLimit>,
    user_agent: Option<String>,
    reqwest: Option<reqwest::Client>,
    reporter: Option<Arc<dyn Reporter>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("credentials", &self.credentials.as_ref().map(Credentials::scheme))
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// How requests authenticate (required).
    #[must_use]
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = Some(c);
        self
    }

    /// The API's base URL, such as an emulator's `http://127.0.0.1:8080/client/v4`. It must be
    /// `http` or `https` with a host, and carry no credentials, query or fragment.
    #[must_use]
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = Some(url.as_ref().to_owned());
        self
    }

    /// The time limit for opening a connection (applies only to the client this builder makes,
    /// not to one given with [`ClientBuilder::reqwest_client`]).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(Some(d));
        self
    }

    /// The time limit for one attempt: send, then read the whole answer. For `fetch`, the
    /// limit for the response headers and for each gap between body chunks.
    #[must_use]
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.attempt_timeout = Some(Some(d));
        self
    }

    /// The time limit for a whole API call, retries and their backoff included (not for
    /// `fetch`, whose length depends on the file, nor `wait_ready`, which has its own; bound
    /// those with [`crate::DownloadsApi::deadline`]).
    ///
    /// It is a deadline: no attempt runs past it, and a wait that would end past it (the rate
    /// limiter's, a backoff, a server's `Retry-After`) is not begun; the call answers at once
    /// with the error at hand ([`crate::ErrorKind::Timeout`] for the limiter, with
    /// [`crate::Error::retry_after`] telling when the next request would be allowed).
    #[must_use]
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.operation_timeout = Some(Some(d));
        self
    }

    /// Turns off the connect, attempt and operation timeouts (for callers that set their own
    /// deadlines, and for tests in virtual time, where a pending timer can fire while a
    /// response from another thread is on its way).
    #[must_use]
    pub fn without_timeouts(mut self) -> Self {
        self.connect_timeout = Some(None);
        self.attempt_timeout = Some(None);
        self.operation_timeout = Some(None);
        self
    }

    /// How failed attempts are retried.
    #[must_use]
    pub fn retry(mut self, r: RetryConfig) -> Self {
        self.retry = Some(r);
        self
    }

    /// The client-side rate limit, shared by clones of the client.
    #[must_use]
    pub fn rate_limit(mut self, r: RateLimit) -> Self {
        self.rate_limit = Some(r);
        self
    }

    /// The `User-Agent` header (default `cfstream/<version>`).
    #[must_use]
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sends through this `reqwest::Client` (its own timeouts, proxy and TLS settings apply).
    /// Prefer one that does not follow redirects: a redirect to another host would carry the
    /// `X-Auth-Key` header there.
    #[must_use]
    pub fn reqwest_client(mut self, c: reqwest::Client) -> Self {
        self.reqwest = Some(c);
        self
    }

    /// Where retry events of the API calls are reported, and a fetch's events when its
    /// [`crate::FetchOptions`] name no reporter (default: nowhere).
    #[must_use]
    pub fn reporter(mut self, r: Arc<dyn Reporter>) -> Self {
        self.reporter = Some(r);
        self
    }

    /// Fills what is unset from environment variables read through `lookup`:
    /// `CLOUDFLARE_API_TOKEN` (preferred), else `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY` (read
    /// by [`Credentials::from_lookup`], the one reader of them); and `CLOUDFLARE_BASE_URL`.
    /// Fails naming the variables, never their values, when no credentials are found.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        if self.credentials.is_none() {
            let read = Credentials::from_lookup(&lookup).map_err(|e| {
                // The error names variables, never values.
                let msg = match e {
                    CredentialsError::Missing => e.to_string(),
                    _ => format!("{e} (or set {ENV_API_TOKEN})"),
                };
                Error::build(msg)
            })?;
            self.credentials = Some(read.credentials);
        }
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if self.base_url.is_none() {
            self.base_url = var("CLOUDFLARE_BASE_URL").map(|s| s.trim().to_owned());
        }
        Ok(self)
    }

    /// Checks the settings and makes the client.
    pub fn build(self) -> Result<Client, Error> {
        let credentials = self
            .credentials
            .ok_or_else(|| Error::build("no credentials: call ClientBuilder::credentials"))?;
        let base = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        let auth = credentials
            .headers()
            .into_iter()
            .map(|(name, value)| {
                let mut v = HeaderValue::from_str(&value).map_err(|_| {
                    // Never echo the value: it may be the secret.
                    Error::build(format!(
                        "invalid {} credentials: the {name} header value holds characters that cannot be sent",
                        credentials.scheme()
                    ))
                })?;
                v.set_sensitive(true);
                Ok((HeaderName::from_static(name), v))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let ua =
            self.user_agent.unwrap_or_else(|| format!("cfstream/{}", env!("CARGO_PKG_VERSION")));
        let user_agent = HeaderValue::from_str(&ua).map_err(|_| {
            Error::build(format!("invalid user agent {ua:?}: not a valid header value"))
        })?;
        let connect_timeout = self.connect_timeout.unwrap_or(Some(Duration::from_secs(10)));
        let attempt_timeout = self.attempt_timeout.unwrap_or(Some(Duration::from_secs(30)));
        let operation_timeout = self.operation_timeout.unwrap_or(Some(Duration::from_secs(120)));
        let http = match self.reqwest {
            Some(c) => c,
            None => {
                let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
                if let Some(t) = connect_timeout {
                    b = b.connect_timeout(t);
                }
                b.build()
                    .map_err(|e| Error::build("cannot build the HTTP client").with_source(e))?
            }
        };
        let retry = self.retry.unwrap_or_default();
        let limiter = Limiter::new(&self.rate_limit.unwrap_or_default())?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                scheme: credentials.scheme(),
                user_agent,
                connect_timeout,
                attempt_timeout,
                operation_timeout,
                bucket: TokenBucket::new(retry.bucket_capacity),
                retry,
                limiter,
                reporter: self.reporter.unwrap_or_else(|| Arc::new(NoopReporter)),
                tokens: TokenCache::default(),
                secrets: credential_secrets(&credentials),
            }),
        })
    }
}

/// Checks a base URL; the message names it (with any password masked).
fn parse_base_url(s: &str) -> Result<Url, Error> {
    let bad = |shown: &str, why: &str| Error::build(format!("invalid base url '{shown}': {why}"));
    let url = Url::parse(s).map_err(|e| bad(s, &e.to_string()))?;
    let mut shown = url.clone();
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    let shown = shown.as_str().to_owned();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&shown, "the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(&shown, "it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(&shown, "it must not carry credentials; use ClientBuilder::credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(&shown, "it must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Each setting reaches the client it builds (and the defaults hold when unset); the
    /// builder's `Debug` shows every setting but names only the credentials' scheme.
    #[test]
    fn every_setting_reaches_the_client_and_debug_hides_the_secret() {
        let builder = Client::builder()
            .credentials(Credentials::token("s3cr3t-token"))
            .base_url("http://127.0.0.1:9/client/v4")
            .connect_timeout(Duration::from_secs(3))
            .attempt_timeout(Duration::from_secs(4))
            .operation_timeout(Duration::from_secs(5))
            .user_agent("probe/1");
        assert_eq!(
            format!("{builder:?}"),
            "ClientBuilder { credentials: Some(\"api token\"), \
             base_url: Some(\"http://127.0.0.1:9/client/v4\"), connect_timeout: Some(Some(3s)), \
             attempt_timeout: Some(Some(4s)), operation_timeout: Some(Some(5s)), retry: None, \
             rate_limit: None, user_agent: Some(\"probe/1\"), .. }"
        );
        let set = builder.build().unwrap();
        let i = &set.inner;
        assert_eq!(i.base.as_str(), "http://127.0.0.1:9/client/v4");
        assert_eq!(
            (i.connect_timeout, i.attempt_timeout, i.operation_timeout),
            (
                Some(Duration::from_secs(3)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(5))
            )
        );
        assert_eq!(i.user_agent, "probe/1");
        assert_eq!(
            format!("{set:?}"),
            "Client { base_url: \"http://127.0.0.1:9/client/v4\", credentials: \"api token\", \
             user_agent: \"probe/1\", connect_timeout: Some(3s), attempt_timeout: Some(4s), \
             operation_timeout: Some(5s), retry: RetryConfig { max_attempts: 4, \
             initial_backoff: 1s, max_backoff: 20s, bucket_capacity: 500, jitter: \"full\" }, \
             limiter: Limiter { limited: true }, .. }"
        );

        let defaults = Client::builder().credentials(Credentials::token("t")).build().unwrap();
        let d = &defaults.inner;
        assert_eq!(d.base.as_str(), DEFAULT_BASE_URL);
        assert_eq!(
            (d.connect_timeout, d.attempt_timeout, d.operation_timeout),
            (
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(120))
            )
        );
        assert_eq!(d.user_agent, concat!("cfstream/", env!("CARGO_PKG_VERSION")));

        let off = Client::builder()
            .credentials(Credentials::token("t"))
            .connect_timeout(Duration::from_secs(3))
            .without_timeouts()
            .build()
            .unwrap();
        let o = &off.inner;
        assert_eq!((o.connect_timeout, o.attempt_timeout, o.operation_timeout), (None, None, None));
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("http://127.0.0.1:8080/client/v4").is_ok());
        for (bad, why) in [
            ("not a url", "invalid base url 'not a url'"),
            ("ftp://x/y", "scheme"),
            ("http://u:hunter2@x/", "credentials"),
            ("http://u@x/", "credentials"),
            ("http://:hunter2@x/", "credentials"),
            ("http://x/#f", "fragment"),
            ("http://x/?a=b", "query"),
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Build);
            assert!(e.to_string().contains(why), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn env_names_what_is_missing() {
        let none = |_: &str| None;
        let e = Client::from_lookup(none).unwrap_err();
        assert!(
            e.to_string().contains("CLOUDFLARE_API_TOKEN")
                && e.to_string().contains("CLOUDFLARE_API_KEY"),
            "{e}"
        );
        let e = Client::from_lookup(|k| (k == "CLOUDFLARE_EMAIL").then(|| "me@x".to_owned()))
            .unwrap_err();
        assert!(e.to_string().contains("CLOUDFLARE_API_KEY is not"), "{e}");
        let c = Client::from_lookup(|k| match k {
            "CLOUDFLARE_API_TOKEN" => Some("t0k3n".into()),
            "CLOUDFLARE_BASE_URL" => Some("http://127.0.0.1:9/client/v4".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/client/v4");
        assert!(!format!("{c:?}").contains("t0k3n"));
    }

    /// The variables are read by `Credentials::from_lookup`; the client's errors keep naming
    /// the variables, never a value.
    #[test]
    fn env_errors_are_exact_and_hold_no_value() {
        let only =
            |name: &'static str| move |k: &str| (k == name).then(|| "s3cr3t-value".to_owned());
        for (lookup, text) in [
            (
                Client::from_lookup(|_| Some("  ".into())).unwrap_err(),
                "no credentials: none of CLOUDFLARE_API_TOKEN, CLOUDFLARE_EMAIL, CLOUDFLARE_API_KEY is set",
            ),
            (
                Client::from_lookup(only("CLOUDFLARE_EMAIL")).unwrap_err(),
                "CLOUDFLARE_EMAIL is set but CLOUDFLARE_API_KEY is not (or set CLOUDFLARE_API_TOKEN)",
            ),
            (
                Client::from_lookup(only("CLOUDFLARE_API_KEY")).unwrap_err(),
                "CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not (or set CLOUDFLARE_API_TOKEN)",
            ),
        ] {
            assert_eq!(lookup.kind(), ErrorKind::Build);
            assert_eq!(lookup.to_string(), text);
            assert!(!format!("{lookup:?}").contains("s3cr3t"), "{lookup:?}");
        }
        let both = Client::from_lookup(|k| match k {
            "CLOUDFLARE_API_TOKEN" => Some(" tok ".into()),
            "CLOUDFLARE_EMAIL" => Some("me@x".into()),
            "CLOUDFLARE_API_KEY" => Some("key".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(both.inner.scheme, Credentials::token("tok").scheme(), "the token wins");
    }
}
