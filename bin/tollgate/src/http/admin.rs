//! The admin API (admin token): entitlement lookups with devices and audit trail, the webhook inbox and its
//! replay, and the effective policy. Device resets and license denials are in
//! `http::license`, the on-demand reconciliation in `http::reconcile`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate_policy::Provider;
use tollgate_service::ingest::{IngestError, IngestOutcome};
use tollgate_store::{InboxFilter, InboxId, InboxStatus};

use crate::app::AppState;
use crate::http::auth::AdminAuth;
use crate::http::entitlements::SubjectQuery;
use crate::http::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/entitlements", web::get().to(entitlements_of_subject))
            .route(
                "/entitlements/{provider}/{external_id}",
                web::get().to(entitlement),
            )
            .route("/inbox", web::get().to(inbox))
            .route("/inbox/replay-failed", web::post().to(replay_failed))
            .route("/inbox/{id}", web::get().to(inbox_event))
            .route("/inbox/{id}/replay", web::post().to(replay))
            .route("/policy", web::get().to(policy))
            .configure(crate::http::license::admin_routes)
            .configure(crate::http::reconcile::admin_routes),
    );
}

fn parse_provider(name: &str) -> Result<Provider, ApiError> {
    name.parse()
        .map_err(|_| ApiError::invalid_request("unknown provider: expected one of whop, dodo, aghanim"))
}

async fn entitlement(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, external_id) = path.into_inner();
    let provider = parse_provider(&provider)?;
    let query = state.query().clone();
    let id = external_id.clone();
    let found = web::block(move || query.find_entitlement(provider, &id)).await??;
    match found {
        Some(detail) => Ok(HttpResponse::Ok().json(detail)),
        None => Err(ApiError::not_found(format!(
            "no {provider} entitlement with external id `{}`",
            external_id.chars().take(128).collect::<String>()
        ))),
    }
}

async fn entitlements_of_subject(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<SubjectQuery>,
) -> Result<HttpResponse, ApiError> {
    let (provider, subject) = query.parse()?;
    let lookup = state.query().clone();
    let entitlements = web::block(move || lookup.entitlement_details_of(provider, &subject)).await??;
    Ok(HttpResponse::Ok().json(json!({ "entitlements": entitlements })))
}

/// `GET /admin/inbox` filters.
#[derive(Debug, Deserialize)]
struct InboxQuery {
    status: Option<String>,
    provider: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

fn parse_status(name: &str) -> Result<InboxStatus, ApiError> {
    match name {
        "received" => Ok(InboxStatus::Received),
        "processed" => Ok(InboxStatus::Processed),
        "ignored" => Ok(InboxStatus::Ignored),
        "failed" => Ok(InboxStatus::Failed),
        _ => Err(ApiError::invalid_request(
            "unknown `status`: expected one of received, processed, ignored, failed",
        )),
    }
}

async fn inbox(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = InboxFilter {
        provider: query
            .provider
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(parse_provider)
            .transpose()?,
        status: query
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_status)
            .transpose()?,
        after_id: query.after.map(InboxId),
        limit: query.limit.unwrap_or(100),
    };
    let lookup = state.query().clone();
    let events = web::block(move || lookup.list_inbox(&filter)).await??;
    let next_after = events.last().map(|e| e.id);
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next_after": next_after })))
}

async fn inbox_event(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = InboxId(path.into_inner());
    let lookup = state.query().clone();
    match web::block(move || lookup.find_inbox_event(id, true)).await?? {
        Some(item) => Ok(HttpResponse::Ok().json(item)),
        None => Err(ApiError::not_found(format!("no inbox event {id}"))),
    }
}

/// What a replay did, as JSON.
#[derive(Debug, Serialize)]
struct ReplayView {
    id: i64,
    outcome: &'static str,
    event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entitlement_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl ReplayView {
    fn of(id: InboxId, result: &Result<IngestOutcome, IngestError>) -> ReplayView {
        match result {
            Ok(outcome) => ReplayView {
                id: id.0,
                outcome: outcome.as_str(),
                event_type: Some(outcome.event_type().to_owned()),
                entitlement_id: outcome.entitlement_id().map(ToString::to_string),
                error: match outcome {
                    IngestOutcome::Failed { error, .. } => Some(error.clone()),
                    _ => None,
                },
            },
            Err(e) => ReplayView {
                id: id.0,
                outcome: if e.is_unavailable() {
                    "storage_unavailable"
                } else {
                    "error"
                },
                event_type: None,
                entitlement_id: None,
                error: Some(ApiError::from(e.clone()).message().to_owned()),
            },
        }
    }
}

async fn replay(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = InboxId(path.into_inner());
    let ingest = state.ingest().clone();
    let outcome = web::block(move || ingest.replay(id)).await??;
    log::info!(
        inbox_id = id.0,
        event_type = outcome.event_type(),
        entitlement_id = outcome.entitlement_id().map_or("", |e| e.as_str()),
        status = outcome.as_str();
        "inbox event replayed"
    );
    Ok(HttpResponse::Ok().json(ReplayView::of(id, &Ok(outcome))))
}

#[derive(Debug, Deserialize)]
struct ReplayFailedQuery {
    provider: Option<String>,
}

async fn replay_failed(
    _: AdminAuth,
    state: web::Data<AppState>,
    query: web::Query<ReplayFailedQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = query
        .provider
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(parse_provider)
        .transpose()?;
    let ingest = state.ingest().clone();
    let results = web::block(move || ingest.replay_failed(provider)).await??;
    let views: Vec<ReplayView> = results.iter().map(|(id, r)| ReplayView::of(*id, r)).collect();
    let applied = views.iter().filter(|v| v.outcome == "applied").count();
    log::info!(replayed = views.len(), applied = applied; "failed inbox events replayed");
    Ok(HttpResponse::Ok().json(json!({ "replayed": views.len(), "applied": applied, "results": views })))
}

async fn policy(_: AdminAuth, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.query().policy())
}
