//! Building answers: Cloudflare's success and failure envelopes, and the injected fault
//! answers. Every failure has `success: false`, one error `{code, message}`, `messages: []`
//! and `result: null`, as `application/json`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use cfstream_types::{ApiMessage, Envelope, ErrorCode};
use futures::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

/// `application/json`.
pub(crate) const JSON: &str = "application/json";

/// A JSON answer with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    // Most answers fit: one allocation instead of a few regrowths.
    let mut bytes = Vec::with_capacity(256);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => (status, [(CONTENT_TYPE, HeaderValue::from_static(JSON))], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize an answer");
            let body = br#"{"success":false,"errors":[{"code":10500,"message":"internal error: cannot serialize the answer"}],"messages":[],"result":null}"#;
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(CONTENT_TYPE, HeaderValue::from_static(JSON))],
                &body[..],
            )
                .into_response()
        }
    }
}

/// The body of a success envelope around `result`, or `None` (logged) if it cannot be
/// serialized.
pub(crate) fn success_body<T: Serialize>(result: T) -> Option<bytes::Bytes> {
    let mut bytes = Vec::with_capacity(256);
    match serde_json::to_writer(&mut bytes, &Envelope::success(result)) {
        Ok(()) => Some(bytes.into()),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize an answer");
            None
        }
    }
}

/// A 200 JSON answer with a body already serialized.
pub(crate) fn json_ok(body: bytes::Bytes) -> Response {
    (StatusCode::OK, [(CONTENT_TYPE, HeaderValue::from_static(JSON))], body).into_response()
}

/// A success envelope around `result`.
pub(crate) fn success<T: Serialize>(result: T) -> Response {
    json(StatusCode::OK, &Envelope::success(result))
}

/// A failure envelope with one error.
pub(crate) fn failure(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    failure_with(status, ApiMessage::new(code, message))
}

/// A failure envelope with one error naming the request part at fault (`source.pointer`).
pub(crate) fn failure_at(
    status: StatusCode,
    code: ErrorCode,
    message: impl Into<String>,
    pointer: &str,
) -> Response {
    failure_with(status, ApiMessage::new(code, message).with_pointer(pointer))
}

fn failure_with(status: StatusCode, error: ApiMessage) -> Response {
    json(status, &Envelope::<()>::failure(vec![error]))
}

/// 503 for a change that could not be saved to the state file (and was undone): the one 5XX
/// that is not an injected fault. The cause goes to the log, not to the client.
pub(crate) fn not_saved(e: &crate::error::Error) -> Response {
    tracing::error!(error = %e, "state not saved: the change is undone, answered 503");
    failure(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::from(10503),
        "the change could not be saved to the emulator's state file, so it was not made; retry later",
    )
}

/// 7003 "No route for the URI".
pub(crate) fn no_route() -> Response {
    failure(StatusCode::NOT_FOUND, ErrorCode::NoRoute, "No route for the URI")
}

/// 405 with `Allow` listing `allowed` (when `allowed` is empty, the caller's router adds it).
pub(crate) fn method_not_allowed(method: &http::Method, allowed: &[&str]) -> Response {
    let allow = allowed.join(", ");
    let message = if allowed.is_empty() {
        format!("method {method} is not allowed on this route")
    } else {
        format!("method {method} is not allowed on this route: use {allow}")
    };
    let mut res = failure(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed, message);
    if !allowed.is_empty()
        && let Ok(v) = HeaderValue::from_str(&allow)
    {
        res.headers_mut().insert(http::header::ALLOW, v);
    }
    res
}

/// The code of an injected status fault: `10000 + status`, the emulator's pattern (10404,
/// 10429...); 5XX codes are emulator-only.
pub(crate) fn status_code_for(status: StatusCode) -> ErrorCode {
    ErrorCode::from(10000 + u64::from(status.as_u16()))
}

/// 429 with `retry-after` (seconds).
pub(crate) fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Response {
    let mut res = failure(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, message);
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
    res
}

/// An HTML error page like the ones a proxy in front of an API sends.
pub(crate) fn html_error(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{code} {reason}</title></head>\n<body>\n<center><h1>{code} {reason}</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n"
    );
    (status, [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"))], body)
        .into_response()
}

/// 200 `application/json` with JSON cut off in the middle.
pub(crate) fn malformed_json() -> Response {
    let body =
        r#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"inprogr"#;
    (StatusCode::OK, [(CONTENT_TYPE, HeaderValue::from_static(JSON))], body).into_response()
}

/// The same answer with `content-type: text/plain`.
pub(crate) fn wrong_content_type(mut res: Response) -> Response {
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    res
}

/// The same answer announcing its full length but sending only half of its body before the
/// connection closes.
pub(crate) async fn truncated(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let known =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let (full, body) = match known {
        Some(n) => (n, body),
        // Buffer the (small, JSON) body to learn its length.
        None => match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
            Ok(bytes) => (bytes.len() as u64, Body::from(bytes)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot buffer a body to truncate it");
                return Response::from_parts(parts, Body::empty());
            }
        },
    };
    let stream = body.into_data_stream();
    let cut =
        futures::stream::unfold((stream, full / 2, false), |(mut stream, left, done)| async move {
            if done {
                return None;
            }
            let fail = || std::io::Error::other("injected fault: truncated body");
            if left == 0 {
                // Let the bytes sent so far reach the socket before failing the body, which makes
                // hyper close the connection.
                tokio::task::yield_now().await;
                return Some((Err(fail()), (stream, 0, true)));
            }
            match stream.next().await {
                Some(Ok(mut chunk)) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                    let part = chunk.split_to(take);
                    Some((Ok(part), (stream, left - take as u64, false)))
                }
                _ => Some((Err(fail()), (stream, 0, true))),
            }
        });
    // Keep the announced length: the client must see the body end early.
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(full));
    Response::from_parts(parts, Body::from_stream(cut))
}
