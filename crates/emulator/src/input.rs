//! Bounds on what a request may send (path, headers, body) and reading a bounded body.

use axum::body::Body;
use axum::response::Response;
use cfstream_types::ErrorCode;
use futures::StreamExt;
use http::StatusCode;

use crate::respond::failure_at;

/// The longest path and query served (longer: 414).
pub(crate) const MAX_URI: usize = 8 * 1024;
/// The most header bytes served (more: 431).
pub(crate) const MAX_HEADERS: usize = 32 * 1024;
/// The largest API request body read (create takes an empty or JSON body).
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The largest admin request body read.
pub(crate) const MAX_ADMIN_BODY: usize = 1024 * 1024;

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
