//! The one router every request goes through: input bounds and the request log first, then
//! admin routes (`/__emulator/`), the download file route, and the API, whose pipeline is
//! here in order: route (7003), method (405 + `Allow`), rate limit, credentials, injected
//! faults, then the operation (`api.rs`).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use cfstream_types::endpoint::match_path;
use cfstream_types::{ErrorCode, Method, Operation};
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;
use tower::ServiceExt as _;
use tracing::Instrument;

use crate::api;
use crate::conn::{ClientAddr, ConnControl};
use crate::faults::{self, FaultRoute};
use crate::input::{MAX_HEADERS, MAX_URI};
use crate::ratelimit::Verdict;
use crate::respond::{self, failure};
use crate::shared::Shared;
use crate::{admin, auth, files, signing};

/// The `server` header on every answer of ours; its absence marks hyper's own answers.
pub(crate) const SERVER: &str = "cfstream-emulator";

/// The API's path prefix (the base URL's path).
pub(crate) const PREFIX: &str = "/client/v4";

/// The admin routes (`/__emulator/...`), with the file route and the API as their fallback
/// for the paths under `/__emulator/` that no admin route takes. Requests reach it through
/// [`handle`].
pub(crate) fn admin_app(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(admin::routes(shared.clone()))
        .fallback(dispatch)
        .method_not_allowed_fallback(admin_method_not_allowed)
        .with_state(shared)
}

async fn admin_method_not_allowed(req: Request) -> Response {
    // axum adds the `Allow` header of the matched admin route.
    respond::method_not_allowed(req.method(), &[])
}

/// What a connection's requests share: cloned once per request, so that the refcounts
/// every connection shares (of [`Shared`], of the admin router) are not touched per request.
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    /// The admin routes (see [`admin_app`]).
    pub(crate) admin_app: Router,
    pub(crate) control: Arc<ConnControl>,
    pub(crate) client: ClientAddr,
}

/// Every request: bounds the request line and headers, answers it (the admin router for
/// `/__emulator/` paths, [`dispatch`] directly for the rest: the API and file routes skip
/// axum's routing and middleware layers, which cost more than the operations themselves),
/// logs it on a span and records it.
pub(crate) async fn handle(ctx: Arc<ConnCtx>, mut req: Request) -> Response {
    let shared = &ctx.shared;
    // The latency is only logged: no clock read for it when nothing would log it.
    let started = tracing::enabled!(tracing::Level::INFO).then(std::time::Instant::now);
    let method = req.method().clone();
    // A clone of the URI shares its bytes (a refcount of this connection's read buffer): the
    // logged path is cut from it without an allocation of its own in the common case.
    let uri = req.uri().clone();
    let full = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = cut(loggable(full), 256);
    let span = tracing::info_span!("request", method = %method, path = %path);
    let uri_len = full.len();
    let header_len: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    let mut res = if uri_len > MAX_URI {
        failure(
            StatusCode::URI_TOO_LONG,
            ErrorCode::InvalidRequest,
            format!("request path too long: {uri_len} bytes, at most {MAX_URI}"),
        )
    } else if header_len > MAX_HEADERS {
        failure(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("request headers too large: {header_len} bytes, at most {MAX_HEADERS}"),
        )
    } else if req.uri().path().starts_with(ADMIN_PREFIX) {
        // Only these pay for extensions: the admin router's fallback reads them.
        req.extensions_mut().insert(ctx.control.clone());
        req.extensions_mut().insert(ctx.client);
        // Boxed: axum's routing future is large, and an unboxed one would make every
        // request's future as large (hyper moves it into place for each request).
        match Box::pin(ctx.admin_app.clone().oneshot(req).instrument(span.clone())).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    } else {
        dispatch_from(shared, req, Some(ctx.control.clone()), Some(ctx.client))
            .instrument(span.clone())
            .await
    };
    if uri_len > MAX_URI || header_len > MAX_HEADERS {
        // Whoever sends that much is better off on a fresh connection.
        res.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    res.headers_mut().insert(http::header::SERVER, HeaderValue::from_static(SERVER));
    let status = res.status().as_u16();
    if let Some(started) = started {
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        span.in_scope(|| tracing::info!(status, latency_ms, "answered"));
    }
    shared.record(method, &path, status);
    res
}

/// The path prefix of the admin routes.
const ADMIN_PREFIX: &str = "/__emulator/";

/// `text` cut to `max` characters.
fn cut(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        // No more bytes than `max`, so no more characters: nothing to count.
        return text;
    }
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(text[..end].to_owned()),
        None => text,
    }
}

/// Everything the admin routes do not take, as their fallback: the connection comes in the
/// request's extensions.
async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let control = req.extensions().get::<Arc<ConnControl>>().cloned();
    let client = req.extensions().get::<ClientAddr>().copied();
    dispatch_from(&shared, req, control, client).await
}

