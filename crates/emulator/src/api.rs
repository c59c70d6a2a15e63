//! The five API operations (routed with the path templates of `cfstream_types::endpoint`,
//! under `/client/v4` and without it), the rate limit, and everything else that is not an
//! admin route: the download file route, unknown routes (7003) and wrong methods (405).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use cfstream_types::{
    AccountId, DownloadType, ErrorCode, IdError, IdRule, Method, Operation, VideoId,
};
use futures::StreamExt;
use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::auth;
use crate::faults::{Fault, FaultRoute};
use crate::files;
use crate::ratelimit::Verdict;
use crate::respond::{self, failure, failure_at};
use crate::server::ConnControl;
use crate::shared::{Shared, lock};
use crate::state::Missing;

/// The API's path prefix (the base URL's path).
pub(crate) const PREFIX: &str = "/client/v4";

/// The largest request body read (create takes an empty or JSON body).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// The answer to everything the admin routes do not take.
pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some((uid, file)) = files::route(req.uri().path()) {
        let (uid, file) = (uid.to_owned(), file.to_owned());
        return files::serve(&shared, req, &uid, &file).await;
    }
    let verdict = shared.limiter.check(auth::rate_key(req.headers()), Instant::now());
    let mut res = match verdict {
        Verdict::Blocked { limit, reset_secs } => respond::rate_limited(
            reset_secs,
            format!(
                "rate limited: more than {limit} requests in this window; retry in {reset_secs} s"
            ),
        ),
        Verdict::Off | Verdict::Allowed { .. } => api(&shared, req).await,
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

/// The path parameters of a matched operation, raw (ids are hex, so they never need
/// percent-decoding: an encoded id is an invalid one).
#[derive(Debug, Default)]
struct Params<'a> {
    account_id: &'a str,
    identifier: &'a str,
    download_type: Option<&'a str>,
}

/// Matches `segments` against a template like `/accounts/{account_id}/...`.
fn match_template<'a>(template: &str, segments: &[&'a str]) -> Option<Params<'a>> {
    let parts: Vec<&str> = template.split('/').skip(1).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Params::default();
    for (part, seg) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(_) if seg.is_empty() => return None,
            Some("account_id") => params.account_id = seg,
            Some("identifier") => params.identifier = seg,
            Some("download_type") => params.download_type = Some(seg),
            None if part == seg => {}
            // Another parameter name, or a literal segment that differs.
            Some(_) | None => return None,
        }
    }
    Some(params)
}

fn api_method(m: &http::Method) -> Option<Method> {
    match *m {
        http::Method::GET | http::Method::HEAD => Some(Method::Get),
        http::Method::POST => Some(Method::Post),
        http::Method::DELETE => Some(Method::Delete),
        _ => None,
    }
}

async fn api(shared: &Arc<Shared>, req: Request) -> Response {
    let path = req.uri().path();
    let rel = match path.strip_prefix(PREFIX) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    };
    let segments: Vec<&str> = rel.split('/').skip(1).collect();
    let matched: Vec<(Operation, Params<'_>)> = Operation::ALL
        .into_iter()
        .filter_map(|op| match_template(op.path_template(), &segments).map(|p| (op, p)))
        .collect();
    if matched.is_empty() {
        return respond::no_route();
    }
    let method = api_method(req.method());
    let Some((op, params)) = matched.into_iter().find(|(op, _)| Some(op.method()) == method) else {
        let typed = Operation::ALL
            .into_iter()
            .filter(|op| match_template(op.path_template(), &segments).is_some());
        let mut allowed = Vec::new();
        for op in typed {
            match op.method() {
                Method::Get => allowed.extend(["GET", "HEAD"]),
                other => allowed.push(other.as_str()),
            }
        }
        return respond::method_not_allowed(req.method(), &allowed);
    };
    let (account_id, identifier, download_type) = (
        params.account_id.to_owned(),
        params.identifier.to_owned(),
        params.download_type.map(str::to_owned),
    );
    let params = Params {
        account_id: &account_id,
        identifier: &identifier,
        download_type: download_type.as_deref(),
    };

    // Credentials come before faults: an injected fault may turn an answer into garbage, but
    // it must never let a request without valid credentials get a 2XX.
    if let Err(denied) = auth::check(req.headers(), &shared.credentials) {
        return denied.response();
    }
    let fault = next_fault(shared, FaultRoute::Api(op));
    if let Some(res) = pre_fault(&fault, req.extensions().get::<Arc<ConnControl>>().cloned()).await
    {
        return res;
    }
    let res = operate(shared, op, &params, req).await;
    post_fault(&fault, res).await
}

/// The fault for this request, if any rule fires.
pub(crate) fn next_fault(shared: &Shared, route: FaultRoute) -> Fault {
    let mut plan = lock(&shared.faults);
    if plan.is_empty() { Fault::Pass } else { plan.next(route) }
}

/// Answers a fault that replaces the answer; waits for a delay; `None` to go on.
pub(crate) async fn pre_fault(
    fault: &Fault,
    control: Option<Arc<ConnControl>>,
) -> Option<Response> {
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            Some(respond::rate_limited(*retry_after_secs, "rate limited (injected fault)"))
        }
        Fault::Status { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
            Some(failure(
                status,
                respond::status_code_for(status),
                format!("injected fault: {reason}"),
            ))
        }
        Fault::HtmlError { status } => Some(respond::html_error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
        )),
        Fault::MalformedJson => Some(respond::malformed_json()),
        Fault::ConnectionReset => {
            if let Some(control) = control {
                control.reset();
                // The connection task drops this request with its connection.
                std::future::pending::<()>().await;
            }
            // Not served by our accept loop: closing early is the nearest we can do.
            let res = respond::failure(
                StatusCode::BAD_GATEWAY,
                ErrorCode::from(10502),
                "injected fault: reset",
            );
            Some(respond::truncated(res).await)
        }
        Fault::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(*millis)).await;
            None
        }
        _ => None,
    }
}

