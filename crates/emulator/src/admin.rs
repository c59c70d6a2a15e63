//! The admin HTTP routes under `/__emulator/` (documented in the crate docs), the HTTP face of
//! [`crate::Admin`]. They need the same credentials as the API and are never rate limited or
//! faulted.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use cfstream_types::{AccountId, DownloadStatus, DownloadType, ErrorCode, VideoId};
use http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth;
use crate::error::{Error, ErrorKind};
use crate::faults::Faults;
use crate::input::{MAX_ADMIN_BODY, read_body};
use crate::respond::{self, failure, failure_at};
use crate::seed::DEFAULT_DURATION_SECS;
use crate::shared::{Admin, Shared};

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/__emulator/state", get(state))
        .route("/__emulator/requests", get(requests))
        .route("/__emulator/videos", post(add_video))
        .route("/__emulator/readiness", put(readiness))
        .route("/__emulator/signed", put(signed))
        .route("/__emulator/download-status", put(download_status))
        .route("/__emulator/faults", get(get_faults).put(put_faults))
        .route("/__emulator/reset", post(reset))
        .route_layer(middleware::from_fn_with_state(shared, require_auth))
}

async fn require_auth(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    match auth::check(req.headers(), &shared.credentials) {
        Ok(()) => next.run(req).await,
        Err(denied) => denied.response(),
    }
}

async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, Response> {
    let bytes = read_body(body, MAX_ADMIN_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        failure_at(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("invalid request body: {e}"),
            "body",
        )
    })
}

fn error_response(e: &Error) -> Response {
    if e.kind() == ErrorKind::Io {
        return respond::not_saved(e);
    }
    let status = match e.kind() {
        ErrorKind::UnknownAccount | ErrorKind::UnknownVideo => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    let code = if status == StatusCode::NOT_FOUND {
        ErrorCode::VideoNotFound
    } else {
        ErrorCode::InvalidRequest
    };
    failure(status, code, e.to_string())
}

fn admin(shared: Arc<Shared>) -> Admin {
    Admin { shared }
}

fn account_or_first(shared: &Shared, account: Option<AccountId>) -> Option<AccountId> {
    account.or_else(|| shared.store().accounts().first().map(|a| a.id.clone()))
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    respond::success(admin(shared).state())
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    respond::success(admin(shared).requests())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddVideo {
    account: Option<AccountId>,
    id: Option<VideoId>,
    ready_to_stream: Option<bool>,
    duration_secs: Option<f64>,
    require_signed_urls: Option<bool>,
}

async fn add_video(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let body: AddVideo = match json_body(req.into_body()).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let Some(account) = account_or_first(&shared, body.account) else {
        return failure(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "no account to add the video to",
        );
    };
    let ready = body.ready_to_stream.unwrap_or(true);
    let duration = body.duration_secs.unwrap_or(DEFAULT_DURATION_SECS);
    let signed = body.require_signed_urls.unwrap_or(false);
    let result = shared
        .change_async(move |store| {
            let info = match body.id {
                Some(id) => store.insert_video(&account, id, ready, duration),
                None => store.add_video(&account, ready, duration),
            };
            // Just added: the video is there.
            store.set_signed(&account, &info.id, signed).unwrap_or(info)
        })
        .await;
    match result {
        Ok(info) => respond::success(info),
        Err(e) => respond::not_saved(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Readiness {
    account: Option<AccountId>,
    video: VideoId,
    ready_to_stream: bool,
}

async fn readiness(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let body: Readiness = match json_body(req.into_body()).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let Some(account) = account_or_first(&shared, body.account) else {
        return failure(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, "no account");
    };
    let (a, v, ready) = (account.clone(), body.video.clone(), body.ready_to_stream);
    match shared.change_async(move |store| store.set_ready(&a, &v, ready)).await {
        Ok(Ok(info)) => respond::success(info),
        Ok(Err(m)) => error_response(&m.into_error(&account, &body.video)),
        Err(e) => respond::not_saved(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    account: Option<AccountId>,
    video: VideoId,
    require_signed_urls: bool,
}

async fn signed(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let body: Signed = match json_body(req.into_body()).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let Some(account) = account_or_first(&shared, body.account) else {
        return failure(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, "no account");
    };
    let (a, v, require) = (account.clone(), body.video.clone(), body.require_signed_urls);
    match shared.change_async(move |store| store.set_signed(&a, &v, require)).await {
        Ok(Ok(info)) => respond::success(info),
        Ok(Err(m)) => error_response(&m.into_error(&account, &body.video)),
        Err(e) => respond::not_saved(&e),
    }
}

fn default_type() -> DownloadType {
    DownloadType::Default
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStatus {
    account: Option<AccountId>,
    video: VideoId,
    #[serde(default = "default_type")]
    download_type: DownloadType,
    status: DownloadStatus,
}

async fn download_status(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let body: SetStatus = match json_body(req.into_body()).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let Some(account) = account_or_first(&shared, body.account) else {
        return failure(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, "no account");
    };
    let admin = admin(shared);
    // Writing the state file blocks: keep it off the async workers.
    let result = tokio::task::spawn_blocking(move || {
        admin.set_download_status(&account, &body.video, body.download_type, body.status)?;
        admin.downloads(&account, &body.video)
    })
    .await;
    match result {
        Ok(Ok(d)) => respond::success(d),
        Ok(Err(e)) => error_response(&e),
        Err(e) => {
            tracing::error!(error = %e, "admin task failed");
            failure(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::from(10500), "internal error")
        }
    }
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    respond::success(admin(shared).faults())
}

async fn put_faults(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let faults: Faults = match json_body(req.into_body()).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    if let Err(e) = faults.validate() {
        return error_response(&e);
    }
    let admin = admin(shared);
    admin.set_faults(faults);
    respond::success(admin.faults())
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    let admin = admin(shared);
    match tokio::task::spawn_blocking(move || admin.reset()).await {
        Ok(()) => respond::success("ok"),
        Err(e) => {
            tracing::error!(error = %e, "admin task failed");
            failure(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::from(10500), "internal error")
        }
    }
}
