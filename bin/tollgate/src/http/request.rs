//! The middleware every request goes through: an `X-Request-Id` (a sane incoming one, or a fresh one), the access
//! log line (`info` for a refusal with its cause, which is never sent to the client; `warn` for a failure; `debug`
//! for a success), and the latency histogram.
//!
//! Nothing a client sends reaches a metric label or a log field unbounded: the method is one of the known methods or
//! `other`, the route is the matched route template or `unmatched` (never the path), an incoming request id is kept
//! only when it is short and plain, and the refusal's cause is cut to [`MAX_LOGGED_CAUSE`] characters (a JSON error
//! can quote the client's text).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use ring::rand::{SecureRandom, SystemRandom};

use crate::app::AppState;
use crate::http::metrics::method_label;

/// The most characters of a refusal's or failure's cause an access log line carries.
pub const MAX_LOGGED_CAUSE: usize = 300;

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The request id header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served (in the request extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// An incoming id is kept when it is 1 to 64 characters of `[A-Za-z0-9-_]`; anything else is replaced.
pub fn is_sane_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh request id: this process's random 8-byte prefix and a per-process sequence number, 24 hex digits in all.
/// Ids only correlate log lines, so they need to be unique, not unpredictable: no system call per request.
fn fresh_request_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        match SystemRandom::new().fill(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            // The system RNG does not fail on supported platforms; the start time still tells processes apart.
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    });
    format!("{prefix:016x}{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The current request's id, for log lines (`-` outside the middleware).
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map_or_else(|| "-".to_owned(), |id| id.0.clone())
}

/// The middleware (`actix_web::middleware::from_fn(request_context)`).
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(fresh_request_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics().clone());
    let method = method_label(req.method().as_str());

    let mut res = next.call(req).await?;

    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    let route = res
        .request()
        .match_pattern()
        .filter(|pattern| !pattern.is_empty())
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    if let Some(metrics) = metrics {
        metrics.request(method, &route, status, elapsed);
    }
    match res.response().error() {
        Some(error) if status >= 500 => log::warn!(
            request_id = id.as_str(), method = method, route = route.as_str(), status = status,
            duration_ms = duration_ms; "request failed: {}", clip(&error.to_string(), MAX_LOGGED_CAUSE)
        ),
        Some(error) => log::info!(
            request_id = id.as_str(), method = method, route = route.as_str(), status = status,
            duration_ms = duration_ms; "request refused: {}", clip(&error.to_string(), MAX_LOGGED_CAUSE)
        ),
        // A successful request is counted in the metrics; its line is for debugging only, so that a revalidation
        // storm (tens of thousands per second) does not write a log line each. Refusals and failures stay visible.
        None => log::debug!(
            request_id = id.as_str(), method = method, route = route.as_str(), status = status,
            duration_ms = duration_ms; "request"
        ),
    }
    Ok(res)
}

/// `text` cut to at most `max` characters, saying how much was left out.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!(
            "{}… ({} more bytes not logged)",
            &text[..end],
            text.len() - end
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_on_a_character_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 6), "abcdef");
        assert_eq!(clip("abcdefgh", 3), "abc… (5 more bytes not logged)");
        assert_eq!(clip("ééé", 1), "é… (4 more bytes not logged)");
        assert_eq!(
            clip(&"x".repeat(100_000), MAX_LOGGED_CAUSE).len(),
            300 + "… (99700 more bytes not logged)".len()
        );
    }

    #[test]
    fn request_ids_are_checked() {
        assert!(is_sane_request_id("abc-DEF_123"));
        assert!(is_sane_request_id(&"a".repeat(64)));
        assert!(!is_sane_request_id(&"a".repeat(65)));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("a\u{e9}"));
        let fresh = fresh_request_id();
        assert_eq!(fresh.len(), 24);
        assert!(is_sane_request_id(&fresh));
        let next = fresh_request_id();
        assert_ne!(fresh, next);
        // Same process, same prefix; only the sequence differs.
        assert_eq!(fresh[..16], next[..16]);
    }
}
