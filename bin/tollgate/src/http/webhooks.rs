//! `POST /api/webhooks/{whop,dodo,aghanim}`: raw body under a size limit, then verify and parse on the worker
//! (`Ingest::prepare`, CPU only), and store through the group committer, which answers once the delivery's
//! transaction has committed.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use tollgate_policy::Provider;
use tollgate_providers::CallContext;
use tollgate_service::ingest::{IngestError, IngestOutcome};

use crate::app::AppState;
use crate::http::body::{BodyError, read_body};
use crate::http::error::ApiError;
use crate::http::request::request_id;

/// The signature headers any provider uses; only these are handed to the verifier.
const SIGNATURE_HEADERS: [&str; 6] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-whop-signature",
    "x-aghanim-signature",
    "x-aghanim-signature-timestamp",
];

pub use crate::http::body::BODY_TIMEOUT;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/webhooks/whop", web::post().to(whop))
        .route("/api/webhooks/dodo", web::post().to(dodo))
        .route("/api/webhooks/aghanim", web::post().to(aghanim));
}

async fn whop(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(Provider::Whop, state, req, body).await
}

async fn dodo(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(Provider::Dodo, state, req, body).await
}

async fn aghanim(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receive(Provider::Aghanim, state, req, body).await
}

async fn receive(
    provider: Provider,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let result = receive_inner(provider, &state, &req, payload).await;
    let outcome = match &result {
        Ok(outcome) => outcome.as_str(),
        Err(error) => error_outcome(error),
    };
    state.metrics().webhook(provider, outcome);
    let rid = request_id(&req);
    match result {
        Ok(outcome) => {
            log::info!(
                request_id = rid.as_str(),
                provider = provider.as_str(),
                event_type = outcome.event_type(),
                inbox_id = outcome.inbox_id().0,
                entitlement_id = outcome.entitlement_id().map_or("", |id| id.as_str()),
                status = outcome.as_str();
                "webhook accepted"
            );
            Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
        }
        Err(error) => {
            log::info!(
                request_id = rid.as_str(),
                provider = provider.as_str(),
                status = outcome;
                "webhook refused: {}", error.code()
            );
            Err(error)
        }
    }
}

fn error_outcome(error: &ApiError) -> &'static str {
    match error.code() {
        "INVALID_SIGNATURE" => "invalid_signature",
        "INVALID_REQUEST" => "invalid_request",
        "PAYLOAD_TOO_LARGE" => "too_large",
        "REQUEST_TIMEOUT" => "body_timeout",
        "PROVIDER_NOT_CONFIGURED" => "not_configured",
        "STORAGE_UNAVAILABLE" => "storage_unavailable",
        "UNSUPPORTED_EVENT" | "UNSUPPORTED_ITEM" | "SANDBOX_NOT_ACCEPTED" | "INVALID_ITEM_EVENT" => "refused",
        _ => "error",
    }
}

async fn receive_inner(
    provider: Provider,
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<IngestOutcome, ApiError> {
    if !state.ingest().is_enabled(provider) {
        return Err(ApiError::provider_not_configured(provider));
    }
    let limit = state.settings().webhooks.max_body_bytes;
    let body = match read_body(req, payload, limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(ApiError::payload_too_large(limit)),
        Err(BodyError::Unreadable(e)) => {
            return Err(ApiError::invalid_request("the request body could not be read").with_cause(e));
        }
        Err(BodyError::TimedOut) => return Err(ApiError::request_timeout(BODY_TIMEOUT.as_secs())),
    };
    let headers: Vec<(&'static str, Vec<u8>)> = SIGNATURE_HEADERS
        .iter()
        .filter_map(|name| req.headers().get(*name).map(|v| (*name, v.as_bytes().to_vec())))
        .collect();
    let prepared = state.ingest().prepare(provider, &headers, &body)?;
    let refresh = prepared.refresh().map(str::to_owned);
    let outcome = state
        .committer()
        .submit(prepared)
        .await
        .map_err(|e: IngestError| ApiError::from(e))?;
    if let (Some(membership_id), IngestOutcome::Ignored { .. }) = (refresh, &outcome) {
        refresh_membership(state, req, membership_id).await;
    }
    Ok(outcome)
}

/// How long a webhook answer waits for the membership re-read it triggered; after that the re-read goes on in the
/// background and the answer is sent.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// After a stored `payment.succeeded`: re-read its membership from Whop, so a renewal's new period end is stored
/// without waiting for reconciliation. The event is already stored, so the answer never depends on this: it waits
/// at most [`REFRESH_WAIT`].
async fn refresh_membership(state: &AppState, req: &HttpRequest, membership_id: String) {
    let Some(licensing) = state.licensing().get().cloned() else {
        return;
    };
    let ctx = CallContext::with_request_id(request_id(req));
    let task = actix_web::rt::spawn(async move {
        match licensing.refresh_whop_membership(&ctx, &membership_id).await {
            Ok(true) => log::info!(
                request_id = ctx.request_id.as_deref().unwrap_or("-"),
                provider = "whop",
                membership_id = membership_id.as_str();
                "membership re-read after a payment"
            ),
            Ok(false) => {}
            Err(error) => log::warn!(
                request_id = ctx.request_id.as_deref().unwrap_or("-"),
                provider = "whop",
                membership_id = membership_id.as_str(),
                code = error.code();
                "membership not re-read after a payment; reconciliation will"
            ),
        }
    });
    let _ = tokio::time::timeout(REFRESH_WAIT, task).await;
}
