//! The five API operations, once a request is routed, authenticated and past its faults:
//! parameter checks, then the work on the store, then the answer.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use cfstream_types::endpoint::PathParams;
use cfstream_types::{
    AccountId, DownloadType, ErrorCode, IdError, IdRule, Method, Operation, VideoId,
};
use http::StatusCode;
use tokio::time::Instant;

use crate::auth;
use crate::conn::ConnControl;
use crate::input::{MAX_BODY, read_body};
use crate::respond::{self, failure, failure_at};
use crate::shared::Shared;
use crate::state::Missing;

/// The error for an id parameter that is too long (400), or the kind of lookup failure an
/// invalid id of valid length amounts to.
pub(crate) fn id_error(e: &IdError, param: &str) -> Option<Response> {
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

pub(crate) fn unknown_account(account: &str) -> Response {
    // What Cloudflare answers a token that has no access to the account.
    tracing::info!(account, "credentials accepted but the account is not in the emulator");
    auth::Denied::Wrong.response()
}

pub(crate) fn unknown_video(account: &str, video: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        ErrorCode::VideoNotFound,
        format!("video '{video}' not found in account '{account}'"),
    )
}

/// A path segment percent-decoded, as [`PathParams::decoded`]: a segment without `%` is
/// already decoded (and valid UTF-8), so it is borrowed without being scanned twice.
fn decoded(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('%') { PathParams::decoded(segment) } else { segment.into() }
}

pub(crate) async fn operate(
    shared: &Arc<Shared>,
    conn: Option<&ConnControl>,
    op: Operation,
    params: &PathParams<'_>,
    body: Body,
) -> Response {
    // The list answer this connection last read from the store, if the store has not changed
    // since: the store's lock and the shared body's refcount are left alone (both would move
    // between the cores on every request).
    if op == Operation::List
        && let Some(body) =
            conn.and_then(|c| c.listed(shared.generation(), params.account_id, params.identifier))
    {
        return respond::json_ok(body);
    }
    // Ids travel percent-encoded: their bounds are on the decoded characters (a 32-character
    // id of any script is schema-valid, however long its encoding).
    let (account_id, identifier) = (decoded(params.account_id), decoded(params.identifier));
    let account = AccountId::new(&*account_id);
    let video = VideoId::new(&*identifier);
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
    let Ok(account) = account else { return unknown_account(&account_id) };
    // A schema-valid id that cannot exist (not hex) is an unknown video, as any other.
    let Ok(video) = video else {
        return if !shared.store().has_account(&account) {
            unknown_account(&account_id)
        } else {
            unknown_video(&account_id, &identifier)
        };
    };
    if op.method() == Method::Post
        && let Err(res) = check_body(body).await
    {
        return res;
    }
    let missing = |m: Missing| match m {
        Missing::Account => unknown_account(account.as_str()),
        Missing::Video => unknown_video(account.as_str(), video.as_str()),
    };
    let now = Instant::now();
    match op {
        Operation::List => {
            let mut store = shared.store();
            if let Some(body) = store.listed(&account, &video) {
                // The generation cannot move while the lock is held.
                let generation = shared.generation();
                if let Some(c) = conn {
                    c.keep_listed(generation, params.account_id, params.identifier, &body);
                }
                return respond::json_ok(body);
            }
            match store.list(&account, &video, now) {
                Ok(d) => match respond::success_body(&d) {
                    Some(body) => {
                        store.keep_listed(&account, &video, now, body.clone());
                        respond::json_ok(body)
                    }
                    None => respond::success(d),
                },
                Err(m) => missing(m),
            }
        }
        Operation::Create | Operation::CreateType => {
            let (a, v) = (account.clone(), video.clone());
            let result = shared.change_async(move |store| store.create(&a, &v, &t, now)).await;
            match result {
                Ok(Ok(Some((_, d)))) => respond::success(d),
                Ok(Ok(None)) => failure(
                    StatusCode::CONFLICT,
                    ErrorCode::VideoNotReady,
                    format!(
                        "video '{video}' is not ready to stream yet: a download can be created once it is"
                    ),
                ),
                Ok(Err(m)) => missing(m),
                Err(e) => respond::not_saved(&e),
            }
        }
        Operation::Delete | Operation::DeleteType => {
            let (a, v) = (account.clone(), video.clone());
            match shared.change_async(move |store| store.delete(&a, &v, &t)).await {
                // Deleting a download that does not exist is harmless: "ok", as a repeated
                // DELETE must be (idempotent).
                Ok(Ok(_)) => respond::success("ok"),
                Ok(Err(m)) => missing(m),
                Err(e) => respond::not_saved(&e),
            }
        }
        _ => respond::no_route(),
    }
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
