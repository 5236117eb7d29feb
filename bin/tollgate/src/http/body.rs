//! Reading a request body with both bounds a client must not be able to defeat: its size and the time it takes to
//! arrive. actix's `client_request_timeout` bounds only the head, so without a deadline a client that stops mid-body
//! holds its connection (and the handler) forever. Shared by the webhook and license routes.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// How long the whole body may take once the head has arrived. Provider bodies are a few KiB sent server to server,
/// license requests a few hundred bytes; even the 1 MiB webhook limit needs only 100 KiB/s.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest license request body: a key, an hwid and a device name fit in far less.
pub const LICENSE_BODY_LIMIT: usize = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Declared or streamed past the limit.
    TooLarge,
    /// The connection broke or the encoding was invalid.
    Unreadable(actix_web::Error),
    /// Not all of it arrived within [`BODY_TIMEOUT`].
    TimedOut,
}

/// The whole body, refused early when its declared length is over `limit`.
pub async fn read_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match actix_web::rt::time::timeout(BODY_TIMEOUT, payload.to_bytes_limited(limit)).await {
        Ok(Ok(Ok(body))) => Ok(body),
        Ok(Ok(Err(e))) => Err(BodyError::Unreadable(e)),
        Ok(Err(_)) => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// A JSON request body (`Content-Type: application/json` or `*+json`), bounded in size and time; every failure is
/// the JSON error body with a stable code (`400 INVALID_REQUEST`, `408 REQUEST_TIMEOUT`).
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !essence
        .is_some_and(|e| e == "application/json" || (e.starts_with("application/") && e.ends_with("+json")))
    {
        return Err(ApiError::invalid_request(
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let body = match read_body(req, payload, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(ApiError::invalid_request("the JSON body is too large")),
        Err(BodyError::Unreadable(e)) => {
            return Err(ApiError::invalid_request("the request body could not be read").with_cause(e));
        }
        Err(BodyError::TimedOut) => return Err(ApiError::request_timeout(BODY_TIMEOUT.as_secs())),
    };
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request("the body is not valid JSON for this request").with_cause(e))
}