/// Applies a fault that alters the normal answer.
pub(crate) async fn post_fault(fault: &Fault, res: Response) -> Response {
    match fault {
        Fault::TruncatedBody => respond::truncated(res).await,
        Fault::WrongContentType => respond::wrong_content_type(res),
        _ => res,
    }
}

/// The error for an id parameter that is too long (400), or the kind of lookup failure an
/// invalid id of valid length amounts to.
fn id_error(e: &IdError, param: &str) -> Option<Response> {
    match e.rule() {
        IdRule::TooLong { len } => Some(failure_at(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("invalid {param} '{}': must be at most 32 characters, found {len}", e.value()),
            param,
        )),
        _ => None,
    }
}

fn unknown_account(account: &str) -> Response {
    // What Cloudflare answers a token that has no access to the account.
    tracing::info!(account, "credentials accepted but the account is not in the emulator");
    auth::Denied::Wrong.response()
}

fn unknown_video(account: &str, video: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        ErrorCode::VideoNotFound,
        format!("video '{video}' not found in account '{account}'"),
    )
}

async fn operate(
    shared: &Arc<Shared>,
    op: Operation,
    params: &Params<'_>,
    req: Request,
) -> Response {
    let account = AccountId::new(params.account_id);
    let video = VideoId::new(params.identifier);
    if let Err(e) = &account
        && let Some(res) = id_error(e, "account_id")
    {
        return res;
    }
    if let Err(e) = &video
        && let Some(res) = id_error(e, "identifier")
    {
        return res;
    }
    let t = match params.download_type {
        None | Some("default") => DownloadType::Default,
        Some("audio") => DownloadType::Audio,
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            return failure_at(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                format!("invalid download_type '{shown}': must be default or audio"),
                "download_type",
            );
        }
    };
    let Ok(account) = account else { return unknown_account(params.account_id) };
    let Ok(video) = video else {
        return if shared.store().account(&account).is_none() {
            unknown_account(params.account_id)
        } else {
            unknown_video(params.account_id, params.identifier)
        };
    };
    if op.method() == Method::Post
        && let Err(res) = check_body(req.into_body()).await
    {
        return res;
    }
    let missing = |m: Missing| match m {
        Missing::Account => unknown_account(account.as_str()),
        Missing::Video => unknown_video(account.as_str(), video.as_str()),
    };
    let now = Instant::now();
    match op {
        Operation::List => match shared.store().list(&account, &video, now) {
            Ok(d) => respond::success(d),
            Err(m) => missing(m),
        },
        Operation::Create | Operation::CreateType => {
            let (result, snap) = {
                let mut store = shared.store();
                let result = store.create(&account, &video, &t, now);
                let snap = match &result {
                    Ok(Some((true, _))) => shared.snapshot(&store),
                    _ => None,
                };
                (result, snap)
            };
            shared.save(snap).await;
            match result {
                Ok(Some((_, d))) => respond::success(d),
                Ok(None) => failure(
                    StatusCode::CONFLICT,
                    ErrorCode::VideoNotReady,
                    format!(
                        "video '{video}' is not ready to stream yet: a download can be created once it is"
                    ),
                ),
                Err(m) => missing(m),
            }
        }
        Operation::Delete | Operation::DeleteType => {
            let (result, snap) = {
                let mut store = shared.store();
                let result = store.delete(&account, &video, &t);
                let snap = if matches!(result, Ok(true)) { shared.snapshot(&store) } else { None };
                (result, snap)
            };
            shared.save(snap).await;
            match result {
                // Deleting a download that does not exist is harmless: "ok", as a repeated
                // DELETE must be (idempotent).
                Ok(_) => respond::success("ok"),
                Err(m) => missing(m),
            }
        }
        _ => respond::no_route(),
    }
}

/// Reads a request body of at most `limit` bytes: more is 413, a broken stream 400.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::info!(error = %e, "cannot read a request body");
            failure_at(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "cannot read the request body",
                "body",
            )
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(failure_at(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                format!("request body too large: at most {limit} bytes"),
                "body",
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A create takes no body, or a JSON one (the older spec sent `{}`); anything else is 400, and
/// more than [`MAX_BODY`] bytes 413.
async fn check_body(body: Body) -> Result<(), Response> {
    let buf = read_body(body, MAX_BODY).await?;
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&buf) {
        Ok(_) => Ok(()),
        Err(e) => Err(failure_at(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("request body must be empty or JSON: {e}"),
            "body",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_segment() {
        let segs = |p: &'static str| p.split('/').skip(1).collect::<Vec<_>>();
        let p = match_template(
            Operation::List.path_template(),
            &segs("/accounts/a/stream/b/downloads"),
        )
        .unwrap();
        assert_eq!((p.account_id, p.identifier, p.download_type), ("a", "b", None));
        let p = match_template(
            Operation::CreateType.path_template(),
            &segs("/accounts/a/stream/b/downloads/audio"),
        )
        .unwrap();
        assert_eq!(p.download_type, Some("audio"));
        for miss in [
            "/accounts//stream/b/downloads",
            "/accounts/a/stream/b/downloads/",
            "/accounts/a/streams/b/downloads",
            "/",
        ] {
            assert!(
                match_template(Operation::List.path_template(), &segs(miss)).is_none(),
                "{miss}"
            );
        }
    }
}