/// The file route, then the API. `control` and `client` are the request's connection and its
/// peer (absent for requests that did not come through our accept loop).
async fn dispatch_from(
    shared: &Arc<Shared>,
    req: Request,
    control: Option<Arc<ConnControl>>,
    client: Option<ClientAddr>,
) -> Response {
    if files::route(req.uri().path()).is_some() {
        // The parts, not the request: a body is not `Sync`, so a borrowed request could not be
        // held across the fault's await.
        let (parts, _) = req.into_parts();
        if !files::allows(&parts.method) {
            return respond::method_not_allowed(&parts.method, &["GET", "HEAD"]);
        }
        let fault = shared.faults.draw(FaultRoute::File);
        let peer = client.map(|c| c.0);
        return faults::answer(fault, control, async { files::answer(shared, &parts, peer) }).await;
    }
    let verdict = if shared.limiter.is_on() {
        // Requests that did not come through our accept loop have no address: one bucket.
        let client = client.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
        let key = auth::rate_key(req.headers(), &shared.credentials, client);
        shared.limiter.check(key, Instant::now())
    } else {
        Verdict::Off
    };
    let mut res = match verdict {
        Verdict::Blocked { limit, reset_secs } => respond::rate_limited(
            reset_secs,
            format!(
                "rate limited: more than {limit} requests in this window; retry in {reset_secs} s"
            ),
        ),
        Verdict::Off | Verdict::Allowed { .. } => route_api(shared, req, control).await,
    };
    let (limit, remaining, reset) = match verdict {
        Verdict::Off => return res,
        Verdict::Allowed { limit, remaining, reset_secs } => (limit, remaining, reset_secs),
        Verdict::Blocked { limit, reset_secs } => (limit, 0, reset_secs),
    };
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset));
    res
}

/// Route, method, credentials, faults, then the operation.
async fn route_api(
    shared: &Arc<Shared>,
    req: Request,
    control: Option<Arc<ConnControl>>,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let rel = match path.strip_prefix(PREFIX) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    };
    let Some((op, params)) = Operation::match_request(parts.method.as_str(), rel) else {
        // Boxed, as the signing operations' futures are large (see `handle`).
        return Box::pin(route_signing(shared, &parts, rel, body, control)).await;
    };

    // Credentials come before faults: an injected fault may turn an answer into garbage, but
    // it must never let a request without valid credentials get a 2XX.
    if let Err(denied) = auth::check(&parts.headers, &shared.credentials) {
        return denied.response();
    }
    let fault = shared.faults.draw(FaultRoute::Api(op));
    let conn = control.clone();
    faults::answer(fault, control, api::operate(shared, conn.as_deref(), op, &params, body)).await
}

/// The signed-URL operations (from the types' `SigningOperation` table) through the same
/// pipeline as the downloads ones; then 405 or 7003 for a path none of them takes.
async fn route_signing(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    rel: &str,
    body: axum::body::Body,
    control: Option<Arc<ConnControl>>,
) -> Response {
    let signing = signing::matches(rel);
    let method = Method::from_request(parts.method.as_str());
    let found = signing.iter().find(|(op, _)| Some(op.method()) == method);
    let Some(&(op, params)) = found else {
        let mut allowed = Vec::new();
        let mut allow = |m: Method| match m {
            Method::Get => allowed.extend(["GET", "HEAD"]),
            other => allowed.push(other.as_str()),
        };
        if let Some(params) = match_path(rel) {
            Operation::allowed(params.typed()).for_each(|op| allow(op.method()));
        }
        signing.iter().for_each(|(op, _)| allow(op.method()));
        if allowed.is_empty() {
            return respond::no_route();
        }
        return respond::method_not_allowed(&parts.method, &allowed);
    };
    if let Err(denied) = auth::check(&parts.headers, &shared.credentials) {
        return denied.response();
    }
    let fault = shared.faults.draw(FaultRoute::Signing(op));
    faults::answer(fault, control, signing::operate(shared, op, params, body)).await
}

/// The path to log: a signed file URL's token (a bearer credential) is replaced by `[token]`.
fn loggable(full: &str) -> Cow<'_, str> {
    if !full.contains('.') {
        // No file route's name (`default.mp4`) and no token (three dot-separated parts): the
        // API's paths, as they are, without routing them twice.
        return full.into();
    }
    let (path, query) = full.split_once('?').map_or((full, None), |(p, q)| (p, Some(q)));
    match files::route(path) {
        Some((uid, file)) if signing::looks_like_token(uid) => {
            let q = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("/[token]/downloads/{file}{q}").into()
        }
        _ => full.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_is_matched_by_segment() {
        let p = match_path("/accounts/a/stream/b/downloads").unwrap();
        assert_eq!((p.account_id, p.identifier, p.download_type), ("a", "b", None));
        let (op, p) =
            Operation::match_request("POST", "/accounts/a/stream/b/downloads/audio").unwrap();
        assert_eq!((op, p.download_type), (Operation::CreateType, Some("audio")));
        for miss in [
            "/accounts//stream/b/downloads",
            "/accounts/a/stream/b/downloads/",
            "/accounts/a/streams/b/downloads",
            "/",
        ] {
            assert!(match_path(miss).is_none(), "{miss}");
        }
    }

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(
            loggable("/aa.bb.cc/downloads/default.mp4?filename=x"),
            "/[token]/downloads/default.mp4?filename=x"
        );
        assert_eq!(loggable("/aa.bb.cc/downloads/audio.m4a"), "/[token]/downloads/audio.m4a");
        assert_eq!(loggable("/abc/downloads/default.mp4"), "/abc/downloads/default.mp4");
        assert_eq!(
            loggable("/client/v4/accounts/a/stream/b/token"),
            "/client/v4/accounts/a/stream/b/token"
        );
    }

    #[test]
    fn logged_paths_are_cut_to_256_characters() {
        let long = format!("/{}", "é".repeat(300));
        let cut_long = cut(long.as_str().into(), 256);
        assert_eq!(cut_long.chars().count(), 256);
        assert_eq!(cut_long, long.chars().take(256).collect::<String>());
        assert_eq!(cut("/short".into(), 256), "/short");
        assert_eq!(cut("abc".into(), 3), "abc");
    }
}
